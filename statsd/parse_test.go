package statsd

import (
	"math"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// parsed is a sample as the tests compare it.
type parsed struct {
	name, tags, member string
	nameTags           bool
	kind               metricKind
	value              float64
	delta              bool
}

func parseAll(t *testing.T, line string) ([]parsed, error) {
	t.Helper()
	var out []parsed
	err := parseLine([]byte(line), new(sample), func(s *sample) error {
		out = append(out, parsed{name: string(s.name), tags: string(s.tags), member: string(s.member), nameTags: s.nameTags,
			kind: s.kind, value: s.value, delta: s.delta})
		return nil
	})
	return out, err
}

func TestParseLine(t *testing.T) {
	for _, tt := range []struct {
		line string
		want []parsed
	}{
		{"hits:1|c", []parsed{{name: "hits", kind: kindCounter, value: 1}}},
		{"hits:3|c|@0.5", []parsed{{name: "hits", kind: kindCounter, value: 6}}},
		{"hits:-2|c", []parsed{{name: "hits", kind: kindCounter, value: -2}}},
		{"temp:40|g", []parsed{{name: "temp", kind: kindGauge, value: 40}}},
		{"temp:+5|g", []parsed{{name: "temp", kind: kindGauge, value: 5, delta: true}}},
		{"temp:-2.5|g", []parsed{{name: "temp", kind: kindGauge, value: -2.5, delta: true}}},
		{"lat:12.25|ms", []parsed{{name: "lat", kind: kindTimer, value: 12.25}}},
		{"lat:12|ms|@0.1", []parsed{{name: "lat", kind: kindTimer, value: 12}}}, // the rate does not change a timer's value
		{"size:300|h", []parsed{{name: "size", kind: kindHistogram, value: 300}}},
		{"users:alice|s", []parsed{{name: "users", kind: kindSet, member: "alice"}}},
		{"users:42|s", []parsed{{name: "users", kind: kindSet, member: "42"}}},
		{"x:1e3|g", []parsed{{name: "x", kind: kindGauge, value: 1000}}},
		{"x:0.000001|g", []parsed{{name: "x", kind: kindGauge, value: 0.000001}}},
		{"x:1234567890123456789|g", []parsed{{name: "x", kind: kindGauge, value: 1234567890123456789}}},
		// Several values after one name.
		{"multi:1|c:2|c:5|ms", []parsed{{name: "multi", kind: kindCounter, value: 1}, {name: "multi", kind: kindCounter, value: 2}, {name: "multi", kind: kindTimer, value: 5}}},
		// Tags, both forms.
		{"req#route=login,code=200:1|c", []parsed{{name: "req", tags: "route=login,code=200", nameTags: true, kind: kindCounter, value: 1}}},
		{"req:1|c|#route:login,code:200", []parsed{{name: "req", tags: "route:login,code:200", kind: kindCounter, value: 1}}},
		{"req:1|c|@0.5|#route:a:b", []parsed{{name: "req", tags: "route:a:b", kind: kindCounter, value: 2}}},
		{"none:1|c|#", []parsed{{name: "none", kind: kindCounter, value: 1}}},
		{"flags:1|c|#canary", []parsed{{name: "flags", tags: "canary", kind: kindCounter, value: 1}}},
		{"sp ace:1| c ", []parsed{{name: "sp ace", kind: kindCounter, value: 1}}},
	} {
		got, err := parseAll(t, tt.line)
		require.NoError(t, err, tt.line)
		assert.Equal(t, tt.want, got, tt.line)
	}
}

func TestParseLineRefuses(t *testing.T) {
	for line, want := range map[string]error{
		"nocolon":                 errNoValue,
		":1|c":                    errEmptyName,
		"  :1|c":                  errEmptyName,
		"#a=b:1|c":                errEmptyName,
		"x:1":                     errNoType,
		"x:1|":                    errBadType,
		"x:1|q":                   errBadType,
		"x:abc|c":                 errBadValue,
		"x:|c":                    errBadValue,
		"x:1.2.3|g":               errBadValue,
		"x:NaN|g":                 errNotFinite,
		"x:Inf|g":                 errNotFinite,
		"x:1e400|g":               errBadValue,
		"x:1|c|@0":                errBadRate,
		"x:1|c|@2":                errBadRate,
		"x:1|c|@-1":               errBadRate,
		"x:1|c|@abc":              errBadRate,
		"x:1|c|0.5":               errBadField,
		"x:1|g|@0.5":              errRateOnType,
		"x:a|s|@0.5":              errRateOnType,
		"x:|s":                    errNoValue,
		"x#a=b:1|c|#c:d":          errBadTags,
		"x:1|c:2|q":               errBadType, // a bad part refuses the whole line
		"x:1|c:oops":              errNoType,
		"x:1|c|@0.5|@0.5":         errBadField,
		"x:" + "1|c" + "|extra|x": errBadField,
	} {
		var added int
		err := parseLine([]byte(line), new(sample), func(*sample) error { added++; return nil })
		assert.ErrorIs(t, err, want, line)
		assert.Zero(t, added, "%s: a refused line adds nothing", line)
	}
}

func TestParseNumberMatchesStrconv(t *testing.T) {
	for _, s := range []string{"0", "1", "-1", "+7", "0.1", "3.14159", "123456789012345", "1234567890.12345",
		"0.000000000000001", "999999999999999", "1.", ".5", "-.5", "00012", "1e5", "2.5E-3", "12345678901234567890"} {
		got, ok := parseNumber([]byte(s))
		want, err := strconv.ParseFloat(s, 64)
		require.NoError(t, err, s)
		require.True(t, ok, s)
		assert.Equal(t, math.Float64bits(want), math.Float64bits(got), s)
	}
	for _, s := range []string{"", "+", "-", ".", "1..2", "0x10", "abc", "1,5"} {
		_, ok := parseNumber([]byte(s))
		assert.False(t, ok, s)
	}
	b := []byte("12345.678")
	assert.Zero(t, testing.AllocsPerRun(100, func() { parseNumber(b) }))
}

// FuzzParseLine: no input panics, a refused line adds nothing, and an accepted one adds samples
// with a name, a known kind and a finite value.
func FuzzParseLine(f *testing.F) {
	for _, s := range []string{"hits:1|c|@0.5", "t:+5|g", "a#k=v:1|ms:2|h", "u:x|s|#a:b,c", "x:1|c|#:v", "::||@#", "x:1e308|g"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		var got []sample
		err := parseLine(line, new(sample), func(s *sample) error { got = append(got, *s); return nil })
		if err != nil {
			if len(got) != 0 {
				t.Fatalf("%q refused (%v) but added %d samples", line, err, len(got))
			}
			return
		}
		if len(got) == 0 {
			t.Fatalf("%q accepted with no sample", line)
		}
		for _, s := range got {
			if len(s.name) == 0 || s.kind < kindCounter || s.kind > kindSet || math.IsNaN(s.value) || math.IsInf(s.value, 0) {
				t.Fatalf("%q: bad sample %+v", line, s)
			}
		}
	})
}
