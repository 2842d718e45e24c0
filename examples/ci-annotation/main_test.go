package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
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

func TestCIAnnotationArgs(t *testing.T) {
	var errOut bytes.Buffer
	_, code := parseArgs([]string{"-h"}, &errOut)
	assert.Equal(t, 0, code)
	assert.Contains(t, errOut.String(), "usage: ci-annotation [-- COMMAND ARGS...]")
	cmd, code := parseArgs([]string{"--", "make", "-j4", "test"}, &errOut)
	assert.Equal(t, -1, code)
	assert.Equal(t, []string{"make", "-j4", "test"}, cmd)
	cmd, code = parseArgs(nil, &errOut)
	assert.Equal(t, -1, code)
	assert.Empty(t, cmd)
	errOut.Reset()
	_, code = parseArgs([]string{"make", "test"}, &errOut)
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut.String(), `unexpected argument "make": put the command to wrap after --`)
	_, code = parseArgs([]string{"--nope"}, &errOut)
	assert.Equal(t, 2, code)
}

// TestCIAnnotationBuiltExitsWithTheCommandsStatus builds the example and runs it, as a CI step
// would: its exit status is the wrapped command's.
func TestCIAnnotationBuiltExitsWithTheCommandsStatus(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("needs a POSIX shell")
	}
	bin := filepath.Join(t.TempDir(), "ci-annotation")
	build := exec.Command("go", "build", "-o", bin, ".")
	out, err := build.CombinedOutput()
	require.NoError(t, err, string(out))
	cmd := exec.Command(bin, "--", "sh", "-c", "exit 3")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	err = cmd.Run()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr)
	assert.Equal(t, 3, exitErr.ExitCode())
}
