package spool

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Open opens (creating it if needed) the spool in dir, takes its lock, and reads its segments.
// Damaged records are skipped; what they held is counted and reported to Options.OnDamage
// before Open returns (see Damage). A damaged or torn tail of the last segment is cut off, so
// that appends follow valid records. A directory written in format 1 by an older version is
// refused with an error naming the segment.
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
		onDamage:     o.OnDamage,
		lock:         lock,
		byID:         make(map[uint64]*entry),
		cur:          &batch{seq: 1},
	}
	damage, err := s.load()
	if err != nil {
		s.closeFiles()
		_ = unlockDir(lock)
		return nil, err
	}
	if s.onDamage != nil {
		for _, d := range damage {
			s.onDamage(d)
		}
	}
	return s, nil
}

// gap is a stretch of the log between two valid records (or an end of the log) where records
// are missing, found by their totals, or where bytes are damaged.
type gap struct {
	after     uint64 // lsn of the record after the gap: names the gap in notes
	from, to  totals // the totals before and after the missing records
	fromKnown bool
	toKnown   bool
	seg       *segment
	off, size int64 // the first damaged bytes, or where records are missing
	damaged   bool  // damaged bytes were seen
	tail      bool
	// lost records acknowledged (or dropped) by a surviving ack: delivered or counted before
	ackedRecs, ackedMeas uint64
}

// load reads the segment files and the checkpoint, rebuilds the index, accounts for damage and
// notes it in the log, and returns the damage to report.
func (s *Spool) load() ([]Damage, error) {
	ckf, ck, ckOK, err := openCheckpoint(s.dir)
	if err != nil {
		return nil, err
	}
	s.ckpt = ckf
	s.gen = ck.gen
	des, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, fmt.Errorf("spool: %w", err)
	}
	var (
		gaps  []*gap
		open  *gap // damage seen since the last valid record
		cur   totals
		known bool
		acks  []ackItem
		noted = map[uint64]bool{}
		tailX int // where the valid records of the last segment end
	)
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
			return nil, fmt.Errorf("spool: %w", err)
		}
		s.segs = append(s.segs, seg)
		b, err := os.ReadFile(seg.path)
		if err != nil {
			return nil, fmt.Errorf("spool: %w", err)
		}
		res := scan(b)
		if len(res.records) == 0 && isFormat1(b) {
			return nil, fmt.Errorf("%w: %s (drain it with the version that wrote it, or remove it)", errOldFormat, seg.path)
		}
		if len(s.segs) == 1 {
			switch {
			case ckOK && ck.baseSeg <= seq: // older files missing: their records are in a gap
				cur, known = ck.base, true
			case seq == 0: // the first segment ever: nothing came before it
				known = true
			}
		}
		seg.size = int64(len(b))
		seg.start = cur
		damage := func(off, size int) {
			if open == nil {
				open = &gap{seg: seg, off: int64(off), from: cur, fromKnown: known}
			}
			if open.seg == seg && !open.damaged || open.seg == seg && open.off+open.size == int64(off) {
				open.size = int64(off+size) - open.off
			}
			open.damaged = true
		}
		di := 0
		first := true
		for _, r := range res.records {
			for ; di < len(res.damaged) && res.damaged[di].off < r.off; di++ {
				damage(res.damaged[di].off, res.damaged[di].size)
			}
			if known && r.lsn <= cur.lsn {
				damage(r.off, r.size) // valid but out of order: not written by this log
				continue
			}
			bt := r.before()
			if open != nil || known && bt != cur {
				g := open
				if g == nil {
					g = &gap{seg: seg, off: int64(r.off), from: cur, fromKnown: known}
				}
				if !g.fromKnown {
					g.from = bt
				}
				g.to, g.toKnown, g.after = bt, true, r.lsn
				gaps = append(gaps, g)
				open = nil
			}
			if first {
				seg.start, first = bt, false
			}
			cur, known = r.totals, true
			switch r.typ {
			case typeData:
				e := &entry{id: r.id, lsn: r.lsn, seg: seg, off: int64(r.off), size: int64(r.size), kind: r.kind,
					count: int(r.count), created: r.created}
				s.entries = append(s.entries, e)
				s.byID[e.id] = e
				seg.live++
				s.liveBytes += e.size
				s.liveCount += int64(e.count)
			case typeAck:
				r.ackItems(func(id uint64, count uint32) { acks = append(acks, ackItem{id, count}) })
			case typeNote:
				r.noteLSNs(func(l uint64) { noted[l] = true })
			}
		}
		for ; di < len(res.damaged); di++ {
			damage(res.damaged[di].off, res.damaged[di].size)
		}
		tailX = res.end
	}

	// The end of the log: the checkpoint, unless it lags behind the records (the process died
	// between writing them and writing it).
	end, endKnown := cur, false
	if ckOK && ck.end.lsn >= cur.lsn && atLeast(ck.end, cur) {
		end, endKnown = ck.end, true
	}
	if n := len(s.segs); n > 0 && (open != nil || end != cur) {
		g := open
		if g == nil {
			last := s.segs[n-1]
			g = &gap{seg: last, off: last.size, from: cur, fromKnown: known}
		}
		if !g.fromKnown {
			g.from = cur
		}
		g.to, g.toKnown, g.tail = end, endKnown, true
		if !endKnown {
			g.to = g.from
		}
		g.after = end.lsn + 1 // the note written below
		gaps = append(gaps, g)
	}

	// Apply the acks; a lost record acknowledged by a surviving ack was delivered (or dropped)
	// before it was lost.
	var seen map[uint64]bool
	for _, it := range acks {
		if e := s.byID[it.id]; e != nil {
			s.kill(e)
			continue
		}
		for _, g := range gaps {
			if it.id > g.from.lastID && it.id <= g.to.lastID {
				if seen == nil {
					seen = map[uint64]bool{}
				}
				if !seen[it.id] {
					seen[it.id] = true
					g.ackedRecs++
					g.ackedMeas += uint64(it.count)
				}
				break
			}
		}
	}
	damage := s.accountGaps(gaps, noted, end)

	s.enc, s.wrote = end, end
	if n := len(s.segs); n > 0 {
		last := s.segs[n-1]
		if int64(tailX) < last.size { // a damaged or torn tail: appends follow valid records
			if err := last.f.Truncate(int64(tailX)); err != nil {
				return nil, fmt.Errorf("spool: cutting a damaged tail: %w", err)
			}
			last.size = int64(tailX)
		}
	}
	if n := len(s.segs); n == 0 || s.segs[n-1].size >= s.segmentBytes {
		if err := s.newSegment(); err != nil {
			return nil, err
		}
	}
	if len(damage.lsns) > 0 {
		s.noteLocked(damage.adjRecs, damage.adjMeas, damage.lsns, time.Now().UnixNano())
	}
	s.collectDead()
	s.trim()
	b := s.cur
	b.sync = true
	if err := s.commit(b); err != nil && !errors.Is(err, b.err) {
		return nil, err
	}
	// A failed write (a full disk) keeps the note for the next write; the spool is usable.
	return damage.list, nil
}

// isFormat1 reports whether b starts with a valid format 1 frame: the same frame as format 2
// with the magic "LSP1".
func isFormat1(b []byte) bool {
	if len(b) < frameSize || !bytes.HasPrefix(b, []byte(magicV1)) {
		return false
	}
	n := int(binary.LittleEndian.Uint32(b[4:8]))
	return n <= len(b)-frameSize && recordCRC(b[4:8], b[frameSize:frameSize+n]) == binary.LittleEndian.Uint32(b[8:12])
}

// atLeast reports whether every total of a is at least that of b.
func atLeast(a, b totals) bool {
	return a.lsn >= b.lsn && a.lastID >= b.lastID && a.dataMeas >= b.dataMeas
}

// newSegment starts a new active segment file. Callers hold mu (or own s exclusively).
func (s *Spool) newSegment() error {
	var seq uint64
	if n := len(s.segs); n > 0 {
		seq = s.segs[n-1].seq + 1
	}
	seg := &segment{seq: seq, path: filepath.Join(s.dir, fmt.Sprintf("%016x%s", seq, segExt)), start: s.enc}
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
