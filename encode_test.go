package librato

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var encNow = time.Unix(1500000000, 0)

// viaEncodingJSON is what encoding/json makes of s after a round trip: the reference for escaping.
func viaEncodingJSON(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	var out string
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

// wantMeasurement is the decoded form one measurement must have, built independently of the encoder.
func wantMeasurement(m *Measurement, tagged bool, queueTags, clientTags map[string]string, nowSec int64) map[string]any {
	w := map[string]any{"name": viaEncodingJSON(m.Name)}
	if s := m.Summary; s != nil {
		w["count"] = float64(s.Count)
		w["sum"], w["min"], w["max"] = s.Sum, s.Min, s.Max
		if s.SumSquares != nil && !tagged {
			w["sum_squares"] = *s.SumSquares
		}
		if s.Last != nil && tagged {
			w["last"] = *s.Last
		}
	} else {
		w["value"] = m.Value
	}
	if tagged {
		if !m.Time.IsZero() {
			w["time"] = float64(m.Time.Unix())
		}
		tags := map[string]any{}
		for _, layer := range []map[string]string{clientTags, queueTags, m.Tags} {
			for k, v := range layer {
				tags[viaEncodingJSON(k)] = viaEncodingJSON(v)
			}
		}
		if len(tags) > 0 {
			w["tags"] = tags
		}
	} else {
		if !m.Time.IsZero() {
			w["measure_time"] = float64(m.Time.Unix())
		}
		if m.Source != "" {
			w["source"] = viaEncodingJSON(m.Source)
		}
	}
	if m.Period > 0 {
		w["period"] = float64(m.Period / time.Second)
	}
	if m.Description != "" {
		w["description"] = viaEncodingJSON(m.Description)
	}
	if m.DisplayName != "" {
		w["display_name"] = viaEncodingJSON(m.DisplayName)
	}
	if len(m.Attributes) > 0 {
		b, _ := json.Marshal(m.Attributes)
		var a any
		_ = json.Unmarshal(b, &a)
		w["attributes"] = a
	}
	return w
}

// wantPayload is the decoded form of a whole body.
func wantPayload(tagged bool, ms []Measurement, queueTags, clientTags map[string]string, now time.Time) map[string]any {
	if tagged {
		list := []any{}
		for i := range ms {
			list = append(list, wantMeasurement(&ms[i], true, queueTags, clientTags, now.Unix()))
		}
		return map[string]any{"time": float64(now.Unix()), "measurements": list}
	}
	gauges, counters := []any{}, []any{}
	for i := range ms {
		w := wantMeasurement(&ms[i], false, nil, nil, now.Unix())
		if ms[i].Type == Counter {
			counters = append(counters, w)
		} else {
			gauges = append(gauges, w)
		}
	}
	return map[string]any{"measure_time": float64(now.Unix()), "gauges": gauges, "counters": counters}
}

// appendPayload builds the body of one POST of ms the way a Queue does (appendObject for each,
// appendBody around them), without validating: tests feed it strings no validator would pass, to
// check the escaping. Legacy bodies put the gauges and the counters in their arrays.
func appendPayload(dst []byte, tagged bool, ms []Measurement, queueTags, clientTags map[string]string, now time.Time) []byte {
	base := sortedTags(queueTags, clientTags)
	var objs [2][]byte
	for i := range ms {
		m := &ms[i]
		ck := checked{name: m.Name, tagged: tagged}
		if tagged {
			ck.tags = sortedTags(m.Tags, nil)
			for _, b := range base {
				if _, ok := m.Tags[b.k]; !ok {
					ck.tags = append(ck.tags, b)
				}
			}
			sortTags(ck.tags)
		}
		if len(m.Attributes) > 0 {
			ck.attrs, _ = json.Marshal(m.Attributes)
		}
		a := arrayOf(m)
		if tagged {
			a = arrayGauges
		}
		if len(objs[a]) > 0 {
			objs[a] = append(objs[a], ',')
		}
		objs[a] = appendObject(objs[a], m, &ck)
	}
	return appendBody(dst, tagged, now.Unix(), &objs)
}

func encDecode(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var got map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	require.NoError(t, dec.Decode(&got), "body: %s", b)
	require.False(t, dec.More(), "trailing data in %s", b)
	return got
}

// oddStrings exercise escaping: everything JSON strings treat specially.
var oddStrings = []string{
	"", "plain", `quo"te`, `back\slash`, `\"`, "new\nline", "cr\rtab\t", "bell\a nul\x00 esc\x1b del\x7f",
	"bs\b ff\f", "ünïcödé ✓ 日本語 🎉", "bad utf8 \xff\xfe end", "\xc3", "truncated \xe2\x82", "line sep \u2028 para \u2029",
	"<html>&amp;</html>", "/slash/", strings.Repeat("x", 300), "\ufffd", "\U0010FFFF",
}

func TestAppendStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range oddStrings {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		require.NoError(t, enc.Encode(s))
		assert.Equal(t, strings.TrimSuffix(want.String(), "\n"), string(appendString(nil, s)), "%q", s)
	}
}

// floatCases cover the formatter's branches: integers, fractions, both exponent switch-overs,
// extremes and negative zero.
var floatCases = []float64{
	0, math.Copysign(0, -1), 1, -1, 80, 22.1, 0.1, 1.0 / 3, -2.5e-3, 1e-6, 9.99999e-7, 1e-7, 1e20, 1e21,
	123456789012345678, 1 << 53, 1<<53 - 1, -(1<<53 - 1), 1 << 60, math.MaxFloat64, -math.MaxFloat64,
	math.SmallestNonzeroFloat64, 5e-324, 2.2250738585072014e-308, 1e126, 9.999e126, 1e-130, 4.5, 1421530163.5,
	999999999.999999, 999999999.9999999, 1e9 - 1e-6, 1e-6 + 1e-12, 0.000001, 0.0000015, 12.345678, 0.1 + 0.2, 3*1.37 + 0.25,
}

func TestAppendFloatMatchesEncodingJSON(t *testing.T) {
	for _, f := range floatCases {
		want, err := json.Marshal(f)
		require.NoError(t, err)
		got := appendFloat(nil, f)
		assert.Equal(t, string(want), string(got), "%v", f)
		var back float64
		require.NoError(t, json.Unmarshal(got, &back))
		assert.Equal(t, math.Float64bits(f), math.Float64bits(back), "%v round trip (sign of zero included)", f)
	}
}

func TestAppendPayloadDecodes(t *testing.T) {
	t1 := time.Unix(1481637540, 0)
	var ms []Measurement
	for i, s := range oddStrings {
		ms = append(ms, Measurement{Name: "n" + s, Value: floatCases[i%len(floatCases)], Source: s,
			Description: s, DisplayName: s, Tags: map[string]string{"k" + s: s, "z": "1"}})
	}
	for _, f := range floatCases {
		ms = append(ms, Measurement{Name: "f", Value: f, Time: t1, Type: Counter})
	}
	ms = append(ms,
		Measurement{Name: "zero", Value: 0},
		Measurement{Name: "summary", Summary: &Summary{Count: 3, Sum: 35, Min: 4.5, Max: 6.7,
			SumSquares: Float(0), Last: Float(math.Copysign(0, -1))}, Period: time.Minute, Attributes: map[string]any{"aggregate": false}},
		Measurement{Name: "summary0", Summary: &Summary{Count: 1}},
		Measurement{Name: "attrs", Attributes: map[string]any{"display_units_short": `"°F"`, "nested": map[string]any{"a": []any{1, "x"}}}},
	)
	queueTags := map[string]string{"service": "api", "z": "queue", "q\"": "\x01"}
	clientTags := map[string]string{"company": "librato", "service": "client", "c": "é"}
	for _, tc := range []struct {
		name                  string
		tagged                bool
		queueTags, clientTags map[string]string
	}{
		{"legacy", false, nil, nil},
		{"tagged", true, nil, nil},
		{"tagged with queue and client tags", true, queueTags, clientTags},
		{"tagged with client tags", true, nil, clientTags},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, chunk := range [][]Measurement{ms, ms[:1], ms[len(ms)-1:], nil} {
				b := appendPayload([]byte("prefix"), tc.tagged, chunk, tc.queueTags, tc.clientTags, encNow)
				require.True(t, bytes.HasPrefix(b, []byte("prefix")), "appends to dst")
				b = b[len("prefix"):]
				assert.Equal(t, wantPayload(tc.tagged, chunk, tc.queueTags, tc.clientTags, encNow), encDecode(t, b))
				if tc.tagged {
					assert.NotContains(t, string(b), `"source"`, "tagged bodies never carry source")
				}
			}
		})
	}
}

func TestAppendPayloadExact(t *testing.T) {
	// Byte-exact forms, so the field names and order are pinned down (decoded tests compare semantics).
	got := appendPayload(nil, false, []Measurement{
		{Name: "temperature", Value: 80},
		{Name: "summed", Summary: &Summary{Count: 2, Sum: 3, Min: 1, Max: 2, Stddev: Float(0.5)}}, // no stddev on the legacy API
		{Name: "conn", Value: 5, Type: Counter, Source: "web1", Time: time.Unix(1500000000, 0)},
		{Name: "zero", Value: 0, Summary: nil},
	}, nil, nil, time.Unix(1600000000, 0))
	assert.Equal(t, `{"measure_time":1600000000,"gauges":[{"name":"temperature","value":80},`+
		`{"name":"summed","count":2,"sum":3,"min":1,"max":2},`+
		`{"name":"zero","value":0}],`+
		`"counters":[{"name":"conn","value":5,"source":"web1","measure_time":1500000000}]}`, string(got))

	got = appendPayload(nil, true, []Measurement{
		{Name: "cpu", Summary: &Summary{Count: 3, Sum: 35, Min: 4.5, Max: 6.7, Last: Float(2.5), SumSquares: Float(9), Stddev: Float(1.25)},
			Time: time.Unix(1421530163, 0), Period: time.Minute, Tags: map[string]string{"region": "us-east-1", "az": "b"}},
	}, map[string]string{"role": "kafka"}, map[string]string{"az": "client", "environment": "prod"}, encNow)
	assert.Equal(t, `{"time":1500000000,"measurements":[{"name":"cpu","count":3,"sum":35,"min":4.5,"max":6.7,"last":2.5,"stddev":1.25,"time":1421530163,`+
		`"tags":{"az":"b","environment":"prod","region":"us-east-1","role":"kafka"},"period":60}]}`, string(got))
}

func TestAppendPayloadManyTagsSorted(t *testing.T) {
	// More tags than the stack buffer holds still encode, sorted (the merge can exceed MaxTags
	// when validation is bypassed; it must stay correct, just not allocation-free).
	tags := map[string]string{}
	for i := range 70 {
		tags[fmt.Sprintf("t%02d", 69-i)] = fmt.Sprint(i)
	}
	b := appendPayload(nil, true, []Measurement{{Name: "x", Tags: tags}}, nil, nil, encNow)
	got := encDecode(t, b)
	assert.Len(t, got["measurements"].([]any)[0].(map[string]any)["tags"], 70)
	assert.Less(t, bytes.Index(b, []byte(`"t00"`)), bytes.Index(b, []byte(`"t01"`)))
	assert.Less(t, bytes.Index(b, []byte(`"t68"`)), bytes.Index(b, []byte(`"t69"`)))
}

func TestEncodeAllocs(t *testing.T) {
	// What Add does per measurement (check, then encode into a reused buffer), and what a flush
	// does per chunk (frame the objects), allocate nothing.
	c, err := Connect("u@example.com", "tok")
	require.NoError(t, err)
	ms := benchMeasurements(300)
	base := sortedTags(map[string]string{"service": "api"}, map[string]string{"env": "prod", "host": "h1"})
	buf := make([]byte, 0, 1<<16)
	var scratch [inlineTags]tagPair
	allocs := testing.AllocsPerRun(20, func() {
		buf = buf[:0]
		for i := range ms {
			ck, err := c.checkMeasurement(&ms[i], base, scratch[:], nil)
			if err != nil {
				t.Fatal(err)
			}
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = appendObject(buf, &ms[i], &ck)
		}
	})
	assert.Zero(t, allocs, "check and encode a 300-measurement chunk, 3 own tags over 3 defaults")
	objs := [2][]byte{buf, nil}
	body := appendBody(nil, true, encNow.Unix(), &objs)
	allocs = testing.AllocsPerRun(20, func() { body = appendBody(body[:0], true, encNow.Unix(), &objs) })
	assert.Zero(t, allocs, "framing a chunk into a reused buffer")
}

// benchMeasurements is a realistic chunk: n gauges, 3 tags each, with fractional values.
func benchMeasurements(n int) []Measurement {
	hosts := []string{"web-1", "web-2", "db-1", "cache-1"}
	ms := make([]Measurement, n)
	for i := range ms {
		ms[i] = Measurement{
			Name:  fmt.Sprintf("app.request.latency.%d", i%20),
			Value: float64(i)*1.37 + 0.25,
			Tags:  map[string]string{"host": hosts[i%len(hosts)], "region": "us-east-1", "service": "api"},
		}
	}
	return ms
}

// jsonWire is what a straightforward encoding/json client would marshal for the same chunk.
type jsonWire struct {
	Measurements []jsonWireMeasurement `json:"measurements"`
}

type jsonWireMeasurement struct {
	Name  string            `json:"name"`
	Value *float64          `json:"value,omitempty"`
	Count *int64            `json:"count,omitempty"`
	Sum   *float64          `json:"sum,omitempty"`
	Min   *float64          `json:"min,omitempty"`
	Max   *float64          `json:"max,omitempty"`
	Time  int64             `json:"time"`
	Tags  map[string]string `json:"tags,omitempty"`
}

// encCPUMeter measures the process CPU time of a benchmark loop (see encProcessCPU).
type encCPUMeter struct {
	start time.Duration
	ok    bool
}

func encStartCPU() encCPUMeter {
	d, ok := encProcessCPU()
	return encCPUMeter{d, ok}
}

// report adds "cpu-ns/op": CPU time per op, GC and runtime work included.
func (m encCPUMeter) report(b *testing.B) {
	if end, ok := encProcessCPU(); ok && m.ok && b.N > 0 {
		b.ReportMetric(float64(end-m.start)/float64(b.N), "cpu-ns/op")
	}
}

func BenchmarkEncode(b *testing.B) {
	ms := benchMeasurements(300)
	c, err := Connect("u@example.com", "tok")
	require.NoError(b, err)
	b.Run("appender", func(b *testing.B) {
		// Encoding alone, as encoding_json below: each measurement's object (checked before the
		// loop), then the chunk's frame.
		cks := make([]checked, len(ms))
		for i := range ms {
			var err error
			if cks[i], err = c.checkMeasurement(&ms[i], nil, nil, nil); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		objs := make([]byte, 0, 1<<16)
		body := make([]byte, 0, 1<<16)
		cpu := encStartCPU()
		for b.Loop() {
			objs = objs[:0]
			for i := range ms {
				if i > 0 {
					objs = append(objs, ',')
				}
				objs = appendObject(objs, &ms[i], &cks[i])
			}
			framed := [2][]byte{objs, nil}
			body = appendBody(body[:0], true, encNow.Unix(), &framed)
		}
		b.SetBytes(int64(len(body)))
		cpu.report(b)
	})
	b.Run("check_and_appender", func(b *testing.B) {
		// What the write path does for a chunk: check and encode each measurement (Add), then
		// frame the chunk (flush).
		b.ReportAllocs()
		objs := make([]byte, 0, 1<<16)
		body := make([]byte, 0, 1<<16)
		var scratch [inlineTags]tagPair
		cpu := encStartCPU()
		for b.Loop() {
			objs = objs[:0]
			for i := range ms {
				ck, err := c.checkMeasurement(&ms[i], nil, scratch[:], nil)
				if err != nil {
					b.Fatal(err)
				}
				if i > 0 {
					objs = append(objs, ',')
				}
				objs = appendObject(objs, &ms[i], &ck)
			}
			framed := [2][]byte{objs, nil}
			body = appendBody(body[:0], true, encNow.Unix(), &framed)
		}
		b.SetBytes(int64(len(body)))
		cpu.report(b)
	})
	b.Run("encoding_json", func(b *testing.B) {
		b.ReportAllocs()
		wire := jsonWire{Measurements: make([]jsonWireMeasurement, len(ms))}
		for i := range ms {
			wire.Measurements[i] = jsonWireMeasurement{Name: ms[i].Name, Value: &ms[i].Value, Time: encNow.Unix(), Tags: ms[i].Tags}
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		require.NoError(b, enc.Encode(wire))
		b.SetBytes(int64(buf.Len()))
		cpu := encStartCPU()
		for b.Loop() {
			buf.Reset()
			if err := enc.Encode(wire); err != nil {
				b.Fatal(err)
			}
		}
		cpu.report(b)
	})
}

// FuzzEncode: any measurement that passes checkMeasurement encodes to valid JSON that decodes back to
// the same values (floats bit for bit, so negative zero included).
func FuzzEncode(f *testing.F) {
	f.Add("cpu", "web1", "host", "h1", "desc", 22.1, 35.0, 4.5, 6.7, 2.5, int64(3), int64(0), uint8(0))
	f.Add("a.b:c-d_e", "", "k", `a\b/c?d e`, "quo\"te\\ \x00 \xff é \u2028", math.Copysign(0, -1), 0.0, 0.0, 0.0, 0.0, int64(1), int64(1500000000), uint8(1))
	f.Add("x", "", "k", "v", "", 1e126, -1e-300, -5e-324, 5e-324, 1e21, int64(1<<62), int64(1600000000), uint8(4|8))
	f.Add("count", "src", "", "", "", 5.0, 0.0, 0.0, 0.0, 0.0, int64(0), int64(0), uint8(2))
	f.Fuzz(func(t *testing.T, name, source, tagK, tagV, text string, value, sum, lo, hi, last float64, count, unix int64, kind uint8) {
		var opts []Option
		if kind&8 != 0 {
			opts = append(opts, WithTags(map[string]string{"env": "prod", "service": "client"}))
		}
		c, err := Connect("u@example.com", "tok", opts...)
		require.NoError(t, err)
		c.now = func() time.Time { return submitNow }
		m := Measurement{Name: name, Value: value, Source: source, Description: text, DisplayName: text}
		if unix != 0 {
			m.Time = time.Unix(unix, 0)
		}
		if kind&1 != 0 {
			m.Value = 0
			m.Summary = &Summary{Count: count, Sum: sum, Min: lo, Max: hi, Last: Float(last), SumSquares: Float(math.Abs(sum))}
		}
		if kind&2 != 0 {
			m.Type = Counter
		}
		if kind&4 != 0 {
			m.Tags = map[string]string{tagK: tagV, "service": "own"}
		}
		ck, err := c.checkMeasurement(&m, sortedTags(c.tags, nil), nil, nil)
		if err != nil {
			return
		}
		tagged := ck.tagged
		m.Name = ck.name
		var objs [2][]byte
		a := arrayOf(&m)
		if tagged {
			a = arrayGauges
		}
		objs[a] = appendObject(nil, &m, &ck)
		b := appendBody(nil, tagged, submitNow.Unix(), &objs)
		require.True(t, json.Valid(b), "%s", b)
		got := encDecode(t, b)
		require.Equal(t, wantPayload(tagged, []Measurement{m}, nil, c.tags, submitNow), got)
		// DeepEqual treats 0 and -0 alike; check the bits of every number too.
		var p struct {
			Gauges, Counters, Measurements []struct {
				Value, Sum, Min, Max, Last *float64
			}
		}
		require.NoError(t, json.Unmarshal(b, &p))
		all := append(append(p.Gauges, p.Counters...), p.Measurements...)
		require.Len(t, all, 1)
		bits := func(want float64, got *float64) {
			require.NotNil(t, got)
			assert.Equal(t, math.Float64bits(want), math.Float64bits(*got), "%v vs %v", want, *got)
		}
		if s := m.Summary; s != nil {
			bits(s.Sum, all[0].Sum)
			bits(s.Min, all[0].Min)
			bits(s.Max, all[0].Max)
			if tagged {
				bits(*s.Last, all[0].Last)
			}
		} else {
			bits(m.Value, all[0].Value)
		}
	})
}

// FuzzEncodeString: appendString writes exactly what encoding/json writes (without HTML escaping).
func FuzzEncodeString(f *testing.F) {
	for _, s := range oddStrings {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		require.NoError(t, enc.Encode(s))
		require.Equal(t, strings.TrimSuffix(want.String(), "\n"), string(appendString(nil, s)))
	})
}

// FuzzEncodeFloat: appendFloat writes exactly what encoding/json writes for every finite float,
// including decimals n/10^k (the encoder's fast path), which random bits seldom produce.
func FuzzEncodeFloat(f *testing.F) {
	for i, v := range floatCases {
		f.Add(v, int64(i)*12345, uint8(i))
	}
	f.Add(0.0, int64(1257), uint8(2))
	f.Add(0.0, int64(-5), uint8(3))
	f.Add(0.0, int64(999999999999), uint8(4))
	f.Fuzz(func(t *testing.T, v float64, n int64, k uint8) {
		for _, x := range []float64{v, float64(n) / math.Pow10(int(k%12)), float64(n%1_000_000_000) / math.Pow10(int(k%6))} {
			if math.IsNaN(x) || math.IsInf(x, 0) {
				continue
			}
			want, err := json.Marshal(x)
			require.NoError(t, err)
			require.Equal(t, string(want), string(appendFloat(nil, x)), "%v", x)
		}
	})
}

func TestAppendFloatDecimals(t *testing.T) {
	// Exhaustive over small decimals and a spread of larger ones: byte-identical to encoding/json.
	check := func(x float64) {
		want, err := json.Marshal(x)
		require.NoError(t, err)
		require.Equal(t, string(want), string(appendFloat(nil, x)), "%v", x)
	}
	for k := 1; k <= 6; k++ {
		for n := int64(-20000); n <= 20000; n++ {
			check(float64(n) / math.Pow10(k))
		}
		for n := int64(1); n < 1e15; n = n*7 + 3 {
			check(float64(n) / math.Pow10(k))
			check(-float64(n) / math.Pow10(k))
		}
	}
}

// TestLayoutEncodesWhatTheFullPathDoes: a measurement whose name and tag names a Queue knows is
// encoded from its layout's JSON; the bytes must be those of the full path, for own tags before,
// between and after the defaults, values that need escaping, and every optional field.
func TestLayoutEncodesWhatTheFullPathDoes(t *testing.T) {
	c, err := Connect("u@example.com", "tok")
	require.NoError(t, err)
	base := sortedTags(map[string]string{"env": "prod", "m": `a\b`}, nil)
	last := 1.5
	ms := []Measurement{
		{Name: "api.latency", Value: 12.5, Tags: map[string]string{"host": "web-1"}},
		{Name: "api.latency", Value: -3, Tags: map[string]string{"a": `x\y`, "z": "q r/s?"}},
		{Name: "x", Value: 1, Tags: map[string]string{"env": "dev", "zz": "1"}}, // overrides a default
		{Name: "x", Value: 2, Tags: map[string]string{"b": "1", "n": "2", "zz": "3"}, Period: time.Minute,
			Time: time.Unix(1_700_000_000, 0), Description: "d\"q", DisplayName: "X"},
		{Name: "s", Tags: map[string]string{"k": "v"}, Summary: &Summary{Count: 2, Sum: 3, Min: 1, Max: 2, Last: &last}},
	}
	for _, m := range ms {
		seen := newTagLayouts(base)
		var scratch [inlineTags]tagPair
		full, err := c.checkMeasurement(&m, base, scratch[:], seen) // learns the layout
		require.NoError(t, err)
		require.Nil(t, full.layout)
		want := string(appendObject(nil, &m, &full))

		var scratch2 [inlineTags]tagPair
		fast, err := c.checkMeasurement(&m, base, scratch2[:], seen)
		require.NoError(t, err)
		require.NotNil(t, fast.layout, "%s: the second check finds the layout", m.Name)
		assert.Equal(t, want, string(appendObject(nil, &m, &fast)), m.Name)
		var v any
		assert.NoError(t, json.Unmarshal([]byte(want), &v), want)
	}
}
