package librato_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Alerts through the public API against the fake server (the internal tests are in
// alerts_internal_test.go).

func TestAlertLifecycleAgainstFake(t *testing.T) {
	srv, c := fakeClientAt(t, libratotest.WithPageSize(2))
	ctx := t.Context()
	ops, err := c.Services.Create(ctx, librato.Service{Type: "mail", Title: "ops", Settings: map[string]any{"addresses": "ops@example.com"}})
	require.NoError(t, err)
	pager, err := c.Services.Create(ctx, librato.Service{Type: "pagerduty", Title: "pager", Settings: map[string]any{"service_key": "k"}})
	require.NoError(t, err)

	// Saved: five alerts, so that listing them takes 3 pages of 2.
	var ids []librato.ID
	for i := range 5 {
		latency := librato.Above("api.latency", 200)
		latency.SummaryFunction, latency.Duration = "max", 5*time.Minute
		al, err := c.Alerts.Create(ctx, librato.Alert{Name: fmt.Sprintf("int.alert.%d", i), Description: "alert " + fmt.Sprint(i),
			Services: []librato.ID{ops.ID}, Conditions: []librato.Condition{latency, librato.Absent("heartbeat", 10*time.Minute)}})
		require.NoError(t, err)
		require.NotZero(t, al.ID)
		require.Len(t, al.Conditions, 2)
		assert.NotZero(t, al.Conditions[0].ID)
		assert.Equal(t, []librato.ID{ops.ID}, al.Services)
		ids = append(ids, al.ID)
	}
	_, err = c.Alerts.Create(ctx, librato.Alert{Name: "unrelated", Conditions: []librato.Condition{librato.Below("cpu", 1)}})
	require.NoError(t, err)

	// Listed over 3 pages.
	opts := &librato.AlertListOptions{ListOptions: librato.ListOptions{Name: "int.alert"}}
	var listed []librato.ID
	for al, err := range c.Alerts.All(ctx, opts) {
		require.NoError(t, err)
		listed = append(listed, al.ID)
	}
	assert.ElementsMatch(t, ids, listed)
	assert.Equal(t, 3, countRequests(srv, "GET", "/v1/alerts"))
	assert.Equal(t, librato.ListOptions{Name: "int.alert"}, opts.ListOptions, "options are not modified")

	// Page by page through the cursor: the fake serves two alerts a page here.
	var cursors []string
	seen := 0
	lo := librato.AlertListOptions{}
	for {
		page, err := c.Alerts.List(ctx, &lo)
		require.NoError(t, err)
		assert.Equal(t, 6, page.Found)
		seen += len(page.Items)
		if page.Next == "" {
			break
		}
		cursors = append(cursors, page.Next)
		lo.Cursor = page.Next
	}
	assert.Equal(t, 6, seen)
	assert.Equal(t, []string{"2", "4"}, cursors)
	_, err = c.Alerts.List(ctx, &librato.AlertListOptions{ListOptions: librato.ListOptions{Cursor: "x"}})
	assert.ErrorContains(t, err, "not a cursor")

	// Updated without losing conditions: fetch, change, add one, save.
	al, err := c.Alerts.GetByName(ctx, "int.alert.1")
	require.NoError(t, err)
	require.Equal(t, ids[1], al.ID)
	oldIDs := []librato.ID{al.Conditions[0].ID, al.Conditions[1].ID}
	al.Description, al.Rearm = "changed", 30*time.Minute
	apiErrors := librato.Above("api.errors", 5)
	apiErrors.Tags = []librato.ConditionTag{{Name: "service", Values: []string{"api"}}}
	al.Conditions = append(al.Conditions, apiErrors)
	require.NoError(t, c.Alerts.Update(ctx, *al))

	got, err := c.Alerts.Get(ctx, al.ID)
	require.NoError(t, err)
	assert.Equal(t, "changed", got.Description)
	assert.Equal(t, 30*time.Minute, got.Rearm)
	require.Len(t, got.Conditions, 3)
	assert.Equal(t, oldIDs, []librato.ID{got.Conditions[0].ID, got.Conditions[1].ID}, "existing conditions keep their IDs")
	assert.Equal(t, librato.Condition{ID: oldIDs[0], Type: librato.ConditionAbove, MetricName: "api.latency",
		Threshold: 200, SummaryFunction: "max", Duration: 5 * time.Minute}, got.Conditions[0])
	assert.Equal(t, librato.Condition{ID: oldIDs[1], Type: librato.ConditionAbsent, MetricName: "heartbeat",
		Duration: 10 * time.Minute}, got.Conditions[1])
	assert.Equal(t, []librato.ConditionTag{{Name: "service", Values: []string{"api"}}}, got.Conditions[2].Tags)
	assert.True(t, got.MD)

	// Why Update is given the whole alert: a PUT carrying one condition leaves one.
	replaced := librato.Alert{ID: ids[2], Name: "int.alert.2", Conditions: []librato.Condition{librato.Above("only.this", 1)}}
	require.NoError(t, c.Alerts.Update(ctx, replaced))
	got, err = c.Alerts.Get(ctx, ids[2])
	require.NoError(t, err)
	require.Len(t, got.Conditions, 1)
	assert.Equal(t, "only.this", got.Conditions[0].MetricName)

	// Services attached and detached.
	require.NoError(t, c.Alerts.AttachService(ctx, ids[0], pager.ID))
	require.NoError(t, c.Alerts.DetachService(ctx, ids[0], ops.ID))
	got, err = c.Alerts.Get(ctx, ids[0])
	require.NoError(t, err)
	assert.Equal(t, []librato.ID{pager.ID}, got.Services)
	assert.ErrorIs(t, c.Alerts.DetachService(ctx, ids[0], ops.ID), librato.ErrNotFound)

	// Status, fired by the fake's helper, then cleared.
	st, err := c.Alerts.Status(ctx, ids[0])
	require.NoError(t, err)
	assert.Equal(t, librato.AlertOK, st)
	require.True(t, srv.FireAlert(ids[0]))
	st, err = c.Alerts.Status(ctx, ids[0])
	require.NoError(t, err)
	assert.Equal(t, librato.AlertTriggered, st)
	sum, err := c.Alerts.Firing(ctx)
	require.NoError(t, err)
	assert.Equal(t, []librato.FiringAlert{{ID: ids[0], TriggeredAt: fakeNow}}, sum.Firing)
	assert.Empty(t, sum.Cleared)

	require.NoError(t, c.Alerts.Clear(ctx, ids[0]))
	st, err = c.Alerts.Status(ctx, ids[0])
	require.NoError(t, err)
	assert.Equal(t, librato.AlertOK, st)
	sum, err = c.Alerts.Firing(ctx)
	require.NoError(t, err)
	assert.Empty(t, sum.Firing)
	assert.Equal(t, []librato.ClearedAlert{{ID: ids[0], ClearedAt: fakeNow}}, sum.Cleared)

	// Deleted.
	require.NoError(t, c.Alerts.Delete(ctx, ids[0]))
	_, err = c.Alerts.Get(ctx, ids[0])
	assert.ErrorIs(t, err, librato.ErrNotFound)
	_, err = c.Alerts.GetByName(ctx, "int.alert.0")
	assert.ErrorIs(t, err, librato.ErrNotFound)
	assert.ErrorIs(t, c.Alerts.Delete(ctx, ids[0]), librato.ErrNotFound)
	_, err = c.Alerts.Status(ctx, ids[0])
	assert.ErrorIs(t, err, librato.ErrNotFound)
}

func TestAlertDuplicateNameAgainstFake(t *testing.T) {
	_, c := fakeClientAt(t)
	for i, want := range []error{nil, librato.ErrAlreadyExists} {
		_, err := c.Alerts.Create(t.Context(), librato.Alert{Name: "dup", Conditions: []librato.Condition{librato.Above("cpu", float64(i))}})
		if want == nil {
			require.NoError(t, err)
		} else {
			assert.ErrorIs(t, err, want)
		}
	}
}

func TestAlertsOnAppOpticsFake(t *testing.T) {
	srv, c := fakeClientAt(t, libratotest.WithAppOptics())
	cpu := librato.Above("cpu", 90)
	cpu.Tags = []librato.ConditionTag{{Name: "env", Grouped: true, Values: []string{"prod"}}}
	al, err := c.Alerts.Create(t.Context(), librato.Alert{Name: "ao.alert", Conditions: []librato.Condition{cpu}})
	require.NoError(t, err)
	got, err := c.Alerts.Get(t.Context(), al.ID)
	require.NoError(t, err)
	assert.True(t, got.MD)
	assert.Equal(t, "", got.Conditions[0].Source, `tagged clients send no source "*"`)
	assert.Equal(t, []librato.ConditionTag{{Name: "env", Grouped: true, Values: []string{"prod"}}}, got.Conditions[0].Tags)
	assert.Equal(t, 1, countRequests(srv, "POST", "/v1/alerts"))
}
