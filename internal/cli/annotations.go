package cli

import (
	"cmp"
	"context"
	"flag"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-librato/librato"
)

// annotationsCommand is the annotations command (listed in the command table in cli.go): it
// reads annotations back; annotate posts them.
var annotationsCommand = &commandInfo{
	name:    "annotations",
	summary: "list annotation streams, show a stream's events",
	usage:   "annotations list [--name SUBSTR] [-o human|json|csv] | annotations show STREAM [--start T] [--end T] [--count N] [--source S ...] [-o ...]",
	help: `Reads annotations back:
  list   every annotation stream of the account (all pages)
  show   the events of one stream, by start time: from --start (default 7 days ago)
         to --end (default now), or the latest --count; --source keeps those of a
         source (wildcards allowed, repeatable)

Examples:
  librato annotations list
  librato annotations show deploys --start -30d
  librato annotations show ci --count 5 --source 'runner-*' -o json`,
	new: func() command { return &annotationsCmd{output: outputFlag()} },
}

type annotationsCmd struct {
	conn       connFlags
	name       string
	start, end timeFlag
	count      int
	sources    stringsFlag
	output     *choiceFlag

	action string
	stream string
}

func (c *annotationsCmd) flags(fs *flag.FlagSet) {
	c.conn.register(fs)
	fs.StringVar(&c.name, "name", "", "list: only streams whose name contains `SUBSTR`")
	fs.Var(&c.start, "start", "show: events starting at or after `time` (default 7 days ago)")
	fs.Var(&c.end, "end", "show: events starting at or before `time` (default now)")
	fs.IntVar(&c.count, "count", 0, "show: the latest `N` events instead of a time range")
	fs.Var(&c.sources, "source", "show: only events of `source` (wildcards allowed; repeatable)")
	registerOutput(fs, c.output, "output `format`: human, json or csv")
}

func (c *annotationsCmd) args(args []string) error {
	if len(args) == 0 {
		return usageErrorf("want list or show")
	}
	c.action = args[0]
	rest := args[1:]
	showFlags := c.start.isSet() || c.end.isSet() || c.count != 0 || len(c.sources) > 0
	switch c.action {
	case "list":
		if len(rest) > 0 {
			return usageErrorf("annotations list takes no arguments (use --name to filter)")
		}
		if showFlags {
			return usageErrorf("--start, --end, --count and --source are for annotations show")
		}
	case "show":
		if len(rest) != 1 {
			return usageErrorf("annotations show takes one STREAM name")
		}
		c.stream = rest[0]
		if c.name != "" {
			return usageErrorf("--name is for annotations list")
		}
		if c.count < 0 {
			return usageErrorf("--count must not be negative")
		}
		if c.count > 0 && c.start.isSet() {
			return usageErrorf("--count and --start are exclusive")
		}
	default:
		return usageErrorf("unknown annotations action %q: want list or show", c.action)
	}
	return nil
}

func (c *annotationsCmd) run(ctx context.Context, env *Env) error {
	cl, err := c.conn.connect(env)
	if err != nil {
		return err
	}
	if c.action == "list" {
		return c.list(ctx, env, cl)
	}
	return c.show(ctx, env, cl)
}

// streamRow is a stream as list prints it.
type streamRow struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
}

var streamRows = rowsFormat[streamRow]{
	noun:      "stream",
	csvHeader: []string{"name", "display_name"},
	csvRow:    func(r streamRow) []string { return []string{r.Name, r.DisplayName} },
	header:    []string{"NAME", "DISPLAY NAME"},
	row:       func(r streamRow) []string { return []string{r.Name, r.DisplayName} },
}

func (c *annotationsCmd) list(ctx context.Context, env *Env, cl *librato.Client) error {
	rows := []streamRow{}
	for s, err := range cl.Annotations.AllStreams(ctx, &librato.ListOptions{Name: c.name}) {
		if err != nil {
			return err
		}
		rows = append(rows, streamRow{Name: s.Name, DisplayName: s.DisplayName})
	}
	return writeRows(env.Stdout, c.output.value, rows, streamRows)
}

// eventRow is an event as show prints it.
type eventRow struct {
	ID          librato.ID        `json:"id"`
	Source      string            `json:"source,omitempty"`
	Title       string            `json:"title"`
	Description string            `json:"description,omitempty"`
	Start       time.Time         `json:"start_time"`
	End         *time.Time        `json:"end_time,omitempty"`
	Links       map[string]string `json:"links,omitempty"`
}

func (r eventRow) end() string {
	if r.End == nil {
		return ""
	}
	return formatTime(*r.End)
}

func (r eventRow) links() string {
	var parts []string
	for _, rel := range slices.Sorted(maps.Keys(r.Links)) {
		parts = append(parts, rel+"="+r.Links[rel])
	}
	return strings.Join(parts, " ")
}

var eventRows = rowsFormat[eventRow]{
	noun:      "event",
	csvHeader: []string{"id", "source", "start_time", "end_time", "title", "description", "links"},
	csvRow: func(r eventRow) []string {
		return []string{strconv.FormatInt(int64(r.ID), 10), r.Source, formatTime(r.Start), r.end(), r.Title, r.Description, r.links()}
	},
	header: []string{"ID", "START", "END", "SOURCE", "TITLE"},
	row: func(r eventRow) []string {
		return []string{strconv.FormatInt(int64(r.ID), 10), formatTime(r.Start), r.end(), r.Source, r.Title}
	},
}

func (c *annotationsCmd) show(ctx context.Context, env *Env, cl *librato.Client) error {
	now := env.now()
	q := &librato.AnnotationQuery{Count: c.count, Sources: c.sources}
	if c.count == 0 {
		start, err := c.start.resolve("start", now, now.Add(-7*24*time.Hour))
		if err != nil {
			return err
		}
		q.StartTime = start
	}
	end, err := c.end.resolve("end", now, time.Time{})
	if err != nil {
		return err
	}
	q.EndTime = end
	s, err := cl.Annotations.GetStream(ctx, c.stream, q)
	if err != nil {
		return err
	}
	rows := []eventRow{}
	for source, evs := range s.Events {
		for _, ev := range evs {
			r := eventRow{ID: ev.ID, Title: ev.Title, Description: ev.Description, Start: ev.StartTime.UTC()}
			if source != librato.UnassignedSource {
				r.Source = source
			}
			if !ev.EndTime.IsZero() {
				e := ev.EndTime.UTC()
				r.End = &e
			}
			for _, l := range ev.Links {
				if r.Links == nil {
					r.Links = map[string]string{}
				}
				r.Links[l.Rel] = l.Href
			}
			rows = append(rows, r)
		}
	}
	slices.SortFunc(rows, func(a, b eventRow) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return writeRows(env.Stdout, c.output.value, rows, eventRows)
}
