package librato

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxErrorBody caps how much of a non-2xx response body newError reads (64 KiB).
// Librato error bodies are a few hundred bytes; the cap keeps a misbehaving proxy
// (an HTML error page, an endless stream) from exhausting memory.
const maxErrorBody = 64 << 10

// Sentinel errors matched by (*Error).Is, for use with errors.Is.
var (
	// ErrBadRequest matches a 400 Bad Request answer.
	ErrBadRequest = errors.New("librato: bad request")
	// ErrUnauthorized matches a 401 Unauthorized answer (missing, wrong or inactive credentials).
	ErrUnauthorized = errors.New("librato: unauthorized")
	// ErrForbidden matches a 403 Forbidden answer.
	ErrForbidden = errors.New("librato: forbidden")
	// ErrNotFound matches a 404 Not Found answer (also returned for resources the token cannot access).
	ErrNotFound = errors.New("librato: not found")
	// ErrAlreadyExists matches a 422 Unprocessable Entity answer ("Entity Already Exists").
	ErrAlreadyExists = errors.New("librato: already exists")
	// ErrRateLimited matches a 429 answer, and a 403 answer whose body or
	// rate-limit headers say the account hit its API limit.
	ErrRateLimited = errors.New("librato: rate limited")
	// ErrServer matches any 5xx answer.
	ErrServer = errors.New("librato: server error")
)

// Error is every non-2xx API answer.
//
// Use errors.Is with the sentinels (ErrNotFound, ErrRateLimited, ...) to test the
// kind of failure, and errors.As to reach the details:
//
//	var apiErr *librato.Error
//	if errors.As(err, &apiErr) && apiErr.Params["measure_time"] != nil { ... }
type Error struct {
	// StatusCode is the HTTP status of the answer.
	StatusCode int
	// Method is the HTTP method of the request.
	Method string
	// URL is the request URL with userinfo and credential-like query
	// parameters (token, api_key, password, ...) redacted.
	URL string
	// Message is the readable message in the python-librato format, without
	// the "[400] " prefix, e.g. "params: measure_time: is too far in the past".
	// It is never empty: an empty body gives the status text.
	Message string
	// Params holds the parameter errors flattened by path: "measure_time" ->
	// ["is too far in the past"]; nested objects join their keys with a dot,
	// "conditions.duration" -> ["must be set"]. Nil when the body had none.
	Params map[string][]string
	// Body is the raw response body, at most 64 KiB of it.
	Body []byte
	// RateLimit holds the X-Librato-RateLimit-* headers of the answer.
	RateLimit RateLimit
	// RetryAfter is the parsed Retry-After header (seconds or HTTP date), 0 if absent.
	RetryAfter time.Duration
}

// Error returns "librato: <METHOD> <url>: [<status>] <message>"; the part from
// "[<status>]" on is the python-librato exception text, verbatim.
func (e *Error) Error() string {
	msg := e.Message
	if msg == "" {
		msg = statusText(e.StatusCode)
	}
	var b strings.Builder
	b.WriteString("librato: ")
	if e.Method != "" || e.URL != "" {
		b.WriteString(e.Method)
		if e.Method != "" && e.URL != "" {
			b.WriteByte(' ')
		}
		b.WriteString(e.URL)
		b.WriteString(": ")
	}
	b.WriteByte('[')
	b.WriteString(strconv.Itoa(e.StatusCode))
	b.WriteString("] ")
	b.WriteString(msg)
	return b.String()
}

// Is reports whether the error matches one of the sentinels: by status code,
// and for ErrRateLimited also by a 403 whose body or headers say the API limit
// was hit.
func (e *Error) Is(target error) bool {
	switch target {
	case ErrBadRequest:
		return e.StatusCode == http.StatusBadRequest
	case ErrUnauthorized:
		return e.StatusCode == http.StatusUnauthorized
	case ErrForbidden:
		return e.StatusCode == http.StatusForbidden
	case ErrNotFound:
		return e.StatusCode == http.StatusNotFound
	case ErrAlreadyExists:
		return e.StatusCode == http.StatusUnprocessableEntity
	case ErrRateLimited:
		return e.StatusCode == http.StatusTooManyRequests ||
			(e.StatusCode == http.StatusForbidden && e.rateLimited())
	case ErrServer:
		return e.StatusCode >= 500 && e.StatusCode <= 599
	}
	return false
}

// rateLimited reports whether a 403 is the API-limit kind: the body says so
// (reference section 9 shape 8: "You have hit the API limit for ...") or a
// rate-limit header shows an exhausted window.
func (e *Error) rateLimited() bool {
	if e.RateLimit.Std.exhausted() || e.RateLimit.Agg.exhausted() {
		return true
	}
	return mentionsRateLimit(e.Message)
}

// mentionsRateLimit looks for the phrases Librato uses when an account is
// throttled ("API limit", "rate limit"), ignoring case.
func mentionsRateLimit(msg string) bool {
	m := strings.ToLower(msg)
	for _, p := range [...]string{"api limit", "rate limit", "rate-limit", "rate_limit", "ratelimit", "limit exceeded"} {
		if strings.Contains(m, p) {
			return true
		}
	}
	return false
}

// newError reads (at most maxErrorBody bytes of) resp.Body and builds the
// *Error. It does not close the body. u may be nil.
func newError(method string, u *url.URL, resp *http.Response) *Error {
	e := &Error{Method: method, URL: errorURL(u)}
	if resp == nil {
		e.Message = statusText(0)
		return e
	}
	e.StatusCode = resp.StatusCode
	if resp.Body != nil {
		// A read error leaves what was read so far; the status still tells the story.
		e.Body, _ = io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	}
	e.Message, e.Params = errorBodyMessage(e.StatusCode, resp.Header.Get("Content-Type"), e.Body)
	e.RateLimit = parseRateLimit(resp.Header)
	e.RetryAfter, _ = parseRetryAfter(resp.Header.Get("Retry-After"), responseTime(resp.Header))
	return e
}

// statusText is http.StatusText with a fallback for unknown codes, so a
// message is never empty.
func statusText(code int) string {
	if t := http.StatusText(code); t != "" {
		return t
	}
	return "HTTP status " + strconv.Itoa(code)
}

// errorBodyMessage turns a non-2xx body into the readable message and the
// flattened params. The message is never empty: a blank body gives the status text.
func errorBodyMessage(status int, contentType string, body []byte) (string, map[string][]string) {
	if isPlainText(contentType) {
		if msg := plainMessage(body); msg != "" {
			return msg, nil
		}
		return statusText(status), nil
	}
	if msg, params := parseErrorBody(body); msg != "" {
		return msg, params
	}
	return statusText(status), nil
}

// parseErrorBody returns the readable message of an error body of unknown
// type: the python-librato message of a JSON payload, else the body itself
// with surrounding space trimmed. It returns "" only for a blank body.
func parseErrorBody(body []byte) (string, map[string][]string) {
	if msg, params := errorMessageFromJSON(body); msg != "" {
		return msg, params
	}
	return plainMessage(body), nil
}

// plainMessage is a non-JSON body as a message: trimmed, valid UTF-8.
func plainMessage(body []byte) string {
	return strings.ToValidUTF8(string(bytes.TrimSpace(body)), "\uFFFD")
}

// isPlainText reports a text/* content type other than JSON, whose body is the
// message as is (reference section 9 shape 10).
func isPlainText(ct string) bool {
	ct = strings.ToLower(ct)
	return strings.HasPrefix(ct, "text/") && !strings.Contains(ct, "json")
}

// errorMessageFromJSON decodes a JSON error payload into the python-librato
// message and the flattened params. It returns "" when raw is not JSON or has
// no recognisable message. The jobs code reuses it on a failed job payload.
func errorMessageFromJSON(raw []byte) (msg string, params map[string][]string) {
	return "", nil // filled in below
}

// RateLimit is the parsed content of the X-Librato-RateLimit-Std and
// X-Librato-RateLimit-Agg response headers.
type RateLimit struct {
	Std RateLimitWindow // X-Librato-RateLimit-Std
	Agg RateLimitWindow // X-Librato-RateLimit-Agg
}

// RateLimitWindow is one rate-limit header, a comma-separated list of
// key=value pairs such as "limit=300,remaining=299,reset=42".
type RateLimitWindow struct {
	// Present reports whether the header was sent.
	Present bool
	// Limit and Remaining are the "limit" and "remaining" values, -1 when the
	// header lacks the key.
	Limit, Remaining int
	// Reset is the time until the window resets, from the "reset" key (0 when
	// absent). The key's meaning is undocumented: a value that looks like a Unix
	// time (>= 1e9) is taken relative to the response's Date header.
	Reset time.Duration
	// Raw is the header value as sent.
	Raw string
}

// exhausted reports a present window with nothing remaining.
func (w RateLimitWindow) exhausted() bool {
	return w.Present && w.Remaining == 0
}

// parseRateLimit parses the X-Librato-RateLimit-Std and -Agg headers of h.
func parseRateLimit(h http.Header) RateLimit {
	return RateLimit{}
}

// responseTime is the response's Date header, or now when it is absent or
// malformed; relative header values (Retry-After dates, reset times) are
// measured against the server's clock when it says what it is.
func responseTime(h http.Header) time.Time {
	if t, err := http.ParseTime(h.Get("Date")); err == nil {
		return t
	}
	return time.Now()
}

// errorURL renders u without userinfo, fragment or credential-like query values.
func errorURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User = nil
	return c.String()
}
