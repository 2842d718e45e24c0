package cli

import (
	"context"
	"flag"
	"strconv"
	"time"

	"github.com/go-librato/librato"
)

// listCommand is the list command (listed in the command table in cli.go).
var listCommand = &commandInfo{
	name:    "list",
	summary: "list metrics (every page)",
	usage:   "list [--name SUBSTR] [--output human|json|csv]",
	help: `Lists the account's metrics, following every page of the API's list.

Examples:
  librato list
  librato list --name cpu
  librato list --output json`,
	new: func() command { return &listCmd{output: outputFlag()} },
}

type listCmd struct {
	conn   connFlags
	name   string
	output *choiceFlag
}

func (c *listCmd) flags(fs *flag.FlagSet) {
	c.conn.register(fs)
	fs.StringVar(&c.name, "name", "", "only metrics whose name contains `SUBSTR` (case-insensitive)")
	registerOutput(fs, c.output, "output `format`: human, json or csv")
}

func (c *listCmd) args(args []string) error {
	if len(args) > 0 {
		return usageErrorf("list takes no arguments (use --name to filter)")
	}
	return nil
}

func (c *listCmd) run(ctx context.Context, env *Env) error {
	cl, err := c.conn.connect(env)
	if err != nil {
		return err
	}
	var ms []librato.Metric
	for m, err := range cl.Metrics.All(ctx, &librato.ListOptions{Name: c.name}) {
		if err != nil {
			return err
		}
		ms = append(ms, *m)
	}
	return writeRows(env.Stdout, c.output.value, ms, metricRows)
}

var metricRows = rowsFormat[librato.Metric]{
	noun:      "metric",
	csvHeader: []string{"name", "type", "period", "display_name", "description"},
	csvRow: func(m librato.Metric) []string {
		return []string{m.Name, m.Type, periodString(m.Period), m.DisplayName, m.Description}
	},
	header: []string{"NAME", "TYPE", "PERIOD", "DESCRIPTION"},
	row: func(m librato.Metric) []string {
		p := periodString(m.Period)
		if p == "" {
			p = "-"
		}
		return []string{m.Name, m.Type, p, m.Description}
	},
}

// periodString prints a metric period in seconds, "" when unset.
func periodString(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return strconv.FormatInt(int64(d/time.Second), 10)
}
