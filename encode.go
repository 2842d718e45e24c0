package librato

import (
	"encoding/json"
	"math"
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
	nowSec := now.Unix()
	if tagged {
		dst = append(dst, `{"measurements":[`...)
		for i := range ms {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendTagged(dst, &ms[i], queueTags, clientTags, nowSec)
		}
		return append(dst, "]}"...)
	}
	dst = append(dst, `{"gauges":[`...)
	dst = appendLegacyOfType(dst, ms, Gauge, nowSec)
	dst = append(dst, `],"counters":[`...)
	dst = appendLegacyOfType(dst, ms, Counter, nowSec)
	return append(dst, "]}"...)
}

// appendLegacyOfType appends the legacy objects of the measurements of type t, comma-separated.
func appendLegacyOfType(dst []byte, ms []Measurement, t MetricType, nowSec int64) []byte {
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
func appendLegacy(dst []byte, m *Measurement, nowSec int64) []byte {
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
func appendTagged(dst []byte, m *Measurement, queueTags, clientTags map[string]string, nowSec int64) []byte {
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
	dst = appendMergedTags(dst, m.Tags, queueTags, clientTags)
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

// appendTime appends t as Unix seconds, or nowSec when t is zero.
func appendTime(dst []byte, t time.Time, nowSec int64) []byte {
	if t.IsZero() {
		return strconv.AppendInt(dst, nowSec, 10)
	}
	return strconv.AppendInt(dst, t.Unix(), 10)
}

// tagPair is one tag of a merged set.
type tagPair struct{ k, v string }

// stackTags is how many merged tags appendMergedTags sorts without allocating (MaxTags fits).
const stackTags = 64

// appendMergedTags appends `,"tags":{...}` with top over mid over low, keys sorted so the output
// is deterministic. Nothing is written when all three are empty.
func appendMergedTags(dst []byte, top, mid, low map[string]string) []byte {
	if len(top)+len(mid)+len(low) == 0 {
		return dst
	}
	var buf [stackTags]tagPair
	tags := buf[:0]
	for k, v := range top {
		tags = append(tags, tagPair{k, v})
	}
	for k, v := range mid {
		if _, ok := top[k]; !ok {
			tags = append(tags, tagPair{k, v})
		}
	}
	for k, v := range low {
		if _, ok := top[k]; ok {
			continue
		}
		if _, ok := mid[k]; !ok {
			tags = append(tags, tagPair{k, v})
		}
	}
	sortTags(tags)
	dst = append(dst, `,"tags":{`...)
	for i := range tags {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, tags[i].k)
		dst = append(dst, ':')
		dst = appendString(dst, tags[i].v)
	}
	return append(dst, '}')
}

// sortTags sorts by key: insertion sort, since sets are small (≤ 50) and usually a handful, and it
// neither allocates nor moves the slice to the heap.
func sortTags(t []tagPair) {
	for i := 1; i < len(t); i++ {
		x := t[i]
		j := i
		for ; j > 0 && t[j-1].k > x.k; j-- {
			t[j] = t[j-1]
		}
		t[j] = x
	}
}

// appendFloat appends f the way encoding/json does (shortest representation that round-trips;
// exponent form outside [1e-6, 1e21)), which every JSON parser accepts. f must be finite.
// Integral values, the common case for counters and counts, skip the float formatter.
func appendFloat(dst []byte, f float64) []byte {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 && (f != 0 || !math.Signbit(f)) {
		return strconv.AppendInt(dst, int64(f), 10)
	}
	abs := math.Abs(f)
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

// safeJSON marks the ASCII bytes a JSON string may carry unescaped.
var safeJSON = func() (t [utf8.RuneSelf]bool) {
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
	start := 0
	for i := 0; i < len(s); {
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
