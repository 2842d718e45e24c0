package librato_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"
)

// queueServer starts a fake API and returns it with a client that does not retry.
func queueServer(t *testing.T) (*libratotest.Server, *librato.Client) {
	t.Helper()
	srv := libratotest.NewServer()
	t.Cleanup(srv.Close)
	c, err := srv.Client(librato.WithRetry(librato.RetryPolicy{MaxAttempts: 1}))
	require.NoError(t, err)
	return srv, c
}

// countOf sums the counts of every stored point of name: the number of values the server took.
func countOf(srv *libratotest.Server, name string) int64 {
	var n int64
	for _, p := range srv.Measurements(name) {
		n += p.Count
	}
	return n
}

func TestQueueIntegrationConcurrentExactCount(t *testing.T) {
	// Checked after the server's Close (cleanups run last first), when the HTTP connections end.
	ignore := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	srv, c := queueServer(t)
	q := newQueue(t, c, librato.QueueOptions{AutoSubmitCount: 300, FlushInterval: 5 * time.Millisecond})
	const workers, each = 6, 2000
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tags := map[string]string{"worker": fmt.Sprint(w)}
			for i := 0; i < each; i++ {
				if err := q.Add(librato.Measurement{Name: "it.concurrent", Value: 1, Tags: tags}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	require.NoError(t, q.Close(context.Background()))
	assert.Equal(t, int64(workers*each), countOf(srv, "it.concurrent"), "every value stored exactly once")
	st := q.Stats()
	assert.Equal(t, uint64(workers*each), st.Sent)
	assert.Zero(t, st.Dropped+st.Rejected)
	for _, r := range srv.Requests() {
		assert.Equal(t, "POST", r.Method)
		assert.NotEmpty(t, r.Body, "never an empty POST")
	}
}

func TestQueueIntegrationTooOldMeasurementIsIsolated(t *testing.T) {
	srv, c := queueServer(t)
	var dropped []librato.Measurement
	q := newQueue(t, c, librato.QueueOptions{OnDrop: func(ms []librato.Measurement, _ error) { dropped = append(dropped, ms...) }})
	for i := 0; i < 100; i++ {
		m := librato.Measurement{Name: "it.split", Value: float64(i), Source: "web1"}
		if i == 42 {
			m.Time = time.Now().Add(-3 * time.Hour) // the fake rejects it as the API does
		}
		require.NoError(t, q.Add(m))
	}
	err := q.Flush(context.Background())
	require.Error(t, err)
	assert.ErrorIs(t, err, librato.ErrBadRequest)
	assert.Contains(t, err.Error(), "too far in the past")
	var rej *librato.RejectedError
	require.ErrorAs(t, err, &rej)
	assert.Equal(t, 1, rej.Count)
	require.Len(t, dropped, 1)
	assert.Equal(t, 42.0, dropped[0].Value)
	assert.Equal(t, int64(99), countOf(srv, "it.split"), "the rest delivered, once")
	assert.Equal(t, uint64(1), q.Stats().Rejected)
	require.NoError(t, q.Close(context.Background()))
}

func TestQueueIntegrationFailedRequestKeepsData(t *testing.T) {
	srv, c := queueServer(t)
	q := newQueue(t, c, librato.QueueOptions{ChunkSize: 10})
	for i := 0; i < 30; i++ {
		require.NoError(t, q.Add(librato.Measurement{Name: "it.fail", Value: 1, Tags: map[string]string{"a": "b"}}))
	}
	require.NoError(t, srv.AddFault(libratotest.Fault{Status: 503, Body: `{"errors":{"system":["try again"]}}`, Count: 1}))
	err := q.Flush(context.Background())
	assert.ErrorIs(t, err, librato.ErrServer)
	assert.Equal(t, 30, q.Len())
	require.NoError(t, q.Flush(context.Background()))
	assert.Equal(t, int64(30), countOf(srv, "it.fail"))
	require.NoError(t, q.Close(context.Background()))
}

func TestAggregatorIntegrationSummaries(t *testing.T) {
	srv, c := queueServer(t)
	now := time.Now()
	a := newAggregator(t, c, librato.AggregatorOptions{Source: "web1", Tags: map[string]string{"env": "test"},
		Period: time.Minute, MeasureTime: now})
	for _, v := range []float64{1, 2, 3, 10} {
		require.NoError(t, a.Add("it.legacy", v))
		require.NoError(t, a.AddTagged("it.tagged", v, map[string]string{"host": "h1"}))
	}
	q := newQueue(t, c, librato.QueueOptions{})
	require.NoError(t, q.AddAggregator(a))
	require.NoError(t, q.Close(context.Background()))

	floored := now.Unix() - now.Unix()%60
	leg := srv.Measurements("it.legacy")
	require.Len(t, leg, 1)
	assert.Equal(t, "web1", leg[0].Source)
	assert.Equal(t, floored, leg[0].Time.Unix())
	assert.Equal(t, int64(4), leg[0].Count)
	assert.Equal(t, 16.0, leg[0].Sum)
	assert.Equal(t, 1.0, leg[0].Min)
	assert.Equal(t, 10.0, leg[0].Max)
	assert.Equal(t, 114.0, leg[0].SumSquares)

	tg := srv.Measurements("it.tagged")
	require.Len(t, tg, 1)
	assert.Equal(t, map[string]string{"env": "test", "host": "h1"}, tg[0].Tags)
	assert.Equal(t, int64(4), tg[0].Count)
	assert.Equal(t, 10.0, tg[0].Last)
	assert.Equal(t, floored, tg[0].Time.Unix())
}

// TestQueueAtFullSpeedCountsEveryDrop: with AutoSubmitCount 300 and a loopback server, a producer
// adding as fast as it can outruns the sending side on a 2-core machine (the server shares the
// cores), and the queue fills. Whatever Add refuses is counted and passed to OnDrop, exactly:
// added = sent + dropped, and everything accepted arrives.
func TestQueueAtFullSpeedCountsEveryDrop(t *testing.T) {
	var received atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Measurements []json.RawMessage }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		received.Add(int64(len(body.Measurements)))
	}))
	defer srv.Close()
	c, err := librato.Connect("u@example.com", "tok", librato.WithBaseURL(srv.URL+"/v1/"))
	require.NoError(t, err)
	var onDrop atomic.Int64
	q := newQueue(t, c, librato.QueueOptions{AutoSubmitCount: 300, OnDrop: func(ms []librato.Measurement, reason error) {
		assert.ErrorIs(t, reason, librato.ErrQueueFull)
		onDrop.Add(int64(len(ms)))
	}})
	n := 1_000_000
	if raceEnabled {
		n = 200_000
	}
	var full int64
	tags := map[string]string{"host": "h", "region": "us-east-1", "service": "api"}
	for i := range n {
		tags["host"] = "h" + strconv.Itoa(i%8)
		if err := q.Add(librato.Measurement{Name: "api.latency", Value: float64(i), Tags: tags}); errors.Is(err, librato.ErrQueueFull) {
			full++
		} else {
			require.NoError(t, err)
		}
	}
	require.NoError(t, q.Close(context.Background()))
	st := q.Stats()
	assert.Equal(t, uint64(full), st.Dropped)
	assert.Equal(t, full, onDrop.Load())
	assert.Equal(t, uint64(n)-st.Dropped, st.Sent)
	assert.Equal(t, int64(st.Sent), received.Load(), "everything accepted arrived")
	t.Logf("%d added at full speed: %d sent, %d refused with ErrQueueFull (%.1f %%), %d requests",
		n, st.Sent, full, 100*float64(full)/float64(n), st.Requests)
}

// TestQueueMaxInFlight: a flush has up to MaxInFlight POSTs under way at once, never more, and
// delivers everything.
func TestQueueMaxInFlight(t *testing.T) {
	var now, most atomic.Int32
	var received atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := now.Add(1)
		defer now.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		var body struct{ Measurements []json.RawMessage }
		_ = json.NewDecoder(r.Body).Decode(&body)
		time.Sleep(20 * time.Millisecond)
		received.Add(int64(len(body.Measurements)))
	}))
	defer srv.Close()
	c, err := librato.Connect("u@example.com", "tok", librato.WithBaseURL(srv.URL+"/v1/"))
	require.NoError(t, err)
	q := newQueue(t, c, librato.QueueOptions{MaxInFlight: 3, ChunkSize: 10})
	for i := range 200 {
		require.NoError(t, q.Add(librato.Measurement{Name: "m", Value: float64(i), Tags: map[string]string{"k": "v"}}))
	}
	require.NoError(t, q.Flush(context.Background()))
	assert.Equal(t, int64(200), received.Load())
	assert.Equal(t, int32(3), most.Load(), "three POSTs at once, not more")
	assert.Equal(t, uint64(20), q.Stats().Requests)
	require.NoError(t, q.Close(context.Background()))
}

// TestQueueMaxInFlightFailure: when POSTs under way at once fail, what was not accepted stays
// queued, and the next flush delivers each measurement exactly once.
func TestQueueMaxInFlightFailure(t *testing.T) {
	var calls atomic.Int32
	var mu sync.Mutex
	got := map[float64]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Measurements []struct{ Value float64 } }
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if n := calls.Add(1); n%3 == 2 && n < 20 { // every third POST of the first flush fails
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		mu.Lock()
		for _, m := range body.Measurements {
			got[m.Value]++
		}
		mu.Unlock()
	}))
	defer srv.Close()
	c, err := librato.Connect("u@example.com", "tok", librato.WithBaseURL(srv.URL+"/v1/"),
		librato.WithRetry(librato.RetryPolicy{MaxAttempts: 1}))
	require.NoError(t, err)
	q := newQueue(t, c, librato.QueueOptions{MaxInFlight: 3, ChunkSize: 10})
	for i := range 200 {
		require.NoError(t, q.Add(librato.Measurement{Name: "m", Value: float64(i), Tags: map[string]string{"k": "v"}}))
	}
	require.ErrorIs(t, q.Flush(context.Background()), librato.ErrServer)
	st := q.Stats()
	assert.Equal(t, 200, st.Queued+int(st.Sent), "nothing lost, nothing counted twice: %+v", st)
	calls.Store(100) // the API is back
	require.NoError(t, q.Flush(context.Background()))
	require.NoError(t, q.Close(context.Background()))
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, got, 200)
	for v, n := range got {
		assert.Equal(t, 1, n, "value %v delivered %d times", v, n)
	}
	assert.Equal(t, uint64(200), q.Stats().Sent)
}
