package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/go-librato/librato"
)

// getCommand is the get command (listed in the command table in cli.go).
var getCommand = &commandInfo{
	name:    "get",
	summary: "read a metric's measurements, with a terminal chart",
	usage:   "get NAME [--start T] [--end T] [--resolution N] [--source S] [--tag k=v ...] [--output human|json|csv]",
	help: `Reads a metric's measurements over a time range (default: the last 24 hours) and prints
each series as a sparkline with its min, max, mean and last value, then the points.
With --tag (or --tagged, or on AppOptics) it reads tagged series; otherwise legacy
source series, falling back to tagged series when the metric has no legacy data.

Times: Unix seconds, RFC 3339, 2006-01-02, -24h, "2h ago", "yesterday", "January 1".

Examples:
  librato get app.requests
  librato get disk.free --source web1 --start yesterday --resolution 300
  librato get api.latency --tag region=eu --start -6h --output csv`,
	new: func() command { return &getCmd{output: outputFlag()} },
}

type getCmd struct {
	conn connFlags
	rangeFlags
	source string
	tags   tagsFlag
	tagged bool
	output *choiceFlag

	name string
}

func (c *getCmd) flags(fs *flag.FlagSet) {
	c.conn.register(fs)
	c.rangeFlags.register(fs)
	fs.StringVar(&c.source, "source", "", "legacy `source` name or pattern (web*)")
	fs.Var(&c.tags, "tag", "tag filter `k=v` (repeatable, * wildcards); reads tagged series")
	fs.BoolVar(&c.tagged, "tagged", false, "read tagged series even without --tag")
	registerOutput(fs, c.output, "output `format`: human, json or csv")
}

func (c *getCmd) args(args []string) error {
	if len(args) != 1 {
		return usageErrorf("want one metric NAME, got %d arguments", len(args))
	}
	if err := c.rangeFlags.check(); err != nil {
		return err
	}
	if c.source != "" && (len(c.tags) > 0 || c.tagged) {
		return usageErrorf("--source reads legacy series; it cannot be combined with --tag or --tagged")
	}
	c.name = args[0]
	return nil
}

// getResult is the JSON output of get.
type getResult struct {
	Name       string    `json:"name"`
	Type       string    `json:"type"`
	Resolution int       `json:"resolution"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	Series     []series  `json:"series"`
}

func (c *getCmd) run(ctx context.Context, env *Env) error {
	from, to, err := c.timeRange(env)
	if err != nil {
		return err
	}
	cl, err := c.conn.connect(env)
	if err != nil {
		return err
	}
	meta, err := cl.Metrics.Get(ctx, c.name, nil)
	if errors.Is(err, librato.ErrNotFound) {
		return fmt.Errorf("no metric named %q (%w)", c.name, err)
	}
	if err != nil {
		return err
	}
	res := getResult{Name: meta.Name, Type: meta.Type, Resolution: c.resolution, Start: from.UTC(), End: to.UTC()}
	tagged := c.tagged || len(c.tags) > 0 || c.conn.isAppOptics
	if meta.Type == "composite" && meta.Composite != "" {
		// A persisted composite has no data of its own: evaluate its expression.
		res.Series, err = evalComposite(ctx, cl, meta.Composite, from, to, c.resolution, tagged)
		if err != nil {
			return err
		}
		tagged = false
	} else if !tagged {
		res.Series, err = readLegacy(ctx, cl, meta.Name, &librato.GetOptions{StartTime: from, EndTime: to, Resolution: c.resolution, Source: c.source}, nil)
		if err != nil && !(c.source == "" && errors.Is(err, librato.ErrBadRequest)) {
			return err
		}
		// No legacy data (or a legacy read refused, as for a tagged-only metric): try the tagged API.
		tagged = len(res.Series) == 0 && c.source == ""
	}
	if tagged && res.Series == nil {
		res.Series, err = readTagged(ctx, cl, meta.Name, &librato.MeasurementsOptions{StartTime: from, EndTime: to, Resolution: c.resolution, Tags: c.tags})
		if err != nil {
			return err
		}
	}
	what := fmt.Sprintf("%s (%s)", res.Name, res.Type)
	return writeRead(env.Stdout, c.output.value, res, what, res.Start, res.End, res.Resolution, res.Series)
}

// writeRead prints what get or composite read in format: result (the command's whole result) as
// JSON, the series as CSV, or sparklines under a title naming what was read and the range.
func writeRead(w io.Writer, format string, result any, what string, start, end time.Time, resolution int, ss []series) error {
	switch format {
	case "json":
		return writeJSON(w, result)
	case "csv":
		return writeSeriesCSV(w, ss, true)
	}
	title := fmt.Sprintf("%s, %s to %s, resolution %ds", what,
		start.Format(time.RFC3339), end.Format(time.RFC3339), resolution)
	return writeSeriesHuman(w, title, ss)
}

// readLegacy reads every point of a legacy metric in the range, one series per source, following
// the API's next_time paging. each, when not nil, runs after every point read; an error it
// returns ends the read (export waits out the rate limit there).
func readLegacy(ctx context.Context, cl *librato.Client, name string, opts *librato.GetOptions, each func() error) ([]series, error) {
	var out []series
	index := map[string]int{}
	for p, err := range cl.Metrics.Points(ctx, name, opts) {
		if err != nil {
			return nil, err
		}
		i, ok := index[p.Source]
		if !ok {
			i = len(out)
			index[p.Source] = i
			src := p.Source
			if src == librato.UnassignedSource {
				src = ""
			}
			out = append(out, series{Name: name, Source: src})
		}
		out[i].Points = append(out[i].Points, toPoints([]librato.Point{p.Point})...)
		if each != nil {
			if err := each(); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// readTagged reads every tagged series of a metric in the range, all pages joined per tag set.
func readTagged(ctx context.Context, cl *librato.Client, name string, opts *librato.MeasurementsOptions) ([]series, error) {
	ts, err := cl.Measurements.Get(ctx, name, opts)
	if err != nil {
		return nil, err
	}
	out := make([]series, 0, len(ts))
	for _, s := range ts {
		out = append(out, series{Name: name, Tags: s.Tags, Points: toPoints(s.Points)})
	}
	return out, nil
}
