package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// spoolFiles is the content of a spool directory: its segment files and checkpoint by name.
type spoolFiles map[string][]byte

func snapshot(t *testing.T, dir string) spoolFiles {
	t.Helper()
	files := spoolFiles{}
	des, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, de := range des {
		if name := de.Name(); strings.HasSuffix(name, segExt) || name == checkpointName {
			b, err := os.ReadFile(filepath.Join(dir, name))
			require.NoError(t, err)
			files[name] = b
		}
	}
	return files
}

// restore makes dir hold exactly files (the lock file aside). It rewrites files in place,
// which is much cheaper than creating them again on a journaling file system.
func (files spoolFiles) restore(t *testing.T, dir string) {
	t.Helper()
	des, err := os.ReadDir(dir)
	require.NoError(t, err)
	for _, de := range des {
		name := de.Name()
		if _, keep := files[name]; !keep && (strings.HasSuffix(name, segExt) || name == checkpointName) {
			require.NoError(t, os.Remove(filepath.Join(dir, name)))
		}
	}
	for name, b := range files {
		f, err := os.OpenFile(filepath.Join(dir, name), os.O_RDWR|os.O_CREATE, 0o600)
		require.NoError(t, err)
		_, err = f.WriteAt(b, 0)
		require.NoError(t, err)
		require.NoError(t, f.Truncate(int64(len(b))))
		require.NoError(t, f.Close())
	}
}

// with returns a copy of files with name replaced by b.
func (files spoolFiles) with(name string, b []byte) spoolFiles {
	out := spoolFiles{}
	for k, v := range files {
		out[k] = v
	}
	out[name] = b
	return out
}

// reopen opens dir, collecting what OnDamage reports, and returns the stats, the damage and
// the pending records; the spool is closed again.
func reopen(t *testing.T, dir string) (Stats, []Damage, []Record) {
	t.Helper()
	var damage []Damage
	s, err := Open(dir, &Options{NoSync: true, OnDamage: func(d Damage) { damage = append(damage, d) }})
	require.NoError(t, err)
	recs := pending(t, s)
	st := s.Stats()
	require.NoError(t, s.Close())
	return st, damage, recs
}

// memDir returns a fresh directory in memory (/dev/shm) where there is one, else on disk: the
// exhaustive damage tests open a spool thousands of times, and on a journaling file system
// that is slow; what they test does not depend on the file system.
func memDir(t *testing.T) string {
	t.Helper()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if dir, err := os.MkdirTemp("/dev/shm", "spooltest"); err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}

// writeRecords writes n records of count measurements into a fresh spool and returns the
// directory, the segment's name and the payloads.
func writeRecords(t *testing.T, n, size, count int) (string, string, []string) {
	t.Helper()
	dir := memDir(t)
	s, err := Open(dir, &Options{NoSync: true})
	require.NoError(t, err)
	var want []string
	for i := range n {
		p := payloadFor(i, size)
		_, err := s.Append(Record{Kind: Tagged, Count: count, Payload: p})
		require.NoError(t, err)
		want = append(want, string(p))
	}
	require.NoError(t, s.Close())
	m, err := filepath.Glob(filepath.Join(dir, "*"+segExt))
	require.NoError(t, err)
	require.Len(t, m, 1)
	return dir, filepath.Base(m[0]), want
}

// sumDamage adds up what OnDamage reported and checks that it agrees with Stats.
func sumDamage(t *testing.T, st Stats, damage []Damage) (lost, restored int64, exact bool) {
	t.Helper()
	exact = true
	for _, d := range damage {
		lost += d.Measurements
		restored += d.RestoredMeasurements
		exact = exact && d.Exact
		assert.NotEmpty(t, d.Reason)
	}
	assert.Equal(t, len(damage), st.Damaged, "OnDamage calls and Stats.Damaged")
	assert.Equal(t, uint64(lost), st.DamagedMeasurements)
	assert.Equal(t, uint64(restored), st.RestoredMeasurements)
	return lost, restored, exact
}

// TestTornLastRecord truncates the segment at every byte offset of the last record: exactly the
// records before it come back, the lost one is counted exactly, and appending after it works.
// A second Open reports nothing again.
func TestTornLastRecord(t *testing.T) {
	dir, seg, want := writeRecords(t, 4, 300, 7)
	orig := snapshot(t, dir)
	last := len(orig[seg]) - recordSize(300)
	for cut := last; cut < len(orig[seg]); cut++ {
		orig.with(seg, orig[seg][:cut]).restore(t, dir)
		st, damage, recs := reopen(t, dir)
		assert.Equal(t, want[:3], payloads(recs), "cut at %d", cut)
		require.Len(t, damage, 1, "cut at %d", cut)
		assert.Equal(t, Damage{Segment: filepath.Join(dir, seg), Offset: int64(last), Length: int64(cut - last),
			Records: 1, Measurements: 7, Exact: true, Reason: damage[0].Reason}, damage[0], "cut at %d", cut)
		assert.Equal(t, uint64(1), st.DamagedRecords)

		s := open(t, dir, &Options{NoSync: true})
		_, err := s.Append(Record{Payload: []byte("after")})
		require.NoError(t, err)
		require.NoError(t, s.Close())
		st, damage, recs = reopen(t, dir)
		assert.Equal(t, append(want[:3:3], "after"), payloads(recs), "cut at %d: the torn tail was cut off", cut)
		assert.Empty(t, damage, "cut at %d: reported once", cut)
		assert.Equal(t, 0, st.Damaged)
	}
}

// TestFlippedBytes flips every byte of a segment, one at a time: exactly the records not
// containing it come back, and the damaged one is counted.
func TestFlippedBytes(t *testing.T) {
	dir, seg, want := writeRecords(t, 3, 60, 2)
	orig := snapshot(t, dir)
	size := recordSize(60)
	for pos := range orig[seg] {
		for _, flip := range []byte{0x01, 0xff} {
			b := bytes.Clone(orig[seg])
			b[pos] ^= flip
			orig.with(seg, b).restore(t, dir)
			st, damage, recs := reopen(t, dir)
			damaged := pos / size
			var exp []string
			for i, p := range want {
				if i != damaged {
					exp = append(exp, p)
				}
			}
			assert.Equal(t, exp, payloads(recs), "byte %d ^ %#x", pos, flip)
			if assert.Len(t, damage, 1, "byte %d ^ %#x", pos, flip) {
				assert.Equal(t, Damage{Segment: filepath.Join(dir, seg), Offset: int64(damaged * size), Length: int64(size),
					Records: 1, Measurements: 2, Exact: true, Reason: reasonDamaged}, damage[0], "byte %d ^ %#x", pos, flip)
			}
			assert.Equal(t, int64(4), st.Measurements)
		}
	}
}

// TestDamageAtEveryOffset: for a segment of 30 records of 100 measurements, a flipped byte, a
// truncation and a zeroed tail at every offset: the measurements that come back plus those
// reported lost are exactly those appended, every time, and the count is exact. A second Open
// reports nothing new and returns the same records. Small payloads keep the segment short.
func TestDamageAtEveryOffset(t *testing.T) {
	const n, count = 30, 100
	dir, seg, want := writeRecords(t, n, 20, count)
	orig := snapshot(t, dir)
	wantSet := map[string]bool{}
	for _, p := range want {
		wantSet[p] = true
	}
	damagers := map[string]func(b []byte, off int) []byte{
		"flip": func(b []byte, off int) []byte { b = bytes.Clone(b); b[off] ^= 0xff; return b },
		"cut":  func(b []byte, off int) []byte { return b[:off] },
		"zero": func(b []byte, off int) []byte {
			b = bytes.Clone(b)
			clear(b[off:])
			return b
		},
	}
	for name, damage := range damagers {
		t.Run(name, func(t *testing.T) {
			for off := range orig[seg] {
				orig.with(seg, damage(orig[seg], off)).restore(t, dir)
				st, reported, recs := reopen(t, dir)
				lost, restored, exact := sumDamage(t, st, reported)
				if !assert.Equal(t, int64(n*count), st.Measurements+lost, "%s at %d: back + lost", name, off) ||
					!assert.True(t, exact, "%s at %d: exact", name, off) {
					t.Logf("damage: %+v", reported)
					return
				}
				assert.Zero(t, restored)
				assert.NotEmpty(t, reported, "%s at %d", name, off)
				for _, r := range recs {
					assert.True(t, wantSet[string(r.Payload)], "%s at %d: a record comes back intact", name, off)
				}
				if off%4 != 0 {
					continue // the second Open at a quarter of the offsets keeps the test short
				}
				st2, again, recs2 := reopen(t, dir)
				assert.Empty(t, again, "%s at %d: reported once", name, off)
				assert.Equal(t, st.Measurements, st2.Measurements)
				assert.Equal(t, len(recs), len(recs2))
			}
		})
	}
}

// TestDamageWithAcksAtEveryOffset: a segment with acknowledgements among its records. A
// damaged ack brings records back; they are counted as restored. At every offset: back + lost −
// restored = appended − acknowledged, exactly.
func TestDamageWithAcksAtEveryOffset(t *testing.T) {
	const count = 10
	dir := memDir(t)
	s, err := Open(dir, &Options{NoSync: true})
	require.NoError(t, err)
	var acked int64
	for i := range 20 {
		ids, err := s.Append(Record{Kind: Tagged, Count: count, Payload: payloadFor(i, 20)})
		require.NoError(t, err)
		if i%3 == 1 {
			require.NoError(t, s.Ack(ids[0]-1, ids[0]))
			acked += 2 * count
		}
	}
	live := s.Stats().Measurements
	require.Equal(t, 20*count-acked, live)
	require.NoError(t, s.Close())
	orig := snapshot(t, dir)
	var seg string
	for name := range orig {
		if strings.HasSuffix(name, segExt) {
			seg = name
		}
	}
	inexact := 0
	for off := range orig[seg] {
		b := bytes.Clone(orig[seg])
		b[off] ^= 0xff
		orig.with(seg, b).restore(t, dir)
		st, reported, _ := reopen(t, dir)
		lost, restored, exact := sumDamage(t, st, reported)
		assert.Equal(t, live, st.Measurements+lost-restored, "flip at %d: back + lost - restored", off)
		if !exact {
			inexact++
		}
		if off%4 == 0 {
			_, again, _ := reopen(t, dir)
			assert.Empty(t, again, "flip at %d: reported once", off)
		}
	}
	assert.Zero(t, inexact, "a flipped byte damages one record: the counts are exact")
}

// TestLostAckRestores: a damaged ack record brings its records back, counted as restored,
// exactly, once.
func TestLostAckRestores(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, &Options{NoSync: true})
	require.NoError(t, err)
	var ids []uint64
	for i := range 10 {
		id, err := s.Append(Record{Count: 3, Payload: payloadFor(i, 50)})
		require.NoError(t, err)
		ids = append(ids, id...)
	}
	require.NoError(t, s.Ack(ids[:4]...))
	require.NoError(t, s.Close())
	orig := snapshot(t, dir)
	var seg string
	for name := range orig {
		if strings.HasSuffix(name, segExt) {
			seg = name
		}
	}
	b := bytes.Clone(orig[seg])
	b[len(b)-1] ^= 1 // the ack is the last record
	orig.with(seg, b).restore(t, dir)
	st, damage, recs := reopen(t, dir)
	assert.Len(t, recs, 10)
	require.Len(t, damage, 1)
	assert.Equal(t, int64(4), damage[0].RestoredRecords)
	assert.Equal(t, int64(12), damage[0].RestoredMeasurements)
	assert.Zero(t, damage[0].Records)
	assert.True(t, damage[0].Exact)
	assert.Equal(t, uint64(4), st.RestoredRecords)
	st, damage, recs = reopen(t, dir)
	assert.Empty(t, damage)
	assert.Len(t, recs, 10)
	assert.Zero(t, st.RestoredRecords)
}

// TestDamageWithoutCheckpoint: without a valid checkpoint a damaged tail cannot be counted;
// it is reported, flagged as not exact.
func TestDamageWithoutCheckpoint(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, &Options{NoSync: true})
	require.NoError(t, err)
	for i := range 5 {
		_, err := s.Append(Record{Count: 3, Payload: payloadFor(i, 50)})
		require.NoError(t, err)
	}
	require.NoError(t, s.Close())
	orig := snapshot(t, dir)
	seg := "0000000000000000" + segExt
	garbled := bytes.Repeat([]byte{0xee}, 2*slotSize)
	b := orig[seg]
	orig.with(seg, b[:len(b)-10]).with(checkpointName, garbled).restore(t, dir)
	st, damage, recs := reopen(t, dir)
	assert.Len(t, recs, 4)
	require.Len(t, damage, 1)
	assert.False(t, damage[0].Exact)
	assert.Equal(t, 1, st.InexactDamage)

	// A damaged record in the middle is still exact: valid records on both sides.
	b = bytes.Clone(b)
	b[recordSize(50)+3] ^= 0xff
	orig.with(seg, b).with(checkpointName, garbled).restore(t, dir)
	_, damage, recs = reopen(t, dir)
	assert.Len(t, recs, 4)
	require.Len(t, damage, 1)
	assert.True(t, damage[0].Exact)
	assert.Equal(t, int64(3), damage[0].Measurements)
}

// TestDamageFoundByPending: a record damaged on disk after Open is reported when Pending reads
// it, exactly and once, also across a reopen.
func TestDamageFoundByPending(t *testing.T) {
	dir := t.TempDir()
	var damage []Damage
	var s *Spool
	s, err := Open(dir, &Options{NoSync: true, OnDamage: func(d Damage) {
		damage = append(damage, d)
		_ = s.Stats() // OnDamage may call the Spool from Pending
	}})
	require.NoError(t, err)
	for i := range 5 {
		_, err := s.Append(Record{Count: 4, Payload: payloadFor(i, 50)})
		require.NoError(t, err)
	}
	segPath := filepath.Join(dir, "0000000000000000"+segExt)
	f, err := os.OpenFile(segPath, os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte{'X'}, int64(2*recordSize(50)+headerSize+5))
	require.NoError(t, err)
	require.NoError(t, f.Close())

	assert.Len(t, pending(t, s), 4)
	require.Len(t, damage, 1)
	assert.Equal(t, Damage{Segment: segPath, Offset: int64(2 * recordSize(50)), Length: int64(recordSize(50)),
		Records: 1, Measurements: 4, Exact: true, Reason: reasonReadBack}, damage[0])
	assert.Len(t, pending(t, s), 4)
	assert.Len(t, damage, 1, "reported once")
	st := s.Stats()
	assert.Equal(t, int64(16), st.Measurements)
	assert.Equal(t, uint64(4), st.DamagedMeasurements)
	require.NoError(t, s.Close())

	st, again, recs := reopen(t, dir)
	assert.Empty(t, again, "not reported again by Open")
	assert.Len(t, recs, 4)
	assert.Equal(t, int64(16), st.Measurements)
}

func TestOldFormatIsRefused(t *testing.T) {
	dir := t.TempDir()
	// A format 1 record: the same frame, the magic "LSP1".
	body := make([]byte, 24)
	body[0] = typeData
	binary.LittleEndian.PutUint64(body[8:], 1)
	rec := append([]byte(magicV1), 0, 0, 0, 0, 0, 0, 0, 0)
	binary.LittleEndian.PutUint32(rec[4:], uint32(len(body)))
	rec = append(rec, body...)
	binary.LittleEndian.PutUint32(rec[8:], recordCRC(rec[4:8], rec[frameSize:]))
	path := filepath.Join(dir, "0000000000000000"+segExt)
	require.NoError(t, os.WriteFile(path, rec, 0o600))
	_, err := Open(dir, nil)
	require.ErrorIs(t, err, errOldFormat)
	assert.Contains(t, err.Error(), path)
}

func TestGarbageFilesNeverPanic(t *testing.T) {
	for name, content := range map[string]string{
		"empty":       "",
		"text":        "hello, world",
		"magic only":  "LSP2LSP2LSP2",
		"long length": "LSP2\xff\xff\xff\x7f",
		"old magic":   "LSP1LSP1",
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(dir, "0000000000000000"+segExt), []byte(content), 0o600))
			s := open(t, dir, &Options{NoSync: true})
			assert.Empty(t, pending(t, s))
			assert.Equal(t, content != "", s.Stats().Damaged > 0)
			_, err := s.Append(Record{Payload: []byte("ok")})
			require.NoError(t, err)
		})
	}
}

// TestDamageAcrossSegments: a missing middle segment file, the oldest segment cut to nothing
// after older ones were deleted, and damage running from one segment file into the next are
// all counted exactly.
func TestDamageAcrossSegments(t *testing.T) {
	dir := memDir(t)
	o := &Options{NoSync: true, MaxBytes: -1, SegmentBytes: 64 << 10}
	s, err := Open(dir, o)
	require.NoError(t, err)
	const count = 9
	var ids []uint64
	for i := range 60 {
		id, err := s.Append(Record{Count: count, Payload: payloadFor(i, 5000)})
		require.NoError(t, err)
		ids = append(ids, id...)
		if i == 40 {
			require.NoError(t, s.Ack(ids[:15]...)) // the first segment goes
		}
	}
	live := s.Stats().Measurements
	require.NoError(t, s.Close())
	orig := snapshot(t, dir)
	var segs []string
	for name := range orig {
		if strings.HasSuffix(name, segExt) {
			segs = append(segs, name)
		}
	}
	slicesSortStrings(segs)
	require.GreaterOrEqual(t, len(segs), 4)
	require.NotEqual(t, "0000000000000000"+segExt, segs[0], "the oldest segment was deleted")

	check := func(name string, files spoolFiles) {
		t.Helper()
		files.restore(t, dir)
		st, damage, _ := reopen(t, dir)
		lost, restored, exact := sumDamage(t, st, damage)
		assert.True(t, exact, "%s: %+v", name, damage)
		assert.NotEmpty(t, damage, name)
		assert.Zero(t, restored, name)
		assert.Equal(t, live, st.Measurements+lost, name)
		assert.Zero(t, lost%count, name)
		_, again, _ := reopen(t, dir)
		assert.Empty(t, again, name)
	}
	without := func(name string) spoolFiles {
		out := spoolFiles{}
		for k, v := range orig {
			if k != name {
				out[k] = v
			}
		}
		return out
	}
	check("middle segment removed", without(segs[1]))
	check("newest segment removed", without(segs[len(segs)-1]))
	check("oldest segment emptied", orig.with(segs[0], nil))
	check("oldest segment removed", without(segs[0]))
	a, b := orig[segs[1]], orig[segs[2]]
	check("tail of one segment and head of the next", orig.with(segs[1], a[:len(a)-100]).with(segs[2], b[1000:]))
}

func slicesSortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// TestFailedFsync: an fsync that fails fails the Appends it was for, and leaves nothing of them:
// not in Stats, not in Pending, not on disk, and no damage at the next Open.
func TestFailedFsync(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	require.NoError(t, err)
	defer s.Close()
	for i := range 3 {
		_, err := s.Append(Record{Count: 2, Payload: payloadFor(i, 100)})
		require.NoError(t, err)
	}
	eio := errors.New("input/output error")
	syncFile = func(*os.File) error { return eio }
	_, err = s.Append(Record{Count: 5, Payload: []byte("lost")}, Record{Count: 6, Payload: []byte("lost too")})
	syncFile = syncData
	require.ErrorIs(t, err, eio)
	st := s.Stats()
	assert.Equal(t, 3, st.Records)
	assert.Equal(t, int64(6), st.Measurements)
	assert.Equal(t, uint64(3), st.Appended)
	assert.Equal(t, uint64(1), st.WriteErrors)
	assert.Len(t, pending(t, s), 3)
	ids, err := s.Append(Record{Count: 1, Payload: []byte("next")})
	require.NoError(t, err, "the spool goes on after a failed fsync")
	assert.Equal(t, []uint64{4}, ids, "the failed records' ids are used again: they never existed")
	require.NoError(t, s.Close())

	st, damage, recs := reopen(t, dir)
	assert.Empty(t, damage)
	assert.Equal(t, []string{string(payloadFor(0, 100)), string(payloadFor(1, 100)), string(payloadFor(2, 100)), "next"}, payloads(recs))
	assert.Equal(t, int64(7), st.Measurements)
}
