package bench

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/protobuf/proto"
)

// discardEnv, when set, makes the test binary serve as the discard process instead of running
// tests: the end-to-end benchmarks send to it so that receiving costs no CPU of the process they
// measure.
const discardEnv = "BENCH_DISCARD_PROCESS"

// statsPath is the path at which the discard process reports what it received.
const statsPath = "/discard-stats"

// discardStats is what the discard process received since it started.
type discardStats struct {
	Requests  uint64 `json:"requests"`   // HTTP requests, any path but statsPath
	BodyBytes uint64 `json:"body_bytes"` // their body bytes, as sent
	Datagrams uint64 `json:"datagrams"`  // UDP datagrams
	UDPBytes  uint64 `json:"udp_bytes"`  // their bytes
	// Points counts the values the bodies and datagrams carried: Librato JSON measurements,
	// OTLP data points, statsd lines.
	Points uint64 `json:"points"`
	// Unreadable counts HTTP bodies that were not one of those formats.
	Unreadable uint64 `json:"unreadable"`
}

func TestMain(m *testing.M) {
	if os.Getenv(discardEnv) != "" {
		if err := serveDiscard(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, "discard process:", err)
			os.Exit(1)
		}
		return
	}
	code := m.Run()
	discard.stop()
	os.Exit(code)
}

// serveDiscard listens on a loopback TCP port (HTTP: reads every request body, counts its
// values and discards it, answers 200 with no body) and a loopback UDP port (reads and discards datagrams), writes
// "<http addr> <udp addr>\n" to out, and returns when in reaches EOF (the parent closed it or
// died).
func serveDiscard(in io.Reader, out io.Writer) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	if conn, ok := pc.(*net.UDPConn); ok {
		_ = conn.SetReadBuffer(8 << 20) // fewer datagrams lost in bursts
	}
	var st struct {
		requests, bodyBytes, datagrams, udpBytes, points, unreadable atomic.Uint64
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == statsPath {
			_ = json.NewEncoder(w).Encode(discardStats{
				Requests: st.requests.Load(), BodyBytes: st.bodyBytes.Load(),
				Datagrams: st.datagrams.Load(), UDPBytes: st.udpBytes.Load(),
				Points: st.points.Load(), Unreadable: st.unreadable.Load(),
			})
			return
		}
		body, err := io.ReadAll(r.Body)
		st.requests.Add(1)
		st.bodyBytes.Add(uint64(len(body)))
		if n, ok := countPoints(r.Header.Get("Content-Type"), body); ok && err == nil {
			st.points.Add(uint64(n))
		} else {
			st.unreadable.Add(1)
		}
	})}
	go func() { _ = srv.Serve(ln) }()
	go func() {
		buf := make([]byte, 65536)
		for {
			n, _, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			st.datagrams.Add(1)
			st.udpBytes.Add(uint64(n))
			st.points.Add(uint64(countLines(buf[:n])))
		}
	}()
	if _, err := fmt.Fprintf(out, "%s %s\n", ln.Addr(), pc.LocalAddr()); err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, in)
	_ = pc.Close()
	return srv.Close()
}

// countPoints counts the values in an HTTP body: a Librato JSON payload or an OTLP protobuf
// export request. Decoding costs the discard process only.
func countPoints(contentType string, body []byte) (int, bool) {
	if strings.HasPrefix(contentType, "application/x-protobuf") {
		var req colmetricpb.ExportMetricsServiceRequest
		if proto.Unmarshal(body, &req) != nil {
			return 0, false
		}
		n := 0
		for _, rm := range req.ResourceMetrics {
			for _, sm := range rm.ScopeMetrics {
				for _, m := range sm.Metrics {
					n += len(m.GetGauge().GetDataPoints()) + len(m.GetSum().GetDataPoints()) +
						len(m.GetHistogram().GetDataPoints())
				}
			}
		}
		return n, true
	}
	// Librato JSON, tagged or legacy: one "name" per measurement (a plain count keeps this
	// process quick; the benchmarks' tags never contain that string).
	if !bytes.HasPrefix(body, []byte("{")) {
		return 0, false
	}
	return bytes.Count(body, []byte(`"name":`)), true
}

// countLines counts the statsd messages of a datagram: non-empty lines.
func countLines(datagram []byte) int {
	n := 0
	for line := range bytes.SplitSeq(datagram, []byte("\n")) {
		if len(line) > 0 {
			n++
		}
	}
	return n
}

// discardProcess is the child process started by discardAddrs.
type discardProcess struct {
	once     sync.Once
	err      error
	cmd      *exec.Cmd
	stdin    io.WriteCloser
	httpAddr string
	udpAddr  string
}

var discard discardProcess

// discardAddrs starts the discard process (once per test binary; TestMain stops it) and returns
// its HTTP and UDP addresses.
func discardAddrs(b *testing.B) (httpAddr, udpAddr string) {
	b.Helper()
	discard.once.Do(discard.start)
	if discard.err != nil {
		b.Fatalf("discard process: %v", discard.err)
	}
	return discard.httpAddr, discard.udpAddr
}

func (p *discardProcess) start() {
	exe, err := os.Executable()
	if err != nil {
		p.err = err
		return
	}
	p.cmd = exec.Command(exe)
	p.cmd.Env = append(os.Environ(), discardEnv+"=1")
	p.cmd.Stderr = os.Stderr
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		p.err = err
		return
	}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		p.err = err
		return
	}
	if p.err = p.cmd.Start(); p.err != nil {
		return
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addrs := strings.Fields(line)
	if err != nil || len(addrs) != 2 {
		p.err = fmt.Errorf("no addresses from the child (%q, %v)", line, err)
		p.stop()
		return
	}
	p.httpAddr, p.udpAddr = addrs[0], addrs[1]
}

// stop ends the child: closing its stdin makes it exit; it is killed if it has not within 5 s.
func (p *discardProcess) stop() {
	if p.cmd == nil || p.cmd.Process == nil {
		return
	}
	_ = p.stdin.Close()
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-done
	}
	p.cmd = nil
}

// received returns what the discard process has received so far.
func received(b *testing.B) discardStats {
	b.Helper()
	httpAddr, _ := discardAddrs(b)
	resp, err := http.Get("http://" + httpAddr + statsPath)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	var st discardStats
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		b.Fatal(err)
	}
	return st
}
