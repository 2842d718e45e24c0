package librato

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Point is one point of a series.
//
// Legacy reads carry measure_time, value and count, and summary fields for complex gauges;
// tagged reads carry time and value. Optional fields are nil when the API did not send them.
type Point struct {
	Time  time.Time // UTC, whole seconds
	Value float64   // NaN when the API sent null (no data)
	// Count is the number of samples behind the point (legacy reads); 0 when not sent.
	Count      int64
	Sum        *float64
	Min        *float64
	Max        *float64
	SumSquares *float64
}

// pointWire is a point of either API: legacy points have measure_time, tagged ones time.
type pointWire struct {
	MeasureTime *float64 `json:"measure_time,omitempty"`
	Time        *float64 `json:"time,omitempty"`
	Value       *float64 `json:"value"`
	Count       *float64 `json:"count,omitempty"`
	Sum         *float64 `json:"sum,omitempty"`
	Min         *float64 `json:"min,omitempty"`
	Max         *float64 `json:"max,omitempty"`
	SumSquares  *float64 `json:"sum_squares,omitempty"`
}

// UnmarshalJSON decodes a legacy ({measure_time, value, count, ...}) or tagged ({time, value})
// point. A null value becomes NaN, so "no data" is not mistaken for 0. When both times are present,
// time wins.
//
// Reads return thousands of points, so the common shape (an object of numbers and nulls) is parsed
// by hand; anything else goes through encoding/json.
func (p *Point) UnmarshalJSON(b []byte) error {
	if parsePoint(b, p) {
		return nil
	}
	var w pointWire
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("librato: point: %w", err)
	}
	*p = Point{Value: math.NaN(), Sum: w.Sum, Min: w.Min, Max: w.Max, SumSquares: w.SumSquares}
	switch {
	case w.Time != nil:
		p.Time = time.Unix(int64(*w.Time), 0).UTC()
	case w.MeasureTime != nil:
		p.Time = time.Unix(int64(*w.MeasureTime), 0).UTC()
	}
	if w.Value != nil {
		p.Value = *w.Value
	}
	if w.Count != nil {
		p.Count = int64(*w.Count)
	}
	return nil
}

// Indexes of the summary fields in parsePoint's shared array.
const (
	pointSum = iota
	pointMin
	pointMax
	pointSumSquares
	pointSummaries
)

// parsePoint is the fast path of UnmarshalJSON: a flat object whose keys need no unescaping and
// whose values are all numbers or null. It reports false, leaving p untouched, for anything else.
// The summary fields of one point share a single allocation.
func parsePoint(b []byte, p *Point) bool {
	var (
		tm, mt, val, cnt        float64
		hasT, hasMT, hasV, hasC bool
		sums                    [pointSummaries]float64
		hasSum                  [pointSummaries]bool
	)
	i := skipSpace(b, 0)
	if i == len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		i++
	} else {
		for {
			if i == len(b) || b[i] != '"' {
				return false
			}
			k := i + 1
			for k < len(b) && b[k] != '"' && b[k] != '\\' {
				k++
			}
			if k == len(b) || b[k] != '"' {
				return false
			}
			key := b[i+1 : k]
			i = skipSpace(b, k+1)
			if i == len(b) || b[i] != ':' {
				return false
			}
			i = skipSpace(b, i+1)
			var v float64
			isNull := false
			if len(b)-i >= 4 && string(b[i:i+4]) == "null" {
				isNull = true
				i += 4
			} else {
				j := i
				for j < len(b) && (b[j] >= '0' && b[j] <= '9' || b[j] == '-' || b[j] == '+' || b[j] == '.' || b[j] == 'e' || b[j] == 'E') {
					j++
				}
				if j == i {
					return false // a string, object, array or boolean: the slow path decides
				}
				f, err := strconv.ParseFloat(string(b[i:j]), 64)
				if err != nil {
					return false
				}
				v, i = f, j
			}
			set := !isNull // null resets a field, as encoding/json sets the pointer to nil
			switch string(key) {
			case "time":
				tm, hasT = v, set
			case "measure_time":
				mt, hasMT = v, set
			case "value":
				val, hasV = v, set
			case "count":
				cnt, hasC = v, set
			case "sum":
				sums[pointSum], hasSum[pointSum] = v, set
			case "min":
				sums[pointMin], hasSum[pointMin] = v, set
			case "max":
				sums[pointMax], hasSum[pointMax] = v, set
			case "sum_squares":
				sums[pointSumSquares], hasSum[pointSumSquares] = v, set
			default:
				if !plainKey(key) {
					return false // encoding/json matches keys case-insensitively: let it
				}
			}
			i = skipSpace(b, i)
			if i == len(b) {
				return false
			}
			if b[i] == '}' {
				i++
				break
			}
			if b[i] != ',' {
				return false
			}
			i = skipSpace(b, i+1)
		}
	}
	if skipSpace(b, i) != len(b) {
		return false
	}
	*p = Point{Value: math.NaN()}
	switch {
	case hasT:
		p.Time = time.Unix(int64(tm), 0).UTC()
	case hasMT:
		p.Time = time.Unix(int64(mt), 0).UTC()
	}
	if hasV {
		p.Value = val
	}
	if hasC {
		p.Count = int64(cnt)
	}
	if hasSum != [pointSummaries]bool{} {
		shared := new([pointSummaries]float64)
		*shared = sums
		ptrs := [pointSummaries]**float64{&p.Sum, &p.Min, &p.Max, &p.SumSquares}
		for k, ok := range hasSum {
			if ok {
				*ptrs[k] = &shared[k]
			}
		}
	}
	return true
}

// plainKey reports whether key is lower-case ASCII letters, digits and punctuation only, so it
// cannot match a known key case-insensitively without being equal to it.
func plainKey(key []byte) bool {
	for _, c := range key {
		if c >= 'A' && c <= 'Z' || c >= 0x80 {
			return false
		}
	}
	return true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// MarshalJSON encodes the point as {"time": <epoch>, "value": ..., ...}; optional fields only when
// set, a NaN value as null.
func (p Point) MarshalJSON() ([]byte, error) {
	var w pointWire
	if !p.Time.IsZero() {
		t := float64(p.Time.Unix())
		w.Time = &t
	}
	if !math.IsNaN(p.Value) && !math.IsInf(p.Value, 0) {
		v := p.Value
		w.Value = &v
	}
	if p.Count != 0 {
		c := float64(p.Count)
		w.Count = &c
	}
	w.Sum, w.Min, w.Max, w.SumSquares = p.Sum, p.Min, p.Max, p.SumSquares
	return json.Marshal(w)
}
