package librato

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// MetricUpdate holds the properties Update, UpdateMany and UpdatePattern send. Zero fields are not
// sent, so the API keeps their current values: an update changes only what it sets (which also means
// a description or display name cannot be cleared to "" through it).
type MetricUpdate struct {
	// Type is needed only to create a metric with Update: "gauge", "counter" (legacy accounts) or
	// "composite". It cannot change an existing metric's type.
	Type        string
	DisplayName string
	Description string
	// Period is the reporting period, in whole seconds (at least one).
	Period time.Duration
	// Attributes are merged into the metric's attributes; only the set ones are sent, and never
	// the read-only CreatedByUA and GapDetection.
	Attributes *MetricAttributes
	// Composite is a composite metric's expression; setting it implies Type "composite".
	Composite string
}

// metricTypes are the accepted values of MetricUpdate.Type.
var metricTypes = []string{"gauge", "counter", "composite"}

// body validates the update and returns its JSON object; selector fields (names, exclude) are
// added by the caller. An update that sets nothing is an error: it would be a silent no-op.
func (u *MetricUpdate) body() (map[string]any, error) {
	var errs []error
	b := make(map[string]any, 6)
	typ := u.Type
	if u.Composite != "" {
		if typ != "" && typ != "composite" {
			errs = append(errs, fmt.Errorf("MetricUpdate.Composite is set but Type is %q, not composite", typ))
		}
		typ = "composite"
		b["composite"] = u.Composite
	}
	if typ != "" {
		valid := false
		for _, t := range metricTypes {
			valid = valid || t == typ
		}
		if !valid {
			errs = append(errs, fmt.Errorf("MetricUpdate.Type %q is none of %v", typ, metricTypes))
		}
		b["type"] = typ
	}
	if u.DisplayName != "" {
		b["display_name"] = u.DisplayName
	}
	if u.Description != "" {
		b["description"] = u.Description
	}
	switch {
	case u.Period < 0:
		errs = append(errs, fmt.Errorf("MetricUpdate.Period %v is negative", u.Period))
	case u.Period%time.Second != 0:
		errs = append(errs, fmt.Errorf("MetricUpdate.Period %v is not whole seconds", u.Period))
	case u.Period > 0:
		b["period"] = int64(u.Period / time.Second)
	}
	if u.Attributes != nil {
		if attrs := u.Attributes.toMap(false); len(attrs) > 0 {
			b["attributes"] = attrs
		}
	}
	if len(errs) == 0 && len(b) == 0 {
		errs = append(errs, errors.New("MetricUpdate sets nothing"))
	}
	if len(errs) > 0 {
		return nil, &invalidOptionError{msg: errors.Join(errs...).Error()}
	}
	return b, nil
}

// Update creates or updates one metric (PUT /v1/metrics/:name). Updating needs only the fields to
// change; creating needs a Type (and a Composite for a composite metric). The API answers 204 for an
// update and 201 for a creation; a 202 job is waited for.
func (svc *MetricsService) Update(ctx context.Context, name string, u MetricUpdate) error {
	c := svc.client
	n, err := c.writeName("metric update", name)
	if err != nil {
		return err
	}
	b, err := u.body()
	if err != nil {
		return fmt.Errorf("librato: Update %s: %w", n, err)
	}
	resp, err := c.do(ctx, http.MethodPut, escapePath("metrics", n), nil, b, nil)
	if err != nil {
		return err
	}
	return c.waitAccepted(ctx, resp)
}

// UpdateMany applies one update to several existing metrics with one PUT /v1/metrics, and waits for
// the job when the API answers 202. It cannot create metrics: u.Type and u.Composite are refused.
// No names: nothing to do, no request.
func (svc *MetricsService) UpdateMany(ctx context.Context, names []string, u MetricUpdate) error {
	c := svc.client
	if len(names) == 0 {
		return nil
	}
	checked, err := c.writeNames("metric update", names)
	if err != nil {
		return err
	}
	return c.updateSelected(ctx, "UpdateMany", deleteBody{Names: checked}, u)
}

// UpdatePattern applies one update to every metric whose name matches pattern ("*" matches any run of
// characters) except the excluded names, with one PUT /v1/metrics, and waits for the job when the API
// answers 202. As with DeletePattern, the sanitizer applies to the excluded names only.
func (svc *MetricsService) UpdatePattern(ctx context.Context, pattern string, exclude []string, u MetricUpdate) error {
	c := svc.client
	sel, err := c.patternSelector("metric update", pattern, exclude)
	if err != nil {
		return err
	}
	return c.updateSelected(ctx, "UpdatePattern", sel, u)
}

func (c *Client) updateSelected(ctx context.Context, op string, sel deleteBody, u MetricUpdate) error {
	if u.Type != "" || u.Composite != "" {
		return fmt.Errorf("librato: %s: %w", op, optionErrorf("MetricUpdate.Type and Composite apply to one metric: use Update"))
	}
	b, err := u.body()
	if err != nil {
		return fmt.Errorf("librato: %s: %w", op, err)
	}
	b["names"] = sel.Names
	if len(sel.Exclude) > 0 {
		b["exclude"] = sel.Exclude
	}
	resp, err := c.do(ctx, http.MethodPut, "metrics", nil, b, nil)
	if err != nil {
		return err
	}
	return c.waitAccepted(ctx, resp)
}
