package librato_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-librato/librato"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// echoShape is one way a server or proxy sends the credentials back.
type echoShape struct {
	name        string
	status      int
	contentType string
	body        func(auth string) string
	header      bool // echo into headers too (X-Echo, rate-limit headers, Retry-After)
}

var echoShapes = []echoShape{
	{"2xx JSON errors list", 200, "application/json", func(a string) string {
		return fmt.Sprintf(`{"errors":[%q,%q]}`, a, leakToken)
	}, false},
	{"2xx JSON errors object", 202, "application/json", func(a string) string {
		return fmt.Sprintf(`{"errors":{"params":{%q:[%q]},"request":[%q]}}`, leakToken, a, strings.ReplaceAll(a, "/", `\/`))
	}, false},
	{"2xx JSON metrics page", 200, "application/json", func(a string) string {
		return fmt.Sprintf(`{"query":{"found":1,"length":1,"offset":0,"total":1},"metrics":[{"name":%q,"display_name":%q,"type":"gauge"}],"name":%q,"type":"gauge"}`,
			leakToken, a, leakToken)
	}, true},
	{"2xx text", 200, "text/plain", func(a string) string { return "you sent " + a + " and " + leakToken }, true},
	{"400 JSON params", 400, "application/json", func(a string) string {
		return fmt.Sprintf(`{"errors":{"params":{"name":[%q],%q:["x"]}}}`, a, leakToken)
	}, true},
	{"401 text", 401, "text/plain", func(a string) string { return "Credentials " + a + " are not valid" }, true},
	{"403 rate limit", 403, "application/json", func(a string) string {
		return fmt.Sprintf(`{"error":"You have hit the API limit for %s"}`, leakToken)
	}, true},
	{"404 HTML", 404, "text/html", func(a string) string {
		return "<html><body>" + a + "<br>" + strings.ToLower(leakToken) + "</body></html>"
	}, true},
	{"422 JSON message", 422, "application/json", func(a string) string { return fmt.Sprintf(`{"message":%q}`, a) }, true},
	{"429 JSON", 429, "application/json", func(a string) string { return fmt.Sprintf(`{"errors":{"request":[%q]}}`, a) }, true},
	{"500 query-escaped", 500, "text/plain", func(a string) string { return "GET /v1/metrics?token=" + leakToken + "&auth=" + a }, true},
	{"503 JSON string", 503, "application/json", func(a string) string { return fmt.Sprintf("%q", a+" "+leakToken) }, true},
}

// TestEchoedCredentialsNeverLeak: a server that sends the Authorization header and the token back
// in every answer shape (2xx and non-2xx, headers, query, JSON, text) must not get them into any
// error, any printed form of it, any returned value or any log line.
func TestEchoedCredentialsNeverLeak(t *testing.T) {
	lc := &leakChecker{}
	jsonLog := slog.New(slog.NewJSONHandler(lc, &slog.HandlerOptions{Level: slog.LevelDebug}))
	textLog := slog.New(slog.NewTextHandler(lc, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := context.Background()
	m := librato.Measurement{Name: "echo.check", Value: 1}
	fast := librato.WithRetry(librato.RetryPolicy{MaxAttempts: 2, MinWait: time.Millisecond, MaxWait: 2 * time.Millisecond})

	var shape atomic.Pointer[echoShape]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sh := shape.Load()
		auth := r.Header.Get("Authorization")
		if sh.header {
			w.Header().Set("X-Echo", auth)
			w.Header().Set("X-Librato-RateLimit-Std", "limit=300,remaining=0,reset=42,token="+leakToken)
			w.Header().Set("X-Librato-RateLimit-Agg", "limit=300,remaining=1,auth="+auth)
			w.Header().Set("Retry-After", leakToken)
		}
		w.Header().Set("Content-Type", sh.contentType)
		w.WriteHeader(sh.status)
		_, _ = w.Write([]byte(sh.body(auth)))
	}))
	defer srv.Close()

	calls := []struct {
		name string
		call func(c *librato.Client) (any, error)
	}{
		{"Ping", func(c *librato.Client) (any, error) { return nil, c.Ping(ctx) }},
		{"Get", func(c *librato.Client) (any, error) { return c.Metrics.Get(ctx, "echo.metric", nil) }},
		{"List", func(c *librato.Client) (any, error) { return c.Metrics.List(ctx, nil) }},
		{"Submit", func(c *librato.Client) (any, error) { return nil, c.Submit(ctx, m) }},
		{"Queue", func(c *librato.Client) (any, error) {
			q := newQueue(t, c, librato.QueueOptions{})
			if err := q.Add(m); err != nil {
				return nil, err
			}
			err := q.Flush(ctx)
			st := q.Stats()
			cctx, cancel := context.WithCancel(ctx)
			cancel()
			_ = q.Close(cctx)
			return st, err
		}},
	}
	for i := range echoShapes {
		sh := &echoShapes[i]
		shape.Store(sh)
		for _, logger := range []*slog.Logger{jsonLog, textLog} {
			c, err := librato.Connect(leakUser, leakToken, librato.WithBaseURL(srv.URL+"/v1/"), librato.WithLogger(logger), fast)
			require.NoError(t, err)
			for _, call := range calls {
				what := sh.name + " " + call.name
				v, err := call.call(c)
				lc.check(t, what, err, v)
				var pe *librato.PartialError
				if errors.As(err, &pe) {
					lc.check(t, what+" PartialError", pe, *pe, string(pe.Body), pe.Messages)
				}
				var apiErr *librato.Error
				if errors.As(err, &apiErr) {
					lc.check(t, what+" Error", apiErr, *apiErr, string(apiErr.Body), apiErr.Params, apiErr.RateLimit)
					if sh.status == 400 {
						assert.NotEmpty(t, apiErr.Params, "the params survive scrubbing: "+what)
					}
				}
			}
			lc.check(t, sh.name+" RateLimit", c.RateLimit())
		}
	}

	t.Run("redirect with the token in its query, logged by the retry layer", func(t *testing.T) {
		elsewhere := "http://127.0.0.1:1/v1/metrics?api_key=" + leakToken + "&q=" + leakToken
		rd := newRedirector(t, false, http.StatusFound, func(*http.Request) string { return elsewhere })
		own := &leakChecker{} // this case's log alone
		c, err := librato.Connect(leakUser, leakToken, librato.WithBaseURL(rd.srv.URL+"/v1/"), fast,
			librato.WithLogger(slog.New(slog.NewTextHandler(own, &slog.HandlerOptions{Level: slog.LevelDebug}))))
		require.NoError(t, err)
		err = c.Ping(ctx)
		require.Error(t, err)
		lc.check(t, "redirect", err)
		own.checkLog(t)
	})

	t.Run("malformed answer quoted by the transport", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				buf := make([]byte, 4096)
				n, _ := conn.Read(buf)
				req := string(buf[:n])
				auth := ""
				if i := strings.Index(req, "Authorization: "); i >= 0 {
					auth = strings.SplitN(req[i+len("Authorization: "):], "\r\n", 2)[0]
				}
				// A status line without a space: net/http quotes all of it in its error.
				_, _ = conn.Write([]byte("HTTP/1.1_" + strings.ReplaceAll(auth, " ", "_") + "_" + leakToken + "\r\n\r\n"))
				conn.Close()
			}
		}()
		c, err := librato.Connect(leakUser, leakToken, librato.WithBaseURL("http://"+ln.Addr().String()+"/v1/"),
			librato.WithLogger(jsonLog), fast)
		require.NoError(t, err)
		err = c.Ping(ctx)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "malformed HTTP", "the transport quoted the answer: the check is not vacuous")
		lc.check(t, "malformed answer", err)
		assert.NotErrorIs(t, err, librato.ErrRedirect)
	})

	lc.checkLog(t)
	t.Logf("%d values checked in 5 formats each, plus %d bytes of log", lc.checked, lc.log.Len())
}
