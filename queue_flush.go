package librato

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// flush is Flush for a Queue without a spool: it takes what is queued, builds each block into a
// chunk stamped with the flush's time, and delivers the chunks (the chunks a failed flush kept
// first), up to MaxInFlight at once, in order when one at a time. After a transient failure it
// starts no more: what it did not start goes back to the queue, in order. The caller holds the
// flush semaphore.
func (q *Queue) flush(ctx context.Context) error {
	q.mu.Lock()
	chunks, blocks := q.takeLocked()
	if len(chunks)+len(blocks) > 0 {
		q.stats.Flushes++
	}
	q.mu.Unlock()
	n := len(chunks) + len(blocks)
	if n == 0 {
		return nil
	}
	sec := q.c.now().Unix()
	built := make([]builtChunk, n)
	bodies := make([]*requestBody, n) // reusable once sent, for the chunks built here
	outs := make([]outcome, n)
	var failed atomic.Bool
	var wg sync.WaitGroup
	sem := make(chan struct{}, q.inFlight)
	started := 0
	for ; started < n && !failed.Load(); started++ {
		i := started
		if i < len(chunks) {
			built[i] = chunks[i]
		} else {
			b := blocks[i-len(chunks)]
			built[i], bodies[i] = b.buildReusable(sec)
			q.mu.Lock()
			q.recycleLocked(b)
			q.mu.Unlock()
		}
		send := func() {
			c := built[i]
			if outs[i] = q.c.deliverBody(ctx, c.tagged, c.body, bodies[i], c.count); outs[i].err != nil {
				failed.Store(true)
			}
		}
		if n == 1 || q.inFlight == 1 {
			send()
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			send()
		}()
	}
	wg.Wait()
	var f flushResult
	for i := range started {
		f.add(built[i].tagged, &outs[i])
		for _, p := range outs[i].unsent {
			f.keep = append(f.keep, builtChunk{tagged: built[i].tagged, body: p.body, count: p.count()})
		}
		if bodies[i] != nil && len(outs[i].unsent) == 0 {
			bodies[i].release() // nothing refers to it any more
		}
	}
	for i := started; i < n; i++ {
		if i < len(chunks) {
			f.keep = append(f.keep, chunks[i])
		} else {
			f.back = blocks[i-len(chunks):]
			break
		}
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
	if o.err != nil && f.err == nil {
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
		q.waiting += n
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
