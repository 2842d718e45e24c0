package libratotest

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxBody caps the size of a request body the fake reads.
const maxBody = 32 << 20

// Request is one request as the server received it.
type Request struct {
	Method string
	// Path is the URL path, e.g. "/v1/metrics/cpu".
	Path  string
	Query url.Values
	// Header is the request header without Authorization.
	Header http.Header
	// User is the Basic auth user name ("" without Basic auth); the password
	// is never recorded.
	User string
	// Body is the request body, decompressed if it was sent with
	// Content-Encoding: gzip (the header still says so).
	Body []byte
	// Time is the server's clock when the request arrived.
	Time time.Time
}

// RateLimit configures the server's rate limiter (see SetRateLimit).
type RateLimit struct {
	// Limit is the number of requests allowed per window; <= 0 disables
	// rate limiting.
	Limit int
	// Per is the window length, measured on the server's clock (WithNow);
	// <= 0 means one minute.
	Per time.Duration
	// Status is the status of a limited request: 429 (the default) or 403,
	// which the real API has also used. The body is the real one:
	// {"request_time":...,"error":"You have hit the API limit for ..."}.
	Status int
	// RetryAfter adds a Retry-After header (seconds to the window's end) to
	// limited responses.
	RetryAfter bool
}

// faults holds the injected faults; guarded by Server.cfgMu.
type faults struct {
	rules []*faultRule

	rate        RateLimit
	rateStart   time.Time
	rateUsed    int
	rateEnabled bool
}

// SetRateLimit installs the rate limiter p describes; a Limit <= 0 turns it
// off. While a limit is set every response carries X-Librato-RateLimit-Std
// and X-Librato-RateLimit-Agg headers of the form "limit=L,remaining=R,reset=S"
// (S: seconds until the window resets), as the real API's do.
func (s *Server) SetRateLimit(p RateLimit) {
	if p.Per <= 0 {
		p.Per = time.Minute
	}
	if p.Status == 0 {
		p.Status = http.StatusTooManyRequests
	}
	s.cfgMu.Lock()
	s.faults.rate = p
	s.faults.rateEnabled = p.Limit > 0
	s.faults.rateUsed = 0
	s.faults.rateStart = time.Time{}
	s.cfgMu.Unlock()
}

// Requests returns the requests received so far, oldest first.
func (s *Server) Requests() []Request {
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	out := make([]Request, len(s.requests))
	copy(out, s.requests)
	return out
}

// prepare reads and records the request and applies faults, rate limits and
// authentication. It reports whether the request may go on to the router;
// when it returns false the response has been written (or the connection
// dropped).
func (s *Server) prepare(w http.ResponseWriter, r *http.Request) bool {
	now := s.now()
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		s.writeError(w, http.StatusBadRequest, "request", "could not read the request body")
		return false
	}
	if len(body) > maxBody {
		s.writeError(w, http.StatusRequestEntityTooLarge, "request", "request body too large")
		return false
	}
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") && len(body) > 0 {
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err == nil {
			body, err = io.ReadAll(io.LimitReader(zr, maxBody))
		}
		if err != nil {
			s.writeError(w, http.StatusBadRequest, "request", "invalid gzip body")
			return false
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	req := s.record(r, body, now)
	if !s.applyFaults(w, r, req, now) {
		return false
	}

	limited, retryAfter, rateStatus := s.rateLimit(w, now)
	if limited {
		if retryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		}
		s.writeJSON(w, rateStatus, rateLimitBody(now))
		return false
	}
	if !s.authorized(r) {
		s.unauthorized(w, r)
		return false
	}
	return true
}

// record appends r to the request log and returns it as recorded.
func (s *Server) record(r *http.Request, body []byte, now time.Time) Request {
	h := r.Header.Clone()
	h.Del("Authorization")
	user, _, _ := r.BasicAuth()
	q, _ := url.ParseQuery(r.URL.RawQuery)
	req := Request{Method: r.Method, Path: r.URL.Path, Query: q, Header: h, User: user, Body: body, Time: now}
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	if s.logLimit <= 0 {
		return req
	}
	if len(s.requests) >= s.logLimit {
		n := copy(s.requests, s.requests[len(s.requests)-s.logLimit+1:])
		s.requests = s.requests[:n]
	}
	s.requests = append(s.requests, req)
	return req
}

// rateLimit counts the request against the rate limit, sets the rate-limit
// headers and reports whether the request is over the limit.
func (s *Server) rateLimit(w http.ResponseWriter, now time.Time) (limited bool, retryAfter, status int) {
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	f := &s.faults
	if !f.rateEnabled {
		return false, 0, 0
	}
	if f.rateStart.IsZero() || !now.Before(f.rateStart.Add(f.rate.Per)) {
		f.rateStart, f.rateUsed = now, 0
	}
	f.rateUsed++
	remaining := max(f.rate.Limit-f.rateUsed, 0)
	reset := int(f.rateStart.Add(f.rate.Per).Sub(now).Round(time.Second) / time.Second)
	v := fmt.Sprintf("limit=%d,remaining=%d,reset=%d", f.rate.Limit, remaining, reset)
	w.Header().Set("X-Librato-RateLimit-Std", v)
	w.Header().Set("X-Librato-RateLimit-Agg", v)
	if f.rateUsed <= f.rate.Limit {
		return false, 0, 0
	}
	if f.rate.RetryAfter {
		retryAfter = max(reset, 1)
	}
	return true, retryAfter, f.rate.Status
}

// rateLimitBody is the real API's answer to a rate-limited request (error
// body shape 8 of testdata/README.md).
func rateLimitBody(now time.Time) map[string]any {
	return map[string]any{
		"request_time": now.Unix(),
		"error":        "You have hit the API limit for measurements [measure:raw_rate]. Contact: support@librato.com to adjust this limit.",
	}
}

// Authorized reports whether r carries the credentials the server accepts,
// for handlers served next to it (the CLI's fault admin endpoint).
func (s *Server) Authorized(r *http.Request) bool { return s.authorized(r) }

// authorized reports whether r carries the server's credentials.
func (s *Server) authorized(r *http.Request) bool {
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	if s.appOptics {
		return (user == s.token && pass == "") || (user == "token" && pass == s.token)
	}
	return user == s.user && pass == s.token
}

// unauthorized writes the real API's 401: text/plain on POST, JSON otherwise.
func (s *Server) unauthorized(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost {
		w.Header().Set("Content-Type", "text/plain;charset=utf-8")
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, "Credentials are required to access this resource.")
		return
	}
	s.writeError(w, http.StatusUnauthorized, "request", "Authorization Required")
}

// writeRaw writes an injected status and body.
func writeRaw(w http.ResponseWriter, status int, body string) {
	t := strings.TrimSpace(body)
	if strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[") {
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
	} else {
		w.Header().Set("Content-Type", "text/plain;charset=utf-8")
	}
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// dropConnection closes the client's connection without a response.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	// HTTP/2 or a ResponseRecorder: aborting the handler resets the stream.
	panic(http.ErrAbortHandler)
}

// A Fault is a misbehaviour for the requests it matches, added with
// AddFault. It answers with Status (and Body), closes the connection (Drop),
// or only delays the request (Latency alone), either for the next Count
// matching requests or for a steady share of them (Rate).
type Fault struct {
	// Method matches the request method ("" any). Path matches the URL path
	// exactly, or as a prefix when it ends in "*" ("" any).
	Method string
	Path   string

	// Status answers the request with this status (400-599) and Body. An
	// empty Body is the real API's body for the status: the rate-limit body
	// for 403 and 429, {"errors":{"system":[...]}} for 5xx,
	// {"errors":{"request":[...]}} otherwise.
	Status int
	Body   string
	// RetryAfter, with Status, adds a Retry-After header of that many
	// seconds.
	RetryAfter int
	// Drop closes the connection without an answer, as a network failure or
	// a crashed proxy would. net/http's Transport silently retries a GET (or
	// HEAD) once when a reused keep-alive connection is closed this way, so a
	// dropped GET may look like a success unless the client disables
	// keep-alives; POSTs are never retried. Through Transport the request
	// fails with an error, as on a closed connection.
	Drop bool
	// Latency delays the request first; alone, the request is then handled
	// as usual.
	Latency time.Duration

	// Func, when set, decides for each matching request instead: called with
	// the request's context and the request as recorded (its Body
	// decompressed), it answers with status (any, 2xx included) and body when
	// ok is true, or lets the request go on. It may block until ctx ends, as
	// a server that never answers. Func faults are asked after the others,
	// in the order they were added; Count and Rate do not apply, and the
	// answer fields above must be left zero.
	Func func(ctx context.Context, r Request) (status int, body string, ok bool)

	// Count applies the fault to the next Count matching requests, after
	// which it is removed. Rate (0 < Rate <= 1) applies it to that share of
	// matching requests, evenly spaced: 0.25 hits every fourth. Exactly one
	// of them is set.
	Count int
	Rate  float64
}

// faultRule is an added Fault and its progress.
type faultRule struct {
	Fault
	seen int // matching requests so far (Rate)
}

// Validate reports what is wrong with f, or nil; AddFault refuses a fault
// that does not validate.
func (f Fault) Validate() error {
	if f.Func != nil {
		switch {
		case f.Status != 0 || f.Body != "" || f.Drop || f.Latency != 0 || f.RetryAfter != 0 || f.Count != 0 || f.Rate != 0:
			return errors.New("a fault with a Func sets no status, body, drop, latency, retry-after, count or rate")
		case f.Path != "" && !strings.HasPrefix(f.Path, "/"):
			return fmt.Errorf("path %q must start with /", f.Path)
		}
		return nil
	}
	switch {
	case f.Status != 0 && (f.Status < 400 || f.Status > 599):
		return fmt.Errorf("status %d is not an error status (400-599)", f.Status)
	case f.Status != 0 && f.Drop:
		return errors.New("a fault either answers with a status or drops the connection, not both")
	case f.Status == 0 && !f.Drop && f.Latency <= 0:
		return errors.New("a fault needs a status, a drop or a latency")
	case f.Latency < 0:
		return errors.New("latency must not be negative")
	case f.RetryAfter < 0 || f.RetryAfter > 0 && f.Status == 0:
		return errors.New("retry-after needs a status and must not be negative")
	case f.Body != "" && f.Status == 0:
		return errors.New("a body needs a status")
	case f.Count < 0 || f.Rate < 0 || f.Rate > 1:
		return errors.New("count must be positive and rate within (0, 1]")
	case (f.Count > 0) == (f.Rate > 0):
		return errors.New("a fault needs either a count (one-shot) or a rate (steady), not both")
	case f.Path != "" && !strings.HasPrefix(f.Path, "/"):
		return fmt.Errorf("path %q must start with /", f.Path)
	}
	return nil
}

// matches reports whether f applies to r.
func (f Fault) matches(r *http.Request) bool {
	if f.Method != "" && !strings.EqualFold(f.Method, r.Method) {
		return false
	}
	if prefix, ok := strings.CutSuffix(f.Path, "*"); ok {
		return strings.HasPrefix(r.URL.Path, prefix)
	}
	return f.Path == "" || f.Path == r.URL.Path
}

// AddFault adds a fault; faults apply in the order they were added, before
// the rate limit and the credentials check. A request gets the latency of
// every fault that hits it and the answer (or drop) of the first one that has
// one, Func faults last; a fault that did not get to answer is not used up.
func (s *Server) AddFault(f Fault) error {
	if err := f.Validate(); err != nil {
		return fmt.Errorf("libratotest: %w", err)
	}
	s.cfgMu.Lock()
	s.faults.rules = append(s.faults.rules, &faultRule{Fault: f})
	s.cfgMu.Unlock()
	return nil
}

// Faults returns the faults added with AddFault that are still in force;
// Count is what is left of a one-shot fault.
func (s *Server) Faults() []Fault {
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	out := make([]Fault, 0, len(s.faults.rules))
	for _, r := range s.faults.rules {
		out = append(out, r.Fault)
	}
	return out
}

// ClearFaults removes every fault added with AddFault.
func (s *Server) ClearFaults() {
	s.cfgMu.Lock()
	s.faults.rules = nil
	s.cfgMu.Unlock()
}

// applyFaults applies the faults added with AddFault to r. It reports whether
// the request may go on; when not, it has been answered or dropped.
func (s *Server) applyFaults(w http.ResponseWriter, r *http.Request, req Request, now time.Time) bool {
	var latency time.Duration
	var answer *Fault
	var funcs []func(context.Context, Request) (int, string, bool)
	s.cfgMu.Lock()
	rules := s.faults.rules[:0]
	for _, rule := range s.faults.rules {
		if rule.Func != nil {
			if rule.matches(r) {
				funcs = append(funcs, rule.Func)
			}
			rules = append(rules, rule)
			continue
		}
		hits := rule.matches(r)
		answers := rule.Status != 0 || rule.Drop
		if hits && answers && answer != nil {
			hits = false // another fault answers this request
		}
		if hits && rule.Rate > 0 {
			rule.seen++
			// Evenly spaced: hit when the running share crosses a whole request.
			hits = int(float64(rule.seen)*rule.Rate) > int(float64(rule.seen-1)*rule.Rate)
		}
		if hits {
			latency += rule.Latency
			if answers {
				f := rule.Fault
				answer = &f
			}
			if rule.Count > 0 {
				rule.Count--
				if rule.Count == 0 {
					continue // used up
				}
			}
		}
		rules = append(rules, rule)
	}
	clear(s.faults.rules[len(rules):])
	s.faults.rules = rules
	s.cfgMu.Unlock()

	if !wait(r, latency) {
		return false
	}
	switch {
	case answer == nil:
		for _, f := range funcs {
			status, body, ok := f(r.Context(), req)
			if r.Context().Err() != nil {
				return false // the client went away
			}
			if ok {
				writeRaw(w, status, body)
				return false
			}
		}
		return true
	case answer.Drop:
		dropConnection(w)
		return false
	}
	if answer.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(answer.RetryAfter))
	}
	if answer.Body != "" {
		writeRaw(w, answer.Status, answer.Body)
		return false
	}
	reason := "injected fault: " + http.StatusText(answer.Status)
	switch {
	case answer.Status == http.StatusTooManyRequests || answer.Status == http.StatusForbidden:
		s.writeJSON(w, answer.Status, rateLimitBody(now))
	case answer.Status >= 500:
		s.writeError(w, answer.Status, "system", reason)
	default:
		s.writeError(w, answer.Status, "request", reason)
	}
	return false
}

// wait sleeps for d (nothing for d <= 0) unless the request is cancelled first, and reports
// whether it may go on.
func wait(r *http.Request, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	}
}
