// Package composite is the composite metric language of the Librato API: an expression type,
// builders for its functions, a parser and its error. The librato package's
// Measurements.Query and Metrics.CreateComposite take an Expr:
//
//	errRate := composite.Divide(
//		composite.Sum(composite.Series("requests.errors", composite.Source("*"))),
//		composite.Sum(composite.Series("requests.total", composite.Source("*"))))
//	res, err := c.Measurements.Query(ctx, errRate, &librato.CompositeOptions{Duration: time.Hour})
//
// The language is documented in the Librato knowledge base ("Composite Metrics Language
// Specification") and in the API docs (librato/api-docs, source/includes/_metrics.md).
package composite

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Expr is an expression of the composite metric language (see the package doc),
// as built by Series, Sum, Window and the other builders, or returned by
// Parse. String returns exactly the text the API expects; Validate
// checks the expression against what the API is known to accept, without I/O.
//
// The concrete node types are Call, Set, Str, Num, Opts, Tags and Raw. The
// interface is sealed: Raw and Call are the escape hatches for anything the
// builders do not cover.
type Expr interface {
	String() string
	Validate() error
	appendTo(b []byte) []byte
}

// Call is a function application such as sum(...) or moving_average(...).
// Unknown function names are kept as calls, so an expression the package does
// not understand still round-trips through Parse and String.
type Call struct {
	Name string
	Args []Expr
}

// Set is a literal set of series, rendered as [a, b]. The API flattens nested sets.
type Set []Expr

// Str is a string literal, rendered double-quoted with backslash escapes.
type Str string

// Num is a number literal. It must be finite.
type Num float64

// Opt is one key of an options map.
type Opt struct {
	Key   string
	Value Expr
}

// Opts is an options map such as {size: "5"}, kept in order so that the
// rendering is deterministic. Keys that are identifiers are rendered bare,
// others quoted. The API expects string values ("5", not 5); the builders
// write them that way.
type Opts []Opt

// Tags is a tag selector for series/s on tagged accounts, rendered with
// sorted, quoted keys: {"host": "prod*"}. Values may use * wildcards, and "%"
// marks a value filled in by the dashboard.
type Tags map[string]string

// Raw is composite text sent verbatim, for what the builders cannot express.
// Parse never returns it, and Validate only checks that it is not
// blank: the API is the judge of its content.
type Raw string

// Selector chooses the series a series/s call reads: a Source pattern on
// legacy accounts or Tags on tagged ones.
type Selector interface {
	selectorExpr() Expr
}

// Source is a legacy source pattern selector such as "web*" or "*".
type Source string

// DynamicSource is the "%" selector that a chart or dashboard fills in.
const DynamicSource Source = "%"

func (s Source) selectorExpr() Expr { return Str(s) }
func (t Tags) selectorExpr() Expr   { return t }

// SeriesOptions are the options of a series/s call. Zero fields are left out.
type SeriesOptions struct {
	// Function summarizes the points that fall in one period:
	// "min", "max", "mean" (the API's default), "sum" or "count".
	Function string
	// Period is the bucket interval, in whole seconds on the wire. fill and
	// zero_fill need it when the metric has no period of its own.
	Period time.Duration
}

// Series builds s(metric, selector[, options]), the series generator (the API also spells it
// series(...); Parse reads both). Several SeriesOptions are merged, later non-zero fields winning.
func Series(metric string, sel Selector, opts ...SeriesOptions) Call {
	return series("s", metric, sel, opts)
}

func series(name, metric string, sel Selector, opts []SeriesOptions) Call {
	args := []Expr{Str(metric)}
	if sel != nil {
		args = append(args, sel.selectorExpr())
	}
	var o SeriesOptions
	for _, x := range opts {
		if x.Function != "" {
			o.Function = x.Function
		}
		if x.Period != 0 {
			o.Period = x.Period
		}
	}
	var m Opts
	if o.Function != "" {
		m = append(m, Opt{"function", Str(o.Function)})
	}
	if o.Period != 0 {
		m = append(m, Opt{"period", Str(strconv.FormatFloat(o.Period.Seconds(), 'f', -1, 64))})
	}
	if m != nil {
		args = append(args, m)
	}
	return Call{Name: name, Args: args}
}

// setOf returns the single expression itself, or a Set of several.
func setOf(sets []Expr) Expr {
	if len(sets) == 1 {
		return sets[0]
	}
	return Set(slices.Clone(sets))
}

func call1(name string, sets []Expr) Call {
	if len(sets) == 0 {
		return Call{Name: name} // invalid: Validate says so
	}
	return Call{Name: name, Args: []Expr{setOf(sets)}}
}

// Sum builds sum(set): the point-wise sum across the series of a set. Several
// arguments are wrapped in one set: Sum(a, b) is sum([a, b]).
func Sum(sets ...Expr) Call { return call1("sum", sets) }

// Mean builds mean(set), the point-wise mean across series; see Sum.
func Mean(sets ...Expr) Call { return call1("mean", sets) }

// Min builds min(set), the point-wise minimum across series; see Sum.
func Min(sets ...Expr) Call { return call1("min", sets) }

// Max builds max(set), the point-wise maximum across series; see Sum.
func Max(sets ...Expr) Call { return call1("max", sets) }

// Multiply builds multiply(set), the point-wise product across series; see Sum.
func Multiply(sets ...Expr) Call { return call1("multiply", sets) }

// Abs builds abs(set), the absolute value of every point.
func Abs(set Expr) Call { return Call{Name: "abs", Args: []Expr{set}} }

// Rate builds rate(set), the change per second between points.
func Rate(set Expr) Call { return Call{Name: "rate", Args: []Expr{set}} }

// Integrate builds integrate(set), the cumulative sum of every series.
func Integrate(set Expr) Call { return Call{Name: "integrate", Args: []Expr{set}} }

// ZeroFill builds zero_fill(set), which fills gaps with 0.
func ZeroFill(set Expr) Call { return Call{Name: "zero_fill", Args: []Expr{set}} }

// Derive builds derive(set), the difference between consecutive points. With
// detectReset the options {detect_reset: "true"} tell the API to treat a drop
// as a counter reset rather than a negative change.
func Derive(set Expr, detectReset bool) Call {
	c := Call{Name: "derive", Args: []Expr{set}}
	if detectReset {
		c.Args = append(c.Args, Opts{{"detect_reset", Str("true")}})
	}
	return c
}

// Divide builds divide([dividend, divisor]). The API divides exactly two series.
func Divide(dividend, divisor Expr) Call {
	return Call{Name: "divide", Args: []Expr{Set{dividend, divisor}}}
}

// Scale builds scale(set, {factor: "..."}), multiplying every point by factor.
func Scale(set Expr, factor float64) Call {
	return Call{Name: "scale", Args: []Expr{set, Opts{{"factor", Str(formatNum(factor))}}}}
}

// ScaleFraction builds scale(set, {factor: "num/den"}), the API's exact form
// for factors such as 1/1024.
func ScaleFraction(set Expr, num, den uint64) Call {
	f := strconv.FormatUint(num, 10) + "/" + strconv.FormatUint(den, 10)
	return Call{Name: "scale", Args: []Expr{set, Opts{{"factor", Str(f)}}}}
}

// Window builds window(set, {size: "n", function: "f"}): every point becomes
// the function ("mean", "sum", "min", "max" or "median"; empty for the API's
// default) of the last size points. The API allows sizes 1 to 64.
func Window(set Expr, size int, function string) Call {
	o := Opts{{"size", Str(strconv.Itoa(size))}}
	if function != "" {
		o = append(o, Opt{"function", Str(function)})
	}
	return Call{Name: "window", Args: []Expr{set, o}}
}

// MovingAverage builds moving_average(set, {size: "n"}), the same as a mean window.
func MovingAverage(set Expr, size int) Call {
	return Call{Name: "moving_average", Args: []Expr{set, Opts{{"size", Str(strconv.Itoa(size))}}}}
}

// Fill builds fill(set, {value: "v"}), which fills gaps with value.
func Fill(set Expr, value float64) Call {
	return Call{Name: "fill", Args: []Expr{set, Opts{{"value", Str(formatNum(value))}}}}
}

// FillLast builds fill(set, {value: "last"}), which fills gaps with the last value seen.
func FillLast(set Expr) Call {
	return Call{Name: "fill", Args: []Expr{set, Opts{{"value", Str("last")}}}}
}

// Timeshift builds timeshift(offsets, set). Offsets is the API's comma list of
// whole numbers followed by one unit, such as "0,1,2,3w" or "1d": positive
// values shift back in time, a + prefix forward. Units: s, m, h, d, w.
func Timeshift(offsets string, set Expr) Call {
	return Call{Name: "timeshift", Args: []Expr{Str(offsets), set}}
}

// Top builds top(set, {count: "n", function: "f"}), the count series with the
// highest function ("min", "max", "mean", "sum"; empty for the API's default, mean).
func Top(set Expr, count int, function string) Call { return rank("top", set, count, function) }

// Bottom is Top for the lowest series.
func Bottom(set Expr, count int, function string) Call { return rank("bottom", set, count, function) }

func rank(name string, set Expr, count int, function string) Call {
	o := Opts{{"count", Str(strconv.Itoa(count))}}
	if function != "" {
		o = append(o, Opt{"function", Str(function)})
	}
	return Call{Name: name, Args: []Expr{set, o}}
}

// GroupBy builds group_by("tag1,tag2", set), one series per combination of the
// named tags' values (tagged accounts).
func GroupBy(tags string, set Expr) Call {
	return Call{Name: "group_by", Args: []Expr{Str(tags), set}}
}

// Func builds a call of any function, including ones this package does not know.
func Func(name string, args ...Expr) Call { return Call{Name: name, Args: args} }

// String returns the call as the API expects it: name(arg, arg).
func (c Call) String() string { return string(c.appendTo(nil)) }

// String returns the set as the API expects it: [a, b].
func (s Set) String() string { return string(s.appendTo(nil)) }

// String returns the string quoted and escaped as the API expects it.
func (s Str) String() string { return string(s.appendTo(nil)) }

// String returns the number as JavaScript would write it: 60, 0.5, 1e+21.
func (n Num) String() string { return string(n.appendTo(nil)) }

// String returns the options map as the API expects it: {size: "5"}.
func (o Opts) String() string { return string(o.appendTo(nil)) }

// String returns the tag map with sorted, quoted keys: {"host": "prod*"}.
func (t Tags) String() string { return string(t.appendTo(nil)) }

// String returns the text unchanged.
func (r Raw) String() string { return string(r) }

func appendExpr(b []byte, e Expr) []byte {
	if e == nil {
		return append(b, "<nil>"...)
	}
	return e.appendTo(b)
}

func (c Call) appendTo(b []byte) []byte {
	b = append(b, c.Name...)
	b = append(b, '(')
	for i, a := range c.Args {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendExpr(b, a)
	}
	return append(b, ')')
}

func (s Set) appendTo(b []byte) []byte {
	b = append(b, '[')
	for i, e := range s {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendExpr(b, e)
	}
	return append(b, ']')
}

func (s Str) appendTo(b []byte) []byte { return appendQuoted(b, string(s)) }

func (n Num) appendTo(b []byte) []byte { return append(b, formatNum(float64(n))...) }

func (o Opts) appendTo(b []byte) []byte {
	b = append(b, '{')
	for i, kv := range o {
		if i > 0 {
			b = append(b, ", "...)
		}
		if isIdent(kv.Key) {
			b = append(b, kv.Key...)
		} else {
			b = appendQuoted(b, kv.Key)
		}
		b = append(b, ": "...)
		b = appendExpr(b, kv.Value)
	}
	return append(b, '}')
}

func (t Tags) appendTo(b []byte) []byte {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ", "...)
		}
		b = appendQuoted(b, k)
		b = append(b, ": "...)
		b = appendQuoted(b, t[k])
	}
	return append(b, '}')
}

func (r Raw) appendTo(b []byte) []byte { return append(b, r...) }

const compositeHex = "0123456789abcdef"

// appendQuoted writes s as a double-quoted, JS-compatible string literal.
// Non-ASCII text is kept as UTF-8; control characters are escaped.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20 || c == 0x7f:
			b = append(b, '\\', 'u', '0', '0', compositeHex[c>>4], compositeHex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}

// formatNum formats like JavaScript's Number#toString: plain decimals for
// everyday magnitudes, exponents only for very large or small ones.
func formatNum(f float64) string {
	if a := math.Abs(f); a == 0 || (a >= 1e-6 && a < 1e21) {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // 1e-07
	if i := strings.Index(s, "e"); i >= 0 {
		exp := strings.TrimLeft(s[i+2:], "0")
		s = s[:i+2] + exp // 1e-7, as JavaScript writes it
	}
	return s
}

// isIdent reports whether s is a bare identifier: a function name or an
// option key that needs no quotes.
func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || c == '$' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || i > 0 && '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// validString reports whether s can travel in a composite: the API receives
// it inside JSON or a URL, where invalid UTF-8 would be mangled.
func validString(s string) bool { return utf8.ValidString(s) }
