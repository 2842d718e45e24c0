package libratotest

// This file holds the fake's spaces, charts and services endpoints
// (/v1/spaces..., /v1/services...). It is owned by the spaces area; see the
// comment at the top of server.go for the helpers to reuse (auth is already
// done, s.mu guards state, s.writeJSON, s.writeError, s.decodeJSON,
// s.listParams, s.addState for snapshots).

import "net/http"

// registerSpaces adds the spaces, charts and services routes to mux. It is
// called once by newServer.
func (s *Server) registerSpaces(mux *http.ServeMux) {}
