package librato

import "testing"

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
