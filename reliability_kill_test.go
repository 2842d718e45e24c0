package librato_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// killWindowMargin is what the kill test allows beyond SpoolInterval: the write and fsync under
// way when the kill lands (the docs' "plus the write under way"), and the scheduling delay of the
// spool writer on a loaded 2-core machine under -race. The progress lines carry the child's own
// clock, so their delay in the pipe needs no margin.
const killWindowMargin = 300 * time.Millisecond

// killWindow is how recently before a SIGKILL a value may have been accepted and still be lost:
// every value Add accepted earlier than killWindow before the kill must arrive in the end.
const killWindow = librato.DefaultSpoolInterval + killWindowMargin

// killsPerScenario is how many times each scenario kills its child.
const killsPerScenario = 7

// TestReliabilityKill kills a process adding measurements to a Queue with a SpoolDir with
// SIGKILL at random moments, against a server that never answers and against a slow one that
// fails, rate limits, resets connections and loses answers, restarting it on the same spool each
// time. A last Queue on the spool then delivers to a good server. Every value accepted more than
// killWindow before a kill must have arrived (at the faulty server or the good one), and at most
// one chunk per kill (and per lost answer) may have arrived twice.
func TestReliabilityKill(t *testing.T) {
	if os.Getenv(killChildEnv) != "" {
		killChild()
	}
	if testing.Short() {
		t.Skip("kills child processes for ~30 s: skipped with -short")
	}
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("LIBRATO_KILL_SEED"); s != "" {
		var err error
		seed, err = strconv.ParseUint(s, 10, 64)
		require.NoError(t, err, "LIBRATO_KILL_SEED")
	}
	t.Logf("seed %d (LIBRATO_KILL_SEED=%d repeats the kill delays and the fault sequence); window %v = SpoolInterval %v + margin %v",
		seed, seed, killWindow, librato.DefaultSpoolInterval, killWindowMargin)
	rng := newLockedRand(seed)        // kill delays and connection faults, drawn on this goroutine
	statusRng := newLockedRand(^seed) // 500s and 429s, drawn by the fake per request

	t.Run("hung", func(t *testing.T) {
		h := newHungServer(t)
		dir := t.TempDir()
		runs := killRepeatedly(t, h.URL(), dir, rng)
		good := newFaultEnv(t)
		drainKillSpool(t, good, dir)
		t.Logf("the hung server accepted %d connections", h.connections())
		checkKillArrivals(t, runs, 0, good)
	})

	t.Run("faulty", func(t *testing.T) {
		faulty := newFaultEnv(t)
		require.NoError(t, faulty.fake.AddFault(libratotest.Fault{Latency: 20 * time.Millisecond, Rate: 1}))
		require.NoError(t, faulty.fake.AddFault(libratotest.Fault{Method: http.MethodPost, Func: func(context.Context, libratotest.Request) (int, string, bool) {
			switch x := statusRng.float(); {
			case x < 0.10:
				return http.StatusInternalServerError, `{"errors":{"request":["internal error"]}}`, true
			case x < 0.15:
				return http.StatusTooManyRequests, `{"request_time":0,"error":"You have hit the API limit for measurements [measure:raw_rate]."}`, true
			}
			return 0, "", false
		}}))
		// Resets (mid-body) and lost answers (the fake stored the request, the client never hears
		// of it), in a seeded order for the first POSTs.
		actions := make([]action, 5000)
		for i := range actions {
			switch x := rng.float(); {
			case x < 0.05:
				actions[i] = resetMidBody
			case x < 0.10:
				actions[i] = acceptLoseReply
			}
		}
		faulty.next(actions...)
		dir := t.TempDir()
		runs := killRepeatedly(t, faulty.fake.URL, dir, rng)

		faulty.mu.Lock()
		posts := faulty.posts
		faulty.mu.Unlock()
		lostAnswers := 0
		for _, a := range actions[:min(posts, len(actions))] {
			if a == acceptLoseReply {
				lostAnswers++
			}
		}
		good := newFaultEnv(t)
		drainKillSpool(t, good, dir)
		t.Logf("the faulty server got %d POSTs, %d of them with a lost answer", posts, lostAnswers)
		checkKillArrivals(t, runs, lostAnswers, faulty, good)
	})
}

// killRepeatedly runs killsPerScenario children on dir against url, each killed at a random
// moment 300 ms to 2.5 s after its start (a child adds from ~40 ms on, so some kills land
// while it opens and replays the spool).
func killRepeatedly(t *testing.T, url, dir string, rng *lockedRand) []killRun {
	t.Helper()
	var runs []killRun
	for i := range killsPerScenario {
		base := int64(i+1) * killRunSpan
		run := startKillChild(t, "TestReliabilityKill", url, dir, base, rng.duration(300*time.Millisecond, 2500*time.Millisecond))
		t.Logf("run %d: killed after %v; accepted %d values before the window, %d reported in all",
			i+1, run.delay.Round(time.Millisecond), run.protected-base+1, run.reported-base+1)
		runs = append(runs, run)
	}
	return runs
}

// drainKillSpool opens a Queue on dir against good and sends everything the spool holds.
func drainKillSpool(t *testing.T, good *faultEnv, dir string) {
	t.Helper()
	var mu sync.Mutex
	var drops []string
	q := newQueue(t, good.client(), librato.QueueOptions{SpoolDir: dir, ChunkSize: killChunk,
		OnDrop: func(ms []librato.Measurement, reason error) {
			mu.Lock()
			drops = append(drops, fmt.Sprintf("%d: %v", len(ms), reason))
			mu.Unlock()
		}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	spooled := q.Stats().Spooled
	for {
		err := q.Flush(ctx)
		st := q.Stats()
		if st.Spooled == 0 && st.Queued == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the spool did not drain in 30 s: %v (%+v)", err, st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	require.NoError(t, q.Close(ctx))
	t.Logf("final Queue: %d measurements in the spool at open, drained in %v (%+v)",
		spooled, time.Since(start).Round(time.Millisecond), q.Stats())
	mu.Lock()
	defer mu.Unlock()
	assert.Empty(t, drops, "the final Queue dropped measurements")
}

// checkKillArrivals checks what the servers accepted against what the runs were promised.
func checkKillArrivals(t *testing.T, runs []killRun, lostAnswers int, servers ...*faultEnv) {
	t.Helper()
	arrived := map[int]int{}
	for _, e := range servers {
		e.mu.Lock()
		for v, n := range e.accepted {
			arrived[v] += n
		}
		e.mu.Unlock()
	}
	var protected, lost, inWindow, inWindowLost, duplicates, unknown int
	var firstLost []string
	var drops []string
	for _, r := range runs {
		runLost := 0
		for v := r.base; v <= r.protected; v++ {
			if arrived[int(v)] == 0 {
				runLost++
			}
		}
		if runLost > 0 {
			firstLost = append(firstLost, fmt.Sprintf("run %d: %d of %d (killed after %v)",
				r.base/killRunSpan, runLost, r.protected-r.base+1, r.delay.Round(time.Millisecond)))
		}
		protected += int(r.protected - r.base + 1)
		lost += runLost
		for v := r.protected + 1; v <= r.reported; v++ {
			inWindow++
			if arrived[int(v)] == 0 {
				inWindowLost++
			}
		}
		drops = append(drops, r.dropped...)
	}
	for v, n := range arrived {
		duplicates += n - 1
		if i := v / killRunSpan; i < 1 || i > len(runs) || int64(v) < runs[i-1].base {
			unknown++
		}
	}
	bound := (len(runs) + lostAnswers) * killChunk
	summary := fmt.Sprintf("%d kills: %d values accepted > %v before a kill, %d lost (%.1f %%); "+
		"%d more reported inside the window, %d of them lost (allowed); %d duplicates (bound %d: one chunk per kill and lost answer); "+
		"%d distinct values arrived",
		len(runs), protected, killWindow, lost, 100*float64(lost)/float64(max(protected, 1)),
		inWindow, inWindowLost, duplicates, bound, len(arrived))
	t.Log(summary)
	assert.Zero(t, lost, "values accepted before the window were lost: %s; %s", summary, strings.Join(firstLost, "; "))
	assert.LessOrEqual(t, duplicates, bound, "too many duplicates: %s", summary)
	assert.Zero(t, unknown, "values arrived that no run added")
	assert.Empty(t, drops, "the children reported drops")
	assert.Positive(t, protected, "no kill came late enough to protect anything: the test checked nothing")
}

// TestReliabilitySpoolWithinWindow: with a SpoolDir and a server that never answers, what Add
// accepted is in the spool 2 x SpoolInterval later, although the send is stuck: nothing waits in
// memory only, and a Queue opened on the directory afterwards finds all of it.
func TestReliabilitySpoolWithinWindow(t *testing.T) {
	const n = 5000
	h := newHungServer(t)
	dir := t.TempDir()
	c, err := librato.Connect(libratotest.DefaultUser, libratotest.DefaultToken,
		librato.WithBaseURL(h.URL()+"/v1/"), librato.WithTimeout(time.Minute))
	require.NoError(t, err)
	var mu sync.Mutex
	var drops []string
	onDrop := func(ms []librato.Measurement, reason error) {
		mu.Lock()
		drops = append(drops, fmt.Sprintf("%d: %v", len(ms), reason))
		mu.Unlock()
	}
	q := newQueue(t, c, librato.QueueOptions{SpoolDir: dir, AutoSubmitCount: killChunk, ChunkSize: killChunk, OnDrop: onDrop})
	for i := range n {
		require.NoError(t, q.Add(librato.Measurement{Name: killMetric, Value: float64(i)}))
	}
	time.Sleep(2 * librato.DefaultSpoolInterval)
	st := q.Stats()
	assert.Positive(t, h.connections(), "no send is under way: the test does not show what it should")
	assert.Equal(t, n, st.Spooled+int(st.Sent), "Spooled + Sent 2 x SpoolInterval after the last Add (%+v)", st)
	assert.Zero(t, st.Queued, "measurements held in memory only (%+v)", st)

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_ = q.Close(ctx) // the server never answers: Close says what it keeps in the spool
	q2 := newQueue(t, c, librato.QueueOptions{SpoolDir: dir, ChunkSize: killChunk, OnDrop: onDrop})
	assert.Equal(t, n, q2.Stats().Spooled, "a Queue opened on the directory after Close")
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	_ = q2.Close(ctx2)
	mu.Lock()
	defer mu.Unlock()
	assert.Empty(t, drops)
}
