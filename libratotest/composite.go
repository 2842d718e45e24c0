package libratotest

// This file holds the fake's composite queries: GET /v1/metrics?compose=...
// (legacy) and GET /v1/measurements?compose=... (tagged). It is owned by the
// composite area; the router in metrics.go and measurements.go sends every
// such request here. See the comment at the top of server.go for the helpers
// to reuse (s.mu, s.series, rollups in rollup.go, s.writeJSON, s.writeError).

import "net/http"

// serveComposite answers an ad hoc composite query. Until the composite area
// implements it, it answers 400 in the API's error shape.
func (s *Server) serveComposite(w http.ResponseWriter, r *http.Request) {
	s.writeError(w, http.StatusBadRequest, "request", "composite queries are not supported by this fake server yet")
}
