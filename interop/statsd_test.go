package interop

import (
	"encoding/json"
	"fmt"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// statsd 0.9.0 with statsd-librato-backend 2.0.16 (lib/librato.js): every
// flush (flushInterval) posts one {"time","tags","measurements"} body to
// /v1/measurements: "tags" are the configured tags plus host; every
// measurement carries its own "tags", {} unless the stat name has
// "#k=v,k2=v2" (which then replace the global ones: the Tagged submit rule of testdata/README.md). Counters
// are sent as gauges of the flush's total (countersAsGauges, default true),
// a sample rate @r counting each increment 1/r times; gauges as their value;
// sets as their number of distinct members; timers as
// {count,sum,min,max,stddev_m2} over all values (stddev_m2 holding their
// sample standard deviation) and again per percentThreshold p over the
// lowest round(p% of n) values, named name.p. A 4xx JSON body with
// params.type "'NAME' is a X, but was submitted as different type" puts NAME
// on a stop-list; a 5xx with a body, or a request error, is retried once
// after retryDelaySecs.

// statsdDaemon is a running statsd with the Librato backend.
type statsdDaemon struct {
	addr string // UDP address
	proc *process
}

// startStatsd starts statsd with the Librato backend pointed at s, flushing
// every second.
func startStatsd(t *testing.T, s *sandbox) *statsdDaemon {
	t.Helper()
	modules := requireNode(t)
	udp := freePort(t, "udp")
	config := map[string]any{
		"address": "127.0.0.1", "port": udp,
		"mgmt_address": "127.0.0.1", "mgmt_port": freePort(t, "tcp"),
		"flushInterval": 1000, "backends": []string{"statsd-librato-backend"},
		// Per-stat tags need the raw names (backend README, "Tags").
		"keyNameSanitize":  false,
		"deleteIdleStats":  true,
		"percentThreshold": []int{90, 50},
		"librato": map[string]any{
			"email": user, "token": token,
			"api":  s.url, // lib/librato.js: the API's scheme, host and port
			"tags": map[string]string{"env": "ci"}, "host": "ci-host",
			"retryDelaySecs": 1, "postTimeoutSecs": 2,
		},
	}
	b, err := json.Marshal(config)
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "statsd.json")
	require.NoError(t, os.WriteFile(file, b, 0o600))
	p := start(t, []string{"NODE_PATH=" + modules}, "node", filepath.Join(modules, "statsd", "bin", "statsd"), file)
	d := &statsdDaemon{addr: fmt.Sprintf("127.0.0.1:%d", udp), proc: p}
	// "server is up" comes before the UDP socket is bound: ready is when a
	// probe stat shows in the management interface's counters. Its statsd.
	// prefix keeps it out of the backend (skipInternalMetrics).
	mgmt := fmt.Sprintf("127.0.0.1:%d", config["mgmt_port"])
	waitFor(t, 10*time.Second, "statsd to take stats", func() bool {
		d.send(t, "statsd.interop_probe:1|c")
		c, err := net.DialTimeout("tcp", mgmt, time.Second)
		if err != nil {
			return false
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Write([]byte("counters\n")); err != nil {
			return false
		}
		// The answer ends with END; statsd keeps the connection open.
		var answer []byte
		buf := make([]byte, 4096)
		for !strings.Contains(string(answer), "END") && len(answer) < 1<<16 {
			n, err := c.Read(buf)
			answer = append(answer, buf[:n]...)
			if err != nil {
				break
			}
		}
		return strings.Contains(string(answer), "statsd.interop_probe")
	})
	return d
}

// send sends the stat lines in one datagram, so that one flush holds them all.
func (d *statsdDaemon) send(t *testing.T, lines ...string) {
	t.Helper()
	c, err := net.Dial("udp", d.addr)
	require.NoError(t, err)
	defer c.Close()
	_, err = c.Write([]byte(strings.Join(lines, "\n")))
	require.NoError(t, err)
}

// onePoint waits for name to have series and returns them, requiring one
// point each.
func onePoint(t *testing.T, s *sandbox, name string) map[string]taggedPoint {
	t.Helper()
	var series []taggedSeries
	waitFor(t, 10*time.Second, name+" to arrive", func() bool {
		series = s.tagged(t, name)
		return len(series) > 0
	})
	out := map[string]taggedPoint{}
	for _, se := range series {
		require.Len(t, se.Measurements, 1, "%s %v: one flush, one point", name, se.Tags)
		out[tagKey(se.Tags)] = se.Measurements[0]
	}
	return out
}

// tagKey writes tags as sorted k=v pairs joined by commas.
func tagKey(tags map[string]string) string {
	var kv []string
	for k, v := range tags {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

// timerStats is what the backend sends for a timer's sorted values at a
// percentile: count, sum, min, max and the sample standard deviation of the
// lowest round(pct% of n) values.
func timerStats(values []float64, pct float64) taggedPoint {
	n := len(values) - int(math.Round((100-pct)/100*float64(len(values))))
	v := values[:n]
	p := taggedPoint{Count: int64(n), Min: v[0], Max: v[n-1]}
	for _, x := range v {
		p.Sum += x
	}
	if n > 1 {
		mean, ss := p.Sum/float64(n), 0.0
		for _, x := range v {
			ss += (x - mean) * (x - mean)
		}
		p.Stddev = math.Sqrt(ss / float64(n-1))
	}
	return p
}

const globalTags = "env=ci,host=ci-host"

func TestStatsdStats(t *testing.T) {
	requireNode(t)
	s := startServe(t)
	d := startStatsd(t, s)
	var timer []string
	var values []float64
	for i := 10; i >= 1; i-- { // out of order: statsd sorts
		timer = append(timer, fmt.Sprintf("sd.lat:%d|ms", i))
		values = append(values, float64(11-i))
	}
	d.send(t, append(timer,
		"sd.hits:1|c|@0.5", "sd.hits:1|c|@0.5", "sd.hits:1|c|@0.5", "sd.hits:4|c", // 3 x 1/0.5 + 4
		"sd.temp:40|g", "sd.temp:+5|g", "sd.temp:-2|g", // set, then deltas
		"sd.users:alice|s", "sd.users:bob|s", "sd.users:alice|s", "sd.users:carol|s",
		"sd.req#route=login,code=200:1|c", "sd.req#route=home:2|c",
		"sd.tlat#route=login:7|ms",
	)...)

	hits := onePoint(t, s, "sd.hits")
	assert.Equal(t, 10.0, hits[globalTags].Value, "an empty per-stat tags map takes the global tags")
	assert.Equal(t, 43.0, onePoint(t, s, "sd.temp")[globalTags].Value)
	assert.Equal(t, 3.0, onePoint(t, s, "sd.users")[globalTags].Value, "distinct members")

	// Per-stat tags replace the global ones.
	req := onePoint(t, s, "sd.req")
	assert.Len(t, req, 2)
	assert.Equal(t, 1.0, req["code=200,route=login"].Value)
	assert.Equal(t, 2.0, req["route=home"].Value)

	for _, tt := range []struct {
		name string
		pct  float64
	}{{"sd.lat", 100}, {"sd.lat.90", 90}, {"sd.lat.50", 50}} {
		want := timerStats(values, tt.pct)
		got := onePoint(t, s, tt.name)[globalTags]
		assert.Equal(t, want.Count, got.Count, tt.name)
		assert.Equal(t, want.Sum, got.Sum, tt.name)
		assert.Equal(t, want.Min, got.Min, tt.name)
		assert.Equal(t, want.Max, got.Max, tt.name)
		assert.InDelta(t, want.Sum/float64(want.Count), got.Value, 1e-9, tt.name)
		assert.InDelta(t, want.Stddev, got.Stddev, 1e-9, "%s: stddev_m2 read as the standard deviation", tt.name)
	}
	// A tagged timer's percentile suffix goes on the name, before the tags.
	// Of one value, the 90th percentile keeps round(0.9) = 1 value, the 50th
	// round(0.5) = 1 less than all, none: it is not sent.
	for _, name := range []string{"sd.tlat", "sd.tlat.90"} {
		p := onePoint(t, s, name)["route=login"]
		assert.Equal(t, int64(1), p.Count, name)
		assert.Equal(t, 7.0, p.Sum, name)
	}
	assert.Empty(t, s.tagged(t, "sd.tlat.50"))
	assert.Zero(t, s.logCount("POST", "/v1/measurements", 400), "nothing was refused")
}

func TestStatsdTypeConflictStopList(t *testing.T) {
	requireNode(t)
	s := startServe(t)
	// sd.broken exists as a counter (a legacy counter post), so a gauge of that
	// name is a type conflict.
	require.Equal(t, http.StatusOK, s.do(t, "POST", "/v1/metrics", `{"counters":[{"name":"sd.broken","value":1}]}`, nil))
	d := startStatsd(t, s)

	d.send(t, "sd.broken:1|g", "sd.ok:5|g")
	waitFor(t, 10*time.Second, "the refused flush", func() bool { return s.logCount("POST", "/v1/measurements", 400) == 1 })
	// The backend read the 400 and stop-listed sd.broken: the next flush
	// carries sd.ok alone and is accepted.
	d.send(t, "sd.broken:2|g", "sd.ok:6|g")
	ok := onePoint(t, s, "sd.ok")
	assert.Equal(t, 6.0, ok[globalTags].Value, "the refused post stored nothing, not even sd.ok")
	// A flush of sd.broken alone sends nothing at all.
	posts := s.logCount("POST", "/v1/measurements", 202)
	d.send(t, "sd.broken:3|g")
	time.Sleep(2500 * time.Millisecond) // two flushes
	assert.Equal(t, posts, s.logCount("POST", "/v1/measurements", 202), "nothing more was posted")
	assert.Equal(t, 1, s.logCount("POST", "/v1/measurements", 400), "never refused again")
	assert.Empty(t, s.tagged(t, "sd.broken"), "no gauge series")
}

func TestStatsdServerErrors(t *testing.T) {
	requireNode(t)
	s := startServe(t)
	d := startStatsd(t, s)

	// One 503: the backend retries once, retryDelaySecs (1 s) later, and the
	// flush arrives once.
	require.Equal(t, http.StatusCreated, s.do(t, "POST", "/admin/faults", `{"status":503,"count":1,"method":"POST","path":"/v1/measurements"}`, nil))
	d.send(t, "sd.retry:7|c")
	p := onePoint(t, s, "sd.retry")[globalTags]
	assert.Equal(t, 7.0, p.Value)
	assert.Equal(t, int64(1), p.Count, "stored once")
	assert.Equal(t, 1, s.logCount("POST", "/v1/measurements", 503))

	// A dropped connection is a request error: retried once too.
	require.Equal(t, http.StatusCreated, s.do(t, "POST", "/admin/faults", `{"drop":true,"method":"POST","path":"/v1/measurements"}`, nil))
	d.send(t, "sd.dropped:3|c")
	p = onePoint(t, s, "sd.dropped")[globalTags]
	assert.Equal(t, 3.0, p.Value)
	assert.Equal(t, int64(1), p.Count, "stored once")
	assert.Equal(t, 1, strings.Count(s.proc.stderr.String(), " POST /v1/measurements dropped "))

	// Two 503s in a row: it retries only once, so that flush is lost.
	require.Equal(t, http.StatusCreated, s.do(t, "POST", "/admin/faults", `{"status":503,"count":2,"method":"POST","path":"/v1/measurements"}`, nil))
	d.send(t, "sd.lost:1|c")
	waitFor(t, 10*time.Second, "the retry", func() bool { return s.logCount("POST", "/v1/measurements", 503) == 3 })
	// Later flushes go through again.
	d.send(t, "sd.after:2|c")
	assert.Equal(t, 2.0, onePoint(t, s, "sd.after")[globalTags].Value)
	assert.Empty(t, s.tagged(t, "sd.lost"), "the client gave up after one retry")
}
