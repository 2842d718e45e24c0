package libratotest

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/go-librato/librato/composite"
)

// Bounds on the work one composite query may cause, so that a hostile
// expression (nested timeshifts, fill over years at resolution 1) is a 400
// and not an exhausted server.
const (
	maxComposeSeries = 10000   // series produced while evaluating one query
	maxComposePoints = 1000000 // points in all those series
	maxComposeCalls  = 100000  // function calls evaluated (timeshift re-evaluates its set)
	maxShiftOffsets  = 20      // offsets of one timeshift
)

// cseries is one series while a composite query is evaluated.
type cseries struct {
	meta   *metric // stored metadata of the one metric behind it; nil for combinations
	name   string  // metric name; "" when combined from several metrics
	query  cquery
	tagged bool
	source string            // legacy
	tags   map[string]string // tagged
	period int64             // seconds; 0 unknown
	pts    []timedValue      // ordered by time, finite values only
}

// cquery is the s() call a series came from, echoed in the response.
type cquery struct {
	metric, source string
	tags           map[string]string
}

// composeError is an evaluation error, answered with 400.
type composeError struct{ msg string }

func (e *composeError) Error() string { return e.msg }

func composeErrorf(format string, args ...any) error {
	return &composeError{fmt.Sprintf(format, args...)}
}

// evaluator evaluates a parsed expression over the stored series. It reads
// s.st, so its caller holds s.mu.
type evaluator struct {
	st    *state
	res   int64
	calls int // function calls evaluated so far
	nser  int // series produced so far
	npts  int // points in them
}

// eval returns the set of series e denotes over [start, end].
func (ev *evaluator) eval(e composite.Expr, start, end int64) ([]cseries, error) {
	switch x := e.(type) {
	case composite.Set:
		var out []cseries
		for _, m := range x {
			s, err := ev.eval(m, start, end)
			if err != nil {
				return nil, err
			}
			out = append(out, s...)
		}
		return out, nil
	case composite.Call:
		return ev.call(x, start, end)
	}
	return nil, composeErrorf("%s is not a series expression", e)
}

// count charges the work budget for the series a call produced.
func (ev *evaluator) count(out []cseries) ([]cseries, error) {
	ev.nser += len(out)
	for _, s := range out {
		ev.npts += len(s.pts)
	}
	switch {
	case ev.nser > maxComposeSeries:
		return nil, composeErrorf("the query produces more than %d series", maxComposeSeries)
	case ev.npts > maxComposePoints:
		return nil, composeErrorf("the query produces more than %d points; use a coarser resolution or a shorter range", maxComposePoints)
	}
	return out, nil
}

// supportedFuncs are the functions call evaluates besides s, series and timeshift.
var supportedFuncs = map[string]bool{"sum": true, "mean": true, "min": true, "max": true,
	"multiply": true, "divide": true, "abs": true, "derive": true, "rate": true, "integrate": true,
	"scale": true, "window": true, "moving_average": true, "fill": true, "zero_fill": true,
	"top": true, "bottom": true}

// call evaluates one function. The parser has already checked the shapes of
// the arguments of every function handled here.
func (ev *evaluator) call(c composite.Call, start, end int64) ([]cseries, error) {
	if ev.calls++; ev.calls > maxComposeCalls {
		return nil, composeErrorf("the query evaluates more than %d function calls", maxComposeCalls)
	}
	switch c.Name {
	case "s", "series":
		return ev.count(ev.series(c, start, end))
	case "timeshift":
		return ev.timeshift(c, start, end)
	}
	if !supportedFuncs[c.Name] {
		return nil, composeErrorf("function %s is not supported by libratotest", c.Name)
	}
	in, err := ev.eval(c.Args[0], start, end)
	if err != nil {
		return nil, err
	}
	var out []cseries
	switch c.Name {
	case "sum", "mean", "min", "max":
		f, _ := combineFunc(c.Name)
		out = combine(in, f)
	case "multiply":
		out = combine(in, func(v []float64) float64 {
			p := 1.0
			for _, x := range v {
				p *= x
			}
			return p
		})
	case "divide":
		out = divide(in)
	case "abs":
		out = mapPoints(in, func(i int, p []timedValue) (float64, bool) { return math.Abs(p[i].v), true })
	case "derive":
		reset := optString(c, 1, "detect_reset") == "true"
		out = mapPoints(in, func(i int, p []timedValue) (float64, bool) {
			if i == 0 {
				return 0, false
			}
			d := p[i].v - p[i-1].v
			if reset && d < 0 {
				d = p[i].v // a counter reset: count from zero
			}
			return d, true
		})
	case "rate":
		out = mapPoints(in, func(i int, p []timedValue) (float64, bool) {
			if i == 0 {
				return 0, false
			}
			return (p[i].v - p[i-1].v) / float64(p[i].t-p[i-1].t), true
		})
	case "integrate":
		out = integrate(in)
	case "scale":
		f, err := factor(optString(c, 1, "factor"))
		if err != nil {
			return nil, err
		}
		out = mapPoints(in, func(i int, p []timedValue) (float64, bool) { return p[i].v * f, true })
	case "window", "moving_average":
		size, _ := strconv.Atoi(optString(c, 1, "size"))
		fn := optString(c, 1, "function")
		if c.Name == "moving_average" || fn == "" {
			fn = "mean"
		}
		out = window(in, size, fn)
	case "fill", "zero_fill":
		v := "0"
		if c.Name == "fill" {
			v = optString(c, 1, "value")
		}
		if out, err = ev.fill(in, v, start, end); err != nil {
			return nil, err
		}
	case "top", "bottom":
		out = rank(in, c.Name == "top", optString(c, 1, "count"), optString(c, 1, "function"))
	}
	return ev.count(out)
}

// optString returns option key of argument i as text ("" when absent).
func optString(c composite.Call, i int, key string) string {
	if i >= len(c.Args) {
		return ""
	}
	o, _ := c.Args[i].(composite.Opts)
	for _, kv := range o {
		if kv.Key == key {
			switch v := kv.Value.(type) {
			case composite.Str:
				return string(v)
			case composite.Num:
				return strconv.FormatFloat(float64(v), 'f', -1, 64)
			}
		}
	}
	return ""
}

// series evaluates s(metric, selector, options): a source pattern selects
// legacy series, a tag map tagged ones; "%" (dynamic) selects everything.
func (ev *evaluator) series(c composite.Call, start, end int64) []cseries {
	metricPat := string(c.Args[0].(composite.Str))
	fn := optString(c, 2, "function")
	period, _ := strconv.ParseInt(optString(c, 2, "period"), 10, 64)
	q := cquery{metric: metricPat}
	var sourcePat string
	var tagPats map[string]string
	tagged := false
	switch sel := c.Args[1].(type) {
	case composite.Str:
		sourcePat = string(sel)
		q.source = sourcePat
	case composite.Tags:
		tagged = true
		tagPats = map[string]string(sel)
		q.tags = maps.Clone(tagPats)
	}
	var out []cseries
	for _, k := range slices.Sorted(maps.Keys(ev.st.Series)) {
		se := ev.st.Series[k]
		if se.Tagged != tagged || !globMatch(metricPat, se.Metric) {
			continue
		}
		if !tagged && sourcePat != "%" && !globMatch(sourcePat, sourceName(se.Source)) {
			continue
		}
		if tagged && !matchTagPatterns(tagPats, se.tag) {
			continue
		}
		m := ev.st.Metrics[se.Metric]
		cs := cseries{meta: m, name: se.Metric, query: q, tagged: tagged, source: se.Source,
			tags: se.tags(), period: period}
		if m != nil {
			cs.name = m.Name
			if cs.period == 0 && m.Period != nil {
				cs.period = *m.Period
			}
		}
		counter := m != nil && m.Type == "counter"
		for _, b := range rollup(se.Points, start, end, ev.res) {
			cs.pts = append(cs.pts, timedValue{b.t, bucketValue(fn, b.a, counter)})
		}
		if len(cs.pts) > 0 {
			out = append(out, cs)
		}
	}
	return out
}

// sourceName is the name under which a legacy series without a source is served.
func sourceName(src string) string {
	if src == "" {
		return "unassigned"
	}
	return src
}

// matchTagPatterns reports whether the tags that tag looks up have every tag of pats with a value
// matching its pattern; "%" matches any value.
func matchTagPatterns(pats map[string]string, tag func(name string) (string, bool)) bool {
	for k, p := range pats {
		v, ok := tag(lower(k))
		if !ok || (p != "%" && !globMatch(p, v)) {
			return false
		}
	}
	return true
}

// bucketValue summarizes one bucket with a series function; without one a
// counter is its last value and a gauge its mean, as reads serve them.
func bucketValue(fn string, a agg, counter bool) float64 {
	switch fn {
	case "sum":
		return a.Sum
	case "min":
		return a.Min
	case "max":
		return a.Max
	case "count":
		return float64(a.Count)
	case "":
		if counter {
			return a.Last
		}
	}
	return a.mean()
}

// combine merges a set point by point into one series (nothing for an empty
// set). The result keeps what its inputs share: the metric, the source (else
// the pseudo-source "all"), the tags with equal values.
func combine(in []cseries, f func([]float64) float64) []cseries {
	if len(in) == 0 {
		return nil
	}
	all := make([][]timedValue, len(in))
	for i, s := range in {
		all[i] = s.pts
	}
	out := in[0]
	out.pts = finite(combineSeries(all, f))
	out.tags = maps.Clone(in[0].tags)
	for _, s := range in[1:] {
		if s.name != out.name || s.meta != out.meta {
			out.name, out.meta = "", nil
		}
		if s.source != out.source {
			out.source = "all"
		}
		if s.period != out.period {
			out.period = 0
		}
		if !equalQuery(s.query, out.query) {
			out.query = cquery{}
		}
		for k, v := range out.tags {
			if s.tags[k] != v {
				delete(out.tags, k)
			}
		}
	}
	return []cseries{out}
}

func equalQuery(a, b cquery) bool {
	return a.metric == b.metric && a.source == b.source && maps.Equal(a.tags, b.tags)
}

// finite drops NaN and infinite values, which JSON cannot carry.
func finite(p []timedValue) []timedValue {
	return slices.DeleteFunc(p, func(x timedValue) bool { return math.IsNaN(x.v) || math.IsInf(x.v, 0) })
}

// mapPoints replaces every point of every series with f(i, points), or drops
// it when f says so.
func mapPoints(in []cseries, f func(i int, p []timedValue) (float64, bool)) []cseries {
	out := make([]cseries, 0, len(in))
	for _, s := range in {
		pts := make([]timedValue, 0, len(s.pts))
		for i := range s.pts {
			if v, ok := f(i, s.pts); ok {
				pts = append(pts, timedValue{s.pts[i].t, v})
			}
		}
		s.pts = finite(pts)
		out = append(out, s)
	}
	return out
}

// divide divides the first of exactly two series by the second at the times
// both have; any other number of series gives an empty set, as in the API.
// Points where the divisor is zero are left out.
func divide(in []cseries) []cseries {
	if len(in) != 2 {
		return nil
	}
	den := map[int64]float64{}
	for _, p := range in[1].pts {
		den[p.t] = p.v
	}
	out := in[0]
	out.pts = nil
	for _, p := range in[0].pts {
		if d, ok := den[p.t]; ok && d != 0 {
			out.pts = append(out.pts, timedValue{p.t, p.v / d})
		}
	}
	out.pts = finite(out.pts)
	return []cseries{out}
}

func integrate(in []cseries) []cseries {
	sum := 0.0
	return mapPoints(in, func(i int, p []timedValue) (float64, bool) {
		if i == 0 {
			sum = 0
		}
		sum += p[i].v
		return sum, true
	})
}

// factor reads a scale factor: a number or "n/m".
func factor(s string) (float64, error) {
	if n, d, ok := strings.Cut(s, "/"); ok {
		num, err1 := strconv.ParseFloat(n, 64)
		den, err2 := strconv.ParseFloat(d, 64)
		if err1 != nil || err2 != nil || den == 0 {
			return 0, composeErrorf("invalid factor %q", s)
		}
		return num / den, nil
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, composeErrorf("invalid factor %q", s)
	}
	return f, nil
}

// window replaces every point with fn over it and the size-1 points before
// it; the first points use the shorter windows available.
func window(in []cseries, size int, fn string) []cseries {
	f, ok := combineFunc(fn)
	if fn == "median" {
		f, ok = median, true
	}
	if !ok || size < 1 {
		return nil
	}
	vals := make([]float64, 0, size)
	return mapPoints(in, func(i int, p []timedValue) (float64, bool) {
		vals = vals[:0]
		for _, x := range p[max(0, i-size+1) : i+1] {
			vals = append(vals, x.v)
		}
		return f(vals), true
	})
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	sort.Float64s(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// fill fills every resolution bucket of [start, end] a series has no point
// in with value, or with the last value before it for "last".
func (ev *evaluator) fill(in []cseries, value string, start, end int64) ([]cseries, error) {
	last := value == "last"
	fv, err := strconv.ParseFloat(value, 64)
	if !last && (err != nil || math.IsNaN(fv) || math.IsInf(fv, 0)) {
		return nil, composeErrorf("invalid fill value %q", value)
	}
	first := floorTime(start, ev.res)
	if first < start {
		first += ev.res
	}
	if (end-first)/ev.res >= int64(maxComposePoints) {
		return nil, composeErrorf("fill would make more than %d points; use a coarser resolution", maxComposePoints)
	}
	out := make([]cseries, 0, len(in))
	for _, s := range in {
		have := map[int64]float64{}
		for _, p := range s.pts {
			have[p.t] = p.v
		}
		var pts []timedValue
		prev, seen := 0.0, false
		for t := first; t <= end; t += ev.res {
			if v, ok := have[t]; ok {
				pts = append(pts, timedValue{t, v})
				prev, seen = v, true
				continue
			}
			switch {
			case !last:
				pts = append(pts, timedValue{t, fv})
			case seen:
				pts = append(pts, timedValue{t, prev})
			}
		}
		s.pts = pts
		out = append(out, s)
	}
	return out, nil
}

// rank keeps the count series (all when count is absent) with the highest
// (top) or lowest (bottom) fn over their points; fn defaults to mean.
func rank(in []cseries, top bool, count, fn string) []cseries {
	if fn == "" {
		fn = "mean"
	}
	f, ok := combineFunc(fn)
	if !ok {
		return nil
	}
	type scored struct {
		s     cseries
		score float64
	}
	sc := make([]scored, 0, len(in))
	for _, s := range in {
		v := make([]float64, len(s.pts))
		for i, p := range s.pts {
			v[i] = p.v
		}
		if len(v) > 0 {
			sc = append(sc, scored{s, f(v)})
		}
	}
	sort.SliceStable(sc, func(i, j int) bool {
		if top {
			return sc[i].score > sc[j].score
		}
		return sc[i].score < sc[j].score
	})
	if n, err := strconv.Atoi(count); err == nil && n >= 0 && n < len(sc) {
		sc = sc[:n]
	}
	out := make([]cseries, len(sc))
	for i, x := range sc {
		out[i] = x.s
	}
	return out
}

// timeshift evaluates its set once per offset, each over the range shifted
// back by the offset (forward for a + prefix), and moves the points back
// into the query's range.
func (ev *evaluator) timeshift(c composite.Call, start, end int64) ([]cseries, error) {
	spec := strings.ReplaceAll(string(c.Args[0].(composite.Str)), " ", "")
	unit := int64(1)
	if n := len(spec); n > 0 {
		if u, ok := map[byte]int64{'s': 1, 'm': 60, 'h': 3600, 'd': 86400, 'w': 604800}[spec[n-1]]; ok {
			unit, spec = u, spec[:n-1]
		}
	}
	parts := strings.Split(spec, ",")
	if len(parts) > maxShiftOffsets {
		return nil, composeErrorf("timeshift takes at most %d offsets", maxShiftOffsets)
	}
	var out []cseries
	for _, p := range parts {
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil {
			return nil, composeErrorf("invalid timeshift offset %q", p)
		}
		if strings.HasPrefix(p, "+") {
			n = -n
		}
		shift := n * unit
		set, err := ev.eval(c.Args[1], start-shift, end-shift)
		if err != nil {
			return nil, err
		}
		for _, s := range set {
			pts := make([]timedValue, len(s.pts))
			for i, x := range s.pts {
				pts[i] = timedValue{x.t + shift, x.v}
			}
			s.pts = pts
			out = append(out, s)
		}
	}
	return ev.count(out)
}
