package libratotest

// This file holds the fake's alert endpoints (/v1/alerts...). It is owned by
// the alerts area; see the comment at the top of server.go for the helpers to
// reuse (auth is already done, s.mu guards state, s.writeJSON, s.writeError,
// s.decodeJSON, s.listParams, s.addState for snapshots).
//
// Simplifications, on purpose:
//   - Alerts never fire by themselves: conditions are stored, not evaluated.
//     Tests make an alert fire with Server.FireAlert.
//   - An alert's services must exist (POST /v1/services); they are answered
//     as the stored service objects, and deleting a service detaches it from
//     every alert (DOCS _alerts.md and _services.md, see testdata/README.md).
//     The error for a service that does not exist is the fake's own: the docs
//     show no body for it.
//   - A duplicate alert name is answered 422 with a params error on "name".
//   - A PUT replaces the fields it carries; "conditions" is always replaced,
//     so conditions a PUT leaves out are deleted, as on the real API.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/go-librato/librato"
)

// alertStore is the alerts' state, guarded by Server.mu.
type alertStore struct {
	Alerts  map[int64]*fakeAlert `json:"alerts"`
	Firing  map[int64]int64      `json:"firing"` // alert id -> triggered_at
	Cleared []clearedAlert       `json:"cleared"`

	// services is the services area's store (services.go), kept across
	// Restore and Reset; nil only if that area is not registered.
	services *serviceStore
}

type clearedAlert struct {
	ID        int64 `json:"id"`
	ClearedAt int64 `json:"cleared_at"`
}

func newAlertStore() *alertStore {
	return &alertStore{Alerts: map[int64]*fakeAlert{}, Firing: map[int64]int64{}}
}

// fakeAlert is a stored alert, in the field layout of the API's answers.
type fakeAlert struct {
	ID             int64           `json:"id"`
	Name           string          `json:"name"`
	Description    *string         `json:"description"`
	Conditions     []fakeCondition `json:"conditions"`
	Services       []int64         `json:"services"`
	Attributes     map[string]any  `json:"attributes"`
	Active         bool            `json:"active"`
	RearmSeconds   int64           `json:"rearm_seconds"`
	Version        int64           `json:"version"`
	MD             bool            `json:"md"`
	RearmPerSignal bool            `json:"rearm_per_signal"`
	CreatedAt      int64           `json:"created_at"`
	UpdatedAt      int64           `json:"updated_at"`
}

type fakeCondition struct {
	ID              int64         `json:"id"`
	Type            string        `json:"type"`
	MetricName      string        `json:"metric_name"`
	Source          *string       `json:"source"`
	Tags            []fakeCondTag `json:"tags,omitempty"`
	Threshold       *float64      `json:"threshold,omitempty"`
	SummaryFunction *string       `json:"summary_function,omitempty"`
	Duration        *int64        `json:"duration,omitempty"`
	DetectReset     *bool         `json:"detect_reset,omitempty"`
}

type fakeCondTag struct {
	Name    string   `json:"name"`
	Grouped bool     `json:"grouped"`
	Values  []string `json:"values"`
}

// alertIn is a create or update body. Pointers tell "absent" from "zero".
type alertIn struct {
	Name         *string         `json:"name"`
	Description  *string         `json:"description"`
	Conditions   []conditionIn   `json:"conditions"`
	Services     *[]flexInt      `json:"services"`
	Attributes   *map[string]any `json:"attributes"`
	Active       *bool           `json:"active"`
	RearmSeconds *flexInt        `json:"rearm_seconds"`
	Version      *flexInt        `json:"version"`
	MD           *bool           `json:"md"`
}

type conditionIn struct {
	ID              flexInt         `json:"id"`
	Type            string          `json:"type"`
	MetricName      string          `json:"metric_name"`
	Source          *string         `json:"source"`
	Tags            json.RawMessage `json:"tags"`
	Threshold       *flexFloat      `json:"threshold"`
	SummaryFunction *string         `json:"summary_function"`
	Duration        *flexInt        `json:"duration"`
	DetectReset     *bool           `json:"detect_reset"`
}

var alertSummaryFunctions = []string{"min", "max", "average", "sum", "count", "derivative", "absolute_value"}

// alertsArea serves the alert endpoints over its store; the store is guarded by Server.mu, like
// every area's.
type alertsArea struct {
	*Server
	st *alertStore
}

// alerts is the server's alert store, for the exported helpers (FireAlert).
func (s *Server) alerts() *alertStore { return s.alertArea }

// registerAlerts adds the alert routes to mux. It is called once by newServer.
func (s *Server) registerAlerts(mux *http.ServeMux) {
	st := newAlertStore()
	s.alertArea = st
	s.addState("alerts",
		func() (json.RawMessage, error) { return json.Marshal(st) },
		func(b json.RawMessage) error {
			n := newAlertStore()
			if err := json.Unmarshal(b, n); err != nil {
				return err
			}
			if n.Alerts == nil {
				n.Alerts = map[int64]*fakeAlert{}
			}
			if n.Firing == nil {
				n.Firing = map[int64]int64{}
			}
			n.services = st.services
			*st = *n
			return nil
		},
		func() {
			n := newAlertStore()
			n.services = st.services
			*st = *n
		})

	a := &alertsArea{Server: s, st: st}
	mux.HandleFunc("POST /v1/alerts", a.createAlert)
	mux.HandleFunc("GET /v1/alerts", a.listAlerts)
	mux.HandleFunc("GET /v1/alerts/status", a.alertsStatus)
	mux.HandleFunc("GET /v1/alerts/{id}", a.getAlert)
	mux.HandleFunc("PUT /v1/alerts/{id}", a.updateAlert)
	mux.HandleFunc("DELETE /v1/alerts/{id}", a.deleteAlert)
	mux.HandleFunc("GET /v1/alerts/{id}/status", a.alertStatus)
	mux.HandleFunc("POST /v1/alerts/{id}/clear", a.clearAlert)
	mux.HandleFunc("POST /v1/alerts/{id}/services", a.attachAlertService)
	mux.HandleFunc("DELETE /v1/alerts/{id}/services/{sid}", a.detachAlertService)
}

func (s *alertsArea) getAlert(w http.ResponseWriter, r *http.Request) {
	s.withAlert(w, r, func(a *fakeAlert) { s.writeJSON(w, http.StatusOK, s.renderAlert(a)) })
}

func (s *alertsArea) deleteAlert(w http.ResponseWriter, r *http.Request) {
	s.withAlert(w, r, func(a *fakeAlert) {
		delete(s.st.Alerts, a.ID)
		delete(s.st.Firing, a.ID)
		s.writeEmpty(w, http.StatusNoContent)
	})
}

func (s *alertsArea) alertStatus(w http.ResponseWriter, r *http.Request) {
	s.withAlert(w, r, func(a *fakeAlert) {
		status := "ok"
		if _, ok := s.st.Firing[a.ID]; ok {
			status = "triggered"
		}
		s.writeJSON(w, http.StatusOK, map[string]any{"alert": map[string]int64{"id": a.ID}, "status": status})
	})
}

func (s *alertsArea) clearAlert(w http.ResponseWriter, r *http.Request) {
	s.withAlert(w, r, func(a *fakeAlert) {
		if _, ok := s.st.Firing[a.ID]; ok {
			delete(s.st.Firing, a.ID)
			s.st.Cleared = append(s.st.Cleared, clearedAlert{ID: a.ID, ClearedAt: s.now().Unix()})
		}
		s.writeEmpty(w, http.StatusNoContent)
	})
}

func (s *alertsArea) detachAlertService(w http.ResponseWriter, r *http.Request) {
	sid, err := strconv.ParseInt(r.PathValue("sid"), 10, 64)
	s.withAlert(w, r, func(a *fakeAlert) {
		i := slices.Index(a.Services, sid)
		if err != nil || i < 0 {
			s.notFound(w)
			return
		}
		a.Services = slices.Delete(a.Services, i, i+1)
		a.UpdatedAt = s.now().Unix()
		s.writeEmpty(w, http.StatusNoContent)
	})
}

// FireAlert marks the alert with the given id as firing since now, as if its
// conditions had been met (the fake never evaluates them). It reports whether
// the alert exists.
func (s *Server) FireAlert(id librato.ID) bool {
	st := s.alerts()
	if st == nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := st.Alerts[int64(id)]; !ok {
		return false
	}
	if _, ok := st.Firing[int64(id)]; !ok {
		st.Firing[int64(id)] = s.now().Unix()
	}
	return true
}

// withAlert runs f with s.mu held and the alert of the {id} path value, or
// answers 404.
func (s *alertsArea) withAlert(w http.ResponseWriter, r *http.Request, f func(a *fakeAlert)) {
	st := s.st
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.mu.Lock()
	defer s.mu.Unlock()
	a := st.Alerts[id]
	if err != nil || a == nil {
		s.notFound(w)
		return
	}
	f(a)
}

// service returns the stored service with the given id. Callers hold s.mu.
func (st *alertStore) service(id int64) (*serviceWire, bool) {
	if st.services == nil {
		return nil, false
	}
	sv := st.services.Services[id]
	return sv, sv != nil
}

// detachService removes the service from every alert that names it. Callers
// hold s.mu.
func (st *alertStore) detachService(id, now int64) {
	for _, a := range st.Alerts {
		if i := slices.Index(a.Services, id); i >= 0 {
			a.Services = slices.Delete(a.Services, i, i+1)
			a.UpdatedAt = now
		}
	}
}

// renderAlert is an alert as the API answers it: services as the stored
// service objects (TV17). Callers hold s.mu.
func (s *alertsArea) renderAlert(a *fakeAlert) map[string]any {
	st := s.st
	svcs := make([]map[string]any, 0, len(a.Services))
	for _, id := range a.Services {
		if sv, ok := st.service(id); ok {
			svcs = append(svcs, map[string]any{"id": sv.ID, "type": sv.Type, "title": sv.Title, "settings": sv.Settings})
		}
	}
	conds := a.Conditions
	if conds == nil {
		conds = []fakeCondition{}
	}
	attrs := a.Attributes
	if attrs == nil {
		attrs = map[string]any{}
	}
	return map[string]any{
		"id": a.ID, "name": a.Name, "description": a.Description, "conditions": conds, "services": svcs,
		"attributes": attrs, "active": a.Active, "created_at": a.CreatedAt, "updated_at": a.UpdatedAt,
		"version": a.Version, "rearm_seconds": a.RearmSeconds, "rearm_per_signal": a.RearmPerSignal, "md": a.MD,
	}
}

func (s *alertsArea) createAlert(w http.ResponseWriter, r *http.Request) {
	st := s.st
	if !s.requireJSON(w, r) {
		return
	}
	var in alertIn
	if err := s.decodeJSON(r, &in, false); err != nil {
		s.writeDecodeError(w, err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a := &fakeAlert{Active: true, RearmSeconds: 600, Version: 2, Attributes: map[string]any{}, Services: []int64{}}
	if in.Name == nil {
		s.writeJSON(w, http.StatusBadRequest, alertParamErrors("name", "is not present"))
		return
	}
	if len(in.Conditions) == 0 {
		s.writeJSON(w, http.StatusBadRequest, alertParamErrors("conditions", "must have at least one condition"))
		return
	}
	if !s.applyAlert(w, a, &in) {
		return
	}
	now := s.now().Unix()
	a.ID = s.nextID()
	a.CreatedAt, a.UpdatedAt = now, now
	st.Alerts[a.ID] = a
	w.Header().Set("Location", fmt.Sprintf("/v1/alerts/%d", a.ID))
	s.writeJSON(w, http.StatusCreated, s.renderAlert(a))
}

func (s *alertsArea) updateAlert(w http.ResponseWriter, r *http.Request) {
	if !s.requireJSON(w, r) {
		return
	}
	var in alertIn
	if err := s.decodeJSON(r, &in, false); err != nil {
		s.writeDecodeError(w, err)
		return
	}
	s.withAlert(w, r, func(a *fakeAlert) {
		b := *a // validate on a copy: a failed PUT changes nothing
		b.Conditions = slices.Clone(a.Conditions)
		if !s.applyAlert(w, &b, &in) {
			return
		}
		b.UpdatedAt = s.now().Unix()
		*a = b
		s.writeEmpty(w, http.StatusNoContent)
	})
}

// alertParamErrors is {"errors":{"params":{name:[msg]}}}.
func alertParamErrors(name, msg string) map[string]any {
	return map[string]any{"errors": map[string]any{"params": map[string]any{name: []string{msg}}}}
}

// applyAlert validates in and copies it into a. Conditions are always
// replaced (absent: none). On a problem it writes the 400 or 422 and returns
// false. Callers hold s.mu.
func (s *alertsArea) applyAlert(w http.ResponseWriter, a *fakeAlert, in *alertIn) bool {
	st := s.st
	params := map[string]any{}
	bad := func(k, msg string) {
		l, _ := params[k].([]string)
		params[k] = append(l, msg)
	}
	if in.Name != nil {
		if !validMetricName(*in.Name) {
			bad("name", "is invalid")
		} else {
			for _, o := range st.Alerts {
				if o.ID != a.ID && strings.EqualFold(o.Name, *in.Name) {
					s.writeJSON(w, http.StatusUnprocessableEntity, alertParamErrors("name", "has already been taken"))
					return false
				}
			}
			a.Name = *in.Name
		}
	}
	if in.Description != nil {
		a.Description = in.Description
	}
	if in.Attributes != nil {
		a.Attributes = *in.Attributes
	}
	if in.Active != nil {
		a.Active = *in.Active
	}
	if in.MD != nil {
		a.MD = *in.MD
	}
	if in.RearmSeconds != nil {
		if v := int64(*in.RearmSeconds); v <= 0 || v%60 != 0 {
			bad("rearm_seconds", "must be a multiple of 60")
		} else {
			a.RearmSeconds = v
		}
	}
	if in.Version != nil {
		if v := int64(*in.Version); v != 1 && v != 2 {
			bad("version", "must be 1 or 2")
		} else {
			a.Version = v
		}
	}
	if in.Services != nil {
		a.Services = []int64{}
		for _, id := range *in.Services {
			if _, ok := st.service(int64(id)); !ok {
				bad("services", fmt.Sprintf("%d does not exist", int64(id)))
			} else if !slices.Contains(a.Services, int64(id)) {
				a.Services = append(a.Services, int64(id))
			}
		}
	}
	condErrs := map[string][]string{}
	conds := make([]fakeCondition, 0, len(in.Conditions))
	for _, ci := range in.Conditions {
		c, problems := s.condition(ci, a.Conditions)
		for k, msg := range problems {
			condErrs[k] = append(condErrs[k], msg)
		}
		conds = append(conds, c)
	}
	if len(condErrs) > 0 {
		params["conditions"] = condErrs
	}
	if len(params) > 0 {
		s.writeJSON(w, http.StatusBadRequest, map[string]any{"errors": map[string]any{"params": params}})
		return false
	}
	a.Conditions = conds
	return true
}

// condition validates one condition. A condition whose id matches one of
// old keeps it; others get a new id (a failed request may use up ids, which
// only makes later ids skip numbers).
func (s *Server) condition(ci conditionIn, old []fakeCondition) (fakeCondition, map[string]string) {
	bad := map[string]string{}
	c := fakeCondition{Type: ci.Type, MetricName: ci.MetricName, Source: ci.Source, SummaryFunction: ci.SummaryFunction, DetectReset: ci.DetectReset}
	switch ci.Type {
	case "above", "below":
		if ci.Threshold == nil {
			bad["threshold"] = "must be set"
		} else {
			t := float64(*ci.Threshold)
			c.Threshold = &t
		}
	case "absent":
		if ci.Duration == nil {
			bad["duration"] = "must be set"
		}
		c.SummaryFunction = nil
	case "":
		bad["type"] = "is not present"
	default:
		bad["type"] = "must be above, below or absent"
	}
	if !validMetricName(ci.MetricName) {
		bad["metric_name"] = "is invalid"
	}
	if ci.Duration != nil {
		if d := int64(*ci.Duration); d < 60 || d > 3600 {
			bad["duration"] = "must be between 60 and 3600"
		} else {
			c.Duration = &d
		}
	}
	if ci.SummaryFunction != nil && ci.Type != "absent" {
		if !slices.Contains(alertSummaryFunctions, *ci.SummaryFunction) {
			bad["summary_function"] = "is not a valid summary function"
		}
	} else if ci.Type != "absent" {
		avg := "average"
		c.SummaryFunction = &avg
	}
	if t := strings.TrimSpace(string(ci.Tags)); t != "" && t != "null" && t != "{}" {
		if err := json.Unmarshal(ci.Tags, &c.Tags); err != nil {
			bad["tags"] = "must be an array of {name, grouped, values}"
		}
		for _, tg := range c.Tags {
			if !tagNameRe.MatchString(tg.Name) || len(tg.Values) == 0 {
				bad["tags"] = "must have a valid name and at least one value"
			}
		}
	}
	if len(c.Tags) > 0 && c.Source != nil && *c.Source == "" {
		c.Source = nil
	}
	if len(bad) > 0 {
		return c, bad
	}
	if id := int64(ci.ID); id > 0 && slices.ContainsFunc(old, func(o fakeCondition) bool { return o.ID == id }) {
		c.ID = id
	} else {
		c.ID = s.nextID()
	}
	return c, nil
}

func (s *alertsArea) listAlerts(w http.ResponseWriter, r *http.Request) {
	st := s.st
	p, ok := s.listParams(w, r, "updated_at")
	if !ok {
		return
	}
	var version int64
	if v := r.URL.Query().Get("version"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || (n != 1 && n != 2) {
			s.writeParamErrors(w, http.StatusBadRequest, paramErrors{"version": {"must be 1 or 2"}})
			return
		}
		version = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []*fakeAlert
	for _, a := range st.Alerts {
		if (p.Name == "" || strings.Contains(lower(a.Name), lower(p.Name))) && (version == 0 || a.Version == version) {
			found = append(found, a)
		}
	}
	sort.Slice(found, func(i, j int) bool {
		if found[i].UpdatedAt != found[j].UpdatedAt {
			return (found[i].UpdatedAt < found[j].UpdatedAt) != p.Desc
		}
		return (found[i].ID < found[j].ID) != p.Desc
	})
	lo, hi, q := p.page(len(found), len(st.Alerts))
	items := make([]map[string]any, 0, hi-lo)
	for _, a := range found[lo:hi] {
		items = append(items, s.renderAlert(a))
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"query": q, "alerts": items})
}

func (s *alertsArea) alertsStatus(w http.ResponseWriter, _ *http.Request) {
	st := s.st
	s.mu.Lock()
	defer s.mu.Unlock()
	firing := make([]map[string]int64, 0, len(st.Firing))
	for id, at := range st.Firing {
		firing = append(firing, map[string]int64{"id": id, "triggered_at": at})
	}
	sort.Slice(firing, func(i, j int) bool { return firing[i]["id"] < firing[j]["id"] })
	cleared := st.Cleared
	if cleared == nil {
		cleared = []clearedAlert{}
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"cleared": cleared, "firing": firing})
}

func (s *alertsArea) attachAlertService(w http.ResponseWriter, r *http.Request) {
	st := s.st
	var in struct {
		Service flexInt `json:"service"`
	}
	if err := s.decodeBody(r, &in); err != nil {
		s.writeDecodeError(w, err)
		return
	}
	s.withAlert(w, r, func(a *fakeAlert) {
		if in.Service <= 0 {
			s.writeJSON(w, http.StatusBadRequest, alertParamErrors("service", "is not present"))
			return
		}
		sid := int64(in.Service)
		if _, ok := st.service(sid); !ok {
			s.writeJSON(w, http.StatusBadRequest, alertParamErrors("service", fmt.Sprintf("%d does not exist", sid)))
			return
		}
		if !slices.Contains(a.Services, sid) {
			a.Services = append(a.Services, sid)
			a.UpdatedAt = s.now().Unix()
		}
		w.Header().Set("Location", fmt.Sprintf("/v1/alerts/%d/services/%d", a.ID, sid))
		s.writeEmpty(w, http.StatusCreated)
	})
}
