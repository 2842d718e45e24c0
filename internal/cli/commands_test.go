package cli

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"
)

// seed stores a small data set: a legacy gauge with two sources, a counter and a tagged gauge.
func seed(t *testing.T, srv *libratotest.Server) {
	t.Helper()
	cl, err := srv.Client()
	require.NoError(t, err)
	var ms []librato.Measurement
	for i := range 10 {
		at := fixedNow.Add(time.Duration(i-10) * time.Minute)
		ms = append(ms,
			librato.Measurement{Name: "cpu.load", Value: float64(i % 5), Source: "web1", Time: at},
			librato.Measurement{Name: "cpu.load", Value: float64(10 - i), Source: "web2", Time: at},
			librato.Measurement{Name: "api.latency", Value: float64(100 + 10*i), Tags: map[string]string{"region": "eu"}, Time: at},
		)
	}
	ms = append(ms, librato.Measurement{Name: "jobs.done", Value: 7, Type: librato.Counter, Time: fixedNow.Add(-time.Minute)})
	require.NoError(t, cl.Submit(context.Background(), ms...))
}

func TestSubmitGolden(t *testing.T) {
	srv := newFake(t)
	var out strings.Builder
	for _, args := range [][]string{
		{"submit", "app.requests", "42"},
		{"submit", "disk.free", "12.5", "--source", "web1", "--time", "-5m"},
		{"submit", "api.latency", "87", "--tag", "region=eu", "--tag", "host=web1", "--time", "5 minutes ago"},
		{"submit", "jobs.done", "1200", "--counter", "--time", "1768477800"},
		{"submit", "jobs.done", "--counter", "1201"},             // flags between positionals
		{"submit", "outside.temp", "-5.5", "--source", "garden"}, // a negative value is not a flag
	} {
		r := runCLI(t, srv, "", args...)
		require.Equal(t, ExitOK, r.code, r.stderr)
		fmt.Fprintf(&out, "$ librato %s\n%s", strings.Join(args, " "), r.stdout)
	}
	golden(t, srv, "submit", out.String())

	assert.Len(t, srv.Measurements("app.requests"), 1)
	pts := srv.Measurements("api.latency")
	require.Len(t, pts, 1)
	assert.Equal(t, map[string]string{"region": "eu", "host": "web1"}, pts[0].Tags)
	assert.Equal(t, fixedNow.Add(-5*time.Minute), pts[0].Time)
	m, ok := srv.Metric("jobs.done")
	require.True(t, ok)
	assert.Equal(t, "counter", m.Type)
}

func TestSubmitErrors(t *testing.T) {
	srv := newFake(t)
	tests := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"submit", "x"}, ExitUsage, "want NAME and VALUE"},
		{[]string{"submit", "x", "abc"}, ExitUsage, "not a finite number"},
		{[]string{"submit", "x", "NaN"}, ExitUsage, "not a finite number"},
		{[]string{"submit", "x", "1", "--time", "whenever"}, ExitUsage, "cannot read time"},
		{[]string{"submit", "x", "1", "--tag", "novalue"}, ExitUsage, "not NAME=VALUE"},
		{[]string{"submit", "x", "1", "--counter", "--tag", "a=b"}, ExitUsage, "--counter cannot"},
		{[]string{"submit", "bad name!", "1"}, ExitUsage, "bad name!"}, // refused before sending: a local validation error
		{[]string{"submit", "x", "1", "--time", "-3h"}, ExitError, "too far in the past"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCLI(t, srv, "", tt.args...)
			assert.Equal(t, tt.code, r.code, r.stderr)
			assert.Contains(t, r.stderr, tt.msg)
		})
	}
}

func TestGetGolden(t *testing.T) {
	srv := newFake(t)
	seed(t, srv)
	tests := []struct {
		name string
		args []string
	}{
		{"get-legacy", []string{"get", "cpu.load", "--start", "-1h"}},
		{"get-source", []string{"get", "cpu.load", "--source", "web1", "--start", "-1h"}},
		{"get-tagged", []string{"get", "api.latency", "--start", "-1h"}},
		{"get-tag-filter", []string{"get", "api.latency", "--tag", "region=eu", "--start", "-1h", "--end", "-5m"}},
		{"get-csv", []string{"get", "cpu.load", "--start", "-1h", "--output", "csv"}},
		{"get-json", []string{"get", "api.latency", "--start", "-1h", "--output", "json"}},
		{"get-empty", []string{"get", "cpu.load", "--start", "-10d", "--end", "-9d"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, srv, "", tt.args...)
			require.Equal(t, ExitOK, r.code, r.stderr)
			golden(t, srv, tt.name, r.stdout)
		})
	}
	t.Run("missing metric", func(t *testing.T) {
		r := runCLI(t, srv, "", "get", "no.such.metric")
		assert.Equal(t, ExitError, r.code)
		assert.Contains(t, r.stderr, "404")
	})
	t.Run("end before start", func(t *testing.T) {
		r := runCLI(t, srv, "", "get", "cpu.load", "--start", "-1h", "--end", "-2h")
		assert.Equal(t, ExitUsage, r.code)
	})
}

func TestListGolden(t *testing.T) {
	srv := newFake(t, libratotest.WithPageSize(2)) // forces paging over 4 metrics
	seed(t, srv)
	for _, tt := range []struct {
		name string
		args []string
	}{
		{"list", []string{"list"}},
		{"list-filter", []string{"list", "--name", "CPU"}},
		{"list-csv", []string{"list", "--output", "csv"}},
		{"list-json", []string{"list", "--name", "jobs", "--output", "json"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, srv, "", tt.args...)
			require.Equal(t, ExitOK, r.code, r.stderr)
			golden(t, srv, tt.name, r.stdout)
		})
	}
}

func TestDelete(t *testing.T) {
	srv := newFake(t)
	seed(t, srv)
	_, ok := srv.Metric("jobs.done")
	require.True(t, ok)

	r := runCLI(t, srv, "", "delete", "jobs.done")
	require.Equal(t, ExitOK, r.code, r.stderr)
	_, ok = srv.Metric("jobs.done")
	assert.False(t, ok)

	// A pattern delete asks first; "n" keeps everything and exits 1.
	r = runCLI(t, srv, "n\n", "delete", "--pattern", "cpu.*")
	assert.Equal(t, ExitError, r.code)
	assert.Contains(t, r.stderr, "1 metric matching \"cpu.*\":\n  cpu.load\n")
	assert.Contains(t, r.stderr, "not confirmed")
	_, ok = srv.Metric("cpu.load")
	assert.True(t, ok)

	// No answer at all (EOF) is no.
	r = runCLI(t, srv, "", "delete", "--pattern", "cpu.*")
	assert.Equal(t, ExitError, r.code)
	_, ok = srv.Metric("cpu.load")
	assert.True(t, ok)

	r = runCLI(t, srv, "yes\n", "delete", "--pattern", "cpu.*")
	require.Equal(t, ExitOK, r.code, r.stderr)
	var out strings.Builder
	out.WriteString(r.stdout)
	_, ok = srv.Metric("cpu.load")
	assert.False(t, ok)

	r = runCLI(t, srv, "", "delete", "--pattern", "api.*", "--yes")
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.NotContains(t, r.stderr, "[y/N]")
	out.WriteString(r.stdout)
	_, ok = srv.Metric("api.latency")
	assert.False(t, ok)

	r = runCLI(t, srv, "", "delete", "--pattern", "nothing.*")
	require.Equal(t, ExitOK, r.code, r.stderr)
	out.WriteString(r.stdout)
	golden(t, srv, "delete", out.String())

	for _, args := range [][]string{{"delete"}, {"delete", "a", "--pattern", "b*"}, {"delete", "--pattern", "bad pattern"}} {
		r := runCLI(t, srv, "", args...)
		assert.Equal(t, ExitUsage, r.code, "%v", args)
	}
}

// TestGetFallsBackToTagged: when the legacy read is refused (400), get reads the tagged series.
func TestGetFallsBackToTagged(t *testing.T) {
	srv := newFake(t)
	seed(t, srv)
	require.NoError(t, srv.AddFault(libratotest.Fault{Path: "/v1/metrics/api.latency", Func: func(_ context.Context, r libratotest.Request) (int, string, bool) {
		if r.Query.Get("start_time") != "" {
			return 400, `{"errors":{"request":["tagged metric: use /v1/measurements"]}}`, true
		}
		return 0, "", false
	}}))
	r := runCLI(t, srv, "", "get", "api.latency", "--start", "-1h", "--output", "csv")
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "api.latency,,region=eu,2026-01-15T11:59:00Z,1768478340,190\n")
}

// TestMessagesCarryOnePrefix: the command's "librato NAME:" is the only prefix; the library's own
// "librato: " and the repeated command name go.
func TestMessagesCarryOnePrefix(t *testing.T) {
	srv := newFake(t)
	r := runCLI(t, srv, "", "submit", "x", "1", "--time", "-3h")
	assert.Equal(t, ExitError, r.code)
	assert.Equal(t, "librato submit: 0 measurements sent, 1 measurement rejected (x): POST "+srv.URL+
		"/v1/metrics: [400] params: measure_time: is too far in the past"+
		" (the API takes measurement times up to about 2 hours old; the exact limit is not published)\n", r.stderr)

	r = runCLI(t, srv, "", "get", "no.such")
	assert.Equal(t, ExitError, r.code)
	assert.Equal(t, `librato get: no metric named "no.such" (GET `+srv.URL+"/v1/metrics/no.such: [404] request: Not found)\n", r.stderr)
}

func TestDeleteSaysWhatDidNotExist(t *testing.T) {
	srv := newFake(t)
	seed(t, srv)
	r := runCLI(t, srv, "", "delete", "cpu.load", "no.such")
	assert.Equal(t, ExitError, r.code)
	assert.Equal(t, "deleted 1 metric: cpu.load\n", r.stdout)
	assert.Equal(t, "librato delete: no metric named \"no.such\": nothing to delete\n", r.stderr)
	r = runCLI(t, srv, "", "delete", "a.b", "c.d")
	assert.Equal(t, "librato delete: no metrics named \"a.b\", \"c.d\": nothing to delete\n", r.stderr)
	assert.Empty(t, r.stdout)
}

func TestHumanNumbers(t *testing.T) {
	for v, want := range map[float64]string{
		1200000: "1200000", 123456789.123: "123456789.123", 0.1 + 0.2: "0.3", -42: "-42", 0: "0",
		1e21: "1e+21", 1.5e-9: "1.5e-09", 0.000123: "0.000123",
	} {
		assert.Equal(t, want, humanNumber(v), "%v", v)
	}
	srv := newFake(t)
	r := runCLI(t, srv, "", "submit", "big", "1200000")
	assert.Contains(t, r.stdout, "submitted big = 1200000 (gauge)")
}
