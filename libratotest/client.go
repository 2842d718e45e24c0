package libratotest

import (
	"errors"
	"net/http"
	"net/http/httptest"

	"github.com/go-librato/librato"
)

// inProcessURL is the base URL of a client that reaches an unstarted server in
// process. The .invalid domain cannot resolve, so nothing leaves the process.
const inProcessURL = "http://libratotest.invalid"

// Client returns a client connected to the server with its credentials
// (librato.Connect, or librato.ConnectAppOptics in AppOptics mode). A started
// server is reached at URL + "/v1/"; an unstarted one in process, through
// Transport, with no socket (what testing/synctest needs). opts come after the
// server's own options, so they may override them.
func (s *Server) Client(opts ...librato.Option) (*librato.Client, error) {
	var all []librato.Option
	if s.URL != "" {
		all = append(all, librato.WithBaseURL(s.URL+"/v1/"))
	} else {
		all = append(all, librato.WithBaseURL(inProcessURL+"/v1/"),
			librato.WithHTTPClient(&http.Client{Transport: s.Transport()}))
	}
	all = append(all, opts...)
	if s.appOptics {
		return librato.ConnectAppOptics(s.token, all...)
	}
	return librato.Connect(s.user, s.token, all...)
}

// Transport returns an http.RoundTripper that serves every request with this
// server's handler, in process: no listener, no socket. The request's host is
// not looked at.
func (s *Server) Transport() http.RoundTripper { return handlerTransport{s} }

type handlerTransport struct{ h http.Handler }

// errDropped is what a request dropped by a Drop fault returns through Transport, as a
// connection closed without an answer would.
var errDropped = errors.New("libratotest: connection closed without an answer (Drop fault)")

func (t handlerTransport) RoundTrip(r *http.Request) (resp *http.Response, err error) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				panic(v)
			}
			resp, err = nil, errDropped
		}
	}()
	if r.Body != nil {
		defer r.Body.Close()
	}
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	req := r.Clone(r.Context())
	req.RequestURI = r.URL.RequestURI()
	req.RemoteAddr = "127.0.0.1:1"
	if req.Body == nil {
		req.Body = http.NoBody
	}
	rec := httptest.NewRecorder()
	t.h.ServeHTTP(rec, req)
	if err := r.Context().Err(); err != nil {
		return nil, err
	}
	resp = rec.Result() // its Body is never nil
	resp.Request = r
	return resp, nil
}
