package webview

import (
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"
)

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fixture is a fake with the web view in front of it, as `librato serve` composes them.
type fixture struct {
	srv *libratotest.Server
	h   http.Handler
}

func newFixture(t *testing.T, opts ...libratotest.Option) *fixture {
	t.Helper()
	srv := libratotest.NewUnstartedServer(append([]libratotest.Option{libratotest.WithNow(func() time.Time { return testNow })}, opts...)...)
	return &fixture{srv: srv, h: Handler(srv, srv)}
}

// do serves one request through the view's handler, with the server's credentials when auth is set.
func (f *fixture) do(t *testing.T, method, target string, auth bool) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	if auth {
		user, token := f.srv.Credentials()
		if f.srv.AppOptics() {
			user, token = token, ""
		}
		req.SetBasicAuth(user, token)
	}
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec
}

// getJSON is a GET the page makes: it must answer 200 with JSON, decoded into v.
func (f *fixture) getJSON(t *testing.T, target string, v any) {
	t.Helper()
	rec := f.do(t, http.MethodGet, target, true)
	require.Equal(t, http.StatusOK, rec.Code, "%s: %s", target, rec.Body)
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), v), target)
}

// pageFiles lists the files a browser loads for the page, the page first: the
// page weight is the sum of their sizes.
var pageFiles = []string{"index.html", "app.css", "app.js", "uPlot.min.css", "uPlot.iife.min.js"}

// pageWeight returns the bytes of pageFiles as served (no compression).
func pageWeight() (int, error) {
	total := 0
	for _, name := range pageFiles {
		b, err := fs.ReadFile(assets, name)
		if err != nil {
			return 0, err
		}
		total += len(b)
	}
	return total, nil
}

func TestPageNeedsTheServersCredentials(t *testing.T) {
	for _, appOptics := range []bool{false, true} {
		var opts []libratotest.Option
		if appOptics {
			opts = append(opts, libratotest.WithAppOptics())
		}
		f := newFixture(t, opts...)
		for _, path := range []string{"/", "/index.html", "/ui/app.js", "/ui/server.json"} {
			rec := f.do(t, http.MethodGet, path, false)
			assert.Equal(t, http.StatusUnauthorized, rec.Code, path)
			challenge := rec.Header().Get("WWW-Authenticate")
			assert.True(t, strings.HasPrefix(challenge, `Basic realm="librato serve`), challenge)
			if appOptics {
				assert.Contains(t, challenge, "the token as the user name")
			}
			assert.Equal(t, http.StatusOK, f.do(t, http.MethodGet, path, true).Code, path)
		}
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.SetBasicAuth(libratotest.DefaultUser, "not-the-token")
		rec := httptest.NewRecorder()
		f.h.ServeHTTP(rec, req)
		assert.Equal(t, http.StatusUnauthorized, rec.Code, "a wrong token")
	}
}

func TestPageAndFiles(t *testing.T) {
	f := newFixture(t)
	rec := f.do(t, http.MethodGet, "/", true)
	require.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "text/html; charset=utf-8", rec.Header().Get("Content-Type"))
	assert.Contains(t, rec.Header().Get("Content-Security-Policy"), "default-src 'self'")
	assert.Equal(t, "nosniff", rec.Header().Get("X-Content-Type-Options"))
	page := rec.Body.String()

	// Every file the page loads is served, with its type, and is one of pageFiles (the weight counts
	// them all); the page loads nothing from elsewhere.
	refs := regexp.MustCompile(`(?:src|href)="([^"]+)"`).FindAllStringSubmatch(page, -1)
	loaded := []string{"index.html"}
	for _, m := range refs {
		ref := m[1]
		if ref == "data:," || strings.HasPrefix(ref, "#") {
			continue
		}
		require.True(t, strings.HasPrefix(ref, AssetsPath), "the page loads %s, not one of its own files", ref)
		name := strings.TrimPrefix(ref, AssetsPath)
		loaded = append(loaded, name)
		rec := f.do(t, http.MethodGet, ref, true)
		require.Equal(t, http.StatusOK, rec.Code, ref)
		want := "text/css; charset=utf-8"
		if strings.HasSuffix(name, ".js") {
			want = "text/javascript; charset=utf-8"
		}
		assert.Equal(t, want, rec.Header().Get("Content-Type"), ref)
		b, err := fs.ReadFile(assets, name)
		require.NoError(t, err)
		assert.Equal(t, len(b), rec.Body.Len(), ref)
	}
	assert.ElementsMatch(t, pageFiles, loaded)

	weight, err := pageWeight()
	require.NoError(t, err)
	assert.Less(t, weight, 200<<10, "page weight")
	t.Logf("page weight: %d bytes (%.1f KiB) in %d files", weight, float64(weight)/1024, len(pageFiles))

	// The chart library is the version the package doc names, with its license beside it.
	js, err := fs.ReadFile(assets, "uPlot.iife.min.js")
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(js), "/*! https://github.com/leeoniya/uPlot (v1.6.32) */"))
	license, err := fs.ReadFile(assets, "uPlot.LICENSE")
	require.NoError(t, err)
	assert.Contains(t, string(license), "The MIT License")
	assert.Equal(t, http.StatusOK, f.do(t, http.MethodGet, "/ui/uPlot.LICENSE", true).Code)

	assert.Equal(t, http.StatusNotFound, f.do(t, http.MethodGet, "/ui/nothing.js", true).Code)
	rec = f.do(t, http.MethodPost, "/", true)
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	assert.Equal(t, "GET, HEAD", rec.Header().Get("Allow"))
	rec = f.do(t, http.MethodHead, "/", true)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Zero(t, rec.Body.Len())
}

// TestEverythingElseIsTheAPI: the view takes / and /ui/ only; the API and its plain 404 outside
// /v1/ are as without it.
func TestEverythingElseIsTheAPI(t *testing.T) {
	f := newFixture(t)
	rec := f.do(t, http.MethodGet, "/v1/metrics", true)
	assert.Equal(t, http.StatusOK, rec.Code)
	rec = f.do(t, http.MethodGet, "/v1/metrics", false)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.Empty(t, rec.Header().Get("WWW-Authenticate"), "the API's own 401, as before")
	assert.Equal(t, http.StatusNotFound, f.do(t, http.MethodGet, "/favicon.ico", true).Code)
	assert.Equal(t, http.StatusNotFound, f.do(t, http.MethodGet, "/uix", true).Code)
}

func TestServerInfo(t *testing.T) {
	var info ServerInfo
	newFixture(t).getJSON(t, "/ui/server.json", &info)
	assert.Equal(t, ServerInfo{AppOptics: false, Now: testNow.Unix()}, info)
	newFixture(t, libratotest.WithAppOptics()).getJSON(t, "/ui/server.json", &info)
	assert.Equal(t, ServerInfo{AppOptics: true, Now: testNow.Unix()}, info)
}

// TestTheAPIAnswersWhatThePageReads makes the requests app.js makes, with its parameters, against
// known data, and checks the fields it reads: if the fake's answers change shape, the page breaks
// and this test says where.
func TestTheAPIAnswersWhatThePageReads(t *testing.T) {
	f := newFixture(t, libratotest.WithPageSize(2))
	ctx := t.Context()
	c, err := f.srv.Client()
	require.NoError(t, err)
	start := testNow.Add(-time.Hour)
	var batch []librato.Measurement
	for i := range 10 {
		at := start.Add(time.Duration(i) * time.Minute)
		for _, status := range []string{"200", "404", "500"} {
			batch = append(batch, librato.Measurement{Name: "api.latency", Value: float64(i), Time: at, Tags: map[string]string{"status": status}})
		}
		for _, src := range []string{"worker-1", "worker-2"} {
			batch = append(batch, librato.Measurement{Name: "jobs.queue", Value: float64(i), Time: at, Source: src})
		}
	}
	require.NoError(t, c.Submit(ctx, batch...))
	_, err = c.Annotations.Create(ctx, "deploys", librato.Annotation{Title: "deploy v1", StartTime: start.Add(5 * time.Minute)})
	require.NoError(t, err)
	a, err := c.Alerts.Create(ctx, librato.Alert{Name: "api.slow", Conditions: []librato.Condition{librato.Above("api.latency", 7)}})
	require.NoError(t, err)
	_, err = c.Alerts.Create(ctx, librato.Alert{Name: "api.quiet", Conditions: []librato.Condition{librato.Absent("api.latency", 10*time.Minute)}})
	require.NoError(t, err)
	require.True(t, f.srv.FireAlert(a.ID))

	window := url.Values{"start_time": {strconv.FormatInt(start.Unix(), 10)}, "end_time": {strconv.FormatInt(testNow.Unix(), 10)}, "resolution": {"60"}}

	// The metric list: listAll pages by offset until query.found.
	var list struct {
		Query   struct{ Found, Total int }
		Metrics []struct{ Name, Type string }
	}
	f.getJSON(t, "/v1/metrics?name=api&offset=0&length=100", &list)
	assert.Equal(t, 1, list.Query.Found)
	require.Len(t, list.Metrics, 1)
	assert.Equal(t, "api.latency", list.Metrics[0].Name)
	assert.Equal(t, "gauge", list.Metrics[0].Type)

	// Tagged series: series[].tags and measurements[].time/value, then links rel=next (the page
	// size is 2 series here, so the third comes on a second page).
	type taggedPage struct {
		Series []struct {
			Tags         map[string]string
			Measurements []struct {
				Time  int64
				Value float64
			}
		}
		Links []struct{ Rel, Href string }
	}
	var p1, p2 taggedPage
	f.getJSON(t, "/v1/measurements/api.latency?"+window.Encode(), &p1)
	require.Len(t, p1.Series, 2)
	assert.Len(t, p1.Series[0].Measurements, 10)
	assert.Equal(t, start.Unix(), p1.Series[0].Measurements[0].Time)
	require.Len(t, p1.Links, 1)
	assert.Equal(t, "next", p1.Links[0].Rel)
	next, err := url.Parse(p1.Links[0].Href)
	require.NoError(t, err)
	f.getJSON(t, next.RequestURI(), &p2)
	require.Len(t, p2.Series, 1)
	assert.Empty(t, p2.Links)
	statuses := []string{p1.Series[0].Tags["status"], p1.Series[1].Tags["status"], p2.Series[0].Tags["status"]}
	assert.ElementsMatch(t, []string{"200", "404", "500"}, statuses)

	// Source series: measurements keyed by source, measure_time/value, and query.next_time while
	// more points remain (2 points a page here).
	var legacy struct {
		Measurements map[string][]struct {
			MeasureTime int64   `json:"measure_time"`
			Value       float64 `json:"value"`
		}
		Query struct {
			NextTime int64 `json:"next_time"`
		}
	}
	f.getJSON(t, "/v1/metrics/jobs.queue?"+window.Encode(), &legacy)
	require.Len(t, legacy.Measurements["worker-1"], 2)
	assert.Equal(t, start.Unix(), legacy.Measurements["worker-1"][0].MeasureTime)
	assert.Equal(t, start.Add(2*time.Minute).Unix(), legacy.Query.NextTime)

	// Annotations: the streams, then each stream's events in the window, keyed by source.
	var streams struct {
		Query       struct{ Found int }
		Annotations []struct{ Name string }
	}
	f.getJSON(t, "/v1/annotations?offset=0&length=100", &streams)
	require.Len(t, streams.Annotations, 1)
	var events struct {
		Events map[string][]struct {
			Title     string
			StartTime int64 `json:"start_time"`
		}
	}
	ev := url.Values{"start_time": window["start_time"], "end_time": window["end_time"]}
	f.getJSON(t, "/v1/annotations/deploys?"+ev.Encode(), &events)
	require.Len(t, events.Events["unassigned"], 1)
	assert.Equal(t, "deploy v1", events.Events["unassigned"][0].Title)

	// Alerts and their state: firing ids from /v1/alerts/status.
	var alerts struct {
		Query  struct{ Found int }
		Alerts []struct {
			ID   int64
			Name string
		}
	}
	f.getJSON(t, "/v1/alerts?offset=0&length=100", &alerts)
	assert.Equal(t, 2, alerts.Query.Found)
	var status struct {
		Firing []struct {
			ID          int64
			TriggeredAt int64 `json:"triggered_at"`
		}
	}
	f.getJSON(t, "/v1/alerts/status", &status)
	require.Len(t, status.Firing, 1)
	assert.Equal(t, int64(a.ID), status.Firing[0].ID)
	assert.NotZero(t, status.Firing[0].TriggeredAt)

	// Composite queries over tagged series and over source series.
	q := url.Values{"compose": {`sum(s("api.latency", {"status": "*"}))`}, "start_time": window["start_time"], "end_time": window["end_time"], "resolution": {"60"}}
	rec := f.do(t, http.MethodGet, "/v1/measurements?"+q.Encode(), true)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	body, _ := io.ReadAll(rec.Body)
	var tagged []struct {
		Measurements []struct{ Time int64 }
	}
	require.NoError(t, json.Unmarshal(body, &tagged))
	require.Len(t, tagged, 1)
	assert.Len(t, tagged[0].Measurements, 10)
	q.Set("compose", `s("jobs.queue", "worker-*")`)
	var sources struct {
		Measurements []struct {
			Source struct{ Name string }
			Series []struct {
				MeasureTime int64 `json:"measure_time"`
			}
		}
	}
	f.getJSON(t, "/v1/metrics?"+q.Encode(), &sources)
	require.Len(t, sources.Measurements, 2)
	assert.Len(t, sources.Measurements[0].Series, 10)
}
