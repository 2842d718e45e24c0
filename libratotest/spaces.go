package libratotest

// This file holds the fake's spaces and charts endpoints (/v1/spaces...).
//
// Simplifications, on purpose:
//   - Charts are stored as the fields listed in chartWire; anything else in a
//     chart body is ignored, not rejected.
//   - A space name must be unique (422 otherwise, as for other named objects).

import (
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// spaceStore is the spaces' and charts' state, guarded by Server.mu.
type spaceStore struct {
	Spaces map[int64]*spaceWire `json:"spaces"`
	Charts map[int64]*chartWire `json:"charts"`
}

type spaceWire struct {
	ID       int64   `json:"id"`
	Name     string  `json:"name"`
	ChartIDs []int64 `json:"chart_ids"`
}

type thresholdWire struct {
	Operator string   `json:"operator"`
	Value    *float64 `json:"value"`
	Type     string   `json:"type"`
}

type chartWire struct {
	ID           int64             `json:"id"`
	SpaceID      int64             `json:"-"`
	Name         string            `json:"name"`
	Type         string            `json:"type"`
	Streams      []json.RawMessage `json:"streams"`
	Min          *float64          `json:"min"`
	Max          *float64          `json:"max"`
	Label        *string           `json:"label"`
	RelatedSpace *int64            `json:"related_space"`
	Thresholds   []thresholdWire   `json:"thresholds,omitempty"`
	UseLogYAxis  bool              `json:"use_log_yaxis"`
	UseLastValue bool              `json:"use_last_value"`
}

// storedChart keeps the space a chart belongs to, which the wire form hides.
type storedChart struct {
	chartWire
	Space int64 `json:"space_id"`
}

func newSpaceStore() *spaceStore {
	return &spaceStore{Spaces: map[int64]*spaceWire{}, Charts: map[int64]*chartWire{}}
}

// spacesArea serves the spaces and charts endpoints over its store; the store
// is guarded by Server.mu, like every area's.
type spacesArea struct {
	*Server
	st *spaceStore
}

// registerSpaces adds the spaces and charts routes to mux. It is called once
// by newServer, after registerServices.
func (s *Server) registerSpaces(mux *http.ServeMux) {
	a := &spacesArea{Server: s, st: newSpaceStore()}
	s.addState("spaces", func() (json.RawMessage, error) {
		charts := map[int64]storedChart{}
		for id, c := range a.st.Charts {
			charts[id] = storedChart{*c, c.SpaceID}
		}
		return json.Marshal(struct {
			Spaces map[int64]*spaceWire  `json:"spaces"`
			Charts map[int64]storedChart `json:"charts"`
		}{a.st.Spaces, charts})
	}, func(raw json.RawMessage) error {
		var in struct {
			Spaces map[int64]*spaceWire  `json:"spaces"`
			Charts map[int64]storedChart `json:"charts"`
			// Services were part of this state before they had their own: taken over.
			Services map[int64]*serviceWire `json:"services"`
		}
		if err := json.Unmarshal(raw, &in); err != nil {
			return err
		}
		n := newSpaceStore()
		for id, sp := range in.Spaces {
			n.Spaces[id] = sp
		}
		for id, c := range in.Charts {
			cw := c.chartWire
			cw.SpaceID = c.Space
			n.Charts[id] = &cw
		}
		for id, sv := range in.Services {
			s.serviceArea.Services[id] = sv
		}
		*a.st = *n
		return nil
	}, func() { *a.st = *newSpaceStore() })

	mux.HandleFunc("GET /v1/spaces", a.listSpaces)
	mux.HandleFunc("POST /v1/spaces", a.createSpace)
	mux.HandleFunc("GET /v1/spaces/{id}", a.getSpace)
	mux.HandleFunc("PUT /v1/spaces/{id}", a.updateSpace)
	mux.HandleFunc("DELETE /v1/spaces/{id}", a.deleteSpace)
	mux.HandleFunc("GET /v1/spaces/{id}/charts", a.listCharts)
	mux.HandleFunc("POST /v1/spaces/{id}/charts", a.createChart)
	mux.HandleFunc("GET /v1/spaces/{id}/charts/{chart}", a.getChart)
	mux.HandleFunc("PUT /v1/spaces/{id}/charts/{chart}", a.updateChart)
	mux.HandleFunc("DELETE /v1/spaces/{id}/charts/{chart}", a.deleteChart)
}

func pathID(r *http.Request, name string) (int64, bool) {
	id, err := strconv.ParseInt(r.PathValue(name), 10, 64)
	return id, err == nil && id > 0
}

// byPathID returns the object of m whose id is the path value name, or false.
func byPathID[T any](m map[int64]*T, r *http.Request, name string) (*T, bool) {
	id, ok := pathID(r, name)
	v := m[id]
	return v, ok && v != nil
}

// chartOf returns the space and the chart named in the path; a chart of
// another space is not found. Call with s.mu held.
func (s *spacesArea) chartOf(r *http.Request) (*spaceWire, *chartWire, bool) {
	sp, ok := byPathID(s.st.Spaces, r, "id")
	if !ok {
		return nil, nil, false
	}
	c, ok := byPathID(s.st.Charts, r, "chart")
	if !ok || c.SpaceID != sp.ID {
		return nil, nil, false
	}
	return sp, c, true
}

var answerNameTaken = answer{http.StatusUnprocessableEntity, paramErrors{"name": {"has already been taken"}}}

func (s *spacesArea) listSpaces(w http.ResponseWriter, r *http.Request) {
	p, ok := s.listParams(w, r, "name")
	if !ok {
		return
	}
	s.mu.Lock()
	var found []spaceWire
	for _, sp := range s.st.Spaces {
		if p.Name == "" || strings.Contains(strings.ToLower(sp.Name), strings.ToLower(p.Name)) {
			found = append(found, spaceWire{ID: sp.ID, Name: sp.Name})
		}
	}
	total := len(s.st.Spaces)
	s.mu.Unlock()
	sort.Slice(found, func(i, j int) bool { return found[i].Name < found[j].Name })
	if p.Desc {
		slices.Reverse(found)
	}
	lo, hi, q := p.page(len(found), total)
	type item struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	items := make([]item, 0, hi-lo)
	for _, sp := range found[lo:hi] {
		items = append(items, item{sp.ID, sp.Name})
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"query": q, "spaces": items})
}

func (s *spacesArea) spaceBody(w http.ResponseWriter, r *http.Request) (string, bool) {
	var in struct {
		Name string `json:"name"`
	}
	if err := s.decodeBody(r, &in); err != nil {
		s.writeDecodeError(w, err)
		return "", false
	}
	if strings.TrimSpace(in.Name) == "" {
		s.writeParamErrors(w, http.StatusBadRequest, paramErrors{"name": {"is not present"}})
		return "", false
	}
	return in.Name, true
}

// nameTaken reports whether another space has name. Call with s.mu held.
func (s *spacesArea) nameTaken(name string, except int64) bool {
	for _, sp := range s.st.Spaces {
		if sp.ID != except && strings.EqualFold(sp.Name, name) {
			return true
		}
	}
	return false
}

func (s *spacesArea) createSpace(w http.ResponseWriter, r *http.Request) {
	name, ok := s.spaceBody(w, r)
	if !ok {
		return
	}
	s.locked(w, func() answer {
		if s.nameTaken(name, 0) {
			return answerNameTaken
		}
		sp := &spaceWire{ID: s.nextID(), Name: name}
		s.st.Spaces[sp.ID] = sp
		w.Header().Set("Location", "/v1/spaces/"+strconv.FormatInt(sp.ID, 10))
		return answer{http.StatusCreated, map[string]any{"id": sp.ID, "name": sp.Name}}
	})
}

func (s *spacesArea) getSpace(w http.ResponseWriter, r *http.Request) {
	s.locked(w, func() answer {
		sp, ok := byPathID(s.st.Spaces, r, "id")
		if !ok {
			return answerNotFound
		}
		charts := make([]map[string]int64, 0, len(sp.ChartIDs))
		for _, id := range sp.ChartIDs {
			charts = append(charts, map[string]int64{"id": id})
		}
		return answer{http.StatusOK, map[string]any{"id": sp.ID, "name": sp.Name, "charts": charts}}
	})
}

func (s *spacesArea) updateSpace(w http.ResponseWriter, r *http.Request) {
	name, ok := s.spaceBody(w, r)
	if !ok {
		return
	}
	s.locked(w, func() answer {
		sp, ok := byPathID(s.st.Spaces, r, "id")
		if !ok {
			return answerNotFound
		}
		if s.nameTaken(name, sp.ID) {
			return answerNameTaken
		}
		sp.Name = name
		return answer{status: http.StatusNoContent}
	})
}

func (s *spacesArea) deleteSpace(w http.ResponseWriter, r *http.Request) {
	s.locked(w, func() answer {
		sp, ok := byPathID(s.st.Spaces, r, "id")
		if !ok {
			return answerNotFound
		}
		for _, id := range sp.ChartIDs {
			delete(s.st.Charts, id)
		}
		delete(s.st.Spaces, sp.ID)
		return answer{status: http.StatusNoContent}
	})
}

func (s *spacesArea) listCharts(w http.ResponseWriter, r *http.Request) {
	s.locked(w, func() answer {
		sp, ok := byPathID(s.st.Spaces, r, "id")
		if !ok {
			return answerNotFound
		}
		charts := make([]chartWire, 0, len(sp.ChartIDs))
		for _, id := range sp.ChartIDs {
			charts = append(charts, *s.st.Charts[id])
		}
		return answer{http.StatusOK, charts} // a bare array, as the real API answers
	})
}

// chartBody decodes and validates a chart like the real API: a known type,
// at least one stream, thresholds for big numbers.
func (s *spacesArea) chartBody(w http.ResponseWriter, r *http.Request) (*chartWire, bool) {
	if !s.requireJSON(w, r) {
		return nil, false
	}
	var c chartWire
	if err := s.decodeJSON(r, &c, false); err != nil {
		s.writeDecodeError(w, err)
		return nil, false
	}
	bad := paramErrors{}
	switch c.Type {
	case "":
		c.Type = "line"
	case "line", "stacked":
	case "bignumber":
		if len(c.Thresholds) == 0 {
			bad.add("thresholds", "are required for bignumber charts")
		}
	default:
		bad.add("type", "is not included in the list")
	}
	for _, th := range c.Thresholds {
		if th.Operator != ">" && th.Operator != "<" && th.Operator != "=" {
			bad.add("thresholds", "operator is not included in the list")
		}
		if th.Type != "red" && th.Type != "yellow" {
			bad.add("thresholds", "type is not included in the list")
		}
		if th.Value == nil {
			bad.add("thresholds", "value is not present")
		}
	}
	if len(c.Streams) == 0 {
		bad.add("streams", "is not present")
	}
	if len(bad) > 0 {
		s.writeParamErrors(w, http.StatusBadRequest, bad)
		return nil, false
	}
	return &c, true
}

func (s *spacesArea) createChart(w http.ResponseWriter, r *http.Request) {
	c, ok := s.chartBody(w, r)
	if !ok {
		return
	}
	s.locked(w, func() answer {
		sp, ok := byPathID(s.st.Spaces, r, "id")
		if !ok {
			return answerNotFound
		}
		c.ID, c.SpaceID = s.nextID(), sp.ID
		s.st.Charts[c.ID] = c
		sp.ChartIDs = append(sp.ChartIDs, c.ID)
		w.Header().Set("Location", "/v1/spaces/"+strconv.FormatInt(sp.ID, 10)+"/charts/"+strconv.FormatInt(c.ID, 10))
		return answer{http.StatusCreated, *c}
	})
}

func (s *spacesArea) getChart(w http.ResponseWriter, r *http.Request) {
	s.locked(w, func() answer {
		_, c, ok := s.chartOf(r)
		if !ok {
			return answerNotFound
		}
		return answer{http.StatusOK, *c}
	})
}

func (s *spacesArea) updateChart(w http.ResponseWriter, r *http.Request) {
	in, ok := s.chartBody(w, r)
	if !ok {
		return
	}
	s.locked(w, func() answer {
		_, c, ok := s.chartOf(r)
		if !ok {
			return answerNotFound
		}
		in.ID, in.SpaceID = c.ID, c.SpaceID
		*c = *in
		return answer{http.StatusOK, *c} // documented as 200 with the chart
	})
}

func (s *spacesArea) deleteChart(w http.ResponseWriter, r *http.Request) {
	s.locked(w, func() answer {
		sp, c, ok := s.chartOf(r)
		if !ok {
			return answerNotFound
		}
		delete(s.st.Charts, c.ID)
		sp.ChartIDs = slices.DeleteFunc(sp.ChartIDs, func(id int64) bool { return id == c.ID })
		return answer{status: http.StatusNoContent}
	})
}
