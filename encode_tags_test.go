package librato

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

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
