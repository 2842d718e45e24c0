package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/statsd"
)

// statsdCommand is the statsd command (listed in the command table in cli.go).
var statsdCommand = &commandInfo{
	name:    "statsd",
	summary: "run a StatsD server that forwards to the API",
	usage:   "statsd [--listen 127.0.0.1:8125] [--tcp ADDR] [--flush 10s] [--percentiles 90,95,99] [--tag k=v ...] [--spool DIR]",
	help: `Listens for StatsD metrics (UDP, and newline-framed TCP with --tcp), aggregates them like
statsd 0.9 with statsd-librato-backend 2.0.16 and sends them at every flush: counters as the
interval's total, gauges as their level, sets as their distinct count, timers and
histograms as summaries (count, sum, min, max, stddev) plus one per --percentiles, named
NAME.P. Tags come as DogStatsD writes them (name:1|c|#k:v) or as statsd-librato-backend
reads them (name#k=v:1|c); see the statsd package's documentation for the differences.

At start it checks the credentials (exit 3 if the API refuses them). Every measurement carries the --tag tags and host=<this host's name> unless --tag host=...
is given; name#k=v tags replace them, DogStatsD tags join them.

Sending goes through the library's queue: retries, and with --spool DIR a spool on disk
that keeps what was aggregated across a crash or an API outage. SIGINT or SIGTERM flushes
what was aggregated and exits. Refused lines are counted and logged at most once a second;
a summary of the counts is printed at exit.

Examples:
  librato statsd
  librato statsd --listen :8125 --tcp :8125 --flush 10s --percentiles 90,99 --tag env=prod
  echo "deploys:1|c|#service:api" | nc -u -w0 127.0.0.1 8125`,
	new: func() command { return &statsdCmd{} },
}

type statsdCmd struct {
	conn        connFlags
	listen      string
	tcp         string
	flush       time.Duration
	percentiles string
	tags        tagsFlag
	maxSeries   int
	maxValues   int
	spool       string

	// ready, when set (tests), is called with the UDP and TCP addresses and the server once they
	// listen.
	ready func(udp, tcp string, srv *statsd.Server)
}

func (c *statsdCmd) flags(fs *flag.FlagSet) {
	c.conn.register(fs)
	fs.StringVar(&c.listen, "listen", "127.0.0.1:8125", "UDP `address` to listen on (\"\": no UDP)")
	fs.StringVar(&c.tcp, "tcp", "", "TCP `address` to listen on for newline-framed lines (default: none)")
	fs.DurationVar(&c.flush, "flush", statsd.DefaultFlushInterval, "flush `interval`, also the measurements' period (at least 1s)")
	fs.StringVar(&c.percentiles, "percentiles", "90", "timer and histogram `percentiles`, comma separated (\"\": none)")
	fs.Var(&c.tags, "tag", "tag `k=v` on every measurement (repeatable)")
	fs.IntVar(&c.maxSeries, "max-series", statsd.DefaultMaxSeries, "series per flush interval; values of new series past it are refused and counted (-1: no limit)")
	fs.IntVar(&c.maxValues, "max-values", statsd.DefaultMaxValues, "timer values and set members per flush interval, over all series; past it they are refused and counted (-1: no limit)")
	fs.StringVar(&c.spool, "spool", "", "keep unsent measurements in this `directory` across restarts")
}

func (c *statsdCmd) args(args []string) error {
	if len(args) > 0 {
		return usageErrorf("statsd takes no arguments, got %q", args[0])
	}
	if c.listen == "" && c.tcp == "" {
		return usageErrorf("statsd needs --listen or --tcp")
	}
	if c.flush < time.Second {
		return usageErrorf("--flush %v: want at least 1s", c.flush)
	}
	if c.maxSeries == 0 || c.maxSeries < -1 {
		return usageErrorf("--max-series %d: want a positive number, or -1 for no limit", c.maxSeries)
	}
	if c.maxValues == 0 || c.maxValues < -1 {
		return usageErrorf("--max-values %d: want a positive number, or -1 for no limit", c.maxValues)
	}
	if _, err := c.percentileList(); err != nil {
		return usageErrorf("--percentiles: %v", err)
	}
	return nil
}

func (c *statsdCmd) percentileList() ([]float64, error) {
	out := []float64{}
	if strings.TrimSpace(c.percentiles) == "" {
		return out, nil
	}
	for _, f := range strings.Split(c.percentiles, ",") {
		p, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || !(p > 0 && p <= 100) {
			return nil, fmt.Errorf("%q is not a percentile in (0, 100]", f)
		}
		out = append(out, p)
	}
	return out, nil
}

func (c *statsdCmd) run(ctx context.Context, env *Env) error {
	cl, err := c.conn.connect(env)
	if err != nil {
		return err
	}
	tags := map[string]string{}
	for k, v := range c.tags {
		tags[k] = v
	}
	if _, ok := tags["host"]; !ok {
		if h, err := os.Hostname(); err == nil && h != "" {
			tags["host"] = librato.SanitizeTagValue(h)
		}
	}
	percentiles, _ := c.percentileList()

	var mu sync.Mutex // serializes stderr writes from the queue and the server
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(env.Stderr, "librato statsd: "+strings.TrimPrefix(format, "statsd: ")+"\n", args...)
	}
	q, err := cl.NewQueue(librato.QueueOptions{
		FlushInterval: c.flush,
		SpoolDir:      c.spool,
		OnError:       func(err error) { logf("sending failed, will retry: %s", withoutPrefixes(err.Error())) },
		OnDrop: func(dropped []librato.Measurement, reason error) {
			logf("%s not sent: %s", plural(len(dropped), "measurement"), withoutPrefixes(reason.Error()))
		},
	})
	if err != nil {
		return err
	}
	srv, err := statsd.New(q, statsd.Options{FlushInterval: c.flush, Percentiles: percentiles, Tags: tags,
		MaxSeries: c.maxSeries, MaxValues: c.maxValues, Logf: logf})
	if err != nil {
		q.Close(context.WithoutCancel(ctx))
		return err
	}

	sctx, stop := context.WithCancel(ctx)
	defer stop()
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	var udpAddr, tcpAddr string
	if c.listen != "" {
		pc, err := net.ListenPacket("udp", c.listen)
		if err != nil {
			q.Close(context.WithoutCancel(ctx))
			return err
		}
		if uc, ok := pc.(*net.UDPConn); ok {
			uc.SetReadBuffer(8 << 20) // bursts wait in the kernel, not on the floor (capped by net.core.rmem_max)
		}
		udpAddr = pc.LocalAddr().String()
		wg.Add(1)
		go func() { defer wg.Done(); errc <- srv.ServeUDP(sctx, pc) }()
	}
	if c.tcp != "" {
		ln, err := net.Listen("tcp", c.tcp)
		if err != nil {
			stop()
			wg.Wait()
			q.Close(context.WithoutCancel(ctx))
			return err
		}
		tcpAddr = ln.Addr().String()
		wg.Add(1)
		go func() { defer wg.Done(); errc <- srv.ServeTCP(sctx, ln) }()
	}
	fmt.Fprintf(env.Stdout, "statsd listening on %s; flushing every %s to %s\n",
		strings.Join(nonEmpty("udp "+udpAddr, udpAddr, "tcp "+tcpAddr, tcpAddr), ", "), c.flush, c.conn.baseURL)
	if c.ready != nil {
		c.ready(udpAddr, tcpAddr, srv)
	}

	// Wrong credentials will not right themselves: check them at once, beside the listeners (a
	// hung API must not keep the socket closed), and stop if they are refused. An API that does
	// not answer may come back: the queue retries, so go on.
	credErr := make(chan error, 1)
	go func() {
		pctx, cancel := context.WithTimeout(sctx, 10*time.Second)
		defer cancel()
		err := cl.Ping(pctx)
		switch {
		case errors.Is(err, librato.ErrUnauthorized), errors.Is(err, librato.ErrForbidden):
			credErr <- &exitError{code: ExitCredentials, msg: fmt.Sprintf("%v\n%s", err, credentialsHint)}
		case err != nil && sctx.Err() == nil:
			logf("the API did not answer (%s); going on, sending will retry", withoutPrefixes(err.Error()))
		}
	}()

	runErr := make(chan error, 1)
	go func() { runErr <- srv.Run(sctx) }()
	var listenErr, refused error
	select {
	case <-ctx.Done():
	case listenErr = <-errc:
	case refused = <-credErr:
	}
	stop()
	wg.Wait()
	flushErr := <-runErr
	closeCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.flush)
	defer cancel()
	closeErr := q.Close(closeCtx)

	st, qs := srv.Stats(), q.Stats()
	fmt.Fprintf(env.Stdout, "statsd: %d packets, %d lines (%d refused), %d values; %d measurements: %d sent, %d queued, %d spooled, %d dropped\n",
		st.Packets, st.Lines, st.BadLines, st.Samples, st.Measurements, qs.Sent, qs.Queued, qs.Spooled, qs.Dropped)
	if st.Rejected > 0 {
		fmt.Fprintf(env.Stdout, "statsd: %d measurements refused by the queue\n", st.Rejected)
	}
	if st.OverLimit > 0 {
		fmt.Fprintf(env.Stdout, "statsd: %d values refused past --max-series %d or --max-values %d\n", st.OverLimit, c.maxSeries, c.maxValues)
	}
	if refused != nil {
		return refused
	}
	if listenErr != nil {
		return fmt.Errorf("listening: %w", listenErr)
	}
	if err := errors.Join(flushErr, closeErr); err != nil {
		if ctx.Err() != nil && qs.Queued == 0 && qs.Dropped == 0 && st.Rejected == 0 {
			return nil // interrupted, and everything went out or to the spool
		}
		return err
	}
	return nil
}

// nonEmpty returns the labels whose value is set, from label, value pairs.
func nonEmpty(pairs ...string) []string {
	var out []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			out = append(out, pairs[i])
		}
	}
	return out
}
