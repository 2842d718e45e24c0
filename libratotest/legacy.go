package libratotest

import (
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// legacyBool reads a boolean query parameter ("true"/"false", "1"/"0").
func legacyBool(v string, def bool) bool {
	switch strings.ToLower(v) {
	case "true", "1", "yes":
		return true
	case "false", "0", "no":
		return false
	}
	return def
}

// readLegacy serves GET /v1/metrics/:name with time parameters: the metric's
// source-based measurements keyed by source ("unassigned" for none), rolled
// up to resolution (default 1 = raw). Supported: start_time, end_time
// (default now), duration, count (with start_time the first N after it,
// otherwise the last N before end_time), resolution, source (pattern),
// sources[] (patterns, OR), summarize_time, summarize_sources,
// breakout_sources and group_by (min|max|mean|sum|count) for the "all"
// pseudo-source, whose points carry "summarized" (number of sources) and
// "count". source_tag is refused with 400 (sources have no tags here). Without count at most the page size of points per source are
// returned and query.next_time says where to continue.
func (s *Server) readLegacy(w http.ResponseWriter, r *http.Request, meta map[string]any) {
	q := r.URL.Query()
	bad := paramErrors{}
	res := int64(1)
	if v := q.Get("resolution"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || n > maxResolution {
			bad.add("resolution", "is not a valid resolution")
		}
		res = n
	}
	count := 0
	if v := q.Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			bad.add("count", "is not a valid count")
		}
		count = n
	}
	hasStart := q.Has("start_time") || q.Has("duration")
	start, end := timeRange(q, s.now().Unix(), count == 0, bad)
	if !hasStart {
		start = -1 << 62 // count alone: the last count points before end_time
	}
	if q.Has("source_tag") {
		bad.add("source_tag", "is not supported by libratotest")
	}
	groupBy := q.Get("group_by")
	var groupFn func([]float64) float64
	if groupBy != "" {
		f, ok := combineFunc(groupBy)
		if !ok {
			bad.add("group_by", "is not included in the list")
		}
		groupFn = f
	}
	if len(bad) > 0 {
		s.writeParamErrors(w, http.StatusBadRequest, bad)
		return
	}
	summarize := legacyBool(q.Get("summarize_sources"), false) || groupBy != ""
	breakout := legacyBool(q.Get("breakout_sources"), true) && groupBy == ""
	if !breakout {
		summarize = true
	}
	if groupFn == nil {
		groupFn, _ = combineFunc("mean")
	}
	var patterns []string
	if v := q.Get("source"); v != "" {
		patterns = append(patterns, v)
	}
	patterns = append(patterns, q["sources[]"]...)
	patterns = append(patterns, q["sources"]...)

	name := r.PathValue("name")
	counter := meta["type"] == "counter"
	perSource := map[string][]bucket{}
	s.mu.Lock()
	for _, se := range s.st.seriesOf(name, false) {
		src := se.Source
		if src == "" {
			src = "unassigned"
		}
		if len(patterns) > 0 && !slices.ContainsFunc(patterns, func(p string) bool { return globMatch(p, se.Source) }) {
			continue
		}
		if b := rollup(se.Points, start, end, res); len(b) > 0 {
			perSource[src] = b
		}
	}
	s.mu.Unlock()

	var nextTime int64
	for src, bs := range perSource {
		if legacyBool(q.Get("summarize_time"), false) {
			sum := bs[0]
			for _, b := range bs[1:] {
				sum.a.merge(b.a)
			}
			bs = []bucket{sum}
		}
		switch {
		case count > 0 && hasStart:
			bs = bs[:min(count, len(bs))]
		case count > 0:
			bs = bs[max(len(bs)-count, 0):]
		case len(bs) > s.pageSize:
			if t := bs[s.pageSize].t; nextTime == 0 || t < nextTime {
				nextTime = t
			}
			bs = bs[:s.pageSize]
		}
		perSource[src] = bs
	}
	if nextTime != 0 {
		// Cut every source at next_time so a continuation neither repeats
		// nor skips points.
		for src, bs := range perSource {
			i := slices.IndexFunc(bs, func(b bucket) bool { return b.t >= nextTime })
			if i >= 0 {
				perSource[src] = bs[:i]
			}
		}
	}

	out := map[string][]map[string]any{}
	for src, bs := range perSource {
		pts := make([]map[string]any, 0, len(bs))
		for _, b := range bs {
			pts = append(pts, legacyPoint(b, counter))
		}
		out[src] = pts
	}
	if summarize && len(perSource) > 0 {
		type acc struct {
			vals  []float64
			count int64
		}
		byTime := map[int64]*acc{}
		for _, bs := range perSource {
			for _, b := range bs {
				a := byTime[b.t]
				if a == nil {
					a = &acc{}
					byTime[b.t] = a
				}
				v := b.a.mean()
				if counter {
					v = b.a.Last
				}
				a.vals = append(a.vals, v)
				a.count += b.a.Count
			}
		}
		var all []map[string]any
		for _, t := range slices.Sorted(maps.Keys(byTime)) {
			a := byTime[t]
			all = append(all, map[string]any{"measure_time": t, "value": groupFn(a.vals),
				"count": a.count, "summarized": len(a.vals)})
		}
		if !breakout {
			out = map[string][]map[string]any{}
		}
		out["all"] = all
	}

	body := maps.Clone(meta)
	body["resolution"] = res
	body["measurements"] = out
	if nextTime != 0 {
		body["query"] = map[string]any{"next_time": nextTime}
	}
	s.writeJSON(w, http.StatusOK, body)
}

// legacyPoint is one point of a legacy read: measure_time, value and count,
// plus sum, min, max and sum_squares for complex points. A counter's value
// is its last value, a gauge's the mean.
func legacyPoint(b bucket, counter bool) map[string]any {
	v := b.a.mean()
	if counter {
		v = b.a.Last
	}
	p := map[string]any{"measure_time": b.t, "value": v, "count": b.a.Count}
	if b.a.Complex {
		p["sum"], p["min"], p["max"], p["sum_squares"] = b.a.Sum, b.a.Min, b.a.Max, b.a.SumSquares
	}
	return p
}
