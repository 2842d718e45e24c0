package cli

import (
	"context"
	"flag"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/go-librato/librato"
)

// submitCommand is the submit command (listed in the command table in cli.go).
var submitCommand = &commandInfo{
	name:    "submit",
	summary: "send one measurement",
	usage:   "submit NAME VALUE [--counter] [--source S] [--tag k=v ...] [--time T]",
	help: `Sends one measurement. With --tag (or on AppOptics) it goes to the tagged API,
otherwise to the legacy source-based API, as a gauge unless --counter is given.

Examples:
  librato submit app.requests 42
  librato submit disk.free 12.5 --source web1
  librato submit api.latency 87 --tag region=eu --tag host=web1 --time "5 minutes ago"
  librato submit jobs.done 1200 --counter`,
	new: func() command { return &submitCmd{} },
}

type submitCmd struct {
	conn    connFlags
	counter bool
	source  string
	tags    tagsFlag
	at      timeFlag

	name  string
	value float64
}

func (c *submitCmd) flags(fs *flag.FlagSet) {
	c.conn.register(fs)
	fs.BoolVar(&c.counter, "counter", false, "send a counter (legacy accounts) instead of a gauge")
	fs.StringVar(&c.source, "source", "", "legacy `source` of the measurement")
	fs.Var(&c.tags, "tag", "tag `k=v` of the measurement (repeatable); tagged API")
	fs.Var(&c.at, "time", "measurement `time` (Unix seconds, RFC 3339, -5m, '5 minutes ago'; default now)")
}

func (c *submitCmd) args(args []string) error {
	if len(args) != 2 {
		return usageErrorf("want NAME and VALUE, got %d arguments", len(args))
	}
	v, err := strconv.ParseFloat(args[1], 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return usageErrorf("VALUE %q is not a finite number", args[1])
	}
	if c.counter && len(c.tags) > 0 {
		return usageErrorf("--counter cannot be combined with --tag: the tagged API has gauges only")
	}
	c.name, c.value = args[0], v
	return nil
}

func (c *submitCmd) run(ctx context.Context, env *Env) error {
	now := env.now()
	at, err := c.at.resolve("time", now, now) // stamped here rather than by the client: one clock for the whole command
	if err != nil {
		return err
	}
	cl, err := c.conn.connect(env)
	if err != nil {
		return err
	}
	m := librato.Measurement{Name: c.name, Value: c.value, Source: c.source, Tags: c.tags, Time: at}
	if c.counter {
		m.Type = librato.Counter
	}
	if err := cl.Submit(ctx, m); err != nil {
		return err
	}
	desc := m.Type.String()
	switch {
	case len(c.tags) > 0:
		desc += ", tags " + formatTags(c.tags, " ")
	case c.source != "":
		desc += ", source " + c.source
	}
	_, err = fmt.Fprintf(env.Stdout, "submitted %s = %s (%s) at %s\n", c.name, humanNumber(c.value), desc, at.UTC().Format(time.RFC3339))
	return err
}
