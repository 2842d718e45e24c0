package librato

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPostAnnotationTV16(t *testing.T) {
	c := awClient(t)
	seen := awExpect(t, "POST", "annotations/api-deploys", nil, 201, "annotations/tv16_post_response.json",
		"Location", "/v1/annotations/api-deploys/123")
	ev, err := c.Annotations.Create(t.Context(), "api-deploys", Annotation{
		Title: "My Annotation", Description: "Joe deployed v29 to metrics", StartTime: time.Unix(1234567890, 0)})
	require.NoError(t, err)
	// TV16 posts a form; this is the same request as JSON. Unset fields (source, end time, links) stay out.
	assert.JSONEq(t, `{"title":"My Annotation","description":"Joe deployed v29 to metrics","start_time":1234567890}`, string(seen.body))
	assert.Equal(t, "application/json", seen.contentType)
	assert.Equal(t, &Annotation{ID: 123, Title: "My Annotation", Description: "Joe deployed v29 to metrics",
		StartTime: time.Unix(1234567890, 0).UTC(), Links: []Link{}}, ev)
}

func TestPostAnnotationMatchesPythonTV10(t *testing.T) {
	c := awClient(t)
	seen := awExpect(t, "POST", "annotations/deploys", nil, 201, "", "Location", "/v1/annotations/deploys/9")
	ev, err := c.Annotations.Create(t.Context(), "deploys", Annotation{Title: "v1", Source: "web1",
		Links: []Link{{Rel: "github", Href: "http://x"}}, StartTime: time.Unix(1500000000, 0)})
	require.NoError(t, err)
	assert.JSONEq(t, `{"links":[{"href":"http://x","rel":"github"}],"source":"web1","start_time":1500000000,"title":"v1"}`, string(seen.body))
	// An empty 201 body: the event is what was sent, with the ID of the Location header.
	assert.Equal(t, ID(9), ev.ID)
	assert.Equal(t, "web1", ev.Source)
}

func TestAnnotationStreamsTV16(t *testing.T) {
	c := awClient(t)
	awExpect(t, "GET", "annotations", url.Values{"name": {"deploys"}}, 200, "annotations/tv16_streams.json")
	page, err := c.Annotations.ListStreams(t.Context(), &ListOptions{Name: "deploys"})
	require.NoError(t, err)
	assert.Equal(t, 2, page.Found)
	assert.Empty(t, page.Next)
	assert.Equal(t, []AnnotationStream{{Name: "api-deploys", DisplayName: "Deploys to API"}, {Name: "app-deploys", DisplayName: "Deploys to UX app"}}, page.Items)

	awExpect(t, "GET", "annotations", nil, 200, "annotations/tv16_streams.json")
	var names []string
	for s, err := range c.Annotations.AllStreams(t.Context(), nil) {
		require.NoError(t, err)
		names = append(names, s.Name)
	}
	assert.Equal(t, []string{"api-deploys", "app-deploys"}, names)
}

// tv16Events is what both event shapes of TV16 decode to.
func tv16Events() map[string][]Annotation {
	return map[string][]Annotation{
		UnassignedSource: {{ID: 45, Title: "Deployed v91", StartTime: time.Unix(1234567890, 0).UTC(), Links: []Link{
			{Label: "Github commit", Rel: "github", Href: "http://github.com/org/app/commit/01beaf"},
			{Label: "Jenkins CI build job", Rel: "jenkins", Href: "http://ci.acme.com/job/api/34"}}}},
		"foo3.bar.com": {
			{ID: 123, Title: "My Annotation", Source: "foo3.bar.com", StartTime: time.Unix(1234567890, 0).UTC(), Links: []Link{}},
			{ID: 1098, Title: "Chef run finished", Description: "Chef migrated up to SHA 44a87f9", Source: "foo3.bar.com",
				StartTime: time.Unix(1234567908, 0).UTC(), EndTime: time.Unix(1234567958, 0).UTC(), Links: []Link{}}},
	}
}

func TestAnnotationStreamDecodesBothEventShapes(t *testing.T) {
	for _, fixture := range []string{"annotations/tv16_stream_events_array.json", "annotations/stream_events_map.json"} {
		t.Run(fixture, func(t *testing.T) {
			c := awClient(t)
			// The query of TV10 (python-librato's get_annotation_stream), plus end_time and count.
			awExpect(t, "GET", "annotations/api-deploys", url.Values{"start_time": {"1500000000"}, "end_time": {"1500003600"},
				"count": {"5"}, "sources[]": {"a", "b"}}, 200, fixture)
			s, err := c.Annotations.GetStream(t.Context(), "api-deploys", &AnnotationQuery{StartTime: time.Unix(1500000000, 0),
				EndTime: time.Unix(1500003600, 0), Count: 5, Sources: []string{"a", "b"}})
			require.NoError(t, err)
			assert.Equal(t, &AnnotationStream{Name: "api-deploys", DisplayName: "Deploys to API", Events: tv16Events()}, s)
		})
	}
}

func TestAnnotationStreamPropertiesOnly(t *testing.T) {
	c := awClient(t)
	awExpect(t, "GET", "annotations/api-deploys", nil, 200, `{"name":"api-deploys","display_name":null}`)
	s, err := c.Annotations.GetStream(t.Context(), "api-deploys", nil)
	require.NoError(t, err)
	assert.Equal(t, &AnnotationStream{Name: "api-deploys"}, s)
}

func TestAnnotationEventsArrayOfSeveralMapsMerges(t *testing.T) {
	var g annotationEventsByGroup
	require.NoError(t, g.UnmarshalJSON([]byte(`[{"a":[{"id":1,"title":"x"}]},{"a":[{"id":2,"title":"y"}],"b":[]}]`)))
	assert.Len(t, g["a"], 2)
	assert.Error(t, g.UnmarshalJSON([]byte(`"events"`)))
	assert.Error(t, g.UnmarshalJSON([]byte(`[1]`)))
}

func TestAnnotationEventAndUpdates(t *testing.T) {
	c := awClient(t)
	ctx := t.Context()
	awExpect(t, "GET", "annotations/api-deploys/123", nil, 200, "annotations/tv16_post_response.json")
	ev, err := c.Annotations.Get(ctx, "api-deploys", 123)
	require.NoError(t, err)
	assert.Equal(t, "Joe deployed v29 to metrics", ev.Description)

	seen := awExpect(t, "PUT", "annotations/api-deploys/123", nil, 204, "")
	require.NoError(t, c.Annotations.Update(ctx, "api-deploys", 123, Annotation{Description: "done", EndTime: time.Unix(1234567990, 0),
		StartTime: time.Unix(1, 0), Source: "ignored"}))
	assert.JSONEq(t, `{"description":"done","end_time":1234567990}`, string(seen.body), "start time and source cannot be updated")

	seen = awExpect(t, "POST", "annotations/app-deploys/198/links", nil, 201, "annotations/tv16_link_response.json",
		"Location", "/v1/annotations/app-deploys/198/links/github")
	require.NoError(t, c.Annotations.AddLink(ctx, "app-deploys", 198, Link{Rel: "github", Label: "Github Commit", Href: "https://github.com/acme/app/commits/01beaf"}))
	assert.JSONEq(t, string(awFixture(t, "annotations/tv16_link_response.json")), string(seen.body))

	seen = awExpect(t, "PUT", "annotations/api-deploys", nil, 204, "")
	require.NoError(t, c.Annotations.UpdateStream(ctx, "api-deploys", "Deploys to API"))
	assert.JSONEq(t, `{"display_name":"Deploys to API"}`, string(seen.body), "JSON, not appoptics-api-go's bare string")
	assert.Equal(t, "application/json", seen.contentType)

	for _, tc := range []struct {
		path string
		call func() error
	}{
		{"annotations/api-deploys/123/links/github", func() error { return c.Annotations.DeleteLink(ctx, "api-deploys", 123, "github") }},
		{"annotations/api-deploys/123", func() error { return c.Annotations.Delete(ctx, "api-deploys", 123) }},
		{"annotations/api-deploys", func() error { return c.Annotations.DeleteStream(ctx, "api-deploys") }},
	} {
		seen := awExpect(t, "DELETE", tc.path, nil, 204, "")
		require.NoError(t, tc.call(), tc.path)
		assert.Empty(t, seen.body)
	}
}

func TestAnnotationMissingStreamIsNotFound(t *testing.T) {
	c := awClient(t)
	awExpect(t, "DELETE", "annotations/nope", nil, 404, `{"errors":{"request":["Not found"]}}`)
	err := c.Annotations.DeleteStream(t.Context(), "nope")
	assert.ErrorIs(t, err, ErrNotFound)
}

func TestAnnotationValidation(t *testing.T) {
	c := awClient(t) // no request armed: any I/O fails with gock's error, not a validation error
	ctx := t.Context()
	post := func(stream string, a Annotation) error { _, err := c.Annotations.Create(ctx, stream, a); return err }
	t0 := time.Unix(1500000000, 0)
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"no title", post("deploys", Annotation{}), `title "": is required`},
		{"empty stream", post("", Annotation{Title: "x"}), `annotation stream "": must not be empty`},
		{"bad stream", post("my deploys", Annotation{Title: "x"}), `annotation stream "my deploys": invalid character ' '`},
		{"slash in stream", post("a/b", Annotation{Title: "x"}), `invalid character '/'`},
		{"end before start", post("d", Annotation{Title: "x", StartTime: t0, EndTime: t0.Add(-time.Second)}), "is before the start time"},
		{"link without rel", post("d", Annotation{Title: "x", Links: []Link{{Href: "h"}}}), `link 0 rel "": is required`},
		{"link without href", post("d", Annotation{Title: "x", Links: []Link{{Rel: "r"}}}), `link 0 href "": is required`},
		{"duplicate rel", post("d", Annotation{Title: "x", Links: []Link{{Rel: "r", Href: "h"}, {Rel: "r", Href: "i"}}}), `link 1 rel "r": is used twice`},
		{"update id", c.Annotations.Update(ctx, "d", 0, Annotation{}), `annotation ID "0": must be positive`},
		{"add bad link", c.Annotations.AddLink(ctx, "d", 1, Link{Rel: "r"}), "href"},
		{"delete link rel", c.Annotations.DeleteLink(ctx, "d", 1, ""), `link rel "": is required`},
		{"delete id", c.Annotations.Delete(ctx, "d", -1), "must be positive"},
		{"delete stream", c.Annotations.DeleteStream(ctx, "a b"), "invalid character"},
		{"rename stream", c.Annotations.UpdateStream(ctx, "", "x"), "must not be empty"},
		{"event id", func() error { _, err := c.Annotations.Get(ctx, "d", 0); return err }(), "must be positive"},
		{"negative count", func() error { _, err := c.Annotations.GetStream(ctx, "d", &AnnotationQuery{Count: -1}); return err }(), "is negative"},
		{"query end before start", func() error {
			_, err := c.Annotations.GetStream(ctx, "d", &AnnotationQuery{StartTime: t0, EndTime: t0.Add(-time.Hour)})
			return err
		}(), "is before the start time"},
	}
	for _, tc := range tests {
		require.Error(t, tc.err, tc.name)
		assert.ErrorIs(t, tc.err, ErrInvalid, tc.name)
		assert.Contains(t, tc.err.Error(), tc.want, tc.name)
	}
}

// stepClock returns times t0, t0+step, t0+2·step, ...
func stepClock(t0 time.Time, step time.Duration) func() time.Time {
	n := 0
	return func() time.Time {
		n++
		return t0.Add(time.Duration(n-1) * step)
	}
}

func TestAnnotateSuccess(t *testing.T) {
	c := awClient(t)
	c.now = stepClock(time.Unix(1500000000, 0), 90*time.Second)
	post := awExpect(t, "POST", "annotations/deploys", nil, 201, `{"id":7,"title":"deploy v2","start_time":1500000000}`)
	put := awExpect(t, "PUT", "annotations/deploys/7", nil, 204, "")
	ran := false
	err := c.Annotations.Record(t.Context(), "deploys", Annotation{Title: "deploy v2", Description: "by ci"}, func(ctx context.Context) error {
		ran = true // the work starts at once; the post runs beside it
		return nil
	})
	require.NoError(t, err)
	assert.True(t, ran)
	assert.JSONEq(t, `{"title":"deploy v2","description":"by ci","start_time":1500000000}`, string(post.body))
	assert.JSONEq(t, `{"end_time":1500000090}`, string(put.body))
}

func TestAnnotateWorkFailure(t *testing.T) {
	c := awClient(t)
	c.now = stepClock(time.Unix(1500000000, 0), time.Minute)
	awExpect(t, "POST", "annotations/builds", nil, 201, `{"id":8,"title":"build"}`)
	put := awExpect(t, "PUT", "annotations/builds/8", nil, 204, "")
	boom := errors.New("tests failed: 3 of 120")
	ctx, cancel := context.WithCancel(t.Context())
	err := c.Annotations.Record(ctx, "builds", Annotation{Title: "build", Description: "main@abc"}, func(context.Context) error {
		cancel() // a cancelled job still gets its end time recorded
		return boom
	})
	assert.Same(t, boom, err, "the work's own error comes back as is")
	var annErr *AnnotateError
	assert.False(t, errors.As(err, &annErr))
	assert.JSONEq(t, `{"description":"main@abc\n\nfailed: tests failed: 3 of 120","end_time":1500000060}`, string(put.body))
}

func TestAnnotatePostFailureStillRunsTheWork(t *testing.T) {
	for _, workErr := range []error{nil, errors.New("deploy failed")} {
		c := awClient(t)
		awExpect(t, "POST", "annotations/deploys", nil, 503, `{"errors":{"system":["maintenance"]}}`)
		ran := false
		err := c.Annotations.Record(t.Context(), "deploys", Annotation{Title: "d"}, func(context.Context) error { ran = true; return workErr })
		assert.True(t, ran, "the work runs even when the event cannot be posted")
		require.Error(t, err)
		assert.ErrorIs(t, err, ErrServer)
		assert.Contains(t, err.Error(), `librato: annotation "d" not recorded: librato: POST`)
		var annErr *AnnotateError
		require.ErrorAs(t, err, &annErr)
		assert.Equal(t, "d", annErr.Title)
		assert.ErrorIs(t, annErr, ErrServer)
		if workErr != nil {
			assert.ErrorIs(t, err, workErr, "an annotation failure never hides the work's error")
			assert.True(t, strings.HasPrefix(err.Error(), "deploy failed\n"), "the work's error comes first: %q", err)
		}
	}
}

func TestAnnotateUpdateFailureKeepsTheWorkError(t *testing.T) {
	c := awClient(t)
	awExpect(t, "POST", "annotations/deploys", nil, 201, `{"id":3,"title":"d"}`)
	awExpect(t, "PUT", "annotations/deploys/3", nil, 404, `{"errors":{"request":["Not found"]}}`)
	boom := errors.New("boom")
	err := c.Annotations.Record(t.Context(), "deploys", Annotation{Title: "d"}, func(context.Context) error { return boom })
	assert.ErrorIs(t, err, boom)
	assert.ErrorIs(t, err, ErrNotFound)
	assert.Contains(t, err.Error(), `librato: annotation "d" (id 3) end time not recorded: librato: PUT`)
	var annErr *AnnotateError
	require.ErrorAs(t, err, &annErr)
	assert.Equal(t, ID(3), annErr.ID)
}

func TestAnnotateValidationAndNilWork(t *testing.T) {
	c := awClient(t) // no request armed: any I/O fails with gock's error, not a validation error
	ran := false
	err := c.Annotations.Record(t.Context(), "bad stream", Annotation{Title: "x"}, func(context.Context) error { ran = true; return nil })
	assert.True(t, ran)
	assert.ErrorIs(t, err, ErrInvalid)
	assert.Error(t, c.Annotations.Record(t.Context(), "s", Annotation{Title: "x"}, nil))
}

func TestAnnotateFailureText(t *testing.T) {
	assert.Equal(t, "failed: x", annotateFailureText("", errors.New("x")))
	long := annotateFailureText("d", errors.New(strings.Repeat("é", 800)))
	assert.True(t, strings.HasSuffix(long, "..."))
	assert.LessOrEqual(t, len(long), len("d\n\nfailed: ")+maxAnnotateErrorText+3)
	assert.True(t, strings.ToValidUTF8(long, "?") == long, "cut on a rune boundary")
}
