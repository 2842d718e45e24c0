package composite

import (
	"bufio"
	"errors"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-librato/librato/internal/invalid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files in testdata/")

// equalExpr reports whether two expressions are structurally equal, treating
// nil and empty sets, options and tags alike (both render the same).
func equalExpr(a, b Expr) bool {
	switch x := a.(type) {
	case Call:
		y, ok := b.(Call)
		if !ok || x.Name != y.Name || len(x.Args) != len(y.Args) {
			return false
		}
		for i := range x.Args {
			if !equalExpr(x.Args[i], y.Args[i]) {
				return false
			}
		}
		return true
	case Set:
		y, ok := b.(Set)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalExpr(x[i], y[i]) {
				return false
			}
		}
		return true
	case Opts:
		y, ok := b.(Opts)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if x[i].Key != y[i].Key || !equalExpr(x[i].Value, y[i].Value) {
				return false
			}
		}
		return true
	case Tags:
		y, ok := b.(Tags)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || v != w {
				return false
			}
		}
		return true
	case Num:
		y, ok := b.(Num)
		return ok && x == y
	}
	return a == b // Str, Raw, nil
}

func TestBuilderString(t *testing.T) {
	a, b := Series("a", Source("*")), Series("b", Source("*"))
	tests := []struct {
		name string
		expr Expr
		want string
	}{
		{"series legacy", Series("cpu", Source("web*")), `s("cpu", "web*")`},
		{"series dynamic", Series("cpu", DynamicSource), `s("cpu", "%")`},
		{"series tags sorted", Series("cpu", Tags{"region": "us-*", "host": "prod*"}), `s("cpu", {"host": "prod*", "region": "us-*"})`},
		{"series empty tags", Series("foo.bar.baz", Tags{}), `s("foo.bar.baz", {})`},
		{"series nil tags", Series("foo.bar.baz", Tags(nil)), `s("foo.bar.baz", {})`},
		{"series options", Mean(Series("temperature", Source("*"), SeriesOptions{Function: "mean", Period: time.Hour})),
			`mean(s("temperature", "*", {function: "mean", period: "3600"}))`},
		{"series options merged", Series("a", Source("*"), SeriesOptions{Function: "sum"}, SeriesOptions{Period: time.Minute}, SeriesOptions{Function: "max"}),
			`s("a", "*", {function: "max", period: "60"})`},
		{"series", Series("foo", Source("*")), `s("foo", "*")`},
		{"sum", Sum(Series("humidity", Source("*"))), `sum(s("humidity", "*"))`},
		{"sum of two", Sum(a, b), `sum([s("a", "*"), s("b", "*")])`},
		{"sum of set", Sum(Set{a, b}), `sum([s("a", "*"), s("b", "*")])`},
		{"min", Min(a), `min(s("a", "*"))`},
		{"max", Max(a), `max(s("a", "*"))`},
		{"multiply", Multiply(a, b), `multiply([s("a", "*"), s("b", "*")])`},
		{"abs", Abs(a), `abs(s("a", "*"))`},
		{"rate", Rate(a), `rate(s("a", "*"))`},
		{"integrate", Integrate(a), `integrate(s("a", "*"))`},
		{"zero_fill", ZeroFill(a), `zero_fill(s("a", "*"))`},
		{"derive", Derive(a, false), `derive(s("a", "*"))`},
		{"derive reset", Derive(Series("librato.disk.disk_ops.read", Tags{"host": "ip-192-168-15-18.ec2.internal"}), true),
			`derive(s("librato.disk.disk_ops.read", {"host": "ip-192-168-15-18.ec2.internal"}), {detect_reset: "true"})`},
		{"divide", Divide(a, b), `divide([s("a", "*"), s("b", "*")])`},
		{"scale", Scale(a, 0.5), `scale(s("a", "*"), {factor: "0.5"})`},
		{"scale big", Scale(a, 1e22), `scale(s("a", "*"), {factor: "1e+22"})`},
		{"scale fraction", ScaleFraction(a, 1, 1024), `scale(s("a", "*"), {factor: "1/1024"})`},
		{"window", Window(Max(Series("api.auth.time.p99", Source("*"))), 10, ""), `window(max(s("api.auth.time.p99", "*")), {size: "10"})`},
		{"window function", Window(a, 5, "median"), `window(s("a", "*"), {size: "5", function: "median"})`},
		{"moving_average", MovingAverage(Mean(Series("foo", Source("*"))), 5), `moving_average(mean(s("foo", "*")), {size: "5"})`},
		{"fill", Fill(a, 0), `fill(s("a", "*"), {value: "0"})`},
		{"fill last", FillLast(a), `fill(s("a", "*"), {value: "last"})`},
		{"timeshift", Timeshift("0,1,2,3w", Window(Max(Series("api.auth.time.p99", Source("*"))), 10, "")),
			`timeshift("0,1,2,3w", window(max(s("api.auth.time.p99", "*")), {size: "10"}))`},
		{"top", Top(a, 3, "max"), `top(s("a", "*"), {count: "3", function: "max"})`},
		{"bottom", Bottom(a, 2, ""), `bottom(s("a", "*"), {count: "2"})`},
		{"group_by", GroupBy("host,region", Series("cpu", Tags{})), `group_by("host,region", s("cpu", {}))`},
		{"set", Set{a, b}, `[s("a", "*"), s("b", "*")]`},
		{"func", Func("last_fill", a), `last_fill(s("a", "*"))`},
		{"raw", Raw(`sum(s("x","*"))`), `sum(s("x","*"))`},
		{"escapes", Series("q\"b\\s", Source("t\tn\nc\x01\x7f")), `s("q\"b\\s", "t\tn\nc\u0001\u007f")`},
		{"unicode", Series("é", Tags{"ключ": "😀"}), `s("é", {"ключ": "😀"})`},
		{"options keys", Func("foo", Opts{{"a", Num(1)}, {"b c", Str("x")}, {"9", Num(-0.25)}}), `foo({a: 1, "b c": "x", "9": -0.25})`},
		{"numbers", Func("foo", Num(1e21), Num(1e-7), Num(123456789), Num(0.000001)), `foo(1e+21, 1e-7, 123456789, 0.000001)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.expr.String())
			require.NoError(t, tt.expr.Validate())
			if _, raw := tt.expr.(Raw); raw {
				return
			}
			back, err := Parse(tt.expr.String())
			require.NoError(t, err)
			assert.True(t, equalExpr(tt.expr, back), "round trip: %#v != %#v", tt.expr, back)
			assert.Equal(t, tt.want, back.String())
		})
	}
}

func TestBuilderValidate(t *testing.T) {
	a := Series("a", Source("*"))
	tests := []struct {
		name string
		expr Expr
		want string
	}{
		{"no selector", Series("cpu", nil), "s: needs at least 2 argument(s), got 1"},
		{"empty metric", Series("", Source("*")), "s: the metric name must be a non-empty string"},
		{"bad series function", Series("a", Source("*"), SeriesOptions{Function: "median"}), `option function must be one of min, max, mean, sum, count, got "median"`},
		{"fractional period", Series("a", Source("*"), SeriesOptions{Period: 1500 * time.Millisecond}), `option period must be a whole number from 1 to 2147483647, got "1.5"`},
		{"negative period", Series("a", Source("*"), SeriesOptions{Period: -time.Minute}), `got "-60"`},
		{"window too big", Window(a, 65, ""), `window: option size must be a whole number from 1 to 64, got "65"`},
		{"window zero", Window(a, 0, "mean"), `got "0"`},
		{"window function", Window(a, 5, "p99"), `window: option function must be one of mean, sum, min, max, median, got "p99"`},
		{"moving_average too big", MovingAverage(a, 100), `moving_average: option size must be a whole number from 1 to 64`},
		{"divide literal set of 3", Func("divide", Set{a, a, a}), "divide: needs exactly 2 series [dividend, divisor], got 3"},
		{"divide nil", Divide(a, nil), "nil set member"},
		{"scale NaN", Scale(a, math.NaN()), `scale: factor must be a number or a fraction such as 1/1024, got "NaN"`},
		{"scale Inf", Scale(a, math.Inf(1)), `got "+Inf"`},
		{"scale by zero fraction", ScaleFraction(a, 1, 0), `scale: factor "1/0" divides by zero`},
		{"fill NaN", Fill(a, math.NaN()), `fill: value must be a number or "last", got "NaN"`},
		{"timeshift", Timeshift("yesterday", a), `timeshift: offsets must be a string such as "0,1,2,3w"`},
		{"top zero", Top(a, 0, ""), `top: option count must be a whole number from 1`},
		{"bottom function", Bottom(a, 1, "median"), `bottom: option function must be one of min, max, mean, sum, got "median"`},
		{"group_by empty", GroupBy(" , ", a), "group_by: the tag list must be a non-empty string"},
		{"sum of nothing", Sum(), "sum: needs at least 1 argument(s), got 0"},
		{"sum of nil", Sum(nil), "sum: nil argument"},
		{"sum of a string", Sum(Str("a")), `sum: argument 1 must be a series expression or set, got "a"`},
		{"set of numbers", Sum(Set{Num(1)}), "set member 1 is not a series expression"},
		{"nested invalid", Sum(Mean(Window(a, 99, ""))), "window: option size"},
		{"nil arg", Func("foo", nil), "foo: nil argument"},
		{"bad func name", Func("no space", a), `invalid function name "no space"`},
		{"empty func name", Func("", a), `invalid function name ""`},
		{"invalid utf8", Series("a\xff", Source("*")), "is not valid UTF-8"},
		{"invalid utf8 tag", Series("a", Tags{"h": "\xff"}), "invalid UTF-8"},
		{"empty tag name", Series("a", Tags{"": "x"}), "empty name"},
		{"duplicate option", Func("foo", Opts{{"a", Num(1)}, {"a", Num(2)}}), `duplicate option "a"`},
		{"nil option", Func("foo", Opts{{"a", nil}}), `option "a" has no value`},
		{"NaN number", Func("foo", Num(math.NaN())), "number NaN is not finite"},
		{"blank raw", Raw("  "), "empty expression"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.expr.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.want)
			assert.True(t, strings.HasPrefix(err.Error(), "composite: "), err.Error())
			assert.ErrorIs(t, err, invalid.Err)
			var ce *Error
			require.ErrorAs(t, err, &ce)
			assert.Zero(t, ce.Line, "built expressions have no position")
		})
	}
}

func TestParseErrorPosition(t *testing.T) {
	tests := []struct{ in, want string }{
		{`divide([s("a", "*") s("b", "*")])`, `composite: 1:21: expected ']' after set members, found identifier s`},
		{`sum(s("a", "*") s("b", "*"))`, `composite: 1:17: expected ')' after arguments of sum, found identifier s`},
		{"sum(\n  s(\"a\", \"*\"),\n  window(s(\"b\", \"*\"), {size: \"99\"})\n)", `composite: 3:23: window: option size must be a whole number from 1 to 64, got "99"`},
		{"s(\"é\", \"ü\" ,, )", `composite: 1:13: expected an expression, found ','`},
		{`s("a", "*")` + "\xff", "composite: 1:12: invalid UTF-8"},
		{"sum(s(\"a\", \"*\"))\n)", "composite: 2:1: unexpected ')' after the expression"},
		{`sum  (s("a", "*"))`, "composite: 1:4: no space allowed between function name sum and '('"},
		{`s("a\qb", "*")`, `composite: 1:5: invalid escape \q in string`},
		{`s("abc`, `composite: 1:3: unterminated string`},
		{"", "composite: 1:1: expected an expression, found end of input"},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		require.Error(t, err, tt.in)
		assert.Equal(t, tt.want, err.Error(), tt.in)
	}
}

func TestParseDepth(t *testing.T) {
	deep := strings.Repeat("abs(", maxCompositeDepth) + `s("a", "*")` + strings.Repeat(")", maxCompositeDepth)
	_, err := Parse(deep)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "nested more than 200 levels deep")

	// The strings inside s(...) are one level deeper than the call.
	ok := strings.Repeat("abs(", maxCompositeDepth-2) + `s("a", "*")` + strings.Repeat(")", maxCompositeDepth-2)
	e, err := Parse(ok)
	require.NoError(t, err)
	assert.Equal(t, ok, e.String())
}

// readCases returns the non-blank, non-comment lines of a testdata file.
func readCases(t testing.TB, name string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "testdata", "composite", name))
	require.NoError(t, err)
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := sc.Text(); strings.TrimSpace(l) != "" && !strings.HasPrefix(l, "#") {
			lines = append(lines, l)
		}
	}
	require.NoError(t, sc.Err())
	return lines
}

// TestParseGolden parses good.txt and bad.txt and compares the
// canonical forms and errors with good.golden and bad.golden. Each golden
// entry is the input line followed by "-> " and the result.
func TestParseGolden(t *testing.T) {
	for _, set := range []string{"good", "bad"} {
		t.Run(set, func(t *testing.T) {
			var out strings.Builder
			for _, in := range readCases(t, set+".txt") {
				e, err := Parse(in)
				var got string
				if set == "good" {
					require.NoError(t, err, in)
					got = e.String()
					require.NoError(t, e.Validate(), in)
					again, err := Parse(got)
					require.NoError(t, err, got)
					assert.True(t, equalExpr(e, again), "re-parse of %s differs", got)
					assert.Equal(t, got, again.String(), "canonical form is stable")
				} else {
					require.Error(t, err, in)
					assert.Nil(t, e)
					assert.ErrorIs(t, err, invalid.Err)
					got = err.Error()
				}
				out.WriteString(in + "\n-> " + got + "\n\n")
			}
			path := filepath.Join("..", "testdata", "composite", set+".golden")
			if *updateGolden {
				require.NoError(t, os.WriteFile(path, []byte(out.String()), 0o644))
			}
			want, err := os.ReadFile(path)
			require.NoError(t, err, "run with -update to create it")
			assert.Equal(t, string(want), out.String())
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, set := range []string{"good.txt", "bad.txt"} {
		for _, in := range readCases(f, set) {
			f.Add(in)
		}
	}
	f.Fuzz(func(t *testing.T, in string) {
		e, err := Parse(in)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) || ce.Line < 1 || ce.Column < 1 {
				t.Fatalf("error without a position: %v", err)
			}
			return
		}
		if err := e.Validate(); err != nil {
			t.Fatalf("parsed %q but Validate: %v", in, err)
		}
		s := e.String()
		again, err := Parse(s)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", s, in, err)
		}
		if !equalExpr(e, again) {
			t.Fatalf("re-parse of %q differs: %#v vs %#v", s, e, again)
		}
		if s2 := again.String(); s2 != s {
			t.Fatalf("canonical form not stable: %q vs %q", s, s2)
		}
	})
}

// benchExpr is a realistic composite: nesting, a set, tags and options.
const benchExpr = `timeshift("0,1w", divide([sum(s("api.errors", {"env": "prod", "service": "api"}, {function: "sum", period: "60"})), ` +
	`moving_average(mean(s("api.requests", "web*")), {size: "5"})]))`

func BenchmarkParseComposite(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(benchExpr)))
	for b.Loop() {
		if _, err := Parse(benchExpr); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkExprString(b *testing.B) {
	e, err := Parse(benchExpr)
	require.NoError(b, err)
	b.ReportAllocs()
	for b.Loop() {
		if len(e.String()) != len(benchExpr) {
			b.Fatal("length changed")
		}
	}
}
