package librato

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/h2non/gock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// submitNow is the clock of the Submit tests: zero times are stamped with it.
var submitNow = time.Unix(1600000000, 0)

// gockClient returns a client whose requests go to gock only: with no matching mock a request
// fails and is recorded as unmatched, so "nothing was sent" is checkable. Retries are off.
func gockClient(t *testing.T, appOptics bool, opts ...Option) *Client {
	t.Helper()
	gock.Intercept()
	hc := gockHTTPClient(t)
	opts = append([]Option{WithHTTPClient(hc), WithRetry(RetryPolicy{MaxAttempts: 1})}, opts...)
	var c *Client
	var err error
	if appOptics {
		c, err = ConnectAppOptics(testToken, opts...)
	} else {
		c, err = Connect("user@example.com", testToken, opts...)
	}
	require.NoError(t, err)
	c.now = func() time.Time { return submitNow }
	return c
}

// assertAllMatched checks that every mock was used and no request went unmatched.
func assertAllMatched(t *testing.T) {
	t.Helper()
	assert.True(t, gock.IsDone(), "pending mocks: %d", len(gock.Pending()))
	assert.False(t, gock.HasUnmatchedRequest(), "unexpected requests: %d", len(gock.GetUnmatchedRequests()))
}

type wirePost struct {
	Path string          `json:"path"`
	Body json.RawMessage `json:"body"`
}

func loadPosts(t *testing.T, name string) []wirePost {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "submit", name))
	require.NoError(t, err)
	var posts []wirePost
	require.NoError(t, json.Unmarshal(raw, &posts))
	require.NotEmpty(t, posts)
	return posts
}

// mockPosts expects the fixture's POSTs, in order, each with a semantically equal JSON body.
func mockPosts(t *testing.T, host string, posts []wirePost) {
	for _, p := range posts {
		want, err := json.Marshal(p.Body)
		require.NoError(t, err)
		gock.New(host).Post(p.Path).
			MatchType("json").
			MatchHeader("Authorization", "^Basic ").
			AddMatcher(func(r *http.Request, _ *gock.Request) (bool, error) {
				got, err := io.ReadAll(r.Body)
				if err != nil {
					return false, err
				}
				r.Body = io.NopCloser(bytes.NewReader(got))
				var a, b any
				if json.Unmarshal(want, &a) != nil || json.Unmarshal([]byte(EffectiveJSON(t, got)), &b) != nil {
					return false, nil
				}
				return reflect.DeepEqual(a, b), nil
			}).
			Reply(http.StatusOK)
	}
}

func TestSubmitWire(t *testing.T) {
	t1 := time.Unix(1481637660, 0)
	t2 := time.Unix(1481637540, 0)
	floored := time.Unix(1418838360, 0)
	clientTags := WithTags(map[string]string{"region": "us-west", "name": "web-prod-3"})
	for _, tc := range []struct {
		fixture   string
		appOptics bool
		opts      []Option
		ms        []Measurement
	}{
		{fixture: "tv6_gauge.json", ms: []Measurement{{Name: "temperature", Value: 80}}},
		{fixture: "tv6_counter.json", ms: []Measurement{{Name: "conn", Value: 5, Type: Counter, Source: "web1", Time: time.Unix(1500000000, 0)}}},
		{fixture: "tv4_sources.json", ms: []Measurement{
			{Name: "my.metric", Value: 42, Source: "my.app", Time: t1},
			{Name: "my.other.metric", Value: 43, Source: "my.app", Time: t1},
			{Name: "cpu", Value: 88.4, Source: "my.machine", Time: t2},
		}},
		{fixture: "tv6_tagged.json", ms: []Measurement{{Name: "temperature", Value: 80, Tags: map[string]string{"city": "sf"}}}},
		{fixture: "tv6_inherit.json", opts: []Option{WithTags(map[string]string{"company": "librato"})},
			ms: []Measurement{{Name: "temperature", Value: 80, Tags: map[string]string{"city": "sf"}}}},
		{fixture: "tv1_client_tags.json", opts: []Option{clientTags},
			ms: []Measurement{{Name: "cpu", Value: 4.5}, {Name: "memory", Value: 10.5}}},
		{fixture: "tv2_merge.json", opts: []Option{clientTags}, ms: []Measurement{
			{Name: "cpu", Value: 4.5, Tags: map[string]string{"name": "web-prod-1"}},
			{Name: "memory", Value: 34.5, Tags: map[string]string{"az": "e", "db": "db-prod-1"}},
		}},
		{fixture: "tv3_summary.json", ms: []Measurement{{Name: "cpu", Time: time.Unix(1421530163, 0), Period: time.Minute,
			Attributes: map[string]any{"aggregate": false},
			Summary:    &Summary{Count: 3, Sum: 35, Min: 4.5, Max: 6.7, Last: Float(2.5)},
			Tags:       map[string]string{"region": "us-east-1", "az": "b", "role": "kafka", "environment": "prod", "instance": "3"},
		}}},
		{fixture: "tv8_legacy_summary.json", ms: []Measurement{
			{Name: "foo", Source: "mysource", Time: floored, Summary: &Summary{Count: 2, Sum: 85, Min: 42, Max: 43, SumSquares: Float(3613), Last: Float(43)}},
			{Name: "bar", Source: "mysource", Time: floored, Summary: &Summary{Count: 1, Sum: 1, Min: 1, Max: 1}},
		}},
		{fixture: "zero.json", ms: []Measurement{
			{Name: "queue.depth", Value: 0},
			{Name: "queue.depth", Value: 0, Tags: map[string]string{"host": "h1"}},
			{Name: "errors", Value: 0, Type: Counter},
			{Name: "empty", Summary: &Summary{Count: 1}},
			// Count without an explicit Sum still sends "sum": 0, never count alone.
			{Name: "empty", Summary: &Summary{Count: 2, Last: Float(0)}, Tags: map[string]string{"host": "h1"}},
		}},
		{fixture: "tv7_mixed.json", ms: []Measurement{
			{Name: "temperature", Value: 22.1, Source: "a"},
			{Name: "visits", Value: 3, Type: Counter},
			{Name: "temperature", Value: 22.1, Tags: map[string]string{"location": "downstairs"}},
		}},
		{fixture: "properties.json", ms: []Measurement{{Name: "queue_len", Value: 7, Period: time.Minute,
			Description: "Length of app queue", DisplayName: "num. elements",
			Attributes: map[string]any{"display_units_short": "reqs", "display_min": 0}}}},
		{fixture: "sanitized.json", opts: []Option{WithSanitizer(SanitizeMetricName)},
			ms: []Measurement{{Name: "  bat$$m#an", Value: 1}}},
		{fixture: "appoptics.json", appOptics: true, ms: []Measurement{{Name: "cpu", Value: 1.5}}},
	} {
		t.Run(strings.TrimSuffix(tc.fixture, ".json"), func(t *testing.T) {
			c := gockClient(t, tc.appOptics, tc.opts...)
			host := "https://metrics-api.librato.com"
			if tc.appOptics {
				host = "https://api.appoptics.com"
			}
			mockPosts(t, host, loadPosts(t, tc.fixture))
			before := subClone(tc.ms)
			require.NoError(t, c.Submit(context.Background(), tc.ms...))
			assertAllMatched(t)
			assert.Equal(t, before, tc.ms, "Submit must not modify the caller's measurements")
		})
	}
}

func subClone(ms []Measurement) []Measurement {
	out := make([]Measurement, len(ms))
	copy(out, ms)
	return out
}

func TestSubmitNothing(t *testing.T) {
	c := gockClient(t, false)
	require.NoError(t, c.Submit(context.Background()))
	require.NoError(t, c.Submit(context.Background(), []Measurement{}...))
	assertAllMatched(t)
}

// countingMock expects one POST to path and records how many measurements its body carried.
func countingMock(host, path string, status int, counts *[]int) {
	gock.New(host).Post(path).AddMatcher(func(req *http.Request, _ *gock.Request) (bool, error) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return false, err
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		var p struct {
			Gauges, Counters, Measurements []json.RawMessage
		}
		if err := json.Unmarshal(body, &p); err != nil {
			return false, err
		}
		*counts = append(*counts, len(p.Gauges)+len(p.Counters)+len(p.Measurements))
		return true, nil
	}).Reply(status)
}

func subGauges(n int, tags map[string]string) []Measurement {
	ms := make([]Measurement, n)
	for i := range ms {
		ms[i] = Measurement{Name: fmt.Sprintf("m%d", i), Value: float64(i), Tags: tags}
	}
	return ms
}

func TestSubmitChunks(t *testing.T) {
	const host = "https://metrics-api.librato.com"
	tags := map[string]string{"host": "h1"}
	for _, tc := range []struct {
		name  string
		opts  []Option
		ms    []Measurement
		posts []string // paths, in order
		want  []int    // measurements per POST
	}{
		{"300 legacy: one POST", nil, subGauges(300, nil), []string{"/v1/metrics"}, []int{300}},
		{"301 legacy: 300 and 1", nil, subGauges(301, nil), []string{"/v1/metrics", "/v1/metrics"}, []int{300, 1}},
		{"301 tagged: 300 and 1", nil, subGauges(301, tags), []string{"/v1/measurements", "/v1/measurements"}, []int{300, 1}},
		{"301 legacy and 2 tagged never share a chunk", nil, append(subGauges(2, tags), subGauges(301, nil)...),
			[]string{"/v1/metrics", "/v1/metrics", "/v1/measurements"}, []int{300, 1, 2}},
		{"chunk size 2", []Option{WithChunkSize(2)}, subGauges(5, tags),
			[]string{"/v1/measurements", "/v1/measurements", "/v1/measurements"}, []int{2, 2, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := gockClient(t, false, tc.opts...)
			var counts []int
			for _, p := range tc.posts {
				countingMock(host, p, http.StatusOK, &counts)
			}
			require.NoError(t, c.Submit(context.Background(), tc.ms...))
			assertAllMatched(t)
			assert.Equal(t, tc.want, counts)
		})
	}
}

func TestSubmitValidation(t *testing.T) {
	tags51 := map[string]string{}
	for i := range 51 {
		tags51[fmt.Sprintf("t%d", i)] = "v"
	}
	ok := Measurement{Name: "ok", Value: 1}
	for _, tc := range []struct {
		name string
		opts []Option
		aoc  bool // AppOptics client
		m    Measurement
		want string // in the error text, besides the index and name
	}{
		{name: "NaN", m: Measurement{Name: "x", Value: math.NaN()}, want: `value "NaN": must be a finite number`},
		{name: "+Inf", m: Measurement{Name: "x", Value: math.Inf(1)}, want: `value "+Inf": must be a finite number`},
		{name: "-Inf", m: Measurement{Name: "x", Value: math.Inf(-1)}, want: `value "-Inf": must be a finite number`},
		{name: "too large", m: Measurement{Name: "x", Value: -1e130}, want: "too large for the API"},
		{name: "NaN sum", m: Measurement{Name: "x", Summary: &Summary{Count: 1, Sum: math.NaN()}}, want: "summary sum"},
		{name: "Inf max", m: Measurement{Name: "x", Summary: &Summary{Count: 1, Max: math.Inf(1)}}, want: "summary max"},
		{name: "NaN last", m: Measurement{Name: "x", Summary: &Summary{Count: 1, Last: Float(math.NaN())}}, want: "summary last"},
		{name: "negative stddev", m: Measurement{Name: "x", Tags: map[string]string{"a": "b"}, Summary: &Summary{Count: 1, Stddev: Float(-1)}}, want: "summary stddev"},
		{name: "NaN stddev", m: Measurement{Name: "x", Summary: &Summary{Count: 1, Stddev: Float(math.NaN())}}, want: "summary stddev"},
		{name: "Inf sum_squares", m: Measurement{Name: "x", Summary: &Summary{Count: 1, SumSquares: Float(math.Inf(-1))}}, want: "summary sum_squares"},
		{name: "negative sum_squares", m: Measurement{Name: "x", Summary: &Summary{Count: 1, SumSquares: Float(-1)}}, want: "must not be negative"},
		{name: "empty name", m: Measurement{Value: 1}, want: `metric name "": must not be empty`},
		{name: "256-char name", m: Measurement{Name: strings.Repeat("a", 256), Value: 1}, want: "is 256 bytes long, at most 255 allowed"},
		{name: "control char in name", m: Measurement{Name: "a\x01b", Value: 1}, want: `invalid character '\x01' at byte 1`},
		{name: "space in name", m: Measurement{Name: "a b", Value: 1}, want: `invalid character ' ' at byte 1`},
		{name: "invalid UTF-8 name", m: Measurement{Name: "a\xff", Value: 1}, want: `invalid character '\xff' at byte 1`},
		{name: "bad source", m: Measurement{Name: "x", Source: "web 1", Value: 1}, want: `source "web 1": invalid character`},
		{name: "reserved source", m: Measurement{Name: "x", Source: "ALL", Value: 1}, want: `"all" is reserved`},
		{name: "51 tags", m: Measurement{Name: "x", Value: 1, Tags: tags51}, want: "at most 50"},
		{name: "51 tags after merging client tags", opts: []Option{WithTags(map[string]string{"extra": "1"})},
			m: Measurement{Name: "x", Value: 1, Tags: func() map[string]string {
				m := map[string]string{}
				for i := range 50 {
					m[fmt.Sprintf("t%d", i)] = "v"
				}
				return m
			}()}, want: "51 tags after merging"},
		{name: "65-char tag name", m: Measurement{Name: "x", Value: 1, Tags: map[string]string{strings.Repeat("k", 65): "v"}},
			want: "is 65 bytes long, at most 64 allowed"},
		{name: "empty tag value", m: Measurement{Name: "x", Value: 1, Tags: map[string]string{"k": ""}}, want: "must not be empty"},
		{name: "control char in tag value", m: Measurement{Name: "x", Value: 1, Tags: map[string]string{"k": "a\nb"}}, want: `invalid character '\n'`},
		{name: "invalid UTF-8 tag value", m: Measurement{Name: "x", Value: 1, Tags: map[string]string{"k": "\xc3"}}, want: `invalid character '\xc3'`},
		{name: "zero count", m: Measurement{Name: "x", Summary: &Summary{Sum: 3}}, want: `summary count "0": must be at least 1`},
		{name: "negative count", m: Measurement{Name: "x", Summary: &Summary{Count: -2, Sum: 3}}, want: `summary count "-2": must be at least 1`},
		{name: "min above max", m: Measurement{Name: "x", Summary: &Summary{Count: 2, Sum: 3, Min: 2, Max: 1}}, want: "greater than max 1"},
		{name: "Summary with Value", m: Measurement{Name: "x", Value: 3, Summary: &Summary{Count: 1, Sum: 3, Min: 3, Max: 3}}, want: "must be 0 when Summary is set"},
		{name: "counter with Summary", m: Measurement{Name: "x", Type: Counter, Summary: &Summary{Count: 1}}, want: "a counter cannot carry a Summary"},
		{name: "counter with tags", m: Measurement{Name: "x", Type: Counter, Value: 1, Tags: map[string]string{"k": "v"}}, want: "counters exist only in the legacy API"},
		{name: "counter on a client with tags", opts: []Option{WithTags(map[string]string{"k": "v"})},
			m: Measurement{Name: "x", Type: Counter, Value: 1}, want: "counters exist only in the legacy API"},
		{name: "counter on AppOptics", aoc: true, m: Measurement{Name: "x", Type: Counter, Value: 1}, want: "counters exist only in the legacy API"},
		{name: "source with tags", m: Measurement{Name: "x", Source: "web1", Value: 1, Tags: map[string]string{"k": "v"}}, want: "the tagged API has no sources"},
		{name: "unknown type", m: Measurement{Name: "x", Type: 7, Value: 1}, want: "must be Gauge or Counter"},
		{name: "negative period", m: Measurement{Name: "x", Value: 1, Period: -time.Second}, want: "period"},
		{name: "fractional period", m: Measurement{Name: "x", Value: 1, Period: 1500 * time.Millisecond}, want: "whole number of seconds"},
		{name: "time before 1971", m: Measurement{Name: "x", Value: 1, Time: time.Unix(1_000_000, 0)}, want: "before 1971"},
		{name: "time in milliseconds", m: Measurement{Name: "x", Value: 1, Time: time.UnixMilli(1600000000000 * 1000)}, want: "in the future"},
		{name: "time an hour ahead", m: Measurement{Name: "x", Value: 1, Time: submitNow.Add(time.Hour)}, want: "more than 10m0s in the future"},
		{name: "unencodable attributes", m: Measurement{Name: "x", Value: 1, Attributes: map[string]any{"f": math.NaN()}}, want: "attributes"},
		{name: "sanitizer output still invalid", opts: []Option{WithSanitizer(func(s string) string { return strings.TrimPrefix(s, "x") })},
			m: Measurement{Name: "x", Value: 1}, want: "must not be empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := gockClient(t, tc.aoc, tc.opts...)
			err := c.Submit(context.Background(), ok, tc.m, ok)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalid)
			assert.Contains(t, err.Error(), "measurement 1 ")
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "nothing sent")
			var many *SubmitError
			require.ErrorAs(t, err, &many)
			assert.Equal(t, 3, many.Unsent)
			assert.Equal(t, []int{0, 1, 2}, many.UnsentIndices)
			assert.Zero(t, many.Sent)
			var one *InvalidMeasurementError
			require.ErrorAs(t, err, &one)
			assert.Equal(t, 1, one.Index)
			assert.Equal(t, tc.m.Name, one.Name, "the name as given")
			assertAllMatched(t) // no request at all: gock has no mock, any request would be unmatched
		})
	}
}

func TestSubmitValidationListsEveryBadMeasurement(t *testing.T) {
	c := gockClient(t, false)
	ms := subGauges(20, nil)
	for _, i := range []int{3, 5, 7, 8, 9, 10, 11, 12, 13, 14, 15, 19} {
		ms[i].Value = math.NaN()
	}
	err := c.Submit(context.Background(), ms...)
	var many *SubmitError
	require.ErrorAs(t, err, &many)
	require.Len(t, many.Invalid, 12)
	assert.Equal(t, 19, many.Invalid[11].Index)
	assert.Equal(t, "m19", many.Invalid[11].Name)
	msg := err.Error()
	assert.True(t, strings.HasPrefix(msg, "librato: submit: 12 of 20 measurements invalid, nothing sent: measurement 3 \"m3\": value \"NaN\""), msg)
	assert.Contains(t, msg, "; and 2 more")
	assertAllMatched(t)
}

func TestSubmitStampsZeroTimesOncePerCall(t *testing.T) {
	c := gockClient(t, false, WithChunkSize(1))
	tick := submitNow
	c.now = func() time.Time { tick = tick.Add(time.Second); return tick }
	var times []float64
	gock.New("https://metrics-api.librato.com").Post("/v1/metrics").Times(3).
		AddMatcher(func(req *http.Request, _ *gock.Request) (bool, error) {
			body, err := io.ReadAll(req.Body)
			if err != nil {
				return false, err
			}
			var p struct {
				Gauges []struct {
					MeasureTime float64 `json:"measure_time"`
				}
			}
			if err := json.Unmarshal([]byte(EffectiveJSON(t, body)), &p); err != nil {
				return false, err
			}
			for _, g := range p.Gauges {
				require.NotZero(t, g.MeasureTime, "every measurement has a time")
				times = append(times, g.MeasureTime)
			}
			return true, nil
		}).Reply(http.StatusOK)
	require.NoError(t, c.Submit(context.Background(), subGauges(3, nil)...))
	assertAllMatched(t)
	require.Len(t, times, 3)
	assert.Equal(t, times[0], times[1])
	assert.Equal(t, times[0], times[2])
}

func TestSubmitStopsAtFailedChunk(t *testing.T) {
	const host = "https://metrics-api.librato.com"
	t.Run("legacy", func(t *testing.T) {
		c := gockClient(t, false, WithChunkSize(2))
		var counts []int
		countingMock(host, "/v1/metrics", http.StatusOK, &counts)
		gock.New(host).Post("/v1/metrics").Reply(http.StatusServiceUnavailable).JSON(map[string]any{"errors": map[string]any{"system": []string{"down"}}})
		err := c.Submit(context.Background(), subGauges(5, nil)...)
		var se *SubmitError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, 2, se.Sent)
		assert.Equal(t, 3, se.Unsent)
		assert.Equal(t, []int{2, 3, 4}, se.UnsentIndices)
		assert.ErrorIs(t, err, ErrServer)
		assert.Contains(t, err.Error(), "2 measurements sent, 3 measurements not sent")
		assertAllMatched(t) // and the fifth measurement's chunk was never attempted
		assert.Equal(t, []int{2}, counts)
	})
	t.Run("mixed: unsent indices follow the caller's order", func(t *testing.T) {
		c := gockClient(t, false, WithChunkSize(2))
		var counts []int
		countingMock(host, "/v1/metrics", http.StatusOK, &counts)
		countingMock(host, "/v1/measurements", http.StatusOK, &counts)
		gock.New(host).Post("/v1/measurements").Reply(http.StatusServiceUnavailable)
		tags := map[string]string{"k": "v"}
		ms := []Measurement{
			{Name: "t0", Value: 0, Tags: tags}, {Name: "l1", Value: 1}, {Name: "t2", Value: 2, Tags: tags},
			{Name: "t3", Value: 3, Tags: tags}, {Name: "l4", Value: 4}, {Name: "t5", Value: 5, Tags: tags},
		}
		err := c.Submit(context.Background(), ms...)
		var se *SubmitError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, 4, se.Sent, "l1, l4, t0, t2")
		assert.Equal(t, []int{3, 5}, se.UnsentIndices)
		assert.Empty(t, se.Rejected)
		assert.ErrorIs(t, err, ErrServer)
		assertAllMatched(t)
		assert.Equal(t, []int{2, 2}, counts)
	})
	t.Run("a 400 is isolated to the bad measurement, as in a Queue", func(t *testing.T) {
		c := gockClient(t, false, WithChunkSize(4))
		var counts []int
		bad := map[string]any{"errors": map[string]any{"params": map[string]any{"name": []string{"is invalid"}}}}
		gock.New(host).Post("/v1/measurements").Reply(http.StatusBadRequest).JSON(bad) // [t0 t1 t2 t3]
		countingMock(host, "/v1/measurements", http.StatusOK, &counts)                 // [t0 t1]
		gock.New(host).Post("/v1/measurements").Reply(http.StatusBadRequest).JSON(bad) // [t2 t3]
		gock.New(host).Post("/v1/measurements").Reply(http.StatusBadRequest).JSON(bad) // [t2]
		countingMock(host, "/v1/measurements", http.StatusOK, &counts)                 // [t3]
		countingMock(host, "/v1/measurements", http.StatusOK, &counts)                 // [t4]
		err := c.Submit(context.Background(), subGauges(5, map[string]string{"k": "v"})...)
		var se *SubmitError
		require.ErrorAs(t, err, &se)
		assert.Equal(t, 4, se.Sent)
		assert.Zero(t, se.Unsent)
		require.Len(t, se.Rejected, 1)
		assert.Equal(t, []int{2}, se.Rejected[0].Indices)
		assert.Equal(t, []string{"m2"}, se.Rejected[0].Names)
		var rej *RejectedError
		require.ErrorAs(t, err, &rej, "the same error type a Queue reports")
		assert.ErrorIs(t, err, ErrBadRequest)
		assert.Contains(t, err.Error(), "4 measurements sent, 1 measurement rejected (m2): ")
		assert.Contains(t, err.Error(), "params: name: is invalid")
		assertAllMatched(t)
		assert.Equal(t, []int{2, 1, 1}, counts)
	})
}

func TestPostPayloadAnswers(t *testing.T) {
	const host = "https://metrics-api.librato.com"
	body := []byte(`{"measurements":[{"name":"x","value":1,"time":1600000000}]}`)
	for _, tc := range []struct {
		name   string
		status int
		ctype  string
		answer string
		want   []string // partial-failure messages; nil: success
	}{
		{"empty 200", 200, "", "", nil},
		{"empty 202", 202, "", "", nil},
		{"JSON without errors", 202, "application/json", `{"measurements":{"summary":{"total":1,"accepted":1}}}`, nil},
		{"empty errors list", 200, "application/json", `{"errors":[]}`, nil},
		{"null errors", 200, "application/json", `{"errors":null}`, nil},
		{"not JSON", 200, "text/plain", "OK", nil},
		{"JSON array", 200, "application/json", `[]`, nil},
		{"errors list", 202, "application/json", `{"errors":["Tag based measurements are not enabled for this account.","second"]}`,
			[]string{"Tag based measurements are not enabled for this account.", "second"}},
		{"errors object", 200, "application/json", `{"errors":{"params":{"name":["is invalid"]}}}`, []string{"params: name: is invalid"}},
		{"errors list of objects", 200, "application/json", `{"errors":[{"params":{"time":["too far in past"]}}]}`, []string{"params: time: too far in past"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := gockClient(t, false)
			gock.New(host).Post("/v1/measurements").BodyString(string(body)).
				Reply(tc.status).SetHeader("Content-Type", tc.ctype).BodyString(tc.answer)
			err := c.postPayload(context.Background(), true, body)
			assertAllMatched(t)
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			var pe *PartialError
			require.ErrorAs(t, err, &pe)
			assert.Equal(t, tc.want, pe.Messages)
			assert.Equal(t, tc.status, pe.StatusCode)
			assert.Equal(t, "measurements", pe.Path)
			assert.Equal(t, tc.answer, string(pe.Body))
			assert.Contains(t, err.Error(), "partial failure: "+strings.Join(tc.want, ", "))
		})
	}
}

func TestSubmitPartialFailureRejectsTheChunk(t *testing.T) {
	// A 2xx with "errors": the API took the request and says something in it failed, without
	// saying what. The chunk is rejected with the server's reason, never resent (that could
	// duplicate what it stored), and the next chunk is still sent.
	const host = "https://metrics-api.librato.com"
	c := gockClient(t, false, WithChunkSize(2))
	gock.New(host).Post("/v1/measurements").Reply(http.StatusAccepted).JSON(map[string]any{"errors": []string{"bad"}})
	gock.New(host).Post("/v1/measurements").Reply(http.StatusAccepted)
	err := c.Submit(context.Background(), subGauges(3, map[string]string{"k": "v"})...)
	var se *SubmitError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 1, se.Sent)
	assert.Zero(t, se.Unsent)
	require.Len(t, se.Rejected, 1)
	assert.Equal(t, []int{0, 1}, se.Rejected[0].Indices)
	var pe *PartialError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, []string{"bad"}, pe.Messages)
	assert.Contains(t, err.Error(), "1 measurement sent, 2 measurements rejected")
	assertAllMatched(t)
}

func TestSubmitContextCanceled(t *testing.T) {
	c := gockClient(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	gock.New("https://metrics-api.librato.com").Post("/v1/metrics").Reply(http.StatusOK)
	err := c.Submit(ctx, subGauges(1, nil)...)
	var se *SubmitError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 0, se.Sent)
	assert.ErrorIs(t, err, context.Canceled)
	gock.Off()
}

func TestCheckMeasurementSanitizes(t *testing.T) {
	c, err := Connect("u@example.com", "tok", WithSanitizer(SanitizeMetricName))
	require.NoError(t, err)
	m := Measurement{Name: "a b", Value: 1}
	ck, err := c.checkMeasurement(&m, nil, nil, nil)
	require.NoError(t, err)
	assert.Equal(t, "a-b", ck.name, "checkMeasurement gives the sanitized name")
	assert.Equal(t, "a b", m.Name, "and leaves the caller's measurement alone")
	_, err = c.checkMeasurement(&Measurement{Name: "x", Value: math.NaN()}, nil, nil, nil)
	assert.True(t, errors.Is(err, ErrInvalid))
}

func TestCheckMeasurementAllocs(t *testing.T) {
	c, err := Connect("u@example.com", "tok", WithTags(map[string]string{"env": "prod"}))
	require.NoError(t, err)
	ms := []Measurement{
		{Name: "app.latency", Value: 1.5, Tags: map[string]string{"host": "h1", "region": "us-east-1", "service": "api"}},
		{Name: "app.summary", Summary: &Summary{Count: 2, Sum: 3, Min: 1, Max: 2, Last: Float(2)}, Time: submitNow, Period: time.Minute},
	}
	base := sortedTags(c.tags, nil)
	for i := range ms {
		allocs := testing.AllocsPerRun(100, func() {
			var scratch [inlineTags]tagPair
			if _, err := c.checkMeasurement(&ms[i], base, scratch[:], nil); err != nil {
				t.Fatal(err)
			}
		})
		assert.Zero(t, allocs, ms[i].Name)
	}
}

func BenchmarkCheckMeasurement(b *testing.B) {
	c, err := Connect("u@example.com", "tok")
	require.NoError(b, err)
	m0 := Measurement{Name: "app.request.latency", Value: 1.5, Tags: map[string]string{"host": "h1", "region": "us-east-1", "service": "api"}}
	b.ReportAllocs()
	var scratch [inlineTags]tagPair
	for b.Loop() {
		if _, err := c.checkMeasurement(&m0, nil, scratch[:], nil); err != nil {
			b.Fatal(err)
		}
	}
}
