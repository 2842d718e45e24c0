package librato_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAnnotationStreamAgainstFake(t *testing.T) {
	srv, c := fakeClientAt(t)
	ctx := t.Context()
	t0 := fakeNow.Add(-time.Hour)

	posted := map[string]*librato.Annotation{}
	for i, a := range []librato.Annotation{
		{Title: "deploy v1", Source: "web1", StartTime: t0, Links: []librato.Link{{Rel: "github", Href: "https://github.com/acme/app/commit/1"}}},
		{Title: "deploy v2", Source: "web1", Description: "second", StartTime: t0.Add(10 * time.Minute), EndTime: t0.Add(12 * time.Minute)},
		{Title: "chef run", StartTime: t0.Add(5 * time.Minute)},
	} {
		ev, err := c.Annotations.Create(ctx, "deploys", a)
		require.NoError(t, err, i)
		require.NotZero(t, ev.ID)
		assert.Equal(t, a.Title, ev.Title)
		assert.Equal(t, a.StartTime, ev.StartTime)
		posted[a.Title] = ev
	}
	// Without a start time the API (and the fake) uses its own clock.
	ev, err := c.Annotations.Create(ctx, "deploys", librato.Annotation{Title: "now"})
	require.NoError(t, err)
	assert.Equal(t, fakeNow, ev.StartTime)
	assert.True(t, ev.EndTime.IsZero())

	// Read back in the documented shape (array holding a map), then in the live API's (a map).
	want := map[string][]string{"web1": {"deploy v1", "deploy v2"}, librato.UnassignedSource: {"chef run"}}
	q := &librato.AnnotationQuery{StartTime: t0, EndTime: t0.Add(30 * time.Minute)}
	for _, asMap := range []bool{false, true} {
		srv.ServeAnnotationEventsAsMap(asMap)
		s, err := c.Annotations.GetStream(ctx, "deploys", q)
		require.NoError(t, err)
		assert.Equal(t, "deploys", s.Name)
		got := map[string][]string{}
		for src, evs := range s.Events {
			for _, e := range evs {
				got[src] = append(got[src], e.Title)
			}
		}
		assert.Equal(t, want, got, "events as map: %v", asMap)
		assert.Equal(t, []librato.Link{{Rel: "github", Href: "https://github.com/acme/app/commit/1"}}, s.Events["web1"][0].Links)
		assert.Equal(t, t0.Add(12*time.Minute), s.Events["web1"][1].EndTime)
		assert.Equal(t, "second", s.Events["web1"][1].Description)
	}
	last, err := c.Annotations.GetStream(ctx, "deploys", &librato.AnnotationQuery{Count: 1})
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{librato.UnassignedSource: {"now"}}, titles(last))
	bySource, err := c.Annotations.GetStream(ctx, "deploys", &librato.AnnotationQuery{StartTime: t0, Sources: []string{"web*"}})
	require.NoError(t, err)
	assert.Equal(t, map[string][]string{"web1": {"deploy v1", "deploy v2"}}, titles(bySource))
	props, err := c.Annotations.GetStream(ctx, "deploys", nil)
	require.NoError(t, err)
	assert.Equal(t, &librato.AnnotationStream{Name: "deploys", DisplayName: "deploys"}, props)

	// Event updates and links.
	id := posted["deploy v1"].ID
	require.NoError(t, c.Annotations.Update(ctx, "deploys", id, librato.Annotation{Description: "rolled back", EndTime: t0.Add(time.Minute)}))
	require.NoError(t, c.Annotations.AddLink(ctx, "deploys", id, librato.Link{Rel: "ci", Href: "https://ci/1", Label: "CI"}))
	require.NoError(t, c.Annotations.DeleteLink(ctx, "deploys", id, "github"))
	got, err := c.Annotations.Get(ctx, "deploys", id)
	require.NoError(t, err)
	assert.Equal(t, &librato.Annotation{ID: id, Title: "deploy v1", Description: "rolled back", Source: "web1", StartTime: t0,
		EndTime: t0.Add(time.Minute), Links: []librato.Link{{Rel: "ci", Href: "https://ci/1", Label: "CI"}}}, got)
	assert.ErrorIs(t, c.Annotations.AddLink(ctx, "deploys", id, librato.Link{Rel: "ci", Href: "https://ci/2"}), librato.ErrBadRequest, "rels are unique")
	assert.ErrorIs(t, c.Annotations.DeleteLink(ctx, "deploys", id, "github"), librato.ErrNotFound)

	// The stream's display name, and the events' deletion.
	require.NoError(t, c.Annotations.UpdateStream(ctx, "deploys", "Deploys"))
	require.NoError(t, c.Annotations.Delete(ctx, "deploys", id))
	_, err = c.Annotations.Get(ctx, "deploys", id)
	assert.ErrorIs(t, err, librato.ErrNotFound)
	props, err = c.Annotations.GetStream(ctx, "deploys", nil)
	require.NoError(t, err)
	assert.Equal(t, "Deploys", props.DisplayName)
	require.NoError(t, c.Annotations.DeleteStream(ctx, "deploys"))
	_, err = c.Annotations.GetStream(ctx, "deploys", nil)
	assert.ErrorIs(t, err, librato.ErrNotFound)
	assert.ErrorIs(t, c.Annotations.DeleteStream(ctx, "deploys"), librato.ErrNotFound)
}

func titles(s *librato.AnnotationStream) map[string][]string {
	out := map[string][]string{}
	for src, evs := range s.Events {
		for _, e := range evs {
			out[src] = append(out[src], e.Title)
		}
	}
	return out
}

func TestAnnotationStreamsPagingAgainstFake(t *testing.T) {
	srv, c := fakeClientAt(t, libratotest.WithPageSize(2))
	for i := range 5 {
		_, err := c.Annotations.Create(t.Context(), fmt.Sprintf("stream-%d", 4-i), librato.Annotation{Title: "x"})
		require.NoError(t, err)
	}
	var names []string
	for s, err := range c.Annotations.AllStreams(t.Context(), &librato.ListOptions{Name: "stream"}) {
		require.NoError(t, err)
		names = append(names, s.Name)
	}
	assert.Equal(t, []string{"stream-0", "stream-1", "stream-2", "stream-3", "stream-4"}, names, "ordered by name")
	assert.Equal(t, 3, countRequests(srv, "GET", "/v1/annotations"))
}

func TestAnnotateAgainstFake(t *testing.T) {
	srv, c := fakeClientAt(t)
	ctx := t.Context()

	require.NoError(t, c.Annotations.Record(ctx, "ci", librato.Annotation{Title: "build 1"}, func(context.Context) error { return nil }))
	boom := errors.New("exit status 2")
	err := c.Annotations.Record(ctx, "ci", librato.Annotation{Title: "build 2", Description: "main"}, func(context.Context) error { return boom })
	assert.Same(t, boom, err)

	s, err := c.Annotations.GetStream(ctx, "ci", &librato.AnnotationQuery{Count: 10})
	require.NoError(t, err)
	evs := s.Events[librato.UnassignedSource]
	require.Len(t, evs, 2)
	for _, ev := range evs {
		assert.False(t, ev.StartTime.IsZero(), ev.Title)
		assert.False(t, ev.EndTime.IsZero(), "%s: the end time is recorded", ev.Title)
		assert.False(t, ev.EndTime.Before(ev.StartTime), ev.Title)
	}
	assert.Equal(t, "", evs[0].Description)
	assert.Equal(t, "main\n\nfailed: exit status 2", evs[1].Description)
	assert.Equal(t, 2, countRequests(srv, "PUT", "/v1/annotations/ci/"+fmt.Sprint(evs[1].ID))+countRequests(srv, "PUT", "/v1/annotations/ci/"+fmt.Sprint(evs[0].ID)))

	// The API down: the work still runs and its error is not lost.
	require.NoError(t, srv.AddFault(libratotest.Fault{Status: 503, Body: `{"errors":{"system":["maintenance"]}}`, Count: 2}))
	ran := false
	err = c.Annotations.Record(ctx, "ci", librato.Annotation{Title: "build 3"}, func(context.Context) error { ran = true; return boom })
	assert.True(t, ran)
	assert.ErrorIs(t, err, boom)
	assert.ErrorIs(t, err, librato.ErrServer)
	assert.ErrorContains(t, err, `annotation "build 3" not recorded`)

	// A passing outage: the first post fails, the whole event is posted after the work.
	require.NoError(t, srv.AddFault(libratotest.Fault{Status: 503, Count: 1}))
	err = c.Annotations.Record(ctx, "ci", librato.Annotation{Title: "build 4"}, func(context.Context) error { return nil })
	require.NoError(t, err)
	s, err = c.Annotations.GetStream(ctx, "ci", &librato.AnnotationQuery{StartTime: fakeNow.Add(-time.Hour)})
	require.NoError(t, err)
	last := s.Events[librato.UnassignedSource][len(s.Events[librato.UnassignedSource])-1]
	assert.Equal(t, "build 4", last.Title)
	assert.False(t, last.EndTime.IsZero(), "posted whole, with its end time")
}

// TestRecordStartsTheWorkAtOnce: against an API that never answers, the work runs at once and
// Record reports the event as not recorded, with the reason.
func TestRecordStartsTheWorkAtOnce(t *testing.T) {
	srv, _ := fakeClientAt(t)
	const timeout = 2 * time.Second
	c, err := srv.Client(librato.WithTimeout(timeout), librato.WithRetry(librato.RetryPolicy{MaxAttempts: 1}))
	require.NoError(t, err)
	require.NoError(t, srv.AddFault(libratotest.Fault{Path: "/v1/annotations/*", Latency: time.Hour, Rate: 1}))
	start := time.Now()
	var waited time.Duration
	ran := false
	err = c.Annotations.Record(t.Context(), "ci", librato.Annotation{Title: "deploy"}, func(context.Context) error {
		ran, waited = true, time.Since(start)
		return nil
	})
	// Had the work waited for the post, it would have started after the client's timeout.
	assert.Less(t, waited, timeout, "the work started before the post was given up")
	assert.True(t, ran)
	var annErr *librato.AnnotateError
	require.ErrorAs(t, err, &annErr)
	assert.Equal(t, "not recorded", annErr.Msg)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, 1, countRequests(srv, "POST", "/v1/annotations/ci"), "a timed-out post is not repeated")
}
