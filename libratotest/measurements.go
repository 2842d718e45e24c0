package libratotest

import "net/http"

// registerMeasurements adds the /v1/measurements routes.
func (s *Server) registerMeasurements(mux *http.ServeMux) {
	mux.HandleFunc("POST /v1/measurements", s.postTagged)
	mux.HandleFunc("GET /v1/measurements", s.composeTagged)
	mux.HandleFunc("GET /v1/measurements/{name}", s.readTagged)
}

// taggedPayload is the body of POST /v1/measurements. Unknown fields are
// rejected, as the real endpoint does.
type taggedPayload struct {
	Measurements []taggedMeasurement `json:"measurements"`
	Tags         map[string]string   `json:"tags"`
	Time         *flexInt            `json:"time"`
	Period       *flexInt            `json:"period"`
	Attributes   map[string]any      `json:"attributes"`
}

// taggedMeasurement is one measurement of POST /v1/measurements.
type taggedMeasurement struct {
	Name        *string           `json:"name"`
	Value       *flexFloat        `json:"value"`
	Count       *flexInt          `json:"count"`
	Sum         *flexFloat        `json:"sum"`
	Min         *flexFloat        `json:"min"`
	Max         *flexFloat        `json:"max"`
	Last        *flexFloat        `json:"last"`
	Stddev      *flexFloat        `json:"stddev"`
	StddevM2    *flexFloat        `json:"stddev_m2"`
	Time        *flexInt          `json:"time"`
	Period      *flexInt          `json:"period"`
	Tags        map[string]string `json:"tags"`
	Attributes  map[string]any    `json:"attributes"`
	Description *string           `json:"description"`
	DisplayName *string           `json:"display_name"`
}

// taggedItem is a validated tagged measurement ready to store.
type taggedItem struct {
	name  string
	tags  map[string]string
	t     int64
	point agg
	props metricProps
}

// postTagged serves POST /v1/measurements: JSON only (415 otherwise), unknown
// fields give 400 {"code":400,"message":"Unable to process JSON"}, and a
// measurement's own tags replace the top-level tags entirely (an empty map
// is none: the top-level tags apply). Every measurement is validated before
// any is stored, so one bad measurement refuses the whole post; success is
// 202 with an empty body.
//
// Decided where the docs are silent (the Tagged submit rule of testdata/README.md): a measurement with no
// tags at all is accepted, as a series without tags (python-librato's
// Aggregator posts one, TV8; no error body for it is known), and a time of 0
// is "now" (appoptics-api-go writes "time":0 when none was set).
func (s *Server) postTagged(w http.ResponseWriter, r *http.Request) {
	if !s.requireJSON(w, r) {
		return
	}
	var p taggedPayload
	if err := s.decodeJSON(r, &p, true); err != nil {
		s.writeJSON(w, http.StatusBadRequest, map[string]any{"code": 400, "message": "Unable to process JSON"})
		return
	}
	if len(p.Measurements) == 0 {
		s.writeError(w, http.StatusBadRequest, "request", "Must contain a measurement")
		return
	}
	now := s.now()
	bad := paramErrors{}
	items := make([]taggedItem, 0, len(p.Measurements))
	for _, m := range p.Measurements {
		if it, ok := s.taggedItem(m, p, now.Unix(), bad); ok {
			items = append(items, it)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	admit := s.admitSeries()
	for _, it := range items {
		admit.add(taggedKey(it.name, it.tags), bad)
		if c := s.st.typeConflict(it.name, "gauge"); c != "" {
			bad.add("type", c)
		}
	}
	if len(bad) > 0 {
		s.writeParamErrors(w, http.StatusBadRequest, bad)
		return
	}
	for _, it := range items {
		s.createMetric(it.name, "gauge", it.props, r.UserAgent())
		proto := series{Metric: lower(it.name), Tagged: true, Tags: it.tags}
		s.st.addPoint(taggedKey(it.name, it.tags), proto, it.t, it.point)
	}
	s.writeEmpty(w, http.StatusAccepted)
}

// taggedItem validates one tagged measurement, filling in the payload's
// globals.
func (s *Server) taggedItem(m taggedMeasurement, p taggedPayload, now int64, bad paramErrors) (taggedItem, bool) {
	it := taggedItem{t: now, props: metricProps{Period: p.Period, Attributes: p.Attributes}}
	ok := true
	switch {
	case m.Name == nil || *m.Name == "":
		bad.add("name", "is not present")
		ok = false
	case !validMetricName(*m.Name):
		bad.add("name", "'"+*m.Name+"' is invalid")
		ok = false
	default:
		it.name = *m.Name
	}
	tags := p.Tags
	if len(m.Tags) > 0 {
		tags = m.Tags // replace, never merge; an empty map is none (the Tagged submit rule of testdata/README.md)
	}
	n := len(bad["tags"])
	it.tags = normalizeTags(tags, bad)
	ok = ok && len(bad["tags"]) == n
	// A time of 0 is "not given": appoptics-api-go always writes the
	// batch's "time", 0 when the caller set none.
	switch {
	case m.Time != nil && *m.Time != 0:
		it.t = int64(*m.Time)
	case p.Time != nil && *p.Time != 0:
		it.t = int64(*p.Time)
	}
	if s.tooOld(it.t, s.now()) {
		bad.add("time", "is too far in the past")
		ok = false
	}
	if m.Period != nil {
		it.props.Period = m.Period
	}
	if m.Attributes != nil {
		it.props.Attributes = m.Attributes
	}
	it.props.Description, it.props.DisplayName = m.Description, m.DisplayName
	summaryGiven := m.Count != nil || m.Sum != nil || m.Min != nil || m.Max != nil || m.Last != nil ||
		m.Stddev != nil || m.StddevM2 != nil
	stddev := m.Stddev
	if m.StddevM2 != nil {
		// statsd-librato-backend sends its timers' standard deviation in
		// stddev_m2 (TV3, testdata/README.md): read it as one.
		stddev = m.StddevM2
	}
	switch {
	case m.Stddev != nil && m.StddevM2 != nil:
		bad.add("stddev", "only one of stddev and stddev_m2 may be set")
		ok = false
	case m.Value != nil && summaryGiven:
		bad.add("value", "cannot be given together with summary fields")
		ok = false
	case m.Value != nil:
		it.point = sample(float64(*m.Value))
	case !summaryGiven:
		bad.add("value", "is not present")
		ok = false
	case m.Count == nil:
		bad.add("count", "is not present")
		ok = false
	case m.Sum == nil:
		bad.add("sum", "is not present")
		ok = false
	case *m.Count < 1:
		bad.add("count", "must be greater than 0")
		ok = false
	default:
		c, sum := int64(*m.Count), float64(*m.Sum)
		var ssq *flexFloat
		if stddev != nil {
			// stddev² = sum_squares/count - mean², so sum_squares follows.
			mean, sd := sum/float64(c), float64(*stddev)
			v := flexFloat(float64(c) * (sd*sd + mean*mean))
			ssq = &v
		}
		it.point = summary(c, sum, m.Min, m.Max, m.Last, ssq)
	}
	return it, ok
}

// composeTagged serves GET /v1/measurements: only composite queries exist
// there.
func (s *Server) composeTagged(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Has("compose") {
		s.serveComposite(w, r)
		return
	}
	s.writeParamErrors(w, http.StatusBadRequest, paramErrors{"compose": {"is not present"}})
}
