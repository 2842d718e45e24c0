package cli

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe for a server goroutine writing while the test reads.
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

// serving is a `librato serve` running in the test.
type serving struct {
	url            string
	stdout, stderr *syncBuffer
	stop           func() error
}

// startServe runs the serve command with args until stop is called.
func startServe(t *testing.T, vars map[string]string, args ...string) *serving {
	t.Helper()
	return startServeCmd(t, &serveCmd{}, vars, args...)
}

func startServeCmd(t *testing.T, cmd *serveCmd, vars map[string]string, args ...string) *serving {
	t.Helper()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cmd.flags(fs)
	pos, err := parseArgs(fs, args)
	require.NoError(t, err)
	require.NoError(t, cmd.args(pos))
	ready := make(chan string, 1)
	cmd.ready = func(url string) { ready <- url }
	s := &serving{stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	env := &Env{Stdout: s.stdout, Stderr: s.stderr, Getenv: func(k string) string { return vars[k] }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cmd.run(ctx, env) }()
	select {
	case s.url = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve stopped before listening: %v\n%s", err, s.stderr)
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatal("serve did not start")
	}
	var once sync.Once
	var stopErr error
	s.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(10 * time.Second):
				t.Error("serve did not stop")
			}
		})
		return stopErr
	}
	t.Cleanup(func() { _ = s.stop() })
	return s
}

func TestServeRoundTripWithData(t *testing.T) {
	data := filepath.Join(t.TempDir(), "dev.db")
	vars := map[string]string{"LIBRATO_USER": testUser, "LIBRATO_TOKEN": testToken}
	s := startServe(t, vars, "--addr", "127.0.0.1:0", "--data", data, "--max-age", "0")
	assert.True(t, strings.HasPrefix(s.url, "http://127.0.0.1:"), s.url)
	client := map[string]string{"LIBRATO_URL": s.url}

	r := runCLIEnv(t, nil, "", client, "submit", "dev.metric", "3", "--source", "laptop", "--time", "-2m")
	require.Equal(t, ExitOK, r.code, r.stderr)
	r = runCLIEnv(t, nil, "", client, "submit", "dev.metric", "5", "--source", "laptop", "--time", "-1m")
	require.Equal(t, ExitOK, r.code, r.stderr)
	require.NoError(t, s.stop())

	out := s.stdout.String() + s.stderr.String()
	assertNoSecret(t, out)
	assert.Contains(t, s.stdout.String(), "user: "+testUser)
	assert.Contains(t, s.stdout.String(), "data saved to "+data)
	logLines := strings.Split(strings.TrimSpace(s.stderr.String()), "\n")
	assert.Len(t, logLines, 2, "one log line per request")
	assert.Contains(t, logLines[0], "POST /v1/metrics 200")
	assert.Contains(t, logLines[0], "user="+testUser)

	// A new server on the same file serves the same data.
	s2 := startServe(t, vars, "--addr", "127.0.0.1:0", "--data", data, "--max-age", "0")
	assert.Contains(t, s2.stdout.String(), "loaded ")
	r = runCLIEnv(t, nil, "", map[string]string{"LIBRATO_URL": s2.url}, "get", "dev.metric", "--start", "-10m", "--output", "csv")
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Equal(t, "name,source,tags,time,unix,value\n"+
		"dev.metric,laptop,,2026-01-15T11:58:00Z,1768478280,3\n"+
		"dev.metric,laptop,,2026-01-15T11:59:00Z,1768478340,5\n", r.stdout)

	// The file is locked while a server uses it.
	defer func(d time.Duration) { storeLockTimeout = d }(storeLockTimeout)
	storeLockTimeout = 50 * time.Millisecond
	cmd := &serveCmd{addr: "127.0.0.1:0", data: data, pageSize: 100}
	env, _, _ := testEnv(nil, "", nil)
	err := cmd.run(context.Background(), env)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "in use")
	require.NoError(t, s2.stop())
}

func TestServeCredentials(t *testing.T) {
	t.Run("defaults on loopback", func(t *testing.T) {
		s := startServe(t, nil, "--addr", "127.0.0.1:0")
		assert.Contains(t, s.stdout.String(), "user: test@example.com")
		assert.NotContains(t, s.stdout.String(), "libratotest-token")
		r := runCLIEnv(t, nil, "", map[string]string{"LIBRATO_URL": s.url, "LIBRATO_USER": "test@example.com", "LIBRATO_TOKEN": "libratotest-token"}, "list")
		assert.Equal(t, ExitOK, r.code, r.stderr)
		require.NoError(t, s.stop())
	})
	t.Run("wrong token refused", func(t *testing.T) {
		s := startServe(t, map[string]string{"LIBRATO_USER": testUser, "LIBRATO_TOKEN": testToken}, "--addr", "127.0.0.1:0")
		r := runCLIEnv(t, nil, "", map[string]string{"LIBRATO_URL": s.url, "LIBRATO_TOKEN": "not-the-token"}, "list")
		assert.Equal(t, ExitError, r.code)
		assert.Contains(t, r.stderr, "401")
		require.NoError(t, s.stop())
		assert.Contains(t, s.stderr.String(), " 401 ")
	})
	t.Run("defaults refused off loopback", func(t *testing.T) {
		cmd := &serveCmd{addr: "0.0.0.0:0", pageSize: 100}
		env, _, _ := testEnv(nil, "", map[string]string{"LIBRATO_USER": "", "LIBRATO_TOKEN": ""})
		err := cmd.run(context.Background(), env)
		require.Error(t, err)
		assert.Equal(t, ExitUsage, exitCode(err))
		assert.Contains(t, err.Error(), "loopback")
	})
}

// TestServeSaveEveryIsGone: the old flag is refused with a message that says why, and a bad
// --max-series is a usage error.
func TestServeSaveEveryIsGone(t *testing.T) {
	for _, args := range [][]string{{"--save-every", "5s"}, {"--max-series", "-1"}} {
		cmd := &serveCmd{}
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		cmd.flags(fs)
		pos, err := parseArgs(fs, args)
		require.NoError(t, err)
		err = cmd.args(pos)
		require.Error(t, err, args)
		assert.Equal(t, ExitUsage, exitCode(err))
	}
}

// TestServeMaxSeries: --max-series reaches the server: past it, a new series is a 400.
func TestServeMaxSeries(t *testing.T) {
	vars := map[string]string{"LIBRATO_USER": testUser, "LIBRATO_TOKEN": testToken}
	s := startServe(t, vars, "--addr", "127.0.0.1:0", "--max-series", "1", "--max-age", "0")
	client := map[string]string{"LIBRATO_URL": s.url}
	r := runCLIEnv(t, nil, "", client, "submit", "one.metric", "1")
	require.Equal(t, ExitOK, r.code, r.stderr)
	r = runCLIEnv(t, nil, "", client, "submit", "two.metric", "1")
	assert.Equal(t, ExitError, r.code)
	assert.Contains(t, r.stderr, "would exceed the limit of 1 series")
	r = runCLIEnv(t, nil, "", client, "submit", "one.metric", "2", "--time", "-1m")
	assert.Equal(t, ExitOK, r.code, r.stderr)
	require.NoError(t, s.stop())
}

// TestServeWebView: serve answers a browser at / with the web view, behind the same
// credentials as the API (a Basic challenge without them), and the API next to it is unchanged.
func TestServeWebView(t *testing.T) {
	s := startServe(t, map[string]string{"LIBRATO_USER": testUser, "LIBRATO_TOKEN": testToken}, "--addr", "127.0.0.1:0")
	assert.Contains(t, s.stdout.String(), "web view: open "+s.url+"/ in a browser")

	get := func(path string, auth bool) *http.Response {
		req, err := http.NewRequest(http.MethodGet, s.url+path, nil)
		require.NoError(t, err)
		if auth {
			req.SetBasicAuth(testUser, testToken)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	resp := get("/", false)
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, resp.Header.Get("WWW-Authenticate"), "Basic realm=")
	resp = get("/", true)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Contains(t, string(body), `<script src="/ui/app.js"></script>`)
	assert.Equal(t, http.StatusOK, get("/ui/app.js", true).StatusCode)
	assert.Equal(t, http.StatusOK, get("/v1/metrics", true).StatusCode)
	assert.Equal(t, http.StatusNotFound, get("/elsewhere", true).StatusCode)
	require.NoError(t, s.stop())
	assert.Contains(t, s.stderr.String(), "GET / 401 ")
	assert.Contains(t, s.stderr.String(), "GET /ui/app.js 200 ")
}
