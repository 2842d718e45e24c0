package librato

import (
	"context"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSpoolFullDiskKeepsTheCountsExact puts a Queue's spool on a 1 MiB tmpfs and adds far more
// than fits, while the API is down, then lets the API take everything. While the disk is full
// the queue keeps what the spool refused in memory (Queued) and says why; at every step
// Queued + Spooled + Sent + Dropped == added, so nothing is counted twice or lost unseen; in
// the end everything arrives exactly once.
func TestSpoolFullDiskKeepsTheCountsExact(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skipf("the full-disk test mounts a 1 MiB tmpfs, which needs root (running as uid %d)", os.Geteuid())
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("the full-disk test could not mount a 1 MiB tmpfs on %s (%v: %s)", dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})

	api := newSpoolAPI(t)
	api.set(func(a *spoolAPI) { a.failAll = true })
	c := spoolClient(t, api.URL)
	q := spoolQueue(t, c, QueueOptions{ChunkSize: 100, SpoolDir: dir, SpoolMaxBytes: -1, SpoolInterval: time.Hour, MaxPending: -1})
	const total = 40_000 // about 2.5 MB of chunks: well over the disk
	check := func(when string) QueueStats {
		st := q.Stats()
		assert.Equal(t, uint64(0), st.Rejected, when)
		assert.Equal(t, total, st.Queued+st.Spooled+int(st.Sent)+int(st.Dropped), "%s: %+v", when, st)
		return st
	}
	addIDs(t, q, 0, total)
	err := q.Flush(context.Background())
	require.Error(t, err)
	assert.ErrorIs(t, err, syscall.ENOSPC, "the error says the disk is full")
	st := check("disk full, API down")
	assert.Positive(t, st.Queued, "what the spool refused stays in memory")
	assert.Positive(t, st.Spooled, "what fit is on disk")
	assert.Zero(t, st.Dropped)

	api.set(func(a *spoolAPI) { a.failAll = false })
	for i := 0; i < 50 && (q.Stats().Spooled > 0 || q.Stats().Queued > 0); i++ {
		_ = q.Flush(context.Background()) // each drains what is on disk, which frees room for the rest
		check("draining")
	}
	st = check("drained")
	assert.Zero(t, st.Queued)
	assert.Zero(t, st.Spooled)
	assert.Equal(t, uint64(total), st.Sent)
	require.NoError(t, q.Close(context.Background()))
	acc, dups, missing := api.tally(total)
	assert.Equal(t, total, acc)
	assert.Zero(t, dups, "nothing delivered is sent again")
	assert.Empty(t, missing)
}
