package librato

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/go-librato/librato/composite"
)

// CompositeOptions select the time range of a composite query. StartTime (or
// Duration) is required.
type CompositeOptions struct {
	// StartTime is the start of the range.
	StartTime time.Time
	// EndTime is the end of the range; zero means now (the server's clock).
	EndTime time.Time
	// Duration, used when StartTime is zero, starts the range that long before
	// EndTime (or the client's now).
	Duration time.Duration
	// Resolution is the point spacing in seconds; 0 sends 1, as python-librato does.
	Resolution int
	// Tagged sends the query to the tagged API (GET /v1/measurements?compose=)
	// instead of the legacy one (GET /v1/metrics?compose=). The tagged API is
	// also used without it by AppOptics clients, clients with default tags
	// (WithTags), and for expressions with a Tags selector.
	Tagged bool
}

// CompositeResult is the answer to a composite query, from either API.
type CompositeResult struct {
	// Compose is the expression as the API echoes it ("" if it does not).
	Compose string
	// Resolution is the point spacing in seconds, 0 if the API did not say.
	Resolution int
	// Series holds one entry per resulting series.
	Series []CompositeSeries
}

// CompositeSeries is one series of a composite result.
type CompositeSeries struct {
	// Name is the name of the metric the series comes from: the metric's name,
	// else the metric pattern of its query; "" when the API sent neither.
	Name string
	// Source is the series' source on legacy accounts.
	Source string
	// Tags are the series' tags on tagged accounts.
	Tags map[string]string
	// Period is the series' period, 0 when unknown.
	Period time.Duration
	// Query is the part of the expression that produced the series, as the API echoes it.
	Query CompositeQuery
	// Metric is the metadata of the underlying metric when the API sent it, else nil.
	Metric *Metric
	// Points are the series' points in the API's order; a null value is NaN.
	Points []Point
}

// CompositeQuery is the series selection behind one series of a composite result.
type CompositeQuery struct {
	Metric string            // metric name or pattern
	Source string            // source pattern (legacy)
	Tags   map[string]string // tag selector (tagged)
}

// values checks the options and renders start_time, end_time and resolution.
func (o *CompositeOptions) values(now time.Time) (url.Values, error) {
	if o == nil {
		return nil, optionErrorf("CompositeOptions with a StartTime or Duration are required")
	}
	start := o.StartTime
	switch {
	case o.Resolution < 0:
		return nil, optionErrorf("CompositeOptions.Resolution %d is negative", o.Resolution)
	case o.Duration < 0:
		return nil, optionErrorf("CompositeOptions.Duration %v is negative", o.Duration)
	case !start.IsZero() && o.Duration != 0:
		return nil, optionErrorf("CompositeOptions.StartTime and Duration are exclusive")
	case start.IsZero() && o.Duration == 0:
		return nil, optionErrorf("CompositeOptions needs a StartTime or a Duration")
	case start.IsZero():
		end := o.EndTime
		if end.IsZero() {
			end = now
		}
		start = end.Add(-o.Duration)
	}
	if !o.EndTime.IsZero() && o.EndTime.Before(start) {
		return nil, optionErrorf("CompositeOptions.EndTime %s is before the start %s",
			o.EndTime.UTC().Format(time.RFC3339), start.UTC().Format(time.RFC3339))
	}
	q := url.Values{"start_time": {unixString(start)}, "resolution": {"1"}}
	if !o.EndTime.IsZero() {
		q.Set("end_time", unixString(o.EndTime))
	}
	if o.Resolution > 0 {
		q.Set("resolution", strconv.Itoa(o.Resolution))
	}
	return q, nil
}

// Query runs an ad hoc composite query: GET /v1/metrics?compose=...
// on legacy accounts, GET /v1/measurements?compose=... on tagged ones (see
// CompositeOptions.Tagged). The expression is validated first; use
// Raw(text) to send text the builders cannot express, or composite.Parse to
// check text before sending it.
func (svc *MeasurementsService) Query(ctx context.Context, expr composite.Expr, opts *CompositeOptions) (*CompositeResult, error) {
	c := svc.client
	if err := composite.Validate(expr); err != nil {
		return nil, fmt.Errorf("librato: composite query: %w", err)
	}
	q, err := opts.values(c.now())
	if err != nil {
		return nil, fmt.Errorf("librato: composite query: %w", err)
	}
	q.Set("compose", expr.String())
	path := "metrics"
	if opts.Tagged || c.appOptics || len(c.tags) > 0 || usesTags(expr) {
		path = "measurements"
	}
	var raw json.RawMessage
	if _, err := c.do(ctx, http.MethodGet, path, q, nil, &raw); err != nil {
		// The expression, as written, says more than its URL encoding in the error's URL.
		var apiErr *Error
		if errors.As(err, &apiErr) {
			if u, perr := url.Parse(apiErr.URL); perr == nil {
				u.RawQuery = ""
				apiErr.URL = u.String()
			}
		}
		return nil, fmt.Errorf("librato: composite %s: %w", expr, err)
	}
	res, err := decodeComposite(raw)
	if err != nil {
		return nil, fmt.Errorf("librato: composite query: %w", err)
	}
	return res, nil
}

// CreateComposite creates or updates the persisted composite metric name
// (PUT /v1/metrics/:name with type "composite"), with the other properties of
// props. props.Type, if set, must be "composite"; props.Composite must be empty
// or equal to the expression's text.
func (svc *MetricsService) CreateComposite(ctx context.Context, name string, expr composite.Expr, props MetricUpdate) error {
	c := svc.client
	if err := composite.Validate(expr); err != nil {
		return fmt.Errorf("librato: composite metric %s: %w", name, err)
	}
	text := expr.String()
	if props.Composite != "" && props.Composite != text {
		return fmt.Errorf("librato: composite metric %s: %w", name,
			optionErrorf("MetricUpdate.Composite %q differs from the expression %q", props.Composite, text))
	}
	props.Composite = text
	if props.Type == "" {
		props.Type = "composite"
	}
	return c.Metrics.Update(ctx, name, props)
}

// usesTags reports whether an expression selects series by tags anywhere.
func usesTags(e composite.Expr) bool {
	switch x := e.(type) {
	case composite.Tags:
		return true
	case composite.Call:
		return slices.ContainsFunc(x.Args, usesTags)
	case composite.Set:
		return slices.ContainsFunc(x, usesTags)
	case composite.Opts:
		for _, kv := range x {
			if usesTags(kv.Value) {
				return true
			}
		}
	}
	return false
}

// compositeWire is the object form of both APIs' answers: legacy answers put
// the series in measurements, tagged ones (as python-librato shows) in series.
type compositeWire struct {
	Compose      string             `json:"compose"`
	Resolution   *float64           `json:"resolution"`
	Measurements []compositeSeriesW `json:"measurements"`
	Series       []compositeSeriesW `json:"series"`
}

// compositeSeriesW is one series of either API. Legacy series hold their
// points in series, tagged ones in measurements.
type compositeSeriesW struct {
	Metric       json.RawMessage   `json:"metric"` // an object, or a name
	Period       *float64          `json:"period"`
	Query        *compositeQueryW  `json:"query"`
	Series       []Point           `json:"series"`
	Measurements []Point           `json:"measurements"`
	Source       json.RawMessage   `json:"source"` // {"name", "display_name"}, or a name
	Tags         map[string]string `json:"tags"`
}

type compositeQueryW struct {
	Metric string            `json:"metric"`
	Source string            `json:"source"`
	Tags   map[string]string `json:"tags"`
}

// decodeComposite decodes the legacy object (TV14), the tagged object or the
// tagged bare array (DOCS _measurements.md; see testdata/README.md) into one
// result.
func decodeComposite(raw json.RawMessage) (*CompositeResult, error) {
	raw = bytes.TrimSpace(raw)
	var w compositeWire
	switch {
	case len(raw) == 0 || isJSONNull(raw):
		return nil, errors.New("empty composite response")
	case raw[0] == '[':
		if err := json.Unmarshal(raw, &w.Series); err != nil {
			return nil, fmt.Errorf("decoding composite series: %w", err)
		}
	default:
		if err := json.Unmarshal(raw, &w); err != nil {
			return nil, fmt.Errorf("decoding composite response: %w", err)
		}
	}
	res := &CompositeResult{Compose: w.Compose}
	if w.Resolution != nil && *w.Resolution > 0 && *w.Resolution <= math.MaxInt32 {
		res.Resolution = int(*w.Resolution)
	}
	for _, list := range [][]compositeSeriesW{w.Measurements, w.Series} {
		for _, sw := range list {
			s, err := sw.series()
			if err != nil {
				return nil, err
			}
			res.Series = append(res.Series, s)
		}
	}
	return res, nil
}

func (sw *compositeSeriesW) series() (CompositeSeries, error) {
	s := CompositeSeries{Tags: sw.Tags, Points: sw.Series}
	if len(sw.Measurements) > 0 {
		s.Points = append(s.Points, sw.Measurements...)
	}
	if sw.Query != nil {
		s.Query = CompositeQuery(*sw.Query)
		s.Name = sw.Query.Metric
	}
	if name, ok := flexString(sw.Metric); ok {
		if name != "" {
			s.Name = name
		}
	} else if len(sw.Metric) > 0 {
		var m Metric
		if err := json.Unmarshal(sw.Metric, &m); err != nil {
			return s, fmt.Errorf("decoding composite series metric: %w", err)
		}
		s.Metric = &m
		if m.Name != "" {
			s.Name = m.Name
		}
	}
	if name, ok := flexString(sw.Source); ok {
		s.Source = name
	} else if len(sw.Source) > 0 {
		var src struct {
			Name string `json:"name"`
		}
		if err := json.Unmarshal(sw.Source, &src); err != nil {
			return s, fmt.Errorf("decoding composite series source: %w", err)
		}
		s.Source = src.Name
	}
	switch {
	case sw.Period != nil && *sw.Period > 0:
		s.Period = secondsDuration(*sw.Period)
	case s.Metric != nil:
		s.Period = s.Metric.Period
	}
	return s, nil
}
