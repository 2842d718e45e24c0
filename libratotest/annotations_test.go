package libratotest_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/go-librato/librato/libratotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The annotation endpoints, driven with plain HTTP to check status codes, headers and shapes.

func TestAnnotationPostFormTV16(t *testing.T) {
	srv := newServer(t)
	resp, body := call(t, srv, "POST", "/v1/annotations/api-deploys", formType,
		"title=My+Annotation&description=Joe+deployed+v29+to+metrics&start_time=1234567890")
	require.Equal(t, http.StatusCreated, resp.StatusCode, body)
	got := decode(t, body)
	id := strconv.Itoa(int(got["id"].(float64)))
	assert.Equal(t, "/v1/annotations/api-deploys/"+id, resp.Header.Get("Location"))
	want := decode(t, rootFixture(t, "annotations/tv16_post_response.json"))
	want["id"] = got["id"]
	assert.Equal(t, want, got)

	_, body = call(t, srv, "GET", "/v1/annotations/api-deploys/"+id, "", "")
	assert.Equal(t, want, decode(t, body))

	// TV16's link, by form: 201, Location of the link, the link as body.
	resp, body = call(t, srv, "POST", "/v1/annotations/api-deploys/"+id+"/links", formType,
		"rel=github&label=Github+Commit&href=https://github.com/acme/app/commits/01beaf")
	require.Equal(t, http.StatusCreated, resp.StatusCode, body)
	assert.Equal(t, "/v1/annotations/api-deploys/"+id+"/links/github", resp.Header.Get("Location"))
	assert.JSONEq(t, rootFixture(t, "annotations/tv16_link_response.json"), body)
}

func TestAnnotationStreamShapes(t *testing.T) {
	srv := newServer(t, libratotest.WithNow(func() time.Time { return time.Unix(1234567999, 0) }))
	for _, b := range []string{
		`{"title":"Deployed v91","start_time":1234567890,"links":[{"label":"Github commit","rel":"github","href":"http://github.com/org/app/commit/01beaf"},{"label":"Jenkins CI build job","rel":"jenkins","href":"http://ci.acme.com/job/api/34"}]}`,
		`{"title":"My Annotation","source":"foo3.bar.com","start_time":1234567890}`,
		`{"title":"Chef run finished","description":"Chef migrated up to SHA 44a87f9","source":"foo3.bar.com","start_time":1234567908,"end_time":1234567958}`,
	} {
		resp, body := call(t, srv, "POST", "/v1/annotations/api-deploys", jsonType, b)
		require.Equal(t, http.StatusCreated, resp.StatusCode, body)
	}
	resp, body := call(t, srv, "PUT", "/v1/annotations/api-deploys", jsonType, `{"display_name":"Deploys to API"}`)
	require.Equal(t, http.StatusNoContent, resp.StatusCode, body)

	_, body = call(t, srv, "GET", "/v1/annotations/api-deploys", "", "")
	assert.JSONEq(t, `{"name":"api-deploys","display_name":"Deploys to API"}`, body, "no time parameters: properties only")

	// TV16's read, ids aside, in both shapes.
	want := decode(t, rootFixture(t, "annotations/tv16_stream_events_array.json"))
	stripIDs := func(v map[string]any) map[string]any {
		evs := v["events"]
		if a, ok := evs.([]any); ok {
			evs = a[0]
		}
		for _, list := range evs.(map[string]any) {
			for _, e := range list.([]any) {
				delete(e.(map[string]any), "id")
			}
		}
		return v
	}
	srv.ServeAnnotationEventsAsMap(false)
	_, body = call(t, srv, "GET", "/v1/annotations/api-deploys?start_time=1234567800", "", "")
	got := decode(t, body)
	require.IsType(t, []any{}, got["events"], "the documented form when asked for")
	assert.Equal(t, stripIDs(want), stripIDs(got))

	srv.ServeAnnotationEventsAsMap(true)
	_, body = call(t, srv, "GET", "/v1/annotations/api-deploys?count=3", "", "")
	got = decode(t, body)
	require.IsType(t, map[string]any{}, got["events"])
	want = decode(t, rootFixture(t, "annotations/stream_events_map.json"))
	assert.Equal(t, stripIDs(want), stripIDs(got))

	_, body = call(t, srv, "GET", "/v1/annotations/api-deploys?start_time=1234567900&end_time=1234567910", "", "")
	evs := decode(t, body)["events"].(map[string]any)
	assert.Len(t, evs, 1)
	assert.Len(t, evs["foo3.bar.com"], 1)
	_, body = call(t, srv, "GET", "/v1/annotations/api-deploys?count=10&sources%5B%5D=foo3*", "", "")
	assert.NotContains(t, decode(t, body)["events"], "unassigned")
}

// TestAnnotationEventsShapeByMode: a map in Librato mode (the live API), an
// array holding the map in AppOptics mode, unless chosen.
func TestAnnotationEventsShapeByMode(t *testing.T) {
	for _, tt := range []struct {
		name  string
		opts  []libratotest.Option
		asMap bool
	}{
		{"librato", nil, true},
		{"appoptics", []libratotest.Option{libratotest.WithAppOptics()}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, tt.opts...)
			resp, body := call(t, srv, "POST", "/v1/annotations/deploys", jsonType, `{"title":"v1","source":"web1"}`)
			require.Equal(t, http.StatusCreated, resp.StatusCode, body)
			_, body = call(t, srv, "GET", "/v1/annotations/deploys?count=5", "", "")
			events := decode(t, body)["events"]
			if tt.asMap {
				require.IsType(t, map[string]any{}, events)
				assert.Contains(t, events, "web1")
			} else {
				require.IsType(t, []any{}, events)
				require.Len(t, events, 1)
				assert.Contains(t, events.([]any)[0], "web1")
			}
			srv.ServeAnnotationEventsAsMap(!tt.asMap)
			_, body = call(t, srv, "GET", "/v1/annotations/deploys?count=5", "", "")
			_, isMap := decode(t, body)["events"].(map[string]any)
			assert.Equal(t, !tt.asMap, isMap, "the choice overrides the mode")
		})
	}
}

func TestAnnotationErrors(t *testing.T) {
	srv := newServer(t)
	tests := []struct {
		name, method, path, ct, body string
		status                       int
		want                         string
	}{
		{"no title", "POST", "/v1/annotations/d", jsonType, `{"description":"x"}`, 400, `"params":{"title":["is not present"]}`},
		{"bad stream", "POST", "/v1/annotations/a%20b", jsonType, `{"title":"x"}`, 400, `"params":{"name":["is invalid"]}`},
		{"end before start", "POST", "/v1/annotations/d", jsonType, `{"title":"x","start_time":10,"end_time":5}`, 400, `"end_time":["must be after start_time"]`},
		{"link without href", "POST", "/v1/annotations/d", jsonType, `{"title":"x","links":[{"rel":"r"}]}`, 400, `"href":["is not present"]`},
		{"duplicate rel", "POST", "/v1/annotations/d", jsonType, `{"title":"x","links":[{"rel":"r","href":"h"},{"rel":"r","href":"i"}]}`, 400, `"links":["rel must be unique"]`},
		{"bad source", "POST", "/v1/annotations/d", jsonType, `{"title":"x","source":"all"}`, 400, `"source":["'all' is reserved"]`},
		{"missing stream", "GET", "/v1/annotations/nope", "", "", 404, `{"errors":{"request":["Not found"]}}`},
		{"bad start_time", "GET", "/v1/annotations/nope?start_time=yesterday", "", "", 400, `"start_time":["is not a number"]`},
		{"rename missing", "PUT", "/v1/annotations/nope", jsonType, `{"display_name":"x"}`, 404, "Not found"},
		{"delete missing", "DELETE", "/v1/annotations/nope", "", "", 404, "Not found"},
		{"text body", "POST", "/v1/annotations/d", "text/plain", "title=x", 415, "Incorrect Content-Type"},
	}
	for _, tc := range tests {
		resp, body := call(t, srv, tc.method, tc.path, tc.ct, tc.body)
		assert.Equal(t, tc.status, resp.StatusCode, tc.name)
		assert.Contains(t, body, tc.want, tc.name)
	}

	resp, body := call(t, srv, "POST", "/v1/annotations/d", jsonType, `{"title":"x","links":[{"rel":"r","href":"h"}]}`)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	id := strconv.Itoa(int(decode(t, body)["id"].(float64)))
	for _, tc := range []struct {
		method, path, body string
		status             int
	}{
		{"POST", "/v1/annotations/d/" + id + "/links", `{"rel":"r","href":"again"}`, 400},
		{"PUT", "/v1/annotations/d/" + id, `{"end_time":1}`, 400},
		{"PUT", "/v1/annotations/d/999999", `{"title":"y"}`, 404},
		{"PUT", "/v1/annotations/d/" + id, `{"title":"y"}`, 204},
		{"DELETE", "/v1/annotations/d/" + id + "/links/r", "", 204},
		{"DELETE", "/v1/annotations/d/" + id + "/links/r", "", 404},
		{"DELETE", "/v1/annotations/d/" + id, "", 204},
		{"DELETE", "/v1/annotations/d/" + id, "", 404},
		{"DELETE", "/v1/annotations/d", "", 204},
	} {
		ct := ""
		if tc.body != "" {
			ct = jsonType
		}
		resp, body := call(t, srv, tc.method, tc.path, ct, tc.body)
		assert.Equal(t, tc.status, resp.StatusCode, "%s %s: %s", tc.method, tc.path, body)
	}
}
