package libratootel_test

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratootel"
	"github.com/go-librato/librato/libratotest"
)

// setup returns a fake API, an exporter sending to it and a meter provider whose manual reader
// uses the exporter's temporality, with a service.name resource.
func setup(t *testing.T, opts libratootel.Options, clientOpts ...librato.Option) (*libratotest.Server, *libratootel.Exporter, *sdkmetric.ManualReader, metric.Meter) {
	t.Helper()
	srv := libratotest.NewUnstartedServer(libratotest.WithMaxAge(0))
	t.Cleanup(srv.Close)
	c, err := srv.Client(append([]librato.Option{librato.WithRetry(librato.RetryPolicy{MaxAttempts: 1})}, clientOpts...)...)
	require.NoError(t, err)
	exp, err := libratootel.New(c, opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = exp.Shutdown(context.Background()) })
	reader := sdkmetric.NewManualReader(sdkmetric.WithTemporalitySelector(exp.Temporality))
	res := resource.NewSchemaless(attribute.String("service.name", "checkout"))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithResource(res))
	return srv, exp, reader, mp.Meter("test")
}

// collectAndExport runs one collection through the exporter.
func collectAndExport(t *testing.T, reader *sdkmetric.ManualReader, exp *libratootel.Exporter) error {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	return exp.Export(context.Background(), &rm)
}

// byTag returns the points of name keyed by the value of one tag.
func byTag(srv *libratotest.Server, name, tag string) map[string]libratotest.Point {
	out := map[string]libratotest.Point{}
	for _, p := range srv.Measurements(name) {
		out[p.Tags[tag]] = p
	}
	return out
}

func TestEveryInstrumentKind(t *testing.T) {
	srv, exp, reader, meter := setup(t, libratootel.Options{Percentiles: []float64{0.5, 0.99}})
	ctx := context.Background()
	counter, err := meter.Int64Counter("http.requests")
	require.NoError(t, err)
	updown, err := meter.Float64UpDownCounter("queue.depth")
	require.NoError(t, err)
	hist, err := meter.Float64Histogram("http.latency", metric.WithExplicitBucketBoundaries(10, 20, 50, 100))
	require.NoError(t, err)
	gauge, err := meter.Float64Gauge("temperature")
	require.NoError(t, err)
	_, err = meter.Int64ObservableGauge("goroutines", metric.WithInt64Callback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(42)
		return nil
	}))
	require.NoError(t, err)

	get := attribute.String("method", "GET")
	for range 3 {
		counter.Add(ctx, 2, metric.WithAttributes(get))
	}
	counter.Add(ctx, 5, metric.WithAttributes(attribute.String("method", "POST")))
	updown.Add(ctx, 7)
	updown.Add(ctx, -2)
	for _, v := range []float64{5, 15, 15, 30, 80} {
		hist.Record(ctx, v)
	}
	gauge.Record(ctx, 21.5, metric.WithAttributes(attribute.String("room", "kitchen")))
	require.NoError(t, collectAndExport(t, reader, exp))

	reqs := byTag(srv, "http.requests", "method") // the API lower-cases tag values
	assert.Equal(t, 6.0, reqs["get"].Sum, "a delta sum: the increase")
	assert.Equal(t, 5.0, reqs["post"].Sum)
	assert.Equal(t, "checkout", reqs["get"].Tags["service.name"], "resource attributes are tags")
	depth := srv.Measurements("queue.depth")
	require.Len(t, depth, 1)
	assert.Equal(t, 5.0, depth[0].Value, "an up-down counter: its level")
	lat := srv.Measurements("http.latency")
	require.Len(t, lat, 1)
	assert.Equal(t, int64(5), lat[0].Count)
	assert.Equal(t, 145.0, lat[0].Sum)
	assert.Equal(t, 5.0, lat[0].Min)
	assert.Equal(t, 80.0, lat[0].Max)
	p50 := srv.Measurements("http.latency.p50")
	require.Len(t, p50, 1)
	assert.Equal(t, 17.5, p50[0].Value, "rank 2.5 of 5: 1.5 of the 2 in (10, 20], linearly: 10 + 10*1.5/2")
	p99 := srv.Measurements("http.latency.p99")
	require.Len(t, p99, 1)
	assert.InDelta(t, 78.5, p99[0].Value, 1e-9, "rank 4.95: in (50, 100] cut to the max, 80: 50 + 30*0.95")
	temp := srv.Measurements("temperature")
	require.Len(t, temp, 1)
	assert.Equal(t, 21.5, temp[0].Value)
	assert.Equal(t, "kitchen", temp[0].Tags["room"])
	require.Len(t, srv.Measurements("goroutines"), 1)
	assert.Equal(t, 42.0, srv.Measurements("goroutines")[0].Value)

	// A second interval: the delta counter sends only what was added since.
	counter.Add(ctx, 1, metric.WithAttributes(get))
	require.NoError(t, collectAndExport(t, reader, exp))
	reqs = byTag(srv, "http.requests", "method")
	assert.Equal(t, 7.0, reqs["get"].Sum, "6, then 1: the points of one minute add up")
	st := exp.Stats()
	assert.Zero(t, st.Skipped)
	assert.Greater(t, st.Points, uint64(8))
	assert.Equal(t, uint64(0), exp.Queue().Stats().Dropped)
}

func TestCumulativeTemporality(t *testing.T) {
	srv, exp, _, _ := setup(t, libratootel.Options{})
	reader := sdkmetric.NewManualReader() // the SDK's default: cumulative
	meter := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test")
	counter, err := meter.Int64Counter("jobs.done")
	require.NoError(t, err)
	counter.Add(context.Background(), 3)
	require.NoError(t, collectAndExport(t, reader, exp))
	counter.Add(context.Background(), 4)
	require.NoError(t, collectAndExport(t, reader, exp))
	pts := srv.Measurements("jobs.done")
	require.Len(t, pts, 1)
	assert.Equal(t, int64(2), pts[0].Count)
	assert.Equal(t, 7.0, pts[0].Max, "a cumulative sum: the running total")
}

func TestExponentialHistogram(t *testing.T) {
	srv, exp, _, _ := setup(t, libratootel.Options{Percentiles: []float64{0.5, 0.9}})
	reader := sdkmetric.NewManualReader(sdkmetric.WithTemporalitySelector(exp.Temporality),
		sdkmetric.WithAggregationSelector(func(sdkmetric.InstrumentKind) sdkmetric.Aggregation {
			return sdkmetric.AggregationBase2ExponentialHistogram{MaxSize: 160, MaxScale: 20}
		}))
	meter := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test")
	h, err := meter.Float64Histogram("db.query")
	require.NoError(t, err)
	for i := 1; i <= 100; i++ {
		h.Record(context.Background(), float64(i))
	}
	require.NoError(t, collectAndExport(t, reader, exp))
	s := srv.Measurements("db.query")
	require.Len(t, s, 1)
	assert.Equal(t, int64(100), s[0].Count)
	assert.Equal(t, 5050.0, s[0].Sum)
	assert.Equal(t, 1.0, s[0].Min)
	assert.Equal(t, 100.0, s[0].Max)
	assert.InDelta(t, 50, srv.Measurements("db.query.p50")[0].Value, 2)
	assert.InDelta(t, 90, srv.Measurements("db.query.p90")[0].Value, 2)
}

func TestTagLimitsAndSanitizing(t *testing.T) {
	srv, exp, reader, meter := setup(t, libratootel.Options{})
	g, err := meter.Int64Gauge("http/server.active")
	require.NoError(t, err)
	g.Record(context.Background(), 1, metric.WithAttributes(attribute.String("Host Name", "web 1\x00"), attribute.String("empty", ""),
		attribute.Int("port", 8080), attribute.Bool("tls", true), attribute.String("service.name", "point wins")))
	wide, err := meter.Int64Gauge("wide")
	require.NoError(t, err)
	var attrs []attribute.KeyValue
	for i := range 60 {
		attrs = append(attrs, attribute.String(fmt.Sprintf("k%02d", i), strconv.Itoa(i)))
	}
	wide.Record(context.Background(), 1, metric.WithAttributes(attrs...))
	require.NoError(t, collectAndExport(t, reader, exp))

	pts := srv.Measurements("http-server.active")
	require.Len(t, pts, 1, "the name went through librato.SanitizeMetricName")
	assert.Equal(t, map[string]string{"host_name": "web 1_", "port": "8080", "tls": "true", "service.name": "point wins"}, pts[0].Tags,
		"names and values fitted to the API, the empty value left out, the data point's service.name over the resource's")

	pts = srv.Measurements("wide")
	require.Len(t, pts, 1)
	tags := pts[0].Tags
	assert.Len(t, tags, 50)
	assert.Equal(t, "49", tags["k49"])
	assert.NotContains(t, tags, "k50", "the data point's attributes by name, up to 50")
	assert.NotContains(t, tags, "service.name", "the resource's come after the data point's")
	assert.Equal(t, uint64(60+1-50), exp.Stats().DroppedTags)
}

func TestAppOptics(t *testing.T) {
	srv := libratotest.NewUnstartedServer(libratotest.WithAppOptics(), libratotest.WithMaxAge(0))
	defer srv.Close()
	c, err := srv.Client()
	require.NoError(t, err)
	exp, err := libratootel.New(c, libratootel.Options{})
	require.NoError(t, err)
	defer exp.Shutdown(context.Background())
	reader := sdkmetric.NewManualReader(sdkmetric.WithTemporalitySelector(exp.Temporality))
	meter := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader)).Meter("test")
	counter, err := meter.Int64Counter("logins")
	require.NoError(t, err)
	counter.Add(context.Background(), 3)
	require.NoError(t, collectAndExport(t, reader, exp), "no counters: sums are gauges, which AppOptics takes")
	require.Len(t, srv.Measurements("logins"), 1)
	assert.Equal(t, 3.0, srv.Measurements("logins")[0].Sum)
}

// TestServerDownThenBack: while the API fails, Export returns the error and keeps the data; when
// it is back, everything arrives once.
func TestServerDownThenBack(t *testing.T) {
	srv, exp, reader, meter := setup(t, libratootel.Options{})
	counter, err := meter.Int64Counter("orders")
	require.NoError(t, err)
	require.NoError(t, srv.AddFault(libratotest.Fault{Status: 503, Rate: 1}))
	counter.Add(context.Background(), 2)
	err = collectAndExport(t, reader, exp)
	assert.ErrorIs(t, err, librato.ErrServer)
	assert.Empty(t, srv.Measurements("orders"))
	assert.Equal(t, 1, exp.Queue().Stats().Queued, "kept for the next export")
	srv.ClearFaults()
	counter.Add(context.Background(), 3)
	require.NoError(t, collectAndExport(t, reader, exp))
	pts := srv.Measurements("orders")
	require.Len(t, pts, 1)
	assert.Equal(t, 5.0, pts[0].Sum, "both intervals, each once")
	assert.Equal(t, int64(2), pts[0].Count)
	assert.Zero(t, exp.Queue().Stats().Dropped)
}

// TestShutdownUnderADeadServer: Shutdown returns by its deadline, says what was left, and a
// second Shutdown is safe; Export after it is refused.
func TestShutdownUnderADeadServer(t *testing.T) {
	srv, exp, reader, meter := setup(t, libratootel.Options{})
	require.NoError(t, srv.AddFault(libratotest.Fault{Func: func(ctx context.Context, _ libratotest.Request) (int, string, bool) {
		<-ctx.Done() // never answers
		return 0, "", false
	}}))
	g, err := meter.Float64Gauge("cpu")
	require.NoError(t, err)
	g.Record(context.Background(), 0.5)
	var rm metricdata.ResourceMetrics
	require.NoError(t, reader.Collect(context.Background(), &rm))
	ectx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	assert.Error(t, exp.Export(ectx, &rm))

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = exp.Shutdown(ctx)
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Error(t, err, "the measurement could not be sent")
	assert.Equal(t, err, exp.Shutdown(context.Background()), "a second Shutdown returns the first's result")
	assert.ErrorIs(t, exp.Export(context.Background(), &rm), libratootel.ErrShutdown)
	assert.ErrorIs(t, exp.ForceFlush(context.Background()), libratootel.ErrShutdown)
}

func TestNonFiniteValuesAreSkippedAndSaid(t *testing.T) {
	srv, exp, reader, meter := setup(t, libratootel.Options{})
	g, err := meter.Float64Gauge("ratio")
	require.NoError(t, err)
	g.Record(context.Background(), math.Inf(1))
	err = collectAndExport(t, reader, exp)
	assert.ErrorContains(t, err, "not a finite number")
	assert.Equal(t, uint64(1), exp.Stats().Skipped)
	assert.Empty(t, srv.Measurements("ratio"))
}

func TestOptionsValidate(t *testing.T) {
	srv := libratotest.NewUnstartedServer()
	defer srv.Close()
	c, err := srv.Client()
	require.NoError(t, err)
	for _, o := range []libratootel.Options{{Interval: -time.Second}, {Percentiles: []float64{1}}, {Percentiles: []float64{0}},
		{Queue: librato.QueueOptions{ChunkSize: -1}}} {
		_, err := libratootel.New(c, o)
		assert.Error(t, err, "%+v", o)
	}
	_, err = libratootel.New(nil, libratootel.Options{})
	assert.Error(t, err)
}

// TestPeriodicReader: the one-call constructor exports on its own and on Shutdown.
func TestPeriodicReader(t *testing.T) {
	srv := libratotest.NewUnstartedServer(libratotest.WithMaxAge(0))
	defer srv.Close()
	c, err := srv.Client()
	require.NoError(t, err)
	mp, exp, err := libratootel.NewMeterProvider(c, time.Hour, resource.NewSchemaless(attribute.String("service.name", "api")), libratootel.Options{})
	require.NoError(t, err)
	counter, err := mp.Meter("test").Int64Counter("signups")
	require.NoError(t, err)
	counter.Add(context.Background(), 4)
	require.NoError(t, mp.Shutdown(context.Background()), "the reader collects and exports once more")
	pts := srv.Measurements("signups")
	require.Len(t, pts, 1)
	assert.Equal(t, 4.0, pts[0].Sum)
	assert.Equal(t, "api", pts[0].Tags["service.name"])
	assert.ErrorIs(t, exp.ForceFlush(context.Background()), libratootel.ErrShutdown)
}

// TestSummaryFromABridge: a Summary (what bridges from other SDKs produce) is a summary and
// gauges of its quantiles; an int64 gauge and sum map like the float64 ones.
func TestSummaryFromABridge(t *testing.T) {
	srv, exp, _, _ := setup(t, libratootel.Options{})
	at := time.Unix(1700000030, 0)
	set := attribute.NewSet(attribute.String("host", "a"))
	rm := &metricdata.ResourceMetrics{ScopeMetrics: []metricdata.ScopeMetrics{{Metrics: []metricdata.Metrics{
		{Name: "rpc.latency", Data: metricdata.Summary{DataPoints: []metricdata.SummaryDataPoint{{
			Attributes: set, Time: at, Count: 4, Sum: 10,
			QuantileValues: []metricdata.QuantileValue{{Quantile: 0.5, Value: 2}, {Quantile: 0.999, Value: 4}},
		}, {Attributes: attribute.NewSet(attribute.String("host", "idle")), Time: at}}}},
		{Name: "conns", Data: metricdata.Gauge[int64]{DataPoints: []metricdata.DataPoint[int64]{{Attributes: set, Time: at, Value: 3}}}},
		{Name: "bytes", Data: metricdata.Sum[int64]{Temporality: metricdata.DeltaTemporality, IsMonotonic: true,
			DataPoints: []metricdata.DataPoint[int64]{{Attributes: set, Time: at, Value: 1024}}}},
	}}}}
	require.NoError(t, exp.Export(context.Background(), rm))
	s := srv.Measurements("rpc.latency")
	require.Len(t, s, 1, "the idle series (count 0) sends nothing")
	assert.Equal(t, int64(4), s[0].Count)
	assert.Equal(t, 10.0, s[0].Sum)
	assert.Equal(t, int64(1699999980), s[0].Time.Unix(), "floored to the minute")
	assert.Equal(t, 2.0, srv.Measurements("rpc.latency.p50")[0].Value)
	assert.Equal(t, 4.0, srv.Measurements("rpc.latency.p99.9")[0].Value)
	assert.Equal(t, 3.0, srv.Measurements("conns")[0].Value)
	assert.Equal(t, 1024.0, srv.Measurements("bytes")[0].Sum)
}

// TestConcurrentExports: Export may be called from several goroutines at once (two readers of
// one exporter); every value arrives once.
func TestConcurrentExports(t *testing.T) {
	srv, exp, _, _ := setup(t, libratootel.Options{})
	var readers []*sdkmetric.ManualReader
	for i := range 2 {
		r := sdkmetric.NewManualReader(sdkmetric.WithTemporalitySelector(exp.Temporality))
		c, err := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r)).Meter("test").Int64Counter("events")
		require.NoError(t, err)
		for k := range 100 {
			c.Add(context.Background(), int64(i+1), metric.WithAttributes(attribute.Int("k", k)))
		}
		readers = append(readers, r)
	}
	errs := make(chan error, 2)
	for _, r := range readers {
		go func() {
			var rm metricdata.ResourceMetrics
			if err := r.Collect(context.Background(), &rm); err != nil {
				errs <- err
				return
			}
			errs <- exp.Export(context.Background(), &rm)
		}()
	}
	require.NoError(t, <-errs)
	require.NoError(t, <-errs)
	var sum float64
	var n int64
	for _, p := range srv.Measurements("events") {
		sum += p.Sum
		n += p.Count
	}
	assert.Equal(t, int64(200), n)
	assert.Equal(t, 300.0, sum, "100 series of 1 and 100 of 2")
}
