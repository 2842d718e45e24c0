package main

import (
	"bytes"
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCustomHTTPClient(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(context.Background(), &out, func(string) string { return "" }))
	s := out.String()
	assert.Contains(t, s, "http #1 GET /v1/metrics -> 503")
	assert.Contains(t, s, "http #2 GET /v1/metrics -> 200")
	assert.Contains(t, s, "http #3 POST /v1/metrics -> 200")
	assert.Contains(t, s, "metric example.custom_client.runs (gauge) exists; 4 HTTP attempts in all")
	assert.NotContains(t, s, "Authorization")
	assert.NotContains(t, s, "libratotest-token")
}
