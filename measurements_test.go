package librato

import (
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGetMeasurementsTV10Query(t *testing.T) {
	w := newMTWire(t)
	w.expect(http.MethodGet, "/v1/measurements/cpu", 200, "measurements_last_tv13.json")
	p, err := w.c.Measurements.List(mtCtx, "cpu", &MeasurementsOptions{Duration: time.Minute, Tags: map[string]string{"host": "h1"}})
	require.NoError(t, err)
	assert.Equal(t, "duration=60&resolution=1&tags%5Bhost%5D=h1", w.only().Query, "python-librato get_tagged, byte for byte")
	assert.Empty(t, p.Items)
	assert.Empty(t, p.Next)
}

func TestGetMeasurementsTV13(t *testing.T) {
	w := newMTWire(t)
	w.expect(http.MethodGet, "/v1/measurements/AWS.EC2.DiskWriteBytes", 200, "measurements_tv13.json")
	p, err := w.c.Measurements.List(mtCtx, "AWS.EC2.DiskWriteBytes", &MeasurementsOptions{
		Resolution: 60, Duration: 24 * time.Hour, Tags: map[string]string{"region": "us-*", "name": "prod"}})
	require.NoError(t, err)
	q, err := url.ParseQuery(w.only().Query)
	require.NoError(t, err)
	assert.Equal(t, url.Values{"resolution": {"60"}, "duration": {"86400"}, "tags[region]": {"us-*"}, "tags[name]": {"prod"}}, q)

	assert.Empty(t, p.Next)
	at := func(s int64, v float64) Point { return Point{Time: time.Unix(s, 0).UTC(), Value: v} }
	assert.Equal(t, []TaggedSeries{
		{Tags: map[string]string{"name": "prod", "region": "us-east"},
			Points: []Point{at(1476218700, 753), at(1476219840, 25), at(1476219900, 758)}, Resolution: 60},
		{Tags: map[string]string{"name": "prod", "region": "us-west"}, Points: []Point{at(1476218700, 496)}, Resolution: 60},
	}, p.Items)
}

func TestMeasurementsQueryEncoding(t *testing.T) {
	start, end := time.Unix(1500000000, 0), time.Unix(1500003600, 0)
	tests := []struct {
		name  string
		opts  MeasurementsOptions
		query string
	}{
		{"start and end", MeasurementsOptions{StartTime: start, EndTime: end, Resolution: 300},
			"end_time=1500003600&resolution=300&start_time=1500000000"},
		{"tags search and grouping", MeasurementsOptions{Duration: time.Hour, TagsSearch: "region=us-east* and db=*prod*",
			GroupBy: "region,az", GroupByFunction: "sum", SummaryFunction: "max"},
			"duration=3600&group_by=region%2Caz&group_by_function=sum&resolution=1&summary_function=max&tags_search=region%3Dus-east%2A+and+db%3D%2Aprod%2A"},
		{"negated tag and duration back from end", MeasurementsOptions{EndTime: end, Duration: time.Minute, Tags: map[string]string{"!host": "*", "env": "!staging"}},
			"duration=60&end_time=1500003600&resolution=1&tags%5B%21host%5D=%2A&tags%5Benv%5D=%21staging"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newMTWire(t)
			w.expect(http.MethodGet, "/v1/measurements/cpu", 200, "measurements_last_tv13.json")
			_, err := w.c.Measurements.List(mtCtx, "cpu", &tt.opts)
			require.NoError(t, err)
			assert.Equal(t, tt.query, w.only().Query)
		})
	}
}

func TestMeasurementsOptionsInvalid(t *testing.T) {
	start := time.Unix(1500000000, 0)
	tests := []struct {
		name string
		opts *MeasurementsOptions
		msg  string
	}{
		{"nil", nil, "required"},
		{"no start, no duration", &MeasurementsOptions{EndTime: start}, "StartTime or Duration"},
		{"all three", &MeasurementsOptions{StartTime: start, EndTime: start.Add(time.Hour), Duration: time.Hour}, "cannot all be set"},
		{"end before start", &MeasurementsOptions{StartTime: start, EndTime: start.Add(-time.Hour)}, "before StartTime"},
		{"negative duration", &MeasurementsOptions{Duration: -time.Hour}, "negative"},
		{"fractional duration", &MeasurementsOptions{Duration: 1500 * time.Millisecond}, "whole seconds"},
		{"resolution too coarse", &MeasurementsOptions{Duration: time.Hour, Resolution: MaxResolution + 1}, "outside"},
		{"negative resolution", &MeasurementsOptions{Duration: time.Hour, Resolution: -1}, "outside"},
		{"tags and search", &MeasurementsOptions{Duration: time.Hour, Tags: map[string]string{"a": "b"}, TagsSearch: "a=b"}, "exclusive"},
		{"group_by alone", &MeasurementsOptions{Duration: time.Hour, GroupBy: "region"}, "go together"},
		{"function alone", &MeasurementsOptions{Duration: time.Hour, GroupByFunction: "sum"}, "go together"},
		{"bad group function", &MeasurementsOptions{Duration: time.Hour, GroupBy: "*", GroupByFunction: "avg"}, `"avg"`},
		{"bad summary", &MeasurementsOptions{Duration: time.Hour, SummaryFunction: "p99"}, `"p99"`},
		{"all with group_by", &MeasurementsOptions{Duration: time.Hour, GroupBy: "*", GroupByFunction: "sum", SummaryFunction: "all"}, `"all"`},
		{"empty tag name", &MeasurementsOptions{Duration: time.Hour, Tags: map[string]string{"": "x"}}, "empty tag name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newMTWire(t)
			_, err := w.c.Measurements.List(mtCtx, "cpu", tt.opts)
			assert.ErrorIs(t, err, ErrInvalid)
			assert.ErrorContains(t, err, tt.msg)
			for _, err := range w.c.Measurements.All(mtCtx, "cpu", tt.opts) {
				assert.ErrorIs(t, err, ErrInvalid)
			}
			assert.Empty(t, w.sent())
		})
	}
}

func TestAllSeriesFollowsNextLinkTV13(t *testing.T) {
	w := newMTWire(t)
	w.expect(http.MethodGet, "/v1/measurements/foo", 200, "measurements_next_tv13.json")
	w.expect(http.MethodGet, "/v1/measurements/foo", 200, "measurements_tv13.json")

	opts := &MeasurementsOptions{StartTime: time.Unix(1000, 0), Tags: map[string]string{"name": "prod"}}
	var got []string
	for s, err := range w.c.Measurements.All(mtCtx, "foo", opts) {
		require.NoError(t, err)
		got = append(got, fmt.Sprintf("%s:%d", s.Tags["region"], len(s.Points)))
	}
	assert.Equal(t, []string{"us-east:3", "us-west:1"}, got)
	calls := w.sent()
	require.Len(t, calls, 2)
	assert.Equal(t, "resolution=1&start_time=1000&tags%5Bname%5D=prod", calls[0].Query)
	assert.Equal(t, "resolution=3&start_time=1234", calls[1].Query, "the next link is followed as given")
	assert.Equal(t, calls[0].Auth, calls[1].Auth, "the same client and credentials")
	assert.Equal(t, &MeasurementsOptions{StartTime: time.Unix(1000, 0), Tags: map[string]string{"name": "prod"}}, opts,
		"AllSeries must not modify opts")
}

func TestMeasurementsCursor(t *testing.T) {
	w := newMTWire(t)
	w.expect(http.MethodGet, "/v1/measurements/foo", 200, "measurements_next_tv13.json")
	w.expect(http.MethodGet, "/v1/measurements/foo", 200, "measurements_last_tv13.json")
	p, err := w.c.Measurements.List(mtCtx, "foo", &MeasurementsOptions{Duration: time.Hour})
	require.NoError(t, err)
	assert.Equal(t, "https://metrics-api.librato.com/v1/measurements/foo?start_time=1234&resolution=3", p.Next)
	p, err = w.c.Measurements.List(mtCtx, "foo", &MeasurementsOptions{Cursor: p.Next})
	require.NoError(t, err)
	require.NotNil(t, p)
	assert.Empty(t, p.Next, "the last page")
	_, err = w.c.Measurements.List(mtCtx, "foo", &MeasurementsOptions{Cursor: "https://evil.example.com/v1/measurements/foo"})
	assert.ErrorContains(t, err, "not below the client's base URL")
}

func TestAllSeriesRefusesForeignAndRepeatedLinks(t *testing.T) {
	for _, href := range []string{
		"https://evil.example.com/v1/measurements/foo?x=1",
		"http://metrics-api.librato.com/v1/measurements/foo",
		"https://metrics-api.librato.com/v2/measurements/foo",
		"https://metrics-api.librato.com/v1/../admin",
		"//evil.example.com/v1/measurements/foo",
		"https://user:pw@metrics-api.librato.com/v1/measurements/foo",
	} {
		t.Run(href, func(t *testing.T) {
			w := newMTWire(t)
			w.expect(http.MethodGet, "/v1/measurements/foo", 200,
				fmt.Sprintf(`{"series":[{"tags":{"a":"b"},"measurements":[]}],"links":[{"rel":"next","href":%q}]}`, href))
			var errs []error
			n := 0
			for _, err := range w.c.Measurements.All(mtCtx, "foo", &MeasurementsOptions{Duration: time.Hour}) {
				if err != nil {
					errs = append(errs, err)
				} else {
					n++
				}
			}
			assert.Equal(t, 1, n, "the first page's series still come")
			require.Len(t, errs, 1)
			assert.ErrorContains(t, errs[0], "not following it")
			assert.NotContains(t, errs[0].Error(), "pw")
			assert.Len(t, w.sent(), 1, "no request to the foreign link")
		})
	}

	w := newMTWire(t)
	w.expect(http.MethodGet, "/v1/measurements/foo", 200, "measurements_next_tv13.json")
	w.expect(http.MethodGet, "/v1/measurements/foo", 200, "measurements_next_tv13.json")
	var last error
	for _, err := range w.c.Measurements.All(mtCtx, "foo", &MeasurementsOptions{Duration: time.Hour}) {
		last = err
	}
	assert.ErrorContains(t, last, "repeated a next-page link")
}

func TestRelativeLink(t *testing.T) {
	c, err := Connect("u@example.com", "t", WithBaseURL("https://api.example.com/base/v1"))
	require.NoError(t, err)
	tests := []struct{ href, path, query string }{
		{"https://api.example.com/base/v1/measurements/foo?start_time=1234&resolution=3", "measurements/foo", "resolution=3&start_time=1234"},
		{"/base/v1/measurements/a%2Fb?k=x+y", "measurements/a%2Fb", "k=x+y"},
		{"measurements/foo?session=ab%2Bc", "measurements/foo", "session=ab%2Bc"},
		{"HTTPS://API.EXAMPLE.COM/base/v1/measurements/foo", "measurements/foo", ""},
	}
	for _, tt := range tests {
		path, q, err := c.relativeLink(tt.href)
		require.NoError(t, err, tt.href)
		assert.Equal(t, tt.path, path, tt.href)
		assert.Equal(t, tt.query, q.Encode(), tt.href)
	}
	for _, bad := range []string{"https://api.example.com/v1/measurements/foo", "https://api.example.com/base/v1/", "https://api.example.com:8443/base/v1/x", "ftp://api.example.com/base/v1/x"} {
		_, _, err := c.relativeLink(bad)
		assert.Error(t, err, bad)
	}
}

func TestCollectSeriesJoinsPages(t *testing.T) {
	w := newMTWire(t)
	w.expect(http.MethodGet, "/v1/measurements/foo", 200, `{"series":[
		{"tags":{"host":"a"},"measurements":[{"time":60,"value":1}]},
		{"tags":{"host":"b"},"measurements":[{"time":60,"value":2}]}],
		"links":[{"rel":"next","href":"https://metrics-api.librato.com/v1/measurements/foo?start_time=120&resolution=60"}]}`)
	w.expect(http.MethodGet, "/v1/measurements/foo", 200, `{"series":[
		{"tags":{"host":"a"},"measurements":[{"time":120,"value":3}]},
		{"tags":{"host":"c"},"measurements":[{"time":120,"value":4}]}],"links":[]}`)
	got, err := w.c.Measurements.Get(mtCtx, "foo", &MeasurementsOptions{StartTime: time.Unix(60, 0), Resolution: 60})
	require.NoError(t, err)
	require.Len(t, got, 3)
	assert.Equal(t, "a", got[0].Tags["host"])
	assert.Len(t, got[0].Points, 2)
	assert.Equal(t, int64(120), got[0].Points[1].Time.Unix())
	assert.Equal(t, "b", got[1].Tags["host"])
	assert.Equal(t, "c", got[2].Tags["host"])

	w.expect(http.MethodGet, "/v1/measurements/foo", 404, `{"errors":{"request":["Not found"]}}`)
	_, err = w.c.Measurements.Get(mtCtx, "foo", &MeasurementsOptions{Duration: time.Hour})
	assert.ErrorIs(t, err, ErrNotFound)
}
