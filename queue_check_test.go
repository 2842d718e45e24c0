package librato

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// quickCases are measurements around every rule checkMeasurement and checkRoute apply.
func quickCases() []Measurement {
	tags := map[string]string{"host": "web-1"}
	badTags := map[string]string{"bad tag": "x"}
	many := map[string]string{}
	for i := 0; i < MaxTags; i++ {
		many["t"+strings.Repeat("x", i)] = "v"
	}
	return []Measurement{
		{Name: "ok", Value: 1},
		{Name: "ok", Value: 1, Tags: tags},
		{Name: "ok", Value: 1, Tags: many},
		{Name: "ok", Value: -1e126},
		{Name: "ok", Value: 1e127},
		{Name: "ok", Value: math.NaN()},
		{Name: "ok", Value: math.Inf(-1)},
		{Name: "ok", Value: 1, Type: Counter},
		{Name: "ok", Value: 1, Type: Counter, Tags: tags},
		{Name: "ok", Value: 1, Type: MetricType(7)},
		{Name: "ok", Value: 1, Source: "web-1"},
		{Name: "ok", Value: 1, Source: "ALL"},
		{Name: "ok", Value: 1, Source: "bad source"},
		{Name: "ok", Value: 1, Source: "web-1", Tags: tags},
		{Name: "ok", Value: 1, Tags: badTags},
		{Name: "ok", Value: 1, Period: 60 * time.Second},
		{Name: "ok", Value: 1, Period: 1500 * time.Millisecond},
		{Name: "ok", Value: 1, Period: -time.Second},
		{Name: "ok", Value: 1, Time: submitNow.Add(-time.Hour)},
		{Name: "ok", Value: 1, Time: submitNow.Add(time.Hour)},
		{Name: "ok", Value: 1, Time: time.Unix(1000, 0)},
		{Name: "ok", Summary: &Summary{Count: 1, Sum: 1, Min: 1, Max: 1}},
		{Name: "ok", Value: 1, Attributes: map[string]any{"color": "red"}},
		{Name: "ok", Value: 1, Attributes: map[string]any{"bad": func() {}}},
		{Name: "", Value: 1},
		{Name: "bad name", Value: 1},
		{Name: "  bat$$m#an", Value: 1},
		{Name: strings.Repeat("n", MaxMetricNameLength+1), Value: 1},
	}
}

// TestQueueQuickAgrees: whatever the caches hold, quick vouches only for measurements the full
// check accepts, routes them the same way and sanitizes the name the same way.
func TestQueueQuickAgrees(t *testing.T) {
	configs := []struct {
		name      string
		opts      []Option
		qt        map[string]string
		appOptics bool
	}{
		{"plain", nil, nil, false},
		{"client tags", []Option{WithTags(map[string]string{"env": "prod"})}, nil, false},
		{"queue tags", nil, map[string]string{"service": "api"}, false},
		{"sanitizer", []Option{WithSanitizer(SanitizeMetricName)}, nil, false},
		{"appoptics", nil, nil, true},
	}
	for _, cfg := range configs {
		t.Run(cfg.name, func(t *testing.T) {
			c, err := Connect("u@example.com", "tok", cfg.opts...)
			if cfg.appOptics {
				c, err = ConnectAppOptics("tok", cfg.opts...)
			}
			require.NoError(t, err)
			c.now = func() time.Time { return submitNow }
			q := c.NewQueue(QueueOptions{Tags: cfg.qt})
			defer q.Close(t.Context())
			vouched := 0
			for round := 0; round < 3; round++ { // the caches fill up over the rounds
				for i, m := range quickCases() {
					full := m
					wantErr := q.checkTags(&full)
					fast := m
					tagged, ok := q.quick(&fast)
					if !ok {
						assert.Equal(t, m.Name, fast.Name, "case %d: quick left m alone", i)
						continue
					}
					vouched++
					require.NoError(t, wantErr, "case %d: quick vouched for an invalid measurement %+v", i, m)
					assert.Equal(t, full.Name, fast.Name, "case %d", i)
					assert.Equal(t, c.tagged(&full, q.tags), tagged, "case %d", i)
				}
			}
			assert.Positive(t, vouched, "the fast path is taken")
		})
	}
}

func TestQueueQuickManyTagsWithQueueTags(t *testing.T) {
	// 50 tags of its own are fine alone, but not over a queue tag: the cache must not hide that.
	c, err := Connect("u@example.com", "tok")
	require.NoError(t, err)
	many := map[string]string{}
	for i := 0; i < MaxTags; i++ {
		many["t"+strings.Repeat("x", i)] = "v"
	}
	q := c.NewQueue(QueueOptions{Tags: map[string]string{"service": "api"}})
	defer q.Close(t.Context())
	for i := 0; i < 3; i++ {
		assert.ErrorIs(t, q.Add(Measurement{Name: "m", Value: 1, Tags: many}), ErrInvalid)
	}
	assert.Zero(t, q.Len())
}

func TestNameCache(t *testing.T) {
	var nc nameCache
	name := "api.latency"
	assert.False(t, nc.known(name))
	nc.remember(name)
	assert.False(t, nc.known(name), "remembered the second time only")
	nc.remember(name)
	assert.True(t, nc.known(name))
	assert.False(t, nc.known(name[:5]), "same bytes address, other name")
	other := []byte(name)
	other[0] = 'x'
	assert.False(t, nc.known(string(other)))
	assert.False(t, nc.known(""))
}

func TestQueueAddQuickAllocs(t *testing.T) {
	c, err := Connect("u@example.com", "tok")
	require.NoError(t, err)
	q := c.NewQueue(QueueOptions{MaxPending: -1})
	defer q.Close(t.Context())
	defer drainForBench(q) // nothing to send at Close
	m := Measurement{Name: "api.latency", Value: 42.5, Tags: benchTags}
	for i := 0; i < 3; i++ {
		require.NoError(t, q.Add(m))
	}
	_, ok := q.quick(&m)
	require.True(t, ok, "the benchmark's measurement takes the fast path")
	allocs := testing.AllocsPerRun(100, func() {
		if err := q.Add(m); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}

// FuzzQueueQuick: for any measurement, quick vouches only when the full check passes, and then
// sanitizes and routes it the same way.
func FuzzQueueQuick(f *testing.F) {
	f.Add("api.latency", 1.5, uint8(0), "", "host", "web-1", int64(0), int64(0), uint8(0))
	f.Add("bad name", math.Inf(1), uint8(1), "all", "", "", int64(60), int64(1), uint8(3))
	f.Add("x", 1e127, uint8(0), "src", "k k", `v"`, int64(-1), int64(9e9), uint8(7))
	f.Fuzz(func(t *testing.T, name string, value float64, typ uint8, source, tagK, tagV string, period, unix int64, cfg uint8) {
		var opts []Option
		if cfg&1 != 0 {
			opts = append(opts, WithTags(map[string]string{"env": "prod"}))
		}
		if cfg&2 != 0 {
			opts = append(opts, WithSanitizer(SanitizeMetricName))
		}
		c, err := Connect("u@example.com", "tok", opts...)
		require.NoError(t, err)
		c.now = func() time.Time { return submitNow }
		var qt map[string]string
		if cfg&4 != 0 {
			qt = map[string]string{"service": "api"}
		}
		q := c.NewQueue(QueueOptions{Tags: qt})
		m := Measurement{Name: name, Value: value, Type: MetricType(typ % 3), Source: source,
			Period: time.Duration(period) * time.Second / 2}
		if tagK != "" || tagV != "" {
			m.Tags = map[string]string{tagK: tagV}
		}
		if unix != 0 {
			m.Time = time.Unix(unix, 0)
		}
		for range 3 { // fill the caches the way Add does
			mc := m
			if _, ok := q.quick(&mc); !ok {
				_ = q.check(&mc)
			}
		}
		full := m
		wantErr := q.checkTags(&full)
		fast := m
		tagged, ok := q.quick(&fast)
		if !ok {
			return
		}
		require.NoError(t, wantErr, "quick vouched for %+v", m)
		assert.Equal(t, full.Name, fast.Name)
		assert.Equal(t, c.tagged(&full, q.tags), tagged)
	})
}

func TestQueueAddErrorMessage(t *testing.T) {
	c, err := Connect("u@example.com", "tok")
	require.NoError(t, err)
	q := c.NewQueue(QueueOptions{})
	defer q.Close(t.Context())
	err = q.Add(Measurement{Name: "bad name", Value: 1})
	require.Error(t, err)
	assert.Equal(t, `librato: Queue.Add: measurement "bad name": metric name "bad name": invalid character ' ' at byte 3 (allowed: A-Z a-z 0-9 . : - _)`, err.Error())
	assert.ErrorIs(t, err, ErrInvalid)
	var ve *ValidationError
	require.True(t, errors.As(err, &ve))
	assert.Equal(t, "metric name", ve.Field)

	long := strings.Repeat("x", 100) + " "
	err = q.Add(Measurement{Name: long, Value: 1})
	require.Error(t, err)
	assert.True(t, strings.HasPrefix(err.Error(), `librato: Queue.Add: measurement "`+strings.Repeat("x", 64)+`...": `), err.Error())
}
