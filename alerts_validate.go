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

// Validate checks the alert as the API would, without I/O, and reports every problem found (joined
// with errors.Join). Problems in a condition name its index in Conditions. Each problem wraps
// ErrInvalid. Create and Update call it before they send anything.
func (al *Alert) Validate() error { return al.validate(nil) }

// validate is Validate with the client whose sanitizer (if any) turns metric names into the
// names sent; c may be nil.
func (al *Alert) validate(c *Client) error {
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
	for _, id := range al.Services {
		if id <= 0 {
			bad("service", strconv.FormatInt(int64(id), 10), "service IDs are positive")
		}
	}
	if v, ok := al.Attributes["runbook_url"].(string); ok && v != "" {
		if u, err := url.Parse(v); err != nil || !u.IsAbs() || u.Host == "" {
			bad("runbook_url", v, "must be an absolute URL")
		}
	}
	if len(al.Conditions) == 0 {
		bad("conditions", "", "an alert needs at least one condition (Above, Below or Absent)")
	}
	for i := range al.Conditions {
		d := &al.Conditions[i]
		for _, r := range d.problems(c) {
			bad(fmt.Sprintf("condition %d (%s) %s", i, d.MetricName, r.field), r.value, r.reason)
		}
	}
	return errors.Join(errs...)
}

type conditionProblem struct{ field, value, reason string }

// problems lists what is wrong with one condition. c (possibly nil) supplies the metric-name
// sanitizer, so the name checked is the name sent.
func (d *Condition) problems(c *Client) []conditionProblem {
	var ps []conditionProblem
	add := func(field, value, reason string) { ps = append(ps, conditionProblem{field, value, reason}) }
	if err := ValidateMetricName(alertMetricName(c, d.MetricName)); err != nil {
		add("metric name", d.MetricName, validationReason(err))
	}
	switch d.Type {
	case ConditionAbove, ConditionBelow:
		if math.IsNaN(d.Threshold) || math.IsInf(d.Threshold, 0) {
			add("threshold", strconv.FormatFloat(d.Threshold, 'g', -1, 64), "must be a finite number")
		}
	case ConditionAbsent:
		if d.Duration == 0 {
			add("duration", "", "an absent condition needs a duration")
		}
	case "":
		add("type", "", "not set: build the condition with Above, Below or Absent")
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
