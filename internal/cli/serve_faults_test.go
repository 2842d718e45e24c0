package cli

import (
	"flag"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// serveCall sends one request to a running serve with the default credentials
// (auth false: none) and returns the status and body.
func serveCall(t *testing.T, s *serving, method, path, body string, auth bool) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if auth {
		req.SetBasicAuth("test@example.com", "libratotest-token")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

func TestServeFaultFlags(t *testing.T) {
	s := startServe(t, nil, "--addr", "127.0.0.1:0", "--fail-rate", "0.5", "--fail-status", "429", "--retry-after", "3",
		"--fault-method", "POST", "--fault-path", "/v1/measurements")
	post := `{"tags":{"h":"x"},"measurements":[{"name":"f.hits","value":1}]}`
	var statuses []int
	for range 4 {
		code, _ := serveCall(t, s, "POST", "/v1/measurements", post, true)
		statuses = append(statuses, code)
	}
	assert.Equal(t, []int{202, 429, 202, 429}, statuses, "every second POST /v1/measurements")
	code, _ := serveCall(t, s, "GET", "/v1/metrics", "", true)
	assert.Equal(t, 200, code, "other requests are not hit")
	_, body := serveCall(t, s, "GET", faultAdminPath, "", true)
	assert.JSONEq(t, `{"faults":[{"method":"POST","path":"/v1/measurements","status":429,"retry_after":3,"rate":0.5}]}`, body)
	require.NoError(t, s.stop())
	assert.Contains(t, s.stderr.String(), "POST /v1/measurements 429")
}

func TestServeFaultAdmin(t *testing.T) {
	s := startServe(t, nil, "--addr", "127.0.0.1:0")
	code, body := serveCall(t, s, "POST", faultAdminPath, `{"status":503,"count":2,"method":"POST","path":"/v1/measurements"}`, false)
	assert.Equal(t, 401, code, "the admin endpoint needs the server's credentials")
	assert.Contains(t, body, "Authorization Required")

	code, body = serveCall(t, s, "POST", faultAdminPath, `{"status":503,"count":2,"method":"POST","path":"/v1/measurements"}`, true)
	require.Equal(t, 201, code, body)
	assert.JSONEq(t, `{"faults":[{"method":"POST","path":"/v1/measurements","status":503,"count":2}]}`, body)
	post := `{"tags":{"h":"x"},"measurements":[{"name":"f.hits","value":1}]}`
	for range 2 {
		code, body = serveCall(t, s, "POST", "/v1/measurements", post, true)
		assert.Equal(t, 503, code)
		assert.Equal(t, `{"errors":{"system":["injected fault: Service Unavailable"]}}`, body)
	}
	code, _ = serveCall(t, s, "POST", "/v1/measurements", post, true)
	assert.Equal(t, 202, code, "a one-shot fault is used up")
	_, body = serveCall(t, s, "GET", faultAdminPath, "", true)
	assert.JSONEq(t, `{"faults":[]}`, body)

	// A count of one by default; latency as a duration; DELETE clears.
	code, body = serveCall(t, s, "POST", faultAdminPath, `{"latency":"10ms","rate":1}`, true)
	require.Equal(t, 201, code, body)
	code, body = serveCall(t, s, "POST", faultAdminPath, `{"status":403}`, true)
	require.Equal(t, 201, code, body)
	assert.JSONEq(t, `{"faults":[{"latency":"10ms","rate":1},{"status":403,"count":1}]}`, body)
	code, body = serveCall(t, s, "GET", "/v1/metrics", "", true)
	assert.Equal(t, 403, code)
	assert.Contains(t, body, `"error":"You have hit the API limit`)
	code, body = serveCall(t, s, "DELETE", faultAdminPath, "", true)
	assert.Equal(t, 200, code)
	assert.JSONEq(t, `{"faults":[]}`, body)

	// A dropped connection is logged as such.
	code, _ = serveCall(t, s, "POST", faultAdminPath, `{"drop":true,"path":"/v1/alerts"}`, true)
	require.Equal(t, 201, code)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	req, err := http.NewRequest("GET", s.url+"/v1/alerts", nil)
	require.NoError(t, err)
	_, err = client.Do(req)
	require.Error(t, err, "closed without an answer")

	for _, bad := range []struct{ body, want string }{
		{``, "must be a JSON fault"},
		{`{"status":200}`, "not an error status"},
		{`{"status":503,"bogus":1}`, "unknown field"},
		{`{"latency":"soon"}`, "not a duration"},
		{`{"status":503,"drop":true}`, "not both"},
		{`{"status":503,"count":1,"rate":0.5}`, "not both"},
	} {
		code, body = serveCall(t, s, "POST", faultAdminPath, bad.body, true)
		assert.Equal(t, 400, code, bad.body)
		assert.Contains(t, body, bad.want, bad.body)
	}
	code, _ = serveCall(t, s, "PUT", faultAdminPath, "{}", true)
	assert.Equal(t, 405, code)
	require.NoError(t, s.stop())
	assert.Contains(t, s.stderr.String(), "GET /v1/alerts dropped")
}

func TestServeFaultFlagErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--fail-rate", "2"}, "rate within"},
		{[]string{"--fail-rate", "0.5", "--fail-status", "200"}, "not an error status"},
		{[]string{"--retry-after", "3"}, "--retry-after needs --fail-rate"},
		{[]string{"--fail-status", "429"}, "--fail-status needs --fail-rate"},
		{[]string{"--fault-path", "/v1/metrics"}, "need --fail-rate"},
		{[]string{"--drop-rate", "0.1", "--fault-path", "v1/metrics"}, "must start with /"},
		{[]string{"--latency", "-1s"}, "latency"},
	} {
		cmd := &serveCmd{}
		fs := flag.NewFlagSet("serve", flag.ContinueOnError)
		cmd.flags(fs)
		pos, err := parseArgs(fs, tt.args)
		require.NoError(t, err)
		err = cmd.args(pos)
		require.Error(t, err, "%v", tt.args)
		assert.Contains(t, err.Error(), tt.want, "%v", tt.args)
	}
}
