package librato

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// MinAlertDuration and MaxAlertDuration bound a condition's Duration. The API documents 60-3600
// seconds; this client is stricter and also requires whole minutes, so that a Duration such as
// 90*time.Second is caught before it is sent.
const (
	MinAlertDuration = time.Minute
	MaxAlertDuration = time.Hour
)

// ConditionType is what an alert condition watches for.
type ConditionType string

// The three condition types of the v2 alert API.
const (
	ConditionAbove  ConditionType = "above"  // the summarized value is above Threshold
	ConditionBelow  ConditionType = "below"  // the summarized value is below Threshold
	ConditionAbsent ConditionType = "absent" // the metric stopped reporting for Duration
)

// alertSummaryFunctions are the summary functions a condition accepts; absolute_value is for legacy
// counters only.
var alertSummaryFunctions = []string{"min", "max", "average", "sum", "count", "derivative", "absolute_value"}

// AlertData holds an alert's properties: what GET returns and what Save sends.
//
// It is embedded in Alert. Alert's builder methods Description and Active shadow the fields of the
// same names, so read those two as al.AlertData.Description and al.AlertData.Active.
type AlertData struct {
	// ID is assigned by the API when the alert is created; 0 means not created yet.
	ID ID
	// Name is unique in the account: 1-255 bytes of A-Z a-z 0-9 . : - _.
	Name        string
	Description string
	// Conditions must all be met for the alert to fire. Every Save sends all of them: the API
	// deletes the conditions a PUT leaves out.
	Conditions []*ConditionData
	// Services are notified when the alert fires. Requests carry their IDs only; responses carry
	// the whole service objects (AddService sets the ID alone).
	Services []Service
	// Attributes holds free-form properties such as "runbook_url". A key left out of an update is
	// removed by the API.
	Attributes map[string]any
	// Active is whether the alert is evaluated (true for a new alert).
	Active bool
	// Rearm is how long the alert waits before it can fire again: a multiple of a minute, 0 for the
	// API default (10 minutes). Sent as rearm_seconds.
	Rearm time.Duration
	// Version is the alert API version: 2 (the default) or 1 (deprecated).
	Version int
	// MD marks a "multi-dimensional" (tag-based) alert, needed by mixed source-and-tags accounts.
	// Save sets it when a condition uses tags or the client is tagged.
	MD bool
	// RearmPerSignal, CreatedAt and UpdatedAt are set by the API and never sent.
	RearmPerSignal bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// ConditionData is one condition of an alert.
type ConditionData struct {
	// ID is assigned by the API; Save sends it back so the condition is kept, not recreated.
	ID         ID
	Type       ConditionType
	MetricName string
	// Source is a source pattern (wildcards allowed) for legacy accounts; "" means all sources.
	Source string
	// Tags filter the streams of tag-based accounts.
	Tags []ConditionTag
	// Threshold is required for above and below conditions and ignored for absent ones.
	Threshold *float64
	// SummaryFunction summarizes the samples of a stream: min, max, average, sum, count,
	// derivative, or absolute_value (legacy counters). "" means the API default, average.
	// It is not sent for absent conditions.
	SummaryFunction string
	// Duration is how long the condition must hold: 1 to 60 whole minutes. 0 means a single
	// sample triggers (above and below only; absent conditions require a duration).
	Duration time.Duration
	// DetectReset makes a derivative condition ignore counter resets; nil means the API default.
	DetectReset *bool
}

// ConditionTag selects streams of a tag-based account by tag. Values may hold wildcards ("prod-*").
// Grouped aggregates the matching streams into one before the condition is evaluated.
type ConditionTag struct {
	Name    string   `json:"name"`
	Grouped bool     `json:"grouped"`
	Values  []string `json:"values"`
}

// Alert is an alert, both as a builder (NewAlert, AddConditionFor, Save) and as the object the
// API returns (GetAlert, Alerts). Its data is in the embedded AlertData. An Alert is not safe for
// concurrent use; Client is.
type Alert struct {
	AlertData
	client *Client
}

// Condition is the builder handle of one condition, returned by Alert.AddConditionFor. Its methods
// change the condition in place (Data returns it) and return the handle for chaining. Like its
// Alert, it is not safe for concurrent use.
type Condition struct {
	d *ConditionData
}

// New starts building an alert named name, active, with no conditions yet. Nothing is sent
// until Save.
func (svc *AlertsService) New(name string) *Alert {
	c := svc.client
	return &Alert{AlertData: AlertData{Name: name, Active: true, Version: 2}, client: c}
}

// AddConditionFor adds a condition on metric and returns it for configuration; call Above, Below or
// StopsReportingFor on it to set its type.
func (al *Alert) AddConditionFor(metric string) *Condition {
	d := &ConditionData{MetricName: metric}
	al.Conditions = append(al.Conditions, d)
	return &Condition{d: d}
}

// AddService attaches the notification service with the given ID when the alert is saved.
// Adding the same ID twice keeps one.
func (al *Alert) AddService(id ID) *Alert {
	if !slices.ContainsFunc(al.Services, func(s Service) bool { return s.ID == id }) {
		al.Services = append(al.Services, Service{ID: id})
	}
	return al
}

// Description sets the alert's description.
func (al *Alert) Description(s string) *Alert {
	al.AlertData.Description = s
	return al
}

// RunbookURL sets the "runbook_url" attribute; "" removes it.
func (al *Alert) RunbookURL(u string) *Alert {
	if u == "" {
		delete(al.Attributes, "runbook_url")
		return al
	}
	if al.Attributes == nil {
		al.Attributes = map[string]any{}
	}
	al.Attributes["runbook_url"] = u
	return al
}

// RearmAfter sets how long the alert waits before it can fire again (a multiple of a minute).
func (al *Alert) RearmAfter(d time.Duration) *Alert {
	al.Rearm = d
	return al
}

// Active sets whether the API evaluates the alert.
func (al *Alert) Active(on bool) *Alert {
	al.AlertData.Active = on
	return al
}

// Data returns the condition the handle edits.
func (cd *Condition) Data() *ConditionData { return cd.d }

// edit applies f to the condition; a zero Condition (not from AddConditionFor) is left alone.
func (cd *Condition) edit(f func(d *ConditionData)) *Condition {
	if cd != nil && cd.d != nil {
		f(cd.d)
	}
	return cd
}

// Above makes the condition fire when the summarized value exceeds threshold.
func (cd *Condition) Above(threshold float64) *Condition {
	return cd.edit(func(d *ConditionData) { d.Type, d.Threshold = ConditionAbove, &threshold })
}

// Below makes the condition fire when the summarized value falls under threshold.
func (cd *Condition) Below(threshold float64) *Condition {
	return cd.edit(func(d *ConditionData) { d.Type, d.Threshold = ConditionBelow, &threshold })
}

// StopsReportingFor makes the condition fire when the metric sent nothing for d (1 to 60 minutes).
func (cd *Condition) StopsReportingFor(d time.Duration) *Condition {
	return cd.edit(func(c *ConditionData) { c.Type, c.Duration = ConditionAbsent, d })
}

// Duration sets how long an above or below condition must hold before the alert fires
// (1 to 60 whole minutes; sent in seconds).
func (cd *Condition) Duration(d time.Duration) *Condition {
	return cd.edit(func(c *ConditionData) { c.Duration = d })
}

// SummaryFunction sets how samples are summarized: min, max, average (default), sum, count,
// derivative, or absolute_value for legacy counters.
func (cd *Condition) SummaryFunction(fn string) *Condition {
	return cd.edit(func(d *ConditionData) { d.SummaryFunction = fn })
}

// Source restricts the condition to sources matching pattern (legacy accounts; wildcards allowed).
func (cd *Condition) Source(pattern string) *Condition {
	return cd.edit(func(d *ConditionData) { d.Source = pattern })
}

// Tag restricts the condition to streams whose tag name matches one of values (wildcards allowed);
// each matching stream is evaluated on its own.
func (cd *Condition) Tag(name string, values ...string) *Condition {
	return cd.edit(func(d *ConditionData) {
		d.Tags = append(d.Tags, ConditionTag{Name: name, Values: slices.Clone(values)})
	})
}

// GroupedTag is Tag with the matching streams aggregated into one before evaluation.
func (cd *Condition) GroupedTag(name string, values ...string) *Condition {
	return cd.edit(func(d *ConditionData) {
		d.Tags = append(d.Tags, ConditionTag{Name: name, Grouped: true, Values: slices.Clone(values)})
	})
}

// DetectReset sets whether a derivative condition ignores counter resets (API default: true).
func (cd *Condition) DetectReset(on bool) *Condition {
	return cd.edit(func(d *ConditionData) { d.DetectReset = &on })
}

// Validate checks the alert as the API would, without I/O, and reports every problem found (joined
// with errors.Join). Problems in a condition name its index in Conditions. Each problem wraps
// ErrInvalid.
func (al *Alert) Validate() error {
	var errs []error
	bad := func(field, value, reason string) {
		errs = append(errs, fmt.Errorf("librato: alert %q: %w", al.Name,
			&ValidationError{Field: field, Value: value, Reason: reason}))
	}
	if err := ValidateMetricName(al.Name); err != nil {
		bad("name", al.Name, validationReason(err))
	}
	if al.ID < 0 {
		bad("id", strconv.FormatInt(int64(al.ID), 10), "must be positive, or 0 for an alert not created yet")
	}
	if al.Version != 0 && al.Version != 1 && al.Version != 2 {
		bad("version", strconv.Itoa(al.Version), "must be 1 or 2")
	}
	if al.Rearm < 0 || al.Rearm%time.Minute != 0 {
		bad("rearm", al.Rearm.String(), "must be a whole number of minutes, not negative (rearm_seconds is a multiple of 60)")
	}
	for _, s := range al.Services {
		if s.ID <= 0 {
			bad("service", strconv.FormatInt(int64(s.ID), 10), "service IDs are positive")
		}
	}
	if v, ok := al.Attributes["runbook_url"].(string); ok && v != "" {
		if u, err := url.Parse(v); err != nil || !u.IsAbs() || u.Host == "" {
			bad("runbook_url", v, "must be an absolute URL")
		}
	}
	if len(al.Conditions) == 0 {
		bad("conditions", "", "an alert needs at least one condition (AddConditionFor)")
	}
	for i, d := range al.Conditions {
		if d == nil {
			bad(fmt.Sprintf("condition %d", i), "", "is nil")
			continue
		}
		for _, r := range d.problems(al.client) {
			bad(fmt.Sprintf("condition %d (%s) %s", i, d.MetricName, r.field), r.value, r.reason)
		}
	}
	return errors.Join(errs...)
}

type conditionProblem struct{ field, value, reason string }

// problems lists what is wrong with one condition. c (possibly nil) supplies the metric-name
// sanitizer, so the name checked is the name sent.
func (d *ConditionData) problems(c *Client) []conditionProblem {
	var ps []conditionProblem
	add := func(field, value, reason string) { ps = append(ps, conditionProblem{field, value, reason}) }
	if err := ValidateMetricName(alertMetricName(c, d.MetricName)); err != nil {
		add("metric name", d.MetricName, validationReason(err))
	}
	switch d.Type {
	case ConditionAbove, ConditionBelow:
		switch {
		case d.Threshold == nil:
			add("threshold", "", string(d.Type)+" conditions need a threshold (Above or Below)")
		case math.IsNaN(*d.Threshold) || math.IsInf(*d.Threshold, 0):
			add("threshold", strconv.FormatFloat(*d.Threshold, 'g', -1, 64), "must be a finite number")
		}
	case ConditionAbsent:
		if d.Duration == 0 {
			add("duration", "", "an absent condition needs a duration (StopsReportingFor)")
		}
	case "":
		add("type", "", "not set: call Above, Below or StopsReportingFor")
	default:
		add("type", string(d.Type), "must be above, below or absent")
	}
	if d.Duration != 0 && (d.Duration < MinAlertDuration || d.Duration > MaxAlertDuration || d.Duration%time.Minute != 0) {
		add("duration", d.Duration.String(), "must be 1 to 60 whole minutes (the API takes 60-3600 seconds)")
	}
	if d.SummaryFunction != "" && d.Type != ConditionAbsent && !slices.Contains(alertSummaryFunctions, d.SummaryFunction) {
		add("summary function", d.SummaryFunction, "must be one of min, max, average, sum, count, derivative, absolute_value")
	}
	if len(d.Source) > MaxSourceLength {
		add("source", d.Source, fmt.Sprintf("is %d bytes long, at most %d allowed", len(d.Source), MaxSourceLength))
	}
	for _, t := range d.Tags {
		if err := ValidateTagName(t.Name); err != nil {
			add("tag name", t.Name, validationReason(err))
		}
		if len(t.Values) == 0 {
			add("tag "+strconv.Quote(t.Name), "", "needs at least one value (\"*\" for any)")
		}
		for _, v := range t.Values {
			if v == "" || len(v) > MaxTagValueLength {
				add("tag "+strconv.Quote(t.Name)+" value", v, fmt.Sprintf("must be 1 to %d bytes", MaxTagValueLength))
			}
		}
	}
	return ps
}

// validationReason is why err, from a Validate function, rejected a value: its Reason, or the
// whole message for an error of another type, so that no problem goes unreported.
func validationReason(err error) string {
	var ve *ValidationError
	if errors.As(err, &ve) {
		return ve.Reason
	}
	return err.Error()
}

// alertMetricName is the metric name as sent: through the client's sanitizer when there is one.
func alertMetricName(c *Client, name string) string {
	if c == nil || c.sanitize == nil {
		return name
	}
	return c.sanitize(name)
}
