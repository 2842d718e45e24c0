package librato

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Bounds on what a measurement may carry, beyond the name and tag rules of sanitize.go.
const (
	// maxAbsValue: the API rejects a whole request when a number has a base-10 exponent above 126
	// (reference section 3), so one such value would poison a batch. Refuse it up front.
	maxAbsValue = 1e127
	// maxFuture is how far ahead of the client's clock a measurement time may be. The server's own
	// window is undocumented; ten minutes tolerates clock skew but catches milliseconds-as-seconds.
	maxFuture = 10 * time.Minute
)

// minTime is the earliest measurement time accepted: anything before 1971 is a unit mistake
// (seconds vs milliseconds, or a zero-ish time), not a real sample.
var minTime = time.Date(1971, 1, 1, 0, 0, 0, 0, time.UTC)

// checkMeasurement applies the client's sanitizer to m.Name (writing the result back into m) and
// validates m completely: name, source, tags, finite numbers, the Value/Summary exclusivity, summary
// consistency, counters (legacy only), period and time. It returns a *ValidationError (wrapping
// ErrInvalid) or an error of ValidateTags describing the first problem; the caller adds the index.
// It does not allocate when m is valid and the sanitizer does not allocate.
func (c *Client) checkMeasurement(m *Measurement) error {
	m.Name = c.sanitize(m.Name)
	if err := ValidateMetricName(m.Name); err != nil {
		return err
	}
	if err := ValidateSource(m.Source); err != nil {
		return err
	}
	if err := ValidateTags(m.Tags); err != nil {
		return err
	}
	if m.Type != Gauge && m.Type != Counter {
		return &ValidationError{Field: "type", Value: m.Type.String(), Reason: "must be Gauge or Counter"}
	}
	if s := m.Summary; s != nil {
		if err := checkSummary(m, s); err != nil {
			return err
		}
	} else if err := checkNumber("value", m.Value); err != nil {
		return err
	}
	if m.Period < 0 || m.Period%time.Second != 0 {
		return &ValidationError{Field: "period", Value: m.Period.String(),
			Reason: "must be zero or a positive whole number of seconds"}
	}
	if !m.Time.IsZero() {
		if m.Time.Before(minTime) {
			return &ValidationError{Field: "time", Value: m.Time.UTC().Format(time.RFC3339),
				Reason: "is before 1971 (seconds and milliseconds mixed up?)"}
		}
		if limit := c.now().Add(maxFuture); m.Time.After(limit) {
			return &ValidationError{Field: "time", Value: m.Time.UTC().Format(time.RFC3339),
				Reason: "is more than " + maxFuture.String() + " in the future"}
		}
	}
	if len(m.Attributes) > 0 {
		// Attributes are free-form; make sure encoding them cannot fail later, mid-batch.
		if _, err := json.Marshal(m.Attributes); err != nil {
			return &ValidationError{Field: "attributes", Value: fmt.Sprint(len(m.Attributes)) + " attributes",
				Reason: "cannot be encoded as JSON: " + err.Error()}
		}
	}
	return c.checkRoute(m, nil)
}

// checkRoute checks what depends on where m is sent, given the tags of a queue (nil for none):
// a measurement for the tagged API (see tagged) cannot be a counter or carry a source, and its
// merged tag set (m.Tags over queueTags over the client's tags) must stay within MaxTags.
// checkMeasurement calls it with no queue tags; a Queue with tags calls it again with its own.
func (c *Client) checkRoute(m *Measurement, queueTags map[string]string) error {
	if !c.tagged(m, queueTags) {
		return nil
	}
	if m.Type == Counter {
		return &ValidationError{Field: "type", Value: "counter",
			Reason: "counters exist only in the legacy API; this measurement goes to the tagged API (it has tags, or the client or queue has tags, or the client is AppOptics)"}
	}
	if m.Source != "" {
		return &ValidationError{Field: "source", Value: m.Source,
			Reason: "the tagged API has no sources (it rejects the field); put it in a tag"}
	}
	if n := mergedTagCount(m.Tags, queueTags, c.tags); n > MaxTags {
		return &ValidationError{Field: "tags", Value: strconv.Itoa(n) + " tags",
			Reason: fmt.Sprintf("%d tags after merging measurement, queue and client tags, at most %d allowed", n, MaxTags)}
	}
	return nil
}

// tagged reports whether m goes to POST measurements: the client is AppOptics, or m, the queue
// (extra) or the client has tags.
func (c *Client) tagged(m *Measurement, extra map[string]string) bool {
	return c.appOptics || len(m.Tags) > 0 || len(extra) > 0 || len(c.tags) > 0
}

// mergedTagCount is len of the union of the three tag sets' names, without building it.
func mergedTagCount(top, mid, low map[string]string) int {
	n := len(top)
	if len(mid)+len(low) == 0 {
		return n
	}
	for k := range mid {
		if _, ok := top[k]; !ok {
			n++
		}
	}
	for k := range low {
		if _, ok := top[k]; ok {
			continue
		}
		if _, ok := mid[k]; !ok {
			n++
		}
	}
	return n
}

// checkSummary validates a pre-aggregated measurement.
func checkSummary(m *Measurement, s *Summary) error {
	if m.Value != 0 {
		return &ValidationError{Field: "value", Value: formatNumber(m.Value),
			Reason: "must be 0 when Summary is set (a measurement is a value or a summary, not both)"}
	}
	if m.Type == Counter {
		return &ValidationError{Field: "type", Value: "counter", Reason: "a counter cannot carry a Summary (summaries are gauges)"}
	}
	if s.Count < 1 {
		return &ValidationError{Field: "summary count", Value: strconv.FormatInt(s.Count, 10), Reason: "must be at least 1"}
	}
	for _, f := range [...]struct {
		name string
		v    float64
	}{{"summary sum", s.Sum}, {"summary min", s.Min}, {"summary max", s.Max}} {
		if err := checkNumber(f.name, f.v); err != nil {
			return err
		}
	}
	if s.Min > s.Max {
		return &ValidationError{Field: "summary min", Value: formatNumber(s.Min),
			Reason: "is greater than max " + formatNumber(s.Max)}
	}
	if s.SumSquares != nil {
		if err := checkNumber("summary sum_squares", *s.SumSquares); err != nil {
			return err
		}
		if *s.SumSquares < 0 {
			return &ValidationError{Field: "summary sum_squares", Value: formatNumber(*s.SumSquares),
				Reason: "must not be negative (it is a sum of squares)"}
		}
	}
	if s.Last != nil {
		if err := checkNumber("summary last", *s.Last); err != nil {
			return err
		}
	}
	return nil
}

// checkNumber rejects what JSON cannot carry (NaN, ±Inf) and what the API refuses (|v| ≥ 1e127).
func checkNumber(field string, v float64) error {
	switch {
	case math.IsNaN(v):
		return &ValidationError{Field: field, Value: "NaN", Reason: "must be a finite number"}
	case math.IsInf(v, 0):
		return &ValidationError{Field: field, Value: formatNumber(v), Reason: "must be a finite number"}
	case math.Abs(v) >= maxAbsValue:
		return &ValidationError{Field: field, Value: formatNumber(v),
			Reason: "is too large for the API (base-10 exponent above 126 fails the whole request)"}
	}
	return nil
}

func formatNumber(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

// InvalidMeasurementError is one measurement of a call that failed validation.
// errors.Is(err, ErrInvalid) holds for it.
type InvalidMeasurementError struct {
	// Index is the measurement's position in the call's arguments.
	Index int
	// Name is the measurement's name as given (before any sanitizer).
	Name string
	// Err says what is wrong, usually a *ValidationError.
	Err error
}

// Error returns `librato: measurement <i> "<name>": <reason>`.
func (e *InvalidMeasurementError) Error() string {
	return "librato: " + e.describe()
}

func (e *InvalidMeasurementError) describe() string {
	name := e.Name
	if len(name) > 64 {
		name = name[:64] + "..."
	}
	return "measurement " + strconv.Itoa(e.Index) + " " + strconv.Quote(name) + ": " + e.Err.Error()
}

// Unwrap returns the underlying validation error.
func (e *InvalidMeasurementError) Unwrap() error { return e.Err }

// InvalidMeasurementsError lists every invalid measurement of one call; when it is returned,
// nothing was sent. errors.Is(err, ErrInvalid) holds, and errors.As finds the first
// *InvalidMeasurementError.
type InvalidMeasurementsError struct {
	// Errors has one entry per invalid measurement, in argument order.
	Errors []*InvalidMeasurementError
	// Total is the number of measurements in the call.
	Total int
}

// maxListed bounds how many measurements the message of an InvalidMeasurementsError spells out.
const maxListed = 10

// Error names each invalid measurement (the first ten) with its index, name and reason.
func (e *InvalidMeasurementsError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "librato: %d of %d measurements invalid, nothing sent: ", len(e.Errors), e.Total)
	for i, me := range e.Errors {
		if i == maxListed {
			fmt.Fprintf(&b, "; and %d more", len(e.Errors)-maxListed)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(me.describe())
	}
	return b.String()
}

// Unwrap returns the per-measurement errors.
func (e *InvalidMeasurementsError) Unwrap() []error {
	errs := make([]error, len(e.Errors))
	for i, me := range e.Errors {
		errs[i] = me
	}
	return errs
}
