package libratotest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-librato/librato"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// compose sends a composite query with plain HTTP and returns the status
// and decoded body.
func compose(t *testing.T, srv *Server, path string, q url.Values) (int, any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path+"?"+q.Encode(), nil)
	require.NoError(t, err)
	req.SetBasicAuth(DefaultUser, DefaultToken)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var body any
	require.NoError(t, json.Unmarshal(b, &body), string(b))
	return resp.StatusCode, body
}

func TestComposeParamErrors(t *testing.T) {
	srv := NewServer()
	defer srv.Close()
	ok := url.Values{"compose": {`s("a", "*")`}, "start_time": {"1000"}, "resolution": {"60"}}
	with := func(k, v string) url.Values {
		q := url.Values{}
		for kk, vv := range ok {
			q[kk] = vv
		}
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
		return q
	}
	tests := []struct {
		name  string
		q     url.Values
		param string
		msg   string
	}{
		{"no resolution", with("resolution", ""), "resolution", "is not present"},
		{"bad resolution", with("resolution", "0"), "resolution", "is not a valid resolution"},
		{"no start", with("start_time", ""), "start_time", "is not present"},
		{"blank compose", with("compose", " "), "compose", "can't be blank"},
		{"syntax", with("compose", `s("a", "*"`), "compose", "composite: 1:11: expected ')' after arguments of s, found end of input"},
		{"invalid", with("compose", `window(s("a", "*"), {size: "65"})`), "compose", `composite: 1:21: window: option size must be a whole number from 1 to 64, got "65"`},
		{"unsupported", with("compose", `group_by("host", s("a", {}))`), "compose", "function group_by is not supported by libratotest"},
		{"end before start", with("end_time", "999"), "end_time", "must be after start_time"},
	}
	for _, path := range []string{"/v1/metrics", "/v1/measurements"} {
		for _, tt := range tests {
			t.Run(path+" "+tt.name, func(t *testing.T) {
				status, body := compose(t, srv, path, tt.q)
				assert.Equal(t, http.StatusBadRequest, status)
				errs := body.(map[string]any)["errors"].(map[string]any)["params"].(map[string]any)
				assert.Equal(t, []any{tt.msg}, errs[tt.param], "%v", errs)
			})
		}
	}
}

func TestComposeWorkIsBounded(t *testing.T) {
	now := time.Unix(1700000000, 0)
	srv := NewServer(WithNow(func() time.Time { return now }))
	defer srv.Close()
	start := now.Add(-90 * 24 * time.Hour).Unix()
	// zero_fill at resolution 1 over 90 days would be 7.7 million points.
	status, body := compose(t, srv, "/v1/metrics", url.Values{
		"compose": {`zero_fill(s("a", "*"))`}, "start_time": {strconv.FormatInt(start, 10)}, "resolution": {"1"}})
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body.(map[string]any)["errors"].(map[string]any)["params"].(map[string]any)["compose"].([]any)[0], "fill would make more than 1000000 points")
	// Nested timeshifts re-evaluate their set for every offset: 20^5 calls.
	shifts := strings.Repeat(`timeshift("0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19", `, 5) + `s("a", "*")` + strings.Repeat(")", 5)
	status, body = compose(t, srv, "/v1/metrics", url.Values{"compose": {shifts}, "start_time": {"1000"}, "resolution": {"60"}})
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body.(map[string]any)["errors"].(map[string]any)["params"].(map[string]any)["compose"].([]any)[0], "more than 100000 function calls")
}

func TestComposeResponseShapes(t *testing.T) {
	now := time.Unix(1700000040, 0)
	srv := NewServer(WithNow(func() time.Time { return now }))
	defer srv.Close()
	c, err := srv.Client()
	require.NoError(t, err)
	require.NoError(t, c.Submit(context.Background(),
		librato.Measurement{Name: "cpu", Source: "web1", Value: 2, Time: now.Add(-time.Minute)},
		librato.Measurement{Name: "cpu", Tags: map[string]string{"host": "h1"}, Value: 3, Time: now.Add(-time.Minute)}))
	start := strconv.FormatInt(now.Add(-time.Hour).Unix(), 10)
	at := float64(now.Add(-time.Minute).Unix())

	status, body := compose(t, srv, "/v1/metrics", url.Values{"compose": {`scale(s("cpu","web*"), {factor: "2"})`}, "start_time": {start}, "resolution": {"60"}})
	require.Equal(t, http.StatusOK, status, "%v", body)
	legacy := body.(map[string]any)
	assert.Equal(t, `scale(s("cpu","web*"), {factor: "2"})`, legacy["compose"])
	assert.Equal(t, 60.0, legacy["resolution"])
	ms := legacy["measurements"].([]any)
	require.Len(t, ms, 1)
	m := ms[0].(map[string]any)
	assert.Equal(t, map[string]any{"metric": "cpu", "source": "web*"}, m["query"])
	assert.Equal(t, map[string]any{"display_name": nil, "name": "web1"}, m["source"])
	assert.Equal(t, []any{map[string]any{"measure_time": at, "value": 4.0}}, m["series"])
	assert.Equal(t, "cpu", m["metric"].(map[string]any)["name"])

	status, body = compose(t, srv, "/v1/measurements", url.Values{"compose": {`s("cpu", {"host": "h*"})`}, "start_time": {start}, "resolution": {"60"}})
	require.Equal(t, http.StatusOK, status, "%v", body)
	arr := body.([]any)
	require.Len(t, arr, 1)
	s := arr[0].(map[string]any)
	assert.Equal(t, map[string]any{"host": "h1"}, s["tags"])
	assert.Equal(t, []any{map[string]any{"time": at, "value": 3.0}}, s["measurements"])
	assert.Equal(t, "cpu", s["metric"].(map[string]any)["name"])
	assert.Contains(t, s, "period")
}
