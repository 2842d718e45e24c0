package librato

import (
	"hash/maphash"
	"sync/atomic"
)

// Finding the series of Aggregator.Add and AddTagged. The reference is the index, keyed by the
// series key (appendSeriesKey), which needs the tags read from the caller's map, sorted and
// copied into a key, then hashed. seriesHints shortcuts it for the usual caller, a call site
// passing the same name and tags again and again: it remembers the series used last for a name,
// and a hint is used only once the caller's name and map are found to hold exactly that series'
// name and tags (a length and one map lookup per tag, no iteration, no sort). Everything is by
// content: the map may change between calls, or be a new one each time.

// hintSets is the number of sets of seriesHints, and hintWays the series each set remembers: the
// set is picked by a hash of the name and the tag count, so a call site that cycles one map
// through a few tag values (status=200, 404, 500) finds each of them.
const (
	hintSets = 256
	hintWays = 4
)

// seriesHints is a lock-free table of the series used last, hintWays per set.
type seriesHints struct {
	seed maphash.Seed
	sets [hintSets]hintSet
}

// hintSet is one set of seriesHints.
type hintSet struct {
	ways [hintWays]atomic.Pointer[aggSeries]
	next atomic.Uint32 // the way the next remember replaces
}

// set returns the set of (name, tags).
func (h *seriesHints) set(name string, tags map[string]string) *hintSet {
	return &h.sets[(maphash.String(h.seed, name)+uint64(len(tags)))%hintSets]
}

// find returns the series of the set that is (name, tags, tagged), if any.
func (hs *hintSet) find(name string, tags map[string]string, tagged bool) *aggSeries {
	for i := range hs.ways {
		if s := hs.ways[i].Load(); s != nil && s.matches(name, tags, tagged) {
			return s
		}
	}
	return nil
}

// remember makes s a hint of the set, replacing the oldest.
func (hs *hintSet) remember(s *aggSeries) {
	hs.ways[(hs.next.Add(1)-1)%hintWays].Store(s)
}

// matches reports whether s is the series of (name, tags, tagged): the same kind, name and tag
// set, read from its key. s's name and key never change, so this runs without the aggregator's
// lock.
func (s *aggSeries) matches(name string, tags map[string]string, tagged bool) bool {
	if s.tagged != tagged || s.name != name {
		return false
	}
	_, rest := keyPart(s.key[1:])
	n := 0
	for rest != "" { // distinct names: all found, and as many as in tags, means the same set
		var k, v string
		k, rest = keyPart(rest)
		v, rest = keyPart(rest)
		if got, found := tags[k]; !found || got != v {
			return false
		}
		n++
	}
	return n == len(tags)
}

// keyPart splits the first part of a series key (see appendKeyPart) from the rest.
func keyPart(key string) (part, rest string) {
	if len(key) > 0 && key[0] < 0x80 && int(key[0]) < len(key) { // the usual short part
		n := int(key[0])
		return key[1 : 1+n], key[1+n:]
	}
	var n uint64
	var shift uint
	i := 0
	for ; i < len(key); i++ {
		b := key[i]
		n |= uint64(b&0x7f) << shift
		if b < 0x80 {
			i++
			break
		}
		shift += 7
	}
	if uint64(len(key)-i) < n {
		return key[i:], "" // not a key appendSeriesKey wrote
	}
	return key[i : i+int(n)], key[i+int(n):]
}

// keyName returns the series name held in a series key.
func keyName(key string) string {
	name, _ := keyPart(key[1:])
	return name
}

// keyTags calls fn with each tag of a series key, in name order, until fn returns false; it
// reports whether fn never did.
func keyTags(key string, fn func(k, v string) bool) bool {
	_, rest := keyPart(key[1:])
	for rest != "" {
		var k, v string
		k, rest = keyPart(rest)
		v, rest = keyPart(rest)
		if !fn(k, v) {
			return false
		}
	}
	return true
}

// maxSortedTags is how many tags appendSeriesKey sorts in a fixed array; more take a slice.
const maxSortedTags = 8

// appendSeriesKey appends the lookup key of a series to dst: a kind byte, then the name, tag
// names and tag values in tag-name order, each preceded by its length (so no two series share a
// key, whatever bytes the strings hold). It allocates only for more than maxSortedTags tags or a
// key longer than dst's capacity.
func appendSeriesKey(dst []byte, tagged bool, name string, tags map[string]string) []byte {
	if !tagged {
		dst = append(dst, 'L')
		return appendKeyPart(dst, name)
	}
	dst = append(dst, 'T')
	dst = appendKeyPart(dst, name)
	var arr [maxSortedTags]tagPair
	kv := arr[:0]
	if len(tags) > maxSortedTags {
		kv = make([]tagPair, 0, len(tags))
	}
	for k, v := range tags {
		kv = append(kv, tagPair{k, v})
	}
	sortTags(kv)
	for _, t := range kv {
		dst = appendKeyPart(dst, t.k)
		dst = appendKeyPart(dst, t.v)
	}
	return dst
}

// appendKeyPart appends len(s) as a uvarint, then s.
func appendKeyPart(dst []byte, s string) []byte {
	n := uint64(len(s))
	for n >= 0x80 {
		dst = append(dst, byte(n)|0x80)
		n >>= 7
	}
	dst = append(dst, byte(n))
	return append(dst, s...)
}
