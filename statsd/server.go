package statsd

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"slices"
	"sync"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/go-librato/librato"
)

// DefaultFlushInterval is Options.FlushInterval when it is zero: statsd's flushInterval.
const DefaultFlushInterval = 10 * time.Second

// DefaultMaxSeries is Options.MaxSeries when it is zero.
const DefaultMaxSeries = 100_000

// DefaultMaxValues is Options.MaxValues when it is zero.
const DefaultMaxValues = 10_000_000

// MaxPacketSize is the size of a UDP read buffer: more than the largest UDP payload (65,507
// bytes over IPv4, 65,527 over IPv6 without jumbograms), so every packet is read whole.
const MaxPacketSize = 64 << 10

// Options configure a Server. The zero value is usable.
type Options struct {
	// FlushInterval is how often the aggregates go to the queue, and the period of every
	// measurement (DefaultFlushInterval if zero).
	FlushInterval time.Duration
	// Percentiles are the percentiles sent for timers and histograms, each as a summary of the
	// values below it named NAME.P (statsd's percentThreshold; default [90]). Each in (0, 100].
	Percentiles []float64
	// Tags go on every measurement, except on those whose line names its own tags in the
	// name#k=v form, which replace them (as statsd-librato-backend does). DogStatsD |#k:v tags are
	// added to them. Without any tags, measurements go to the source-based (legacy) API.
	Tags map[string]string
	// MaxSeries bounds the series gathered in one interval (DefaultMaxSeries if zero; -1: no
	// limit): samples of new series past it are refused and counted in Stats.OverLimit.
	MaxSeries int
	// MaxValues bounds the timer and histogram values and the set members kept in one interval,
	// over all series (DefaultMaxValues if zero, about 8 bytes each; -1: no limit): past it they
	// are refused and counted in Stats.OverLimit.
	MaxValues int
	// Logf, when set, receives one line about refused input at most once a second, with the
	// count of lines refused since the last one. Nil logs nothing.
	Logf func(format string, args ...any)
	// Now is the clock (time.Now if nil): measurements are stamped with the flush time floored
	// to FlushInterval.
	Now func() time.Time
}

// Stats counts what a Server has read and sent since New.
type Stats struct {
	Packets   uint64 // UDP packets and TCP lines read
	Lines     uint64 // metric lines in them
	BadLines  uint64 // lines refused as malformed
	Samples   uint64 // values aggregated
	OverLimit uint64 // values refused past Options.MaxSeries (a new series) or Options.MaxValues
	// DroppedTags counts tags left out: empty names or values, or past librato.MaxTags.
	DroppedTags uint64
	Flushes     uint64 // flushes done
	// Measurements counts measurements handed to the queue; Rejected those the queue refused
	// (full, or invalid: see the error Flush returns). What the queue does with the rest is in
	// Queue.Stats (sent, retried, spooled, dropped with their reasons).
	Measurements uint64
	Rejected     uint64
}

// Server is a StatsD server that aggregates what it reads and sends it through a librato.Queue
// at every flush. Its methods are safe for concurrent use.
type Server struct {
	q           *librato.Queue
	interval    time.Duration
	percentiles []float64
	logf        func(string, ...any)
	now         func() time.Time

	mu      sync.Mutex // guards agg, scratch and the counters below them
	agg     *aggregator
	scratch sample
	add     func(*sample) error // s.addLocked, made once
	st      Stats

	flushMu sync.Mutex // one flush at a time

	logMu      sync.Mutex
	lastLog    time.Time
	suppressed uint64
}

// New returns a Server that sends to q. q's own tags and defaults apply as to any measurement;
// give the tags to Options.Tags rather than to q, so that the name#k=v form can replace them.
func New(q *librato.Queue, opts Options) (*Server, error) {
	if q == nil {
		return nil, errors.New("statsd: New needs a queue")
	}
	if opts.FlushInterval < 0 || (opts.FlushInterval > 0 && opts.FlushInterval < time.Second) {
		return nil, fmt.Errorf("statsd: FlushInterval %v: want at least 1s (the API's times are whole seconds)", opts.FlushInterval)
	}
	if opts.FlushInterval == 0 {
		opts.FlushInterval = DefaultFlushInterval
	}
	if opts.Percentiles == nil {
		opts.Percentiles = []float64{90}
	}
	for _, p := range opts.Percentiles {
		if !(p > 0 && p <= 100) {
			return nil, fmt.Errorf("statsd: percentile %v: want a number in (0, 100]", p)
		}
	}
	if err := librato.ValidateTags(opts.Tags); err != nil {
		return nil, fmt.Errorf("statsd: Options.Tags: %w", err)
	}
	maxSeries, err := limit("MaxSeries", opts.MaxSeries, DefaultMaxSeries)
	if err != nil {
		return nil, err
	}
	maxValues, err := limit("MaxValues", opts.MaxValues, DefaultMaxValues)
	if err != nil {
		return nil, err
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &Server{q: q, interval: opts.FlushInterval, percentiles: slices.Clone(opts.Percentiles),
		logf: opts.Logf, now: opts.Now, agg: newAggregator(maps.Clone(opts.Tags), maxSeries, maxValues)}
	s.add = s.addLocked
	return s, nil
}

// limit reads a limit option: 0 is the default, -1 none (0 inside), a positive number itself.
func limit(name string, v, def int) (int, error) {
	switch {
	case v == 0:
		return def, nil
	case v == -1:
		return 0, nil
	case v < -1:
		return 0, fmt.Errorf("statsd: %s %d: want a positive limit, 0 for the default or -1 for none", name, v)
	}
	return v, nil
}

// Handle reads one packet: metric lines separated by newlines. Malformed lines are counted and
// logged; the others are aggregated.
func (s *Server) Handle(packet []byte) {
	var bad []byte
	var badErr error
	s.mu.Lock()
	s.st.Packets++
	for len(packet) > 0 {
		line := packet
		if i := bytes.IndexByte(packet, '\n'); i >= 0 {
			line, packet = packet[:i], packet[i+1:]
		} else {
			packet = nil
		}
		line = bytes.TrimSuffix(line, []byte{'\r'})
		if len(line) == 0 {
			continue
		}
		s.st.Lines++
		switch err := parseLine(line, &s.scratch, s.add); err {
		case nil:
		case errTooManySeries, errTooManyValues:
			s.st.OverLimit++
		default:
			s.st.BadLines++
			if bad == nil {
				bad, badErr = slices.Clone(line), err
			}
		}
	}
	s.mu.Unlock()
	if bad != nil {
		s.logBad(bad, badErr)
	}
}

// addLocked aggregates one sample; s.mu is held.
func (s *Server) addLocked(sm *sample) error {
	if err := s.agg.add(sm); err != nil {
		return err
	}
	s.st.Samples++
	return nil
}

// logBad logs a refused line at most once a second.
func (s *Server) logBad(line []byte, err error) {
	if s.logf == nil {
		return
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	now := time.Now()
	if now.Sub(s.lastLog) < time.Second {
		s.suppressed++
		return
	}
	if len(line) > 200 {
		line = append(line[:200:200], "..."...)
	}
	more := ""
	if s.suppressed > 0 {
		more = fmt.Sprintf(" (and %d more packets with refused lines since the last report)", s.suppressed)
	}
	s.logf("statsd: refused line %q: %v%s", line, err, more)
	s.lastLog, s.suppressed = now, 0
}

// Stats returns the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.st
	st.DroppedTags = s.agg.droppedTags
	return st
}

// Flush hands what was aggregated since the last flush to the queue, stamped with the current
// time floored to the flush interval, waiting for room in the queue within ctx (what still does
// not fit when ctx ends is counted in Stats.Rejected), and then flushes the queue (within ctx:
// what it cannot send by then stays queued, as the queue's rules say). It returns the queue's
// errors.
func (s *Server) Flush(ctx context.Context) error {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	at := s.now().Truncate(s.interval)
	s.mu.Lock()
	ms := s.agg.flush(at, s.interval, s.percentiles)
	s.mu.Unlock()

	var errs []error
	var rejected uint64
	for i := range ms {
		// AddWait: a flush larger than the queue's room waits for the queue to send, within
		// ctx, rather than dropping what does not fit.
		if err := s.q.AddWait(ctx, ms[i]); err != nil {
			rejected++
			if len(errs) < 10 {
				errs = append(errs, err)
			}
		}
	}
	s.mu.Lock()
	s.st.Flushes++ // with the counts of its measurements: a Stats never shows half a flush
	s.st.Measurements += uint64(len(ms))
	s.st.Rejected += rejected
	s.mu.Unlock()
	if rejected > 10 {
		errs = append(errs, fmt.Errorf("statsd: and %d more measurements refused by the queue", rejected-10))
	}
	if err := s.q.Flush(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Run flushes every flush interval until ctx ends, then flushes once more with a context that
// ends after one more interval (SIGTERM and SIGINT in the command: what was aggregated is sent
// before exit). A flush's error goes to Logf and does not stop the loop; Run returns the last
// flush's error.
func (s *Server) Run(ctx context.Context) error {
	t := time.NewTicker(s.interval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			fctx, cancel := context.WithTimeout(ctx, s.interval)
			if err := s.Flush(fctx); err != nil && s.logf != nil {
				s.logf("statsd: flush: %v", err)
			}
			cancel()
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.interval)
			defer cancel()
			return s.Flush(fctx)
		}
	}
}

// ServeUDP reads packets from conn until ctx ends or conn fails. It closes conn when ctx ends.
// From a *net.UDPConn it reads up to udpBatch packets a system call (recvmmsg on Linux).
func (s *Server) ServeUDP(ctx context.Context, conn net.PacketConn) error {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var err error
	if uc, ok := conn.(*net.UDPConn); ok {
		err = s.readBatches(uc)
	} else {
		err = s.readOneByOne(conn)
	}
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// udpBatch is how many packets one read takes at most; each has a buffer of MaxPacketSize.
const udpBatch = 32

// batchReader is ipv4.PacketConn or ipv6.PacketConn.
type batchReader interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
}

func (s *Server) readBatches(conn *net.UDPConn) error {
	var r batchReader = ipv4.NewPacketConn(conn)
	if a, ok := conn.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() == nil {
		r = ipv6.NewPacketConn(conn)
	}
	ms := make([]ipv4.Message, udpBatch)
	for i := range ms {
		ms[i].Buffers = [][]byte{make([]byte, MaxPacketSize)}
	}
	for {
		n, err := r.ReadBatch(ms, 0)
		for _, m := range ms[:max(n, 0)] { // n is -1 with an error
			s.Handle(m.Buffers[0][:m.N])
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
	}
}

func (s *Server) readOneByOne(conn net.PacketConn) error {
	buf := make([]byte, MaxPacketSize)
	for {
		n, _, err := conn.ReadFrom(buf)
		if n > 0 {
			s.Handle(buf[:n])
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
	}
}

// MaxTCPLine is the longest line a TCP client may send; a longer one closes its connection.
const MaxTCPLine = 64 << 10

// ServeTCP accepts connections on ln until ctx ends, and reads newline-framed lines from each.
// It closes ln, and every connection, when ctx ends.
func (s *Server) ServeTCP(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.serveConn(ctx, conn)
		}()
	}
}

func (s *Server) serveConn(ctx context.Context, conn net.Conn) {
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	sc := bufio.NewScanner(conn)
	sc.Buffer(make([]byte, 4096), MaxTCPLine)
	for sc.Scan() {
		s.Handle(sc.Bytes())
	}
	if err := sc.Err(); err != nil && ctx.Err() == nil && s.logf != nil {
		s.logf("statsd: TCP client %s: %v", conn.RemoteAddr(), err)
	}
}
