package cli

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 11, 23, 4, 30, 0, 0, time.UTC) // a Monday
	day := func(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }
	tests := []struct {
		in   string
		want time.Time
	}{
		{"now", now},
		{"1763870400", time.Unix(1763870400, 0).UTC()},
		{"0", time.Unix(0, 0).UTC()},
		{"2026-11-20T10:00:00Z", time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)},
		{"2026-11-20T10:00:00+02:00", time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC)},
		{"2026-11-20", day(2026, 11, 20)},
		{"2026-11-20 10:15", time.Date(2026, 11, 20, 10, 15, 0, 0, time.UTC)},
		{"March 3, 2025", day(2025, 3, 3)},
		{"-24h", now.Add(-24 * time.Hour)},
		{"-90m", now.Add(-90 * time.Minute)},
		{"-1h30m", now.Add(-90 * time.Minute)},
		{"-7d", now.Add(-7 * 24 * time.Hour)},
		{"2h ago", now.Add(-2 * time.Hour)},
		{"  2h ago ", now.Add(-2 * time.Hour)},
		{"2w ago", now.Add(-14 * 24 * time.Hour)},
		{"2 hours ago", now.Add(-2 * time.Hour)},
		{"30 minutes ago", now.Add(-30 * time.Minute)},
		{"three days ago", now.Add(-72 * time.Hour)},
		{"yesterday", day(2026, 11, 22)},
		{"Yesterday", day(2026, 11, 22)},
		{"today", day(2026, 11, 23)},
		{"January 1", day(2026, 1, 1)},
		{"jan 1", day(2026, 1, 1)},
		{"1st of March", day(2026, 3, 1)},
		{"December 25th", day(2025, 12, 25)}, // no year and in the future: last year's
		{"November 23", day(2026, 11, 23)},
		{"last monday", day(2026, 11, 16)},
		{"yesterday 10am", time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)},
		{"10:05", time.Date(2026, 11, 23, 10, 5, 0, 0, time.UTC)},
		{"3:15am", time.Date(2026, 11, 23, 3, 15, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseTime(tt.in, now)
			require.NoError(t, err)
			assert.True(t, tt.want.Equal(got), "got %v, want %v", got, tt.want)
		})
	}
}

func TestParseTimeErrors(t *testing.T) {
	now := time.Date(2026, 11, 23, 4, 30, 0, 0, time.UTC)
	for _, in := range []string{"", "  ", "garbage", "March 3 2025 at noonish", "-24x", "5 parsecs ago", "-1", "2026-13-01", "99999999999999"} {
		t.Run(in, func(t *testing.T) {
			_, err := parseTime(in, now)
			assert.Error(t, err)
		})
	}
}

func TestParseTimeLocal(t *testing.T) {
	loc := time.FixedZone("UTC+2", 2*3600)
	now := time.Date(2026, 11, 23, 4, 30, 0, 0, loc)
	got, err := parseTime("yesterday", now)
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 11, 22, 0, 0, 0, 0, loc), got)
	got, err = parseTime("2026-11-20 10:15", now)
	require.NoError(t, err)
	assert.Equal(t, time.Date(2026, 11, 20, 8, 15, 0, 0, time.UTC).Unix(), got.Unix())
}
