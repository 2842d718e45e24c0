package librato

import (
	"net/http"
	"net/url"
	"strings"
)

// maxRedirects is how many redirects in a row a GET follows (net/http's own limit).
const maxRedirects = 10

// The redirect rule. The API itself never redirects; a redirect comes from a proxy, a load
// balancer or a wrong base URL. Credentials go to the base URL's origin only, and nothing is sent
// twice or dropped without an error, so:
//   - a GET or HEAD is followed to the same origin (scheme, host and port of the base URL), at
//     most 10 times, with the credentials;
//   - a redirect to any other origin (another port, another host, https to http) is refused;
//   - a redirect of any other method (POST, PUT, DELETE: requests with a body or an effect) is
//     refused, whatever its target: net/http would turn a 301/302/303 POST into a GET without the
//     body, and a 307/308 would send the body to wherever the server says.
//
// A refused redirect is not followed: the call fails with a *RedirectError (errors.Is(err,
// ErrRedirect)), its target redacted like Error.URL.

// redirectPolicy returns the CheckRedirect of the client's HTTP client. next is the caller's own
// policy (WithHTTPClient), consulted after this one; nil means none.
func redirectPolicy(base *url.URL, sc *scrubber, next func(*http.Request, []*http.Request) error) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		status := 0
		if req.Response != nil {
			status = req.Response.StatusCode
		}
		orig := via[0]
		refuse := func(reason string) error {
			return &RedirectError{StatusCode: status, Method: orig.Method, Location: sc.String(errorURL(req.URL)), Reason: reason}
		}
		switch {
		case orig.Method != http.MethodGet && orig.Method != http.MethodHead:
			return refuse("a " + orig.Method + " is never redirected")
		case !sameOrigin(base, req.URL):
			return refuse("another origin than " + originOf(base) + ": the credentials stay with it")
		case len(via) >= maxRedirects:
			return refuse("too many redirects")
		}
		if next != nil {
			return next(req, via)
		}
		return nil
	}
}

// sameOrigin reports whether u has a's scheme, host and port (default ports made explicit).
func sameOrigin(a, u *url.URL) bool {
	return originOf(a) == originOf(u)
}

// originOf is "scheme://host:port", lower-cased, with the scheme's default port filled in.
func originOf(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "https":
			port = "443"
		case "http":
			port = "80"
		}
	}
	host := strings.ToLower(u.Hostname())
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	return scheme + "://" + host + ":" + port
}
