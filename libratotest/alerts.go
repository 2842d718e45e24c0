package libratotest

// This file holds the fake's alert endpoints (/v1/alerts...). It is owned by
// the alerts area; see the comment at the top of server.go for the helpers to
// reuse (auth is already done, s.mu guards state, s.writeJSON, s.writeError,
// s.decodeJSON, s.listParams, s.addState for snapshots).

import "net/http"

// registerAlerts adds the alert routes to mux. It is called once by newServer.
func (s *Server) registerAlerts(mux *http.ServeMux) {}
