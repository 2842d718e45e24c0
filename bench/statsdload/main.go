// Command statsdload sends a bounded stream of StatsD packets over loopback UDP to a running
// StatsD server at a set rate and measures, for that server's process: the packets it took per
// second, the kernel's drops at its socket (the drops column of /proc/net/udp, which counts
// what arrived at a full receive buffer), and its CPU time (utime + stime of /proc/PID/stat)
// from the first packet until its socket is drained and its CPU time stops growing.
//
// It prints one line of key=value pairs; bench/statsd.sh runs it against librato statsd and
// against node statsd with statsd-librato-backend and prints the ratio.
//
//	statsdload -addr 127.0.0.1:8125 -pid 1234 -packets 5000000 -rate 1000000
package main

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/ipv4"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8125", "UDP `address` of the server")
	pid := flag.Int("pid", 0, "`pid` of the server process, for its CPU time")
	packets := flag.Int("packets", 5_000_000, "packets to send")
	rate := flag.Int("rate", 1_000_000, "packets a second (0: as fast as possible)")
	series := flag.Int("series", 1000, "distinct series in the stream")
	flag.Parse()
	if *pid == 0 {
		fail(errors.New("-pid is required"))
	}
	r, err := run(*addr, *pid, *packets, *rate, *series)
	if err != nil {
		fail(err)
	}
	fmt.Println(r)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "statsdload:", err)
	os.Exit(1)
}

type result struct {
	sent, drops      int
	sendSeconds      float64 // time to send them all
	drainSeconds     float64 // first packet to the server done with the last
	cpuSeconds       float64 // the server's
	packetsPerSecond float64 // sent - drops over drainSeconds
	packetsPerCPU    float64 // sent - drops over cpuSeconds
}

func (r result) String() string {
	return fmt.Sprintf("sent=%d drops=%d send_s=%.3f drain_s=%.3f cpu_s=%.3f pkts_per_s=%.0f pkts_per_cpu_s=%.0f",
		r.sent, r.drops, r.sendSeconds, r.drainSeconds, r.cpuSeconds, r.packetsPerSecond, r.packetsPerCPU)
}

// stream returns the packets: one line each, 3 tags in statsd-librato-backend's name#k=v form
// (which both servers read), a counter, a timer and a gauge in turn over the series.
func stream(series int) [][]byte {
	kinds := []string{"c", "ms", "g"}
	out := make([][]byte, series)
	for i := range out {
		out[i] = fmt.Appendf(nil, "app.metric%d#host=web-%d,region=eu-west-1,service=checkout:%d|%s",
			i%97, i%13, 1+i%250, kinds[i%len(kinds)])
	}
	return out
}

func run(addr string, pid, packets, rate, series int) (result, error) {
	port, err := portOf(addr)
	if err != nil {
		return result{}, err
	}
	dropsBefore, _, err := socketStats(port)
	if err != nil {
		return result{}, err
	}
	cpuBefore, err := cpuSeconds(pid)
	if err != nil {
		return result{}, err
	}
	c, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		return result{}, err
	}
	defer c.Close()
	dst, err := net.ResolveUDPAddr("udp4", addr)
	if err != nil {
		return result{}, err
	}
	pc := ipv4.NewPacketConn(c)
	lines := stream(series)
	const batch = 64
	msgs := make([]ipv4.Message, batch)
	for i := range msgs {
		msgs[i].Addr = dst
		msgs[i].Buffers = [][]byte{nil}
	}

	start := time.Now()
	sent := 0
	for sent < packets {
		n := min(batch, packets-sent)
		for i := range n {
			msgs[i].Buffers[0] = lines[(sent+i)%len(lines)]
		}
		for off := 0; off < n; {
			k, err := pc.WriteBatch(msgs[off:n], 0)
			if err != nil {
				return result{}, err
			}
			off += k
		}
		sent += n
		if rate > 0 { // pace: never ahead of the schedule
			due := start.Add(time.Duration(float64(sent) / float64(rate) * float64(time.Second)))
			for time.Now().Before(due) {
			}
		}
	}
	sendDone := time.Since(start)

	// Drained: the socket's receive queue empty and the server's CPU time still for 200 ms.
	var drained time.Duration
	lastCPU, stillSince := -1.0, time.Now()
	for {
		_, queue, err := socketStats(port)
		if err != nil {
			return result{}, err
		}
		cpu, err := cpuSeconds(pid)
		if err != nil {
			return result{}, err
		}
		if queue == 0 && drained == 0 {
			drained = time.Since(start)
		}
		if queue != 0 {
			drained = 0
		}
		if cpu != lastCPU {
			lastCPU, stillSince = cpu, time.Now()
		} else if drained != 0 && time.Since(stillSince) > 200*time.Millisecond {
			break
		}
		if time.Since(start) > 10*time.Minute {
			return result{}, errors.New("the server did not drain its socket in 10 minutes")
		}
		time.Sleep(time.Millisecond)
	}
	dropsAfter, _, err := socketStats(port)
	if err != nil {
		return result{}, err
	}
	cpuAfter, _ := cpuSeconds(pid)
	r := result{sent: sent, drops: dropsAfter - dropsBefore, sendSeconds: sendDone.Seconds(),
		drainSeconds: drained.Seconds(), cpuSeconds: cpuAfter - cpuBefore}
	took := float64(sent - r.drops)
	r.packetsPerSecond = took / r.drainSeconds
	r.packetsPerCPU = took / r.cpuSeconds
	return r, nil
}

func portOf(addr string) (int, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(p)
}

// socketStats reads the drops and the receive queue (bytes) of the UDP socket bound to port on
// 127.0.0.1 or any address, from /proc/net/udp (proc(5)).
func socketStats(port int) (drops, rxQueue int, err error) {
	b, err := os.ReadFile("/proc/net/udp")
	if err != nil {
		return 0, 0, err
	}
	want := fmt.Sprintf(":%04X", port)
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Scan() // header
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 13 || !strings.HasSuffix(f[1], want) {
			continue
		}
		_, rx, _ := strings.Cut(f[4], ":")
		q, err := strconv.ParseInt(rx, 16, 64)
		if err != nil {
			return 0, 0, err
		}
		d, err := strconv.Atoi(f[12])
		if err != nil {
			return 0, 0, err
		}
		return d, int(q), nil
	}
	return 0, 0, fmt.Errorf("no UDP socket on port %d in /proc/net/udp", port)
}

// cpuSeconds returns the user and system CPU time of a process (proc(5): fields 14 and 15 of
// /proc/PID/stat, in clock ticks of 1/100 s on Linux).
func cpuSeconds(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: count from its closing parenthesis.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	utime, err := strconv.ParseFloat(f[11], 64)
	if err != nil {
		return 0, err
	}
	stime, err := strconv.ParseFloat(f[12], 64)
	if err != nil {
		return 0, err
	}
	return (utime + stime) / 100, nil
}
