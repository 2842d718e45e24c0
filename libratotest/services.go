package libratotest

// This file holds the fake's services endpoints (/v1/services...) and their
// store. Alerts reach the store through alertStore.services to answer with
// the stored service objects, and deleting a service detaches it from every
// alert, as on the real API (DOCS _alerts.md and _services.md, see
// testdata/README.md).

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strconv"
)

type serviceWire struct {
	ID        int64          `json:"id"`
	Type      string         `json:"type"`
	Title     string         `json:"title"`
	Settings  map[string]any `json:"settings"`
	UpdatedAt int64          `json:"updated_at"`
}

// serviceStore is the services' state, guarded by Server.mu.
type serviceStore struct {
	Services map[int64]*serviceWire `json:"services"`
}

func newServiceStore() *serviceStore { return &serviceStore{Services: map[int64]*serviceWire{}} }

// servicesArea serves the services endpoints over its store; the store is
// guarded by Server.mu, like every area's.
type servicesArea struct {
	*Server
	st *serviceStore
}

// registerServices adds the services routes to mux. It is called once by
// newServer, after registerAlerts (whose store is given this one to look
// services up in) and before registerSpaces (which hands over the services of
// snapshots written when they were part of its state).
func (s *Server) registerServices(mux *http.ServeMux) {
	st := newServiceStore()
	s.serviceArea = st
	if al := s.alerts(); al != nil {
		al.services = st
	}
	s.addState("services",
		func() (json.RawMessage, error) { return json.Marshal(st) },
		func(raw json.RawMessage) error {
			n := newServiceStore()
			if err := json.Unmarshal(raw, n); err != nil {
				return err
			}
			if n.Services == nil {
				n.Services = map[int64]*serviceWire{}
			}
			*st = *n
			return nil
		},
		func() { *st = *newServiceStore() })
	a := &servicesArea{Server: s, st: st}
	mux.HandleFunc("GET /v1/services", a.listServices)
	mux.HandleFunc("POST /v1/services", a.createService)
	mux.HandleFunc("GET /v1/services/{id}", a.getService)
	mux.HandleFunc("PUT /v1/services/{id}", a.updateService)
	mux.HandleFunc("DELETE /v1/services/{id}", a.deleteService)
}

func (s *servicesArea) listServices(w http.ResponseWriter, r *http.Request) {
	p, ok := s.listParams(w, r, "title", "updated_at")
	if !ok {
		return
	}
	s.mu.Lock()
	found := make([]serviceWire, 0, len(s.st.Services))
	for _, sv := range s.st.Services {
		found = append(found, *sv)
	}
	s.mu.Unlock()
	sort.Slice(found, func(i, j int) bool {
		if p.OrderBy == "updated_at" && found[i].UpdatedAt != found[j].UpdatedAt {
			return found[i].UpdatedAt < found[j].UpdatedAt
		}
		if found[i].Title != found[j].Title {
			return found[i].Title < found[j].Title
		}
		return found[i].ID < found[j].ID
	})
	if p.Desc {
		slices.Reverse(found)
	}
	lo, hi, q := p.page(len(found), len(found))
	s.writeJSON(w, http.StatusOK, map[string]any{"query": q, "services": found[lo:hi]})
}

func (s *servicesArea) serviceBody(w http.ResponseWriter, r *http.Request) (*serviceWire, bool) {
	var in serviceWire
	if err := s.decodeBody(r, &in); err != nil {
		s.writeDecodeError(w, err)
		return nil, false
	}
	bad := paramErrors{}
	if in.Type == "" {
		bad.add("type", "is not present")
	}
	if in.Title == "" {
		bad.add("title", "is not present")
	}
	if len(bad) > 0 {
		s.writeParamErrors(w, http.StatusBadRequest, bad)
		return nil, false
	}
	if in.Settings == nil {
		in.Settings = map[string]any{}
	}
	return &in, true
}

func (s *servicesArea) createService(w http.ResponseWriter, r *http.Request) {
	sv, ok := s.serviceBody(w, r)
	if !ok {
		return
	}
	s.locked(w, func() answer {
		sv.ID, sv.UpdatedAt = s.nextID(), s.now().Unix()
		s.st.Services[sv.ID] = sv
		w.Header().Set("Location", "/v1/services/"+strconv.FormatInt(sv.ID, 10))
		return answer{http.StatusCreated, *sv}
	})
}

func (s *servicesArea) getService(w http.ResponseWriter, r *http.Request) {
	s.locked(w, func() answer {
		sv, ok := byPathID(s.st.Services, r, "id")
		if !ok {
			return answerNotFound
		}
		return answer{http.StatusOK, *sv}
	})
}

func (s *servicesArea) updateService(w http.ResponseWriter, r *http.Request) {
	in, ok := s.serviceBody(w, r)
	if !ok {
		return
	}
	s.locked(w, func() answer {
		sv, ok := byPathID(s.st.Services, r, "id")
		if !ok {
			return answerNotFound
		}
		in.ID, in.UpdatedAt = sv.ID, s.now().Unix()
		*sv = *in
		return answer{status: http.StatusNoContent}
	})
}

func (s *servicesArea) deleteService(w http.ResponseWriter, r *http.Request) {
	s.locked(w, func() answer {
		sv, ok := byPathID(s.st.Services, r, "id")
		if !ok {
			return answerNotFound
		}
		delete(s.st.Services, sv.ID)
		if al := s.alerts(); al != nil {
			al.detachService(sv.ID, s.now().Unix())
		}
		return answer{status: http.StatusNoContent}
	})
}
