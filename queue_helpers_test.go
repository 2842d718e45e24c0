package librato

import (
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// fakeAPI is an in-process http.RoundTripper standing in for the API in queue and aggregator
// tests: it records every request and answers through handle (200 with an empty body when nil).
// Being a RoundTripper and not a listener, it also works inside a testing/synctest bubble.
type fakeAPI struct {
	mu     sync.Mutex
	reqs   []fakeRequest
	handle func(r fakeRequest) (status int, body string)
	// hang makes every request wait until it is cancelled, like a server that never answers.
	hang bool
}

type fakeRequest struct {
	Method, Path string
	Body         []byte
}

func (f *fakeAPI) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body.Close()
	}
	req := fakeRequest{Method: r.Method, Path: r.URL.Path, Body: body}
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	handle, hang := f.handle, f.hang
	f.mu.Unlock()
	if hang {
		<-r.Context().Done()
		return nil, r.Context().Err()
	}
	status, text := http.StatusOK, ""
	if handle != nil {
		status, text = handle(req)
	}
	h := http.Header{}
	if strings.HasPrefix(text, "{") {
		h.Set("Content-Type", "application/json")
	}
	return &http.Response{StatusCode: status, Header: h, Body: io.NopCloser(strings.NewReader(text)),
		ContentLength: int64(len(text)), Request: r}, nil
}

func (f *fakeAPI) requests() []fakeRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeRequest(nil), f.reqs...)
}

// fakeNow is the clock of test clients: TV8's measure time plus a little.
var fakeNow = time.Unix(1418838418+5, 0)

// newFakeClient returns a client sending to f, without retries, with its clock at now.
func newFakeClient(t testing.TB, f *fakeAPI, now time.Time, opts ...Option) *Client {
	t.Helper()
	opts = append([]Option{
		WithBaseURL("http://api.test/v1/"),
		WithHTTPClient(&http.Client{Transport: f}),
		WithRetry(RetryPolicy{MaxAttempts: 1}),
	}, opts...)
	c, err := Connect("test@example.com", "secret-token", opts...)
	require.NoError(t, err)
	c.now = func() time.Time { return now }
	return c
}

// wireBody is a decoded POST body of either API.
type wireBody struct {
	Gauges       []map[string]any `json:"gauges"`
	Counters     []map[string]any `json:"counters"`
	Measurements []map[string]any `json:"measurements"`
}

// decodeBody decodes a request body as the API reads it (see effectiveJSON).
func decodeBody(t testing.TB, b []byte) wireBody {
	t.Helper()
	var w wireBody
	require.NoError(t, json.Unmarshal([]byte(effectiveJSON(t, b)), &w), "body: %s", b)
	return w
}

// effectiveJSON is a POST metrics or POST measurements body as the API applies it: the top-level
// "time" (or "measure_time") is the time of every measurement that has none of its own, so it is
// moved into them. Goldens hold each measurement's time; the encoder writes a chunk's time once.
func effectiveJSON(t testing.TB, b []byte) string {
	t.Helper()
	var body map[string]any
	require.NoError(t, json.Unmarshal(b, &body), "body: %s", b)
	for _, key := range []string{"time", "measure_time"} {
		top, ok := body[key]
		if !ok {
			continue
		}
		delete(body, key)
		for _, list := range []string{"gauges", "counters", "measurements"} {
			ms, _ := body[list].([]any)
			for _, m := range ms {
				if obj, ok := m.(map[string]any); ok {
					if _, own := obj[key]; !own {
						obj[key] = top
					}
				}
			}
		}
	}
	out, err := json.Marshal(body)
	require.NoError(t, err)
	return string(out)
}

// count is the number of measurements in a body.
func (w wireBody) count() int { return len(w.Gauges) + len(w.Counters) + len(w.Measurements) }

// all returns every measurement object of a body.
func (w wireBody) all() []map[string]any {
	out := append([]map[string]any(nil), w.Gauges...)
	out = append(out, w.Counters...)
	return append(out, w.Measurements...)
}

func queueNaN() float64 { return math.NaN() }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// newQueue is c.NewQueue, failing the test on an error.
func newQueue(tb testing.TB, c *Client, opts QueueOptions) *Queue {
	tb.Helper()
	q, err := c.NewQueue(opts)
	if err != nil {
		tb.Fatal(err)
	}
	return q
}

// newAggregator is c.NewAggregator, failing the test on an error.
func newAggregator(tb testing.TB, c *Client, opts AggregatorOptions) *Aggregator {
	tb.Helper()
	a, err := c.NewAggregator(opts)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}
