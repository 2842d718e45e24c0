package librato

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/h2non/gock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Wire-test helpers for the metric read/update/delete calls. gock intercepts the client's
// http.Client; every exchange is matched on method and exact escaped path, and recorded with its raw
// query and body so tests can compare them byte for byte.

const mtHost = "https://metrics-api.librato.com"

// mtCall is one request as it reached the wire.
type mtCall struct {
	Method      string
	Path        string // escaped
	Query       string // raw
	Body        []byte
	ContentType string
	Auth        string
}

type mtWire struct {
	t     *testing.T
	c     *Client
	mu    sync.Mutex
	calls []mtCall
}

// newMTWire returns a client whose requests go to gock, without retries.
func newMTWire(t *testing.T, opts ...Option) *mtWire {
	t.Helper()
	hc := gockHTTPClient(t)
	w := &mtWire{t: t}
	t.Cleanup(func() { assert.True(t, gock.IsDone(), "armed exchanges were not all used") })
	all := append([]Option{WithHTTPClient(hc), WithRetry(RetryPolicy{MaxAttempts: 1})}, opts...)
	c, err := Connect("user@example.com", "token", all...)
	require.NoError(t, err)
	w.c = c
	return w
}

// expect arms one exchange: method and escaped path (with the /v1 prefix) must match exactly; the
// reply has status, the given headers (key, value pairs) and body, which is a file name under
// testdata/metrics when it ends in .json and literal JSON otherwise.
func (w *mtWire) expect(method, path string, status int, body string, hdr ...string) {
	w.t.Helper()
	if strings.HasSuffix(body, ".json") {
		body = mtFixture(w.t, body)
	}
	req := gock.New(mtHost).AddMatcher(func(r *http.Request, _ *gock.Request) (bool, error) {
		if r.Method != method || r.URL.EscapedPath() != path {
			return false, nil
		}
		var b []byte
		if r.Body != nil {
			b, _ = io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		w.mu.Lock()
		w.calls = append(w.calls, mtCall{Method: r.Method, Path: r.URL.EscapedPath(), Query: r.URL.RawQuery,
			Body: b, ContentType: r.Header.Get("Content-Type"), Auth: r.Header.Get("Authorization")})
		w.mu.Unlock()
		return true, nil
	})
	resp := req.Reply(status)
	if body != "" {
		resp.SetHeader("Content-Type", "application/json").BodyString(body)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		resp.SetHeader(hdr[i], hdr[i+1])
	}
}

// sent returns the recorded requests.
func (w *mtWire) sent() []mtCall {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]mtCall(nil), w.calls...)
}

// only returns the single recorded request.
func (w *mtWire) only() mtCall {
	w.t.Helper()
	calls := w.sent()
	require.Len(w.t, calls, 1)
	return calls[0]
}

func mtFixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "metrics", name))
	require.NoError(t, err)
	return string(b)
}

var mtCtx = context.Background()
