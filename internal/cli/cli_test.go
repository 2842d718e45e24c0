package cli

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-librato/librato/libratotest"
)

// userAgentRE matches the library's User-Agent, which names the Go version and platform.
var userAgentRE = regexp.MustCompile(`librato-go/[^"\n]*`)

var update = flag.Bool("update", false, "rewrite testdata/*.golden with the current output")

const (
	testUser  = "ci@example.com"
	testToken = "s3cr3t-test-token-4711"
)

// fixedNow is the clock of every test: the fake server and the command agree on it.
var fixedNow = time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)

// newFake starts a fake API with the test credentials and clock.
func newFake(t *testing.T, opts ...libratotest.Option) *libratotest.Server {
	t.Helper()
	all := append([]libratotest.Option{
		libratotest.WithCredentials(testUser, testToken),
		libratotest.WithNow(func() time.Time { return fixedNow }),
	}, opts...)
	srv := libratotest.NewServer(all...)
	t.Cleanup(srv.Close)
	return srv
}

// result is what one run of the command produced.
type result struct {
	stdout, stderr string
	code           int
}

// testEnv returns an Env with the fake's URL and the test credentials in its environment.
func testEnv(srv *libratotest.Server, stdin string, extra map[string]string) (*Env, *bytes.Buffer, *bytes.Buffer) {
	vars := map[string]string{"LIBRATO_USER": testUser, "LIBRATO_TOKEN": testToken}
	if srv != nil {
		vars["LIBRATO_URL"] = srv.URL
	}
	for k, v := range extra {
		if v == "" {
			delete(vars, k)
		} else {
			vars[k] = v
		}
	}
	var out, errOut bytes.Buffer
	env := &Env{
		Stdin:  strings.NewReader(stdin),
		Stdout: &out,
		Stderr: &errOut,
		Getenv: func(k string) string { return vars[k] },
		Now:    func() time.Time { return fixedNow },
	}
	return env, &out, &errOut
}

// runCLI runs the command against srv and checks that the token appears nowhere in its output,
// not even masked (a masked token means some code tried to print it).
func runCLI(t *testing.T, srv *libratotest.Server, stdin string, args ...string) result {
	t.Helper()
	return runCLIEnv(t, srv, stdin, nil, args...)
}

func runCLIEnv(t *testing.T, srv *libratotest.Server, stdin string, extra map[string]string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	env, out, errOut := testEnv(srv, stdin, extra)
	code := run(ctx, env, args)
	r := result{stdout: out.String(), stderr: errOut.String(), code: code}
	assertNoSecret(t, r.stdout+r.stderr)
	return r
}

func assertNoSecret(t *testing.T, s string) {
	t.Helper()
	assert.NotContains(t, s, testToken, "the token was printed")
	assert.NotContains(t, s, "[redacted]", "some code tried to print the token")
}

// golden compares got with testdata/name.golden (rewritten with -update). The fake's address,
// which changes from run to run, is replaced by http://FAKE.
func golden(t *testing.T, srv *libratotest.Server, name, got string) {
	t.Helper()
	if srv != nil {
		got = strings.ReplaceAll(got, srv.URL, "http://FAKE")
	}
	got = userAgentRE.ReplaceAllString(got, "librato-go/VERSION")
	path := filepath.Join("testdata", name+".golden")
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "missing golden file; run go test ./internal/cli -update")
	assert.Equal(t, string(want), got, "output differs from %s (run with -update if the change is intended)", path)
}

func TestMainUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"no args", nil, ExitOK},
		{"help", []string{"help"}, ExitOK},
		{"--help", []string{"--help"}, ExitOK},
		{"unknown", []string{"frobnicate"}, ExitUsage},
		{"help unknown", []string{"help", "frobnicate"}, ExitUsage},
		{"bad flag", []string{"version", "--nope"}, ExitUsage},
		{"extra arg", []string{"version", "x"}, ExitUsage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, nil, "", tt.args...)
			assert.Equal(t, tt.code, r.code, "stderr: %s", r.stderr)
			if tt.code == ExitOK {
				assert.Contains(t, r.stdout, "Commands:")
				assert.Empty(t, r.stderr)
			} else {
				assert.NotEmpty(t, r.stderr)
			}
		})
	}
}

func TestMainVersionAndSuggestions(t *testing.T) {
	r := runCLI(t, nil, "", "--version")
	assert.Equal(t, ExitOK, r.code)
	assert.Regexp(t, `^librato \d+\.\d+\.\d+`, r.stdout)

	for typo, want := range map[string]string{"anotate": "annotate", "sumbit": "submit", "exp": "export", "serv": "serve"} {
		r := runCLI(t, nil, "", typo)
		assert.Equal(t, ExitUsage, r.code)
		assert.Equal(t, "librato: unknown command \""+typo+"\"\nDid you mean \""+want+"\"?\nRun 'librato help' for the list of commands.\n", r.stderr)
	}
	r = runCLI(t, nil, "", "zzzzzzzz")
	assert.NotContains(t, r.stderr, "Did you mean")
}

func TestHelpShowsShortFlagsAsTheyAre(t *testing.T) {
	r := runCLI(t, nil, "", "get", "--help")
	assert.Contains(t, r.stdout, "\n  -o ")
	assert.Contains(t, r.stdout, "\n  --output ")
	r = runCLI(t, nil, "", "export", "--help")
	assert.Contains(t, r.stdout, "\n  -D ")
	assert.NotContains(t, r.stdout, "--D ")
}

func TestInterruptedExits130(t *testing.T) {
	srv := newFake(t)
	require.NoError(t, srv.AddFault(libratotest.Fault{Latency: time.Hour, Rate: 1}))
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel) // as SIGINT would, through main's NotifyContext
	var out, errOut strings.Builder
	env := &Env{Stdout: &out, Stderr: &errOut, Getenv: func(k string) string {
		return map[string]string{"LIBRATO_USER": testUser, "LIBRATO_TOKEN": testToken, "LIBRATO_URL": srv.URL}[k]
	}}
	code := run(ctx, env, []string{"list"})
	assert.Equal(t, ExitInterrupted, code, errOut.String())
	assert.Equal(t, "librato list: interrupted\n", errOut.String())
}

// TestEveryCommandHasHelp checks that --help works on every command, exits 0 and shows examples.
func TestEveryCommandHasHelp(t *testing.T) {
	require.NotEmpty(t, commandTable)
	for _, ci := range commandTable {
		name := ci.name
		t.Run(name, func(t *testing.T) {
			r := runCLI(t, nil, "", name, "--help")
			assert.Equal(t, ExitOK, r.code)
			assert.Contains(t, r.stdout, "Usage: librato "+name)
			i := strings.Index(r.stdout, "\nExample")
			require.Positive(t, i, "help has no examples")
			assert.Contains(t, r.stdout[i:], "librato "+name, "help has no example")
			assert.Empty(t, r.stderr)
		})
	}
}

// TestCommandTable checks that the table names each command once and that help lists them in
// the table's order.
func TestCommandTable(t *testing.T) {
	seen := map[string]bool{}
	for _, ci := range commandTable {
		require.NotNil(t, ci.new, ci.name)
		assert.False(t, seen[ci.name], "%s is in the table twice", ci.name)
		seen[ci.name] = true
		assert.Same(t, ci, lookup(ci.name))
	}
	assert.Nil(t, lookup("nosuch"))
	r := runCLI(t, nil, "", "help")
	assert.Equal(t, ExitOK, r.code)
	last := -1
	for _, ci := range commandTable {
		i := strings.Index(r.stdout, "\n  "+ci.name+" ")
		require.Positive(t, i, "help does not list %s", ci.name)
		assert.Greater(t, i, last, "%s is listed out of the table's order", ci.name)
		last = i
	}
}

func TestParseArgsInterspersed(t *testing.T) {
	tests := []struct {
		args     []string
		wantPos  []string
		wantTags string
		wantN    int
	}{
		{[]string{"a", "--n", "3", "b"}, []string{"a", "b"}, "", 3},
		{[]string{"--tag", "x=1", "a", "-tag=y=2", "b"}, []string{"a", "b"}, "x=1,y=2", 0},
		{[]string{"a", "--", "--n", "5"}, []string{"a", "--n", "5"}, "", 0},
		{[]string{"--n", "1", "--", "cmd", "-x"}, []string{"cmd", "-x"}, "", 1},
		{[]string{"-", "b"}, []string{"-", "b"}, "", 0},
		{[]string{"temp", "-5", "--n", "2"}, []string{"temp", "-5"}, "", 2},
		{[]string{"--n", "-3", "-0.5"}, []string{"-0.5"}, "", -3},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			fs := flag.NewFlagSet("t", flag.ContinueOnError)
			var tags tagsFlag
			fs.Var(&tags, "tag", "")
			n := fs.Int("n", 0, "")
			pos, err := parseArgs(fs, tt.args)
			require.NoError(t, err)
			assert.Equal(t, tt.wantPos, pos)
			assert.Equal(t, tt.wantTags, tags.String())
			assert.Equal(t, tt.wantN, *n)
		})
	}
}

func TestFlagValueAsDoubleDash(t *testing.T) {
	// "--" given as a flag's value is that value, not the end of the flags.
	fs := flag.NewFlagSet("t", flag.ContinueOnError)
	title := fs.String("title", "", "")
	pos, err := parseArgs(fs, []string{"--title", "--", "stream"})
	require.NoError(t, err)
	assert.Equal(t, "--", *title)
	assert.Equal(t, []string{"stream"}, pos)
}

func TestCredentials(t *testing.T) {
	srv := newFake(t)
	t.Run("missing token is a usage error", func(t *testing.T) {
		r := runCLIEnv(t, srv, "", map[string]string{"LIBRATO_TOKEN": ""}, "list")
		assert.Equal(t, ExitUsage, r.code)
		assert.Contains(t, r.stderr, "no API token")
	})
	t.Run("missing user is a usage error", func(t *testing.T) {
		r := runCLIEnv(t, srv, "", map[string]string{"LIBRATO_USER": ""}, "list")
		assert.Equal(t, ExitUsage, r.code)
		assert.Contains(t, r.stderr, "no user")
	})
	t.Run("flags override the environment", func(t *testing.T) {
		r := runCLIEnv(t, srv, "", map[string]string{"LIBRATO_USER": "", "LIBRATO_TOKEN": ""},
			"list", "--user", testUser, "--token", testToken)
		assert.Equal(t, ExitOK, r.code, r.stderr)
	})
	t.Run("wrong token is an API error, exit 1", func(t *testing.T) {
		r := runCLIEnv(t, srv, "", map[string]string{"LIBRATO_TOKEN": "wrong-token-123"}, "list", "--verbose")
		assert.Equal(t, ExitError, r.code)
		assert.Contains(t, r.stderr, "401")
		assert.NotContains(t, r.stdout+r.stderr, "wrong-token-123")
	})
	t.Run("verbose never logs the token", func(t *testing.T) {
		r := runCLI(t, srv, "", "submit", "x", "1", "--verbose", "--token", testToken)
		assert.Equal(t, ExitOK, r.code, r.stderr)
		assert.Contains(t, r.stderr, "librato request", "verbose logs requests")
	})
}

func TestRedactor(t *testing.T) {
	var buf bytes.Buffer
	w := newRedactor(&buf, []string{"abcdef", "x"})
	_, err := w.Write([]byte("token abcdef and x\n"))
	require.NoError(t, err)
	assert.Equal(t, "token [redacted] and x\n", buf.String())
}
