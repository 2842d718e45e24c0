package librato

import (
	"context"
	"errors"
	"slices"
)

// Submit sends measurements now: each to the legacy API (POST metrics) or, when it has tags, the
// client has default tags or the client is AppOptics, to the tagged API (POST measurements), in
// chunks of at most the client's chunk size (WithChunkSize, default 300), legacy chunks first.
//
// Everything is validated before any I/O: if a measurement is invalid, nothing is sent and the
// error is a *SubmitError whose Invalid field names each bad measurement (errors.Is(err,
// ErrInvalid) holds, errors.As finds each *InvalidMeasurementError). Measurements without a time get one time for the whole call. Submit with no
// measurements does nothing. Submit has read everything it needs of ms when it returns, and keeps
// nothing of it.
//
// Delivery is the Queue's (see deliver.go): a chunk the API refuses with 400 is split until the
// measurements at fault are isolated, and the rest is delivered; a transient failure (network,
// 5xx, 429, ctx) stops the call. Unless everything was accepted, the error is a *SubmitError that
// says which measurements were rejected (a *RejectedError each, with their argument indices) and
// which were not sent; the accepted ones must not be sent again.
func (c *Client) Submit(ctx context.Context, ms ...Measurement) error {
	if len(ms) == 0 {
		return nil
	}
	b, bad := c.encodeBatch(ms, sortedTags(c.tags, nil), false)
	if bad != nil {
		all := make([]int, len(ms))
		for i := range all {
			all[i] = i
		}
		return &SubmitError{Invalid: bad, Unsent: len(ms), UnsentIndices: all}
	}
	res := c.sendBatch(ctx, b)
	if res.sent == len(ms) && len(res.notes) == 0 {
		return nil
	}
	if res.err == nil && len(res.notes) > 0 {
		res.err = errors.Join(res.notes...)
	}
	for _, r := range res.rejected {
		for i, j := range r.Indices {
			r.Indices[i] = b.order[j]
		}
		slices.Sort(r.Indices)
	}
	unsent := make([]int, 0, len(res.unsent))
	for _, j := range res.unsent {
		unsent = append(unsent, b.order[j])
	}
	slices.Sort(unsent)
	return &SubmitError{Sent: res.sent, Rejected: res.rejected, Unsent: len(unsent), UnsentIndices: unsent, Err: res.err}
}

// batch is measurements encoded into chunks for one call: legacy gauges, then legacy counters, then
// tagged ones, each in argument order. Positions in the batch number the measurements in that
// order; order maps them back to argument indices.
type batch struct {
	chunks []batchChunk
	order  []int    // argument index of each position
	names  []string // sanitized name of each position, for rejection reports
}

// batchChunk is one chunk of a batch: its body and the batch position of its first measurement.
type batchChunk struct {
	tagged bool
	body   []byte
	first  int
	count  int
}

// encodeBatch validates and encodes ms (base: the default tags). It returns the batch and the
// invalid measurements; when there are some, the batch is nil unless skipInvalid, which leaves
// them out of it. In a legacy chunk, the gauges come first, then the counters (see splitBody).
func (c *Client) encodeBatch(ms []Measurement, base []tagPair, skipInvalid bool) (*batch, []*InvalidMeasurementError) {
	size := c.chunkSize
	if size < 1 {
		size = DefaultChunkSize
	}
	sec := c.now().Unix()
	type building struct {
		block
		idx [2][]int // argument indices, per array
	}
	var cur [2]building // legacy, tagged
	var done [2][]building
	var bad []*InvalidMeasurementError
	var scratch [inlineTags]tagPair
	names := make([]string, len(ms))
	for i := range ms {
		ck, err := c.checkMeasurement(&ms[i], base, scratch[:], nil)
		if err != nil {
			bad = append(bad, &InvalidMeasurementError{Index: i, Name: ms[i].Name, Err: err})
			continue
		}
		names[i] = ck.name
		r := 0
		if ck.tagged {
			r = 1
		}
		b := &cur[r]
		if b.n == size {
			done[r] = append(done[r], *b)
			*b = building{}
		}
		b.tagged = ck.tagged
		a := arrayOf(&ms[i])
		if len(b.objs[a]) > 0 {
			b.objs[a] = append(b.objs[a], ',')
		}
		b.objs[a] = appendObject(b.objs[a], &ms[i], &ck)
		b.idx[a] = append(b.idx[a], i)
		b.n++
	}
	if bad != nil && !skipInvalid {
		return nil, bad
	}
	bt := &batch{order: make([]int, 0, len(ms)), names: make([]string, 0, len(ms))}
	for r := range cur {
		if cur[r].n > 0 {
			done[r] = append(done[r], cur[r])
		}
		for _, b := range done[r] {
			bt.chunks = append(bt.chunks, batchChunk{tagged: b.tagged, body: b.build(sec).body, first: len(bt.order), count: b.n})
			for _, i := range append(b.idx[arrayGauges], b.idx[arrayCounters]...) {
				bt.order = append(bt.order, i)
				bt.names = append(bt.names, names[i])
			}
		}
	}
	return bt, bad
}

// batchResult is what sendBatch did, in batch positions.
type batchResult struct {
	sent     int
	rejected []*RejectedError // Indices hold batch positions
	unsent   []int
	err      error   // the transient failure that stopped the batch
	notes    []error // problems with answers that still accepted their chunks
}

// sendBatch delivers the chunks of b in order, stopping at the first transient failure.
func (c *Client) sendBatch(ctx context.Context, b *batch) batchResult {
	var res batchResult
	for _, ch := range b.chunks {
		if res.err != nil {
			for j := range ch.count {
				res.unsent = append(res.unsent, ch.first+j)
			}
			continue
		}
		o := c.deliver(ctx, ch.tagged, ch.body, ch.count)
		res.sent += o.sent
		for _, r := range o.rejected {
			e := newRejectedError(b.names[ch.first+r.lo:ch.first+r.hi], r.err)
			for j := r.lo; j < r.hi; j++ {
				e.Indices = append(e.Indices, ch.first+j)
			}
			res.rejected = append(res.rejected, e)
		}
		for _, p := range o.unsent {
			for j := p.lo; j < p.hi; j++ {
				res.unsent = append(res.unsent, ch.first+j)
			}
		}
		res.err = o.err
		res.notes = append(res.notes, o.notes...)
	}
	return res
}
