package librato

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"time"
)

// AlertsService manages alerts (/v1/alerts).
type AlertsService service

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

// Alert is an alert: a plain value that AlertsService.Create and Update send and that Get, List
// and All return. Build its conditions with Above, Below and Absent.
type Alert struct {
	// ID is assigned by the API when the alert is created; 0 means not created yet.
	ID ID
	// Name is unique in the account: 1-255 bytes of A-Z a-z 0-9 . : - _.
	Name        string
	Description string
	// Conditions must all be met for the alert to fire. Update sends all of them: the API deletes
	// the conditions a PUT leaves out.
	Conditions []Condition
	// Services are the IDs of the notification services told when the alert fires.
	Services []ID
	// Attributes holds free-form properties such as "runbook_url" (an absolute URL). A key left
	// out of an update is removed by the API.
	Attributes map[string]any
	// Disabled stops the API evaluating the alert; the zero value is an active alert.
	Disabled bool
	// Rearm is how long the alert waits before it can fire again: a multiple of a minute, 0 for the
	// API default (10 minutes). Sent as rearm_seconds.
	Rearm time.Duration
	// Version is the alert API version: 2 (the default when 0) or 1 (deprecated).
	Version int
	// MD marks a "multi-dimensional" (tag-based) alert, needed by mixed source-and-tags accounts.
	// Create and Update set it when a condition uses tags or the client is tagged.
	MD bool
	// RearmPerSignal, CreatedAt and UpdatedAt are set by the API and never sent.
	RearmPerSignal bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Condition is one condition of an alert, a plain value. Above, Below and Absent return one;
// set the other fields on it as needed.
type Condition struct {
	// ID is assigned by the API; Update sends it back so the condition is kept, not recreated.
	ID         ID
	Type       ConditionType
	MetricName string
	// Source is a source pattern (wildcards allowed) for legacy accounts; "" means all sources.
	Source string
	// Tags filter the streams of tag-based accounts.
	Tags []ConditionTag
	// Threshold is the value an above or below condition compares with; absent conditions
	// ignore it.
	Threshold float64
	// SummaryFunction summarizes the samples of a stream: min, max, average, sum, count,
	// derivative, or absolute_value (legacy counters). "" means the API default, average.
	// It is not sent for absent conditions.
	SummaryFunction string
	// Duration is how long the condition must hold: 1 to 60 whole minutes. 0 means a single
	// sample triggers (above and below only; absent conditions require a duration).
	Duration time.Duration
	// DetectReset makes a derivative condition ignore counter resets; nil means the API default
	// (true).
	DetectReset *bool
}

// ConditionTag selects streams of a tag-based account by tag. Values may hold wildcards ("prod-*").
// Grouped aggregates the matching streams into one before the condition is evaluated.
type ConditionTag struct {
	Name    string   `json:"name"`
	Grouped bool     `json:"grouped"`
	Values  []string `json:"values"`
}

// Above returns a condition that fires when metric's summarized value exceeds threshold.
func Above(metric string, threshold float64) Condition {
	return Condition{Type: ConditionAbove, MetricName: metric, Threshold: threshold}
}

// Below returns a condition that fires when metric's summarized value falls under threshold.
func Below(metric string, threshold float64) Condition {
	return Condition{Type: ConditionBelow, MetricName: metric, Threshold: threshold}
}

// Absent returns a condition that fires when metric sent nothing for d (1 to 60 whole minutes).
func Absent(metric string, d time.Duration) Condition {
	return Condition{Type: ConditionAbsent, MetricName: metric, Duration: d}
}

// AlertListOptions selects alerts in List and All. A nil or zero value lists every v2 alert.
type AlertListOptions struct {
	// ListOptions holds the name substring filter and paging; alerts order by updated_at only.
	ListOptions
	// Version is the alert API version to list: 0 or 2 for v2 alerts, 1 for deprecated v1 ones.
	Version int
}

// split returns the paging options and the extra query parameters.
func (o *AlertListOptions) split() (*ListOptions, url.Values, error) {
	var lo ListOptions
	v := 2
	if o != nil {
		lo = o.ListOptions
		if o.Version != 0 {
			v = o.Version
		}
	}
	if v != 1 && v != 2 {
		return nil, nil, fmt.Errorf("librato: AlertListOptions.Version %d is neither 1 nor 2", v)
	}
	return &lo, url.Values{"version": {strconv.Itoa(v)}}, nil
}

// Create validates the alert and creates it (POST alerts). It returns the alert as created: with
// the ID the API assigned (from the body or the Location header) and the condition IDs and times
// the answer carries. a is not modified. Nothing is sent if a is invalid or already has an ID.
func (svc *AlertsService) Create(ctx context.Context, a Alert) (*Alert, error) {
	c := svc.client
	if a.ID != 0 {
		return nil, fmt.Errorf("librato: alert %q already has ID %d: update it instead", a.Name, a.ID)
	}
	if err := a.validate(c); err != nil {
		return nil, err
	}
	body := a.request(c)
	var out alertResponse
	resp, err := c.do(ctx, http.MethodPost, "alerts", nil, body, &out)
	if err != nil {
		return nil, err
	}
	id := out.ID
	if id == 0 {
		id = lastPathID(resp.Header.Get("Location"))
	}
	if id == 0 {
		return nil, fmt.Errorf("librato: alert %q was created but the answer (HTTP %d) carries no ID", a.Name, resp.StatusCode)
	}
	created := a.clone()
	created.ID, created.MD, created.Version = id, body.MD, body.Version
	// Create answers may lack conditions and services (python-librato notes it): take what is
	// there and keep the sent values otherwise.
	if out.ID != 0 {
		got := out.alert()
		created.CreatedAt, created.UpdatedAt, created.RearmPerSignal = got.CreatedAt, got.UpdatedAt, got.RearmPerSignal
		if created.Rearm == 0 {
			created.Rearm = got.Rearm
		}
		if len(got.Conditions) == len(created.Conditions) {
			for i, gc := range got.Conditions {
				created.Conditions[i].ID = gc.ID
			}
		}
	}
	return &created, nil
}

// Update validates the alert and replaces the alert with its ID (PUT alerts/:id), sending every
// condition: the API deletes the conditions a PUT leaves out, and recreates those sent without
// their ID. Get the alert, change it and pass it here.
func (svc *AlertsService) Update(ctx context.Context, a Alert) error {
	c := svc.client
	if err := checkAlertID("alert update", a.ID); err != nil {
		return err
	}
	if err := a.validate(c); err != nil {
		return err
	}
	_, err := c.do(ctx, http.MethodPut, escapePath("alerts", strconv.FormatInt(int64(a.ID), 10)), nil, a.request(c), nil)
	return err
}

// clone copies the alert's slices and maps, so that the copy can change without changing a.
func (a Alert) clone() Alert {
	a.Conditions = slices.Clone(a.Conditions)
	for i := range a.Conditions {
		a.Conditions[i].Tags = slices.Clone(a.Conditions[i].Tags)
	}
	a.Services = slices.Clone(a.Services)
	a.Attributes = maps.Clone(a.Attributes)
	return a
}

// lastPathID reads the numeric ID at the end of a Location header ("/v1/alerts/123"); 0 if none.
func lastPathID(loc string) ID {
	if loc == "" {
		return 0
	}
	if u, err := url.Parse(loc); err == nil {
		loc = u.Path
	}
	n, err := strconv.Atoi(path.Base(loc))
	if err != nil || n < 0 {
		return 0
	}
	return ID(n)
}

func checkAlertID(what string, id ID) error {
	if id <= 0 {
		return fmt.Errorf("librato: %s: %w", what, &ValidationError{Field: "alert ID", Value: strconv.FormatInt(int64(id), 10), Reason: "must be positive"})
	}
	return nil
}

// All iterates over every alert matching opts, page after page. It stops at the first error,
// which it yields. opts is not modified.
func (svc *AlertsService) All(ctx context.Context, opts *AlertListOptions) iter.Seq2[*Alert, error] {
	c := svc.client
	return func(yield func(*Alert, error) bool) {
		lo, extra, err := opts.split()
		if err != nil {
			yield(nil, err)
			return
		}
		for w, err := range listAll[alertResponse](ctx, c, "alerts", "alerts", lo, extra) {
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(w.alert(), nil) {
				return
			}
		}
	}
}

// List returns one page of alerts matching opts.
func (svc *AlertsService) List(ctx context.Context, opts *AlertListOptions) (*Page[Alert], error) {
	c := svc.client
	lo, extra, err := opts.split()
	if err != nil {
		return nil, err
	}
	ws, err := listPage[alertResponse](ctx, c, "alerts", "alerts", lo, extra)
	if err != nil {
		return nil, err
	}
	out := &Page[Alert]{Items: make([]Alert, len(ws.Items)), Found: ws.Found, Next: ws.Next}
	for i := range ws.Items {
		out.Items[i] = *ws.Items[i].alert()
	}
	return out, nil
}

// Get fetches the alert with the given ID. Change it and pass it to Update to change it.
func (svc *AlertsService) Get(ctx context.Context, id ID) (*Alert, error) {
	c := svc.client
	if err := checkAlertID("alert get", id); err != nil {
		return nil, err
	}
	var w alertResponse
	if _, err := c.do(ctx, http.MethodGet, escapePath("alerts", strconv.FormatInt(int64(id), 10)), nil, nil, &w); err != nil {
		return nil, err
	}
	return w.alert(), nil
}

// GetByName fetches the v2 alert named exactly name. The API filters by substring, so this pages
// through the matches. When there is none the error wraps ErrNotFound.
func (svc *AlertsService) GetByName(ctx context.Context, name string) (*Alert, error) {
	c := svc.client
	if name == "" {
		return nil, fmt.Errorf("librato: alert by name: %w", &ValidationError{Field: "alert name", Reason: "must not be empty"})
	}
	for al, err := range c.Alerts.All(ctx, &AlertListOptions{ListOptions: ListOptions{Name: name}}) {
		if err != nil {
			return nil, err
		}
		if al.Name == name {
			return al, nil
		}
	}
	return nil, fmt.Errorf("librato: no alert named %q: %w", name, ErrNotFound)
}

// Delete deletes the alert with the given ID.
func (svc *AlertsService) Delete(ctx context.Context, id ID) error {
	c := svc.client
	if err := checkAlertID("alert delete", id); err != nil {
		return err
	}
	_, err := c.do(ctx, http.MethodDelete, escapePath("alerts", strconv.FormatInt(int64(id), 10)), nil, nil, nil)
	return err
}

// AlertState is the state of one alert as AlertsService.Status reports it.
type AlertState string

// States reported by AlertsService.Status.
const (
	AlertOK        AlertState = "ok"
	AlertTriggered AlertState = "triggered"
)

// Status reports whether the alert with the given ID is firing.
func (svc *AlertsService) Status(ctx context.Context, id ID) (AlertState, error) {
	c := svc.client
	if err := checkAlertID("alert status", id); err != nil {
		return "", err
	}
	var out struct {
		Status AlertState `json:"status"`
	}
	if _, err := c.do(ctx, http.MethodGet, escapePath("alerts", strconv.FormatInt(int64(id), 10), "status"), nil, nil, &out); err != nil {
		return "", err
	}
	return out.Status, nil
}

// AlertStatusSummary lists the alerts firing now and those recently cleared.
type AlertStatusSummary struct {
	Firing  []FiringAlert
	Cleared []ClearedAlert
}

// FiringAlert is an alert that fired and is not cleared yet.
type FiringAlert struct {
	ID          ID
	TriggeredAt time.Time
}

// ClearedAlert is an alert that stopped firing.
type ClearedAlert struct {
	ID        ID
	ClearedAt time.Time
}

// Firing reports every firing and recently cleared alert of the account.
func (svc *AlertsService) Firing(ctx context.Context) (*AlertStatusSummary, error) {
	c := svc.client
	var out struct {
		Firing []struct {
			ID          ID        `json:"id"`
			TriggeredAt jsonEpoch `json:"triggered_at"`
		} `json:"firing"`
		Cleared []struct {
			ID        ID        `json:"id"`
			ClearedAt jsonEpoch `json:"cleared_at"`
		} `json:"cleared"`
	}
	if _, err := c.do(ctx, http.MethodGet, "alerts/status", nil, nil, &out); err != nil {
		return nil, err
	}
	s := &AlertStatusSummary{Firing: []FiringAlert{}, Cleared: []ClearedAlert{}}
	for _, f := range out.Firing {
		s.Firing = append(s.Firing, FiringAlert{ID: f.ID, TriggeredAt: f.TriggeredAt.Time})
	}
	for _, cl := range out.Cleared {
		s.Cleared = append(s.Cleared, ClearedAlert{ID: cl.ID, ClearedAt: cl.ClearedAt.Time})
	}
	return s, nil
}

// Clear resolves a firing alert, so it can fire again.
func (svc *AlertsService) Clear(ctx context.Context, id ID) error {
	c := svc.client
	if err := checkAlertID("alert clear", id); err != nil {
		return err
	}
	_, err := c.do(ctx, http.MethodPost, escapePath("alerts", strconv.FormatInt(int64(id), 10), "clear"), nil, nil, nil)
	return err
}

// AttachService makes the alert notify the service with the given ID.
func (svc *AlertsService) AttachService(ctx context.Context, alertID ID, serviceID ID) error {
	c := svc.client
	if err := checkAlertID("attach service", alertID); err != nil {
		return err
	}
	if serviceID <= 0 {
		return fmt.Errorf("librato: attach service: %w", &ValidationError{Field: "service ID", Value: strconv.FormatInt(int64(serviceID), 10), Reason: "must be positive"})
	}
	body := struct {
		Service ID `json:"service"`
	}{serviceID}
	_, err := c.do(ctx, http.MethodPost, escapePath("alerts", strconv.FormatInt(int64(alertID), 10), "services"), nil, body, nil)
	return err
}

// DetachService stops the alert notifying the service with the given ID.
func (svc *AlertsService) DetachService(ctx context.Context, alertID ID, serviceID ID) error {
	c := svc.client
	if err := checkAlertID("detach service", alertID); err != nil {
		return err
	}
	if serviceID <= 0 {
		return fmt.Errorf("librato: detach service: %w", &ValidationError{Field: "service ID", Value: strconv.FormatInt(int64(serviceID), 10), Reason: "must be positive"})
	}
	_, err := c.do(ctx, http.MethodDelete, escapePath("alerts", strconv.FormatInt(int64(alertID), 10), "services", strconv.FormatInt(int64(serviceID), 10)), nil, nil, nil)
	return err
}
