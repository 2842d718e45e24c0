package interop

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// librato-node 5.0.6 (lib/librato.js, client.js, counter_cache.js,
// aggregator.js, worker.js): increments are summed per name (and
// "name;source") and sent as legacy counters; measures and timings are
// aggregated per name and sent as legacy gauges, a single value as
// {"value":v}, several as {"count","sum","min","max","sum_squares"}; flush
// posts both lists to /v1/metrics in one request and clears them; start runs
// a worker flushing every period; stop stops it and flushes; a status above
// 399 is an "Error sending to Librato: ... (statusCode: N)" error event;
// requestretry retries 5xx up to 3 attempts.

// nodeClient runs one scenario of librato_node.js against s.
func nodeClient(t *testing.T, s *sandbox, scenario string) map[string]any {
	t.Helper()
	modules := requireNode(t)
	env := []string{"LIBRATO_URL=" + s.url, "LIBRATO_USER=" + user, "LIBRATO_TOKEN=" + token}
	return runNode(t, modules, env, "librato_node.js", scenario)
}

func TestLibratoNodeIncrement(t *testing.T) {
	requireNode(t)
	s := startServe(t)
	out := nodeClient(t, s, "increment")
	require.Equal(t, true, out["ok"], out)

	m, code := s.legacy(t, "ln.hits")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "counter", m.Type, "increments are counters")
	// increment() + increment(2) without a source; increment(3, {source}) apart.
	require.Len(t, m.Measurements["unassigned"], 1)
	assert.Equal(t, 3.0, m.Measurements["unassigned"][0].Value)
	require.Len(t, m.Measurements["web1"], 1)
	assert.Equal(t, 3.0, m.Measurements["web1"][0].Value)
	assert.Equal(t, 1, s.logCount("POST", "/v1/metrics", 200), "one flush, one POST")
}

func TestLibratoNodeMeasure(t *testing.T) {
	requireNode(t)
	s := startServe(t)
	out := nodeClient(t, s, "measure")
	require.Equal(t, true, out["ok"], out)

	temp, code := s.legacy(t, "ln.temp")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "gauge", temp.Type)
	require.Len(t, temp.Measurements["unassigned"], 1)
	p := temp.Measurements["unassigned"][0]
	// 10, 20, 30 aggregated: count 3, sum 60, min 10, max 30, sum_squares 1400.
	assert.Equal(t, int64(3), p.Count)
	assert.Equal(t, 20.0, p.Value, "the mean")
	require.NotNil(t, p.Sum)
	assert.Equal(t, 60.0, *p.Sum)
	assert.Equal(t, 10.0, *p.Min)
	assert.Equal(t, 30.0, *p.Max)
	assert.Equal(t, 1400.0, *p.SumSquares)

	one, _ := s.legacy(t, "ln.one")
	require.Len(t, one.Measurements["unassigned"], 1)
	assert.Equal(t, 7.0, one.Measurements["unassigned"][0].Value, "a single value is sent as value")
	assert.Equal(t, int64(1), one.Measurements["unassigned"][0].Count)
	src, _ := s.legacy(t, "ln.src")
	require.Len(t, src.Measurements["db1"], 1)
	assert.Equal(t, 4.0, src.Measurements["db1"][0].Value)
}

func TestLibratoNodeTiming(t *testing.T) {
	requireNode(t)
	s := startServe(t)
	out := nodeClient(t, s, "timing")
	require.Equal(t, true, out["ok"], out)
	assert.Equal(t, 42.0, out["sync"], "timing returns the synchronous function's value")
	assert.Equal(t, "late", out["async"], "and passes the asynchronous result to the callback")

	m, code := s.legacy(t, "ln.work")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "gauge", m.Type, "timings are gauges in milliseconds")
	require.Len(t, m.Measurements["unassigned"], 1)
	p := m.Measurements["unassigned"][0]
	assert.Equal(t, int64(2), p.Count, "two timings of one name are one aggregate")
	require.NotNil(t, p.Max)
	assert.GreaterOrEqual(t, *p.Max, 45.0, "the asynchronous one waited 50 ms (timer slack allowed)")
	assert.Less(t, *p.Min, 45.0, "the synchronous one did not")
	assert.InDelta(t, *p.Min+*p.Max, *p.Sum, 1e-9)
}

func TestLibratoNodeFlush(t *testing.T) {
	requireNode(t)
	s := startServe(t)
	out := nodeClient(t, s, "flush")
	require.Equal(t, true, out["ok"], out)
	assert.Equal(t, 2, s.logCount("POST", "/v1/metrics", 200), "two flushes, two POSTs")
	// Both flushes carry the counter's running total, 5, never 10 (one point,
	// or two if the flushes fell into different seconds).
	m, _ := s.legacy(t, "ln.flushed")
	require.NotEmpty(t, m.Measurements["unassigned"])
	for _, p := range m.Measurements["unassigned"] {
		assert.Equal(t, 5.0, p.Value)
	}
	// The gauge was cleared by the first flush: one sample in all, not two.
	g, _ := s.legacy(t, "ln.flushed.gauge")
	var samples int64
	for _, p := range g.Measurements["unassigned"] {
		samples += p.Count
	}
	assert.Equal(t, int64(1), samples)
}

func TestLibratoNodeStartStop(t *testing.T) {
	requireNode(t)
	s := startServe(t)
	out := nodeClient(t, s, "stop") // runNode fails if the process does not exit by itself
	require.Equal(t, true, out["ok"], out)
	assert.Empty(t, out["errors"])

	// The worker flushed 1 on its own (period 1 s, the script waits 1.6 s),
	// stop flushed 2: two POSTs, two samples (one point per second, so one or
	// two points).
	assert.Equal(t, 2, s.logCount("POST", "/v1/metrics", 200))
	m, _ := s.legacy(t, "ln.periodic")
	var samples int64
	var sum float64
	for _, p := range m.Measurements["unassigned"] {
		samples += p.Count
		sum += p.Value * float64(p.Count)
	}
	assert.Equal(t, int64(2), samples)
	assert.Equal(t, 3.0, sum)
}

func TestLibratoNodeAuthError(t *testing.T) {
	requireNode(t)
	s := startServe(t)
	out := nodeClient(t, s, "auth")
	require.Equal(t, true, out["ok"], out)
	flushErr, _ := out["flushError"].(string)
	assert.Contains(t, flushErr, "statusCode: 401")
	assert.Contains(t, flushErr, "Credentials are required to access this resource.", "the API's text/plain 401 body for a POST")
	assert.Len(t, out["errors"], 1, "the error event fired once")
	assert.Equal(t, 1, s.logCount("POST", "/v1/metrics", 401), "a 401 is not retried")
	_, code := s.legacy(t, "ln.denied")
	assert.Equal(t, http.StatusNotFound, code, "nothing was stored")
}

func TestLibratoNodeRetriesServerErrors(t *testing.T) {
	requireNode(t)
	s := startServe(t)
	code := s.do(t, "POST", "/admin/faults", `{"status":503,"count":2,"method":"POST","path":"/v1/metrics"}`, nil)
	require.Equal(t, http.StatusCreated, code)
	out := nodeClient(t, s, "retry")
	require.Equal(t, true, out["ok"], out)
	assert.Contains(t, out["stderr"], "librato API required 3 retries", "requestretry's third attempt went through")
	assert.Equal(t, 2, s.logCount("POST", "/v1/metrics", 503))
	assert.Equal(t, 1, s.logCount("POST", "/v1/metrics", 200))
	m, _ := s.legacy(t, "ln.retried")
	require.Len(t, m.Measurements["unassigned"], 1, "stored once")
	assert.Equal(t, 4.0, m.Measurements["unassigned"][0].Value)
}
