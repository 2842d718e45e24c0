package librato

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MeasurementsService reads tagged measurements and runs composite queries (/v1/measurements).
type MeasurementsService service

// MaxResolution is the coarsest resolution a tagged read accepts: one week, in seconds.
const MaxResolution = 604800

// MeasurementsOptions selects a tagged read (GET /v1/measurements/:name).
//
// The interval is StartTime..EndTime, or Duration back from EndTime; EndTime defaults to now on the
// server. StartTime or Duration is required, and setting all three is an error.
type MeasurementsOptions struct {
	StartTime time.Time
	EndTime   time.Time
	Duration  time.Duration // whole seconds
	// Resolution is the point spacing in seconds, at most MaxResolution. The API requires one;
	// 0 sends 1, as python-librato and the Ruby gem do (the finest the API has for the range).
	Resolution int
	// Tags filters series by tag: tags[name]=pattern, "*" wildcards, a "!" prefix negates the value.
	// Different names must all match. Not with TagsSearch.
	Tags map[string]string
	// TagsSearch is a tag query such as `region=us-east* and db=*prod*`. Not with Tags.
	TagsSearch string
	// GroupBy combines series by these comma-separated tag names ("*": all into one) with
	// GroupByFunction (sum, min, max or mean); the two go together.
	GroupBy         string
	GroupByFunction string
	// SummaryFunction picks which summary of each point the API returns: sum, min, max, count,
	// mean, derivative, stddev or all ("all" cannot be combined with GroupBy).
	SummaryFunction string
	// Cursor reads the page it names: a Page's Next, the API's link to the next page. That link
	// carries the whole query, so with a Cursor the other fields are not used.
	Cursor string
}

var (
	groupByFunctions = []string{"sum", "min", "max", "mean"}
	summaryFunctions = []string{"sum", "min", "max", "count", "mean", "derivative", "stddev", "all"}
)

// values validates the options and renders them as the API's query parameters.
func (o *MeasurementsOptions) values() (url.Values, error) {
	if o == nil {
		return nil, optionErrorf("MeasurementsOptions are required: set StartTime or Duration")
	}
	switch {
	case o.StartTime.IsZero() && o.Duration == 0:
		return nil, optionErrorf("MeasurementsOptions needs StartTime or Duration")
	case !o.StartTime.IsZero() && !o.EndTime.IsZero() && o.Duration != 0:
		return nil, optionErrorf("MeasurementsOptions: StartTime, EndTime and Duration cannot all be set")
	case !o.StartTime.IsZero() && !o.EndTime.IsZero() && o.EndTime.Before(o.StartTime):
		return nil, optionErrorf("MeasurementsOptions.EndTime %s is before StartTime %s",
			o.EndTime.UTC().Format(time.RFC3339), o.StartTime.UTC().Format(time.RFC3339))
	case o.Duration < 0:
		return nil, optionErrorf("MeasurementsOptions.Duration %v is negative", o.Duration)
	case o.Duration%time.Second != 0:
		return nil, optionErrorf("MeasurementsOptions.Duration %v is not whole seconds", o.Duration)
	case o.Resolution < 0 || o.Resolution > MaxResolution:
		return nil, optionErrorf("MeasurementsOptions.Resolution %d is outside 0..%d", o.Resolution, MaxResolution)
	case len(o.Tags) > 0 && o.TagsSearch != "":
		return nil, optionErrorf("MeasurementsOptions.Tags and TagsSearch are exclusive")
	case (o.GroupBy == "") != (o.GroupByFunction == ""):
		return nil, optionErrorf("MeasurementsOptions.GroupBy and GroupByFunction go together")
	case o.GroupByFunction != "" && !slices.Contains(groupByFunctions, o.GroupByFunction):
		return nil, optionErrorf("MeasurementsOptions.GroupByFunction %q is none of %v", o.GroupByFunction, groupByFunctions)
	case o.SummaryFunction != "" && !slices.Contains(summaryFunctions, o.SummaryFunction):
		return nil, optionErrorf("MeasurementsOptions.SummaryFunction %q is none of %v", o.SummaryFunction, summaryFunctions)
	case o.SummaryFunction == "all" && o.GroupBy != "":
		return nil, optionErrorf(`MeasurementsOptions.SummaryFunction "all" cannot be combined with GroupBy`)
	}
	q := url.Values{}
	for k, v := range o.Tags {
		if k == "" {
			return nil, optionErrorf("MeasurementsOptions.Tags has an empty tag name")
		}
		q.Set("tags["+k+"]", v)
	}
	if !o.StartTime.IsZero() {
		q.Set("start_time", unixString(o.StartTime))
	}
	if !o.EndTime.IsZero() {
		q.Set("end_time", unixString(o.EndTime))
	}
	if o.Duration > 0 {
		q.Set("duration", strconv.FormatInt(int64(o.Duration/time.Second), 10))
	}
	res := o.Resolution
	if res == 0 {
		res = 1
	}
	q.Set("resolution", strconv.Itoa(res))
	if o.TagsSearch != "" {
		q.Set("tags_search", o.TagsSearch)
	}
	if o.GroupBy != "" {
		q.Set("group_by", o.GroupBy)
		q.Set("group_by_function", o.GroupByFunction)
	}
	if o.SummaryFunction != "" {
		q.Set("summary_function", o.SummaryFunction)
	}
	return q, nil
}

// TaggedSeries is one series of a tagged read: a tag set (or, with GroupBy, the grouped tags),
// its points, oldest first, and their spacing.
type TaggedSeries struct {
	Tags   map[string]string `json:"tags"`
	Points []Point           `json:"measurements"`
	// Resolution is the spacing of the points in seconds, as the API answered the read.
	Resolution int `json:"-"`
}

// measurementsWire is the API's answer to a tagged read.
type measurementsWire struct {
	Name       string         `json:"name"`
	Resolution float64        `json:"resolution"`
	Series     []TaggedSeries `json:"series"`
	Links      []struct {
		Rel  string `json:"rel"`
		Href string `json:"href"`
	} `json:"links"`
}

func (w *measurementsWire) page() *Page[TaggedSeries] {
	p := &Page[TaggedSeries]{Items: w.Series}
	for i := range p.Items {
		p.Items[i].Resolution = int(w.Resolution)
	}
	for _, l := range w.Links {
		if l.Rel == "next" && l.Href != "" {
			p.Next = l.Href
			break
		}
	}
	return p
}

// List reads one page of a metric's tagged series (GET /v1/measurements/:name); Found is not set
// (the API does not count series). With opts.Cursor set to a Page's Next it reads that page,
// following the API's link through this client: the link must lie below the client's base URL, so
// the client's credentials are never sent to another host. All iterates over every page.
func (svc *MeasurementsService) List(ctx context.Context, name string, opts *MeasurementsOptions) (*Page[TaggedSeries], error) {
	c := svc.client
	if opts != nil && opts.Cursor != "" {
		path, q, err := c.relativeLink(opts.Cursor)
		if err != nil {
			return nil, err
		}
		var w measurementsWire
		if _, err := c.do(ctx, http.MethodGet, path, q, nil, &w); err != nil {
			return nil, err
		}
		return w.page(), nil
	}
	w, err := getByName[measurementsWire](ctx, c, "Measurements.List", "measurements", name, opts)
	if err != nil {
		return nil, err
	}
	return w.page(), nil
}

// All iterates over the series of a tagged read, page after page, following the API's next
// links. Depending on how the API splits a read (by series or by time), one tag set can come again on
// a later page with its later points; Get joins them. It stops after the first error and never
// modifies opts.
func (svc *MeasurementsService) All(ctx context.Context, name string, opts *MeasurementsOptions) iter.Seq2[*TaggedSeries, error] {
	return func(yield func(*TaggedSeries, error) bool) {
		var o MeasurementsOptions
		if opts != nil {
			o = *opts
		}
		seen := map[string]bool{}
		for {
			p, err := svc.List(ctx, name, &o)
			if err != nil {
				yield(nil, err)
				return
			}
			for i := range p.Items {
				if !yield(&p.Items[i], nil) {
					return
				}
			}
			if p.Next == "" {
				return
			}
			if seen[p.Next] {
				yield(nil, fmt.Errorf("librato: measurements of %s: the API repeated a next-page link; stopping", name))
				return
			}
			seen[p.Next] = true
			o.Cursor = p.Next
		}
	}
}

// Get reads every page of a tagged read and joins the pieces of each tag set, in the order the tag
// sets first appear. It holds the whole result in memory; All streams it.
func (svc *MeasurementsService) Get(ctx context.Context, name string, opts *MeasurementsOptions) ([]TaggedSeries, error) {
	var out []TaggedSeries
	index := map[string]int{}
	var key strings.Builder
	for s, err := range svc.All(ctx, name, opts) {
		if err != nil {
			return nil, err
		}
		key.Reset()
		for _, k := range slices.Sorted(maps.Keys(s.Tags)) {
			key.WriteString(strconv.Quote(k))
			key.WriteByte('=')
			key.WriteString(strconv.Quote(s.Tags[k]))
			key.WriteByte(',')
		}
		if i, ok := index[key.String()]; ok {
			out[i].Points = append(out[i].Points, s.Points...)
			continue
		}
		index[key.String()] = len(out)
		out = append(out, TaggedSeries{Tags: s.Tags, Points: slices.Clone(s.Points), Resolution: s.Resolution})
	}
	return out, nil
}

// relativeLink turns a link the API returned (absolute, or relative to the base URL) into a path
// relative to the client's base URL and its query, for c.do. A link to another scheme, host or
// a path outside the base URL is refused, so credentials never leave for another host.
func (c *Client) relativeLink(href string) (string, url.Values, error) {
	base, err := url.Parse(c.baseURL)
	if err != nil {
		return "", nil, fmt.Errorf("librato: base URL: %w", err)
	}
	u, err := base.Parse(href)
	if err != nil {
		return "", nil, fmt.Errorf("librato: unreadable next-page link: %w", err)
	}
	bp := base.EscapedPath()
	p := u.EscapedPath()
	if u.User != nil || u.Scheme != base.Scheme || !strings.EqualFold(u.Host, base.Host) ||
		!strings.HasPrefix(p, bp) || len(p) == len(bp) {
		return "", nil, fmt.Errorf("librato: next-page link %s is not below the client's base URL %s; not following it with the client's credentials",
			errorURL(u), c.baseURL)
	}
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return "", nil, fmt.Errorf("librato: next-page link %s: bad query: %w", errorURL(u), err)
	}
	return p[len(bp):], q, nil
}
