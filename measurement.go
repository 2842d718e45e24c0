package librato

import (
	"strconv"
	"time"
)

// MetricType is the kind of a legacy (source-based) metric. The tagged API has gauges only.
type MetricType uint8

const (
	// Gauge is a value sampled at a point in time (the zero value).
	Gauge MetricType = iota
	// Counter is a monotonically increasing count; legacy, source-based accounts only.
	Counter
)

// String returns "gauge" or "counter".
func (t MetricType) String() string {
	switch t {
	case Gauge:
		return "gauge"
	case Counter:
		return "counter"
	}
	return "MetricType(" + strconv.Itoa(int(t)) + ")"
}

// Measurement is one value of one series, for Submit, Queue.Add and the aggregator's output.
// Give it Tags (or use a client or queue with default tags) to send it to the tagged API; otherwise it
// goes to the legacy API, optionally with a Source.
type Measurement struct {
	Name   string
	Value  float64           // the sample (0 is sent as 0); must be 0 when Summary is set
	Type   MetricType        // Gauge (zero value) or Counter (legacy only: not with tags or AppOptics)
	Source string            // legacy, source-based accounts; not allowed on a tagged measurement
	Tags   map[string]string // tagged accounts; measurement tags win over queue and client tags
	Time   time.Time         // zero: stamped when sent; else from 1971 to 10 minutes ahead, whole seconds on the wire

	// Summary, when set, sends a pre-aggregated gauge (count, sum, min, max, ...) instead of Value.
	Summary *Summary

	// Metric properties, applied by the API only when this measurement creates the metric.
	Description string
	DisplayName string
	Period      time.Duration // the metric's reporting period, whole seconds on the wire
	Attributes  map[string]any
}

// Summary is a pre-aggregated gauge sample: several values reported as one.
// Count and Sum are always sent together; Count must be at least 1 and Min at most Max.
// All numbers must be finite (no NaN or ±Inf) and below 1e127 in magnitude, which the API requires.
type Summary struct {
	Count      int64
	Sum        float64
	Min, Max   float64
	SumSquares *float64 // legacy API: enables standard deviation; nil: not sent; not sent to the tagged API
	Last       *float64 // tagged API: the latest value; nil: not sent; not sent to the legacy API
	Stddev     *float64 // tagged API: the standard deviation of the values; nil: not sent; not sent to the legacy API
}

// Float returns a pointer to v, for the optional fields of Summary.
func Float(v float64) *float64 { return &v }
