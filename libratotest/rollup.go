package libratotest

import (
	"math"
	"sort"
)

// bucket is the combination of the points of one series in one resolution
// interval starting at t.
type bucket struct {
	t int64
	a agg
}

// rollup combines the points of one series whose time is in [start, end]
// into buckets of res seconds (t - t%res), ordered by time. Points of one
// bucket are combined like points posted for the same time: count, sum,
// min, max and sum_squares add up, last is the latest one.
func rollup(ps points, start, end, res int64) []bucket {
	if res < 1 {
		res = 1
	}
	var out []bucket
	for _, p := range ps { // sorted by time
		if p.t < start || p.t > end {
			continue
		}
		bt := floorTime(p.t, res)
		if n := len(out); n > 0 && out[n-1].t == bt {
			out[n-1].a.merge(p.agg)
			continue
		}
		out = append(out, bucket{t: bt, a: p.agg})
	}
	return out
}

// floorTime floors t to a multiple of res, also for negative t.
func floorTime(t, res int64) int64 {
	r := t % res
	if r < 0 {
		r += res
	}
	return t - r
}

// combineFunc combines values of several series at one time (group_by
// functions).
func combineFunc(name string) (func([]float64) float64, bool) {
	switch name {
	case "sum":
		return func(v []float64) float64 {
			var s float64
			for _, x := range v {
				s += x
			}
			return s
		}, true
	case "min":
		return func(v []float64) float64 {
			m := math.Inf(1)
			for _, x := range v {
				m = math.Min(m, x)
			}
			return m
		}, true
	case "max":
		return func(v []float64) float64 {
			m := math.Inf(-1)
			for _, x := range v {
				m = math.Max(m, x)
			}
			return m
		}, true
	case "mean", "average":
		return func(v []float64) float64 {
			var s float64
			for _, x := range v {
				s += x
			}
			return s / float64(len(v))
		}, true
	case "count":
		return func(v []float64) float64 { return float64(len(v)) }, true
	}
	return nil, false
}

// timedValue is one output point of a derived series.
type timedValue struct {
	t int64
	v float64
}

// combineSeries combines several series point by point with f, over the
// union of their times, ordered by time.
func combineSeries(all [][]timedValue, f func([]float64) float64) []timedValue {
	byTime := map[int64][]float64{}
	for _, s := range all {
		for _, p := range s {
			byTime[p.t] = append(byTime[p.t], p.v)
		}
	}
	out := make([]timedValue, 0, len(byTime))
	for t, vs := range byTime {
		out = append(out, timedValue{t, f(vs)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].t < out[j].t })
	return out
}
