package bench

import (
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/DataDog/datadog-go/v5/statsd"

	"github.com/go-librato/librato"
)

// manySeries is the number of distinct series of BenchmarkAggregatorSeries.
const manySeries = 100_000

// manyTagSets returns manySeries distinct tag sets: 1000 hosts × 100 endpoints, one region and
// service.
func manyTagSets() []tagSet {
	sets := make([]tagSet, manySeries)
	for k := range sets {
		sets[k] = tagSet{"web-" + strconv.Itoa(k/100), "us-east-1", "endpoint-" + strconv.Itoa(k%100)}
	}
	return sets
}

// liveHeap is the live heap after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// manySeriesBench creates the manySeries series by calling add once for each (k = 0 ..
// manySeries-1), timer stopped, and reports the live heap this added per series ("B/series");
// then it measures add over the series round robin. The tag data passed to add is built by the
// caller before, so it is not counted; what the client copies of it is. keep is kept alive until
// the heap is measured.
func manySeriesBench(b *testing.B, add func(i, k int), keep any) {
	b.StopTimer()
	before := liveHeap()
	for k := range manySeries {
		add(k, k)
	}
	after := liveHeap()
	runtime.KeepAlive(keep)
	b.ReportAllocs()
	b.ResetTimer()
	b.StartTimer()
	for i := range b.N {
		add(i, i%manySeries)
	}
	b.StopTimer()
	b.ReportMetric((float64(after)-float64(before))/manySeries, "B/series")
}

// BenchmarkAggregatorSeries compares Aggregator.AddTagged with datadog-go's aggregated Gauge over
// manySeries series, round robin: ns/op with every series already present, and the live heap
// each series takes.
func BenchmarkAggregatorSeries(b *testing.B) {
	sets := manyTagSets()

	// librato: AddTagged with a prebuilt map per series, MaxSeries raised to manySeries. No flush:
	// the series stay.
	b.Run("librato-"+strconv.Itoa(manySeries), func(b *testing.B) {
		maps := make([]map[string]string, len(sets))
		for k, ts := range sets {
			maps[k] = ts.tags()
		}
		c, err := librato.Connect("bench@example.com", "token", librato.WithBaseURL("http://127.0.0.1:1/v1/"))
		if err != nil {
			b.Fatal(err)
		}
		a, err := c.NewAggregator(librato.AggregatorOptions{MaxSeries: manySeries})
		if err != nil {
			b.Fatal(err)
		}
		manySeriesBench(b, func(i, k int) {
			if err := a.AddTagged(metricName, float64(i&1023), maps[k]); err != nil {
				b.Fatal(err)
			}
		}, a)
		if st := a.Stats(); st.Overflow != 0 || st.Series != manySeries {
			b.Fatalf("%d series, %d values refused", st.Series, st.Overflow)
		}
	})

	// datadog-go: Gauge with client-side aggregation, a prebuilt tag slice per series, the
	// aggregation interval raised to an hour so that no flush empties the contexts during the
	// run.
	b.Run("datadog-go-"+strconv.Itoa(manySeries), func(b *testing.B) {
		lists := make([][]string, len(sets))
		for k, ts := range sets {
			lists[k] = ts.list()
		}
		_, udpAddr := discardAddrs(b)
		c, err := statsd.New(udpAddr, statsd.WithClientSideAggregation(), statsd.WithAggregationInterval(time.Hour),
			statsd.WithoutTelemetry(), statsd.WithoutOriginDetection())
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		manySeriesBench(b, func(i, k int) {
			if err := c.Gauge(metricName, float64(i&1023), lists[k], 1); err != nil {
				b.Fatal(err)
			}
		}, c)
	})
}
