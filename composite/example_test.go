package composite_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/composite"
	"github.com/go-librato/librato/libratotest"
)

func ExampleSeries() {
	temps := composite.Series("temperature", composite.Source("*"), composite.SeriesOptions{Function: "mean", Period: time.Hour})
	fmt.Println(composite.MovingAverage(composite.Mean(temps), 5))
	fmt.Println(composite.Derive(composite.Series("disk.ops", composite.Tags{"host": "db*", "az": "a"}), true))
	fmt.Println(composite.Timeshift("0,1w", composite.Divide(composite.Series("errors", composite.Source("*")), composite.Series("requests", composite.Source("*")))))
	// Output:
	// moving_average(mean(s("temperature", "*", {function: "mean", period: "3600"})), {size: "5"})
	// derive(s("disk.ops", {"az": "a", "host": "db*"}), {detect_reset: "true"})
	// timeshift("0,1w", divide([s("errors", "*"), s("requests", "*")]))
}

func ExampleParse() {
	e, err := composite.Parse(`sum( s('cpu',"web*",{function:"max"}) )`)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e) // the canonical form

	_, err = composite.Parse(`window(s("cpu", "*"), {size: "100"})`)
	fmt.Println(err)
	// Output:
	// sum(s("cpu", "web*", {function: "max"}))
	// composite: 1:23: window: option size must be a whole number from 1 to 64, got "100"
}

func ExampleMeasurementsService_Query() {
	t0 := time.Unix(1700000040, 0)
	srv := libratotest.NewServer(libratotest.WithNow(func() time.Time { return t0.Add(5 * time.Minute) }))
	defer srv.Close()
	c, err := srv.Client()
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	for i, v := range []float64{1, 2, 4} {
		err := c.Submit(ctx,
			librato.Measurement{Name: "jobs", Source: "worker1", Value: v, Time: t0.Add(time.Duration(i) * time.Minute)},
			librato.Measurement{Name: "jobs", Source: "worker2", Value: 10 * v, Time: t0.Add(time.Duration(i) * time.Minute)})
		if err != nil {
			log.Fatal(err)
		}
	}

	total := composite.Sum(composite.Series("jobs", composite.Source("worker*")))
	res, err := c.Measurements.Query(ctx, total, &librato.CompositeOptions{StartTime: t0, Resolution: 60})
	if err != nil {
		log.Fatal(err)
	}
	for _, s := range res.Series {
		for _, p := range s.Points {
			fmt.Println(p.Time.Sub(t0), p.Value)
		}
	}
	// Output:
	// 0s 11
	// 1m0s 22
	// 2m0s 44
}
