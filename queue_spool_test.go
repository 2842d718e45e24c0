package librato

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// spoolAPI is a minimal API on a real listener (a child process must reach it) that records
// which measurements it accepted, by value, and can fail, poison or hang requests.
type spoolAPI struct {
	*httptest.Server
	mu       sync.Mutex
	accepted map[int]int
	posts    int
	failAll  bool          // answer 503
	poison   int           // a body holding this value gets 400 (-1: none)
	hangAt   int           // the hangAt-th POST is accepted, then never answered (0: none)
	hung     chan struct{} // closed when that POST hangs
}

func newSpoolAPI(t *testing.T) *spoolAPI {
	a := &spoolAPI{accepted: map[int]int{}, poison: -1, hung: make(chan struct{})}
	a.Server = httptest.NewServer(a)
	t.Cleanup(a.Close)
	return a
}

func (a *spoolAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var p struct{ Gauges, Counters, Measurements []struct{ Value float64 } }
	if err := json.Unmarshal(body, &p); err != nil {
		http.Error(w, "bad json", http.StatusBadRequest)
		return
	}
	vals := []int{}
	for _, l := range [][]struct{ Value float64 }{p.Gauges, p.Counters, p.Measurements} {
		for _, m := range l {
			vals = append(vals, int(m.Value))
		}
	}
	a.mu.Lock()
	a.posts++
	n, fail, poison, hangAt := a.posts, a.failAll, a.poison, a.hangAt
	if !fail {
		for _, v := range vals {
			if v == poison {
				a.mu.Unlock()
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, `{"errors":{"params":{"measure_time":["is too far in the past"]}}}`)
				return
			}
		}
		for _, v := range vals {
			a.accepted[v]++
		}
	}
	a.mu.Unlock()
	if fail {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	if n == hangAt {
		close(a.hung)
		<-r.Context().Done() // accepted, never answered: the client dies waiting
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (a *spoolAPI) set(f func(a *spoolAPI)) {
	a.mu.Lock()
	f(a)
	a.mu.Unlock()
}

// tally returns how many of the ids 0..n-1 were accepted at least once, the duplicates, and
// the ids never accepted.
func (a *spoolAPI) tally(n int) (accepted, dups int, missing []int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for id := range n {
		switch c := a.accepted[id]; {
		case c == 0:
			missing = append(missing, id)
		default:
			accepted++
			dups += c - 1
		}
	}
	return accepted, dups, missing
}

func spoolClient(t *testing.T, url string) *Client {
	c, err := Connect("u@example.com", "spool-token", WithBaseURL(url+"/v1/"), WithTimeout(5*time.Second),
		WithRetry(RetryPolicy{MaxAttempts: 1}))
	require.NoError(t, err)
	return c
}

// spoolQueue is c.NewQueue(opts) for opts with a SpoolDir, which must open.
func spoolQueue(t *testing.T, c *Client, opts QueueOptions) *Queue {
	t.Helper()
	q := newQueue(t, c, opts)
	return q
}

func addIDs(t testing.TB, q *Queue, from, to int) {
	now := time.Now()
	for i := from; i < to; i++ {
		require.NoError(t, q.Add(Measurement{Name: "spool.m", Value: float64(i), Source: "s", Time: now}))
	}
}

// TestSpoolKillMidFlush runs a child process (this test binary) that spools 1000 measurements
// in 10 chunks and is killed with SIGKILL while the API holds its third POST, which the API has
// accepted. A new Queue on the spool directory sends the rest: every measurement arrives, and
// exactly the 100 of the third chunk arrive twice (its answer was lost with the process).
func TestSpoolKillMidFlush(t *testing.T) {
	if dir := os.Getenv("LIBRATO_SPOOL_CHILD"); dir != "" {
		spoolChild(t, dir, os.Getenv("LIBRATO_SPOOL_URL"))
		return
	}
	api := newSpoolAPI(t)
	api.set(func(a *spoolAPI) { a.hangAt = 3 })
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestSpoolKillMidFlush$", "-test.count=1")
	cmd.Env = append(os.Environ(), "LIBRATO_SPOOL_CHILD="+dir, "LIBRATO_SPOOL_URL="+api.URL)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = cmd.Stdout
	require.NoError(t, cmd.Start())
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	select {
	case <-api.hung:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		var got []string
		for l := range lines {
			got = append(got, l)
		}
		t.Fatalf("the child never reached its third POST:\n%s", strings.Join(got, "\n"))
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	err = cmd.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, "signal: killed", exit.Error())

	acc, _, _ := api.tally(1000)
	require.Equal(t, 300, acc, "three chunks reached the API before the kill")

	// A new Queue on the same directory (the kill released the lock) delivers the rest.
	c := spoolClient(t, api.URL)
	q := spoolQueue(t, c, QueueOptions{ChunkSize: 100, SpoolDir: dir})
	defer q.Close(context.Background())
	assert.Equal(t, 800, q.Stats().Spooled, "chunks 3..10 were not acknowledged")
	_, err = c.NewQueue(QueueOptions{SpoolDir: dir})
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("is in use by pid %d", os.Getpid()))

	require.NoError(t, q.Flush(context.Background()))
	acc, dups, missing := api.tally(1000)
	assert.Equal(t, 1000, acc, "nothing lost")
	assert.Empty(t, missing)
	assert.Equal(t, 100, dups, "only the chunk accepted before the kill is sent twice")
	assert.Equal(t, uint64(800), q.Stats().Sent)
	assert.Zero(t, q.Stats().Spooled)
	t.Logf("kill -9 mid-flush: 1000 added, 1000 delivered, 0 lost, %d duplicates (the chunk whose answer was lost)", dups)
}

// spoolChild is the child process of TestSpoolKillMidFlush.
func spoolChild(t *testing.T, dir, url string) {
	c := spoolClient(t, url)
	q := spoolQueue(t, c, QueueOptions{ChunkSize: 100, SpoolDir: dir, SpoolInterval: time.Hour})
	addIDs(t, q, 0, 1000)
	fmt.Println("flushing")
	err := q.Flush(context.Background()) // hangs on the third POST until killed
	fmt.Println("flush returned (the parent should have killed us):", err)
	os.Exit(3)
}

// TestSpoolSurvivesOutageAndSplits: with the API down, flushes keep everything spooled; when it
// is back, everything is delivered, and a chunk with one bad measurement is split.
func TestSpoolSurvivesOutageAndSplits(t *testing.T) {
	api := newSpoolAPI(t)
	api.set(func(a *spoolAPI) { a.failAll = true; a.poison = 437 })
	var mu sync.Mutex
	var rejected []Measurement
	c := spoolClient(t, api.URL)
	onDrop := func(ms []Measurement, reason error) {
		mu.Lock()
		defer mu.Unlock()
		var rej *RejectedError
		if assert.ErrorAs(t, reason, &rej) {
			rejected = append(rejected, ms...)
		}
	}
	dir := t.TempDir()
	q := spoolQueue(t, c, QueueOptions{ChunkSize: 100, OnDrop: onDrop, SpoolDir: dir})
	addIDs(t, q, 0, 600)
	require.Error(t, q.Flush(context.Background()))
	addIDs(t, q, 600, 1000)
	require.Error(t, q.Flush(context.Background()))
	assert.Equal(t, 1000, q.Stats().Spooled)
	assert.Zero(t, q.Stats().Queued, "nothing held in memory: it is all on disk")
	// Restart while down: the spool carries everything over.
	require.ErrorIs(t, q.Close(context.Background()), ErrClosed, "the error says what stays in the spool")
	q2 := spoolQueue(t, c, QueueOptions{ChunkSize: 100, OnDrop: onDrop, SpoolDir: dir})
	defer q2.Close(context.Background())
	assert.Equal(t, 1000, q2.Stats().Spooled)

	api.set(func(a *spoolAPI) { a.failAll = false })
	err := q2.Flush(context.Background())
	var rej *RejectedError
	require.ErrorAs(t, err, &rej)
	assert.Equal(t, 1, rej.Count)
	assert.ErrorIs(t, err, ErrBadRequest)
	acc, dups, missing := api.tally(1000)
	assert.Equal(t, 999, acc)
	assert.Zero(t, dups)
	assert.Equal(t, []int{437}, missing)
	require.Len(t, rejected, 1)
	assert.Equal(t, "spool.m", rejected[0].Name)
	assert.Equal(t, 437.0, rejected[0].Value)
	assert.Equal(t, "s", rejected[0].Source)
	st := q2.Stats()
	assert.Equal(t, uint64(999), st.Sent)
	assert.Equal(t, uint64(1), st.Rejected)
	assert.Zero(t, st.Spooled)
}

// TestSpoolMaxBytesDropsOldest: beyond SpoolMaxBytes the oldest chunks are dropped and reported
// with ErrSpoolFull; added = delivered + dropped exactly.
func TestSpoolMaxBytesDropsOldest(t *testing.T) {
	api := newSpoolAPI(t)
	api.set(func(a *spoolAPI) { a.failAll = true })
	var mu sync.Mutex
	dropped := map[int]int{}
	c := spoolClient(t, api.URL)
	// A chunk of 100 is about 6 KB here: room for three.
	q := spoolQueue(t, c, QueueOptions{ChunkSize: 100, SpoolDir: t.TempDir(), SpoolMaxBytes: 20 << 10,
		OnDrop: func(ms []Measurement, reason error) {
			mu.Lock()
			defer mu.Unlock()
			assert.ErrorIs(t, reason, ErrSpoolFull)
			for _, m := range ms {
				dropped[int(m.Value)]++
			}
		}})
	defer q.Close(context.Background())
	for i := range 10 {
		addIDs(t, q, i*100, i*100+100)
		_ = q.Flush(context.Background())
	}
	held := q.Stats().Spooled
	require.Positive(t, held)
	api.set(func(a *spoolAPI) { a.failAll = false })
	require.NoError(t, q.Flush(context.Background()))
	acc, dups, missing := api.tally(1000)
	assert.Zero(t, dups)
	assert.Equal(t, held, acc)
	assert.Len(t, missing, 1000-held)
	for _, id := range missing {
		assert.Equal(t, 1, dropped[id], "id %d dropped and reported once", id)
	}
	assert.Len(t, dropped, 1000-held)
	for id := range dropped {
		assert.Less(t, id, 1000-held, "the oldest go first")
	}
	assert.Equal(t, uint64(1000-held), q.Stats().Dropped)
	t.Logf("spool cap: %d delivered, %d dropped oldest first and reported", acc, len(dropped))
}

func TestSplitBody(t *testing.T) {
	now := time.Unix(1700000000, 0)
	ms := []Measurement{{Name: "a", Value: 1}, {Name: "b", Value: 2, Type: Counter}, {Name: "c", Value: 3}, {Name: "d", Value: 4, Type: Counter}, {Name: "e", Value: 5}}
	for _, tagged := range []bool{false, true} {
		in := ms
		if tagged {
			in = []Measurement{{Name: "a", Value: 1, Tags: map[string]string{"h": "x"}}, {Name: "b", Value: 2, Tags: map[string]string{"h": "y"}}, {Name: "c", Value: 3, Tags: map[string]string{"h": "z"}}}
		}
		body := appendPayload(nil, tagged, in, nil, nil, now)
		a, b, err := splitBody(tagged, part{body, 0, len(in)})
		require.NoError(t, err)
		assert.Equal(t, len(in), a.count()+b.count())
		assert.Equal(t, [4]int{0, a.hi, a.hi, len(in)}, [4]int{a.lo, a.hi, b.lo, b.hi})
		got := append(decodeChunk(tagged, a.body, a.count()), decodeChunk(tagged, b.body, b.count())...)
		require.Len(t, got, len(in))
		names := map[string]bool{}
		for _, m := range got {
			names[m.Name] = true
			assert.Equal(t, now, m.Time)
		}
		assert.Len(t, names, len(in))
		for _, p := range []part{a, b} {
			assert.True(t, json.Valid(p.body), string(p.body))
		}
	}
	_, _, err := splitBody(true, part{[]byte(`{"measurements":[{"name":"x"}]}`), 0, 1})
	assert.Error(t, err)
	_, _, err = splitBody(true, part{[]byte(`{"measurements":[{"name":"x"},{"name":"y"}]}`), 0, 3})
	assert.Error(t, err, "a body that does not hold its count is not split")
	_, _, err = splitBody(false, part{[]byte(`not json`), 0, 2})
	assert.Error(t, err)
	assert.Len(t, decodeChunk(false, []byte("garbage"), 3), 3, "an unreadable chunk still counts")
}

// TestSpoolCloseKeepsData: at Close, what a flush did not get to is spooled, not dropped, and
// the error says how many measurements stay in the spool.
func TestSpoolCloseKeepsData(t *testing.T) {
	api := newSpoolAPI(t)
	api.set(func(a *spoolAPI) { a.failAll = true })
	c := spoolClient(t, api.URL)
	dir := t.TempDir()
	q := spoolQueue(t, c, QueueOptions{ChunkSize: 100, SpoolDir: dir, SpoolInterval: time.Hour})
	addIDs(t, q, 0, 200)
	require.Error(t, q.Flush(context.Background())) // spooled, not sent
	addIDs(t, q, 200, 300)                          // in memory only
	assert.Equal(t, 100, q.Stats().Queued)
	api.set(func(a *spoolAPI) { a.hangAt = a.posts + 1; a.failAll = false })
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := q.Close(ctx) // the API hangs: what is in memory goes to the spool
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrClosed)
	assert.Contains(t, err.Error(), "300 measurements kept in the spool "+dir)
	assert.Zero(t, q.Stats().Queued)
	assert.Zero(t, q.Stats().Dropped)

	api.set(func(a *spoolAPI) { a.hangAt = 0; a.accepted = map[int]int{} })
	q2 := spoolQueue(t, c, QueueOptions{ChunkSize: 100, SpoolDir: dir})
	require.NoError(t, q2.Flush(context.Background()))
	require.NoError(t, q2.Close(context.Background()))
	acc, dups, missing := api.tally(300)
	assert.Equal(t, 300, acc)
	assert.LessOrEqual(t, dups, 100, "at most the chunk whose answer hung is sent twice")
	assert.Empty(t, missing)
}

// TestSpoolDamageIsCounted: a byte flipped in a spool segment loses the chunk it is in; the
// reopened Queue counts exactly those measurements as dropped (and damaged), tells OnError where,
// and delivers the rest.
func TestSpoolDamageIsCounted(t *testing.T) {
	api := newSpoolAPI(t)
	api.set(func(a *spoolAPI) { a.failAll = true })
	c := spoolClient(t, api.URL)
	dir := t.TempDir()
	q := spoolQueue(t, c, QueueOptions{ChunkSize: 100, SpoolDir: dir})
	addIDs(t, q, 0, 500)
	require.Error(t, q.Flush(context.Background()))
	require.Equal(t, 500, q.Stats().Spooled)
	require.ErrorIs(t, q.Close(context.Background()), ErrClosed)

	segs, err := filepath.Glob(filepath.Join(dir, "*.seg"))
	require.NoError(t, err)
	require.Len(t, segs, 1)
	b, err := os.ReadFile(segs[0])
	require.NoError(t, err)
	b[len(b)/2] ^= 0xff // inside the third of five chunks
	require.NoError(t, os.WriteFile(segs[0], b, 0o644))

	var mu sync.Mutex
	var damage []*SpoolDamageError
	api.set(func(a *spoolAPI) { a.failAll = false })
	q2 := spoolQueue(t, c, QueueOptions{ChunkSize: 100, SpoolDir: dir, OnError: func(err error) {
		var d *SpoolDamageError
		if errors.As(err, &d) {
			mu.Lock()
			damage = append(damage, d)
			mu.Unlock()
		}
	}})
	st := q2.Stats()
	assert.Equal(t, uint64(100), st.Damaged)
	assert.Equal(t, uint64(100), st.Dropped)
	assert.Equal(t, 400, st.Spooled)
	mu.Lock()
	require.Len(t, damage, 1)
	assert.Equal(t, segs[0], damage[0].Segment)
	assert.Equal(t, int64(100), damage[0].Measurements)
	assert.True(t, damage[0].Exact)
	assert.Contains(t, damage[0].Error(), "100 measurements lost")
	mu.Unlock()
	require.NoError(t, q2.Flush(context.Background()))
	require.NoError(t, q2.Close(context.Background()))
	acc, dups, missing := api.tally(500)
	assert.Equal(t, 400, acc)
	assert.Zero(t, dups)
	assert.Len(t, missing, 100)
}
