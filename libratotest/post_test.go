package libratotest_test

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-librato/librato/libratotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestAuth(t *testing.T) {
	srv := newServer(t)
	tests := []struct {
		name, method, path, ctype, body string
		auth                            func(*http.Request)
		status                          int
		wantType, wantBody              string
	}{
		{"GET without credentials", "GET", "/v1/metrics", "", "", nil, 401,
			"application/json", `{"errors":{"request":["Authorization Required"]}}`},
		{"POST without credentials", "POST", "/v1/metrics", jsonType, fixture(t, "tv4.json"), nil, 401,
			"text/plain", "Credentials are required to access this resource."},
		{"wrong token", "GET", "/v1/metrics", "", "", func(r *http.Request) { r.SetBasicAuth(libratotest.DefaultUser, "nope") }, 401,
			"application/json", `{"errors":{"request":["Authorization Required"]}}`},
		{"wrong user", "DELETE", "/v1/metrics/x", "", "", func(r *http.Request) { r.SetBasicAuth("x@example.com", libratotest.DefaultToken) }, 401,
			"application/json", `{"errors":{"request":["Authorization Required"]}}`},
		{"right credentials", "GET", "/v1/metrics", "", "", func(r *http.Request) { r.SetBasicAuth(libratotest.DefaultUser, libratotest.DefaultToken) }, 200,
			"application/json", `{"metrics":[],"query":{"found":0,"length":0,"offset":0,"total":0}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := callAs(t, srv, tt.method, tt.path, tt.ctype, tt.body, tt.auth)
			assert.Equal(t, tt.status, resp.StatusCode)
			assert.Contains(t, resp.Header.Get("Content-Type"), tt.wantType)
			assert.Equal(t, tt.wantBody, body)
		})
	}
	assert.Empty(t, srv.Measurements("my.metric"), "a 401 POST stores nothing")
}

func TestAuthAppOptics(t *testing.T) {
	srv := newServer(t, libratotest.WithAppOptics(), libratotest.WithCredentials("", "aotoken"))
	tests := []struct {
		name       string
		user, pass string
		status     int
	}{
		{"token as user, empty password", "aotoken", "", 200},
		{"appoptics-api-go form", "token", "aotoken", 200},
		{"email and token", "someone@example.com", "aotoken", 401},
		{"wrong token", "other", "", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, _ := callAs(t, srv, "GET", "/v1/metrics", "", "", func(r *http.Request) { r.SetBasicAuth(tt.user, tt.pass) })
			assert.Equal(t, tt.status, resp.StatusCode)
		})
	}
	resp, body := call(t, srv, "POST", "/v1/metrics", jsonType, fixture(t, "tv6a.json"))
	assert.Equal(t, 400, resp.StatusCode, "AppOptics has no source-based POST")
	assert.Contains(t, body, `"request"`)
	resp, _ = call(t, srv, "POST", "/v1/measurements", jsonType, fixture(t, "tv6c.json"))
	assert.Equal(t, 202, resp.StatusCode)
}

// TestPythonLibrato replays python-librato 3.1.0's captured requests (TV6,
// TV10 auth header) byte for byte.
func TestPythonLibrato(t *testing.T) {
	srv := newServer(t, libratotest.WithCredentials("user@example.com", "token"),
		libratotest.WithNow(func() time.Time { return time.Unix(1500000060, 0) }))
	ua := "python-librato/3.1.0 (python; 3.11.7; x86_64-Linux6.18.44-fc-v669)"
	pyAuth := func(r *http.Request) {
		r.Header.Set("Authorization", "Basic dXNlckBleGFtcGxlLmNvbTp0b2tlbg==")
		r.Header.Set("User-Agent", ua)
	}
	for _, tc := range []struct{ path, file string }{
		{"/v1/metrics", "tv6a.json"}, {"/v1/metrics", "tv6b.json"},
		{"/v1/measurements", "tv6c.json"}, {"/v1/measurements", "tv6d.json"},
	} {
		resp, body := callAs(t, srv, "POST", tc.path, jsonType, fixture(t, tc.file), pyAuth)
		require.Less(t, resp.StatusCode, 300, "%s: %s", tc.file, body)
	}
	// The same client's credentials with a form body (the legacy default).
	resp, body := callAs(t, srv, "POST", "/v1/metrics", formType, "gauges[0][name]=form.metric&gauges[0][value]=1.5", pyAuth)
	require.Equal(t, 200, resp.StatusCode, body)
	require.Len(t, srv.Measurements("form.metric"), 1)
	assert.Equal(t, 1.5, srv.Measurements("form.metric")[0].Value)

	conn := srv.Measurements("conn")
	require.Len(t, conn, 1)
	assert.Equal(t, "web1", conn[0].Source)
	assert.Equal(t, time.Unix(1500000000, 0).UTC(), conn[0].Time)
	assert.Equal(t, 5.0, conn[0].Value)
	m, ok := srv.Metric("conn")
	require.True(t, ok)
	assert.Equal(t, "counter", m.Type)
	assert.Equal(t, ua, m.Attributes["created_by_ua"])

	temp := srv.Measurements("temperature")
	require.Len(t, temp, 3, "one legacy point and two tagged series")
	assert.Equal(t, "", temp[0].Source)
	assert.Equal(t, map[string]string{"city": "sf"}, temp[1].Tags)
	assert.Equal(t, map[string]string{"city": "sf", "company": "librato"}, temp[2].Tags)

	// The recorded request keeps the user, never the password.
	reqs := srv.Requests()
	require.Len(t, reqs, 5)
	assert.Equal(t, "user@example.com", reqs[0].User)
	assert.Empty(t, reqs[0].Header.Get("Authorization"))
	assert.JSONEq(t, fixture(t, "tv6a.json"), string(reqs[0].Body))

	// python-librato's delete(['foo','bar']) and get_tagged.
	resp, _ = callAs(t, srv, "DELETE", "/v1/metrics", jsonType, `{"names": ["conn", "bar"]}`, pyAuth)
	assert.Equal(t, 204, resp.StatusCode)
	_, ok = srv.Metric("conn")
	assert.False(t, ok)
	resp, body = callAs(t, srv, "GET", "/v1/measurements/temperature?duration=60&resolution=1&tags%5Bcity%5D=sf", "", "", pyAuth)
	require.Equal(t, 200, resp.StatusCode, body)
	assert.Len(t, decode(t, body)["series"], 2)
}

// TestCurlRecipe is the docs' curl recipe:
// curl -u user:token -H "Content-Type: application/json" -d '{...}' -X POST .../v1/measurements
func TestCurlRecipe(t *testing.T) {
	srv := newServer(t, libratotest.WithCredentials("example@librato.com", "75AFDB82"))
	req, err := http.NewRequest("POST", srv.URL+"/v1/measurements", strings.NewReader(fixture(t, "tv1.json")))
	require.NoError(t, err)
	req.SetBasicAuth("example@librato.com", "75AFDB82") // curl -u
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "curl/8.5.0")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 202, resp.StatusCode)

	// Credentials in the URL (example%40librato.com:token@host) work too.
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	u.User = url.UserPassword("example@librato.com", "75AFDB82")
	resp, err = http.Get(u.String() + "/v1/metrics/cpu")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	m, _ := srv.Metric("cpu")
	assert.Equal(t, "curl/8.5.0", m.Attributes["created_by_ua"])
}

func TestTaggedTopLevelTags(t *testing.T) {
	srv := newServer(t)
	resp, body := call(t, srv, "POST", "/v1/measurements", jsonType, fixture(t, "tv1.json"))
	require.Equal(t, 202, resp.StatusCode, body)
	want := map[string]string{"region": "us-west", "name": "web-prod-3"}
	for _, name := range []string{"cpu", "memory"} {
		pts := srv.Measurements(name)
		require.Len(t, pts, 1, name)
		assert.Equal(t, want, pts[0].Tags, name)
	}
}

func TestTaggedTagsReplaceTopLevel(t *testing.T) {
	srv := newServer(t)
	resp, body := call(t, srv, "POST", "/v1/measurements", jsonType, fixture(t, "tv2.json"))
	require.Equal(t, 202, resp.StatusCode, body)
	cpu := srv.Measurements("cpu")
	require.Len(t, cpu, 1)
	assert.Equal(t, map[string]string{"name": "web-prod-1"}, cpu[0].Tags)
	mem := srv.Measurements("memory")
	require.Len(t, mem, 1)
	assert.Equal(t, map[string]string{"az": "e", "db": "db-prod-1"}, mem[0].Tags)
	assert.Equal(t, 34.5, mem[0].Value)
}

func TestTaggedSummaryFields(t *testing.T) {
	srv := newServer(t, libratotest.WithNow(func() time.Time { return time.Unix(1421530200, 0) }))
	resp, body := call(t, srv, "POST", "/v1/measurements", jsonType, fixture(t, "tv3.json"))
	require.Equal(t, 202, resp.StatusCode, body)
	pts := srv.Measurements("cpu")
	require.Len(t, pts, 1)
	p := pts[0]
	assert.Equal(t, int64(3), p.Count)
	assert.Equal(t, 35.0, p.Sum)
	assert.Equal(t, 4.5, p.Min)
	assert.Equal(t, 6.7, p.Max)
	assert.Equal(t, 2.5, p.Last)
	assert.InDelta(t, 35.0/3, p.Value, 1e-9)
	// stddev 1.34 round-trips through sum_squares.
	mean := 35.0 / 3
	assert.InDelta(t, 1.34*1.34, p.SumSquares/3-mean*mean, 1e-9)
	assert.Equal(t, time.Unix(1421530163, 0).UTC(), p.Time)
	assert.Equal(t, "3", p.Tags["instance"])
	m, _ := srv.Metric("cpu")
	assert.Equal(t, int64(60), m.Period)
	assert.Equal(t, false, m.Attributes["aggregate"])
}

func TestLegacyGlobals(t *testing.T) {
	for _, tc := range []struct{ name, ctype, file string }{
		{"json", jsonType, "tv4.json"},
		{"form", formType, "tv4.form"},
		{"form with charset", formType + "; charset=utf-8", "tv4.form"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := newServer(t, libratotest.WithNow(func() time.Time { return tv4Now }))
			resp, body := call(t, srv, "POST", "/v1/metrics", tc.ctype, fixture(t, tc.file))
			require.Equal(t, 200, resp.StatusCode, body)
			assert.Empty(t, body, "POST /v1/metrics answers 200 with an empty body")
			for _, want := range []libratotest.Point{
				{Name: "my.metric", Source: "my.app", Time: time.Unix(1481637660, 0).UTC(), Value: 42},
				{Name: "my.other.metric", Source: "my.app", Time: time.Unix(1481637660, 0).UTC(), Value: 43},
				{Name: "cpu", Source: "my.machine", Time: time.Unix(1481637540, 0).UTC(), Value: 88.4},
			} {
				pts := srv.Measurements(want.Name)
				require.Len(t, pts, 1, want.Name)
				assert.Equal(t, want.Source, pts[0].Source)
				assert.Equal(t, want.Time, pts[0].Time)
				assert.Equal(t, want.Value, pts[0].Value)
				assert.Equal(t, int64(1), pts[0].Count)
				m, _ := srv.Metric(want.Name)
				assert.Equal(t, "gauge", m.Type)
			}
		})
	}
}

func TestLegacyShapes(t *testing.T) {
	srvs := map[string]*libratotest.Server{}
	for _, f := range []string{"tv5a.json", "tv5b.json", "tv5c.json"} {
		srv := newServer(t)
		resp, body := call(t, srv, "POST", "/v1/metrics", jsonType, fixture(t, f))
		require.Equal(t, 200, resp.StatusCode, "%s: %s", f, body)
		srvs[f] = srv
	}
	a := srvs["tv5a.json"].Measurements("login-delay")
	require.Len(t, a, 1)
	assert.Equal(t, "foo.bar.com", a[0].Source)
	assert.Equal(t, 3.5, a[0].Value)
	b, c := srvs["tv5b.json"].Measurements("login-delay"), srvs["tv5c.json"].Measurements("login-delay")
	require.Len(t, b, 2)
	for i := range b {
		assert.Equal(t, c[i].Source, b[i].Source)
		assert.Equal(t, c[i].Value, b[i].Value)
	}
	assert.Equal(t, "foo1.bar.com", b[0].Source)
	assert.Equal(t, 2.6, b[1].Value)
}

func TestFormBracketsHashAndAttributes(t *testing.T) {
	srv := newServer(t)
	form := "gauges[login-delay][value]=3.5&gauges[login-delay][source]=web1&counters[0][name]=hits&counters[0][value]=7" +
		"&gauges[login-delay][description]=Login%20delay&gauges[login-delay][attributes][display_units_short]=ms"
	resp, body := call(t, srv, "POST", "/v1/metrics", formType, form)
	require.Equal(t, 200, resp.StatusCode, body)
	pts := srv.Measurements("login-delay")
	require.Len(t, pts, 1)
	assert.Equal(t, "web1", pts[0].Source)
	m, _ := srv.Metric("login-delay")
	assert.Equal(t, "Login delay", m.Description)
	assert.Equal(t, "ms", m.Attributes["display_units_short"])
	hits, _ := srv.Metric("hits")
	assert.Equal(t, "counter", hits.Type)
}

func TestPostErrors(t *testing.T) {
	now := time.Unix(1500000000, 0)
	old := now.Add(-3 * time.Hour).Unix()
	tags51 := map[string]string{}
	for i := range 51 {
		tags51[fmt.Sprintf("t%d", i)] = "v"
	}
	tags51JSON := `{`
	for k, v := range tags51 {
		tags51JSON += fmt.Sprintf("%q:%q,", k, v)
	}
	tags51JSON = strings.TrimSuffix(tags51JSON, ",") + "}"
	tests := []struct {
		name, path, ctype, body string
		status                  int
		want                    string // exact body, or substring when it starts with "~"
	}{
		{"legacy wrong content type", "/v1/metrics", "text/plain", `{"gauges":[{"name":"a","value":1}]}`, 415,
			`{"errors":{"request":["Incorrect Content-Type"]}}`},
		{"legacy no content type", "/v1/metrics", "", `{"gauges":[{"name":"a","value":1}]}`, 415,
			`{"errors":{"request":["Incorrect Content-Type"]}}`},
		{"tagged form", "/v1/measurements", formType, "measurements[0][name]=a", 415,
			`{"errors":{"request":["Incorrect Content-Type"]}}`},
		{"legacy empty", "/v1/metrics", jsonType, `{"gauges":[],"counters":[]}`, 400,
			`{"errors":{"request":["Must contain a measurement"]}}`},
		{"legacy empty object", "/v1/metrics", jsonType, `{}`, 400,
			`{"errors":{"request":["Must contain a measurement"]}}`},
		{"tagged empty", "/v1/measurements", jsonType, `{"measurements":[]}`, 400,
			`{"errors":{"request":["Must contain a measurement"]}}`},
		{"tagged unknown field", "/v1/measurements", jsonType, `{"measurements":[{"name":"a","value":1,"source":"x"}]}`, 400,
			`{"code":400,"message":"Unable to process JSON"}`},
		{"tagged bad JSON", "/v1/measurements", jsonType, `{"measurements":[`, 400,
			`{"code":400,"message":"Unable to process JSON"}`},
		{"tagged tags not strings", "/v1/measurements", jsonType, `{"measurements":[{"name":"a","value":1,"tags":{"n":3}}]}`, 400,
			`{"code":400,"message":"Unable to process JSON"}`},
		{"bad name", "/v1/metrics", jsonType, `{"gauges":[{"name":"bad name","value":1}]}`, 400, `~"name":["\"bad name\" is invalid"]`},
		{"long name", "/v1/metrics", jsonType, `{"gauges":[{"name":"` + strings.Repeat("a", 256) + `","value":1}]}`, 400, `~"name"`},
		{"missing name", "/v1/measurements", jsonType, `{"measurements":[{"value":1}]}`, 400, `~"name":["is not present"]`},
		{"bad source", "/v1/metrics", jsonType, `{"gauges":[{"name":"a","value":1,"source":"a b"}]}`, 400, `~"source":["is invalid"]`},
		{"reserved source", "/v1/metrics", jsonType, `{"source":"ALL","gauges":[{"name":"a","value":1}]}`, 400, `~"source":["'all' is reserved"]`},
		{"bad tag name", "/v1/measurements", jsonType, `{"measurements":[{"name":"a","value":1,"tags":{"a b":"x"}}]}`, 400, `~"tags"`},
		{"bad tag value", "/v1/measurements", jsonType, `{"tags":{"a":"x*y"},"measurements":[{"name":"a","value":1}]}`, 400, `~"tags"`},
		{"51 tags", "/v1/measurements", jsonType, `{"measurements":[{"name":"a","value":1,"tags":` + tags51JSON + `}]}`, 400, `~must have at most 50 tags`},
		{"value with count", "/v1/metrics", jsonType, `{"gauges":[{"name":"a","value":1,"count":2,"sum":3}]}`, 400, `~"value"`},
		{"count without sum", "/v1/metrics", jsonType, `{"gauges":[{"name":"a","count":2}]}`, 400, `~"sum":["is not present"]`},
		{"tagged count without sum", "/v1/measurements", jsonType, `{"measurements":[{"name":"a","count":2}]}`, 400, `~"sum":["is not present"]`},
		{"tagged value with summary", "/v1/measurements", jsonType, `{"measurements":[{"name":"a","value":1,"sum":1,"count":1}]}`, 400, `~"value"`},
		{"no value", "/v1/metrics", jsonType, `{"gauges":[{"name":"a"}]}`, 400, `~"value":["is not present"]`},
		{"too old legacy", "/v1/metrics", jsonType, fmt.Sprintf(`{"gauges":[{"name":"a","value":1,"measure_time":%d}]}`, old), 400,
			`{"errors":{"params":{"measure_time":["is too far in the past"]}},"request_time":1500000000}`},
		{"too old tagged", "/v1/measurements", jsonType, fmt.Sprintf(`{"time":%d,"measurements":[{"name":"a","value":1}]}`, old), 400,
			`{"errors":{"params":{"time":["is too far in the past"]}},"request_time":1500000000}`},
		{"gauge and counter in one post", "/v1/metrics", jsonType, `{"gauges":[{"name":"a","value":1}],"counters":[{"name":"a","value":1}]}`, 400, `~"type"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newServer(t, libratotest.WithNow(func() time.Time { return now }))
			resp, body := call(t, srv, "POST", tt.path, tt.ctype, tt.body)
			assert.Equal(t, tt.status, resp.StatusCode, body)
			if want, ok := strings.CutPrefix(tt.want, "~"); ok {
				assert.Contains(t, body, want)
				assert.Contains(t, body, `{"errors":{"params":`)
			} else {
				assert.Equal(t, tt.want, body)
			}
			assert.Empty(t, srv.Measurements("a"), "a refused request stores nothing")
		})
	}
}

func TestTypeConflict(t *testing.T) {
	srv := newServer(t, libratotest.WithNow(func() time.Time { return time.Unix(1500000000, 0) }))
	resp, _ := call(t, srv, "POST", "/v1/metrics", jsonType, `{"counters":[{"name":"hits","value":1}]}`)
	require.Equal(t, 200, resp.StatusCode)
	resp, body := call(t, srv, "POST", "/v1/metrics", jsonType, `{"gauges":[{"name":"HITS","value":1},{"name":"other","value":2}]}`)
	assert.Equal(t, 400, resp.StatusCode)
	// The real API's body, as statsd-librato-backend (lib/librato.js) matches it, with the name as submitted.
	assert.Equal(t, `{"errors":{"params":{"type":["'HITS' is a counter, but was submitted as different type"]}},"request_time":1500000000}`, body)
	assert.Equal(t, "application/json", resp.Header.Get("Content-Type")[:len("application/json")])
	assert.Empty(t, srv.Measurements("other"), "one bad measurement refuses the whole request")
	resp, body = call(t, srv, "POST", "/v1/measurements", jsonType, `{"measurements":[{"name":"sd.ok","value":1},{"name":"hits","value":1}]}`)
	assert.Equal(t, 400, resp.StatusCode)
	assert.Equal(t, `{"errors":{"params":{"type":["'hits' is a counter, but was submitted as different type"]}},"request_time":1500000000}`, body)
	assert.Empty(t, srv.Measurements("sd.ok"), "one bad measurement refuses the whole request")
	// The pattern statsd-librato-backend matches to stop sending a metric.
	assert.Regexp(t, `'([^']+)' is a \S+, but was submitted as different type`, body)
}

// TestTaggedEmptyTagsTakeTopLevel: "tags":{} on a measurement is no tags, so
// the top-level tags apply (the Tagged submit rule of testdata/README.md), as statsd-librato-backend relies on.
func TestTaggedEmptyTagsTakeTopLevel(t *testing.T) {
	srv := newServer(t)
	resp, body := call(t, srv, "POST", "/v1/measurements", jsonType,
		`{"tags":{"env":"ci","host":"h"},"measurements":[{"name":"sd.hits","value":9,"tags":{}},{"name":"sd.own","value":1,"tags":{"az":"b"}}]}`)
	require.Equal(t, 202, resp.StatusCode, body)
	hits := srv.Measurements("sd.hits")
	require.Len(t, hits, 1)
	assert.Equal(t, map[string]string{"env": "ci", "host": "h"}, hits[0].Tags)
	own := srv.Measurements("sd.own")
	require.Len(t, own, 1)
	assert.Equal(t, map[string]string{"az": "b"}, own[0].Tags, "non-empty tags still replace")
}

// TestTaggedStddevM2 covers the timer body of statsd-librato-backend: stddev_m2
// is accepted and read as the standard deviation (TV3, testdata/README.md).
func TestTaggedStddevM2(t *testing.T) {
	srv := newServer(t, libratotest.WithNow(func() time.Time { return time.Unix(1500000000, 0) }))
	resp, body := call(t, srv, "POST", "/v1/measurements", jsonType,
		`{"tags":{"host":"h"},"measurements":[{"name":"sd.lat","count":4,"sum":10,"min":1,"stddev_m2":1.2909944487358056,"max":4,"tags":{}}]}`)
	require.Equal(t, 202, resp.StatusCode, body)
	pts := srv.Measurements("sd.lat")
	require.Len(t, pts, 1)
	p := pts[0]
	assert.Equal(t, int64(4), p.Count)
	assert.Equal(t, 10.0, p.Sum)
	assert.Equal(t, 1.0, p.Min)
	assert.Equal(t, 4.0, p.Max)
	assert.InDelta(t, 1.2909944487358056*1.2909944487358056, p.SumSquares/4-2.5*2.5, 1e-9)

	resp, body = call(t, srv, "POST", "/v1/measurements", jsonType,
		`{"measurements":[{"name":"sd.lat","count":1,"sum":1,"stddev":0,"stddev_m2":0,"tags":{"a":"b"}}]}`)
	assert.Equal(t, 400, resp.StatusCode)
	assert.Equal(t, `{"errors":{"params":{"stddev":["only one of stddev and stddev_m2 may be set"]}},"request_time":1500000000}`, body)
}

// TestTaggedTimeZeroIsNow: appoptics-api-go writes "time":0 when no time was
// set; it means "now", not 1970.
func TestTaggedTimeZeroIsNow(t *testing.T) {
	now := time.Unix(1500000000, 0)
	srv := newServer(t, libratotest.WithAppOptics(), libratotest.WithNow(func() time.Time { return now }))
	resp, body := call(t, srv, "POST", "/v1/measurements", jsonType,
		`{"time":0,"measurements":[{"name":"a","value":1,"tags":{"h":"x"}},{"name":"b","value":2,"time":0,"tags":{"h":"x"}}]}`)
	require.Equal(t, 202, resp.StatusCode, body)
	for _, name := range []string{"a", "b"} {
		pts := srv.Measurements(name)
		require.Len(t, pts, 1)
		assert.Equal(t, now.UTC(), pts[0].Time, name)
	}
	// A time that is set but old is still refused.
	resp, _ = call(t, srv, "POST", "/v1/measurements", jsonType, `{"time":1,"measurements":[{"name":"a","value":1,"tags":{"h":"x"}}]}`)
	assert.Equal(t, 400, resp.StatusCode)
}

// TestTaggedWithoutTags: a tagged measurement without any tag is accepted, as
// python-librato's Aggregator posts one (TV8); it is a series with no tags.
func TestTaggedWithoutTags(t *testing.T) {
	srv := newServer(t, libratotest.WithNow(func() time.Time { return time.Unix(1418838418, 0) }))
	resp, body := call(t, srv, "POST", "/v1/measurements", jsonType,
		`{"measurements":[{"count":2,"max":7,"min":5,"name":"baz","sum":12}],"time":1418838360}`)
	require.Equal(t, 202, resp.StatusCode, body)
	pts := srv.Measurements("baz")
	require.Len(t, pts, 1)
	assert.Empty(t, pts[0].Tags)
	assert.Equal(t, 6.0, pts[0].Value)
}

func TestCombineSameSeriesAndTime(t *testing.T) {
	srv := newServer(t, libratotest.WithNow(func() time.Time { return tv4Now }))
	ts := tv4Now.Unix() - 60
	for _, b := range []string{
		fmt.Sprintf(`{"gauges":[{"name":"lat","value":10,"source":"web1","measure_time":%d}]}`, ts),
		fmt.Sprintf(`{"gauges":[{"name":"lat","count":2,"sum":50,"min":20,"max":30,"source":"WEB1","measure_time":%d}]}`, ts),
	} {
		resp, body := call(t, srv, "POST", "/v1/metrics", jsonType, b)
		require.Equal(t, 200, resp.StatusCode, body)
	}
	pts := srv.Measurements("lat")
	require.Len(t, pts, 1, "sources are case-insensitive and points combine")
	p := pts[0]
	assert.Equal(t, int64(3), p.Count)
	assert.Equal(t, 60.0, p.Sum)
	assert.Equal(t, 10.0, p.Min)
	assert.Equal(t, 30.0, p.Max)
	assert.Equal(t, 20.0, p.Value)

	resp, body := call(t, srv, "GET", fmt.Sprintf("/v1/metrics/lat?start_time=%d", ts), "", "")
	require.Equal(t, 200, resp.StatusCode, body)
	got := decode(t, body)
	pt := got["measurements"].(map[string]any)["web1"].([]any)[0].(map[string]any)
	assert.Equal(t, map[string]any{"measure_time": float64(ts), "value": 20.0, "count": 3.0, "sum": 60.0,
		"min": 10.0, "max": 30.0, "sum_squares": 100.0 + 50.0*50.0/2}, pt)

	// Tagged: same combination, tag order and case do not matter.
	for _, b := range []string{
		fmt.Sprintf(`{"measurements":[{"name":"q","value":1,"time":%d,"tags":{"a":"x","b":"y"}}]}`, ts),
		fmt.Sprintf(`{"measurements":[{"name":"q","value":3,"time":%d,"tags":{"B":"Y","a":"x"}}]}`, ts),
	} {
		resp, body := call(t, srv, "POST", "/v1/measurements", jsonType, b)
		require.Equal(t, 202, resp.StatusCode, body)
	}
	q := srv.Measurements("q")
	require.Len(t, q, 1)
	assert.Equal(t, int64(2), q[0].Count)
	assert.Equal(t, 2.0, q[0].Value)
	assert.Equal(t, 3.0, q[0].Last)
}

func TestRequestsRecordsGzip(t *testing.T) {
	srv := newServer(t)
	var buf strings.Builder
	zw := gzipWriter(&buf)
	_, err := zw.Write([]byte(fixture(t, "tv1.json")))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	req, err := http.NewRequest("POST", srv.URL+"/v1/measurements", strings.NewReader(buf.String()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", jsonType)
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(libratotest.DefaultUser+":"+libratotest.DefaultToken)))
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, 202, resp.StatusCode)
	reqs := srv.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "gzip", reqs[0].Header.Get("Content-Encoding"))
	assert.JSONEq(t, fixture(t, "tv1.json"), string(reqs[0].Body))
	assert.Len(t, srv.Measurements("cpu"), 1)
}

func TestCreateOnlyProperties(t *testing.T) {
	srv := newServer(t)
	for _, b := range []string{
		`{"gauges":[{"name":"q","value":1,"description":"first","period":60,"attributes":{"color":"#ff0000"}}]}`,
		`{"gauges":[{"name":"Q","value":2,"description":"second","period":10,"attributes":{"color":"#00ff00"}}]}`,
	} {
		resp, body := call(t, srv, "POST", "/v1/metrics", jsonType, b)
		require.Equal(t, 200, resp.StatusCode, body)
	}
	m, ok := srv.Metric("q")
	require.True(t, ok)
	assert.Equal(t, libratotest.Metric{Name: "q", Type: "gauge", Description: "first", Period: 60,
		Attributes: map[string]any{"color": "#ff0000", "created_by_ua": "Go-http-client/1.1"}}, m,
		"properties apply only when the POST creates the metric")
	var count int64
	for _, p := range srv.Measurements("q") {
		count += p.Count
	}
	assert.Equal(t, int64(2), count, "but both samples are stored")

	// Top-level tagged period and attributes apply to each new metric.
	resp, body := call(t, srv, "POST", "/v1/measurements", jsonType,
		`{"period":30,"attributes":{"aggregate":true},"measurements":[{"name":"r","value":1},{"name":"s","value":1,"period":15}]}`)
	require.Equal(t, 202, resp.StatusCode, body)
	r, _ := srv.Metric("r")
	s, _ := srv.Metric("s")
	assert.Equal(t, int64(30), r.Period)
	assert.Equal(t, true, r.Attributes["aggregate"])
	assert.Equal(t, int64(15), s.Period)
}

func TestMaxAge(t *testing.T) {
	body := `{"gauges":[{"name":"old","value":1,"measure_time":1234567890}]}`
	srv := newServer(t)
	resp, _ := call(t, srv, "POST", "/v1/metrics", jsonType, body)
	assert.Equal(t, 400, resp.StatusCode, "2009 is too far in the past by default")
	srv = newServer(t, libratotest.WithMaxAge(0))
	resp, _ = call(t, srv, "POST", "/v1/metrics", jsonType, body)
	assert.Equal(t, 200, resp.StatusCode, "WithMaxAge(0) accepts any time")
	var clock atomic.Int64
	clock.Store(1234567890 + 61)
	srv = newServer(t, libratotest.WithMaxAge(time.Minute), libratotest.WithNow(func() time.Time { return time.Unix(clock.Load(), 0) }))
	resp, _ = call(t, srv, "POST", "/v1/metrics", jsonType, body)
	assert.Equal(t, 400, resp.StatusCode)
	clock.Store(1234567890 + 59)
	resp, _ = call(t, srv, "POST", "/v1/metrics", jsonType, body)
	assert.Equal(t, 200, resp.StatusCode)
}
