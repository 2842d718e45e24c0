// Command quickstart is the five-minute tour of the librato package: it submits gauges, counters
// and tagged measurements, lists the metrics and reads them back.
//
//	go run ./examples/quickstart
//
// With LIBRATO_USER and LIBRATO_TOKEN unset it starts libratotest, the package's fake Librato
// API, in this process, so it runs with no account and no network. With them set it talks to the
// real API (LIBRATO_URL overrides the address) and creates metrics named quickstart.*.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"os/signal"
	"slices"
	"strings"
	"time"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/examples/internal/exampleenv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, os.Getenv); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, getenv func(string) string) error {
	c, fake, err := exampleenv.Connect(getenv)
	if fake != nil {
		defer fake.Close()
		fmt.Fprintf(w, "LIBRATO_USER/LIBRATO_TOKEN not set: using an in-process fake Librato API (libratotest) at %s.\n\n", fake.URL)
	} else {
		fmt.Fprintf(w, "Using the Librato API as %s.\n\n", getenv("LIBRATO_USER"))
	}
	if err != nil {
		return err
	}
	// Fail early, with a clear message, on bad credentials or no network.
	if err := c.Ping(ctx); err != nil {
		return fmt.Errorf("cannot reach the API: %w", err)
	}

	// 1. Submit: gauges (one per source), a counter, and tagged measurements, in one call.
	//    Submit validates everything first and sends nothing if anything is invalid.
	now := time.Now().Truncate(time.Minute)
	var ms []librato.Measurement
	for i := range 5 {
		at := now.Add(time.Duration(i-5) * time.Minute)
		ms = append(ms,
			librato.Measurement{Name: "quickstart.temperature", Value: 20 + 2*math.Sin(float64(i)), Source: "kitchen", Time: at},
			librato.Measurement{Name: "quickstart.temperature", Value: 17 + float64(i)/2, Source: "cellar", Time: at},
		)
	}
	ms = append(ms, librato.Measurement{Name: "quickstart.jobs.done", Value: 1200, Type: librato.Counter, Time: now.Add(-time.Minute)})
	if err := c.Submit(ctx, ms...); err != nil {
		return fmt.Errorf("submitting legacy measurements: %w", err)
	}
	fmt.Fprintf(w, "Submitted %d gauge and counter measurements.\n", len(ms))

	var tagged []librato.Measurement
	for i, region := range []string{"eu", "us", "eu", "us"} {
		tagged = append(tagged, librato.Measurement{
			Name: "quickstart.latency", Value: float64(80 + 15*i), Time: now.Add(time.Duration(i-4) * time.Minute),
			Tags: map[string]string{"region": region, "service": "api"},
		})
	}
	taggedOK := true
	if err := c.Submit(ctx, tagged...); err != nil {
		// Older source-only accounts refuse tagged measurements; the tour goes on without them.
		taggedOK = false
		fmt.Fprintf(w, "Tagged measurements not accepted by this account: %v\n", err)
	} else {
		fmt.Fprintf(w, "Submitted %d tagged measurements, tagged region=eu or region=us, and service=api.\n", len(tagged))
	}

	// 2. List: every metric whose name contains "quickstart", all pages.
	fmt.Fprintln(w, "\nMetrics:")
	for m, err := range c.Metrics.All(ctx, &librato.ListOptions{Name: "quickstart"}) {
		if err != nil {
			return fmt.Errorf("listing metrics: %w", err)
		}
		fmt.Fprintf(w, "  %-24s %s\n", m.Name, m.Type)
	}

	// 3. Read back: legacy series per source, then the tagged series per tag set.
	fmt.Fprintln(w, "\nReadings of the last 10 minutes:")
	since := now.Add(-10 * time.Minute)
	for _, name := range []string{"quickstart.temperature", "quickstart.jobs.done"} {
		m, err := c.Metrics.Get(ctx, name, &librato.GetOptions{StartTime: since, Resolution: 60})
		if err != nil {
			return fmt.Errorf("reading %s: %w", name, err)
		}
		for _, src := range slices.Sorted(maps.Keys(m.Measurements)) {
			fmt.Fprintf(w, "  %-24s %-22s %s\n", name, src, values(m.Measurements[src]))
		}
	}
	if taggedOK {
		series, err := c.Measurements.Get(ctx, "quickstart.latency", &librato.MeasurementsOptions{StartTime: since, Resolution: 60})
		if err != nil {
			return fmt.Errorf("reading quickstart.latency: %w", err)
		}
		for _, s := range series {
			fmt.Fprintf(w, "  %-24s %-22s %s\n", "quickstart.latency", tagList(s.Tags), values(s.Points))
		}
	}
	fmt.Fprintln(w, "\n(unassigned is the source the API gives a measurement sent without one, like the counter.)")

	// 4. Errors are values you can inspect: a metric that does not exist is ErrNotFound.
	if _, err := c.Metrics.Get(ctx, "quickstart.no-such-metric", nil); errors.Is(err, librato.ErrNotFound) {
		fmt.Fprintln(w, "\nReading a metric that does not exist gives librato.ErrNotFound, as expected.")
	} else {
		return fmt.Errorf("expected ErrNotFound, got %v", err)
	}
	fmt.Fprint(w, nextSteps)
	return nil
}

// nextSteps ends the tour: the same, by hand, against a sandbox that outlives the program.
const nextSteps = `
Next: run the fake API as a local sandbox, and talk to it with the librato command:
  go run ./cmd/librato serve &     # on 127.0.0.1:8080, user test@example.com, token libratotest-token
  export LIBRATO_URL=http://127.0.0.1:8080 LIBRATO_USER=test@example.com LIBRATO_TOKEN=libratotest-token
  go run ./cmd/librato submit app.requests 42
  go run ./cmd/librato get app.requests --start -10m
`

// tagList prints tags as "k=v,k=v", sorted by name.
func tagList(tags map[string]string) string {
	parts := make([]string, 0, len(tags))
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		parts = append(parts, k+"="+tags[k])
	}
	return strings.Join(parts, ",")
}

// values prints points compactly: "20 21.7 21.8 20.3 18.5".
func values(ps []librato.Point) string {
	parts := make([]string, 0, len(ps))
	for _, p := range ps {
		parts = append(parts, fmt.Sprintf("%.4g", p.Value))
	}
	return strings.Join(parts, " ")
}
