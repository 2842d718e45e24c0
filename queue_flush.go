package librato

import (
	"context"
	"errors"
	"fmt"
)

// flush is Flush for a Queue without a spool: it takes what is queued, builds each block into a
// chunk stamped with the flush's time, and delivers the chunks in order (the chunks a failed flush
// kept first). The caller holds the flush semaphore.
func (q *Queue) flush(ctx context.Context) error {
	q.mu.Lock()
	chunks, blocks := q.takeLocked()
	if len(chunks)+len(blocks) > 0 {
		q.stats.Flushes++
	}
	q.mu.Unlock()
	if len(chunks)+len(blocks) == 0 {
		return nil
	}
	sec := q.c.now().Unix()
	var f flushResult
	for i := range chunks {
		if f.err != nil {
			f.keep = append(f.keep, chunks[i:]...)
			break
		}
		f.deliver(ctx, q.c, chunks[i])
	}
	for i, b := range blocks {
		if f.err != nil {
			f.back = blocks[i:]
			break
		}
		c := b.build(sec)
		q.mu.Lock()
		q.recycleLocked(b)
		q.mu.Unlock()
		f.deliver(ctx, q.c, c)
	}
	return q.settle(&f)
}

// flushResult gathers what a flush did.
type flushResult struct {
	sent, rejected     int
	rejections         []*RejectedError
	dropped            [][]Measurement // the rejected measurements, for OnDrop; parallel to rejections
	requests, failures int
	notes              []error      // problems with answers that still accepted their chunks
	keep               []builtChunk // built chunks not sent: sent again by the next flush
	back               []*block     // blocks not built: back to the front of the queue
	err                error        // the transient failure that stopped the flush
}

// deliver sends chunk c and records the outcome; the parts of c not sent are kept.
func (f *flushResult) deliver(ctx context.Context, cl *Client, c builtChunk) {
	o := cl.deliver(ctx, c.tagged, c.body, c.count)
	f.add(c.tagged, &o)
	for _, p := range o.unsent {
		f.keep = append(f.keep, builtChunk{tagged: c.tagged, body: p.body, count: p.count()})
	}
}

// add records the outcome o of a chunk (tagged or not), but for its unsent parts.
func (f *flushResult) add(tagged bool, o *outcome) {
	f.sent += o.sent
	f.requests += o.requests
	f.failures += o.failures
	for _, r := range o.rejected {
		ms := decodeChunk(tagged, r.body, r.count())
		f.rejected += r.count()
		f.rejections = append(f.rejections, newRejectedError(measurementNames(ms), r.err))
		f.dropped = append(f.dropped, ms)
	}
	if o.err != nil {
		f.err = o.err
	}
	f.notes = append(f.notes, o.notes...)
}

// error is what the flush reports: rejections, the failure that stopped it, and problems with
// answers that accepted their chunks.
func (f *flushResult) error() error {
	return errors.Join(joinRejected(f.rejections, f.err), errors.Join(f.notes...))
}

// settle accounts for a flush and puts back what it did not send: the kept chunks, then the
// blocks it did not get to, in front of what was added meanwhile. After Close gave up on the
// queue they are dropped instead.
func (q *Queue) settle(f *flushResult) error {
	err := f.error()
	q.mu.Lock()
	q.stats.Sent += uint64(f.sent)
	q.stats.Rejected += uint64(f.rejected)
	q.stats.Requests += uint64(f.requests)
	q.stats.Failures += uint64(f.failures)
	q.releaseLocked(f.sent + f.rejected)
	var lost []Measurement
	if q.final {
		for _, c := range f.keep {
			lost = append(lost, c.measurements()...)
		}
		for _, b := range f.back {
			lost = append(lost, b.build(0).measurements()...)
		}
		q.releaseLocked(len(lost))
		q.stats.Dropped += uint64(len(lost))
	} else {
		n := 0
		for _, c := range f.keep {
			n += c.count
		}
		for _, b := range f.back {
			n += b.n
		}
		q.stats.Retried += uint64(n)
		q.retry = append(f.keep, q.retry...)
		if len(f.back) > 0 {
			q.blocks = append(f.back, q.blocks...)
		}
	}
	q.mu.Unlock()
	if q.onDrop != nil {
		for i, ms := range f.dropped {
			q.onDrop(ms, f.rejections[i])
		}
		if len(lost) > 0 {
			q.onDrop(lost, fmt.Errorf("librato: queue closed before a failed flush could be retried: %w", errors.Join(err, ErrClosed)))
		}
	}
	return err
}
