package libratotest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/go-librato/librato/libratotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// storeSeries posts n tagged series of one point each (300 measurements a request) to srv.
func storeSeries(t testing.TB, srv *libratotest.Server, n int) {
	user, token := srv.Credentials()
	for start := 0; start < n; start += 300 {
		var b strings.Builder
		b.WriteString(`{"measurements":[`)
		for i := start; i < min(start+300, n); i++ {
			if i > start {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"name":"app.latency","value":%d,"tags":{"host":"web-%07d","region":"us-east-1"}}`, i, i)
		}
		b.WriteString(`]}`)
		req := httptest.NewRequest(http.MethodPost, "/v1/measurements", strings.NewReader(b.String()))
		req.Header.Set("Content-Type", "application/json")
		req.SetBasicAuth(user, token)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		require.Equal(t, http.StatusAccepted, rec.Code, rec.Body.String())
	}
}

func liveHeap() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// TestMemoryPerSeries measures the live heap a stored series costs: n tagged series of one point
// each (two tags, as the load had), after a full GC.
func TestMemoryPerSeries(t *testing.T) {
	if testing.Short() {
		t.Skip("stores 100,000 series")
	}
	const n = 100_000
	before := liveHeap()
	srv := libratotest.NewUnstartedServer(libratotest.WithRequestLog(0))
	storeSeries(t, srv, n)
	after := liveHeap()
	perSeries := float64(after-before) / n
	t.Logf("%d series: %.0f bytes of live heap per series", n, perSeries)
	assert.Less(t, perSeries, 400.0, "bytes of live heap per series")
	require.Len(t, srv.Measurements("app.latency"), n)
	runtime.KeepAlive(srv)
}

// BenchmarkReadOneSeriesOfMany reads one tagged series by tag out of 100,000: the cost of
// matching every series' tags.
func BenchmarkReadOneSeriesOfMany(b *testing.B) {
	srv := libratotest.NewUnstartedServer(libratotest.WithRequestLog(0))
	storeSeries(b, srv, 100_000)
	user, token := srv.Credentials()
	b.ResetTimer()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodGet, "/v1/measurements/app.latency?resolution=1&duration=3600&tags[host]=web-0000042", nil)
		req.SetBasicAuth(user, token)
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), "web-0000042") {
			b.Fatal(rec.Code, rec.Body.String())
		}
	}
}
