package librato

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Failure handling of the Queue: partial failures, the 400 split, transient errors.

func TestQueuePartialFailureKeepsOnlyUnsentChunks(t *testing.T) {
	var calls atomic.Int32
	f := &fakeAPI{handle: func(r fakeRequest) (int, string) {
		if calls.Add(1) == 2 {
			return 503, `{"errors":{"system":["down for maintenance"]}}`
		}
		return 200, ""
	}}
	c := newFakeClient(t, f, fakeNow)
	var onErr []error
	q := newQueue(t, c, QueueOptions{ChunkSize: 2, OnError: func(err error) { onErr = append(onErr, err) }})
	for i := 0; i < 6; i++ {
		require.NoError(t, q.Add(Measurement{Name: "m", Value: float64(i)}))
	}
	err := q.Flush(context.Background())
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrServer)
	assert.Len(t, f.requests(), 2, "stops at the failed chunk")
	assert.Equal(t, 4, q.Len(), "the failed chunk and the one after it stay queued")
	st := q.Stats()
	assert.Equal(t, uint64(2), st.Sent)
	assert.Equal(t, uint64(4), st.Retried)
	assert.Equal(t, uint64(1), st.Failures)
	assert.ErrorIs(t, st.LastError, ErrServer)
	assert.Empty(t, onErr, "OnError is for background flushes; Submit returns the error")

	// New measurements queue behind the kept ones.
	require.NoError(t, q.Add(Measurement{Name: "m", Value: 6}))
	require.NoError(t, q.Flush(context.Background()))
	var values []any
	var times []any
	for i, r := range f.requests() {
		if i == 1 {
			continue // the failed one
		}
		for _, g := range decodeBody(t, r.Body).Gauges {
			values = append(values, g["value"])
			times = append(times, g["measure_time"])
		}
	}
	assert.Equal(t, []any{0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, values, "each sent once, in order")
	failed := decodeBody(t, f.requests()[1].Body).Gauges
	retried := decodeBody(t, f.requests()[2].Body).Gauges
	assert.Equal(t, failed, retried, "a retried chunk is byte-for-byte the same measurements, same time")
	assert.Equal(t, float64(fakeNow.Unix()), times[0])
	assert.Equal(t, 0, q.Len())
	require.NoError(t, q.Close(context.Background()))
}

const tooOld = `{"errors":{"params":{"measure_time":["is too far in the past"]}},"request_time":1475920599}`

func TestQueue400SplitIsolatesBadMeasurement(t *testing.T) {
	f := &fakeAPI{handle: func(r fakeRequest) (int, string) {
		if strings.Contains(string(r.Body), `"bad"`) {
			return 400, tooOld
		}
		return 200, ""
	}}
	c := newFakeClient(t, f, fakeNow)
	var dropped []Measurement
	var reasons []error
	q := newQueue(t, c, QueueOptions{OnDrop: func(ms []Measurement, reason error) {
		dropped = append(dropped, ms...)
		reasons = append(reasons, reason)
	}})
	for i := 0; i < 300; i++ {
		name := "good"
		if i == 137 {
			name = "bad"
		}
		require.NoError(t, q.Add(Measurement{Name: name, Value: float64(i)}))
	}
	err := q.Flush(context.Background())
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrBadRequest)
	var rej *RejectedError
	require.ErrorAs(t, err, &rej)
	assert.Equal(t, 1, rej.Count)
	assert.Equal(t, []string{"bad"}, rej.Names)
	assert.Contains(t, err.Error(), "is too far in the past", "the server's reason is reported")
	assert.Contains(t, err.Error(), "bad")

	delivered := 0
	for _, r := range f.requests() {
		if !strings.Contains(string(r.Body), `"bad"`) {
			delivered += decodeBody(t, r.Body).count()
		}
	}
	assert.Equal(t, 299, delivered, "every good measurement delivered once")
	assert.LessOrEqual(t, len(f.requests()), 1+2*9, "a bad measurement costs two POSTs per halving")
	require.Len(t, dropped, 1)
	assert.Equal(t, "bad", dropped[0].Name)
	assert.Equal(t, 137.0, dropped[0].Value)
	require.ErrorAs(t, reasons[0], &rej)
	st := q.Stats()
	assert.Equal(t, uint64(299), st.Sent)
	assert.Equal(t, uint64(1), st.Rejected)
	assert.Equal(t, 0, st.Queued)
	assert.Equal(t, 0, q.Len(), "rejected measurements are not retried")
	require.NoError(t, q.Close(context.Background()))
}

func TestQueue400SplitBudgetRejectsSystemicFailure(t *testing.T) {
	f := &fakeAPI{handle: func(fakeRequest) (int, string) {
		return 400, `{"errors":["Tag based measurements are not enabled for this account."]}`
	}}
	var dropped int
	q := newQueue(t, newFakeClient(t, f, fakeNow), QueueOptions{OnDrop: func(ms []Measurement, _ error) { dropped += len(ms) }})
	for i := 0; i < 300; i++ {
		require.NoError(t, q.Add(Measurement{Name: "m", Value: 1, Tags: map[string]string{"a": "b"}}))
	}
	err := q.Flush(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not enabled")
	assert.LessOrEqual(t, len(f.requests()), 1+4*9, "the split is bounded")
	assert.Equal(t, 300, dropped, "all reported")
	assert.Equal(t, uint64(300), q.Stats().Rejected)
}

func TestQueueTransientErrorsKeepData(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		is     error
	}{
		{"503", http.StatusServiceUnavailable, "", ErrServer},
		{"429", http.StatusTooManyRequests, `{"errors":{"system":["rate limited"]}}`, ErrRateLimited},
		{"401", http.StatusUnauthorized, "Credentials are required to access this resource.", ErrUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fail := atomic.Bool{}
			fail.Store(true)
			f := &fakeAPI{handle: func(fakeRequest) (int, string) {
				if fail.Load() {
					return tt.status, tt.body
				}
				return 200, ""
			}}
			q := newQueue(t, newFakeClient(t, f, fakeNow), QueueOptions{})
			require.NoError(t, q.Add(Measurement{Name: "m", Value: 1}))
			err := q.Flush(context.Background())
			assert.ErrorIs(t, err, tt.is)
			assert.Equal(t, 1, q.Len())
			fail.Store(false)
			require.NoError(t, q.Flush(context.Background()))
			assert.Equal(t, uint64(1), q.Stats().Sent)
		})
	}
}

func TestRejectedErrorMessage(t *testing.T) {
	names := []string{"a", "b", "a"}
	e := newRejectedError(names, errors.New("nope"))
	assert.Equal(t, "librato: 3 measurements rejected (a, b): nope", e.Error())
	one := newRejectedError(names[:1], errors.New("nope"))
	assert.Equal(t, "librato: 1 measurement rejected (a): nope", one.Error())
}

func TestQueueRejectedThenTransientReportsTheRightMeasurements(t *testing.T) {
	var calls atomic.Int32
	f := &fakeAPI{handle: func(r fakeRequest) (int, string) {
		n := calls.Add(1)
		switch {
		case strings.Contains(string(r.Body), `"bad"`):
			return 400, tooOld
		case n == 4 && strings.Contains(string(r.Body), `"later"`):
			return 503, ""
		}
		return 200, ""
	}}
	var dropped []Measurement
	q := newQueue(t, newFakeClient(t, f, fakeNow), QueueOptions{ChunkSize: 2,
		OnDrop: func(ms []Measurement, _ error) { dropped = append(dropped, ms...) }})
	for _, name := range []string{"good", "bad", "later", "later"} {
		require.NoError(t, q.Add(Measurement{Name: name, Value: 1}))
	}
	err := q.Flush(context.Background())
	assert.ErrorIs(t, err, ErrBadRequest)
	assert.ErrorIs(t, err, ErrServer)
	require.Len(t, dropped, 1)
	assert.Equal(t, "bad", dropped[0].Name, "the rejected one, not one moved over it by the requeue")
	assert.Equal(t, 2, q.Len())
	require.NoError(t, q.Flush(context.Background()))
	st := q.Stats()
	assert.Equal(t, uint64(3), st.Sent)
	assert.Equal(t, uint64(1), st.Rejected)
	assert.Zero(t, st.Queued)
}
