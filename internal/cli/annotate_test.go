package cli

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"
)

// events returns every event of the stream on srv.
func events(t *testing.T, srv *libratotest.Server, stream string) []librato.Annotation {
	t.Helper()
	cl, err := srv.Client()
	require.NoError(t, err)
	s, err := cl.Annotations.GetStream(context.Background(), stream, &librato.AnnotationQuery{StartTime: fixedNow.AddDate(0, 0, -30)})
	require.NoError(t, err)
	var out []librato.Annotation
	for _, evs := range s.Events {
		out = append(out, evs...)
	}
	return out
}

func TestAnnotatePost(t *testing.T) {
	srv := newFake(t)
	r := runCLI(t, srv, "", "annotate", "deploys", "--title", "v1.2.3", "--description", "release",
		"--source", "web1", "--link", "github=https://example.com/r/v1.2.3", "--start", "-10m", "--end", "-5m")
	require.Equal(t, ExitOK, r.code, r.stderr)
	golden(t, srv, "annotate-post", r.stdout)
	evs := events(t, srv, "deploys")
	require.Len(t, evs, 1)
	ev := evs[0]
	assert.Equal(t, "v1.2.3", ev.Title)
	assert.Equal(t, "release", ev.Description)
	assert.Equal(t, "web1", ev.Source)
	assert.Equal(t, fixedNow.Add(-10*60e9), ev.StartTime)
	assert.Equal(t, fixedNow.Add(-5*60e9), ev.EndTime)
	assert.Equal(t, []librato.Link{{Rel: "github", Href: "https://example.com/r/v1.2.3"}}, ev.Links)
}

func TestAnnotateCommand(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("needs a POSIX shell")
	}
	srv := newFake(t)
	tests := []struct {
		name     string
		args     []string
		code     int
		failed   string // expected in the description, "" for success
		wantOut  string
		wantNote string
	}{
		{"true", []string{"--", "true"}, 0, "", "", "succeeded"},
		{"false", []string{"--", "false"}, 1, `failed: command "false" exited with status 1`, "", `exited with status 1`},
		{"status 3 with output", []string{"--", "sh", "-c", "echo building; exit 3"}, 3, "exited with status 3", "building\n", "status 3"},
		{"not found", []string{"--", "/no/such/command"}, 127, "could not be started", "", "could not be started"},
		{"flags after the stream", []string{"--source", "runner1", "--", "sh", "-c", "exit 0"}, 0, "", "", "succeeded"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream := "ci" + string(rune('a'+i))
			args := append([]string{"annotate", stream, "--title", "build 42", "--description", "unit tests"}, tt.args...)
			r := runCLI(t, srv, "", args...)
			assert.Equal(t, tt.code, r.code, r.stderr)
			assert.Equal(t, tt.wantOut, r.stdout)
			assert.Contains(t, r.stderr, tt.wantNote)
			evs := events(t, srv, stream)
			require.Len(t, evs, 1)
			ev := evs[0]
			assert.Equal(t, "build 42", ev.Title)
			assert.False(t, ev.StartTime.IsZero())
			assert.False(t, ev.EndTime.IsZero(), "end time recorded")
			if tt.failed == "" {
				assert.Equal(t, "unit tests", ev.Description)
			} else {
				assert.Contains(t, ev.Description, "unit tests")
				assert.Contains(t, ev.Description, tt.failed)
				assert.NotContains(t, ev.Description, "-c", "arguments may hold secrets: never recorded")
			}
		})
	}
}

// TestAnnotateCommandRunsWithoutAPI: the command runs, and its status is kept, even when the
// annotation cannot be posted.
func TestAnnotateCommandRunsWithoutAPI(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("needs a POSIX shell")
	}
	srv := newFake(t)
	require.NoError(t, srv.AddFault(libratotest.Fault{Status: 400, Body: `{"errors":{"request":["stream is read-only"]}}`, Count: 5}))
	r := runCLIEnv(t, srv, "", nil, "annotate", "ci", "--title", "t", "--timeout", "1s", "--", "sh", "-c", "echo ran; exit 4")
	assert.Equal(t, 4, r.code)
	assert.Equal(t, "ran\n", r.stdout)
	assert.Equal(t, `librato annotate: t: command "sh" exited with status 4 (after `, r.stderr[:strings.Index(r.stderr, "(after ")+7])
	assert.True(t, strings.HasSuffix(r.stderr, "; not recorded in ci: librato: POST "+srv.URL+"/v1/annotations/ci: [400] request: stream is read-only\n"), r.stderr)
}

// TestAnnotateCommandStartsAtOnce: against an API that never answers, the command runs at once,
// its own run time is reported, the event is "not recorded" and the exit status is the command's.
func TestAnnotateCommandStartsAtOnce(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("needs a POSIX shell")
	}
	srv := newFake(t)
	require.NoError(t, srv.AddFault(libratotest.Fault{Path: "/v1/annotations/*", Latency: time.Hour, Rate: 1}))
	start := time.Now()
	r := runCLIEnv(t, srv, "", nil, "annotate", "ci", "--title", "t", "--timeout", "2s", "--", "sh", "-c", "date +%s%N; exit 3")
	assert.Equal(t, 3, r.code)
	ns, err := strconv.ParseInt(strings.TrimSpace(r.stdout), 10, 64)
	require.NoError(t, err, r.stdout)
	assert.Less(t, time.Unix(0, ns).Sub(start), 2*time.Second, "the command started before the post timed out")
	assert.Regexp(t, `^librato annotate: t: command "sh" exited with status 3 \(after [0-9.]+m?s\); not recorded in ci: .*(deadline|Timeout|timeout).*\n$`, r.stderr)
	assert.NotRegexp(t, `\(after ([2-9]|\d\d+)(\.\d+)?s\)`, r.stderr, "the duration is the command's, not the API's")
}

// TestAnnotateStrayArguments: words after STREAM that are not after "--" are a usage error,
// nothing runs and nothing is recorded.
func TestAnnotateStrayArguments(t *testing.T) {
	srv := newFake(t)
	r := runCLI(t, srv, "", "annotate", "deploys", "--title", "v2", "--description", "some", "words")
	assert.Equal(t, ExitUsage, r.code)
	assert.Contains(t, r.stderr, `librato annotate: unexpected argument "words" after STREAM "deploys": quote a value of several words, and put a command to wrap after "--"`)
	assert.Empty(t, r.stdout)
	for _, req := range srv.Requests() {
		assert.NotEqual(t, "POST", req.Method, "nothing recorded: %s %s", req.Method, req.Path)
	}
}

func TestAnnotateUsage(t *testing.T) {
	for _, args := range [][]string{
		{"annotate", "--title", "x"},
		{"annotate", "s"},
		{"annotate", "s", "--title", "x", "--link", "nohref"},
		{"annotate", "s", "--title", "x", "--start", "-1h", "--", "true"},
		{"annotate", "s", "--title", "x", "--"},
		{"annotate", "s", "extra", "--title", "x"},
	} {
		r := runCLI(t, nil, "", args...)
		assert.Equal(t, ExitUsage, r.code, "%v: %s", args, r.stderr)
	}
}

func TestAnnotationsListAndShow(t *testing.T) {
	srv := newFake(t)
	for _, args := range [][]string{
		{"annotate", "deploys", "--title", "v1", "--start", "-3h", "--end", "-170m", "--source", "web1", "--link", "github=https://example.com/v1"},
		{"annotate", "deploys", "--title", "v2", "--description", "the fix", "--start", "-1h"},
		{"annotate", "ci", "--title", "build 7", "--start", "-2h"},
	} {
		r := runCLI(t, srv, "", args...)
		require.Equal(t, ExitOK, r.code, r.stderr)
	}
	var all strings.Builder
	for _, args := range [][]string{
		{"annotations", "list"},
		{"annotations", "list", "-o", "csv"},
		{"annotations", "show", "deploys"},
		{"annotations", "show", "deploys", "-o", "json"},
		{"annotations", "show", "deploys", "--count", "1", "-o", "csv"},
		{"annotations", "show", "deploys", "--source", "web*"},
		{"annotations", "show", "deploys", "--start", "-30m"},
	} {
		r := runCLI(t, srv, "", args...)
		require.Equal(t, ExitOK, r.code, "%v: %s", args, r.stderr)
		fmt.Fprintf(&all, "$ librato %s\n%s", strings.Join(args, " "), r.stdout)
	}
	golden(t, srv, "annotations", all.String())

	for _, args := range [][]string{
		{"annotations"}, {"annotations", "show"}, {"annotations", "list", "x"}, {"annotations", "list", "--count", "2"},
		{"annotations", "show", "s", "--count", "1", "--start", "-1h"}, {"annotations", "frob"},
	} {
		assert.Equal(t, ExitUsage, runCLI(t, srv, "", args...).code, args)
	}
	r := runCLI(t, srv, "", "annotations", "show", "no-such-stream")
	assert.Equal(t, ExitError, r.code)
	assert.Contains(t, r.stderr, "[404]")
}
