package libratotest

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// state is everything the metric endpoints store. It is what Snapshot
// writes, so every field is exported and JSON-encodable. Guarded by
// Server.mu.
type state struct {
	// Metrics by lower-cased name (names are case-insensitive).
	Metrics map[string]*metric `json:"metrics"`
	// Series by seriesKey.
	Series map[string]*series `json:"series"`
}

func newState() *state {
	return &state{Metrics: map[string]*metric{}, Series: map[string]*series{}}
}

// metric is a metric's metadata.
type metric struct {
	Name        string         `json:"name"`
	Type        string         `json:"type"` // gauge, counter or composite
	DisplayName *string        `json:"display_name"`
	Description *string        `json:"description"`
	Period      *int64         `json:"period"`
	Attributes  map[string]any `json:"attributes"`
	Composite   *string        `json:"composite,omitempty"`
}

// series is the points of one stream: a legacy (metric, source) pair or a
// tagged (metric, tag set) pair.
//
// A stored series is kept small, as there may be millions: its tags live in
// its key only (tags() rebuilds them), its metric name is a part of the key,
// and its points are a slice sorted by time. Snapshots keep the JSON shape of
// version 1 (see MarshalJSON).
type series struct {
	Metric string // lower-cased metric name
	Tagged bool
	Source string // as first posted; "" = unassigned
	// Tags is set on the prototype given to addPoint; a stored series has nil
	// here and answers tags().
	Tags   map[string]string
	Points points // sorted by time, one per Unix second
	key    string // its key in state.Series
}

// tags returns a new map of a tagged series' tags (nil for a legacy one),
// read from its key: "t\x00metric\x00name=value\x00...". Tag names hold no
// '=' and values no NUL (validate.go), so the key is unambiguous.
func (se *series) tags() map[string]string {
	if !se.Tagged {
		return nil
	}
	if se.Tags != nil {
		return maps.Clone(se.Tags)
	}
	rest := strings.TrimPrefix(se.key, "t\x00")
	_, rest, _ = strings.Cut(rest, "\x00") // the metric name
	out := map[string]string{}
	for pair := range strings.SplitSeq(rest, "\x00") {
		if k, v, ok := strings.Cut(pair, "="); ok {
			out[k] = v
		}
	}
	return out
}

// tag returns the value of one tag of the series, reading its key without
// allocating (matching many series by tag must not build a map for each).
func (se *series) tag(name string) (string, bool) {
	if !se.Tagged {
		return "", false
	}
	if se.Tags != nil {
		v, ok := se.Tags[name]
		return v, ok
	}
	rest := strings.TrimPrefix(se.key, "t\x00")
	_, rest, _ = strings.Cut(rest, "\x00") // the metric name
	for rest != "" {
		var pair string
		pair, rest, _ = strings.Cut(rest, "\x00")
		if k, v, ok := strings.Cut(pair, "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}

// seriesJSON is the snapshot form of a series (version 1).
type seriesJSON struct {
	Metric string            `json:"metric"`
	Tagged bool              `json:"tagged"`
	Source string            `json:"source,omitempty"`
	Tags   map[string]string `json:"tags,omitempty"`
	Points points            `json:"points"`
}

// MarshalJSON writes the version 1 snapshot form.
func (se *series) MarshalJSON() ([]byte, error) {
	return json.Marshal(seriesJSON{Metric: se.Metric, Tagged: se.Tagged, Source: se.Source, Tags: se.tags(), Points: se.Points})
}

// UnmarshalJSON reads the version 1 snapshot form; Restore then checks the
// series against its key and compacts it.
func (se *series) UnmarshalJSON(b []byte) error {
	var j seriesJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*se = series{Metric: j.Metric, Tagged: j.Tagged, Source: j.Source, Tags: j.Tags, Points: j.Points}
	return nil
}

// point is one point of a series at Unix second t.
type point struct {
	t int64
	agg
}

// points are a series' points, sorted by time. In JSON they are an object
// keyed by Unix second, {"1500000000":{"count":1,...}}.
type points []point

// at returns the point at t, adding a zero one in its place if there is none.
func (ps *points) at(t int64) *agg {
	s := *ps
	i := sort.Search(len(s), func(i int) bool { return s[i].t >= t })
	if i < len(s) && s[i].t == t {
		return &s[i].agg
	}
	s = slices.Insert(s, i, point{t: t})
	*ps = s
	return &s[i].agg
}

// MarshalJSON writes the points as an object keyed by Unix second.
func (ps points) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, p := range ps {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '"')
		b = strconv.AppendInt(b, p.t, 10)
		b = append(b, '"', ':')
		a, err := json.Marshal(p.agg)
		if err != nil {
			return nil, err
		}
		b = append(b, a...)
	}
	return append(b, '}'), nil
}

// UnmarshalJSON reads an object keyed by Unix second; a null point is an error.
func (ps *points) UnmarshalJSON(b []byte) error {
	var m map[int64]*agg
	if err := json.Unmarshal(b, &m); err != nil {
		return err
	}
	out := make(points, 0, len(m))
	for t, a := range m {
		if a == nil {
			return fmt.Errorf("point %d is null", t)
		}
		out = append(out, point{t: t, agg: *a})
	}
	slices.SortFunc(out, func(a, b point) int { return cmp.Compare(a.t, b.t) })
	*ps = out
	return nil
}

// compact makes se a stored series under key: its tags dropped (the key holds
// them) and its metric name shared with the key.
func (se *series) compact(key string) {
	se.key = key
	se.Tags = nil
	if m, ok := strings.CutPrefix(key[min(2, len(key)):], se.Metric); ok && (m == "" || m[0] == 0) {
		se.Metric = key[2 : 2+len(se.Metric)]
	}
}

// agg is one point, or the combination of several samples.
type agg struct {
	Count      int64   `json:"count"`
	Sum        float64 `json:"sum"`
	Min        float64 `json:"min"`
	Max        float64 `json:"max"`
	Last       float64 `json:"last"`
	SumSquares float64 `json:"sum_squares"`
	// Complex is set when a sample arrived as summary fields or samples were
	// combined: such points are served with count, sum, min and max.
	Complex bool `json:"complex,omitempty"`
}

// sample returns the agg of a single value v.
func sample(v float64) agg {
	return agg{Count: 1, Sum: v, Min: v, Max: v, Last: v, SumSquares: v * v}
}

// merge combines o into a (o arrived later).
func (a *agg) merge(o agg) {
	if a.Count == 0 {
		*a = o
		return
	}
	a.Count += o.Count
	a.Sum += o.Sum
	a.Min = math.Min(a.Min, o.Min)
	a.Max = math.Max(a.Max, o.Max)
	a.Last = o.Last
	a.SumSquares += o.SumSquares
	a.Complex = true
}

// mean is sum/count.
func (a agg) mean() float64 {
	if a.Count == 0 {
		return 0
	}
	return a.Sum / float64(a.Count)
}

// stddev is the population standard deviation from sum_squares.
func (a agg) stddev() float64 {
	if a.Count == 0 {
		return 0
	}
	m := a.mean()
	v := a.SumSquares/float64(a.Count) - m*m
	if v < 0 {
		return 0
	}
	return math.Sqrt(v)
}

// legacyKey and taggedKey identify a series in state.Series.
func legacyKey(metric, source string) string {
	return "s\x00" + strings.ToLower(metric) + "\x00" + strings.ToLower(source)
}

func taggedKey(metric string, tags map[string]string) string {
	var b strings.Builder
	b.WriteString("t\x00")
	b.WriteString(strings.ToLower(metric))
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		b.WriteString("\x00")
		b.WriteString(k)
		b.WriteString("=")
		b.WriteString(tags[k])
	}
	return b.String()
}

// addPoint stores a sample for the series at t, combining it with a point
// already there. Callers hold s.mu.
func (st *state) addPoint(key string, proto series, t int64, a agg) {
	se := st.Series[key]
	if se == nil {
		se = &proto
		se.Points = nil
		se.compact(key)
		st.Series[key] = se
	}
	se.Points.at(t).merge(a)
}

// seriesOf returns the metric's series of one kind, in a stable order.
func (st *state) seriesOf(name string, tagged bool) []*series {
	lname := strings.ToLower(name)
	var out []*series
	var keys []string
	for k, se := range st.Series {
		if se.Metric == lname && se.Tagged == tagged {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		out = append(out, st.Series[k])
	}
	return out
}

// deleteMetric removes a metric and all its series.
func (st *state) deleteMetric(name string) {
	lname := strings.ToLower(name)
	delete(st.Metrics, lname)
	for k, se := range st.Series {
		if se.Metric == lname {
			delete(st.Series, k)
		}
	}
}

// areaState is another area's contribution to Snapshot, Restore and Reset.
type areaState struct {
	name  string
	save  func() (json.RawMessage, error)
	load  func(json.RawMessage) error
	reset func()
}

// addState registers an area's state (alerts, annotations, ...) so that
// Snapshot saves it under name, Restore loads it and Reset clears it. save,
// load and reset are called with s.mu held. Call it from the area's register
// function.
func (s *Server) addState(name string, save func() (json.RawMessage, error), load func(json.RawMessage) error, reset func()) {
	s.areas = append(s.areas, areaState{name, save, load, reset})
}

// snapshot is the JSON document of Snapshot.
type snapshot struct {
	Version int                        `json:"version"`
	Time    int64                      `json:"time"`
	LastID  int64                      `json:"last_id"`
	Metrics *state                     `json:"metrics"`
	Areas   map[string]json.RawMessage `json:"areas,omitempty"`
}

// Snapshot returns the server's whole stored state as JSON (metrics, points,
// and the state of every other area), for Restore. It does not include the
// request log or fault settings.
func (s *Server) Snapshot() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := snapshot{Version: 1, Time: s.now().Unix(), LastID: s.lastID, Metrics: s.st, Areas: map[string]json.RawMessage{}}
	for _, a := range s.areas {
		b, err := a.save()
		if err != nil {
			return nil, fmt.Errorf("libratotest: snapshot %s: %w", a.name, err)
		}
		snap.Areas[a.name] = b
	}
	return json.Marshal(snap)
}

// Restore replaces the server's stored state with a Snapshot. A snapshot
// that does not decode changes nothing; if an area's own loader refuses its
// part, the metrics are already restored and that area may be partly
// restored.
func (s *Server) Restore(data []byte) error {
	var snap snapshot
	if err := json.Unmarshal(data, &snap); err != nil {
		return fmt.Errorf("libratotest: restore: %w", err)
	}
	if snap.Version != 1 {
		return fmt.Errorf("libratotest: restore: unsupported snapshot version %d", snap.Version)
	}
	st := snap.Metrics
	if st == nil {
		st = newState()
	}
	if st.Metrics == nil {
		st.Metrics = map[string]*metric{}
	}
	if st.Series == nil {
		st.Series = map[string]*series{}
	}
	for k, m := range st.Metrics {
		if m == nil {
			return errors.New("libratotest: restore: metric " + k + " is null")
		}
	}
	for k, se := range st.Series {
		if se == nil || len(se.Points) == 0 {
			return errors.New("libratotest: restore: series " + k + " has no points")
		}
		want := legacyKey(se.Metric, se.Source)
		if se.Tagged {
			want = taggedKey(se.Metric, se.Tags)
		}
		if k != want {
			return fmt.Errorf("libratotest: restore: series %q does not match its metric, source and tags", k)
		}
		se.compact(k)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st = st
	s.lastID = snap.LastID
	for _, a := range s.areas {
		if b, ok := snap.Areas[a.name]; ok {
			if err := a.load(b); err != nil {
				return fmt.Errorf("libratotest: restore %s: %w", a.name, err)
			}
		} else {
			a.reset()
		}
	}
	return nil
}

// Reset forgets every stored metric, point and object of the other areas,
// the request log and every injected fault. Credentials, options and the
// clock stay.
func (s *Server) Reset() {
	s.mu.Lock()
	s.st = newState()
	for _, a := range s.areas {
		a.reset()
	}
	s.mu.Unlock()
	s.cfgMu.Lock()
	s.requests = nil
	s.faults = faults{}
	s.cfgMu.Unlock()
}

// Point is a stored point of a series, for tests (see Measurements).
type Point struct {
	Name   string
	Source string            // legacy series; "" when unassigned or tagged
	Tags   map[string]string // tagged series; nil for legacy ones
	Time   time.Time
	// Value is the mean (Sum/Count) for gauges and the last value for
	// counters, as the API serves it.
	Value      float64
	Count      int64
	Sum        float64
	Min        float64
	Max        float64
	Last       float64
	SumSquares float64
}

// Measurements returns every stored point of the named metric (legacy and
// tagged series, raw, before any rollup), ordered by series and time.
func (s *Server) Measurements(name string) []Point {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.st.Metrics[strings.ToLower(name)]
	var out []Point
	for _, tagged := range []bool{false, true} {
		for _, se := range s.st.seriesOf(name, tagged) {
			for _, pt := range se.Points {
				a := pt.agg
				p := Point{Name: name, Source: se.Source, Time: time.Unix(pt.t, 0).UTC(),
					Value: pointValue(m, a), Count: a.Count, Sum: a.Sum, Min: a.Min, Max: a.Max,
					Last: a.Last, SumSquares: a.SumSquares}
				if m != nil {
					p.Name = m.Name
				}
				if tagged {
					p.Tags = se.tags()
				}
				out = append(out, p)
			}
		}
	}
	return out
}

// pointValue is the value the API serves for a point of m.
func pointValue(m *metric, a agg) float64 {
	if m != nil && m.Type == "counter" {
		return a.Last
	}
	return a.mean()
}

// Metric is a metric's metadata, for tests (see Server.Metric).
type Metric struct {
	Name        string
	Type        string // "gauge", "counter" or "composite"
	DisplayName string
	Description string
	Period      int64
	Attributes  map[string]any
	Composite   string
}

// Metric returns the named metric's metadata (names are case-insensitive)
// and whether it exists.
func (s *Server) Metric(name string) (Metric, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.st.Metrics[strings.ToLower(name)]
	if m == nil {
		return Metric{}, false
	}
	out := Metric{Name: m.Name, Type: m.Type, Attributes: maps.Clone(m.Attributes)}
	if m.DisplayName != nil {
		out.DisplayName = *m.DisplayName
	}
	if m.Description != nil {
		out.Description = *m.Description
	}
	if m.Period != nil {
		out.Period = *m.Period
	}
	if m.Composite != nil {
		out.Composite = *m.Composite
	}
	return out, true
}

// seriesAdmission checks the series one request would create against the server's limit
// (WithMaxSeries). Callers hold s.mu from admitSeries until the points are stored.
type seriesAdmission struct {
	st    *state
	limit int
	fresh map[string]struct{}
}

// admitSeries starts the check of one request's new series.
func (s *Server) admitSeries() *seriesAdmission {
	return &seriesAdmission{st: s.st, limit: s.maxSeries}
}

// add admits the series key: one that exists, or a new one that fits under the limit. Past the
// limit it adds the 400's parameter error under "series".
func (a *seriesAdmission) add(key string, bad paramErrors) {
	if a.limit <= 0 {
		return
	}
	if _, ok := a.st.Series[key]; ok {
		return
	}
	if _, ok := a.fresh[key]; ok {
		return
	}
	if len(a.st.Series)+len(a.fresh) >= a.limit {
		bad.add("series", fmt.Sprintf("would exceed the limit of %d series", a.limit))
		return
	}
	if a.fresh == nil {
		a.fresh = map[string]struct{}{}
	}
	a.fresh[key] = struct{}{}
}
