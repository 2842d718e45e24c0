// Package libratotest is an in-memory fake of the Librato Metrics API v1 (and
// of its token-only AppOptics variant) for tests and local development, in
// the spirit of net/http/httptest.
//
//	srv := libratotest.NewServer()
//	defer srv.Close()
//	c, err := srv.Client()
//
// NewServer listens on loopback; NewUnstartedServer does not listen at all,
// and its Client and Transport reach it in process, so a test needs no
// socket. Start makes an unstarted server listen.
//
// It validates requests like the real API (credentials, content types, names,
// sources, tags, time windows), answers with the real status codes and error
// bodies, stores what it accepts and serves it back with resolution rollups.
//
// Tests look at what arrived with Requests, Measurements and Metric, and make
// the server misbehave with AddFault (an error status, a dropped connection
// or latency, for a count of requests or a steady share of them, or a
// function deciding per request; matched by method and path) and
// SetRateLimit. Options fix the clock (WithNow), the credentials, the page
// size and the limits. Snapshot, Restore and Reset save and reset the state.
//
// Simplifications, on purpose:
//   - One account: one set of credentials, every token has the admin role.
//   - Source-based (legacy) series and tagged series of one metric are kept
//     apart: GET /v1/metrics/:name shows source series, GET
//     /v1/measurements/:name shows tagged series.
//   - Measurements older than the maximum age (WithMaxAge, default 2 hours
//     before the server's clock) are rejected with the real "is too far in
//     the past" error; future times are accepted.
//   - Tag names and tag values are lower-cased, as the real API does.
//   - Nothing is ever answered with 202 and a job (POST /v1/measurements
//     answers 202 with an empty body, no job), so GET /v1/jobs/:id is 404.
//   - Plain HTTP is accepted (the real API insists on HTTPS); gzip request
//     bodies are accepted in both modes.
//   - tags_search understands a subset of the query language: name=pattern
//     terms joined by "and".
package libratotest

import (
	"net/http"
	"net/http/httptest"
	"sync"
	"time"
)

// Notes for contributors.
//
// An area (alerts.go, annotations.go, spaces.go, services.go, composite.go,
// ...) adds its routes in its register function, called once from newServer.
// By the time a handler runs, ServeHTTP has recorded the request, applied
// faults and rate limits, decompressed a gzip body and checked the
// credentials, so handlers do their own work only, with these helpers
// (httputil.go): s.mu guards all stored state (never hold it while sleeping
// or writing a body that may block); s.now() is the clock; s.nextID() hands
// out ids; s.writeJSON, s.writeEmpty, s.writeError, s.writeParamErrors and
// s.notFound answer; s.requireJSON, s.decodeJSON and s.decodeBody (JSON or
// form bodies with bracketed keys) read; s.listParams and p.page page a list;
// s.addState makes an area's state part of Snapshot, Restore and Reset.

// DefaultUser and DefaultToken are the credentials a Server accepts unless
// WithCredentials says otherwise.
const (
	DefaultUser  = "test@example.com"
	DefaultToken = "libratotest-token"
)

// DefaultPageSize is the default and maximum length of a list page, as in the
// real API.
const DefaultPageSize = 100

// DefaultMaxAge is how old a measurement's time may be before it is rejected
// with "is too far in the past".
const DefaultMaxAge = 2 * time.Hour

// An Option configures a Server.
type Option func(*Server)

// WithCredentials sets the user (account email) and API token the server
// accepts. In AppOptics mode only the token is used.
func WithCredentials(user, token string) Option {
	return func(s *Server) { s.user, s.token = user, token }
}

// WithAppOptics makes the server behave like the AppOptics API: token-only
// authentication (the token as the Basic user name, empty password; the
// appoptics-api-go form, user "token" and the token as password, is accepted
// too) and only the tagged API: POST /v1/metrics with gauges or counters is
// refused.
func WithAppOptics() Option {
	return func(s *Server) { s.appOptics = true }
}

// WithPageSize sets the default and maximum length of list pages and the
// number of series per page of GET /v1/measurements/:name. n < 1 is ignored.
func WithPageSize(n int) Option {
	return func(s *Server) {
		if n > 0 {
			s.pageSize = n
		}
	}
}

// WithNow sets the server's clock, used for default measurement times, the
// time window check and default end times. nil is ignored.
func WithNow(now func() time.Time) Option {
	return func(s *Server) {
		if now != nil {
			s.nowFunc = now
		}
	}
}

// WithMaxAge sets how far in the past a measurement time may be (default
// DefaultMaxAge). d <= 0 accepts any past time.
func WithMaxAge(d time.Duration) Option {
	return func(s *Server) { s.maxAge = d }
}

// WithMaxSeries limits how many series (legacy metric/source pairs and tagged metric/tag-set
// pairs) the server stores. A POST that would create a series past the limit is refused as a
// whole with a 400 {"errors":{"params":{"series":[...]}}}, like any other invalid measurement;
// points of series that exist are always accepted. n <= 0 (the default) means no limit.
func WithMaxSeries(n int) Option {
	return func(s *Server) { s.maxSeries = n }
}

// WithRequestLog sets how many requests Requests keeps (the oldest are
// dropped first); the default is 10000, n <= 0 keeps none.
func WithRequestLog(n int) Option {
	return func(s *Server) { s.logLimit = n }
}

// Server is a fake Librato API. It is an http.Handler; NewServer also starts
// it on a loopback listener. All methods are safe for concurrent use.
type Server struct {
	// URL is the base URL of the listener started by NewServer or Start,
	// without the /v1 path (e.g. "http://127.0.0.1:41234"). It is empty until
	// the server is started.
	URL string

	ts        *httptest.Server
	closeOnce sync.Once
	handler   http.Handler

	user, token string
	appOptics   bool
	pageSize    int
	maxAge      time.Duration
	logLimit    int
	maxSeries   int

	// bodies bounds the request body bytes held at once across requests.
	bodies *byteBudget
	// journal, when set (WithJournal), records every change before its answer goes out;
	// journalMu orders the changes: the handler of one and its record happen under it.
	journal   func(Change) (wait func() error)
	journalMu sync.Mutex

	// mu guards the stored state: st, the areas' own state and ids.
	mu     sync.Mutex
	st     *state
	areas  []areaState
	lastID int64

	// The areas that exported helpers reach (FireAlert, ServeAnnotationEventsAsMap);
	// each is set once by its register function.
	alertArea      *alertStore
	annotationArea *annotationStore
	serviceArea    *serviceStore

	// cfgMu guards the clock, the request log and the fault settings; it is
	// never held while handling a request.
	cfgMu    sync.Mutex
	nowFunc  func() time.Time
	frozen   time.Time // while set, now() returns it: a journaled change or a replay runs at one instant
	requests []Request
	faults   faults
}

// NewServer starts a fake Librato API on a loopback listener. Close it when
// done.
func NewServer(opts ...Option) *Server {
	s := NewUnstartedServer(opts...)
	s.Start()
	return s
}

// NewUnstartedServer returns a fake Librato API that is not listening anywhere,
// as httptest.NewUnstartedServer does: call Start to listen on loopback, serve
// it on a listener of your own (it is an http.Handler; `librato serve` does
// that), or use it with no socket at all: Client and Transport reach it in
// process.
func NewUnstartedServer(opts ...Option) *Server {
	s := &Server{
		user:     DefaultUser,
		token:    DefaultToken,
		pageSize: DefaultPageSize,
		maxAge:   DefaultMaxAge,
		logLimit: 10000,
		nowFunc:  time.Now,
		st:       newState(),
		bodies:   newByteBudget(MaxBodyBytesInFlight),
	}
	for _, o := range opts {
		o(s)
	}
	mux := http.NewServeMux()
	s.registerMetrics(mux)
	s.registerMeasurements(mux)
	s.registerAlerts(mux)
	s.registerAnnotations(mux)
	s.registerServices(mux)
	s.registerSpaces(mux)
	// Unknown API paths get the API's JSON 404; paths outside /v1/ are not the API at all and get
	// a web server's plain one, as the real host answers them (and as a wrong base URL meets).
	mux.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) { s.notFound(w) })
	mux.HandleFunc("/", http.NotFound)
	s.handler = mux
	return s
}

// Start starts the server on a loopback listener and sets URL. It panics if
// the server was started already, as httptest's Start does.
func (s *Server) Start() {
	if s.ts != nil {
		panic("libratotest: Server already started")
	}
	s.ts = httptest.NewServer(s)
	s.URL = s.ts.URL
}

// Close shuts down the listener started by NewServer or Start and blocks until
// every request has finished. It is safe to call more than once and is a no-op
// for a server that was never started.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		if s.ts != nil {
			s.ts.Close()
		}
	})
}

// AppOptics reports whether the server runs in AppOptics mode.
func (s *Server) AppOptics() bool { return s.appOptics }

// Credentials returns the user and token the server accepts.
func (s *Server) Credentials() (user, token string) { return s.user, s.token }

// Now returns the server's clock (WithNow; the time of day by default), as
// handlers served next to it see it: the web view of `librato serve` draws its
// time ranges up to it.
func (s *Server) Now() time.Time { return s.now() }

// now returns the server's current time.
func (s *Server) now() time.Time {
	s.cfgMu.Lock()
	f, frozen := s.nowFunc, s.frozen
	s.cfgMu.Unlock()
	if !frozen.IsZero() {
		return frozen
	}
	return f()
}

// nextID returns a new positive id, unique within the server. Callers hold
// s.mu.
func (s *Server) nextID() int64 {
	s.lastID++
	return s.lastID
}

// ServeHTTP checks the credentials of a request with a body before it reads a
// byte of it, waits for room among the body bytes all requests hold at once
// (MaxBodyBytesInFlight), records the request, applies injected faults,
// latency and rate limits, checks credentials (faults come first for a request
// without a body) and then routes the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if hasBody(r) && !s.authorized(r) {
		s.unauthorized(w, r)
		return
	}
	release, ok := s.admitBody(w, r)
	if !ok {
		return
	}
	defer release()
	if !s.prepare(w, r) {
		return
	}
	if s.journal != nil && changes(r.Method) {
		s.serveJournaled(w, r)
		return
	}
	s.handler.ServeHTTP(w, r)
}
