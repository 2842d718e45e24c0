package librato

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Metric is a metric's metadata as the API serves it, and for a legacy (source-based) read with a
// time range, its measurements.
//
// Times and durations are Go values; the API's seconds and epoch times are converted on decode.
// Metric encodes back to the API's JSON shape (encoding/json), which makes it easy to print.
type Metric struct {
	Name        string
	DisplayName string // "" when the API has none (null)
	Description string // "" when the API has none (null)
	// Type is "gauge", "counter" (legacy accounts) or "composite".
	Type string
	// Period is the metric's reporting period (whole seconds on the wire); 0 when unset (null).
	Period time.Duration
	// Composite is the expression of a persisted composite metric, "" for other types.
	Composite string
	// SourceLag is the API's source_lag (seconds on the wire); 0 when unset (null).
	SourceLag  time.Duration
	Attributes MetricAttributes

	// Measurements holds a legacy read's points keyed by source name; points without a source
	// come under "unassigned", and summarize_sources adds the pseudo-source "all".
	// Nil when the read asked for metadata only.
	Measurements map[string][]Point
	// Resolution is the resolution of Measurements in seconds, 0 when there are none.
	Resolution int
	// NextTime is the API's paging hint (query.next_time): more points exist from this time on.
	// Re-issue the read with StartTime = NextTime, or use MetricsService.Points. Zero when there are no more.
	NextTime time.Time
}

// MetricAttributes are a metric's display and behaviour settings.
//
// Decoding is tolerant, because the API is: display_min and display_max arrive as numbers,
// numeric strings or null, booleans sometimes as strings. A value that cannot be read into its
// field, and every attribute this type does not know, is kept in Extra, so nothing is lost.
type MetricAttributes struct {
	Color             string   // "#RRGGBB"
	DisplayMax        *float64 // nil: unset
	DisplayMin        *float64 // nil: unset
	DisplayUnitsLong  string
	DisplayUnitsShort string
	DisplayStacked    *bool
	// SummarizeFunction is how points are combined across time: average (the API default), sum,
	// count, min or max.
	SummarizeFunction string
	// Aggregate turns on service-side aggregation over the metric's period.
	Aggregate *bool
	// CreatedByUA is the User-Agent that created the metric. Read-only: Update never sends it.
	CreatedByUA string
	// GapDetection is read-only: Update never sends it.
	GapDetection *bool
	// Extra holds the attributes not listed above (and unreadable values of listed ones), as
	// encoding/json decodes them into an any. Update sends them as they are.
	Extra map[string]any
}

// attrField is one typed attribute of MetricAttributes: its key as the API spells it, whether it
// is read-only (Update never sends it), and its field, a *string, **float64 or **bool. The table
// below is the one list of typed attributes the decoder and the encoders share.
type attrField struct {
	key      string
	readOnly bool
	field    func(a *MetricAttributes) any
}

var attrFields = []attrField{
	{"color", false, func(a *MetricAttributes) any { return &a.Color }},
	{"display_max", false, func(a *MetricAttributes) any { return &a.DisplayMax }},
	{"display_min", false, func(a *MetricAttributes) any { return &a.DisplayMin }},
	{"display_units_long", false, func(a *MetricAttributes) any { return &a.DisplayUnitsLong }},
	{"display_units_short", false, func(a *MetricAttributes) any { return &a.DisplayUnitsShort }},
	{"display_stacked", false, func(a *MetricAttributes) any { return &a.DisplayStacked }},
	{"summarize_function", false, func(a *MetricAttributes) any { return &a.SummarizeFunction }},
	{"aggregate", false, func(a *MetricAttributes) any { return &a.Aggregate }},
	{"created_by_ua", true, func(a *MetricAttributes) any { return &a.CreatedByUA }},
	{"gap_detection", true, func(a *MetricAttributes) any { return &a.GapDetection }},
}

// decode reads v into f's field of a; it reports false when v does not fit the field.
func (f attrField) decode(a *MetricAttributes, v json.RawMessage) (ok bool) {
	switch p := f.field(a).(type) {
	case *string:
		*p, ok = flexString(v)
	case **float64:
		*p, ok = flexFloat(v)
	case **bool:
		*p, ok = flexBool(v)
	}
	return ok
}

// encode puts f's field of a into m when it is set.
func (f attrField) encode(a *MetricAttributes, m map[string]any) {
	switch p := f.field(a).(type) {
	case *string:
		if *p != "" {
			m[f.key] = *p
		}
	case **float64:
		if *p != nil {
			m[f.key] = **p
		}
	case **bool:
		if *p != nil {
			m[f.key] = **p
		}
	}
}

// UnmarshalJSON decodes the API's attributes object tolerantly (see MetricAttributes).
func (a *MetricAttributes) UnmarshalJSON(b []byte) error {
	if isJSONNull(b) {
		return nil
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("librato: metric attributes: %w", err)
	}
	*a = MetricAttributes{}
	for k, v := range raw {
		i := slices.IndexFunc(attrFields, func(f attrField) bool { return f.key == k })
		if i >= 0 && attrFields[i].decode(a, v) {
			continue
		}
		var x any
		if err := json.Unmarshal(v, &x); err != nil {
			return fmt.Errorf("librato: metric attribute %q: %w", k, err)
		}
		if a.Extra == nil {
			a.Extra = make(map[string]any)
		}
		a.Extra[k] = x
	}
	return nil
}

// MarshalJSON encodes every set attribute, read-only ones included, with Extra underneath:
// a typed field wins over an Extra entry of the same key.
func (a MetricAttributes) MarshalJSON() ([]byte, error) {
	return json.Marshal(a.toMap(true))
}

// toMap returns the attributes to encode; readOnly says whether created_by_ua and gap_detection
// are included (not in requests, not even from Extra).
func (a *MetricAttributes) toMap(readOnly bool) map[string]any {
	m := make(map[string]any, len(a.Extra)+len(attrFields))
	for k, v := range a.Extra {
		m[k] = v
	}
	for _, f := range attrFields {
		if f.readOnly && !readOnly {
			delete(m, f.key)
			continue
		}
		f.encode(a, m)
	}
	return m
}

// metricWire is a metric as the API sends it; nullable fields are pointers.
type metricWire struct {
	Name         string             `json:"name"`
	DisplayName  *string            `json:"display_name"`
	Description  *string            `json:"description"`
	Period       *float64           `json:"period"`
	Type         string             `json:"type"`
	Composite    *string            `json:"composite,omitempty"`
	SourceLag    *float64           `json:"source_lag,omitempty"`
	Attributes   *MetricAttributes  `json:"attributes"`
	Measurements map[string][]Point `json:"measurements,omitempty"`
	Resolution   *float64           `json:"resolution,omitempty"`
	Query        *metricQuery       `json:"query,omitempty"`
}

type metricQuery struct {
	NextTime *float64 `json:"next_time,omitempty"`
}

// UnmarshalJSON decodes the API's metric object: nulls become zero values, seconds become durations.
func (m *Metric) UnmarshalJSON(b []byte) error {
	var w metricWire
	if err := json.Unmarshal(b, &w); err != nil {
		return fmt.Errorf("librato: metric: %w", err)
	}
	*m = Metric{
		Name:         w.Name,
		Type:         w.Type,
		DisplayName:  deref(w.DisplayName),
		Description:  deref(w.Description),
		Composite:    deref(w.Composite),
		Period:       secondsDuration(deref(w.Period)),
		SourceLag:    secondsDuration(deref(w.SourceLag)),
		Attributes:   deref(w.Attributes),
		Measurements: w.Measurements,
		Resolution:   int(deref(w.Resolution)),
	}
	if w.Query != nil && w.Query.NextTime != nil && *w.Query.NextTime > 0 {
		m.NextTime = time.Unix(int64(*w.Query.NextTime), 0).UTC()
	}
	return nil
}

// MarshalJSON encodes the metric in the API's shape (unset nullable fields as null), so a Metric
// printed as JSON reads like the API's answer and decodes back to the same value.
func (m Metric) MarshalJSON() ([]byte, error) {
	w := metricWire{
		Name:         m.Name,
		DisplayName:  nonZero(m.DisplayName),
		Description:  nonZero(m.Description),
		Period:       nonZero(m.Period.Seconds()),
		Type:         m.Type,
		Composite:    nonZero(m.Composite),
		SourceLag:    nonZero(m.SourceLag.Seconds()),
		Attributes:   &m.Attributes,
		Measurements: m.Measurements,
		Resolution:   nonZero(float64(m.Resolution)),
	}
	if !m.NextTime.IsZero() {
		t := float64(m.NextTime.Unix())
		w.Query = &metricQuery{NextTime: &t}
	}
	return json.Marshal(w)
}

// secondsDuration converts the API's seconds to a Duration.
func secondsDuration(s float64) time.Duration {
	return time.Duration(math.Round(s * float64(time.Second)))
}

// deref returns *p, or the zero value for a nil p (the API's null).
func deref[T any](p *T) T {
	var v T
	if p != nil {
		v = *p
	}
	return v
}

// nonZero returns a pointer to v, or nil (null on the wire) for the zero value.
func nonZero[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

func isJSONNull(b []byte) bool {
	return string(bytes.TrimSpace(b)) == "null"
}

// flexString reads a string or null.
func flexString(b json.RawMessage) (string, bool) {
	if isJSONNull(b) {
		return "", true
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return "", false
	}
	return s, true
}

// flexFloat reads a number, a numeric string, "" or null.
func flexFloat(b json.RawMessage) (*float64, bool) {
	if isJSONNull(b) {
		return nil, true
	}
	var f float64
	if err := json.Unmarshal(b, &f); err == nil {
		return &f, true
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, false
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, false
	}
	return &f, true
}

// flexBool reads a boolean, "true"/"false" (strconv.ParseBool forms) or null.
func flexBool(b json.RawMessage) (*bool, bool) {
	if isJSONNull(b) {
		return nil, true
	}
	var v bool
	if err := json.Unmarshal(b, &v); err == nil {
		return &v, true
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, false
	}
	v, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		return nil, false
	}
	return &v, true
}
