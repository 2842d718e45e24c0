package librato

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-librato/librato/composite"
	"github.com/h2non/gock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// captured is what the fake transport saw of the one expected request.
type captured struct {
	method, path string
	query        url.Values
	rawQuery     string
	body         []byte
}

// compositeGock returns a client whose requests go through gock, and arms one
// expected request answered with status and the fixture body (if any).
func compositeGock(t *testing.T, method, base, path string, status int, fixture string, connect func(opts ...Option) (*Client, error)) (*Client, *captured) {
	t.Helper()
	hc := gockHTTPClient(t)
	t.Cleanup(func() { assert.True(t, gock.IsDone(), "the expected request was not sent") })
	seen := &captured{}
	m := gock.New(base).Path(path).AddMatcher(func(r *http.Request, _ *gock.Request) (bool, error) {
		if r.Method != method {
			return false, nil
		}
		seen.method, seen.path, seen.query, seen.rawQuery = r.Method, r.URL.Path, r.URL.Query(), r.URL.RawQuery
		if r.Body != nil {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				return false, err
			}
			seen.body = b
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		return true, nil
	})
	m.Method = method
	resp := m.Reply(status)
	if fixture != "" {
		b, err := os.ReadFile(filepath.Join("testdata", "composite", fixture))
		require.NoError(t, err)
		resp.SetHeader("Content-Type", "application/json").BodyString(string(b))
	}
	if connect == nil {
		connect = func(opts ...Option) (*Client, error) {
			return Connect("user@example.com", "token", opts...)
		}
	}
	c, err := connect(WithBaseURL(base+"/v1/"), WithHTTPClient(hc))
	require.NoError(t, err)
	return c, seen
}

const testBase = "https://metrics-api.librato.test"

func TestGetCompositeLegacyTV14(t *testing.T) {
	const expr = `derive(s("collectd.cpu.*.idle","boatman*45"))`
	c, seen := compositeGock(t, http.MethodGet, testBase, "/v1/metrics", 200, "tv14_legacy.json", nil)
	res, err := c.Measurements.Query(context.Background(), composite.Raw(expr), &CompositeOptions{
		StartTime: time.Unix(1432931007, 0), Resolution: 60})
	require.NoError(t, err)

	assert.Equal(t, "/v1/metrics", seen.path)
	assert.Equal(t, url.Values{"compose": {expr}, "start_time": {"1432931007"}, "resolution": {"60"}}, seen.query)
	assert.Equal(t, "compose=derive%28s%28%22collectd.cpu.%2A.idle%22%2C%22boatman%2A45%22%29%29&resolution=60&start_time=1432931007", seen.rawQuery)

	assert.Equal(t, `derive(s("collectd.cpu.*.idle","boatman*19"))`, res.Compose)
	assert.Equal(t, 60, res.Resolution)
	require.Len(t, res.Series, 1)
	s := res.Series[0]
	assert.Equal(t, "collectd.cpu.0.cpu.idle", s.Name)
	assert.Equal(t, "boatman-stg_19", s.Source)
	assert.Nil(t, s.Tags)
	assert.Equal(t, time.Minute, s.Period)
	assert.Equal(t, CompositeQuery{Metric: "collectd.cpu.*.idle", Source: "boatman*19"}, s.Query)
	require.NotNil(t, s.Metric)
	assert.Equal(t, "counter", s.Metric.Type)
	assert.Equal(t, "Units", s.Metric.Attributes.DisplayUnitsLong)
	require.Len(t, s.Points, 2)
	assert.Equal(t, time.Unix(1395802200, 0).UTC(), s.Points[0].Time)
	assert.Equal(t, 5831.0, s.Points[0].Value)
	assert.Equal(t, time.Unix(1395802620, 0).UTC(), s.Points[1].Time)
	assert.Equal(t, 5748.0, s.Points[1].Value)
}

// TV10: python-librato's get_composite request, with the default resolution.
func TestGetCompositeTV10Query(t *testing.T) {
	c, seen := compositeGock(t, http.MethodGet, testBase, "/v1/metrics", 200, "tv14_legacy.json", nil)
	_, err := c.Measurements.Query(context.Background(), composite.Raw(`sum(s("cpu","*"))`), &CompositeOptions{StartTime: time.Unix(1500000000, 0)})
	require.NoError(t, err)
	want, err := url.ParseQuery("start_time=1500000000&resolution=1&compose=sum%28s%28%22cpu%22%2C%22%2A%22%29%29")
	require.NoError(t, err)
	assert.Equal(t, want, seen.query)
}

func TestGetCompositeBuiltExpression(t *testing.T) {
	c, seen := compositeGock(t, http.MethodGet, testBase, "/v1/metrics", 200, "tv14_legacy.json", nil)
	end := time.Unix(1432934607, 0)
	_, err := c.Measurements.Query(context.Background(), composite.Derive(composite.Series("collectd.cpu.*.idle", composite.Source("boatman*45")), true),
		&CompositeOptions{EndTime: end, Duration: time.Hour, Resolution: 300})
	require.NoError(t, err)
	assert.Equal(t, url.Values{
		"compose":    {`derive(s("collectd.cpu.*.idle", "boatman*45"), {detect_reset: "true"})`},
		"start_time": {"1432931007"}, "end_time": {"1432934607"}, "resolution": {"300"},
	}, seen.query)
}

func TestGetCompositeTaggedArray(t *testing.T) {
	const expr = `derive(s("librato.disk.disk_ops.read", {"host": "ip-192-168-15-18.ec2.internal"}), {detect_reset: "true"})`
	for name, connect := range map[string]func(opts ...Option) (*Client, error){
		"default tags": func(opts ...Option) (*Client, error) {
			return Connect("user@example.com", "token", append(opts, WithTags(map[string]string{"env": "prod"}))...)
		},
		"appoptics": func(opts ...Option) (*Client, error) { return ConnectAppOptics("token", opts...) },
	} {
		t.Run(name, func(t *testing.T) {
			c, seen := compositeGock(t, http.MethodGet, testBase, "/v1/measurements", 200, "tagged_array.json", connect)
			e, err := composite.Parse(expr)
			require.NoError(t, err)
			res, err := c.Measurements.Query(context.Background(), e, &CompositeOptions{StartTime: time.Unix(1484678910, 0), Resolution: 60})
			require.NoError(t, err)
			assert.Equal(t, url.Values{"compose": {expr}, "start_time": {"1484678910"}, "resolution": {"60"}}, seen.query)

			assert.Empty(t, res.Compose)
			assert.Zero(t, res.Resolution)
			require.Len(t, res.Series, 1)
			s := res.Series[0]
			assert.Equal(t, "librato.disk.disk_ops.read", s.Name)
			assert.Equal(t, map[string]string{"disk": "disk0", "host": "ip-192-168-15-18.ec2.internal"}, s.Tags)
			assert.Empty(t, s.Source)
			assert.Equal(t, time.Minute, s.Period)
			require.NotNil(t, s.Metric)
			assert.Equal(t, "ops", s.Metric.Attributes.DisplayUnitsShort)
			require.Len(t, s.Points, 3)
			assert.Equal(t, []float64{430, 738, 111}, []float64{s.Points[0].Value, s.Points[1].Value, s.Points[2].Value})
			assert.Equal(t, time.Unix(1484687160, 0).UTC(), s.Points[2].Time)
		})
	}
}

func TestGetCompositeTaggedObject(t *testing.T) {
	c, seen := compositeGock(t, http.MethodGet, testBase, "/v1/measurements", 200, "tagged_object.json", nil)
	// A composite.Tags selector picks the tagged API without CompositeOptions.Tagged.
	res, err := c.Measurements.Query(context.Background(), composite.Sum(composite.Series("cpu", composite.Tags{"host": "h*"})),
		&CompositeOptions{StartTime: time.Unix(1500000000, 0), Resolution: 60})
	require.NoError(t, err)
	assert.Equal(t, `sum(s("cpu", {"host": "h*"}))`, seen.query.Get("compose"))
	assert.Equal(t, `sum(s("cpu", {"host": "h*"}))`, res.Compose)
	assert.Equal(t, 60, res.Resolution)
	require.Len(t, res.Series, 1)
	s := res.Series[0]
	assert.Equal(t, "cpu", s.Name)
	assert.Equal(t, map[string]string{"host": "h1"}, s.Tags)
	assert.Equal(t, CompositeQuery{Metric: "cpu", Tags: map[string]string{"host": "h*"}}, s.Query)
	assert.Zero(t, s.Period)
	require.Len(t, s.Points, 3)
	assert.Equal(t, 1.5, s.Points[0].Value)
	assert.True(t, math.IsNaN(s.Points[1].Value), "null is no data, not zero")
	assert.Equal(t, 0.0, s.Points[2].Value)
}

func TestGetCompositeTaggedOption(t *testing.T) {
	c, seen := compositeGock(t, http.MethodGet, testBase, "/v1/measurements", 200, "tagged_array.json", nil)
	_, err := c.Measurements.Query(context.Background(), composite.Raw(`s("cpu", {"host": "h1"})`),
		&CompositeOptions{StartTime: time.Unix(1500000000, 0), Tagged: true})
	require.NoError(t, err)
	assert.Equal(t, "/v1/measurements", seen.path)
}

func TestUsesTags(t *testing.T) {
	assert.False(t, usesTags(composite.Sum(composite.Series("a", composite.Source("*")))))
	assert.False(t, usesTags(composite.Raw(`s("a", {"host": "x"})`)), "raw text is not inspected")
	assert.True(t, usesTags(composite.Sum(composite.Set{composite.Series("a", composite.Source("*")), composite.Top(composite.Series("b", composite.Tags{}), 1, "")})))
	assert.True(t, usesTags(composite.Func("map", composite.Opts{{Key: "x", Value: composite.Series("b", composite.Tags{"h": "1"})}}, composite.Series("a", composite.Source("*")))))
}

func TestGetCompositeAPIError(t *testing.T) {
	hc := gockHTTPClient(t)
	gock.New(testBase).Get("/v1/metrics").Reply(400).
		JSON(map[string]any{"errors": map[string]any{"params": map[string]any{"compose": []string{"is invalid"}}}})
	c, err := Connect("user@example.com", "token", WithBaseURL(testBase+"/v1/"), WithHTTPClient(hc))
	require.NoError(t, err)
	_, err = c.Measurements.Query(context.Background(), composite.Func("nosuch", composite.Series("a", composite.Source("*"))), &CompositeOptions{StartTime: time.Unix(1, 0)})
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrBadRequest)
	var apiErr *Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, []string{"is invalid"}, apiErr.Params["compose"])
}

func TestGetCompositeRejectsBeforeIO(t *testing.T) {
	c, err := Connect("user@example.com", "token", WithBaseURL("http://127.0.0.1:1/v1/"))
	require.NoError(t, err)
	start := time.Unix(1500000000, 0)
	a := composite.Series("a", composite.Source("*"))
	tests := []struct {
		name string
		expr composite.Expr
		opts *CompositeOptions
		want string
	}{
		{"nil expr", nil, &CompositeOptions{StartTime: start}, "composite: no expression"},
		{"invalid expr", composite.Window(a, 65, ""), &CompositeOptions{StartTime: start}, "window: option size"},
		{"not a series", composite.Str("x"), &CompositeOptions{StartTime: start}, "a composite must be a function call or a set"},
		{"blank raw", composite.Raw(" "), &CompositeOptions{StartTime: start}, "empty expression"},
		{"nil options", a, nil, "StartTime or Duration are required"},
		{"no start", a, &CompositeOptions{Resolution: 60}, "needs a StartTime or a Duration"},
		{"both", a, &CompositeOptions{StartTime: start, Duration: time.Hour}, "exclusive"},
		{"negative resolution", a, &CompositeOptions{StartTime: start, Resolution: -1}, "Resolution -1 is negative"},
		{"negative duration", a, &CompositeOptions{Duration: -time.Hour}, "is negative"},
		{"end before start", a, &CompositeOptions{StartTime: start, EndTime: start.Add(-time.Second)}, "is before the start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Measurements.Query(context.Background(), tt.expr, tt.opts)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalid)
			assert.Contains(t, err.Error(), tt.want)
			assert.Contains(t, err.Error(), "librato: composite query: ")
		})
	}
}

func TestDecodeCompositeShapes(t *testing.T) {
	for _, bad := range []string{``, `null`, `{`, `[{"measurements": 5}]`, `{"measurements":[{"metric": 5}]}`, `{"series":[{"source": [1]}]}`} {
		_, err := decodeComposite([]byte(bad))
		assert.Error(t, err, bad)
	}
	res, err := decodeComposite([]byte(`{"series":[{"metric":"cpu","source":"web1","measurements":[{"time":60,"value":2}]}],"measurements":[]}`))
	require.NoError(t, err)
	require.Len(t, res.Series, 1)
	assert.Equal(t, "cpu", res.Series[0].Name)
	assert.Equal(t, "web1", res.Series[0].Source)
	assert.Nil(t, res.Series[0].Metric)

	res, err = decodeComposite([]byte(`[]`))
	require.NoError(t, err)
	assert.Empty(t, res.Series)
}

// TV10: python-librato's create_composite.
func TestCreateCompositeTV10(t *testing.T) {
	c, seen := compositeGock(t, http.MethodPut, testBase, "/v1/metrics/composite.humidity", 204, "", nil)
	err := c.Metrics.CreateComposite(context.Background(), "composite.humidity", composite.Sum(composite.Series("humidity", composite.Source("*"))),
		MetricUpdate{Description: "a test composite"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"composite": "sum(s(\"humidity\", \"*\"))", "description": "a test composite", "type": "composite"}`, string(seen.body))
}

func TestCreateCompositeTV15(t *testing.T) {
	const expr = `s("librato.cpu.percent.user", {"environment" : "prod", "service": "api"})`
	t.Run("raw text verbatim", func(t *testing.T) {
		c, seen := compositeGock(t, http.MethodPut, testBase, "/v1/metrics/librato.cpu.percent.used", 201, "tv15_response.json", nil)
		require.NoError(t, c.Metrics.CreateComposite(context.Background(), "librato.cpu.percent.used", composite.Raw(expr), MetricUpdate{}))
		assert.JSONEq(t, `{"type":"composite","composite":"s(\"librato.cpu.percent.user\", {\"environment\" : \"prod\", \"service\": \"api\"})"}`, string(seen.body))
	})
	t.Run("parsed, canonical", func(t *testing.T) {
		c, seen := compositeGock(t, http.MethodPut, testBase, "/v1/metrics/librato.cpu.percent.used", 201, "tv15_response.json", nil)
		e, err := composite.Parse(expr)
		require.NoError(t, err)
		require.NoError(t, c.Metrics.CreateComposite(context.Background(), "librato.cpu.percent.used", e, MetricUpdate{Type: "composite", DisplayName: "CPU used"}))
		assert.JSONEq(t, `{"type":"composite","display_name":"CPU used","composite":"s(\"librato.cpu.percent.user\", {\"environment\": \"prod\", \"service\": \"api\"})"}`, string(seen.body))
	})
}

func TestCreateCompositeRejectsBeforeIO(t *testing.T) {
	c, err := Connect("user@example.com", "token", WithBaseURL("http://127.0.0.1:1/v1/"))
	require.NoError(t, err)
	a := composite.Sum(composite.Series("a", composite.Source("*")))
	tests := []struct {
		name  string
		expr  composite.Expr
		props MetricUpdate
		want  string
	}{
		{"invalid expr", composite.Divide(a, nil), MetricUpdate{}, "nil set member"},
		{"not a series", composite.Num(1), MetricUpdate{}, "a composite must be a function call or a set"},
		{"other type", a, MetricUpdate{Type: "gauge"}, `Type is "gauge", not composite`},
		{"other composite", a, MetricUpdate{Composite: `sum(s("b", "*"))`}, "differs from the expression"},
		{"bad name", a, MetricUpdate{}, "metric name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "composite.ok"
			if tt.name == "bad name" {
				name = "bad name!"
			}
			err := c.Metrics.CreateComposite(context.Background(), name, tt.expr, tt.props)
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrInvalid), "%v", err)
			assert.Contains(t, err.Error(), tt.want)
		})
	}
}
