package libratotest

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// registerMetrics adds the /v1/metrics routes (and /v1/jobs, which the fake
// never creates).
func (s *Server) registerMetrics(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/metrics", s.postLegacy)
	mux.HandleFunc("GET /v1/metrics", s.listMetrics)
	mux.HandleFunc("PUT /v1/metrics", s.updateMetrics)
	mux.HandleFunc("DELETE /v1/metrics", s.deleteMetrics)
	mux.HandleFunc("GET /v1/metrics/{name}", s.getMetric)
	mux.HandleFunc("PUT /v1/metrics/{name}", s.putMetric)
	mux.HandleFunc("DELETE /v1/metrics/{name}", s.deleteMetric)
	mux.HandleFunc("GET /v1/jobs/{id}", func(w http.ResponseWriter, r *http.Request) { s.notFound(w) })
}

// metricProps are a metric's create-only properties sent with measurements,
// and the properties of PUT /v1/metrics[/:name].
type metricProps struct {
	Period      *flexInt       `json:"period"`
	Description *string        `json:"description"`
	DisplayName *string        `json:"display_name"`
	Attributes  map[string]any `json:"attributes"`
}

// metricJSON is a metric as the API serves it: every field, null when unset.
// It copies what PUT changes in place, so the result may be encoded after
// s.mu is released.
func metricJSON(m *metric) map[string]any {
	attrs := maps.Clone(m.Attributes)
	if attrs == nil {
		attrs = map[string]any{}
	}
	out := map[string]any{
		"name":         m.Name,
		"type":         m.Type,
		"display_name": m.DisplayName,
		"description":  m.Description,
		"period":       m.Period,
		"attributes":   attrs,
	}
	if m.Type == "composite" {
		out["composite"] = m.Composite
		out["source_lag"] = nil
	}
	return out
}

// createMetric creates the named metric if it does not exist, applying the
// create-only properties. Callers hold s.mu and have checked the type.
func (s *Server) createMetric(name, typ string, p metricProps, ua string) *metric {
	key := strings.ToLower(name)
	if m := s.st.Metrics[key]; m != nil {
		return m
	}
	m := &metric{Name: name, Type: typ, Attributes: map[string]any{}}
	applyProps(m, p)
	if ua != "" {
		m.Attributes["created_by_ua"] = ua
	}
	s.st.Metrics[key] = m
	return m
}

// applyProps sets the properties given in p; attributes are merged, a null
// attribute deletes the key.
func applyProps(m *metric, p metricProps) {
	if p.Period != nil {
		v := int64(*p.Period)
		m.Period = &v
	}
	if p.Description != nil {
		m.Description = p.Description
	}
	if p.DisplayName != nil {
		m.DisplayName = p.DisplayName
	}
	if m.Attributes == nil {
		m.Attributes = map[string]any{}
	}
	for k, v := range p.Attributes {
		if v == nil {
			delete(m.Attributes, k)
		} else {
			m.Attributes[k] = v
		}
	}
}

// typeConflict returns why measurements of type typ may not go to the named
// metric, or "".
func (st *state) typeConflict(name, typ string) string {
	m := st.Metrics[strings.ToLower(name)]
	if m == nil || m.Type == typ {
		return ""
	}
	// The real API's wording, which statsd-librato-backend (lib/librato.js)
	// matches to stop sending the metric; the name is the one submitted.
	return "'" + name + "' is a " + m.Type + ", but was submitted as different type"
}

// listMetrics serves GET /v1/metrics: metric metadata, filtered by a
// case-insensitive name substring, ordered by name, paginated. With compose
// it is a composite query.
func (s *Server) listMetrics(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Has("compose") {
		s.serveComposite(w, r)
		return
	}
	p, ok := s.listParams(w, r, "name")
	if !ok {
		return
	}
	s.mu.Lock()
	all := slices.Sorted(maps.Keys(s.st.Metrics))
	var found []map[string]any
	needle := strings.ToLower(p.Name)
	for _, k := range all {
		if strings.Contains(k, needle) {
			found = append(found, metricJSON(s.st.Metrics[k]))
		}
	}
	total := len(all)
	s.mu.Unlock()
	if p.Desc {
		slices.Reverse(found)
	}
	lo, hi, q := p.page(len(found), total)
	items := found[lo:hi]
	if items == nil {
		items = []map[string]any{}
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"query": q, "metrics": items})
}

// legacyReadParams are the query parameters that turn GET /v1/metrics/:name
// into a read of measurements.
var legacyReadParams = []string{"start_time", "end_time", "count", "resolution", "duration",
	"source", "sources[]", "sources", "source_tag", "summarize_time", "summarize_sources", "breakout_sources", "group_by"}

// getMetric serves GET /v1/metrics/:name: the metadata, plus the legacy
// measurements when a time parameter is given (see legacy.go).
func (s *Server) getMetric(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	q := r.URL.Query()
	s.mu.Lock()
	m := s.st.Metrics[strings.ToLower(name)]
	var out map[string]any
	if m != nil {
		out = metricJSON(m)
	}
	s.mu.Unlock()
	if out == nil {
		s.notFound(w)
		return
	}
	for _, k := range legacyReadParams {
		if q.Has(k) {
			s.readLegacy(w, r, out)
			return
		}
	}
	s.writeJSON(w, http.StatusOK, out)
}

// metricUpdate is the body of PUT /v1/metrics/:name and PUT /v1/metrics.
type metricUpdate struct {
	metricProps
	Type      *string         `json:"type"`
	Name      *string         `json:"name"`
	Composite *string         `json:"composite"`
	Names     json.RawMessage `json:"names"`
	Exclude   []string        `json:"exclude"`
}

// putMetric serves PUT /v1/metrics/:name: 201 with Location and the metric
// when it creates it (type required), 204 when it updates it.
func (s *Server) putMetric(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	var u metricUpdate
	if err := s.decodeBody(r, &u); err != nil {
		s.writeDecodeError(w, err)
		return
	}
	bad := paramErrors{}
	if !validMetricName(name) {
		bad.add("name", "is invalid")
	}
	if u.Type != nil {
		switch *u.Type {
		case "gauge", "composite":
		case "counter":
			if s.appOptics {
				bad.add("type", "is not included in the list")
			}
		default:
			bad.add("type", "is not included in the list")
		}
	}
	if u.Composite != nil && (u.Type == nil || *u.Type != "composite") {
		bad.add("composite", "requires type composite")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.st.Metrics[strings.ToLower(name)]
	if m != nil && u.Type != nil && *u.Type != m.Type {
		bad.add("type", "cannot be changed from "+m.Type)
	}
	if m == nil && u.Type == nil {
		bad.add("type", "is not present")
	}
	if m == nil && u.Type != nil && *u.Type == "composite" && (u.Composite == nil || *u.Composite == "") {
		bad.add("composite", "is not present")
	}
	if len(bad) > 0 {
		s.writeParamErrors(w, http.StatusBadRequest, bad)
		return
	}
	if m != nil {
		applyProps(m, u.metricProps)
		if u.Composite != nil {
			m.Composite = u.Composite
		}
		s.writeEmpty(w, http.StatusNoContent)
		return
	}
	m = s.createMetric(name, *u.Type, u.metricProps, r.UserAgent())
	m.Composite = u.Composite
	w.Header().Set("Location", "/v1/metrics/"+url.PathEscape(name))
	s.writeJSON(w, http.StatusCreated, metricJSON(m))
}

// selectNames resolves a "names" value (an array of names or one wildcard
// pattern) and exclude list into the matching stored metric keys. It
// returns false when names is missing or malformed.
func (st *state) selectNames(raw json.RawMessage, exclude []string) ([]string, bool) {
	var list []string
	var pattern string
	if err := json.Unmarshal(raw, &list); err != nil {
		if err := json.Unmarshal(raw, &pattern); err != nil || pattern == "" {
			return nil, false
		}
	}
	if list == nil && pattern == "" {
		return nil, false
	}
	excluded := func(k string) bool {
		for _, e := range exclude {
			if globMatch(e, k) {
				return true
			}
		}
		return false
	}
	var out []string
	if pattern != "" {
		for k := range st.Metrics {
			if globMatch(pattern, k) && !excluded(k) {
				out = append(out, k)
			}
		}
	} else {
		for _, n := range list {
			k := strings.ToLower(n)
			if !excluded(k) {
				out = append(out, k)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out), true
}

// updateMetrics serves PUT /v1/metrics: update the properties of the metrics
// named by "names" (array or wildcard pattern) minus "exclude". Always 204,
// never a job.
func (s *Server) updateMetrics(w http.ResponseWriter, r *http.Request) {
	s.forSelectedMetrics(w, r, func(k string, u *metricUpdate) {
		if m := s.st.Metrics[k]; m != nil {
			applyProps(m, u.metricProps)
		}
	})
}

// forSelectedMetrics is the body of PUT and DELETE /v1/metrics: it decodes the
// request, selects the metrics it names and runs f on each key with s.mu
// held. It answers 204 (never a job), or 400 without names.
func (s *Server) forSelectedMetrics(w http.ResponseWriter, r *http.Request, f func(k string, u *metricUpdate)) {
	var u metricUpdate
	if err := s.decodeBody(r, &u); err != nil {
		s.writeDecodeError(w, err)
		return
	}
	s.mu.Lock()
	keys, ok := s.st.selectNames(u.Names, u.Exclude)
	for _, k := range keys {
		f(k, &u)
	}
	s.mu.Unlock()
	if !ok {
		s.writeParamErrors(w, http.StatusBadRequest, paramErrors{"names": {"is not present"}})
		return
	}
	s.writeEmpty(w, http.StatusNoContent)
}

// deleteMetric serves DELETE /v1/metrics/:name: 204, also for a metric that
// does not exist (as the real API).
func (s *Server) deleteMetric(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.st.deleteMetric(r.PathValue("name"))
	s.mu.Unlock()
	s.writeEmpty(w, http.StatusNoContent)
}

// deleteMetrics serves DELETE /v1/metrics with {"names":[...]} or
// {"names":"pattern","exclude":[...]}: 204, never a job.
func (s *Server) deleteMetrics(w http.ResponseWriter, r *http.Request) {
	s.forSelectedMetrics(w, r, func(k string, _ *metricUpdate) { s.st.deleteMetric(k) })
}
