// Package exampleenv is the setup the examples share: a client for the real Librato API when
// credentials are in the environment, otherwise for libratotest, the package's fake API, started
// in the example's own process so that it runs with no account and no network.
package exampleenv

import (
	"strings"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"
)

// Connect returns a client for the real API when LIBRATO_USER and LIBRATO_TOKEN are set
// (LIBRATO_URL overrides the address: a base URL, or a bare server address as `librato serve`
// prints it). Otherwise it starts a fake API and returns a client for it and the fake; fake is nil
// for the real API, and non-nil whenever a fake was started, even with an error: close it when
// done. opts apply to either client.
func Connect(getenv func(string) string, opts ...librato.Option) (c *librato.Client, fake *libratotest.Server, err error) {
	user, token := getenv("LIBRATO_USER"), getenv("LIBRATO_TOKEN")
	if user != "" && token != "" {
		if u := getenv("LIBRATO_URL"); u != "" {
			if !strings.Contains(strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://"), "/") {
				u += "/v1/"
			}
			opts = append([]librato.Option{librato.WithBaseURL(u)}, opts...)
		}
		c, err = librato.Connect(user, token, opts...)
		return c, nil, err
	}
	fake = libratotest.NewServer()
	c, err = fake.Client(opts...) // the fake's URL and credentials, with the caller's options
	return c, fake, err
}
