package librato_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A distinctive token: if any of its forms shows up in what the library prints, it leaked.
const (
	leakUser  = "leak-check@example.com"
	leakToken = "Zq9TOKENx7secretW4k"
)

// leakForms are the token and the encodings a leak would most likely take.
var leakForms = []string{
	leakToken,
	base64.StdEncoding.EncodeToString([]byte(leakUser + ":" + leakToken)), // Basic auth
	base64.StdEncoding.EncodeToString([]byte(leakToken + ":")),            // AppOptics Basic auth
	base64.StdEncoding.EncodeToString([]byte(leakToken)),
	url.QueryEscape(leakToken),
	strings.ToLower(leakToken),
}

// leakChecker collects everything the library printed or returned.
type leakChecker struct {
	mu      sync.Mutex
	checked int // values checked
	log     bytes.Buffer
}

func (l *leakChecker) Write(p []byte) (int, error) { // the slog handlers write here
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.log.Write(p)
}

// leaks returns the printed forms of vs that hold a form of the token.
func (l *leakChecker) leaks(vs ...any) []string {
	var out []string
	for _, v := range vs {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
			s := fmt.Sprintf(verb, v)
			if err, ok := v.(error); ok && err != nil {
				s += err.Error()
				for u := errors.Unwrap(err); u != nil; u = errors.Unwrap(u) {
					s += fmt.Sprintf("%+v %#v", u, u)
				}
			}
			for _, f := range leakForms {
				if strings.Contains(s, f) {
					out = append(out, verb+" holds "+f+": "+s)
				}
			}
		}
	}
	return out
}

// check asserts that no form of the token is in any of the printed forms of vs.
func (l *leakChecker) check(t *testing.T, what string, vs ...any) {
	t.Helper()
	l.mu.Lock()
	l.checked += len(vs)
	l.mu.Unlock()
	for _, leak := range l.leaks(vs...) {
		t.Errorf("%s leaks the token: %s", what, leak)
	}
}

// checkLog asserts that the log output holds no form of the token.
func (l *leakChecker) checkLog(t *testing.T) {
	t.Helper()
	l.mu.Lock()
	out := l.log.String()
	l.mu.Unlock()
	require.NotEmpty(t, out, "the debug logger wrote nothing: the log check would be vacuous")
	for _, f := range leakForms {
		assert.NotContains(t, out, f, "log output leaks the token")
	}
}

// dumpTransport dumps every request the client sends, as a positive control: the dump must show
// the Authorization header, so the checker is proven able to see a leak.
type dumpTransport struct {
	mu    sync.Mutex
	dumps []string
}

func (d *dumpTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	b, err := httputil.DumpRequestOut(r, false)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.dumps = append(d.dumps, string(b))
	d.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func TestTokenNeverLeaks(t *testing.T) {
	lc := &leakChecker{}
	logger := slog.New(slog.NewJSONHandler(lc, &slog.HandlerOptions{Level: slog.LevelDebug}))
	textLogger := slog.New(slog.NewTextHandler(lc, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := libratotest.NewServer(libratotest.WithCredentials(leakUser, leakToken))
	defer srv.Close()
	dump := &dumpTransport{}
	fast := librato.WithRetry(librato.RetryPolicy{MaxAttempts: 2, MinWait: time.Millisecond, MaxWait: 2 * time.Millisecond})
	connect := func(t *testing.T, opts ...librato.Option) *librato.Client {
		t.Helper()
		all := append([]librato.Option{librato.WithBaseURL(srv.URL + "/v1/"), librato.WithLogger(logger), fast,
			librato.WithTimeout(time.Second)}, opts...)
		c, err := librato.Connect(leakUser, leakToken, all...)
		require.NoError(t, err)
		lc.check(t, "client", c)
		return c
	}
	ctx := context.Background()
	m := librato.Measurement{Name: "leak.check", Value: 1}

	t.Run("success", func(t *testing.T) {
		c := connect(t, librato.WithHTTPClient(&http.Client{Transport: dump}))
		require.NoError(t, c.Submit(ctx, m))
		require.NoError(t, c.Ping(ctx))
	})
	t.Run("401", func(t *testing.T) {
		other := libratotest.NewServer() // different credentials
		defer other.Close()
		c, err := librato.Connect(leakUser, leakToken, librato.WithBaseURL(other.URL+"/v1/"), librato.WithLogger(textLogger), fast)
		require.NoError(t, err)
		err = c.Submit(ctx, m)
		require.ErrorIs(t, err, librato.ErrUnauthorized)
		lc.check(t, "401 submit", err)
		err = c.Ping(ctx)
		require.ErrorIs(t, err, librato.ErrUnauthorized)
		lc.check(t, "401 ping", err)
	})
	t.Run("404", func(t *testing.T) {
		c := connect(t)
		_, err := c.Metrics.Get(ctx, "no.such.metric", nil)
		require.ErrorIs(t, err, librato.ErrNotFound)
		lc.check(t, "404", err)
	})
	t.Run("5xx after retries", func(t *testing.T) {
		c := connect(t)
		require.NoError(t, srv.AddFault(libratotest.Fault{Status: http.StatusServiceUnavailable, Body: `{"errors":{"request":["Service Unavailable"]}}`, Count: 5}))
		defer srv.ClearFaults()
		err := c.Submit(ctx, m)
		require.Error(t, err)
		var apiErr *librato.Error
		require.ErrorAs(t, err, &apiErr)
		assert.Equal(t, http.StatusServiceUnavailable, apiErr.StatusCode)
		lc.check(t, "503", err, apiErr, *apiErr)
	})
	t.Run("transport failure", func(t *testing.T) {
		c := connect(t)
		require.NoError(t, srv.AddFault(libratotest.Fault{Drop: true, Count: 5}))
		defer srv.ClearFaults()
		err := c.Submit(ctx, m)
		require.Error(t, err)
		lc.check(t, "dropped connection", err)
	})
	t.Run("refused connection", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addr := ln.Addr().String()
		ln.Close()
		c, err := librato.Connect(leakUser, leakToken, librato.WithBaseURL("http://"+addr+"/v1/"), librato.WithLogger(logger), fast)
		require.NoError(t, err)
		err = c.Ping(ctx)
		require.Error(t, err)
		lc.check(t, "refused", err)
	})
	t.Run("timeout", func(t *testing.T) {
		c := connect(t, librato.WithTimeout(20*time.Millisecond))
		require.NoError(t, srv.AddFault(libratotest.Fault{Latency: 300 * time.Millisecond, Rate: 1}))
		defer srv.ClearFaults()
		err := c.Submit(ctx, m)
		require.Error(t, err)
		lc.check(t, "timeout", err)
	})
	t.Run("ctx cancel", func(t *testing.T) {
		c := connect(t)
		require.NoError(t, srv.AddFault(libratotest.Fault{Latency: 300 * time.Millisecond, Rate: 1}))
		defer srv.ClearFaults()
		cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
		defer cancel()
		err := c.Submit(cctx, m)
		require.ErrorIs(t, err, context.DeadlineExceeded)
		lc.check(t, "ctx deadline", err)
		done, cancel2 := context.WithCancel(ctx)
		cancel2()
		err = c.Ping(done)
		require.ErrorIs(t, err, context.Canceled)
		lc.check(t, "ctx canceled", err)
	})
	t.Run("invalid measurement", func(t *testing.T) {
		c := connect(t)
		err := c.Submit(ctx, librato.Measurement{Name: "bad name with spaces", Value: 1})
		require.Error(t, err)
		lc.check(t, "invalid measurement", err)
	})
	t.Run("invalid options and credentials at Connect", func(t *testing.T) {
		cases := map[string]func() (*librato.Client, error){
			"token with a space": func() (*librato.Client, error) { return librato.Connect(leakUser, leakToken+" x") },
			"token with a control": func() (*librato.Client, error) {
				return librato.Connect(leakUser, leakToken+"\x01")
			},
			"non-ASCII token": func() (*librato.Client, error) { return librato.Connect(leakUser, leakToken+"é") },
			"user with colon": func() (*librato.Client, error) { return librato.Connect("a:"+leakToken, leakToken) },
			"empty user":      func() (*librato.Client, error) { return librato.Connect("", leakToken) },
			"AppOptics token": func() (*librato.Client, error) { return librato.ConnectAppOptics(leakToken + "\n") },
			"URL with userinfo": func() (*librato.Client, error) {
				return librato.Connect(leakUser, leakToken, librato.WithBaseURL("https://"+leakUser+":"+leakToken+"@api.example.com/v1/"))
			},
			"URL not absolute": func() (*librato.Client, error) {
				return librato.Connect(leakUser, leakToken, librato.WithBaseURL("api.example.com"))
			},
			"URL without scheme, with userinfo": func() (*librato.Client, error) {
				return librato.Connect(leakUser, leakToken, librato.WithBaseURL("user:"+leakToken+"@api.example.com/v1/"))
			},
			"unparsable URL with userinfo": func() (*librato.Client, error) {
				return librato.Connect(leakUser, leakToken, librato.WithBaseURL(leakUser+":"+leakToken+"@api.example.com/v1/"))
			},
			"URL with a token query": func() (*librato.Client, error) {
				return librato.Connect(leakUser, leakToken, librato.WithBaseURL("https://api.example.com/v1/?token="+leakToken))
			},
			"URL with a bad scheme and a token query": func() (*librato.Client, error) {
				return librato.Connect(leakUser, leakToken, librato.WithBaseURL("ftp://api.example.com/v1/?api_key="+leakToken))
			},
			"bad timeout": func() (*librato.Client, error) {
				return librato.Connect(leakUser, leakToken, librato.WithTimeout(-1))
			},
			"bad retry": func() (*librato.Client, error) {
				return librato.Connect(leakUser, leakToken, librato.WithRetry(librato.RetryPolicy{MaxAttempts: -1}))
			},
			"bad chunk size": func() (*librato.Client, error) {
				return librato.Connect(leakUser, leakToken, librato.WithChunkSize(0))
			},
		}
		for name, f := range cases {
			c, err := f()
			require.Error(t, err, name)
			assert.Nil(t, c, name)
			lc.check(t, name, err)
		}
	})
	t.Run("queue and aggregator", func(t *testing.T) {
		c := connect(t)
		var cbErrs []error
		var mu sync.Mutex
		q := newQueue(t, c, librato.QueueOptions{
			OnError: func(err error) { mu.Lock(); cbErrs = append(cbErrs, err); mu.Unlock() },
			OnDrop: func(_ []librato.Measurement, err error) {
				mu.Lock()
				cbErrs = append(cbErrs, err)
				mu.Unlock()
			},
		})
		require.NoError(t, q.Add(m))
		require.NoError(t, srv.AddFault(libratotest.Fault{Status: http.StatusInternalServerError, Body: "boom", Count: 5}))
		err := q.Flush(ctx)
		srv.ClearFaults()
		require.Error(t, err)
		lc.check(t, "queue submit", err, q, q.Stats().LastError, q.Stats())
		a := newAggregator(t, c, librato.AggregatorOptions{Source: "web1"})
		a.Add("leak.agg", 2)
		lc.check(t, "aggregator", a)
		require.NoError(t, srv.AddFault(libratotest.Fault{Drop: true, Count: 5}))
		err = a.Submit(ctx)
		srv.ClearFaults()
		require.Error(t, err)
		lc.check(t, "aggregator submit", err)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		err = q.Close(cctx)
		require.Error(t, err)
		lc.check(t, "queue close", err, q)
		mu.Lock()
		require.NotEmpty(t, cbErrs, "OnDrop was called at Close")
		for _, e := range cbErrs {
			lc.check(t, "callback error", e)
		}
		mu.Unlock()
	})
	t.Run("server records", func(t *testing.T) {
		for _, r := range srv.Requests() {
			lc.check(t, "libratotest request log", r)
		}
	})

	lc.checkLog(t)

	// Positive control: the checker finds the token where it must be, in the raw request.
	dump.mu.Lock()
	defer dump.mu.Unlock()
	require.NotEmpty(t, dump.dumps)
	assert.Contains(t, dump.dumps[0], "Authorization: Basic "+leakForms[1], "the request carries the credentials")
	assert.NotEmpty(t, lc.leaks(dump.dumps[0]), "the leak check sees the token in a request dump")
	assert.NotEmpty(t, lc.leaks(errors.New("x "+strings.ToLower(leakToken))), "and in an error")
	t.Logf("%d values checked in 5 formats each, plus %d bytes of debug log", lc.checked, lc.log.Len())
}

// TestLibratotestRefusesUnauthenticated: the fake server checks credentials by default and
// listens on loopback only.
func TestLibratotestRefusesUnauthenticated(t *testing.T) {
	srv := libratotest.NewServer()
	defer srv.Close()
	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", u.Hostname(), "binds loopback")
	assert.True(t, net.ParseIP(u.Hostname()).IsLoopback())

	user, token := srv.Credentials()
	body := `{"gauges":[{"name":"x","value":1}]}`
	tests := []struct {
		name       string
		method     string
		path       string
		user, pass string
		auth       bool
		want       int
	}{
		{"POST without credentials", http.MethodPost, "/v1/metrics", "", "", false, http.StatusUnauthorized},
		{"GET without credentials", http.MethodGet, "/v1/metrics", "", "", false, http.StatusUnauthorized},
		{"GET measurements without credentials", http.MethodGet, "/v1/measurements/x", "", "", false, http.StatusUnauthorized},
		{"wrong token", http.MethodPost, "/v1/metrics", user, "wrong", true, http.StatusUnauthorized},
		{"wrong user", http.MethodPost, "/v1/metrics", "someone@example.com", token, true, http.StatusUnauthorized},
		{"token as user (AppOptics form) on a Librato server", http.MethodPost, "/v1/metrics", token, "", true, http.StatusUnauthorized},
		{"right credentials", http.MethodPost, "/v1/metrics", user, token, true, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rd io.Reader
			if tt.method == http.MethodPost {
				rd = strings.NewReader(body)
			}
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, rd)
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			if tt.auth {
				req.SetBasicAuth(tt.user, tt.pass)
			}
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if tt.want == http.StatusOK {
				assert.Less(t, resp.StatusCode, 300, string(b))
				return
			}
			assert.Equal(t, tt.want, resp.StatusCode, string(b))
			assert.NotContains(t, string(b), token)
		})
	}
	assert.Len(t, srv.Measurements("x"), 1, "only the authenticated POST stored a measurement")
}
