package libratotest

import "net/http"

// registerMetrics adds the /v1/metrics routes.
func (s *Server) registerMetrics(mux *http.ServeMux) {}
