package statsd

import (
	"bytes"
	"errors"
	"math"
	"strconv"
)

// metricKind is the type of a StatsD metric, from its line's type field.
type metricKind uint8

// The StatsD metric types.
const (
	kindCounter   metricKind = iota + 1 // |c: added up over the flush interval
	kindGauge                           // |g: the last value; "+N" and "-N" change it
	kindTimer                           // |ms: every value, summarized at the flush
	kindHistogram                       // |h: as a timer
	kindSet                             // |s: the number of distinct members
)

// sample is one parsed value of one line. Its byte slices point into the packet: they are valid
// until the packet's buffer is reused.
type sample struct {
	name  []byte // as sent, before sanitizing
	kind  metricKind
	value float64 // counters: already divided by the sample rate
	delta bool    // gauges: value is a change ("+N", "-N"), not a new level
	// member is a set's member.
	member []byte
	// tags are "k:v,k2:v2" (DogStatsD, after |#) or "k=v,k2=v2" (after # in the name, the
	// statsd-librato-backend form); nameTags tells which.
	tags     []byte
	nameTags bool
}

// The reasons a line is refused; each is counted, and logged with the line at a bounded rate.
var (
	errNoValue    = errors.New("no value (want name:value|type)")
	errNoType     = errors.New("no type (want name:value|type)")
	errEmptyName  = errors.New("empty name")
	errBadType    = errors.New("unknown type (want c, g, ms, h or s)")
	errBadValue   = errors.New("value is not a number")
	errBadRate    = errors.New("sample rate is not a number in (0, 1] (want @0.1)")
	errBadField   = errors.New("unknown field after the type (want @rate or #tags)")
	errBadTags    = errors.New("tags are not name:value or name=value pairs")
	errNotFinite  = errors.New("value is not finite")
	errRateOnType = errors.New("a sample rate applies to c, ms and h only")
)

// parseLine parses one line, "name[#k=v,...]:value|type[|@rate][|#k:v,...]" with possibly
// several "value|type[|@rate]" parts after the name, separated by ':' (statsd's multi-metric
// form, which DogStatsD tags rule out). It calls add for each value, or returns why the line is
// refused; a refused line adds nothing, not even its good parts. An error from add ends the
// line (add refuses a line's first value or none: its series, the same for every part, is new
// and refused, or known).
//
// s is the caller's scratch (a sample passed to a function value would escape to the heap, one
// allocation a line).
func parseLine(line []byte, s *sample, add func(*sample) error) error {
	colon := bytes.IndexByte(line, ':')
	if colon < 0 {
		return errNoValue
	}
	*s = sample{}
	s.name = line[:colon]
	rest := line[colon+1:]
	if i := bytes.IndexByte(s.name, '#'); i >= 0 {
		s.name, s.tags, s.nameTags = s.name[:i], s.name[i+1:], true
	}
	if len(bytes.TrimSpace(s.name)) == 0 {
		return errEmptyName
	}
	// DogStatsD tags end the line and may hold ':' themselves. (The tags' pairs are checked when
	// their series is new: see aggregator.newSeries.)
	if i := bytes.IndexByte(rest, '#'); i > 0 && rest[i-1] == '|' {
		if s.nameTags {
			return errBadTags // both forms at once: which set wins would be a guess
		}
		s.tags, rest = rest[i+1:], rest[:i-1]
	}
	if bytes.IndexByte(rest, ':') < 0 { // one part: the common case
		if err := parsePart(rest, s); err != nil {
			return err
		}
		return add(s)
	}
	// Check every part before adding any, so that a refused line adds nothing.
	for part := range bytes.SplitSeq(rest, []byte{':'}) {
		if err := parsePart(part, s); err != nil {
			return err
		}
	}
	for part := range bytes.SplitSeq(rest, []byte{':'}) {
		parsePart(part, s)
		if err := add(s); err != nil {
			return err
		}
	}
	return nil
}

// parsePart parses "value|type[|@rate]" into s.
func parsePart(part []byte, s *sample) error {
	bar := bytes.IndexByte(part, '|')
	if bar < 0 {
		return errNoType
	}
	value, fields := part[:bar], part[bar+1:]
	typ := fields
	var rate []byte
	if i := bytes.IndexByte(fields, '|'); i >= 0 {
		typ, rate = fields[:i], fields[i+1:]
		if len(rate) == 0 || rate[0] != '@' || bytes.IndexByte(rate, '|') >= 0 {
			return errBadField
		}
		rate = rate[1:]
	}
	switch string(bytes.TrimSpace(typ)) {
	case "c":
		s.kind = kindCounter
	case "g":
		s.kind = kindGauge
	case "ms":
		s.kind = kindTimer
	case "h":
		s.kind = kindHistogram
	case "s":
		s.kind = kindSet
	default:
		return errBadType
	}
	s.delta, s.member = false, nil
	if s.kind == kindSet {
		if rate != nil {
			return errRateOnType
		}
		if len(value) == 0 {
			return errNoValue
		}
		s.member = value
		return nil
	}
	if s.kind == kindGauge {
		if rate != nil {
			return errRateOnType
		}
		s.delta = len(value) > 0 && (value[0] == '+' || value[0] == '-')
	}
	v, ok := parseNumber(value)
	if !ok {
		return errBadValue
	}
	if math.IsInf(v, 0) || math.IsNaN(v) {
		return errNotFinite
	}
	if rate != nil {
		r, ok := parseNumber(rate)
		if !ok || !(r > 0 && r <= 1) {
			return errBadRate
		}
		if s.kind == kindCounter {
			v /= r
		}
	}
	s.value = v
	return nil
}

// validTags checks "k:v,k2:v2" (sep ':') or "k=v,k2=v2" (sep '='): each pair has a name; a
// DogStatsD tag without a value ("k") is allowed, as DogStatsD allows it.
func validTags(tags []byte, nameForm bool) bool {
	for pair := range bytes.SplitSeq(tags, []byte{','}) {
		k, _, found := cutTag(pair, nameForm)
		if len(k) == 0 || (nameForm && !found) {
			return false
		}
	}
	return true
}

// cutTag splits one tag pair at its separator.
func cutTag(pair []byte, nameForm bool) (name, value []byte, found bool) {
	sep := byte(':')
	if nameForm {
		sep = '='
	}
	return bytes.Cut(pair, []byte{sep})
}

// pow10 holds the exact powers of ten a float64 has.
var pow10 = [...]float64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
	1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseNumber parses a decimal number. The common forms (an optional sign, up to 15 digits, an
// optional fraction) are read here without allocating, exactly: digits and a power of ten are
// both exact in a float64, so one division rounds correctly. Anything else goes to
// strconv.ParseFloat.
func parseNumber(b []byte) (float64, bool) {
	i, neg := 0, false
	if len(b) > 0 && (b[0] == '+' || b[0] == '-') {
		neg, i = b[0] == '-', 1
	}
	var mant uint64
	digits, frac, dot := 0, 0, false
	for ; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			mant = mant*10 + uint64(c-'0')
			digits++
			if dot {
				frac++
			}
		case c == '.' && !dot:
			dot = true
		default:
			digits = 99 // not the simple form
		}
		if digits > 15 {
			break
		}
	}
	if digits == 0 || digits > 15 {
		v, err := strconv.ParseFloat(string(b), 64)
		return v, err == nil
	}
	v := float64(mant) / pow10[frac]
	if neg {
		v = -v
	}
	return v, true
}
