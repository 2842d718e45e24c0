package cli

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/olebedev/when"
	"github.com/olebedev/when/rules"
	"github.com/olebedev/when/rules/common"
	"github.com/olebedev/when/rules/en"
)

// Natural-language times come from github.com/olebedev/when: rule-based English parsing
// ("2 hours ago", "yesterday", "January 1", "last monday", "yesterday 10am", "noon"), two tiny
// dependencies, go 1.19. github.com/markusmobius/go-dateparser parses more languages but needs go
// 1.26 (this module says 1.25) and pulls go-re2 on wazero; github.com/tj/go-naturaldate reads
// "January 1" as January 23rd, "2h ago" as 2 o'clock and "garbage" as now, without an error.
// The numeric forms (Unix seconds, RFC 3339, ISO dates, "-24h") are parsed with the standard
// library first, and a natural-language match must cover the whole input, so a typo is an error
// rather than a silently wrong time.
var (
	naturalParser  = newWhen(append(append([]rules.Rule{}, en.All...), common.All...)...)
	plainDayParser = newWhen(en.CasualDate(rules.Override), en.ExactMonthDate(rules.Override),
		en.Weekday(rules.Override), common.SlashDMY(rules.Override))
)

func newWhen(rs ...rules.Rule) *when.Parser {
	p := when.New(nil)
	p.Add(rs...)
	return p
}

// relRE matches durations back from now: "-24h", "24h ago", "90m ago", "-7d", "2w ago", "1h30m ago".
var relRE = regexp.MustCompile(`^(?:-\s*([0-9][0-9a-z.]*)|([0-9][0-9a-z.]*)\s+ago)$`)

// dayUnitRE splits a day or week count, which time.ParseDuration does not know.
var dayUnitRE = regexp.MustCompile(`^([0-9]+)([dw])$`)

// dateLayouts are absolute forms tried after RFC 3339, in now's location.
var dateLayouts = []string{
	"2006-01-02",
	"2006-01-02 15:04",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04",
	"2006-01-02T15:04:05",
	"January 2 2006",
	"January 2, 2006",
	"Jan 2 2006",
	"Jan 2, 2006",
	"2 January 2006",
	"2 Jan 2006",
}

// parseTime reads a --start/--end/--time value relative to now:
//   - Unix seconds: 1763870400
//   - RFC 3339 and ISO dates: 2026-11-23T04:30:00Z, 2026-11-23, "2026-11-23 04:30" (local time)
//   - durations back from now: -24h, "24h ago", -7d, "2w ago", now
//   - English: "2 hours ago", "yesterday", "today", "January 1", "last monday", "yesterday 10am"
//
// A plain day ("yesterday", "January 1", "last monday") means the start of that day, and a month
// and day without a year that would lie in the future means last year's.
func parseTime(s string, now time.Time) (time.Time, error) {
	in := strings.TrimSpace(s)
	low := strings.ToLower(in)
	if in == "" {
		return time.Time{}, errors.New("empty time")
	}
	if low == "now" {
		return now, nil
	}
	if n, err := strconv.ParseInt(in, 10, 64); err == nil {
		if n < 0 || n > 1<<40 {
			return time.Time{}, fmt.Errorf("time %q: Unix seconds out of range", s)
		}
		return time.Unix(n, 0).In(now.Location()), nil
	}
	if t, err := time.Parse(time.RFC3339, in); err == nil {
		return t, nil
	}
	for _, layout := range dateLayouts {
		if t, err := time.ParseInLocation(layout, in, now.Location()); err == nil {
			return t, nil
		}
	}
	if m := relRE.FindStringSubmatch(low); m != nil {
		d, err := parseDuration(m[1] + m[2])
		if err != nil {
			return time.Time{}, fmt.Errorf("time %q: %v", s, err)
		}
		return now.Add(-d), nil
	}
	if r, err := plainDayParser.Parse(in, now); err == nil && r != nil && wholeMatch(r, in) && !strings.Contains(low, "night") {
		t := r.Time
		t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, now.Location())
		if t.After(now) && !yearRE.MatchString(in) && !strings.Contains(low, "tomorrow") && !strings.Contains(low, "next") {
			t = t.AddDate(-1, 0, 0)
		}
		return t, nil
	}
	if r, err := naturalParser.Parse(in, now); err == nil && r != nil && wholeMatch(r, in) {
		return r.Time, nil
	}
	return time.Time{}, fmt.Errorf("cannot read time %q: use Unix seconds, RFC 3339 (2006-01-02T15:04:05Z), a date (2006-01-02), -24h, '2 hours ago', 'yesterday' or 'January 1'", s)
}

var yearRE = regexp.MustCompile(`\b[0-9]{4}\b|/[0-9]{2}$`)

// wholeMatch reports whether the parser's match covers all of in (but for surrounding space), so
// "March 3 2025" is not read as "March 3" with the year ignored.
func wholeMatch(r *when.Result, in string) bool {
	return strings.TrimSpace(r.Text) == in
}

// parseDuration is time.ParseDuration plus whole days ("7d") and weeks ("2w").
func parseDuration(s string) (time.Duration, error) {
	if m := dayUnitRE.FindStringSubmatch(s); m != nil {
		n, err := strconv.Atoi(m[1])
		if err != nil || n > 100000 {
			return 0, fmt.Errorf("duration %q out of range", s)
		}
		day := 24 * time.Hour
		if m[2] == "w" {
			day *= 7
		}
		return time.Duration(n) * day, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad duration %q", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %q is negative", s)
	}
	return d, nil
}

// timeFlag holds a time given on the command line; it is resolved against the Env's clock when
// the command runs.
type timeFlag struct{ raw string }

func (f *timeFlag) String() string { return f.raw }

func (f *timeFlag) Set(s string) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("empty time")
	}
	f.raw = s
	return nil
}

func (f *timeFlag) isSet() bool { return f.raw != "" }

// resolve parses the flag against now, or returns def when the flag was not given. A value that
// cannot be read is a usage error.
func (f *timeFlag) resolve(name string, now, def time.Time) (time.Time, error) {
	if f.raw == "" {
		return def, nil
	}
	t, err := parseTime(f.raw, now)
	if err != nil {
		return time.Time{}, usageErrorf("--%s: %v", name, err)
	}
	return t, nil
}
