package cli

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/go-librato/librato"
)

// series is one series of a read as the get, composite and export commands print it: a legacy
// source, a tag set, or a composite's query.
type series struct {
	Name   string            `json:"name"`
	Source string            `json:"source,omitempty"`
	Tags   map[string]string `json:"tags,omitempty"`
	Points []point           `json:"points"`

	// title, when set, names the series for people instead of its source or tags (a
	// composite's aggregate has neither).
	title string
}

// point is a printed point: the time as RFC 3339 (UTC) for people and tools alike, and the value
// (null for no data).
type point struct {
	Time  time.Time `json:"time"`
	Value *float64  `json:"value"`
}

func toPoints(ps []librato.Point) []point {
	out := make([]point, 0, len(ps))
	for _, p := range ps {
		pt := point{Time: p.Time.UTC()}
		if !math.IsNaN(p.Value) && !math.IsInf(p.Value, 0) {
			v := p.Value
			pt.Value = &v
		}
		out = append(out, pt)
	}
	return out
}

// label names a series for people: "source web1", "host=a region=eu", or "(no source)".
func (s *series) label() string {
	switch {
	case s.title != "":
		return s.title
	case len(s.Tags) > 0:
		return formatTags(s.Tags, " ")
	case s.Source != "" && s.Source != "unassigned":
		return "source " + s.Source
	}
	return "(no source)"
}

// formatTags renders tags sorted by name as k=v joined by sep.
func formatTags(tags map[string]string, sep string) string {
	parts := make([]string, 0, len(tags))
	for _, k := range slices.Sorted(maps.Keys(tags)) {
		parts = append(parts, k+"="+tags[k])
	}
	return strings.Join(parts, sep)
}

// formatValue prints a value for people (see humanNumber); nil is "-".
func formatValue(v *float64) string {
	if v == nil {
		return "-"
	}
	return humanNumber(*v)
}

// humanNumber prints a number as people write it: 1200000 and 123456789.123, not 1.2e+06, with
// at most 12 significant digits (so a mean of 0.1 and 0.2 is 0.3). Only numbers too large or too
// small for that (1e21 and more, less than 1e-6) keep an exponent.
func humanNumber(v float64) string {
	if a := math.Abs(v); v != 0 && (a >= 1e21 || a < 1e-6 || math.IsInf(v, 0) || math.IsNaN(v)) {
		return strconv.FormatFloat(v, 'g', 12, 64)
	}
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'g', 12, 64), 64)
	return strconv.FormatFloat(r, 'f', -1, 64)
}

var sparkBlocks = []rune("▁▂▃▄▅▆▇█")

// sparkline draws values as a line of block characters, at most width wide: longer series are
// averaged into width buckets. Missing values (nil) show as a space.
func sparkline(ps []point, width int) string {
	if len(ps) == 0 || width < 1 {
		return ""
	}
	vals := make([]float64, 0, min(len(ps), width))
	have := make([]bool, 0, cap(vals))
	n := min(len(ps), width)
	for b := 0; b < n; b++ {
		lo, hi := b*len(ps)/n, (b+1)*len(ps)/n
		sum, cnt := 0.0, 0
		for _, p := range ps[lo:hi] {
			if p.Value != nil {
				sum += *p.Value
				cnt++
			}
		}
		if cnt > 0 {
			vals = append(vals, sum/float64(cnt))
		} else {
			vals = append(vals, 0)
		}
		have = append(have, cnt > 0)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for i, v := range vals {
		if have[i] {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	var b strings.Builder
	for i, v := range vals {
		switch {
		case !have[i]:
			b.WriteByte(' ')
		case hi == lo:
			b.WriteRune(sparkBlocks[len(sparkBlocks)/2])
		default:
			idx := int(math.Round((v - lo) / (hi - lo) * float64(len(sparkBlocks)-1)))
			b.WriteRune(sparkBlocks[idx])
		}
	}
	return b.String()
}

// stats summarizes the values of a series for the human output.
type stats struct {
	n                    int
	min, max, mean, last float64
}

func statsOf(ps []point) stats {
	s := stats{min: math.Inf(1), max: math.Inf(-1)}
	sum := 0.0
	for _, p := range ps {
		if p.Value == nil {
			continue
		}
		v := *p.Value
		s.n++
		sum += v
		s.min, s.max, s.last = min(s.min, v), max(s.max, v), v
	}
	if s.n > 0 {
		s.mean = sum / float64(s.n)
	}
	return s
}

// chartWidth is the widest sparkline the human output draws.
const chartWidth = 60

// writeSeriesHuman prints each series as a header, a sparkline with min/max/mean/last, and then
// its points one per line.
func writeSeriesHuman(w io.Writer, title string, ss []series) error {
	ew := &errWriter{w: w}
	ew.printf("%s\n", title)
	if len(ss) == 0 {
		ew.printf("\nno data in this range\n")
		return ew.err
	}
	for _, s := range ss {
		st := statsOf(s.Points)
		ew.printf("\n%s  (%s)\n", s.label(), plural(len(s.Points), "point"))
		if st.n == 0 {
			ew.printf("  no values\n")
			continue
		}
		ew.printf("  %s\n", sparkline(s.Points, chartWidth))
		ew.printf("  min %s  max %s  mean %s  last %s\n",
			formatValue(&st.min), formatValue(&st.max), formatValue(&st.mean), formatValue(&st.last))
		for _, p := range s.Points {
			ew.printf("  %s  %s\n", p.Time.Format(time.RFC3339), formatValue(p.Value))
		}
	}
	return ew.err
}

// seriesCSVHeader is the header of the get, composite and export CSV output.
var seriesCSVHeader = []string{"name", "source", "tags", "time", "unix", "value"}

// writeSeriesCSV writes one row per point; tags are "k=v;k=v" sorted by name.
func writeSeriesCSV(w io.Writer, ss []series, header bool) error {
	cw := csv.NewWriter(w)
	if header {
		_ = cw.Write(seriesCSVHeader)
	}
	for _, s := range ss {
		tags := formatTags(s.Tags, ";")
		for _, p := range s.Points {
			v := ""
			if p.Value != nil {
				v = strconv.FormatFloat(*p.Value, 'g', -1, 64)
			}
			_ = cw.Write([]string{s.Name, s.Source, tags, p.Time.Format(time.RFC3339), strconv.FormatInt(p.Time.Unix(), 10), v})
		}
	}
	cw.Flush()
	return cw.Error()
}

// writeJSON writes v as indented JSON and a newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// errWriter remembers the first write error so that printing code stays readable.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// outputFlag is the --output flag of the read commands.
func outputFlag() *choiceFlag { return newChoice("human", "human", "json", "csv") }

// plural returns "1 metric" or "n metrics".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// rowsFormat says how a list command prints its rows as CSV (a header, then a record per row) and
// as a table for people (column titles, then tab-separated cells per row, then the count).
type rowsFormat[T any] struct {
	noun      string // counted under the table ("3 alerts"), and "no alerts" for none
	csvHeader []string
	csvRow    func(T) []string
	header    []string
	row       func(T) []string
}

// writeRows prints a list command's rows in format: json (an empty list as []), csv, or the table.
func writeRows[T any](w io.Writer, format string, rows []T, f rowsFormat[T]) error {
	switch format {
	case "json":
		if rows == nil {
			rows = []T{}
		}
		return writeJSON(w, rows)
	case "csv":
		cw := csv.NewWriter(w)
		_ = cw.Write(f.csvHeader)
		for _, r := range rows {
			_ = cw.Write(f.csvRow(r))
		}
		cw.Flush()
		return cw.Error()
	}
	if len(rows) == 0 {
		_, err := fmt.Fprintf(w, "no %ss\n", f.noun)
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(f.header, "\t"))
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(f.row(r), "\t"))
	}
	fmt.Fprintf(tw, "\n%s\n", plural(len(rows), f.noun))
	return tw.Flush()
}
