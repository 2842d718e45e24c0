package spool

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// smallDisk mounts a tmpfs of size (such as "1m") on a fresh directory and returns it.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skipf("the full-disk test mounts a %s tmpfs, which needs root (running as uid %d)", size, os.Geteuid())
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("the full-disk test could not mount a %s tmpfs on %s (%v: %s)", size, dir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", dir, err, out)
		}
	})
	return dir
}

// model is what a caller knows it put into the spool and took out.
type model struct {
	live map[uint64]string // unacknowledged: id -> payload
	meas map[uint64]int
}

func (m *model) measurements() int64 {
	var n int64
	for id := range m.live {
		n += int64(m.meas[id])
	}
	return n
}

// fill appends records of size bytes until the disk is full, checking that the failure
// wraps ENOSPC and leaves nothing behind. It returns how many went in.
func (m *model) fill(t *testing.T, s *Spool, size int) int {
	t.Helper()
	n := 0
	for i := 0; ; i++ {
		before := s.Stats()
		p := payloadFor(len(m.meas)+1000*size, size)
		ids, err := s.Append(Record{Kind: Tagged, Count: 7, Payload: p},
			Record{Kind: Tagged, Count: 5, Payload: p[:len(p)/2]})
		if err != nil {
			require.ErrorIs(t, err, syscall.ENOSPC)
			after := s.Stats()
			assert.Equal(t, before.Records, after.Records, "a failed Append leaves nothing")
			assert.Equal(t, before.Measurements, after.Measurements)
			assert.Equal(t, before.Appended, after.Appended)
			assert.Equal(t, before.WriteErrors+1, after.WriteErrors)
			return n
		}
		require.Len(t, ids, 2)
		m.live[ids[0]], m.meas[ids[0]] = string(p), 7
		m.live[ids[1]], m.meas[ids[1]] = string(p[:len(p)/2]), 5
		n++
		require.Less(t, i, 100000, "the disk never filled")
	}
}

// fillTiny appends records without payload until the disk is full: no ack record fits then.
func (m *model) fillTiny(t *testing.T, s *Spool) {
	t.Helper()
	for i := 0; ; i++ {
		ids, err := s.Append(Record{Count: 1})
		if err != nil {
			require.ErrorIs(t, err, syscall.ENOSPC)
			return
		}
		m.live[ids[0]], m.meas[ids[0]] = "", 1
		require.Less(t, i, 100000, "the disk never filled")
	}
}

// check asserts that s holds exactly what the model says.
func (m *model) check(t *testing.T, s *Spool) {
	t.Helper()
	st := s.Stats()
	assert.Equal(t, len(m.live), st.Records)
	assert.Equal(t, m.measurements(), st.Measurements, "Stats.Measurements is what was appended and not acknowledged")
	got := map[uint64]string{}
	for _, r := range pending(t, s) {
		got[r.ID] = string(r.Payload)
	}
	assert.Equal(t, m.live, got)
}

func (m *model) ack(t *testing.T, s *Spool, ids ...uint64) {
	t.Helper()
	require.NoError(t, s.Ack(ids...), "Ack does not fail for a full disk")
	for _, id := range ids {
		delete(m.live, id)
	}
}

func (m *model) oldest(n int) []uint64 {
	var ids []uint64
	for id := range m.live {
		ids = append(ids, id)
	}
	slicesSort(ids)
	return ids[:min(n, len(ids))]
}

func slicesSort(ids []uint64) {
	for i := 1; i < len(ids); i++ {
		for j := i; j > 0 && ids[j] < ids[j-1]; j-- {
			ids[j], ids[j-1] = ids[j-1], ids[j]
		}
	}
}

// TestFullDisk fills a 1 MiB tmpfs: Append fails with ENOSPC and leaves nothing half-counted;
// acks that cannot be written stay acknowledged in memory and are written later; deleting
// acknowledged segments frees the disk; and after a reopen the spool holds exactly the
// unacknowledged records, plus, counted as restored, those whose acks never reached the disk.
func TestFullDisk(t *testing.T) {
	dir := filepath.Join(smallDisk(t, "1m"), "spool")
	o := &Options{MaxBytes: -1, SegmentBytes: 64 << 10}
	s, err := Open(dir, o)
	require.NoError(t, err)
	defer s.Close()
	m := &model{live: map[uint64]string{}, meas: map[uint64]int{}}

	// Fill the disk with big records, then smaller ones into what is left.
	require.Greater(t, m.fill(t, s, 10000), 10)
	m.fill(t, s, 500)
	m.fill(t, s, 20)
	m.fillTiny(t, s)
	m.check(t, s)

	// A second spool on the full disk, whose Append drops a record of its own failed batch to
	// stay under its cap: the drop is taken back with the rest of the batch.
	var dropped []Record
	capped, err := Open(filepath.Join(filepath.Dir(dir), "capped"), &Options{MaxBytes: int64(recordSize(3000)) * 3 / 2,
		OnDrop: func(rs []Record) { dropped = append(dropped, rs...) }})
	require.NoError(t, err, "opening needs no room")
	_, err = capped.Append(Record{Count: 1, Payload: payloadFor(1, 3000)}, Record{Count: 2, Payload: payloadFor(2, 3000)})
	require.ErrorIs(t, err, syscall.ENOSPC)
	assert.Zero(t, len(dropped), "no drop reported for a failed batch")
	cst := capped.Stats()
	assert.Zero(t, cst.DroppedOverCap)
	assert.Zero(t, cst.DroppedMeasurements)
	assert.Zero(t, cst.Records)
	assert.Zero(t, cst.Appended)
	if err := capped.Close(); err != nil {
		require.ErrorIs(t, err, syscall.ENOSPC, "its checkpoint has no room either")
	}

	// Acks on a full disk: acknowledged at once, in memory; written with the next write.
	first := m.oldest(4)
	m.ack(t, s, first...) // in the first segment, which cannot go yet: the ack has no room
	st := s.Stats()
	assert.Equal(t, 4, st.UnwrittenAcks)
	assert.Equal(t, int64(7+5+7+5), st.UnwrittenAckMeasurements)
	m.check(t, s)

	// Acking the oldest half frees whole segments: they are deleted, the disk has room again.
	m.ack(t, s, m.oldest(len(m.live)/2)...)
	m.check(t, s)
	ids, err := s.Append(Record{Count: 3, Payload: []byte("after reclaim")})
	require.NoError(t, err, "deleting acknowledged segments freed the disk")
	m.live[ids[0]], m.meas[ids[0]] = "after reclaim", 3
	st = s.Stats()
	assert.Zero(t, st.UnwrittenAcks, "the backlog of acks went with the next write")
	m.check(t, s)

	// Fill again and ack within the active segment only: those acks stay unwritten through
	// Close, and come back after the reopen, counted as restored.
	m.fill(t, s, 20)
	m.fillTiny(t, s)
	newest := m.oldest(len(m.live))
	last := newest[len(newest)-3:]
	m.ack(t, s, last...)
	st = s.Stats()
	assert.Equal(t, 3, st.UnwrittenAcks)
	restoredMeas := st.UnwrittenAckMeasurements
	m.check(t, s)
	require.ErrorIs(t, s.Close(), syscall.ENOSPC, "Close says the acks could not be written")

	var damage []Damage
	s2, err := Open(dir, &Options{MaxBytes: -1, SegmentBytes: 64 << 10, OnDamage: func(d Damage) { damage = append(damage, d) }})
	require.NoError(t, err)
	defer s2.Close()
	require.Len(t, damage, 1)
	assert.Equal(t, Damage{Segment: damage[0].Segment, Offset: damage[0].Offset, RestoredRecords: 3,
		RestoredMeasurements: restoredMeas, Exact: true, Reason: reasonUnwritten}, damage[0])
	st = s2.Stats()
	assert.Equal(t, m.measurements(), st.Measurements-int64(st.RestoredMeasurements),
		"after the reopen: unacknowledged + restored, nothing else")
	for _, id := range last {
		m.live[id] = "restored"
	}
	assert.Equal(t, len(m.live), st.Records)
	require.NoError(t, s2.Ack(last...))
	for _, id := range last {
		delete(m.live, id)
	}
	m.check(t, s2)

	// Everything acknowledged on a full disk: the segments are deleted, which makes room for
	// the acks, and Close succeeds.
	require.NoError(t, s2.Ack(m.oldest(len(m.live))...))
	clear(m.live)
	m.check(t, s2)
	require.NoError(t, s2.Close(), "deleting acknowledged segments made room for the acks")

	s3, err := Open(dir, o)
	require.NoError(t, err)
	defer s3.Close()
	m.check(t, s3)
	st = s3.Stats()
	assert.Zero(t, st.Damaged)
	assert.Equal(t, 1, st.Segments)
	_, err = s3.Append(Record{Payload: make([]byte, 200<<10)})
	require.NoError(t, err, "the disk is free again")
}

// TestFullDiskConcurrent: appenders and ackers racing on a full disk. Every Append either
// returned ids (its records are in the spool until acknowledged) or failed with ENOSPC (none of
// its records are); Stats agrees at the end, and after a reopen.
func TestFullDiskConcurrent(t *testing.T) {
	dir := filepath.Join(smallDisk(t, "512k"), "spool")
	o := &Options{MaxBytes: -1, SegmentBytes: 64 << 10}
	s, err := Open(dir, o)
	require.NoError(t, err)
	var mu sync.Mutex
	m := &model{live: map[uint64]string{}, meas: map[uint64]int{}}
	var failures int
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 150 {
				p := payloadFor(w*1000+i, 3000)
				ids, err := s.Append(Record{Count: 2, Payload: p})
				mu.Lock()
				if err != nil {
					assert.ErrorIs(t, err, syscall.ENOSPC)
					failures++
				} else {
					m.live[ids[0]], m.meas[ids[0]] = string(p), 2
				}
				var ack []uint64
				if i%2 == 1 {
					ack = m.oldest(1)
					for _, id := range ack {
						delete(m.live, id)
					}
				}
				mu.Unlock()
				assert.NoError(t, s.Ack(ack...))
			}
		})
	}
	wg.Wait()
	t.Logf("%d appends failed for a full disk; %d records left", failures, len(m.live))
	assert.Positive(t, failures, "the disk filled")
	m.check(t, s)
	unwritten := s.Stats().UnwrittenAckMeasurements
	closeErr := s.Close()
	if unwritten == 0 {
		assert.NoError(t, closeErr)
	}
	s2, err := Open(dir, o)
	require.NoError(t, err)
	defer s2.Close()
	st := s2.Stats()
	assert.Equal(t, m.measurements(), st.Measurements-int64(st.RestoredMeasurements), "after a reopen")
	assert.Zero(t, st.DamagedMeasurements)
}
