package composite

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxCompositeDepth bounds nesting so that hostile input cannot exhaust the
// stack; real expressions nest a handful of levels.
const maxCompositeDepth = 200

// Parse parses an expression of the composite metric language:
// function calls name(args...) (no space before the parenthesis), sets
// [a, b], double- or single-quoted strings with JavaScript backslash escapes,
// numbers, and option maps {key: "value"} with bare or quoted keys. The whole
// expression must be a call or a set. A map in the selector position of
// s/series is read as Tags, any other map as Opts.
//
// Calls of known functions are checked as Validate checks them, so a parsed
// expression always validates; unknown function names are kept as calls.
// The result's String is the canonical form, and parsing it again gives an
// equal expression.
//
// Errors are *Error values (matching ErrInvalid) that locate the
// offending token by line and character column, e.g.
// "composite: 1:17: expected ')' after arguments of sum, found identifier s".
func Parse(s string) (Expr, error) {
	if !utf8.ValidString(s) {
		i := 0
		for i < len(s) {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			i += n
		}
		line, col := position(s, i)
		return nil, &Error{Line: line, Column: col, Msg: "invalid UTF-8"}
	}
	p := &parser{src: s}
	p.next()
	first := p.tok
	e, err := p.expr(0)
	if err != nil {
		return nil, err
	}
	if !isSetValued(e) {
		return nil, p.errorf(first.pos, "a composite must be a function call or a set, found %s", first)
	}
	if p.tok.kind != tokEOF {
		return nil, p.errorf(p.tok.pos, "unexpected %s after the expression", p.tok)
	}
	return e, nil
}

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokIdent
	tokString
	tokNumber
	tokPunct   // one of ( ) [ ] { } , :
	tokIllegal // anything else, or a malformed literal (then parser.err says why)
)

type token struct {
	kind tokKind
	pos  int // byte offset of the token's first character
	text string
	str  string  // decoded value of a string
	num  float64 // value of a number
}

// String describes a token for error messages.
func (t token) String() string {
	switch t.kind {
	case tokEOF:
		return "end of input"
	case tokIdent:
		return "identifier " + clip(t.text)
	case tokString:
		return "string " + clip(t.text)
	case tokNumber:
		return "number " + clip(t.text)
	case tokPunct:
		return "'" + t.text + "'"
	}
	r, _ := utf8.DecodeRuneInString(t.text)
	return fmt.Sprintf("character %q", r)
}

type parser struct {
	src string
	off int   // scan offset
	tok token // current token
	// space is whether whitespace came between the previous token and tok.
	space bool
	err   *Error // scanning error, reported when the token is used
}

// position converts a byte offset into a 1-based line and character column.
func position(src string, off int) (line, col int) {
	line = 1
	start := 0
	for i := 0; i < off && i < len(src); i++ {
		if src[i] == '\n' {
			line++
			start = i + 1
		}
	}
	return line, utf8.RuneCountInString(src[start:min(off, len(src))]) + 1
}

func (p *parser) errorf(off int, format string, args ...any) *Error {
	line, col := position(p.src, off)
	return &Error{Line: line, Column: col, Msg: fmt.Sprintf(format, args...)}
}

// next scans the following token into p.tok.
func (p *parser) next() {
	start := p.off
	for p.off < len(p.src) {
		switch p.src[p.off] {
		case ' ', '\t', '\n', '\r':
			p.off++
			continue
		}
		break
	}
	p.space = p.off > start
	p.tok = token{pos: p.off}
	if p.off >= len(p.src) {
		p.tok.kind = tokEOF
		return
	}
	c := p.src[p.off]
	switch {
	case strings.IndexByte("()[]{},:", c) >= 0:
		p.tok.kind, p.tok.text = tokPunct, p.src[p.off:p.off+1]
		p.off++
	case c == '"' || c == '\'':
		p.scanString(c)
	case c == '-' || c == '.' || '0' <= c && c <= '9':
		p.scanNumber()
	case c == '_' || c == '$' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		i := p.off + 1
		for i < len(p.src) && isIdentByte(p.src[i]) {
			i++
		}
		p.tok.kind, p.tok.text = tokIdent, p.src[p.off:i]
		p.off = i
	default:
		_, n := utf8.DecodeRuneInString(p.src[p.off:])
		p.tok.kind, p.tok.text = tokIllegal, p.src[p.off:p.off+n]
		p.off += n
	}
}

func isIdentByte(c byte) bool {
	return c == '_' || c == '$' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func (p *parser) illegal(off int, format string, args ...any) {
	p.tok.kind = tokIllegal
	p.err = p.errorf(off, format, args...)
}

func (p *parser) scanString(quote byte) {
	start := p.off
	// Fast path: most strings have no escapes and need no copy.
	for j := start + 1; j < len(p.src); j++ {
		c := p.src[j]
		if c == quote {
			p.tok.kind, p.tok.text, p.tok.str = tokString, p.src[start:j+1], p.src[start+1:j]
			p.off = j + 1
			return
		}
		if c == '\\' || c < 0x20 {
			break
		}
	}
	var b strings.Builder
	i := p.off + 1
	for {
		if i >= len(p.src) {
			p.off = i
			p.illegal(start, "unterminated string")
			return
		}
		c := p.src[i]
		switch {
		case c == quote:
			i++
			p.tok.kind, p.tok.text, p.tok.str = tokString, p.src[start:i], b.String()
			p.off = i
			return
		case c < 0x20:
			p.off = i + 1
			p.illegal(i, "control character %U in string (escape it)", rune(c))
			return
		case c != '\\':
			b.WriteByte(c)
			i++
			continue
		}
		// A backslash escape.
		if i+1 >= len(p.src) {
			p.off = i + 1
			p.illegal(start, "unterminated string")
			return
		}
		esc := p.src[i+1]
		switch esc {
		case '"', '\'', '\\', '/':
			b.WriteByte(esc)
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, n := p.unicodeEscape(i)
			if n == 0 {
				p.off = i + 2
				p.illegal(i, "invalid \\u escape in string")
				return
			}
			b.WriteRune(r)
			i += n
			continue
		default:
			p.off = i + 2
			p.illegal(i, "invalid escape \\%s in string", p.src[i+1:i+1+max(1, utf8RuneLen(p.src[i+1:]))])
			return
		}
		i += 2
	}
}

func utf8RuneLen(s string) int { _, n := utf8.DecodeRuneInString(s); return n }

// unicodeEscape decodes \uXXXX at src[i], joining a UTF-16 surrogate pair.
// n is the number of bytes used, 0 if the escape is invalid.
func (p *parser) unicodeEscape(i int) (r rune, n int) {
	hex4 := func(j int) (rune, bool) {
		if j+6 > len(p.src) || p.src[j] != '\\' || p.src[j+1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(p.src[j+2:j+6], 16, 16)
		return rune(v), err == nil
	}
	r, ok := hex4(i)
	switch {
	case !ok:
		return 0, 0
	case 0xD800 <= r && r < 0xDC00:
		lo, ok := hex4(i + 6)
		if !ok || lo < 0xDC00 || lo > 0xDFFF {
			return 0, 0
		}
		return 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00), 12
	case 0xDC00 <= r && r <= 0xDFFF:
		return 0, 0
	}
	return r, 6
}

// scanNumber scans -?(digits[.digits]|.digits)([eE][+-]?digits)?.
func (p *parser) scanNumber() {
	start, i := p.off, p.off
	digits := func() int {
		j := i
		for i < len(p.src) && '0' <= p.src[i] && p.src[i] <= '9' {
			i++
		}
		return i - j
	}
	if p.src[i] == '-' {
		i++
	}
	n := digits()
	if i < len(p.src) && p.src[i] == '.' {
		i++
		n += digits()
	}
	if n == 0 {
		p.off = max(i, start+1)
		p.illegal(start, "malformed number %q", p.src[start:p.off])
		return
	}
	if i < len(p.src) && (p.src[i] == 'e' || p.src[i] == 'E') {
		i++
		if i < len(p.src) && (p.src[i] == '+' || p.src[i] == '-') {
			i++
		}
		if digits() == 0 {
			p.off = i
			p.illegal(start, "malformed number %q", p.src[start:i])
			return
		}
	}
	p.off = i
	text := p.src[start:i]
	if i < len(p.src) && isIdentByte(p.src[i]) {
		p.illegal(start, "malformed number %q", text+p.src[i:i+1])
		return
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil || math.IsInf(f, 0) {
		p.illegal(start, "number %s out of range", text)
		return
	}
	p.tok.kind, p.tok.text, p.tok.num = tokNumber, text, f
}

func (p *parser) isPunct(c string) bool { return p.tok.kind == tokPunct && p.tok.text == c }

// unexpected reports the current token where something else was expected,
// or the scanning error that made it illegal.
func (p *parser) unexpected(format string, args ...any) *Error {
	if p.tok.kind == tokIllegal && p.err != nil {
		return p.err
	}
	return p.errorf(p.tok.pos, "%s, found %s", fmt.Sprintf(format, args...), p.tok)
}

// expr parses one expression.
func (p *parser) expr(depth int) (Expr, error) { return p.value(depth, false) }

// value parses one expression; tags says a map here is a tag selector.
func (p *parser) value(depth int, tags bool) (Expr, error) {
	if depth >= maxCompositeDepth {
		return nil, p.errorf(p.tok.pos, "expression nested more than %d levels deep", maxCompositeDepth)
	}
	switch t := p.tok; {
	case t.kind == tokString:
		p.next()
		return Str(t.str), nil
	case t.kind == tokNumber:
		p.next()
		return Num(t.num), nil
	case t.kind == tokIdent:
		return p.call(depth)
	case p.isPunct("["):
		return p.set(depth)
	case p.isPunct("{") && tags:
		return p.tags()
	case p.isPunct("{"):
		return p.opts(depth)
	}
	return nil, p.unexpected("expected an expression")
}

func (p *parser) call(depth int) (Expr, error) {
	name := p.tok
	p.next()
	if !p.isPunct("(") {
		return nil, p.unexpected("expected '(' after function name %s", name.text)
	}
	if p.space {
		return nil, p.errorf(name.pos+len(name.text), "no space allowed between function name %s and '('", name.text)
	}
	p.next()
	c := Call{Name: name.text}
	var argPos []int
	if !p.isPunct(")") {
		for {
			argPos = append(argPos, p.tok.pos)
			isSeries := (name.text == "s" || name.text == "series") && len(c.Args) == 1
			a, err := p.value(depth+1, isSeries)
			if err != nil {
				return nil, err
			}
			c.Args = append(c.Args, a)
			if !p.isPunct(",") {
				break
			}
			p.next()
		}
		if !p.isPunct(")") {
			return nil, p.unexpected("expected ')' after arguments of %s", name.text)
		}
	}
	p.next()
	if arg, err := checkCall(c); err != nil {
		pos := name.pos
		if arg >= 0 && arg < len(argPos) {
			pos = argPos[arg]
		}
		err.Line, err.Column = position(p.src, pos)
		return nil, err
	}
	return c, nil
}

func (p *parser) set(depth int) (Expr, error) {
	p.next()
	s := Set{}
	if !p.isPunct("]") {
		for {
			pos := p.tok.pos
			e, err := p.expr(depth + 1)
			if err != nil {
				return nil, err
			}
			if !isSetValued(e) {
				return nil, p.errorf(pos, "set member %s is not a series expression", clip(e.String()))
			}
			s = append(s, e)
			if !p.isPunct(",") {
				break
			}
			p.next()
		}
		if !p.isPunct("]") {
			return nil, p.unexpected("expected ']' after set members")
		}
	}
	p.next()
	return s, nil
}

// key parses a map key, bare or quoted, and the colon after it.
func (p *parser) key() (string, int, error) {
	t := p.tok
	var k string
	switch t.kind {
	case tokIdent:
		k = t.text
	case tokString:
		k = t.str
		if k == "" {
			return "", 0, p.errorf(t.pos, "empty key")
		}
	default:
		return "", 0, p.unexpected("expected a key")
	}
	p.next()
	if !p.isPunct(":") {
		return "", 0, p.unexpected("expected ':' after key %s", clip(t.text))
	}
	p.next()
	return k, t.pos, nil
}

func (p *parser) opts(depth int) (Expr, error) {
	p.next()
	o := Opts{}
	if !p.isPunct("}") {
		for {
			k, pos, err := p.key()
			if err != nil {
				return nil, err
			}
			for _, kv := range o {
				if kv.Key == k {
					return nil, p.errorf(pos, "duplicate option %q", k)
				}
			}
			v, err := p.expr(depth + 1)
			if err != nil {
				return nil, err
			}
			o = append(o, Opt{k, v})
			if !p.isPunct(",") {
				break
			}
			p.next()
		}
		if !p.isPunct("}") {
			return nil, p.unexpected("expected '}' after options")
		}
	}
	p.next()
	return o, nil
}

func (p *parser) tags() (Expr, error) {
	p.next()
	t := Tags{}
	if !p.isPunct("}") {
		for {
			k, pos, err := p.key()
			if err != nil {
				return nil, err
			}
			if _, dup := t[k]; dup {
				return nil, p.errorf(pos, "duplicate tag %q", k)
			}
			if p.tok.kind != tokString {
				return nil, p.unexpected("expected a string value for tag %q", k)
			}
			t[k] = p.tok.str
			p.next()
			if !p.isPunct(",") {
				break
			}
			p.next()
		}
		if !p.isPunct("}") {
			return nil, p.unexpected("expected '}' after tags")
		}
	}
	p.next()
	return t, nil
}
