package librato

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// Version is the library version sent in the User-Agent header.
const Version = "0.1.0"

// Default base URLs of the two APIs this client speaks.
const (
	DefaultBaseURL          = "https://metrics-api.librato.com/v1/"
	DefaultAppOpticsBaseURL = "https://api.appoptics.com/v1/"
)

// DefaultTimeout bounds one HTTP attempt when no WithTimeout or WithHTTPClient is given.
const DefaultTimeout = 10 * time.Second

// DefaultChunkSize is how many measurements one POST carries at most (the API's ~300 guideline).
const DefaultChunkSize = 300

// DefaultMaxResponseBytes caps the body of a 2xx answer the client reads when no
// WithMaxResponseBytes is given (16 MiB). A full page of the API's largest answers (100 metrics
// with their attributes, a measurements query with its series) is well below 1 MiB; the cap keeps
// a misbehaving server or proxy (an endless body) from exhausting memory. Error bodies are capped
// at 64 KiB.
const DefaultMaxResponseBytes = 16 << 20

// Client talks to the Librato (or AppOptics) API. It is safe for concurrent use.
// Create one with Connect or ConnectAppOptics and share it.
//
// What a client sends and reads is bounded and kept to its origin:
//   - Credentials go only to the base URL's origin (scheme, host and port). A GET or HEAD is
//     redirected within that origin, at most 10 times; a redirect elsewhere (another port or
//     host, https to http) and any redirect of another method (a POST, PUT or DELETE) is refused,
//     not followed: the call fails with a *RedirectError, errors.Is(err, ErrRedirect).
//   - A 2xx body is read up to DefaultMaxResponseBytes (16 MiB, WithMaxResponseBytes), an error
//     body up to 64 KiB. A 2xx body over the cap or cut off is a *BodyError that keeps the status.
//   - Whatever an answer echoes of the credentials (in its body, headers or a Location) is
//     replaced by [REDACTED] before any error, value or log line is made of it.
type Client struct {
	// The services, one per area of the API. Each is set by Connect and shares the client.
	Metrics      *MetricsService      // metric definitions: get, list, update, delete, composite metrics
	Measurements *MeasurementsService // tagged reads and composite queries
	Alerts       *AlertsService       // alerts, their conditions and status
	Annotations  *AnnotationsService  // annotation streams and events
	Spaces       *SpacesService       // spaces and their charts
	Services     *ServicesService     // notification services for alerts
	Jobs         *JobsService         // asynchronous jobs (bulk updates and deletes)

	baseURL   string // always ends with "/"
	user      string
	auth      func() string // the Authorization header value, held in a closure so no printing of the struct shows it
	scrub     *scrubber     // removes every form of the credentials from text an answer echoed back
	maxBody   int64         // cap on a 2xx body (WithMaxResponseBytes)
	userAgent string
	http      *retryablehttp.Client
	gzip      bool
	appOptics bool
	tags      map[string]string
	sanitize  func(string) string
	logger    *slog.Logger
	chunkSize int
	now       func() time.Time
	rateLimit atomic.Pointer[RateLimit]
}

// service is what every service type is: the client its calls go through.
type service struct{ client *Client }

// String describes the client without its credentials.
func (c *Client) String() string {
	return fmt.Sprintf("librato.Client{url: %s, user: %q}", c.baseURL, c.user)
}

// GoString is String: %#v must not print the credentials either.
func (c *Client) GoString() string { return c.String() }

// Option configures a Client. Options validate their arguments; Connect reports the first error.
type Option func(*config) error

type config struct {
	baseURL    string
	httpClient *http.Client
	timeout    time.Duration
	retry      RetryPolicy
	sanitizer  Sanitizer
	tags       map[string]string
	uaPrefix   string
	logger     *slog.Logger
	tlsConfig  *tls.Config
	gzip       bool
	chunkSize  int
	maxBody    int64
}

// RetryPolicy says how failed requests are retried. Only transport errors, 429 and 5xx are retried;
// other 4xx answers never are. The zero value means the defaults.
type RetryPolicy struct {
	// MaxAttempts is the number of tries in all, first one included (default 4; 1 disables retries).
	MaxAttempts int
	// MinWait is the first backoff (default 200ms); each retry doubles it, with jitter.
	MinWait time.Duration
	// MaxWait caps every wait, a server's Retry-After included (default 10s).
	MaxWait time.Duration
}

// DefaultRetryPolicy is used when WithRetry is not given.
var DefaultRetryPolicy = RetryPolicy{MaxAttempts: 4, MinWait: 200 * time.Millisecond, MaxWait: 10 * time.Second}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts == 0 {
		p.MaxAttempts = DefaultRetryPolicy.MaxAttempts
	}
	if p.MinWait == 0 {
		p.MinWait = DefaultRetryPolicy.MinWait
	}
	if p.MaxWait == 0 {
		p.MaxWait = DefaultRetryPolicy.MaxWait
	}
	return p
}

// WithBaseURL sets the API base URL, for example a libratotest server's URL plus "/v1/". A URL with
// no path, such as "http://127.0.0.1:8080", means the API root on that host: "/v1/" is added. Any
// other path is kept as given (a proxy may serve the API below a prefix).
// Credentials in the URL are refused: pass them to Connect, where they are kept out of errors and logs.
func WithBaseURL(raw string) Option {
	return func(c *config) error {
		// The messages never quote raw: its userinfo, opaque part or query may hold credentials.
		u, err := url.Parse(raw)
		if err != nil {
			var ue *url.Error
			if errors.As(err, &ue) {
				err = ue.Err // *url.Error repeats the whole URL
			}
			return fmt.Errorf("librato: invalid base URL: %w", err)
		}
		if u.User != nil {
			return errors.New("librato: base URL must not contain credentials; pass them to Connect")
		}
		if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
			return fmt.Errorf("librato: base URL %s must be an absolute http or https URL", urlShape(u))
		}
		if u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("librato: base URL %s must not have a query or fragment", urlShape(u))
		}
		if u.Path == "" || u.Path == "/" {
			u.Path, u.RawPath = "/v1/", ""
		}
		s := u.String()
		if !strings.HasSuffix(s, "/") {
			s += "/" // so that relative paths resolve below it, not beside it
		}
		c.baseURL = s
		return nil
	}
}

// urlShape is u as an option error may show it: scheme, host and path only, without the userinfo,
// opaque part, query or fragment, any of which may hold credentials.
func urlShape(u *url.URL) string {
	if u.Opaque != "" {
		return strconv.Quote(u.Scheme + ":...")
	}
	return strconv.Quote((&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String())
}

// WithHTTPClient makes the client send requests through hc (its Transport, Timeout and Jar).
// Retries still happen above it.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *config) error {
		if hc == nil {
			return errors.New("librato: WithHTTPClient: nil client")
		}
		c.httpClient = hc
		return nil
	}
}

// WithTimeout bounds each HTTP attempt (default 10s). Contexts bound the whole call, retries included.
func WithTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("librato: WithTimeout: %v is not positive", d)
		}
		c.timeout = d
		return nil
	}
}

// WithRetry sets the retry policy; zero fields keep their defaults.
func WithRetry(p RetryPolicy) Option {
	return func(c *config) error {
		if p.MaxAttempts < 0 || p.MinWait < 0 || p.MaxWait < 0 {
			return errors.New("librato: WithRetry: negative values")
		}
		p = p.withDefaults()
		if p.MinWait > p.MaxWait {
			return fmt.Errorf("librato: WithRetry: MinWait %v exceeds MaxWait %v", p.MinWait, p.MaxWait)
		}
		c.retry = p
		return nil
	}
}

// WithSanitizer applies s to every metric name the client sends, for example SanitizeMetricName.
func WithSanitizer(s Sanitizer) Option {
	return func(c *config) error {
		c.sanitizer = s
		return nil
	}
}

// WithTags sets client-wide default tags. Measurements sent through a client with tags go to the
// tagged API; their own tags win over these for the same name.
func WithTags(tags map[string]string) Option {
	return func(c *config) error {
		if err := ValidateTags(tags); err != nil {
			return fmt.Errorf("librato: WithTags: %w", err)
		}
		c.tags = make(map[string]string, len(tags))
		for k, v := range tags {
			c.tags[k] = v
		}
		return nil
	}
}

// WithUserAgent puts prefix (for example "myapp/1.2") in front of the library's User-Agent.
func WithUserAgent(prefix string) Option {
	return func(c *config) error {
		if strings.ContainsAny(prefix, "\r\n") {
			return errors.New("librato: WithUserAgent: line breaks are not allowed")
		}
		c.uaPrefix = strings.TrimSpace(prefix)
		return nil
	}
}

// WithLogger makes the client log requests and retries at debug level, and failures at warn level.
// Without it the client logs nothing. Credentials are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		c.logger = l
		return nil
	}
}

// WithTLS trusts the PEM CA certificates in caFile (empty: the system pool) and presents the client
// certificate in certFile/keyFile (both empty: none). Files are read when Connect runs.
func WithTLS(caFile, certFile, keyFile string) Option {
	return func(c *config) error {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if caFile != "" {
			pem, err := os.ReadFile(caFile)
			if err != nil {
				return fmt.Errorf("librato: WithTLS: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return fmt.Errorf("librato: WithTLS: no PEM certificate in %s", caFile)
			}
			cfg.RootCAs = pool
		}
		if (certFile == "") != (keyFile == "") {
			return errors.New("librato: WithTLS: certFile and keyFile go together")
		}
		if certFile != "" {
			cert, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				return fmt.Errorf("librato: WithTLS: %w", err)
			}
			cfg.Certificates = []tls.Certificate{cert}
		}
		c.tlsConfig = cfg
		return nil
	}
}

// WithTLSConfig uses cfg for HTTPS connections. It is the only way to relax certificate checks.
func WithTLSConfig(cfg *tls.Config) Option {
	return func(c *config) error {
		if cfg == nil {
			return errors.New("librato: WithTLSConfig: nil config")
		}
		c.tlsConfig = cfg.Clone()
		return nil
	}
}

// WithGzip compresses request bodies. AppOptics accepts them; for Librato it is unverified, so it is off
// by default everywhere.
func WithGzip(on bool) Option {
	return func(c *config) error {
		c.gzip = on
		return nil
	}
}

// WithChunkSize sets how many measurements one POST carries at most (default 300).
func WithChunkSize(n int) Option {
	return func(c *config) error {
		if n < 1 || n > 10000 {
			return fmt.Errorf("librato: WithChunkSize: %d is outside 1..10000", n)
		}
		c.chunkSize = n
		return nil
	}
}

// WithMaxResponseBytes caps the body of a 2xx answer the client reads (default
// DefaultMaxResponseBytes, 16 MiB). A larger body is not read past the cap: the call fails with a
// *BodyError (errors.Is(err, ErrResponseTooLarge)).
func WithMaxResponseBytes(n int64) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("librato: WithMaxResponseBytes: %d is not positive", n)
		}
		c.maxBody = n
		return nil
	}
}

// Connect returns a client for the Librato API authenticating as user (the account email) with an
// API token. It does no I/O; use Ping to check the credentials.
func Connect(user, token string, opts ...Option) (*Client, error) {
	if err := checkCredential("user", user); err != nil {
		return nil, err
	}
	if strings.Contains(user, ":") {
		return nil, errors.New("librato: user must not contain ':'")
	}
	if err := checkCredential("token", token); err != nil {
		return nil, err
	}
	return newClient(user, token, user+":"+token, false, DefaultBaseURL, opts)
}

// ConnectAppOptics returns a client for the AppOptics API, which authenticates with a token alone
// and takes tagged measurements only.
func ConnectAppOptics(token string, opts ...Option) (*Client, error) {
	if err := checkCredential("token", token); err != nil {
		return nil, err
	}
	return newClient("", token, token+":", true, DefaultAppOpticsBaseURL, opts)
}

// checkCredential rejects what HTTP Basic auth cannot carry, so the error comes now and not as a 401.
// The value itself is never part of the message.
func checkCredential(what, v string) error {
	if v == "" {
		return fmt.Errorf("librato: empty %s", what)
	}
	for i := 0; i < len(v); i++ {
		if v[i] < 0x21 || v[i] > 0x7e {
			return fmt.Errorf("librato: %s has a non-ASCII, space or control character at byte %d", what, i)
		}
	}
	return nil
}

func newClient(user, token, userPass string, appOptics bool, base string, opts []Option) (*Client, error) {
	cfg := config{baseURL: base, timeout: DefaultTimeout, retry: DefaultRetryPolicy, chunkSize: DefaultChunkSize,
		maxBody: DefaultMaxResponseBytes}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	hc, err := cfg.buildHTTPClient()
	if err != nil {
		return nil, err
	}
	baseURL, err := url.Parse(cfg.baseURL)
	if err != nil {
		return nil, fmt.Errorf("librato: invalid base URL: %w", unwrapURLError(err))
	}
	sc := newScrubber(token, userPass)
	hc.CheckRedirect = redirectPolicy(baseURL, sc, hc.CheckRedirect) // hc is the client's own copy
	c := &Client{
		baseURL:   cfg.baseURL,
		user:      user,
		auth:      authHeader(userPass),
		scrub:     sc,
		maxBody:   cfg.maxBody,
		userAgent: userAgent(cfg.uaPrefix),
		gzip:      cfg.gzip,
		appOptics: appOptics,
		tags:      cfg.tags,
		sanitize:  func(s string) string { return s },
		logger:    cfg.logger,
		chunkSize: cfg.chunkSize,
		now:       time.Now,
	}
	if cfg.sanitizer != nil {
		c.sanitize = cfg.sanitizer
	}
	c.Metrics = &MetricsService{client: c}
	c.Measurements = &MeasurementsService{client: c}
	c.Alerts = &AlertsService{client: c}
	c.Annotations = &AnnotationsService{client: c}
	c.Spaces = &SpacesService{client: c}
	c.Services = &ServicesService{client: c}
	c.Jobs = &JobsService{client: c}
	c.http = &retryablehttp.Client{
		HTTPClient:   hc,
		RetryWaitMin: cfg.retry.MinWait,
		RetryWaitMax: cfg.retry.MaxWait,
		RetryMax:     cfg.retry.MaxAttempts - 1,
		CheckRetry:   checkRetry,
		Backoff:      backoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	if cfg.logger != nil {
		c.http.Logger = scrubLogger{l: cfg.logger, sc: sc}
	}
	return c, nil
}

// authHeader keeps the Basic credentials out of every printable field of the Client.
func authHeader(userPass string) func() string {
	h := "Basic " + base64.StdEncoding.EncodeToString([]byte(userPass))
	return func() string { return h }
}

func (cfg *config) buildHTTPClient() (*http.Client, error) {
	if cfg.httpClient != nil {
		if cfg.tlsConfig != nil {
			return nil, errors.New("librato: WithTLS/WithTLSConfig and WithHTTPClient conflict: set TLS on your client's transport")
		}
		hc := *cfg.httpClient // copy: never change the caller's client
		if hc.Timeout == 0 {
			hc.Timeout = cfg.timeout
		}
		return &hc, nil
	}
	// A nil Transport means http.DefaultTransport at each request, so a test that swaps it (as gock
	// does) is seen. Only TLS settings need a transport of our own.
	var rt http.RoundTripper
	if cfg.tlsConfig != nil {
		tr := &http.Transport{Proxy: http.ProxyFromEnvironment}
		if dt, ok := http.DefaultTransport.(*http.Transport); ok {
			tr = dt.Clone()
		}
		tr.TLSClientConfig = cfg.tlsConfig
		rt = tr
	}
	return &http.Client{Transport: rt, Timeout: cfg.timeout}, nil
}

func userAgent(prefix string) string {
	ua := fmt.Sprintf("librato-go/%s (go; %s; %s-%s)", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if prefix != "" {
		ua = prefix + " " + ua
	}
	return ua
}

// checkRetry retries transport errors, 429 and 5xx (but 501), and nothing once ctx is done.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		if errors.As(err, new(*RedirectError)) {
			return false, nil // a refused redirect stays refused
		}
		if errors.Is(err, http.ErrSchemeMismatch) {
			return false, nil // https to a plain-http server: asking again cannot help
		}
		// The default policy knows which transport errors are permanent (bad scheme, TLS trust, redirects).
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return true, nil
	case resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented:
		return true, nil
	}
	return false, nil
}

// backoff waits min·2^attempt with jitter in [d/2, d], capped at max. A Retry-After on a 429 or 503
// is honoured but never beyond max, so a misbehaving server cannot stall a caller.
func backoff(minWait, maxWait time.Duration, attempt int, resp *http.Response) time.Duration {
	if resp != nil && (resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable) {
		if d, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
			return min(d, maxWait)
		}
	}
	d := maxWait
	if attempt < 62 && minWait <= maxWait>>attempt { // minWait<<attempt cannot overflow
		d = minWait << attempt
	}
	half := d / 2
	return half + rand.N(half+1)
}

// parseRetryAfter reads delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil {
		if s < 0 {
			return 0, false
		}
		if int64(s) > int64(math.MaxInt64/time.Second) {
			return math.MaxInt64, true // a wrapped product would be a short or negative wait
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// RateLimit returns the rate-limit state the API reported on its latest answer (zero before any).
func (c *Client) RateLimit() RateLimit {
	if rl := c.rateLimit.Load(); rl != nil {
		return *rl
	}
	return RateLimit{}
}

// Ping checks that the API is reachable and accepts the credentials, with one cheap read.
func (c *Client) Ping(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodGet, "metrics", url.Values{"length": {"1"}}, nil, nil)
	return err
}
