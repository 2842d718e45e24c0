package interop

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The credentials the suite's servers accept (libratotest's defaults).
const (
	user  = "test@example.com"
	token = "libratotest-token"
)

var (
	nodeOnce sync.Once
	nodePath string // node_modules of the pinned packages
	nodeErr  error

	buildOnce sync.Once
	binPath   string // the librato binary under test
	buildErr  error
)

// requireNode returns the node_modules directory of the pinned packages,
// installing them into the cache on first use. Without node the test skips,
// unless CI=true: CI must run the suite.
func requireNode(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("interop: node is not installed, and CI=true requires the interop suite (.ci/run installs nodejs and npm)")
		}
		t.Skip("interop: node is not installed; install nodejs and npm to run the third-party client suite")
	}
	nodeOnce.Do(func() {
		if dir := os.Getenv("LIBRATO_INTEROP_MODULES"); dir != "" {
			nodePath = dir
			return
		}
		var out, errOut bytes.Buffer
		cmd := exec.Command("bash", "install.sh")
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			nodeErr = fmt.Errorf("install.sh: %v\n%s", err, errOut.String())
			return
		}
		nodePath = strings.TrimSpace(out.String())
	})
	require.NoError(t, nodeErr)
	return nodePath
}

// librato returns the path of the librato binary, built once per run.
func librato(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "librato-interop-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "librato")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/go-librato/librato/cmd/librato").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	require.NoError(t, buildErr)
	return binPath
}

// TestMain removes the binary built for the run.
func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

// syncBuffer collects a process's output while tests read it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// process is a long-running child process, stopped at the end of the test.
type process struct {
	cmd            *exec.Cmd
	stdout, stderr *syncBuffer
	done           chan error
}

// start runs name with args until the test ends: then it gets SIGTERM, and
// SIGKILL if it has not exited within 5 seconds.
func start(t *testing.T, env []string, name string, args ...string) *process {
	t.Helper()
	p := &process{stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(name, args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	require.NoError(t, p.cmd.Start())
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
			t.Errorf("%s did not stop on SIGTERM; killed", name)
		}
		if t.Failed() {
			t.Logf("%s stdout (end):\n%s\n%s stderr (end):\n%s", name, tail(p.stdout.String()), name, tail(p.stderr.String()))
		}
	})
	return p
}

// tail returns the last 40 lines of s.
func tail(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(len(lines)-40, 0):], "\n")
}

// waitFor polls cond every 50 ms until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// sandbox is a running `librato serve`.
type sandbox struct {
	url  string
	proc *process
}

// startServe starts `librato serve` on a free loopback port.
func startServe(t *testing.T, args ...string) *sandbox {
	t.Helper()
	p := start(t, nil, librato(t), append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...)
	s := &sandbox{proc: p}
	waitFor(t, 10*time.Second, "librato serve to listen", func() bool {
		sc := bufio.NewScanner(strings.NewReader(p.stdout.String()))
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "fake Librato API listening on "); ok {
				s.url, _, _ = strings.Cut(rest, " ")
				return true
			}
		}
		return false
	})
	return s
}

// get reads path from the REST API into v and returns the status.
func (s *sandbox) get(t *testing.T, path string, v any) int {
	t.Helper()
	return s.do(t, "GET", path, "", v)
}

// do sends one authenticated request and decodes a JSON answer into v (if
// not nil and the status is 2xx).
func (s *sandbox) do(t *testing.T, method, path, body string, v any) int {
	t.Helper()
	req, err := http.NewRequest(method, s.url+path, strings.NewReader(body))
	require.NoError(t, err)
	req.SetBasicAuth(user, token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if v != nil && resp.StatusCode/100 == 2 {
		require.NoError(t, json.Unmarshal(b, v), "%s %s: %s", method, path, b)
	}
	return resp.StatusCode
}

// logCount counts serve's log lines for requests of method to path answered
// with status.
func (s *sandbox) logCount(method, path string, status int) int {
	want := fmt.Sprintf(" %s %s %d ", method, path, status)
	return strings.Count(s.proc.stderr.String(), want)
}

// legacyPoint is a point of GET /v1/metrics/:name.
type legacyPoint struct {
	MeasureTime int64    `json:"measure_time"`
	Value       float64  `json:"value"`
	Count       int64    `json:"count"`
	Sum         *float64 `json:"sum"`
	Min         *float64 `json:"min"`
	Max         *float64 `json:"max"`
	SumSquares  *float64 `json:"sum_squares"`
}

// legacyMetric is the answer of GET /v1/metrics/:name with a time range.
type legacyMetric struct {
	Name         string                   `json:"name"`
	Type         string                   `json:"type"`
	Measurements map[string][]legacyPoint `json:"measurements"`
}

// legacy reads the last 10 minutes of a source-based metric at resolution 1.
func (s *sandbox) legacy(t *testing.T, name string) (legacyMetric, int) {
	t.Helper()
	var m legacyMetric
	code := s.get(t, fmt.Sprintf("/v1/metrics/%s?start_time=%d&resolution=1", name, time.Now().Add(-10*time.Minute).Unix()), &m)
	return m, code
}

// taggedPoint is a point of GET /v1/measurements/:name?summary_function=all.
type taggedPoint struct {
	Time   int64   `json:"time"`
	Value  float64 `json:"value"`
	Count  int64   `json:"count"`
	Sum    float64 `json:"sum"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
	Last   float64 `json:"last"`
	Stddev float64 `json:"stddev"`
}

// taggedSeries is one series of GET /v1/measurements/:name.
type taggedSeries struct {
	Tags         map[string]string `json:"tags"`
	Measurements []taggedPoint     `json:"measurements"`
}

// tagged reads the last 10 minutes of a tagged metric at resolution 1 with
// every summary field.
func (s *sandbox) tagged(t *testing.T, name string) []taggedSeries {
	t.Helper()
	var out struct {
		Series []taggedSeries `json:"series"`
	}
	code := s.get(t, fmt.Sprintf("/v1/measurements/%s?start_time=%d&resolution=1&summary_function=all", name, time.Now().Add(-10*time.Minute).Unix()), &out)
	if code == http.StatusNotFound {
		return nil
	}
	require.Equal(t, http.StatusOK, code, name)
	return out.Series
}

// freePort returns a loopback port that was free a moment ago for network
// ("tcp" or "udp").
func freePort(t *testing.T, network string) int {
	t.Helper()
	if network == "udp" {
		c, err := net.ListenPacket("udp", "127.0.0.1:0")
		require.NoError(t, err)
		defer c.Close()
		return c.LocalAddr().(*net.UDPAddr).Port
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// runNode runs a node script to completion (at most 30 s) with NODE_PATH set
// to the pinned packages and returns its last stdout line decoded.
func runNode(t *testing.T, modules string, env []string, args ...string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", args...)
	cmd.Env = append(append(os.Environ(), "NODE_PATH="+modules), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, err, "node %v (did it exit by itself?)\nstdout:\n%s\nstderr:\n%s", args, stdout.String(), stderr.String())
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	var out map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &out), "node stdout:\n%s\nstderr:\n%s", stdout.String(), stderr.String())
	out["stderr"] = stderr.String()
	return out
}
