package librato_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The metric read, update and delete calls through the public API against the fake server (the
// wire vectors are in metrics_internal_test.go).

func TestMetricsPagingAgainstFake(t *testing.T) {
	_, c := fakeClientAt(t, libratotest.WithPageSize(100))
	ctx := context.Background()
	var ms []librato.Measurement
	for i := 249; i >= 0; i-- { // submitted out of order: the API orders by name
		ms = append(ms, librato.Measurement{Name: fmt.Sprintf("m%03d", i), Value: float64(i), Time: fakeNow})
	}
	require.NoError(t, c.Submit(ctx, ms...))

	page, err := c.Metrics.List(ctx, nil)
	require.NoError(t, err)
	assert.Len(t, page.Items, 100)
	assert.Equal(t, 250, page.Found)
	assert.Equal(t, "100", page.Next)

	opts := &librato.ListOptions{}
	var names []string
	for m, err := range c.Metrics.All(ctx, opts) {
		require.NoError(t, err)
		names = append(names, m.Name)
		assert.Equal(t, "gauge", m.Type)
	}
	require.Len(t, names, 250)
	assert.True(t, slices.IsSorted(names))
	assert.Equal(t, "m000", names[0])
	assert.Equal(t, "m249", names[249])
	assert.Equal(t, &librato.ListOptions{}, opts)

	n := 0
	for _, err := range c.Metrics.All(ctx, &librato.ListOptions{Name: "m1", Cursor: "5", Length: 7}) {
		require.NoError(t, err)
		n++
	}
	assert.Equal(t, 100-5, n, "m100..m199 contain \"m1\"; the first 5 are skipped")
}

func TestGetLegacyAgainstFake(t *testing.T) {
	_, c := fakeClientAt(t)
	ctx := context.Background()
	t0 := fakeNow.Add(-10 * time.Minute).Truncate(time.Minute)
	require.NoError(t, c.Submit(ctx,
		librato.Measurement{Name: "cpu_temp", Value: 84.5, Source: "server1.acme.com", Time: t0},
		librato.Measurement{Name: "cpu_temp", Value: 86.5, Source: "server1.acme.com", Time: t0.Add(10 * time.Second)},
		librato.Measurement{Name: "cpu_temp", Value: 70, Time: t0.Add(time.Minute)},
	))
	require.NoError(t, c.Metrics.Update(ctx, "cpu_temp", librato.MetricUpdate{Description: "Current CPU temperature",
		Attributes: &librato.MetricAttributes{DisplayUnitsShort: "°F", DisplayMin: librato.Float(0)}}))

	meta, err := c.Metrics.Get(ctx, "cpu_temp", nil)
	require.NoError(t, err)
	assert.Nil(t, meta.Measurements)
	assert.Equal(t, "Current CPU temperature", meta.Description)
	assert.Equal(t, "°F", meta.Attributes.DisplayUnitsShort)
	require.NotNil(t, meta.Attributes.DisplayMin)
	assert.Equal(t, 0.0, *meta.Attributes.DisplayMin)
	assert.NotEmpty(t, meta.Attributes.CreatedByUA)

	m, err := c.Metrics.Get(ctx, "cpu_temp", &librato.GetOptions{StartTime: t0, Resolution: 60})
	require.NoError(t, err)
	assert.Equal(t, 60, m.Resolution)
	require.Contains(t, m.Measurements, "server1.acme.com")
	require.Contains(t, m.Measurements, "unassigned")
	p := m.Measurements["server1.acme.com"][0]
	assert.Equal(t, t0, p.Time)
	assert.Equal(t, 85.5, p.Value)
	assert.Equal(t, int64(2), p.Count)
	assert.Equal(t, 70.0, m.Measurements["unassigned"][0].Value)

	only, err := c.Metrics.Get(ctx, "cpu_temp", &librato.GetOptions{StartTime: t0, Sources: []string{"server*"}})
	require.NoError(t, err)
	assert.Len(t, only.Measurements, 1)

	no := false
	summed, err := c.Metrics.Get(ctx, "cpu_temp", &librato.GetOptions{StartTime: t0, Resolution: 60, GroupBy: "sum", BreakoutSources: &no})
	require.NoError(t, err)
	require.Contains(t, summed.Measurements, "all")
	assert.Len(t, summed.Measurements, 1, "breakout_sources=false leaves only the pseudo-source")

	_, err = c.Metrics.Get(ctx, "no.such.metric", nil)
	assert.ErrorIs(t, err, librato.ErrNotFound)
	_, err = c.Metrics.Get(ctx, "odd/name with spaces?", nil)
	assert.ErrorIs(t, err, librato.ErrNotFound, "the escaped name reaches the metric route")
}

func TestPointsAgainstFake(t *testing.T) {
	srv, c := fakeClientAt(t, libratotest.WithPageSize(10))
	ctx := context.Background()
	t0 := fakeNow.Add(-time.Hour).Truncate(time.Minute)
	var ms []librato.Measurement
	for i := range 25 {
		ms = append(ms, librato.Measurement{Name: "load", Value: float64(i), Source: "a", Time: t0.Add(time.Duration(i) * time.Minute)})
	}
	require.NoError(t, c.Submit(ctx, ms...))
	var vals []float64
	for p, err := range c.Metrics.Points(ctx, "load", &librato.GetOptions{StartTime: t0, Resolution: 60}) {
		require.NoError(t, err)
		assert.Equal(t, "a", p.Source)
		vals = append(vals, p.Value)
	}
	require.Len(t, vals, 25)
	for i, v := range vals {
		assert.Equal(t, float64(i), v)
	}
	assert.Equal(t, 3, countRequests(srv, http.MethodGet, "/v1/metrics/load"))
}

func TestTaggedReadsAgainstFake(t *testing.T) {
	_, c := fakeClientAt(t, libratotest.WithPageSize(2))
	ctx := context.Background()
	t0 := fakeNow.Add(-30 * time.Minute).Truncate(time.Minute)
	var ms []librato.Measurement
	for _, host := range []string{"h1", "h2", "h3", "h4", "h5"} {
		for i := range 3 {
			ms = append(ms, librato.Measurement{Name: "cpu", Value: float64(i + 1),
				Tags: map[string]string{"host": host, "region": "us-east"}, Time: t0.Add(time.Duration(i) * time.Minute)})
		}
	}
	require.NoError(t, c.Submit(ctx, ms...))

	opts := &librato.MeasurementsOptions{StartTime: t0, Resolution: 60}
	first, err := c.Measurements.List(ctx, "cpu", opts)
	require.NoError(t, err)
	require.Len(t, first.Items, 2)
	assert.NotEmpty(t, first.Next)
	assert.Equal(t, 60, first.Items[0].Resolution)
	second, err := c.Measurements.List(ctx, "cpu", &librato.MeasurementsOptions{Cursor: first.Next})
	require.NoError(t, err)
	assert.Len(t, second.Items, 2, "the cursor reads the next page")

	var hosts []string
	for s, err := range c.Measurements.All(ctx, "cpu", opts) {
		require.NoError(t, err)
		hosts = append(hosts, s.Tags["host"])
		require.Len(t, s.Points, 3)
		assert.Equal(t, t0, s.Points[0].Time)
		assert.Equal(t, 3.0, s.Points[2].Value)
	}
	slices.Sort(hosts)
	assert.Equal(t, []string{"h1", "h2", "h3", "h4", "h5"}, hosts)

	all, err := c.Measurements.Get(ctx, "cpu", opts)
	require.NoError(t, err)
	assert.Len(t, all, 5)

	one, err := c.Measurements.List(ctx, "cpu", &librato.MeasurementsOptions{StartTime: t0, Resolution: 60,
		Tags: map[string]string{"host": "h3"}})
	require.NoError(t, err)
	require.Len(t, one.Items, 1)
	assert.Equal(t, "h3", one.Items[0].Tags["host"])

	grouped, err := c.Measurements.List(ctx, "cpu", &librato.MeasurementsOptions{StartTime: t0, Resolution: 60,
		GroupBy: "region", GroupByFunction: "sum"})
	require.NoError(t, err)
	require.Len(t, grouped.Items, 1)
	assert.Equal(t, 5.0, grouped.Items[0].Points[0].Value)
}

func TestUpdateDeleteAgainstFake(t *testing.T) {
	_, c := fakeClientAt(t)
	ctx := context.Background()
	for _, n := range []string{"a.time", "b.time", "c.time", "keep"} {
		require.NoError(t, c.Metrics.Update(ctx, n, librato.MetricUpdate{Type: "gauge", Period: time.Minute}))
	}
	got, err := c.Metrics.Get(ctx, "a.time", nil)
	require.NoError(t, err)
	assert.Equal(t, time.Minute, got.Period)

	require.NoError(t, c.Metrics.UpdatePattern(ctx, "*.time", []string{"c.time"}, librato.MetricUpdate{DisplayName: "Time"}))
	require.NoError(t, c.Metrics.UpdateMany(ctx, []string{"keep"}, librato.MetricUpdate{Description: "kept"}))
	for name, want := range map[string]string{"a.time": "Time", "b.time": "Time", "c.time": ""} {
		m, err := c.Metrics.Get(ctx, name, nil)
		require.NoError(t, err)
		assert.Equal(t, want, m.DisplayName, name)
	}
	m, err := c.Metrics.Get(ctx, "keep", nil)
	require.NoError(t, err)
	assert.Equal(t, "kept", m.Description)

	err = c.Metrics.Update(ctx, "brand.new", librato.MetricUpdate{Description: "no type"})
	assert.ErrorIs(t, err, librato.ErrBadRequest, "creating needs a type")

	require.NoError(t, c.Metrics.Update(ctx, "composite.humidity", librato.MetricUpdate{Composite: `sum(s("humidity", "*"))`, Description: "a test composite"}))
	comp, err := c.Metrics.Get(ctx, "composite.humidity", nil)
	require.NoError(t, err)
	assert.Equal(t, "composite", comp.Type)
	assert.Equal(t, `sum(s("humidity", "*"))`, comp.Composite)

	require.NoError(t, c.Metrics.DeletePattern(ctx, "*.time", []string{"c.time"}))
	require.NoError(t, c.Metrics.Delete(ctx, "keep"))
	require.NoError(t, c.Metrics.Delete(ctx, "c.time", "composite.humidity"))
	require.NoError(t, c.Metrics.Delete(ctx, "never.existed"), "deleting a missing metric succeeds")
	page, err := c.Metrics.List(ctx, nil)
	require.NoError(t, err)
	assert.Empty(t, page.Items)
}
