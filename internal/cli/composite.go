package cli

import (
	"context"
	"flag"
	"time"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/composite"
)

// compositeCommand is the composite command (listed in the command table in cli.go).
var compositeCommand = &commandInfo{
	name:    "composite",
	summary: "evaluate a composite metric expression",
	usage:   "composite EXPR [--start T] [--end T] [--resolution N] [--tagged] [--output human|json|csv]",
	help: `Evaluates a composite expression over a time range (default: the last 24 hours) and
prints each resulting series like 'librato get'. The expression is checked before it
is sent; a syntax error shows where it is. Expressions with a tag selector ({...})
go to the tagged API, others to the legacy one unless --tagged is given.

Examples:
  librato composite 'sum(s("cpu.load", "*"))'
  librato composite 'mean(s("api.latency", {"region": "eu"}))' --start -6h --resolution 300
  librato composite 'divide([s("errors", "*"), s("requests", "*")])' --output csv`,
	new: func() command { return &compositeCmd{output: outputFlag()} },
}

type compositeCmd struct {
	conn connFlags
	rangeFlags
	tagged bool
	output *choiceFlag

	expr composite.Expr
}

func (c *compositeCmd) flags(fs *flag.FlagSet) {
	c.conn.register(fs)
	c.rangeFlags.register(fs)
	fs.BoolVar(&c.tagged, "tagged", false, "use the tagged API even without a tag selector")
	registerOutput(fs, c.output, "output `format`: human, json or csv")
}

func (c *compositeCmd) args(args []string) error {
	if len(args) != 1 {
		return usageErrorf("want one EXPR (quote it), got %d arguments", len(args))
	}
	if err := c.rangeFlags.check(); err != nil {
		return err
	}
	expr, err := composite.Parse(args[0])
	if err != nil {
		return usageErrorf("%v", err)
	}
	c.expr = expr
	return nil
}

// compositeResult is the JSON output of composite.
type compositeResult struct {
	Compose    string    `json:"compose"`
	Resolution int       `json:"resolution"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	Series     []series  `json:"series"`
}

func (c *compositeCmd) run(ctx context.Context, env *Env) error {
	from, to, err := c.timeRange(env)
	if err != nil {
		return err
	}
	cl, err := c.conn.connect(env)
	if err != nil {
		return err
	}
	res, err := cl.Measurements.Query(ctx, c.expr, &librato.CompositeOptions{
		StartTime: from, EndTime: to, Resolution: c.resolution, Tagged: c.tagged || hasTags(c.expr),
	})
	if err != nil {
		return err
	}
	out := compositeResult{Compose: c.expr.String(), Resolution: res.Resolution, Start: from.UTC(), End: to.UTC(), Series: compositeSeries(res)}
	if out.Resolution == 0 {
		out.Resolution = c.resolution
	}
	return writeRead(env.Stdout, c.output.value, out, out.Compose, out.Start, out.End, out.Resolution, out.Series)
}

// compositeSeries converts a composite result for printing.
func compositeSeries(res *librato.CompositeResult) []series {
	out := []series{}
	for _, s := range res.Series {
		ser := series{Name: s.Name, Source: s.Source, Tags: s.Tags, Points: toPoints(s.Points)}
		if s.Source == "" && len(s.Tags) == 0 {
			ser.title = "result"
			if s.Name != "" {
				ser.title = s.Name
			}
		}
		out = append(out, ser)
	}
	return out
}

// evalComposite evaluates a persisted composite's expression (as the API stores it) over a range.
func evalComposite(ctx context.Context, cl *librato.Client, text string, from, to time.Time, resolution int, tagged bool) ([]series, error) {
	expr, err := composite.Parse(text)
	if err != nil {
		expr = composite.Raw(text) // the API is the judge of what it stored
	}
	res, err := cl.Measurements.Query(ctx, expr, &librato.CompositeOptions{
		StartTime: from, EndTime: to, Resolution: resolution, Tagged: tagged || hasTags(expr),
	})
	if err != nil {
		return nil, err
	}
	return compositeSeries(res), nil
}

// hasTags reports whether an expression selects series by tags anywhere.
func hasTags(e composite.Expr) bool {
	switch v := e.(type) {
	case composite.Tags:
		return true
	case composite.Call:
		for _, a := range v.Args {
			if hasTags(a) {
				return true
			}
		}
	case composite.Set:
		for _, a := range v {
			if hasTags(a) {
				return true
			}
		}
	case composite.Opts:
		for _, o := range v {
			if hasTags(o.Value) {
				return true
			}
		}
	}
	return false
}
