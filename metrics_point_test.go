package librato

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slowPoint decodes through encoding/json only, the reference for the hand-written fast path.
func slowPoint(b []byte) (Point, error) {
	var w pointWire
	if err := json.Unmarshal(b, &w); err != nil {
		return Point{}, err
	}
	p := Point{Value: math.NaN(), Sum: w.Sum, Min: w.Min, Max: w.Max, SumSquares: w.SumSquares}
	switch {
	case w.Time != nil:
		p.Time = mtUnixUTC(*w.Time)
	case w.MeasureTime != nil:
		p.Time = mtUnixUTC(*w.MeasureTime)
	}
	if w.Value != nil {
		p.Value = *w.Value
	}
	if w.Count != nil {
		p.Count = int64(*w.Count)
	}
	return p, nil
}

func mtUnixUTC(s float64) time.Time { return time.Unix(int64(s), 0).UTC() }

// samePoint compares points treating NaN values as equal.
func samePoint(t *testing.T, want, got Point, msg string) {
	t.Helper()
	if math.IsNaN(want.Value) && math.IsNaN(got.Value) {
		want.Value, got.Value = 0, 0
	}
	assert.Equal(t, want, got, msg)
}

var pointCases = []struct {
	in   string
	fast bool // the fast path takes it
}{
	{`{"time":1476218700,"value":753.0}`, true},
	{` { "measure_time" : 1234567890 , "value" : 84.5 , "count" : 1 } `, true},
	{`{"measure_time":1,"value":-1.5e-3,"count":3,"sum":4.5,"min":-1,"max":2E2,"sum_squares":7.25}`, true},
	{`{"time":60,"value":null,"sum":null}`, true},
	{`{"time":60,"measure_time":120,"value":0}`, true},
	{`{"measure_time":120,"time":60}`, true},
	{`{}`, true},
	{`{"time":60,"value":1,"summarized":3,"rollups":2}`, true},
	{`{"time":60,"value":1,"value":2}`, true},
	{`{"time":60,"value":"7"}`, false},
	{`{"time":60,"value":1,"tags":{"a":"b"}}`, false},
	{`{"t\u0069me":60,"value":1}`, false},
	{`{"time":60,"value":true}`, false},
	{`{"time":60,"value":1e400}`, false},
	{`{"value":1,"value":null,"sum":2,"sum":null}`, true},
	{`{"value":1,"VALUE":null}`, false},
	{`{"Time":60,"value":1}`, false},
	{`{"ſum":1}`, false},
}

func TestPointFastPathMatchesEncodingJSON(t *testing.T) {
	for _, tc := range pointCases {
		var fast Point
		took := parsePoint([]byte(tc.in), &fast)
		assert.Equal(t, tc.fast, took, tc.in)
		want, wantErr := slowPoint([]byte(tc.in))
		var got Point
		err := json.Unmarshal([]byte(tc.in), &got)
		if wantErr != nil {
			assert.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		samePoint(t, want, got, tc.in)
		if took {
			samePoint(t, want, fast, tc.in)
		}
	}
}

func TestPointSummariesAreIndependent(t *testing.T) {
	var p Point
	require.NoError(t, json.Unmarshal([]byte(`{"time":1,"value":1,"sum":1,"min":2,"max":3,"sum_squares":4}`), &p))
	*p.Sum = 10
	assert.Equal(t, []float64{10, 2, 3, 4}, []float64{*p.Sum, *p.Min, *p.Max, *p.SumSquares})
	var q Point
	require.NoError(t, json.Unmarshal([]byte(`{"time":1,"value":1,"max":3}`), &q))
	assert.Nil(t, q.Sum)
	assert.Nil(t, q.Min)
	assert.Nil(t, q.SumSquares)
	require.NotNil(t, q.Max)
	assert.Equal(t, 3.0, *q.Max)
}

func FuzzPointDecode(f *testing.F) {
	for _, tc := range pointCases {
		f.Add([]byte(tc.in))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if !json.Valid(b) {
			return // encoding/json validates before UnmarshalJSON is called
		}
		var fast Point
		if !parsePoint(b, &fast) {
			return
		}
		want, err := slowPoint(b)
		if err != nil {
			t.Fatalf("fast path accepted %q, encoding/json refused it: %v", b, err)
		}
		samePoint(t, want, fast, string(b))
	})
}
