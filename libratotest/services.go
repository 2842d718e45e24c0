package libratotest

// This file holds the fake's services endpoints (/v1/services...). Services
// live in the spaces area's store (and its snapshot state); alerts reach them
// through alertStore.services to answer with the stored service objects, and
// deleting a service detaches it from every alert, as on the real API
// (DOCS _alerts.md and _services.md, see testdata/README.md).

import (
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

// registerServices adds the services routes. The alerts area is registered
// first (see NewUnstartedServer) and is given the store to look services up in.
func (a *spacesArea) registerServices(mux *http.ServeMux) {
	if al := a.s.alerts(); al != nil {
		al.services = a.st
	}
	mux.HandleFunc("GET /v1/services", a.listServices)
	mux.HandleFunc("POST /v1/services", a.createService)
	mux.HandleFunc("GET /v1/services/{id}", a.getService)
	mux.HandleFunc("PUT /v1/services/{id}", a.updateService)
	mux.HandleFunc("DELETE /v1/services/{id}", a.deleteService)
}

func (a *spacesArea) listServices(w http.ResponseWriter, r *http.Request) {
	s := a.s
	p, ok := s.listParams(w, r, "title", "updated_at")
	if !ok {
		return
	}
	s.mu.Lock()
	found := make([]serviceWire, 0, len(a.st.Services))
	for _, sv := range a.st.Services {
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

func (a *spacesArea) serviceBody(w http.ResponseWriter, r *http.Request) (*serviceWire, bool) {
	s := a.s
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

func (a *spacesArea) createService(w http.ResponseWriter, r *http.Request) {
	sv, ok := a.serviceBody(w, r)
	if !ok {
		return
	}
	a.locked(w, func() answer {
		sv.ID, sv.UpdatedAt = a.s.nextID(), a.s.now().Unix()
		a.st.Services[sv.ID] = sv
		w.Header().Set("Location", "/v1/services/"+strconv.FormatInt(sv.ID, 10))
		return answer{http.StatusCreated, *sv}
	})
}

func (a *spacesArea) getService(w http.ResponseWriter, r *http.Request) {
	a.locked(w, func() answer {
		sv, ok := byPathID(a.st.Services, r, "id")
		if !ok {
			return answerNotFound
		}
		return answer{http.StatusOK, *sv}
	})
}

func (a *spacesArea) updateService(w http.ResponseWriter, r *http.Request) {
	in, ok := a.serviceBody(w, r)
	if !ok {
		return
	}
	a.locked(w, func() answer {
		sv, ok := byPathID(a.st.Services, r, "id")
		if !ok {
			return answerNotFound
		}
		in.ID, in.UpdatedAt = sv.ID, a.s.now().Unix()
		*sv = *in
		return answer{status: http.StatusNoContent}
	})
}

func (a *spacesArea) deleteService(w http.ResponseWriter, r *http.Request) {
	a.locked(w, func() answer {
		sv, ok := byPathID(a.st.Services, r, "id")
		if !ok {
			return answerNotFound
		}
		delete(a.st.Services, sv.ID)
		if al := a.s.alerts(); al != nil {
			al.detachService(sv.ID, a.s.now().Unix())
		}
		return answer{status: http.StatusNoContent}
	})
}
