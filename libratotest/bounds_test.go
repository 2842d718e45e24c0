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
	srv := libratotest.NewUnstartedServer(libratotest.WithRequestLog(0))
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

// TestMaxSeries: past the limit, a POST that would create a series is refused as a whole with
// the API's kind of 400; points of existing series still go in, legacy and tagged alike.
func TestMaxSeries(t *testing.T) {
	srv := newServer(t, libratotest.WithMaxSeries(3), libratotest.WithMaxAge(0))
	resp, body := call(t, srv, "POST", "/v1/measurements", jsonType,
		`{"measurements":[{"name":"a","value":1,"tags":{"h":"1"}},{"name":"a","value":2,"tags":{"h":"2"}}]}`)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, body)

	// One existing series and two new ones: the second new one is over the limit.
	resp, body = call(t, srv, "POST", "/v1/measurements", jsonType,
		`{"measurements":[{"name":"a","value":3,"tags":{"h":"1"}},{"name":"a","value":4,"tags":{"h":"3"}},{"name":"a","value":5,"tags":{"h":"4"}}]}`)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, body, `"params":{"series":["would exceed the limit of 3 series"]}`)
	assert.Len(t, srv.Measurements("a"), 2, "nothing of a refused POST is stored")

	resp, body = call(t, srv, "POST", "/v1/metrics", jsonType, `{"gauges":[{"name":"b","value":1,"source":"x"}]}`)
	require.Equal(t, http.StatusOK, resp.StatusCode, body, "the third series fits")
	resp, body = call(t, srv, "POST", "/v1/metrics", jsonType, `{"gauges":[{"name":"b","value":1,"source":"y"}]}`)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, body)
	assert.Contains(t, body, "would exceed the limit of 3 series")

	resp, body = call(t, srv, "POST", "/v1/measurements", jsonType,
		`{"measurements":[{"name":"a","value":6,"tags":{"h":"1"}},{"name":"a","value":7,"tags":{"h":"2"}}]}`)
	assert.Equal(t, http.StatusAccepted, resp.StatusCode, body, "existing series take points at the limit")
	resp, body = call(t, srv, "POST", "/v1/metrics", jsonType, `{"gauges":[{"name":"b","value":2,"source":"x"}]}`)
	assert.Equal(t, http.StatusOK, resp.StatusCode, body)
}
