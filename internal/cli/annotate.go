package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/go-librato/librato"
)

// annotateCommand is the annotate command (listed in the command table in cli.go).
var annotateCommand = &commandInfo{
	name:    "annotate",
	summary: "post an annotation, or wrap a command (a build, a deploy) in one",
	usage:   "annotate STREAM --title T [--description D] [--source S] [--link rel=href ...] [--start T] [--end T] [-- COMMAND ARGS...]",
	help: `Posts an event to an annotation stream (created on first use).

With "-- COMMAND ARGS..." it runs the command, with this command's standard input and
output, and records it as an event from its start to its end; if the command fails,
"failed: ..." is added to the description. The exit status is the command's (127 if
it cannot be started, 128+N if killed by signal N): one line in a CI pipeline. The
command starts at once and always runs, whatever the API does; an event that could
not be posted is reported on stderr as "not recorded", with the reason. SIGINT and
SIGTERM are passed on to the command. Only what follows "--" is a command: any other
argument after STREAM is an error (quote a --description of several words).

Examples:
  librato annotate deploys --title "v1.2.3" --link github=https://github.com/o/r/releases/v1.2.3
  librato annotate incidents --title "db failover" --start "10:05" --end now --source db1
  librato annotate ci --title "build $BUILD_ID" --source "$RUNNER" -- make test`,
	new: func() command { return &annotateCmd{} },
}

type annotateCmd struct {
	conn        connFlags
	title       string
	description string
	source      string
	links       stringsFlag
	start, end  timeFlag

	stream  string
	command []string
}

func (c *annotateCmd) flags(fs *flag.FlagSet) {
	c.conn.register(fs)
	fs.StringVar(&c.title, "title", "", "event `title` (required)")
	fs.StringVar(&c.description, "description", "", "event `description`")
	fs.StringVar(&c.source, "source", "", "`source` of the event (a host, a runner)")
	fs.Var(&c.links, "link", "link `rel=href` (repeatable)")
	fs.Var(&c.start, "start", "start `time` (default now)")
	fs.Var(&c.end, "end", "end `time` (default none)")
}

func (c *annotateCmd) setCommand(argv []string, dashed bool) error {
	if dashed && len(argv) == 0 {
		return usageErrorf(`want a COMMAND after "--"`)
	}
	c.command = argv
	return nil
}

func (c *annotateCmd) args(args []string) error {
	if len(args) == 0 {
		return usageErrorf("want a STREAM name")
	}
	if len(args) > 1 {
		return usageErrorf(`unexpected argument %q after STREAM %q: quote a value of several words, and put a command to wrap after "--"`, args[1], args[0])
	}
	if c.title == "" {
		return usageErrorf("--title is required")
	}
	c.stream = args[0]
	if len(c.command) > 0 && (c.start.isSet() || c.end.isSet()) {
		return usageErrorf("--start and --end are taken from the COMMAND's run; drop them or the command")
	}
	for _, l := range c.links {
		if _, err := parseLink(l); err != nil {
			return usageErrorf("--link: %v", err)
		}
	}
	return nil
}

func parseLink(s string) (librato.Link, error) {
	rel, href, ok := strings.Cut(s, "=")
	if !ok || rel == "" || href == "" {
		return librato.Link{}, fmt.Errorf("%q is not rel=href", s)
	}
	return librato.Link{Rel: rel, Href: href}, nil
}

func (c *annotateCmd) run(ctx context.Context, env *Env) error {
	now := env.now()
	start, err := c.start.resolve("start", now, now)
	if err != nil {
		return err
	}
	end, err := c.end.resolve("end", now, time.Time{})
	if err != nil {
		return err
	}
	a := librato.Annotation{Title: c.title, Description: c.description, Source: c.source, StartTime: start, EndTime: end}
	for _, l := range c.links {
		link, _ := parseLink(l) // checked in args
		a.Links = append(a.Links, link)
	}
	cl, err := c.conn.connect(env)
	if err != nil {
		return err
	}
	if len(c.command) == 0 {
		ev, err := cl.Annotations.Create(ctx, c.stream, a)
		if err != nil {
			return err
		}
		_, err = fmt.Fprintf(env.Stdout, "annotation %d posted to %s: %s\n", ev.ID, c.stream, ev.Title)
		return err
	}

	var failure *commandFailure
	var took time.Duration
	err = cl.Annotations.Record(ctx, c.stream, a, func(ctx context.Context) error {
		began := time.Now()
		failure = c.runCommand(ctx, env)
		took = time.Since(began).Round(time.Millisecond) // the command's own run time
		if failure == nil {
			return nil // a nil *commandFailure must not become a non-nil error
		}
		return failure
	})
	outcome := "succeeded"
	if failure != nil {
		outcome = failure.Error()
	}
	recorded := "recorded in " + c.stream
	if annErr := withoutError(err, failure); annErr != nil {
		var ae *librato.AnnotateError
		switch {
		case errors.As(annErr, &ae) && ae.Msg == "not recorded" && ae.Err != nil:
			recorded = fmt.Sprintf("not recorded in %s: %v", c.stream, ae.Err)
		case errors.As(annErr, &ae):
			recorded = fmt.Sprintf("recorded in %s, but %s", c.stream, strings.TrimPrefix(annErr.Error(), "librato: "))
		default:
			recorded = fmt.Sprintf("not recorded in %s: %v", c.stream, annErr)
		}
	}
	fmt.Fprintf(env.Stderr, "librato annotate: %s: %s (after %s); %s\n", c.title, outcome, took, recorded)
	if failure != nil {
		return &exitError{code: failure.code}
	}
	return nil
}

// commandFailure is a wrapped command that failed, with the exit code to pass on.
type commandFailure struct {
	code int
	msg  string
}

func (e *commandFailure) Error() string { return e.msg }

// signalGrace is how long a command may take to exit after SIGTERM before it is killed.
const signalGrace = 10 * time.Second

// runCommand runs the wrapped command and returns nil when it succeeded.
func (c *annotateCmd) runCommand(ctx context.Context, env *Env) *commandFailure {
	cmd := exec.CommandContext(ctx, c.command[0], c.command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = env.Stdin, env.Stdout, env.Stderr
	// On SIGINT/SIGTERM (ctx done) ask the command to stop, as a shell would, before killing it.
	cmd.Cancel = func() error {
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			return cmd.Process.Kill()
		}
		return nil
	}
	cmd.WaitDelay = signalGrace
	err := cmd.Run()
	if err == nil {
		return nil
	}
	// Only the program's name goes into messages, and so into the annotation's description:
	// its arguments may hold secrets (deploy.sh --api-key ...), and the description is visible
	// to everyone on the account.
	line := filepath.Base(c.command[0])
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return &commandFailure{code: 128 + int(ws.Signal()), msg: fmt.Sprintf("command %q killed by signal %v", line, ws.Signal())}
		}
		return &commandFailure{code: exitErr.ExitCode(), msg: fmt.Sprintf("command %q exited with status %d", line, exitErr.ExitCode())}
	}
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) || errors.Is(err, os.ErrPermission) {
		return &commandFailure{code: 127, msg: fmt.Sprintf("command %q could not be started: %v", line, err)}
	}
	return &commandFailure{code: ExitError, msg: fmt.Sprintf("command %q: %v", line, err)}
}

// withoutError returns err minus the given error: Annotate joins the work's error with its own.
func withoutError(err error, failure *commandFailure) error {
	if err == nil {
		return nil
	}
	if failure != nil && err == error(failure) {
		return nil
	}
	joined, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return err
	}
	var rest []error
	for _, e := range joined.Unwrap() {
		if failure == nil || e != error(failure) {
			rest = append(rest, e)
		}
	}
	return errors.Join(rest...)
}
