package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-librato/librato"
)

// deleteCommand is the delete command (listed in the command table in cli.go).
var deleteCommand = &commandInfo{
	name:    "delete",
	summary: "delete metrics by name or pattern",
	usage:   "delete NAME... | delete --pattern GLOB [--yes]",
	help: `Deletes metrics and all their measurements. With --pattern, "*" matches any run of
characters; the matching metrics are listed and you are asked to confirm (reading
the answer from standard input) unless --yes is given.

Examples:
  librato delete app.requests app.errors
  librato delete --pattern 'test.*'
  librato delete --pattern 'tmp.*' --yes`,
	new: func() command { return &deleteCmd{} },
}

type deleteCmd struct {
	conn    connFlags
	pattern string
	yes     bool

	names []string
}

func (c *deleteCmd) flags(fs *flag.FlagSet) {
	c.conn.register(fs)
	fs.StringVar(&c.pattern, "pattern", "", "delete every metric matching `GLOB` (* wildcards)")
	fs.BoolVar(&c.yes, "yes", false, "do not ask before a pattern delete")
}

func (c *deleteCmd) args(args []string) error {
	switch {
	case c.pattern == "" && len(args) == 0:
		return usageErrorf("give metric NAMEs or --pattern")
	case c.pattern != "" && len(args) > 0:
		return usageErrorf("give metric NAMEs or --pattern, not both")
	case c.pattern != "":
		if err := librato.ValidateMetricPattern(c.pattern); err != nil {
			return usageErrorf("--pattern: %v", err)
		}
	}
	c.names = args
	return nil
}

// maxListed caps the names shown before a pattern delete.
const maxListed = 20

func (c *deleteCmd) run(ctx context.Context, env *Env) error {
	cl, err := c.conn.connect(env)
	if err != nil {
		return err
	}
	if c.pattern == "" {
		// The API deletes a metric that does not exist without a word; say so instead.
		var present, missing []string
		for _, name := range c.names {
			_, err := cl.Metrics.Get(ctx, name, nil)
			switch {
			case errors.Is(err, librato.ErrNotFound):
				missing = append(missing, name)
			case err != nil:
				return err
			default:
				present = append(present, name)
			}
		}
		if len(present) > 0 {
			if err := cl.Metrics.Delete(ctx, present...); err != nil {
				return err
			}
			if _, err := fmt.Fprintf(env.Stdout, "deleted %s: %s\n", plural(len(present), "metric"), strings.Join(present, ", ")); err != nil {
				return err
			}
		}
		if len(missing) > 0 {
			noun := "metric"
			if len(missing) > 1 {
				noun = "metrics"
			}
			return fmt.Errorf("no %s named %s: nothing to delete", noun, quoteAll(missing))
		}
		return nil
	}

	// Show what the pattern matches now, so the question is an informed one.
	re := globRegexp(c.pattern)
	var matched []string
	for m, err := range cl.Metrics.All(ctx, nil) {
		if err != nil {
			return err
		}
		if re.MatchString(m.Name) {
			matched = append(matched, m.Name)
		}
	}
	if len(matched) == 0 {
		_, err := fmt.Fprintf(env.Stdout, "no metric matches %q: nothing deleted\n", c.pattern)
		return err
	}
	if !c.yes {
		fmt.Fprintf(env.Stderr, "%s matching %q:\n", plural(len(matched), "metric"), c.pattern)
		for i, n := range matched {
			if i == maxListed {
				fmt.Fprintf(env.Stderr, "  ... and %d more\n", len(matched)-maxListed)
				break
			}
			fmt.Fprintf(env.Stderr, "  %s\n", n)
		}
		fmt.Fprintf(env.Stderr, "Delete them and all their measurements? [y/N] ")
		if !confirmed(env) {
			fmt.Fprintln(env.Stderr)
			return &exitError{code: ExitError, msg: "not confirmed: nothing deleted"}
		}
	}
	if err := cl.Metrics.DeletePattern(ctx, c.pattern, nil); err != nil {
		return err
	}
	_, err = fmt.Fprintf(env.Stdout, "deleted %s matching %q\n", plural(len(matched), "metric"), c.pattern)
	return err
}

// quoteAll quotes each name and joins them with commas.
func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = strconv.Quote(n)
	}
	return strings.Join(q, ", ")
}

// confirmed reads one line from stdin and reports whether it says yes.
func confirmed(env *Env) bool {
	if env.Stdin == nil {
		return false
	}
	line, _ := bufio.NewReader(env.Stdin).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}

// globRegexp turns a metric pattern ("*" wildcards) into a case-insensitive whole-name regexp,
// as the API matches names.
func globRegexp(glob string) *regexp.Regexp {
	parts := strings.Split(glob, "*")
	for i, p := range parts {
		parts[i] = regexp.QuoteMeta(p)
	}
	return regexp.MustCompile("(?i)^" + strings.Join(parts, ".*") + "$")
}
