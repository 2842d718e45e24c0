package librato

// Test hooks and helpers shared with the external test package (librato_test), as the standard
// library's export_test.go files do: compiled into the tests only.

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// SetClock sets the clock c stamps measurements with, so that goldens hold fixed times.
func SetClock(c *Client, now func() time.Time) { c.now = now }

// EncodeAlone encodes m as q sends it, alone in a chunk: the body, or the full check's refusal.
func EncodeAlone(c *Client, q *Queue, m Measurement) ([]byte, error) {
	b, bad := c.encodeBatch([]Measurement{m}, q.base, false)
	if bad != nil {
		return nil, bad[0]
	}
	return b.chunks[0].body, nil
}

// WireBody is a decoded POST body of either API.
type WireBody struct {
	Gauges       []map[string]any `json:"gauges"`
	Counters     []map[string]any `json:"counters"`
	Measurements []map[string]any `json:"measurements"`
}

// DecodeBody decodes a request body as the API reads it (see EffectiveJSON).
func DecodeBody(t testing.TB, b []byte) WireBody {
	t.Helper()
	var w WireBody
	require.NoError(t, json.Unmarshal([]byte(EffectiveJSON(t, b)), &w), "body: %s", b)
	return w
}

// EffectiveJSON is a POST metrics or POST measurements body as the API applies it: the top-level
// "time" (or "measure_time") is the time of every measurement that has none of its own, so it is
// moved into them. Goldens hold each measurement's time; the encoder writes a chunk's time once.
func EffectiveJSON(t testing.TB, b []byte) string {
	t.Helper()
	var body map[string]any
	require.NoError(t, json.Unmarshal(b, &body), "body: %s", b)
	for _, key := range []string{"time", "measure_time"} {
		top, ok := body[key]
		if !ok {
			continue
		}
		delete(body, key)
		for _, list := range []string{"gauges", "counters", "measurements"} {
			ms, _ := body[list].([]any)
			for _, m := range ms {
				if obj, ok := m.(map[string]any); ok {
					if _, own := obj[key]; !own {
						obj[key] = top
					}
				}
			}
		}
	}
	out, err := json.Marshal(body)
	require.NoError(t, err)
	return string(out)
}

// Count is the number of measurements in a body.
func (w WireBody) Count() int { return len(w.Gauges) + len(w.Counters) + len(w.Measurements) }

// All returns every measurement object of a body.
func (w WireBody) All() []map[string]any {
	out := append([]map[string]any(nil), w.Gauges...)
	out = append(out, w.Counters...)
	return append(out, w.Measurements...)
}
