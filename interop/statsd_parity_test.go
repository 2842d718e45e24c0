package interop

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ourStatsd is a running `librato statsd`.
type ourStatsd struct {
	addr string // UDP address
	proc *process
}

// startOurStatsd starts `librato statsd` forwarding to s with the settings startStatsd gives
// the node daemon: a 1 s flush, percentiles 90 and 50, tags env=ci and host=ci-host.
func startOurStatsd(t *testing.T, s *sandbox) *ourStatsd {
	t.Helper()
	port := freePort(t, "udp")
	env := []string{"LIBRATO_URL=" + s.url, "LIBRATO_USER=" + user, "LIBRATO_TOKEN=" + token}
	p := start(t, env, librato(t), "statsd", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--flush", "1s",
		"--percentiles", "90,50", "--tag", "env=ci", "--tag", "host=ci-host")
	waitFor(t, 10*time.Second, "librato statsd to listen", func() bool {
		return strings.Contains(p.stdout.String(), "statsd listening on")
	})
	return &ourStatsd{addr: fmt.Sprintf("127.0.0.1:%d", port), proc: p}
}

// parityPackets are the stat lines both daemons get, one datagram: every type, sample rates,
// gauge deltas, both tag forms of statsd-librato-backend, percentiles of an odd count.
func parityPackets() []string {
	lines := []string{
		"pt.hits:1|c|@0.5", "pt.hits:1|c|@0.5", "pt.hits:1|c|@0.5", "pt.hits:4|c",
		"pt.temp:40|g", "pt.temp:+5|g", "pt.temp:-2|g",
		"pt.users:alice|s", "pt.users:bob|s", "pt.users:alice|s", "pt.users:carol|s",
		"pt.req#route=login,code=200:1|c", "pt.req#route=home:2|c", "pt.req#route=home:3|c",
		"pt.tlat#route=login:7|ms", "pt.multi:1|c:2|c",
	}
	for _, v := range []int{13, 2, 8, 21, 5, 1, 34, 3, 55, 89, 1} {
		lines = append(lines, fmt.Sprintf("pt.lat:%d|ms", v))
	}
	return lines
}

// parityNames are the metrics the packets make, by both daemons.
var parityNames = []string{"pt.hits", "pt.temp", "pt.users", "pt.req", "pt.tlat", "pt.tlat.90", "pt.multi",
	"pt.lat", "pt.lat.90", "pt.lat.50"}

// TestStatsdParity sends the same packets to statsd 0.9 with statsd-librato-backend 2.0.16 and
// to librato statsd, each forwarding to a librato serve of its own, and compares what arrived:
// names, tags, values, counts, sums, minimums, maximums and standard deviations.
func TestStatsdParity(t *testing.T) {
	requireNode(t)
	theirs, ours := startServe(t), startServe(t)
	node := startStatsd(t, theirs)
	us := startOurStatsd(t, ours)
	packet := parityPackets()
	node.send(t, packet...)
	(&statsdDaemon{addr: us.addr}).send(t, packet...)

	var table []string
	for _, name := range parityNames {
		want, got := onePoint(t, theirs, name), onePoint(t, ours, name)
		require.Equal(t, sortedKeys(want), sortedKeys(got), "%s: the same tag sets", name)
		for tags, w := range want {
			g := got[tags]
			assert.InDelta(t, w.Value, g.Value, 1e-9, "%s %s value", name, tags)
			assert.Equal(t, w.Count, g.Count, "%s %s count", name, tags)
			assert.InDelta(t, w.Sum, g.Sum, 1e-9, "%s %s sum", name, tags)
			assert.InDelta(t, w.Min, g.Min, 1e-9, "%s %s min", name, tags)
			assert.InDelta(t, w.Max, g.Max, 1e-9, "%s %s max", name, tags)
			assert.InDelta(t, w.Stddev, g.Stddev, 1e-9, "%s %s stddev", name, tags)
			table = append(table, fmt.Sprintf("%-11s %-26s value %-8s count %-3d sum %-5s min %-3s max %-3s stddev %.4f",
				name, tags, fmtNum(g.Value), g.Count, fmtNum(g.Sum), fmtNum(g.Min), fmtNum(g.Max), g.Stddev))
		}
	}
	// Neither sends the 50th percentile of one value (round(0.5) of 1 is 1 less than all).
	assert.Empty(t, theirs.tagged(t, "pt.tlat.50"))
	assert.Empty(t, ours.tagged(t, "pt.tlat.50"))
	t.Logf("the same on both:\n%s", strings.Join(table, "\n"))
}

// TestStatsdWithHotShots: the hot-shots client (DogStatsD tags, global tags) as the sender.
func TestStatsdWithHotShots(t *testing.T) {
	modules := requireNode(t)
	s := startServe(t)
	us := startOurStatsd(t, s)
	host, port, _ := strings.Cut(us.addr, ":")
	out := runNode(t, modules, []string{"STATSD_HOST=" + host, "STATSD_PORT=" + port}, "hot_shots.js")
	require.Equal(t, true, out["ok"], "%v", out)

	const base = "env=ci,host=ci-host,service=checkout"
	orders := onePoint(t, s, "hs.orders")
	assert.Equal(t, 4.0, orders["env=ci,host=ci-host,route=pay,service=checkout"].Value)
	assert.Equal(t, 2.0, orders["env=ci,host=ci-host,route=cart,service=checkout"].Value)
	assert.Equal(t, 7.0, onePoint(t, s, "hs.queue")[base].Value)
	lat := onePoint(t, s, "hs.latency")[base]
	assert.Equal(t, int64(2), lat.Count)
	assert.Equal(t, 200.0, lat.Sum)
	assert.Equal(t, int64(1), onePoint(t, s, "hs.size")[base].Count)
	assert.Equal(t, 2.0, onePoint(t, s, "hs.users")[base].Value)
}

func sortedKeys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func fmtNum(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.4g", v)
}
