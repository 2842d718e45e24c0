package libratotest

import "net/http"

// registerMeasurements adds the /v1/measurements routes.
func (s *Server) registerMeasurements(mux *http.ServeMux) {}
