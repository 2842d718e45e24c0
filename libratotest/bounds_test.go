package libratotest_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/go-librato/librato/libratotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// bodyMeter wraps a handler and measures how much of the request bodies it read: in total, and
// at most at once across the requests in progress.
type bodyMeter struct {
	h               http.Handler
	total, inFlight atomic.Int64
	mu              sync.Mutex
	peak            int64
}

type meteredBody struct {
	io.ReadCloser
	m    *bodyMeter
	read int64
}

func (b *meteredBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.read += int64(n)
	b.m.total.Add(int64(n))
	now := b.m.inFlight.Add(int64(n))
	b.m.mu.Lock()
	b.m.peak = max(b.m.peak, now)
	b.m.mu.Unlock()
	return n, err
}

func (m *bodyMeter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	mb := &meteredBody{ReadCloser: r.Body, m: m}
	r.Body = mb
	m.h.ServeHTTP(w, r)
	m.inFlight.Add(-mb.read) // the handler is done with what it read
}

// zeros is an endless body of spaces (valid JSON whitespace) that costs the client nothing.
type zeros struct{ left int64 }

func (z *zeros) Read(p []byte) (int, error) {
	if z.left <= 0 {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), z.left))
	for i := range p[:n] {
		p[i] = ' '
	}
	z.left -= int64(n)
	return n, nil
}

func post(t *testing.T, url string, size int64, auth func(*http.Request)) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/v1/metrics", &zeros{left: size})
	require.NoError(t, err)
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/json")
	if auth != nil {
		auth(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0 // the server may close the connection while a refused body is still being sent
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestBodiesAreBounded: credentials are checked before a body is read, a declared length over
// the limit is refused at once, and the bodies held at once across concurrent requests stay
// within MaxBodyBytesInFlight.
func TestBodiesAreBounded(t *testing.T) {
	srv := libratotest.NewHandler(libratotest.WithRequestLog(0))
	meter := &bodyMeter{h: srv}
	ts := httptest.NewServer(meter)
	defer ts.Close()
	user, token := srv.Credentials()
	auth := func(r *http.Request) { r.SetBasicAuth(user, token) }

	t.Run("unauthenticated 40 MiB POSTs are refused unread", func(t *testing.T) {
		meter.total.Store(0)
		var wg sync.WaitGroup
		codes := make([]int, 8)
		for i := range codes {
			wg.Go(func() { codes[i] = post(t, ts.URL, 40<<20, nil) })
		}
		wg.Wait()
		for _, c := range codes {
			if c != 0 {
				assert.Equal(t, http.StatusUnauthorized, c)
			}
		}
		assert.Zero(t, meter.total.Load(), "no byte of an unauthenticated body is read")
	})
	t.Run("a declared length over the limit is a 413 before reading", func(t *testing.T) {
		meter.total.Store(0)
		assert.Equal(t, http.StatusRequestEntityTooLarge, post(t, ts.URL, 40<<20, auth))
		assert.Zero(t, meter.total.Load())
	})
	t.Run("concurrent large bodies wait for room", func(t *testing.T) {
		meter.total.Store(0)
		const size = 30 << 20
		var wg sync.WaitGroup
		codes := make([]int, 6)
		for i := range codes {
			wg.Go(func() { codes[i] = post(t, ts.URL, size, auth) })
		}
		wg.Wait()
		for _, c := range codes {
			assert.Equal(t, http.StatusBadRequest, c, "a body of spaces is not a payload, but it was read: "+strconv.Itoa(c))
		}
		assert.Equal(t, int64(len(codes))*size, meter.total.Load(), "every body was read in full")
		meter.mu.Lock()
		peak := meter.peak
		meter.mu.Unlock()
		assert.LessOrEqual(t, peak, int64(libratotest.MaxBodyBytesInFlight),
			"bodies held at once: %d MiB", peak>>20)
		t.Logf("6 concurrent 30 MiB bodies: at most %d MiB held at once (limit %d MiB)", peak>>20, libratotest.MaxBodyBytesInFlight>>20)
	})
	assert.True(t, strings.HasPrefix(ts.URL, "http://127.0.0.1:"))
}
