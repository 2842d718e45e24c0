package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/go-librato/librato/libratotest"
)

func init() {
	register(&commandInfo{
		name:    "serve",
		summary: "run a local Librato-compatible fake API for development",
		usage:   "serve [--addr 127.0.0.1:8080] [--user U --token T] [--data FILE] [fault flags]",
		help: `Runs the libratotest fake of the Librato API as a local sandbox: point any client (this
command, the Go library, python-librato, curl) at it. It logs one line per request to
stderr and stops cleanly on SIGINT or SIGTERM.

Credentials: the server accepts only the user and token given with --user/--token (or
LIBRATO_USER/LIBRATO_TOKEN). Without them it accepts libratotest's defaults, user
test@example.com and token libratotest-token, and only on a loopback address: a
server reachable from other machines must be given its own credentials. The token
is never printed.

With --data FILE the stored metrics, measurements, annotations and alerts are kept
in FILE (an embedded bbolt database), saved every --save-every and at shutdown, and
loaded again at the next start. Without it everything lives in memory.

` + serveFaultsHelp + `

Examples:
  librato serve
  librato serve --addr 127.0.0.1:9000 --data librato-dev.db
  LIBRATO_URL=http://127.0.0.1:8080 LIBRATO_USER=test@example.com \
    LIBRATO_TOKEN=libratotest-token librato list
` + serveFaultsExamples,
		new: func() command { return &serveCmd{} },
	})
}

type serveCmd struct {
	addr      string
	user      string
	token     string
	data      string
	saveEvery time.Duration
	appOptics bool
	pageSize  int
	maxAge    time.Duration
	faults    serveFaults

	// ready, when set (tests), is called with the server's base URL once it listens.
	ready func(url string)
	// saved, when set (tests), is called after each save on the timer.
	saved func()
}

func (c *serveCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "listen `address` (host:port; port 0 picks a free one)")
	fs.StringVar(&c.user, "user", "", "user the server accepts (default $LIBRATO_USER, else test@example.com)")
	fs.StringVar(&c.token, "token", "", "token the server accepts (default $LIBRATO_TOKEN, else libratotest's default); never printed")
	fs.StringVar(&c.data, "data", "", "keep the data in this bbolt `file` across restarts")
	fs.DurationVar(&c.saveEvery, "save-every", 5*time.Second, "with --data, how often to save")
	fs.BoolVar(&c.appOptics, "appoptics", false, "behave like the AppOptics API (token-only auth, tagged measurements only)")
	fs.IntVar(&c.pageSize, "page-size", libratotest.DefaultPageSize, "length of list pages")
	fs.DurationVar(&c.maxAge, "max-age", libratotest.DefaultMaxAge, "reject measurements older than this (0: accept any age)")
	c.faults.flags(fs)
}

func (c *serveCmd) args(args []string) error {
	if len(args) > 0 {
		return usageErrorf("serve takes no arguments")
	}
	if c.saveEvery <= 0 {
		return usageErrorf("--save-every must be positive")
	}
	if c.pageSize < 1 {
		return usageErrorf("--page-size must be at least 1")
	}
	return c.faults.check()
}

func (c *serveCmd) run(ctx context.Context, env *Env) error {
	user := firstNonEmpty(c.user, env.getenv("LIBRATO_USER"))
	token := firstNonEmpty(c.token, env.getenv("LIBRATO_TOKEN"))
	if c.appOptics {
		token = firstNonEmpty(c.token, env.getenv("APPOPTICS_TOKEN"), env.getenv("LIBRATO_TOKEN"))
	}
	defaults := token == ""
	if defaults {
		user, token = libratotest.DefaultUser, libratotest.DefaultToken
	} else if user == "" {
		user = libratotest.DefaultUser
	}

	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	tcp, _ := ln.Addr().(*net.TCPAddr)
	if defaults && (tcp == nil || !tcp.IP.IsLoopback()) {
		return usageErrorf("%s is not a loopback address: give the server its own --user and --token", c.addr)
	}

	opts := []libratotest.Option{libratotest.WithCredentials(user, token), libratotest.WithPageSize(c.pageSize),
		libratotest.WithMaxAge(c.maxAge), libratotest.WithRequestLog(0)}
	if c.appOptics {
		opts = append(opts, libratotest.WithAppOptics())
	}
	srv := libratotest.NewHandler(opts...)
	srv.URL = "http://" + ln.Addr().String()
	if err := c.faults.install(srv); err != nil {
		return err
	}

	var store *snapshotStore
	if c.data != "" {
		store, err = openSnapshotStore(c.data)
		if err != nil {
			return err
		}
		defer store.close()
		n, err := store.load(srv)
		if err != nil {
			return err
		}
		if n > 0 {
			fmt.Fprintf(env.Stdout, "loaded %s of saved data from %s\n", byteSize(n), c.data)
		}
	}

	logger := log.New(env.Stderr, "", 0) // a log.Logger serializes concurrent writes
	var writes atomic.Int64              // requests that may have changed the data
	hs := &http.Server{
		Handler:           logRequests(withFaultAdmin(srv), logger, &writes),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          logger,
	}
	fmt.Fprintf(env.Stdout, "fake Librato API listening on %s (base URL %s/v1/)\n", srv.URL, srv.URL)
	if c.appOptics {
		fmt.Fprintln(env.Stdout, "AppOptics mode: token-only authentication")
	} else {
		fmt.Fprintf(env.Stdout, "user: %s\n", user)
	}
	if defaults {
		fmt.Fprintln(env.Stdout, "token: libratotest's default (see 'librato serve --help')")
	} else {
		fmt.Fprintln(env.Stdout, "token: the one given (not shown)")
	}
	fmt.Fprintf(env.Stdout, "point clients at it with LIBRATO_URL=%s; stop with Ctrl-C\n", srv.URL)
	if c.ready != nil {
		c.ready(srv.URL)
	}

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	var tick <-chan time.Time
	if store != nil {
		t := time.NewTicker(c.saveEvery)
		defer t.Stop()
		tick = t.C
	}
	var serveErr error
	failing := false
	saved := int64(0) // the value of writes at the last save
loop:
	for {
		select {
		case serveErr = <-errc:
			break loop
		case <-tick:
			g := writes.Load()
			if g == saved {
				continue // nothing was written since the last save
			}
			// A failed save is reported once and retried: serving goes on, shutdown saves again.
			err := store.save(srv)
			if err != nil && !failing {
				logger.Printf("saving %s: %v", c.data, err)
			}
			failing = err != nil
			if err == nil {
				saved = g
				if c.saved != nil {
					c.saved()
				}
			}
		case <-ctx.Done():
			break loop
		}
	}

	if serveErr == nil {
		fmt.Fprintln(env.Stdout, "shutting down")
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		serveErr = hs.Shutdown(sctx)
		if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) && serveErr == nil {
			serveErr = err
		}
	} else {
		serveErr = fmt.Errorf("server stopped: %w", serveErr)
	}
	if store != nil {
		if err := store.save(srv); err != nil {
			return fmt.Errorf("saving %s at shutdown: %w", c.data, err)
		}
		fmt.Fprintf(env.Stdout, "data saved to %s\n", c.data)
	}
	return serveErr
}

// logRequests logs one line per request: method, path and query, status, duration and the Basic
// auth user. The Authorization header (which carries the token) is never logged. It counts the
// requests that may change the data in writes, so that unchanged data is not saved again.
func logRequests(h http.Handler, logger *log.Logger, writes *atomic.Int64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writes.Add(1)
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		logLine := func(status string) {
			user, _, _ := r.BasicAuth()
			if user == "" {
				user = "-"
			}
			logger.Printf("%s %s %s %s %s user=%s", start.UTC().Format(time.RFC3339), r.Method, r.URL.RequestURI(),
				status, time.Since(start).Round(time.Microsecond), user)
		}
		defer func() {
			// An injected drop aborts the handler: say so, then let net/http close the connection.
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					logLine("dropped")
				}
				panic(v)
			}
		}()
		h.ServeHTTP(sw, r)
		logLine(strconv.Itoa(sw.status))
	})
}

// statusWriter records the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the underlying writer (flush, deadlines).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// byteSize prints a byte count for people.
func byteSize(n int) string {
	switch {
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
