package librato

import "time"

// The measurements a Queue holds are stored in blocks of one chunk each (blockSize, normally
// the chunk size): Add appends to the last block and takes an empty one from the queue's free
// list when it is full, so the buffer never grows by copying (under the lock, while adds wait),
// however far adds outrun the flusher; a flush sends each block as one chunk, and hands the
// blocks back emptied. In steady state nothing is allocated, so the garbage collector has no
// large buffers to trace again and again.

// blocks is a sequence of measurements, oldest first, in blocks of capacity blockSize: all full
// but the last, so that block boundaries are chunk boundaries.
type blocks struct {
	bs [][]Measurement
	n  int // measurements in all blocks
}

// blockSize is the capacity of a Queue's blocks: a chunk, or less when MaxPending is smaller.
func (q *Queue) blockSize() int { return max(1, min(q.chunkSize, q.maxPending)) }

// newBlockLocked returns an empty block from the free list, or a new one. q.mu is held.
func (q *Queue) newBlockLocked() []Measurement {
	if n := len(q.free); n > 0 {
		b := q.free[n-1]
		q.free[n-1] = nil
		q.free = q.free[:n-1]
		return b
	}
	return make([]Measurement, 0, q.blockSize())
}

// pushLocked appends m to b. q.mu is held. (Queue.Add has its first half inline.)
func (q *Queue) pushLocked(b *blocks, m *Measurement) {
	if k := len(b.bs); k > 0 {
		if blk := &b.bs[k-1]; len(*blk) < cap(*blk) {
			*blk = append(*blk, *m)
			b.n++
			return
		}
	}
	q.pushBlockLocked(b, m)
}

// pushBlockLocked appends m to b in a new block. q.mu is held.
func (q *Queue) pushBlockLocked(b *blocks, m *Measurement) {
	b.bs = append(b.bs, q.newBlockLocked())
	b.bs[len(b.bs)-1] = append(b.bs[len(b.bs)-1], *m)
	b.n++
}

// recycleLocked puts the (cleared) blocks of bs on the free list and returns bs emptied, for
// reuse as the list of a blocks. q.mu is held.
func (q *Queue) recycleLocked(bs [][]Measurement) [][]Measurement {
	for i, b := range bs {
		if cap(b) == q.blockSize() && !q.final {
			q.free = append(q.free, b[:0])
		}
		bs[i] = nil
	}
	return bs[:0]
}

// clearBlocks zeroes the measurements of bs (so that the free list keeps no tags or names alive).
func clearBlocks(bs [][]Measurement) {
	for _, b := range bs {
		clear(b)
	}
}

// flat returns the measurements of b in one new slice (for OnDrop: a failure path).
func (b *blocks) flat() []Measurement {
	out := make([]Measurement, 0, b.n)
	for _, blk := range b.bs {
		out = append(out, blk...)
	}
	return out
}

// prependLocked returns back followed by cur, and recycles what it does not keep. back holds
// the measurements a failed flush kept (its own blocks, compacted), cur those added during the
// flush: when there are none, back's blocks are the queue again, with no copy. q.mu is held.
func (q *Queue) prependLocked(back, cur blocks) blocks {
	if back.n == 0 {
		q.recycleLocked(back.bs)
		return cur
	}
	for _, blk := range cur.bs {
		for i := range blk {
			q.pushLocked(&back, &blk[i])
		}
	}
	clearBlocks(cur.bs)
	q.recycleLocked(cur.bs)
	return back
}

// keep moves the measurements at spans (positions in b, minus base, in order) to the front of b,
// in order, and clears the rest. It returns the blocks that now hold them and the blocks left
// over (emptied, for the free list). A flush keeps its unsent measurements this way, without
// copying them out. b's blocks are full but the last, so position p is in block p/size.
func (b *blocks) keep(spans []span, base, size int) (kept blocks, rest [][]Measurement) {
	w := 0
	for _, r := range spans {
		for p := r.lo - base; p < r.hi-base; p++ {
			if w != p {
				b.bs[w/size][w%size] = b.bs[p/size][p%size]
			}
			w++
		}
	}
	nb := (w + size - 1) / size
	for i := nb; i < len(b.bs); i++ {
		clear(b.bs[i])
	}
	if nb > 0 {
		last := b.bs[nb-1]
		clear(last[w-(nb-1)*size:])
		b.bs[nb-1] = last[:w-(nb-1)*size]
	}
	return blocks{bs: b.bs[:nb:nb], n: w}, b.bs[nb:]
}

// spanOf returns the measurements at positions r of legacy followed by tagged. A span the sender
// records never crosses a block, since it sends block by block.
func spanOf(legacy, tagged *blocks, r span) []Measurement {
	pos := 0
	for _, b := range [...]*blocks{legacy, tagged} {
		for _, blk := range b.bs {
			if r.lo < pos+len(blk) {
				return blk[r.lo-pos : r.hi-pos]
			}
			pos += len(blk)
		}
	}
	return nil
}

// stampBlocks sets the time of the measurements of b that have none.
func stampBlocks(b *blocks, now time.Time) {
	for _, blk := range b.bs {
		stamp(blk, now)
	}
}
