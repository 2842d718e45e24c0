package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/go-librato/librato/libratotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPipeMalformedLines(t *testing.T) {
	srv := newFake(t)
	input := strings.Join([]string{
		"# a comment, then a blank line",
		"",
		"app.requests 42",
		"app.requests",              // 4: no value
		"app.errors abc",            // 5: bad value
		"disk.free 12.5 1768478100", // explicit time
		"api.latency 87 region=eu",  // tagged
		"api.latency 91 1768478160 region=us host=b",
		"bad$name 1",     // 9: invalid name
		"cpu 1 region=",  // 10: bad tag
		"cpu 1 notatime", // 11: bad time
		"cpu NaN",        // 12: NaN
		"app.requests 43",
	}, "\n") + "\n"
	r := runCLI(t, srv, input, "pipe", "--source", "pipe-test")
	assert.Equal(t, ExitError, r.code, "rejected lines make the exit status 1")
	golden(t, srv, "pipe-malformed", r.stderr)
	assert.Empty(t, r.stdout)

	reqs := srv.Measurements("app.requests")
	require.Len(t, reqs, 1, "both app.requests lines share the fixed clock's minute: one point with count 2")
	assert.Equal(t, int64(2), reqs[0].Count)
	assert.Equal(t, "pipe-test", reqs[0].Source)
	disk := srv.Measurements("disk.free")
	require.Len(t, disk, 1)
	assert.Equal(t, time.Unix(1768478100, 0).UTC(), disk[0].Time)
	lat := srv.Measurements("api.latency")
	require.Len(t, lat, 2)
	assert.Empty(t, srv.Measurements("app.errors"))
	assert.Empty(t, srv.Measurements("cpu"))
}

func TestPipeJSON(t *testing.T) {
	srv := newFake(t)
	input := `{"name":"jobs.done","value":3,"type":"counter","time":1768478100}
{"name":"temp","value":21.5,"tags":{"room":"kitchen"},"time":"2026-01-15T11:58:00Z"}
{"name":"temp","valeu":21.5}
{"name":"temp"}
not json
{"name":"temp","value":1,"type":"histogram"}
{"name":"temp","value":"abc"}
[1, 2]
{"name":"temp","value":1,
{"name":"temp","value":22,"unit":"C","host":"a"}
`
	r := runCLI(t, srv, input, "pipe", "--format", "json")
	assert.Equal(t, ExitError, r.code)
	golden(t, srv, "pipe-json", r.stderr)
	m, ok := srv.Metric("jobs.done")
	require.True(t, ok)
	assert.Equal(t, "counter", m.Type)
	temp := srv.Measurements("temp")
	require.Len(t, temp, 2, "the line with unknown fields is sent, with a warning")
	assert.ElementsMatch(t, []map[string]string{{"room": "kitchen"}, nil}, []map[string]string{temp[0].Tags, temp[1].Tags})
}

func TestPipeAllGood(t *testing.T) {
	srv := newFake(t)
	var in strings.Builder
	for i := range 25 {
		in.WriteString("load 1 host=h")
		in.WriteByte(byte('a' + i))
		in.WriteByte('\n')
	}
	r := runCLI(t, srv, in.String(), "pipe", "--batch", "10", "--tag", "env=test")
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Equal(t, "pipe: end of input: 25 lines read, 25 measurements sent, 0 lines rejected\n", r.stderr)
	pts := srv.Measurements("load")
	require.Len(t, pts, 25)
	assert.Equal(t, "test", pts[0].Tags["env"])
}

// TestPipeInterrupted cancels the command (as SIGINT does) while stdin is still open: what was
// read is flushed, and the command ends.
func TestPipeInterrupted(t *testing.T) {
	srv := newFake(t)
	pr, pw := io.Pipe()
	defer pw.Close()
	env, _, errOut := testEnv(srv, "", nil)
	env.Stdin = pr
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, env, []string{"pipe", "--interval", "1h"}) }()
	_, err := io.WriteString(pw, "app.requests 1\napp.errors 2\n")
	require.NoError(t, err)
	// The lines are read once the pipe write returns; give the reader a moment to queue them.
	require.Eventually(t, func() bool {
		_, err := io.WriteString(pw, "# sync\n") // returns once the previous lines were consumed
		return err == nil
	}, 5*time.Second, 10*time.Millisecond)
	cancel()
	select {
	case code := <-done:
		assert.Equal(t, ExitOK, code, errOut.String())
	case <-time.After(10 * time.Second):
		t.Fatal("pipe did not stop on cancel")
	}
	// The "# sync" lines may or may not have been read before the cancel.
	assert.Regexp(t, `^pipe: interrupted: \d+ lines read, 2 measurements sent, 0 lines rejected\n$`, errOut.String())
	assert.Len(t, srv.Measurements("app.requests"), 1)
	assert.Len(t, srv.Measurements("app.errors"), 1)
}

// TestPipeAPIRejects checks that measurements the API refuses are reported and make the exit
// status 1, while the rest is delivered.
func TestPipeAPIRejects(t *testing.T) {
	srv := newFake(t)
	r := runCLI(t, srv, "fresh 1\nstale 2 1700000000\nfresh 3\n", "pipe")
	assert.Equal(t, ExitError, r.code)
	assert.Contains(t, r.stderr, "pipe: 1 measurement not sent (line 2): 1 measurement rejected (stale): POST "+srv.URL+"/v1/metrics: [400] params: measure_time: is too far in the past")
	assert.Contains(t, r.stderr, "3 lines read, 2 measurements sent, 0 lines rejected, 1 measurement not sent\n")
	assert.Len(t, srv.Measurements("fresh"), 1)
	assert.Empty(t, srv.Measurements("stale"))
}

// TestPipeWaitsInsteadOfDropping: a million lines into the fake API. pipe reads them far faster
// than the API takes them, so the queue fills (MaxPending), and pipe waits for room: every line
// arrives. (Before AddWait, 59 % of such a run was dropped as "queue full".)
func TestPipeWaitsInsteadOfDropping(t *testing.T) {
	if testing.Short() {
		t.Skip("a million lines: skipped with -short")
	}
	srv := newFake(t, libratotest.WithRequestLog(0))
	lines, series := 1_000_000, 10
	if raceEnabled {
		lines = 200_000 // still twice DefaultMaxPending
	}
	var in strings.Builder
	in.Grow(lines * 16)
	for i := range lines {
		fmt.Fprintf(&in, "load %d host=h%d\n", i%7, i%series)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	env, _, errOut := testEnv(srv, in.String(), nil)
	code := run(ctx, env, []string{"pipe", "--batch", "3000"})
	r := result{stderr: errOut.String(), code: code}
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Equal(t, fmt.Sprintf("pipe: end of input: %d lines read, %d measurements sent, 0 lines rejected\n", lines, lines), r.stderr)
	var got int64
	for _, p := range srv.Measurements("load") {
		got += p.Count
	}
	assert.Equal(t, int64(lines), got, "every line arrived")
}
