// Package bench compares this library with other Go metric clients, side by side in one
// go test -bench run: recording a gauge with three tags, aggregated client-side (this file);
// Queue.Add with a tag map the caller changes, and on a growing queue (queue_add_test.go);
// process CPU per measurement delivered to a discard server (endtoend_test.go); the Aggregator
// over 100k series (aggregator_series_test.go). It is a separate module so that the library
// itself does not depend on the peers. See README.md.
package bench

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/DataDog/datadog-go/v5/statsd"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/go-librato/librato"
)

// flushEvery is how many values each benchmark goroutine records between two flushes.
const flushEvery = 10_000

const metricName = "api.latency"

var (
	tagMap  = map[string]string{"host": "web-1", "region": "us-east-1", "service": "api"}
	tagList = []string{"host:web-1", "region:us-east-1", "service:api"}
	attrs   = attribute.NewSet(attribute.String("host", "web-1"), attribute.String("region", "us-east-1"),
		attribute.String("service", "api"))
)

// run measures record, calling flush every flushEvery records of a goroutine, serially and with
// b.RunParallel.
func run(b *testing.B, record func(v float64), flush func()) {
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			record(float64(i & 1023))
			if i++; i%flushEvery == 0 {
				flush()
			}
		}
		flush()
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				record(float64(i & 1023))
				if i++; i%flushEvery == 0 {
					flush()
				}
			}
		})
		flush()
	})
}

// discardServer is an HTTP server that reads and discards request bodies.
func discardServer(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// discardUDP is a UDP socket that reads and discards datagrams.
func discardUDP(b *testing.B) string {
	conn, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() {
		buf := make([]byte, 65536)
		for {
			if _, _, err := conn.ReadFrom(buf); err != nil {
				return
			}
		}
	}()
	b.Cleanup(func() { conn.Close() })
	return conn.LocalAddr().String()
}

func BenchmarkGauge3Tags(b *testing.B) {
	b.Run("librato", func(b *testing.B) {
		srv := discardServer(b)
		c, err := librato.Connect("bench@example.com", "token", librato.WithBaseURL(srv.URL+"/v1/"))
		if err != nil {
			b.Fatal(err)
		}
		a, err := c.NewAggregator(librato.AggregatorOptions{})
		if err != nil {
			b.Fatal(err)
		}
		q, err := c.NewQueue(librato.QueueOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = q.Close(context.Background()) })
		run(b, func(v float64) {
			if err := a.AddTagged(metricName, v, tagMap); err != nil {
				b.Fatal(err)
			}
		}, func() {
			if err := q.AddAggregator(a); err != nil {
				b.Fatal(err)
			}
			if err := q.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
		})
	})

	b.Run("librato-handle", func(b *testing.B) {
		srv := discardServer(b)
		c, err := librato.Connect("bench@example.com", "token", librato.WithBaseURL(srv.URL+"/v1/"))
		if err != nil {
			b.Fatal(err)
		}
		a, err := c.NewAggregator(librato.AggregatorOptions{})
		if err != nil {
			b.Fatal(err)
		}
		s, err := a.TaggedSeries(metricName, tagMap) // resolved once, outside the hot path
		if err != nil {
			b.Fatal(err)
		}
		q, err := c.NewQueue(librato.QueueOptions{})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = q.Close(context.Background()) })
		run(b, func(v float64) {
			if err := s.Add(v); err != nil {
				b.Fatal(err)
			}
		}, func() {
			if err := q.AddAggregator(a); err != nil {
				b.Fatal(err)
			}
			if err := q.Flush(context.Background()); err != nil {
				b.Fatal(err)
			}
		})
	})

	b.Run("datadog-go", func(b *testing.B) {
		c, err := statsd.New(discardUDP(b), statsd.WithClientSideAggregation(), statsd.WithoutTelemetry(),
			statsd.WithoutOriginDetection())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = c.Close() })
		run(b, func(v float64) {
			if err := c.Gauge(metricName, v, tagList, 1); err != nil {
				b.Fatal(err)
			}
		}, func() {
			if err := c.Flush(); err != nil {
				b.Fatal(err)
			}
		})
	})

	for _, kind := range []string{"gauge", "histogram"} {
		b.Run("otel-"+kind, func(b *testing.B) {
			reader := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
			b.Cleanup(func() { _ = mp.Shutdown(context.Background()) })
			meter := mp.Meter("bench")
			opt := metric.WithAttributeSet(attrs) // precomputed: the SDK's fast path
			ctx := context.Background()
			var record func(float64)
			if kind == "gauge" {
				g, err := meter.Float64Gauge(metricName)
				if err != nil {
					b.Fatal(err)
				}
				record = func(v float64) { g.Record(ctx, v, opt) }
			} else {
				h, err := meter.Float64Histogram(metricName)
				if err != nil {
					b.Fatal(err)
				}
				record = func(v float64) { h.Record(ctx, v, opt) }
			}
			var rm metricdata.ResourceMetrics
			run(b, record, func() {
				if err := reader.Collect(ctx, &rm); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}
