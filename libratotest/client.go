package libratotest

import (
	"errors"

	"github.com/go-librato/librato"
)

// Client returns a client connected to the server with its credentials
// (librato.Connect, or librato.ConnectAppOptics in AppOptics mode) and base
// URL srv.URL + "/v1/". opts come after the base URL, so they may override
// it. For a NewHandler server, set URL first.
func (s *Server) Client(opts ...librato.Option) (*librato.Client, error) {
	if s.URL == "" {
		return nil, errors.New("libratotest: server has no URL; use NewServer or set URL to the listener's base URL")
	}
	all := append([]librato.Option{librato.WithBaseURL(s.URL + "/v1/")}, opts...)
	if s.appOptics {
		return librato.ConnectAppOptics(s.token, all...)
	}
	return librato.Connect(s.user, s.token, all...)
}
