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
	"time"

	"github.com/go-librato/librato/internal/webview"
	"github.com/go-librato/librato/libratotest"
)

// serveCommand is the serve command (listed in the command table in cli.go).
var serveCommand = &commandInfo{
	name:    "serve",
	summary: "run a local Librato-compatible fake API for development",
	usage:   "serve [--addr 127.0.0.1:8080] [--user U --token T] [--data FILE] [--max-series N] [fault flags]",
	help: `Runs the libratotest fake of the Librato API as a local sandbox: point any client (this
command, the Go library, python-librato, curl) at it. It logs one line per request to
stderr and stops cleanly on SIGINT or SIGTERM.

A browser pointed at the server's address (http://127.0.0.1:8080/) gets a web view of
the same data: the metrics with search, a chart per metric with its series and the
annotations as markers, the alerts and their state, a composite query box, all
refreshed every 5 seconds. It reads the API as any client does and asks for the same
user and token (in AppOptics mode: the token as the user name, no password).

Credentials: the server accepts only the user and token given with --user/--token (or
LIBRATO_USER/LIBRATO_TOKEN). Without them it accepts libratotest's defaults, user
test@example.com and token libratotest-token, and only on a loopback address: a
server reachable from other machines must be given its own credentials. The token
is never printed.

With --data FILE the stored metrics, measurements, annotations and alerts are kept
in FILE (an embedded bbolt database) and loaded again at the next start. Every change
is on disk before its answer goes out (changes arriving together share one bbolt
commit), so a crash, even kill -9, loses nothing that was answered with success; the
file grows with each change until the next start or clean stop folds the changes
into one snapshot. Without --data everything lives in memory.

--max-series bounds the series (metric and source, or metric and tag set) the server
keeps: a POST that would create one more is refused with a 400, as the API refuses
invalid measurements. The default, 1,000,000 series, is about 650 MB of memory
(a series of one point takes about 0.7 KB).

` + serveFaultsHelp + `

Examples:
  librato serve
  librato serve --addr 127.0.0.1:9000 --data librato-dev.db
  LIBRATO_URL=http://127.0.0.1:8080 LIBRATO_USER=test@example.com \
    LIBRATO_TOKEN=libratotest-token librato list
` + serveFaultsExamples,
	new: func() command { return &serveCmd{} },
}

type serveCmd struct {
	addr      string
	user      string
	token     string
	data      string
	saveEvery time.Duration // gone: set only to say so
	appOptics bool
	pageSize  int
	maxAge    time.Duration
	faults    serveFaults
	maxSeries int

	// ready, when set (tests), is called with the server's base URL once it listens.
	ready func(url string)
}

// defaultMaxSeries is --max-series's default.
const defaultMaxSeries = 1_000_000

func (c *serveCmd) flags(fs *flag.FlagSet) {
	fs.StringVar(&c.addr, "addr", "127.0.0.1:8080", "listen `address` (host:port; port 0 picks a free one)")
	fs.StringVar(&c.user, "user", "", "user the server accepts (default $LIBRATO_USER, else test@example.com)")
	fs.StringVar(&c.token, "token", "", "token the server accepts (default $LIBRATO_TOKEN, else libratotest's default); never printed")
	fs.StringVar(&c.data, "data", "", "keep the data in this bbolt `file` across restarts")
	fs.DurationVar(&c.saveEvery, "save-every", 0, "no longer used: with --data every change is saved before it is answered")
	fs.IntVar(&c.maxSeries, "max-series", defaultMaxSeries, "refuse new series past this many (0: no limit)")
	fs.BoolVar(&c.appOptics, "appoptics", false, "behave like the AppOptics API (token-only auth, tagged measurements only)")
	fs.IntVar(&c.pageSize, "page-size", libratotest.DefaultPageSize, "length of list pages")
	fs.DurationVar(&c.maxAge, "max-age", libratotest.DefaultMaxAge, "reject measurements older than this (0: accept any age)")
	c.faults.flags(fs)
}

func (c *serveCmd) args(args []string) error {
	if len(args) > 0 {
		return usageErrorf("serve takes no arguments")
	}
	if c.saveEvery != 0 {
		return usageErrorf("--save-every is gone: with --data every change is on disk before it is answered")
	}
	if c.maxSeries < 0 {
		return usageErrorf("--max-series must not be negative")
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
		libratotest.WithMaxAge(c.maxAge), libratotest.WithRequestLog(0), libratotest.WithMaxSeries(c.maxSeries)}
	if c.appOptics {
		opts = append(opts, libratotest.WithAppOptics())
	}
	var store *dataStore
	if c.data != "" {
		store, err = openDataStore(c.data)
		if err != nil {
			return err
		}
		defer store.close()
		opts = append(opts, libratotest.WithJournal(store.record))
	}
	srv := libratotest.NewUnstartedServer(opts...)
	srv.URL = "http://" + ln.Addr().String()
	logger := log.New(env.Stderr, "", 0) // a log.Logger serializes concurrent writes
	if store != nil {
		l, err := store.load(srv)
		if err != nil {
			return err
		}
		switch {
		case l.replayed > 0:
			fmt.Fprintf(env.Stdout, "loaded %s of saved data and %d later changes from %s\n", byteSize(l.size), l.replayed, c.data)
		case l.size > 0:
			fmt.Fprintf(env.Stdout, "loaded %s of saved data from %s\n", byteSize(l.size), c.data)
		}
		if l.differed > 0 {
			logger.Printf("%d saved changes were answered differently this time (options such as --max-series changed): their data may be missing", l.differed)
		}
		if l.replayed > 0 {
			if err := store.compact(srv); err != nil {
				return fmt.Errorf("saving %s: %w", c.data, err)
			}
		}
		store.onError = func(err error, changes int) {
			logger.Printf("%s: %v: %d changes answered 500 (applied in memory, not on disk)", c.data, err, changes)
		}
		store.start()
	}
	// Faults apply to requests from clients only, never to the replay of saved changes above.
	if err := c.faults.install(srv); err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           logRequests(webview.Handler(srv, withFaultAdmin(srv)), logger),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute, // a body trickled in cannot hold its room among the bodies in flight for ever
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
	if c.appOptics {
		fmt.Fprintf(env.Stdout, "web view: open %s/ in a browser (it asks for a user name: give the token, no password)\n", srv.URL)
	} else {
		fmt.Fprintf(env.Stdout, "web view: open %s/ in a browser (it asks for the user and token)\n", srv.URL)
	}
	fmt.Fprintf(env.Stdout, "point clients at it with LIBRATO_URL=%s; stop with Ctrl-C\n", srv.URL)
	if c.ready != nil {
		c.ready(srv.URL)
	}

	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	var serveErr error
	select {
	case serveErr = <-errc:
	case <-ctx.Done():
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
		if err := store.compact(srv); err != nil {
			return fmt.Errorf("saving %s at shutdown: %w", c.data, err)
		}
		fmt.Fprintf(env.Stdout, "data saved to %s\n", c.data)
	}
	return serveErr
}

// logRequests logs one line per request: method, path and query, status, duration and the Basic
// auth user. The Authorization header (which carries the token) is never logged.
func logRequests(h http.Handler, logger *log.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
