package librato_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"
)

// statusSeries returns the status tag of each series of name and the sum of its values.
func statusSeries(t *testing.T, pts []libratotest.Point) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, p := range pts {
		out[p.Tags["status"]] += p.Sum
	}
	return out
}

// TestReusedMapsAndStrings is the ordinary Go habit from issue 10: one tag map (and one name
// buffer) reused and changed between calls. Every measurement must arrive with the tags and
// name it had when it was given, through every way of sending: a Queue with and without a spool,
// an Aggregator, and Submit.
func TestReusedMapsAndStrings(t *testing.T) {
	statuses := []string{"200", "404", "500"}
	want := map[string]float64{"200": 1, "404": 2, "500": 3}
	for _, tc := range []struct {
		name  string
		spool bool
	}{{"queue", false}, {"queue with a spool", true}} {
		t.Run(tc.name, func(t *testing.T) {
			srv, c := fakeClientAt(t)
			opts := librato.QueueOptions{}
			if tc.spool {
				opts.SpoolDir = t.TempDir()
			}
			q := newQueue(t, c, opts)
			tags := map[string]string{"status": "200"}
			name := []byte("http.req")
			for i, s := range statuses {
				tags["status"] = s
				require.NoError(t, q.Add(librato.Measurement{Name: string(name), Value: float64(i + 1), Tags: tags}))
			}
			copy(name, "XXXX.XXX") // the caller's buffer, reused
			delete(tags, "status")
			tags["other"] = "x"
			require.NoError(t, q.Close(context.Background()))
			assert.Equal(t, want, statusSeries(t, srv.Measurements("http.req")))
			assert.Empty(t, srv.Measurements("XXXX.XXX"))
		})
	}
	t.Run("aggregator", func(t *testing.T) {
		srv, c := fakeClientAt(t)
		a := newAggregator(t, c, librato.AggregatorOptions{Period: time.Minute})
		tags := map[string]string{}
		for i, s := range statuses {
			tags["status"] = s
			require.NoError(t, a.AddTagged("http.req", float64(i+1), tags))
		}
		tags["status"] = "999"
		require.NoError(t, a.Submit(context.Background()))
		assert.Equal(t, want, statusSeries(t, srv.Measurements("http.req")))
	})
	t.Run("submit", func(t *testing.T) {
		// Submit takes its measurements together, so one map is reused across calls.
		srv, c := fakeClientAt(t)
		tags := map[string]string{}
		for i, s := range statuses {
			tags["status"] = s
			require.NoError(t, c.Submit(context.Background(), librato.Measurement{Name: "http.req", Value: float64(i + 1), Tags: tags}))
		}
		assert.Equal(t, want, statusSeries(t, srv.Measurements("http.req")))
	})
}
