package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/go-librato/librato"
)

// exportCommand is the export command (listed in the command table in cli.go).
var exportCommand = &commandInfo{
	name:    "export",
	summary: "download metrics to files, resumably",
	usage:   "export [--name SUBSTR] [--start T] [--end T] [--resolution N] [--format json|csv] [-D DIR]",
	help: `Downloads the measurements of every metric (or those whose name contains --name)
into DIR: one file per metric and source (legacy) or tag set (tagged), named
METRIC.csv, METRIC@SOURCE.csv or METRIC@k=v,k=v.csv (characters unsafe in file
names are %-escaped). It reads page after page and, when the API's rate-limit
headers say the allowance is used up, waits until it resets.

It is resumable: each finished metric is recorded in DIR/.librato-export.json, and
running the same command again skips those without downloading them again, using
the time range of the first run. Run again into a finished export, it brings it up
to date: it reads from the end of the last run (less one resolution step, whose
bucket may have been open) to --end (default now) and merges the new points into
the files; a series first seen then is read from the first run's start. A cron job
can run the same command every day. --restart starts over. A progress bar is drawn
on stderr when stderr is a terminal. Files are written 0644.

Examples:
  librato export -D backup
  librato export --name api. --start -7d --resolution 3600 --format json -D api-week
  librato export -D backup            # after an interruption: picks up where it stopped`,
	new: func() command { return &exportCmd{format: newChoice("csv", "csv", "json")} },
}

type exportCmd struct {
	conn connFlags
	name string
	rangeFlags
	format  *choiceFlag
	dir     string
	tagged  bool
	restart bool

	// sleep waits for d or until ctx is done (tests replace it); nil means sleepCtx.
	sleep func(ctx context.Context, d time.Duration) error
	// afterMetric, when set (tests), is called after each metric is recorded as done.
	afterMetric func(done int)

	lastWaited librato.RateLimit // the rate-limit state already waited for
}

func (c *exportCmd) flags(fs *flag.FlagSet) {
	c.conn.register(fs)
	fs.StringVar(&c.name, "name", "", "only metrics whose name contains `SUBSTR`")
	c.rangeFlags.register(fs)
	fs.Var(c.format, "format", "file `format`: csv or json")
	fs.StringVar(&c.dir, "D", "librato-export", "`directory` to write to (created if needed)")
	fs.BoolVar(&c.tagged, "tagged", false, "export tagged series only (the default reads legacy series, and tagged ones for metrics without legacy data)")
	fs.BoolVar(&c.restart, "restart", false, "forget an earlier, unfinished export in DIR and start over")
}

func (c *exportCmd) args(args []string) error {
	if len(args) > 0 {
		return usageErrorf("export takes no arguments (use --name to filter)")
	}
	if err := c.rangeFlags.check(); err != nil {
		return err
	}
	if c.dir == "" {
		return usageErrorf("-D must name a directory")
	}
	return nil
}

func (c *exportCmd) run(ctx context.Context, env *Env) error {
	from, to, err := c.timeRange(env)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return err
	}
	want := exportState{Version: 1, Name: c.name, Resolution: c.resolution, Format: c.format.value, Tagged: c.tagged,
		Start: from.Unix(), End: to.Unix(), Origin: from.Unix(), Done: map[string][]string{}}
	st, err := loadExportState(c.dir)
	switch {
	case err != nil:
		return err
	case st == nil || c.restart:
		st = &want
	case !st.sameSettings(&want) && st.Complete:
		return usageErrorf("%s holds a finished export with other settings (%s); a refresh keeps them: run it with those, "+
			"export to another -D, or --restart to export again with the new ones", c.dir, st.settings())
	case !st.sameSettings(&want):
		return usageErrorf("%s holds an unfinished export with other settings (%s); use --restart, or another -D", c.dir, st.settings())
	case st.Complete:
		if !to.After(time.Unix(st.End, 0)) {
			_, err := fmt.Fprintf(env.Stdout, "export: %s is up to date (to %s)\n", c.dir, formatTime(time.Unix(st.End, 0)))
			return err
		}
		st.Start, st.End = st.End-int64(st.Resolution), to.Unix()
		st.Done, st.Complete, st.Refresh = map[string][]string{}, false, true
		if err := st.save(c.dir); err != nil {
			return err
		}
		fmt.Fprintf(env.Stderr, "export: refreshing %s from %s to %s\n", c.dir, formatTime(time.Unix(st.Start, 0)), formatTime(to))
	default:
		fmt.Fprintf(env.Stderr, "export: resuming in %s: %s already done, range %s to %s\n", c.dir,
			plural(len(st.Done), "metric"), formatTime(time.Unix(st.Start, 0)), formatTime(time.Unix(st.End, 0)))
	}

	cl, err := c.conn.connect(env)
	if err != nil {
		return err
	}
	if c.conn.isAppOptics {
		c.tagged = true
	}
	var names []string
	for m, err := range cl.Metrics.All(ctx, &librato.ListOptions{Name: c.name}) {
		if err != nil {
			return err
		}
		if m.Type == "composite" {
			continue // a composite has no data of its own: its inputs are exported
		}
		names = append(names, m.Name)
		if err := c.waitRateLimit(ctx, env, cl); err != nil {
			return err
		}
	}

	var bar *progressBar
	if env.StderrIsTerminal {
		bar = &progressBar{w: env.Stderr, total: len(names)}
	}
	skipped, exported, files := 0, 0, 0
	for i, name := range names {
		if _, ok := st.Done[name]; ok {
			skipped++
			continue
		}
		bar.update(i, name)
		written, err := c.exportMetric(ctx, env, cl, name, st)
		if err != nil {
			bar.finish()
			if ctx.Err() != nil {
				return fmt.Errorf("interrupted at %s after %s; run the same command again to resume", name, plural(exported, "metric"))
			}
			return fmt.Errorf("exporting %s: %w (finished metrics are kept; run the same command again to resume)", name, err)
		}
		st.Done[name] = written
		if err := st.save(c.dir); err != nil {
			bar.finish()
			return err
		}
		exported++
		files += len(written)
		if c.afterMetric != nil {
			c.afterMetric(exported)
		}
	}
	bar.update(len(names), "")
	bar.finish()
	st.Complete, st.Refresh = true, false
	if err := st.save(c.dir); err != nil {
		return err
	}
	_, err = fmt.Fprintf(env.Stdout, "export: %s in %s: %s exported (%s written), %s already done\n",
		plural(len(names), "metric"), c.dir, plural(exported, "metric"), plural(files, "file"), plural(skipped, "metric"))
	return err
}

// exportMetric reads one metric's series and writes one file per series, each first to a
// temporary name and then renamed, so that a file that exists is complete. It returns the names
// of the files written.
//
// In a refresh, the points read are merged into the files there; a series without a file yet
// makes the whole metric be read again from the first run's start, so that it is complete too.
func (c *exportCmd) exportMetric(ctx context.Context, env *Env, cl *librato.Client, name string, st *exportState) ([]string, error) {
	from, to := time.Unix(st.Start, 0), time.Unix(st.End, 0)
	ss, err := c.readMetric(ctx, env, cl, name, from, to)
	if err != nil {
		return nil, err
	}
	if st.Refresh && st.Origin < st.Start && slices.ContainsFunc(ss, func(s series) bool {
		_, err := os.Stat(filepath.Join(c.dir, exportFileName(s, c.format.value)))
		return err != nil
	}) {
		if ss, err = c.readMetric(ctx, env, cl, name, time.Unix(st.Origin, 0), to); err != nil {
			return nil, err
		}
	}
	written := []string{}
	for _, s := range ss {
		file := exportFileName(s, c.format.value)
		path := filepath.Join(c.dir, file)
		if st.Refresh {
			old, err := readExportFile(path, c.format.value)
			switch {
			case err == nil:
				s.Points = mergePoints(old.Points, s.Points)
			case !errors.Is(err, fs.ErrNotExist):
				return nil, err
			}
		}
		if err := writeFileAtomic(path, func(f *os.File) error {
			if c.format.value == "json" {
				return writeJSON(f, s)
			}
			return writeSeriesCSV(f, []series{s}, true)
		}); err != nil {
			return nil, err
		}
		written = append(written, file)
	}
	return written, nil
}

// readMetric reads one metric's series over [from, to): legacy ones, or tagged ones for a metric
// without legacy data (or with --tagged).
func (c *exportCmd) readMetric(ctx context.Context, env *Env, cl *librato.Client, name string, from, to time.Time) ([]series, error) {
	var ss []series
	var err error
	if !c.tagged {
		ss, err = c.readLegacy(ctx, env, cl, name, from, to)
		// A legacy read refused (as for a tagged-only metric) falls back to the tagged API.
		if err != nil && !errors.Is(err, librato.ErrBadRequest) {
			return nil, err
		}
	}
	if len(ss) == 0 {
		ss, err = c.readTagged(ctx, env, cl, name, from, to)
	}
	return ss, err
}

// readLegacy reads a legacy metric's points, source by source, waiting between pages when the
// rate limit says so.
func (c *exportCmd) readLegacy(ctx context.Context, env *Env, cl *librato.Client, name string, from, to time.Time) ([]series, error) {
	opts := &librato.GetOptions{StartTime: from, EndTime: to, Resolution: c.resolution}
	return readLegacy(ctx, cl, name, opts, func() error { return c.waitRateLimit(ctx, env, cl) })
}

// readTagged reads a metric's tagged series, all pages, joining the pieces of each tag set.
func (c *exportCmd) readTagged(ctx context.Context, env *Env, cl *librato.Client, name string, from, to time.Time) ([]series, error) {
	var out []series
	index := map[string]int{}
	for s, err := range cl.Measurements.All(ctx, name, &librato.MeasurementsOptions{StartTime: from, EndTime: to, Resolution: c.resolution}) {
		if err != nil {
			return nil, err
		}
		key := formatTags(s.Tags, ",")
		i, ok := index[key]
		if !ok {
			i = len(out)
			index[key] = i
			out = append(out, series{Name: name, Tags: s.Tags})
		}
		out[i].Points = append(out[i].Points, toPoints(s.Points)...)
		if err := c.waitRateLimit(ctx, env, cl); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// rateLimitReserve is how many requests of a window are left unused: the export waits for the
// reset rather than spend the account's last requests, which its other clients need too.
const rateLimitReserve = 1

// maxRateLimitWait caps one wait, should a server send an absurd reset time.
const maxRateLimitWait = 15 * time.Minute

// waitRateLimit sleeps until the rate-limit window resets when the latest answer said it is
// (nearly) used up. Each answer is waited for once: the state only changes with a new request.
func (c *exportCmd) waitRateLimit(ctx context.Context, env *Env, cl *librato.Client) error {
	rl := cl.RateLimit()
	if rl == c.lastWaited {
		return nil
	}
	var wait time.Duration
	for _, w := range []librato.RateLimitWindow{rl.Std, rl.Agg} {
		if w.Present && w.Remaining >= 0 && w.Remaining <= rateLimitReserve {
			wait = max(wait, w.Reset)
		}
	}
	if wait <= 0 {
		return nil
	}
	c.lastWaited = rl
	wait = min(wait, maxRateLimitWait)
	fmt.Fprintf(env.Stderr, "\rexport: API rate limit reached (%s); waiting %s\n", rl.Std.Raw, wait)
	sleep := c.sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	return sleep(ctx, wait)
}

// sleepCtx sleeps for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// writeFileAtomic writes path through a temporary file in the same directory and renames it into
// place, so an interrupted write never leaves a truncated file under the final name.
func writeFileAtomic(path string, write func(f *os.File) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	// CreateTemp makes the file 0600; an export is ordinary data, readable like any file the user
	// writes (umask still applies to the directory, not to an explicit chmod).
	err = f.Chmod(0o644)
	if err == nil {
		err = write(f)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return errors.Join(fmt.Errorf("writing %s", path), err)
	}
	return nil
}
