package librato

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

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
	f := &fakeAPI{}
	c := newFakeClient(t, f, time.Unix(1500000100, 0))
	q := newQueue(t, c, QueueOptions{Tags: map[string]string{"service": "api"}})
	require.NoError(t, q.Add(Measurement{Name: "temperature", Value: 23.1}))
	require.NoError(t, q.Add(Measurement{Name: "temperature", Value: 22.1, Tags: map[string]string{"location": "downstairs"}}))
	require.NoError(t, q.Add(Measurement{Name: "temperature", Value: 22.1, Tags: map[string]string{"location": "downstairs"},
		Time: time.Unix(1500000000, 0)}))
	assert.Equal(t, 3, q.Len())
	require.NoError(t, q.Flush(context.Background()))

	reqs := f.requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "POST", reqs[0].Method)
	assert.Equal(t, "/v1/measurements", reqs[0].Path)
	assert.JSONEq(t, queueGolden(t, "testdata/queue/tv7_tagged.json"), effectiveJSON(t, reqs[0].Body))
	assert.Equal(t, 0, q.Len())
	st := q.Stats()
	assert.Equal(t, uint64(3), st.Sent)
	assert.Equal(t, uint64(1), st.Requests)
	assert.Equal(t, 0, st.Queued)
	require.NoError(t, q.Close(context.Background()))
}

func TestQueueTV7Mixed(t *testing.T) {
	f := &fakeAPI{}
	c := newFakeClient(t, f, time.Unix(1500000100, 0))
	q := newQueue(t, c, QueueOptions{})
	require.NoError(t, q.Add(Measurement{Name: "temperature", Value: 22.1, Source: "a"}))
	require.NoError(t, q.Add(Measurement{Name: "visits", Value: 3, Type: Counter}))
	require.NoError(t, q.Add(Measurement{Name: "temperature", Value: 22.1, Tags: map[string]string{"location": "downstairs"}}))
	require.NoError(t, q.Flush(context.Background()))

	reqs := f.requests()
	require.Len(t, reqs, 2)
	assert.Equal(t, "/v1/metrics", reqs[0].Path, "legacy chunks go first")
	assert.JSONEq(t, queueGolden(t, "testdata/queue/tv7_mixed_legacy.json"), effectiveJSON(t, reqs[0].Body))
	assert.Equal(t, "/v1/measurements", reqs[1].Path)
	assert.JSONEq(t, queueGolden(t, "testdata/queue/tv7_mixed_tagged.json"), effectiveJSON(t, reqs[1].Body))
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
			f := &fakeAPI{}
			q := newQueue(t, newFakeClient(t, f, fakeNow), QueueOptions{ChunkSize: tt.chunkSize})
			for i := 0; i < tt.adds; i++ {
				require.NoError(t, q.Add(Measurement{Name: "m", Value: float64(i)}))
			}
			require.NoError(t, q.Flush(context.Background()))
			var got []int
			next := 0.0
			for _, r := range f.requests() {
				w := decodeBody(t, r.Body)
				got = append(got, w.count())
				for _, g := range w.Gauges {
					assert.Equal(t, next, g["value"], "measurements keep their order")
					next++
				}
			}
			assert.Equal(t, tt.want, got)
			require.NoError(t, q.Close(context.Background()))
			assert.Len(t, f.requests(), len(tt.want), "Close of an empty queue sends nothing")
		})
	}
}

func TestQueueChunkSizeFromClient(t *testing.T) {
	f := &fakeAPI{}
	q := newQueue(t, newFakeClient(t, f, fakeNow, WithChunkSize(2)), QueueOptions{})
	for i := 0; i < 5; i++ {
		require.NoError(t, q.Add(Measurement{Name: "m", Value: 1}))
	}
	require.NoError(t, q.Flush(context.Background()))
	assert.Len(t, f.requests(), 3)
}

func TestQueueAutoSubmit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeAPI{}
		q := newQueue(t, newFakeClient(t, f, fakeNow), QueueOptions{AutoSubmitCount: 10})
		for i := 0; i < 9; i++ {
			require.NoError(t, q.Add(Measurement{Name: "m", Value: 1}))
		}
		synctest.Wait()
		assert.Empty(t, f.requests(), "nothing before the 10th add")
		assert.Equal(t, 9, q.Len())

		require.NoError(t, q.Add(Measurement{Name: "m", Value: 1}))
		synctest.Wait() // the flusher has sent and is idle again
		reqs := f.requests()
		require.Len(t, reqs, 1, "after the 10th add one POST was made")
		assert.Equal(t, 10, decodeBody(t, reqs[0].Body).count())
		assert.Equal(t, 0, q.Len())
		assert.Equal(t, uint64(10), q.Stats().Sent)
		require.NoError(t, q.Close(context.Background()))
	})
}

func TestQueueFlushInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeAPI{}
		q := newQueue(t, newFakeClient(t, f, fakeNow), QueueOptions{FlushInterval: 10 * time.Second})
		require.NoError(t, q.Add(Measurement{Name: "m", Value: 1}))
		time.Sleep(9 * time.Second)
		synctest.Wait()
		assert.Empty(t, f.requests())
		time.Sleep(time.Second)
		synctest.Wait()
		assert.Len(t, f.requests(), 1, "flushed at the first tick")

		time.Sleep(10 * time.Second) // an empty queue: no POST
		synctest.Wait()
		assert.Len(t, f.requests(), 1)

		require.NoError(t, q.Add(Measurement{Name: "m", Value: 2}))
		time.Sleep(10 * time.Second)
		synctest.Wait()
		assert.Len(t, f.requests(), 2)
		require.NoError(t, q.Close(context.Background()))
	})
}

func TestQueueNothingStartsWithoutBackgroundOptions(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	q := newQueue(t, newFakeClient(t, &fakeAPI{}, fakeNow), QueueOptions{})
	assert.Nil(t, q.done, "no flusher goroutine")
	require.NoError(t, q.Close(context.Background()))
}

func TestQueueConcurrentAddsExactCount(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	var mu sync.Mutex
	seen := map[float64]int{}
	f := &fakeAPI{handle: func(r fakeRequest) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		var w wireBody
		if err := jsonUnmarshal(r.Body, &w); err != nil {
			return 400, `{"errors":{"request":["bad json"]}}`
		}
		for _, m := range w.all() {
			seen[m["value"].(float64)]++
		}
		return 200, ""
	}}
	c := newFakeClient(t, f, fakeNow)
	q := newQueue(t, c, QueueOptions{AutoSubmitCount: 500, FlushInterval: time.Millisecond})
	const workers, perWorker = 8, 5000
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				m := Measurement{Name: "concurrent", Value: float64(w*perWorker + i)}
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
	q := newQueue(t, newFakeClient(t, &fakeAPI{}, fakeNow), QueueOptions{})
	tests := []Measurement{
		{Name: ""},
		{Name: "bad name"},
		{Name: "m", Value: queueNaN()},
		{Name: "m", Tags: map[string]string{"bad tag": "x"}},
		{Name: "m", Source: "s", Tags: map[string]string{"a": "b"}},
	}
	for _, m := range tests {
		err := q.Add(m)
		assert.ErrorIs(t, err, ErrInvalid, "%+v", m)
	}
	assert.Equal(t, 0, q.Len(), "nothing queued")

	qt := newQueue(t, newFakeClient(t, &fakeAPI{}, fakeNow), QueueOptions{Tags: map[string]string{"service": "api"}})
	assert.ErrorIs(t, qt.Add(Measurement{Name: "m", Type: Counter}), ErrInvalid, "a queue with tags sends to the tagged API: no counters")
	assert.Equal(t, 0, qt.Len())
}

func TestQueueSanitizesNames(t *testing.T) {
	f := &fakeAPI{}
	q := newQueue(t, newFakeClient(t, f, fakeNow, WithSanitizer(SanitizeMetricName)), QueueOptions{})
	require.NoError(t, q.Add(Measurement{Name: "  bat$$m#an", Value: 1}))
	require.NoError(t, q.Flush(context.Background()))
	assert.Equal(t, "-bat-m-an", decodeBody(t, f.requests()[0].Body).Gauges[0]["name"])
}

func TestQueueMaxPendingDropsNewest(t *testing.T) {
	var dropped []Measurement
	var reason error
	q := newQueue(t, newFakeClient(t, &fakeAPI{}, fakeNow), QueueOptions{MaxPending: 5,
		OnDrop: func(ms []Measurement, r error) { dropped = append(dropped, ms...); reason = r }})
	for i := 0; i < 7; i++ {
		err := q.Add(Measurement{Name: "m", Value: float64(i)})
		if i < 5 {
			require.NoError(t, err)
		} else {
			assert.ErrorIs(t, err, ErrQueueFull)
		}
	}
	assert.Equal(t, 5, q.Len())
	require.Len(t, dropped, 2)
	assert.Equal(t, []float64{5, 6}, []float64{dropped[0].Value, dropped[1].Value})
	assert.ErrorIs(t, reason, ErrQueueFull)
	assert.Equal(t, uint64(2), q.Stats().Dropped)
	require.NoError(t, q.Flush(context.Background()))
	require.NoError(t, q.Add(Measurement{Name: "m", Value: 7}), "room again after a flush")
}

func TestQueueMaxPendingCountsInFlight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		f := &fakeAPI{handle: func(fakeRequest) (int, string) { <-release; return 200, "" }}
		q := newQueue(t, newFakeClient(t, f, fakeNow), QueueOptions{MaxPending: 3, AutoSubmitCount: 3})
		for i := 0; i < 3; i++ {
			require.NoError(t, q.Add(Measurement{Name: "m", Value: 1}))
		}
		synctest.Wait() // the flush is in flight, waiting for the server
		assert.Equal(t, 0, q.Len())
		assert.Equal(t, 3, q.Stats().Queued)
		assert.ErrorIs(t, q.Add(Measurement{Name: "m", Value: 1}), ErrQueueFull, "memory is bounded in flight too")
		close(release)
		synctest.Wait()
		assert.Equal(t, 0, q.Stats().Queued)
		require.NoError(t, q.Add(Measurement{Name: "m", Value: 1}))
		require.NoError(t, q.Close(context.Background()))
	})
}

func TestQueueCloseHonoursDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeAPI{hang: true} // a server that never answers
		var dropped int
		var dropReason error
		q := newQueue(t, newFakeClient(t, f, fakeNow), QueueOptions{FlushInterval: time.Minute,
			OnDrop: func(ms []Measurement, r error) { dropped += len(ms); dropReason = r }})
		for i := 0; i < 3; i++ {
			require.NoError(t, q.Add(Measurement{Name: "m", Value: 1}))
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
		assert.Len(t, f.requests(), 1)
		// synctest.Test fails if the flusher goroutine is still around at the end.
	})
}

func TestQueueCloseWaitsForBackgroundFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeAPI{hang: true}
		q := newQueue(t, newFakeClient(t, f, fakeNow), QueueOptions{AutoSubmitCount: 1})
		require.NoError(t, q.Add(Measurement{Name: "m", Value: 1}))
		synctest.Wait() // the background flush hangs on the server
		require.Len(t, f.requests(), 1)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		err := q.Close(ctx)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.Equal(t, uint64(1), q.Stats().Dropped, "the measurement of the cancelled flush is reported")
	})
}

func TestQueueCloseTwiceAndAddAfterClose(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	f := &fakeAPI{}
	q := newQueue(t, newFakeClient(t, f, fakeNow), QueueOptions{FlushInterval: time.Hour, AutoSubmitCount: 100})
	require.NoError(t, q.Add(Measurement{Name: "m", Value: 1}))
	require.NoError(t, q.Close(context.Background()))
	assert.Len(t, f.requests(), 1, "Close flushes")
	require.NoError(t, q.Close(context.Background()), "Close twice is fine")
	assert.ErrorIs(t, q.Add(Measurement{Name: "m", Value: 1}), ErrClosed)
	a := newAggregator(t, q.c, AggregatorOptions{})
	require.NoError(t, a.Add("x", 1))
	assert.ErrorIs(t, q.AddAggregator(a), ErrClosed)
	assert.Len(t, a.Measurements(), 1, "a refused aggregator keeps its values")
	require.NoError(t, q.Flush(context.Background()))
	assert.Len(t, f.requests(), 1)
}

func TestQueueOnErrorForBackgroundFlushes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeAPI{handle: func(fakeRequest) (int, string) { return 500, "" }}
		var errs []error
		q := newQueue(t, newFakeClient(t, f, fakeNow), QueueOptions{AutoSubmitCount: 2,
			OnError: func(err error) { errs = append(errs, err) }})
		require.NoError(t, q.Add(Measurement{Name: "m", Value: 1}))
		require.NoError(t, q.Add(Measurement{Name: "m", Value: 2}))
		synctest.Wait()
		require.Len(t, errs, 1)
		assert.ErrorIs(t, errs[0], ErrServer)
		assert.Equal(t, 2, q.Len())
		f.mu.Lock()
		f.handle = nil
		f.mu.Unlock()
		require.NoError(t, q.Close(context.Background()))
		assert.Equal(t, uint64(2), q.Stats().Sent)
	})
}

func TestQueueSubmitWaitsForRunningFlushOrCtx(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		f := &fakeAPI{handle: func(fakeRequest) (int, string) { <-release; return 200, "" }}
		q := newQueue(t, newFakeClient(t, f, fakeNow), QueueOptions{})
		require.NoError(t, q.Add(Measurement{Name: "m", Value: 1}))
		go func() { _ = q.Flush(context.Background()) }()
		synctest.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		assert.ErrorIs(t, q.Flush(ctx), context.DeadlineExceeded)
		close(release)
		synctest.Wait()
		assert.Len(t, f.requests(), 1, "the same data is never sent twice")
		require.NoError(t, q.Close(context.Background()))
	})
}

func TestQueueInvalidTagsOption(t *testing.T) {
	f := &fakeAPI{}
	c := newFakeClient(t, f, fakeNow)
	q, err := c.NewQueue(QueueOptions{Tags: map[string]string{"bad tag": "x"}})
	assert.Nil(t, q)
	assert.ErrorIs(t, err, ErrInvalid)
	assert.Contains(t, err.Error(), "QueueOptions.Tags")
	for _, opts := range []QueueOptions{{ChunkSize: -1}, {AutoSubmitCount: -1}, {MaxInFlight: -1},
		{FlushInterval: -time.Second}, {SpoolInterval: -time.Second}} {
		q, err := c.NewQueue(opts)
		assert.Nil(t, q)
		assert.ErrorIs(t, err, ErrInvalid, "%+v", opts)
	}
	assert.Empty(t, f.requests())
}

func TestQueueSpoolDirIsWired(t *testing.T) {
	dir := t.TempDir()
	down := atomic.Bool{}
	down.Store(true)
	f := &fakeAPI{handle: func(fakeRequest) (int, string) {
		if down.Load() {
			return 503, ""
		}
		return 200, ""
	}}
	c := newFakeClient(t, f, fakeNow)
	q := newQueue(t, c, QueueOptions{SpoolDir: dir})
	require.NoError(t, q.Add(Measurement{Name: "m", Value: 1}))
	require.NoError(t, q.Add(Measurement{Name: "m", Value: 2}))
	assert.ErrorIs(t, q.Flush(context.Background()), ErrServer)
	err := q.Close(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "kept in the spool")
	assert.Zero(t, q.Stats().Dropped, "spooled, not dropped")

	// A busy directory makes NewQueue fail.
	q2 := newQueue(t, c, QueueOptions{SpoolDir: dir})
	busy, err := c.NewQueue(QueueOptions{SpoolDir: dir})
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
	f := &fakeAPI{}
	c := newFakeClient(t, f, fakeNow)
	q := newQueue(t, c, QueueOptions{MaxPending: -1, ChunkSize: 10_000, Tags: map[string]string{"service": "api", "b": "queue"}})
	rng := rand.New(rand.NewPCG(5, 6))
	names := []string{"http.req", "http.req", "db.query", "x"}
	keys := []string{"status", "host", "b", "a", "z"}
	vals := []string{"200", "404", "500", "web-1", `a\b`, "x y", "bad\x00value", ""}
	shared := []map[string]string{{"status": "200"}, {"host": "h", "status": "200"}, {}}
	var want []Measurement
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
		m := Measurement{Name: names[rng.IntN(len(names))], Value: float64(i), Tags: tags}
		snap := m
		snap.Tags = maps.Clone(tags)
		var single []Measurement
		err := q.Add(m)
		_, bad := c.encodeBatch([]Measurement{snap}, q.base, false)
		if bad != nil {
			require.Error(t, err, "Add accepts what the full check refuses: %v", snap.Tags)
			continue
		}
		require.NoError(t, err, "Add refuses what the full check accepts: %v", snap.Tags)
		single = append(single, snap)
		want = append(want, single...)
	}
	require.NoError(t, q.Flush(context.Background()))
	var got []map[string]any
	for _, r := range f.requests() {
		got = append(got, decodeBody(t, r.Body).all()...)
	}
	require.Len(t, got, len(want))
	for i, m := range want {
		b, bad := c.encodeBatch([]Measurement{m}, q.base, false)
		require.Nil(t, bad)
		exp := decodeBody(t, b.chunks[0].body).all()[0]
		exp["time"] = got[i]["time"] // the chunk's time
		require.Equal(t, exp, got[i], "measurement %d", i)
	}
}
