// Package spool is a crash-safe, bounded, on-disk FIFO of chunks: the request bodies a Queue
// has built but the API has not yet acknowledged.
//
// A spool is a directory of segment files written append-only, and a small checkpoint file.
// Each record is framed with a length and a CRC32-C and carries running totals (see record.go),
// so a torn write or a damaged byte is detected, and what it cost is counted exactly: see
// Damage. Acknowledgements are records too, appended to the same log; a segment file is
// deleted once every record in it is acknowledged and every older segment is gone.
//
// Append is durable when it returns: its records are written and fsynced. Appends from many
// goroutines share fsyncs (group commit): while one fsync runs, the records appended meanwhile
// queue up and the next fsync covers all of them. Ack writes its record without an fsync: after
// a process crash (the page cache survives) acknowledged records stay acknowledged; after a
// power loss the records acknowledged since the last fsync may come back, and are sent again.
//
// A failed write (a full disk) fails the Appends it carried, and nothing of them stays: they
// are not counted, not returned by Pending, and their bytes are cut off again. An
// acknowledgement that could not be written stays acknowledged in memory and is written with
// the next write (Stats.UnwrittenAcks); acknowledged segments are still deleted, which is how a
// full disk recovers.
//
// One process owns a directory at a time: Open takes an exclusive lock on dir/LOCK.
package spool

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

const (
	lockName = "LOCK"
	segExt   = ".seg"
	// DefaultMaxBytes caps the unacknowledged bytes when Options.MaxBytes is zero.
	DefaultMaxBytes = 64 << 20
	// DefaultSegmentBytes is the size at which a new segment file is started (at most).
	DefaultSegmentBytes = 4 << 20
)

var (
	// ErrInUse is returned (wrapped, with the directory and the owner's pid) by Open when
	// another Spool, in this process or another, has the directory open.
	ErrInUse = errors.New("spool: in use")
	// ErrClosed is returned by Append and Ack after Close.
	ErrClosed = errors.New("spool: closed")
)

// Options configures a Spool. The zero value means the defaults.
type Options struct {
	// MaxBytes caps the bytes of unacknowledged records on disk (default DefaultMaxBytes;
	// negative: no cap). Beyond it Append drops the oldest records, acknowledges them as
	// dropped, counts them in Stats and passes them to OnDrop.
	MaxBytes int64
	// SegmentBytes is the size at which a new segment file is started (default
	// DefaultSegmentBytes, or MaxBytes/4 if that is smaller, but at least 64 KiB).
	SegmentBytes int64
	// NoSync skips fsync: records then survive a crash of the process but not of the machine.
	// For tests and for file systems where fsync is meaningless (tmpfs).
	NoSync bool
	// OnDrop, when set, is called by Append with the records it dropped to stay under
	// MaxBytes, payloads included (nil if a payload could not be read back). It runs on the
	// appending goroutine, with no lock held, and must not call the Spool.
	OnDrop func(dropped []Record)
	// OnDamage, when set, is called once for each damaged region found: by Open, before it
	// returns (on its goroutine), for the damage found in the segment files, and by Pending,
	// on the iterating goroutine, for a record that fails its check when read back. It is
	// called with no lock held; from Pending it may call the Spool, from Open there is no
	// Spool yet. Every Damage is also added to Stats. A region reported by one Open is noted
	// in the log (a note record, written by Open or, on a full disk, with the next write)
	// and not reported again by a later Open; only if the process ends before the note is
	// written is it reported again.
	OnDamage func(Damage)
}

// Record is one chunk: a request body and what the Queue needs to know about it.
type Record struct {
	// ID is assigned by Append; ids increase in append order.
	ID uint64
	// Kind says which API the body is for.
	Kind Kind
	// Count is the number of measurements in the body.
	Count int
	// Created is when the chunk was built (Append sets it to now when zero).
	Created time.Time
	// Payload is the body. Pending returns a fresh copy the caller may keep.
	Payload []byte
}

// Stats is a snapshot of a Spool's state and counters. Counters count since Open.
type Stats struct {
	// Records and Bytes are the unacknowledged records and their size on disk.
	Records int
	Bytes   int64
	// Measurements is the sum of the Count of the unacknowledged records: what Pending would
	// return. Acknowledged records are never in it, even when their acknowledgement is not
	// written yet.
	Measurements int64
	// Segments and DiskBytes are the segment files and their total size.
	Segments  int
	DiskBytes int64

	// Damaged counts the damaged regions reported to OnDamage, InexactDamage those of them
	// whose counts are bounds (see Damage).
	Damaged       int
	InexactDamage int
	// DamagedRecords and DamagedMeasurements are the data records lost to damage, and the
	// measurements in them (Damage.Records and Damage.Measurements, summed).
	DamagedRecords      uint64
	DamagedMeasurements uint64
	// RestoredRecords and RestoredMeasurements are acknowledged or dropped records that came
	// back because their acknowledgement was lost to damage (or never written before the
	// spool closed): sending them again sends duplicates.
	RestoredRecords      uint64
	RestoredMeasurements uint64

	// UnwrittenAcks counts acknowledged (or dropped) records whose acknowledgement could not
	// be written yet (a write error, such as a full disk); UnwrittenAckMeasurements the
	// measurements in them. They are not in Records or Measurements. They are written with
	// the next write (Append, Ack or Close); should the process end first, the next Open
	// reports them as restored (Damage.Reason "acknowledgements not written").
	UnwrittenAcks            int
	UnwrittenAckMeasurements int64
	// WriteErrors counts failed writes and fsyncs of the log (each failed the Appends it
	// carried).
	WriteErrors uint64

	// DroppedOverCap counts records dropped to stay under MaxBytes; DroppedMeasurements the
	// measurements in them.
	DroppedOverCap      uint64
	DroppedMeasurements uint64
	// Appended counts records appended since Open; Syncs the fsyncs that made them durable
	// (fewer than Appended when appends shared one).
	Appended uint64
	Syncs    uint64
}

// segment is one segment file.
type segment struct {
	seq   uint64
	path  string
	f     *os.File
	size  int64  // logical size: written plus pending
	live  int    // unacknowledged data records
	start totals // the totals before its first record
	dirty bool   // written since the last fsync; guarded by ioMu
}

// entry is an unacknowledged record in the index.
type entry struct {
	id      uint64
	lsn     uint64
	seg     *segment
	off     int64
	size    int64
	kind    Kind
	count   int
	created int64
	seq     uint64 // the batch that writes it
	dead    bool   // acknowledged or dropped
}

// pendWrite is bytes waiting to be written at off in seg.
type pendWrite struct {
	seg *segment
	off int64
	b   []byte
}

// batch is a group of records committed together: one write and, for appends, one fsync.
// Its fields other than seq are guarded by ioMu.
type batch struct {
	seq     uint64
	sync    bool  // holds data records (or closes the spool): needs an fsync; guarded by mu
	doom    error // a segment file could not be created: the batch fails; guarded by mu
	written bool
	err     error // the write failed: the batch's appends failed and were rolled back
}

// Spool is an open spool directory. It is safe for concurrent use.
type Spool struct {
	dir          string
	maxBytes     int64
	segmentBytes int64
	noSync       bool
	onDrop       func([]Record)
	onDamage     func(Damage)
	lock         *os.File
	ckpt         *os.File

	// mu guards the index, the segments list, the pending writes and the totals. No I/O
	// happens under it except creating a segment file.
	mu        sync.Mutex
	segs      []*segment // oldest first; the last is active
	entries   []*entry   // append order, may hold dead entries
	byID      map[uint64]*entry
	liveBytes int64
	liveCount int64
	enc       totals // after the last record encoded
	wrote     totals // after the last record written
	pend      []pendWrite
	inflight  []pendWrite // taken by a commit, being written
	spare     [][]byte
	toRemove  []*segment
	cur       *batch // the batch new records join
	backlog   []ackItem
	backMeas  int64
	notes     []rawRecord // note records whose write failed, for the next write
	requeue   bool        // the backlog is not in the pending writes
	reclaim   bool        // after a write error: start a new segment once nothing is live, to free the disk
	closed    bool
	broken    error // a failed write could not be undone: appends are refused
	stats     Stats

	// ioMu serializes writes, fsyncs and file removal.
	ioMu    sync.Mutex
	dirty   []*segment
	gen     uint64 // checkpoint generation
	ckBuf   []byte
	durable atomic.Uint64 // the last batch written (and synced, if it had to be)
}

// kill marks e acknowledged. Callers hold mu.
func (s *Spool) kill(e *entry) {
	e.dead = true
	delete(s.byID, e.id)
	e.seg.live--
	s.liveBytes -= e.size
	s.liveCount -= int64(e.count)
}

// trim drops dead entries from the index. Callers hold mu.
func (s *Spool) trim() {
	i := 0
	for i < len(s.entries) && s.entries[i].dead {
		i++
	}
	if i > 0 {
		n := copy(s.entries, s.entries[i:])
		clear(s.entries[n:])
		s.entries = s.entries[:n]
	}
	if len(s.entries) > 2*len(s.byID)+64 {
		s.entries = slices.DeleteFunc(s.entries, func(e *entry) bool { return e.dead })
	}
}

// collectDead moves the oldest segments with no live record (never the active one) to
// toRemove. Only a prefix goes: an ack record in a segment may refer to records of older
// segments, so a segment outlives the older ones. After a write error, once nothing at all is
// live, a new segment is started so that every old one goes and the disk is freed. Callers
// hold mu.
func (s *Spool) collectDead() {
	if s.reclaim && len(s.byID) == 0 && s.segs[len(s.segs)-1].size > 0 {
		if s.newSegment() == nil {
			s.reclaim = false
		}
	}
	i := 0
	for i < len(s.segs)-1 && s.segs[i].live == 0 {
		s.toRemove = append(s.toRemove, s.segs[i])
		i++
	}
	if i > 0 {
		n := copy(s.segs, s.segs[i:])
		clear(s.segs[n:])
		s.segs = s.segs[:n]
	}
}

// pendBuf returns the pending-write buffer of the active segment. Callers hold mu.
func (s *Spool) pendBuf() *pendWrite {
	seg := s.segs[len(s.segs)-1]
	if n := len(s.pend); n > 0 && s.pend[n-1].seg == seg {
		return &s.pend[n-1]
	}
	var buf []byte
	if k := len(s.spare); k > 0 {
		buf, s.spare = s.spare[k-1][:0], s.spare[:k-1]
	}
	s.pend = append(s.pend, pendWrite{seg: seg, off: seg.size, b: buf})
	return &s.pend[len(s.pend)-1]
}

// appendPending sets r's totals, encodes r at the end of the pending writes of the active
// segment, starting a new segment first when the active one would grow beyond SegmentBytes,
// and returns where it goes. ackMeas is the measurements an ack record acknowledges. Callers
// hold mu.
func (s *Spool) appendPending(r *rawRecord, ackMeas uint64) (seg *segment, off, size int64, err error) {
	size = int64(recordSize(len(r.payload)))
	if seg := s.segs[len(s.segs)-1]; seg.size > 0 && seg.size+size > s.segmentBytes {
		if err := s.newSegment(); err != nil {
			return nil, 0, 0, err
		}
	}
	s.enc.lsn++
	switch r.typ {
	case typeData:
		s.enc.lastID++
		s.enc.dataMeas += uint64(r.count)
	case typeAck:
		s.enc.ackedRecs += uint64(r.count)
		s.enc.ackedMeas += ackMeas
	case typeNote:
		adjRecs, adjMeas := r.noteAdjust()
		s.enc.ackedRecs += adjRecs
		s.enc.ackedMeas += adjMeas
	}
	r.totals = s.enc
	pw := s.pendBuf()
	seg = pw.seg
	off = seg.size
	pw.b = appendRecord(pw.b, r)
	seg.size += size
	return seg, off, size, nil
}

// Append writes recs (their Kind, Count, Created and Payload; ID is assigned) and returns,
// durable, with their ids. Beyond MaxBytes the oldest records are dropped (see Options.OnDrop).
// A record larger than MaxBytes is refused. When the write or the fsync fails (a full disk),
// Append returns the error, wrapping the OS error, and none of recs stays in the spool; the
// spool stays usable and the next Append tries again.
func (s *Spool) Append(recs ...Record) ([]uint64, error) {
	if len(recs) == 0 {
		return nil, nil
	}
	for i := range recs {
		r := &recs[i]
		if len(r.Payload) > maxPayload {
			return nil, fmt.Errorf("%w: %d bytes", errTooLarge, len(r.Payload))
		}
		if s.maxBytes > 0 && int64(recordSize(len(r.Payload))) > s.maxBytes {
			return nil, fmt.Errorf("spool: a record of %d bytes exceeds MaxBytes (%d)", recordSize(len(r.Payload)), s.maxBytes)
		}
		if r.Kind != Legacy && r.Kind != Tagged {
			return nil, fmt.Errorf("spool: invalid record kind %d", r.Kind)
		}
		if r.Count < 0 || r.Count > math.MaxUint32 {
			return nil, fmt.Errorf("spool: invalid record count %d", r.Count)
		}
	}
	now := time.Now().UnixNano()
	ids := make([]uint64, len(recs))
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, ErrClosed
	}
	if s.broken != nil {
		err := s.broken
		s.mu.Unlock()
		return nil, err
	}
	s.requeueLocked(now)
	b := s.cur
	b.sync = true
	for i := range recs {
		r := &recs[i]
		created := now
		if !r.Created.IsZero() {
			created = r.Created.UnixNano()
		}
		raw := rawRecord{typ: typeData, kind: r.Kind, count: uint32(r.Count), id: s.enc.lastID + 1, created: created, payload: r.Payload}
		seg, off, size, err := s.appendPending(&raw, 0)
		if err != nil {
			// Only creating a segment file fails here, before raw was encoded. The records of
			// recs encoded so far are in the batch: it fails as a whole, undone by its commit.
			b.doom = err
			break
		}
		e := &entry{id: raw.id, lsn: raw.lsn, seg: seg, off: off, size: size, kind: r.Kind, count: r.Count, created: created, seq: b.seq}
		s.entries = append(s.entries, e)
		s.byID[e.id] = e
		seg.live++
		s.liveBytes += size
		s.liveCount += int64(r.Count)
		ids[i] = e.id
		s.stats.Appended++
	}
	dropped, seqs := s.enforceCap(now)
	s.mu.Unlock()

	err := s.commit(b)
	if err != nil && len(dropped) > 0 {
		dropped = s.undrop(dropped, seqs, b.seq)
	}
	if len(dropped) > 0 && s.onDrop != nil {
		s.onDrop(dropped)
	}
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// undrop takes back the drops of records that were in the failed batch failed: the rollback
// removed them, and their Append failed, so they are not dropped.
func (s *Spool) undrop(dropped []Record, seqs []uint64, failed uint64) []Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	kept := dropped[:0]
	for i, r := range dropped {
		if seqs[i] >= failed {
			s.stats.DroppedOverCap--
			s.stats.DroppedMeasurements -= uint64(r.Count)
			continue
		}
		kept = append(kept, r)
	}
	return kept
}

// enforceCap drops the oldest records while the live bytes exceed MaxBytes, and returns them
// with the batches that wrote them. Callers hold mu.
func (s *Spool) enforceCap(now int64) ([]Record, []uint64) {
	if s.maxBytes < 0 || s.liveBytes <= s.maxBytes {
		return nil, nil
	}
	var dropped []Record
	var seqs []uint64
	var items []ackItem
	for _, e := range s.entries {
		if s.liveBytes <= s.maxBytes {
			break
		}
		if e.dead {
			continue
		}
		s.kill(e)
		items = append(items, ackItem{e.id, uint32(e.count)})
		dropped = append(dropped, Record{ID: e.id, Kind: e.kind, Count: e.count, Created: time.Unix(0, e.created),
			Payload: s.readLocked(e)})
		seqs = append(seqs, e.seq)
		s.stats.DroppedOverCap++
		s.stats.DroppedMeasurements += uint64(e.count)
	}
	s.ackLocked(items, now)
	return dropped, seqs
}

// readLocked returns the payload of e, from the pending or in-flight writes or from its file,
// or nil if it cannot be read. It reads under mu: it serves only the drop path, which runs when
// the spool is over its cap. Callers hold mu.
func (s *Spool) readLocked(e *entry) []byte {
	for _, list := range [][]pendWrite{s.pend, s.inflight} {
		for _, pw := range list {
			if pw.seg == e.seg && e.off >= pw.off && e.off+e.size <= pw.off+int64(len(pw.b)) {
				b := pw.b[e.off-pw.off : e.off-pw.off+e.size]
				return append([]byte(nil), b[headerSize:]...)
			}
		}
	}
	b := make([]byte, e.size)
	if _, err := e.seg.f.ReadAt(b, e.off); err != nil {
		return nil
	}
	r, _, err := decodeRecord(b)
	if err != nil {
		return nil
	}
	return r.payload
}

// ackLocked queues ack records for items and collects the segments they free. An ack that
// cannot be queued (no segment file could be created) goes to the backlog. Callers hold mu.
func (s *Spool) ackLocked(items []ackItem, now int64) {
	for len(items) > 0 {
		n := min(len(items), maxAckIDs)
		var meas uint64
		for _, it := range items[:n] {
			meas += uint64(it.count)
		}
		r := rawRecord{typ: typeAck, count: uint32(n), created: now, payload: ackPayload(make([]byte, 0, ackItemSize*n), items[:n])}
		if _, _, _, err := s.appendPending(&r, meas); err != nil {
			s.toBacklog(items)
			break
		}
		items = items[n:]
	}
	s.collectDead()
	s.trim()
}

// toBacklog keeps acknowledgements that could not be written for the next write. Callers hold
// mu.
func (s *Spool) toBacklog(items []ackItem) {
	for _, it := range items {
		s.backlog = append(s.backlog, it)
		s.backMeas += int64(it.count)
	}
	s.requeue = true
}

// requeueLocked queues the backlog of acknowledgements and notes again. Callers hold mu.
func (s *Spool) requeueLocked(now int64) {
	if !s.requeue {
		return
	}
	s.requeue = false
	// Acks of records whose segment is gone are written too: the acked totals count every
	// acknowledgement, which is what lets Open tell what came back.
	items := s.backlog
	s.backlog, s.backMeas = nil, 0
	notes := s.notes
	s.notes = nil
	for _, n := range notes {
		adjRecs, adjMeas := n.noteAdjust()
		var lsns []uint64
		n.noteLSNs(func(l uint64) { lsns = append(lsns, l) })
		s.noteLocked(adjRecs, adjMeas, lsns, now)
	}
	s.ackLocked(items, now)
}

// Ack acknowledges records: they are not returned by Pending again, here or after a restart.
// Unknown or already acknowledged ids are ignored. The ack is written but not fsynced (see the
// package doc). An ack that cannot be written (a full disk) is kept, counted in
// Stats.UnwrittenAcks and written with the next write; Ack does not fail for it: the records
// are acknowledged in memory at once. Ack returns an error only after Close.
func (s *Spool) Ack(ids ...uint64) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	items := make([]ackItem, 0, len(ids))
	for _, id := range ids {
		if e := s.byID[id]; e != nil {
			s.kill(e)
			items = append(items, ackItem{id, uint32(e.count)})
		}
	}
	if len(items) == 0 {
		s.mu.Unlock()
		return nil
	}
	now := time.Now().UnixNano()
	s.requeueLocked(now)
	s.ackLocked(items, now)
	b := s.cur
	s.mu.Unlock()
	_ = s.commit(b) // a failed write keeps the ack in the backlog
	return nil
}

// Len returns the number of unacknowledged records.
func (s *Spool) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.byID)
}

// Stats returns a snapshot of the spool's state and counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Records = len(s.byID)
	st.Bytes = s.liveBytes
	st.Measurements = s.liveCount
	st.Segments = len(s.segs)
	for _, seg := range s.segs {
		st.DiskBytes += seg.size
	}
	st.UnwrittenAcks = len(s.backlog)
	st.UnwrittenAckMeasurements = s.backMeas
	return st
}

// Dir returns the spool's directory.
func (s *Spool) Dir() string { return s.dir }

// Close writes and syncs what is pending (the backlog of acknowledgements included), closes the
// files and releases the lock. It is safe to call more than once.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.requeueLocked(time.Now().UnixNano())
	b := s.cur
	b.sync = true
	s.mu.Unlock()
	err := s.commit(b)
	s.ioMu.Lock()
	s.closeFiles()
	s.ioMu.Unlock()
	if uerr := unlockDir(s.lock); err == nil && uerr != nil {
		err = fmt.Errorf("spool: unlock: %w", uerr)
	}
	return err
}

// closeFiles closes every segment file and the checkpoint.
func (s *Spool) closeFiles() {
	for _, seg := range s.segs {
		if seg.f != nil {
			seg.f.Close()
		}
	}
	if s.ckpt != nil {
		s.ckpt.Close()
	}
}
