package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlpmetric/otlpmetrichttp"
	"go.opentelemetry.io/otel/metric"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratootel"
)

// otelSeries is how many series one collection holds in BenchmarkOTelExport.
const otelSeries = 10_000

// BenchmarkOTelExport exports collections of otelSeries gauge data points (three attributes
// each) with the same SDK and instruments through two exporters, each posting to the discard
// process: libratootel (Librato JSON through a Queue) and the SDK's otlpmetrichttp (protobuf).
// One iteration is one Collect and one Export; cpu-ns/point is the process CPU time of the
// Export calls per data point (the collection, the same SDK work for both, is left out of it).
func BenchmarkOTelExport(b *testing.B) {
	httpAddr, _ := discardAddrs(b)
	ctx := context.Background()
	exporters := []struct {
		name string
		new  func(b *testing.B) sdkmetric.Exporter
	}{
		{"libratootel", func(b *testing.B) sdkmetric.Exporter {
			c, err := librato.Connect("bench@example.com", "token", librato.WithBaseURL("http://"+httpAddr+"/v1/"))
			if err != nil {
				b.Fatal(err)
			}
			exp, err := libratootel.New(c, libratootel.Options{Queue: librato.QueueOptions{MaxPending: 2 * otelSeries}})
			if err != nil {
				b.Fatal(err)
			}
			return exp
		}},
		{"otlpmetrichttp", func(b *testing.B) sdkmetric.Exporter {
			exp, err := otlpmetrichttp.New(ctx, otlpmetrichttp.WithEndpoint(httpAddr), otlpmetrichttp.WithInsecure())
			if err != nil {
				b.Fatal(err)
			}
			return exp
		}},
	}
	for _, e := range exporters {
		b.Run(e.name, func(b *testing.B) {
			exp := e.new(b)
			reader := sdkmetric.NewManualReader()
			mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader), sdkmetric.WithCardinalityLimit(2*otelSeries))
			g, err := mp.Meter("bench").Float64Gauge(metricName)
			if err != nil {
				b.Fatal(err)
			}
			for k := range otelSeries {
				g.Record(ctx, float64(k), metric.WithAttributes(attribute.String("host", fmt.Sprintf("web-%03d", k%100)),
					attribute.String("region", fmt.Sprintf("r%d", k/100%10)), attribute.Int("shard", k/1000)))
			}
			before := received(b)
			var rm metricdata.ResourceMetrics
			b.ReportAllocs()
			b.ResetTimer()
			var cpu time.Duration
			for range b.N {
				if err := reader.Collect(ctx, &rm); err != nil {
					b.Fatal(err)
				}
				cpu0 := processCPU(b)
				if err := exp.Export(ctx, &rm); err != nil {
					b.Fatal(err)
				}
				cpu += processCPU(b) - cpu0
			}
			b.StopTimer()
			after := awaitReceived(b, before)
			points := float64(b.N) * otelSeries
			if got := float64(after.Points - before.Points); got != points {
				b.Fatalf("%v data points exported, %v received", points, got)
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/points, "cpu-ns/point")
			b.ReportMetric(float64(after.BodyBytes-before.BodyBytes)/points, "wire-B/point")
			sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			_ = mp.Shutdown(sctx)
			_ = exp.Shutdown(sctx)
		})
	}
}
