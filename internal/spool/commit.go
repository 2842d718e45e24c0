package spool

import (
	"errors"
	"fmt"
	"os"
	"slices"
)

// commit writes the pending writes up to at least batch b and, when they hold data records,
// fsyncs them. The caller that gets ioMu writes everyone's pending records, so concurrent
// appenders share one write and one fsync. It returns b's error: the write of b failed and b's
// records were rolled back.
func (s *Spool) commit(b *batch) error {
	s.ioMu.Lock()
	defer s.ioMu.Unlock()
	if b.written || b.err != nil {
		return b.err
	}
	// b is not written, so it is the current batch: take it with everything pending.
	s.mu.Lock()
	pend, remove, enc := s.pend, s.toRemove, s.enc
	s.pend, s.toRemove, s.inflight = nil, nil, pend
	s.cur = &batch{seq: b.seq + 1}
	s.mu.Unlock()

	err := b.doom
	if err == nil {
		err = s.writeOut(pend)
	}
	if err == nil {
		err = s.writeCheckpoint(enc)
	}
	if err == nil && b.sync && !s.noSync {
		err = s.syncAll()
	}
	if err == nil {
		s.mu.Lock()
		s.wrote = enc
		s.mu.Unlock()
	}
	if err != nil {
		s.rollback(pend, err, b)
		s.mu.Lock()
		remove = append(remove, s.toRemove...) // what the rollback freed
		s.toRemove = nil
		s.mu.Unlock()
	} else {
		b.written = true
		s.durable.Store(b.seq)
	}
	rmErr := s.remove(remove)
	s.mu.Lock()
	s.inflight = nil
	for _, pw := range pend {
		if cap(pw.b) <= 1<<20 && len(s.spare) < 4 {
			s.spare = append(s.spare, pw.b[:0])
		}
	}
	s.mu.Unlock()
	if b.err != nil {
		return b.err
	}
	return rmErr
}

// remove deletes segment files no longer needed. Callers hold ioMu.
func (s *Spool) remove(segs []*segment) error {
	var err error
	for _, seg := range segs {
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
	return err
}

// writeOut writes pend. Callers hold ioMu.
func (s *Spool) writeOut(pend []pendWrite) error {
	for _, pw := range pend {
		if !pw.seg.dirty {
			pw.seg.dirty = true
			s.dirty = append(s.dirty, pw.seg)
		}
		if _, err := pw.seg.f.WriteAt(pw.b, pw.off); err != nil {
			return fmt.Errorf("spool: write: %w", err)
		}
	}
	return nil
}

// syncFile is syncData; tests replace it to make an fsync fail.
var syncFile = syncData

// syncAll fsyncs every segment written since the last fsync, and the checkpoint. Callers hold
// ioMu.
func (s *Spool) syncAll() error {
	for _, seg := range s.dirty {
		if err := syncFile(seg.f); err != nil {
			return fmt.Errorf("spool: fsync: %w", err)
		}
		seg.dirty = false
	}
	s.dirty = s.dirty[:0]
	if err := syncFile(s.ckpt); err != nil {
		return fmt.Errorf("spool: fsync: %w", err)
	}
	s.mu.Lock()
	s.stats.Syncs++
	s.mu.Unlock()
	return nil
}

// writeCheckpoint writes end, the totals after the records written, plus the acknowledgements
// not yet written, to the checkpoint file. Callers hold ioMu.
func (s *Spool) writeCheckpoint(end totals) error {
	s.mu.Lock()
	c := checkpoint{baseSeg: s.segs[0].seq, base: s.segs[0].start, end: end}
	c.end.ackedRecs += uint64(len(s.backlog))
	c.end.ackedMeas += uint64(s.backMeas)
	s.mu.Unlock()
	s.gen++
	c.gen = s.gen
	var err error
	s.ckBuf, err = writeCheckpoint(s.ckpt, &c, s.ckBuf)
	if err != nil {
		return fmt.Errorf("spool: checkpoint: %w", err)
	}
	return nil
}

// rollback undoes everything not written after a failed write or fsync (err): the records of
// batch b (failed, being written) and of the batch after it (still pending). Both fail with err
// and leave nothing behind: their records leave the index and Stats.Appended, the totals go
// back to what was written before, and the segment files are cut back to their written size.
// The acknowledgements and notes among them are kept for the next write. Callers hold ioMu.
func (s *Spool) rollback(failed []pendWrite, err error, b *batch) {
	s.mu.Lock()
	s.stats.WriteErrors++
	all := append(slices.Clip(failed), s.pend...)
	s.pend = nil
	var acks []ackItem
	gone := map[uint64]bool{}
	cut := map[*segment]int64{}
	for _, pw := range all {
		if at, ok := cut[pw.seg]; !ok || pw.off < at {
			cut[pw.seg] = pw.off
		}
		for off := 0; off < len(pw.b); {
			r, n, derr := decodeRecord(pw.b[off:])
			if derr != nil {
				break // cannot happen: these bytes were encoded here
			}
			off += n
			switch r.typ {
			case typeData:
				gone[r.id] = true
				if e := s.byID[r.id]; e != nil {
					s.kill(e)
				}
				s.stats.Appended--
			case typeAck:
				r.ackItems(func(id uint64, count uint32) { acks = append(acks, ackItem{id, count}) })
			case typeNote:
				r.payload = slices.Clone(r.payload)
				s.notes = append(s.notes, r)
				s.requeue = true
			}
		}
	}
	// A record dropped over the cap in the failed batch is gone: its ack is not needed.
	acks = slices.DeleteFunc(acks, func(it ackItem) bool { return gone[it.id] })
	if len(acks) > 0 {
		s.toBacklog(acks)
	}
	s.enc = s.wrote
	for seg, at := range cut {
		seg.size = at
		if at == 0 {
			seg.start = s.wrote
		}
	}
	s.reclaim = true
	s.collectDead()
	s.trim()
	next := s.cur
	s.cur = &batch{seq: next.seq + 1}
	s.mu.Unlock()
	b.err, next.err = err, err

	for seg, at := range cut {
		if terr := seg.f.Truncate(at); terr != nil {
			// The file's end is unknown now: refuse appends rather than append after garbage.
			s.mu.Lock()
			s.broken = fmt.Errorf("spool: cutting back a failed write: %w", terr)
			s.mu.Unlock()
		}
	}
	s.mu.Lock()
	wrote := s.wrote
	s.mu.Unlock()
	_ = s.writeCheckpoint(wrote) // a stale checkpoint only makes a later damage count a bound
}
