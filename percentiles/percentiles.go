// Package percentiles gives an Aggregator percentile gauges ("latency.p95") from DDSketch
// (github.com/DataDog/sketches-go), a mergeable quantile sketch whose answers are within a chosen
// relative error of the true quantile:
//
//	a := c.NewAggregator(librato.AggregatorOptions{
//		Percentiles: []float64{50, 95, 99},
//		NewSketch:   percentiles.NewDDSketch, // answers within 1%
//	})
//
// DDSketch(accuracy) makes sketches with another relative accuracy.
//
// It is a separate package because DDSketch brings in the protobuf runtime: about 4 MB of binary
// that programs without percentiles should not carry.
package percentiles

import (
	"fmt"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/store"

	"github.com/go-librato/librato"
)

// MaxBins bounds the memory of one sketch: 2048 bins per sign cover values from 1 to about 1e17
// at 1% relative accuracy; beyond the range the lowest bins are collapsed (low quantiles lose
// accuracy first, the high ones that matter for latency keep it).
const MaxBins = 2048

// DefaultAccuracy is the relative accuracy of NewDDSketch: quantiles within 1% of the true value.
const DefaultAccuracy = 0.01

var defaultMapping, _ = mapping.NewCubicallyInterpolatedMapping(DefaultAccuracy)

// NewDDSketch makes a DDSketch with DefaultAccuracy; use it as AggregatorOptions.NewSketch.
func NewDDSketch() librato.Sketch { return newSketch(defaultMapping) }

// DDSketch returns an AggregatorOptions.NewSketch making DDSketches with the given relative
// accuracy (0.01: every quantile within 1% of the true value). relativeAccuracy must be strictly
// between 0 and 1.
func DDSketch(relativeAccuracy float64) (func() librato.Sketch, error) {
	if !(relativeAccuracy > 0 && relativeAccuracy < 1) {
		return nil, fmt.Errorf("percentiles: DDSketch(%v): relative accuracy must be strictly between 0 and 1", relativeAccuracy)
	}
	m, err := mapping.NewCubicallyInterpolatedMapping(relativeAccuracy)
	if err != nil {
		return nil, fmt.Errorf("percentiles: DDSketch(%v): %w", relativeAccuracy, err)
	}
	return func() librato.Sketch { return newSketch(m) }, nil
}

func newSketch(m mapping.IndexMapping) *sketch {
	return &sketch{s: ddsketch.NewDDSketch(m, store.NewCollapsingLowestDenseStore(MaxBins),
		store.NewCollapsingLowestDenseStore(MaxBins))}
}

// sketch adapts *ddsketch.DDSketch to librato.Sketch.
type sketch struct{ s *ddsketch.DDSketch }

// Add records v; values the mapping cannot index (beyond about ±1e300) are clamped out by
// DDSketch's own range check and skipped.
func (k *sketch) Add(v float64) { _ = k.s.Add(v) }

// Quantile returns the value at q, within the relative accuracy.
func (k *sketch) Quantile(q float64) (float64, bool) {
	if k.s.IsEmpty() {
		return 0, false
	}
	v, err := k.s.GetValueAtQuantile(q)
	return v, err == nil
}

// Merge adds other's values; other must come from the same DDSketch function.
func (k *sketch) Merge(other librato.Sketch) {
	if o, ok := other.(*sketch); ok {
		_ = k.s.MergeWith(o.s)
	}
}

// Reset empties the sketch, keeping its bins' memory.
func (k *sketch) Reset() { k.s.Clear() }
