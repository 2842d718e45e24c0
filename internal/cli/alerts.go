package cli

import (
	"context"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/go-librato/librato"
)

// alertsCommand is the alerts command (listed in the command table in cli.go).
var alertsCommand = &commandInfo{
	name:    "alerts",
	summary: "list alerts, show their status, clear one",
	usage:   "alerts list [--name SUBSTR] [--output human|json|csv] | alerts status [ID] | alerts clear ID",
	help: `Works with the account's (v2) alerts:
  list     every alert with its conditions and whether it is firing (all pages)
  status   the firing and recently cleared alerts, or one alert's state with an ID
  clear    resolves a firing alert

Examples:
  librato alerts list
  librato alerts list --name api --output json
  librato alerts status
  librato alerts status 123
  librato alerts clear 123`,
	new: func() command { return &alertsCmd{output: outputFlag()} },
}

type alertsCmd struct {
	conn   connFlags
	name   string
	output *choiceFlag

	action string
	id     librato.ID
}

func (c *alertsCmd) flags(fs *flag.FlagSet) {
	c.conn.register(fs)
	fs.StringVar(&c.name, "name", "", "list: only alerts whose name contains `SUBSTR`")
	registerOutput(fs, c.output, "list: output `format`: human, json or csv")
}

func (c *alertsCmd) args(args []string) error {
	if len(args) == 0 {
		return usageErrorf("want list, status or clear")
	}
	c.action = args[0]
	rest := args[1:]
	switch c.action {
	case "list":
		if len(rest) > 0 {
			return usageErrorf("alerts list takes no arguments (use --name to filter)")
		}
		return nil
	case "status":
		if len(rest) > 1 {
			return usageErrorf("alerts status takes at most one ID")
		}
	case "clear":
		if len(rest) != 1 {
			return usageErrorf("alerts clear takes one alert ID")
		}
	default:
		return usageErrorf("unknown alerts action %q: want list, status or clear", c.action)
	}
	if c.name != "" {
		return usageErrorf("--name is for alerts list")
	}
	if len(rest) == 1 {
		id, err := strconv.Atoi(rest[0])
		if err != nil || id <= 0 {
			return usageErrorf("alert ID %q is not a positive number", rest[0])
		}
		c.id = librato.ID(id)
	}
	return nil
}

func (c *alertsCmd) run(ctx context.Context, env *Env) error {
	cl, err := c.conn.connect(env)
	if err != nil {
		return err
	}
	switch c.action {
	case "clear":
		if err := cl.Alerts.Clear(ctx, c.id); err != nil {
			return err
		}
		_, err := fmt.Fprintf(env.Stdout, "alert %d cleared\n", c.id)
		return err
	case "status":
		if c.id != 0 {
			st, err := cl.Alerts.Status(ctx, c.id)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(env.Stdout, "alert %d: %s\n", c.id, st)
			return err
		}
		return c.summary(ctx, env, cl)
	}
	return c.list(ctx, env, cl)
}

func (c *alertsCmd) summary(ctx context.Context, env *Env, cl *librato.Client) error {
	sum, err := cl.Alerts.Firing(ctx)
	if err != nil {
		return err
	}
	ew := &errWriter{w: env.Stdout}
	if len(sum.Firing) == 0 {
		ew.printf("no alert is firing\n")
	} else {
		ew.printf("firing:\n")
		for _, f := range sum.Firing {
			ew.printf("  %d  since %s\n", f.ID, formatTime(f.TriggeredAt))
		}
	}
	if len(sum.Cleared) > 0 {
		ew.printf("recently cleared:\n")
		for _, cl := range sum.Cleared {
			ew.printf("  %d  at %s\n", cl.ID, formatTime(cl.ClearedAt))
		}
	}
	return ew.err
}

// alertRow is an alert as list prints it.
type alertRow struct {
	ID          librato.ID `json:"id"`
	Name        string     `json:"name"`
	Description string     `json:"description"`
	Active      bool       `json:"active"`
	Firing      bool       `json:"firing"`
	Conditions  []string   `json:"conditions"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

func (c *alertsCmd) list(ctx context.Context, env *Env, cl *librato.Client) error {
	sum, err := cl.Alerts.Firing(ctx)
	if err != nil {
		return err
	}
	firing := map[librato.ID]bool{}
	for _, f := range sum.Firing {
		firing[f.ID] = true
	}
	rows := []alertRow{}
	for al, err := range cl.Alerts.All(ctx, &librato.AlertListOptions{ListOptions: librato.ListOptions{Name: c.name}}) {
		if err != nil {
			return err
		}
		r := alertRow{ID: al.ID, Name: al.Name, Description: al.Description, Active: !al.Disabled,
			Firing: firing[al.ID], Conditions: []string{}, UpdatedAt: al.UpdatedAt.UTC()}
		for _, cd := range al.Conditions {
			r.Conditions = append(r.Conditions, describeCondition(cd))
		}
		rows = append(rows, r)
	}
	return writeRows(env.Stdout, c.output.value, rows, alertRows)
}

var alertRows = rowsFormat[alertRow]{
	noun:      "alert",
	csvHeader: []string{"id", "name", "active", "firing", "conditions", "description"},
	csvRow: func(r alertRow) []string {
		return []string{strconv.FormatInt(int64(r.ID), 10), r.Name, strconv.FormatBool(r.Active), strconv.FormatBool(r.Firing),
			strings.Join(r.Conditions, "; "), r.Description}
	},
	header: []string{"ID", "NAME", "STATE", "CONDITIONS"},
	row: func(r alertRow) []string {
		state := "ok"
		switch {
		case r.Firing:
			state = "FIRING"
		case !r.Active:
			state = "inactive"
		}
		return []string{strconv.FormatInt(int64(r.ID), 10), r.Name, state, strings.Join(r.Conditions, "; ")}
	},
}

// describeCondition renders a condition for people: "api.latency above 200 (max, for 5m)".
func describeCondition(cd librato.Condition) string {
	var b strings.Builder
	b.WriteString(cd.MetricName)
	switch {
	case cd.Source != "":
		b.WriteString(" [" + cd.Source + "]")
	case len(cd.Tags) > 0:
		var ts []string
		for _, t := range cd.Tags {
			ts = append(ts, t.Name+"="+strings.Join(t.Values, "|"))
		}
		b.WriteString(" [" + strings.Join(ts, " ") + "]")
	}
	b.WriteString(" " + string(cd.Type))
	if cd.Type == librato.ConditionAbsent {
		fmt.Fprintf(&b, " for %s", shortDuration(cd.Duration))
		return b.String()
	}
	b.WriteString(" " + strconv.FormatFloat(cd.Threshold, 'f', -1, 64))
	var extra []string
	if cd.SummaryFunction != "" {
		extra = append(extra, cd.SummaryFunction)
	}
	if cd.Duration > 0 {
		extra = append(extra, "for "+shortDuration(cd.Duration))
	}
	if len(extra) > 0 {
		b.WriteString(" (" + strings.Join(extra, ", ") + ")")
	}
	return b.String()
}

// shortDuration prints 5m0s as 5m and 1h0m0s as 1h.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// formatTime prints a time in RFC 3339 UTC, "-" for the zero time.
func formatTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
