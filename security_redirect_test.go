package librato_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-librato/librato"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// catcher is a server that must never see the credentials: it records what reached it.
type catcher struct {
	srv  *httptest.Server
	mu   sync.Mutex
	hits []string // "METHOD path auth=<Authorization header>"
}

func newCatcher(t *testing.T, tlsServer bool) *catcher {
	c := &catcher{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.hits = append(c.hits, r.Method+" "+r.URL.Path+" auth="+r.Header.Get("Authorization"))
		c.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	})
	if tlsServer {
		c.srv = httptest.NewTLSServer(h)
	} else {
		c.srv = httptest.NewServer(h)
	}
	t.Cleanup(c.srv.Close)
	return c
}

func (c *catcher) seen() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.hits...)
}

// redirector answers every request with status and a Location built from the request.
type redirector struct {
	srv  *httptest.Server
	mu   sync.Mutex
	hits int
}

func newRedirector(t *testing.T, tlsServer bool, status int, location func(r *http.Request) string) *redirector {
	rd := &redirector{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rd.mu.Lock()
		rd.hits++
		rd.mu.Unlock()
		w.Header().Set("Location", location(r))
		w.WriteHeader(status)
	})
	if tlsServer {
		rd.srv = httptest.NewTLSServer(h)
	} else {
		rd.srv = httptest.NewServer(h)
	}
	t.Cleanup(rd.srv.Close)
	return rd
}

func (rd *redirector) count() int {
	rd.mu.Lock()
	defer rd.mu.Unlock()
	return rd.hits
}

// TestRedirectsKeepTheCredentialsAtHome: a redirect to another origin (another port, https to
// http), and any redirect of a write, is refused with an error naming it; nothing reaches the
// other server, nothing is retried, and a Queue does not count the measurement as sent.
func TestRedirectsKeepTheCredentialsAtHome(t *testing.T) {
	ctx := context.Background()
	m := librato.Measurement{Name: "redirect.check", Value: 1}
	fast := librato.WithRetry(librato.RetryPolicy{MaxAttempts: 3, MinWait: time.Millisecond, MaxWait: 2 * time.Millisecond})
	calls := map[string]func(c *librato.Client) error{
		"Ping": func(c *librato.Client) error { return c.Ping(ctx) },
		"Get": func(c *librato.Client) error {
			_, err := c.Metrics.Get(ctx, "some.metric", nil)
			return err
		},
		"Submit": func(c *librato.Client) error { return c.Submit(ctx, m) },
		"Delete": func(c *librato.Client) error { return c.Metrics.Delete(ctx, "some.metric") },
	}
	for _, tlsFrom := range []bool{false, true} {
		for _, status := range []int{301, 302, 303, 307, 308} {
			other := newCatcher(t, false) // plain http, 127.0.0.1, another port
			rd := newRedirector(t, tlsFrom, status, func(r *http.Request) string {
				return other.srv.URL + r.URL.Path + "?api_key=" + leakToken + "&q=" + leakToken
			})
			var opts []librato.Option
			opts = append(opts, librato.WithBaseURL(rd.srv.URL+"/v1/"), fast)
			if tlsFrom {
				opts = append(opts, librato.WithHTTPClient(rd.srv.Client()))
			}
			c, err := librato.Connect(leakUser, leakToken, opts...)
			require.NoError(t, err)
			for name, call := range calls {
				before := rd.count()
				err := call(c)
				what := name + " " + rd.srv.URL + " " + http.StatusText(status)
				require.Error(t, err, what)
				assert.ErrorIs(t, err, librato.ErrRedirect, what)
				var re *librato.RedirectError
				if assert.ErrorAs(t, err, &re, what) {
					assert.Equal(t, status, re.StatusCode, what)
					assert.Contains(t, re.Location, other.srv.URL, "the error names the redirect: "+what)
				}
				assert.Contains(t, err.Error(), "redirect", what)
				assert.Equal(t, 1, rd.count()-before, "a refused redirect is not retried: "+what)
				for _, f := range leakForms {
					assert.NotContains(t, err.Error(), f, what)
				}
			}
			assert.Empty(t, other.seen(), "nothing reaches the other origin")
		}
	}

	t.Run("Queue through a 307 does not count as sent", func(t *testing.T) {
		other := newCatcher(t, false)
		rd := newRedirector(t, false, http.StatusTemporaryRedirect, func(r *http.Request) string { return other.srv.URL + r.URL.Path })
		c, err := librato.Connect(leakUser, leakToken, librato.WithBaseURL(rd.srv.URL+"/v1/"), fast)
		require.NoError(t, err)
		q := newQueue(t, c, librato.QueueOptions{})
		require.NoError(t, q.Add(m))
		err = q.Flush(ctx)
		require.ErrorIs(t, err, librato.ErrRedirect)
		assert.Zero(t, q.Stats().Sent)
		assert.Empty(t, other.seen())
		_ = q.Close(ctx)
	})

	t.Run("same host, other scheme: https to http is refused", func(t *testing.T) {
		plain := newCatcher(t, false)
		rd := newRedirector(t, true, http.StatusTemporaryRedirect, func(r *http.Request) string {
			// Same host, plain http: the port differs too, as two listeners cannot share one.
			return strings.Replace(plain.srv.URL, "https://", "http://", 1) + r.URL.Path
		})
		c, err := librato.Connect(leakUser, leakToken, librato.WithBaseURL(rd.srv.URL+"/v1/"), librato.WithHTTPClient(rd.srv.Client()))
		require.NoError(t, err)
		require.ErrorIs(t, c.Ping(ctx), librato.ErrRedirect)
		assert.Empty(t, plain.seen())
	})

	t.Run("a GET within the origin is followed with the credentials; a POST is not", func(t *testing.T) {
		var mu sync.Mutex
		var auths []string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			auths = append(auths, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
			mu.Unlock()
			if !strings.HasPrefix(r.URL.Path, "/v2/") {
				w.Header().Set("Location", "/v2"+strings.TrimPrefix(r.URL.Path, "/v1"))
				w.WriteHeader(http.StatusTemporaryRedirect)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"query":{"found":0,"length":0,"offset":0,"total":0},"metrics":[]}`))
		}))
		defer srv.Close()
		c, err := librato.Connect(leakUser, leakToken, librato.WithBaseURL(srv.URL+"/v1/"), fast)
		require.NoError(t, err)
		require.NoError(t, c.Ping(ctx))
		mu.Lock()
		require.Len(t, auths, 2)
		assert.True(t, strings.HasPrefix(auths[1], "GET /v2/metrics Basic "), auths[1])
		auths = nil
		mu.Unlock()

		err = c.Submit(ctx, m)
		require.ErrorIs(t, err, librato.ErrRedirect)
		assert.Contains(t, err.Error(), "POST is never redirected")
		mu.Lock()
		assert.Len(t, auths, 1, "the POST went to the base URL only")
		mu.Unlock()
	})

	t.Run("an endless same-origin loop stops", func(t *testing.T) {
		var rd *redirector
		rd = newRedirector(t, false, http.StatusFound, func(r *http.Request) string { return rd.srv.URL + r.URL.Path })
		c, err := librato.Connect(leakUser, leakToken, librato.WithBaseURL(rd.srv.URL+"/v1/"), fast)
		require.NoError(t, err)
		err = c.Ping(ctx)
		require.ErrorIs(t, err, librato.ErrRedirect)
		assert.Contains(t, err.Error(), "too many redirects")
		assert.Equal(t, 10, rd.count())
	})
}
