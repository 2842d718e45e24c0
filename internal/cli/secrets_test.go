package cli

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-librato/librato/libratotest"
)

// TestTokenNeverPrinted runs every command, verbose, with the token given on the command line and
// in the environment, on success and on failure, and looks for the token in everything printed.
func TestTokenNeverPrinted(t *testing.T) {
	srv := newFake(t)
	seed(t, srv)
	seedAlerts(t, srv)
	dir := t.TempDir()
	invocations := map[string][][]string{
		"submit":      {{"submit", "x", "1"}},
		"get":         {{"get", "cpu.load", "--start", "-1h"}, {"get", "no.such"}},
		"list":        {{"list"}},
		"delete":      {{"delete", "x"}, {"delete", "--pattern", "jobs.*"}},
		"pipe":        {{"pipe"}},
		"export":      {{"export", "-D", dir, "--start", "-1h", "--restart"}},
		"annotate":    {{"annotate", "s", "--title", "t"}, {"annotate", "s", "--title", "t", "--", "false"}},
		"alerts":      {{"alerts", "list"}, {"alerts", "status"}},
		"composite":   {{"composite", `sum(s("cpu.load", "*"))`, "--start", "-1h"}},
		"version":     {{"version"}},
		"ping":        {{"ping"}, {"ping", "--token", "wrong"}},
		"annotations": {{"annotations", "list"}, {"annotations", "show", "s", "--start", "-1h"}},
		"statsd":      {{"statsd", "--listen", "127.0.0.1:0", "--token", "wrong"}}, // a running one: TestStatsdCommand
	}
	var missing []string
	for _, ci := range commandTable {
		name := ci.name
		if _, ok := invocations[name]; !ok && name != "serve" { // serve: TestServeNeverPrintsToken
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	require.Empty(t, missing, "commands without a secrets check")

	for _, group := range invocations {
		for _, args := range group {
			for _, verbose := range []bool{false, true} {
				// Flags go right after the command name: annotate's "--" must stay last.
				a := []string{args[0]}
				if verbose && args[0] != "version" {
					a = append(a, "--verbose")
				}
				// The token on the command line (and in the environment, as set by runCLI).
				if args[0] != "version" {
					a = append(a, "--token="+testToken)
				}
				a = append(a, args[1:]...)
				r := runCLI(t, srv, "y\nx 1\n", a...)
				assert.NotEqual(t, ExitUsage, r.code, "%v: %s", a, r.stderr)
				if verbose && args[0] != "version" && args[0] != "annotate" {
					assert.Contains(t, r.stderr, "librato request", "%v: verbose logs requests", a)
				}
			}
			// A wrong token must not be printed either, nor the right one on a 401.
			if args[0] != "version" {
				a := append([]string{args[0], "--verbose"}, args[1:]...)
				r := runCLIEnv(t, srv, "", map[string]string{"LIBRATO_TOKEN": "wrong-token-0815"}, a...)
				assert.NotContains(t, r.stdout+r.stderr, "wrong-token-0815")
			}
		}
	}
	// Nor in any file export wrote.
	require.NoError(t, filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		assert.NotContains(t, string(b), testToken, path)
		return err
	}))
}

func TestServeNeverPrintsToken(t *testing.T) {
	s := startServe(t, nil, "--addr", "127.0.0.1:0", "--user", testUser, "--token", testToken)
	r := runCLIEnv(t, nil, "", map[string]string{"LIBRATO_URL": s.url}, "list")
	require.Equal(t, ExitOK, r.code, r.stderr)
	r = runCLIEnv(t, nil, "", map[string]string{"LIBRATO_URL": s.url, "LIBRATO_TOKEN": "wrong-token-0815"}, "list")
	require.Equal(t, ExitError, r.code, r.stderr)
	require.NoError(t, s.stop())
	out := s.stdout.String() + s.stderr.String()
	assertNoSecret(t, out)
	assert.NotContains(t, out, "wrong-token-0815")
	assert.Equal(t, 2, strings.Count(s.stderr.String(), "GET /v1/metrics"))
}

// TestAppOptics runs the commands against a fake in AppOptics mode with APPOPTICS_TOKEN only.
func TestAppOptics(t *testing.T) {
	srv := newFake(t, libratotest.WithAppOptics())
	env := map[string]string{"LIBRATO_USER": "", "LIBRATO_TOKEN": "", "APPOPTICS_TOKEN": testToken}
	r := runCLIEnv(t, srv, "", env, "submit", "ao.latency", "12", "--tag", "host=a")
	require.Equal(t, ExitOK, r.code, r.stderr)
	r = runCLIEnv(t, srv, "", env, "submit", "ao.latency", "14", "--appoptics") // no tags: still tagged
	require.Equal(t, ExitOK, r.code, r.stderr)
	r = runCLIEnv(t, srv, "", env, "get", "ao.latency", "--start", "-1h", "--output", "csv")
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "ao.latency,,host=a,2026-01-15T12:00:00Z,1768478400,12\n")
	assert.Len(t, srv.Measurements("ao.latency"), 2)
	r = runCLIEnv(t, srv, "", env, "submit", "ao.count", "1", "--counter")
	assert.Equal(t, ExitUsage, r.code, "AppOptics has no counters: refused before sending")
}

// A mistyped --url may carry a token in its userinfo or query: the usage error never quotes it.
func TestBadURLNotQuoted(t *testing.T) {
	const secret = "tok-in-url-4711"
	for _, raw := range []string{
		"user:" + secret + "@api.example.com/v1/",
		"me@example.com:" + secret + "@api.example.com",
		"ftp://api.example.com/v1/?token=" + secret,
		"https://me:" + secret + "@api.example.com/v1/",
		"https//me:" + secret + "@api.example.com",
	} {
		_, err := normalizeBaseURL(raw)
		require.Error(t, err, raw)
		assert.NotContains(t, err.Error(), secret, raw)
	}
}
