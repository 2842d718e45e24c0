package spool

import (
	"fmt"
	"iter"
	"time"
)

// Pending returns the unacknowledged records, oldest first, as they were when it was called
// (records appended later are not included; records acknowledged meanwhile are skipped). A
// record that fails its check when read back is skipped: it is reported to OnDamage (exactly:
// one record and its measurements), counted in Stats and acknowledged, so it is not returned
// again. The error is an I/O error; iteration stops after it.
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
				s.damagedOnRead(e)
				continue
			}
			rec := Record{ID: r.id, Kind: r.kind, Count: int(r.count), Created: time.Unix(0, r.created), Payload: r.payload}
			if !yield(rec, nil) {
				return
			}
		}
	}
}

// damagedOnRead drops e, found damaged when read back: it reports and counts it, and writes
// its ack and a note, so that the next Open neither returns it nor reports it again.
func (s *Spool) damagedOnRead(e *entry) {
	s.mu.Lock()
	if e.dead || s.closed {
		s.mu.Unlock()
		return
	}
	d := Damage{Segment: e.seg.path, Offset: e.off, Length: e.size, Records: 1, Measurements: int64(e.count),
		Exact: true, Reason: reasonReadBack}
	s.account(&d)
	s.kill(e)
	now := time.Now().UnixNano()
	s.requeueLocked(now)
	s.ackLocked([]ackItem{{e.id, uint32(e.count)}}, now)
	s.noteLocked(0, 0, []uint64{e.lsn + 1}, now) // the gap the next Open sees ends before the next record
	b := s.cur
	s.mu.Unlock()
	_ = s.commit(b) // without the ack written, the next Open reports the damage again
	if s.onDamage != nil {
		s.onDamage(d)
	}
}

// noteLocked queues a note record: the gaps ending before the records with these lsns are
// reported, and the acked totals move by adjRecs and adjMeas. Callers hold mu.
func (s *Spool) noteLocked(adjRecs, adjMeas uint64, lsns []uint64, now int64) {
	for {
		n := min(len(lsns), maxNoteLSNs)
		r := rawRecord{typ: typeNote, count: uint32(n), created: now, payload: notePayload(adjRecs, adjMeas, lsns[:n])}
		if _, _, _, err := s.appendPending(&r, 0); err != nil {
			return // the damage will be reported again: better than not at all
		}
		adjRecs, adjMeas, lsns = 0, 0, lsns[n:]
		if len(lsns) == 0 {
			return
		}
	}
}
