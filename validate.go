package librato

import (
	"encoding/json"
	"fmt"
	"hash/maphash"
	"math"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Bounds on what a measurement may carry, beyond the name and tag rules of sanitize.go.
const (
	// maxAbsValue: the API rejects a whole request when a number has a base-10 exponent above 126
	// (testdata/README.md, "Limits"), so one such value would poison a batch. Refuse it up front.
	maxAbsValue = 1e127
	// maxFuture is how far ahead of the client's clock a measurement time may be. The server's own
	// window is undocumented; ten minutes tolerates clock skew but catches milliseconds-as-seconds.
	maxFuture = 10 * time.Minute
)

// minTime is the earliest measurement time accepted: anything before 1971 is a unit mistake
// (seconds vs milliseconds, or a zero-ish time), not a real sample.
var minTime = time.Date(1971, 1, 1, 0, 0, 0, 0, time.UTC)

// Where a measurement goes: the legacy API (POST metrics, gauges and counters in two arrays of one
// body) or the tagged API (POST measurements). A chunk goes to one of them. array numbers the
// arrays of a body: a legacy counter is in the second, everything else in the first.
const (
	arrayGauges   = 0
	arrayCounters = 1
)

// arrayOf is the body array of m.
func arrayOf(m *Measurement) int {
	if m.Type == Counter {
		return arrayCounters
	}
	return arrayGauges
}

// tagPair is one tag of a merged, sorted tag set.
type tagPair struct{ k, v string }

// inlineTags is how many merged tags a caller's scratch space for checkMeasurement usually holds
// (an array on its stack): more take an allocation.
const inlineTags = 8

// checked is what checkMeasurement learned of a valid measurement: its sanitized name, where it
// goes, its merged tags (the measurement's own over the defaults, sorted by name) and its
// attributes as JSON. Encoding reads it instead of the measurement's maps, which are read once.
type checked struct {
	name   string
	tagged bool
	tags   []tagPair // in the caller's scratch, or the defaults themselves when the measurement has none
	attrs  []byte
	layout *tagLayout // when the name and tag names were found in a Queue's memory: their JSON
}

// checkValue is the rule for a measurement's value: a finite number the API can store.
func checkValue(v float64) error {
	if !(math.Abs(v) < maxAbsValue) { // false for NaN and ±Inf too
		return checkNumber("value", v)
	}
	return nil
}

// checkTime is the rule for a measurement's time (the zero time is "not set").
func (c *Client) checkTime(t time.Time) error {
	if t.IsZero() {
		return nil
	}
	if t.Before(minTime) {
		return &ValidationError{Field: "time", Value: t.UTC().Format(time.RFC3339),
			Reason: "is before 1971 (seconds and milliseconds mixed up?)"}
	}
	if limit := c.now().Add(maxFuture); t.After(limit) {
		return &ValidationError{Field: "time", Value: t.UTC().Format(time.RFC3339),
			Reason: "is more than " + maxFuture.String() + " in the future"}
	}
	return nil
}

// checkMeasurement is the one copy of the measurement rules, used by Submit, Queue.Add and the
// Aggregator: it applies the client's sanitizer to the name and checks the name, source, tags,
// finite numbers, the Value/Summary exclusivity, summary consistency, counters (legacy only),
// period, time, and what depends on the route: a measurement for the tagged API (it has tags, the
// defaults have tags, or the client is AppOptics) is no counter, has no source, and its merged tag
// set stays within MaxTags. base is the default tag set under the measurement's own (a queue's
// over the client's), sorted and already valid. It returns a *ValidationError (wrapping
// ErrInvalid) or an error of ValidateTags describing the first problem; the caller adds the
// position. It reads m.Tags once, merging into scratch (the caller's space, usually an array of
// inlineTags on its stack), and allocates only when that is too small. (The result is returned,
// not written through a pointer, so that scratch can stay on the caller's stack.)
//
// seen, when not nil, is the caller's memory of measurements it checked before (a Queue's): a
// measurement with a name and tag names seen before skips the name check and the reading and
// sorting of its tag names, but every tag value is still checked; see tagLayouts.
func (c *Client) checkMeasurement(m *Measurement, base, scratch []tagPair, seen *tagLayouts) (checked, error) {
	// The parts are kept in separate variables until the end: escape analysis follows a struct as
	// a whole, and the name going into an error would otherwise take scratch to the heap.
	var name string
	var tags []tagPair
	layout, found := seen.find(m.Name, m.Tags, scratch)
	if layout != nil {
		name, tags = layout.name, found
	}
	if tags == nil {
		name = c.sanitize(m.Name)
		if !validChars(name, 1, MaxMetricNameLength, className) {
			return checked{}, ValidateMetricName(name)
		}
	}
	tagged := c.appOptics || len(m.Tags) > 0 || len(base) > 0
	switch {
	case m.Type != Gauge && m.Type != Counter:
		return checked{}, &ValidationError{Field: "type", Value: m.Type.String(), Reason: "must be Gauge or Counter"}
	case tagged && m.Type == Counter:
		return checked{}, &ValidationError{Field: "type", Value: "counter",
			Reason: "counters exist only in the legacy API; this measurement goes to the tagged API (it has tags, or the client or queue has tags, or the client is AppOptics)"}
	}
	if m.Source != "" {
		if tagged {
			return checked{}, &ValidationError{Field: "source", Value: m.Source,
				Reason: "the tagged API has no sources (it rejects the field); put it in a tag"}
		}
		if err := ValidateSource(m.Source); err != nil {
			return checked{}, err
		}
	}
	var err error
	if tags == nil {
		if tags, err = mergeTags(m.Tags, base, scratch); err != nil {
			return checked{}, err
		}
		if len(m.Tags) > 0 {
			seen.learn(m.Name, name, m.Tags, tags)
		}
	}
	if s := m.Summary; s != nil {
		if err := checkSummary(m, s); err != nil {
			return checked{}, err
		}
	} else if err := checkValue(m.Value); err != nil {
		return checked{}, err
	}
	if m.Period < 0 || m.Period%time.Second != 0 {
		return checked{}, &ValidationError{Field: "period", Value: m.Period.String(),
			Reason: "must be zero or a positive whole number of seconds"}
	}
	if err := c.checkTime(m.Time); err != nil {
		return checked{}, err
	}
	var attrs []byte
	if len(m.Attributes) > 0 {
		// Free-form and nested: encoding/json is the right tool, once, here.
		if attrs, err = json.Marshal(m.Attributes); err != nil {
			return checked{}, &ValidationError{Field: "attributes", Value: fmt.Sprint(len(m.Attributes)) + " attributes",
				Reason: "cannot be encoded as JSON: " + err.Error()}
		}
	}
	return checked{name: name, tagged: tagged, tags: tags, attrs: attrs, layout: layout}, nil
}

// tagLayouts remembers, for a few (name, tag names) pairs, the checked name and the layout of the
// merged tags, so that a measurement like one checked before is checked with one map lookup and one
// value check per tag instead of reading, checking and sorting its map. It is keyed by content only
// (a hash of the name and the tag count picks the slot; the name is compared, and every tag name
// of the layout must be in the map, which has as many tags): the map may be new or changed at
// every call. Lock-free; a slot is replaced only after it missed several times in a row, so call
// sites that share a slot do not allocate a layout at every call.
type tagLayouts struct {
	seed  maphash.Seed
	base  []tagPair // the defaults the layouts were merged with
	slots [layoutSlots]layoutSlot
}

const (
	layoutSlots   = 256
	layoutPatient = 4 // misses in a row before a slot's layout is replaced
)

type layoutSlot struct {
	p      atomic.Pointer[tagLayout]
	misses atomic.Uint32
}

// tagLayout is the merged tag list of a name and a set of tag names: pairs sorted by name, own[i]
// set for the measurement's own tags (their values are looked up), the others the defaults'. It
// keeps the JSON of what it knows, so that encoding a measurement of the layout appends it instead
// of escaping the same name and tag names again: head is `{"name":"…"`, and json[i] the JSON before
// own tag i's value (`,"tags":{"host":` for the first, `,"host":` after) or the whole of default tag
// i's pair.
type tagLayout struct {
	raw, name string // the name as given, and checked (sanitized)
	nOwn      int
	pairs     []tagPair
	own       []bool
	head      string
	json      []string
}

func newTagLayouts(base []tagPair) *tagLayouts {
	return &tagLayouts{seed: maphash.MakeSeed(), base: base}
}

func (ls *tagLayouts) slot(raw string, n int) *layoutSlot {
	return &ls.slots[(maphash.String(ls.seed, raw)+uint64(n))%layoutSlots]
}

// find returns the layout remembered for raw and own, and own's merged tags filled in scratch
// (see fill); nil when there is none or own does not fit it, which counts as a miss of the slot.
func (ls *tagLayouts) find(raw string, own map[string]string, scratch []tagPair) (*tagLayout, []tagPair) {
	if ls == nil || len(own) == 0 {
		return nil, nil
	}
	s := ls.slot(raw, len(own))
	if l := s.p.Load(); l != nil && l.nOwn == len(own) && l.raw == raw {
		if tags := l.fill(own, scratch); tags != nil {
			return l, tags
		}
	}
	s.misses.Add(1)
	return nil, nil
}

// fill returns the merged tags of own in the layout, in scratch, or nil when own does not have the
// layout's tag names or a value is invalid (then the full check says what is wrong).
func (l *tagLayout) fill(own map[string]string, scratch []tagPair) []tagPair {
	tags := scratch[:0]
	if cap(tags) < len(l.pairs) {
		tags = make([]tagPair, 0, len(l.pairs))
	}
	for i, p := range l.pairs {
		if l.own[i] {
			v, ok := own[p.k]
			if !ok || !validChars(v, 1, MaxTagValueLength, classTagValue) {
				return nil
			}
			p.v = v
		}
		tags = append(tags, p)
	}
	return tags
}

// learn remembers the layout of a checked measurement: raw its name as given, name as checked,
// own its tags, merged the result of mergeTags.
func (ls *tagLayouts) learn(raw, name string, own map[string]string, merged []tagPair) {
	if ls == nil {
		return
	}
	s := ls.slot(raw, len(own))
	if s.p.Load() != nil && s.misses.Load() < layoutPatient {
		return
	}
	// Copies of the strings: nothing of the caller's is kept.
	l := &tagLayout{raw: strings.Clone(raw), name: strings.Clone(name), nOwn: len(own),
		pairs: make([]tagPair, len(merged)), own: make([]bool, len(merged)), json: make([]string, len(merged))}
	l.head = string(appendString([]byte(`{"name":`), l.name))
	for i, p := range merged {
		p.k = strings.Clone(p.k)
		js := []byte(`,`)
		if i == 0 {
			js = []byte(`,"tags":{`)
		}
		js = append(appendString(js, p.k), ':')
		if _, mine := own[p.k]; mine {
			l.own[i] = true
			p.v = ""
		} else {
			js = appendString(js, p.v)
		}
		l.pairs[i] = p
		l.json[i] = string(js)
	}
	s.p.Store(l)
	s.misses.Store(0)
}

// mergeTags validates own and returns own over base, sorted by name, in scratch (or base itself
// when own is empty). own is read once.
func mergeTags(own map[string]string, base, scratch []tagPair) ([]tagPair, error) {
	if len(own) == 0 {
		if len(base) > MaxTags {
			return nil, tooManyTags(len(base))
		}
		return base, nil
	}
	if len(own) > MaxTags {
		return nil, ValidateTags(own)
	}
	tags := scratch[:0]
	if n := len(own) + len(base); cap(tags) < n {
		tags = make([]tagPair, 0, n)
	}
	for k, v := range own {
		if !validChars(k, 1, MaxTagNameLength, className) || !validChars(v, 1, MaxTagValueLength, classTagValue) {
			return nil, ValidateTags(own) // says what is wrong, in a deterministic order
		}
		tags = append(tags, tagPair{k, v})
	}
	sortTags(tags)
	if len(base) == 0 {
		return tags, nil
	}
	// Add the defaults the measurement does not override, and sort again.
	n := len(tags)
	for _, b := range base {
		if _, found := searchTags(tags[:n], b.k); !found {
			tags = append(tags, b)
		}
	}
	if len(tags) > n {
		sortTags(tags)
	}
	if len(tags) > MaxTags {
		return nil, tooManyTags(len(tags))
	}
	return tags, nil
}

// searchTags finds name in tags (sorted by name).
func searchTags(tags []tagPair, name string) (int, bool) {
	lo, hi := 0, len(tags)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if tags[mid].k < name {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo, lo < len(tags) && tags[lo].k == name
}

func tooManyTags(n int) error {
	return &ValidationError{Field: "tags", Value: strconv.Itoa(n) + " tags",
		Reason: fmt.Sprintf("%d tags after merging measurement, queue and client tags, at most %d allowed", n, MaxTags)}
}

// sortedTags returns tags as a sorted tag list (nil for none), for the defaults of a queue or
// client: own over lower.
func sortedTags(own, lower map[string]string) []tagPair {
	var out []tagPair
	for k, v := range own {
		out = append(out, tagPair{k, v})
	}
	for k, v := range lower {
		if _, ok := own[k]; !ok {
			out = append(out, tagPair{k, v})
		}
	}
	sortTags(out)
	return out
}

// sortTags sorts by name: insertion sort, since sets are small (≤ 50) and usually a handful, and it
// neither allocates nor moves the slice to the heap.
func sortTags(t []tagPair) {
	for i := 1; i < len(t); i++ {
		x := t[i]
		j := i
		for ; j > 0 && x.k < t[j-1].k; j-- {
			t[j] = t[j-1]
		}
		t[j] = x
	}
}

// checkSummary validates a pre-aggregated measurement.
func checkSummary(m *Measurement, s *Summary) error {
	if m.Value != 0 {
		return &ValidationError{Field: "value", Value: formatNumber(m.Value),
			Reason: "must be 0 when Summary is set (a measurement is a value or a summary, not both)"}
	}
	if m.Type == Counter {
		return &ValidationError{Field: "type", Value: "counter", Reason: "a counter cannot carry a Summary (summaries are gauges)"}
	}
	if s.Count < 1 {
		return &ValidationError{Field: "summary count", Value: strconv.FormatInt(s.Count, 10), Reason: "must be at least 1"}
	}
	for _, f := range [...]struct {
		name string
		v    float64
	}{{"summary sum", s.Sum}, {"summary min", s.Min}, {"summary max", s.Max}} {
		if err := checkNumber(f.name, f.v); err != nil {
			return err
		}
	}
	if s.Min > s.Max {
		return &ValidationError{Field: "summary min", Value: formatNumber(s.Min),
			Reason: "is greater than max " + formatNumber(s.Max)}
	}
	if s.SumSquares != nil {
		if err := checkNumber("summary sum_squares", *s.SumSquares); err != nil {
			return err
		}
		if *s.SumSquares < 0 {
			return &ValidationError{Field: "summary sum_squares", Value: formatNumber(*s.SumSquares),
				Reason: "must not be negative (it is a sum of squares)"}
		}
	}
	if s.Last != nil {
		if err := checkNumber("summary last", *s.Last); err != nil {
			return err
		}
	}
	if s.Stddev != nil {
		if err := checkNumber("summary stddev", *s.Stddev); err != nil {
			return err
		}
		if *s.Stddev < 0 {
			return &ValidationError{Field: "summary stddev", Value: formatNumber(*s.Stddev),
				Reason: "must not be negative (it is a standard deviation)"}
		}
	}
	return nil
}

// checkNumber rejects what JSON cannot carry (NaN, ±Inf) and what the API refuses (|v| ≥ 1e127).
func checkNumber(field string, v float64) error {
	switch {
	case math.IsNaN(v):
		return &ValidationError{Field: field, Value: "NaN", Reason: "must be a finite number"}
	case math.IsInf(v, 0):
		return &ValidationError{Field: field, Value: formatNumber(v), Reason: "must be a finite number"}
	case math.Abs(v) >= maxAbsValue:
		return &ValidationError{Field: field, Value: formatNumber(v),
			Reason: "is too large for the API (base-10 exponent above 126 fails the whole request)"}
	}
	return nil
}

func formatNumber(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// maxListed bounds how many measurements the message of a SubmitError spells out.
const maxListed = 10
