package librato

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
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
	// Re-issue the read with StartTime = NextTime, or use Client.Points. Zero when there are no more.
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

// Attribute keys, as the API spells them.
const (
	attrColor             = "color"
	attrDisplayMax        = "display_max"
	attrDisplayMin        = "display_min"
	attrDisplayUnitsLong  = "display_units_long"
	attrDisplayUnitsShort = "display_units_short"
	attrDisplayStacked    = "display_stacked"
	attrSummarizeFunction = "summarize_function"
	attrAggregate         = "aggregate"
	attrCreatedByUA       = "created_by_ua"
	attrGapDetection      = "gap_detection"
)

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
		ok := true
		switch k {
		case attrColor:
			a.Color, ok = flexString(v)
		case attrDisplayMax:
			a.DisplayMax, ok = flexFloat(v)
		case attrDisplayMin:
			a.DisplayMin, ok = flexFloat(v)
		case attrDisplayUnitsLong:
			a.DisplayUnitsLong, ok = flexString(v)
		case attrDisplayUnitsShort:
			a.DisplayUnitsShort, ok = flexString(v)
		case attrDisplayStacked:
			a.DisplayStacked, ok = flexBool(v)
		case attrSummarizeFunction:
			a.SummarizeFunction, ok = flexString(v)
		case attrAggregate:
			a.Aggregate, ok = flexBool(v)
		case attrCreatedByUA:
			a.CreatedByUA, ok = flexString(v)
		case attrGapDetection:
			a.GapDetection, ok = flexBool(v)
		default:
			ok = false
		}
		if !ok {
			var x any
			if err := json.Unmarshal(v, &x); err != nil {
				return fmt.Errorf("librato: metric attribute %q: %w", k, err)
			}
			if a.Extra == nil {
				a.Extra = make(map[string]any)
			}
			a.Extra[k] = x
		}
	}
	return nil
}

// MarshalJSON encodes every set attribute, read-only ones included, with Extra underneath:
// a typed field wins over an Extra entry of the same key.
func (a MetricAttributes) MarshalJSON() ([]byte, error) {
	return json.Marshal(a.toMap(true))
}

// toMap returns the attributes to encode; readOnly says whether created_by_ua and gap_detection
// are included (not in requests).
func (a *MetricAttributes) toMap(readOnly bool) map[string]any {
	m := make(map[string]any, len(a.Extra)+10)
	for k, v := range a.Extra {
		m[k] = v
	}
	setString := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	setString(attrColor, a.Color)
	if a.DisplayMax != nil {
		m[attrDisplayMax] = *a.DisplayMax
	}
	if a.DisplayMin != nil {
		m[attrDisplayMin] = *a.DisplayMin
	}
	setString(attrDisplayUnitsLong, a.DisplayUnitsLong)
	setString(attrDisplayUnitsShort, a.DisplayUnitsShort)
	if a.DisplayStacked != nil {
		m[attrDisplayStacked] = *a.DisplayStacked
	}
	setString(attrSummarizeFunction, a.SummarizeFunction)
	if a.Aggregate != nil {
		m[attrAggregate] = *a.Aggregate
	}
	if readOnly {
		setString(attrCreatedByUA, a.CreatedByUA)
		if a.GapDetection != nil {
			m[attrGapDetection] = *a.GapDetection
		}
	} else {
		delete(m, attrCreatedByUA)
		delete(m, attrGapDetection)
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
		Measurements: w.Measurements,
	}
	if w.DisplayName != nil {
		m.DisplayName = *w.DisplayName
	}
	if w.Description != nil {
		m.Description = *w.Description
	}
	if w.Composite != nil {
		m.Composite = *w.Composite
	}
	if w.Period != nil {
		m.Period = secondsDuration(*w.Period)
	}
	if w.SourceLag != nil {
		m.SourceLag = secondsDuration(*w.SourceLag)
	}
	if w.Attributes != nil {
		m.Attributes = *w.Attributes
	}
	if w.Resolution != nil {
		m.Resolution = int(*w.Resolution)
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
		Type:         m.Type,
		Attributes:   &m.Attributes,
		Measurements: m.Measurements,
	}
	if m.DisplayName != "" {
		w.DisplayName = &m.DisplayName
	}
	if m.Description != "" {
		w.Description = &m.Description
	}
	if m.Period != 0 {
		w.Period = durationSeconds(m.Period)
	}
	if m.Composite != "" {
		w.Composite = &m.Composite
	}
	if m.SourceLag != 0 {
		w.SourceLag = durationSeconds(m.SourceLag)
	}
	if m.Resolution != 0 {
		r := float64(m.Resolution)
		w.Resolution = &r
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

// durationSeconds converts a Duration to the API's seconds.
func durationSeconds(d time.Duration) *float64 {
	s := d.Seconds()
	return &s
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
