package librato_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"testing"

	"github.com/h2non/gock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"
)

func gockClient(t *testing.T) *librato.Client {
	t.Helper()
	t.Cleanup(gock.Off)
	c, err := librato.Connect("user@example.com", "token", librato.WithBaseURL("https://metrics-api.librato.com/v1/"),
		librato.WithRetry(librato.RetryPolicy{MaxAttempts: 1}))
	require.NoError(t, err)
	return c
}

func fixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	require.NoError(t, err)
	return string(b)
}

var cpuChart = librato.Chart{
	Type: librato.ChartBigNumber, Name: "CPU Usage",
	Streams: []librato.Stream{{Metric: "librato.cpu.percent.user",
		Tags: []librato.StreamTag{{Name: "environment", Values: []string{"prod"}}}}},
	Thresholds: []librato.Threshold{{Operator: ">", Value: 90, Type: "red"}},
}

func TestSpacesWire(t *testing.T) {
	c := gockClient(t)
	ctx := context.Background()

	// TV22: create a space, read it back with its chart IDs.
	gock.New("https://metrics-api.librato.com").Post("/v1/spaces").MatchType("json").JSON(map[string]string{"name": "CPUs"}).
		Reply(201).SetHeader("Location", "/v1/spaces/129").JSON(map[string]any{"id": 129, "name": "CPUs"})
	sp, err := c.Spaces.Create(ctx, "CPUs")
	require.NoError(t, err)
	assert.Equal(t, librato.Space{ID: 129, Name: "CPUs"}, *sp)

	gock.New("https://metrics-api.librato.com").Get("/v1/spaces/129").Reply(200).BodyString(fixture(t, "spaces/get_space.json"))
	sp, err = c.Spaces.Get(ctx, 129)
	require.NoError(t, err)
	var ids []librato.ID
	for _, ch := range sp.Charts {
		ids = append(ids, ch.ID)
	}
	assert.Equal(t, []librato.ID{915, 1321, 47842, 922}, ids)

	// TV22: a big-number chart with thresholds, byte for byte the documented body.
	gock.New("https://metrics-api.librato.com").Post("/v1/spaces/129/charts").MatchType("json").
		BodyString(compactJSON(t, fixture(t, "spaces/create_chart_request.json"))).
		Reply(201).JSON(map[string]any{"id": 3, "name": "CPU Usage", "type": "bignumber"})
	ch, err := c.Spaces.CreateChart(ctx, 129, cpuChart)
	require.NoError(t, err)
	assert.Equal(t, librato.ID(3), ch.ID)

	gock.New("https://metrics-api.librato.com").Get("/v1/spaces").MatchParam("name", "ops").
		Reply(200).BodyString(fixture(t, "spaces/list_spaces.json"))
	page, err := c.Spaces.List(ctx, &librato.ListOptions{Name: "ops"})
	require.NoError(t, err)
	assert.Equal(t, []librato.Space{{ID: 4, Name: "staging_ops"}}, page.Items)
	assert.Equal(t, 1, page.Found)
	assert.Empty(t, page.Next)

	gock.New("https://metrics-api.librato.com").Delete("/v1/spaces/129/charts/3").Reply(204)
	require.NoError(t, c.Spaces.DeleteChart(ctx, 129, 3))
	assert.True(t, gock.IsDone(), "pending mocks: %v", gock.Pending())
}

func TestChartValidation(t *testing.T) {
	c := gockClient(t) // no mocks: any request would fail the test with an unmatched-request error
	for _, tc := range []struct {
		name  string
		chart librato.Chart
		want  string
	}{
		{"no streams", librato.Chart{Name: "x"}, "at least one stream"},
		{"bad type", librato.Chart{Type: "pie", Streams: []librato.Stream{{Metric: "m"}}}, `type "pie"`},
		{"bignumber without thresholds", librato.Chart{Type: librato.ChartBigNumber, Streams: []librato.Stream{{Metric: "m"}}}, "needs thresholds"},
		{"bad threshold", librato.Chart{Type: librato.ChartBigNumber, Streams: []librato.Stream{{Metric: "m"}},
			Thresholds: []librato.Threshold{{Operator: ">=", Value: 1, Type: "blue"}}}, `operator ">="`},
		{"composite with metric", librato.Chart{Streams: []librato.Stream{{Metric: "m", Composite: `s("m","*")`}}}, "composite excludes"},
		{"empty stream", librato.Chart{Streams: []librato.Stream{{}}}, "needs a metric or a composite"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.Spaces.CreateChart(context.Background(), 1, tc.chart)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	_, err := c.Spaces.Create(context.Background(), "")
	assert.ErrorContains(t, err, "empty name")
	_, err = c.Services.Create(context.Background(), librato.Service{})
	assert.ErrorContains(t, err, "empty type")
}

func TestServiceIDDecodesStringsAndNumbers(t *testing.T) {
	c := gockClient(t)
	gock.New("https://metrics-api.librato.com").Get("/v1/services/145").Reply(200).
		BodyString(`{"id":"145","type":"mail","settings":{"addresses":"ops@example.com"},"title":"Ops"}`)
	s, err := c.Services.Get(context.Background(), 145)
	require.NoError(t, err)
	assert.Equal(t, librato.ID(145), s.ID)
	assert.Equal(t, "ops@example.com", s.Settings["addresses"])
}

func TestSpacesChartsServicesAgainstFake(t *testing.T) {
	_, c := fakeClient(t, []libratotest.Option{libratotest.WithPageSize(2)})
	ctx := context.Background()

	var created []librato.ID
	for _, name := range []string{"web", "db", "api", "cache", "queue"} {
		sp, err := c.Spaces.Create(ctx, name)
		require.NoError(t, err)
		created = append(created, sp.ID)
	}
	_, err := c.Spaces.Create(ctx, "WEB")
	var apiErr *librato.Error
	require.True(t, errors.As(err, &apiErr), "duplicate name: %v", err)
	assert.Equal(t, http.StatusUnprocessableEntity, apiErr.StatusCode)

	var names []string
	for sp, err := range c.Spaces.All(ctx, nil) {
		require.NoError(t, err)
		names = append(names, sp.Name)
	}
	assert.Equal(t, []string{"api", "cache", "db", "queue", "web"}, names, "all pages, sorted by name")

	web := created[0]
	ch, err := c.Spaces.CreateChart(ctx, web, cpuChart)
	require.NoError(t, err)
	line := librato.Chart{Name: "latency", Streams: []librato.Stream{{Composite: `mean(s("api.latency", "*"))`}}}
	ch2, err := c.Spaces.CreateChart(ctx, web, line)
	require.NoError(t, err)
	assert.Equal(t, "line", ch2.Type, "the fake, like the API, defaults the type")

	page, err := c.Spaces.ListCharts(ctx, web)
	require.NoError(t, err)
	charts := page.Items
	require.Len(t, charts, 2)
	assert.Equal(t, 2, page.Found)
	assert.Empty(t, page.Next)
	assert.Equal(t, cpuChart.Thresholds, charts[0].Thresholds)
	assert.Equal(t, cpuChart.Streams, charts[0].Streams)

	ch.Name = "CPU (user)"
	ch.Thresholds = append(ch.Thresholds, librato.Threshold{Operator: ">", Value: 75, Type: "yellow"})
	_, err = c.Spaces.UpdateChart(ctx, web, *ch)
	require.NoError(t, err)
	got, err := c.Spaces.GetChart(ctx, web, ch.ID)
	require.NoError(t, err)
	assert.Equal(t, "CPU (user)", got.Name)
	assert.Len(t, got.Thresholds, 2)

	require.NoError(t, c.Spaces.DeleteChart(ctx, web, ch2.ID))
	sp, err := c.Spaces.Get(ctx, web)
	require.NoError(t, err)
	require.Len(t, sp.Charts, 1)
	assert.Equal(t, ch.ID, sp.Charts[0].ID)

	require.NoError(t, c.Spaces.Update(ctx, web, "frontend"))
	require.NoError(t, c.Spaces.Delete(ctx, created[1]))
	_, err = c.Spaces.Get(ctx, created[1])
	assert.ErrorIs(t, err, librato.ErrNotFound)
	_, err = c.Spaces.GetChart(ctx, created[2], ch.ID)
	assert.ErrorIs(t, err, librato.ErrNotFound, "a chart is found only in its own space")

	svc, err := c.Services.Create(ctx, librato.Service{Type: "mail", Title: "Ops", Settings: map[string]any{"addresses": "ops@example.com"}})
	require.NoError(t, err)
	require.NotZero(t, svc.ID)
	svc.Title = "Ops team"
	require.NoError(t, c.Services.Update(ctx, *svc))
	var titles []string
	for s, err := range c.Services.All(ctx, nil) {
		require.NoError(t, err)
		titles = append(titles, s.Title)
	}
	assert.Equal(t, []string{"Ops team"}, titles)
	require.NoError(t, c.Services.Delete(ctx, svc.ID))
	_, err = c.Services.Get(ctx, svc.ID)
	assert.ErrorIs(t, err, librato.ErrNotFound)
}

func compactJSON(t *testing.T, s string) string {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, json.Compact(&buf, []byte(s)))
	return buf.String()
}
