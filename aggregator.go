package librato

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"
)

// DefaultMaxSeries is the number of distinct series an Aggregator tracks when
// AggregatorOptions.MaxSeries is zero.
const DefaultMaxSeries = 10_000

// Sketch is a quantile sketch for one series of an Aggregator with Percentiles. Package
// github.com/go-librato/librato/percentiles provides a DDSketch-based one; it lives there so
// that the core package does not pull in its dependencies. An Aggregator calls a Sketch with its
// own lock held, never concurrently.
type Sketch interface {
	// Add records one value.
	Add(v float64)
	// Quantile returns the value at quantile q (0 < q < 1); ok is false when the sketch is empty.
	Quantile(q float64) (v float64, ok bool)
	// Merge adds the values of other, a Sketch of the same kind, to this one.
	Merge(other Sketch)
	// Reset empties the sketch, keeping its memory.
	Reset()
}

// AggregatorOptions configures an Aggregator. The zero value is a valid configuration.
type AggregatorOptions struct {
	// Source is the source of the legacy series (Add).
	Source string
	// Tags are added to every tagged series (AddTagged); a series' own tags win for the same name.
	Tags map[string]string
	// Period, when set (whole seconds), floors the measurement time to a multiple of it:
	// t - t%period in Unix seconds, t being MeasureTime or, without it, the time of the flush.
	Period time.Duration
	// MeasureTime is the time of every measurement (floored when Period is set). Zero: the time
	// of the flush with a Period, otherwise no time (the queue stamps it when it sends).
	MeasureTime time.Time
	// MaxSeries caps the distinct series tracked (default DefaultMaxSeries). Values of new series
	// beyond it are refused with ErrMaxSeries and counted in AggregatorStats.Overflow.
	MaxSeries int
	// Percentiles, e.g. 50, 95, 99.9 (each strictly between 0 and 100), add one gauge per series and
	// percentile, named "<name>.p50", "<name>.p95", "<name>.p99_9", from a sketch made by NewSketch.
	Percentiles []float64
	// NewSketch makes the sketch of a series; required with Percentiles, e.g.
	// percentiles.NewDDSketch.
	NewSketch func() Sketch
}

// AggregatorStats is a snapshot of an Aggregator's counters.
type AggregatorStats struct {
	// Series is the number of series tracked: those with values since the last flush and those
	// that had values in the period before (a series idle for a whole period is forgotten).
	Series int
	// Values counts the values accepted since the aggregator was created.
	Values uint64
	// Overflow counts the values refused because MaxSeries was reached.
	Overflow uint64
}

// Aggregator summarizes values client-side: per series (a name for Add, a name plus a tag set for
// AddTagged) it keeps count, sum, min, max, the sum of squares and the last value, and sends one
// summary measurement per series instead of every value. It is safe for concurrent use.
//
// Adding a value to a series already seen takes a lock and allocates nothing; a call site that
// passes the same name and tag map again is recognized with one map lookup per tag (the map is
// still read each time, so changing it between calls is fine). For the hottest call sites, Series
// and TaggedSeries return a handle that skips even that.
// Flushing (Submit, Queue.AddAggregator, Reset) keeps the series known so that the next period
// does not allocate again; a series without values for a whole period is forgotten.
//
// NewAggregator refuses a bad option (a Period that is not whole seconds, an invalid Source or
// Tags, Percentiles without NewSketch or out of range) with an error.
type Aggregator struct {
	c           *Client
	source      string
	tags        map[string]string
	period      int64 // seconds; 0: none
	measureTime time.Time
	maxSeries   int
	pcts        []float64
	pctNames    []string // ".p95" for 95
	newSketch   func() Sketch
	legacyBase  []tagPair // the client's tags: the defaults of legacy series (which then go tagged)
	taggedBase  []tagPair // the aggregator's tags over the client's: the defaults of tagged series

	recent seriesHints // lock-free hints for add: the series used last, by content

	mu       sync.Mutex
	index    map[string]*aggSeries // series key -> series; sanitizer aliases share a series
	series   []*aggSeries          // in the order first seen
	values   uint64
	overflow uint64
}

// aggSeries is the state of one series. The key never changes after creation, so a snapshot may
// keep it outside the lock. The key (appendSeriesKey) holds the sanitized name and the series' own
// tags, which are read from it: nothing else is stored per series for them. A series is kept small
// (80 bytes, one size class) because an aggregator may hold a great many of them.
type aggSeries struct {
	key      string
	stats    aggStats
	sketches *seriesSketches // nil unless the aggregator keeps percentiles
	tagged   bool
	gone     bool // forgotten after a period without values
}

// name returns the series' sanitized name, held in its key.
func (s *aggSeries) name() string { return keyName(s.key) }

// seriesSketches are the sketches of a series with percentiles: the period's, and an empty one
// swapped in at a flush, so that flushing does not allocate.
type seriesSketches struct {
	cur, spare Sketch
}

// aggStats are the running summary values of one series for the current period.
type aggStats struct {
	count                      int64
	sum, min, max, sumsq, last float64
}

func (s *aggStats) add(v float64) {
	if s.count == 0 {
		s.min, s.max = v, v
	} else {
		s.min = min(s.min, v)
		s.max = max(s.max, v)
	}
	s.count++
	s.sum += v
	s.sumsq += v * v
	s.last = v
}

// merge adds an older period's stats o back into s (a failed Submit): s's last value, if any, is
// the newer one.
func (s *aggStats) merge(o aggStats) {
	if o.count == 0 {
		return
	}
	if s.count == 0 {
		*s = o
		return
	}
	s.count += o.count
	s.sum += o.sum
	s.sumsq += o.sumsq
	s.min = min(s.min, o.min)
	s.max = max(s.max, o.max)
}

// NewAggregator returns an empty Aggregator that flushes through c. It returns an error, and no
// Aggregator, when an option is out of range (errors.Is(err, ErrInvalid)).
func (c *Client) NewAggregator(opts AggregatorOptions) (*Aggregator, error) {
	a := &Aggregator{
		c:           c,
		source:      opts.Source,
		measureTime: opts.MeasureTime,
		maxSeries:   opts.MaxSeries,
		newSketch:   opts.NewSketch,
		index:       make(map[string]*aggSeries),
	}
	if a.maxSeries == 0 {
		a.maxSeries = DefaultMaxSeries
	}
	if len(opts.Tags) > 0 {
		a.tags = make(map[string]string, len(opts.Tags))
		for k, v := range opts.Tags {
			a.tags[k] = v
		}
	}
	if err := a.setOptions(opts); err != nil {
		return nil, err
	}
	a.recent.seed = maphash.MakeSeed()
	a.legacyBase = sortedTags(c.tags, nil)
	a.taggedBase = sortedTags(a.tags, c.tags)
	return a, nil
}

func (a *Aggregator) setOptions(opts AggregatorOptions) error {
	wrap := func(err error) error { return fmt.Errorf("librato: AggregatorOptions: %w", err) }
	if opts.Period < 0 || opts.Period%time.Second != 0 {
		return wrap(&ValidationError{Field: "period", Value: opts.Period.String(),
			Reason: "must be zero or a positive whole number of seconds"})
	}
	a.period = int64(opts.Period / time.Second)
	if opts.MaxSeries < 0 {
		return wrap(&ValidationError{Field: "MaxSeries", Value: strconv.Itoa(opts.MaxSeries), Reason: "must not be negative"})
	}
	if err := ValidateSource(opts.Source); err != nil {
		return wrap(err)
	}
	if err := ValidateTags(opts.Tags); err != nil {
		return wrap(err)
	}
	if len(opts.Percentiles) > 0 && opts.NewSketch == nil {
		return wrap(&ValidationError{Field: "Percentiles", Value: fmt.Sprint(opts.Percentiles),
			Reason: "need NewSketch (for example percentiles.NewDDSketch)"})
	}
	for _, p := range opts.Percentiles {
		if !(p > 0 && p < 100) {
			return wrap(&ValidationError{Field: "Percentiles", Value: formatNumber(p), Reason: "must be strictly between 0 and 100"})
		}
		if slices.Contains(a.pcts, p) {
			continue
		}
		a.pcts = append(a.pcts, p)
		a.pctNames = append(a.pctNames, percentileSuffix(p))
	}
	return nil
}

// percentileSuffix names the gauge of percentile p: ".p95", ".p99_9" (a dot would make a
// hierarchy level of the fraction).
func percentileSuffix(p float64) string {
	s := strconv.FormatFloat(p, 'f', -1, 64)
	b := []byte(".p")
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			b = append(b, '_')
		} else {
			b = append(b, s[i])
		}
	}
	return string(b)
}

// Add records value for the legacy series name (sent with the aggregator's Source). It returns an
// error, and records nothing, for NaN or ±Inf, for an invalid name, and with ErrMaxSeries for a new
// series beyond MaxSeries.
func (a *Aggregator) Add(name string, value float64) error {
	return a.add(name, value, nil, false)
}

// AddTagged records value for the tagged series of name and tags (sent with the aggregator's Tags
// under these). tags is not kept: change it freely after the call. Errors are as for Add, plus
// invalid tags.
func (a *Aggregator) AddTagged(name string, value float64, tags map[string]string) error {
	return a.add(name, value, tags, true)
}

// keyBufSize is the stack buffer for series keys; longer keys take a slower, allocating path.
const keyBufSize = 256

func (a *Aggregator) add(name string, v float64, tags map[string]string, tagged bool) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return &ValidationError{Field: "value", Value: formatNumber(v), Reason: "must be a finite number"}
	}
	set := a.recent.set(name, tags)
	if s := set.first(name, tags, tagged); s != nil && a.recordLive(s, v) {
		return nil
	}
	return a.addByKey(set, name, v, tags, tagged)
}

// addByKey is add's path by the series key: through the set's other hints, then the index, which
// then hints the series to the next call.
func (a *Aggregator) addByKey(set *hintSet, name string, v float64, tags map[string]string, tagged bool) error {
	var buf [keyBufSize]byte
	key, ok := buf[:0], false
	if tagged && len(tags) > 0 {
		key, ok = set.key(key, name, tags)
	}
	if !ok {
		key = appendSeriesKey(key, tagged, name, tags)
	}
	sum := a.recent.sum(key)
	if s := set.find(key, sum); s != nil && a.recordLive(s, v) {
		return nil
	}
	a.mu.Lock()
	s, found := a.index[string(key)]
	if !found {
		var err error
		if s, err = a.newSeriesLocked(string(key), name, tags, tagged); err != nil {
			a.mu.Unlock()
			return err
		}
	}
	if s.key == string(key) { // not for a sanitizer alias: its name is not the series'
		set.remember(s, sum)
	}
	a.recordLocked(s, v)
	a.mu.Unlock()
	return nil
}

// recordLive adds v to the hinted series s unless a flush has since forgotten it (then the caller
// goes on to the index, which makes the series anew).
func (a *Aggregator) recordLive(s *aggSeries, v float64) bool {
	a.mu.Lock()
	live := !s.gone
	if live {
		a.recordLocked(s, v)
	}
	a.mu.Unlock()
	return live
}

// recordLocked adds v to s. a.mu is held.
func (a *Aggregator) recordLocked(s *aggSeries, v float64) {
	s.stats.add(v)
	if s.sketches != nil {
		s.sketches.cur.Add(v)
	}
	a.values++
}

// newSeriesLocked validates and creates the series of key. The series is checked by the
// measurement rules (checkMeasurement) as the summary it will send, so that what cannot be sent is
// refused here, at Add. A name the sanitizer changes shares the series of the sanitized name.
// a.mu is held.
func (a *Aggregator) newSeriesLocked(key, name string, tags map[string]string, tagged bool) (*aggSeries, error) {
	if len(a.index) >= a.maxSeries {
		a.overflow++
		return nil, ErrMaxSeries
	}
	probe := Measurement{Name: name, Summary: &Summary{Count: 1}}
	base := a.legacyBase
	if tagged {
		// A copy: the caller's map must not escape through the checks (a map literal built for
		// the call stays on the caller's stack); a new series allocates anyway.
		probe.Tags = make(map[string]string, len(tags))
		for k, v := range tags {
			probe.Tags[k] = v
		}
		base = a.taggedBase
		if len(tags) == 0 && len(base) == 0 && !a.c.appOptics {
			// A tagged series with no tags at all still goes to the tagged API (python-librato's
			// add_tagged does the same, TV8): check it as such.
			base = []tagPair{{"_", "_"}}
		}
	} else {
		probe.Source = a.source
	}
	ck, err := a.c.checkMeasurement(&probe, base, nil, nil)
	if err != nil {
		return nil, err
	}
	clean := ck.name
	var alias string
	if clean != name {
		// Another spelling of a series: share the series of the sanitized name.
		alias, key = key, string(appendSeriesKey(nil, tagged, clean, tags))
		if s, ok := a.index[key]; ok {
			if len(a.index) < a.maxSeries {
				a.index[alias] = s
			}
			return s, nil
		}
	}
	s := &aggSeries{key: key, tagged: tagged}
	if a.newSketch != nil {
		s.sketches = &seriesSketches{cur: a.newSketch()}
	}
	a.index[key] = s
	if alias != "" && len(a.index) < a.maxSeries {
		a.index[alias] = s // else the next value of alias takes this slower path again
	}
	a.series = append(a.series, s)
	return s, nil
}

// Stats returns a snapshot of the aggregator's counters.
func (a *Aggregator) Stats() AggregatorStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return AggregatorStats{Series: len(a.series), Values: a.values, Overflow: a.overflow}
}

// aggSnapshot is one series' state taken out of the aggregator by a flush.
type aggSnapshot struct {
	name   string
	key    string
	tagged bool
	stats  aggStats
	pct    []float64 // one per percentile; NaN when the sketch was empty
	sketch Sketch    // the period's sketch, handed back by release or restore
}

// collect returns the series with values, in the order they were first seen. With reset, their
// values are taken out (sketches swapped for empty ones) and series idle for the whole period are
// forgotten.
func (a *Aggregator) collect(reset bool) []aggSnapshot {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []aggSnapshot
	for _, s := range a.series {
		if s.stats.count == 0 {
			continue
		}
		snap := aggSnapshot{name: s.name(), key: s.key, tagged: s.tagged, stats: s.stats}
		if sk := s.sketches; sk != nil {
			snap.pct = make([]float64, len(a.pcts))
			for j, p := range a.pcts {
				v, ok := sk.cur.Quantile(p / 100)
				if !ok {
					v = math.NaN()
				}
				snap.pct[j] = v
			}
			if reset {
				snap.sketch = sk.cur
				if sk.spare == nil {
					sk.spare = a.newSketch()
				}
				sk.cur, sk.spare = sk.spare, nil
			}
		}
		out = append(out, snap)
	}
	if reset {
		a.resetLocked()
	}
	return out
}

// resetLocked zeroes every series and forgets those that had no values in the period.
func (a *Aggregator) resetLocked() {
	kept := a.series[:0]
	removed := false
	for _, s := range a.series {
		if s.stats.count == 0 {
			s.gone = true // a Series handle on it registers again
			removed = true
			continue
		}
		s.stats = aggStats{}
		kept = append(kept, s)
	}
	clear(a.series[len(kept):])
	a.series = kept
	if removed {
		for k, s := range a.index {
			if s.gone {
				delete(a.index, k)
			}
		}
	}
}

// release recycles the sketches of a flushed snapshot as spares.
func (a *Aggregator) release(snaps []aggSnapshot) {
	if a.newSketch == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, sn := range snaps {
		if sn.sketch == nil {
			continue
		}
		if s, ok := a.index[sn.key]; ok && s.sketches != nil && s.sketches.spare == nil {
			sn.sketch.Reset()
			s.sketches.spare = sn.sketch
		}
	}
}

// restore merges snapshots that could not be sent back into the aggregator, so the next flush
// sends them. A series forgotten in between is re-created (even beyond MaxSeries: the values were
// accepted once).
func (a *Aggregator) restore(snaps []aggSnapshot) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, sn := range snaps {
		s, ok := a.index[sn.key]
		if !ok {
			s = &aggSeries{key: sn.key, tagged: sn.tagged}
			a.index[sn.key] = s
			a.series = append(a.series, s)
		}
		s.stats.merge(sn.stats)
		if sn.sketch != nil {
			if s.sketches == nil { // re-created above
				s.sketches = &seriesSketches{cur: sn.sketch}
			} else {
				s.sketches.cur.Merge(sn.sketch)
			}
		}
	}
}

// measureTimeAt is the time of the measurements of a flush at now: TV8's floor_measure_time.
func (a *Aggregator) measureTimeAt(now time.Time) time.Time {
	t := a.measureTime
	if a.period == 0 {
		return t
	}
	if t.IsZero() {
		t = now
	}
	sec := t.Unix()
	sec -= sec % a.period
	if sec < 0 && t.Unix()%a.period != 0 {
		sec -= a.period // floor, not truncation, before 1970
	}
	return time.Unix(sec, 0)
}

// measurements turns snapshots into Measurements, with idx[j] the snapshot of the j-th one.
func (a *Aggregator) measurements(snaps []aggSnapshot, now time.Time) (ms []Measurement, idx []int) {
	t := a.measureTimeAt(now)
	n := len(snaps) * (1 + len(a.pcts))
	ms = make([]Measurement, 0, n)
	idx = make([]int, 0, n)
	sums := make([]Summary, len(snaps)) // one allocation for all summaries
	extra := make([]float64, 2*len(snaps))
	for j, sn := range snaps {
		st := sn.stats
		// Both optional fields are set: each API's encoder writes its own (legacy sum_squares,
		// tagged last), so a series keeps its detail whichever API its route picks.
		extra[2*j], extra[2*j+1] = st.sumsq, st.last
		sums[j] = Summary{Count: st.count, Sum: st.sum, Min: st.min, Max: st.max,
			SumSquares: &extra[2*j], Last: &extra[2*j+1]}
		m := Measurement{Name: sn.name, Time: t, Summary: &sums[j]}
		if sn.tagged {
			m.Tags = a.seriesTags(sn.key)
		} else {
			m.Source = a.source
		}
		ms = append(ms, m)
		idx = append(idx, j)
		for k, v := range sn.pct {
			if math.IsNaN(v) {
				continue
			}
			p := Measurement{Name: sn.name + a.pctNames[k], Value: v, Time: t, Source: m.Source, Tags: m.Tags}
			ms = append(ms, p)
			idx = append(idx, j)
		}
	}
	return ms, idx
}

// seriesTags is the tag set a tagged series is sent with: the aggregator's tags under its own.
func (a *Aggregator) seriesTags(key string) map[string]string {
	t := make(map[string]string, len(a.tags)+4)
	for k, v := range a.tags {
		t[k] = v
	}
	keyTags(key, func(k, v string) bool {
		t[k] = v
		return true
	})
	if len(t) == 0 {
		return nil
	}
	return t
}

// Measurements returns one summary measurement per series with values (plus its percentile
// gauges), without resetting anything. Legacy series carry the Source and Summary.SumSquares,
// tagged ones their tags (the aggregator's under the series') and Summary.Last. The time is
// MeasureTime, floored to Period when set (the current time floored when MeasureTime is zero).
func (a *Aggregator) Measurements() []Measurement {
	ms, _ := a.measurements(a.collect(false), a.c.now())
	return ms
}

// Reset drops every value recorded so far.
func (a *Aggregator) Reset() {
	a.release(a.collect(true))
}

// Submit sends the summaries of every series with values and resets them, through the same
// machinery as a Queue: chunks, the 400 split that isolates rejected series, no resend of accepted
// chunks. What could not be sent for a transient reason (network, 5xx, 429, ctx) is merged back
// into the aggregator, so the next Submit sends it with the newer values.
func (a *Aggregator) Submit(ctx context.Context) error {
	snaps := a.collect(true)
	if len(snaps) == 0 {
		return nil
	}
	ms, idx := a.measurements(snaps, a.c.now())
	b, invalid := a.c.encodeBatch(ms, sortedTags(a.c.tags, nil), true)
	res := a.c.sendBatch(ctx, b)
	if len(res.unsent) > 0 {
		// Restore each snapshot whose summary was not sent; a percentile gauge alone not sent
		// is lost with its sketch's period (it cannot be separated from the summary).
		back := make([]aggSnapshot, 0, len(res.unsent))
		seen := make(map[int]bool, len(res.unsent))
		for _, pos := range res.unsent {
			k := b.order[pos]
			j := idx[k]
			if !seen[j] && ms[k].Summary != nil {
				seen[j] = true
				back = append(back, snaps[j])
				snaps[j].sketch = nil
			}
		}
		a.restore(back)
	}
	errs := make([]error, 0, len(invalid)+1)
	for _, e := range invalid {
		errs = append(errs, e)
	}
	errs = append(errs, joinRejected(res.rejected, res.err))
	errs = append(errs, res.notes...)
	a.release(snaps)
	return errors.Join(errs...)
}
