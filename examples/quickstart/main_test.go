package main

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-librato/librato/libratotest"
)

func TestQuickstartEmbedded(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	require.NoError(t, run(ctx, &out, func(string) string { return "" }))
	s := out.String()
	assert.Contains(t, s, "using an in-process fake Librato API")
	assert.Contains(t, s, "Submitted 11 gauge and counter measurements.")
	assert.Contains(t, s, "Submitted 4 tagged measurements, tagged region=eu or region=us, and service=api.")
	assert.Regexp(t, `quickstart.temperature\s+cellar\s+17 17.5 18 18.5 19\n`, s)
	assert.Regexp(t, `quickstart.latency\s+region=eu,service=api\s+80 110\n`, s)
	assert.Contains(t, s, "unassigned is the source the API gives a measurement sent without one")
	assert.Contains(t, s, "go run ./cmd/librato serve &")
	assert.Contains(t, s, "ErrNotFound, as expected")
}

// TestQuickstartWithCredentials takes the real-API path, pointed at a fake through LIBRATO_URL.
func TestQuickstartWithCredentials(t *testing.T) {
	srv := libratotest.NewServer(libratotest.WithCredentials("me@example.com", "tok-123456"))
	defer srv.Close()
	env := map[string]string{"LIBRATO_USER": "me@example.com", "LIBRATO_TOKEN": "tok-123456", "LIBRATO_URL": srv.URL}
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, func(k string) string { return env[k] }))
	assert.Contains(t, out.String(), "Using the Librato API as me@example.com.")
	assert.NotContains(t, out.String(), "tok-123456")
	assert.Len(t, srv.Measurements("quickstart.temperature"), 10)

	env["LIBRATO_TOKEN"] = "wrong-token"
	err := run(context.Background(), &out, func(k string) string { return env[k] })
	require.Error(t, err)
	assert.Contains(t, err.Error(), "cannot reach the API")
}
