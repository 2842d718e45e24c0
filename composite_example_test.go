package librato_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"
)

func ExampleS() {
	temps := librato.S("temperature", librato.Source("*"), librato.SeriesOptions{Function: "mean", Period: time.Hour})
	fmt.Println(librato.MovingAverage(librato.Mean(temps), 5))
	fmt.Println(librato.Derive(librato.S("disk.ops", librato.Tags{"host": "db*", "az": "a"}), true))
	fmt.Println(librato.Timeshift("0,1w", librato.Divide(librato.S("errors", librato.Source("*")), librato.S("requests", librato.Source("*")))))
	// Output:
	// moving_average(mean(s("temperature", "*", {function: "mean", period: "3600"})), {size: "5"})
	// derive(s("disk.ops", {"az": "a", "host": "db*"}), {detect_reset: "true"})
	// timeshift("0,1w", divide([s("errors", "*"), s("requests", "*")]))
}

func ExampleParseComposite() {
	e, err := librato.ParseComposite(`sum( s('cpu',"web*",{function:"max"}) )`)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(e) // the canonical form

	_, err = librato.ParseComposite(`window(s("cpu", "*"), {size: "100"})`)
	fmt.Println(err)
	// Output:
	// sum(s("cpu", "web*", {function: "max"}))
	// composite: 1:23: window: option size must be a whole number from 1 to 64, got "100"
}

func ExampleMeasurementsService_Query() {
	srv := libratotest.NewServer()
	defer srv.Close()
	t0 := time.Unix(1700000040, 0)
	srv.SetNow(t0.Add(5 * time.Minute))
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

	total := librato.Sum(librato.S("jobs", librato.Source("worker*")))
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
