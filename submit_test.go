package librato_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// posts returns the POST requests the server received, by path.
func posts(srv *libratotest.Server) (paths []string, bodies []map[string]any) {
	for _, r := range srv.Requests() {
		if r.Method != http.MethodPost {
			continue
		}
		var b map[string]any
		_ = json.Unmarshal(r.Body, &b)
		paths = append(paths, r.Path)
		bodies = append(bodies, b)
	}
	return paths, bodies
}

func TestSubmitIntegrationLegacy(t *testing.T) {
	srv, c := fakeClient(t, nil)
	ctx := context.Background()
	t1 := time.Now().Add(-2 * time.Minute).Truncate(time.Second)
	t2 := t1.Add(time.Minute)
	err := c.Submit(ctx,
		librato.Measurement{Name: "temperature", Value: 22.5, Source: "upstairs", Time: t1,
			Description: "Room temperature", DisplayName: "Temperature", Period: time.Minute},
		librato.Measurement{Name: "temperature", Value: 0, Source: "downstairs", Time: t1},
		librato.Measurement{Name: "temperature", Value: 23.5, Source: "upstairs", Time: t2},
		librato.Measurement{Name: "visits", Value: 3, Type: librato.Counter, Time: t1},
		librato.Measurement{Name: "latency", Source: "web1", Time: t1,
			Summary: &librato.Summary{Count: 3, Sum: 30, Min: 5, Max: 15, SumSquares: librato.Float(350)}},
	)
	require.NoError(t, err)

	paths, _ := posts(srv)
	assert.Equal(t, []string{"/v1/metrics"}, paths, "one legacy POST")

	m, ok := srv.Metric("temperature")
	require.True(t, ok)
	assert.Equal(t, "gauge", m.Type)
	assert.Equal(t, "Room temperature", m.Description)
	assert.Equal(t, "Temperature", m.DisplayName)
	assert.EqualValues(t, 60, m.Period)
	m, ok = srv.Metric("visits")
	require.True(t, ok)
	assert.Equal(t, "counter", m.Type)

	bySource := map[string][]libratotest.Point{}
	for _, p := range srv.Measurements("temperature") {
		bySource[p.Source] = append(bySource[p.Source], p)
	}
	require.Len(t, bySource["upstairs"], 2)
	assert.Equal(t, 22.5, bySource["upstairs"][0].Value)
	assert.Equal(t, t1.Unix(), bySource["upstairs"][0].Time.Unix())
	assert.Equal(t, 23.5, bySource["upstairs"][1].Value)
	require.Len(t, bySource["downstairs"], 1)
	assert.Equal(t, 0.0, bySource["downstairs"][0].Value, "zero is a real value")
	assert.EqualValues(t, 1, bySource["downstairs"][0].Count)

	visits := srv.Measurements("visits")
	require.Len(t, visits, 1)
	assert.Equal(t, 3.0, visits[0].Value)

	lat := srv.Measurements("latency")
	require.Len(t, lat, 1)
	assert.Equal(t, "web1", lat[0].Source)
	assert.EqualValues(t, 3, lat[0].Count)
	assert.Equal(t, 30.0, lat[0].Sum)
	assert.Equal(t, 5.0, lat[0].Min)
	assert.Equal(t, 15.0, lat[0].Max)
	assert.Equal(t, 350.0, lat[0].SumSquares)
	assert.Equal(t, 10.0, lat[0].Value, "served as sum/count")
}

func TestSubmitIntegrationTagged(t *testing.T) {
	srv, c := fakeClient(t, nil, librato.WithTags(map[string]string{"company": "librato", "region": "us-west"}))
	ctx := context.Background()
	t1 := time.Now().Add(-time.Minute).Truncate(time.Second)
	err := c.Submit(ctx,
		librato.Measurement{Name: "temperature", Value: 80, Time: t1, Tags: map[string]string{"city": "sf"}},
		librato.Measurement{Name: "temperature", Value: 70, Time: t1, Tags: map[string]string{"city": "nyc", "region": "us-east"}},
		librato.Measurement{Name: "cpu", Time: t1, Summary: &librato.Summary{Count: 3, Sum: 35, Min: 4.5, Max: 6.7, Last: librato.Float(2.5)}},
	)
	require.NoError(t, err)
	paths, bodies := posts(srv)
	assert.Equal(t, []string{"/v1/measurements"}, paths, "a client with tags sends everything tagged")
	require.Len(t, bodies, 1)
	assert.NotContains(t, bodies[0], "tags", "tags are merged per measurement, never top level")

	byCity := map[string]libratotest.Point{}
	for _, p := range srv.Measurements("temperature") {
		byCity[p.Tags["city"]] = p
	}
	require.Len(t, byCity, 2)
	assert.Equal(t, map[string]string{"city": "sf", "company": "librato", "region": "us-west"}, byCity["sf"].Tags)
	assert.Equal(t, 80.0, byCity["sf"].Value)
	assert.Equal(t, map[string]string{"city": "nyc", "company": "librato", "region": "us-east"}, byCity["nyc"].Tags,
		"the measurement's tag wins over the client's")

	cpu := srv.Measurements("cpu")
	require.Len(t, cpu, 1)
	assert.Equal(t, map[string]string{"company": "librato", "region": "us-west"}, cpu[0].Tags)
	assert.EqualValues(t, 3, cpu[0].Count)
	assert.Equal(t, 35.0, cpu[0].Sum)
	assert.Equal(t, 4.5, cpu[0].Min)
	assert.Equal(t, 6.7, cpu[0].Max)
	assert.Equal(t, 2.5, cpu[0].Last)
	assert.Equal(t, t1.Unix(), cpu[0].Time.Unix())
}

func TestSubmitIntegrationMixedAndChunked(t *testing.T) {
	srv, c := fakeClient(t, nil)
	t1 := time.Now().Add(-time.Minute).Truncate(time.Second)
	var ms []librato.Measurement
	for i := range 301 {
		ms = append(ms, librato.Measurement{Name: "series", Value: float64(i), Source: fmt.Sprintf("s%d", i), Time: t1})
	}
	ms = append(ms, librato.Measurement{Name: "tagged", Value: 1, Time: t1, Tags: map[string]string{"host": "h1"}})
	require.NoError(t, c.Submit(context.Background(), ms...))
	paths, bodies := posts(srv)
	assert.Equal(t, []string{"/v1/metrics", "/v1/metrics", "/v1/measurements"}, paths)
	require.Len(t, bodies, 3)
	assert.Len(t, bodies[0]["gauges"], 300)
	assert.Len(t, bodies[1]["gauges"], 1)
	assert.Len(t, bodies[2]["measurements"], 1)
	assert.Len(t, srv.Measurements("series"), 301)
	assert.Len(t, srv.Measurements("tagged"), 1)
}

func TestSubmitIntegrationFailedChunkIsNotResent(t *testing.T) {
	srv, c := fakeClient(t, nil, librato.WithChunkSize(2))
	var n atomic.Int32
	require.NoError(t, srv.AddFault(libratotest.Fault{Method: http.MethodPost, Func: func(context.Context, libratotest.Request) (int, string, bool) {
		if n.Add(1) == 2 {
			return http.StatusServiceUnavailable, `{"errors":{"system":["try later"]}}`, true
		}
		return 0, "", false
	}}))
	t1 := time.Now().Add(-time.Minute).Truncate(time.Second)
	var ms []librato.Measurement
	for i := range 5 {
		ms = append(ms, librato.Measurement{Name: "m", Value: float64(i), Source: fmt.Sprintf("s%d", i), Time: t1})
	}
	err := c.Submit(context.Background(), ms...)
	var se *librato.SubmitError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, 2, se.Sent)
	assert.Equal(t, []int{2, 3, 4}, se.UnsentIndices)
	assert.ErrorIs(t, err, librato.ErrServer)
	assert.Len(t, srv.Measurements("m"), 2, "the first chunk was stored once")
	paths, _ := posts(srv)
	assert.Len(t, paths, 2, "nothing after the failed chunk")

	// Resending exactly the unsent ones completes the data without duplicates.
	srv.ClearFaults()
	var rest []librato.Measurement
	for _, i := range se.UnsentIndices {
		rest = append(rest, ms[i])
	}
	require.NoError(t, c.Submit(context.Background(), rest...))
	points := srv.Measurements("m")
	require.Len(t, points, 5)
	for _, p := range points {
		assert.EqualValues(t, 1, p.Count, "source %s stored once", p.Source)
	}
}

func TestSubmitIntegrationInvalidSendsNothing(t *testing.T) {
	srv, c := fakeClient(t, nil)
	err := c.Submit(context.Background(),
		librato.Measurement{Name: "ok", Value: 1},
		librato.Measurement{Name: "bad name", Value: 1},
		librato.Measurement{Name: "nan", Value: math.NaN()},
	)
	require.Error(t, err)
	assert.True(t, errors.Is(err, librato.ErrInvalid))
	assert.Contains(t, err.Error(), `measurement 1 "bad name"`)
	assert.Contains(t, err.Error(), `measurement 2 "nan"`)
	assert.Empty(t, srv.Requests())
	require.NoError(t, c.Submit(context.Background()))
	assert.Empty(t, srv.Requests(), "no measurements, no request")
}

func TestSubmitIntegrationAppOptics(t *testing.T) {
	srv, c := fakeClient(t, []libratotest.Option{libratotest.WithAppOptics()})
	require.NoError(t, c.Submit(context.Background(), librato.Measurement{Name: "cpu", Value: 1.5, Tags: map[string]string{"host": "h1"}}))
	paths, _ := posts(srv)
	assert.Equal(t, []string{"/v1/measurements"}, paths)
	points := srv.Measurements("cpu")
	require.Len(t, points, 1)
	assert.Equal(t, 1.5, points[0].Value)
	assert.Equal(t, map[string]string{"host": "h1"}, points[0].Tags)

	err := c.Submit(context.Background(), librato.Measurement{Name: "hits", Value: 1, Type: librato.Counter})
	assert.ErrorContains(t, err, "counters exist only in the legacy API")
}
