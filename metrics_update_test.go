package librato

import (
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUpdateTV10(t *testing.T) {
	w := newMTWire(t)
	w.expect(http.MethodPut, "/v1/metrics/foo", 204, "")
	err := w.c.Metrics.Update(mtCtx, "foo", MetricUpdate{Period: time.Minute, Attributes: &MetricAttributes{DisplayMin: Float(0)}})
	require.NoError(t, err)
	call := w.only()
	assert.JSONEq(t, mtFixture(t, "update_tv10.json"), string(call.Body))
	assert.Equal(t, `{"attributes":{"display_min":0},"period":60}`, string(call.Body), "keys sorted as python-librato")
	assert.Equal(t, "application/json", call.ContentType)
}

func TestUpdateCreatesCompositeTV10(t *testing.T) {
	w := newMTWire(t)
	w.expect(http.MethodPut, "/v1/metrics/composite.humidity", 201, "composite_tv15.json",
		"Location", "/v1/metrics/composite.humidity")
	err := w.c.Metrics.Update(mtCtx, "composite.humidity", MetricUpdate{Composite: `sum(s("humidity", "*"))`, Description: "a test composite"})
	require.NoError(t, err)
	assert.JSONEq(t, `{"composite": "sum(s(\"humidity\", \"*\"))", "description": "a test composite", "type": "composite"}`,
		string(w.only().Body))
}

func TestUpdateBodies(t *testing.T) {
	yes := true
	tests := []struct {
		name string
		u    MetricUpdate
		body string
	}{
		{"create gauge", MetricUpdate{Type: "gauge", Description: "Length of app queue", DisplayName: "num. elements"},
			`{"type":"gauge","description":"Length of app queue","display_name":"num. elements"}`},
		{"read-only attributes are not sent", MetricUpdate{Attributes: &MetricAttributes{
			Color: "#00ff00", DisplayMax: Float(100), DisplayStacked: &yes, DisplayUnitsShort: "%", SummarizeFunction: "max",
			Aggregate: &yes, CreatedByUA: "ua/1", GapDetection: &yes, Extra: map[string]any{"custom": "x", "created_by_ua": "y"}}},
			`{"attributes":{"color":"#00ff00","display_max":100,"display_stacked":true,"display_units_short":"%","summarize_function":"max","aggregate":true,"custom":"x"}}`},
		{"zero attributes are not sent", MetricUpdate{Period: 15 * time.Second, Attributes: &MetricAttributes{}}, `{"period":15}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newMTWire(t)
			w.expect(http.MethodPut, "/v1/metrics/queue_len", 204, "")
			require.NoError(t, w.c.Metrics.Update(mtCtx, "queue_len", tt.u))
			assert.JSONEq(t, tt.body, string(w.only().Body))
		})
	}
}

func TestUpdateRejectsBeforeIO(t *testing.T) {
	tests := []struct {
		name string
		u    MetricUpdate
		msg  string
	}{
		{"nothing", MetricUpdate{}, "sets nothing"},
		{"only empty attributes", MetricUpdate{Attributes: &MetricAttributes{}}, "sets nothing"},
		{"bad type", MetricUpdate{Type: "histogram"}, `Type "histogram"`},
		{"composite of a gauge", MetricUpdate{Type: "gauge", Composite: "s(\"a\",\"*\")"}, "not composite"},
		{"fractional period", MetricUpdate{Period: 1500 * time.Millisecond}, "whole seconds"},
		{"negative period", MetricUpdate{Period: -time.Second}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newMTWire(t)
			err := w.c.Metrics.Update(mtCtx, "foo", tt.u)
			assert.ErrorIs(t, err, ErrInvalid)
			assert.ErrorContains(t, err, tt.msg)
			assert.Empty(t, w.sent())
		})
	}
	w := newMTWire(t)
	assert.ErrorIs(t, w.c.Metrics.Update(mtCtx, "bad name", MetricUpdate{Description: "x"}), ErrInvalid)
	assert.ErrorIs(t, w.c.Metrics.UpdateMany(mtCtx, []string{"a", "b"}, MetricUpdate{Type: "gauge"}), ErrInvalid)
	assert.ErrorIs(t, w.c.Metrics.UpdateMany(mtCtx, []string{"a", "b c"}, MetricUpdate{Period: time.Minute}), ErrInvalid)
	assert.ErrorIs(t, w.c.Metrics.UpdatePattern(mtCtx, "a*", nil, MetricUpdate{Composite: "x"}), ErrInvalid)
	assert.ErrorIs(t, w.c.Metrics.UpdatePattern(mtCtx, "a b*", nil, MetricUpdate{Period: time.Minute}), ErrInvalid)
	assert.ErrorIs(t, w.c.Metrics.UpdatePattern(mtCtx, "a*", nil, MetricUpdate{}), ErrInvalid)
	require.NoError(t, w.c.Metrics.UpdateMany(mtCtx, nil, MetricUpdate{Period: time.Minute}), "no names: nothing to do")
	assert.Empty(t, w.sent())
}

func TestUpdateManyAndPattern(t *testing.T) {
	t.Run("names", func(t *testing.T) {
		w := newMTWire(t)
		w.expect(http.MethodPut, "/v1/metrics", 204, "")
		require.NoError(t, w.c.Metrics.UpdateMany(mtCtx, []string{"a.time", "b.time"}, MetricUpdate{DisplayName: "Time"}))
		assert.JSONEq(t, `{"names":["a.time","b.time"],"display_name":"Time"}`, string(w.only().Body))
	})
	t.Run("pattern with exclusions, 202 job", func(t *testing.T) {
		w := newMTWire(t)
		w.expect(http.MethodPut, "/v1/metrics", 202, "", "Location", "/v1/jobs/123456")
		w.expect(http.MethodGet, "/v1/jobs/123456", 200, "job_working_tv21.json")
		w.expect(http.MethodGet, "/v1/jobs/123456", 200, "job_complete_tv21.json")
		require.NoError(t, w.c.Metrics.UpdatePattern(mtCtx, "*.time", []string{"a.time"},
			MetricUpdate{Attributes: &MetricAttributes{DisplayUnitsLong: "seconds"}}))
		calls := w.sent()
		require.Len(t, calls, 3)
		assert.JSONEq(t, `{"names":"*.time","exclude":["a.time"],"attributes":{"display_units_long":"seconds"}}`, string(calls[0].Body))
	})
	t.Run("failed job", func(t *testing.T) {
		w := newMTWire(t)
		w.expect(http.MethodPut, "/v1/metrics", 202, "", "Location", "/v1/jobs/123456")
		w.expect(http.MethodGet, "/v1/jobs/123456", 200, "job_failed_tv21.json")
		err := w.c.Metrics.UpdateMany(mtCtx, []string{"a", "b"}, MetricUpdate{Period: time.Minute})
		var jobErr *JobError
		require.ErrorAs(t, err, &jobErr)
		assert.Equal(t, "name: is invalid", jobErr.Message)
	})
	t.Run("single update answered with a job", func(t *testing.T) {
		w := newMTWire(t)
		w.expect(http.MethodPut, "/v1/metrics/foo", 202, "", "Location", "/v1/jobs/123456")
		w.expect(http.MethodGet, "/v1/jobs/123456", 200, "job_complete_tv21.json")
		require.NoError(t, w.c.Metrics.Update(mtCtx, "foo", MetricUpdate{Description: "d"}))
		assert.Len(t, w.sent(), 2)
	})
}
