package cli

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"
)

// newExport builds an export command from args, as Main would.
func newExport(t *testing.T, args ...string) *exportCmd {
	t.Helper()
	cmd := &exportCmd{format: newChoice("csv", "csv", "json")}
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	cmd.flags(fs)
	pos, err := parseArgs(fs, args)
	require.NoError(t, err)
	require.NoError(t, cmd.args(pos))
	return cmd
}

// dirFiles lists the file names in dir, sorted, without the state file.
func dirFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		if e.Name() != exportStateFile {
			names = append(names, e.Name())
		}
	}
	return names
}

func TestExportGolden(t *testing.T) {
	srv := newFake(t)
	seed(t, srv)
	for _, format := range []string{"csv", "json"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			r := runCLI(t, srv, "", "export", "-D", dir, "--start", "-1h", "--format", format)
			require.Equal(t, ExitOK, r.code, r.stderr)
			assert.Empty(t, r.stderr, "no progress bar when stderr is not a terminal")
			files := dirFiles(t, dir)
			assert.Equal(t, []string{"api.latency@region=eu." + format, "cpu.load@web1." + format, "cpu.load@web2." + format, "jobs.done." + format}, files)
			var all strings.Builder
			all.WriteString(strings.ReplaceAll(r.stdout, dir, "DIR"))
			for _, f := range files {
				b, err := os.ReadFile(filepath.Join(dir, f))
				require.NoError(t, err)
				all.WriteString("=== " + f + "\n" + string(b))
			}
			golden(t, srv, "export-"+format, all.String())
		})
	}
}

func TestExportFileNames(t *testing.T) {
	assert.Equal(t, "cpu.csv", exportFileName(series{Name: "cpu"}, "csv"))
	assert.Equal(t, "cpu@web1.json", exportFileName(series{Name: "cpu", Source: "web1"}, "json"))
	assert.Equal(t, "a%3Ab@h%2Fx%20y.csv", exportFileName(series{Name: "a:b", Source: "h/x y"}, "csv"))
	assert.Equal(t, "cpu@%2E..csv", exportFileName(series{Name: "cpu", Source: ".."}, "csv"))
	assert.Equal(t, "%2Ehidden.csv", exportFileName(series{Name: ".hidden"}, "csv"))
	assert.Equal(t, "m@a=1,b=%40.csv", exportFileName(series{Name: "m", Tags: map[string]string{"b": "@", "a": "1"}}, "csv"))
}

// seedMany stores n legacy metrics m01..mNN with a few points each.
func seedMany(t *testing.T, srv *libratotest.Server, n int) {
	t.Helper()
	cl, err := srv.Client()
	require.NoError(t, err)
	var ms []librato.Measurement
	for i := range n {
		for j := range 3 {
			ms = append(ms, librato.Measurement{Name: "m" + string(rune('a'+i)), Value: float64(i*10 + j), Source: "s",
				Time: fixedNow.Add(time.Duration(j-5) * time.Minute)})
		}
	}
	require.NoError(t, cl.Submit(context.Background(), ms...))
}

// metricReads counts the requests that read the named metric's data.
func metricReads(srv *libratotest.Server, name string) int {
	n := 0
	for _, r := range srv.Requests() {
		if r.Method == "GET" && (r.Path == "/v1/metrics/"+name || r.Path == "/v1/measurements/"+name) {
			n++
		}
	}
	return n
}

// TestExportInterruptedAndResumed cancels an export after two metrics (as SIGINT does), then
// runs it again: the finished metrics are not downloaded again and the rest is.
func TestExportInterruptedAndResumed(t *testing.T) {
	srv := newFake(t)
	seedMany(t, srv, 5)
	dir := t.TempDir()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := newExport(t, "-D", dir, "--start", "-1h")
	cmd.afterMetric = func(done int) {
		if done == 2 {
			cancel()
		}
	}
	env, out, errOut := testEnv(srv, "", nil)
	err := cmd.run(ctx, env)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "interrupted")
	assert.Equal(t, ExitError, exitCode(err))
	assert.Empty(t, out.String())
	assertNoSecret(t, errOut.String())
	assert.Equal(t, []string{"ma@s.csv", "mb@s.csv"}, dirFiles(t, dir))
	st, err := loadExportState(dir)
	require.NoError(t, err)
	assert.Len(t, st.Done, 2)

	// Resume later: the clock moved, but the recorded range is used.
	before := map[string]int{}
	for _, m := range []string{"ma", "mb", "mc", "md", "me"} {
		before[m] = metricReads(srv, m)
	}
	later := fixedNow.Add(30 * time.Minute)
	env, out, errOut = testEnv(srv, "", nil)
	env.Now = func() time.Time { return later }
	require.NoError(t, newExport(t, "-D", dir, "--start", "-1h").run(context.Background(), env))
	assert.Contains(t, errOut.String(), "resuming in "+dir+": 2 metrics already done, range 2026-01-15T11:00:00Z to 2026-01-15T12:00:00Z")
	assert.Equal(t, "export: 5 metrics in "+dir+": 3 metrics exported (3 files written), 2 metrics already done\n", out.String())
	assert.Equal(t, before["ma"], metricReads(srv, "ma"), "finished metric downloaded again")
	assert.Equal(t, before["mb"], metricReads(srv, "mb"), "finished metric downloaded again")
	for _, m := range []string{"mc", "md", "me"} {
		assert.Greater(t, metricReads(srv, m), before[m], m)
	}
	files := dirFiles(t, dir)
	assert.Equal(t, []string{"ma@s.csv", "mb@s.csv", "mc@s.csv", "md@s.csv", "me@s.csv"}, files)
	b, err := os.ReadFile(filepath.Join(dir, "me@s.csv"))
	require.NoError(t, err)
	assert.Equal(t, "name,source,tags,time,unix,value\n"+
		"me,s,,2026-01-15T11:55:00Z,1768478100,40\nme,s,,2026-01-15T11:56:00Z,1768478160,41\nme,s,,2026-01-15T11:57:00Z,1768478220,42\n", string(b))

	// Other settings in the same directory are refused; --restart starts over.
	r := runCLI(t, srv, "", "export", "-D", dir, "--format", "json")
	assert.Equal(t, ExitUsage, r.code)
	assert.Contains(t, r.stderr, "other settings")
	r = runCLI(t, srv, "", "export", "-D", dir, "--format", "json", "--restart", "--start", "-1h")
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Contains(t, r.stdout, "5 metrics exported")
	assert.Len(t, dirFiles(t, dir), 10)
}

// TestExportRateLimit: when the rate-limit headers say the allowance is used up, the export
// waits for the reset instead of running into 429s.
func TestExportRateLimit(t *testing.T) {
	var clock atomic.Int64 // the server's clock, in ns since fixedNow
	srv := newFake(t, libratotest.WithNow(func() time.Time { return fixedNow.Add(time.Duration(clock.Load())) }))
	seedMany(t, srv, 4)
	srv.SetRateLimit(libratotest.RateLimit{Limit: 3, Per: time.Minute, RetryAfter: true})
	var slept []time.Duration
	cmd := newExport(t, "-D", t.TempDir(), "--start", "-1h")
	cmd.sleep = func(ctx context.Context, d time.Duration) error {
		slept = append(slept, d)
		clock.Add(int64(d)) // the window resets on the server's clock
		return nil
	}
	env, out, errOut := testEnv(srv, "", nil)
	env.StderrIsTerminal = true
	require.NoError(t, cmd.run(context.Background(), env), errOut.String())
	assert.Contains(t, out.String(), "4 metrics exported")
	require.NotEmpty(t, slept)
	assert.Equal(t, time.Minute, slept[0])
	assert.Contains(t, errOut.String(), "API rate limit reached")
	assert.Contains(t, errOut.String(), "] 4/4")
	assert.False(t, slices.ContainsFunc(strings.Split(errOut.String(), "\n"), func(s string) bool { return strings.Contains(s, "429") }))
}

// TestExportRefresh: run again into a finished export, the export reads what arrived since, merges
// it into the files (a new series in full), and says when there is nothing new. Files are 0644.
func TestExportRefresh(t *testing.T) {
	var clock atomic.Int64 // ns after fixedNow, for the server and the command alike
	now := func() time.Time { return fixedNow.Add(time.Duration(clock.Load())) }
	srv := newFake(t, libratotest.WithNow(now))
	cl, err := srv.Client()
	require.NoError(t, err)
	submit := func(ms ...librato.Measurement) { require.NoError(t, cl.Submit(context.Background(), ms...)) }
	submit(librato.Measurement{Name: "cpu", Source: "web1", Value: 1, Time: fixedNow.Add(-3 * time.Minute)},
		librato.Measurement{Name: "cpu", Source: "web1", Value: 2, Time: fixedNow.Add(-2 * time.Minute)})
	dir := t.TempDir()
	run := func(args ...string) result {
		env, out, errOut := testEnv(srv, "", nil)
		env.Now = now
		code := run(context.Background(), env, append([]string{"export", "-D", dir}, args...))
		return result{stdout: out.String(), stderr: errOut.String(), code: code}
	}
	r := run("--start", "-1h")
	require.Equal(t, ExitOK, r.code, r.stderr)
	info, err := os.Stat(filepath.Join(dir, "cpu@web1.csv"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), info.Mode().Perm())

	// Nothing new yet: said so, nothing read.
	r = run()
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Equal(t, "export: "+dir+" is up to date (to 2026-01-15T12:00:00Z)\n", r.stdout)

	// Ten minutes later: two new points, a new source with older data, a new metric.
	clock.Store(int64(10 * time.Minute))
	submit(librato.Measurement{Name: "cpu", Source: "web1", Value: 3, Time: fixedNow.Add(2 * time.Minute)},
		librato.Measurement{Name: "cpu", Source: "web1", Value: 4, Time: fixedNow.Add(5 * time.Minute)},
		librato.Measurement{Name: "cpu", Source: "web2", Value: 9, Time: fixedNow.Add(-30 * time.Minute)},
		librato.Measurement{Name: "cpu", Source: "web2", Value: 8, Time: fixedNow.Add(3 * time.Minute)},
		librato.Measurement{Name: "disk", Value: 7, Time: fixedNow.Add(4 * time.Minute)})
	r = run()
	require.Equal(t, ExitOK, r.code, r.stderr)
	assert.Equal(t, "export: refreshing "+dir+" from 2026-01-15T11:59:00Z to 2026-01-15T12:10:00Z\n", r.stderr)
	assert.Equal(t, []string{"cpu@web1.csv", "cpu@web2.csv", "disk.csv"}, dirFiles(t, dir))
	read := func(f string) string {
		b, err := os.ReadFile(filepath.Join(dir, f))
		require.NoError(t, err)
		return string(b)
	}
	assert.Equal(t, "name,source,tags,time,unix,value\n"+
		"cpu,web1,,2026-01-15T11:57:00Z,1768478220,1\ncpu,web1,,2026-01-15T11:58:00Z,1768478280,2\n"+
		"cpu,web1,,2026-01-15T12:02:00Z,1768478520,3\ncpu,web1,,2026-01-15T12:05:00Z,1768478700,4\n", read("cpu@web1.csv"))
	assert.Equal(t, "name,source,tags,time,unix,value\n"+
		"cpu,web2,,2026-01-15T11:30:00Z,1768476600,9\ncpu,web2,,2026-01-15T12:03:00Z,1768478580,8\n", read("cpu@web2.csv"),
		"a series first seen by the refresh is read from the first run's start")
	assert.Equal(t, "name,source,tags,time,unix,value\ndisk,,,2026-01-15T12:04:00Z,1768478640,7\n", read("disk.csv"))

	// A refresh keeps the settings: another format is explained, not called unfinished.
	r = run("--format", "json")
	assert.Equal(t, ExitUsage, r.code)
	assert.Contains(t, r.stderr, "holds a finished export with other settings")
	assert.NotContains(t, r.stderr, "unfinished")
}

func TestExportFilesReadBack(t *testing.T) {
	v := 1.5
	s := series{Name: "api", Tags: map[string]string{"a": "1", "b": "2"}, Points: []point{{Time: fixedNow, Value: &v}, {Time: fixedNow.Add(time.Minute)}}}
	for _, format := range []string{"csv", "json"} {
		path := filepath.Join(t.TempDir(), "f."+format)
		require.NoError(t, writeFileAtomic(path, func(f *os.File) error {
			if format == "json" {
				return writeJSON(f, s)
			}
			return writeSeriesCSV(f, []series{s}, true)
		}))
		got, err := readExportFile(path, format)
		require.NoError(t, err)
		assert.Equal(t, s, got, format)
	}
	newer := 2.5
	merged := mergePoints(s.Points, []point{{Time: fixedNow.Add(time.Minute), Value: &newer}, {Time: fixedNow.Add(-time.Minute)}})
	require.Len(t, merged, 3)
	assert.Equal(t, fixedNow.Add(-time.Minute), merged[0].Time)
	assert.Equal(t, &newer, merged[2].Value, "the later read wins")
}
