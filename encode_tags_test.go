package librato

import (
	"bytes"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAppendPayloadTagSchemas: measurements with their own maps, drawn so that tag name sets
// repeat, differ by one name, or match in size only (the tag schema's hits and misses), over
// queue and client tags that overlap them, and values that need escaping. Each measurement must
// encode byte for byte as it does alone in a payload (no schema, no cache), and the payload must
// decode to what encoding/json would say.
func TestAppendPayloadTagSchemas(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	names := []string{"host", "region", "service", "az", "env", "z", "a"}
	values := []string{"web-1", "web-2", "us-east-1", `a\b`, `q"uote`, "é", "x y", "api"}
	ms := make([]Measurement, 2000)
	for i := range ms {
		tags := map[string]string{}
		n := rng.IntN(5)
		for len(tags) < n {
			tags[names[rng.IntN(len(names))]] = values[rng.IntN(len(values))]
		}
		if rng.IntN(10) == 0 {
			tags = nil
		}
		ms[i] = Measurement{Name: "m" + strconv.Itoa(i%7), Value: float64(i), Tags: tags}
	}
	for _, layers := range [][2]map[string]string{
		{nil, nil},
		{{"z": "queue", "service": "api"}, nil},
		{nil, {"a": "client", "env": "prod"}},
		{{"service": "q"}, {"env": "prod", "service": "client", "host": "c"}},
	} {
		b := appendPayload(nil, true, ms, layers[0], layers[1], encNow)
		require.Equal(t, wantPayload(true, ms, layers[0], layers[1], encNow), encDecode(t, b))
		want := []byte(`{"measurements":[`)
		for i := range ms {
			if i > 0 {
				want = append(want, ',')
			}
			one := appendPayload(nil, true, ms[i:i+1], layers[0], layers[1], encNow)
			want = append(want, bytes.TrimSuffix(bytes.TrimPrefix(one, []byte(`{"measurements":[`)), []byte("]}"))...)
		}
		want = append(want, "]}"...)
		assert.Equal(t, string(want), string(b))
	}
}

// TestCleanJSON: the word-at-a-time check agrees with the byte table for every length up to 24
// and every position of every byte value in an otherwise clean string.
func TestCleanJSON(t *testing.T) {
	ref := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if !safeJSON[s[i]] {
				return false
			}
		}
		return true
	}
	for n := 0; n <= 24; n++ {
		base := bytes.Repeat([]byte("a-Z.9"), 5)[:n]
		require.True(t, cleanJSON(string(base)), "%q", base)
		for i := 0; i < n; i++ {
			for c := 0; c < 256; c++ {
				s := bytes.Clone(base)
				s[i] = byte(c)
				if cleanJSON(string(s)) != ref(string(s)) {
					t.Fatalf("cleanJSON(%q) = %v", s, !ref(string(s)))
				}
			}
		}
	}
}
