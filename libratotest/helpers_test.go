package libratotest_test

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-librato/librato/libratotest"
	"github.com/stretchr/testify/require"
)

// tv4Now is a clock near the reference vectors' times (TV4, TV5).
var tv4Now = time.Unix(1481637700, 0)

// newServer starts a server closed at the end of the test.
func newServer(t *testing.T, opts ...libratotest.Option) *libratotest.Server {
	t.Helper()
	srv := libratotest.NewServer(opts...)
	t.Cleanup(srv.Close)
	return srv
}

// call sends one authenticated request and returns the response and body.
func call(t *testing.T, srv *libratotest.Server, method, path, contentType, body string) (*http.Response, string) {
	t.Helper()
	user, token := srv.Credentials()
	if srv.AppOptics() {
		user, token = token, ""
	}
	return callAs(t, srv, method, path, contentType, body, func(r *http.Request) { r.SetBasicAuth(user, token) })
}

// callAs sends one request prepared by auth (nil: no credentials).
func callAs(t *testing.T, srv *libratotest.Server, method, path, contentType, body string, auth func(*http.Request)) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	u := path
	if !strings.HasPrefix(u, "http") {
		u = srv.URL + path
	}
	req, err := http.NewRequest(method, u, rd)
	require.NoError(t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if auth != nil {
		auth(req)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

// fixture reads testdata/name.
func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return string(b)
}

// decode decodes a JSON body into a generic value.
func decode(t *testing.T, body string) map[string]any {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &v), body)
	return v
}

const jsonType = "application/json"
const formType = "application/x-www-form-urlencoded"

// gzipWriter compresses into w.
func gzipWriter(w io.Writer) *gzip.Writer { return gzip.NewWriter(w) }
