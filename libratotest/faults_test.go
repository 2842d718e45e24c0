package libratotest_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFaultFailsTheNextRequests(t *testing.T) {
	srv := newServer(t)
	require.NoError(t, srv.AddFault(libratotest.Fault{Status: 503, Body: `{"errors":{"system":["maintenance"]}}`, Count: 2}))
	for range 2 {
		resp, body := callAs(t, srv, "GET", "/v1/metrics", "", "", nil) // faults come before auth
		assert.Equal(t, 503, resp.StatusCode)
		assert.Contains(t, resp.Header.Get("Content-Type"), "application/json")
		assert.Equal(t, `{"errors":{"system":["maintenance"]}}`, body)
	}
	resp, _ := call(t, srv, "GET", "/v1/metrics", "", "")
	assert.Equal(t, 200, resp.StatusCode)

	require.NoError(t, srv.AddFault(libratotest.Fault{Status: 500, Body: "oops", Count: 1}))
	resp, body := call(t, srv, "POST", "/v1/metrics", jsonType, fixture(t, "tv5a.json"))
	assert.Equal(t, 500, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("Content-Type"), "text/plain")
	assert.Equal(t, "oops", body)
	assert.Empty(t, srv.Measurements("login-delay"), "a failed request stores nothing")
	assert.Len(t, srv.Requests(), 4, "failed requests are recorded too")
}

func TestFaultDropsConnections(t *testing.T) {
	srv := newServer(t)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	require.NoError(t, srv.AddFault(libratotest.Fault{Drop: true, Count: 1}))
	req, err := http.NewRequest("POST", srv.URL+"/v1/metrics", strings.NewReader(fixture(t, "tv5a.json")))
	require.NoError(t, err)
	req.SetBasicAuth(libratotest.DefaultUser, libratotest.DefaultToken)
	req.Header.Set("Content-Type", jsonType)
	_, err = client.Do(req)
	require.Error(t, err, "the connection is closed without a response")
	assert.Empty(t, srv.Measurements("login-delay"))

	resp, _ := call(t, srv, "POST", "/v1/metrics", jsonType, fixture(t, "tv5a.json"))
	assert.Equal(t, 200, resp.StatusCode, "only the next n requests are dropped")
}

func TestFaultFunc(t *testing.T) {
	srv := newServer(t)
	var bodies []string
	require.NoError(t, srv.AddFault(libratotest.Fault{Path: "/v1/metrics*", Func: func(_ context.Context, r libratotest.Request) (int, string, bool) {
		bodies = append(bodies, string(r.Body))
		if r.Method == "DELETE" {
			return 502, "<html>bad gateway</html>", true
		}
		if strings.Contains(string(r.Body), "partial") {
			return 200, `{"errors":{"params":{"name":["bad"]}}}`, true // a 2xx with errors
		}
		return 0, "", false
	}}))
	resp, body := call(t, srv, "DELETE", "/v1/metrics/x", "", "")
	assert.Equal(t, 502, resp.StatusCode)
	assert.Equal(t, "<html>bad gateway</html>", body)
	resp, _ = call(t, srv, "GET", "/v1/metrics", "", "")
	assert.Equal(t, 200, resp.StatusCode)
	resp, body = call(t, srv, "POST", "/v1/metrics", jsonType, `{"gauges":[{"name":"partial","value":1}]}`)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Contains(t, body, `"errors"`)
	assert.Equal(t, []string{"", "", `{"gauges":[{"name":"partial","value":1}]}`}, bodies, "the function sees each body")
	resp, _ = call(t, srv, "GET", "/v1/alerts", "", "")
	assert.Equal(t, 200, resp.StatusCode, "outside the path")
	srv.ClearFaults()
	resp, _ = call(t, srv, "DELETE", "/v1/metrics/x", "", "")
	assert.Equal(t, 204, resp.StatusCode)

	// A function may play a server that never answers: it ends with the request.
	require.NoError(t, srv.AddFault(libratotest.Fault{Func: func(ctx context.Context, _ libratotest.Request) (int, string, bool) {
		<-ctx.Done()
		return 0, "", false
	}}))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/metrics", nil)
	require.NoError(t, err)
	req.SetBasicAuth(libratotest.DefaultUser, libratotest.DefaultToken)
	_, err = http.DefaultClient.Do(req)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Error(t, srv.AddFault(libratotest.Fault{Status: 500, Func: func(context.Context, libratotest.Request) (int, string, bool) { return 0, "", false }}))
}

func TestFaultLatency(t *testing.T) {
	srv := newServer(t)
	require.NoError(t, srv.AddFault(libratotest.Fault{Latency: 300 * time.Millisecond, Rate: 1}))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/metrics", nil)
	require.NoError(t, err)
	req.SetBasicAuth(libratotest.DefaultUser, libratotest.DefaultToken)
	_, err = http.DefaultClient.Do(req)
	require.ErrorIs(t, err, context.DeadlineExceeded)

	require.NoError(t, srv.AddFault(libratotest.Fault{Latency: 100 * time.Millisecond, Rate: 1}))
	start := time.Now()
	resp, _ := call(t, srv, "GET", "/v1/metrics", "", "")
	assert.Equal(t, 200, resp.StatusCode)
	assert.GreaterOrEqual(t, time.Since(start), 100*time.Millisecond)
}

func TestRateLimit(t *testing.T) {
	now := time.Unix(1500000000, 0)
	var later atomic.Bool
	srv := newServer(t, libratotest.WithNow(func() time.Time {
		if later.Load() {
			return now.Add(61 * time.Second)
		}
		return now
	}))
	resp, _ := call(t, srv, "GET", "/v1/metrics", "", "")
	assert.Empty(t, resp.Header.Get("X-Librato-RateLimit-Std"), "no headers without a limit")

	srv.SetRateLimit(libratotest.RateLimit{Limit: 2, Per: time.Minute, RetryAfter: true})
	for i, want := range []string{"limit=2,remaining=1,reset=60", "limit=2,remaining=0,reset=60"} {
		resp, _ := call(t, srv, "GET", "/v1/metrics", "", "")
		assert.Equal(t, 200, resp.StatusCode, i)
		assert.Equal(t, want, resp.Header.Get("X-Librato-RateLimit-Std"))
		assert.Equal(t, want, resp.Header.Get("X-Librato-RateLimit-Agg"))
	}
	resp, body := call(t, srv, "POST", "/v1/metrics", jsonType, fixture(t, "tv5a.json"))
	assert.Equal(t, 429, resp.StatusCode)
	assert.Equal(t, "60", resp.Header.Get("Retry-After"))
	assert.Equal(t, "limit=2,remaining=0,reset=60", resp.Header.Get("X-Librato-RateLimit-Std"))
	assert.JSONEq(t, `{"request_time":1500000000,"error":"You have hit the API limit for measurements [measure:raw_rate]. Contact: support@librato.com to adjust this limit."}`, body)

	later.Store(true) // next window
	resp, _ = call(t, srv, "GET", "/v1/metrics", "", "")
	assert.Equal(t, 200, resp.StatusCode)

	srv.SetRateLimit(libratotest.RateLimit{Limit: 1, Per: time.Hour, Status: 403})
	call(t, srv, "GET", "/v1/metrics", "", "")
	resp, body = call(t, srv, "GET", "/v1/metrics", "", "")
	assert.Equal(t, 403, resp.StatusCode)
	assert.Empty(t, resp.Header.Get("Retry-After"))
	assert.Contains(t, body, `"error":"You have hit the API limit`)

	srv.SetRateLimit(libratotest.RateLimit{})
	resp, _ = call(t, srv, "GET", "/v1/metrics", "", "")
	assert.Equal(t, 200, resp.StatusCode)
	assert.Empty(t, resp.Header.Get("X-Librato-RateLimit-Std"))
}

func TestReset(t *testing.T) {
	srv := newServer(t)
	call(t, srv, "POST", "/v1/metrics", jsonType, fixture(t, "tv5a.json"))
	require.NoError(t, srv.AddFault(libratotest.Fault{Status: 500, Body: "x", Count: 5}))
	srv.Reset()
	assert.Empty(t, srv.Requests())
	_, ok := srv.Metric("login-delay")
	assert.False(t, ok)
	resp, body := call(t, srv, "GET", "/v1/metrics", "", "")
	assert.Equal(t, 200, resp.StatusCode, "faults are cleared")
	assert.Contains(t, body, `"total":0`)
}

func TestRequestLogLimit(t *testing.T) {
	srv := newServer(t, libratotest.WithRequestLog(2))
	for _, p := range []string{"/v1/metrics/a", "/v1/metrics/b", "/v1/metrics/c"} {
		call(t, srv, "GET", p+"?x=1", "", "")
	}
	reqs := srv.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "/v1/metrics/b", reqs[0].Path)
	assert.Equal(t, "/v1/metrics/c", reqs[1].Path)
	assert.Equal(t, "1", reqs[1].Query.Get("x"))
}

func TestNewUnstartedServer(t *testing.T) {
	h := libratotest.NewUnstartedServer()
	assert.Empty(t, h.URL)
	// Unstarted, a client reaches it in process: no socket.
	c, err := h.Client()
	require.NoError(t, err)
	require.NoError(t, c.Submit(t.Context(), librato.Measurement{Name: "in.process", Value: 7, Source: "s"}))
	require.Len(t, h.Measurements("in.process"), 1)
	_, err = c.Metrics.Get(t.Context(), "no.such", nil)
	assert.ErrorIs(t, err, librato.ErrNotFound, "answers come back as from the wire")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	assert.ErrorIs(t, c.Submit(ctx, librato.Measurement{Name: "in.process", Value: 8}), context.Canceled)

	h.URL = newHTTPTest(t, h) // stands in for the caller's own listener
	resp, _ := call(t, h, "POST", "/v1/metrics", jsonType, fixture(t, "tv5a.json"))
	assert.Equal(t, 200, resp.StatusCode)
	assert.Len(t, h.Measurements("login-delay"), 1)
	h.Close() // a no-op without a listener, safe twice
	h.Close()
}

func TestStartListensOnLoopback(t *testing.T) {
	srv := libratotest.NewUnstartedServer()
	srv.Start()
	defer srv.Close()
	assert.True(t, strings.HasPrefix(srv.URL, "http://127.0.0.1:"), srv.URL)
	c, err := srv.Client()
	require.NoError(t, err)
	require.NoError(t, c.Ping(t.Context()))
	assert.Panics(t, srv.Start, "a second Start")
}

func TestAddFaultOneShotMatchesMethodAndPath(t *testing.T) {
	srv := newServer(t, libratotest.WithNow(func() time.Time { return time.Unix(1500000000, 0) }))
	require.NoError(t, srv.AddFault(libratotest.Fault{Method: "POST", Path: "/v1/measurements", Status: 503, Count: 2}))
	resp, _ := call(t, srv, "GET", "/v1/metrics", "", "")
	assert.Equal(t, 200, resp.StatusCode, "another path is not hit")
	for range 2 {
		resp, body := call(t, srv, "POST", "/v1/measurements", jsonType, `{"measurements":[{"name":"a","value":1}]}`)
		assert.Equal(t, 503, resp.StatusCode)
		assert.Equal(t, `{"errors":{"system":["injected fault: Service Unavailable"]}}`, body)
	}
	assert.Empty(t, srv.Measurements("a"))
	assert.Empty(t, srv.Faults(), "a used-up fault is removed")
	resp, body := call(t, srv, "POST", "/v1/measurements", jsonType, `{"measurements":[{"name":"a","value":1}]}`)
	assert.Equal(t, 202, resp.StatusCode, body)
}

func TestAddFaultBodies(t *testing.T) {
	srv := newServer(t, libratotest.WithNow(func() time.Time { return time.Unix(1500000000, 0) }))
	rate := `{"error":"You have hit the API limit for measurements [measure:raw_rate]. Contact: support@librato.com to adjust this limit.","request_time":1500000000}`
	for _, tt := range []struct {
		f          libratotest.Fault
		body       string
		retryAfter string
	}{
		{libratotest.Fault{Status: 429, RetryAfter: 7, Count: 1}, rate, "7"},
		{libratotest.Fault{Status: 429, Count: 1}, rate, ""},
		{libratotest.Fault{Status: 403, Count: 1}, rate, ""},
		{libratotest.Fault{Status: 500, Count: 1}, `{"errors":{"system":["injected fault: Internal Server Error"]}}`, ""},
		{libratotest.Fault{Status: 400, Count: 1}, `{"errors":{"request":["injected fault: Bad Request"]}}`, ""},
		{libratotest.Fault{Status: 502, Body: "<html>bad gateway</html>", Count: 1}, "<html>bad gateway</html>", ""},
	} {
		require.NoError(t, srv.AddFault(tt.f))
		resp, body := callAs(t, srv, "GET", "/v1/metrics", "", "", nil) // faults come before auth
		assert.Equal(t, tt.f.Status, resp.StatusCode)
		assert.Equal(t, tt.body, body)
		assert.Equal(t, tt.retryAfter, resp.Header.Get("Retry-After"))
	}
}

func TestAddFaultRateIsEvenlySpaced(t *testing.T) {
	srv := newServer(t)
	require.NoError(t, srv.AddFault(libratotest.Fault{Path: "/v1/metrics*", Status: 500, Rate: 0.25}))
	var statuses []int
	for range 8 {
		resp, _ := call(t, srv, "GET", "/v1/metrics/x", "", "")
		statuses = append(statuses, resp.StatusCode)
	}
	assert.Equal(t, []int{404, 404, 404, 500, 404, 404, 404, 500}, statuses)
	resp, _ := call(t, srv, "GET", "/v1/alerts", "", "")
	assert.Equal(t, 200, resp.StatusCode, "outside the path prefix")
	assert.Len(t, srv.Faults(), 1, "a steady fault stays")
	srv.ClearFaults()
	resp, _ = call(t, srv, "GET", "/v1/metrics/x", "", "")
	assert.Equal(t, 404, resp.StatusCode)
}

func TestAddFaultLatencyAndDrop(t *testing.T) {
	srv := newServer(t)
	require.NoError(t, srv.AddFault(libratotest.Fault{Latency: 150 * time.Millisecond, Rate: 1}))
	require.NoError(t, srv.AddFault(libratotest.Fault{Method: "POST", Drop: true, Count: 1}))
	start := time.Now()
	resp, _ := call(t, srv, "GET", "/v1/metrics", "", "")
	assert.Equal(t, 200, resp.StatusCode, "latency alone lets the request through")
	assert.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	req, err := http.NewRequest("POST", srv.URL+"/v1/metrics", strings.NewReader(fixture(t, "tv5a.json")))
	require.NoError(t, err)
	req.SetBasicAuth(libratotest.DefaultUser, libratotest.DefaultToken)
	req.Header.Set("Content-Type", jsonType)
	_, err = client.Do(req)
	require.Error(t, err, "the connection is closed without a response")
	assert.Empty(t, srv.Measurements("login-delay"))
	resp, _ = call(t, srv, "POST", "/v1/metrics", jsonType, fixture(t, "tv5a.json"))
	assert.Equal(t, 200, resp.StatusCode)
}

func TestAddFaultOnlyFirstAnswerIsUsed(t *testing.T) {
	srv := newServer(t)
	require.NoError(t, srv.AddFault(libratotest.Fault{Status: 503, Count: 1}))
	require.NoError(t, srv.AddFault(libratotest.Fault{Status: 500, Count: 1}))
	resp, _ := call(t, srv, "GET", "/v1/metrics", "", "")
	assert.Equal(t, 503, resp.StatusCode)
	resp, _ = call(t, srv, "GET", "/v1/metrics", "", "")
	assert.Equal(t, 500, resp.StatusCode, "the second fault was not used up by the first request")
	resp, _ = call(t, srv, "GET", "/v1/metrics", "", "")
	assert.Equal(t, 200, resp.StatusCode)
}

func TestAddFaultRejectsBadFaults(t *testing.T) {
	srv := newServer(t)
	for _, f := range []libratotest.Fault{
		{Count: 1},
		{Status: 200, Count: 1},
		{Status: 503},
		{Status: 503, Count: 1, Rate: 0.5},
		{Status: 503, Rate: 1.5},
		{Status: 503, Drop: true, Count: 1},
		{Drop: true, RetryAfter: 3, Count: 1},
		{Latency: -time.Second, Count: 1},
		{Status: 503, Path: "v1/metrics", Count: 1},
	} {
		err := srv.AddFault(f)
		assert.Error(t, err, "%+v", f)
	}
	assert.Empty(t, srv.Faults())
}
