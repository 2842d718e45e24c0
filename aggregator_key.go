package librato

import (
	"hash/maphash"
	"sync/atomic"
)

// Finding the series of Aggregator.Add and AddTagged. The reference is the index, keyed by the
// series key (appendSeriesKey), which needs the tags read from the caller's map, sorted and
// copied into a key, then hashed. seriesHints shortcuts it for the usual caller, a call site
// passing the same names again and again: it remembers the series used last for a name. The first
// of them is compared with the caller's map directly (one map lookup per tag, no iteration, no
// sort); failing that, its key gives the caller's tag names in order, so that the caller's key is
// built with one lookup per tag too, and compared with the others before the index is searched.
// Everything is by content: the map may change between calls, or be a new one each time.

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
	// sums holds a hash of each way's key, so that find reads only a series whose key may be the
	// one sought: with many series, a hinted series is rarely in the CPU cache, and reading the
	// keys of all the ways cost more than hashing the key. A way and its sum are stored apart, so
	// a reader may see one without the other: that only makes find miss (the index then finds the
	// series) or compare a key for nothing.
	sums [hintWays]atomic.Uint32
	next atomic.Uint32 // the way the next remember replaces
}

// sum is the hash of a series key that a hintSet keeps for each way.
func (h *seriesHints) sum(key []byte) uint32 {
	return uint32(maphash.Bytes(h.seed, key))
}

// set returns the set of (name, tags).
func (h *seriesHints) set(name string, tags map[string]string) *hintSet {
	return &h.sets[(maphash.String(h.seed, name)+uint64(len(tags)))%hintSets]
}

// first returns the first series of the set named name, if it is the series of (name, tags,
// tagged): the one a call site that passes the same series again and again finds, with a length
// and one map lookup per tag (no iteration, no sort).
func (hs *hintSet) first(name string, tags map[string]string, tagged bool) *aggSeries {
	for i := range hs.ways {
		s := hs.ways[i].Load()
		if s == nil {
			continue
		}
		if n, rest := keyPart(s.key[1:]); n == name {
			if s.tagged == tagged && tagsMatch(rest, tags) {
				return s
			}
			return nil
		}
	}
	return nil
}

// tagsMatch reports whether rest, the tag parts of a series key, is the tag set tags: distinct
// names, all found with rest's values, and as many as tags has, means the same set.
func tagsMatch(rest string, tags map[string]string) bool {
	n := 0
	for rest != "" {
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

// key appends the series key of (name, tags), tagged, to dst without iterating or sorting tags: it
// takes the tag names, in key order, from a series of the set with that name, and looks each up in
// tags. All found, and as many as tags has, means tags has exactly those names. ok is false when
// no series of the set has tags' names; dst is then returned unchanged.
func (hs *hintSet) key(dst []byte, name string, tags map[string]string) (key []byte, ok bool) {
	for i := range hs.ways {
		s := hs.ways[i].Load()
		if s == nil || !s.tagged {
			continue
		}
		sname, rest := keyPart(s.key[1:])
		if sname != name {
			continue
		}
		key = append(dst, s.key[:len(s.key)-len(rest)]...) // kind and name
		n := 0
		for rest != "" {
			var k string
			k, rest = keyPart(rest)
			_, rest = keyPart(rest)
			v, found := tags[k]
			if !found {
				break
			}
			key = appendKeyPart(key, k)
			key = appendKeyPart(key, v)
			n++
		}
		if rest == "" && n == len(tags) {
			return key, true
		}
	}
	return dst, false
}

// find returns the series of the set whose key is key, if any; sum is the key's sum.
func (hs *hintSet) find(key []byte, sum uint32) *aggSeries {
	for i := range hs.ways {
		if hs.sums[i].Load() != sum {
			continue
		}
		if s := hs.ways[i].Load(); s != nil && s.key == string(key) {
			return s
		}
	}
	return nil
}

// remember makes s, whose key's sum is sum, a hint of the set, replacing the oldest.
func (hs *hintSet) remember(s *aggSeries, sum uint32) {
	i := (hs.next.Add(1) - 1) % hintWays
	hs.ways[i].Store(s)
	hs.sums[i].Store(sum)
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
