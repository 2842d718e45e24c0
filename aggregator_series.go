package librato

import "math"

// AggregatorSeries is a handle to one series of an Aggregator, for the hottest call sites: its Add skips
// building and looking up the series key (and, for a tagged series, reading the tag map), so it
// costs a lock and a few additions. Get one with Aggregator.Series or Aggregator.TaggedSeries and
// keep it. A series forgotten by the aggregator (no value for a whole period) is registered again
// by the next Add. It is safe for concurrent use.
type AggregatorSeries struct {
	a      *Aggregator
	key    string
	name   string
	tags   map[string]string // own copy, to register the series again
	tagged bool
	s      *aggSeries // guarded by a.mu
}

// Series returns the handle of the legacy series name (what Add(name, v) records into).
func (a *Aggregator) Series(name string) (*AggregatorSeries, error) {
	return a.handle(name, nil, false)
}

// TaggedSeries returns the handle of the tagged series of name and tags (what
// AddTagged(name, v, tags) records into). tags is copied.
func (a *Aggregator) TaggedSeries(name string, tags map[string]string) (*AggregatorSeries, error) {
	return a.handle(name, tags, true)
}

func (a *Aggregator) handle(name string, tags map[string]string, tagged bool) (*AggregatorSeries, error) {
	h := &AggregatorSeries{a: a, key: string(appendSeriesKey(nil, tagged, name, tags)), name: name, tagged: tagged}
	if len(tags) > 0 {
		h.tags = make(map[string]string, len(tags))
		for k, v := range tags {
			h.tags[k] = v
		}
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := h.attachLocked(); err != nil {
		return nil, err
	}
	return h, nil
}

// attachLocked points the handle at its series, creating it if needed. a.mu is held.
func (h *AggregatorSeries) attachLocked() error {
	if s, ok := h.a.index[h.key]; ok {
		h.s = s
		return nil
	}
	s, err := h.a.newSeriesLocked(h.key, h.name, h.tags, h.tagged)
	if err != nil {
		return err
	}
	h.s = s
	return nil
}

// Add records v in the series. It returns an error for NaN or ±Inf, and ErrMaxSeries when the
// series had been forgotten and the aggregator is full.
func (h *AggregatorSeries) Add(v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return &ValidationError{Field: "value", Value: formatNumber(v), Reason: "must be a finite number"}
	}
	a := h.a
	a.mu.Lock()
	if h.s.gone {
		if err := h.attachLocked(); err != nil {
			a.mu.Unlock()
			return err
		}
	}
	a.recordLocked(h.s, v)
	a.mu.Unlock()
	return nil
}
