package librato

import (
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// canonical names a series independently of the aggregator: kind, name, sorted tags.
func canonical(tagged bool, name string, tags map[string]string) string {
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString(strconv.FormatBool(tagged) + "|" + name)
	for _, k := range keys {
		b.WriteString("|" + strconv.Quote(k) + "=" + strconv.Quote(tags[k]))
	}
	return b.String()
}

// aggTotals returns count and sum per series, by canonical name.
func aggTotals(t *testing.T, a *Aggregator) map[string][2]float64 {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	out := map[string][2]float64{}
	for _, s := range a.series {
		tags := map[string]string{}
		keyTags(s.key, func(k, v string) bool { tags[k] = v; return true })
		c := canonical(s.tagged, s.name(), tags)
		_, dup := out[c]
		require.False(t, dup, "two series for %s", c)
		out[c] = [2]float64{float64(s.stats.count), s.stats.sum}
	}
	return out
}

// TestAggregatorHintsNeverMixSeries drives many call sites through the hint table (far more
// than it has slots, so they collide), mutating, reusing and swapping maps between calls, and
// compares every series' count and sum with a model keyed by the canonical series name.
func TestAggregatorHintsNeverMixSeries(t *testing.T) {
	c, err := Connect("u@example.com", "tok")
	require.NoError(t, err)
	a := newAggregator(t, c, AggregatorOptions{MaxSeries: 1 << 20})
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"a", "b", "api.latency", "api.latencyx", "x"}
	// Tag values that look alike: prefixes, swapped names and values, empty-ish variations.
	vals := []string{"1", "11", "h", "host", "web-1", "web-10"}
	keys := []string{"host", "h", "region", "hostx"}
	maps := make([]map[string]string, 600)
	for i := range maps {
		maps[i] = map[string]string{}
		for j := rng.IntN(4); j >= 0; j-- {
			maps[i][keys[rng.IntN(len(keys))]] = vals[rng.IntN(len(vals))]
		}
	}
	want := map[string][2]float64{}
	for i := 0; i < 200_000; i++ {
		m := maps[rng.IntN(len(maps))]
		switch rng.IntN(20) {
		case 0: // the caller changes its map between calls
			m[keys[rng.IntN(len(keys))]] = vals[rng.IntN(len(vals))]
		case 1:
			for k := range m {
				delete(m, k)
				break
			}
		}
		name := names[rng.IntN(len(names))]
		v := float64(rng.IntN(100))
		tagged := rng.IntN(8) != 0
		if tagged {
			require.NoError(t, a.AddTagged(name, v, m))
		} else {
			require.NoError(t, a.Add(name, v))
		}
		var tags map[string]string
		if tagged && len(m) > 0 {
			tags = m
		}
		w := want[canonical(tagged, name, tags)]
		want[canonical(tagged, name, tags)] = [2]float64{w[0] + 1, w[1] + v}
	}
	assert.Equal(t, want, aggTotals(t, a))
}

// TestAggregatorHintSameSlot forces every call into one hint set: only content decides.
func TestAggregatorHintSameSlot(t *testing.T) {
	c, err := Connect("u@example.com", "tok")
	require.NoError(t, err)
	a := newAggregator(t, c, AggregatorOptions{})
	m := map[string]string{"host": "a"}
	set := &a.recent.sets[7]
	add := func(name string, v float64, tags map[string]string) {
		// Twice: a new series, then through this set's hints, whatever set add would pick.
		for range 2 {
			if s := set.first(name, tags, true); s != nil {
				a.mu.Lock()
				a.recordLocked(s, v)
				a.mu.Unlock()
				continue
			}
			require.NoError(t, a.addByKey(set, name, v, tags, true))
		}
	}
	add("n", 1, m)     // 2 values (the index, then the hint)
	m["host"] = "b"    // same map, other content
	add("n", 10, m)    // must not land in host=a
	add("n", 100, nil) // no tags
	add("n", 1000, map[string]string{"host": "b", "x": "y"})
	got := aggTotals(t, a)
	assert.Equal(t, map[string][2]float64{
		canonical(true, "n", map[string]string{"host": "a"}):           {2, 2},
		canonical(true, "n", map[string]string{"host": "b"}):           {2, 20},
		canonical(true, "n", nil):                                      {2, 200},
		canonical(true, "n", map[string]string{"host": "b", "x": "y"}): {2, 2000},
	}, got)
}

// TestAggregatorHintSkipsAliases: with a sanitizer that is not idempotent, the series of a name
// is what the index says (the series named by the sanitized name "nx" is also the one of the
// key "nx"); hints agree with it, call after call.
func TestAggregatorHintSkipsAliases(t *testing.T) {
	c, err := Connect("u@example.com", "tok", WithSanitizer(func(s string) string { return s + "x" }))
	require.NoError(t, err)
	a := newAggregator(t, c, AggregatorOptions{})
	tags := map[string]string{"host": "a"}
	for i := 0; i < 3; i++ {
		require.NoError(t, a.AddTagged("n", 1, tags))  // series "nx", through an alias
		require.NoError(t, a.AddTagged("nx", 5, tags)) // the key of series "nx"
	}
	assert.Equal(t, map[string][2]float64{canonical(true, "nx", tags): {6, 18}}, aggTotals(t, a))
}

// TestAggregatorHintAfterForget: a hinted series forgotten by a flush is registered again.
func TestAggregatorHintAfterForget(t *testing.T) {
	c, err := Connect("u@example.com", "tok")
	require.NoError(t, err)
	a := newAggregator(t, c, AggregatorOptions{})
	tags := map[string]string{"host": "a"}
	require.NoError(t, a.AddTagged("n", 1, tags))
	require.NoError(t, a.AddTagged("n", 1, tags))
	a.Reset() // values taken
	a.Reset() // idle for a period: forgotten
	require.Zero(t, a.Stats().Series)
	require.NoError(t, a.AddTagged("n", 7, tags))
	assert.Equal(t, map[string][2]float64{canonical(true, "n", tags): {1, 7}}, aggTotals(t, a))
	ms := a.Measurements()
	require.Len(t, ms, 1)
	assert.Equal(t, 7.0, ms[0].Summary.Sum)
}

// TestHintSetFindChecksKeys: find returns a remembered series by its key; the sum only narrows
// which ways are read, it never decides alone (a key with the sum of another is not that series).
func TestHintSetFindChecksKeys(t *testing.T) {
	h := seriesHints{seed: maphash.MakeSeed()}
	keyA := appendSeriesKey(nil, true, "n", map[string]string{"host": "a"})
	keyB := appendSeriesKey(nil, true, "n", map[string]string{"host": "b"})
	a, b := &aggSeries{key: string(keyA), tagged: true}, &aggSeries{key: string(keyB), tagged: true}
	set := &h.sets[0]
	set.remember(a, h.sum(keyA))
	set.remember(b, h.sum(keyB))
	assert.Same(t, a, set.find(keyA, h.sum(keyA)))
	assert.Same(t, b, set.find(keyB, h.sum(keyB)))
	assert.Nil(t, set.find(keyA, h.sum(keyB)), "a sum that is not the key's")
	torn := &h.sets[1]
	torn.remember(b, h.sum(keyA)) // a way seen half replaced: b under A's sum
	torn.remember(a, h.sum(keyA))
	assert.Same(t, a, torn.find(keyA, h.sum(keyA)), "the key is compared, not only the sum")
	for range hintWays {
		set.remember(b, h.sum(keyB))
	}
	assert.Nil(t, set.find(keyA, h.sum(keyA)), "forgotten once every way was replaced")
}

// TestAggregatorAddTaggedKeepsMapLiteralsOnStack: AddTagged does not keep tags, so a map literal
// built for the call stays on the caller's stack (nothing may make the parameter escape).
func TestAggregatorAddTaggedKeepsMapLiteralsOnStack(t *testing.T) {
	c, err := Connect("u@example.com", "tok")
	require.NoError(t, err)
	a := newAggregator(t, c, AggregatorOptions{})
	host := "web-1"
	require.NoError(t, a.AddTagged("api.latency", 1, map[string]string{"host": host, "service": "api"}))
	assert.Zero(t, testing.AllocsPerRun(100, func() {
		_ = a.AddTagged("api.latency", 1, map[string]string{"host": host, "service": "api"})
	}))
}

func TestAggregatorKeysAreUnambiguous(t *testing.T) {
	// Names and tags that concatenate alike must still be different series.
	a := appendSeriesKey(nil, true, "ab", map[string]string{"c": "d"})
	b := appendSeriesKey(nil, true, "a", map[string]string{"bc": "d"})
	c := appendSeriesKey(nil, false, "ab", nil)
	d := appendSeriesKey(nil, true, "ab", nil)
	assert.NotEqual(t, string(a), string(b))
	assert.NotEqual(t, string(c), string(d))
	many := map[string]string{}
	for i := 0; i < 12; i++ {
		many[fmt.Sprintf("k%02d", i)] = "v"
	}
	k1 := appendSeriesKey(nil, true, "x", many)
	k2 := appendSeriesKey(nil, true, "x", maps12(many))
	assert.Equal(t, string(k1), string(k2), "more tags than the stack array: same key")
}

func maps12(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	slices.Reverse(keys)
	for _, k := range keys {
		out[k] = m[k]
	}
	return out
}
