package libratotest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strconv"
)

// legacyPayload is the body of POST /v1/metrics (JSON or form-encoded).
type legacyPayload struct {
	Gauges      json.RawMessage `json:"gauges"`
	Counters    json.RawMessage `json:"counters"`
	Source      *string         `json:"source"`
	MeasureTime *flexInt        `json:"measure_time"`
	metricProps
}

// legacyMeasurement is one gauge or counter of POST /v1/metrics. Unknown
// fields are ignored, as the real endpoint does.
type legacyMeasurement struct {
	Name        *string    `json:"name"`
	Value       *flexFloat `json:"value"`
	MeasureTime *flexInt   `json:"measure_time"`
	Source      *string    `json:"source"`
	Count       *flexInt   `json:"count"`
	Sum         *flexFloat `json:"sum"`
	Min         *flexFloat `json:"min"`
	Max         *flexFloat `json:"max"`
	SumSquares  *flexFloat `json:"sum_squares"`
	metricProps
}

// legacyItem is a decoded measurement ready to store.
type legacyItem struct {
	typ    string
	name   string
	source string
	t      int64
	point  agg
	props  metricProps
}

// decodeLegacyList decodes gauges or counters in any of the three shapes of
// TV5: an array, a hash keyed by metric name, or a hash keyed by index whose
// values carry "name".
func decodeLegacyList(raw json.RawMessage) ([]legacyMeasurement, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil, nil
	}
	if raw[0] == '[' {
		var list []legacyMeasurement
		err := json.Unmarshal(raw, &list)
		return list, err
	}
	var hash map[string]legacyMeasurement
	if err := json.Unmarshal(raw, &hash); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(hash))
	for k := range hash {
		keys = append(keys, k)
	}
	// Index keys ("0", "1", ..., "10") in numeric order, names after them.
	sort.Slice(keys, func(i, j int) bool {
		a, errA := strconv.Atoi(keys[i])
		b, errB := strconv.Atoi(keys[j])
		switch {
		case errA == nil && errB == nil:
			return a < b
		case errA == nil:
			return true
		case errB == nil:
			return false
		}
		return keys[i] < keys[j]
	})
	list := make([]legacyMeasurement, 0, len(keys))
	for _, k := range keys {
		m := hash[k]
		if m.Name == nil {
			name := k
			m.Name = &name
		}
		list = append(list, m)
	}
	return list, nil
}

// postLegacy serves POST /v1/metrics: source-based gauges and counters, as
// JSON or form-encoded. Every measurement is validated before any is
// stored; success is 200 with an empty body. In AppOptics mode the endpoint
// is refused with 400.
func (s *Server) postLegacy(w http.ResponseWriter, r *http.Request) {
	if s.appOptics {
		s.writeError(w, http.StatusBadRequest, "request",
			"Source-based measurements are not supported by this account; use POST /v1/measurements")
		return
	}
	mt := mediaType(r)
	if mt != "application/json" && mt != "application/x-www-form-urlencoded" {
		s.writeError(w, http.StatusUnsupportedMediaType, "request", "Incorrect Content-Type")
		return
	}
	var p legacyPayload
	if err := s.decodeBody(r, &p); err != nil {
		s.writeDecodeError(w, err)
		return
	}
	gauges, err1 := decodeLegacyList(p.Gauges)
	counters, err2 := decodeLegacyList(p.Counters)
	if err1 != nil || err2 != nil {
		s.writeError(w, http.StatusBadRequest, "request", "Unable to parse gauges or counters")
		return
	}
	if len(gauges)+len(counters) == 0 {
		s.writeError(w, http.StatusBadRequest, "request", "Must contain a measurement")
		return
	}
	now := s.now()
	bad := paramErrors{}
	var items []legacyItem
	for _, l := range []struct {
		typ  string
		list []legacyMeasurement
	}{{"gauge", gauges}, {"counter", counters}} {
		for _, m := range l.list {
			it, ok := s.legacyItem(l.typ, m, p, now.Unix(), bad)
			if ok {
				items = append(items, it)
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	admit := s.admitSeries()
	seen := map[string]string{}
	for _, it := range items {
		admit.add(legacyKey(it.name, it.source), bad)
		if c := s.st.typeConflict(it.name, it.typ); c != "" {
			bad.add("type", c)
		}
		if prev, ok := seen[lower(it.name)]; ok && prev != it.typ {
			bad.add("type", fmt.Sprintf("%s is posted both as a gauge and as a counter", it.name))
		}
		seen[lower(it.name)] = it.typ
	}
	if len(bad) > 0 {
		s.writeParamErrors(w, http.StatusBadRequest, bad)
		return
	}
	for _, it := range items {
		s.createMetric(it.name, it.typ, it.props, r.UserAgent())
		proto := series{Metric: lower(it.name), Source: it.source}
		s.st.addPoint(legacyKey(it.name, it.source), proto, it.t, it.point)
	}
	s.writeEmpty(w, http.StatusOK)
}

// legacyItem validates one measurement, filling in the payload's globals.
func (s *Server) legacyItem(typ string, m legacyMeasurement, p legacyPayload, now int64, bad paramErrors) (legacyItem, bool) {
	it := legacyItem{typ: typ, t: now, props: p.metricProps}
	ok := true
	if m.Name == nil || *m.Name == "" {
		bad.add("name", "is not present")
		ok = false
	} else if !validMetricName(*m.Name) {
		bad.add("name", fmt.Sprintf("%q is invalid", *m.Name))
		ok = false
	} else {
		it.name = *m.Name
	}
	switch {
	case m.Source != nil:
		it.source = *m.Source
	case p.Source != nil:
		it.source = *p.Source
	}
	if it.source != "" {
		if msg := checkSource(it.source); msg != "" {
			bad.add("source", msg)
			ok = false
		}
	}
	switch {
	case m.MeasureTime != nil:
		it.t = int64(*m.MeasureTime)
	case p.MeasureTime != nil:
		it.t = int64(*p.MeasureTime)
	}
	if s.tooOld(it.t, s.now()) {
		bad.add("measure_time", "is too far in the past")
		ok = false
	}
	if m.Period != nil {
		it.props.Period = m.Period
	}
	if m.Description != nil {
		it.props.Description = m.Description
	}
	if m.DisplayName != nil {
		it.props.DisplayName = m.DisplayName
	}
	if m.Attributes != nil {
		attrs := map[string]any{}
		for k, v := range p.Attributes {
			attrs[k] = v
		}
		for k, v := range m.Attributes {
			attrs[k] = v
		}
		it.props.Attributes = attrs
	}
	switch {
	case m.Value != nil && m.Count != nil:
		bad.add("value", "cannot be given together with count")
		ok = false
	case m.Value != nil:
		it.point = sample(float64(*m.Value))
	case m.Count != nil && typ == "counter":
		bad.add("count", "is only allowed for gauges")
		ok = false
	case m.Count != nil:
		if m.Sum == nil {
			bad.add("sum", "is not present")
			return it, false
		}
		if *m.Count < 1 {
			bad.add("count", "must be greater than 0")
			return it, false
		}
		it.point = summary(int64(*m.Count), float64(*m.Sum), m.Min, m.Max, nil, m.SumSquares)
	default:
		bad.add("value", "is not present")
		ok = false
	}
	return it, ok
}

// summary builds the agg of a pre-aggregated sample. Missing min, max and
// last default to the mean; missing sum_squares to count*mean² (a zero
// spread), so a standard deviation is never invented.
func summary(count int64, sum float64, minV, maxV, last, sumSquares *flexFloat) agg {
	mean := sum / float64(count)
	a := agg{Count: count, Sum: sum, Min: mean, Max: mean, Last: mean, SumSquares: float64(count) * mean * mean, Complex: true}
	if minV != nil {
		a.Min = float64(*minV)
	}
	if maxV != nil {
		a.Max = float64(*maxV)
	}
	if last != nil {
		a.Last = float64(*last)
	}
	if sumSquares != nil {
		a.SumSquares = float64(*sumSquares)
	}
	return a
}
