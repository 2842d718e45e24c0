// Package libratootel is an OpenTelemetry metrics exporter for Librato and AppOptics: a service
// instrumented with the OpenTelemetry API (go.opentelemetry.io/otel/metric) sends its metrics
// through a librato.Queue, with its retries, spool, accounting (Stats, OnDrop) and limits.
//
//	c, _ := librato.Connect(user, token)
//	exp, _ := libratootel.New(c, libratootel.Options{})
//	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(
//		sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Minute))))
//	defer mp.Shutdown(ctx)
//
// NewMeterProvider does those two steps in one call.
//
// It is a module of its own (github.com/go-librato/librato/libratootel), so that the
// OpenTelemetry SDK enters the build only of those who import it: the librato module's
// dependencies do not grow.
//
// # Mapping
//
// Every data point becomes tagged measurements (the API of AppOptics and of tagged Librato
// accounts), named after the instrument through librato.SanitizeMetricName:
//
//	OpenTelemetry                         Librato
//	Gauge                                 gauge NAME = the value
//	Sum, delta (counters by default)      gauge NAME = the increase in the interval
//	Sum, cumulative                       gauge NAME = the running total
//	Histogram                             summary NAME (count, sum, min, max), and with
//	                                      Options.Percentiles gauges NAME.pNN estimated
//	                                      from the buckets
//	ExponentialHistogram                  the same, from its exponential buckets
//	Summary (bridged from other SDKs)     summary NAME (count, sum), gauges NAME.pNN of
//	                                      its quantiles
//
// Sums are gauges, never counters: the tagged API has no counters (AppOptics has none at all),
// and a delta sum sent as a gauge reads as "per interval" with the sum summary function, which is
// what a rate chart needs. That is also why Temporality asks for delta sums and histograms from
// monotonic instruments (counters, histograms) and cumulative ones from up-down counters, whose
// value is a level, not an increase.
//
// Tags come from the data point's attributes, then the scope's, then the resource's; a name
// present in several keeps the data point's value. Names are lower-cased by the API, so they are
// made to fit it here: characters outside [-.:_A-Za-z0-9] become "_" and names are cut to 64
// bytes; values outside the API's characters get "_" and are cut to 255 bytes; empty values are
// left out. At most 50 tags are sent: the data point's first, then the scope's, then the
// resource's, each group by name; the rest are left out and counted in Stats.DroppedTags.
//
// Times are the data point's end time floored to Options.Interval, which is also the period.
package libratootel

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/go-librato/librato"
)

// Options configures an Exporter. The zero value is usable.
type Options struct {
	// Queue configures the queue the exporter sends through: SpoolDir, OnDrop, OnError,
	// MaxPending. Its FlushInterval and AutoSubmitCount are left as given: Export flushes.
	Queue librato.QueueOptions
	// Interval floors the times of the measurements and is their period; 0 means one minute.
	// Set it to the reader's interval.
	Interval time.Duration
	// Percentiles lists the quantiles (0 < q < 1) estimated from each histogram's buckets, sent
	// as gauges NAME.pNN (0.95 is p95, 0.999 is p99.9).
	Percentiles []float64
}

// Stats counts what the exporter did beyond its queue's Stats.
type Stats struct {
	// Points counts the data points exported, Measurements the measurements they made.
	Points, Measurements uint64
	// DroppedTags counts tags left out beyond the API's limit of 50 per measurement.
	DroppedTags uint64
	// Skipped counts data points that cannot be measurements: NaN or infinite values, empty
	// histograms. Each is also an error of its Export.
	Skipped uint64
}

// Exporter is an OpenTelemetry metric exporter (sdkmetric.Exporter) that sends to Librato or
// AppOptics. It is safe for concurrent use.
type Exporter struct {
	q        *librato.Queue
	interval time.Duration
	pcts     []float64

	points, measurements, droppedTags, skipped atomic.Uint64

	cacheMu sync.Mutex // one Export at a time uses the caches
	tags    genCache[cacheKey, cachedTags]
	series  genCache[seriesKey, *librato.QueueSeries]

	mu       sync.Mutex // guards closed
	closed   bool
	shutOnce sync.Once
	shutErr  error
}

var _ sdkmetric.Exporter = (*Exporter)(nil)

// ErrShutdown is what Export and ForceFlush return after Shutdown.
var ErrShutdown = errors.New("libratootel: exporter shut down")

// New returns an exporter sending through a new queue of c. Bad options are an error.
func New(c *librato.Client, opts Options) (*Exporter, error) {
	if c == nil {
		return nil, errors.New("libratootel: nil client")
	}
	if opts.Interval < 0 {
		return nil, fmt.Errorf("libratootel: Options.Interval %v is negative", opts.Interval)
	}
	if opts.Interval == 0 {
		opts.Interval = time.Minute
	}
	for _, p := range opts.Percentiles {
		if !(p > 0 && p < 1) {
			return nil, fmt.Errorf("libratootel: Options.Percentiles: %v is not within (0, 1)", p)
		}
	}
	q, err := c.NewQueue(opts.Queue)
	if err != nil {
		return nil, fmt.Errorf("libratootel: %w", err)
	}
	return &Exporter{q: q, interval: opts.Interval, pcts: slices.Clone(opts.Percentiles)}, nil
}

// NewMeterProvider returns a meter provider whose periodic reader exports through a new
// Exporter every interval (0: one minute), with res as its resource (nil: the SDK's default).
// Shut the provider down to flush and close the exporter.
func NewMeterProvider(c *librato.Client, interval time.Duration, res *resource.Resource, opts Options) (*sdkmetric.MeterProvider, *Exporter, error) {
	if interval <= 0 {
		interval = time.Minute
	}
	if opts.Interval == 0 {
		opts.Interval = interval
	}
	exp, err := New(c, opts)
	if err != nil {
		return nil, nil, err
	}
	mpOpts := []sdkmetric.Option{sdkmetric.WithReader(sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(interval)))}
	if res != nil {
		mpOpts = append(mpOpts, sdkmetric.WithResource(res))
	}
	return sdkmetric.NewMeterProvider(mpOpts...), exp, nil
}

// Temporality asks for deltas from monotonic instruments (counters, histograms) and running
// values from up-down counters and gauges: see the package doc.
func (e *Exporter) Temporality(k sdkmetric.InstrumentKind) metricdata.Temporality {
	switch k {
	case sdkmetric.InstrumentKindUpDownCounter, sdkmetric.InstrumentKindObservableUpDownCounter,
		sdkmetric.InstrumentKindGauge, sdkmetric.InstrumentKindObservableGauge:
		return metricdata.CumulativeTemporality
	}
	return metricdata.DeltaTemporality
}

// Aggregation is the SDK's default: explicit-bucket histograms, which map onto summaries and
// percentiles directly.
func (e *Exporter) Aggregation(k sdkmetric.InstrumentKind) sdkmetric.Aggregation {
	return sdkmetric.DefaultAggregationSelector(k)
}

// Export turns rm into measurements, adds them to the queue and flushes it, by ctx's deadline.
// What the API did not take yet stays queued (and spooled, with Options.Queue.SpoolDir) for the
// next Export; the error says why. Export has read rm when it returns.
func (e *Exporter) Export(ctx context.Context, rm *metricdata.ResourceMetrics) error {
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return ErrShutdown
	}
	var errs []error
	add := func(m librato.Measurement) {
		if err := e.q.Add(m); err != nil {
			errs = append(errs, err)
			return
		}
		e.measurements.Add(1)
	}
	var res attribute.Set
	if rm.Resource != nil {
		res = *rm.Resource.Set()
	}
	e.cacheMu.Lock()
	defer e.cacheMu.Unlock()
	defer e.tags.rotate()
	defer e.series.rotate()
	for _, sm := range rm.ScopeMetrics {
		base := baseTags(sm.Scope.Attributes, res)
		key := cacheKey{scope: sm.Scope.Name + "\x00" + sm.Scope.Version, res: res.Equivalent()}
		for _, m := range sm.Metrics {
			name := librato.SanitizeMetricName(m.Name)
			tagsOf := func(set attribute.Set) map[string]string {
				key.point = set.Equivalent()
				t, ok := e.tags.lookup(key)
				if !ok {
					t, _ = e.tags.get(key, func() (cachedTags, error) { return makeTags(set, base), nil })
				}
				e.droppedTags.Add(uint64(t.dropped))
				return t.tags
			}
			// A gauge value goes through its series' handle: checked and encoded once per series.
			gauge := func(n string, v float64, set attribute.Set, at time.Time) error {
				key.point = set.Equivalent()
				sk := seriesKey{n, key}
				s, ok := e.series.lookup(sk)
				var err error
				if !ok {
					s, err = e.series.get(sk, func() (*librato.QueueSeries, error) {
						return e.q.Series(librato.Measurement{Name: n, Tags: tagsOf(set), Period: e.interval})
					})
				}
				if err == nil {
					err = s.Add(v, e.floor(at))
				}
				if err == nil {
					e.measurements.Add(1)
				}
				return err
			}
			if err := e.convert(name, m.Data, tagsOf, add, gauge); err != nil {
				errs = append(errs, fmt.Errorf("libratootel: %s: %w", m.Name, err))
			}
		}
	}
	if err := e.q.Flush(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// convert adds the measurements of one metric's data points.
func (e *Exporter) convert(name string, data metricdata.Aggregation, tagsOf func(attribute.Set) map[string]string,
	add func(librato.Measurement), addGauge func(string, float64, attribute.Set, time.Time) error) error {
	var errs []error
	gauge := func(n string, v float64, set attribute.Set, at time.Time) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			e.skipped.Add(1)
			errs = append(errs, fmt.Errorf("value %v is not a finite number: left out", v))
			return
		}
		if err := addGauge(n, v, set, at); err != nil {
			errs = append(errs, err)
		}
	}
	value := func(v float64, set attribute.Set, at time.Time) {
		e.points.Add(1)
		gauge(name, v, set, at)
	}
	histogram := func(h histPoint) {
		e.points.Add(1)
		errs = append(errs, e.histogram(name, h.hist, h.set, h.at, tagsOf, add, gauge))
	}
	switch d := data.(type) {
	case metricdata.Gauge[int64]:
		eachValue(d.DataPoints, value)
	case metricdata.Gauge[float64]:
		eachValue(d.DataPoints, value)
	case metricdata.Sum[int64]:
		eachValue(d.DataPoints, value)
	case metricdata.Sum[float64]:
		eachValue(d.DataPoints, value)
	case metricdata.Histogram[int64]:
		eachHist(d.DataPoints, histogramOf[int64], histogram)
	case metricdata.Histogram[float64]:
		eachHist(d.DataPoints, histogramOf[float64], histogram)
	case metricdata.ExponentialHistogram[int64]:
		eachHist(d.DataPoints, exponentialOf[int64], histogram)
	case metricdata.ExponentialHistogram[float64]:
		eachHist(d.DataPoints, exponentialOf[float64], histogram)
	case metricdata.Summary:
		for _, p := range d.DataPoints {
			e.points.Add(1)
			if p.Count == 0 {
				continue // nothing observed in the interval
			}
			add(librato.Measurement{Name: name, Summary: &librato.Summary{Count: int64(p.Count), Sum: p.Sum},
				Tags: tagsOf(p.Attributes), Time: e.floor(p.Time), Period: e.interval})
			for _, qv := range p.QuantileValues {
				gauge(name+"."+percentileSuffix(qv.Quantile), qv.Value, p.Attributes, p.Time)
			}
		}
	default:
		return fmt.Errorf("aggregation %T is not supported", data)
	}
	return errors.Join(errs...)
}

// eachValue calls f with each gauge or sum data point's value, of either number type.
func eachValue[N int64 | float64](pts []metricdata.DataPoint[N], f func(v float64, set attribute.Set, at time.Time)) {
	for _, p := range pts {
		f(float64(p.Value), p.Attributes, p.Time)
	}
}

// histPoint is a histogram data point of either kind and number type, as a summary needs it.
type histPoint struct {
	hist hist
	set  attribute.Set
	at   time.Time
}

// eachHist calls f with each histogram data point, converted by conv.
func eachHist[P any](pts []P, conv func(P) histPoint, f func(histPoint)) {
	for _, p := range pts {
		f(conv(p))
	}
}

// hist is the part of a histogram data point a summary and percentiles need: bucket upper
// bounds (ascending; the last bucket is unbounded) and counts.
type hist struct {
	count          uint64
	sum, min, max  float64
	hasMin, hasMax bool
	lowers, uppers []float64
	counts         []uint64
}

func histogramOf[N int64 | float64](p metricdata.HistogramDataPoint[N]) histPoint {
	h := hist{count: p.Count, sum: float64(p.Sum), counts: p.BucketCounts}
	if v, ok := p.Min.Value(); ok {
		h.min, h.hasMin = float64(v), true
	}
	if v, ok := p.Max.Value(); ok {
		h.max, h.hasMax = float64(v), true
	}
	for i := range p.BucketCounts {
		lo, hi := math.Inf(-1), math.Inf(1)
		if i > 0 {
			lo = p.Bounds[i-1]
		}
		if i < len(p.Bounds) {
			hi = p.Bounds[i]
		}
		h.lowers, h.uppers = append(h.lowers, lo), append(h.uppers, hi)
	}
	return histPoint{h, p.Attributes, p.Time}
}

// exponentialOf lays an exponential histogram's buckets out in ascending order: negative
// buckets (largest magnitude first), the zero bucket, positive ones. Bucket i of scale s holds
// (base^i, base^(i+1)] with base = 2^(2^-s).
func exponentialOf[N int64 | float64](p metricdata.ExponentialHistogramDataPoint[N]) histPoint {
	h := hist{count: p.Count, sum: float64(p.Sum)}
	if v, ok := p.Min.Value(); ok {
		h.min, h.hasMin = float64(v), true
	}
	if v, ok := p.Max.Value(); ok {
		h.max, h.hasMax = float64(v), true
	}
	base := math.Pow(2, math.Pow(2, -float64(p.Scale)))
	for i := len(p.NegativeBucket.Counts) - 1; i >= 0; i-- {
		idx := float64(int(p.NegativeBucket.Offset) + i)
		h.lowers = append(h.lowers, -math.Pow(base, idx+1))
		h.uppers = append(h.uppers, -math.Pow(base, idx))
		h.counts = append(h.counts, p.NegativeBucket.Counts[i])
	}
	if p.ZeroCount > 0 {
		h.lowers, h.uppers = append(h.lowers, -p.ZeroThreshold), append(h.uppers, p.ZeroThreshold)
		h.counts = append(h.counts, p.ZeroCount)
	}
	for i, c := range p.PositiveBucket.Counts {
		idx := float64(int(p.PositiveBucket.Offset) + i)
		h.lowers = append(h.lowers, math.Pow(base, idx))
		h.uppers = append(h.uppers, math.Pow(base, idx+1))
		h.counts = append(h.counts, c)
	}
	return histPoint{h, p.Attributes, p.Time}
}

// histogram adds a histogram's summary and percentile gauges. An empty one adds nothing: there
// was no observation in the interval.
func (e *Exporter) histogram(name string, h hist, set attribute.Set, at time.Time,
	tagsOf func(attribute.Set) map[string]string, add func(librato.Measurement), gauge func(string, float64, attribute.Set, time.Time)) error {
	if h.count == 0 {
		return nil
	}
	if math.IsNaN(h.sum) || math.IsInf(h.sum, 0) {
		e.skipped.Add(1)
		return fmt.Errorf("sum %v is not a finite number: left out", h.sum)
	}
	s := &librato.Summary{Count: int64(h.count), Sum: h.sum}
	if h.hasMin && h.hasMax {
		s.Min, s.Max = h.min, h.max
	} else {
		s.Min, s.Max = h.sum/float64(h.count), h.sum/float64(h.count) // the mean, the best known
	}
	add(librato.Measurement{Name: name, Summary: s, Tags: tagsOf(set), Time: e.floor(at), Period: e.interval})
	for _, q := range e.pcts {
		gauge(name+"."+percentileSuffix(q), h.quantile(q), set, at)
	}
	return nil
}

// quantile estimates the q quantile by linear interpolation inside the bucket that holds it,
// the bucket's open ends replaced by the observed min and max.
func (h hist) quantile(q float64) float64 {
	rank := q * float64(h.count)
	var seen float64
	for i, c := range h.counts {
		if c == 0 {
			continue
		}
		if seen+float64(c) >= rank {
			lo, hi := h.lowers[i], h.uppers[i]
			if h.hasMin && (math.IsInf(lo, -1) || lo < h.min) {
				lo = h.min
			}
			if h.hasMax && (math.IsInf(hi, 1) || hi > h.max) {
				hi = h.max
			}
			switch {
			case math.IsInf(lo, -1):
				return hi
			case math.IsInf(hi, 1):
				return lo
			}
			return lo + (hi-lo)*(rank-seen)/float64(c)
		}
		seen += float64(c)
	}
	if h.hasMax {
		return h.max
	}
	return h.uppers[len(h.uppers)-1]
}

// percentileSuffix names a quantile: 0.95 is "p95", 0.999 is "p99.9", 0.5 is "p50".
func percentileSuffix(q float64) string {
	return "p" + strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.4f", q*100), "0"), ".")
}

// floor is t floored to the interval.
func (e *Exporter) floor(t time.Time) time.Time {
	if t.IsZero() {
		t = time.Now()
	}
	return t.Truncate(e.interval)
}

// ForceFlush sends what is queued, by ctx's deadline.
func (e *Exporter) ForceFlush(ctx context.Context) error {
	e.mu.Lock()
	closed := e.closed
	e.mu.Unlock()
	if closed {
		return ErrShutdown
	}
	return e.q.Flush(ctx)
}

// Shutdown flushes and closes the queue, returning by ctx's deadline (what is left is kept in the
// spool when the queue has one, and reported to OnDrop otherwise). Later calls return the first
// call's result.
func (e *Exporter) Shutdown(ctx context.Context) error {
	e.shutOnce.Do(func() {
		e.mu.Lock()
		e.closed = true
		e.mu.Unlock()
		e.shutErr = e.q.Close(ctx)
	})
	return e.shutErr
}

// Stats returns the exporter's counts. Queue returns the queue, whose Stats says what was sent,
// retried and dropped.
func (e *Exporter) Stats() Stats {
	return Stats{Points: e.points.Load(), Measurements: e.measurements.Load(),
		DroppedTags: e.droppedTags.Load(), Skipped: e.skipped.Load()}
}

// Queue returns the queue the exporter sends through.
func (e *Exporter) Queue() *librato.Queue { return e.q }
