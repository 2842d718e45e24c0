package librato

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
)

// redacted replaces every form of a credential found in text.
const redacted = "[REDACTED]"

// scrubber finds the client's credentials in text an answer echoed back (some proxies and
// misconfigured servers do: in a body, a header, a Location, a transport error). It knows the token
// and the Basic credentials in the forms an echo takes: raw, base64 (standard and URL alphabets),
// query-escaped and JSON-escaped, matched without regard to ASCII case.
type scrubber struct {
	needles []string // lower-cased, longest first, so a longer form wins over its prefix
}

func newScrubber(token, userPass string) *scrubber {
	var secrets []string
	for _, s := range []string{token, userPass} {
		secrets = append(secrets, s,
			base64.StdEncoding.EncodeToString([]byte(s)),
			base64.RawStdEncoding.EncodeToString([]byte(s)),
			base64.URLEncoding.EncodeToString([]byte(s)))
	}
	seen := map[string]bool{}
	var needles []string
	add := func(n string) {
		n = asciiLower(n)
		if n != "" && !seen[n] { // even a short token is redacted, at the cost of ordinary text
			seen[n] = true
			needles = append(needles, n)
		}
	}
	for _, s := range secrets {
		add(s)
		add(url.QueryEscape(s))
		add(url.PathEscape(s))
		add(strings.ReplaceAll(s, "/", `\/`))     // JSON encoders that escape slashes
		add(strings.ReplaceAll(s, "+", `\u002b`)) // and those that escape plus signs
	}
	// Longest first: "user:token" is one redaction, not "user:" and one.
	slices.SortStableFunc(needles, func(a, b string) int { return len(b) - len(a) })
	return &scrubber{needles: needles}
}

// asciiLower lower-cases ASCII letters only, so byte offsets stay those of s.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// String returns s with every credential form replaced by [REDACTED].
func (sc *scrubber) String(s string) string {
	if sc == nil || s == "" {
		return s
	}
	low := asciiLower(s)
	var b strings.Builder
	last := 0
	for i := 0; i < len(low); {
		n := sc.matchAt(low, i)
		if n == 0 {
			next := sc.nextCandidate(low, i+1)
			if next < 0 {
				break
			}
			i = next
			continue
		}
		if b.Len() == 0 {
			b.Grow(len(s))
		}
		b.WriteString(s[last:i])
		b.WriteString(redacted)
		i += n
		last = i
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// Bytes is String for a body; it returns p itself when nothing was found.
func (sc *scrubber) Bytes(p []byte) []byte {
	if sc == nil || len(p) == 0 {
		return p
	}
	s := string(p)
	if out := sc.String(s); out != s {
		return []byte(out)
	}
	return p
}

// matchAt returns the length of the longest needle at low[i:], or 0.
func (sc *scrubber) matchAt(low string, i int) int {
	for _, n := range sc.needles {
		if strings.HasPrefix(low[i:], n) {
			return len(n)
		}
	}
	return 0
}

// nextCandidate returns the first offset >= from where some needle starts, or -1.
func (sc *scrubber) nextCandidate(low string, from int) int {
	best := -1
	for _, n := range sc.needles {
		if j := strings.Index(low[from:], n); j >= 0 && (best < 0 || from+j < best) {
			best = from + j
		}
	}
	return best
}

// scrubHeader removes credentials from every header value, in place.
func (sc *scrubber) scrubHeader(h http.Header) {
	for _, vs := range h {
		for i, v := range vs {
			vs[i] = sc.String(v)
		}
	}
}

// scrubbedError is an error whose text held credentials: it keeps the scrubbed text and answers
// errors.Is like the original, but does not unwrap to it (unwrapping would show the original).
type scrubbedError struct {
	msg  string
	orig error
}

func (e *scrubbedError) Error() string { return e.msg }

// Is reports whether the original error matches target (context.Canceled, ErrRedirect, ...).
func (e *scrubbedError) Is(target error) bool { return errors.Is(e.orig, target) }

// scrubErr is the scrubbing point for errors: every error the client returns passes through it.
// An *Error has its fields scrubbed (in a copy); any other error whose text, in any of its
// printed forms, holds a credential becomes a scrubbedError with the scrubbed text. The write
// path calls it for every error it builds around a response (c.scrubErr(err)).
func (c *Client) scrubErr(err error) error {
	if err == nil || c.scrub == nil {
		return err
	}
	if apiErr, ok := err.(*Error); ok {
		cp := *apiErr
		c.scrubAPIError(&cp)
		return &cp
	}
	full := err.Error() + "\x00" + fmt.Sprintf("%+v", err) + "\x00" + fmt.Sprintf("%#v", err)
	for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(u) {
		full += "\x00" + fmt.Sprintf("%+v", u) + "\x00" + fmt.Sprintf("%#v", u)
	}
	if c.scrub.String(full) == full {
		return err
	}
	return &scrubbedError{msg: c.scrub.String(err.Error()), orig: err}
}

// scrubAPIError removes echoed credentials from everything an *Error shows.
func (c *Client) scrubAPIError(e *Error) {
	e.URL = c.scrub.String(e.URL)
	e.Message = c.scrub.String(e.Message)
	e.Body = c.scrub.Bytes(e.Body)
	e.RateLimit.Std.Raw = c.scrub.String(e.RateLimit.Std.Raw)
	e.RateLimit.Agg.Raw = c.scrub.String(e.RateLimit.Agg.Raw)
	if e.Params != nil {
		params := make(map[string][]string, len(e.Params))
		for k, vs := range e.Params {
			out := make([]string, len(vs))
			for i, v := range vs {
				out[i] = c.scrub.String(v)
			}
			params[c.scrub.String(k)] = out
		}
		e.Params = params
	}
}

// logURL is u as a log line or error shows it: redacted (errorURL) and scrubbed.
func (c *Client) logURL(u *url.URL) string { return c.scrub.String(errorURL(u)) }

// scrubLogger is the retry layer's logger: it scrubs every message and value before handing them
// to the caller's slog.Logger, so a URL or an error it logs cannot carry the credentials.
type scrubLogger struct {
	l  *slog.Logger
	sc *scrubber
}

func (s scrubLogger) Error(msg string, kv ...any) { s.log(slog.LevelError, msg, kv) }
func (s scrubLogger) Warn(msg string, kv ...any)  { s.log(slog.LevelWarn, msg, kv) }
func (s scrubLogger) Info(msg string, kv ...any)  { s.log(slog.LevelInfo, msg, kv) }
func (s scrubLogger) Debug(msg string, kv ...any) { s.log(slog.LevelDebug, msg, kv) }

func (s scrubLogger) log(level slog.Level, msg string, kv []any) {
	out := make([]any, len(kv))
	for i, v := range kv {
		switch v := v.(type) {
		case nil, bool, int, int64, float64:
			out[i] = v
		case *url.URL:
			out[i] = s.sc.String(errorURL(v))
		case error:
			out[i] = s.sc.String(v.Error())
		default:
			out[i] = s.sc.String(fmt.Sprint(v))
		}
	}
	s.l.Log(context.Background(), level, s.sc.String(msg), out...) // the retry layer passes no context
}
