package spool

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// payloadFor returns a distinct payload for record i, n bytes long.
func payloadFor(i, n int) []byte {
	p := []byte(fmt.Sprintf(`{"i":%d,"pad":"`, i))
	for len(p) < n-2 {
		p = append(p, byte('a'+i%26))
	}
	return append(p, `"}`...)
}

func open(t *testing.T, dir string, o *Options) *Spool {
	t.Helper()
	s, err := Open(dir, o)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// pending collects the pending records.
func pending(t *testing.T, s *Spool) []Record {
	t.Helper()
	var out []Record
	for r, err := range s.Pending() {
		require.NoError(t, err)
		out = append(out, r)
	}
	return out
}

func payloads(rs []Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r.Payload)
	}
	return out
}

func TestAppendPendingAckReopen(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, nil)
	created := time.Unix(1700000000, 123)
	ids, err := s.Append(
		Record{Kind: Legacy, Count: 2, Created: created, Payload: []byte("a")},
		Record{Kind: Tagged, Count: 3, Payload: []byte("b")},
	)
	require.NoError(t, err)
	require.Equal(t, []uint64{1, 2}, ids)
	ids2, err := s.Append(Record{Kind: Tagged, Count: 1, Payload: []byte("c")})
	require.NoError(t, err)
	require.Equal(t, []uint64{3}, ids2)

	got := pending(t, s)
	require.Len(t, got, 3)
	assert.Equal(t, []string{"a", "b", "c"}, payloads(got))
	assert.Equal(t, Record{ID: 1, Kind: Legacy, Count: 2, Created: created, Payload: []byte("a")}, got[0])
	assert.Equal(t, Tagged, got[1].Kind)
	assert.Equal(t, 3, got[1].Count)
	assert.WithinDuration(t, time.Now(), got[1].Created, time.Minute)

	require.NoError(t, s.Ack(2, 99)) // unknown ids are ignored
	require.NoError(t, s.Ack(2))     // twice is fine
	st := s.Stats()
	assert.Equal(t, 2, st.Records)
	assert.Equal(t, int64(3), st.Measurements)
	assert.Equal(t, int64(2*recordSize(1)), st.Bytes)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	_, err = s.Append(Record{Payload: []byte("x")})
	assert.ErrorIs(t, err, ErrClosed)

	s2 := open(t, dir, nil)
	assert.Equal(t, []string{"a", "c"}, payloads(pending(t, s2)))
	ids3, err := s2.Append(Record{Payload: []byte("d")})
	require.NoError(t, err)
	assert.Equal(t, []uint64{4}, ids3, "ids keep increasing across a restart")
	assert.Equal(t, 0, s2.Stats().Damaged)
}

func TestAppendValidation(t *testing.T) {
	s := open(t, t.TempDir(), &Options{MaxBytes: 1000})
	for name, r := range map[string]Record{
		"kind":     {Kind: 7},
		"count":    {Count: -1},
		"over cap": {Payload: make([]byte, 1000)},
	} {
		_, err := s.Append(r)
		assert.Error(t, err, name)
	}
	ids, err := s.Append()
	assert.NoError(t, err)
	assert.Empty(t, ids)
	assert.Equal(t, 0, s.Len())
}

func TestOpenLocked(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, nil)
	_, err := Open(dir, nil)
	require.ErrorIs(t, err, ErrInUse)
	assert.Contains(t, err.Error(), "is in use by pid "+strconv.Itoa(os.Getpid()))
	assert.Contains(t, err.Error(), dir)
	require.NoError(t, s.Close())
	s2, err := Open(dir, nil)
	require.NoError(t, err, "the lock is released by Close")
	require.NoError(t, s2.Close())
}

// TestOpenLockedOtherProcess holds the lock in a child process (this test binary re-executed).
func TestOpenLockedOtherProcess(t *testing.T) {
	if dir := os.Getenv("SPOOL_TEST_HOLD"); dir != "" {
		s, err := Open(dir, nil)
		if err != nil {
			fmt.Println("error:", err)
			os.Exit(1)
		}
		fmt.Println("locked")
		time.Sleep(time.Minute) // killed by the parent
		s.Close()
		return
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestOpenLockedOtherProcess$")
	cmd.Env = append(os.Environ(), "SPOOL_TEST_HOLD="+dir)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	defer cmd.Process.Kill()
	buf := make([]byte, 64)
	n, _ := out.Read(buf)
	require.Contains(t, string(buf[:n]), "locked")

	_, err = Open(dir, nil)
	require.ErrorIs(t, err, ErrInUse)
	assert.Contains(t, err.Error(), fmt.Sprintf("in use by pid %d", cmd.Process.Pid))

	// SIGKILL releases the lock: no stale lock file blocks the restart.
	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	s, err := Open(dir, nil)
	require.NoError(t, err)
	require.NoError(t, s.Close())
}

func TestMaxBytesDropsOldest(t *testing.T) {
	dir := t.TempDir()
	size := int64(recordSize(100))
	var dropped []Record
	o := &Options{MaxBytes: 5 * size, NoSync: true, OnDrop: func(rs []Record) { dropped = append(dropped, rs...) }}
	s := open(t, dir, o)
	for i := range 8 {
		_, err := s.Append(Record{Kind: Tagged, Count: i + 1, Payload: payloadFor(i, 100)})
		require.NoError(t, err)
	}
	require.Len(t, dropped, 3)
	for i, r := range dropped {
		assert.Equal(t, uint64(i+1), r.ID)
		assert.Equal(t, i+1, r.Count)
		assert.Equal(t, string(payloadFor(i, 100)), string(r.Payload), "dropped records come with their payload")
	}
	st := s.Stats()
	assert.Equal(t, uint64(3), st.DroppedOverCap)
	assert.Equal(t, uint64(1+2+3), st.DroppedMeasurements)
	assert.Equal(t, 5, st.Records)
	assert.LessOrEqual(t, st.Bytes, o.MaxBytes)
	want := []string{string(payloadFor(3, 100)), string(payloadFor(4, 100)), string(payloadFor(5, 100)), string(payloadFor(6, 100)), string(payloadFor(7, 100))}
	assert.Equal(t, want, payloads(pending(t, s)))
	require.NoError(t, s.Close())

	s2 := open(t, dir, o)
	assert.Equal(t, want, payloads(pending(t, s2)), "drops survive a restart")
}

func TestSegmentsRotateAndAreRemoved(t *testing.T) {
	dir := t.TempDir()
	o := &Options{SegmentBytes: 64 << 10, MaxBytes: -1, NoSync: true}
	s := open(t, dir, o)
	var ids []uint64
	for i := range 40 {
		id, err := s.Append(Record{Payload: payloadFor(i, 8000)})
		require.NoError(t, err)
		ids = append(ids, id...)
	}
	segs := func() int {
		m, err := filepath.Glob(filepath.Join(dir, "*"+segExt))
		require.NoError(t, err)
		return len(m)
	}
	require.Greater(t, segs(), 4)
	assert.Equal(t, segs(), s.Stats().Segments)
	require.NoError(t, s.Ack(ids[:20]...))
	mid := segs()
	assert.Less(t, mid, s.Stats().Segments+1)
	require.NoError(t, s.Ack(ids[20:]...))
	assert.Equal(t, 1, segs(), "only the active segment is left")
	assert.Equal(t, 0, s.Len())
	require.NoError(t, s.Close())
	s2 := open(t, dir, o)
	assert.Empty(t, pending(t, s2))
}

func TestConcurrentAppendGroupCommit(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, &Options{MaxBytes: -1})
	const workers, each = 8, 25
	var wg sync.WaitGroup
	var mu sync.Mutex
	seen := map[uint64]string{}
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				p := payloadFor(w*1000+i, 2000)
				ids, err := s.Append(Record{Payload: p})
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				seen[ids[0]] = string(p)
				mu.Unlock()
				if i%3 == 0 {
					assert.NoError(t, s.Ack(ids[0]))
					mu.Lock()
					delete(seen, ids[0])
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	st := s.Stats()
	assert.Equal(t, uint64(workers*each), st.Appended)
	assert.LessOrEqual(t, st.Syncs, st.Appended)
	t.Logf("appended %d records with %d fsyncs", st.Appended, st.Syncs)
	require.NoError(t, s.Close())

	s2 := open(t, dir, nil)
	got := map[uint64]string{}
	prev := uint64(0)
	for _, r := range pending(t, s2) {
		assert.Greater(t, r.ID, prev, "oldest first")
		prev = r.ID
		got[r.ID] = string(r.Payload)
	}
	assert.Equal(t, seen, got)
}

func TestOpenErrors(t *testing.T) {
	_, err := Open("", nil)
	assert.Error(t, err)
	f := filepath.Join(t.TempDir(), "file")
	require.NoError(t, os.WriteFile(f, nil, 0o600))
	_, err = Open(f, nil)
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), "spool: "), err.Error())
}

// TestConcurrentAppendOverCap: appenders racing past MaxBytes; every record is either pending
// or reported dropped with its payload, exactly once.
func TestConcurrentAppendOverCap(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	dropped := map[string]int{}
	o := &Options{MaxBytes: 20 * int64(recordSize(500)), NoSync: true, OnDrop: func(rs []Record) {
		mu.Lock()
		defer mu.Unlock()
		for _, r := range rs {
			dropped[string(r.Payload)]++
		}
	}}
	s := open(t, dir, o)
	const workers, each = 6, 40
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				_, err := s.Append(Record{Payload: payloadFor(w*1000+i, 500)})
				assert.NoError(t, err)
			}
		})
	}
	wg.Wait()
	require.NoError(t, s.Close())
	s2 := open(t, dir, o)
	kept := map[string]int{}
	for _, r := range pending(t, s2) {
		kept[string(r.Payload)]++
	}
	assert.Len(t, kept, 20)
	for w := range workers {
		for i := range each {
			p := payloadFor(w*1000+i, 500)
			assert.Equal(t, 1, kept[string(p)]+dropped[string(p)], "record %d/%d", w, i)
		}
	}
	assert.Equal(t, uint64(workers*each-20), s.Stats().DroppedOverCap)
}

// TestConcurrentAppendAckAcrossSegments: appenders that ack at once, with fsync, across many
// segment rotations. A regression test: an ack record queued in a segment just before it was
// rotated away and removed left it in the fsync list, and the next fsync failed on its closed
// file (EBADF), breaking the spool.
func TestConcurrentAppendAckAcrossSegments(t *testing.T) {
	s := open(t, t.TempDir(), &Options{MaxBytes: -1, SegmentBytes: 64 << 10})
	payload := payloadFor(1, 20000)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 150 {
				ids, err := s.Append(Record{Payload: payload})
				if !assert.NoError(t, err) {
					return
				}
				if !assert.NoError(t, s.Ack(ids...)) {
					return
				}
			}
		})
	}
	wg.Wait()
	st := s.Stats()
	assert.Zero(t, st.Records)
	assert.Equal(t, uint64(600), st.Appended)
	assert.LessOrEqual(t, st.Segments, 2, "acknowledged segments are removed")
}
