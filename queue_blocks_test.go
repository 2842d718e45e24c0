package librato

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// blocksOf puts values 0..n-1 in blocks of size through pushLocked.
func blocksOf(q *Queue, n int) blocks {
	var b blocks
	for i := 0; i < n; i++ {
		q.pushLocked(&b, &Measurement{Name: "m", Value: float64(i)})
	}
	return b
}

func values(ms []Measurement) []float64 {
	out := []float64{}
	for _, m := range ms {
		out = append(out, m.Value)
	}
	return out
}

func TestBlocksKeepAndPrepend(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, size := range []int{1, 2, 3, 7} {
		q := &Queue{chunkSize: size, maxPending: 1 << 20}
		for trial := 0; trial < 300; trial++ {
			n := rng.IntN(30)
			base := rng.IntN(5)
			b := blocksOf(q, n)
			for i, blk := range b.bs {
				require.LessOrEqual(t, len(blk), size)
				if i < len(b.bs)-1 {
					require.Equal(t, size, len(blk), "all blocks full but the last")
				}
			}
			// Random ordered, disjoint spans, offset by base, as the sender records them.
			var spans []span
			var want []float64
			for p := 0; p < n; {
				lo := p + rng.IntN(3)
				hi := min(n, lo+rng.IntN(4))
				if lo >= hi {
					p = lo + 1
					continue
				}
				spans = append(spans, span{base + lo, base + hi})
				for v := lo; v < hi; v++ {
					want = append(want, float64(v))
				}
				p = hi
			}
			kept, rest := b.keep(spans, base, size)
			assert.Equal(t, len(want), kept.n)
			if want == nil {
				want = []float64{}
			}
			assert.Equal(t, want, values(kept.flat()))
			for _, blk := range rest {
				for _, m := range blk[:cap(blk)] {
					assert.Zero(t, m, "left-over blocks are cleared")
				}
			}
			for _, blk := range kept.bs {
				for _, m := range blk[len(blk):cap(blk)] {
					assert.Zero(t, m, "room after the kept ones is cleared")
				}
			}
			// Put measurements added meanwhile behind them: order kept, blocks full but the last.
			cur := blocksOf(q, rng.IntN(10))
			curVals := values(cur.flat())
			kept.bs = append([][]Measurement(nil), kept.bs...)
			all := q.prependLocked(kept, cur)
			assert.Equal(t, append(want, curVals...), values(all.flat()))
			assert.Equal(t, len(want)+len(curVals), all.n)
			for i, blk := range all.bs {
				if i < len(all.bs)-1 {
					require.Equal(t, size, len(blk))
				}
			}
		}
	}
}
