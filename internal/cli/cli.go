// Package cli implements the librato command: one file per subcommand, each an options struct
// registered on a flag.FlagSet plus a run method that tests call with fake streams and environment.
//
// Flags are parsed with the standard library's flag package. Flags may come before or after the
// positional arguments (parseArgs re-enters flag parsing after each positional), "--" ends the
// flags, and both -flag and --flag are accepted, as flag always does. A CLI library would add
// nothing this small command table needs.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/go-librato/librato"
)

// Exit codes of the librato command.
const (
	ExitOK    = 0 // success
	ExitError = 1 // runtime or API error
	ExitUsage = 2 // bad command line, local validation or missing configuration
	// ExitInterrupted is the status after SIGINT or SIGTERM stopped a command, as a shell
	// reports a process killed by SIGINT (128+2).
	ExitInterrupted = 130
)

// Env is what a command may touch of the outside world. Tests build one with buffers.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads an environment variable ("" when unset).
	Getenv func(string) string
	// Now is the clock used for relative times; nil means time.Now.
	Now func() time.Time
	// StderrIsTerminal says whether Stderr is an interactive terminal: progress bars are drawn
	// only then. Main sets it from golang.org/x/term.
	StderrIsTerminal bool
}

func (e *Env) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now()
}

// isTerminal reports whether w is an *os.File connected to a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (e *Env) getenv(k string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(k)
}

// command is one subcommand: its options live in the implementing struct.
type command interface {
	// flags registers the command's flags on fs.
	flags(fs *flag.FlagSet)
	// args takes the positional arguments, checking their number and form.
	args(args []string) error
	// run does the work; its error decides the exit code (see exitCode).
	run(ctx context.Context, env *Env) error
}

// commandInfo describes a subcommand for the command table and its help.
type commandInfo struct {
	name    string
	summary string // one line for `librato help`
	usage   string // synopsis after "librato "
	help    string // description and examples, printed by --help
	new     func() command
}

// commandTable is every command, in the order `librato help` lists them: sending first, then
// reading, then the account's other parts, then the sandbox. Each command's flags, help and run
// function live in the file of its name.
var commandTable = []*commandInfo{
	submitCommand,
	pipeCommand,
	getCommand,
	listCommand,
	exportCommand,
	compositeCommand,
	deleteCommand,
	annotateCommand,
	annotationsCommand,
	pingCommand,
	alertsCommand,
	serveCommand,
	statsdCommand,
	versionCommand,
}

// lookup returns the command named name, or nil.
func lookup(name string) *commandInfo {
	for _, ci := range commandTable {
		if ci.name == name {
			return ci
		}
	}
	return nil
}

// usageError is a bad command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitError carries a specific exit code (a wrapped command's status, rejected pipe lines).
// Its message, when not empty, is printed like any error.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

// message is err's text for the command line. The "librato NAME:" before it says whose error it
// is, so the library's own "librato: " prefixes, one per wrapping layer, go.
func message(name string, err error) string {
	return strings.TrimPrefix(withoutPrefixes(err.Error()), name+": ")
}

// withoutPrefixes removes the library's "librato: " prefixes from a message.
func withoutPrefixes(s string) string {
	s = strings.TrimPrefix(s, "librato: ")
	return strings.NewReplacer(": librato: ", ": ", "\nlibrato: ", "\n", "(librato: ", "(").Replace(s)
}

// exitCode maps a command's error to the process exit code: a local validation error (the
// library refused the input before sending it) is a usage error.
func exitCode(err error) int {
	var ue *usageError
	var ee *exitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ue):
		return ExitUsage
	case errors.As(err, &ee):
		return ee.code
	case errors.Is(err, librato.ErrInvalid):
		return ExitUsage
	}
	return ExitError
}

// Main runs the librato command with args (without the program name) and returns the exit code.
// It never calls os.Exit, so tests can run it. Every byte written to stdout and stderr passes a
// filter that masks the API token, should any code path ever try to print it.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, getenv func(string) string) int {
	env := &Env{Stdin: stdin, Stdout: stdout, Stderr: stderr, Getenv: getenv, StderrIsTerminal: isTerminal(stderr)}
	return run(ctx, env, args)
}

// run is Main with a prepared Env (tests set its clock).
func run(ctx context.Context, env *Env, args []string) int {
	var secrets []string
	for _, k := range []string{"LIBRATO_TOKEN", "APPOPTICS_TOKEN"} {
		if v := env.getenv(k); v != "" {
			secrets = append(secrets, v)
		}
	}
	secrets = append(secrets, flagValues(args, "token")...)
	env.Stdout = newRedactor(env.Stdout, secrets)
	env.Stderr = newRedactor(env.Stderr, secrets)

	if len(args) == 0 {
		printUsage(env.Stdout)
		return ExitOK
	}
	name := args[0]
	switch name {
	case "--version", "-version":
		args = []string{"version"}
		name = "version"
	case "help", "-h", "-help", "--help":
		if len(args) > 1 {
			if ci := lookup(args[1]); ci != nil {
				printCommandHelp(env.Stdout, ci)
				return ExitOK
			}
			fmt.Fprintf(env.Stderr, "librato: unknown command %q\n", args[1])
			return ExitUsage
		}
		printUsage(env.Stdout)
		return ExitOK
	}
	ci := lookup(name)
	ok := ci != nil
	if !ok {
		fmt.Fprintf(env.Stderr, "librato: unknown command %q\n", name)
		if s := suggest(name); s != "" {
			fmt.Fprintf(env.Stderr, "Did you mean %q?\n", s)
		}
		fmt.Fprintln(env.Stderr, "Run 'librato help' for the list of commands.")
		return ExitUsage
	}
	cmd := ci.new()
	fs := flag.NewFlagSet("librato "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are printed below, help by printCommandHelp
	cmd.flags(fs)
	pos, rest, dashed, err := splitArgs(fs, args[1:])
	if errors.Is(err, flag.ErrHelp) {
		printCommandHelp(env.Stdout, ci)
		return ExitOK
	}
	if cr, ok := cmd.(commandRunner); ok && err == nil {
		err = cr.setCommand(rest, dashed)
	} else {
		pos = append(pos, rest...)
	}
	if err == nil {
		err = cmd.args(pos)
	}
	if err != nil {
		fmt.Fprintf(env.Stderr, "librato %s: %s\nUsage: librato %s\nRun 'librato %s --help' for details.\n", name, message(name, err), ci.usage, name)
		return ExitUsage
	}
	err = cmd.run(ctx, env)
	var ee *exitError
	if err != nil && ctx.Err() != nil && !errors.As(err, &ee) {
		fmt.Fprintf(env.Stderr, "librato %s: interrupted\n", name)
		return ExitInterrupted
	}
	if err != nil && err.Error() != "" {
		fmt.Fprintf(env.Stderr, "librato %s: %s\n", name, message(name, err))
		if errors.Is(err, librato.ErrUnauthorized) {
			fmt.Fprintln(env.Stderr, credentialsHint)
		}
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(env.Stderr, "Run 'librato %s --help' for usage.\n", name)
		}
	}
	return exitCode(err)
}

// credentialsHint follows a 401: where the credentials came from.
const credentialsHint = `The API refused the credentials. They come from --user and --token, or from LIBRATO_USER and
LIBRATO_TOKEN (with --appoptics: --token or APPOPTICS_TOKEN); check them, and --url or LIBRATO_URL
if this is not the API they belong to.`

// parseArgs parses flags anywhere among the positional arguments, one flag (with its value) at a
// time. "--" ends the flags unless it is a flag's value; what follows it is positional. "-" and
// negative numbers ("-5", "-0.5") are positional, so `librato submit temp -5` works.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	pos, rest, _, err := splitArgs(fs, args)
	return append(pos, rest...), err
}

// splitArgs is parseArgs keeping apart what follows "--" (rest; dashed says whether there was
// one), for the commands that run a command line given there.
func splitArgs(fs *flag.FlagSet, args []string) (pos, rest []string, dashed bool, err error) {
	for len(args) > 0 {
		a := args[0]
		if a == "--" {
			return pos, args[1:], true, nil
		}
		if !strings.HasPrefix(a, "-") || a == "-" || isNumber(a) {
			pos = append(pos, a)
			args = args[1:]
			continue
		}
		n := 1
		if takesValue(fs, a) && len(args) > 1 {
			n = 2
		}
		if err := fs.Parse(args[:n]); err != nil {
			return nil, nil, false, err
		}
		args = args[n:]
	}
	return pos, nil, false, nil
}

// commandRunner is a command that runs the command line given after "--" (annotate). For the
// others, what follows "--" is positional.
type commandRunner interface {
	setCommand(argv []string, dashed bool) error
}

func isNumber(s string) bool {
	_, err := strconv.ParseFloat(s, 64)
	return err == nil
}

// takesValue reports whether arg is a flag of fs that consumes the next argument as its value.
func takesValue(fs *flag.FlagSet, arg string) bool {
	if !strings.HasPrefix(arg, "-") || strings.Contains(arg, "=") {
		return false
	}
	f := fs.Lookup(strings.TrimLeft(arg, "-"))
	if f == nil {
		return false
	}
	if b, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
		return false
	}
	return true
}

// flagValues returns the values given to --name on the command line, in any spelling
// (-name v, --name v, -name=v, --name=v), so that they can be masked in all output.
func flagValues(args []string, name string) []string {
	var vals []string
	for i, a := range args {
		if a == "--" {
			break
		}
		flagName, val, hasVal := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || flagName != name {
			continue
		}
		if hasVal {
			vals = append(vals, val)
		} else if i+1 < len(args) {
			vals = append(vals, args[i+1])
		}
	}
	return vals
}

func printUsage(w io.Writer) {
	fmt.Fprint(w, `librato reads and writes Librato (and AppOptics) metrics, posts annotations, runs a local fake API
and a StatsD server.

Usage:
  librato COMMAND [ARGS] [FLAGS]

Commands:
`)
	width := 0
	for _, ci := range commandTable {
		width = max(width, len(ci.name))
	}
	for _, ci := range commandTable {
		fmt.Fprintf(w, "  %-*s  %s\n", width, ci.name, ci.summary)
	}
	fmt.Fprint(w, `
Credentials come from --user/--token or LIBRATO_USER and LIBRATO_TOKEN (--appoptics: --token or
APPOPTICS_TOKEN); LIBRATO_URL or --url points at another API, e.g. a 'librato serve' sandbox.
Tokens are never printed.

Exit status: 0 success, 1 runtime or API error, 2 usage or validation error, 130 interrupted
(annotate -- COMMAND exits with the command's status).
Run 'librato COMMAND --help' for a command's flags and examples.
`)
}

// longFlag matches a flag of two or more letters at the start of a line of flag.PrintDefaults.
var longFlag = regexp.MustCompile(`(?m)^  -(\w\w)`)

// suggest returns the command whose name is closest to name (at most two edits away, or of
// which name is a prefix), or "".
func suggest(name string) string {
	best, bestDist := "", 3
	for _, ci := range commandTable {
		if len(name) >= 2 && strings.HasPrefix(ci.name, name) {
			return ci.name
		}
		if d := editDistance(name, ci.name); d < bestDist {
			best, bestDist = ci.name, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func printCommandHelp(w io.Writer, ci *commandInfo) {
	fmt.Fprintf(w, "Usage: librato %s\n\n%s\n", ci.usage, strings.TrimSpace(ci.help))
	fs := flag.NewFlagSet(ci.name, flag.ContinueOnError)
	ci.new().flags(fs)
	var flags strings.Builder
	fs.SetOutput(&flags)
	fs.PrintDefaults()
	if flags.Len() > 0 {
		// flag prints "-name"; this command documents --name, which works the same. One-letter
		// flags (-o, -D) stay as they are.
		out := longFlag.ReplaceAllString(flags.String(), "  --$1")
		fmt.Fprintf(w, "\nFlags:\n%s", out)
	}
}
