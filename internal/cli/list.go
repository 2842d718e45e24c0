package cli

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/go-librato/librato"
)

func init() {
	register(&commandInfo{
		name:    "list",
		summary: "list metrics (every page)",
		usage:   "list [--name SUBSTR] [--output human|json|csv]",
		help: `Lists the account's metrics, following every page of the API's list.

Examples:
  librato list
  librato list --name cpu
  librato list --output json`,
		new: func() command { return &listCmd{output: outputFlag()} },
	})
}

type listCmd struct {
	conn   connFlags
	name   string
	output *choiceFlag
}

func (c *listCmd) flags(fs *flag.FlagSet) {
	c.conn.register(fs)
	fs.StringVar(&c.name, "name", "", "only metrics whose name contains `SUBSTR` (case-insensitive)")
	fs.Var(c.output, "output", "output `format`: human, json or csv")
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
	for m, err := range cl.Metrics(ctx, &librato.ListOptions{Name: c.name}) {
		if err != nil {
			return err
		}
		ms = append(ms, m)
	}
	switch c.output.value {
	case "json":
		if ms == nil {
			ms = []librato.Metric{}
		}
		return writeJSON(env.Stdout, ms)
	case "csv":
		cw := csv.NewWriter(env.Stdout)
		_ = cw.Write([]string{"name", "type", "period", "display_name", "description"})
		for _, m := range ms {
			_ = cw.Write([]string{m.Name, m.Type, periodString(m.Period), m.DisplayName, m.Description})
		}
		cw.Flush()
		return cw.Error()
	}
	if len(ms) == 0 {
		_, err := fmt.Fprintln(env.Stdout, "no metrics")
		return err
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTYPE\tPERIOD\tDESCRIPTION")
	for _, m := range ms {
		p := periodString(m.Period)
		if p == "" {
			p = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", m.Name, m.Type, p, m.Description)
	}
	fmt.Fprintf(tw, "\n%s\n", plural(len(ms), "metric"))
	return tw.Flush()
}

// periodString prints a metric period in seconds, "" when unset.
func periodString(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return strconv.FormatInt(int64(d/time.Second), 10)
}
