package librato

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"time"
)

// AlertsService manages alerts (/v1/alerts).
type AlertsService service

// AlertListOptions selects alerts in Alerts and ListAlerts. A nil or zero value lists every v2 alert.
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

// Save creates the alert (POST alerts) when it has no ID yet, and stores the ID the API assigns;
// otherwise it replaces the alert (PUT alerts/:id) with every condition, since the API deletes the
// conditions a PUT leaves out. The alert is validated first; nothing is sent if it is invalid.
func (al *Alert) Save(ctx context.Context) error {
	if al.client == nil {
		return errors.New("librato: Alert.Save: the alert has no client; create it with Client.NewAlert or fetch it with Client.GetAlert")
	}
	if err := al.Validate(); err != nil {
		return err
	}
	body := al.request()
	if al.ID != 0 {
		_, err := al.client.do(ctx, http.MethodPut, escapePath("alerts", strconv.FormatInt(int64(al.ID), 10)), nil, body, nil)
		if err == nil {
			al.MD = body.MD
		}
		return err
	}
	var out alertResponse
	resp, err := al.client.do(ctx, http.MethodPost, "alerts", nil, body, &out)
	if err != nil {
		return err
	}
	id := out.ID
	if id == 0 {
		id = lastPathID(resp.Header.Get("Location"))
	}
	if id == 0 {
		return fmt.Errorf("librato: alert %q was created but the answer (HTTP %d) carries no ID", al.Name, resp.StatusCode)
	}
	al.ID = id
	al.MD = body.MD
	al.Version = body.Version
	// python-librato notes create answers may lack conditions and services: take what is there,
	// keep the builder's own values otherwise.
	if out.ID != 0 {
		got := out.data()
		al.CreatedAt, al.UpdatedAt, al.RearmPerSignal = got.CreatedAt, got.UpdatedAt, got.RearmPerSignal
		if al.Rearm == 0 {
			al.Rearm = got.Rearm
		}
		if len(got.Conditions) == len(al.Conditions) {
			for i, gc := range got.Conditions {
				al.Conditions[i].ID = gc.ID
			}
		}
		if len(got.Services) == len(al.Services) {
			al.Services = got.Services
		}
	}
	return nil
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
			if !yield(&Alert{AlertData: w.data(), client: c}, nil) {
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
		out.Items[i] = Alert{AlertData: ws.Items[i].data(), client: c}
	}
	return out, nil
}

// Get fetches the alert with the given ID. Change it and call Save to update it.
func (svc *AlertsService) Get(ctx context.Context, id ID) (*Alert, error) {
	c := svc.client
	if err := checkAlertID("GetAlert", id); err != nil {
		return nil, err
	}
	var w alertResponse
	if _, err := c.do(ctx, http.MethodGet, escapePath("alerts", strconv.FormatInt(int64(id), 10)), nil, nil, &w); err != nil {
		return nil, err
	}
	return &Alert{AlertData: w.data(), client: c}, nil
}

// GetByName fetches the v2 alert named exactly name. The API filters by substring, so this pages
// through the matches. When there is none the error wraps ErrNotFound.
func (svc *AlertsService) GetByName(ctx context.Context, name string) (*Alert, error) {
	c := svc.client
	if name == "" {
		return nil, fmt.Errorf("librato: GetAlertByName: %w", &ValidationError{Field: "alert name", Reason: "must not be empty"})
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
	if err := checkAlertID("DeleteAlert", id); err != nil {
		return err
	}
	_, err := c.do(ctx, http.MethodDelete, escapePath("alerts", strconv.FormatInt(int64(id), 10)), nil, nil, nil)
	return err
}

// AlertState is the state of one alert as AlertStatus reports it.
type AlertState string

// States reported by AlertStatus.
const (
	AlertOK        AlertState = "ok"
	AlertTriggered AlertState = "triggered"
)

// Status reports whether the alert with the given ID is firing.
func (svc *AlertsService) Status(ctx context.Context, id ID) (AlertState, error) {
	c := svc.client
	if err := checkAlertID("AlertStatus", id); err != nil {
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
	if err := checkAlertID("ClearAlert", id); err != nil {
		return err
	}
	_, err := c.do(ctx, http.MethodPost, escapePath("alerts", strconv.FormatInt(int64(id), 10), "clear"), nil, nil, nil)
	return err
}

// AttachService makes the alert notify the service with the given ID.
func (svc *AlertsService) AttachService(ctx context.Context, alertID ID, serviceID ID) error {
	c := svc.client
	if err := checkAlertID("AttachService", alertID); err != nil {
		return err
	}
	if serviceID <= 0 {
		return fmt.Errorf("librato: AttachService: %w", &ValidationError{Field: "service ID", Value: strconv.FormatInt(int64(serviceID), 10), Reason: "must be positive"})
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
	if err := checkAlertID("DetachService", alertID); err != nil {
		return err
	}
	if serviceID <= 0 {
		return fmt.Errorf("librato: DetachService: %w", &ValidationError{Field: "service ID", Value: strconv.FormatInt(int64(serviceID), 10), Reason: "must be positive"})
	}
	_, err := c.do(ctx, http.MethodDelete, escapePath("alerts", strconv.FormatInt(int64(alertID), 10), "services", strconv.FormatInt(int64(serviceID), 10)), nil, nil, nil)
	return err
}
