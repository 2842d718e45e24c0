package libratotest_test

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/go-librato/librato/libratotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// postGauge posts one legacy gauge.
func postGauge(t *testing.T, srv *libratotest.Server, name, source string, v float64, ts int64) {
	t.Helper()
	body := fmt.Sprintf(`{"gauges":[{"name":%q,"value":%v,"source":%q,"measure_time":%d}]}`, name, v, source, ts)
	resp, b := call(t, srv, "POST", "/v1/metrics", jsonType, body)
	require.Equal(t, 200, resp.StatusCode, b)
}

// postTagged posts one tagged measurement.
func postTagged(t *testing.T, srv *libratotest.Server, name string, tags map[string]string, v float64, ts int64) {
	t.Helper()
	var tj []string
	for k, val := range tags {
		tj = append(tj, fmt.Sprintf("%q:%q", k, val))
	}
	body := fmt.Sprintf(`{"measurements":[{"name":%q,"value":%v,"time":%d,"tags":{%s}}]}`, name, v, ts, strings.Join(tj, ","))
	resp, b := call(t, srv, "POST", "/v1/measurements", jsonType, body)
	require.Equal(t, 202, resp.StatusCode, b)
}

func TestLegacyRollup60(t *testing.T) {
	now := time.Unix(1500003600, 0)
	srv := newServer(t, libratotest.WithNow(func() time.Time { return now }))
	base := int64(1500000000) // a multiple of 60
	postGauge(t, srv, "cpu", "web1", 1, base+5)
	postGauge(t, srv, "cpu", "web1", 3, base+50)
	postGauge(t, srv, "cpu", "web1", 10, base+61)
	postGauge(t, srv, "cpu", "", 7, base+1)

	resp, body := call(t, srv, "GET", fmt.Sprintf("/v1/metrics/cpu?start_time=%d&resolution=60", base), "", "")
	require.Equal(t, 200, resp.StatusCode, body)
	got := decode(t, body)
	assert.Equal(t, 60.0, got["resolution"])
	assert.Equal(t, "cpu", got["name"])
	assert.Contains(t, got, "attributes")
	ms := got["measurements"].(map[string]any)
	web1 := ms["web1"].([]any)
	require.Len(t, web1, 2)
	first := web1[0].(map[string]any)
	assert.Equal(t, float64(base), first["measure_time"])
	assert.Equal(t, 2.0, first["value"], "mean of 1 and 3")
	assert.Equal(t, 2.0, first["count"])
	assert.Equal(t, 1.0, first["min"])
	assert.Equal(t, 3.0, first["max"])
	second := web1[1].(map[string]any)
	assert.Equal(t, float64(base+60), second["measure_time"])
	assert.Equal(t, 10.0, second["value"])
	assert.NotContains(t, second, "sum", "a simple point has value and count only")
	assert.Len(t, ms["unassigned"], 1)

	// Raw resolution, count from the end, source patterns, summaries.
	resp, body = call(t, srv, "GET", "/v1/metrics/cpu?count=2&source=web*", "", "")
	require.Equal(t, 200, resp.StatusCode, body)
	ms = decode(t, body)["measurements"].(map[string]any)
	require.Len(t, ms, 1)
	last := ms["web1"].([]any)
	require.Len(t, last, 2)
	assert.Equal(t, float64(base+50), last[0].(map[string]any)["measure_time"])

	resp, body = call(t, srv, "GET", fmt.Sprintf("/v1/metrics/cpu?start_time=%d&resolution=60&group_by=sum", base), "", "")
	require.Equal(t, 200, resp.StatusCode, body)
	ms = decode(t, body)["measurements"].(map[string]any)
	require.Len(t, ms, 1, "group_by shows only the all pseudo-source")
	all := ms["all"].([]any)
	assert.Equal(t, 9.0, all[0].(map[string]any)["value"], "sum of web1's 2 and unassigned's 7")
	assert.Equal(t, 2.0, all[0].(map[string]any)["summarized"])

	resp, body = call(t, srv, "GET", fmt.Sprintf("/v1/metrics/cpu?start_time=%d&summarize_sources=true&sources%%5B%%5D=web1", base), "", "")
	require.Equal(t, 200, resp.StatusCode, body)
	ms = decode(t, body)["measurements"].(map[string]any)
	assert.Len(t, ms, 2, "web1 and all")

	resp, body = call(t, srv, "GET", "/v1/metrics/cpu?resolution=60", "", "")
	assert.Equal(t, 400, resp.StatusCode)
	assert.Contains(t, body, `"start_time":["is not present"]`)
}

func TestLegacyNextTime(t *testing.T) {
	now := time.Unix(1500003600, 0)
	srv := newServer(t, libratotest.WithNow(func() time.Time { return now }), libratotest.WithPageSize(3))
	base := int64(1500000000)
	for i := range 5 {
		postGauge(t, srv, "m", "a", float64(i), base+int64(i))
	}
	var seen []float64
	start := base
	for range 5 {
		resp, body := call(t, srv, "GET", fmt.Sprintf("/v1/metrics/m?start_time=%d", start), "", "")
		require.Equal(t, 200, resp.StatusCode, body)
		got := decode(t, body)
		for _, p := range got["measurements"].(map[string]any)["a"].([]any) {
			seen = append(seen, p.(map[string]any)["value"].(float64))
		}
		q, ok := got["query"].(map[string]any)
		if !ok {
			break
		}
		start = int64(q["next_time"].(float64))
	}
	assert.Equal(t, []float64{0, 1, 2, 3, 4}, seen)
}

func TestListPaging250(t *testing.T) {
	srv := newServer(t)
	var gauges []string
	for i := range 250 {
		gauges = append(gauges, fmt.Sprintf(`{"name":"m.%03d","value":%d}`, i, i))
	}
	resp, body := call(t, srv, "POST", "/v1/metrics", jsonType, `{"gauges":[`+strings.Join(gauges, ",")+`]}`)
	require.Equal(t, 200, resp.StatusCode, body)

	var names []string
	for offset := 0; ; {
		resp, body := call(t, srv, "GET", fmt.Sprintf("/v1/metrics?offset=%d", offset), "", "")
		require.Equal(t, 200, resp.StatusCode, body)
		got := decode(t, body)
		q := got["query"].(map[string]any)
		assert.Equal(t, 250.0, q["found"])
		assert.Equal(t, 250.0, q["total"])
		assert.LessOrEqual(t, q["length"], 100.0)
		for _, m := range got["metrics"].([]any) {
			mm := m.(map[string]any)
			for _, k := range []string{"name", "type", "period", "attributes", "description", "display_name"} {
				assert.Contains(t, mm, k, "every field, null or not")
			}
			names = append(names, mm["name"].(string))
		}
		offset += int(q["length"].(float64))
		if offset >= int(q["found"].(float64)) {
			break
		}
	}
	require.Len(t, names, 250)
	for i, n := range names {
		assert.Equal(t, fmt.Sprintf("m.%03d", i), n)
	}

	resp, body = call(t, srv, "GET", "/v1/metrics?name=M.1&sort=desc&length=5", "", "")
	require.Equal(t, 200, resp.StatusCode, body)
	got := decode(t, body)
	assert.Equal(t, map[string]any{"found": 100.0, "length": 5.0, "offset": 0.0, "total": 250.0}, got["query"])
	assert.Equal(t, "m.199", got["metrics"].([]any)[0].(map[string]any)["name"])

	resp, _ = call(t, srv, "GET", "/v1/metrics?orderby=type", "", "")
	assert.Equal(t, 400, resp.StatusCode)
}

func TestTaggedReadAndLinks(t *testing.T) {
	now := time.Unix(1500003600, 0)
	srv := newServer(t, libratotest.WithNow(func() time.Time { return now }), libratotest.WithPageSize(2))
	base := int64(1500000000)
	hosts := []string{"h1", "h2", "h3", "h4", "h5"}
	for i, h := range hosts {
		region := "us-east"
		if i%2 == 1 {
			region = "eu-west"
		}
		postTagged(t, srv, "lat", map[string]string{"host": h, "region": region}, float64(i+1), base+10)
		postTagged(t, srv, "lat", map[string]string{"host": h, "region": region}, float64(i+1)*3, base+20)
	}

	// Follow links[rel=next] through all series.
	next := fmt.Sprintf("/v1/measurements/lat?start_time=%d&resolution=60", base)
	var seen []string
	for pages := 0; next != ""; pages++ {
		require.Less(t, pages, 10)
		resp, body := call(t, srv, "GET", next, "", "")
		require.Equal(t, 200, resp.StatusCode, body)
		got := decode(t, body)
		assert.Equal(t, 60.0, got["resolution"])
		series := got["series"].([]any)
		assert.LessOrEqual(t, len(series), 2)
		for _, s := range series {
			sm := s.(map[string]any)
			seen = append(seen, sm["tags"].(map[string]any)["host"].(string))
			pts := sm["measurements"].([]any)
			require.Len(t, pts, 1, "both points roll up into one minute")
			assert.Equal(t, float64(base), pts[0].(map[string]any)["time"])
		}
		next = ""
		for _, l := range got["links"].([]any) {
			if lm := l.(map[string]any); lm["rel"] == "next" {
				next = lm["href"].(string)
				assert.True(t, strings.HasPrefix(next, srv.URL), next)
			}
		}
	}
	assert.Equal(t, hosts, seen)

	tests := []struct {
		name, query string
		want        map[string]float64 // series key (host or group) -> first value
	}{
		{"tag wildcard", "tags%5Bregion%5D=us-*", map[string]float64{"h1": 2, "h3": 6, "h5": 10}},
		{"tag OR", "tags%5Bhost%5D=h1&tags%5Bhost%5D=h2", map[string]float64{"h1": 2, "h2": 4}},
		{"tag negation", "tags%5Bregion%5D=!us-*", map[string]float64{"h2": 4, "h4": 8}},
		{"tags_search", url.Values{"tags_search": {"region=us-* and host=!h1"}}.Encode(), map[string]float64{"h3": 6, "h5": 10}},
		{"tags_search not-equal", url.Values{"tags_search": {`host!="h1" AND region=us-east`}}.Encode(), map[string]float64{"h3": 6, "h5": 10}},
		{"summary max", "tags%5Bhost%5D=h2&summary_function=max", map[string]float64{"h2": 6}},
		{"summary count", "tags%5Bhost%5D=h2&summary_function=count", map[string]float64{"h2": 2}},
		{"group_by sum", "group_by=region&group_by_function=sum", map[string]float64{"eu-west": 12, "us-east": 18}},
		{"group_by max", "group_by=region&group_by_function=max", map[string]float64{"eu-west": 8, "us-east": 10}},
	}
	srv2 := newServer(t, libratotest.WithNow(func() time.Time { return now }))
	for i, h := range hosts {
		region := "us-east"
		if i%2 == 1 {
			region = "eu-west"
		}
		postTagged(t, srv2, "lat", map[string]string{"host": h, "region": region}, float64(i+1), base+10)
		postTagged(t, srv2, "lat", map[string]string{"host": h, "region": region}, float64(i+1)*3, base+20)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := call(t, srv2, "GET", fmt.Sprintf("/v1/measurements/lat?duration=3600&resolution=60&%s", tt.query), "", "")
			require.Equal(t, 200, resp.StatusCode, body)
			got := map[string]float64{}
			for _, s := range decode(t, body)["series"].([]any) {
				sm := s.(map[string]any)
				tags := sm["tags"].(map[string]any)
				key, _ := tags["host"].(string)
				if key == "" {
					key, _ = tags["region"].(string)
				}
				got[key] = sm["measurements"].([]any)[0].(map[string]any)["value"].(float64)
			}
			assert.Equal(t, tt.want, got)
		})
	}

	for _, q := range []string{
		"duration=60",                   // resolution missing
		"duration=60&resolution=604801", // too coarse
		"resolution=60",                 // no start_time or duration
		"start_time=1&end_time=2&duration=1&resolution=60",
		"duration=60&resolution=60&group_by=host", // group_by_function missing
		"duration=60&resolution=60&tags%5Ba%5D=b&tags_search=a%3Db",
		"duration=60&resolution=60&tags_search=a%3Db+or+c%3Dd",
	} {
		resp, body := call(t, srv2, "GET", "/v1/measurements/lat?"+q, "", "")
		assert.Equal(t, 400, resp.StatusCode, "%s: %s", q, body)
		assert.Contains(t, body, `{"errors":{"params":`, q)
	}
	resp, _ := call(t, srv2, "GET", "/v1/measurements/missing?duration=60&resolution=60", "", "")
	assert.Equal(t, 404, resp.StatusCode)
}

func TestMetricPutGetDelete(t *testing.T) {
	srv := newServer(t)
	// TV15's form-encoded create.
	resp, body := call(t, srv, "PUT", "/v1/metrics/queue_len", formType,
		"type=gauge&description=Length%20of%20app%20queue&display_name=num.%20elements")
	require.Equal(t, 201, resp.StatusCode, body)
	assert.Equal(t, "/v1/metrics/queue_len", resp.Header.Get("Location"))
	got := decode(t, body)
	assert.Equal(t, "queue_len", got["name"])
	assert.Equal(t, "Length of app queue", got["description"])
	assert.Equal(t, "num. elements", got["display_name"])
	assert.Equal(t, "gauge", got["type"])
	assert.Contains(t, got, "period")
	assert.Nil(t, got["period"])
	assert.Contains(t, got["attributes"], "created_by_ua")

	// python-librato update: 204, attributes merged.
	resp, body = call(t, srv, "PUT", "/v1/metrics/queue_len", jsonType, `{"attributes": {"display_min": 0}, "period": 60}`)
	require.Equal(t, 204, resp.StatusCode, body)
	resp, body = call(t, srv, "GET", "/v1/metrics/QUEUE_LEN", "", "")
	require.Equal(t, 200, resp.StatusCode, body)
	got = decode(t, body)
	assert.Equal(t, 60.0, got["period"])
	attrs := got["attributes"].(map[string]any)
	assert.Equal(t, 0.0, attrs["display_min"])
	assert.Contains(t, attrs, "created_by_ua")
	assert.NotContains(t, got, "measurements", "no time parameters: metadata only")

	// Persisted composite (TV10/TV15).
	resp, body = call(t, srv, "PUT", "/v1/metrics/composite.humidity", jsonType,
		`{"composite": "sum(s(\"humidity\", \"*\"))", "description": "a test composite", "type": "composite"}`)
	require.Equal(t, 201, resp.StatusCode, body)
	got = decode(t, body)
	assert.Equal(t, `sum(s("humidity", "*"))`, got["composite"])
	assert.Contains(t, got, "source_lag")
	resp, _ = call(t, srv, "POST", "/v1/metrics", jsonType, `{"gauges":[{"name":"composite.humidity","value":1}]}`)
	assert.Equal(t, 400, resp.StatusCode, "no measurements into a composite")

	for _, tc := range []struct{ name, body string }{
		{"missing type", `{"description":"x"}`},
		{"bad type", `{"type":"histogram"}`},
		{"composite without expression", `{"type":"composite"}`},
	} {
		resp, body := call(t, srv, "PUT", "/v1/metrics/new.metric", jsonType, tc.body)
		assert.Equal(t, 400, resp.StatusCode, "%s: %s", tc.name, body)
	}
	resp, _ = call(t, srv, "PUT", "/v1/metrics/queue_len", jsonType, `{"type":"counter"}`)
	assert.Equal(t, 400, resp.StatusCode, "type cannot change")

	// Bulk update and delete by pattern with exclude.
	for _, n := range []string{"a.time", "b.time", "c.time", "keep"} {
		resp, _ := call(t, srv, "PUT", "/v1/metrics/"+n, jsonType, `{"type":"gauge"}`)
		require.Equal(t, 201, resp.StatusCode)
	}
	resp, _ = call(t, srv, "PUT", "/v1/metrics", jsonType, `{"names":"*.time","exclude":["c.time"],"display_name":"T"}`)
	require.Equal(t, 204, resp.StatusCode)
	a, _ := srv.Metric("a.time")
	c, _ := srv.Metric("c.time")
	assert.Equal(t, "T", a.DisplayName)
	assert.Empty(t, c.DisplayName)
	resp, _ = call(t, srv, "PUT", "/v1/metrics", jsonType, `{"display_name":"T"}`)
	assert.Equal(t, 400, resp.StatusCode, "names required")

	resp, _ = call(t, srv, "DELETE", "/v1/metrics", jsonType, `{"names":"*.time","exclude":["b.time"]}`)
	require.Equal(t, 204, resp.StatusCode)
	for n, exists := range map[string]bool{"a.time": false, "b.time": true, "c.time": false, "keep": true} {
		_, ok := srv.Metric(n)
		assert.Equal(t, exists, ok, n)
	}
	resp, _ = call(t, srv, "DELETE", "/v1/metrics/keep", "", "")
	assert.Equal(t, 204, resp.StatusCode)
	resp, body = call(t, srv, "GET", "/v1/metrics/keep", "", "")
	assert.Equal(t, 404, resp.StatusCode)
	assert.Equal(t, `{"errors":{"request":["Not found"]}}`, body)
	resp, _ = call(t, srv, "DELETE", "/v1/metrics/never.existed", "", "")
	assert.Equal(t, 204, resp.StatusCode, "deleting a missing metric succeeds")
	resp, _ = call(t, srv, "DELETE", "/v1/metrics", formType, "names[]=b.time&names[]=x")
	assert.Equal(t, 204, resp.StatusCode)
	_, ok := srv.Metric("b.time")
	assert.False(t, ok, "form-encoded names[] delete")
}
