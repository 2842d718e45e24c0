package librato

import (
	"encoding/json"
	"math"
	"reflect"
	"strconv"
	"time"
	"unicode/utf8"
)

// The request bodies of the write path are appended by hand: encoding/json spends ~10 allocations
// and most of its time per measurement on reflection and map sorting, and cannot write a zero
// value without pointer fields. appendPayload writes a 300-measurement chunk with no allocation
// into a reused buffer. Tests decode its output with encoding/json for many odd inputs.

// appendPayload appends the JSON body of ONE POST of ms to dst and returns it. All of ms go to the
// same API: legacy (tagged false) gives {"gauges":[...],"counters":[...]} for POST metrics (both
// arrays always present, as python-librato sends them), tagged gives {"measurements":[...]} for
// POST measurements. A zero m.Time is written as now. Tagged measurements carry their merged tags
// (m.Tags over queueTags over clientTags), because the server replaces top-level tags instead of
// merging them; "source" is never written in a tagged body. ms must have passed checkMeasurement:
// nothing here validates.
func appendPayload(dst []byte, tagged bool, ms []Measurement, queueTags, clientTags map[string]string, now time.Time) []byte {
	var nowSec secDigits // zero times are all written as now: format it once
	nowSec.set(now.Unix())
	if tagged {
		// Scratch space to merge and sort each measurement's tags: one per payload, because
		// zeroing it per measurement would cost more than the rest of the tag work.
		var st tagState
		dst = append(dst, `{"measurements":[`...)
		for i := range ms {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendTagged(dst, &ms[i], queueTags, clientTags, &nowSec, &st)
		}
		return append(dst, "]}"...)
	}
	dst = append(dst, `{"gauges":[`...)
	dst = appendLegacyOfType(dst, ms, Gauge, &nowSec)
	dst = append(dst, `],"counters":[`...)
	dst = appendLegacyOfType(dst, ms, Counter, &nowSec)
	return append(dst, "]}"...)
}

// appendLegacyOfType appends the legacy objects of the measurements of type t, comma-separated.
func appendLegacyOfType(dst []byte, ms []Measurement, t MetricType, nowSec *secDigits) []byte {
	first := true
	for i := range ms {
		m := &ms[i]
		if m.Type != t {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendLegacy(dst, m, nowSec)
	}
	return dst
}

// appendLegacy appends one measurement object of POST metrics.
func appendLegacy(dst []byte, m *Measurement, nowSec *secDigits) []byte {
	dst = append(dst, `{"name":`...)
	dst = appendString(dst, m.Name)
	if s := m.Summary; s != nil {
		dst = appendSummaryFields(dst, s)
		if s.SumSquares != nil {
			dst = append(dst, `,"sum_squares":`...)
			dst = appendFloat(dst, *s.SumSquares)
		}
	} else {
		dst = append(dst, `,"value":`...)
		dst = appendFloat(dst, m.Value)
	}
	if m.Source != "" {
		dst = append(dst, `,"source":`...)
		dst = appendString(dst, m.Source)
	}
	dst = append(dst, `,"measure_time":`...)
	dst = appendTime(dst, m.Time, nowSec)
	dst = appendProperties(dst, m)
	return append(dst, '}')
}

// appendTagged appends one measurement object of POST measurements.
func appendTagged(dst []byte, m *Measurement, queueTags, clientTags map[string]string, nowSec *secDigits,
	st *tagState) []byte {
	dst = append(dst, `{"name":`...)
	dst = appendString(dst, m.Name)
	if s := m.Summary; s != nil {
		dst = appendSummaryFields(dst, s)
		if s.Last != nil {
			dst = append(dst, `,"last":`...)
			dst = appendFloat(dst, *s.Last)
		}
	} else {
		dst = append(dst, `,"value":`...)
		dst = appendFloat(dst, m.Value)
	}
	dst = append(dst, `,"time":`...)
	dst = appendTime(dst, m.Time, nowSec)
	if id := mapID(m.Tags); !st.seen.copy(&dst, id) {
		start := len(dst)
		dst = st.appendMergedTags(dst, m.Tags, queueTags, clientTags)
		st.seen.add(id, start, len(dst))
	}
	dst = appendProperties(dst, m)
	return append(dst, '}')
}

// appendSummaryFields appends count, sum, min and max: count never goes without sum.
func appendSummaryFields(dst []byte, s *Summary) []byte {
	dst = append(dst, `,"count":`...)
	dst = strconv.AppendInt(dst, s.Count, 10)
	dst = append(dst, `,"sum":`...)
	dst = appendFloat(dst, s.Sum)
	dst = append(dst, `,"min":`...)
	dst = appendFloat(dst, s.Min)
	dst = append(dst, `,"max":`...)
	return appendFloat(dst, s.Max)
}

// appendProperties appends the create-only metric properties that are set.
func appendProperties(dst []byte, m *Measurement) []byte {
	if m.Period > 0 {
		dst = append(dst, `,"period":`...)
		dst = strconv.AppendInt(dst, int64(m.Period/time.Second), 10)
	}
	if m.Description != "" {
		dst = append(dst, `,"description":`...)
		dst = appendString(dst, m.Description)
	}
	if m.DisplayName != "" {
		dst = append(dst, `,"display_name":`...)
		dst = appendString(dst, m.DisplayName)
	}
	if len(m.Attributes) > 0 {
		// Rare, free-form and nested: encoding/json is the right tool. checkMeasurement made sure
		// it succeeds; should the map change underneath us, the key is left out rather than
		// writing broken JSON.
		if b, err := json.Marshal(m.Attributes); err == nil {
			dst = append(dst, `,"attributes":`...)
			dst = append(dst, b...)
		}
	}
	return dst
}

// appendTime appends t as Unix seconds, or now when t is zero.
func appendTime(dst []byte, t time.Time, now *secDigits) []byte {
	if t.IsZero() {
		return append(dst, now.b[:now.n]...)
	}
	return strconv.AppendInt(dst, t.Unix(), 10)
}

// secDigits holds a Unix time already formatted in decimal.
type secDigits struct {
	n int
	b [20]byte
}

func (d *secDigits) set(sec int64) { d.n = len(strconv.AppendInt(d.b[:0], sec, 10)) }

// tagOutputs remembers where the merged tags of the last few tag maps were written in this payload.
// Queue users pass one map per call site again and again, so a chunk repeats a handful of maps:
// copying the earlier output skips iterating, sorting and escaping them again. The key is the
// map's identity (queue and client tags are fixed for the payload); it is sound because maps
// must not change while they are being encoded, which the Queue's contract already requires.
type tagOutputs struct {
	next    int
	entries [8]struct {
		id         uintptr // 0: unused (the nil map has its own id, 1)
		start, end int     // dst[start:end] is `,"tags":{...}` (or empty)
	}
}

// mapID is the identity of a tag map; 1 for every nil map (they all merge the same way).
func mapID(m map[string]string) uintptr {
	if m == nil {
		return 1
	}
	return reflect.ValueOf(m).Pointer()
}

// copy appends the output remembered for id, if any.
func (c *tagOutputs) copy(dst *[]byte, id uintptr) bool {
	for i := range c.entries {
		if e := &c.entries[i]; e.id == id {
			*dst = append(*dst, (*dst)[e.start:e.end]...)
			return true
		}
	}
	return false
}

// add remembers dst[start:end] as the output for id, replacing the oldest entry.
func (c *tagOutputs) add(id uintptr, start, end int) {
	e := &c.entries[c.next]
	e.id, e.start, e.end = id, start, end
	c.next = (c.next + 1) % len(c.entries)
}

// tagPair is one tag of a merged set; top marks a tag of the measurement's own map.
type tagPair struct {
	k, v  string
	top   bool
	clean bool // in a tagSchema: k, and v unless top, need no escaping
}

// stackTags is how many merged tags appendMergedTags sorts without allocating (MaxTags fits).
const stackTags = 64

// tagState is the tag work space of one payload (queue and client tags are fixed for it).
type tagState struct {
	scratch [stackTags]tagPair
	seen    tagOutputs
	schema  tagSchema
}

// tagSchema is the layout of the last merged tag set built by reading a whole map: its pairs in
// output order, those of the measurement's own map marked. Measurements with their own maps
// usually share the tag names and differ in values (host=web-1, host=web-2): a map with as many
// tags as the schema's own, all with the schema's names, has exactly those names, so its merged
// output has the schema's names in the same order, and its values are found by one lookup each
// (no iteration, which costs a random start; no sort).
type tagSchema struct {
	n, own int // pairs in use (0: no schema yet); how many are marked top
	pairs  [stackTags]tagPair
}

// appendMergedTags appends `,"tags":{...}` with top over mid over low, keys sorted so the output
// is deterministic. Nothing is written when all three are empty.
func (st *tagState) appendMergedTags(dst []byte, top, mid, low map[string]string) []byte {
	if len(top)+len(mid)+len(low) == 0 {
		return dst
	}
	if sc := &st.schema; sc.n > 0 && sc.own == len(top) {
		start := len(dst)
		dst = append(dst, `,"tags":{`...)
		i := 0
		for ; i < sc.n; i++ {
			p := &sc.pairs[i]
			v := p.v
			if p.top {
				var ok bool
				if v, ok = top[p.k]; !ok {
					break
				}
			}
			if i > 0 {
				dst = append(dst, ',')
			}
			if p.clean && (!p.top || cleanJSON(v)) {
				dst = append(dst, '"')
				dst = append(dst, p.k...)
				dst = append(dst, `":"`...)
				dst = append(dst, v...)
				dst = append(dst, '"')
				continue
			}
			dst = appendTagPair(dst, 0, p.k, v)
		}
		if i == sc.n {
			return append(dst, '}')
		}
		dst = dst[:start] // another set of names: read the map
	}
	tags := st.scratch[:0]
	own := len(top)
	for k, v := range top {
		tags = append(tags, tagPair{k: k, v: v, top: true})
	}
	if len(mid) > 0 { // ranging over even an empty map costs an iterator set-up
		for k, v := range mid {
			if _, ok := top[k]; !ok {
				tags = append(tags, tagPair{k: k, v: v})
			}
		}
	}
	if len(low) > 0 {
		for k, v := range low {
			if _, ok := top[k]; ok {
				continue
			}
			if _, ok := mid[k]; !ok {
				tags = append(tags, tagPair{k: k, v: v})
			}
		}
	}
	sortTags(tags)
	if len(tags) <= stackTags && len(tags) > 0 {
		sc := &st.schema
		sc.n, sc.own = copy(sc.pairs[:], tags), own
		for i := range sc.n {
			p := &sc.pairs[i]
			p.clean = cleanJSON(p.k) && (p.top || cleanJSON(p.v))
		}
	}
	dst = append(dst, `,"tags":{`...)
	for i := range tags {
		dst = appendTagPair(dst, i, tags[i].k, tags[i].v)
	}
	return append(dst, '}')
}

// appendTagPair appends the i-th pair of a tags object: `"k":"v"`, comma first but for i 0.
func appendTagPair(dst []byte, i int, k, v string) []byte {
	if i > 0 {
		dst = append(dst, ',')
	}
	if cleanJSON(k) && cleanJSON(v) { // valid tags always are, but a '\\' in a value
		dst = append(dst, '"')
		dst = append(dst, k...)
		dst = append(dst, `":"`...)
		dst = append(dst, v...)
		return append(dst, '"')
	}
	dst = appendString(dst, k)
	dst = append(dst, ':')
	return appendString(dst, v)
}

// sortTags sorts by key: insertion sort, since sets are small (≤ 50) and usually a handful, and it
// neither allocates nor moves the slice to the heap.
func sortTags(t []tagPair) {
	for i := 1; i < len(t); i++ {
		x := t[i]
		j := i
		for ; j > 0 && keyLess(x.k, t[j-1].k); j-- {
			t[j] = t[j-1]
		}
		t[j] = x
	}
}

// keyLess is a < b, deciding on the first byte inline when it differs (tag names usually do).
func keyLess(a, b string) bool {
	if len(a) > 0 && len(b) > 0 && a[0] != b[0] {
		return a[0] < b[0]
	}
	return a < b
}

// appendFloat appends f the way encoding/json does (shortest representation that round-trips;
// exponent form outside [1e-6, 1e21)), which every JSON parser accepts. f must be finite.
// Integral values and values with up to 6 decimals, the common cases for metrics, skip the general
// float formatter (FuzzEncodeFloat checks the output is byte-identical to encoding/json's).
func appendFloat(dst []byte, f float64) []byte {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 && (f != 0 || !math.Signbit(f)) {
		return strconv.AppendInt(dst, int64(f), 10)
	}
	abs := math.Abs(f)
	if abs >= 1e-6 && abs < 1e9 {
		// At most 6 decimals (metrics often are: milliseconds from nanoseconds, percentages)?
		// Below 1e9 floats are closer together than 1e-6, so at most one n·10^-6 rounds to f;
		// if n/10^6 == f it does (the division is correctly rounded, as is parsing the decimal),
		// and n with its trailing zeros dropped is the shortest form. n < 2^53 is exact.
		// abs·10^6 < 10^15 < 2^52: adding 0.5 is exact, and truncating rounds half up, like
		// math.Round for a positive number, without its bit manipulation.
		if u := uint64(abs*1e6 + 0.5); float64(u)/1e6 == abs {
			k := 6
			for u%10 == 0 {
				u /= 10
				k--
			}
			return appendDecimal(dst, f < 0, u, k)
		}
	}
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// Like encoding/json: e-09 becomes e-9.
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// appendDecimal appends n·10^-k with exactly k fraction digits (the last one non-zero, as the
// shortest form has): 25, 2 gives "0.25"; 5, 3 gives "0.005".
func appendDecimal(dst []byte, neg bool, n uint64, k int) []byte {
	var buf [24]byte
	i := len(buf)
	for j := 0; j < k; j++ {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
	}
	i--
	buf[i] = '.'
	for {
		i--
		buf[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	if neg {
		i--
		buf[i] = '-'
	}
	return append(dst, buf[i:]...)
}

// safeJSON marks the bytes a JSON string may carry as they are: printable ASCII but '"' and '\\'.
// Bytes from 0x80 on are false: they go through the UTF-8 check.
var safeJSON = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string, escaping like encoding/json without its HTML escaping:
// quotes, backslashes and control characters escaped, invalid UTF-8 replaced by \ufffd, and
// U+2028/U+2029 escaped so the output is also valid JavaScript.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	if cleanJSON(s) {
		dst = append(dst, s...)
		return append(dst, '"')
	}
	i := 0
	start := 0
	for i < len(s) {
		if b := s[i]; b < utf8.RuneSelf {
			if safeJSON[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// cleanJSON reports whether s needs no escaping at all: no control character, '"', '\\' or
// non-ASCII byte. Metric names and tags nearly always qualify. It checks 8 bytes at a time, the
// tail as an overlapping last word; 4 to 7 bytes as two overlapping halves of one word.
func cleanJSON(s string) bool {
	n := len(s)
	switch {
	case n >= 8:
		i := 0
		for ; i+8 <= n; i += 8 {
			if dirty(load8(s[i:])) {
				return false
			}
		}
		return i == n || !dirty(load8(s[n-8:]))
	case n >= 4:
		return !dirty(uint64(load4(s)) | uint64(load4(s[n-4:]))<<32)
	}
	for i := 0; i < n; i++ {
		if !safeJSON[s[i]] {
			return false
		}
	}
	return true
}

// load8 reads the first 8 bytes of s, little-endian (one load: the compiler combines them).
func load8(s string) uint64 {
	_ = s[7]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// load4 reads the first 4 bytes of s, little-endian.
func load4(s string) uint32 {
	_ = s[3]
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

// dirty reports whether one of the 8 bytes of x needs escaping (see cleanJSON).
func dirty(x uint64) bool {
	q := x ^ (lsb * '"')
	b := x ^ (lsb * '\\')
	return (x|(x-lsb*0x20)|(q-lsb)&^q|(b-lsb)&^b)&msb != 0
}

// Bit patterns of the 8-bytes-at-a-time scan: lsb·c repeats byte c, msb is each byte's top bit.
// A byte of x is below c when (x - lsb·c) sets its top bit while x's own is clear; (y - lsb) &^ y
// flags a zero byte of y. False positives only follow a real hit, which the byte loop handles.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)
