//go:build unix

package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-librato/librato/libratotest"
)

// buildBinary builds the librato command once for the process-level tests below.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "librato")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, string(out))
	return bin
}

// TestProcess checks what only a real process shows: exit codes, and that SIGTERM makes
// `librato pipe` flush what it read before exiting.
func TestProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := buildBinary(t)
	srv := libratotest.NewServer(libratotest.WithCredentials("me@example.com", "proc-token-1234"))
	defer srv.Close()
	env := append(os.Environ(), "LIBRATO_USER=me@example.com", "LIBRATO_TOKEN=proc-token-1234", "LIBRATO_URL="+srv.URL)

	exitCode := func(err error) int {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		require.NoError(t, err)
		return 0
	}
	for _, tt := range []struct {
		args []string
		code int
	}{
		{[]string{"version"}, 0},
		{[]string{"submit", "proc.metric", "1"}, 0},
		{[]string{"submit", "proc.metric"}, 2},
		{[]string{"get", "no.such.metric"}, 1},
		{[]string{"annotate", "ci", "--title", "t", "--", "sh", "-c", "exit 7"}, 7},
	} {
		cmd := exec.Command(bin, tt.args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		assert.Equal(t, tt.code, exitCode(err), "%v: %s", tt.args, out)
		assert.NotContains(t, string(out), "proc-token-1234")
	}

	// pipe: SIGTERM while stdin is still open ends it cleanly, and whatever it read is sent.
	// --batch 2 sends the first two lines as soon as they are read, which tells the test that
	// reading has begun; the third line is then (almost always) sent by the flush at SIGTERM.
	cmd := exec.Command(bin, "pipe", "--interval", "1h", "--batch", "2")
	cmd.Env = env
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	_, err = io.WriteString(stdin, "proc.piped 1\nproc.piped 2\n")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(srv.Measurements("proc.piped")) == 1 }, 10*time.Second, 10*time.Millisecond)
	_, err = io.WriteString(stdin, "proc.last 3\n")
	require.NoError(t, err)
	time.Sleep(100 * time.Millisecond)
	require.NoError(t, cmd.Process.Signal(syscall.SIGTERM))
	err = cmd.Wait()
	assert.Equal(t, 0, exitCode(err), stderr.String())
	m := regexp.MustCompile(`pipe: interrupted: (\d) lines read, (\d) measurements sent, 0 lines rejected`).FindStringSubmatch(stderr.String())
	require.NotNil(t, m, stderr.String())
	assert.Equal(t, m[1], m[2], "every line read was sent")
	if m[1] == "3" {
		assert.Len(t, srv.Measurements("proc.last"), 1, "flushed at SIGTERM")
	}
}
