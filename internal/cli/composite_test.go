package cli

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/composite"
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

// TestGetPersistedComposite: get on a composite metric evaluates its expression.
func TestGetPersistedComposite(t *testing.T) {
	srv := newFake(t)
	seed(t, srv)
	cl, err := srv.Client()
	require.NoError(t, err)
	expr, err := composite.Parse(`sum(s("cpu.load", "*"))`)
	require.NoError(t, err)
	require.NoError(t, cl.Metrics.CreateComposite(context.Background(), "cpu.total", expr, librato.MetricUpdate{}))
	r := runCLI(t, srv, "", "get", "cpu.total", "--start", "-1h", "--output", "csv")
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "2026-01-15T11:50:00Z,1768477800,10\n")
	assert.Contains(t, r.stdout, "2026-01-15T11:59:00Z,1768478340,5\n")
}
