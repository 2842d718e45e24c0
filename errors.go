package librato

import (
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-librato/librato/internal/invalid"
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
	// ErrRedirect matches a redirect the client refused to follow (see RedirectError).
	ErrRedirect = errors.New("librato: redirect refused")
	// ErrResponseTooLarge matches an answer whose body exceeds the client's limit
	// (WithMaxResponseBytes; see BodyError).
	ErrResponseTooLarge = errors.New("librato: response body too large")
)

// RedirectError is a redirect the client refused to follow (see redirect.go for the rule):
// credentials go only to the base URL's origin, and only a GET or HEAD is redirected.
type RedirectError struct {
	// StatusCode is the 3xx status of the redirect.
	StatusCode int
	// Method is the method of the request that was redirected.
	Method string
	// Location is the redirect's target, redacted like Error.URL.
	Location string
	// Reason says why it was refused.
	Reason string
}

// Error returns "redirect <status> to <location> refused: <reason>".
func (e *RedirectError) Error() string {
	return "redirect " + strconv.Itoa(e.StatusCode) + " to " + e.Location + " refused: " + e.Reason
}

// Is makes errors.Is(err, ErrRedirect) hold.
func (e *RedirectError) Is(target error) bool { return target == ErrRedirect }

// BodyError is a 2xx answer whose body could not be read in full: it was larger than the
// client's limit (errors.Is(err, ErrResponseTooLarge)), or the connection broke in the middle of
// it. The status line is the server's verdict: a write (POST, PUT, DELETE) answered 2xx was
// accepted even though its body was lost, and must not be sent again; the write path counts such
// a chunk as delivered. A read answered this way returns no data.
type BodyError struct {
	// StatusCode is the (2xx) HTTP status of the answer.
	StatusCode int
	// Method is the HTTP method of the request.
	Method string
	// URL is the request URL, redacted like Error.URL.
	URL string
	// Limit is the client's body limit in bytes.
	Limit int64
	// Err is ErrResponseTooLarge or the read error.
	Err error
}

// Error returns "librato: <METHOD> <url>: [<status>] body ...".
func (e *BodyError) Error() string {
	what := "body unreadable: " + e.Err.Error()
	if errors.Is(e.Err, ErrResponseTooLarge) {
		what = "body larger than " + strconv.FormatInt(e.Limit, 10) + " bytes (see WithMaxResponseBytes)"
	}
	return "librato: " + e.Method + " " + e.URL + ": [" + strconv.Itoa(e.StatusCode) + "] " + what
}

// Unwrap returns ErrResponseTooLarge or the read error.
func (e *BodyError) Unwrap() error { return e.Err }

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
	// Params holds the parameter errors (errors.params of the body) flattened
	// by path: "measure_time" -> ["is too far in the past"]; nested objects
	// join their keys with a dot, "conditions.duration" -> ["must be set"].
	// Nil when the body had none.
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
	if isTooOld(e.Params) {
		// The API does not say how old is too old; ~2 hours is the only figure published
		// (statsd-librato-backend issue #51: "not longer than 120mins old").
		msg += pastLimitHint
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
// (shape 8 in testdata/README.md: "You have hit the API limit for ...") or a
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

// pastLimitHint follows the API's "is too far in the past".
const pastLimitHint = " (the API takes measurement times up to about 2 hours old; the exact limit is not published)"

// isTooOld reports whether params hold the API's answer to a measurement time that is too old.
func isTooOld(params map[string][]string) bool {
	for _, m := range params["measure_time"] {
		if strings.Contains(m, "in the past") || strings.Contains(m, "in past") {
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
	if e.StatusCode == http.StatusNotFound && !isAPIErrorBody(e.Body) {
		// The API answers a missing resource with its JSON error body; anything else (a web
		// server's page, an empty body) usually means the base URL does not point at the API.
		e.Message += " (not an error body of the API: is the base URL right? The API's ends in /v1/)"
	}
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
	var rl RateLimit
	std, agg := h.Get("X-Librato-RateLimit-Std"), h.Get("X-Librato-RateLimit-Agg")
	if std == "" && agg == "" {
		return rl // the common case: no allocation, no Date parsing
	}
	now := responseTime(h)
	rl.Std = parseRateLimitWindow(std, now)
	rl.Agg = parseRateLimitWindow(agg, now)
	return rl
}

// parseRateLimitWindow parses "limit=300,remaining=299,reset=42". Unknown
// keys and malformed values are ignored: the header is informational.
func parseRateLimitWindow(v string, now time.Time) RateLimitWindow {
	v = strings.TrimSpace(v)
	if v == "" {
		return RateLimitWindow{}
	}
	w := RateLimitWindow{Present: true, Limit: -1, Remaining: -1, Raw: v}
	for pair := range strings.SplitSeq(v, ",") {
		key, val, ok := strings.Cut(pair, "=")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(val), 10, 64)
		if err != nil || n < 0 {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(key)) {
		case "limit":
			w.Limit = clampInt(n)
		case "remaining":
			w.Remaining = clampInt(n)
		case "reset":
			w.Reset = resetDuration(n, now)
		}
	}
	return w
}

// resetDuration reads a "reset" value: seconds from now, or a Unix time when
// it is that large (>= 1e9, i.e. after 2001).
func resetDuration(n int64, now time.Time) time.Duration {
	if n >= 1e9 {
		return max(time.Unix(n, 0).Sub(now), 0)
	}
	return time.Duration(n) * time.Second // n < 1e9, no overflow
}

// clampInt converts a non-negative int64 to int without wrapping on 32-bit platforms.
func clampInt(n int64) int {
	if n > int64(math.MaxInt) {
		return math.MaxInt
	}
	return int(n)
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

// errorURL renders u for an error or a log line: without userinfo or fragment, and with the
// value of any credential-like query parameter (token, api_key, password,
// secret, ...) replaced by "REDACTED".
func errorURL(u *url.URL) string {
	if u == nil {
		return ""
	}
	c := *u
	c.User = nil
	c.Fragment, c.RawFragment = "", ""
	if c.RawQuery != "" {
		q, err := url.ParseQuery(c.RawQuery)
		if err != nil {
			// An unparsable query cannot be redacted key by key: drop it.
			c.RawQuery = ""
		} else {
			redacted := false
			for k, vs := range q {
				if isCredentialParam(k) {
					for i := range vs {
						vs[i] = "REDACTED"
					}
					redacted = true
				}
			}
			if redacted {
				c.RawQuery = q.Encode()
			}
		}
	}
	return c.String()
}

// isCredentialParam reports query parameter names that may carry a secret.
func isCredentialParam(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "key", "api_key", "apikey", "api-key", "auth", "authorization", "password", "passwd", "pwd", "sig", "signature":
		return true
	}
	return strings.Contains(n, "token") || strings.Contains(n, "secret") || strings.Contains(n, "password")
}

// AnnotateError is how Annotate reports that it could not record the event (or its end). It never
// stands for the work's own failure, so a caller can tell the two apart in the joined error:
//
//	var annErr *librato.AnnotateError
//	if errors.As(err, &annErr) { log.Printf("warning: %v", annErr) }
type AnnotateError struct {
	Title string // the event's title
	ID    ID     // the event's ID when it was posted, else 0
	Msg   string // what was not recorded
	Err   error  // the cause (an *Error, a validation or transport error), possibly nil
}

// Error returns `librato: annotation "<title>" [(id N)] <msg>[: <cause>]`.
func (e *AnnotateError) Error() string {
	s := fmt.Sprintf("librato: annotation %q", e.Title)
	if e.ID != 0 {
		s += fmt.Sprintf(" (id %d)", e.ID)
	}
	s += " " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the cause.
func (e *AnnotateError) Unwrap() error { return e.Err }

// JobError is the error of a job that failed or was canceled.
type JobError struct {
	ID      ID
	State   string
	Message string // the job's errors, readable
}

func (e *JobError) Error() string {
	if e.Message == "" {
		return fmt.Sprintf("librato: job %d %s", e.ID, e.State)
	}
	return fmt.Sprintf("librato: job %d %s: %s", e.ID, e.State, e.Message)
}

// PartialError is a 2xx answer whose JSON body still carries a non-empty top-level "errors": the
// API took the request but reports that something in it failed, without saying which
// measurement. The measurements of that request are reported as rejected (in a *RejectedError),
// never sent again: some of them may have been stored, and resending could duplicate them.
type PartialError struct {
	// StatusCode is the (2xx) HTTP status of the answer.
	StatusCode int
	// Path is the API path posted to, "metrics" or "measurements".
	Path string
	// Messages are the server's error messages, one per entry of "errors".
	Messages []string
	// Body is the raw response body (at most 64 KiB).
	Body []byte
}

// Error returns "librato: POST <path>: [<status>] partial failure: <messages>".
func (e *PartialError) Error() string {
	return "librato: POST " + e.Path + ": [" + strconv.Itoa(e.StatusCode) + "] partial failure: " +
		strings.Join(e.Messages, ", ")
}

// RejectedError reports measurements the API refused for good: with 400 Bad Request (or 413) even
// after their chunk was split to isolate them, or in a 2xx answer whose body carries "errors"
// (a *PartialError). They are not sent again. The same bad measurement gives this error whichever
// way it was sent (Submit, a Queue, its spool, an Aggregator). errors.Is(err, ErrBadRequest) holds
// for a 400.
type RejectedError struct {
	// Count is the number of measurements rejected.
	Count int
	// Names are the names of the rejected measurements (at most 20, duplicates removed).
	Names []string
	// Indices are, for Submit, the argument positions of the rejected measurements, ascending;
	// nil elsewhere (a Queue passes the measurements to OnDrop instead).
	Indices []int
	// Err is the API's answer: an *Error, whose Message is the server's reason, or a
	// *PartialError.
	Err error
}

// Error returns "librato: N measurements rejected (name1, name2): <reason>".
func (e *RejectedError) Error() string { return "librato: " + e.describe() }

// describe is Error without the prefix.
func (e *RejectedError) describe() string {
	var b strings.Builder
	b.WriteString(plural(e.Count, "measurement"))
	b.WriteString(" rejected (")
	b.WriteString(strings.Join(e.Names, ", "))
	if len(e.Names) < e.Count && len(e.Names) == maxRejectedNames {
		b.WriteString(", ...")
	}
	b.WriteString("): ")
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the API's error.
func (e *RejectedError) Unwrap() error { return e.Err }

// ErrInvalid is wrapped by every error of the Validate functions, so
// errors.Is(err, ErrInvalid) tells bad input from API failures.
var ErrInvalid = invalid.Err

// ValidationError describes one name, source or tag the API would reject.
type ValidationError struct {
	// Field names what was checked: "metric name", "source", "tag name",
	// `tag "host" value` or "tag count".
	Field string
	// Value is the rejected input, in full.
	Value string
	// Reason says what is wrong, e.g. "invalid character ' ' at byte 1
	// (allowed: A-Z a-z 0-9 . : - _)".
	Reason string
}

// Error returns `<field> "<value>": <reason>`; values longer than 64 bytes
// are shortened in the text (the Value field keeps them whole).
func (e *ValidationError) Error() string {
	v := e.Value
	if len(v) > 64 {
		i := 64
		for i > 0 && !utf8.RuneStart(v[i]) {
			i--
		}
		v = v[:i] + "..."
	}
	return e.Field + " " + strconv.Quote(v) + ": " + e.Reason
}

// Unwrap returns ErrInvalid.
func (e *ValidationError) Unwrap() error { return ErrInvalid }

// SubmitError is a Submit that did not deliver everything. The Sent measurements were accepted by
// the API and must not be sent again; the Rejected ones were refused for good; the Unsent ones were
// not delivered because a transient failure (Err) stopped the call, or because some were Invalid:
// then nothing was sent.
type SubmitError struct {
	// Invalid lists the measurements that failed validation, in argument order. When it is not
	// empty nothing was sent (Unsent is every measurement).
	Invalid []*InvalidMeasurementError
	// Sent counts the measurements accepted.
	Sent int
	// Rejected lists the measurements the API refused, with its reasons and their argument indices.
	Rejected []*RejectedError
	// Unsent counts the measurements not delivered.
	Unsent int
	// UnsentIndices lists the argument indices of the Unsent measurements, ascending. (Legacy
	// chunks are sent before tagged ones, so these need not be a suffix of the arguments.)
	UnsentIndices []int
	// Err is the transient failure that stopped the call (an *Error, a transport or context
	// error), nil when only rejections happened. With nothing unsent, it is a problem with an
	// answer that still accepted its chunk (a *BodyError: a 2xx body cut short or too large).
	Err error
}

// Error says how much was sent, what was rejected and why, and what was not sent and why:
// "librato: submit: 4 measurements sent, 1 measurement rejected (m2): <reason>, 3 measurements
// not sent: <failure>".
func (e *SubmitError) Error() string {
	var b strings.Builder
	b.WriteString("librato: submit: ")
	if len(e.Invalid) > 0 {
		fmt.Fprintf(&b, "%d of %s invalid, nothing sent: ", len(e.Invalid), plural(e.Unsent, "measurement"))
		for i, me := range e.Invalid {
			if i == maxListed {
				fmt.Fprintf(&b, "; and %d more", len(e.Invalid)-maxListed)
				break
			}
			if i > 0 {
				b.WriteString("; ")
			}
			b.WriteString(me.describe())
		}
		return b.String()
	}
	b.WriteString(plural(e.Sent, "measurement"))
	b.WriteString(" sent")
	for _, r := range e.Rejected {
		b.WriteString(", ")
		b.WriteString(r.describe())
	}
	if e.Unsent > 0 {
		b.WriteString(", ")
		b.WriteString(plural(e.Unsent, "measurement"))
		b.WriteString(" not sent")
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns the rejections and the failure, so errors.Is(err, ErrRateLimited) and
// errors.As(err, &rejected) work.
func (e *SubmitError) Unwrap() []error {
	errs := make([]error, 0, len(e.Invalid)+len(e.Rejected)+1)
	for _, me := range e.Invalid {
		errs = append(errs, me)
	}
	for _, r := range e.Rejected {
		errs = append(errs, r)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// InvalidMeasurementError is one measurement of a call that failed validation.
// errors.Is(err, ErrInvalid) holds for it.
type InvalidMeasurementError struct {
	// Index is the measurement's position in the call's arguments.
	Index int
	// Name is the measurement's name as given (before any sanitizer).
	Name string
	// Err says what is wrong, usually a *ValidationError.
	Err error
}

// Error returns `librato: measurement <i> "<name>": <reason>`.
func (e *InvalidMeasurementError) Error() string {
	return "librato: " + e.describe()
}

func (e *InvalidMeasurementError) describe() string {
	name := e.Name
	if len(name) > 64 {
		name = name[:64] + "..."
	}
	return "measurement " + strconv.Itoa(e.Index) + " " + strconv.Quote(name) + ": " + e.Err.Error()
}

// Unwrap returns the underlying validation error.
func (e *InvalidMeasurementError) Unwrap() error { return e.Err }

// ErrSpoolFull is the reason OnDrop gets for measurements dropped because the spool reached
// SpoolMaxBytes (the oldest chunks go first).
var ErrSpoolFull = errors.New("librato: spool full: oldest chunks dropped")

// SpoolDamageError reports a damaged region of a Queue's spool (a flipped byte, a torn or
// truncated file, a lost acknowledgement), found when the spool was opened or read back. Its
// Measurements were lost: counted in QueueStats.Dropped and QueueStats.Damaged. Its Resent
// measurements had been delivered, but their acknowledgement was lost with the region, so they
// are sent again (duplicates), counted in QueueStats.Resent. It goes to OnError.
type SpoolDamageError struct {
	// Segment is the spool file the damage starts in; Offset and Length the damaged bytes
	// (Length 0: records missing without damaged bytes, such as a removed file).
	Segment        string
	Offset, Length int64
	// Measurements were lost; Resent are sent again.
	Measurements, Resent int64
	// Exact is false when the counts are lower bounds (the spool's checkpoint was damaged too).
	Exact bool
	// Reason says what was found.
	Reason string
}

// Error describes the damage.
func (e *SpoolDamageError) Error() string {
	s := fmt.Sprintf("librato: spool damaged (%s) at %s offset %d, %d bytes: %s lost, %s sent again",
		e.Reason, e.Segment, e.Offset, e.Length, plural(int(e.Measurements), "measurement"), plural(int(e.Resent), "measurement"))
	if !e.Exact {
		s += " (at least)"
	}
	return s
}

// ErrClosed is returned by Queue.Add and Queue.AddAggregator after Close.
var ErrClosed = errors.New("librato: queue closed")

// ErrQueueFull is returned by Queue.Add when the queue already holds MaxPending measurements; the
// measurement is dropped, counted in QueueStats.Dropped and passed to OnDrop.
var ErrQueueFull = errors.New("librato: queue full")

// ErrMaxSeries is returned by Aggregator.Add and AddTagged for a value of a new series when the
// aggregator already tracks MaxSeries series. The value is counted in AggregatorStats.Overflow.
var ErrMaxSeries = errors.New("librato: aggregator series limit reached")
