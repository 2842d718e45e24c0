package composite

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/go-librato/librato/internal/invalid"
)

// Error is a syntax or validation error in a composite expression.
// Line and Column (1-based, in characters) locate the offending token of a
// parsed expression; they are 0 for errors found in a built expression.
type Error struct {
	Line, Column int
	Msg          string
}

// Error returns "composite: line:column: message", or "composite: message"
// when there is no position.
func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("composite: %d:%d: %s", e.Line, e.Column, e.Msg)
	}
	return "composite: " + e.Msg
}

// Unwrap returns ErrInvalid, so errors.Is(err, ErrInvalid) holds for every
// composite syntax or validation error.
func (e *Error) Unwrap() error { return invalid.Err }

// Validate checks that e is a whole composite query, as a query or a composite metric takes it:
// valid (e.Validate) and set-valued (a function call or a set, not a bare string or number).
func Validate(e Expr) error {
	if e == nil {
		return invalidf("no expression")
	}
	if err := e.Validate(); err != nil {
		return err
	}
	if !isSetValued(e) {
		return invalidf("a composite must be a function call or a set, got %s", clip(e.String()))
	}
	return nil
}

func invalidf(format string, args ...any) *Error {
	return &Error{Msg: fmt.Sprintf(format, args...)}
}

// Validate checks every call in the expression; see Expr.
func (c Call) Validate() error {
	for _, a := range c.Args {
		if a == nil {
			return invalidf("%s: nil argument", c.Name)
		}
		if err := a.Validate(); err != nil {
			return err
		}
	}
	if _, err := checkCall(c); err != nil {
		return err
	}
	return nil
}

// Validate checks that every member is a valid set-valued expression.
func (s Set) Validate() error {
	for _, e := range s {
		if e == nil {
			return invalidf("nil set member")
		}
		if err := e.Validate(); err != nil {
			return err
		}
		if !isSetValued(e) {
			return invalidf("set member %s is not a series expression", clip(e.String()))
		}
	}
	return nil
}

// Validate checks that the string is valid UTF-8.
func (s Str) Validate() error {
	if !validString(string(s)) {
		return invalidf("string %s is not valid UTF-8", clip(s.String()))
	}
	return nil
}

// Validate checks that the number is finite.
func (n Num) Validate() error {
	if math.IsNaN(float64(n)) || math.IsInf(float64(n), 0) {
		return invalidf("number %v is not finite", float64(n))
	}
	return nil
}

// Validate checks keys (present, unique, UTF-8) and values.
func (o Opts) Validate() error {
	seen := make(map[string]bool, len(o))
	for _, kv := range o {
		if kv.Key == "" || !validString(kv.Key) {
			return invalidf("option key %q is empty or not valid UTF-8", kv.Key)
		}
		if seen[kv.Key] {
			return invalidf("duplicate option %q", kv.Key)
		}
		seen[kv.Key] = true
		if kv.Value == nil {
			return invalidf("option %q has no value", kv.Key)
		}
		if err := kv.Value.Validate(); err != nil {
			return err
		}
	}
	return nil
}

// Validate checks that tag names are present and everything is valid UTF-8.
func (t Tags) Validate() error {
	for k, v := range t {
		if k == "" || !validString(k) || !validString(v) {
			return invalidf("tag %q: %q: empty name or invalid UTF-8", k, v)
		}
	}
	return nil
}

// Validate only checks that the text is not blank.
func (r Raw) Validate() error {
	if strings.TrimSpace(string(r)) == "" {
		return invalidf("empty expression")
	}
	return nil
}

// isSetValued reports whether e can stand where the API wants a set of series.
func isSetValued(e Expr) bool {
	switch e.(type) {
	case Call, Set, Raw:
		return true
	}
	return false
}

// clip shortens text quoted in an error message.
func clip(s string) string {
	if r := []rune(s); len(r) > 40 {
		return string(r[:37]) + "..."
	}
	return s
}

// argError is a problem with one argument of a call; arg -1 means the call itself.
type argError struct {
	arg int
	msg string
}

// Known functions: each checks the shape of its own arguments (not recursively).
var funcChecks = map[string]func(c Call) *argError{
	"s":              checkSeries,
	"series":         checkSeries,
	"sum":            checkSetOnly,
	"mean":           checkSetOnly,
	"min":            checkSetOnly,
	"max":            checkSetOnly,
	"multiply":       checkSetOnly,
	"abs":            checkSetOnly,
	"rate":           checkSetOnly,
	"integrate":      checkSetOnly,
	"zero_fill":      checkSetOnly,
	"derive":         checkDerive,
	"divide":         checkDivide,
	"scale":          checkScale,
	"window":         checkWindow,
	"moving_average": checkWindow,
	"fill":           checkFill,
	"timeshift":      checkTimeshift,
	"top":            checkRank,
	"bottom":         checkRank,
	"group_by":       checkGroupBy,
}

// checkCall checks a call's name and, for known functions, its arguments.
// The returned index says which argument is at fault (-1: the call).
func checkCall(c Call) (int, *Error) {
	if !isIdent(c.Name) {
		return -1, invalidf("invalid function name %q", c.Name)
	}
	check := funcChecks[c.Name]
	if check == nil {
		return -1, nil
	}
	if e := check(c); e != nil {
		return e.arg, invalidf("%s: %s", c.Name, e.msg)
	}
	return -1, nil
}

func argf(arg int, format string, args ...any) *argError {
	return &argError{arg: arg, msg: fmt.Sprintf(format, args...)}
}

func wantArgs(c Call, lo, hi int) *argError {
	switch {
	case len(c.Args) < lo:
		return argf(-1, "needs at least %d argument(s), got %d", lo, len(c.Args))
	case len(c.Args) > hi:
		return argf(hi, "takes at most %d argument(s), got %d", hi, len(c.Args))
	}
	return nil
}

func wantSet(c Call, i int) *argError {
	if !isSetValued(c.Args[i]) {
		return argf(i, "argument %d must be a series expression or set, got %s", i+1, clip(c.Args[i].String()))
	}
	return nil
}

// wantOptions returns argument i as an options map (nil when absent).
func wantOptions(c Call, i int) (Opts, *argError) {
	if i >= len(c.Args) {
		return nil, nil
	}
	o, ok := c.Args[i].(Opts)
	if !ok {
		return nil, argf(i, "argument %d must be an options map, got %s", i+1, clip(c.Args[i].String()))
	}
	return o, nil
}

// optText returns an option's value as text; the API wants strings, and
// numbers are accepted too. ok is false when the option is absent.
func optText(o Opts, key string, arg int) (v string, ok bool, e *argError) {
	for _, kv := range o {
		if kv.Key != key {
			continue
		}
		switch x := kv.Value.(type) {
		case Str:
			return string(x), true, nil
		case Num:
			return formatNum(float64(x)), true, nil
		}
		return "", true, argf(arg, "option %s must be a string, got %s", key, clip(kv.Value.String()))
	}
	return "", false, nil
}

func optInt(o Opts, key string, arg, lo, hi int) (bool, *argError) {
	v, ok, e := optText(o, key, arg)
	if e != nil || !ok {
		return ok, e
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return true, argf(arg, "option %s must be a whole number from %d to %d, got %q", key, lo, hi, v)
	}
	return true, nil
}

func optOneOf(o Opts, key string, arg int, allowed ...string) *argError {
	v, ok, e := optText(o, key, arg)
	if e != nil || !ok {
		return e
	}
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return argf(arg, "option %s must be one of %s, got %q", key, strings.Join(allowed, ", "), v)
}

// setWithOptions checks the shape fn(set[, {options}]) shared by most
// functions: lo to 2 arguments, the first a series expression or set, the
// second (if any) an options map, which it returns.
func setWithOptions(c Call, lo int) (Opts, *argError) {
	if e := wantArgs(c, lo, 2); e != nil {
		return nil, e
	}
	if e := wantSet(c, 0); e != nil {
		return nil, e
	}
	return wantOptions(c, 1)
}

// requiredText is optText for an option that must be present.
func requiredText(o Opts, key string, arg int) (string, *argError) {
	v, ok, e := optText(o, key, arg)
	if e == nil && !ok {
		e = argf(arg, "option %s is required", key)
	}
	return v, e
}

func checkSetOnly(c Call) *argError {
	if e := wantArgs(c, 1, 1); e != nil {
		return e
	}
	return wantSet(c, 0)
}

func checkSeries(c Call) *argError {
	if e := wantArgs(c, 2, 3); e != nil {
		return e
	}
	if m, ok := c.Args[0].(Str); !ok || m == "" {
		return argf(0, "the metric name must be a non-empty string, got %s", clip(c.Args[0].String()))
	}
	switch c.Args[1].(type) {
	case Str, Tags:
	default:
		return argf(1, "the selector must be a source pattern string or a tag map, got %s", clip(c.Args[1].String()))
	}
	o, e := wantOptions(c, 2)
	if e != nil {
		return e
	}
	if e := optOneOf(o, "function", 2, "min", "max", "mean", "sum", "count"); e != nil {
		return e
	}
	_, e = optInt(o, "period", 2, 1, math.MaxInt32)
	return e
}

func checkDerive(c Call) *argError {
	o, e := setWithOptions(c, 1)
	if e != nil {
		return e
	}
	return optOneOf(o, "detect_reset", 1, "true", "false")
}

func checkDivide(c Call) *argError {
	if e := checkSetOnly(c); e != nil {
		return e
	}
	if s, ok := c.Args[0].(Set); ok && len(s) != 2 {
		return argf(0, "needs exactly 2 series [dividend, divisor], got %d", len(s))
	}
	return nil
}

var fractionRE = regexp.MustCompile(`^[0-9]+/[0-9]+$`)

func checkScale(c Call) *argError {
	o, e := setWithOptions(c, 2)
	if e != nil {
		return e
	}
	v, e := requiredText(o, "factor", 1)
	if e != nil {
		return e
	}
	if fractionRE.MatchString(v) {
		if den, _ := strconv.ParseUint(v[strings.IndexByte(v, '/')+1:], 10, 64); den == 0 {
			return argf(1, "factor %q divides by zero", v)
		}
		return nil
	}
	if f, err := strconv.ParseFloat(v, 64); err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return argf(1, "factor must be a number or a fraction such as 1/1024, got %q", v)
	}
	return nil
}

func checkWindow(c Call) *argError {
	o, e := setWithOptions(c, 2)
	if e != nil {
		return e
	}
	ok, e := optInt(o, "size", 1, 1, 64)
	if e != nil {
		return e
	}
	if !ok {
		return argf(1, "option size is required")
	}
	if c.Name == "window" {
		return optOneOf(o, "function", 1, "mean", "sum", "min", "max", "median")
	}
	return nil
}

func checkFill(c Call) *argError {
	o, e := setWithOptions(c, 2)
	if e != nil {
		return e
	}
	v, e := requiredText(o, "value", 1)
	if e != nil {
		return e
	}
	if f, err := strconv.ParseFloat(v, 64); v != "last" && (err != nil || math.IsInf(f, 0) || math.IsNaN(f)) {
		return argf(1, "value must be a number or \"last\", got %q", v)
	}
	return nil
}

var offsetsRE = regexp.MustCompile(`^[+-]?[0-9]+(,[+-]?[0-9]+)*[smhdw]?$`)

func checkTimeshift(c Call) *argError {
	if e := wantArgs(c, 2, 2); e != nil {
		return e
	}
	if s, ok := c.Args[0].(Str); !ok || !offsetsRE.MatchString(strings.ReplaceAll(string(s), " ", "")) {
		return argf(0, "offsets must be a string such as \"0,1,2,3w\", got %s", clip(c.Args[0].String()))
	}
	return wantSet(c, 1)
}

func checkRank(c Call) *argError {
	o, e := setWithOptions(c, 1)
	if e != nil {
		return e
	}
	if _, e := optInt(o, "count", 1, 1, math.MaxInt32); e != nil {
		return e
	}
	return optOneOf(o, "function", 1, "min", "max", "mean", "sum")
}

func checkGroupBy(c Call) *argError {
	if e := wantArgs(c, 2, 2); e != nil {
		return e
	}
	if s, ok := c.Args[0].(Str); !ok || strings.Trim(string(s), " ,") == "" {
		return argf(0, "the tag list must be a non-empty string such as \"host,region\", got %s", clip(c.Args[0].String()))
	}
	return wantSet(c, 1)
}
