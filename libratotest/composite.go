package libratotest

// This file holds the fake's composite queries: GET /v1/metrics?compose=...
// (legacy) and GET /v1/measurements?compose=... (tagged). The router in
// metrics.go and measurements.go sends every such request here; the
// evaluation itself is in composite_eval.go.
//
// Simplifications, on purpose:
//   - A source pattern selector (s("cpu", "web*")) reads legacy series and a
//     tag map (s("cpu", {"host": "web*"})) tagged ones, whichever endpoint is
//     asked; the endpoint only decides the response shape: the legacy object
//     {"compose","measurements":[...],"resolution"} or the tagged bare array
//     of the API docs.
//   - Evaluated: s/series (options function and period), sum, mean, min, max,
//     multiply, divide, abs, derive (detect_reset: a drop counts from zero),
//     rate (per second), integrate, scale, window/moving_average (the first
//     points use the shorter windows available), fill/zero_fill (every
//     resolution bucket of the range), top/bottom (count absent: all, sorted),
//     timeshift (units s, m, h, d, w; a signed offset shifts forward).
//     Anything else (group_by, map, ...) is a 400 naming the function.
//   - Series combined from several series keep what they share: the metric,
//     the source (else the pseudo-source "all"), the tags with equal values.
//   - Points are bucketed at the requested resolution; NaN and infinite
//     results (a division by zero) are left out.

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-librato/librato/composite"
)

// serveComposite answers an ad hoc composite query. start_time (or
// duration) and resolution are required, as in the API; a syntax error or
// an unsupported function is {"errors":{"params":{"compose":[msg]}}} with 400.
func (s *Server) serveComposite(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	bad := paramErrors{}
	compose := q.Get("compose")
	if strings.TrimSpace(compose) == "" {
		bad.add("compose", "can't be blank")
	}
	var res int64
	switch v := q.Get("resolution"); {
	case v == "":
		bad.add("resolution", "is not present")
	default:
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 || n > maxResolution {
			bad.add("resolution", "is not a valid resolution")
		}
		res = n
	}
	start, end := timeRange(q, s.now().Unix(), true, bad)
	if len(bad) == 0 && end < start {
		bad.add("end_time", "must be after start_time")
	}
	if len(bad) > 0 {
		s.writeParamErrors(w, http.StatusBadRequest, bad)
		return
	}
	expr, err := composite.Parse(compose)
	if err != nil {
		s.writeParamErrors(w, http.StatusBadRequest, paramErrors{"compose": {err.Error()}})
		return
	}
	tagged := strings.HasSuffix(strings.TrimSuffix(r.URL.Path, "/"), "/measurements")

	// The body is encoded under the lock: it refers to stored metadata
	// (attribute maps) that other requests may change once it is released.
	s.mu.Lock()
	ev := &evaluator{st: s.st, res: res}
	set, err := ev.eval(expr, start, end)
	var body json.RawMessage
	var encErr error
	if err == nil {
		var v any = legacyComposite(set, compose, res)
		if tagged {
			v = taggedComposite(set)
		}
		body, encErr = json.Marshal(v)
	}
	s.mu.Unlock()

	if encErr != nil {
		s.writeError(w, http.StatusInternalServerError, "system", "libratotest: cannot encode composite result: "+encErr.Error())
		return
	}
	if err != nil {
		s.writeParamErrors(w, http.StatusBadRequest, paramErrors{"compose": {err.Error()}})
		return
	}
	s.writeJSON(w, http.StatusOK, body)
}

// metricOf is the metric object of a result series: the stored metadata, or
// null for series combined from several metrics.
func metricOf(cs cseries) any {
	if cs.meta != nil {
		return metricJSON(cs.meta)
	}
	if cs.name != "" {
		return map[string]any{"name": cs.name}
	}
	return nil
}

func periodOf(cs cseries) any {
	if cs.period > 0 {
		return cs.period
	}
	return nil
}

// legacyComposite is the legacy response of TV14 (testdata/README.md). Callers hold s.mu.
func legacyComposite(set []cseries, compose string, res int64) map[string]any {
	ms := make([]map[string]any, 0, len(set))
	for _, cs := range set {
		pts := make([]map[string]any, len(cs.pts))
		for i, p := range cs.pts {
			pts[i] = map[string]any{"measure_time": p.t, "value": p.v}
		}
		src := cs.source
		if !cs.tagged {
			src = sourceName(src)
		}
		ms = append(ms, map[string]any{
			"metric": metricOf(cs),
			"period": periodOf(cs),
			"query":  map[string]any{"metric": cs.query.metric, "source": cs.query.source},
			"series": pts,
			"source": map[string]any{"display_name": nil, "name": src},
		})
	}
	return map[string]any{"compose": compose, "measurements": ms, "resolution": res}
}

// taggedComposite is the tagged response of the API docs: a bare array of
// {tags, measurements, metric, period}. Callers hold s.mu.
func taggedComposite(set []cseries) []map[string]any {
	out := make([]map[string]any, 0, len(set))
	for _, cs := range set {
		pts := make([]map[string]any, len(cs.pts))
		for i, p := range cs.pts {
			pts[i] = map[string]any{"time": p.t, "value": p.v}
		}
		tags := cs.tags
		if tags == nil {
			tags = map[string]string{}
		}
		out = append(out, map[string]any{
			"tags":         tags,
			"measurements": pts,
			"metric":       metricOf(cs),
			"period":       periodOf(cs),
		})
	}
	return out
}
