package cli

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCompositeGolden(t *testing.T) {
	srv := newFake(t)
	seed(t, srv)
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"composite-sum", []string{"composite", `sum(s("cpu.load", "*"))`, "--start", "-1h"}},
		{"composite-sources", []string{"composite", `s("cpu.load", "web*")`, "--start", "-15m", "--output", "csv"}},
		{"composite-tagged", []string{"composite", `mean(s("api.latency", {"region": "eu"}))`, "--start", "-1h", "--output", "json"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, srv, "", tt.args...)
			require.Equal(t, ExitOK, r.code, r.stderr)
			golden(t, srv, tt.name, r.stdout)
		})
	}
	t.Run("syntax error is a usage error", func(t *testing.T) {
		r := runCLI(t, srv, "", "composite", `sum(s("cpu.load", "*")`)
		assert.Equal(t, ExitUsage, r.code)
		assert.Contains(t, r.stderr, "1:")
	})
}
