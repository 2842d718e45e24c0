package librato_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"
)

// metricsExampleClient starts a fake API whose clock stands at now and returns a client for it.
func metricsExampleClient(now time.Time, opts ...libratotest.Option) (*libratotest.Server, *librato.Client) {
	srv := libratotest.NewServer(append([]libratotest.Option{libratotest.WithNow(func() time.Time { return now })}, opts...)...)
	c, err := srv.Client()
	if err != nil {
		log.Fatal(err)
	}
	return srv, c
}

func ExampleClient_Get() {
	t0 := time.Unix(1700000040, 0).UTC()
	srv, c := metricsExampleClient(t0.Add(10 * time.Minute))
	defer srv.Close()
	ctx := context.Background()
	for i, v := range []float64{84.5, 86.5, 89.7} {
		err := c.Submit(ctx, librato.Measurement{Name: "cpu_temp", Source: "server1", Value: v, Time: t0.Add(time.Duration(i) * time.Minute)})
		if err != nil {
			log.Fatal(err)
		}
	}

	m, err := c.Metrics.Get(ctx, "cpu_temp", &librato.GetOptions{StartTime: t0, Resolution: 60})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Name, m.Type, "resolution", m.Resolution)
	for _, p := range m.Measurements["server1"] {
		fmt.Println(p.Time.Format(time.TimeOnly), p.Value)
	}
	// Output:
	// cpu_temp gauge resolution 60
	// 22:14:00 84.5
	// 22:15:00 86.5
	// 22:16:00 89.7
}

func ExampleClient_Metrics() {
	srv, c := metricsExampleClient(time.Now(), libratotest.WithPageSize(2)) // small pages: the iterator follows them
	defer srv.Close()
	ctx := context.Background()
	for _, name := range []string{"app.requests", "app.errors", "db.queries", "app.latency"} {
		if err := c.Metrics.Update(ctx, name, librato.MetricUpdate{Type: "gauge", Period: time.Minute}); err != nil {
			log.Fatal(err)
		}
	}

	for m, err := range c.Metrics.All(ctx, &librato.ListOptions{Name: "app."}) {
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(m.Name, m.Period)
	}
	// Output:
	// app.errors 1m0s
	// app.latency 1m0s
	// app.requests 1m0s
}

func ExampleMeasurementsService_All() {
	t0 := time.Unix(1700000040, 0).UTC()
	srv, c := metricsExampleClient(t0.Add(10*time.Minute), libratotest.WithPageSize(1))
	defer srv.Close()
	ctx := context.Background()
	for _, host := range []string{"web1", "web2"} {
		for i := range 2 {
			err := c.Submit(ctx, librato.Measurement{Name: "cpu", Value: float64(10*i + len(host)),
				Tags: map[string]string{"host": host}, Time: t0.Add(time.Duration(i) * time.Minute)})
			if err != nil {
				log.Fatal(err)
			}
		}
	}

	opts := &librato.MeasurementsOptions{StartTime: t0, Resolution: 60, Tags: map[string]string{"host": "web*"}}
	for s, err := range c.Measurements.All(ctx, "cpu", opts) {
		if err != nil {
			log.Fatal(err)
		}
		for _, p := range s.Points {
			fmt.Println(s.Tags["host"], p.Time.Format(time.TimeOnly), p.Value)
		}
	}
	// Output:
	// web1 22:14:00 4
	// web1 22:15:00 14
	// web2 22:14:00 4
	// web2 22:15:00 14
}

func ExampleMetricsService_Delete() {
	srv, c := metricsExampleClient(time.Now())
	defer srv.Close()
	ctx := context.Background()
	for _, name := range []string{"tmp.a", "tmp.b", "tmp.keep", "prod.a"} {
		if err := c.Metrics.Update(ctx, name, librato.MetricUpdate{Type: "gauge"}); err != nil {
			log.Fatal(err)
		}
	}

	if err := c.Metrics.DeletePattern(ctx, "tmp.*", []string{"tmp.keep"}); err != nil { // one request for the lot
		log.Fatal(err)
	}
	if err := c.Metrics.Delete(ctx, "prod.a"); err != nil {
		log.Fatal(err)
	}
	page, err := c.Metrics.List(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range page.Items {
		fmt.Println(m.Name)
	}
	// Output:
	// tmp.keep
}
