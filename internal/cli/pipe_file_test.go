package cli

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-librato/librato/libratotest"
)

// received returns how many measurements of name the fake holds and the sum of their values.
func received(srv *libratotest.Server, name string) (count int64, sum float64) {
	for _, p := range srv.Measurements(name) {
		count += p.Count
		sum += p.Sum
	}
	return count, sum
}

// logLines returns lines i in [from, to) of a test log: "loader.v VALUE TIME", one second apart.
func logLines(from, to int) string {
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "loader.v %d %d\n", i, fixedNow.Add(-time.Hour).Unix()+int64(i%3600))
	}
	return b.String()
}

// sumTo is 0 + 1 + ... + n-1.
func sumTo(n int) float64 { return float64(n) * float64(n-1) / 2 }

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	require.NoError(t, err)
	_, err = f.WriteString(text)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func TestPipeFileWithState(t *testing.T) {
	srv := newFake(t)
	dir := t.TempDir()
	log, state := filepath.Join(dir, "app.log"), filepath.Join(dir, "pipe.state")
	appendFile(t, log, logLines(0, 500)+"# a comment\nnot a line\n")

	r := runCLI(t, srv, "", "pipe", "--file", log, "--state", state, "--batch", "100")
	assert.Equal(t, ExitError, r.code, "a malformed line makes the status 1")
	assert.Contains(t, r.stderr, "line 502: value \"a\" is not a finite number\n")
	assert.Contains(t, r.stderr, "502 lines read, 500 measurements sent, 1 line rejected\n")
	n, sum := received(srv, "loader.v")
	assert.Equal(t, int64(500), n)
	assert.Equal(t, sumTo(500), sum)

	// More lines, and a last one without its newline: a re-run sends only those.
	appendFile(t, log, logLines(500, 700)+"loader.v 700 "+fmt.Sprint(fixedNow.Add(-time.Hour).Unix()+700))
	r = runCLI(t, srv, "", "pipe", "--file", log, "--state", state)
	assert.Equal(t, ExitOK, r.code, r.stderr)
	assert.Contains(t, r.stderr, "resuming "+log+" after line 502")
	n, sum = received(srv, "loader.v")
	assert.Equal(t, int64(701), n, "nothing sent twice, nothing lost")
	assert.Equal(t, sumTo(701), sum)

	r = runCLI(t, srv, "", "pipe", "--file", log, "--state", state)
	assert.Contains(t, r.stderr, "0 lines read, 0 measurements sent")
	r = runCLI(t, srv, "", "pipe", "--file", log, "--state", state, "--from-start")
	assert.Contains(t, r.stderr, "701 measurements sent")

	for _, args := range [][]string{{"pipe", "--follow"}, {"pipe", "--state", state}, {"pipe", "--file", log, "--from-start"}} {
		assert.Equal(t, ExitUsage, runCLI(t, srv, "", args...).code, args)
	}
}

// TestPipeFileFollowsRotation: the loader follows a file that grows, is renamed and created anew,
// and is truncated in place; every line arrives once.
func TestPipeFileFollowsRotation(t *testing.T) {
	srv := newFake(t)
	dir := t.TempDir()
	log, state := filepath.Join(dir, "app.log"), filepath.Join(dir, "pipe.state")
	appendFile(t, log, logLines(0, 100))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env, _, errOut := testEnv(srv, "", nil)
	cmd := &pipeCmd{format: newChoice("lines", "lines", "json"), file: log, follow: true, state: state, batch: 50,
		interval: 20 * time.Millisecond, poll: 5 * time.Millisecond, retryWait: 10 * time.Millisecond}
	cl, err := (&connFlags{timeout: 5 * time.Second}).connect(env)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- cmd.runFile(ctx, env, cl) }()
	waitFor := func(n int64) {
		t.Helper()
		require.Eventually(t, func() bool { c, _ := received(srv, "loader.v"); return c >= n }, 10*time.Second, 5*time.Millisecond)
	}
	waitFor(100)
	appendFile(t, log, logLines(100, 200))
	waitFor(200)
	// Rotated by rename: lines written to the old file after the rename still count.
	require.NoError(t, os.Rename(log, log+".1"))
	appendFile(t, log+".1", logLines(200, 250))
	appendFile(t, log, logLines(250, 300))
	waitFor(300)
	// Truncated in place (copytruncate).
	require.NoError(t, os.Truncate(log, 0))
	appendFile(t, log, logLines(300, 320))
	waitFor(320)
	cancel()
	require.NoError(t, <-done, errOut.String())
	n, sum := received(srv, "loader.v")
	assert.Equal(t, int64(320), n, "each line once")
	assert.Equal(t, sumTo(320), sum)
}

// TestPipeFileSurvivesKill: a child process loads a growing log with --follow --state against a
// slow API and is killed with SIGKILL at random moments, then started again, 10 times. Nothing is
// lost; what is sent twice is at most one batch per kill.
func TestPipeFileSurvivesKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes; skipped with -short")
	}
	srv := newFake(t)
	require.NoError(t, srv.AddFault(libratotest.Fault{Latency: 5 * time.Millisecond, Rate: 1}))
	dir := t.TempDir()
	log, state := filepath.Join(dir, "app.log"), filepath.Join(dir, "pipe.state")
	const total, kills, batch = 30000, 10, 50
	written := 0
	write := func(n int) {
		n = min(n, total-written)
		appendFile(t, log, logLines(written, written+n))
		written += n
	}
	write(500)
	start := func(follow bool) *exec.Cmd {
		args := []string{"-test.run=^TestPipeFileChild$", "--", "pipe", "--file", log, "--state", state, "--batch", fmt.Sprint(batch), "--interval", "10ms"}
		if follow {
			args = append(args, "--follow")
		}
		cmd := exec.Command(os.Args[0], args...)
		cmd.Env = append(os.Environ(), "LIBRATO_PIPE_CHILD=1", "LIBRATO_USER="+testUser, "LIBRATO_TOKEN="+testToken, "LIBRATO_URL="+srv.URL)
		require.NoError(t, cmd.Start())
		return cmd
	}
	midFile := 0 // kills that came while lines were still unsent
	for range kills {
		cmd := start(true)
		for range 5 {
			time.Sleep(time.Duration(10+rand.IntN(40)) * time.Millisecond)
			write(400)
		}
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		_ = cmd.Wait()
		if n, _ := received(srv, "loader.v"); n < int64(written) {
			midFile++
		}
	}
	assert.GreaterOrEqual(t, midFile, kills/2, "most kills must come mid-file, or the test shows little")
	write(total)
	cmd := start(false) // to the end of the file, then exit
	require.NoError(t, cmd.Wait())
	n, sum := received(srv, "loader.v")
	require.Equal(t, total, written)
	assert.GreaterOrEqual(t, n, int64(total), "lost: %d", int64(total)-n)
	assert.LessOrEqual(t, n-int64(total), int64(kills*batch), "duplicates beyond one batch per kill")
	assert.GreaterOrEqual(t, sum, sumTo(total))
	t.Logf("%d lines, %d kills (%d mid-file): %d measurements arrived (%d sent twice)", total, kills, midFile, n, n-int64(total))
}

// TestPipeFileChild is the child of TestPipeFileSurvivesKill: it runs the command line after "--".
func TestPipeFileChild(t *testing.T) {
	if os.Getenv("LIBRATO_PIPE_CHILD") != "1" {
		t.Skip("the child of TestPipeFileSurvivesKill")
	}
	args := os.Args
	for i, a := range args {
		if a == "--" {
			args = args[i+1:]
			break
		}
	}
	os.Exit(Main(context.Background(), args, os.Stdin, os.Stdout, os.Stderr, os.Getenv))
}
