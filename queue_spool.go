package librato

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"time"

	"github.com/go-librato/librato/internal/spool"
)

// The durable spool of a Queue (QueueOptions.SpoolDir). With a spool, a flush encodes what is
// queued into chunks and appends them to the spool, durably (fsync, shared between concurrent
// flushes), before sending anything; then it sends the spooled chunks oldest first and
// acknowledges each one the API accepted. A chunk that fails for a transient reason stays in the
// spool for the next flush, and a Queue opened on the same directory after a crash sends what
// the crashed one left. A chunk the API refuses with 400 is split, like the in-memory path does,
// by splitting its JSON array; halves left unsent by a transient failure go back to the spool as
// new chunks. Measurements are durable from the flush that spools them: Add itself does no I/O.
//
// The spool is bounded in bytes (SpoolMaxBytes): beyond it the oldest chunks are dropped,
// reported to OnDrop with ErrSpoolFull and counted as dropped. Delivery is at least once: a chunk
// the API accepted but whose answer was lost (or whose acknowledgement a crash lost) is sent again.

// DefaultSpoolMaxBytes bounds a Queue's spool when QueueOptions.SpoolMaxBytes is zero.
const DefaultSpoolMaxBytes = spool.DefaultMaxBytes

// ErrSpoolFull is the reason OnDrop gets for measurements dropped because the spool reached
// SpoolMaxBytes (the oldest chunks go first).
var ErrSpoolFull = errors.New("librato: spool full: oldest chunks dropped")

// queueSpool is the spool of one Queue.
type queueSpool struct {
	q  *Queue
	sp *spool.Spool
}

// openQueueSpool opens (or creates) the spool in dir for q; maxBytes 0 means the default,
// negative no cap. It fails when another process (or Queue) has dir open.
func openQueueSpool(q *Queue, dir string, maxBytes int64) (*queueSpool, error) {
	qs := &queueSpool{q: q}
	sp, err := spool.Open(dir, &spool.Options{MaxBytes: maxBytes, OnDrop: qs.overCap})
	if err != nil {
		return nil, fmt.Errorf("librato: QueueOptions.SpoolDir: %w", err)
	}
	qs.sp = sp
	return qs, nil
}

// overCap reports chunks the spool dropped to stay under its cap. It runs in Append, on the
// flushing goroutine.
func (qs *queueSpool) overCap(recs []spool.Record) {
	n := 0
	var ms []Measurement
	for _, r := range recs {
		n += r.Count
		if qs.q.onDrop != nil {
			ms = append(ms, decodeSpooled(r.Kind == spool.Tagged, r.Payload, r.Count)...)
		}
	}
	q := qs.q
	q.mu.Lock()
	q.stats.Dropped += uint64(n)
	q.mu.Unlock()
	if q.onDrop != nil && len(ms) > 0 {
		q.onDrop(ms, ErrSpoolFull)
	}
}

// store encodes legacy and tagged (stamped, validated; one chunk per block) and appends them to
// the spool, durable when it returns.
func (qs *queueSpool) store(legacy, tagged *blocks, now time.Time) error {
	q := qs.q
	recs := make([]spool.Record, 0, len(legacy.bs)+len(tagged.bs))
	for pass, b := range [...]*blocks{legacy, tagged} {
		kind := spool.Kind(pass) // spool.Legacy, then spool.Tagged
		for _, ms := range b.bs {
			if len(ms) == 0 {
				continue
			}
			body := appendPayload(make([]byte, 0, 64+200*len(ms)), pass == 1, ms, q.tags, q.c.tags, now)
			recs = append(recs, spool.Record{Kind: kind, Count: len(ms), Created: now, Payload: body})
		}
	}
	_, err := qs.sp.Append(recs...)
	return err
}

// spoolDrain is what a drain did.
type spoolDrain struct {
	sent, rejected, requests, failures int
	rejectedErrs                       []*RejectedError
	rejectedMs                         [][]Measurement // parallel to rejectedErrs (nil without OnDrop)
	partial                            []error
	stopErr                            error
}

func (r *spoolDrain) err() error {
	errs := make([]error, 0, len(r.rejectedErrs)+len(r.partial)+1)
	for _, e := range r.rejectedErrs {
		errs = append(errs, e)
	}
	errs = append(errs, r.partial...)
	errs = append(errs, r.stopErr)
	return errors.Join(errs...)
}

// drain sends the spooled chunks oldest first, acknowledging each one done with (accepted, or
// rejected for good), and stops at the first transient failure.
func (qs *queueSpool) drain(ctx context.Context) *spoolDrain {
	res := &spoolDrain{}
	for rec, err := range qs.sp.Pending() {
		if err != nil {
			res.stopErr = err
			return res
		}
		tagged := rec.Kind == spool.Tagged
		var unsent []spoolPart
		budget := 4 * bits.Len(uint(rec.Count))
		qs.send(ctx, tagged, spoolPart{rec.Payload, rec.Count}, &budget, res, &unsent)
		if len(unsent) == 1 && bytes.Equal(unsent[0].body, rec.Payload) {
			return res // not sent at all: it stays spooled, in its place
		}
		if len(unsent) > 0 {
			// Part of the chunk went through a 400 split before a transient failure: spool
			// what is left as new chunks, then drop the original.
			recs := make([]spool.Record, len(unsent))
			for i, p := range unsent {
				recs[i] = spool.Record{Kind: rec.Kind, Count: p.count, Created: rec.Created, Payload: p.body}
			}
			if _, err := qs.sp.Append(recs...); err != nil {
				res.stopErr = errors.Join(res.stopErr, err) // keep the original: its sent parts will be sent again
				return res
			}
		}
		if err := qs.sp.Ack(rec.ID); err != nil {
			res.stopErr = errors.Join(res.stopErr, err)
			return res
		}
		if res.stopErr != nil {
			return res
		}
	}
	return res
}

// spoolPart is a request body and the number of measurements in it.
type spoolPart struct {
	body  []byte
	count int
}

// send posts p; on 400 (or 413) it splits p's JSON array and sends the halves, recursively, as
// the in-memory sender does. After a transient failure the parts not sent go to unsent.
func (qs *queueSpool) send(ctx context.Context, tagged bool, p spoolPart, budget *int, res *spoolDrain, unsent *[]spoolPart) {
	if res.stopErr != nil {
		*unsent = append(*unsent, p)
		return
	}
	if err := ctx.Err(); err != nil {
		res.stopErr = err
		*unsent = append(*unsent, p)
		return
	}
	res.requests++
	err := qs.q.c.postPayload(ctx, tagged, p.body)
	var pe *PartialError
	switch {
	case err == nil:
		res.sent += p.count
	case errors.As(err, &pe):
		res.sent += p.count
		res.partial = append(res.partial, err)
	case splittable(err):
		res.failures++
		var a, b spoolPart
		var serr error
		if p.count > 1 && *budget >= 2 {
			a, b, serr = splitSpooled(tagged, p.body)
		}
		if p.count <= 1 || *budget < 2 || serr != nil {
			ms := decodeSpooled(tagged, p.body, p.count)
			res.rejected += p.count
			res.rejectedErrs = append(res.rejectedErrs, newRejectedError(ms, err))
			res.rejectedMs = append(res.rejectedMs, ms)
			return
		}
		*budget -= 2
		qs.send(ctx, tagged, a, budget, res, unsent)
		qs.send(ctx, tagged, b, budget, res, unsent)
	default:
		res.failures++
		res.stopErr = err
		*unsent = append(*unsent, p)
	}
}

// spoolBody is the shape of the bodies appendPayload writes.
type spoolBody struct {
	Gauges       []json.RawMessage `json:"gauges"`
	Counters     []json.RawMessage `json:"counters"`
	Measurements []json.RawMessage `json:"measurements"`
}

// splitSpooled splits a body written by appendPayload into two halves of its measurements. The
// measurement objects are copied byte for byte.
func splitSpooled(tagged bool, body []byte) (a, b spoolPart, err error) {
	var w spoolBody
	if err := json.Unmarshal(body, &w); err != nil {
		return spoolPart{}, spoolPart{}, fmt.Errorf("librato: spooled chunk: %w", err)
	}
	if tagged {
		n := len(w.Measurements)
		if n < 2 {
			return spoolPart{}, spoolPart{}, errors.New("librato: spooled chunk: nothing to split")
		}
		mid := n / 2
		return spoolPart{appendSpoolArray(nil, "measurements", w.Measurements[:mid]), mid},
			spoolPart{appendSpoolArray(nil, "measurements", w.Measurements[mid:]), n - mid}, nil
	}
	all := len(w.Gauges) + len(w.Counters)
	if all < 2 {
		return spoolPart{}, spoolPart{}, errors.New("librato: spooled chunk: nothing to split")
	}
	mid := all / 2
	g1, g2 := w.Gauges[:min(mid, len(w.Gauges))], w.Gauges[min(mid, len(w.Gauges)):]
	cSplit := max(mid-len(w.Gauges), 0)
	c1, c2 := w.Counters[:cSplit], w.Counters[cSplit:]
	return spoolPart{appendSpoolLegacy(g1, c1), mid}, spoolPart{appendSpoolLegacy(g2, c2), all - mid}, nil
}

// appendSpoolArray appends {"key":[elems...]} to dst.
func appendSpoolArray(dst []byte, key string, elems []json.RawMessage) []byte {
	dst = append(dst, `{"`+key+`":[`...)
	dst = appendSpoolElems(dst, elems)
	return append(dst, "]}"...)
}

func appendSpoolElems(dst []byte, elems []json.RawMessage) []byte {
	for i, e := range elems {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, e...)
	}
	return dst
}

// appendSpoolLegacy writes a legacy body with both arrays, as appendPayload does.
func appendSpoolLegacy(gauges, counters []json.RawMessage) []byte {
	dst := append([]byte(nil), `{"gauges":[`...)
	dst = appendSpoolElems(dst, gauges)
	dst = append(dst, `],"counters":[`...)
	dst = appendSpoolElems(dst, counters)
	return append(dst, "]}"...)
}

// spoolMeasurement is what decodeSpooled reads back of a measurement object.
type spoolMeasurement struct {
	Name        string            `json:"name"`
	Value       float64           `json:"value"`
	Source      string            `json:"source"`
	Tags        map[string]string `json:"tags"`
	Time        int64             `json:"time"`
	MeasureTime int64             `json:"measure_time"`
	Count       *int64            `json:"count"`
	Sum         float64           `json:"sum"`
	Min         float64           `json:"min"`
	Max         float64           `json:"max"`
}

// decodeSpooled reads the measurements of a spooled body back, for OnDrop and RejectedError
// (name, value, source, tags, time and summary fields). A body it cannot read gives count
// measurements with only the name "(unreadable spooled chunk)", so the count stays right.
func decodeSpooled(tagged bool, body []byte, count int) []Measurement {
	var w spoolBody
	if err := json.Unmarshal(body, &w); err != nil {
		out := make([]Measurement, count)
		for i := range out {
			out[i].Name = "(unreadable spooled chunk)"
		}
		return out
	}
	var out []Measurement
	add := func(raw []json.RawMessage, typ MetricType) {
		for _, r := range raw {
			var wm spoolMeasurement
			_ = json.Unmarshal(r, &wm)
			m := Measurement{Name: wm.Name, Value: wm.Value, Type: typ, Source: wm.Source, Tags: wm.Tags}
			if t := max(wm.Time, wm.MeasureTime); t > 0 {
				m.Time = time.Unix(t, 0)
			}
			if wm.Count != nil {
				m.Summary = &Summary{Count: *wm.Count, Sum: wm.Sum, Min: wm.Min, Max: wm.Max}
			}
			out = append(out, m)
		}
	}
	if tagged {
		add(w.Measurements, Gauge)
	} else {
		add(w.Gauges, Gauge)
		add(w.Counters, Counter)
	}
	return out
}

// flushSpooled is Queue.flush for a Queue with a spool: it spools what is queued, then sends
// what is spooled. One flush runs at a time.
func (q *Queue) flushSpooled(ctx context.Context, qs *queueSpool) error {
	select {
	case q.flushing <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-q.flushing }()

	q.mu.Lock()
	legacy, tagged := q.legacy, q.tagged
	n := legacy.n + tagged.n
	if n > 0 {
		q.legacy, q.tagged = blocks{bs: q.spareL}, blocks{bs: q.spareT}
		q.spareL, q.spareT = nil, nil
		q.stats.Flushes++
	}
	q.mu.Unlock()

	var storeErr error
	if n > 0 {
		now := q.c.now()
		stampBlocks(&legacy, now)
		stampBlocks(&tagged, now)
		storeErr = qs.store(&legacy, &tagged, now)
		if storeErr == nil {
			clearBlocks(legacy.bs)
			clearBlocks(tagged.bs)
		}
		q.mu.Lock()
		if storeErr != nil {
			// The disk failed: keep them in memory, in front, for the next flush.
			q.stats.Retried += uint64(n)
			q.legacy = q.prependLocked(legacy, q.legacy)
			q.tagged = q.prependLocked(tagged, q.tagged)
			q.stats.LastError = storeErr
		} else {
			q.held -= n // in the spool now; the spool's cap bounds them
			if bs := q.recycleLocked(legacy.bs); cap(bs) > cap(q.spareL) && !q.final {
				q.spareL = bs
			}
			if bs := q.recycleLocked(tagged.bs); cap(bs) > cap(q.spareT) && !q.final {
				q.spareT = bs
			}
		}
		q.mu.Unlock()
	}

	res := qs.drain(ctx)
	err := errors.Join(storeErr, res.err())
	q.mu.Lock()
	q.stats.Sent += uint64(res.sent)
	q.stats.Rejected += uint64(res.rejected)
	q.stats.Requests += uint64(res.requests)
	q.stats.Failures += uint64(res.failures)
	if err != nil {
		q.stats.LastError = err
	}
	q.mu.Unlock()
	if q.onDrop != nil {
		for i, e := range res.rejectedErrs {
			q.onDrop(res.rejectedMs[i], e)
		}
	}
	return err
}

// spooled returns the number of measurements in the spool, not yet acknowledged.
func (qs *queueSpool) spooled() int { return int(qs.sp.Stats().Measurements) }

// close closes the spool; what it holds stays for the next Queue on the directory.
func (qs *queueSpool) close() error { return qs.sp.Close() }

// closeSpool is Close's part for a Queue with a spool, called once background flushing has
// stopped: what is still in memory (a flush did not get to it before the deadline) is spooled
// rather than dropped, the spool is closed, and err says how many measurements stay in the spool
// for the next Queue on the directory.
func (q *Queue) closeSpool(qs *queueSpool, err error) error {
	q.mu.Lock()
	legacy, tagged := q.legacy, q.tagged
	n := legacy.n + tagged.n
	q.mu.Unlock()
	if n > 0 {
		now := q.c.now()
		stampBlocks(&legacy, now)
		stampBlocks(&tagged, now)
		if serr := qs.store(&legacy, &tagged, now); serr != nil {
			err = errors.Join(err, serr) // Close drops them from memory and reports them
		} else {
			q.mu.Lock()
			q.legacy, q.tagged = blocks{}, blocks{}
			q.held -= n
			q.mu.Unlock()
		}
	}
	if left := qs.spooled(); left > 0 {
		reason := err
		if reason == nil {
			reason = ErrClosed
		}
		err = fmt.Errorf("librato: queue closed with %d measurements kept in the spool %s, to be sent by the next Queue on it: %w",
			left, qs.sp.Dir(), reason)
	}
	if cerr := qs.close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	return err
}
