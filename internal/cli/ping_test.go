package cli

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPing(t *testing.T) {
	srv := newFake(t)

	r := runCLI(t, srv, "", "ping")
	assert.Equal(t, ExitOK, r.code, r.stderr)
	assert.Regexp(t, `^ok: `+srv.URL+`/v1/ answered in [0-9.]+m?s and accepted the credentials\n$`, r.stdout)

	r = runCLIEnv(t, srv, "", map[string]string{"LIBRATO_TOKEN": "wrong"}, "ping")
	assert.Equal(t, ExitCredentials, r.code, r.stderr)
	assert.Contains(t, r.stderr, "[401]")
	assert.Contains(t, r.stderr, "They come from --user and --token, or from LIBRATO_USER and\nLIBRATO_TOKEN")

	// Nothing listens on a port that was just closed.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	r = runCLIEnv(t, srv, "", map[string]string{"LIBRATO_URL": "http://" + addr}, "ping")
	assert.Equal(t, ExitError, r.code, r.stderr)
	assert.Contains(t, r.stderr, "librato ping: the API was not reached or failed: ")
	assert.Contains(t, r.stderr, "connection refused")

	r = runCLI(t, srv, "", "ping", "extra")
	assert.Equal(t, ExitUsage, r.code)
}

func TestUnauthorizedNamesWhereCredentialsComeFrom(t *testing.T) {
	srv := newFake(t)
	r := runCLIEnv(t, srv, "", map[string]string{"LIBRATO_TOKEN": "wrong"}, "list")
	assert.Equal(t, ExitError, r.code)
	assert.Contains(t, r.stderr, credentialsHint)
}

func TestResolutionTakesDurations(t *testing.T) {
	for in, want := range map[string]int{"60": 60, "5m": 300, "1h": 3600, "90s": 90} {
		var f resolutionFlag
		require.NoError(t, f.Set(in), in)
		assert.Equal(t, want, int(f), in)
	}
	for _, bad := range []string{"1.5s", "soon", "1ms"} {
		var f resolutionFlag
		assert.Error(t, f.Set(bad), bad)
	}
	srv := newFake(t)
	r := runCLI(t, srv, "", "get", "cpu", "--resolution", "5x")
	assert.Equal(t, ExitUsage, r.code)
	assert.Contains(t, r.stderr, `"5x" is neither seconds nor a duration such as 5m`)
}

func TestTLSFlags(t *testing.T) {
	srv := newFake(t)
	r := runCLI(t, srv, "", "ping", "--cert", "c.pem")
	assert.Equal(t, ExitUsage, r.code)
	assert.Contains(t, r.stderr, "--cert and --key go together")
	r = runCLI(t, srv, "", "ping", "--ca", "/does/not/exist.pem")
	assert.Equal(t, ExitUsage, r.code)
	assert.Contains(t, r.stderr, "exist.pem")
}
