package librato_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"
	"github.com/stretchr/testify/require"
)

// The kill test's child: this test binary, re-executed with killChildEnv set. It adds
// measurements with strictly increasing values at a steady rate to a Queue with a SpoolDir and
// reports its progress on stdout until the parent kills it with SIGKILL.

const (
	// killChildEnv selects child mode; the other variables configure the child.
	killChildEnv = "LIBRATO_KILL_CHILD"
	killURLEnv   = "LIBRATO_KILL_URL"
	killDirEnv   = "LIBRATO_KILL_DIR"
	killBaseEnv  = "LIBRATO_KILL_BASE"

	killMetric = "reliability.kill"
	// killChunk is the chunk size of every Queue in the kill tests: the unit of the duplicate bound.
	killChunk = 300
	// killRate is how many measurements per second the child adds.
	killRate = 20_000
	// killReportEvery is how often (in values) the child reports progress.
	killReportEvery = 1000
	// killRunSpan separates the values of two child runs: run r adds r*killRunSpan, +1, +2, ...
	killRunSpan = 1_000_000_000
	// killChildMaxLife ends a child the parent somehow failed to kill.
	killChildMaxLife = 30 * time.Second
)

// killChild is the child's main: it never returns.
//
// It prints, each line in one write:
//
//	ready <unixNano>                   the Queue is open
//	accepted <value> <unixNano>        Add accepted every value from the run's base to value
//	dropped <n> <reason>               OnDrop reported n accepted measurements lost
//	error <text>                       something the test did not expect; the child exits
func killChild() {
	var outMu sync.Mutex
	say := func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(os.Stdout, format+"\n", args...)
	}
	fail := func(format string, args ...any) {
		say("error "+format, args...)
		os.Exit(3)
	}
	// The parent holds our stdin open: if it dies, stop rather than run on unwatched.
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(4)
	}()
	time.AfterFunc(killChildMaxLife, func() { fail("not killed within %v", killChildMaxLife) })

	base, err := strconv.ParseInt(os.Getenv(killBaseEnv), 10, 64)
	if err != nil {
		fail("%s: %v", killBaseEnv, err)
	}
	c, err := librato.Connect(libratotest.DefaultUser, libratotest.DefaultToken,
		librato.WithBaseURL(os.Getenv(killURLEnv)+"/v1/"))
	if err != nil {
		fail("connect: %v", err)
	}
	q, err := c.NewQueue(librato.QueueOptions{
		SpoolDir:        os.Getenv(killDirEnv),
		AutoSubmitCount: killChunk,
		FlushInterval:   100 * time.Millisecond,
		ChunkSize:       killChunk,
		OnDrop: func(ms []librato.Measurement, reason error) {
			if !errors.Is(reason, librato.ErrQueueFull) { // a refused Add is retried, not lost
				say("dropped %d %v", len(ms), reason)
			}
		},
	})
	if err != nil {
		fail("new queue: %v", err)
	}
	say("ready %d", time.Now().UnixNano())

	start := time.Now()
	v := base
	for {
		due := base + int64(time.Since(start).Seconds()*killRate)
		for v < due {
			err := q.Add(librato.Measurement{Name: killMetric, Value: float64(v)})
			if errors.Is(err, librato.ErrQueueFull) {
				break // not accepted: add the same value again after the pause
			}
			if err != nil {
				fail("add %d: %v", v, err)
			}
			if (v-base+1)%killReportEvery == 0 {
				say("accepted %d %d", v, time.Now().UnixNano())
			}
			v++
		}
		time.Sleep(time.Millisecond)
	}
}

// killLine is one line of a child's stdout and when the parent read it.
type killLine struct {
	at   time.Time
	text string
}

// killRun is one child process, from start to SIGKILL.
type killRun struct {
	base      int64
	delay     time.Duration // from start to the kill
	killAt    time.Time
	protected int64 // the last value accepted at least killWindow before the kill (base-1: none)
	reported  int64 // the last value the child reported accepted at all (base-1: none)
	dropped   []string
}

// startKillChild starts a child adding values from base to the Queue on dir sending to url,
// kills it with SIGKILL after delay and returns what it reported.
func startKillChild(t *testing.T, testName, url, dir string, base int64, delay time.Duration) killRun {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+testName+"$", "-test.count=1", "-test.timeout=0")
	cmd.Env = append(os.Environ(), killChildEnv+"=1", killURLEnv+"="+url, killDirEnv+"="+dir,
		killBaseEnv+"="+strconv.FormatInt(base, 10))
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr

	var mu sync.Mutex
	var lines []killLine
	eof := make(chan struct{})
	require.NoError(t, cmd.Start())
	go func() {
		defer close(eof)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			l := killLine{at: time.Now(), text: sc.Text()}
			mu.Lock()
			lines = append(lines, l)
			mu.Unlock()
		}
	}()

	timer := time.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-eof:
		_ = cmd.Wait()
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("the child ended before the kill (%v): %v\nstdout tail: %v\nstderr: %s",
			delay, cmd.ProcessState, tailLines(lines, 5), stderr.String())
	}
	run := killRun{base: base, delay: delay, protected: base - 1, reported: base - 1}
	run.killAt = time.Now()
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	<-eof
	_ = cmd.Wait()
	require.Equal(t, "signal: killed", cmd.ProcessState.String(), "stderr: %s", stderr.String())

	mu.Lock()
	defer mu.Unlock()
	safeBefore := run.killAt.Add(-killWindow)
	for _, l := range lines {
		if !l.at.Before(run.killAt) {
			continue // read after the kill: the parent could not have known it in time
		}
		kind, rest, _ := strings.Cut(l.text, " ")
		switch kind {
		case "ready":
		case "accepted":
			var v, ns int64
			if _, err := fmt.Sscanf(rest, "%d %d", &v, &ns); err != nil {
				t.Fatalf("child: bad progress line %q: %v", l.text, err)
			}
			run.reported = max(run.reported, v)
			if !time.Unix(0, ns).After(safeBefore) {
				run.protected = max(run.protected, v)
			}
		case "dropped":
			run.dropped = append(run.dropped, rest)
		default:
			t.Fatalf("child: %q\nstderr: %s", l.text, stderr.String())
		}
	}
	return run
}

func tailLines(lines []killLine, n int) []string {
	var out []string
	for _, l := range lines[max(len(lines)-n, 0):] {
		out = append(out, l.text)
	}
	return out
}

// hungServer accepts connections and reads them, never answering, until the test ends.
type hungServer struct {
	ln    net.Listener
	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func newHungServer(t *testing.T) *hungServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	h := &hungServer{ln: ln}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			h.mu.Lock()
			h.conns = append(h.conns, conn)
			h.mu.Unlock()
			h.wg.Add(1)
			go func() {
				defer h.wg.Done()
				_, _ = io.Copy(io.Discard, conn) // until the client dies or the test ends
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		h.mu.Lock()
		for _, c := range h.conns {
			c.Close()
		}
		h.mu.Unlock()
		h.wg.Wait()
	})
	return h
}

// URL is the server's base URL.
func (h *hungServer) URL() string { return "http://" + h.ln.Addr().String() }

// connections returns how many connections the server has accepted.
func (h *hungServer) connections() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

// lockedRand is a seeded source safe for the fake's handler goroutines.
type lockedRand struct {
	mu sync.Mutex
	r  *rand.Rand
}

func newLockedRand(seed uint64) *lockedRand {
	return &lockedRand{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (l *lockedRand) float() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.r.Float64()
}

func (l *lockedRand) duration(lo, hi time.Duration) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return lo + time.Duration(l.r.Int64N(int64(hi-lo)))
}
