package librato

import (
	"net/http"
	"testing"

	"github.com/h2non/gock"
)

// newQueue is c.NewQueue, failing the test on an error.
func newQueue(tb testing.TB, c *Client, opts QueueOptions) *Queue {
	tb.Helper()
	q, err := c.NewQueue(opts)
	if err != nil {
		tb.Fatal(err)
	}
	return q
}

// newAggregator is c.NewAggregator, failing the test on an error.
func newAggregator(tb testing.TB, c *Client, opts AggregatorOptions) *Aggregator {
	tb.Helper()
	a, err := c.NewAggregator(opts)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// gockHTTPClient returns an http.Client whose requests go to gock's mocks only. When the test ends
// every mock and every unmatched request is dropped and the client restored; a caller that checks
// gock.IsDone at the end registers that cleanup after this call, so it runs first.
func gockHTTPClient(t *testing.T) *http.Client {
	t.Helper()
	hc := &http.Client{}
	gock.InterceptClient(hc)
	t.Cleanup(func() {
		gock.OffAll()
		gock.RestoreClient(hc)
	})
	return hc
}
