package percentiles_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/percentiles"
)

func exact(sorted []float64, q float64) float64 {
	// The lower-rank definition DDSketch uses: the value of rank floor(q*(n-1)).
	return sorted[int(q*float64(len(sorted)-1))]
}

func TestDDSketchRelativeAccuracy(t *testing.T) {
	for _, acc := range []float64{0.01, 0.05} {
		newSketch, err := percentiles.DDSketch(acc)
		require.NoError(t, err)
		s := newSketch()
		r := rand.New(rand.NewPCG(1, 2))
		var vs []float64
		for i := 0; i < 20000; i++ {
			v := math.Exp(r.NormFloat64()*2) * 100 // long-tailed, like latencies
			if i%10 == 0 {
				v = -v
			}
			vs = append(vs, v)
			s.Add(v)
		}
		slices.Sort(vs)
		for _, q := range []float64{0.01, 0.5, 0.9, 0.95, 0.99, 0.999} {
			got, ok := s.Quantile(q)
			require.True(t, ok)
			// Within acc of the value at the quantile's rank (or a neighbouring rank: the
			// rank of a quantile is defined up to rounding).
			k := int(q * float64(len(vs)-1))
			ok = false
			for _, want := range vs[max(k-1, 0):min(k+2, len(vs))] {
				if math.Abs(got-want) <= acc*math.Abs(want)*1.0001 {
					ok = true
				}
			}
			assert.True(t, ok, "q=%v acc=%v: got %v, want %v", q, acc, got, exact(vs, q))
		}
	}
}

func TestDDSketchMergeAndReset(t *testing.T) {
	a, b := percentiles.NewDDSketch(), percentiles.NewDDSketch()
	_, ok := a.Quantile(0.5)
	assert.False(t, ok, "empty")
	for i := 1; i <= 100; i++ {
		a.Add(float64(i))
		b.Add(float64(i + 100))
	}
	a.Merge(b)
	got, ok := a.Quantile(0.99)
	require.True(t, ok)
	assert.InEpsilon(t, 198.0, got, 0.01)
	a.Reset()
	_, ok = a.Quantile(0.5)
	assert.False(t, ok)
}

func TestDDSketchBadAccuracy(t *testing.T) {
	for _, acc := range []float64{0, 1, -0.5, math.NaN()} {
		_, err := percentiles.DDSketch(acc)
		assert.Error(t, err, "%v", acc)
	}
}

func TestAggregatorPercentileGauges(t *testing.T) {
	c, err := librato.Connect("u@example.com", "token")
	require.NoError(t, err)
	a, err := c.NewAggregator(librato.AggregatorOptions{Percentiles: []float64{50, 95, 99}, NewSketch: percentiles.NewDDSketch})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 1000; i++ {
		require.NoError(t, a.AddTagged("latency", float64(i), map[string]string{"host": "h1"}))
	}
	ms := a.Measurements()
	require.Len(t, ms, 4)
	want := map[string]float64{"latency.p50": 500, "latency.p95": 950, "latency.p99": 990}
	for _, m := range ms[1:] {
		assert.InEpsilon(t, want[m.Name], m.Value, 0.011, m.Name)
		assert.Equal(t, map[string]string{"host": "h1"}, m.Tags)
	}
}

var benchTags = map[string]string{"host": "web-1", "region": "us-east-1", "service": "api"}

func BenchmarkAggregatorAddTaggedPercentiles(b *testing.B) {
	c, err := librato.Connect("u@example.com", "token")
	require.NoError(b, err)
	for _, tc := range []struct {
		name string
		opts librato.AggregatorOptions
	}{
		{"none", librato.AggregatorOptions{}},
		{"p50_p95_p99", librato.AggregatorOptions{Percentiles: []float64{50, 95, 99}, NewSketch: percentiles.NewDDSketch}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			a, err := c.NewAggregator(tc.opts)
			if err != nil {
				b.Fatal(err)
			}
			r := rand.New(rand.NewPCG(1, 2))
			vs := make([]float64, 1024)
			for i := range vs {
				vs[i] = math.Exp(r.NormFloat64()) * 100
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := a.AddTagged("api.latency", vs[i&1023], benchTags); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

func BenchmarkDDSketchAdd(b *testing.B) {
	s := percentiles.NewDDSketch()
	b.ReportAllocs()
	v := 1.0
	for b.Loop() {
		s.Add(v)
		v += 0.37
		if v > 5000 {
			v = 1
		}
	}
}
