package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The crash test runs `librato serve` in a child process: this test binary, re-executed with
// serveChildEnv set, is the librato command.
const serveChildEnv = "LIBRATO_TEST_SERVE_CHILD"

func init() {
	if os.Getenv(serveChildEnv) == "1" {
		os.Exit(Main(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv))
	}
}

// child is a `librato serve --data` process.
type child struct {
	cmd    *exec.Cmd
	url    string
	stderr *syncBuffer
}

func startChild(t *testing.T, data string, args ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve", "--addr", "127.0.0.1:0", "--data", data, "--max-age", "0"}, args...)...)
	cmd.Env = append(os.Environ(), serveChildEnv+"=1", "LIBRATO_USER="+testUser, "LIBRATO_TOKEN="+testToken)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	require.NoError(t, cmd.Start())
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), "fake Librato API listening on "); ok {
				urls <- strings.Fields(rest)[0]
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case u := <-urls:
		return &child{cmd: cmd, url: u, stderr: stderr}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("serve did not start: %s", stderr.String())
	}
	return nil
}

func (c *child) kill() {
	_ = c.cmd.Process.Kill() // SIGKILL
	_ = c.cmd.Wait()
}

// crashWriter posts measurements of its own series, one new time each, and remembers the times
// the server answered 2xx.
type crashWriter struct {
	name  string
	next  int64           // the next time offset to post
	acked []int64         // time offsets answered 2xx
	waits []time.Duration // how long each 2xx answer took
}

const crashBase = 1_700_000_000 // measurement times are crashBase + offset

func (w *crashWriter) run(ctx context.Context, url string) {
	client := &http.Client{Timeout: 5 * time.Second}
	for ctx.Err() == nil {
		n := 1 + rand.IntN(5)
		var b strings.Builder
		fmt.Fprintf(&b, `{"tags":{"writer":%q},"measurements":[`, w.name)
		offs := make([]int64, n)
		for i := range offs {
			offs[i] = w.next
			w.next++
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"name":"crash.test","time":%d,"value":%d}`, crashBase+offs[i], offs[i])
		}
		b.WriteString("]}")
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url+"/v1/measurements", strings.NewReader(b.String()))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(testUser, testToken)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			continue // the server is gone (or going): not acknowledged
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 == 2 {
			w.acked = append(w.acked, offs...)
			w.waits = append(w.waits, time.Since(start))
		}
	}
}

// stored returns the time offsets the server has for the writer's series.
func stored(t *testing.T, url, writer string, upTo int64) map[int64]bool {
	t.Helper()
	q := fmt.Sprintf("%s/v1/measurements/crash.test?resolution=1&start_time=%d&end_time=%d&tags[writer]=%s",
		url, crashBase, crashBase+upTo+1, writer)
	req, err := http.NewRequest(http.MethodGet, q, nil)
	require.NoError(t, err)
	req.SetBasicAuth(testUser, testToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotFound {
		return map[int64]bool{}
	}
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var page struct {
		Series []struct {
			Measurements []struct {
				Time  int64   `json:"time"`
				Value float64 `json:"value"`
			} `json:"measurements"`
		} `json:"series"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&page))
	out := map[int64]bool{}
	for _, s := range page.Series {
		for _, m := range s.Measurements {
			off := m.Time - crashBase
			require.Equal(t, float64(off), m.Value, "the value stored at offset %d", off)
			out[off] = true
		}
	}
	return out
}

// TestServeDataSurvivesKill9: a `serve --data` killed with SIGKILL at random moments under
// concurrent writers, 12 times, has every measurement it answered 2xx after each restart, and
// its file always opens.
func TestServeDataSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills a server 12 times")
	}
	data := filepath.Join(t.TempDir(), "crash.db")
	writers := make([]*crashWriter, 4)
	for i := range writers {
		writers[i] = &crashWriter{name: fmt.Sprintf("w%d", i)}
	}
	deadline := time.Now().Add(45 * time.Second)
	const kills = 12
	total := 0
	for round := 0; round < kills && time.Now().Before(deadline); round++ {
		c := startChild(t, data)
		for _, w := range writers {
			have := stored(t, c.url, w.name, w.next)
			for _, off := range w.acked {
				if !have[off] {
					c.kill()
					t.Fatalf("round %d: %s: measurement at offset %d was answered 2xx but is gone after kill -9", round, w.name, off)
				}
			}
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for _, w := range writers {
			wg.Go(func() { w.run(ctx, c.url) })
		}
		time.Sleep(time.Duration(20+rand.IntN(400)) * time.Millisecond)
		c.kill()
		cancel()
		wg.Wait()
	}
	c := startChild(t, data)
	defer c.kill()
	var waits []time.Duration
	for _, w := range writers {
		have := stored(t, c.url, w.name, w.next)
		missing := slices.DeleteFunc(slices.Clone(w.acked), func(off int64) bool { return have[off] })
		assert.Empty(t, missing, "%s: answered 2xx, gone after kill -9", w.name)
		total += len(w.acked)
		waits = append(waits, w.waits...)
	}
	assert.Greater(t, total, 100, "the writers got answers: the check is not vacuous")
	slices.Sort(waits)
	t.Logf("%d kills, %d measurements in %d POSTs answered 2xx, all there after restart; answer time p50 %v, p99 %v, max %v",
		kills, total, len(waits), waits[len(waits)/2], waits[len(waits)*99/100], waits[len(waits)-1])
}

// TestServeSaysWhenReplayDiffers: changes journaled under no series limit and replayed, after a
// kill -9, under --max-series 1 are refused this time; the server says so at start instead of
// losing them silently.
func TestServeSaysWhenReplayDiffers(t *testing.T) {
	data := filepath.Join(t.TempDir(), "dev.db")
	c := startChild(t, data, "--max-series", "0")
	for _, name := range []string{"a.metric", "b.metric"} {
		req, err := http.NewRequest(http.MethodPost, c.url+"/v1/metrics", strings.NewReader(`{"gauges":[{"name":"`+name+`","value":1}]}`))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(testUser, testToken)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
	}
	c.kill() // the changes stay in the journal
	c = startChild(t, data, "--max-series", "1")
	defer c.kill()
	require.Eventually(t, func() bool { return strings.Contains(c.stderr.String(), "answered differently") }, 5*time.Second, 10*time.Millisecond)
	assert.Contains(t, c.stderr.String(), "1 saved changes were answered differently this time")
}
