package libratotest

// This file holds the fake's annotation endpoints (/v1/annotations...). It is
// owned by the annotations area; see the comment at the top of server.go for
// the helpers to reuse (auth is already done, s.mu guards state, s.writeJSON,
// s.writeError, s.decodeJSON, s.listParams, s.addState for snapshots).

import "net/http"

// registerAnnotations adds the annotation routes to mux. It is called once by
// newServer.
func (s *Server) registerAnnotations(mux *http.ServeMux) {}
