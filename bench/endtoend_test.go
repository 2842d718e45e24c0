package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/DataDog/datadog-go/v5/statsd"
	herokulibrato "github.com/heroku/x/go-kit/metrics/provider/librato"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/go-librato/librato"
)

// e2eSeries are the series of the end-to-end benchmarks: 10 hosts × 3 regions × 10 services,
// 300 tag sets of three tags.
var e2eSeries = func() []tagSet {
	var sets []tagSet
	for h := range 10 {
		for _, region := range []string{"us-east-1", "us-west-2", "eu-west-1"} {
			for s := range 10 {
				sets = append(sets, tagSet{fmt.Sprintf("web-%02d", h), region, fmt.Sprintf("service-%d", s)})
			}
		}
	}
	return sets
}()

// e2eFlushEvery is how many measurements the end-to-end benchmarks record between two flushes:
// one per series, so that a client that aggregates per series still sends one value per
// measurement recorded (each flush sends every series once).
var e2eFlushEvery = len(e2eSeries)

// endToEnd runs b.N calls of record(i, series) (series = i mod len(e2eSeries), round robin),
// calling flush every e2eFlushEvery calls and finish at the end, all on this goroutine. It
// reports the process CPU time (user + system, all threads; the receiving discard process
// is another process and not counted) per measurement, the request body or datagram bytes
// per measurement and the values the discard process received per measurement (about 1 when
// every measurement reached it as one value). wantPoints, when set, checks the values received.
func endToEnd(b *testing.B, record func(i, series int), flush, finish func(), wantPoints func(got uint64)) {
	before := received(b)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU(b)
	for i := range b.N {
		record(i, i%len(e2eSeries))
		if (i+1)%e2eFlushEvery == 0 {
			flush()
		}
	}
	finish()
	cpu := processCPU(b) - cpu0
	b.StopTimer()

	after := awaitReceived(b, before)
	points := after.Points - before.Points
	if wantPoints != nil {
		wantPoints(points)
	}
	if n := after.Unreadable - before.Unreadable; n > 0 {
		b.Fatalf("%d request bodies the discard process could not read", n)
	}
	wire := after.BodyBytes - before.BodyBytes + after.UDPBytes - before.UDPBytes
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/measurement")
	b.ReportMetric(float64(wire)/float64(b.N), "wire-B/measurement")
	b.ReportMetric(float64(points)/float64(b.N), "points/measurement")
}

// awaitReceived returns what the discard process received once it stops changing (datagrams
// sent just before may still be on their way), waiting 2 s at most.
func awaitReceived(b *testing.B, before discardStats) discardStats {
	last := received(b)
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		now := received(b)
		if now == last && now != before {
			break
		}
		last = now
	}
	return last
}

// BenchmarkEndToEnd records gauges with three tags over the 300 series of e2eSeries, round
// robin, and delivers them to the discard process, in each client as its documentation
// suggests; see README.md.
func BenchmarkEndToEnd(b *testing.B) {
	httpAddr, udpAddr := discardAddrs(b)

	// librato: Queue.Add of each measurement (tags: a prebuilt map per series), Submit every
	// 300 (one POST of one 300-measurement chunk), no client-side aggregation.
	b.Run("librato", func(b *testing.B) {
		q := discardQueue(b, librato.QueueOptions{})
		maps := make([]map[string]string, len(e2eSeries))
		for k, ts := range e2eSeries {
			maps[k] = ts.tags()
		}
		sent0 := q.Stats().Sent
		endToEnd(b, func(i, k int) {
			if err := q.Add(librato.Measurement{Name: metricName, Value: float64(i & 1023), Tags: maps[k]}); err != nil {
				b.Fatal(err)
			}
		}, func() { submit(b, q) }, func() {
			if err := q.Close(context.Background()); err != nil {
				b.Fatal(err)
			}
		}, func(points uint64) {
			if sent := q.Stats().Sent - sent0; sent != uint64(b.N) || points != uint64(b.N) {
				b.Fatalf("%d measurements: queue says %d sent, %d received", b.N, sent, points)
			}
		})
	})

	// net-http-floor: no client library, as a floor for the HTTP rows. A body of the 300 series
	// in the measurements API's JSON, built once, is POSTed every 300 calls by a bare net/http
	// client (the default transport, as the librato row's, and the body a *bytes.Reader, the
	// kind net/http sends with the fewest writes); a call records nothing. Its CPU is what
	// delivering these bytes costs any net/http client.
	b.Run("net-http-floor", func(b *testing.B) {
		body := floorBody(b)
		u := "http://" + httpAddr + "/v1/measurements"
		posts := 0
		endToEnd(b, func(i, k int) {}, func() {
			resp, err := http.Post(u, "application/json", bytes.NewReader(body))
			if err != nil {
				b.Fatal(err)
			}
			_, err = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if err != nil || resp.StatusCode/100 != 2 {
				b.Fatalf("POST: %v, status %d", err, resp.StatusCode)
			}
			posts++
		}, func() {}, func(points uint64) {
			if want := uint64(posts * len(e2eSeries)); points != want {
				b.Fatalf("%d POSTs of %d: %d values received", posts, len(e2eSeries), points)
			}
		})
	})

	// heroku-x: the go-kit Librato provider of github.com/heroku/x v0.0.55 with tags (the
	// measurements API), Gauge.With(label values).Set per measurement (label values prebuilt per
	// series), Provider.Flush every 300. It keeps the last value of each series and sends every
	// series it has seen (plus three gauges of its own) on each flush, 300 per POST.
	b.Run("heroku-x", func(b *testing.B) {
		var failures atomic.Int64
		u, err := url.Parse("http://" + httpAddr + "/")
		if err != nil {
			b.Fatal(err)
		}
		p := herokulibrato.New(u, time.Hour, herokulibrato.WithTags(),
			herokulibrato.WithErrorHandler(func(error) { failures.Add(1) })).(*herokulibrato.Provider)
		g := p.NewGauge(metricName)
		labels := make([][]string, len(e2eSeries))
		for k, ts := range e2eSeries {
			labels[k] = []string{"host", ts.host, "region", ts.region, "service", ts.service}
		}
		endToEnd(b, func(i, k int) {
			g.With(labels[k]...).Set(float64(i & 1023))
		}, func() { _ = p.Flush() }, p.Stop, func(points uint64) {
			if n := failures.Load(); n > 0 || points == 0 {
				b.Fatalf("%d failed POSTs, %d values received", n, points)
			}
		})
	})

	// otel-otlphttp: the OpenTelemetry SDK, Float64Gauge.Record with a prebuilt attribute set
	// per series (its fast path), a PeriodicReader with the otlpmetrichttp exporter (protobuf,
	// no compression), MeterProvider.ForceFlush every 300. Cumulative temporality: each export
	// carries the last value of every series seen.
	b.Run("otel-otlphttp", func(b *testing.B) {
		ctx := context.Background()
		exp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpoint(httpAddr), otlpmetrichttp.WithInsecure())
		if err != nil {
			b.Fatal(err)
		}
		mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(
			sdkmetric.NewPeriodicReader(exp, sdkmetric.WithInterval(time.Hour))))
		g, err := mp.Meter("bench").Float64Gauge(metricName)
		if err != nil {
			b.Fatal(err)
		}
		opts := make([]metric.RecordOption, len(e2eSeries))
		for k, ts := range e2eSeries {
			opts[k] = metric.WithAttributeSet(attribute.NewSet(attribute.String("host", ts.host),
				attribute.String("region", ts.region), attribute.String("service", ts.service)))
		}
		endToEnd(b, func(i, k int) {
			g.Record(ctx, float64(i&1023), opts[k])
		}, func() {
			if err := mp.ForceFlush(ctx); err != nil {
				b.Fatal(err)
			}
		}, func() {
			if err := mp.Shutdown(ctx); err != nil {
				b.Fatal(err)
			}
		}, func(points uint64) {
			if points == 0 {
				b.Fatal("no values received")
			}
		})
	})

	// datadog-udp: datadog-go v5 without client-side aggregation: every Gauge call is one
	// statsd line, buffered into datagrams by the client and sent over UDP; Close at the end.
	// UDP may lose datagrams: points/measurement below 1 says how many were lost.
	b.Run("datadog-udp", func(b *testing.B) {
		c, err := statsd.New(udpAddr, statsd.WithoutClientSideAggregation(), statsd.WithoutTelemetry(),
			statsd.WithoutOriginDetection())
		if err != nil {
			b.Fatal(err)
		}
		lists := make([][]string, len(e2eSeries))
		for k, ts := range e2eSeries {
			lists[k] = ts.list()
		}
		endToEnd(b, func(i, k int) {
			if err := c.Gauge(metricName, float64(i&1023), lists[k], 1); err != nil {
				b.Fatal(err)
			}
		}, func() {}, func() {
			if err := c.Close(); err != nil {
				b.Fatal(err)
			}
		}, func(points uint64) {
			if points == 0 {
				b.Fatal("no values received")
			}
		})
	})
}

// floorBody is a measurements API body of one gauge per series of e2eSeries, the shape of the
// librato row's bodies (values of the same width, a time for the whole body).
func floorBody(b *testing.B) []byte {
	type measurement struct {
		Name  string            `json:"name"`
		Value float64           `json:"value"`
		Tags  map[string]string `json:"tags"`
	}
	ms := make([]measurement, len(e2eSeries))
	for k, ts := range e2eSeries {
		ms[k] = measurement{metricName, float64(k & 1023), ts.tags()}
	}
	body, err := json.Marshal(struct {
		Time         int64         `json:"time"`
		Measurements []measurement `json:"measurements"`
	}{time.Now().Unix(), ms})
	if err != nil {
		b.Fatal(err)
	}
	return body
}
