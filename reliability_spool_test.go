package librato_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestFaultKillWithSpool: a child process (this test binary) adds 1000 measurements to a Queue
// with a SpoolDir and is killed with SIGKILL while the API holds its third POST, which it has
// accepted. A new Queue on the directory delivers the rest: nothing is lost, and exactly the
// 100 measurements of the chunk whose answer died with the process arrive twice.
func TestFaultKillWithSpool(t *testing.T) {
	const n = 1000
	if dir := os.Getenv("LIBRATO_FAULT_SPOOL_DIR"); dir != "" {
		c, err := librato.Connect("test@example.com", "libratotest-token",
			librato.WithBaseURL(os.Getenv("LIBRATO_FAULT_URL")+"/v1/"), librato.WithRetry(librato.RetryPolicy{MaxAttempts: 1}))
		require.NoError(t, err)
		q := newQueue(t, c, librato.QueueOptions{ChunkSize: 100, SpoolDir: dir})
		addN(t, q, n, time.Now())
		err = q.Flush(context.Background()) // hangs on the third POST until killed
		fmt.Println("submit returned; the parent should have killed us:", err)
		os.Exit(3)
	}
	e := newFaultEnv(t)
	e.next(pass, pass, acceptHang)
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestFaultKillWithSpool$", "-test.count=1")
	cmd.Env = append(os.Environ(), "LIBRATO_FAULT_SPOOL_DIR="+dir, "LIBRATO_FAULT_URL="+e.fake.URL)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	require.NoError(t, cmd.Start())
	select {
	case <-e.hung:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the child never reached its third POST")
	}
	require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
	_ = cmd.Wait()
	assert.Equal(t, "signal: killed", cmd.ProcessState.String())
	e.mu.Lock()
	require.Len(t, e.accepted, 300, "three chunks reached the API before the kill")
	e.mu.Unlock()

	l := newLedger(n)
	q := newQueue(t, e.client(), librato.QueueOptions{ChunkSize: 100, SpoolDir: dir, OnDrop: l.onDrop})
	_, err := e.client().NewQueue(librato.QueueOptions{SpoolDir: dir})
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("is in use by pid %d", os.Getpid()))

	require.NoError(t, q.Flush(context.Background()))
	require.NoError(t, q.Close(context.Background()))
	o := account(t, e, l, n)
	assert.Equal(t, outcome{added: n, accepted: n, duplicates: 100}, o)
	assert.Equal(t, uint64(800), q.Stats().Sent, "the new Queue sent the 8 chunks left in the spool")
}

// TestFaultCloseWithSpoolKeepsData: Close against a server that never answers returns by its
// deadline, drops nothing and says how many measurements stay in the spool; the next Queue on
// the directory delivers them.
func TestFaultCloseWithSpoolKeepsData(t *testing.T) {
	const n = 500
	e := newFaultEnv(t)
	require.NoError(t, e.fake.AddFault(libratotest.Fault{Latency: time.Hour, Rate: 1}))
	l := newLedger(n)
	dir := t.TempDir()
	q := newQueue(t, e.client(librato.WithTimeout(time.Hour)), librato.QueueOptions{ChunkSize: 100, SpoolDir: dir, OnDrop: l.onDrop})
	addN(t, q, n, time.Now())
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := q.Close(ctx)
	assert.Less(t, time.Since(start), time.Second)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "500 measurements kept in the spool")
	assert.Zero(t, q.Stats().Dropped)

	e.fake.ClearFaults()
	q2 := newQueue(t, e.client(), librato.QueueOptions{ChunkSize: 100, SpoolDir: dir, OnDrop: l.onDrop})
	require.NoError(t, q2.Close(context.Background()))
	assert.Equal(t, outcome{added: n, accepted: n}, account(t, e, l, n))
}

// A Queue with a background flusher replays what a previous process left in its spool at once,
// without waiting for an Add or the first tick, and Stats shows the spool draining.
func TestSpoolReplaysOnStart(t *testing.T) {
	const n = 200
	e := newFaultEnv(t)
	require.NoError(t, e.fake.AddFault(libratotest.Fault{Latency: time.Hour, Rate: 1}))
	l := newLedger(n)
	dir := t.TempDir()
	q := newQueue(t, e.client(librato.WithTimeout(time.Hour)), librato.QueueOptions{ChunkSize: 100, SpoolDir: dir, OnDrop: l.onDrop})
	addN(t, q, n, time.Now())
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	require.Error(t, q.Close(ctx))

	e.fake.ClearFaults()
	q2 := newQueue(t, e.client(), librato.QueueOptions{SpoolDir: dir, FlushInterval: time.Hour, OnDrop: l.onDrop})
	require.Eventually(t, func() bool { return q2.Stats().Spooled == 0 }, 5*time.Second, 10*time.Millisecond,
		"the spool was not replayed before the first tick")
	assert.Equal(t, outcome{added: n, accepted: n}, account(t, e, l, n))
	require.NoError(t, q2.Close(context.Background()))
}
