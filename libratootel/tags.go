package libratootel

import (
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"

	"github.com/go-librato/librato"
)

// The API's tag rules (testdata/README.md of the librato module, "Limits"): names
// [-.:_\w]{1,64}, values [-.:_?\\/\w ]{1,255}, at most 50 per measurement.
const (
	maxTagName  = 64
	maxTagValue = 255
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

// fitTag fits an attribute to the API's tag rules; an empty value makes no tag.
func fitTag(kv attribute.KeyValue) (tag, bool) {
	t := tag{name: tagName(string(kv.Key)), value: tagValue(kv.Value.String())}
	return t, t.name != "" && t.value != ""
}

// tagName fits a name to the API: lower case (as the API stores it), "_" for other
// characters, at most 64 bytes.
func tagName(s string) string {
	return fit(strings.ToLower(s), maxTagName, func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == ':' || c == '_'
	})
}

// tagValue fits a value to the API: "_" for other characters, at most 255 bytes.
func tagValue(s string) string {
	return fit(s, maxTagValue, func(c byte) bool {
		return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			strings.IndexByte("-.:_?\\/ ", c) >= 0
	})
}

// fit trims s, cuts it to max bytes and replaces the bytes ok refuses with "_"; a string that
// fits already is returned as it is.
func fit(s string, max int, ok func(byte) bool) string {
	s = strings.TrimSpace(s)
	if len(s) > max {
		s = s[:max]
	}
	for i := 0; i < len(s); i++ {
		if !ok(s[i]) {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if !ok(b[j]) {
					b[j] = '_'
				}
			}
			return string(b)
		}
	}
	return s
}

// tagCache keeps the tags of the series of the last two exports, so that a series seen again
// costs a map lookup: tags are fitted once per series, not once per data point. A series absent
// from a whole export is forgotten, which bounds the cache by the live series.
type tagCache struct {
	mu        sync.Mutex
	cur, prev map[cacheKey]cachedTags
}

// cacheKey names a series: its scope, its resource and its data point attributes.
type cacheKey struct {
	scope string
	res   attribute.Distinct
	point attribute.Distinct
}

// get returns the tags of key, computing them with make when neither export knows them.
// Callers hold c.mu.
func (c *tagCache) get(key cacheKey, make func() cachedTags) cachedTags {
	if t, ok := c.cur[key]; ok {
		return t
	}
	t, ok := c.prev[key]
	if !ok {
		t = make()
	}
	if c.cur == nil {
		c.cur = map[cacheKey]cachedTags{}
	}
	c.cur[key] = t
	return t
}

// rotate ends an export: what it did not see is forgotten at the end of the next one.
func (c *tagCache) rotate() {
	c.prev, c.cur = c.cur, nil
}
