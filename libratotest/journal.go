package libratotest

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"
)

// A Change is a request that may have changed the server's stored state, as a journal
// (WithJournal) receives it and Replay applies it again.
type Change struct {
	// Time is the server's clock while the change was applied.
	Time time.Time `json:"time"`
	// Method and URI (path and query) of the request.
	Method string `json:"method"`
	URI    string `json:"uri"`
	// Header holds the request headers the handlers read (journaledHeaders), never the
	// credentials.
	Header http.Header `json:"header,omitempty"`
	// Body is the request body, decompressed.
	Body []byte `json:"body,omitempty"`
	// Status is the status the change was answered with; Replay of the change on a server
	// with the same state and options answers the same.
	Status int `json:"status"`
}

// journaledHeaders are the request headers a change keeps: those the handlers read.
var journaledHeaders = []string{"Content-Type", "User-Agent"}

// WithJournal makes the server durable through record: every authorized request that may change
// the stored state (any method but GET, HEAD and OPTIONS) is handed to record, in the order the
// changes were applied, one at a time, and its answer is held until the wait function record
// returned reports the change recorded. Replaying the recorded changes in order on a server with
// the same options (Replay) rebuilds the same state. A 5xx answer changed nothing and is not
// recorded.
//
// record runs while the next change waits, so it should only queue the change; wait may block
// (on a disk write shared by many changes, say). If wait fails, the client gets a 500 instead of
// the answer: the change was applied in memory but is not durable.
//
// Changes are applied one at a time while a journal is set (reads still run in parallel).
func WithJournal(record func(Change) (wait func() error)) Option {
	return func(s *Server) { s.journal = record }
}

// changes reports the methods whose requests may change the stored state.
func changes(method string) bool {
	return method != http.MethodGet && method != http.MethodHead && method != http.MethodOptions
}

// serveJournaled serves a change through the journal: applied and recorded in order, answered
// once recorded.
func (s *Server) serveJournaled(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body) // prepare left the decompressed body in memory
	if err != nil {
		s.writeError(w, http.StatusBadRequest, "request", "could not read the request body")
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()

	s.journalMu.Lock()
	at := s.freeze(time.Time{})
	s.handler.ServeHTTP(rec, r)
	var wait func() error
	if rec.Code < 500 {
		h := http.Header{}
		for _, k := range journaledHeaders {
			if vs := r.Header.Values(k); len(vs) > 0 {
				h[k] = vs
			}
		}
		wait = s.journal(Change{Time: at, Method: r.Method, URI: r.URL.RequestURI(), Header: h, Body: body, Status: rec.Code})
	}
	s.unfreeze()
	s.journalMu.Unlock()

	if wait != nil {
		if err := wait(); err != nil {
			s.writeError(w, http.StatusInternalServerError, "system", "libratotest: the change could not be recorded")
			return
		}
	}
	for k, vs := range rec.Header() {
		w.Header()[k] = vs
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

// freeze stops the clock at t (at the current time if t is zero) until unfreeze, so a change
// and its replay see the same instant. It returns the instant.
func (s *Server) freeze(t time.Time) time.Time {
	if t.IsZero() {
		t = s.now()
	}
	s.cfgMu.Lock()
	s.frozen = t
	s.cfgMu.Unlock()
	return t
}

func (s *Server) unfreeze() {
	s.cfgMu.Lock()
	s.frozen = time.Time{}
	s.cfgMu.Unlock()
}

// Replay applies a recorded change again, with the server's clock at c.Time, and returns the
// status of its answer. It checks no credentials, applies no fault, latency or rate limit, does
// not log the request and does not hand it to the journal. Call it before the server serves
// requests (librato serve --data replays its journal with it at start).
func (s *Server) Replay(c Change) (int, error) {
	if !strings.HasPrefix(c.URI, "/") {
		return 0, fmt.Errorf("libratotest: replay: URI %q is not a path", c.URI)
	}
	r, err := http.NewRequest(c.Method, "http://libratotest"+c.URI, bytes.NewReader(c.Body))
	if err != nil {
		return 0, fmt.Errorf("libratotest: replay: %w", err)
	}
	for k, vs := range c.Header {
		r.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	s.journalMu.Lock()
	defer s.journalMu.Unlock()
	s.freeze(c.Time)
	defer s.unfreeze()
	s.handler.ServeHTTP(rec, r)
	return rec.Code, nil
}
