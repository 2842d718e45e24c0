package librato_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"
	"github.com/stretchr/testify/require"
)

// fakeNow is the clock of the integration tests that pin one (WithNow).
var fakeNow = time.Unix(1700000000, 0).UTC()

// fakeClient starts a libratotest server with srvOpts, closed when the test ends, and returns it
// with a client connected to it. The client does not retry, so a fault the test injects shows up
// as the error it causes; opts come after that and may turn retries back on.
func fakeClient(t *testing.T, srvOpts []libratotest.Option, opts ...librato.Option) (*libratotest.Server, *librato.Client) {
	t.Helper()
	srv := libratotest.NewServer(srvOpts...)
	t.Cleanup(srv.Close)
	c, err := srv.Client(append([]librato.Option{librato.WithRetry(librato.RetryPolicy{MaxAttempts: 1})}, opts...)...)
	require.NoError(t, err)
	return srv, c
}

// fakeClientAt is fakeClient with the server's clock stopped at fakeNow.
func fakeClientAt(t *testing.T, srvOpts ...libratotest.Option) (*libratotest.Server, *librato.Client) {
	t.Helper()
	return fakeClient(t, append([]libratotest.Option{libratotest.WithNow(func() time.Time { return fakeNow })}, srvOpts...))
}

// countRequests counts the requests the server saw with method and path.
func countRequests(srv *libratotest.Server, method, path string) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

// newQueue is c.NewQueue, failing the test on an error.
func newQueue(tb testing.TB, c *librato.Client, opts librato.QueueOptions) *librato.Queue {
	tb.Helper()
	q, err := c.NewQueue(opts)
	if err != nil {
		tb.Fatal(err)
	}
	return q
}

// newAggregator is c.NewAggregator, failing the test on an error.
func newAggregator(tb testing.TB, c *librato.Client, opts librato.AggregatorOptions) *librato.Aggregator {
	tb.Helper()
	a, err := c.NewAggregator(opts)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// newAPIFake returns a libratotest server without a socket (its client reaches it in process, so
// it works inside a testing/synctest bubble too) that takes measurements of any age, closed when
// the test ends.
func newAPIFake(t testing.TB) *libratotest.Server {
	t.Helper()
	srv := libratotest.NewUnstartedServer(libratotest.WithMaxAge(0))
	t.Cleanup(srv.Close)
	return srv
}

// newFakeClient returns a client of srv that does not retry and stamps measurements with now.
func newFakeClient(t testing.TB, srv *libratotest.Server, now time.Time, opts ...librato.Option) *librato.Client {
	t.Helper()
	c, err := srv.Client(append([]librato.Option{librato.WithRetry(librato.RetryPolicy{MaxAttempts: 1})}, opts...)...)
	require.NoError(t, err)
	librato.SetClock(c, func() time.Time { return now })
	return c
}

// onRequest makes srv answer each request as answer says; 200 with an empty body lets the request
// through to the fake, which stores it and answers as the API does.
func onRequest(t testing.TB, srv *libratotest.Server, answer func(r libratotest.Request) (status int, body string)) {
	t.Helper()
	require.NoError(t, srv.AddFault(libratotest.Fault{Func: func(_ context.Context, r libratotest.Request) (int, string, bool) {
		status, body := answer(r)
		return status, body, status != http.StatusOK || body != ""
	}}))
}

// hangRequests makes srv a server that accepts requests and never answers them.
func hangRequests(t testing.TB, srv *libratotest.Server) {
	t.Helper()
	require.NoError(t, srv.AddFault(libratotest.Fault{Func: func(ctx context.Context, _ libratotest.Request) (int, string, bool) {
		<-ctx.Done()
		return 0, "", false
	}}))
}

// sinkServer starts a libratotest server on a loopback socket whose every request is answered by
// answer, which sees each request as recorded (the fake stores nothing), and returns it with a
// client of the library's defaults but without retries.
func sinkServer(t *testing.T, answer func(r libratotest.Request) (status int, body string)) (*libratotest.Server, *librato.Client) {
	t.Helper()
	srv := libratotest.NewServer(libratotest.WithRequestLog(0))
	t.Cleanup(srv.Close)
	require.NoError(t, srv.AddFault(libratotest.Fault{Func: func(_ context.Context, r libratotest.Request) (int, string, bool) {
		status, body := answer(r)
		return status, body, true
	}}))
	c, err := srv.Client(librato.WithRetry(librato.RetryPolicy{MaxAttempts: 1}))
	require.NoError(t, err)
	return srv, c
}
