package cli

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"
)

// seedAlerts creates two alerts and fires the first.
func seedAlerts(t *testing.T, srv *libratotest.Server) (librato.ID, librato.ID) {
	t.Helper()
	cl, err := srv.Client()
	require.NoError(t, err)
	ctx := context.Background()
	latency := librato.Above("api.latency", 200)
	latency.SummaryFunction, latency.Duration = "max", 5*time.Minute
	hi, err := cl.Alerts.Create(ctx, librato.Alert{Name: "api.latency.high", Description: "API is slow",
		Conditions: []librato.Condition{latency}})
	require.NoError(t, err)
	heartbeat := librato.Absent("heartbeat", 10*time.Minute)
	heartbeat.Source = "web*"
	hb, err := cl.Alerts.Create(ctx, librato.Alert{Name: "heartbeat.missing", Conditions: []librato.Condition{heartbeat}})
	require.NoError(t, err)
	require.True(t, srv.FireAlert(hi.ID))
	return hi.ID, hb.ID
}

func TestAlerts(t *testing.T) {
	srv := newFake(t)
	hi, _ := seedAlerts(t, srv) // a fresh fake numbers them the same way every time
	id := strconv.FormatInt(int64(hi), 10)
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"alerts-list", []string{"alerts", "list"}},
		{"alerts-list-json", []string{"alerts", "list", "--name", "heartbeat", "--output", "json"}},
		{"alerts-list-csv", []string{"alerts", "list", "--output", "csv"}},
		{"alerts-status", []string{"alerts", "status"}},
		{"alerts-status-id", []string{"alerts", "status", id}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, srv, "", tt.args...)
			require.Equal(t, ExitOK, r.code, r.stderr)
			golden(t, srv, tt.name, r.stdout)
		})
	}

	r := runCLI(t, srv, "", "alerts", "clear", id)
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Equal(t, "alert "+id+" cleared\n", r.stdout)
	r = runCLI(t, srv, "", "alerts", "status", id)
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Equal(t, "alert "+id+": ok\n", r.stdout)

	r = runCLI(t, srv, "", "alerts", "status", "99")
	assert.Equal(t, ExitError, r.code)
	assert.Contains(t, r.stderr, "404")

	for _, args := range [][]string{{"alerts"}, {"alerts", "fire"}, {"alerts", "clear"}, {"alerts", "clear", "x"}, {"alerts", "status", "1", "2"}, {"alerts", "list", "x"}} {
		r := runCLI(t, srv, "", args...)
		assert.Equal(t, ExitUsage, r.code, "%v", args)
	}
}
