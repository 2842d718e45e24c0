package libratotest_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-librato/librato/libratotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// try sends one authenticated request from any goroutine and returns its
// status (0 on a transport error, which the caller reports).
func try(srv *libratotest.Server, method, path, body string) (int, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", jsonType)
	req.SetBasicAuth(libratotest.DefaultUser, libratotest.DefaultToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, err = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, err
}

// TestConcurrentUse runs writers, readers, helpers and snapshots at once; it
// is meant for -race, and checks that no point is lost.
func TestConcurrentUse(t *testing.T) {
	srv := newServer(t)
	const workers, posts = 8, 20
	ts := time.Now().Unix()
	resp, _ := call(t, srv, "PUT", "/v1/metrics/c", jsonType, `{"type":"gauge"}`)
	require.Equal(t, 201, resp.StatusCode)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range posts {
				for _, r := range []struct {
					method, path, body string
					want               int
				}{
					{"POST", "/v1/measurements", fmt.Sprintf(`{"measurements":[{"name":"c","value":%d,"time":%d,"tags":{"w":"x"}}]}`, i, ts), 202},
					{"PUT", "/v1/metrics/c", fmt.Sprintf(`{"attributes":{"w%d":%d}}`, w, i), 204},
					{"GET", "/v1/metrics", "", 200},
					{"GET", "/v1/metrics/c", "", 200},
					{"GET", "/v1/measurements/c?duration=60&resolution=60", "", 200},
				} {
					status, err := try(srv, r.method, r.path, r.body)
					assert.NoError(t, err)
					assert.Equal(t, r.want, status, "%s %s", r.method, r.path)
				}
				_, err := srv.Snapshot()
				assert.NoError(t, err)
				srv.Measurements("c")
				srv.Requests()
			}
		})
	}
	wg.Wait()
	pts := srv.Measurements("c")
	require.Len(t, pts, 1)
	assert.Equal(t, int64(workers*posts), pts[0].Count)
	m, _ := srv.Metric("c")
	assert.Len(t, m.Attributes, workers+1, "one attribute per worker plus created_by_ua")
}

// BenchmarkPostTagged measures the fake's handling of a 300-measurement
// tagged POST (decode, validate, store), without the network.
func BenchmarkPostTagged(b *testing.B) {
	srv := libratotest.NewUnstartedServer(libratotest.WithRequestLog(0))
	var ms []string
	ts := time.Now().Unix()
	for i := range 300 {
		ms = append(ms, fmt.Sprintf(`{"name":"m%d","value":%d,"time":%d,"tags":{"host":"h%d","region":"us-east"}}`, i%30, i, ts, i%10))
	}
	body := `{"measurements":[` + strings.Join(ms, ",") + `]}`
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		req := httptest.NewRequest("POST", "/v1/measurements", strings.NewReader(body))
		req.Header.Set("Content-Type", jsonType)
		req.SetBasicAuth(libratotest.DefaultUser, libratotest.DefaultToken)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusAccepted {
			b.Fatal(rec.Code, rec.Body.String())
		}
	}
}
