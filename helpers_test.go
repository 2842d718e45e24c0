package librato_test

import (
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
