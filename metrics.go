package librato

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// MetricsService reads and changes metric definitions (/v1/metrics).
type MetricsService service

// GetOptions selects the legacy (source-based) measurements a Get returns besides the metadata.
// A nil *GetOptions (or the zero value) reads the metadata only.
//
// Times are sent as Unix seconds. All options are those of GET /v1/metrics/:name.
type GetOptions struct {
	// StartTime and EndTime bound the interval (EndTime defaults to now on the server).
	StartTime time.Time
	EndTime   time.Time
	// Count asks for N points per source: the first N after StartTime, or the last N before EndTime.
	Count int
	// Resolution is the point spacing in seconds. 0 sends 1 when any other data option is set,
	// as the official clients do: the API wants a resolution with every measurement read.
	Resolution int
	// Source selects one source by name or pattern ("web*"). The API prefers Sources.
	Source string
	// Sources selects several sources (sent as sources[]=a&sources[]=b). Not with Source.
	Sources []string
	// SourceTag selects the sources carrying this tag.
	SourceTag string
	// SummarizeTime asks for one point per source summarizing the interval.
	SummarizeTime bool
	// SummarizeSources adds the pseudo-source "all" summarizing every source.
	SummarizeSources bool
	// BreakoutSources false returns only the "all" pseudo-source; nil leaves the API default (true).
	BreakoutSources *bool
	// GroupBy combines the sources with min, max, mean, sum or count; it implies SummarizeSources
	// and BreakoutSources false.
	GroupBy string
}

// legacyGroupBy are the accepted values of GetOptions.GroupBy.
var legacyGroupBy = []string{"min", "max", "mean", "sum", "count"}

// values validates the options and renders them as the API's query parameters (nil: metadata only).
func (o *GetOptions) values() (url.Values, error) {
	if o == nil {
		return nil, nil
	}
	switch {
	case o.Count < 0:
		return nil, optionErrorf("GetOptions.Count %d is negative", o.Count)
	case o.Resolution < 0:
		return nil, optionErrorf("GetOptions.Resolution %d is negative", o.Resolution)
	case !o.StartTime.IsZero() && !o.EndTime.IsZero() && o.EndTime.Before(o.StartTime):
		return nil, optionErrorf("GetOptions.EndTime %s is before StartTime %s",
			o.EndTime.UTC().Format(time.RFC3339), o.StartTime.UTC().Format(time.RFC3339))
	case o.Source != "" && len(o.Sources) > 0:
		return nil, optionErrorf("GetOptions.Source and Sources are exclusive; put every source in Sources")
	case o.GroupBy != "" && !slices.Contains(legacyGroupBy, o.GroupBy):
		return nil, optionErrorf("GetOptions.GroupBy %q is none of %v", o.GroupBy, legacyGroupBy)
	}
	if slices.Contains(o.Sources, "") {
		return nil, optionErrorf("GetOptions.Sources contains an empty source")
	}
	q := url.Values{}
	if !o.StartTime.IsZero() {
		q.Set("start_time", unixString(o.StartTime))
	}
	if !o.EndTime.IsZero() {
		q.Set("end_time", unixString(o.EndTime))
	}
	if o.Count > 0 {
		q.Set("count", strconv.Itoa(o.Count))
	}
	if o.Source != "" {
		q.Set("source", o.Source)
	}
	if len(o.Sources) > 0 {
		q["sources[]"] = slices.Clone(o.Sources)
	}
	if o.SourceTag != "" {
		q.Set("source_tag", o.SourceTag)
	}
	if o.SummarizeTime {
		q.Set("summarize_time", "true")
	}
	if o.SummarizeSources {
		q.Set("summarize_sources", "true")
	}
	if o.BreakoutSources != nil {
		q.Set("breakout_sources", strconv.FormatBool(*o.BreakoutSources))
	}
	if o.GroupBy != "" {
		q.Set("group_by", o.GroupBy)
	}
	switch {
	case o.Resolution > 0:
		q.Set("resolution", strconv.Itoa(o.Resolution))
	case len(q) > 0:
		q.Set("resolution", "1")
	}
	return q, nil
}

// invalidOptionError is an invalid option of a read; it matches ErrInvalid.
type invalidOptionError struct{ msg string }

func (e *invalidOptionError) Error() string { return e.msg }
func (e *invalidOptionError) Unwrap() error { return ErrInvalid }

func optionErrorf(format string, args ...any) error {
	return &invalidOptionError{msg: fmt.Sprintf(format, args...)}
}

// unixString renders t as the API's integer Unix seconds.
func unixString(t time.Time) string {
	return strconv.FormatInt(t.Unix(), 10)
}

// readName applies the client's sanitizer to a name the client reads by, and checks only what
// every name needs: reads do not reject names the API would refuse to create today, so metrics
// made under older, looser rules stay readable (a name that does not exist is ErrNotFound).
func (c *Client) readName(op, name string) (string, error) {
	n := c.sanitize(name)
	switch {
	case n == "":
		return "", fmt.Errorf("librato: %s: %w", op, &ValidationError{Field: "metric name", Value: name, Reason: "must not be empty"})
	case !utf8.ValidString(n):
		return "", fmt.Errorf("librato: %s: %w", op, &ValidationError{Field: "metric name", Value: name, Reason: "is not valid UTF-8"})
	}
	return n, nil
}

// writeName applies the client's sanitizer to a name the client changes or deletes, and checks it
// against the API's naming rule.
func (c *Client) writeName(op, name string) (string, error) {
	n := c.sanitize(name)
	if err := ValidateMetricName(n); err != nil {
		return "", fmt.Errorf("librato: %s: %w", op, err)
	}
	return n, nil
}

// Get returns a metric's metadata, and with opts the legacy measurements it selects
// (GET /v1/metrics/:name). Tagged accounts read measurements with Measurements.List.
// A metric that does not exist is an error matching ErrNotFound.
func (svc *MetricsService) Get(ctx context.Context, name string, opts *GetOptions) (*Metric, error) {
	c := svc.client
	return getByName[Metric](ctx, c, "Get", "metrics", name, opts)
}

// getByName is GET <area>/<name> with the query opts encode, decoded into a new T: the read that
// Metrics.Get and Measurements.List share. op names the call in errors.
func getByName[T any](ctx context.Context, c *Client, op, area, name string, opts interface{ values() (url.Values, error) }) (*T, error) {
	n, err := c.readName(op, name)
	if err != nil {
		return nil, err
	}
	q, err := opts.values()
	if err != nil {
		return nil, fmt.Errorf("librato: %s %s: %w", op, n, err)
	}
	return fetch[T](ctx, c, http.MethodGet, escapePath(area, n), q, nil)
}

// SourcePoint is a legacy point with the source it belongs to ("unassigned" for none).
type SourcePoint struct {
	Source string
	Point
}

// Points iterates over a legacy metric's points from opts.StartTime on, following the API's
// query.next_time hint from read to read until the interval is exhausted. Points come one read at a
// time; within a read, by source name and then time. opts is never modified.
//
// opts must set StartTime; with Count set the API gives no hint and a single read is made.
func (svc *MetricsService) Points(ctx context.Context, name string, opts *GetOptions) iter.Seq2[SourcePoint, error] {
	c := svc.client
	return func(yield func(SourcePoint, error) bool) {
		if opts == nil || opts.StartTime.IsZero() {
			yield(SourcePoint{}, fmt.Errorf("librato: metric %s points: %w", name, optionErrorf("GetOptions.StartTime is required")))
			return
		}
		o := *opts
		for {
			m, err := c.Metrics.Get(ctx, name, &o)
			if err != nil {
				yield(SourcePoint{}, err)
				return
			}
			for _, src := range slices.Sorted(maps.Keys(m.Measurements)) {
				for _, p := range m.Measurements[src] {
					if !yield(SourcePoint{Source: src, Point: p}, nil) {
						return
					}
				}
			}
			if m.NextTime.IsZero() || o.Count > 0 {
				return
			}
			if !m.NextTime.After(o.StartTime) {
				yield(SourcePoint{}, fmt.Errorf("librato: metric %s points: next_time %d does not advance past start_time %d",
					name, m.NextTime.Unix(), o.StartTime.Unix()))
				return
			}
			if !o.EndTime.IsZero() && !m.NextTime.Before(o.EndTime) {
				return
			}
			o.StartTime = m.NextTime
		}
	}
}

// List returns one page of metric metadata (GET /v1/metrics), filtered by opts.Name (a
// case-insensitive substring) and ordered by name. All iterates over every page.
func (svc *MetricsService) List(ctx context.Context, opts *ListOptions) (*Page[Metric], error) {
	return listPage[Metric](ctx, svc.client, "metrics", "metrics", opts, nil)
}

// All iterates over the metadata of every metric opts selects, page after page, starting at
// opts.Cursor with pages of opts.Length (default 100). It stops after the first error and never
// modifies opts.
func (svc *MetricsService) All(ctx context.Context, opts *ListOptions) iter.Seq2[*Metric, error] {
	c := svc.client
	return listAll[Metric](ctx, c, "metrics", "metrics", opts, nil)
}

// deleteBody is the body of DELETE /v1/metrics (and the selector of PUT /v1/metrics).
type deleteBody struct {
	Names   any      `json:"names"` // []string or a pattern string
	Exclude []string `json:"exclude,omitempty"`
}

// Delete deletes the named metrics and their measurements. One name is deleted with
// DELETE /v1/metrics/:name, several with one DELETE /v1/metrics; when the API answers with a job
// (202), Delete waits for it, and a failed job is a *JobError. No names: nothing to do, no request.
// Deleting a metric that does not exist succeeds, as on the API.
func (svc *MetricsService) Delete(ctx context.Context, names ...string) error {
	c := svc.client
	if len(names) == 0 {
		return nil
	}
	checked, err := c.writeNames("metric delete", names)
	if err != nil {
		return err
	}
	var resp *response
	if len(checked) == 1 {
		resp, err = c.do(ctx, http.MethodDelete, escapePath("metrics", checked[0]), nil, nil, nil)
	} else {
		resp, err = c.do(ctx, http.MethodDelete, "metrics", nil, deleteBody{Names: checked}, nil)
	}
	if err != nil {
		return err
	}
	return c.waitAccepted(ctx, resp)
}

// DeletePattern deletes every metric whose name matches pattern ("*" matches any run of
// characters, e.g. "cpu.*.idle") except the excluded names, with one DELETE /v1/metrics, and waits
// for the job when the API answers 202. The sanitizer applies to the excluded names, not to the
// pattern (it would rewrite the "*").
func (svc *MetricsService) DeletePattern(ctx context.Context, pattern string, exclude []string) error {
	c := svc.client
	sel, err := c.patternSelector("metric delete", pattern, exclude)
	if err != nil {
		return err
	}
	resp, err := c.do(ctx, http.MethodDelete, "metrics", nil, sel, nil)
	if err != nil {
		return err
	}
	return c.waitAccepted(ctx, resp)
}

// writeNames sanitizes and validates names, reporting every bad one.
func (c *Client) writeNames(op string, names []string) ([]string, error) {
	out := make([]string, 0, len(names))
	var errs []error
	for i, name := range names {
		n := c.sanitize(name)
		if err := ValidateMetricName(n); err != nil {
			errs = append(errs, fmt.Errorf("name %d: %w", i, err))
			continue
		}
		out = append(out, n)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("librato: %s: %w", op, errors.Join(errs...))
	}
	return out, nil
}

// patternSelector validates a wildcard pattern and its exclusions into a request body.
func (c *Client) patternSelector(op, pattern string, exclude []string) (deleteBody, error) {
	if err := ValidateMetricPattern(pattern); err != nil {
		return deleteBody{}, fmt.Errorf("librato: %s: %w", op, err)
	}
	sel := deleteBody{Names: pattern}
	if len(exclude) > 0 {
		ex, err := c.writeNames(op+" exclude", exclude)
		if err != nil {
			return deleteBody{}, err
		}
		sel.Exclude = ex
	}
	return sel, nil
}

// ValidateMetricPattern checks a metric name pattern for DeletePattern and UpdatePattern: a metric
// name in which "*" may also appear, 1 to 255 bytes.
func ValidateMetricPattern(pattern string) error {
	if pattern == "" {
		return &ValidationError{Field: "metric pattern", Value: pattern, Reason: "must not be empty"}
	}
	if len(pattern) > MaxMetricNameLength {
		return &ValidationError{Field: "metric pattern", Value: pattern,
			Reason: fmt.Sprintf("is %d bytes long, at most %d allowed", len(pattern), MaxMetricNameLength)}
	}
	for i := 0; i < len(pattern); i++ {
		if b := pattern[i]; b != '*' && charClass[b]&className == 0 {
			return &ValidationError{Field: "metric pattern", Value: pattern,
				Reason: fmt.Sprintf("invalid character %s at byte %d (allowed: %s and *)", quoteCharAt(pattern, i), i, allowedName)}
		}
	}
	return nil
}
