package librato

import (
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The request bodies of the write path are appended by hand: encoding/json spends ~10 allocations
// and most of its time per measurement on reflection and map sorting, and cannot write a zero
// value without pointer fields. A measurement is encoded once, when it is accepted (Queue.Add,
// Submit), into its JSON object; a chunk is those objects, comma-separated, framed by
// appendBody when the chunk is built. Tests decode the output with encoding/json for many odd
// inputs (FuzzEncode).

// appendObject appends the JSON object of m, checked into ck, to dst. Legacy objects carry
// "source" and "measure_time", tagged ones "time" and the merged tags (the server replaces
// top-level tags instead of merging them, so each measurement carries its whole set). A zero
// m.Time writes no time: the measurement takes its chunk's, which appendBody writes at the top
// level when the chunk is built, so a retried chunk keeps its time. A measurement whose name and
// tag names a Queue knows (ck.layout) takes their JSON from the layout.
func appendObject(dst []byte, m *Measurement, ck *checked) []byte {
	if l := ck.layout; l != nil {
		dst = append(dst, l.head...)
	} else {
		dst = append(dst, `{"name":`...)
		dst = appendString(dst, ck.name)
	}
	tagged := ck.tagged
	if s := m.Summary; s != nil {
		dst = append(dst, `,"count":`...)
		dst = strconv.AppendInt(dst, s.Count, 10)
		dst = append(dst, `,"sum":`...)
		dst = appendFloat(dst, s.Sum)
		dst = append(dst, `,"min":`...)
		dst = appendFloat(dst, s.Min)
		dst = append(dst, `,"max":`...)
		dst = appendFloat(dst, s.Max)
		switch {
		case tagged && s.Last != nil:
			dst = append(dst, `,"last":`...)
			dst = appendFloat(dst, *s.Last)
		case !tagged && s.SumSquares != nil:
			dst = append(dst, `,"sum_squares":`...)
			dst = appendFloat(dst, *s.SumSquares)
		}
		if tagged && s.Stddev != nil {
			dst = append(dst, `,"stddev":`...)
			dst = appendFloat(dst, *s.Stddev)
		}
	} else {
		dst = append(dst, `,"value":`...)
		dst = appendFloat(dst, m.Value)
	}
	if !tagged && m.Source != "" {
		dst = append(dst, `,"source":`...)
		dst = appendString(dst, m.Source)
	}
	if !m.Time.IsZero() {
		if tagged {
			dst = append(dst, `,"time":`...)
		} else {
			dst = append(dst, `,"measure_time":`...)
		}
		dst = strconv.AppendInt(dst, m.Time.Unix(), 10)
	}
	if l := ck.layout; l != nil {
		for i, t := range ck.tags {
			dst = append(dst, l.json[i]...)
			if l.own[i] {
				dst = appendTagValue(dst, t.v) // checked by fill
			}
		}
		dst = append(dst, '}')
	} else if len(ck.tags) > 0 {
		dst = append(dst, `,"tags":{`...)
		for i, t := range ck.tags {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, t.k)
			dst = append(dst, ':')
			dst = appendString(dst, t.v)
		}
		dst = append(dst, '}')
	}
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
	if len(ck.attrs) > 0 {
		dst = append(dst, `,"attributes":`...)
		dst = append(dst, ck.attrs...)
	}
	return append(dst, '}')
}

// appendBody appends the body of one POST to dst: the objects (comma-separated, as appendObject
// writes them) of one chunk, with the chunk's time at the top level, which the API applies to
// every measurement that has none. objs[arrayGauges] holds the tagged measurements of a tagged
// chunk, the gauges of a legacy one; objs[arrayCounters] the counters of a legacy one. Legacy
// bodies have both arrays, as python-librato sends them.
func appendBody(dst []byte, tagged bool, sec int64, objs *[2][]byte) []byte {
	if tagged {
		dst = append(dst, `{"time":`...)
		dst = strconv.AppendInt(dst, sec, 10)
		dst = append(dst, `,"measurements":[`...)
		dst = append(dst, objs[arrayGauges]...)
		return append(dst, "]}"...)
	}
	dst = append(dst, `{"measure_time":`...)
	dst = strconv.AppendInt(dst, sec, 10)
	dst = append(dst, `,"gauges":[`...)
	dst = append(dst, objs[arrayGauges]...)
	dst = append(dst, `],"counters":[`...)
	dst = append(dst, objs[arrayCounters]...)
	return append(dst, "]}"...)
}

// bodyOverhead is the most bytes appendBody adds to the objects.
const bodyOverhead = 64

// appendFloat appends f the way encoding/json does (shortest representation that round-trips;
// exponent form outside [1e-6, 1e21)), which every JSON parser accepts. f must be finite.
// Integral values and values with up to 6 decimals, the common cases for metrics, skip the general
// float formatter (FuzzEncodeFloat checks the output is byte-identical to encoding/json's).
func appendFloat(dst []byte, f float64) []byte {
	if f >= 1 && f < 1<<53 { // the commonest case, a positive count, without math.Trunc
		if u := uint64(f); float64(u) == f {
			return strconv.AppendUint(dst, u, 10)
		}
	}
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

// appendTagValue appends v, a valid tag value, as a JSON string. The tag value class has no
// quote, control or non-ASCII byte: only a backslash needs escaping.
func appendTagValue(dst []byte, v string) []byte {
	if strings.IndexByte(v, '\\') >= 0 {
		return appendString(dst, v)
	}
	dst = append(dst, '"')
	dst = append(dst, v...)
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
