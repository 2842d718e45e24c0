package librato

import (
	"strconv"
	"testing"
)

func BenchmarkAggregatorAdd(b *testing.B) {
	a := newAggregator(b, benchClient(b), AggregatorOptions{Source: "web-1"})
	b.ReportAllocs()
	for b.Loop() {
		if err := a.Add("api.latency", 42.5); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAggregatorAddTagged(b *testing.B) {
	a := newAggregator(b, benchClient(b), AggregatorOptions{})
	b.ReportAllocs()
	for b.Loop() {
		if err := a.AddTagged("api.latency", 42.5, benchTags); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAggregatorAddTaggedParallel(b *testing.B) {
	a := newAggregator(b, benchClient(b), AggregatorOptions{})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := a.AddTagged("api.latency", 42.5, benchTags); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAggregatorSeriesAdd is the handle path: AddTagged's work minus reading the tag map.
func BenchmarkAggregatorSeriesAdd(b *testing.B) {
	a := newAggregator(b, benchClient(b), AggregatorOptions{})
	s, err := a.TaggedSeries("api.latency", benchTags)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Add(42.5); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAggregatorFlush1000 moves 1000 tagged series into a queue (AddAggregator), the
// per-period cost of an aggregator.
func BenchmarkAggregatorFlush1000(b *testing.B) {
	c := benchClient(b)
	a := newAggregator(b, c, AggregatorOptions{})
	q := newQueue(b, c, QueueOptions{MaxPending: -1})
	tags := make([]map[string]string, 1000)
	for i := range tags {
		tags[i] = map[string]string{"host": "web-" + strconv.Itoa(i), "service": "api"}
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := range tags {
			if err := a.AddTagged("api.latency", float64(i), tags[i]); err != nil {
				b.Fatal(err)
			}
		}
		if err := q.AddAggregator(a); err != nil {
			b.Fatal(err)
		}
		drainForBench(q)
	}
}

// BenchmarkAggregatorAddTagged1000Series: 1000 series with a map each, in round robin (more call
// sites than a small hint table has slots).
func BenchmarkAggregatorAddTagged1000Series(b *testing.B) {
	a := newAggregator(b, benchClient(b), AggregatorOptions{})
	tags := make([]map[string]string, 1000)
	for i := range tags {
		tags[i] = map[string]string{"host": "web-" + strconv.Itoa(i), "region": "us-east-1", "service": "api"}
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := a.AddTagged("api.latency", 1, tags[i%len(tags)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAggregatorAddTaggedFreshMaps: a map literal built for every call (the hint is keyed by
// a map address that changes each time), which must stay on the stack.
func BenchmarkAggregatorAddTaggedFreshMaps(b *testing.B) {
	a := newAggregator(b, benchClient(b), AggregatorOptions{})
	hosts := []string{"web-1", "web-2", "web-3", "web-4"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := a.AddTagged("api.latency", 1, map[string]string{"host": hosts[i&3], "region": "us-east-1", "service": "api"}); err != nil {
			b.Fatal(err)
		}
	}
}
