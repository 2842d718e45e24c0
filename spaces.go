package librato

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"strconv"
)

// SpacesService manages spaces and their charts (/v1/spaces).
type SpacesService service

// Space is a dashboard: a named set of charts.
type Space struct {
	ID   ID     `json:"id,omitempty"`
	Name string `json:"name"`
	// Charts lists the space's charts as GetSpace returns them: IDs only. Use Charts to fetch them whole.
	Charts []Chart `json:"charts,omitempty"`
}

// Chart types.
const (
	ChartLine      = "line"
	ChartStacked   = "stacked"
	ChartBigNumber = "bignumber"
)

// Chart is one chart of a space.
type Chart struct {
	ID           ID          `json:"id,omitempty"`
	Name         string      `json:"name,omitempty"`
	Type         string      `json:"type,omitempty"` // ChartLine (default), ChartStacked or ChartBigNumber
	Streams      []Stream    `json:"streams,omitempty"`
	Min          *float64    `json:"min,omitempty"`
	Max          *float64    `json:"max,omitempty"`
	Label        string      `json:"label,omitempty"`
	RelatedSpace ID          `json:"related_space,omitempty"`
	Thresholds   []Threshold `json:"thresholds,omitempty"` // big numbers: when to turn red or yellow
	UseLogYAxis  bool        `json:"use_log_yaxis,omitempty"`
	UseLastValue bool        `json:"use_last_value,omitempty"`
}

// Threshold colours a big-number chart: Operator is ">", "<" or "="; Type is "red" or "yellow".
type Threshold struct {
	Operator string  `json:"operator"`
	Value    float64 `json:"value"`
	Type     string  `json:"type"`
}

// Stream is one line (or number) of a chart: a metric with a source or tag selection, or a composite
// expression.
type Stream struct {
	Metric             string      `json:"metric,omitempty"`
	Tags               []StreamTag `json:"tags,omitempty"`
	Source             string      `json:"source,omitempty"`    // legacy accounts
	Composite          string      `json:"composite,omitempty"` // excludes Metric, Tags and GroupFunction
	GroupFunction      string      `json:"group_function,omitempty"`
	SummaryFunction    string      `json:"summary_function,omitempty"`
	DownsampleFunction string      `json:"downsample_function,omitempty"`
	TransformFunction  string      `json:"transform_function,omitempty"`
	Color              string      `json:"color,omitempty"`
	Name               string      `json:"name,omitempty"`
	UnitsShort         string      `json:"units_short,omitempty"`
	UnitsLong          string      `json:"units_long,omitempty"`
	Min                *float64    `json:"min,omitempty"`
	Max                *float64    `json:"max,omitempty"`
	Period             int         `json:"period,omitempty"`
	SplitAxis          bool        `json:"split_axis,omitempty"`
	GapDetection       *bool       `json:"gap_detection,omitempty"`
	Position           int         `json:"position,omitempty"`
}

// StreamTag selects series of a tagged metric: values may use * wildcards.
type StreamTag struct {
	Name    string   `json:"name"`
	Values  []string `json:"values,omitempty"`
	Grouped bool     `json:"grouped,omitempty"`
	Dynamic bool     `json:"dynamic,omitempty"`
}

// Validate checks a chart before it is sent: a known type, thresholds a big number needs, and
// streams that name a metric or a composite but not both.
func (ch *Chart) Validate() error {
	var errs []error
	switch ch.Type {
	case "", ChartLine, ChartStacked:
	case ChartBigNumber:
		if len(ch.Thresholds) == 0 {
			errs = append(errs, errors.New("a bignumber chart needs thresholds"))
		}
	default:
		errs = append(errs, fmt.Errorf("type %q is not line, stacked or bignumber", ch.Type))
	}
	for i, th := range ch.Thresholds {
		if th.Operator != ">" && th.Operator != "<" && th.Operator != "=" {
			errs = append(errs, fmt.Errorf("threshold %d: operator %q is not >, < or =", i, th.Operator))
		}
		if th.Type != "red" && th.Type != "yellow" {
			errs = append(errs, fmt.Errorf("threshold %d: type %q is not red or yellow", i, th.Type))
		}
	}
	if len(ch.Streams) == 0 {
		errs = append(errs, errors.New("a chart needs at least one stream"))
	}
	for i, st := range ch.Streams {
		switch {
		case st.Composite != "" && (st.Metric != "" || len(st.Tags) > 0 || st.GroupFunction != ""):
			errs = append(errs, fmt.Errorf("stream %d: composite excludes metric, tags and group_function", i))
		case st.Composite == "" && st.Metric == "":
			errs = append(errs, fmt.Errorf("stream %d: needs a metric or a composite", i))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("librato: invalid chart %q: %w", ch.Name, err)
	}
	return nil
}

func spacePath(id ID, rest ...string) string {
	return escapePath(append([]string{"spaces", strconv.FormatInt(int64(id), 10)}, rest...)...)
}

// List returns one page of spaces (orderby: name).
func (svc *SpacesService) List(ctx context.Context, opts *ListOptions) (*Page[Space], error) {
	c := svc.client
	return listPage[Space](ctx, c, "spaces", "spaces", opts, nil)
}

// All iterates over every space, page after page.
func (svc *SpacesService) All(ctx context.Context, opts *ListOptions) iter.Seq2[*Space, error] {
	c := svc.client
	return listAll[Space](ctx, c, "spaces", "spaces", opts, nil)
}

// Get fetches a space with the IDs of its charts.
func (svc *SpacesService) Get(ctx context.Context, id ID) (*Space, error) {
	c := svc.client
	return fetch[Space](ctx, c, http.MethodGet, spacePath(id), nil, nil)
}

// Create creates an empty space.
func (svc *SpacesService) Create(ctx context.Context, name string) (*Space, error) {
	c := svc.client
	if name == "" {
		return nil, errors.New("librato: space create: empty name")
	}
	return fetch[Space](ctx, c, http.MethodPost, "spaces", nil, Space{Name: name})
}

// Update changes a space's name.
func (svc *SpacesService) Update(ctx context.Context, id ID, name string) error {
	c := svc.client
	if name == "" {
		return errors.New("librato: space update: empty name")
	}
	_, err := c.do(ctx, http.MethodPut, spacePath(id), nil, Space{Name: name}, nil)
	return err
}

// Delete deletes a space and its charts.
func (svc *SpacesService) Delete(ctx context.Context, id ID) error {
	c := svc.client
	_, err := c.do(ctx, http.MethodDelete, spacePath(id), nil, nil, nil)
	return err
}

// ListCharts returns the charts of a space (GET /v1/spaces/:id/charts). The API answers with one
// bare array, so the page holds them all: Found is their number and Next is empty.
func (svc *SpacesService) ListCharts(ctx context.Context, spaceID ID) (*Page[Chart], error) {
	c := svc.client
	var charts []Chart
	if _, err := c.do(ctx, http.MethodGet, spacePath(spaceID, "charts"), nil, nil, &charts); err != nil {
		return nil, err
	}
	return &Page[Chart]{Items: charts, Found: len(charts)}, nil
}

// GetChart fetches one chart of a space.
func (svc *SpacesService) GetChart(ctx context.Context, spaceID, chartID ID) (*Chart, error) {
	c := svc.client
	return fetch[Chart](ctx, c, http.MethodGet, spacePath(spaceID, "charts", strconv.FormatInt(int64(chartID), 10)), nil, nil)
}

// CreateChart validates ch and adds it to a space; it returns the chart as stored, with its ID.
func (svc *SpacesService) CreateChart(ctx context.Context, spaceID ID, ch Chart) (*Chart, error) {
	c := svc.client
	if err := ch.Validate(); err != nil {
		return nil, err
	}
	ch.ID = 0
	return fetch[Chart](ctx, c, http.MethodPost, spacePath(spaceID, "charts"), nil, ch)
}

// UpdateChart validates ch and replaces the chart ch.ID of a space with it.
func (svc *SpacesService) UpdateChart(ctx context.Context, spaceID ID, ch Chart) (*Chart, error) {
	c := svc.client
	if ch.ID == 0 {
		return nil, errors.New("librato: chart update: the chart has no ID")
	}
	if err := ch.Validate(); err != nil {
		return nil, err
	}
	out := ch
	if _, err := c.do(ctx, http.MethodPut, spacePath(spaceID, "charts", strconv.FormatInt(int64(ch.ID), 10)), nil, ch, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteChart removes a chart from a space.
func (svc *SpacesService) DeleteChart(ctx context.Context, spaceID, chartID ID) error {
	c := svc.client
	_, err := c.do(ctx, http.MethodDelete, spacePath(spaceID, "charts", strconv.FormatInt(int64(chartID), 10)), nil, nil, nil)
	return err
}
