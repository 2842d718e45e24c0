package libratotest_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-librato/librato/libratotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newHTTPTest serves h on a loopback listener and returns its URL.
func newHTTPTest(t *testing.T, h http.Handler) string {
	t.Helper()
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts.URL
}

func TestSnapshotRestore(t *testing.T) {
	now := time.Unix(1481637700, 0)
	src := newServer(t, libratotest.WithNow(func() time.Time { return now }))
	for _, tc := range []struct{ path, file string }{
		{"/v1/metrics", "tv4.json"}, {"/v1/measurements", "tv1.json"}, {"/v1/metrics", "tv5c.json"},
	} {
		resp, body := call(t, src, "POST", tc.path, jsonType, fixture(t, tc.file))
		require.Less(t, resp.StatusCode, 300, body)
	}
	resp, _ := call(t, src, "PUT", "/v1/metrics/queue_len", jsonType, `{"type":"gauge","description":"d","period":60}`)
	require.Equal(t, 201, resp.StatusCode)

	snap, err := src.Snapshot()
	require.NoError(t, err)

	dst := newServer(t, libratotest.WithNow(func() time.Time { return now }))
	call(t, dst, "POST", "/v1/measurements", jsonType, fixture(t, "tv2.json")) // replaced by Restore
	require.NoError(t, dst.Restore(snap))
	for _, name := range []string{"my.metric", "cpu", "memory", "login-delay", "queue_len"} {
		assert.Equal(t, src.Measurements(name), dst.Measurements(name), name)
		a, okA := src.Metric(name)
		b, okB := dst.Metric(name)
		assert.Equal(t, okA, okB, name)
		assert.Equal(t, a, b, name)
	}
	cpu := dst.Measurements("cpu")
	require.Len(t, cpu, 2, "TV2's cpu series is gone, TV4's and TV1's remain")

	// The restored server serves and extends the data.
	resp, body := call(t, dst, "GET", "/v1/metrics/cpu?start_time=1481637500", "", "")
	require.Equal(t, 200, resp.StatusCode, body)
	assert.Contains(t, body, `"my.machine":[{"count":1,"measure_time":1481637540,"value":88.4}]`)
	resp, _ = call(t, dst, "POST", "/v1/metrics", jsonType, fixture(t, "tv4.json"))
	require.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, int64(2), dst.Measurements("my.metric")[0].Count, "points combine after a restore")

	snap2, err := dst.Snapshot()
	require.NoError(t, err)
	assert.NotEqual(t, string(snap), string(snap2))

	for _, bad := range []string{"", "{", `{"version":2}`, `{"version":1,"metrics":{"series":{"x":{}}}}`} {
		assert.Error(t, dst.Restore([]byte(bad)), bad)
	}
	assert.Equal(t, int64(2), dst.Measurements("my.metric")[0].Count, "a failed restore keeps the state")
}

// TestRestoreTakesServicesFromTheSpacesState: snapshots written when services were part of the
// spaces' state still restore them.
func TestRestoreTakesServicesFromTheSpacesState(t *testing.T) {
	srv := newServer(t)
	old := `{"version":1,"time":1,"last_id":7,"areas":{"spaces":{"spaces":{},"charts":{},
	  "services":{"7":{"id":7,"type":"mail","title":"ops","settings":{"addresses":"ops@example.com"},"updated_at":1}}}}}`
	require.NoError(t, srv.Restore([]byte(old)))
	resp, body := call(t, srv, "GET", "/v1/services/7", "", "")
	require.Equal(t, 200, resp.StatusCode, body)
	assert.JSONEq(t, `{"id":7,"type":"mail","title":"ops","settings":{"addresses":"ops@example.com"},"updated_at":1}`, body)
	// Written again, they are in their own state, and come back from it.
	snap, err := srv.Snapshot()
	require.NoError(t, err)
	assert.Contains(t, string(snap), `"services":{"services":{"7":`)
	dst := newServer(t)
	require.NoError(t, dst.Restore(snap))
	resp, _ = call(t, dst, "GET", "/v1/services/7", "", "")
	assert.Equal(t, 200, resp.StatusCode)
}
