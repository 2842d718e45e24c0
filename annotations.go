package librato

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"time"
	"unicode/utf8"
)

// AnnotationsService manages annotation streams and their events (/v1/annotations).
type AnnotationsService service

// UnassignedSource is the key AnnotationStream.Events uses for events posted without a source.
const UnassignedSource = "unassigned"

// Annotation is one event of an annotation stream: a deploy, a build, an incident.
type Annotation struct {
	// ID is assigned by the API.
	ID ID
	// Title is required.
	Title       string
	Description string
	// Source is where the event happened (a host, a service); "" for none.
	Source string
	// StartTime defaults to the time the API receives the event; EndTime to none.
	// The zero time means "not set"; times travel as whole Unix seconds.
	StartTime time.Time
	EndTime   time.Time
	// Links point to related pages. Each needs a Rel, unique within the event, and an Href.
	Links []Link
}

// Link is a link attached to an annotation.
type Link struct {
	Rel   string `json:"rel"`
	Href  string `json:"href"`
	Label string `json:"label,omitempty"`
}

// AnnotationStream is a named stream of annotations. Its events come grouped by source
// (UnassignedSource for events without one), each group ordered by start time; they are
// only filled by AnnotationsService.GetStream with a time range or count.
type AnnotationStream struct {
	Name        string
	DisplayName string
	Events      map[string][]Annotation
}

// AnnotationQuery selects the events AnnotationsService.GetStream returns. The API returns events only
// when StartTime or Count is set; with neither, only the stream's properties come back.
type AnnotationQuery struct {
	StartTime time.Time // events starting at or after this time
	EndTime   time.Time // events starting at or before this time (zero: now)
	Count     int       // at most this many of the latest events
	Sources   []string  // only these sources (wildcards allowed)
}

// annotationWire is an event as POST and PUT send it: unset fields are left out.
type annotationWire struct {
	Title       string  `json:"title,omitempty"`
	Description *string `json:"description,omitempty"`
	Source      *string `json:"source,omitempty"`
	StartTime   *int64  `json:"start_time,omitempty"`
	EndTime     *int64  `json:"end_time,omitempty"`
	Links       []Link  `json:"links,omitempty"`
}

// annotationResponse decodes an event as the API sends it (nulls included).
type annotationResponse struct {
	ID          ID        `json:"id"`
	Title       string    `json:"title"`
	Description *string   `json:"description"`
	Source      *string   `json:"source"`
	StartTime   jsonEpoch `json:"start_time"`
	EndTime     jsonEpoch `json:"end_time"`
	Links       []Link    `json:"links"`
}

func (w *annotationResponse) annotation() Annotation {
	a := Annotation{ID: w.ID, Title: w.Title, StartTime: w.StartTime.Time, EndTime: w.EndTime.Time, Links: w.Links}
	if w.Description != nil {
		a.Description = *w.Description
	}
	if w.Source != nil {
		a.Source = *w.Source
	}
	return a
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func checkStream(what, stream string) error {
	if err := ValidateMetricName(stream); err != nil {
		var ve *ValidationError
		if errors.As(err, &ve) {
			ve.Field = "annotation stream"
		}
		return fmt.Errorf("librato: %s: %w", what, err)
	}
	return nil
}

func checkAnnotationID(what string, id ID) error {
	if id <= 0 {
		return fmt.Errorf("librato: %s: %w", what, &ValidationError{Field: "annotation ID", Value: strconv.FormatInt(int64(id), 10), Reason: "must be positive"})
	}
	return nil
}

func checkLinks(what string, links []Link) error {
	var errs []error
	seen := map[string]bool{}
	for i, l := range links {
		field := fmt.Sprintf("link %d", i)
		switch {
		case l.Rel == "":
			errs = append(errs, &ValidationError{Field: field + " rel", Value: l.Rel, Reason: "is required"})
		case seen[l.Rel]:
			errs = append(errs, &ValidationError{Field: field + " rel", Value: l.Rel, Reason: "is used twice; rels are unique per event"})
		}
		seen[l.Rel] = true
		if l.Href == "" {
			errs = append(errs, &ValidationError{Field: field + " href", Value: l.Href, Reason: "is required"})
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("librato: %s: %w", what, err)
	}
	return nil
}

func checkAnnotationTimes(what string, a Annotation) error {
	if !a.StartTime.IsZero() && !a.EndTime.IsZero() && a.EndTime.Before(a.StartTime) {
		return fmt.Errorf("librato: %s: %w", what, &ValidationError{Field: "end time", Value: a.EndTime.UTC().Format(time.RFC3339Nano),
			Reason: "is before the start time " + a.StartTime.UTC().Format(time.RFC3339Nano)})
	}
	return nil
}

// Create adds an event to stream (creating the stream if needed) and returns it as stored,
// with its ID. Title is required; zero times are left to the API (start: now, end: none).
func (svc *AnnotationsService) Create(ctx context.Context, stream string, a Annotation) (*Annotation, error) {
	c := svc.client
	const what = "annotation create"
	if err := checkStream(what, stream); err != nil {
		return nil, err
	}
	if a.Title == "" {
		return nil, fmt.Errorf("librato: %s: %w", what, &ValidationError{Field: "title", Reason: "is required"})
	}
	if err := errors.Join(checkLinks(what, a.Links), checkAnnotationTimes(what, a)); err != nil {
		return nil, err
	}
	body := annotationWire{
		Title:       a.Title,
		Description: optString(a.Description),
		Source:      optString(a.Source),
		StartTime:   unixOrNil(a.StartTime),
		EndTime:     unixOrNil(a.EndTime),
		Links:       a.Links,
	}
	var out annotationResponse
	resp, err := c.do(ctx, http.MethodPost, escapePath("annotations", stream), nil, body, &out)
	if err != nil {
		return nil, err
	}
	if out.ID == 0 { // an empty body: keep what was sent, with the ID of the Location header
		ev := a
		ev.ID = lastPathID(resp.Header.Get("Location"))
		return &ev, nil
	}
	ev := out.annotation()
	return &ev, nil
}

// Update changes the title, description, end time and links of an event. Empty fields
// and the zero end time are left unchanged; StartTime and Source cannot be updated and are ignored.
func (svc *AnnotationsService) Update(ctx context.Context, stream string, id ID, a Annotation) error {
	c := svc.client
	const what = "annotation update"
	if err := errors.Join(checkStream(what, stream), checkAnnotationID(what, id), checkLinks(what, a.Links)); err != nil {
		return err
	}
	body := annotationWire{
		Title:       a.Title,
		Description: optString(a.Description),
		EndTime:     unixOrNil(a.EndTime),
		Links:       a.Links,
	}
	_, err := c.do(ctx, http.MethodPut, escapePath("annotations", stream, strconv.FormatInt(int64(id), 10)), nil, body, nil)
	return err
}

// AddLink attaches a link to an event.
func (svc *AnnotationsService) AddLink(ctx context.Context, stream string, id ID, l Link) error {
	c := svc.client
	const what = "annotation link add"
	if err := errors.Join(checkStream(what, stream), checkAnnotationID(what, id), checkLinks(what, []Link{l})); err != nil {
		return err
	}
	_, err := c.do(ctx, http.MethodPost, escapePath("annotations", stream, strconv.FormatInt(int64(id), 10), "links"), nil, l, nil)
	return err
}

// Delete deletes one event.
func (svc *AnnotationsService) Delete(ctx context.Context, stream string, id ID) error {
	c := svc.client
	const what = "annotation delete"
	if err := errors.Join(checkStream(what, stream), checkAnnotationID(what, id)); err != nil {
		return err
	}
	_, err := c.do(ctx, http.MethodDelete, escapePath("annotations", stream, strconv.FormatInt(int64(id), 10)), nil, nil, nil)
	return err
}

// DeleteLink removes the link with the given rel from an event.
func (svc *AnnotationsService) DeleteLink(ctx context.Context, stream string, id ID, rel string) error {
	c := svc.client
	const what = "annotation link delete"
	err := errors.Join(checkStream(what, stream), checkAnnotationID(what, id))
	if rel == "" {
		err = errors.Join(err, fmt.Errorf("librato: %s: %w", what, &ValidationError{Field: "link rel", Reason: "is required"}))
	}
	if err != nil {
		return err
	}
	_, err = c.do(ctx, http.MethodDelete, escapePath("annotations", stream, strconv.FormatInt(int64(id), 10), "links", rel), nil, nil, nil)
	return err
}

// DeleteStream deletes a stream and all its events.
func (svc *AnnotationsService) DeleteStream(ctx context.Context, stream string) error {
	c := svc.client
	if err := checkStream("annotation stream delete", stream); err != nil {
		return err
	}
	_, err := c.do(ctx, http.MethodDelete, escapePath("annotations", stream), nil, nil, nil)
	return err
}

// UpdateStream sets a stream's display name.
func (svc *AnnotationsService) UpdateStream(ctx context.Context, stream, displayName string) error {
	c := svc.client
	if err := checkStream("annotation stream update", stream); err != nil {
		return err
	}
	body := struct {
		DisplayName string `json:"display_name"`
	}{displayName}
	_, err := c.do(ctx, http.MethodPut, escapePath("annotations", stream), nil, body, nil)
	return err
}

// annotationStreamWire is a stream in lists and in GET annotations/:name.
type annotationStreamWire struct {
	Name        string                  `json:"name"`
	DisplayName *string                 `json:"display_name"`
	Events      annotationEventsByGroup `json:"events"`
}

func (w *annotationStreamWire) stream() AnnotationStream {
	s := AnnotationStream{Name: w.Name, Events: w.Events}
	if w.DisplayName != nil {
		s.DisplayName = *w.DisplayName
	}
	return s
}

// annotationEventsByGroup decodes "events" in both shapes the API is seen to send: a map from
// source to events (live API, per the Ruby client's integration tests) and an array holding such
// maps (the documentation). Maps of an array are merged.
type annotationEventsByGroup map[string][]Annotation

func (g *annotationEventsByGroup) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	var maps []map[string][]annotationResponse
	switch {
	case bytes.Equal(b, []byte("null")):
		return nil
	case bytes.HasPrefix(b, []byte("[")):
		if err := json.Unmarshal(b, &maps); err != nil {
			return fmt.Errorf("annotation events: %w", err)
		}
	default:
		var m map[string][]annotationResponse
		if err := json.Unmarshal(b, &m); err != nil {
			return fmt.Errorf("annotation events: %w", err)
		}
		maps = append(maps, m)
	}
	out := map[string][]Annotation{}
	for _, m := range maps {
		for src, evs := range m {
			for i := range evs {
				out[src] = append(out[src], evs[i].annotation())
			}
		}
	}
	*g = out
	return nil
}

// AllStreams iterates over every annotation stream (name filter and paging in opts; streams
// order by name). It stops at the first error, which it yields. opts is not modified.
func (svc *AnnotationsService) AllStreams(ctx context.Context, opts *ListOptions) iter.Seq2[*AnnotationStream, error] {
	c := svc.client
	return func(yield func(*AnnotationStream, error) bool) {
		for w, err := range listAll[annotationStreamWire](ctx, c, "annotations", "annotations", opts, nil) {
			if err != nil {
				yield(nil, err)
				return
			}
			st := w.stream()
			if !yield(&st, nil) {
				return
			}
		}
	}
}

// ListStreams returns one page of annotation streams.
func (svc *AnnotationsService) ListStreams(ctx context.Context, opts *ListOptions) (*Page[AnnotationStream], error) {
	ws, err := listPage[annotationStreamWire](ctx, svc.client, "annotations", "annotations", opts, nil)
	if err != nil {
		return nil, err
	}
	out := &Page[AnnotationStream]{Items: make([]AnnotationStream, len(ws.Items)), Found: ws.Found, Next: ws.Next}
	for i := range ws.Items {
		out.Items[i] = ws.Items[i].stream()
	}
	return out, nil
}

// GetStream fetches a stream and, when opts sets StartTime or Count, its events grouped by
// source. A nil opts fetches the stream's properties only.
func (svc *AnnotationsService) GetStream(ctx context.Context, stream string, opts *AnnotationQuery) (*AnnotationStream, error) {
	c := svc.client
	const what = "annotation stream"
	if err := checkStream(what, stream); err != nil {
		return nil, err
	}
	q := url.Values{}
	if opts != nil {
		if opts.Count < 0 {
			return nil, fmt.Errorf("librato: %s: %w", what, &ValidationError{Field: "count", Value: strconv.Itoa(opts.Count), Reason: "is negative"})
		}
		if !opts.StartTime.IsZero() && !opts.EndTime.IsZero() && opts.EndTime.Before(opts.StartTime) {
			return nil, fmt.Errorf("librato: %s: %w", what, &ValidationError{Field: "end time", Value: opts.EndTime.UTC().Format(time.RFC3339Nano), Reason: "is before the start time"})
		}
		if !opts.StartTime.IsZero() {
			q.Set("start_time", strconv.FormatInt(opts.StartTime.Unix(), 10))
		}
		if !opts.EndTime.IsZero() {
			q.Set("end_time", strconv.FormatInt(opts.EndTime.Unix(), 10))
		}
		if opts.Count > 0 {
			q.Set("count", strconv.Itoa(opts.Count))
		}
		for _, s := range opts.Sources {
			q.Add("sources[]", s)
		}
	}
	var w annotationStreamWire
	if _, err := c.do(ctx, http.MethodGet, escapePath("annotations", stream), q, nil, &w); err != nil {
		return nil, err
	}
	s := w.stream()
	return &s, nil
}

// Get fetches one event of a stream.
func (svc *AnnotationsService) Get(ctx context.Context, stream string, id ID) (*Annotation, error) {
	c := svc.client
	const what = "annotation get"
	if err := errors.Join(checkStream(what, stream), checkAnnotationID(what, id)); err != nil {
		return nil, err
	}
	var w annotationResponse
	if _, err := c.do(ctx, http.MethodGet, escapePath("annotations", stream, strconv.FormatInt(int64(id), 10)), nil, nil, &w); err != nil {
		return nil, err
	}
	a := w.annotation()
	return &a, nil
}

// annotateFinishTimeout bounds the update that records the end of Annotate's work. It runs even when
// ctx is done (a cancelled job is worth an end time), so it needs its own bound.
const annotateFinishTimeout = 30 * time.Second

// maxAnnotateErrorText caps the error text Annotate appends to a description.
const maxAnnotateErrorText = 1000

// Record wraps work (a build, a deploy) in an annotation event of stream: it posts a (with its
// start time set to now when zero) while work runs, then sets the event's end time when work
// returns; when work fails, its error text is appended to the description.
//
// The work starts at once and always runs, whatever the API does: recording a CI step must never
// delay or stop it. If the first post fails, the whole event (with its end time) is posted once
// more after work returns (not when it timed out: the API is not answering). Record returns work's error as is, joined (errors.Join) with any
// annotation error, so errors.Is on the work's errors keeps working and an annotation failure
// never hides the work's. When work succeeds but the event could not be recorded, the annotation
// error alone is returned. Annotation errors are *AnnotateError, so errors.As tells them from the
// work's. The posts after work returns run even if ctx is done by then, each bounded by its own
// 30 s timeout. If work panics, the event keeps no end time.
func (svc *AnnotationsService) Record(ctx context.Context, stream string, a Annotation, work func(ctx context.Context) error) error {
	c := svc.client
	if work == nil {
		return errors.New("librato: annotation record: nil work function")
	}
	if a.StartTime.IsZero() {
		a.StartTime = c.now()
	}
	a.EndTime = time.Time{}
	type posted struct {
		ev  *Annotation
		err error
	}
	// The post does not end with ctx: a cancelled job still gets its event. It is bounded by
	// annotateFinishTimeout instead.
	pctx, pcancel := context.WithTimeout(context.WithoutCancel(ctx), annotateFinishTimeout)
	defer pcancel()
	first := make(chan posted, 1)
	go func() {
		ev, err := c.Annotations.Create(pctx, stream, a)
		first <- posted{ev, err}
	}()
	workErr := work(ctx)
	end := c.now()
	if end.Before(a.StartTime) {
		end = a.StartTime // a clock step back must not make an invalid event
	}
	desc := a.Description
	if workErr != nil {
		desc = annotateFailureText(a.Description, workErr)
	}
	p := <-first
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), annotateFinishTimeout)
	defer cancel()
	if p.err != nil && errors.Is(p.err, context.DeadlineExceeded) {
		return errors.Join(workErr, &AnnotateError{Title: a.Title, Msg: "not recorded", Err: p.err})
	}
	if p.err != nil {
		// The event as a whole, in one post: what a passing outage left unrecorded.
		whole := a
		whole.EndTime, whole.Description = end, desc
		if _, err := c.Annotations.Create(uctx, stream, whole); err != nil {
			if err.Error() != p.err.Error() {
				err = errors.Join(p.err, err)
			}
			return errors.Join(workErr, &AnnotateError{Title: a.Title, Msg: "not recorded", Err: err})
		}
		return workErr
	}
	if p.ev.ID == 0 {
		return errors.Join(workErr, &AnnotateError{Title: a.Title, Msg: "posted but the API returned no ID, so its end time is not recorded"})
	}
	upd := Annotation{EndTime: end}
	if workErr != nil {
		upd.Description = desc
	}
	if err := c.Annotations.Update(uctx, stream, p.ev.ID, upd); err != nil {
		return errors.Join(workErr, &AnnotateError{Title: a.Title, ID: p.ev.ID, Msg: "end time not recorded", Err: err})
	}
	return workErr
}

// annotateFailureText appends "failed: <err>" to a description, capping the error text.
func annotateFailureText(desc string, err error) string {
	msg := err.Error()
	if len(msg) > maxAnnotateErrorText {
		i := maxAnnotateErrorText
		for i > 0 && !utf8.RuneStart(msg[i]) {
			i--
		}
		msg = msg[:i] + "..."
	}
	if desc == "" {
		return "failed: " + msg
	}
	return desc + "\n\nfailed: " + msg
}
