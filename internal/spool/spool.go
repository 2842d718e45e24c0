// Package spool is a crash-safe, bounded, on-disk FIFO of chunks: the request bodies a Queue
// has built but the API has not yet acknowledged.
//
// A spool is a directory of segment files written append-only. Each record is framed with a
// length and a CRC32-C (see record.go), so a torn write (a crash in the middle of an append)
// or a damaged byte is detected when the spool is opened: the damaged record is skipped and
// counted, and the records around it are kept. Acknowledgements are records too, appended to
// the same log; a segment file is deleted once every record in it is acknowledged and every
// older segment is gone.
//
// Append is durable when it returns: its records are written and fsynced. Appends from many
// goroutines share fsyncs (group commit): while one fsync runs, the records appended meanwhile
// queue up and the next fsync covers all of them. Ack writes its record without an fsync: after
// a process crash (the page cache survives) acknowledged records stay acknowledged; after a
// power loss the records acknowledged since the last fsync come back, and are sent again.
//
// One process owns a directory at a time: Open takes an exclusive lock on dir/LOCK.
package spool

import (
	"errors"
	"fmt"
	"iter"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
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
	// MaxBytes, payloads included (nil if a payload could not be read back). It must not
	// call the Spool.
	OnDrop func(dropped []Record)
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

// Stats is a snapshot of a Spool's state and counters.
type Stats struct {
	// Records and Bytes are the unacknowledged records and their size on disk.
	Records int
	Bytes   int64
	// Measurements is the sum of the Count of the unacknowledged records.
	Measurements int64
	// Segments and DiskBytes are the segment files and their total size.
	Segments  int
	DiskBytes int64
	// Corrupt counts damaged regions skipped when the spool was opened (a torn last record, a
	// bad CRC) and records found damaged when read back.
	Corrupt int
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
	size  int64 // logical size: written plus pending
	live  int   // unacknowledged data records
	dirty bool  // written since the last fsync; guarded by ioMu
}

// entry is an unacknowledged record in the index.
type entry struct {
	id      uint64
	seg     *segment
	off     int64
	size    int64
	kind    Kind
	count   int
	created int64
	seq     uint64 // the commit that writes it
	dead    bool   // acknowledged or dropped
}

// pendWrite is bytes waiting to be written at off in seg.
type pendWrite struct {
	seg *segment
	off int64
	b   []byte
}

// Spool is an open spool directory. It is safe for concurrent use.
type Spool struct {
	dir          string
	maxBytes     int64
	segmentBytes int64
	noSync       bool
	onDrop       func([]Record)
	lock         *os.File

	// mu guards the index, the segments list and the pending writes. No I/O happens under it
	// except creating a segment file.
	mu        sync.Mutex
	segs      []*segment // oldest first; the last is active
	entries   []*entry   // append order, may hold dead entries
	byID      map[uint64]*entry
	liveBytes int64
	liveCount int64
	nextID    uint64
	pend      []pendWrite
	inflight  []pendWrite // taken by a commit, being written
	spare     [][]byte
	toRemove  []*segment
	seq       uint64 // commits handed out
	closed    bool
	err       error // sticky I/O error: the spool refuses appends after it
	stats     Stats

	// ioMu serializes writes, fsyncs and file removal.
	ioMu    sync.Mutex
	written uint64
	dirty   []*segment
	durable atomic.Uint64 // commits written and synced (or written, with NoSync)
}

// Open opens (creating it if needed) the spool in dir, takes its lock, and reads its segments,
// skipping and counting damaged records. A torn record at the end of the last segment (a crash
// in the middle of an append) is cut off.
func Open(dir string, opts *Options) (*Spool, error) {
	if dir == "" {
		return nil, errors.New("spool: empty directory name")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = DefaultSegmentBytes
		if o.MaxBytes > 0 {
			o.SegmentBytes = min(o.SegmentBytes, o.MaxBytes/4)
		}
		o.SegmentBytes = max(o.SegmentBytes, 64<<10)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	lock, err := lockDir(dir)
	if err != nil {
		return nil, err
	}
	s := &Spool{
		dir:          dir,
		maxBytes:     o.MaxBytes,
		segmentBytes: o.SegmentBytes,
		noSync:       o.NoSync,
		onDrop:       o.OnDrop,
		lock:         lock,
		byID:         make(map[uint64]*entry),
		nextID:       1,
	}
	if err := s.load(); err != nil {
		s.closeFiles()
		_ = unlockDir(lock)
		return nil, err
	}
	return s, nil
}

// load reads the segment files.
func (s *Spool) load() error {
	des, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	for _, de := range des { // ReadDir sorts by name; names are fixed-width hex
		name := de.Name()
		if !de.Type().IsRegular() || !strings.HasSuffix(name, segExt) {
			continue
		}
		seq, err := strconv.ParseUint(strings.TrimSuffix(name, segExt), 16, 64)
		if err != nil || len(name) != 16+len(segExt) {
			continue // not ours
		}
		seg := &segment{seq: seq, path: filepath.Join(s.dir, name)}
		if seg.f, err = os.OpenFile(seg.path, os.O_RDWR, 0); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		s.segs = append(s.segs, seg)
		b, err := os.ReadFile(seg.path)
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		res := scan(b)
		s.stats.Corrupt += res.corrupt
		seg.size = int64(len(b))
		for i := range res.records {
			r := &res.records[i]
			switch r.typ {
			case typeData:
				s.nextID = max(s.nextID, r.id+1)
				if s.byID[r.id] != nil {
					continue // a duplicate id cannot be written by Append; keep the first
				}
				e := &entry{id: r.id, seg: seg, off: int64(r.off), size: int64(r.size), kind: r.kind,
					count: int(r.count), created: r.created}
				s.entries = append(s.entries, e)
				s.byID[e.id] = e
				seg.live++
				s.liveBytes += e.size
				s.liveCount += int64(e.count)
			case typeAck:
				r.ackIDs(func(id uint64) {
					s.nextID = max(s.nextID, id+1)
					if e := s.byID[id]; e != nil {
						s.kill(e)
					}
				})
			}
		}
	}
	// Cut a torn tail off the last segment, so appends follow valid records.
	if n := len(s.segs); n > 0 {
		last := s.segs[n-1]
		b, err := os.ReadFile(last.path)
		if err != nil {
			return fmt.Errorf("spool: %w", err)
		}
		if res := scan(b); res.tornEnd {
			if err := last.f.Truncate(int64(res.end)); err != nil {
				return fmt.Errorf("spool: cutting a torn record: %w", err)
			}
			if !s.noSync {
				if err := last.f.Sync(); err != nil {
					return fmt.Errorf("spool: %w", err)
				}
			}
			last.size = int64(res.end)
		}
	}
	if n := len(s.segs); n == 0 || s.segs[n-1].size >= s.segmentBytes {
		if err := s.newSegment(); err != nil {
			return err
		}
	}
	s.collectDead()
	for _, seg := range s.toRemove {
		seg.f.Close()
		if err := os.Remove(seg.path); err != nil {
			return fmt.Errorf("spool: %w", err)
		}
	}
	s.toRemove = nil
	s.trim()
	s.durable.Store(0)
	return nil
}

// newSegment starts a new active segment file. Callers hold mu (or own s exclusively).
func (s *Spool) newSegment() error {
	var seq uint64
	if n := len(s.segs); n > 0 {
		seq = s.segs[n-1].seq + 1
	}
	seg := &segment{seq: seq, path: filepath.Join(s.dir, fmt.Sprintf("%016x%s", seq, segExt))}
	f, err := os.OpenFile(seg.path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("spool: new segment: %w", err)
	}
	seg.f = f
	if !s.noSync {
		// Make the new file's directory entry durable, or a crash could lose the whole file.
		if d, err := os.Open(s.dir); err == nil {
			err = d.Sync()
			d.Close()
			if err != nil {
				f.Close()
				return fmt.Errorf("spool: syncing directory: %w", err)
			}
		}
	}
	s.segs = append(s.segs, seg)
	return nil
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
// segments, so a segment outlives the older ones. Callers hold mu.
func (s *Spool) collectDead() {
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

// appendPending encodes r at the end of the pending writes of the active segment, starting a
// new segment first when the active one would grow beyond SegmentBytes, and returns where it
// goes. Callers hold mu.
func (s *Spool) appendPending(r *rawRecord) (seg *segment, off, size int64, err error) {
	size = int64(recordSize(len(r.payload)))
	if seg := s.segs[len(s.segs)-1]; seg.size > 0 && seg.size+size > s.segmentBytes {
		if err := s.newSegment(); err != nil {
			return nil, 0, 0, err
		}
	}
	pw := s.pendBuf()
	seg = pw.seg
	off = seg.size
	pw.b = appendRecord(pw.b, r)
	seg.size += size
	return seg, off, size, nil
}

// Append writes recs (their Kind, Count, Created and Payload; ID is assigned) and returns,
// durable, with their ids. Beyond MaxBytes the oldest records are dropped (see Options.OnDrop).
// A record larger than MaxBytes is refused. After a write or fsync error the spool refuses
// further appends: the caller keeps its data elsewhere.
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
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return nil, err
	}
	my := s.seq + 1
	for i := range recs {
		r := &recs[i]
		created := now
		if !r.Created.IsZero() {
			created = r.Created.UnixNano()
		}
		raw := rawRecord{typ: typeData, kind: r.Kind, count: uint32(r.Count), id: s.nextID, created: created, payload: r.Payload}
		seg, off, size, err := s.appendPending(&raw)
		if err != nil {
			s.err = err
			s.mu.Unlock()
			return nil, err
		}
		e := &entry{id: raw.id, seg: seg, off: off, size: size, kind: r.Kind, count: r.Count, created: created, seq: my}
		s.nextID++
		s.entries = append(s.entries, e)
		s.byID[e.id] = e
		seg.live++
		s.liveBytes += size
		s.liveCount += int64(r.Count)
		ids[i] = e.id
	}
	s.stats.Appended += uint64(len(recs))
	dropped := s.enforceCap(now)
	s.seq = my
	s.mu.Unlock()

	err := s.commit(my, !s.noSync)
	if len(dropped) > 0 && s.onDrop != nil {
		s.onDrop(dropped)
	}
	if err != nil {
		return nil, err
	}
	return ids, nil
}

// enforceCap drops the oldest records while the live bytes exceed MaxBytes. Callers hold mu.
func (s *Spool) enforceCap(now int64) []Record {
	if s.maxBytes < 0 || s.liveBytes <= s.maxBytes {
		return nil
	}
	var dropped []Record
	var ids []uint64
	for _, e := range s.entries {
		if s.liveBytes <= s.maxBytes {
			break
		}
		if e.dead {
			continue
		}
		s.kill(e)
		ids = append(ids, e.id)
		dropped = append(dropped, Record{ID: e.id, Kind: e.kind, Count: e.count, Created: time.Unix(0, e.created),
			Payload: s.readLocked(e)})
		s.stats.DroppedOverCap++
		s.stats.DroppedMeasurements += uint64(e.count)
	}
	s.ackLocked(ids, now)
	return dropped
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

// ackLocked queues ack records for ids and collects the segments they free. Callers hold mu.
func (s *Spool) ackLocked(ids []uint64, now int64) {
	for len(ids) > 0 {
		n := min(len(ids), maxAckIDs)
		_, _, _, err := s.appendPending(ackRecord(ids[:n], now))
		if err != nil && s.err == nil {
			s.err = err
		}
		ids = ids[n:]
	}
	s.collectDead()
	s.trim()
}

// Ack acknowledges records: they are not returned by Pending again, here or after a restart.
// Unknown or already acknowledged ids are ignored. The ack is written but not fsynced (see the
// package doc).
func (s *Spool) Ack(ids ...uint64) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	acked := make([]uint64, 0, len(ids))
	for _, id := range ids {
		if e := s.byID[id]; e != nil {
			s.kill(e)
			acked = append(acked, id)
		}
	}
	if len(acked) == 0 {
		s.mu.Unlock()
		return nil
	}
	s.ackLocked(acked, time.Now().UnixNano())
	s.seq++
	my := s.seq
	s.mu.Unlock()
	return s.commit(my, false)
}

// commit writes the pending writes up to at least commit my and, with sync, fsyncs them. The
// caller that gets ioMu writes everyone's pending records, so concurrent appenders share one
// write and one fsync.
func (s *Spool) commit(my uint64, sync bool) error {
	s.ioMu.Lock()
	defer s.ioMu.Unlock()
	if s.durable.Load() >= my || !sync && s.written >= my {
		return nil
	}
	s.mu.Lock()
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return err
	}
	pend, upto, remove := s.pend, s.seq, s.toRemove
	s.pend, s.toRemove, s.inflight = nil, nil, pend
	s.mu.Unlock()

	err := s.writeOut(pend, sync || s.noSync)
	if err == nil {
		s.written = upto
		if sync || s.noSync {
			s.durable.Store(upto)
		}
	}
	for _, seg := range remove {
		// Its last writes may have made it dirty (an ack queued before it was rotated away):
		// it is gone, so no fsync is owed to it.
		if seg.dirty {
			seg.dirty = false
			s.dirty = slices.DeleteFunc(s.dirty, func(d *segment) bool { return d == seg })
		}
		seg.f.Close()
		if rmErr := os.Remove(seg.path); rmErr != nil && !errors.Is(rmErr, os.ErrNotExist) && err == nil {
			err = fmt.Errorf("spool: %w", rmErr)
		}
	}
	s.mu.Lock()
	s.inflight = nil
	for _, pw := range pend {
		if cap(pw.b) <= 1<<20 && len(s.spare) < 4 {
			s.spare = append(s.spare, pw.b[:0])
		}
	}
	if err != nil && s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
	return err
}

// writeOut writes pend and, with sync, fsyncs every segment written since the last fsync.
// Callers hold ioMu.
func (s *Spool) writeOut(pend []pendWrite, sync bool) error {
	for _, pw := range pend {
		if _, err := pw.seg.f.WriteAt(pw.b, pw.off); err != nil {
			return fmt.Errorf("spool: write: %w", err)
		}
		if !pw.seg.dirty {
			pw.seg.dirty = true
			s.dirty = append(s.dirty, pw.seg)
		}
	}
	if !sync || s.noSync {
		return nil
	}
	for _, seg := range s.dirty {
		if err := syncData(seg.f); err != nil {
			return fmt.Errorf("spool: fsync: %w", err)
		}
		seg.dirty = false
	}
	s.dirty = s.dirty[:0]
	s.mu.Lock()
	s.stats.Syncs++
	s.mu.Unlock()
	return nil
}

// Pending returns the unacknowledged records, oldest first, as they were when it was called
// (records appended later are not included; records acknowledged meanwhile are skipped). A
// record that fails its CRC when read back is skipped, counted in Stats.Corrupt and dropped.
// The error is an I/O error; iteration stops after it.
func (s *Spool) Pending() iter.Seq2[Record, error] {
	return func(yield func(Record, error) bool) {
		durable := s.durable.Load()
		s.mu.Lock()
		snap := make([]*entry, 0, len(s.byID))
		for _, e := range s.entries {
			if !e.dead && e.seq <= durable {
				snap = append(snap, e)
			}
		}
		s.mu.Unlock()
		for _, e := range snap {
			buf := make([]byte, e.size)
			_, err := e.seg.f.ReadAt(buf, e.off)
			s.mu.Lock()
			dead := e.dead
			s.mu.Unlock()
			if dead {
				continue // acknowledged while we read: its file may be gone
			}
			if err != nil {
				yield(Record{}, fmt.Errorf("spool: reading record %d: %w", e.id, err))
				return
			}
			r, _, derr := decodeRecord(buf)
			if derr != nil || r.typ != typeData || r.id != e.id {
				s.mu.Lock()
				s.stats.Corrupt++
				s.mu.Unlock()
				_ = s.Ack(e.id)
				continue
			}
			rec := Record{ID: r.id, Kind: r.kind, Count: int(r.count), Created: time.Unix(0, r.created), Payload: r.payload}
			if !yield(rec, nil) {
				return
			}
		}
	}
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
	return st
}

// Dir returns the spool's directory.
func (s *Spool) Dir() string { return s.dir }

// Close writes and syncs what is pending, closes the files and releases the lock. It is safe to
// call more than once.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	my := s.seq
	s.mu.Unlock()
	err := s.commit(my, !s.noSync)
	s.ioMu.Lock()
	s.closeFiles()
	s.ioMu.Unlock()
	if uerr := unlockDir(s.lock); err == nil && uerr != nil {
		err = fmt.Errorf("spool: unlock: %w", uerr)
	}
	return err
}

// closeFiles closes every segment file.
func (s *Spool) closeFiles() {
	for _, seg := range s.segs {
		if seg.f != nil {
			seg.f.Close()
		}
	}
}
