package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestServiceRunsAndFlushesAtShutdown(t *testing.T) {
	var out bytes.Buffer
	cfg := config{addr: "127.0.0.1:0", requests: 40, duration: 10 * time.Second, flush: 50 * time.Millisecond}
	require.NoError(t, run(context.Background(), &out, func(string) string { return "" }, cfg))
	s := out.String()
	assert.Contains(t, s, "served 40 synthetic requests; shutting down")
	assert.Contains(t, s, "0 dropped")
	// Every request was recorded and delivered, whichever flush carried it.
	total := 0
	for _, m := range regexp.MustCompile(`(\d+) requests, mean`).FindAllStringSubmatch(s, -1) {
		n, err := strconv.Atoi(m[1])
		require.NoError(t, err)
		total += n
	}
	assert.Equal(t, 40, total, s)
	assert.Contains(t, s, "route=other status=4xx")
}

// TestServiceStopsOnCancel: with no synthetic load it serves until its context ends (SIGINT).
func TestServiceStopsOnCancel(t *testing.T) {
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	cfg := config{addr: "127.0.0.1:0", requests: 0, duration: time.Minute, flush: 50 * time.Millisecond}
	start := time.Now()
	require.NoError(t, run(ctx, &out, func(string) string { return "" }, cfg))
	assert.Less(t, time.Since(start), 5*time.Second)
	assert.Contains(t, out.String(), "served 0 synthetic requests")
}
