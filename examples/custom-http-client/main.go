// Command custom-http-client shows how to give the client your own *http.Client: a tuned
// transport (connection pool, proxy from the environment, TLS 1.2+), a RoundTripper that logs
// every attempt, and the library's retry policy on top of it.
//
//	go run ./examples/custom-http-client
//
// Retries happen above your client, so the log shows each attempt: against the in-process fake
// API used without LIBRATO_USER/LIBRATO_TOKEN, the example makes the first request fail with a
// 503 to show a retry. The logging transport never prints the Authorization header.
package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"time"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/examples/internal/exampleenv"
	"github.com/go-librato/librato/libratotest"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "custom-http-client:", err)
		os.Exit(1)
	}
}

// loggingTransport logs each HTTP attempt (method, path, status, duration) and counts them.
// It logs no header: the Authorization header carries the credentials.
type loggingTransport struct {
	next     http.RoundTripper
	w        io.Writer
	attempts atomic.Int64
}

func (t *loggingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	n := t.attempts.Add(1)
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	took := time.Since(start).Round(time.Microsecond)
	if err != nil {
		fmt.Fprintf(t.w, "  http #%d %s %s: %v (%s)\n", n, req.Method, req.URL.Path, err, took)
		return nil, err
	}
	fmt.Fprintf(t.w, "  http #%d %s %s -> %d (%s)\n", n, req.Method, req.URL.Path, resp.StatusCode, took)
	return resp, nil
}

// newHTTPClient builds the client an organization might mandate: its own pool sizes and
// timeouts, the proxy from HTTPS_PROXY/NO_PROXY, TLS 1.2 or later, and request logging.
func newHTTPClient(w io.Writer) (*http.Client, *loggingTransport) {
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:   5 * time.Second,
		MaxIdleConns:          20,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 10 * time.Second,
		ForceAttemptHTTP2:     true,
	}
	lt := &loggingTransport{next: tr, w: w}
	// Timeout bounds one attempt; the ctx of each call bounds the whole call, retries included.
	return &http.Client{Transport: lt, Timeout: 15 * time.Second}, lt
}

func run(ctx context.Context, w io.Writer, getenv func(string) string) error {
	hc, lt := newHTTPClient(w)
	opts := []librato.Option{
		librato.WithHTTPClient(hc),
		librato.WithRetry(librato.RetryPolicy{MaxAttempts: 3, MinWait: 50 * time.Millisecond, MaxWait: time.Second}),
		librato.WithUserAgent("inventory-sync/2.0"),
	}

	c, fake, err := exampleenv.Connect(getenv, opts...)
	if fake != nil {
		defer fake.Close()
		fmt.Fprintf(w, "LIBRATO_USER/LIBRATO_TOKEN not set: using an in-process fake API at %s\n", fake.URL)
		// Make the first request fail, to show the retry in the log.
		fmt.Fprintln(w, "the fake will answer the first request with 503; watch the client retry")
		if err := fake.AddFault(libratotest.Fault{Status: http.StatusServiceUnavailable, Count: 1,
			Body: `{"errors":{"system":["temporarily unavailable"]}}`}); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(w, "using the Librato API as %s\n", getenv("LIBRATO_USER"))
	}
	if err != nil {
		return err
	}

	fmt.Fprintln(w, "ping:")
	if err := c.Ping(ctx); err != nil {
		return err
	}
	fmt.Fprintln(w, "submit:")
	if err := c.Submit(ctx, librato.Measurement{Name: "example.custom_client.runs", Value: 1}); err != nil {
		return err
	}
	fmt.Fprintln(w, "read back:")
	m, err := c.Metrics.Get(ctx, "example.custom_client.runs", nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "metric %s (%s) exists; %d HTTP attempts in all\n", m.Name, m.Type, lt.attempts.Load())
	return nil
}
