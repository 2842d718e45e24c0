package librato

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testToken = "75AFDB82secrettoken"

// recorder is an httptest handler that answers from a script and keeps what it received.
type recorder struct {
	mu      sync.Mutex
	reqs    []*http.Request
	bodies  [][]byte
	answers []func(w http.ResponseWriter)
}

func (rec *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec.mu.Lock()
	n := len(rec.reqs)
	rec.reqs = append(rec.reqs, r)
	rec.bodies = append(rec.bodies, body)
	answer := func(w http.ResponseWriter) { w.WriteHeader(http.StatusOK) }
	if n < len(rec.answers) {
		answer = rec.answers[n]
	}
	rec.mu.Unlock()
	answer(w)
}

func (rec *recorder) count() int {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return len(rec.reqs)
}

func status(code int, body string, headers ...string) func(w http.ResponseWriter) {
	return func(w http.ResponseWriter) {
		for i := 0; i+1 < len(headers); i += 2 {
			w.Header().Set(headers[i], headers[i+1])
		}
		if body != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

func fastRetry(attempts int) Option {
	return WithRetry(RetryPolicy{MaxAttempts: attempts, MinWait: time.Millisecond, MaxWait: 5 * time.Millisecond})
}

func newTestClient(t *testing.T, h http.Handler, opts ...Option) *Client {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	c, err := Connect("user@example.com", testToken, append([]Option{WithBaseURL(srv.URL + "/v1/")}, opts...)...)
	require.NoError(t, err)
	return c
}

func TestConnectRejectsBadCredentials(t *testing.T) {
	for _, tc := range []struct{ name, user, token, want string }{
		{"empty user", "", "tok", "empty user"},
		{"empty token", "me@example.com", "", "empty token"},
		{"non-ASCII token", "me@example.com", "tökenÿ", "token has a non-ASCII"},
		{"space in user", "me @example.com", "tok", "user has a non-ASCII, space"},
		{"colon in user", "me:x@example.com", "tok", "must not contain ':'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Connect(tc.user, tc.token)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			if tc.token != "" {
				assert.NotContains(t, err.Error(), tc.token)
			}
		})
	}
	_, err := ConnectAppOptics("")
	assert.ErrorContains(t, err, "empty token")
}

func TestOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Option
		want string
	}{
		{"credentials in base URL", WithBaseURL("https://me%40x.com:tok@metrics-api.librato.com/v1/"), "must not contain credentials"},
		{"relative base URL", WithBaseURL("metrics-api.librato.com/v1"), "absolute http or https"},
		{"ftp base URL", WithBaseURL("ftp://example.com/v1/"), "absolute http or https"},
		{"zero timeout", WithTimeout(0), "not positive"},
		{"negative retry", WithRetry(RetryPolicy{MaxAttempts: -1}), "negative"},
		{"min above max", WithRetry(RetryPolicy{MinWait: time.Minute, MaxWait: time.Second}), "exceeds MaxWait"},
		{"nil http client", WithHTTPClient(nil), "nil client"},
		{"bad chunk size", WithChunkSize(0), "outside 1..10000"},
		{"UA with newline", WithUserAgent("x\r\nInjected: 1"), "line breaks"},
		{"cert without key", WithTLS("", "cert.pem", ""), "go together"},
		{"missing CA file", WithTLS(filepath.Join(t.TempDir(), "nope.pem"), "", ""), "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Connect("u@example.com", "tok", tc.opt)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err := Connect("u@example.com", "tok", WithTLS("", "", ""), WithHTTPClient(http.DefaultClient))
	assert.ErrorContains(t, err, "conflict")
}

func TestAuthUserAgentAndHeaders(t *testing.T) {
	rec := &recorder{}
	c := newTestClient(t, rec)
	c2, err := Connect("user@example.com", "token", WithBaseURL(c.baseURL), WithUserAgent("ci-bot/2.0"))
	require.NoError(t, err)
	require.NoError(t, c2.Ping(context.Background()))

	require.Equal(t, 1, rec.count())
	r := rec.reqs[0]
	// TV10: the Authorization python-librato sends for ('user@example.com', 'token').
	assert.Equal(t, "Basic dXNlckBleGFtcGxlLmNvbTp0b2tlbg==", r.Header.Get("Authorization"))
	assert.Regexp(t, regexp.MustCompile(`^ci-bot/2\.0 librato-go/\d+\.\d+\.\d+ \(go; go[^;]+; [a-z0-9]+-[a-z0-9]+\)$`), r.Header.Get("User-Agent"))
	assert.Equal(t, "application/json", r.Header.Get("Accept"))
	assert.Equal(t, "/v1/metrics", r.URL.Path)
	assert.Equal(t, "1", r.URL.Query().Get("length"))

	ao, err := ConnectAppOptics("aotoken", WithBaseURL(c.baseURL))
	require.NoError(t, err)
	require.NoError(t, ao.Ping(context.Background()))
	// AppOptics: the token is the Basic username with an empty password.
	assert.Equal(t, "Basic "+base64.StdEncoding.EncodeToString([]byte("aotoken:")), rec.reqs[1].Header.Get("Authorization"))
}

func TestDefaultBaseURLs(t *testing.T) {
	c, err := Connect("u@example.com", "tok")
	require.NoError(t, err)
	assert.Equal(t, "https://metrics-api.librato.com/v1/", c.baseURL)
	ao, err := ConnectAppOptics("tok")
	require.NoError(t, err)
	assert.Equal(t, "https://api.appoptics.com/v1/", ao.baseURL)
	assert.True(t, ao.appOptics)
}

func TestRetryOn503ThenSuccess(t *testing.T) {
	rec := &recorder{answers: []func(http.ResponseWriter){
		status(503, `{"errors":{"system":["maintenance"]}}`),
		status(502, ""),
		status(200, `{"ok":true}`),
	}}
	c := newTestClient(t, rec, fastRetry(4))
	var out struct{ OK bool }
	_, err := c.do(context.Background(), http.MethodPost, "metrics", nil, []byte(`{"gauges":[{"name":"a","value":1}]}`), &out)
	require.NoError(t, err)
	assert.True(t, out.OK)
	assert.Equal(t, 3, rec.count())
	// Every attempt carried the same bytes.
	for _, b := range rec.bodies {
		assert.Equal(t, `{"gauges":[{"name":"a","value":1}]}`, string(b))
	}
}

func TestRetriesGiveUpWithLastError(t *testing.T) {
	rec := &recorder{answers: []func(http.ResponseWriter){
		status(500, ""), status(500, ""), status(503, `{"errors":{"system":["down for maintenance"]}}`),
	}}
	c := newTestClient(t, rec, fastRetry(3))
	_, err := c.do(context.Background(), http.MethodGet, "metrics", nil, nil, nil)
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrServer))
	var apiErr *Error
	require.True(t, errors.As(err, &apiErr))
	assert.Equal(t, 503, apiErr.StatusCode)
	assert.Equal(t, 3, rec.count())
}

func TestClientErrorsAreNotRetried(t *testing.T) {
	for _, code := range []int{400, 401, 403, 404, 415, 422} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			rec := &recorder{answers: []func(http.ResponseWriter){
				status(code, `{"errors":{"params":{"measure_time":["is too far in the past"]}}}`),
				status(200, ""),
			}}
			c := newTestClient(t, rec, fastRetry(4))
			_, err := c.do(context.Background(), http.MethodPost, "metrics", nil, []byte(`{}`), nil)
			require.Error(t, err)
			assert.Equal(t, 1, rec.count(), "a %d must not be retried", code)
		})
	}
}

func TestHTTPSToAPlainServerIsNotRetried(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	var log bytes.Buffer
	c, err := Connect("u@example.com", "a-long-token", WithBaseURL(strings.Replace(srv.URL, "http:", "https:", 1)+"/v1/"),
		WithRetry(RetryPolicy{MaxAttempts: 4, MinWait: time.Millisecond, MaxWait: time.Millisecond}),
		WithLogger(slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	require.NoError(t, err)
	err = c.Ping(t.Context())
	require.ErrorIs(t, err, http.ErrSchemeMismatch)
	assert.Equal(t, 1, strings.Count(log.String(), "performing request"), "one attempt:\n%s", log.String())
}

func TestTooOldSaysTheLimit(t *testing.T) {
	rec := &recorder{answers: []func(http.ResponseWriter){
		status(400, `{"errors":{"params":{"measure_time":["is too far in the past"]}},"request_time":1475920599}`),
	}}
	c := newTestClient(t, rec, fastRetry(1))
	_, err := c.do(context.Background(), http.MethodPost, "metrics", nil, []byte(`{}`), nil)
	assert.ErrorContains(t, err, "[400] params: measure_time: is too far in the past (the API takes measurement times up to about 2 hours old; the exact limit is not published)")
}

func TestRetryAfterIsHonouredAndClamped(t *testing.T) {
	rec := &recorder{answers: []func(http.ResponseWriter){
		status(429, `{"errors":{"request":["rate limited"]}}`, "Retry-After", "1"),
		status(200, ""),
	}}
	c := newTestClient(t, rec, WithRetry(RetryPolicy{MaxAttempts: 2, MinWait: time.Millisecond, MaxWait: 2 * time.Second}))
	start := time.Now()
	_, err := c.do(context.Background(), http.MethodGet, "metrics", nil, nil, nil)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, time.Since(start), 900*time.Millisecond, "Retry-After: 1 was not waited for")
	assert.Equal(t, 2, rec.count())

	// A Retry-After beyond MaxWait is clamped to it.
	resp := &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {"3600"}}}
	assert.Equal(t, 2*time.Second, backoff(time.Millisecond, 2*time.Second, 0, resp))
	date := &http.Response{StatusCode: 503, Header: http.Header{"Retry-After": {time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)}}}
	assert.Equal(t, 2*time.Second, backoff(time.Millisecond, 2*time.Second, 0, date))
}

func TestBackoffIsCappedJitteredExponential(t *testing.T) {
	minW, maxW := 200*time.Millisecond, 10*time.Second
	for attempt, want := range []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, 1600 * time.Millisecond} {
		for range 50 {
			d := backoff(minW, maxW, attempt, nil)
			assert.GreaterOrEqual(t, d, want/2)
			assert.LessOrEqual(t, d, want)
		}
	}
	for _, attempt := range []int{10, 40, 1000} {
		d := backoff(minW, maxW, attempt, nil)
		assert.LessOrEqual(t, d, maxW)
		assert.GreaterOrEqual(t, d, maxW/2)
	}
	// Long waits: minWait<<attempt would overflow (and rand.N panic on a negative bound).
	for _, w := range []time.Duration{time.Hour, 24 * time.Hour} {
		for attempt := range 70 {
			d := backoff(w, w, attempt, nil)
			assert.LessOrEqual(t, d, w, attempt)
			assert.GreaterOrEqual(t, d, w/2, attempt)
		}
	}
}

func TestContextCancelStopsRetrying(t *testing.T) {
	rec := &recorder{}
	for range 10 {
		rec.answers = append(rec.answers, status(503, ""))
	}
	c := newTestClient(t, rec, WithRetry(RetryPolicy{MaxAttempts: 10, MinWait: 5 * time.Second, MaxWait: 5 * time.Second}))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := c.do(ctx, http.MethodGet, "metrics", nil, nil, nil)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Equal(t, 1, rec.count())
}

func TestGzipBodiesAreIdenticalAcrossRetries(t *testing.T) {
	rec := &recorder{answers: []func(http.ResponseWriter){status(503, ""), status(200, "")}}
	c := newTestClient(t, rec, WithGzip(true), fastRetry(2))
	payload := []byte(`{"measurements":[{"name":"cpu","value":0,"tags":{"host":"a"}}]}`)
	_, err := c.do(context.Background(), http.MethodPost, "measurements", nil, payload, nil)
	require.NoError(t, err)
	require.Equal(t, 2, rec.count())
	assert.Equal(t, rec.bodies[0], rec.bodies[1])
	assert.Equal(t, "gzip", rec.reqs[1].Header.Get("Content-Encoding"))
	zr, err := gzip.NewReader(bytes.NewReader(rec.bodies[1]))
	require.NoError(t, err)
	plain, err := io.ReadAll(zr)
	require.NoError(t, err)
	assert.Equal(t, payload, plain)
}

func TestValueBodiesAreJSONEncoded(t *testing.T) {
	rec := &recorder{}
	c := newTestClient(t, rec)
	_, err := c.do(context.Background(), http.MethodDelete, "metrics", nil, map[string][]string{"names": {"foo", "bar"}}, nil)
	require.NoError(t, err)
	assert.Equal(t, http.MethodDelete, rec.reqs[0].Method)
	assert.JSONEq(t, `{"names":["foo","bar"]}`, string(rec.bodies[0]))
	assert.Equal(t, "application/json", rec.reqs[0].Header.Get("Content-Type"))
}

func TestEscapePath(t *testing.T) {
	assert.Equal(t, "metrics/cpu.user", escapePath("metrics", "cpu.user"))
	assert.Equal(t, "metrics/a%2Fb%3Fc", escapePath("metrics", "a/b?c"))
	assert.Equal(t, "annotations/%2E%2E/%2E", escapePath("annotations", "..", "."))
	assert.Equal(t, "metrics/a:b", escapePath("metrics", "a:b"))

	rec := &recorder{}
	c := newTestClient(t, rec)
	_, err := c.do(context.Background(), http.MethodGet, escapePath("metrics", "a:b"), nil, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, "/v1/metrics/a:b", rec.reqs[0].URL.Path, "a colon must not be read as a URL scheme")

	_, err = c.do(context.Background(), http.MethodGet, "/metrics", nil, nil, nil)
	assert.ErrorContains(t, err, "would drop the base path")
}

// secretForms are the ways the token could leak: as is and inside the Authorization header.
func secretForms(user, token string) []string {
	return []string{token, base64.StdEncoding.EncodeToString([]byte(user + ":" + token))}
}

func assertNoSecret(t *testing.T, s string) {
	t.Helper()
	for _, f := range secretForms("user@example.com", testToken) {
		assert.NotContains(t, s, f)
	}
}

func TestTokenNeverInErrorsOrFormatting(t *testing.T) {
	rec := &recorder{answers: []func(http.ResponseWriter){
		status(401, `{"errors":{"request":["Authorization Required"]}}`),
	}}
	c := newTestClient(t, rec, fastRetry(1))
	err := c.Ping(context.Background())
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrUnauthorized)
	assertNoSecret(t, err.Error())
	assertNoSecret(t, fmt.Sprintf("%v %+v %#v %s", err, err, err, err))

	// Transport errors too.
	dead, err := Connect("user@example.com", testToken, WithBaseURL("http://127.0.0.1:1/v1/"), fastRetry(2))
	require.NoError(t, err)
	err = dead.Ping(context.Background())
	require.Error(t, err)
	assertNoSecret(t, err.Error())

	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v|%+v|%#v|%s", c, c, c, c), fmt.Sprintf("%+v", c.http)} {
		assertNoSecret(t, s)
	}
	assert.Contains(t, c.String(), "user@example.com")
}

func TestLoggerGetsNoSecrets(t *testing.T) {
	var buf bytes.Buffer
	var mu sync.Mutex
	h := slog.NewTextHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return buf.Write(p)
	}), &slog.HandlerOptions{Level: slog.LevelDebug})
	rec := &recorder{answers: []func(http.ResponseWriter){status(500, ""), status(404, `{"errors":{"request":["not found"]}}`)}}
	c := newTestClient(t, rec, WithLogger(slog.New(h)), fastRetry(2))
	err := c.Ping(context.Background())
	require.ErrorIs(t, err, ErrNotFound)
	mu.Lock()
	logged := buf.String()
	mu.Unlock()
	assert.Contains(t, logged, "librato request failed")
	assert.Contains(t, logged, "status=404")
	assertNoSecret(t, logged)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestRateLimitHeadersAreKept(t *testing.T) {
	rec := &recorder{answers: []func(http.ResponseWriter){
		status(200, "", "X-Librato-RateLimit-Std", "limit=300,remaining=101,reset=60"),
	}}
	c := newTestClient(t, rec)
	assert.Equal(t, RateLimit{}, c.RateLimit())
	require.NoError(t, c.Ping(context.Background()))
	rl := c.RateLimit()
	assert.Equal(t, 101, rl.Std.Remaining)
	assert.Equal(t, 300, rl.Std.Limit)
}

func TestTimeoutBoundsEachAttempt(t *testing.T) {
	var calls atomic.Int32
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	c, err := Connect("u@example.com", "tok", WithBaseURL(srv.URL), WithTimeout(50*time.Millisecond), fastRetry(2))
	require.NoError(t, err)
	start := time.Now()
	err = c.Ping(context.Background())
	require.Error(t, err)
	assert.Less(t, time.Since(start), 2*time.Second)
	assert.Equal(t, int32(2), calls.Load(), "a timed-out attempt is a transport error and is retried")
}

func TestWithTLSTrustsPrivateCA(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)

	// Without the CA the certificate is refused, and not retried.
	plain, err := Connect("u@example.com", "tok", WithBaseURL(srv.URL+"/v1/"), fastRetry(3))
	require.NoError(t, err)
	err = plain.Ping(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "certificate")

	caFile := filepath.Join(t.TempDir(), "ca.pem")
	der := srv.Certificate().Raw
	require.NoError(t, os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	c, err := Connect("u@example.com", "tok", WithBaseURL(srv.URL+"/v1/"), WithTLS(caFile, "", ""))
	require.NoError(t, err)
	assert.NoError(t, c.Ping(context.Background()))
	assert.True(t, strings.HasPrefix(c.baseURL, "https://"))
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"7", 7 * time.Second, true},
		{" 0 ", 0, true},
		{"-3", 0, false},
		{"99999999999", math.MaxInt64, true}, // seconds beyond what a Duration holds: the longest wait, not a wrapped one
		{"soon", 0, false},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
	} {
		got, ok := parseRetryAfter(tc.in, now)
		assert.Equal(t, tc.ok, ok, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
}

func TestEchoedCredentialsAreScrubbed(t *testing.T) {
	echo := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		auth := r.Header.Get("Authorization")
		_, _ = fmt.Fprintf(w, `{"errors":{"params":{%q:["bad header %s"]},"request":["you sent %s, token %s"]}}`,
			auth, auth, strings.TrimPrefix(auth, "Basic "), testToken)
	})
	c := newTestClient(t, echo)
	err := c.Ping(context.Background())
	require.Error(t, err)
	var apiErr *Error
	require.True(t, errors.As(err, &apiErr))
	assert.Contains(t, apiErr.Message, "[REDACTED]")
	for _, s := range []string{err.Error(), fmt.Sprintf("%#v", apiErr), string(apiErr.Body), fmt.Sprint(apiErr.Params)} {
		assertNoSecret(t, s)
	}
}

// endless answers 200 with a JSON document that never ends (head, then item forever) and counts
// the bytes it managed to write before the client hung up.
type endless struct {
	head, item string
	written    atomic.Int64
}

func (e *endless) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	n, err := io.WriteString(w, e.head)
	e.written.Add(int64(n))
	chunk := strings.Repeat(e.item, 64<<10/len(e.item))
	for err == nil && r.Context().Err() == nil {
		n, err = io.WriteString(w, chunk)
		e.written.Add(int64(n))
	}
}

func TestResponseBodiesAreCapped(t *testing.T) {
	ctx := context.Background()
	const limit = 1 << 20
	// What the kernel may buffer between the two ends of a loopback connection, on top of what
	// the client read: generous, and still far below an unbounded read.
	const slack = 16 << 20

	t.Run("Submit answered 200 with an endless body", func(t *testing.T) {
		e := &endless{head: `{"errors":[`, item: `"x",`}
		c := newTestClient(t, e, WithMaxResponseBytes(limit), fastRetry(3))
		start := time.Now()
		err := c.Submit(ctx, Measurement{Name: "m", Value: 1})
		require.Error(t, err)
		assert.ErrorIs(t, err, ErrResponseTooLarge)
		var be *BodyError
		require.ErrorAs(t, err, &be)
		assert.Equal(t, http.StatusOK, be.StatusCode, "the status is the server's verdict: the body error keeps it")
		assert.Equal(t, int64(limit), be.Limit)
		assert.Contains(t, err.Error(), "body larger than 1048576 bytes")
		assert.Less(t, time.Since(start), 5*time.Second)
		assert.Less(t, e.written.Load(), int64(limit+slack), "the client stopped reading at the cap")
	})
	t.Run("List against an endless metrics array, default cap", func(t *testing.T) {
		e := &endless{head: `{"query":{"found":1,"length":1,"offset":0,"total":1},"metrics":[`, item: `{"name":"m","type":"gauge"},`}
		c := newTestClient(t, e, fastRetry(3))
		page, err := c.Metrics.List(ctx, nil)
		assert.Nil(t, page)
		require.ErrorIs(t, err, ErrResponseTooLarge)
		assert.Contains(t, err.Error(), fmt.Sprintf("body larger than %d bytes", DefaultMaxResponseBytes))
		assert.Less(t, e.written.Load(), int64(DefaultMaxResponseBytes+slack))
	})
	t.Run("a body at the cap is read", func(t *testing.T) {
		body := `{"name":"` + strings.Repeat("a", 100) + `","type":"gauge"}`
		c := newTestClient(t, &recorder{answers: []func(http.ResponseWriter){status(200, body)}}, WithMaxResponseBytes(int64(len(body))))
		m, err := c.Metrics.Get(ctx, "a", nil)
		require.NoError(t, err)
		assert.Equal(t, strings.Repeat("a", 100), m.Name)
	})
	t.Run("a 2xx body cut off is a BodyError that keeps the status", func(t *testing.T) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "1000")
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, `{"name":"cut`)
			w.(http.Flusher).Flush()
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		})
		c := newTestClient(t, h, fastRetry(1))
		_, err := c.Metrics.Get(ctx, "cut", nil)
		var be *BodyError
		require.ErrorAs(t, err, &be)
		assert.Equal(t, http.StatusOK, be.StatusCode)
		assert.NotErrorIs(t, err, ErrResponseTooLarge)
		assert.Contains(t, err.Error(), "body unreadable")
	})
	t.Run("the option validates", func(t *testing.T) {
		for _, n := range []int64{0, -1} {
			_, err := Connect("u@example.com", testToken, WithMaxResponseBytes(n))
			assert.Error(t, err, n)
		}
	})
}

func TestScrubberFindsEveryForm(t *testing.T) {
	const user, token = "me@example.com", "Tok/en+With=Odd"
	sc := newScrubber(token, user+":"+token)
	b64 := base64.StdEncoding.EncodeToString([]byte(user + ":" + token))
	for _, in := range []string{
		token, strings.ToUpper(token), strings.ToLower(token),
		"Basic " + b64, b64, strings.ReplaceAll(b64, "/", `\/`),
		base64.RawStdEncoding.EncodeToString([]byte(user + ":" + token)),
		base64.URLEncoding.EncodeToString([]byte(token)),
		url.QueryEscape(token), url.PathEscape(token), strings.ReplaceAll(token, "/", `\/`),
		user + ":" + token,
	} {
		out := sc.String("before " + in + " after")
		assert.Equal(t, "before "+redactedFor(in)+" after", out, in)
	}
	assert.Equal(t, "nothing to see, me@example.com", sc.String("nothing to see, me@example.com"))
	p := []byte("clean")
	assert.Same(t, &p[0], &sc.Bytes(p)[0], "a clean body is not copied")
}

// redactedFor is what the scrubber leaves of in: "Basic " stays in front of the credentials.
func redactedFor(in string) string {
	if strings.HasPrefix(in, "Basic ") {
		return "Basic " + redacted
	}
	return redacted
}

func TestBaseURLWithoutPathIsTheAPIRoot(t *testing.T) {
	for raw, want := range map[string]string{
		"http://127.0.0.1:8080":         "http://127.0.0.1:8080/v1/",
		"http://127.0.0.1:8080/":        "http://127.0.0.1:8080/v1/",
		"http://127.0.0.1:8080/v1":      "http://127.0.0.1:8080/v1/",
		"https://proxy.example/librato": "https://proxy.example/librato/",
	} {
		c, err := Connect("u@example.com", "token", WithBaseURL(raw))
		require.NoError(t, err, raw)
		assert.Equal(t, want, c.baseURL, raw)
	}
}
