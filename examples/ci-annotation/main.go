// Command ci-annotation shows how a CI job records its steps as Librato annotations, so that
// builds and deploys show up on the charts next to the metrics they affect.
//
//	go run ./examples/ci-annotation                  # two simulated steps, the second fails
//	go run ./examples/ci-annotation -- go vet ./...  # wrap a real command
//	go build -o ci-annotation ./examples/ci-annotation && ./ci-annotation -- make test
//
// Built, it exits with the wrapped command's status. Under go run the status is printed
// ("exit status 3"), but go run itself exits 1 for any failure: build it where a CI step must
// see the command's own status.
//
// Each step runs inside Annotations.Record: it starts at once, an event is posted beside it, its
// end time is recorded when it returns, and a failure is appended to the description. The step
// always runs, even when the API cannot be reached. The `librato annotate STREAM --title T -- CMD`
// command does the same from a shell. Without LIBRATO_USER/LIBRATO_TOKEN it uses an in-process
// fake API (libratotest).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/examples/internal/exampleenv"
)

// stream is the annotation stream the example writes to.
const stream = "ci-example"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	args, code := parseArgs(os.Args[1:], os.Stderr)
	if code >= 0 {
		os.Exit(code)
	}
	code, err := run(ctx, os.Stdout, os.Getenv, args)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ci-annotation:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

// usage is the example's help.
const usage = `usage: ci-annotation [-- COMMAND ARGS...]

Without a command, records two simulated CI steps (the second fails) as annotations of the
stream "ci-example". With one, runs it as a CI step and exits with its status. Credentials come
from LIBRATO_USER and LIBRATO_TOKEN; without them an in-process fake API is used. BUILD_ID,
GIT_COMMIT and RUNNER_NAME, when set, go into the events.
`

// parseArgs reads the command line: -h prints the help (code 0), anything but a command after
// "--" is a usage error (code 2); otherwise it returns the command and -1.
func parseArgs(args []string, stderr io.Writer) ([]string, int) {
	fs := flag.NewFlagSet("ci-annotation", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		return nil, 0
	case err != nil:
		return nil, 2
	}
	rest := fs.Args()
	if i := len(args) - len(rest) - 1; len(rest) > 0 && (i < 0 || args[i] != "--") {
		fmt.Fprintf(stderr, "ci-annotation: unexpected argument %q: put the command to wrap after --\n%s", rest[0], usage)
		return nil, 2
	}
	return rest, -1
}

// step is one CI step: a title and the work.
type step struct {
	title string
	work  func(ctx context.Context) error
}

// run records the steps (a wrapped command, or two simulated steps) and returns the exit code:
// the command's status, or 0 for the simulation, whose failure is part of the show.
func run(ctx context.Context, w io.Writer, getenv func(string) string, command []string) (int, error) {
	c, fake, err := exampleenv.Connect(getenv)
	if fake != nil {
		defer fake.Close()
		fmt.Fprintf(w, "LIBRATO_USER/LIBRATO_TOKEN not set: annotating an in-process fake API at %s\n\n", fake.URL)
	} else {
		fmt.Fprintf(w, "annotating stream %q on the Librato API as %s\n\n", stream, getenv("LIBRATO_USER"))
	}
	if err != nil {
		return 1, err
	}
	build := firstNonEmpty(getenv("BUILD_ID"), "local")
	var steps []step
	if len(command) > 0 {
		steps = []step{{title: strings.Join(command, " "), work: func(ctx context.Context) error {
			cmd := exec.CommandContext(ctx, command[0], command[1:]...)
			cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, w, os.Stderr
			return cmd.Run()
		}}}
	} else {
		steps = []step{
			{title: "compile", work: func(ctx context.Context) error { return pause(ctx, 150*time.Millisecond) }},
			{title: "integration tests", work: func(ctx context.Context) error {
				if err := pause(ctx, 100*time.Millisecond); err != nil {
					return err
				}
				return errors.New("3 of 120 tests failed")
			}},
		}
	}

	code := 0
	for _, s := range steps {
		a := librato.Annotation{
			Title:       fmt.Sprintf("build %s: %s", build, s.title),
			Description: "commit " + firstNonEmpty(getenv("GIT_COMMIT"), "unknown"),
			Source:      firstNonEmpty(getenv("RUNNER_NAME"), "laptop"),
			Links:       []librato.Link{{Rel: "build", Href: "https://ci.example.com/builds/" + build, Label: "CI build"}},
		}
		err := c.Annotations.Record(ctx, stream, a, s.work)
		var exitErr *exec.ExitError
		switch {
		case err == nil:
			fmt.Fprintf(w, "step %q succeeded\n", s.title)
		case errors.As(err, &exitErr):
			code = exitErr.ExitCode()
			fmt.Fprintf(w, "step %q failed: %v\n", s.title, err)
		default:
			// The step's own error, possibly joined with an annotation error: both are reported.
			fmt.Fprintf(w, "step %q failed: %v\n", s.title, err)
			if len(command) > 0 {
				code = 1
			}
		}
	}

	// Read the stream back, as a dashboard would show it.
	got, err := c.Annotations.GetStream(ctx, stream, &librato.AnnotationQuery{StartTime: time.Now().Add(-time.Hour)})
	if err != nil {
		return code, fmt.Errorf("reading the stream back: %w", err)
	}
	fmt.Fprintf(w, "\nstream %q now holds:\n", stream)
	for _, src := range slices.Sorted(maps.Keys(got.Events)) {
		for _, ev := range got.Events[src] {
			took := "running"
			if !ev.EndTime.IsZero() {
				took = ev.EndTime.Sub(ev.StartTime).String()
			}
			fmt.Fprintf(w, "  #%d %s [%s, %s]\n     %s\n", ev.ID, ev.Title, src, took, strings.ReplaceAll(strings.ReplaceAll(ev.Description, "\n\n", "\n"), "\n", "\n     "))
		}
	}
	return code, nil
}

// pause stands in for real work.
func pause(ctx context.Context, d time.Duration) error {
	select {
	case <-time.After(d):
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
