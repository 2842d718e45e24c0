package librato

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/go-librato/librato/internal/spool"
)

// The durable spool of a Queue (QueueOptions.SpoolDir). The queue writes ahead: a spooler
// goroutine moves what Add accepted into the spool at least every SpoolInterval (sooner when a
// block fills), building each block into a chunk stamped with the time it is written, appending
// the chunks in one write and fsync, and only then letting go of them in memory. It never waits on
// the network, so a stuck send does not hold measurements in memory. Flushes send from the spool,
// oldest first, and acknowledge each chunk the API accepted or rejected for good; a chunk that
// fails for a transient reason stays for the next flush, and a Queue opened later on the same
// directory (after a crash too) sends what the old one left. A chunk the API refuses with 400 is
// split like any other (deliver.go); its parts left unsent by a transient failure go back to the
// spool as new chunks before the original is acknowledged.
//
// What a SIGKILL can lose: the measurements accepted in the last SpoolInterval, plus those of a
// spool write under way. What it can duplicate: a chunk the API accepted whose acknowledgement
// was not yet written (at most the chunk in flight), sent again by the next Queue. The spool is
// bounded in bytes (SpoolMaxBytes): beyond it the oldest chunks are dropped, reported to OnDrop
// with ErrSpoolFull and counted as dropped. When the disk refuses a write (full, read-only), the
// chunks stay in memory, counted as Queued, and the next write tries again.

// DefaultSpoolMaxBytes bounds a Queue's spool when QueueOptions.SpoolMaxBytes is zero.
const DefaultSpoolMaxBytes = spool.DefaultMaxBytes

// queueSpool is the spool of one Queue and its spooler goroutine.
type queueSpool struct {
	q        *Queue
	sp       *spool.Spool
	interval time.Duration

	// mu is held while measurements move between memory and the spool (a write, a split put
	// back), so that Stats never counts one in both places.
	mu sync.Mutex

	dropMu  sync.Mutex
	dropped []spool.Record // dropped over the cap, to report outside the spool's call

	wakeC chan struct{}
	stopC chan struct{}
	doneC chan struct{}
}

// openQueueSpool opens (or creates) the spool in dir for q and starts its spooler; maxBytes 0
// means the default, negative no cap. It fails when another process (or Queue) has dir open.
func openQueueSpool(q *Queue, dir string, maxBytes int64, interval time.Duration) (*queueSpool, error) {
	qs := &queueSpool{q: q, interval: interval, wakeC: make(chan struct{}, 1), stopC: make(chan struct{}),
		doneC: make(chan struct{})}
	sp, err := spool.Open(dir, &spool.Options{MaxBytes: maxBytes, OnDrop: qs.overCap, OnDamage: qs.damaged})
	if err != nil {
		return nil, fmt.Errorf("librato: QueueOptions.SpoolDir: %w", err)
	}
	qs.sp = sp
	go qs.run()
	return qs, nil
}

// run is the spooler goroutine.
func (qs *queueSpool) run() {
	defer close(qs.doneC)
	t := time.NewTicker(qs.interval)
	defer t.Stop()
	all := false // a tick writes everything; a wake-up (a block filled) the full blocks
	for {
		select {
		case <-qs.stopC:
			return
		case <-t.C:
			all = true
		case <-qs.wakeC:
		}
		if err := qs.write(all); err != nil && qs.q.onError != nil {
			qs.q.onError(err)
		}
		all = false
	}
}

// wake asks the spooler to write now (a block is full).
func (qs *queueSpool) wake() {
	select {
	case qs.wakeC <- struct{}{}:
	default:
	}
}

// overCap records chunks the spool dropped to stay under its cap. It runs inside Append.
func (qs *queueSpool) overCap(recs []spool.Record) {
	qs.dropMu.Lock()
	qs.dropped = append(qs.dropped, recs...)
	qs.dropMu.Unlock()
}

// damaged counts and reports a damaged region of the spool. It runs in spool.Open (before
// openQueueSpool returns) and in Pending.
func (qs *queueSpool) damaged(d spool.Damage) {
	q := qs.q
	q.mu.Lock()
	q.stats.Dropped += uint64(d.Measurements)
	q.stats.Damaged += uint64(d.Measurements)
	q.stats.Resent += uint64(d.RestoredMeasurements)
	err := &SpoolDamageError{Segment: d.Segment, Offset: d.Offset, Length: d.Length, Measurements: d.Measurements,
		Resent: d.RestoredMeasurements, Exact: d.Exact, Reason: d.Reason}
	q.stats.LastError = err
	q.mu.Unlock()
	if q.onError != nil {
		q.onError(err)
	}
}

// reportDropped counts and reports the chunks dropped over the cap since the last call.
func (qs *queueSpool) reportDropped() {
	qs.dropMu.Lock()
	recs := qs.dropped
	qs.dropped = nil
	qs.dropMu.Unlock()
	if len(recs) == 0 {
		return
	}
	n := 0
	var ms []Measurement
	for _, r := range recs {
		n += r.Count
		if qs.q.onDrop != nil {
			ms = append(ms, decodeChunk(r.Kind == spool.Tagged, r.Payload, r.Count)...)
		}
	}
	q := qs.q
	q.mu.Lock()
	q.stats.Dropped += uint64(n)
	q.mu.Unlock()
	if q.onDrop != nil {
		q.onDrop(ms, ErrSpoolFull)
	}
}

// write moves the measurements in memory to the spool: the chunks an earlier write could not
// store, then the blocks (all of them, or only the full ones, so that a block filled between two
// ticks is not written in pieces), built into chunks stamped now; all in one append, durable when
// it returns. On failure the chunks stay in memory, in front, for the next write.
func (qs *queueSpool) write(all bool) error {
	q := qs.q
	qs.mu.Lock()
	defer qs.mu.Unlock()
	q.mu.Lock()
	var chunks []builtChunk
	var blocks []*block
	if all {
		chunks, blocks = q.takeLocked()
	} else {
		chunks, blocks = q.takeFullLocked()
	}
	q.mu.Unlock()
	if len(chunks)+len(blocks) == 0 {
		return nil
	}
	sec := q.c.now().Unix()
	for _, b := range blocks {
		chunks = append(chunks, b.build(sec))
	}
	// Appended in batches of at most spoolBatchBytes, so that after a full disk what fits goes in
	// and only the rest waits in memory for the next write.
	stored, n := 0, 0 // chunks and measurements on disk
	var err error
	for stored < len(chunks) && err == nil {
		var recs []spool.Record
		size, count := 0, 0
		for _, c := range chunks[stored:] {
			if len(recs) > 0 && size+len(c.body) > spoolBatchBytes {
				break
			}
			recs = append(recs, spool.Record{Kind: spoolKind(c.tagged), Count: c.count, Payload: c.body})
			size += len(c.body)
			count += c.count
		}
		if _, err = qs.sp.Append(recs...); err == nil {
			stored += len(recs)
			n += count
		}
	}
	q.mu.Lock()
	for _, b := range blocks {
		q.recycleLocked(b)
	}
	q.releaseLocked(n)
	if err != nil {
		left := 0
		for _, c := range chunks[stored:] {
			left += c.count
		}
		err = fmt.Errorf("librato: writing %s to the spool (kept in memory for the next try): %w", plural(left, "measurement"), err)
		q.retry = append(chunks[stored:], q.retry...)
		q.waiting += left
		q.stats.LastError = err
	}
	q.mu.Unlock()
	qs.reportDropped()
	return err
}

// spoolBatchBytes bounds the chunk bytes of one spool append.
const spoolBatchBytes = 256 << 10

// spoolKind is the spool's record kind for a chunk.
func spoolKind(tagged bool) spool.Kind {
	if tagged {
		return spool.Tagged
	}
	return spool.Legacy
}

// flush is Flush with a spool: everything in memory goes to the spool, then the spool is sent.
func (qs *queueSpool) flush(ctx context.Context) error {
	werr := qs.write(true)
	q := qs.q
	var f flushResult
	for rec, err := range qs.sp.Pending() {
		if err != nil {
			f.err = err
			break
		}
		tagged := rec.Kind == spool.Tagged
		o := q.c.deliver(ctx, tagged, rec.Payload, rec.Count)
		f.add(tagged, &o)
		if len(o.unsent) == 1 && o.unsent[0].count() == rec.Count {
			break // not sent at all: it stays spooled, in its place
		}
		if err := qs.settle(rec, o.unsent); err != nil {
			f.err = errors.Join(f.err, err)
			break
		}
		if o.err != nil {
			break
		}
	}
	q.mu.Lock()
	if f.requests > 0 {
		q.stats.Flushes++
	}
	q.stats.Sent += uint64(f.sent)
	q.stats.Rejected += uint64(f.rejected)
	q.stats.Requests += uint64(f.requests)
	q.stats.Failures += uint64(f.failures)
	q.mu.Unlock()
	qs.reportDropped()
	if q.onDrop != nil {
		for i, ms := range f.dropped {
			q.onDrop(ms, f.rejections[i])
		}
	}
	return errors.Join(werr, f.error())
}

// settle acknowledges the record rec, done with but for its unsent parts, which go back to the
// spool as new records first.
func (qs *queueSpool) settle(rec spool.Record, unsent []part) error {
	qs.mu.Lock()
	defer qs.mu.Unlock()
	if len(unsent) > 0 {
		recs := make([]spool.Record, len(unsent))
		for i, p := range unsent {
			recs[i] = spool.Record{Kind: rec.Kind, Count: p.count(), Created: rec.Created, Payload: p.body}
		}
		if _, err := qs.sp.Append(recs...); err != nil {
			// Keep the original: its delivered parts will be sent again.
			return fmt.Errorf("librato: putting the unsent part of a chunk back in the spool: %w", err)
		}
	}
	if err := qs.sp.Ack(rec.ID); err != nil {
		return fmt.Errorf("librato: acknowledging a delivered chunk in the spool: %w", err)
	}
	return nil
}

// spooled returns the number of measurements in the spool, not yet acknowledged.
func (qs *queueSpool) spooled() int { return int(qs.sp.Stats().Measurements) }

// stats is Queue.Stats with a spool.
func (qs *queueSpool) stats() QueueStats {
	qs.mu.Lock()
	defer qs.mu.Unlock()
	spooled := qs.spooled()
	q := qs.q
	q.mu.Lock()
	defer q.mu.Unlock()
	s := q.stats
	s.Queued = q.held
	s.Spooled = spooled
	return s
}

// close is Close's part with a spool, called once background flushing has stopped: the spooler
// stops, what is still in memory is spooled rather than dropped, the spool is closed, and the
// error says how many measurements stay in the spool for the next Queue on the directory.
func (qs *queueSpool) close(err error) error {
	close(qs.stopC)
	<-qs.doneC
	q := qs.q
	if werr := qs.write(true); werr != nil {
		q.mu.Lock()
		chunks, _ := q.takeLocked()
		q.final = true
		var left []Measurement
		for _, c := range chunks {
			left = append(left, c.measurements()...)
		}
		q.releaseLocked(len(left))
		q.stats.Dropped += uint64(len(left))
		q.mu.Unlock()
		werr = fmt.Errorf("%w with %s neither sent nor spooled: %w", ErrClosed, plural(len(left), "measurement"), werr)
		if q.onDrop != nil && len(left) > 0 {
			q.onDrop(left, werr)
		}
		err = errors.Join(err, werr)
	}
	if left := qs.spooled(); left > 0 {
		msg := fmt.Sprintf("%s kept in the spool %s, to be sent by the next Queue on it", plural(left, "measurement"), qs.sp.Dir())
		if err != nil {
			err = fmt.Errorf("%w with %s: %w", ErrClosed, msg, err)
		} else {
			err = fmt.Errorf("%w with %s", ErrClosed, msg)
		}
	}
	if cerr := qs.sp.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	return err
}
