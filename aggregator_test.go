package librato_test

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tv8Time is TV8's measure_time.
var tv8Time = time.Unix(1418838418, 0)

func TestAggregatorTV8ThroughQueue(t *testing.T) {
	f := newAPIFake(t)
	c := newFakeClient(t, f, fakeNow)
	a := newAggregator(t, c, librato.AggregatorOptions{Source: "mysource", Period: time.Minute, MeasureTime: tv8Time})
	require.NoError(t, a.Add("foo", 42))
	require.NoError(t, a.Add("foo", 43))
	require.NoError(t, a.Add("bar", 1))
	require.NoError(t, a.AddTagged("baz", 5, nil))
	require.NoError(t, a.AddTagged("baz", 7, nil))

	q := newQueue(t, c, librato.QueueOptions{})
	require.NoError(t, q.AddAggregator(a))
	assert.Empty(t, a.Measurements(), "AddAggregator resets the aggregator")
	require.NoError(t, q.Flush(context.Background()))
	reqs := f.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "/v1/metrics", reqs[0].Path)
	assert.JSONEq(t, queueGolden(t, "testdata/aggregator/tv8_metrics.json"), librato.EffectiveJSON(t, reqs[0].Body))
}

func TestAggregatorTV8TaggedSubmit(t *testing.T) {
	f := newAPIFake(t)
	c := newFakeClient(t, f, fakeNow)
	a := newAggregator(t, c, librato.AggregatorOptions{Tags: map[string]string{"host": "h1"}, Period: 10 * time.Second, MeasureTime: tv8Time})
	require.NoError(t, a.AddTagged("lat", 5, nil))
	require.NoError(t, a.Submit(context.Background()))
	reqs := f.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "/v1/measurements", reqs[0].Path)
	assert.JSONEq(t, queueGolden(t, "testdata/aggregator/tv8_tagged_submit.json"), librato.EffectiveJSON(t, reqs[0].Body))
	require.NoError(t, a.Submit(context.Background()))
	assert.Len(t, f.Requests(), 1, "nothing left: no empty POST")
}

func TestAggregatorMeasureTime(t *testing.T) {
	now := time.Unix(1418838499, 0)
	tests := []struct {
		name   string
		period time.Duration
		mt     time.Time
		want   time.Time
	}{
		{"period 60 floors the user time", time.Minute, tv8Time, time.Unix(1418838360, 0)},
		{"period 10", 10 * time.Second, tv8Time, time.Unix(1418838410, 0)},
		{"period alone floors now", time.Minute, time.Time{}, time.Unix(1418838480, 0)},
		{"no period: user time unchanged", 0, tv8Time, tv8Time},
		{"neither: no time", 0, time.Time{}, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newFakeClient(t, newAPIFake(t), now)
			a := newAggregator(t, c, librato.AggregatorOptions{Period: tt.period, MeasureTime: tt.mt})
			require.NoError(t, a.Add("x", 1))
			ms := a.Measurements()
			require.Len(t, ms, 1)
			assert.True(t, tt.want.Equal(ms[0].Time), "got %v want %v", ms[0].Time, tt.want)
			if tt.period > 0 {
				assert.Zero(t, ms[0].Time.Unix()%int64(tt.period/time.Second))
			}
		})
	}
}

func TestAggregatorSeriesStats(t *testing.T) {
	c := newFakeClient(t, newAPIFake(t), fakeNow)
	a := newAggregator(t, c, librato.AggregatorOptions{Source: "web1", Tags: map[string]string{"env": "prod", "host": "default"}})
	for _, v := range []float64{3, -1, 4, 0} {
		require.NoError(t, a.Add("legacy", v))
	}
	// The same tag set in different maps (and orders) is one series.
	require.NoError(t, a.AddTagged("lat", 10, map[string]string{"host": "h1", "az": "b"}))
	require.NoError(t, a.AddTagged("lat", 20, map[string]string{"az": "b", "host": "h1"}))
	require.NoError(t, a.AddTagged("lat", 5, map[string]string{"host": "h2"}))

	ms := a.Measurements()
	require.Len(t, ms, 3)
	leg := ms[0]
	assert.Equal(t, "legacy", leg.Name)
	assert.Equal(t, "web1", leg.Source)
	assert.Nil(t, leg.Tags)
	require.NotNil(t, leg.Summary)
	assert.Equal(t, int64(4), leg.Summary.Count)
	assert.Equal(t, 6.0, leg.Summary.Sum)
	assert.Equal(t, -1.0, leg.Summary.Min)
	assert.Equal(t, 4.0, leg.Summary.Max)
	assert.Equal(t, 26.0, *leg.Summary.SumSquares)
	assert.Equal(t, 0.0, *leg.Summary.Last, "zero is a real value")

	h1 := ms[1]
	assert.Equal(t, map[string]string{"env": "prod", "host": "h1", "az": "b"}, h1.Tags, "aggregator tags under series tags")
	assert.Empty(t, h1.Source)
	assert.Equal(t, int64(2), h1.Summary.Count)
	assert.Equal(t, 30.0, h1.Summary.Sum)
	assert.Equal(t, 20.0, *h1.Summary.Last)
	assert.Equal(t, map[string]string{"env": "prod", "host": "h2"}, ms[2].Tags)

	assert.Len(t, a.Measurements(), 3, "Measurements does not reset")
	assert.Equal(t, librato.AggregatorStats{Series: 3, Values: 7}, a.Stats())
	a.Reset()
	assert.Empty(t, a.Measurements())
}

func TestAggregatorRejectsBadValues(t *testing.T) {
	c := newFakeClient(t, newAPIFake(t), fakeNow)
	a := newAggregator(t, c, librato.AggregatorOptions{})
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		assert.ErrorIs(t, a.Add("x", v), librato.ErrInvalid)
		assert.ErrorIs(t, a.AddTagged("x", v, map[string]string{"a": "b"}), librato.ErrInvalid)
	}
	assert.ErrorIs(t, a.Add("bad name", 1), librato.ErrInvalid)
	assert.ErrorIs(t, a.AddTagged("x", 1, map[string]string{"bad tag": "v"}), librato.ErrInvalid)
	assert.Empty(t, a.Measurements())
	assert.Zero(t, a.Stats().Series)
}

func TestAggregatorOptionErrors(t *testing.T) {
	c := newFakeClient(t, newAPIFake(t), fakeNow)
	for _, opts := range []librato.AggregatorOptions{
		{Period: 1500 * time.Millisecond},
		{Period: -time.Second},
		{Source: "all"},
		{Tags: map[string]string{"": "x"}},
		{MaxSeries: -1},
		{Percentiles: []float64{95}},
		{Percentiles: []float64{100}, NewSketch: newExactSketch},
		{Percentiles: []float64{0}, NewSketch: newExactSketch},
	} {
		a, err := c.NewAggregator(opts)
		assert.Nil(t, a)
		assert.ErrorIs(t, err, librato.ErrInvalid, "%+v", opts)
	}
}

func TestAggregatorMaxSeries(t *testing.T) {
	c := newFakeClient(t, newAPIFake(t), fakeNow)
	a := newAggregator(t, c, librato.AggregatorOptions{MaxSeries: 2})
	require.NoError(t, a.Add("a", 1))
	require.NoError(t, a.AddTagged("b", 1, map[string]string{"k": "v"}))
	assert.ErrorIs(t, a.Add("c", 1), librato.ErrMaxSeries)
	assert.ErrorIs(t, a.AddTagged("b", 1, map[string]string{"k": "w"}), librato.ErrMaxSeries)
	require.NoError(t, a.Add("a", 2), "existing series still take values")
	assert.Equal(t, librato.AggregatorStats{Series: 2, Values: 3, Overflow: 2}, a.Stats())

	// A series idle for a whole period is forgotten, which makes room.
	a.Reset()
	require.NoError(t, a.Add("a", 1))
	a.Reset() // "b" had no value in that period
	assert.Equal(t, 1, a.Stats().Series)
	require.NoError(t, a.Add("c", 1))
	names := []string{}
	for _, m := range a.Measurements() {
		names = append(names, m.Name)
	}
	assert.Equal(t, []string{"c"}, names)
}

func TestAggregatorSanitizerAliases(t *testing.T) {
	c := newFakeClient(t, newAPIFake(t), fakeNow, librato.WithSanitizer(librato.SanitizeMetricName))
	a := newAggregator(t, c, librato.AggregatorOptions{})
	require.NoError(t, a.Add("api latency", 1))
	require.NoError(t, a.Add("api-latency", 2))
	require.NoError(t, a.Add("api latency", 3))
	ms := a.Measurements()
	require.Len(t, ms, 1, "names equal after sanitizing are one series")
	assert.Equal(t, "api-latency", ms[0].Name)
	assert.Equal(t, int64(3), ms[0].Summary.Count)
}

func TestAggregatorSubmitFailureMergesBack(t *testing.T) {
	fail := true
	var mu sync.Mutex
	f := newAPIFake(t)
	onRequest(t, f, func(_ libratotest.Request) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		if fail {
			return 503, ""
		}
		return 200, ""
	})
	c := newFakeClient(t, f, fakeNow)
	a := newAggregator(t, c, librato.AggregatorOptions{})
	require.NoError(t, a.Add("x", 1))
	require.NoError(t, a.Add("x", 5))
	assert.ErrorIs(t, a.Submit(context.Background()), librato.ErrServer)
	require.NoError(t, a.Add("x", 2)) // newer value, after the failed flush
	ms := a.Measurements()
	require.Len(t, ms, 1)
	s := ms[0].Summary
	assert.Equal(t, int64(3), s.Count, "the unsent period is merged back")
	assert.Equal(t, 8.0, s.Sum)
	assert.Equal(t, 1.0, s.Min)
	assert.Equal(t, 5.0, s.Max)
	assert.Equal(t, 30.0, *s.SumSquares)
	assert.Equal(t, 2.0, *s.Last, "last stays the newest value")

	mu.Lock()
	fail = false
	mu.Unlock()
	require.NoError(t, a.Submit(context.Background()))
	assert.Empty(t, a.Measurements())
	last := librato.DecodeBody(t, f.Requests()[1].Body).Gauges[0]
	assert.Equal(t, 3.0, last["count"])
}

func TestAggregatorSubmitRejectsBadSeries(t *testing.T) {
	f := newAPIFake(t)
	onRequest(t, f, func(r libratotest.Request) (int, string) {
		if strings.Contains(string(r.Body), `"bad"`) {
			return 400, tooOld
		}
		return 200, ""
	})
	c := newFakeClient(t, f, fakeNow)
	a := newAggregator(t, c, librato.AggregatorOptions{})
	require.NoError(t, a.Add("good", 1))
	require.NoError(t, a.Add("bad", 1))
	err := a.Submit(context.Background())
	var rej *librato.RejectedError
	require.ErrorAs(t, err, &rej)
	assert.Equal(t, []string{"bad"}, rej.Names)
	assert.Empty(t, a.Measurements(), "a rejected series is not merged back")
}

func TestAggregatorConcurrentAdds(t *testing.T) {
	c := newFakeClient(t, newAPIFake(t), fakeNow)
	a := newAggregator(t, c, librato.AggregatorOptions{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tags := map[string]string{"w": fmt.Sprint(w % 2)}
			for i := 0; i < 1000; i++ {
				_ = a.AddTagged("x", 1, tags)
				_ = a.Add("y", 1)
			}
		}()
	}
	wg.Wait()
	var total int64
	for _, m := range a.Measurements() {
		total += m.Summary.Count
	}
	assert.Equal(t, int64(16000), total)
}

// exactSketch keeps every value: a reference for the percentile plumbing.
type exactSketch struct{ vs []float64 }

func newExactSketch() librato.Sketch { return &exactSketch{} }

func (s *exactSketch) Add(v float64)              { s.vs = append(s.vs, v) }
func (s *exactSketch) Reset()                     { s.vs = s.vs[:0] }
func (s *exactSketch) Merge(other librato.Sketch) { s.vs = append(s.vs, other.(*exactSketch).vs...) }
func (s *exactSketch) Quantile(q float64) (float64, bool) {
	if len(s.vs) == 0 {
		return 0, false
	}
	sorted := slices.Clone(s.vs)
	slices.Sort(sorted)
	return sorted[int(q*float64(len(sorted)-1))], true
}

func TestAggregatorPercentiles(t *testing.T) {
	f := newAPIFake(t)
	c := newFakeClient(t, f, fakeNow)
	a := newAggregator(t, c, librato.AggregatorOptions{Source: "s", Percentiles: []float64{50, 99.9}, NewSketch: newExactSketch})
	for i := 0; i <= 100; i++ {
		require.NoError(t, a.Add("lat", float64(i)))
	}
	require.NoError(t, a.AddTagged("t", 7, map[string]string{"a": "b"}))
	ms := a.Measurements()
	require.Len(t, ms, 6)
	assert.Equal(t, "lat", ms[0].Name)
	assert.Equal(t, "lat.p50", ms[1].Name)
	assert.Equal(t, 50.0, ms[1].Value)
	assert.Equal(t, "s", ms[1].Source)
	assert.Nil(t, ms[1].Summary)
	assert.Equal(t, "lat.p99_9", ms[2].Name)
	assert.Equal(t, 99.0, ms[2].Value)
	assert.Equal(t, "t.p50", ms[4].Name)
	assert.Equal(t, map[string]string{"a": "b"}, ms[4].Tags)

	require.NoError(t, a.Submit(context.Background()))
	require.NoError(t, a.Add("lat", 1000))
	ms = a.Measurements()
	require.Len(t, ms, 3, "sketches are reset by a flush")
	assert.Equal(t, 1000.0, ms[1].Value)
	total := 0
	for _, r := range f.Requests() {
		total += librato.DecodeBody(t, r.Body).Count()
	}
	assert.Equal(t, 6, total)
}

func TestAggregatorPercentileSketchMergedBackOnFailure(t *testing.T) {
	f := newAPIFake(t)
	onRequest(t, f, func(_ libratotest.Request) (int, string) { return 502, "" })
	c := newFakeClient(t, f, fakeNow)
	a := newAggregator(t, c, librato.AggregatorOptions{Percentiles: []float64{50}, NewSketch: newExactSketch})
	require.NoError(t, a.Add("x", 1))
	require.NoError(t, a.Add("x", 3))
	require.Error(t, a.Submit(context.Background()))
	require.NoError(t, a.Add("x", 2))
	ms := a.Measurements()
	require.Len(t, ms, 2)
	assert.Equal(t, 2.0, ms[1].Value, "median of 1, 3 and 2")
}

func TestAggregatorSeriesHandle(t *testing.T) {
	c := newFakeClient(t, newAPIFake(t), fakeNow)
	a := newAggregator(t, c, librato.AggregatorOptions{Source: "s", MaxSeries: 2})
	tags := map[string]string{"host": "h1"}
	h, err := a.TaggedSeries("lat", tags)
	require.NoError(t, err)
	tags["host"] = "changed" // the handle keeps its own copy
	require.NoError(t, h.Add(1))
	require.NoError(t, a.AddTagged("lat", 3, map[string]string{"host": "h1"}), "the same series as the handle's")
	l, err := a.Series("legacy")
	require.NoError(t, err)
	require.NoError(t, l.Add(5))
	assert.ErrorIs(t, h.Add(math.NaN()), librato.ErrInvalid)

	ms := a.Measurements()
	require.Len(t, ms, 2)
	assert.Equal(t, int64(2), ms[0].Summary.Count)
	assert.Equal(t, map[string]string{"host": "h1"}, ms[0].Tags)
	assert.Equal(t, "s", ms[1].Source)

	// Forgotten after an idle period, the series comes back on the handle's next Add.
	a.Reset()
	require.NoError(t, l.Add(1))
	a.Reset() // "lat" idle
	assert.Equal(t, 1, a.Stats().Series)
	require.NoError(t, a.Add("other", 1)) // takes the free slot
	assert.ErrorIs(t, h.Add(2), librato.ErrMaxSeries)
	a.Reset()
	a.Reset() // everything idle now
	require.NoError(t, h.Add(2))
	ms = a.Measurements()
	require.Len(t, ms, 1)
	assert.Equal(t, "lat", ms[0].Name)

	_, err = a.TaggedSeries("bad name", nil)
	assert.ErrorIs(t, err, librato.ErrInvalid)
}

func TestAggregatorHotPathsDoNotAllocate(t *testing.T) {
	c := newFakeClient(t, newAPIFake(t), fakeNow)
	a := newAggregator(t, c, librato.AggregatorOptions{})
	tags := map[string]string{"host": "web-1", "region": "us-east-1", "service": "api"}
	require.NoError(t, a.AddTagged("api.latency", 1, tags))
	require.NoError(t, a.Add("api.latency", 1))
	h, err := a.TaggedSeries("api.latency", tags)
	require.NoError(t, err)
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = a.AddTagged("api.latency", 2, tags) }))
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = a.Add("api.latency", 2) }))
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = h.Add(2) }))

	q := newQueue(t, c, librato.QueueOptions{MaxPending: -1})
	m := librato.Measurement{Name: "api.latency", Value: 1, Tags: tags}
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = q.Add(m) }))
}

func TestQueueAddValidatesEveryMeasurement(t *testing.T) {
	// No map or name is trusted for having passed before: each Add checks what it is given.
	q := newQueue(t, newFakeClient(t, newAPIFake(t), fakeNow), librato.QueueOptions{})
	good := map[string]string{"host": "h1"}
	for i := 0; i < 3; i++ {
		require.NoError(t, q.Add(librato.Measurement{Name: "m", Value: 1, Tags: good}))
	}
	good["bad tag"] = "x" // the same map, changed
	assert.ErrorIs(t, q.Add(librato.Measurement{Name: "m", Value: 1, Tags: good}), librato.ErrInvalid)
	delete(good, "bad tag")
	assert.ErrorIs(t, q.Add(librato.Measurement{Name: "bad name", Value: 1, Tags: good}), librato.ErrInvalid)
	assert.ErrorIs(t, q.Add(librato.Measurement{Name: "m", Value: math.Inf(1), Tags: good}), librato.ErrInvalid)
	assert.ErrorIs(t, q.Add(librato.Measurement{Name: "m", Source: "s", Tags: good}), librato.ErrInvalid, "tagged-route checks apply")
	assert.ErrorIs(t, q.Add(librato.Measurement{Name: "m", Type: librato.Counter, Tags: good}), librato.ErrInvalid)
	assert.Equal(t, 3, q.Len())
}
