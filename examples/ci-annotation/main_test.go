package main

import (
	"bytes"
	"context"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCIAnnotationSimulated(t *testing.T) {
	var out bytes.Buffer
	env := map[string]string{"BUILD_ID": "42", "GIT_COMMIT": "abc123"}
	code, err := run(context.Background(), &out, func(k string) string { return env[k] }, nil)
	require.NoError(t, err)
	assert.Equal(t, 0, code, "the simulated failure is part of the demo")
	s := out.String()
	assert.Contains(t, s, `step "compile" succeeded`)
	assert.Contains(t, s, `step "integration tests" failed: 3 of 120 tests failed`)
	assert.Contains(t, s, "#1 build 42: compile [laptop, ")
	assert.Contains(t, s, "#2 build 42: integration tests [laptop, ")
	assert.Contains(t, s, "     commit abc123\n     failed: 3 of 120 tests failed\n")
}

func TestCIAnnotationWrapsCommand(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("needs a POSIX shell")
	}
	var out bytes.Buffer
	code, err := run(context.Background(), &out, func(string) string { return "" }, []string{"sh", "-c", "echo hi; exit 3"})
	require.NoError(t, err)
	assert.Equal(t, 3, code)
	assert.Contains(t, out.String(), "hi\n")
	assert.Contains(t, out.String(), "failed: exit status 3")
}
