package exampleenv

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func env(kv map[string]string) func(string) string { return func(k string) string { return kv[k] } }

func TestConnectWithoutCredentialsStartsAFake(t *testing.T) {
	for name, kv := range map[string]map[string]string{
		"nothing set":     {},
		"user only":       {"LIBRATO_USER": "u@example.com"},
		"token only":      {"LIBRATO_TOKEN": "tok"},
		"URL without any": {"LIBRATO_URL": "http://127.0.0.1:1"},
	} {
		t.Run(name, func(t *testing.T) {
			c, fake, err := Connect(env(kv))
			require.NoError(t, err)
			require.NotNil(t, fake)
			defer fake.Close()
			assert.NoError(t, c.Ping(t.Context()), "the client talks to the fake")
		})
	}
}

func TestConnectWithCredentialsUsesTheRealAPIOrLIBRATO_URL(t *testing.T) {
	// Point LIBRATO_URL at a fake with the same credentials: a bare address gets /v1/ added.
	_, fake, err := Connect(env(nil))
	require.NoError(t, err)
	defer fake.Close()
	user, token := fake.Credentials()
	for _, u := range []string{fake.URL, fake.URL + "/v1/"} {
		c, other, err := Connect(env(map[string]string{"LIBRATO_USER": user, "LIBRATO_TOKEN": token, "LIBRATO_URL": u}))
		require.NoError(t, err, u)
		assert.Nil(t, other, "no fake is started with credentials")
		assert.NoError(t, c.Ping(t.Context()), u)
	}
	_, other, err := Connect(env(map[string]string{"LIBRATO_USER": user, "LIBRATO_TOKEN": token}))
	require.NoError(t, err)
	assert.Nil(t, other)
}
