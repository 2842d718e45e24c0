package librato_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func queueGolden(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func TestQueueTV7Tagged(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	f := newAPIFake(t)
	c := newFakeClient(t, f, time.Unix(1500000100, 0))
	q := newQueue(t, c, librato.QueueOptions{Tags: map[string]string{"service": "api"}})
	require.NoError(t, q.Add(librato.Measurement{Name: "temperature", Value: 23.1}))
	require.NoError(t, q.Add(librato.Measurement{Name: "temperature", Value: 22.1, Tags: map[string]string{"location": "downstairs"}}))
	require.NoError(t, q.Add(librato.Measurement{Name: "temperature", Value: 22.1, Tags: map[string]string{"location": "downstairs"},
		Time: time.Unix(1500000000, 0)}))
	assert.Equal(t, 3, q.Len())
	require.NoError(t, q.Flush(context.Background()))

	reqs := f.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "POST", reqs[0].Method)
	assert.Equal(t, "/v1/measurements", reqs[0].Path)
	assert.JSONEq(t, queueGolden(t, "testdata/queue/tv7_tagged.json"), librato.EffectiveJSON(t, reqs[0].Body))
	assert.Equal(t, 0, q.Len())
	st := q.Stats()
	assert.Equal(t, uint64(3), st.Sent)
	assert.Equal(t, uint64(1), st.Requests)
	assert.Equal(t, 0, st.Queued)
	require.NoError(t, q.Close(context.Background()))
}

func TestQueueTV7Mixed(t *testing.T) {
	f := newAPIFake(t)
	c := newFakeClient(t, f, time.Unix(1500000100, 0))
	q := newQueue(t, c, librato.QueueOptions{})
	require.NoError(t, q.Add(librato.Measurement{Name: "temperature", Value: 22.1, Source: "a"}))
	require.NoError(t, q.Add(librato.Measurement{Name: "visits", Value: 3, Type: librato.Counter}))
	require.NoError(t, q.Add(librato.Measurement{Name: "temperature", Value: 22.1, Tags: map[string]string{"location": "downstairs"}}))
	require.NoError(t, q.Flush(context.Background()))

	reqs := f.Requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "/v1/metrics", reqs[0].Path, "legacy chunks go first")
	assert.JSONEq(t, queueGolden(t, "testdata/queue/tv7_mixed_legacy.json"), librato.EffectiveJSON(t, reqs[0].Body))
	assert.Equal(t, "/v1/measurements", reqs[1].Path)
	assert.JSONEq(t, queueGolden(t, "testdata/queue/tv7_mixed_tagged.json"), librato.EffectiveJSON(t, reqs[1].Body))
	require.NoError(t, q.Close(context.Background()))
}

func TestQueueChunking(t *testing.T) {
	tests := []struct {
		adds      int
		chunkSize int
		want      []int
	}{
		{adds: 300, want: []int{300}},
		{adds: 301, want: []int{300, 1}},
		{adds: 600, want: []int{300, 300}},
		{adds: 7, chunkSize: 3, want: []int{3, 3, 1}},
		{adds: 0, want: nil}, // never an empty POST
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%d_by_%d", tt.adds, tt.chunkSize), func(t *testing.T) {
			f := newAPIFake(t)
			q := newQueue(t, newFakeClient(t, f, fakeNow), librato.QueueOptions{ChunkSize: tt.chunkSize})
			for i := 0; i < tt.adds; i++ {
				require.NoError(t, q.Add(librato.Measurement{Name: "m", Value: float64(i)}))
			}
			require.NoError(t, q.Flush(context.Background()))
			var got []int
			next := 0.0
			for _, r := range f.Requests() {
				w := librato.DecodeBody(t, r.Body)
				got = append(got, w.Count())
				for _, g := range w.Gauges {
					assert.Equal(t, next, g["value"], "measurements keep their order")
					next++
				}
			}
			assert.Equal(t, tt.want, got)
			require.NoError(t, q.Close(context.Background()))
			assert.Len(t, f.Requests(), len(tt.want), "Close of an empty queue sends nothing")
		})
	}
}

func TestQueueChunkSizeFromClient(t *testing.T) {
	f := newAPIFake(t)
	q := newQueue(t, newFakeClient(t, f, fakeNow, librato.WithChunkSize(2)), librato.QueueOptions{})
	for i := 0; i < 5; i++ {
		require.NoError(t, q.Add(librato.Measurement{Name: "m", Value: 1}))
	}
	require.NoError(t, q.Flush(context.Background()))
	assert.Len(t, f.Requests(), 3)
}

func TestQueueAutoSubmit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newAPIFake(t)
		q := newQueue(t, newFakeClient(t, f, fakeNow), librato.QueueOptions{AutoSubmitCount: 10})
		for i := 0; i < 9; i++ {
			require.NoError(t, q.Add(librato.Measurement{Name: "m", Value: 1}))
		}
		synctest.Wait()
		assert.Empty(t, f.Requests(), "nothing before the 10th add")
		assert.Equal(t, 9, q.Len())

		require.NoError(t, q.Add(librato.Measurement{Name: "m", Value: 1}))
		synctest.Wait() // the flusher has sent and is idle again
		reqs := f.Requests()
		require.Len(t, reqs, 1, "after the 10th add one POST was made")
		assert.Equal(t, 10, librato.DecodeBody(t, reqs[0].Body).Count())
		assert.Equal(t, 0, q.Len())
		assert.Equal(t, uint64(10), q.Stats().Sent)
		require.NoError(t, q.Close(context.Background()))
	})
}

func TestQueueFlushInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newAPIFake(t)
		q := newQueue(t, newFakeClient(t, f, fakeNow), librato.QueueOptions{FlushInterval: 10 * time.Second})
		require.NoError(t, q.Add(librato.Measurement{Name: "m", Value: 1}))
		time.Sleep(9 * time.Second)
		synctest.Wait()
		assert.Empty(t, f.Requests())
		time.Sleep(time.Second)
		synctest.Wait()
		assert.Len(t, f.Requests(), 1, "flushed at the first tick")

		time.Sleep(10 * time.Second) // an empty queue: no POST
		synctest.Wait()
		assert.Len(t, f.Requests(), 1)

		require.NoError(t, q.Add(librato.Measurement{Name: "m", Value: 2}))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		assert.Len(t, f.Requests(), 2)
		require.NoError(t, q.Close(context.Background()))
	})
}

func TestQueueNothingStartsWithoutBackgroundOptions(t *testing.T) {
	before := goleak.IgnoreCurrent()
	q := newQueue(t, newFakeClient(t, newAPIFake(t), fakeNow), librato.QueueOptions{})
	assert.NoError(t, goleak.Find(before), "no flusher goroutine")
	require.NoError(t, q.Close(context.Background()))
}

func TestQueueConcurrentAddsExactCount(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var mu sync.Mutex
	seen := map[float64]int{}
	f := newAPIFake(t)
	onRequest(t, f, func(r libratotest.Request) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		var w librato.WireBody
		if err := json.Unmarshal(r.Body, &w); err != nil {
			return 400, `{"errors":{"request":["bad json"]}}`
		}
		for _, m := range w.All() {
			seen[m["value"].(float64)]++
		}
		return 200, ""
	})
	c := newFakeClient(t, f, fakeNow)
	q := newQueue(t, c, librato.QueueOptions{AutoSubmitCount: 500, FlushInterval: time.Millisecond})
	const workers, perWorker = 8, 5000
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				m := librato.Measurement{Name: "concurrent", Value: float64(w*perWorker + i)}
				if w%2 == 1 {
					m.Tags = map[string]string{"worker": fmt.Sprint(w)}
				}
				if err := q.Add(m); err != nil {
					t.Error(err)
					return
				}
				if i%1000 == 0 {
					_ = q.Flush(context.Background()) // concurrent manual flushes too
				}
			}
		}()
	}
	wg.Wait()
	require.NoError(t, q.Close(context.Background()))
	mu.Lock()
	defer mu.Unlock()
	assert.Len(t, seen, workers*perWorker, "every measurement arrived")
	for v, n := range seen {
		if n != 1 {
			t.Fatalf("value %v arrived %d times", v, n)
		}
	}
	st := q.Stats()
	assert.Equal(t, uint64(workers*perWorker), st.Sent)
	assert.Zero(t, st.Dropped)
	assert.Zero(t, st.Queued)
}

// tooOld answers like the API for a measurement time older than the window.
func TestQueueAddValidates(t *testing.T) {
	q := newQueue(t, newFakeClient(t, newAPIFake(t), fakeNow), librato.QueueOptions{})
	tests := []librato.Measurement{
		{Name: ""},
		{Name: "bad name"},
		{Name: "m", Value: math.NaN()},
		{Name: "m", Tags: map[string]string{"bad tag": "x"}},
		{Name: "m", Source: "s", Tags: map[string]string{"a": "b"}},
	}
	for _, m := range tests {
		err := q.Add(m)
		assert.ErrorIs(t, err, librato.ErrInvalid, "%+v", m)
	}
	assert.Equal(t, 0, q.Len(), "nothing queued")

	qt := newQueue(t, newFakeClient(t, newAPIFake(t), fakeNow), librato.QueueOptions{Tags: map[string]string{"service": "api"}})
	assert.ErrorIs(t, qt.Add(librato.Measurement{Name: "m", Type: librato.Counter}), librato.ErrInvalid, "a queue with tags sends to the tagged API: no counters")
	assert.Equal(t, 0, qt.Len())
}

func TestQueueSanitizesNames(t *testing.T) {
	f := newAPIFake(t)
	q := newQueue(t, newFakeClient(t, f, fakeNow, librato.WithSanitizer(librato.SanitizeMetricName)), librato.QueueOptions{})
	require.NoError(t, q.Add(librato.Measurement{Name: "  bat$$m#an", Value: 1}))
	require.NoError(t, q.Flush(context.Background()))
	assert.Equal(t, "-bat-m-an", librato.DecodeBody(t, f.Requests()[0].Body).Gauges[0]["name"])
}

func TestQueueMaxPendingDropsNewest(t *testing.T) {
	var dropped []librato.Measurement
	var reason error
	q := newQueue(t, newFakeClient(t, newAPIFake(t), fakeNow), librato.QueueOptions{MaxPending: 5,
		OnDrop: func(ms []librato.Measurement, r error) { dropped = append(dropped, ms...); reason = r }})
	for i := 0; i < 7; i++ {
		err := q.Add(librato.Measurement{Name: "m", Value: float64(i)})
		if i < 5 {
			require.NoError(t, err)
		} else {
			assert.ErrorIs(t, err, librato.ErrQueueFull)
		}
	}
	assert.Equal(t, 5, q.Len())
	require.Len(t, dropped, 2)
	assert.Equal(t, []float64{5, 6}, []float64{dropped[0].Value, dropped[1].Value})
	assert.ErrorIs(t, reason, librato.ErrQueueFull)
	assert.Equal(t, uint64(2), q.Stats().Dropped)
	require.NoError(t, q.Flush(context.Background()))
	require.NoError(t, q.Add(librato.Measurement{Name: "m", Value: 7}), "room again after a flush")
}

func TestQueueMaxPendingCountsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		f := newAPIFake(t)
		onRequest(t, f, func(_ libratotest.Request) (int, string) { <-release; return 200, "" })
		q := newQueue(t, newFakeClient(t, f, fakeNow), librato.QueueOptions{MaxPending: 3, AutoSubmitCount: 3})
		for i := 0; i < 3; i++ {
			require.NoError(t, q.Add(librato.Measurement{Name: "m", Value: 1}))
		}
		synctest.Wait() // the flush is in flight, waiting for the server
		assert.Equal(t, 0, q.Len())
		assert.Equal(t, 3, q.Stats().Queued)
		assert.ErrorIs(t, q.Add(librato.Measurement{Name: "m", Value: 1}), librato.ErrQueueFull, "memory is bounded in flight too")
		close(release)
		synctest.Wait()
		assert.Equal(t, 0, q.Stats().Queued)
		require.NoError(t, q.Add(librato.Measurement{Name: "m", Value: 1}))
		require.NoError(t, q.Close(context.Background()))
	})
}

func TestQueueCloseHonoursDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newAPIFake(t) // a server that never answers
		hangRequests(t, f)
		var dropped int
		var dropReason error
		q := newQueue(t, newFakeClient(t, f, fakeNow), librato.QueueOptions{FlushInterval: time.Minute,
			OnDrop: func(ms []librato.Measurement, r error) { dropped += len(ms); dropReason = r }})
		for i := 0; i < 3; i++ {
			require.NoError(t, q.Add(librato.Measurement{Name: "m", Value: 1}))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		err := q.Close(ctx)
		assert.Equal(t, 5*time.Second, time.Since(start), "Close returns at the deadline")
		require.Error(t, err)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Contains(t, err.Error(), "3 measurements not sent")
		assert.Equal(t, 3, dropped)
		assert.ErrorIs(t, dropReason, context.DeadlineExceeded)
		st := q.Stats()
		assert.Equal(t, uint64(3), st.Dropped)
		assert.Equal(t, 0, st.Queued)
		assert.Len(t, f.Requests(), 1)
		// synctest.Test fails if the flusher goroutine is still around at the end.
	})
}

func TestQueueCloseWaitsForBackgroundFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newAPIFake(t)
		hangRequests(t, f)
		q := newQueue(t, newFakeClient(t, f, fakeNow), librato.QueueOptions{AutoSubmitCount: 1})
		require.NoError(t, q.Add(librato.Measurement{Name: "m", Value: 1}))
		synctest.Wait() // the background flush hangs on the server
		require.Len(t, f.Requests(), 1)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err := q.Close(ctx)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, uint64(1), q.Stats().Dropped, "the measurement of the cancelled flush is reported")
	})
}

func TestQueueCloseTwiceAndAddAfterClose(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	f := newAPIFake(t)
	c := newFakeClient(t, f, fakeNow)
	q := newQueue(t, c, librato.QueueOptions{FlushInterval: time.Hour, AutoSubmitCount: 100})
	require.NoError(t, q.Add(librato.Measurement{Name: "m", Value: 1}))
	require.NoError(t, q.Close(context.Background()))
	assert.Len(t, f.Requests(), 1, "Close flushes")
	require.NoError(t, q.Close(context.Background()), "Close twice is fine")
	assert.ErrorIs(t, q.Add(librato.Measurement{Name: "m", Value: 1}), librato.ErrClosed)
	a := newAggregator(t, c, librato.AggregatorOptions{})
	require.NoError(t, a.Add("x", 1))
	assert.ErrorIs(t, q.AddAggregator(a), librato.ErrClosed)
	assert.Len(t, a.Measurements(), 1, "a refused aggregator keeps its values")
	require.NoError(t, q.Flush(context.Background()))
	assert.Len(t, f.Requests(), 1)
}

func TestQueueOnErrorForBackgroundFlushes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newAPIFake(t)
		onRequest(t, f, func(_ libratotest.Request) (int, string) { return 500, "" })
		var errs []error
		q := newQueue(t, newFakeClient(t, f, fakeNow), librato.QueueOptions{AutoSubmitCount: 2,
			OnError: func(err error) { errs = append(errs, err) }})
		require.NoError(t, q.Add(librato.Measurement{Name: "m", Value: 1}))
		require.NoError(t, q.Add(librato.Measurement{Name: "m", Value: 2}))
		synctest.Wait()
		require.Len(t, errs, 1)
		assert.ErrorIs(t, errs[0], librato.ErrServer)
		assert.Equal(t, 2, q.Len())
		f.ClearFaults()
		require.NoError(t, q.Close(context.Background()))
		assert.Equal(t, uint64(2), q.Stats().Sent)
	})
}

func TestQueueSubmitWaitsForRunningFlushOrCtx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		f := newAPIFake(t)
		onRequest(t, f, func(_ libratotest.Request) (int, string) { <-release; return 200, "" })
		q := newQueue(t, newFakeClient(t, f, fakeNow), librato.QueueOptions{})
		require.NoError(t, q.Add(librato.Measurement{Name: "m", Value: 1}))
		go func() { _ = q.Flush(context.Background()) }()
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		assert.ErrorIs(t, q.Flush(ctx), context.DeadlineExceeded)
		close(release)
		synctest.Wait()
		assert.Len(t, f.Requests(), 1, "the same data is never sent twice")
		require.NoError(t, q.Close(context.Background()))
	})
}

func TestQueueInvalidTagsOption(t *testing.T) {
	f := newAPIFake(t)
	c := newFakeClient(t, f, fakeNow)
	q, err := c.NewQueue(librato.QueueOptions{Tags: map[string]string{"bad tag": "x"}})
	assert.Nil(t, q)
	assert.ErrorIs(t, err, librato.ErrInvalid)
	assert.Contains(t, err.Error(), "QueueOptions.Tags")
	for _, opts := range []librato.QueueOptions{{ChunkSize: -1}, {AutoSubmitCount: -1}, {MaxInFlight: -1},
		{FlushInterval: -time.Second}, {SpoolInterval: -time.Second}} {
		q, err := c.NewQueue(opts)
		assert.Nil(t, q)
		assert.ErrorIs(t, err, librato.ErrInvalid, "%+v", opts)
	}
	assert.Empty(t, f.Requests())
}

func TestQueueSpoolDirIsWired(t *testing.T) {
	dir := t.TempDir()
	down := atomic.Bool{}
	down.Store(true)
	f := newAPIFake(t)
	onRequest(t, f, func(_ libratotest.Request) (int, string) {
		if down.Load() {
			return 503, ""
		}
		return 200, ""
	})
	c := newFakeClient(t, f, fakeNow)
	q := newQueue(t, c, librato.QueueOptions{SpoolDir: dir})
	require.NoError(t, q.Add(librato.Measurement{Name: "m", Value: 1}))
	require.NoError(t, q.Add(librato.Measurement{Name: "m", Value: 2}))
	assert.ErrorIs(t, q.Flush(context.Background()), librato.ErrServer)
	err := q.Close(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "kept in the spool")
	assert.Zero(t, q.Stats().Dropped, "spooled, not dropped")

	// A busy directory makes NewQueue fail.
	q2 := newQueue(t, c, librato.QueueOptions{SpoolDir: dir})
	busy, err := c.NewQueue(librato.QueueOptions{SpoolDir: dir})
	assert.Nil(t, busy)
	assert.ErrorContains(t, err, "in use")

	down.Store(false)
	require.NoError(t, q2.Flush(context.Background()), "the next Queue on the directory sends what was left")
	assert.Equal(t, uint64(2), q2.Stats().Sent)
	require.NoError(t, q2.Close(context.Background()))
}

// TestQueueAddReadsEveryMapByContent: call sites that reuse one map and change it between Adds,
// share names with other tag sets, swap tag names, put invalid values in, or pass new maps each
// time: every measurement arrives with the tags it had at its Add (checked against Submit's path,
// which remembers nothing), and invalid ones are refused by Add, however alike the calls before.
func TestQueueAddReadsEveryMapByContent(t *testing.T) {
	f := newAPIFake(t)
	c := newFakeClient(t, f, fakeNow)
	q := newQueue(t, c, librato.QueueOptions{MaxPending: -1, ChunkSize: 10_000, Tags: map[string]string{"service": "api", "b": "queue"}})
	rng := rand.New(rand.NewPCG(5, 6))
	names := []string{"http.req", "http.req", "db.query", "x"}
	keys := []string{"status", "host", "b", "a", "z"}
	vals := []string{"200", "404", "500", "web-1", `a\b`, "x y", "bad\x00value", ""}
	shared := []map[string]string{{"status": "200"}, {"host": "h", "status": "200"}, {}}
	var want []librato.Measurement
	for i := range 5000 {
		tags := shared[rng.IntN(len(shared))]
		if rng.IntN(4) == 0 {
			tags = map[string]string{} // a new map
		}
		switch rng.IntN(4) {
		case 0:
			tags[keys[rng.IntN(len(keys))]] = vals[rng.IntN(len(vals))]
		case 1:
			for k := range tags {
				delete(tags, k)
				break
			}
		case 2:
			for k := range tags {
				tags[k] = vals[rng.IntN(len(vals))]
			}
		}
		m := librato.Measurement{Name: names[rng.IntN(len(names))], Value: float64(i), Tags: tags}
		snap := m
		snap.Tags = maps.Clone(tags)
		var single []librato.Measurement
		err := q.Add(m)
		if _, bad := librato.EncodeAlone(c, q, snap); bad != nil {
			require.Error(t, err, "Add accepts what the full check refuses: %v", snap.Tags)
			continue
		}
		require.NoError(t, err, "Add refuses what the full check accepts: %v", snap.Tags)
		single = append(single, snap)
		want = append(want, single...)
	}
	require.NoError(t, q.Flush(context.Background()))
	var got []map[string]any
	for _, r := range f.Requests() {
		got = append(got, librato.DecodeBody(t, r.Body).All()...)
	}
	require.Len(t, got, len(want))
	for i, m := range want {
		b, err := librato.EncodeAlone(c, q, m)
		require.NoError(t, err)
		exp := librato.DecodeBody(t, b).All()[0]
		exp["time"] = got[i]["time"] // the chunk's time
		require.Equal(t, exp, got[i], "measurement %d", i)
	}
}

// Failure handling: partial failures, the 400 split, transient errors.

// Failure handling of the Queue: partial failures, the 400 split, transient errors.

func TestQueuePartialFailureKeepsOnlyUnsentChunks(t *testing.T) {
	var calls atomic.Int32
	f := newAPIFake(t)
	onRequest(t, f, func(r libratotest.Request) (int, string) {
		if calls.Add(1) == 2 {
			return 503, `{"errors":{"system":["down for maintenance"]}}`
		}
		return 200, ""
	})
	c := newFakeClient(t, f, fakeNow)
	var onErr []error
	q := newQueue(t, c, librato.QueueOptions{ChunkSize: 2, OnError: func(err error) { onErr = append(onErr, err) }})
	for i := 0; i < 6; i++ {
		require.NoError(t, q.Add(librato.Measurement{Name: "m", Value: float64(i)}))
	}
	err := q.Flush(context.Background())
	require.Error(t, err)
	assert.ErrorIs(t, err, librato.ErrServer)
	assert.Len(t, f.Requests(), 2, "stops at the failed chunk")
	assert.Equal(t, 4, q.Len(), "the failed chunk and the one after it stay queued")
	st := q.Stats()
	assert.Equal(t, uint64(2), st.Sent)
	assert.Equal(t, uint64(4), st.Retried)
	assert.Equal(t, uint64(1), st.Failures)
	assert.ErrorIs(t, st.LastError, librato.ErrServer)
	assert.Empty(t, onErr, "OnError is for background flushes; Submit returns the error")

	// New measurements queue behind the kept ones.
	require.NoError(t, q.Add(librato.Measurement{Name: "m", Value: 6}))
	require.NoError(t, q.Flush(context.Background()))
	var values []any
	var times []any
	for i, r := range f.Requests() {
		if i == 1 {
			continue // the failed one
		}
		for _, g := range librato.DecodeBody(t, r.Body).Gauges {
			values = append(values, g["value"])
			times = append(times, g["measure_time"])
		}
	}
	assert.Equal(t, []any{0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, values, "each sent once, in order")
	failed := librato.DecodeBody(t, f.Requests()[1].Body).Gauges
	retried := librato.DecodeBody(t, f.Requests()[2].Body).Gauges
	assert.Equal(t, failed, retried, "a retried chunk is byte-for-byte the same measurements, same time")
	assert.Equal(t, float64(fakeNow.Unix()), times[0])
	assert.Equal(t, 0, q.Len())
	require.NoError(t, q.Close(context.Background()))
}

const tooOld = `{"errors":{"params":{"measure_time":["is too far in the past"]}},"request_time":1475920599}`

func TestQueue400SplitIsolatesBadMeasurement(t *testing.T) {
	f := newAPIFake(t)
	onRequest(t, f, func(r libratotest.Request) (int, string) {
		if strings.Contains(string(r.Body), `"bad"`) {
			return 400, tooOld
		}
		return 200, ""
	})
	c := newFakeClient(t, f, fakeNow)
	var dropped []librato.Measurement
	var reasons []error
	q := newQueue(t, c, librato.QueueOptions{OnDrop: func(ms []librato.Measurement, reason error) {
		dropped = append(dropped, ms...)
		reasons = append(reasons, reason)
	}})
	for i := 0; i < 300; i++ {
		name := "good"
		if i == 137 {
			name = "bad"
		}
		require.NoError(t, q.Add(librato.Measurement{Name: name, Value: float64(i)}))
	}
	err := q.Flush(context.Background())
	require.Error(t, err)
	assert.ErrorIs(t, err, librato.ErrBadRequest)
	var rej *librato.RejectedError
	require.ErrorAs(t, err, &rej)
	assert.Equal(t, 1, rej.Count)
	assert.Equal(t, []string{"bad"}, rej.Names)
	assert.Contains(t, err.Error(), "is too far in the past", "the server's reason is reported")
	assert.Contains(t, err.Error(), "bad")

	delivered := 0
	for _, r := range f.Requests() {
		if !strings.Contains(string(r.Body), `"bad"`) {
			delivered += librato.DecodeBody(t, r.Body).Count()
		}
	}
	assert.Equal(t, 299, delivered, "every good measurement delivered once")
	assert.LessOrEqual(t, len(f.Requests()), 1+2*9, "a bad measurement costs two POSTs per halving")
	require.Len(t, dropped, 1)
	assert.Equal(t, "bad", dropped[0].Name)
	assert.Equal(t, 137.0, dropped[0].Value)
	require.ErrorAs(t, reasons[0], &rej)
	st := q.Stats()
	assert.Equal(t, uint64(299), st.Sent)
	assert.Equal(t, uint64(1), st.Rejected)
	assert.Equal(t, 0, st.Queued)
	assert.Equal(t, 0, q.Len(), "rejected measurements are not retried")
	require.NoError(t, q.Close(context.Background()))
}

func TestQueue400SplitBudgetRejectsSystemicFailure(t *testing.T) {
	f := newAPIFake(t)
	onRequest(t, f, func(_ libratotest.Request) (int, string) {
		return 400, `{"errors":["Tag based measurements are not enabled for this account."]}`
	})
	var dropped int
	q := newQueue(t, newFakeClient(t, f, fakeNow), librato.QueueOptions{OnDrop: func(ms []librato.Measurement, _ error) { dropped += len(ms) }})
	for i := 0; i < 300; i++ {
		require.NoError(t, q.Add(librato.Measurement{Name: "m", Value: 1, Tags: map[string]string{"a": "b"}}))
	}
	err := q.Flush(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not enabled")
	assert.LessOrEqual(t, len(f.Requests()), 1+4*9, "the split is bounded")
	assert.Equal(t, 300, dropped, "all reported")
	assert.Equal(t, uint64(300), q.Stats().Rejected)
}

func TestQueueTransientErrorsKeepData(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		is     error
	}{
		{"503", http.StatusServiceUnavailable, "", librato.ErrServer},
		{"429", http.StatusTooManyRequests, `{"errors":{"system":["rate limited"]}}`, librato.ErrRateLimited},
		{"401", http.StatusUnauthorized, "Credentials are required to access this resource.", librato.ErrUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fail := atomic.Bool{}
			fail.Store(true)
			f := newAPIFake(t)
			onRequest(t, f, func(_ libratotest.Request) (int, string) {
				if fail.Load() {
					return tt.status, tt.body
				}
				return 200, ""
			})
			q := newQueue(t, newFakeClient(t, f, fakeNow), librato.QueueOptions{})
			require.NoError(t, q.Add(librato.Measurement{Name: "m", Value: 1}))
			err := q.Flush(context.Background())
			assert.ErrorIs(t, err, tt.is)
			assert.Equal(t, 1, q.Len())
			fail.Store(false)
			require.NoError(t, q.Flush(context.Background()))
			assert.Equal(t, uint64(1), q.Stats().Sent)
		})
	}
}

func TestQueueRejectedThenTransientReportsTheRightMeasurements(t *testing.T) {
	var calls atomic.Int32
	f := newAPIFake(t)
	onRequest(t, f, func(r libratotest.Request) (int, string) {
		n := calls.Add(1)
		switch {
		case strings.Contains(string(r.Body), `"bad"`):
			return 400, tooOld
		case n == 4 && strings.Contains(string(r.Body), `"later"`):
			return 503, ""
		}
		return 200, ""
	})
	var dropped []librato.Measurement
	q := newQueue(t, newFakeClient(t, f, fakeNow), librato.QueueOptions{ChunkSize: 2,
		OnDrop: func(ms []librato.Measurement, _ error) { dropped = append(dropped, ms...) }})
	for _, name := range []string{"good", "bad", "later", "later"} {
		require.NoError(t, q.Add(librato.Measurement{Name: name, Value: 1}))
	}
	err := q.Flush(context.Background())
	assert.ErrorIs(t, err, librato.ErrBadRequest)
	assert.ErrorIs(t, err, librato.ErrServer)
	require.Len(t, dropped, 1)
	assert.Equal(t, "bad", dropped[0].Name, "the rejected one, not one moved over it by the requeue")
	assert.Equal(t, 2, q.Len())
	require.NoError(t, q.Flush(context.Background()))
	st := q.Stats()
	assert.Equal(t, uint64(3), st.Sent)
	assert.Equal(t, uint64(1), st.Rejected)
	assert.Zero(t, st.Queued)
}

// Against the fake over a socket: concurrency, too-old measurements, in-flight limits.

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
	_, c := sinkServer(t, func(r libratotest.Request) (int, string) {
		var body struct{ Measurements []json.RawMessage }
		if err := json.Unmarshal(r.Body, &body); err != nil {
			return http.StatusBadRequest, `{"errors":{"request":["bad JSON"]}}`
		}
		received.Add(int64(len(body.Measurements)))
		return http.StatusAccepted, ""
	})
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
	_, c := sinkServer(t, func(r libratotest.Request) (int, string) {
		n := now.Add(1)
		defer now.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		var body struct{ Measurements []json.RawMessage }
		_ = json.Unmarshal(r.Body, &body)
		time.Sleep(20 * time.Millisecond)
		received.Add(int64(len(body.Measurements)))
		return http.StatusAccepted, ""
	})
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
	_, c := sinkServer(t, func(r libratotest.Request) (int, string) {
		var body struct{ Measurements []struct{ Value float64 } }
		if err := json.Unmarshal(r.Body, &body); err != nil {
			return http.StatusBadRequest, `{"errors":{"request":["bad JSON"]}}`
		}
		if n := calls.Add(1); n%3 == 2 && n < 20 { // every third POST of the first flush fails
			return http.StatusServiceUnavailable, "unavailable"
		}
		mu.Lock()
		for _, m := range body.Measurements {
			got[m.Value]++
		}
		mu.Unlock()
		return http.StatusAccepted, ""
	})
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

// TestQueueSeriesAddsWhatAddWould: a series handle's measurements are byte for byte Add's,
// with the same checks; its template's map may change at once; a full queue reports the value.
func TestQueueSeriesAddsWhatAddWould(t *testing.T) {
	f := newAPIFake(t)
	c := newFakeClient(t, f, fakeNow)
	q := newQueue(t, c, librato.QueueOptions{Tags: map[string]string{"service": "api"}})
	tags := map[string]string{"host": "h1"}
	s, err := q.Series(librato.Measurement{Name: "api.latency", Tags: tags, Period: time.Minute})
	require.NoError(t, err)
	tags["host"] = "changed" // the handle keeps its own copy
	at := fakeNow.Add(-time.Minute)
	require.NoError(t, s.Add(12.5, at))
	require.NoError(t, q.Add(librato.Measurement{Name: "api.latency", Value: 12.5, Time: at, Period: time.Minute, Tags: map[string]string{"host": "h1"}}))
	require.NoError(t, s.Add(0, time.Time{}))
	assert.ErrorIs(t, s.Add(math.NaN(), at), librato.ErrInvalid)
	assert.ErrorIs(t, s.Add(1, time.Unix(5, 0)), librato.ErrInvalid, "the time rules of Add")
	require.NoError(t, q.Flush(context.Background()))
	reqs := f.Requests()
	require.Len(t, reqs, 1)
	ms := librato.DecodeBody(t, reqs[0].Body).All()
	require.Len(t, ms, 3)
	assert.Equal(t, ms[1], ms[0], "the handle's measurement is Add's")
	assert.Equal(t, map[string]any{"host": "h1", "service": "api"}, ms[0]["tags"])
	assert.Equal(t, float64(fakeNow.Unix()), ms[2]["time"], "no time: the chunk's")

	legacy, err := q.Series(librato.Measurement{Name: "jobs", Type: librato.Counter})
	assert.Error(t, err, "a counter on a tagged queue, refused as Add refuses it")
	assert.Nil(t, legacy)
	_, err = q.Series(librato.Measurement{Name: "bad name"})
	assert.ErrorIs(t, err, librato.ErrInvalid)
	_, err = q.Series(librato.Measurement{Name: "s", Summary: &librato.Summary{Count: 1, Sum: 1}})
	assert.ErrorIs(t, err, librato.ErrInvalid)

	var dropped []librato.Measurement
	small := newQueue(t, c, librato.QueueOptions{MaxPending: 1, OnDrop: func(ms []librato.Measurement, _ error) { dropped = append(dropped, ms...) }})
	cpu, err := small.Series(librato.Measurement{Name: "cpu", Source: "web1"})
	require.NoError(t, err)
	require.NoError(t, cpu.Add(1, at))
	assert.ErrorIs(t, cpu.Add(2, at), librato.ErrQueueFull)
	require.Len(t, dropped, 1)
	assert.Equal(t, librato.Measurement{Name: "cpu", Source: "web1", Value: 2, Time: at}, dropped[0])
	require.NoError(t, small.Close(context.Background()))
	assert.ErrorIs(t, cpu.Add(3, at), librato.ErrClosed)
	legacyBody := librato.DecodeBody(t, f.Requests()[1].Body)
	assert.Equal(t, []map[string]any{{"name": "cpu", "value": 1.0, "source": "web1", "measure_time": float64(at.Unix())}}, legacyBody.Gauges)
}
