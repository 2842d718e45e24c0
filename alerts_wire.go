package librato

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// alertRequest is the body of POST /alerts and PUT /alerts/:id (TV17, testdata/README.md). Every field but
// rearm_seconds is always sent: a PUT replaces the alert, so a missing field would be reset.
type alertRequest struct {
	Name         string             `json:"name"`
	Description  string             `json:"description"`
	Conditions   []conditionRequest `json:"conditions"`
	Services     []ID               `json:"services"`
	Attributes   map[string]any     `json:"attributes"`
	Active       bool               `json:"active"`
	RearmSeconds int                `json:"rearm_seconds,omitempty"`
	Version      int                `json:"version"`
	MD           bool               `json:"md"`
}

// conditionRequest is one condition on the wire. Tags are the documented array of
// {name, grouped, values} (python-librato's {} is wrong); duration is omitted when unset and
// threshold and summary_function for absent conditions.
type conditionRequest struct {
	ID              ID             `json:"id,omitempty"`
	Type            ConditionType  `json:"type"`
	MetricName      string         `json:"metric_name"`
	Source          string         `json:"source,omitempty"`
	Tags            []ConditionTag `json:"tags,omitempty"`
	Threshold       *float64       `json:"threshold,omitempty"`
	SummaryFunction string         `json:"summary_function,omitempty"`
	Duration        int            `json:"duration,omitempty"`
	DetectReset     *bool          `json:"detect_reset,omitempty"`
}

// request renders the alert as the API takes it, for client c. Call validate first.
func (al *Alert) request(c *Client) alertRequest {
	tagged := c.appOptics || len(c.tags) > 0
	r := alertRequest{
		Name:         al.Name,
		Description:  al.Description,
		Conditions:   make([]conditionRequest, 0, len(al.Conditions)),
		Services:     slices.Clone(al.Services),
		Attributes:   al.Attributes,
		Active:       !al.Disabled,
		RearmSeconds: int(al.Rearm / time.Second),
		Version:      al.Version,
		MD:           al.MD || tagged,
	}
	if r.Services == nil {
		r.Services = []ID{}
	}
	if r.Attributes == nil {
		r.Attributes = map[string]any{}
	}
	if r.Version == 0 {
		r.Version = 2
	}
	for _, d := range al.Conditions {
		cr := conditionRequest{
			ID:          d.ID,
			Type:        d.Type,
			MetricName:  alertMetricName(c, d.MetricName),
			Source:      d.Source,
			Tags:        d.Tags,
			Duration:    int(d.Duration / time.Second),
			DetectReset: d.DetectReset,
		}
		if len(d.Tags) > 0 {
			r.MD = true
		}
		// A legacy account reads an omitted source as "all sources"; "*" says the same explicitly,
		// as python-librato does. Tagged accounts get no source at all.
		if cr.Source == "" && !tagged && len(d.Tags) == 0 {
			cr.Source = "*"
		}
		if d.Type != ConditionAbsent {
			th := d.Threshold
			cr.Threshold = &th
			cr.SummaryFunction = d.SummaryFunction
			if cr.SummaryFunction == "" {
				cr.SummaryFunction = "average"
			}
		}
		r.Conditions = append(r.Conditions, cr)
	}
	return r
}

// alertResponse is an alert as GET, POST and list answers carry it. Nullable fields are pointers
// or tolerant types; services may be objects (documented) or bare IDs.
type alertResponse struct {
	ID             ID                  `json:"id"`
	Name           string              `json:"name"`
	Description    *string             `json:"description"`
	Conditions     []conditionResponse `json:"conditions"`
	Services       alertServicesWire   `json:"services"`
	Attributes     map[string]any      `json:"attributes"`
	Active         *bool               `json:"active"`
	RearmSeconds   *int                `json:"rearm_seconds"`
	Version        int                 `json:"version"`
	MD             bool                `json:"md"`
	RearmPerSignal bool                `json:"rearm_per_signal"`
	CreatedAt      jsonEpoch           `json:"created_at"`
	UpdatedAt      jsonEpoch           `json:"updated_at"`
}

type conditionResponse struct {
	ID              ID                `json:"id"`
	Type            ConditionType     `json:"type"`
	MetricName      string            `json:"metric_name"`
	Source          *string           `json:"source"`
	Tags            conditionTagsWire `json:"tags"`
	Threshold       *float64          `json:"threshold"`
	SummaryFunction *string           `json:"summary_function"`
	Duration        *int              `json:"duration"`
	DetectReset     *bool             `json:"detect_reset"`
}

// alert converts the answer into an Alert.
func (w *alertResponse) alert() *Alert {
	a := &Alert{
		ID:             w.ID,
		Name:           w.Name,
		Services:       []ID(w.Services),
		Attributes:     w.Attributes,
		Disabled:       w.Active != nil && !*w.Active,
		Version:        w.Version,
		MD:             w.MD,
		RearmPerSignal: w.RearmPerSignal,
		CreatedAt:      w.CreatedAt.Time,
		UpdatedAt:      w.UpdatedAt.Time,
	}
	if w.Description != nil {
		a.Description = *w.Description
	}
	if w.RearmSeconds != nil {
		a.Rearm = time.Duration(*w.RearmSeconds) * time.Second
	}
	for _, wc := range w.Conditions {
		cd := Condition{
			ID:          wc.ID,
			Type:        wc.Type,
			MetricName:  wc.MetricName,
			Tags:        []ConditionTag(wc.Tags),
			DetectReset: wc.DetectReset,
		}
		if wc.Threshold != nil {
			cd.Threshold = *wc.Threshold
		}
		if wc.Source != nil && *wc.Source != "*" {
			cd.Source = *wc.Source // "*" is the all-sources default, the same as none
		}
		if wc.SummaryFunction != nil {
			cd.SummaryFunction = *wc.SummaryFunction
		}
		if wc.Duration != nil {
			cd.Duration = time.Duration(*wc.Duration) * time.Second
		}
		a.Conditions = append(a.Conditions, cd)
	}
	return a
}

// alertServicesWire decodes "services" as an array of service objects (documented for responses)
// or of bare IDs (what requests carry, and what some create answers echo), keeping the IDs.
type alertServicesWire []ID

func (s *alertServicesWire) UnmarshalJSON(b []byte) error {
	var items []json.RawMessage
	if err := json.Unmarshal(b, &items); err != nil {
		return fmt.Errorf("services: %w", err)
	}
	out := make([]ID, 0, len(items))
	for _, it := range items {
		var svc struct {
			ID ID `json:"id"`
		}
		var err error
		if bytes.HasPrefix(bytes.TrimSpace(it), []byte("{")) {
			err = json.Unmarshal(it, &svc)
		} else {
			err = json.Unmarshal(it, &svc.ID)
		}
		if err != nil {
			return fmt.Errorf("services: %w", err)
		}
		out = append(out, svc.ID)
	}
	*s = out
	return nil
}

// conditionTagsWire decodes condition "tags": the documented array, or the object form
// python-librato sends ({} or {"name": ["value", ...]}).
type conditionTagsWire []ConditionTag

func (t *conditionTagsWire) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*t = nil
	case bytes.HasPrefix(b, []byte("{")):
		var m map[string][]string
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("condition tags: %w", err)
		}
		names := make([]string, 0, len(m))
		for k := range m {
			names = append(names, k)
		}
		sort.Strings(names)
		var out []ConditionTag
		for _, k := range names {
			out = append(out, ConditionTag{Name: k, Values: slices.Clone(m[k])})
		}
		*t = out
	default:
		var out []ConditionTag
		if err := json.Unmarshal(b, &out); err != nil {
			return fmt.Errorf("condition tags: %w", err)
		}
		*t = out
	}
	return nil
}

// jsonEpoch is a time the API sends as Unix seconds (integer or float), null, or in some
// snapshots an RFC 3339 string. Null and 0 decode to the zero time; others to a UTC time.
type jsonEpoch struct{ time.Time }

func (e *jsonEpoch) UnmarshalJSON(b []byte) error {
	s := string(bytes.TrimSpace(b))
	if s == "null" {
		e.Time = time.Time{}
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		uq, err := strconv.Unquote(s)
		if err != nil {
			return fmt.Errorf("time %s: %w", s, err)
		}
		if uq == "" {
			e.Time = time.Time{}
			return nil
		}
		if t, err := time.Parse(time.RFC3339, uq); err == nil {
			e.Time = t
			return nil
		}
		s = uq
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("time %s is neither Unix seconds nor RFC 3339", b)
	}
	if f == 0 {
		e.Time = time.Time{}
		return nil
	}
	sec := int64(f)
	e.Time = time.Unix(sec, int64((f-float64(sec))*1e9)).UTC()
	return nil
}

// unixOrNil renders a time as Unix seconds, or nil (omitted) for the zero time.
func unixOrNil(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	u := t.Unix()
	return &u
}
