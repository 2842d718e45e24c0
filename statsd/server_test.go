package statsd_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"
	"github.com/go-librato/librato/statsd"
)

// now is the fake clock of the fake API and of the server: flushes are stamped with it, floored.
var now = time.Date(2026, 3, 1, 12, 0, 7, 0, time.UTC)

type rig struct {
	api *libratotest.Server
	q   *librato.Queue
	srv *statsd.Server
	log *logLines
}

type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logLines) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

func newRig(t *testing.T, opts statsd.Options) *rig {
	t.Helper()
	api := libratotest.NewUnstartedServer(libratotest.WithNow(func() time.Time { return now }))
	c, err := api.Client()
	require.NoError(t, err)
	q, err := c.NewQueue(librato.QueueOptions{FlushInterval: time.Hour})
	require.NoError(t, err)
	t.Cleanup(func() { q.Close(context.Background()) })
	r := &rig{api: api, q: q, log: &logLines{}}
	if opts.Now == nil {
		opts.Now = func() time.Time { return now }
	}
	if opts.Logf == nil {
		opts.Logf = r.log.logf
	}
	if opts.Tags == nil {
		opts.Tags = map[string]string{"env": "ci", "host": "ci-host"}
	}
	r.srv, err = statsd.New(q, opts)
	require.NoError(t, err)
	return r
}

func (r *rig) send(lines ...string) { r.srv.Handle([]byte(strings.Join(lines, "\n"))) }

func (r *rig) flush(t *testing.T) {
	t.Helper()
	require.NoError(t, r.srv.Flush(t.Context()))
}

// points returns the stored points of name by their sorted k=v tags.
func (r *rig) points(t *testing.T, name string) map[string]libratotest.Point {
	t.Helper()
	out := map[string]libratotest.Point{}
	for _, p := range r.api.Measurements(name) {
		key := tagKey(p.Tags)
		_, dup := out[key]
		require.False(t, dup, "%s %s: one point per flush", name, key)
		out[key] = p
	}
	return out
}

func tagKey(tags map[string]string) string {
	var kv []string
	for k, v := range tags {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}

// posted returns the measurements of every POST /v1/measurements body, by name.
func (r *rig) posted(t *testing.T) map[string][]map[string]any {
	t.Helper()
	out := map[string][]map[string]any{}
	for _, req := range r.api.Requests() {
		if req.Method != "POST" || req.Path != "/v1/measurements" {
			continue
		}
		var body struct{ Measurements []map[string]any }
		require.NoError(t, json.Unmarshal(req.Body, &body))
		for _, m := range body.Measurements {
			out[m["name"].(string)] = append(out[m["name"].(string)], m)
		}
	}
	return out
}

const global = "env=ci,host=ci-host"

func TestEveryType(t *testing.T) {
	r := newRig(t, statsd.Options{Percentiles: []float64{90, 50}})
	var timer []string
	for i := 10; i >= 1; i-- {
		timer = append(timer, fmt.Sprintf("sd.lat:%d|ms", i))
	}
	r.send(timer...)
	r.send("sd.hits:1|c|@0.5", "sd.hits:1|c|@0.5", "sd.hits:1|c|@0.5", "sd.hits:4|c",
		"sd.temp:40|g", "sd.temp:+5|g", "sd.temp:-2|g",
		"sd.users:alice|s", "sd.users:bob|s", "sd.users:alice|s", "sd.users:carol|s",
		"sd.size:3|h:5|h")
	r.flush(t)

	at := now.Truncate(statsd.DefaultFlushInterval)
	hits := r.points(t, "sd.hits")[global]
	assert.Equal(t, 10.0, hits.Value, "3 × 1/0.5 + 4")
	assert.Equal(t, at, hits.Time, "stamped with the flush time floored to the interval")
	assert.Equal(t, 43.0, r.points(t, "sd.temp")[global].Value, "40, +5, -2")
	assert.Equal(t, 3.0, r.points(t, "sd.users")[global].Value, "distinct members")

	lat := r.points(t, "sd.lat")[global]
	assert.Equal(t, int64(10), lat.Count)
	assert.Equal(t, 55.0, lat.Sum)
	assert.Equal(t, 1.0, lat.Min)
	assert.Equal(t, 10.0, lat.Max)
	p90 := r.points(t, "sd.lat.90")[global]
	assert.Equal(t, int64(9), p90.Count, "the lowest 9 of 10")
	assert.Equal(t, 45.0, p90.Sum)
	assert.Equal(t, 9.0, p90.Max)
	p50 := r.points(t, "sd.lat.50")[global]
	assert.Equal(t, int64(5), p50.Count)
	assert.Equal(t, 5.0, p50.Max)
	size := r.points(t, "sd.size")[global]
	assert.Equal(t, int64(2), size.Count, "a histogram is summarized as a timer")
	assert.Equal(t, 8.0, size.Sum)

	// The wire: the sample standard deviation and the period.
	posted := r.posted(t)
	require.Len(t, posted["sd.lat"], 1)
	assert.InDelta(t, 3.0276503540974917, posted["sd.lat"][0]["stddev"], 1e-12)
	assert.Equal(t, 10.0, posted["sd.lat"][0]["period"])
	assert.Equal(t, 10.0, posted["sd.hits"][0]["period"])

	st := r.srv.Stats()
	assert.Equal(t, uint64(2), st.Packets)
	assert.Equal(t, uint64(22), st.Lines)
	assert.Equal(t, uint64(23), st.Samples)
	assert.Equal(t, uint64(9), st.Measurements, "hits, temp, users, lat, lat.90, lat.50, size, size.90 (2 values of 2), size.50 (1 of 2)")
	assert.Zero(t, st.BadLines)
}

func TestTagForms(t *testing.T) {
	r := newRig(t, statsd.Options{})
	r.send("sd.req#route=login,code=200:1|c", "sd.req#code=200,route=login:2|c", // one series: tags in another order
		"sd.req#route=home:2|c",
		"sd.dog:1|c|#route:login,env:prod", "sd.dog:1|c|#route:home",
		"sd.flag:1|c|#canary,zone:eu",
		"Bad Name!:1|c|#Route Name:GET /users/{id}")
	r.flush(t)

	req := r.points(t, "sd.req")
	assert.Len(t, req, 2)
	assert.Equal(t, 3.0, req["code=200,route=login"].Value, "name#k=v tags replace the global tags")
	assert.Equal(t, 2.0, req["route=home"].Value)

	dog := r.points(t, "sd.dog")
	assert.Equal(t, 1.0, dog["env=prod,host=ci-host,route=login"].Value, "DogStatsD tags join the global ones and win on a clash")
	assert.Equal(t, 1.0, dog["env=ci,host=ci-host,route=home"].Value)

	assert.Equal(t, 1.0, r.points(t, "sd.flag")["env=ci,host=ci-host,zone=eu"].Value, "a tag without a value is left out")
	assert.Equal(t, uint64(1), r.srv.Stats().DroppedTags)

	bad := r.points(t, "Bad-Name-")
	assert.Equal(t, 1.0, bad["env=ci,host=ci-host,route_name=get /users/_id_"].Value, "names and tags sanitized")
}

func TestGaugesDeltasAndIdleSeries(t *testing.T) {
	r := newRig(t, statsd.Options{})
	r.send("g:10|g", "g:+5|g")
	r.flush(t)
	assert.Equal(t, 15.0, r.points(t, "g")[global].Value)

	// An idle interval sends nothing; a delta after it starts from 0 (deleteIdleStats).
	now0 := now
	t.Cleanup(func() { now = now0 })
	now = now.Add(10 * time.Second)
	r.flush(t)
	assert.Len(t, r.api.Measurements("g"), 1)
	now = now.Add(10 * time.Second)
	r.send("g:-3|g")
	r.flush(t)
	pts := r.api.Measurements("g")
	require.Len(t, pts, 2)
	assert.Equal(t, -3.0, pts[1].Value)
	assert.Equal(t, now.Truncate(10*time.Second), pts[1].Time)
}

func TestMalformedLinesAreCountedAndLoggedAtABoundedRate(t *testing.T) {
	r := newRig(t, statsd.Options{})
	for range 100 {
		r.send("good:1|c", "bad line", "x:1|q")
	}
	r.flush(t)
	st := r.srv.Stats()
	assert.Equal(t, uint64(300), st.Lines)
	assert.Equal(t, uint64(200), st.BadLines)
	assert.Equal(t, 100.0, r.points(t, "good")[global].Value, "the good lines of the same packets count")
	logs := r.log.all()
	require.Len(t, logs, 1, "one report a second at most")
	assert.Contains(t, logs[0], `refused line "bad line": no value (want name:value|type)`)
}

// TestMalformedTags: tags are checked once per new series; a line with malformed ones is
// refused as a whole, every time it comes.
func TestMalformedTags(t *testing.T) {
	r := newRig(t, statsd.Options{})
	for range 2 {
		r.send("t1#novalue:1|c", "t2#=v:1|c", "t3:1|c|#:v", "t4:1|c|#a:b,,c:d", "t5#a=b:1|c:2|c", "t6#x:1|c:2|c")
	}
	r.flush(t)
	st := r.srv.Stats()
	assert.Equal(t, uint64(10), st.BadLines)
	assert.Equal(t, uint64(4), st.Samples, "t5 twice, two parts each")
	for _, name := range []string{"t1", "t2", "t3", "t4", "t6"} {
		assert.Empty(t, r.api.Measurements(name), name)
	}
	assert.Equal(t, 6.0, r.points(t, "t5")["a=b"].Value)
}

func TestSeriesLimit(t *testing.T) {
	r := newRig(t, statsd.Options{MaxSeries: 3})
	for i := range 5 {
		r.send(fmt.Sprintf("s%d:1|c", i), fmt.Sprintf("s%d:1|c", i))
	}
	r.flush(t)
	st := r.srv.Stats()
	assert.Equal(t, uint64(4), st.OverLimit, "two values each of s3 and s4")
	assert.Equal(t, uint64(3), st.Measurements)
	assert.Empty(t, r.api.Measurements("s4"))
	// The limit is per interval: after a flush, new series are taken again.
	r.send("s4:1|c")
	r.flush(t)
	assert.Len(t, r.api.Measurements("s4"), 1)

	// Other spellings of a series it has are taken (its tags in another order, a name that
	// sanitizes alike); a fourth series is not.
	r.send("s0:1|c", "x!:1|c", "x#a=1,b=2:1|c")
	r.send("x$:1|c", "x#b=2,a=1:1|c", "y:1|c")
	assert.Equal(t, uint64(5), r.srv.Stats().OverLimit, "y")
	r.flush(t)
	assert.Equal(t, 2.0, r.points(t, "x-")[global].Value)
	assert.Equal(t, 2.0, r.points(t, "x")["a=1,b=2"].Value)
}

func TestValuesLimit(t *testing.T) {
	r := newRig(t, statsd.Options{MaxValues: 5})
	r.send("lat:1|ms", "lat:2|ms", "lat:3|ms", "u:a|s", "u:a|s", "u:b|s", "u:c|s", "lat:4|ms", "hits:1|c")
	r.flush(t)
	st := r.srv.Stats()
	assert.Equal(t, uint64(2), st.OverLimit, "u:c and lat:4: 3 timer values and 2 members kept")
	assert.Equal(t, int64(3), r.points(t, "lat")[global].Count)
	assert.Equal(t, 2.0, r.points(t, "u")[global].Value)
	assert.Equal(t, 1.0, r.points(t, "hits")[global].Value, "counters and gauges keep no values")
	r.send("lat:5|ms", "lat:6|ms")
	r.flush(t)
	// The limit is per interval: both values of the next one are kept (the fake clock stamps both
	// flushes alike, so the fake merges them into one point of 3 + 2 values).
	assert.Equal(t, int64(5), r.points(t, "lat")[global].Count)
	assert.Equal(t, uint64(2), r.srv.Stats().OverLimit)
}

// TestFlushWaitsForRoomInTheQueue: a flush of more measurements than the queue holds waits for
// it to send instead of dropping the rest.
func TestFlushWaitsForRoomInTheQueue(t *testing.T) {
	api := libratotest.NewUnstartedServer(libratotest.WithNow(func() time.Time { return now }))
	c, err := api.Client()
	require.NoError(t, err)
	q, err := c.NewQueue(librato.QueueOptions{MaxPending: 10, AutoSubmitCount: 5, FlushInterval: time.Hour})
	require.NoError(t, err)
	defer q.Close(context.Background())
	srv, err := statsd.New(q, statsd.Options{Now: func() time.Time { return now }, Tags: map[string]string{"a": "b"}})
	require.NoError(t, err)
	for i := range 200 {
		srv.Handle(fmt.Appendf(nil, "many.s%d:1|c", i))
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	require.NoError(t, srv.Flush(ctx))
	assert.Equal(t, uint64(200), q.Stats().Sent)
	assert.Zero(t, srv.Stats().Rejected)
}

func TestOptionsAreChecked(t *testing.T) {
	api := libratotest.NewUnstartedServer()
	c, err := api.Client()
	require.NoError(t, err)
	q, err := c.NewQueue(librato.QueueOptions{})
	require.NoError(t, err)
	defer q.Close(context.Background())
	for _, o := range []statsd.Options{
		{FlushInterval: 500 * time.Millisecond}, {FlushInterval: -time.Second},
		{Percentiles: []float64{0}}, {Percentiles: []float64{101}},
		{Tags: map[string]string{"bad tag!": "x"}}, {MaxSeries: -2}, {MaxValues: -2},
	} {
		_, err := statsd.New(q, o)
		assert.Error(t, err, "%+v", o)
	}
	_, err = statsd.New(nil, statsd.Options{})
	assert.Error(t, err)
}

// TestRunFlushesOnTimeAndAtTheEnd: Run flushes every interval, and once more when its ctx ends
// (the command's SIGTERM), so that nothing aggregated is left behind.
func TestRunFlushesOnTimeAndAtTheEnd(t *testing.T) {
	r := newRig(t, statsd.Options{FlushInterval: time.Second, Now: time.Now})
	r.api = nil // not used: times are real here
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- r.srv.Run(ctx) }()
	r.send("tick:1|c")
	require.Eventually(t, func() bool { return r.srv.Stats().Flushes >= 1 }, 3*time.Second, 10*time.Millisecond)
	assert.Equal(t, uint64(1), r.srv.Stats().Measurements)
	r.send("last:1|c")
	cancel()
	require.NoError(t, <-done)
	assert.Equal(t, uint64(2), r.srv.Stats().Measurements, "the last value went out at the end")
	assert.Equal(t, uint64(2), r.q.Stats().Sent)
}

func TestUDPAndTCP(t *testing.T) {
	r := newRig(t, statsd.Options{})
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); assert.NoError(t, r.srv.ServeUDP(ctx, pc)) }()
	go func() { defer wg.Done(); assert.NoError(t, r.srv.ServeTCP(ctx, ln)) }()

	u, err := net.Dial("udp", pc.LocalAddr().String())
	require.NoError(t, err)
	for range 50 {
		_, err = u.Write([]byte("udp.hits:1|c\nudp.lat:5|ms"))
		require.NoError(t, err)
	}
	c, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	_, err = fmt.Fprint(c, "tcp.hits:2|c\ntcp.hits:3|c\r\nbroken\n")
	require.NoError(t, err)
	require.NoError(t, c.Close())
	require.Eventually(t, func() bool { return r.srv.Stats().Lines == 103 }, 5*time.Second, 5*time.Millisecond)
	r.flush(t)
	assert.Equal(t, 50.0, r.points(t, "udp.hits")[global].Value)
	assert.Equal(t, int64(50), r.points(t, "udp.lat")[global].Count)
	assert.Equal(t, 5.0, r.points(t, "tcp.hits")[global].Value)
	assert.Equal(t, uint64(1), r.srv.Stats().BadLines)

	cancel()
	wg.Wait() // both return nil once ctx ends
}

// TestUDPBigPacketsAndIPv6: a packet near the largest UDP payload is read whole, over IPv4 and
// over IPv6 (each has its own batch reader).
func TestUDPBigPacketsAndIPv6(t *testing.T) {
	for _, network := range []string{"127.0.0.1:0", "[::1]:0"} {
		pc, err := net.ListenPacket("udp", network)
		if err != nil {
			t.Logf("%s: %v (no IPv6 here?)", network, err)
			continue
		}
		r := newRig(t, statsd.Options{})
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- r.srv.ServeUDP(ctx, pc) }()
		u, err := net.Dial("udp", pc.LocalAddr().String())
		require.NoError(t, err)
		line := "big.packet:1|c\n"
		packet := strings.Repeat(line, 65000/len(line))
		_, err = u.Write([]byte(packet))
		require.NoError(t, err, network)
		want := uint64(65000 / len(line))
		require.Eventually(t, func() bool { return r.srv.Stats().Lines == want }, 5*time.Second, time.Millisecond, network)
		r.flush(t)
		assert.Equal(t, float64(want), r.points(t, "big.packet")[global].Value, network)
		assert.Zero(t, r.srv.Stats().BadLines, network)
		cancel()
		require.NoError(t, <-done)
	}
}

// TestWithoutTagsGoesToTheSourceAPI: with no tags anywhere, measurements are source-based.
func TestWithoutTagsGoesToTheSourceAPI(t *testing.T) {
	r := newRig(t, statsd.Options{Tags: map[string]string{}})
	r.send("plain:4|g")
	r.flush(t)
	pts := r.api.Measurements("plain")
	require.Len(t, pts, 1)
	assert.Nil(t, pts[0].Tags)
	assert.Equal(t, 4.0, pts[0].Value)
}
