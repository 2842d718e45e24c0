package librato_test

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/composite"
	"github.com/go-librato/librato/libratotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// t0 is a minute boundary; every point below is on one.
var compT0 = time.Unix(1699999980, 0).UTC()

func at(minutes int) time.Time { return compT0.Add(time.Duration(minutes) * time.Minute) }

// compositeFixture starts a fake holding known data:
//
//	a/web1:  1  2  4  8     (minutes 0..3)
//	a/web2: 10 20 30 40
//	b/web1: -3  5           (minutes 0, 1)
//	gap/web1: 7  .  9  .    (minutes 0 and 2)
//	cpu{host=h1}: 1 2 3, cpu{host=h2}: 10 20 30, cpu{host=x9}: 100 100 100 (tagged)
func compositeFixture(t *testing.T) (*libratotest.Server, *librato.Client) {
	t.Helper()
	srv, c := fakeClient(t, []libratotest.Option{libratotest.WithNow(func() time.Time { return at(5) })})
	var ms []librato.Measurement
	add := func(name, source string, tags map[string]string, vals ...float64) {
		for i, v := range vals {
			if !math.IsNaN(v) {
				ms = append(ms, librato.Measurement{Name: name, Source: source, Tags: tags, Value: v, Time: at(i)})
			}
		}
	}
	add("a", "web1", nil, 1, 2, 4, 8)
	add("a", "web2", nil, 10, 20, 30, 40)
	add("b", "web1", nil, -3, 5)
	add("gap", "web1", nil, 7, math.NaN(), 9)
	add("cpu", "", map[string]string{"host": "h1"}, 1, 2, 3)
	add("cpu", "", map[string]string{"host": "h2"}, 10, 20, 30)
	add("cpu", "", map[string]string{"host": "x9"}, 100, 100, 100)
	require.NoError(t, c.Submit(context.Background(), ms...))
	return srv, c
}

// pts renders a series as minute -> value, for compact expectations.
func pts(t *testing.T, s librato.CompositeSeries) map[int]float64 {
	t.Helper()
	out := map[int]float64{}
	for _, p := range s.Points {
		d := p.Time.Sub(compT0)
		require.Zero(t, d%time.Minute, "point off the minute grid: %v", p.Time)
		out[int(d/time.Minute)] = p.Value
	}
	return out
}

func TestCompositeAgainstFakeLegacy(t *testing.T) {
	_, c := compositeFixture(t)
	web1, web2 := composite.Series("a", composite.Source("web1")), composite.Series("a", composite.Source("web2"))
	all := composite.Series("a", composite.Source("web*"))
	type series struct {
		source string
		points map[int]float64
	}
	tests := []struct {
		name string
		expr composite.Expr
		want []series
	}{
		{"series", all, []series{{"web1", map[int]float64{0: 1, 1: 2, 2: 4, 3: 8}}, {"web2", map[int]float64{0: 10, 1: 20, 2: 30, 3: 40}}}},
		{"sum", composite.Sum(all), []series{{"all", map[int]float64{0: 11, 1: 22, 2: 34, 3: 48}}}},
		{"sum of a set", composite.Sum(web1, web2), []series{{"all", map[int]float64{0: 11, 1: 22, 2: 34, 3: 48}}}},
		{"mean", composite.Mean(all), []series{{"all", map[int]float64{0: 5.5, 1: 11, 2: 17, 3: 24}}}},
		{"min", composite.Min(all), []series{{"all", map[int]float64{0: 1, 1: 2, 2: 4, 3: 8}}}},
		{"max", composite.Max(all), []series{{"all", map[int]float64{0: 10, 1: 20, 2: 30, 3: 40}}}},
		{"multiply", composite.Multiply(all), []series{{"all", map[int]float64{0: 10, 1: 40, 2: 120, 3: 320}}}},
		{"divide", composite.Divide(web2, web1), []series{{"web2", map[int]float64{0: 10, 1: 10, 2: 7.5, 3: 5}}}},
		{"divide a set of two series", composite.Func("divide", all), []series{{"web1", map[int]float64{0: 0.1, 1: 0.1, 2: 4.0 / 30, 3: 0.2}}}},
		{"divide needs exactly two series", composite.Divide(all, web1), nil},
		{"derive", composite.Derive(web1, false), []series{{"web1", map[int]float64{1: 1, 2: 2, 3: 4}}}},
		{"rate", composite.Rate(web2), []series{{"web2", map[int]float64{1: 10.0 / 60, 2: 10.0 / 60, 3: 10.0 / 60}}}},
		{"integrate", composite.Integrate(web1), []series{{"web1", map[int]float64{0: 1, 1: 3, 2: 7, 3: 15}}}},
		{"scale 1/2", composite.ScaleFraction(web1, 1, 2), []series{{"web1", map[int]float64{0: 0.5, 1: 1, 2: 2, 3: 4}}}},
		{"scale 3", composite.Scale(web1, 3), []series{{"web1", map[int]float64{0: 3, 1: 6, 2: 12, 3: 24}}}},
		{"abs", composite.Abs(composite.Series("b", composite.Source("*"))), []series{{"web1", map[int]float64{0: 3, 1: 5}}}},
		{"moving_average 2", composite.MovingAverage(web1, 2), []series{{"web1", map[int]float64{0: 1, 1: 1.5, 2: 3, 3: 6}}}},
		{"window max 3", composite.Window(web1, 3, "max"), []series{{"web1", map[int]float64{0: 1, 1: 2, 2: 4, 3: 8}}}},
		{"window sum 3", composite.Window(web2, 3, "sum"), []series{{"web2", map[int]float64{0: 10, 1: 30, 2: 60, 3: 90}}}},
		{"window median 3", composite.Window(web1, 3, "median"), []series{{"web1", map[int]float64{0: 1, 1: 1.5, 2: 2, 3: 4}}}},
		{"zero_fill", composite.ZeroFill(composite.Series("gap", composite.Source("*"))), []series{{"web1", map[int]float64{0: 7, 1: 0, 2: 9, 3: 0, 4: 0}}}},
		{"fill last", composite.FillLast(composite.Series("gap", composite.Source("*"))), []series{{"web1", map[int]float64{0: 7, 1: 7, 2: 9, 3: 9, 4: 9}}}},
		{"top 1", composite.Top(all, 1, "max"), []series{{"web2", map[int]float64{0: 10, 1: 20, 2: 30, 3: 40}}}},
		{"bottom 1", composite.Bottom(all, 1, "sum"), []series{{"web1", map[int]float64{0: 1, 1: 2, 2: 4, 3: 8}}}},
		{"timeshift 1m", composite.Timeshift("1m", web1), []series{{"web1", map[int]float64{1: 1, 2: 2, 3: 4, 4: 8}}}},
		{"timeshift 0,2m", composite.Timeshift("0,2m", web1), []series{
			{"web1", map[int]float64{0: 1, 1: 2, 2: 4, 3: 8}}, {"web1", map[int]float64{2: 1, 3: 2, 4: 4}}}},
		{"timeshift forward", composite.Timeshift("+1m", web1), []series{{"web1", map[int]float64{0: 2, 1: 4, 2: 8}}}},
		{"nested", composite.Sum(composite.Derive(all, false)), []series{{"all", map[int]float64{1: 11, 2: 12, 3: 14}}}},
		{"series function", composite.Series("a", composite.Source("web1"), composite.SeriesOptions{Function: "count"}),
			[]series{{"web1", map[int]float64{0: 1, 1: 1, 2: 1, 3: 1}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.Measurements.Query(context.Background(), tt.expr, &librato.CompositeOptions{
				StartTime: at(0), EndTime: at(4), Resolution: 60})
			require.NoError(t, err)
			assert.Equal(t, tt.expr.String(), res.Compose)
			assert.Equal(t, 60, res.Resolution)
			require.Len(t, res.Series, len(tt.want))
			for i, w := range tt.want {
				s := res.Series[i]
				assert.Equal(t, w.source, s.Source, "series %d", i)
				got := pts(t, s)
				require.Len(t, got, len(w.points), "series %d: %v", i, got)
				for m, v := range w.points {
					assert.InDelta(t, v, got[m], 1e-9, "series %d minute %d", i, m)
				}
			}
		})
	}
}

func TestCompositeAgainstFakeSeriesMetadata(t *testing.T) {
	_, c := compositeFixture(t)
	res, err := c.Measurements.Query(context.Background(), composite.Raw(`s("a","web1")`), &librato.CompositeOptions{
		StartTime: at(0), Resolution: 60})
	require.NoError(t, err)
	require.Len(t, res.Series, 1)
	s := res.Series[0]
	assert.Equal(t, "a", s.Name)
	assert.Equal(t, librato.CompositeQuery{Metric: "a", Source: "web1"}, s.Query)
	require.NotNil(t, s.Metric)
	assert.Equal(t, "gauge", s.Metric.Type)
}

func TestCompositeAgainstFakeTagged(t *testing.T) {
	_, c := compositeFixture(t)
	res, err := c.Measurements.Query(context.Background(), composite.Sum(composite.Series("cpu", composite.Tags{"host": "h*"})),
		&librato.CompositeOptions{StartTime: at(0), Resolution: 60, Tagged: true})
	require.NoError(t, err)
	require.Len(t, res.Series, 1)
	s := res.Series[0]
	assert.Equal(t, "cpu", s.Name)
	assert.Empty(t, s.Tags, "h1 and h2 share no tag value")
	assert.Equal(t, map[int]float64{0: 11, 1: 22, 2: 33}, pts(t, s))

	res, err = c.Measurements.Query(context.Background(), composite.Top(composite.Series("cpu", composite.Tags{}), 2, "mean"),
		&librato.CompositeOptions{StartTime: at(0), Resolution: 60, Tagged: true})
	require.NoError(t, err)
	require.Len(t, res.Series, 2)
	assert.Equal(t, map[string]string{"host": "x9"}, res.Series[0].Tags)
	assert.Equal(t, map[string]string{"host": "h2"}, res.Series[1].Tags)

	// A client with default tags asks the tagged endpoint by itself.
	srv, _ := compositeFixture(t)
	tc, err := srv.Client(librato.WithTags(map[string]string{"env": "test"}))
	require.NoError(t, err)
	res, err = tc.Measurements.Query(context.Background(), composite.Series("cpu", composite.Tags{"host": "h1"}),
		&librato.CompositeOptions{StartTime: at(0), Resolution: 60})
	require.NoError(t, err)
	require.Len(t, res.Series, 1)
	assert.Equal(t, map[string]string{"host": "h1"}, res.Series[0].Tags)
	assert.Equal(t, map[int]float64{0: 1, 1: 2, 2: 3}, pts(t, res.Series[0]))
}

func TestCompositeAgainstFakeErrors(t *testing.T) {
	_, c := compositeFixture(t)
	for name, expr := range map[string]composite.Expr{
		"unsupported function": composite.GroupBy("host", composite.Series("cpu", composite.Tags{})),
		"unknown function":     composite.Func("nosuch", composite.Series("a", composite.Source("*"))),
		"syntax error":         composite.Raw(`sum(s("a", "*")`),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.Measurements.Query(context.Background(), expr, &librato.CompositeOptions{StartTime: at(0), Resolution: 60})
			require.Error(t, err)
			assert.ErrorIs(t, err, librato.ErrBadRequest)
			var apiErr *librato.Error
			require.True(t, errors.As(err, &apiErr))
			require.Len(t, apiErr.Params["compose"], 1, "%v", apiErr.Params)
			assert.NotEmpty(t, apiErr.Params["compose"][0])
		})
	}
}

func TestCreateCompositeAgainstFake(t *testing.T) {
	srv, c := compositeFixture(t)
	expr := composite.Sum(composite.Series("a", composite.Source("*")))
	require.NoError(t, c.Metrics.CreateComposite(context.Background(), "a.total", expr,
		librato.MetricUpdate{Description: "sum of a", Period: time.Minute}))
	m, ok := srv.Metric("a.total")
	require.True(t, ok)
	assert.Equal(t, "composite", m.Type)
	assert.Equal(t, `sum(s("a", "*"))`, m.Composite)
	assert.Equal(t, "sum of a", m.Description)

	got, err := c.Metrics.Get(context.Background(), "a.total", nil)
	require.NoError(t, err)
	back, err := composite.Parse(got.Composite)
	require.NoError(t, err)
	assert.Equal(t, expr.String(), back.String())
}
