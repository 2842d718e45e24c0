package librato

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"
)

// benchTags is the 3-tag set of the hot-path benchmarks.
var benchTags = map[string]string{"host": "web-1", "region": "us-east-1", "service": "api"}

func benchClient(b *testing.B, opts ...Option) *Client {
	b.Helper()
	opts = append([]Option{WithBaseURL("http://127.0.0.1:1/v1/")}, opts...)
	c, err := Connect("bench@example.com", "token", opts...)
	if err != nil {
		b.Fatal(err)
	}
	return c
}

// drainForBench empties the queue the way a flush does (swap and clear), without the network,
// so Add is measured on a queue that is neither full nor growing without bound.
func drainForBench(q *Queue) {
	q.mu.Lock()
	_, blocks := q.takeLocked()
	n := 0
	for _, b := range blocks {
		n += b.n
		q.recycleLocked(b)
	}
	q.releaseLocked(n)
	q.mu.Unlock()
}

func BenchmarkQueueAdd(b *testing.B) {
	q := newQueue(b, benchClient(b), QueueOptions{})
	m := Measurement{Name: "api.latency", Value: 42.5, Tags: benchTags}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := q.Add(m); err != nil {
			b.Fatal(err)
		}
		if i&8191 == 8191 {
			drainForBench(q)
		}
	}
}

func BenchmarkQueueAddParallel(b *testing.B) {
	q := newQueue(b, benchClient(b), QueueOptions{MaxPending: -1})
	m := Measurement{Name: "api.latency", Value: 42.5, Tags: benchTags}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			if err := q.Add(m); err != nil {
				b.Fatal(err)
			}
			if i++; i&8191 == 8191 {
				drainForBench(q)
			}
		}
	})
}

func BenchmarkQueueSubmit300(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	c := benchClient(b, WithBaseURL(srv.URL+"/v1/"))
	q := newQueue(b, c, QueueOptions{})
	m := Measurement{Name: "api.latency", Value: 42.5, Tags: benchTags}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		for i := 0; i < 300; i++ {
			m.Value = float64(i)
			if err := q.Add(m); err != nil {
				b.Fatal(err)
			}
		}
		b.StartTimer()
		if err := q.Flush(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQueueEndToEnd adds b.N measurements from two goroutines into a queue that
// auto-submits every 1000 against a local server discarding the bodies, then Closes it; it
// reports measurements per second and process CPU time per measurement.
func BenchmarkQueueEndToEnd(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	c := benchClient(b, WithBaseURL(srv.URL+"/v1/"))
	q := newQueue(b, c, QueueOptions{AutoSubmitCount: 1000, ChunkSize: 1000, MaxPending: 1 << 20})
	m := Measurement{Name: "api.latency", Value: 42.5, Tags: benchTags}
	b.ReportAllocs()
	cpu0 := processCPU()
	start := time.Now()
	b.SetParallelism(1) // GOMAXPROCS goroutines adding
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			for q.Add(m) == ErrQueueFull {
				runtime.Gosched() // the server is slower than the adders: wait for room
			}
		}
	})
	if err := q.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	st := q.Stats()
	if st.Sent != uint64(b.N) {
		b.Fatalf("sent %d of %d", st.Sent, b.N)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "measurements/s")
	b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/measurement")
}
