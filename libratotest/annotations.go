package libratotest

// This file holds the fake's annotation endpoints (/v1/annotations...). It is
// owned by the annotations area; see the comment at the top of server.go for
// the helpers to reuse (auth is already done, s.mu guards state, s.writeJSON,
// s.writeError, s.decodeJSON, s.listParams, s.addState for snapshots).
//
// Simplifications, on purpose:
//   - Stream names are case-insensitive, like metric names.
//   - GET /v1/annotations/:name without end_time does not cap events at now.
//   - Events come as a map keyed by source, "events":{source:[...]}, in
//     Librato mode (the live API, as the Ruby gem's live tests read it) and
//     as an array holding that map, "events":[{source:[...]}], in AppOptics
//     mode (as appoptics-api-go reads it, and as the docs show);
//     ServeAnnotationEventsAsMap chooses one for both modes (TV16,
//     testdata/README.md).

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// annotationStore is the annotations' state, guarded by Server.mu.
type annotationStore struct {
	Streams map[string]*fakeStream `json:"streams"` // by lower-cased name
	// EventsAsMap is a setting, not state: Snapshot, Restore and Reset keep
	// it. nil: by mode (a map for Librato, an array for AppOptics).
	EventsAsMap *bool `json:"-"`
}

type fakeStream struct {
	Name        string       `json:"name"`
	DisplayName string       `json:"display_name"`
	Events      []*fakeEvent `json:"events"`
}

// fakeEvent is a stored event in the layout of the API's answers.
type fakeEvent struct {
	ID          int64      `json:"id"`
	Title       string     `json:"title"`
	Description *string    `json:"description"`
	Source      *string    `json:"source"`
	StartTime   int64      `json:"start_time"`
	EndTime     *int64     `json:"end_time"`
	Links       []fakeLink `json:"links"`
}

type fakeLink struct {
	Rel   string `json:"rel"`
	Label string `json:"label,omitempty"`
	Href  string `json:"href"`
}

// eventIn is a create or update body, JSON or form-encoded.
type eventIn struct {
	Title       *string         `json:"title"`
	Description *string         `json:"description"`
	Source      *string         `json:"source"`
	StartTime   *flexInt        `json:"start_time"`
	EndTime     *flexInt        `json:"end_time"`
	Links       json.RawMessage `json:"links"`
}

// annotations is the server's annotation store, for the exported helpers.
func (s *Server) annotations() *annotationStore { return s.annotationArea }

// ServeAnnotationEventsAsMap chooses the shape of "events" in GET
// /v1/annotations/:name answers: true for the map keyed by source that the
// live Librato API sends (the default in Librato mode), false for the array
// holding that map that AppOptics clients read and the docs show (the
// default in AppOptics mode).
func (s *Server) ServeAnnotationEventsAsMap(on bool) {
	if st := s.annotations(); st != nil {
		s.mu.Lock()
		st.EventsAsMap = &on
		s.mu.Unlock()
	}
}

// registerAnnotations adds the annotation routes to mux. It is called once by
// newServer.
func (s *Server) registerAnnotations(mux *http.ServeMux) {
	st := &annotationStore{Streams: map[string]*fakeStream{}}
	s.annotationArea = st
	s.addState("annotations",
		func() (json.RawMessage, error) { return json.Marshal(st) },
		func(b json.RawMessage) error {
			n := annotationStore{EventsAsMap: st.EventsAsMap}
			if err := json.Unmarshal(b, &n); err != nil {
				return err
			}
			if n.Streams == nil {
				n.Streams = map[string]*fakeStream{}
			}
			*st = n
			return nil
		},
		func() { st.Streams = map[string]*fakeStream{} })

	a := &annotationsArea{Server: s, st: st}
	mux.HandleFunc("GET /v1/annotations", a.listStreams)
	mux.HandleFunc("POST /v1/annotations/{name}", a.postEvent)
	mux.HandleFunc("GET /v1/annotations/{name}", a.getStream)
	mux.HandleFunc("PUT /v1/annotations/{name}", a.updateStream)
	mux.HandleFunc("DELETE /v1/annotations/{name}", a.deleteStream)
	mux.HandleFunc("GET /v1/annotations/{name}/{id}", a.getEvent)
	mux.HandleFunc("PUT /v1/annotations/{name}/{id}", a.updateEvent)
	mux.HandleFunc("DELETE /v1/annotations/{name}/{id}", a.deleteEvent)
	mux.HandleFunc("POST /v1/annotations/{name}/{id}/links", a.addLink)
	mux.HandleFunc("DELETE /v1/annotations/{name}/{id}/links/{rel}", a.deleteLink)
}

// annotationsArea serves the annotation endpoints over its store; the store is guarded by
// Server.mu, like every area's.
type annotationsArea struct {
	*Server
	st *annotationStore
}

func (s *annotationsArea) updateStream(w http.ResponseWriter, r *http.Request) {
	var in struct {
		DisplayName *string `json:"display_name"`
	}
	if err := s.decodeBody(r, &in); err != nil {
		s.writeDecodeError(w, err)
		return
	}
	s.withStream(w, r, func(fs *fakeStream) {
		if in.DisplayName == nil || *in.DisplayName == "" {
			s.writeParamErrors(w, http.StatusBadRequest, paramErrors{"display_name": {"is not present"}})
			return
		}
		fs.DisplayName = *in.DisplayName
		s.writeEmpty(w, http.StatusNoContent)
	})
}

func (s *annotationsArea) deleteStream(w http.ResponseWriter, r *http.Request) {
	s.withStream(w, r, func(fs *fakeStream) {
		delete(s.st.Streams, lower(fs.Name))
		s.writeEmpty(w, http.StatusNoContent)
	})
}

func (s *annotationsArea) getEvent(w http.ResponseWriter, r *http.Request) {
	s.withEvent(w, r, func(_ *fakeStream, ev *fakeEvent) { s.writeJSON(w, http.StatusOK, renderEvent(ev)) })
}

func (s *annotationsArea) deleteEvent(w http.ResponseWriter, r *http.Request) {
	s.withEvent(w, r, func(fs *fakeStream, ev *fakeEvent) {
		fs.Events = slices.DeleteFunc(fs.Events, func(e *fakeEvent) bool { return e == ev })
		s.writeEmpty(w, http.StatusNoContent)
	})
}

func (s *annotationsArea) deleteLink(w http.ResponseWriter, r *http.Request) {
	s.withEvent(w, r, func(_ *fakeStream, ev *fakeEvent) {
		i := slices.IndexFunc(ev.Links, func(l fakeLink) bool { return l.Rel == r.PathValue("rel") })
		if i < 0 {
			s.notFound(w)
			return
		}
		ev.Links = slices.Delete(ev.Links, i, i+1)
		s.writeEmpty(w, http.StatusNoContent)
	})
}

// withStream runs f with s.mu held and the stream of the {name} path value,
// or answers 404.
func (s *annotationsArea) withStream(w http.ResponseWriter, r *http.Request, f func(fs *fakeStream)) {
	st := s.st
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := st.Streams[lower(r.PathValue("name"))]
	if fs == nil {
		s.notFound(w)
		return
	}
	f(fs)
}

// withEvent is withStream for the event of the {id} path value.
func (s *annotationsArea) withEvent(w http.ResponseWriter, r *http.Request, f func(fs *fakeStream, ev *fakeEvent)) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	s.withStream(w, r, func(fs *fakeStream) {
		i := slices.IndexFunc(fs.Events, func(e *fakeEvent) bool { return e.ID == id })
		if err != nil || i < 0 {
			s.notFound(w)
			return
		}
		f(fs, fs.Events[i])
	})
}

// renderEvent is an event as the API answers it ("links":[] rather than null).
func renderEvent(ev *fakeEvent) fakeEvent {
	out := *ev
	if out.Links == nil {
		out.Links = []fakeLink{}
	}
	return out
}

// decodeLinks reads "links" as a JSON array or, from a form body, an object
// keyed by index (links[0][rel]=...). Problems are added to bad.
func decodeLinks(raw json.RawMessage, bad paramErrors) []fakeLink {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	var links []fakeLink
	if raw[0] == '{' {
		var m map[string]fakeLink
		if err := json.Unmarshal(raw, &m); err != nil {
			bad.add("links", "is invalid")
			return nil
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool { a, _ := strconv.Atoi(keys[i]); b, _ := strconv.Atoi(keys[j]); return a < b })
		for _, k := range keys {
			links = append(links, m[k])
		}
	} else if err := json.Unmarshal(raw, &links); err != nil {
		bad.add("links", "is invalid")
		return nil
	}
	seen := map[string]bool{}
	for _, l := range links {
		checkLink(l, bad)
		if seen[l.Rel] {
			bad.add("links", "rel must be unique")
		}
		seen[l.Rel] = true
	}
	return links
}

func checkLink(l fakeLink, bad paramErrors) {
	if l.Rel == "" {
		bad.add("rel", "is not present")
	}
	if l.Href == "" {
		bad.add("href", "is not present")
	}
}

func (s *annotationsArea) postEvent(w http.ResponseWriter, r *http.Request) {
	st := s.st
	var in eventIn
	if err := s.decodeBody(r, &in); err != nil {
		s.writeDecodeError(w, err)
		return
	}
	name := r.PathValue("name")
	bad := paramErrors{}
	if !validMetricName(name) {
		bad.add("name", "is invalid")
	}
	if in.Title == nil || *in.Title == "" {
		bad.add("title", "is not present")
	}
	if in.Source != nil && *in.Source != "" {
		if msg := checkSource(*in.Source); msg != "" {
			bad.add("source", msg)
		}
	}
	if in.Source != nil && *in.Source == "" {
		in.Source = nil
	}
	ev := &fakeEvent{Description: in.Description, Source: in.Source, Links: decodeLinks(in.Links, bad)}
	ev.StartTime = s.now().Unix()
	if in.StartTime != nil {
		ev.StartTime = int64(*in.StartTime)
	}
	if in.EndTime != nil {
		end := int64(*in.EndTime)
		if end < ev.StartTime {
			bad.add("end_time", "must be after start_time")
		}
		ev.EndTime = &end
	}
	if len(bad) > 0 {
		s.writeParamErrors(w, http.StatusBadRequest, bad)
		return
	}
	ev.Title = *in.Title
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := st.Streams[lower(name)]
	if fs == nil {
		fs = &fakeStream{Name: name, DisplayName: name}
		st.Streams[lower(name)] = fs
	}
	ev.ID = s.nextID()
	fs.Events = append(fs.Events, ev)
	w.Header().Set("Location", "/v1/annotations/"+url.PathEscape(fs.Name)+"/"+strconv.FormatInt(ev.ID, 10))
	s.writeJSON(w, http.StatusCreated, renderEvent(ev))
}

func (s *annotationsArea) updateEvent(w http.ResponseWriter, r *http.Request) {
	var in eventIn
	if err := s.decodeBody(r, &in); err != nil {
		s.writeDecodeError(w, err)
		return
	}
	s.withEvent(w, r, func(_ *fakeStream, ev *fakeEvent) {
		bad := paramErrors{}
		links := decodeLinks(in.Links, bad)
		if in.Title != nil && *in.Title == "" {
			bad.add("title", "is not present")
		}
		if in.EndTime != nil && int64(*in.EndTime) < ev.StartTime {
			bad.add("end_time", "must be after start_time")
		}
		if len(bad) > 0 {
			s.writeParamErrors(w, http.StatusBadRequest, bad)
			return
		}
		if in.Title != nil {
			ev.Title = *in.Title
		}
		if in.Description != nil {
			ev.Description = in.Description
		}
		if in.EndTime != nil {
			end := int64(*in.EndTime)
			ev.EndTime = &end
		}
		if links != nil {
			ev.Links = links
		}
		s.writeEmpty(w, http.StatusNoContent)
	})
}

func (s *annotationsArea) addLink(w http.ResponseWriter, r *http.Request) {
	var l fakeLink
	if err := s.decodeBody(r, &l); err != nil {
		s.writeDecodeError(w, err)
		return
	}
	s.withEvent(w, r, func(fs *fakeStream, ev *fakeEvent) {
		bad := paramErrors{}
		checkLink(l, bad)
		if slices.ContainsFunc(ev.Links, func(o fakeLink) bool { return o.Rel == l.Rel }) {
			bad.add("rel", "has already been taken")
		}
		if len(bad) > 0 {
			s.writeParamErrors(w, http.StatusBadRequest, bad)
			return
		}
		ev.Links = append(ev.Links, l)
		w.Header().Set("Location", fmt.Sprintf("/v1/annotations/%s/%d/links/%s", url.PathEscape(fs.Name), ev.ID, url.PathEscape(l.Rel)))
		s.writeJSON(w, http.StatusCreated, l)
	})
}

func (s *annotationsArea) listStreams(w http.ResponseWriter, r *http.Request) {
	st := s.st
	p, ok := s.listParams(w, r, "name")
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []*fakeStream
	for _, fs := range st.Streams {
		if p.Name == "" || strings.Contains(lower(fs.Name), lower(p.Name)) {
			found = append(found, fs)
		}
	}
	sort.Slice(found, func(i, j int) bool { return (lower(found[i].Name) < lower(found[j].Name)) != p.Desc })
	lo, hi, q := p.page(len(found), len(st.Streams))
	items := make([]map[string]string, 0, hi-lo)
	for _, fs := range found[lo:hi] {
		items = append(items, map[string]string{"name": fs.Name, "display_name": fs.DisplayName})
	}
	s.writeJSON(w, http.StatusOK, map[string]any{"query": q, "annotations": items})
}

// getStream answers the stream's properties, and its events grouped by source
// when start_time or count is given.
func (s *annotationsArea) getStream(w http.ResponseWriter, r *http.Request) {
	st := s.st
	q := r.URL.Query()
	bad := paramErrors{}
	start, hasStart := queryInt(q, "start_time", bad)
	end, hasEnd := queryInt(q, "end_time", bad)
	count, hasCount := queryInt(q, "count", bad)
	if hasCount && count < 1 && len(bad) == 0 {
		bad.add("count", "must be positive")
	}
	if len(bad) > 0 {
		s.writeParamErrors(w, http.StatusBadRequest, bad)
		return
	}
	sources := slices.Concat(q["sources[]"], q["sources"])
	s.withStream(w, r, func(fs *fakeStream) {
		out := map[string]any{"name": fs.Name, "display_name": fs.DisplayName}
		if !hasStart && !hasCount {
			s.writeJSON(w, http.StatusOK, out)
			return
		}
		var evs []*fakeEvent
		for _, ev := range fs.Events {
			if hasStart && ev.StartTime < start || hasEnd && ev.StartTime > end {
				continue
			}
			if len(sources) > 0 && !slices.ContainsFunc(sources, func(p string) bool { return ev.Source != nil && globMatch(p, *ev.Source) }) {
				continue
			}
			evs = append(evs, ev)
		}
		sort.SliceStable(evs, func(i, j int) bool {
			if evs[i].StartTime != evs[j].StartTime {
				return evs[i].StartTime < evs[j].StartTime
			}
			return evs[i].ID < evs[j].ID
		})
		if hasCount && int64(len(evs)) > count {
			evs = evs[int64(len(evs))-count:]
		}
		groups := map[string][]fakeEvent{}
		for _, ev := range evs {
			src := "unassigned"
			if ev.Source != nil {
				src = *ev.Source
			}
			groups[src] = append(groups[src], renderEvent(ev))
		}
		asMap := !s.appOptics
		if st.EventsAsMap != nil {
			asMap = *st.EventsAsMap
		}
		if asMap {
			out["events"] = groups
		} else {
			out["events"] = []any{groups}
		}
		s.writeJSON(w, http.StatusOK, out)
	})
}
