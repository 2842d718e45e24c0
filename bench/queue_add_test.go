package bench

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/DataDog/datadog-go/v5/statsd"

	"github.com/go-librato/librato"
)

// drainEvery is how many values a goroutine adds between two drains of the queue (a Submit to
// the discard process, outside the timer), so that Add is measured on a queue that is neither
// full nor growing.
const drainEvery = 8192

// tagSet is one set of the three tags, as values.
type tagSet struct{ host, region, service string }

// tagSets are the four tag sets the changing-map benchmarks cycle through.
var tagSets = [4]tagSet{
	{"web-1", "us-east-1", "api"},
	{"web-2", "us-west-2", "auth"},
	{"web-3", "eu-west-1", "billing"},
	{"web-4", "ap-south-1", "search"},
}

// list is the tag set as datadog-go takes it.
func (t tagSet) list() []string {
	return []string{"host:" + t.host, "region:" + t.region, "service:" + t.service}
}

// tags is the tag set as the map librato takes.
func (t tagSet) tags() map[string]string {
	return map[string]string{"host": t.host, "region": t.region, "service": t.service}
}

// rounds runs b.N calls of add on goroutines goroutines (add(g, i): goroutine g, its i-th call),
// in rounds of drainEvery calls per goroutine; after each round, with the timer stopped, it
// calls between. ns/op is the wall time of the rounds divided by b.N, as with b.RunParallel.
// The first error of add ends the benchmark (after its round).
func rounds(b *testing.B, goroutines int, add func(g, i int) error, between func()) {
	b.ReportAllocs()
	b.ResetTimer()
	next := make([]int, goroutines) // each goroutine's next i
	errs := make([]error, goroutines)
	for done := 0; done < b.N; {
		n := min(drainEvery*goroutines, b.N-done)
		b.StartTimer()
		if goroutines == 1 {
			for range n {
				if errs[0] = add(0, next[0]); errs[0] != nil {
					break
				}
				next[0]++
			}
		} else {
			var wg sync.WaitGroup
			for g := range goroutines {
				share := n / goroutines
				if g < n%goroutines {
					share++
				}
				wg.Go(func() {
					for range share {
						if errs[g] = add(g, next[g]); errs[g] != nil {
							return
						}
						next[g]++
					}
				})
			}
			wg.Wait()
		}
		b.StopTimer()
		if err := errors.Join(errs...); err != nil {
			b.Fatal(err)
		}
		done += n
		between()
	}
}

// eachWidth runs bench as "serial" (one goroutine) and "parallel" (GOMAXPROCS goroutines).
func eachWidth(b *testing.B, bench func(b *testing.B, goroutines int)) {
	b.Run("serial", func(b *testing.B) { bench(b, 1) })
	b.Run("parallel", func(b *testing.B) { bench(b, runtime.GOMAXPROCS(0)) })
}

// discardQueue is a Queue with opts sending to the discard process.
func discardQueue(b *testing.B, opts librato.QueueOptions) *librato.Queue {
	b.Helper()
	httpAddr, _ := discardAddrs(b)
	c, err := librato.Connect("bench@example.com", "token", librato.WithBaseURL("http://"+httpAddr+"/v1/"))
	if err != nil {
		b.Fatal(err)
	}
	q, err := c.NewQueue(opts)
	if err != nil {
		b.Fatal(err)
	}
	return q
}

// submit sends what q holds and checks that nothing is left.
func submit(b *testing.B, q *librato.Queue) {
	if err := q.Flush(context.Background()); err != nil {
		b.Fatal(err)
	}
	if n := q.Len(); n != 0 {
		b.Fatalf("%d measurements left after Submit", n)
	}
}

// BenchmarkAdd3Tags compares Queue.Add of a gauge with three tags, the caller changing its tag map
// between calls, with datadog-go's aggregated Gauge on the same four tag sets; and Queue.Add on a
// drained queue with Queue.Add on a queue growing to heldRound measurements.
func BenchmarkAdd3Tags(b *testing.B) {
	// librato-host-cycles: one map per goroutine; "host" is set to the next of four values
	// before each Add, region and service stay. held-1000000: the same on one goroutine, into a
	// queue that is never drained (see heldAdds).
	b.Run("librato-host-cycles", func(b *testing.B) {
		add := func(q *librato.Queue, tags map[string]string, i int) error {
			tags["host"] = tagSets[i&3].host
			return q.Add(librato.Measurement{Name: metricName, Value: float64(i & 1023), Tags: tags})
		}
		newMap := func() map[string]string {
			return map[string]string{"host": "", "region": tagSets[0].region, "service": tagSets[0].service}
		}
		eachWidth(b, func(b *testing.B, goroutines int) {
			q := discardQueue(b, librato.QueueOptions{})
			defer closeQueue(b, q)
			maps := make([]map[string]string, goroutines)
			for g := range maps {
				maps[g] = newMap()
			}
			rounds(b, goroutines, func(g, i int) error { return add(q, maps[g], i) }, func() { submit(b, q) })
		})
		b.Run("held-"+strconv.Itoa(heldRound), func(b *testing.B) {
			tags := newMap()
			heldAdds(b, func(q *librato.Queue, i int) error { return add(q, tags, i) })
		})
	})

	// librato-all-rewritten: one map per goroutine; all three tags are set to the next of four
	// tag sets before each Add.
	b.Run("librato-all-rewritten", func(b *testing.B) {
		eachWidth(b, func(b *testing.B, goroutines int) {
			q := discardQueue(b, librato.QueueOptions{})
			defer closeQueue(b, q)
			maps := make([]map[string]string, goroutines)
			for g := range maps {
				maps[g] = make(map[string]string, 3)
			}
			rounds(b, goroutines, func(g, i int) error {
				tags, ts := maps[g], tagSets[i&3]
				tags["host"], tags["region"], tags["service"] = ts.host, ts.region, ts.service
				return q.Add(librato.Measurement{Name: metricName, Value: float64(i & 1023), Tags: tags})
			}, func() { submit(b, q) })
		})
	})

	// datadog-go: Gauge with client-side aggregation, cycling through the four tag sets as
	// prebuilt slices (its API takes "name:value" strings; nothing to rewrite).
	b.Run("datadog-go", func(b *testing.B) {
		eachWidth(b, func(b *testing.B, goroutines int) {
			_, udpAddr := discardAddrs(b)
			c, err := statsd.New(udpAddr, statsd.WithClientSideAggregation(), statsd.WithoutTelemetry(),
				statsd.WithoutOriginDetection())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			var lists [4][]string
			for k, ts := range tagSets {
				lists[k] = ts.list()
			}
			rounds(b, goroutines, func(g, i int) error {
				return c.Gauge(metricName, float64(i&1023), lists[i&3], 1)
			}, func() {})
		})
	})
}

// heldRound is how many measurements heldAdds lets a queue hold before it starts over with a
// new one.
const heldRound = 1_000_000

// heldAdds calls add b.N times on one goroutine into a queue that holds everything: no cap, no
// flush, a new queue every heldRound adds (made, and the old one closed and collected, with the
// timer stopped). With b.N ≥ heldRound, each queue grows from 0 to heldRound held measurements.
func heldAdds(b *testing.B, add func(q *librato.Queue, i int) error) {
	b.ReportAllocs()
	for done := 0; done < b.N; {
		b.StopTimer()
		q := discardQueue(b, librato.QueueOptions{MaxPending: -1})
		runtime.GC() // the previous queue's garbage is not this round's cost
		n := min(heldRound, b.N-done)
		b.StartTimer()
		for i := range n {
			if err := add(q, i); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if got := q.Len(); got != n {
			b.Fatalf("queue holds %d, want %d", got, n)
		}
		// Drop what it holds: sending a million measurements is not what is measured.
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_ = q.Close(ctx)
		done += n
	}
}

// closeQueue closes q, sending what is left.
func closeQueue(b *testing.B, q *librato.Queue) {
	if err := q.Close(context.Background()); err != nil {
		b.Error(err)
	}
}
