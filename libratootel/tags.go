package libratootel

import (
	"go.opentelemetry.io/otel/attribute"

	"github.com/go-librato/librato"
)

// tag is one fitted tag.
type tag struct{ name, value string }

// baseTags fits the scope's and then the resource's attributes, in that order of preference,
// each group by name (attribute sets are sorted by key), a name seen first winning.
func baseTags(scope, res attribute.Set) []tag {
	var out []tag
	seen := map[string]bool{}
	for _, set := range []attribute.Set{scope, res} {
		for it := set.Iter(); it.Next(); {
			kv := it.Attribute()
			if t, ok := fitTag(kv); ok && !seen[t.name] {
				seen[t.name] = true
				out = append(out, t)
			}
		}
	}
	return out
}

// cachedTags are the tags of one series and how many were left out.
type cachedTags struct {
	tags    map[string]string
	dropped int
}

// makeTags merges a data point's attributes (by name) with the base tags into at most
// librato.MaxTags tags: the data point's first, a name it has shadowing the base's.
func makeTags(point attribute.Set, base []tag) cachedTags {
	tags := make(map[string]string, point.Len()+len(base))
	dropped := 0
	add := func(t tag) {
		if _, ok := tags[t.name]; ok {
			return // the data point has it
		}
		if len(tags) == librato.MaxTags {
			dropped++
			return
		}
		tags[t.name] = t.value
	}
	for it := point.Iter(); it.Next(); {
		if t, ok := fitTag(it.Attribute()); ok {
			add(t)
		}
	}
	for _, t := range base {
		add(t)
	}
	if len(tags) == 0 {
		tags = nil
	}
	return cachedTags{tags: tags, dropped: dropped}
}

// fitTag fits an attribute to the API's tag rules (librato.SanitizeTagName and
// SanitizeTagValue); an empty value makes no tag.
func fitTag(kv attribute.KeyValue) (tag, bool) {
	t := tag{name: librato.SanitizeTagName(string(kv.Key)), value: librato.SanitizeTagValue(kv.Value.String())}
	return t, t.name != "" && t.value != ""
}

// genCache keeps what was computed for each live series (its tags, its queue series handle),
// so that a series seen again costs a map lookup: tags are fitted and series checked once per
// series, not once per data point. Every sweepEvery exports, the series no export has seen
// since the last sweep are forgotten, which bounds the cache by the live series. Callers
// serialize its use.
type genCache[K comparable, V any] struct {
	m     map[K]*cacheEntry[V]
	epoch uint64 // exports so far
}

type cacheEntry[V any] struct {
	v    V
	seen uint64 // the epoch of the last export that used it
}

// sweepEvery is how many exports pass between two sweeps of a cache.
const sweepEvery = 8

// lookup returns the value of key, if the cache has it.
func (c *genCache[K, V]) lookup(key K) (V, bool) {
	if e, ok := c.m[key]; ok {
		e.seen = c.epoch
		return e.v, true
	}
	var zero V
	return zero, false
}

// get returns the value of key, computing it with make when the cache does not have it. (The
// hot path calls lookup first: a closure costs an allocation.)
func (c *genCache[K, V]) get(key K, make func() (V, error)) (V, error) {
	if v, ok := c.lookup(key); ok {
		return v, nil
	}
	v, err := make()
	if err != nil {
		return v, err
	}
	if c.m == nil {
		c.m = map[K]*cacheEntry[V]{}
	}
	c.m[key] = &cacheEntry[V]{v: v, seen: c.epoch}
	return v, nil
}

// rotate ends an export, and every sweepEvery exports forgets what the last ones did not use.
func (c *genCache[K, V]) rotate() {
	c.epoch++
	if c.epoch%sweepEvery != 0 {
		return
	}
	for k, e := range c.m {
		if c.epoch-e.seen > sweepEvery {
			delete(c.m, k)
		}
	}
}

// cacheKey names a series' tags: its scope, its resource and its data point attributes.
type cacheKey struct {
	scope string
	res   attribute.Distinct
	point attribute.Distinct
}

// seriesKey names a series: a measurement name and its tags' key.
type seriesKey struct {
	name string
	tags cacheKey
}
