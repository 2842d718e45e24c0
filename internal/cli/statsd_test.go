package cli

import (
	"context"
	"flag"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-librato/librato/statsd"
)

// TestStatsdCommand: the command listens on UDP and TCP, and on SIGINT/SIGTERM (its ctx ending)
// flushes what it aggregated, prints the counts and exits cleanly.
func TestStatsdCommand(t *testing.T) {
	srv := newFake(t)
	cmd := &statsdCmd{}
	fs := flag.NewFlagSet("statsd", flag.ContinueOnError)
	cmd.flags(fs)
	pos, err := parseArgs(fs, []string{"--listen", "127.0.0.1:0", "--tcp", "127.0.0.1:0", "--flush", "1h", "--tag", "env=test", "--tag", "host=h1", "--percentiles", "50,99.9"})
	require.NoError(t, err)
	require.NoError(t, cmd.args(pos))
	type addrs struct {
		udp, tcp string
		srv      *statsd.Server
	}
	ready := make(chan addrs, 1)
	cmd.ready = func(udp, tcp string, srv *statsd.Server) { ready <- addrs{udp, tcp, srv} }
	env, out, errOut := testEnv(srv, "", nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- cmd.run(ctx, env) }()
	var a addrs
	select {
	case a = <-ready:
	case err := <-done:
		t.Fatalf("statsd stopped: %v\n%s", err, errOut)
	case <-time.After(10 * time.Second):
		t.Fatal("statsd did not start")
	}

	u, err := net.Dial("udp", a.udp)
	require.NoError(t, err)
	_, err = u.Write([]byte("cli.hits:1|c\ncli.hits:2|c\ncli.lat:10|ms\ncli.lat:20|ms\nnot a line"))
	require.NoError(t, err)
	c, err := net.Dial("tcp", a.tcp)
	require.NoError(t, err)
	_, err = c.Write([]byte("cli.tcp:4|g\n"))
	require.NoError(t, err)
	require.NoError(t, c.Close())
	// Stop once the server has read both, as a person would after sending.
	require.Eventually(t, func() bool { return a.srv.Stats().Lines == 6 }, 5*time.Second, time.Millisecond)
	for _, r := range srv.Requests() {
		assert.NotEqual(t, "POST", r.Method, "nothing is sent before the flush (the start checks the credentials with a GET)")
	}
	cancel() // SIGINT or SIGTERM in the command
	select {
	case err := <-done:
		require.NoError(t, err, errOut.String())
	case <-time.After(10 * time.Second):
		t.Fatal("statsd did not stop")
	}

	pts := srv.Measurements("cli.hits")
	require.Len(t, pts, 1, "the flush at the stop sent what was aggregated")
	assert.Equal(t, 3.0, pts[0].Value)
	assert.Equal(t, map[string]string{"env": "test", "host": "h1"}, pts[0].Tags)
	assert.Len(t, srv.Measurements("cli.lat.50"), 1)
	assert.Len(t, srv.Measurements("cli.lat.99_9"), 1)
	assert.Equal(t, 4.0, srv.Measurements("cli.tcp")[0].Value)
	assert.Contains(t, out.String(), "statsd listening on udp 127.0.0.1:")
	assert.Contains(t, out.String(), "2 packets, 6 lines (1 refused), 5 values; 5 measurements: 5 sent, 0 queued, 0 spooled, 0 dropped")
	assert.Contains(t, errOut.String(), `librato statsd: refused line "not a line"`)
	assertNoSecret(t, out.String()+errOut.String())
}

// TestStatsdRefusedCredentials: a token the API refuses stops the command at the start, exit 3.
func TestStatsdRefusedCredentials(t *testing.T) {
	srv := newFake(t)
	r := runCLIEnv(t, srv, "", map[string]string{"LIBRATO_TOKEN": "not-the-token"}, "statsd", "--listen", "127.0.0.1:0")
	assert.Equal(t, ExitCredentials, r.code, r.stderr)
	assert.Contains(t, r.stderr, "401")
}

func TestStatsdUsage(t *testing.T) {
	for _, args := range [][]string{
		{"statsd", "extra"}, {"statsd", "--flush", "500ms"}, {"statsd", "--percentiles", "0"},
		{"statsd", "--percentiles", "abc"}, {"statsd", "--listen", "", "--tcp", ""}, {"statsd", "--max-series", "0"}, {"statsd", "--max-values", "-5"},
	} {
		r := runCLI(t, nil, "", args...)
		assert.Equal(t, ExitUsage, r.code, "%v: %s", args, r.stderr)
	}
}
