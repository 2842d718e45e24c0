// Command service is a small HTTP service that records the latency of every request through a
// librato.Aggregator, moves the summaries into a librato.Queue every second, and on shutdown
// flushes what is left (the defer q.Close pattern).
//
//	go run ./examples/service                  # serves 200 synthetic requests, then stops
//	go run ./examples/service -requests 0 -duration 30s -addr 127.0.0.1:8080   # serve for real
//
// The hot path (Aggregator.AddTagged) does no I/O and does not allocate for a series it has
// seen; sending happens in the queue's background goroutine and never blocks a request. Without
// LIBRATO_USER/LIBRATO_TOKEN it sends to an in-process fake API (libratotest).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/examples/internal/exampleenv"
	"github.com/go-librato/librato/libratotest"
)

// config is what the flags set.
type config struct {
	addr     string        // listen address
	requests int           // synthetic requests to send to ourselves (0: none)
	duration time.Duration // stop after this long at the latest
	flush    time.Duration // how often aggregated summaries move into the queue
}

func main() {
	var cfg config
	flag.StringVar(&cfg.addr, "addr", "127.0.0.1:0", "listen address")
	flag.IntVar(&cfg.requests, "requests", 200, "synthetic requests to serve before stopping (0: none, serve until -duration or Ctrl-C)")
	flag.DurationVar(&cfg.duration, "duration", 5*time.Second, "stop after this long at the latest")
	flag.DurationVar(&cfg.flush, "flush", time.Second, "how often summaries are queued and sent")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, os.Getenv, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "service:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, getenv func(string) string, cfg config) (err error) {
	c, fake, err := exampleenv.Connect(getenv)
	if fake != nil {
		defer fake.Close()
		fmt.Fprintf(w, "LIBRATO_USER/LIBRATO_TOKEN not set: sending metrics to an in-process fake API at %s\n", fake.URL)
	} else {
		fmt.Fprintf(w, "sending metrics to the Librato API as %s\n", getenv("LIBRATO_USER"))
	}
	if err != nil {
		return err
	}

	// The queue sends in the background every cfg.flush. Close flushes what is left: always
	// defer it, with a deadline so that a dead API cannot hold up the shutdown.
	q, err := c.NewQueue(librato.QueueOptions{
		FlushInterval: cfg.flush,
		Tags:          map[string]string{"service": "example"},
		OnError:       func(err error) { fmt.Fprintf(w, "metrics: send failed, will retry: %v\n", err) },
	})
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if cerr := q.Close(cctx); cerr != nil && err == nil {
			err = fmt.Errorf("flushing metrics at shutdown: %w", cerr)
		}
		st := q.Stats()
		fmt.Fprintf(w, "metrics: %d summaries sent in %d requests, %d dropped\n", st.Sent, st.Requests, st.Dropped)
		if fake != nil {
			report(w, fake)
		}
	}()

	// One summary per route and status per flush: count, sum, min, max, last.
	agg, err := c.NewAggregator(librato.AggregatorOptions{})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "hello")
	})
	mux.HandleFunc("GET /slow", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(time.Duration(rand.IntN(5)) * time.Millisecond)
		fmt.Fprintln(w, "done")
	})
	srv := &http.Server{Handler: recordLatency(mux, agg), ReadHeaderTimeout: 5 * time.Second}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "listening on http://%s\n", ln.Addr())
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	// Move the aggregated summaries into the queue at every flush interval; the queue sends them.
	stopTicker, tickerDone := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(tickerDone)
		t := time.NewTicker(cfg.flush)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				if err := q.AddAggregator(agg); err != nil {
					fmt.Fprintf(w, "metrics: %v\n", err)
				}
			case <-stopTicker:
				return
			}
		}
	}()
	// On every way out: stop the ticker, then hand the last summaries to the queue, whose
	// deferred Close (which runs after this) sends them.
	var once sync.Once
	lastSummaries := func() {
		once.Do(func() {
			close(stopTicker)
			<-tickerDone
			if err := q.AddAggregator(agg); err != nil {
				fmt.Fprintf(w, "metrics: %v\n", err)
			}
		})
	}
	defer lastSummaries()

	runCtx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	served := 0
	if cfg.requests > 0 {
		served = generateLoad(runCtx, "http://"+ln.Addr().String(), cfg.requests)
		cancel()
	}
	select {
	case <-runCtx.Done():
	case err := <-serveErr:
		return err
	}

	// Clean shutdown: stop accepting and finish the requests in flight; then the deferred
	// functions queue the last summaries and flush the queue.
	sctx, scancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer scancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	fmt.Fprintf(w, "served %d synthetic requests; shutting down\n", served)
	return nil
}

// recordLatency wraps h, adding each request's latency in milliseconds to the aggregator, per
// route and status class.
func recordLatency(h http.Handler, agg *librato.Aggregator) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		ms := float64(time.Since(start).Microseconds()) / 1000
		route := strings.TrimPrefix(r.URL.Path, "/")
		if route == "" || (route != "hello" && route != "slow") {
			route = "other" // bounded tag values: never put raw user input in a tag
		}
		_ = agg.AddTagged("example.http.latency", ms, map[string]string{
			"route": route, "status": strconv.Itoa(sw.status/100) + "xx",
		})
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// generateLoad sends n GET requests to the service with 4 workers, stopping early when ctx ends.
func generateLoad(ctx context.Context, base string, n int) int {
	// Its own client, whose connections are closed at the end: a connection dialed but never
	// used would otherwise hold up the server's Shutdown for seconds.
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	defer client.CloseIdleConnections()
	paths := []string{"/hello", "/slow", "/hello", "/missing"}
	jobs := make(chan string)
	var served sync.WaitGroup
	var mu sync.Mutex
	count := 0
	for range 4 {
		served.Add(1)
		go func() {
			defer served.Done()
			for p := range jobs {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+p, nil)
				if err != nil {
					continue
				}
				resp, err := client.Do(req)
				if err != nil {
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				count++
				mu.Unlock()
			}
		}()
	}
feed:
	for i := range n {
		select {
		case jobs <- paths[i%len(paths)]:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	served.Wait()
	return count
}

// report prints what the fake API received: one line per series.
func report(w io.Writer, fake *libratotest.Server) {
	type agg struct {
		count    int64
		sum, max float64
	}
	byKey := map[string]*agg{}
	var keys []string
	for _, p := range fake.Measurements("example.http.latency") {
		k := "route=" + p.Tags["route"] + " status=" + p.Tags["status"]
		a := byKey[k]
		if a == nil {
			a = &agg{}
			byKey[k] = a
			keys = append(keys, k)
		}
		a.count += p.Count
		a.sum += p.Sum
		a.max = max(a.max, p.Max)
	}
	fmt.Fprintln(w, "the fake API received example.http.latency:")
	for _, k := range keys {
		a := byKey[k]
		fmt.Fprintf(w, "  %-28s %4d requests, mean %.3f ms, max %.3f ms\n", k, a.count, a.sum/float64(a.count), a.max)
	}
}
