package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestOtelExampleAgainstTheFake(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, func(string) string { return "" }))
	s := out.String()
	assert.Contains(t, s, "exporting to an in-process fake API")
	assert.Contains(t, s, "0 dropped")
	assert.Contains(t, s, "  orders.placed\n")
	assert.Contains(t, s, "  http.server.request.duration\n")
	assert.Contains(t, s, "  go.goroutine.count\n")
	assert.Contains(t, s, "orders.placed adds up to 20 over its regions")
}
