package librato_test

import (
	"context"
	"fmt"
	"time"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"
)

// A Queue batches measurements and sends them in the background; Close sends the rest.
func ExampleQueue() {
	srv := libratotest.NewServer()
	defer srv.Close()
	c, err := srv.Client()
	if err != nil {
		panic(err)
	}

	q, err := c.NewQueue(librato.QueueOptions{
		FlushInterval: 10 * time.Second,
		Tags:          map[string]string{"service": "api"}, // under each measurement's own tags
	})
	if err != nil {
		panic(err)
	}
	kitchen := map[string]string{"room": "kitchen"} // one map per call site: validated once
	for _, v := range []float64{21.5, 22.5} {
		if err := q.Add(librato.Measurement{Name: "temperature", Value: v, Tags: kitchen}); err != nil {
			fmt.Println("add:", err)
		}
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := q.Close(ctx); err != nil { // stops the flusher, sends what is queued
		fmt.Println("close:", err)
	}
	for _, p := range srv.Measurements("temperature") {
		fmt.Println(p.Tags, p.Count, p.Sum)
	}
	st := q.Stats()
	fmt.Println("sent:", st.Sent, "requests:", st.Requests)
	// Output:
	// map[room:kitchen service:api] 2 44
	// sent: 2 requests: 1
}

// An Aggregator keeps one summary per series; a Queue takes them with AddAggregator.
func ExampleAggregator() {
	srv := libratotest.NewServer()
	defer srv.Close()
	c, err := srv.Client()
	if err != nil {
		panic(err)
	}

	a, err := c.NewAggregator(librato.AggregatorOptions{
		Tags:   map[string]string{"host": "web1"},
		Period: time.Minute, // times are floored to the minute
	})
	if err != nil {
		panic(err)
	}
	for _, ms := range []float64{12, 30, 18} {
		if err := a.AddTagged("request.duration", ms, map[string]string{"route": "login"}); err != nil {
			fmt.Println(err)
		}
	}
	// The hottest call sites can resolve their series once.
	h, err := a.TaggedSeries("request.duration", map[string]string{"route": "home"})
	if err != nil {
		panic(err)
	}
	_ = h.Add(5)

	for _, m := range a.Measurements() {
		s := m.Summary
		fmt.Println(m.Name, m.Tags, s.Count, s.Sum, s.Min, s.Max, *s.Last, m.Time.Unix()%60 == 0)
	}
	if err := a.Submit(context.Background()); err != nil {
		fmt.Println(err)
	}
	fmt.Println(len(a.Measurements()), len(srv.Measurements("request.duration")))
	// Output:
	// request.duration map[host:web1 route:login] 3 60 12 30 18 true
	// request.duration map[host:web1 route:home] 1 5 5 5 5 true
	// 0 2
}
