package libratotest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests drive the fake through the real client (srv.Client).

func TestClientPingAndSubmit(t *testing.T) {
	ctx := context.Background()
	srv := newServer(t)
	c, err := srv.Client()
	require.NoError(t, err)
	require.NoError(t, c.Ping(ctx))

	now := time.Now().Truncate(time.Second)
	err = c.Submit(ctx,
		librato.Measurement{Name: "temperature", Value: 22.1, Source: "upstairs", Time: now},
		librato.Measurement{Name: "visits", Value: 3, Type: librato.Counter, Time: now},
		librato.Measurement{Name: "latency", Value: 0, Tags: map[string]string{"host": "h1"}, Time: now},
		librato.Measurement{Name: "latency", Summary: &librato.Summary{Count: 2, Sum: 10, Min: 4, Max: 6}, Tags: map[string]string{"host": "h1"}, Time: now},
	)
	require.NoError(t, err)

	temp := srv.Measurements("temperature")
	require.Len(t, temp, 1)
	assert.Equal(t, "upstairs", temp[0].Source)
	assert.Equal(t, 22.1, temp[0].Value)
	visits, ok := srv.Metric("visits")
	require.True(t, ok)
	assert.Equal(t, "counter", visits.Type)
	lat := srv.Measurements("latency")
	require.Len(t, lat, 1, "the zero value and the summary combine into one point")
	assert.Equal(t, int64(3), lat[0].Count)
	assert.Equal(t, 10.0, lat[0].Sum)
	assert.Equal(t, 0.0, lat[0].Min, "value 0 was sent")
	assert.Equal(t, map[string]string{"host": "h1"}, lat[0].Tags)

	m, err := c.Metrics.Get(ctx, "temperature", &librato.GetOptions{StartTime: now.Add(-time.Minute), Resolution: 60})
	require.NoError(t, err)
	assert.Equal(t, "gauge", m.Type)
	assert.NotEmpty(t, m.Measurements["upstairs"])

	require.NoError(t, c.Metrics.Delete(ctx, "visits"))
	_, ok = srv.Metric("visits")
	assert.False(t, ok)
}

func TestClientErrors(t *testing.T) {
	ctx := context.Background()
	srv := newServer(t)
	c, err := librato.Connect(libratotest.DefaultUser, "wrong", librato.WithBaseURL(srv.URL+"/v1/"))
	require.NoError(t, err)
	err = c.Ping(ctx)
	require.ErrorIs(t, err, librato.ErrUnauthorized)
	assert.NotContains(t, err.Error(), "wrong", "the token never appears in an error")

	good, err := srv.Client(librato.WithRetry(librato.RetryPolicy{MaxAttempts: 1}))
	require.NoError(t, err)
	srv.SetRateLimit(libratotest.RateLimit{Limit: 1, Per: time.Hour, RetryAfter: true})
	require.NoError(t, good.Ping(ctx))
	err = good.Ping(ctx)
	require.ErrorIs(t, err, librato.ErrRateLimited)
	var apiErr *librato.Error
	require.True(t, errors.As(err, &apiErr))
	srv.SetRateLimit(libratotest.RateLimit{})

	_, err = good.Metrics.Get(ctx, "missing", nil)
	require.ErrorIs(t, err, librato.ErrNotFound)
}

func TestClientAppOptics(t *testing.T) {
	ctx := context.Background()
	srv := newServer(t, libratotest.WithAppOptics())
	c, err := srv.Client()
	require.NoError(t, err)
	require.NoError(t, c.Ping(ctx))
	require.NoError(t, c.Submit(ctx, librato.Measurement{Name: "cpu", Value: 1, Tags: map[string]string{"host": "a"}}))
	pts := srv.Measurements("cpu")
	require.Len(t, pts, 1)
	assert.Equal(t, map[string]string{"host": "a"}, pts[0].Tags)
}

// A dropped connection is a transport error the client retries; the dropped
// attempt stored nothing, so the point is stored once.
func TestClientRetriesDrop(t *testing.T) {
	ctx := context.Background()
	srv := newServer(t)
	c, err := srv.Client(librato.WithRetry(librato.RetryPolicy{MaxAttempts: 3, MinWait: time.Millisecond, MaxWait: 5 * time.Millisecond}))
	require.NoError(t, err)
	require.NoError(t, srv.AddFault(libratotest.Fault{Drop: true, Count: 1}))
	require.NoError(t, c.Submit(ctx, librato.Measurement{Name: "once", Value: 1, Source: "a"}))
	pts := srv.Measurements("once")
	require.Len(t, pts, 1)
	assert.Equal(t, int64(1), pts[0].Count)
	assert.Len(t, srv.Requests(), 2, "the dropped attempt and the retry")

	require.NoError(t, srv.AddFault(libratotest.Fault{Status: 503, Body: `{"errors":{"system":["maintenance"]}}`, Count: 1}))
	require.NoError(t, c.Submit(ctx, librato.Measurement{Name: "once", Value: 1, Source: "b"}))
	assert.Len(t, srv.Measurements("once"), 2)
}

func TestPathsOutsideTheAPIGetAPlainNotFound(t *testing.T) {
	srv := libratotest.NewServer()
	defer srv.Close()
	for path, wantJSON := range map[string]bool{"/v1/no/such/thing": true, "/metrics": false, "/": false} {
		req, err := http.NewRequest("GET", srv.URL+path, nil)
		require.NoError(t, err)
		req.SetBasicAuth(libratotest.DefaultUser, libratotest.DefaultToken)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, 404, resp.StatusCode, path)
		assert.Equal(t, wantJSON, strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json"), "%s: %s", path, body)
	}
	// A client without /v1/ in its base URL gets it added; with another path, the hint says why.
	c, err := librato.Connect(libratotest.DefaultUser, libratotest.DefaultToken, librato.WithBaseURL(srv.URL+"/api/"))
	require.NoError(t, err)
	_, err = c.Metrics.Get(t.Context(), "cpu", nil)
	assert.ErrorIs(t, err, librato.ErrNotFound)
	assert.ErrorContains(t, err, "is the base URL right? The API's ends in /v1/")
}
