// Command otel shows a service instrumented with OpenTelemetry sending its metrics to Librato
// through the libratootel exporter: an HTTP handler measured by otelhttp, Go runtime metrics from
// OTel's contrib runtime instrumentation, and a counter of its own.
//
//	go run .    (in examples/otel: it is a module of its own, so that OpenTelemetry stays out
//	             of the librato module's dependencies)
//
// Without LIBRATO_USER/LIBRATO_TOKEN it exports to an in-process fake API (libratotest) and
// prints what arrived.
package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/contrib/instrumentation/runtime"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/go-librato/librato/examples/internal/exampleenv"
	"github.com/go-librato/librato/libratootel"
)

func main() {
	if err := run(context.Background(), os.Stdout, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "otel:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, getenv func(string) string) error {
	c, fake, err := exampleenv.Connect(getenv)
	if fake != nil {
		defer fake.Close()
		fmt.Fprintf(w, "LIBRATO_USER/LIBRATO_TOKEN not set: exporting to an in-process fake API at %s\n", fake.URL)
	}
	if err != nil {
		return err
	}
	res := resource.NewSchemaless(attribute.String("service.name", "otel-example"))
	mp, exp, err := libratootel.NewMeterProvider(c, 10*time.Second, res,
		libratootel.Options{Percentiles: []float64{0.5, 0.99}})
	if err != nil {
		return err
	}
	if err := runtime.Start(runtime.WithMeterProvider(mp)); err != nil {
		return err
	}

	// The service: one handler, measured by otelhttp, with a counter of its own.
	orders, err := mp.Meter("example").Int64Counter("orders.placed")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/order", func(rw http.ResponseWriter, r *http.Request) {
		orders.Add(r.Context(), 1, metric.WithAttributes(attribute.String("region", r.URL.Query().Get("region"))))
		fmt.Fprintln(rw, "ok")
	})
	srv := httptest.NewServer(otelhttp.NewHandler(mux, "order", otelhttp.WithMeterProvider(mp)))
	defer srv.Close()
	for i := range 20 {
		region := []string{"eu", "us"}[i%2]
		resp, err := http.Get(srv.URL + "/order?region=" + region)
		if err != nil {
			return err
		}
		resp.Body.Close()
	}

	// Shutdown collects once more and flushes the queue: what the service measured is sent.
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := mp.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutting the meter provider down: %w", err)
	}
	st := exp.Queue().Stats()
	fmt.Fprintf(w, "exported %d data points as %d measurements: %d sent, %d dropped\n",
		exp.Stats().Points, exp.Stats().Measurements, st.Sent, st.Dropped)

	// Read back what arrived.
	var names []string
	for m, err := range c.Metrics.All(ctx, nil) {
		if err != nil {
			return err
		}
		names = append(names, m.Name)
	}
	slices.Sort(names)
	fmt.Fprintf(w, "%d metrics, among them:\n", len(names))
	for _, n := range names {
		if strings.HasPrefix(n, "orders.") || strings.HasPrefix(n, "http.server.request.duration") || n == "go.goroutine.count" {
			fmt.Fprintf(w, "  %s\n", n)
		}
	}
	if fake != nil {
		var total float64
		for _, p := range fake.Measurements("orders.placed") {
			total += p.Sum
		}
		fmt.Fprintf(w, "orders.placed adds up to %v over its regions\n", total)
	}
	return nil
}
