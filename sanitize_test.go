package librato

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pythonSanitize is python-librato's sanitize_metric_name transcribed with
// regexp (testdata/README.md, "Limits"): the oracle the byte loop must agree with.
var pythonDisallowed = regexp.MustCompile(`(([^A-Za-z0-9.:\-_]|[\[\]]|\s)+)`)

func pythonSanitize(name string) string {
	s := pythonDisallowed.ReplaceAllString(name, "-")
	if r := []rune(s); len(r) > 255 { // Python slices characters, not bytes
		return string(r[:255])
	}
	return s
}

// The API's rules as regular expressions (testdata/README.md, "Limits"), \A..\z anchored.
// Go's \w is ASCII [0-9A-Za-z_], as the brief and the Ruby server define it.
var (
	metricNameRE = regexp.MustCompile(`\A[-.:_A-Za-z0-9]{1,255}\z`)
	tagNameRE    = regexp.MustCompile(`\A[-.:_\w]{1,64}\z`)
	tagValueRE   = regexp.MustCompile(`\A[-.:_?\\/\w ]{1,255}\z`)
)

func TestSanitizeMetricNamePythonVectors(t *testing.T) {
	// tests/test_sanitization.py, verbatim.
	validChars := "abcdefghijklmnopqrstuvwxyz.:-_"
	tests := []struct{ name, want string }{
		{validChars, validChars},
		{strings.ToUpper(validChars), strings.ToUpper(validChars)},
		{strings.Repeat("a", 500), strings.Repeat("a", 255)},
		{"   \t\nbat$$$*[]()m#@%^&=`~an", "-bat-m-an"},
		{"Just*toBeSafe", "Just-toBeSafe"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, SanitizeMetricName(tt.name), "%q", tt.name)
		assert.Equal(t, tt.want, pythonSanitize(tt.name), "oracle disagrees on %q", tt.name)
	}
}

func TestSanitizeMetricName(t *testing.T) {
	tests := []struct{ name, want string }{
		{"", ""},
		{"  bat$$m#an", "-bat-m-an"}, // DESIGN.md example
		{"cpu.load", "cpu.load"},
		{"a-$b", "a--b"}, // an existing '-' is kept beside the replacement
		{"temp°C", "temp-C"},
		{"温度.cpu", "-.cpu"},
		{"a\xff\xfeb", "a-b"}, // invalid UTF-8 is one run too
		{"[tag]", "-tag-"},
		{"a b\tc\nd", "a-b-c-d"},
		{strings.Repeat("x", 254) + "!!yy", strings.Repeat("x", 254) + "-"},
		{strings.Repeat("x", 255) + "!", strings.Repeat("x", 255)},
		{strings.Repeat("!x", 300), strings.Repeat("-x", 127) + "-"},
		{strings.Repeat("é", 300), "-"},
	}
	for _, tt := range tests {
		got := SanitizeMetricName(tt.name)
		assert.Equal(t, tt.want, got, "%q", tt.name)
		assert.Equal(t, pythonSanitize(tt.name), got, "oracle disagrees on %q", tt.name)
	}
}

func TestSanitizeMetricNameAllocations(t *testing.T) {
	clean := "api.request.latency_p99:eu-west-1"
	long := strings.Repeat("a", 400)
	for _, name := range []string{clean, long, strings.Repeat("b", 255) + " tail"} {
		allocs := testing.AllocsPerRun(100, func() { _ = SanitizeMetricName(name) })
		assert.Zero(t, allocs, "%q", name)
	}
	dirty := "api request latency"
	assert.Equal(t, 1.0, testing.AllocsPerRun(100, func() { _ = SanitizeMetricName(dirty) }))
}

func TestValidators(t *testing.T) {
	long := func(c string, n int) string { return strings.Repeat(c, n) }
	tests := []struct {
		fn      func(string) error
		in      string
		wantErr string // "" means valid
	}{
		{ValidateMetricName, "cpu.load-1:a_B", ""},
		{ValidateMetricName, long("m", 255), ""},
		{ValidateMetricName, "a b", `metric name "a b": invalid character ' ' at byte 1 (allowed: A-Z a-z 0-9 . : - _)`},
		{ValidateMetricName, "", `metric name "": must not be empty`},
		{ValidateMetricName, long("m", 256), `metric name "` + long("m", 64) + `...": is 256 bytes long, at most 255 allowed`},
		{ValidateMetricName, "tempé", `metric name "tempé": invalid character 'é' at byte 4 (allowed: A-Z a-z 0-9 . : - _)`},
		{ValidateMetricName, "a\xffb", `metric name "a\xffb": invalid character '\xff' at byte 1 (allowed: A-Z a-z 0-9 . : - _)`},
		{ValidateMetricName, "a\tb", `metric name "a\tb": invalid character '\t' at byte 1 (allowed: A-Z a-z 0-9 . : - _)`},
		{ValidateMetricName, "a/b", `metric name "a/b": invalid character '/' at byte 1 (allowed: A-Z a-z 0-9 . : - _)`},

		{ValidateSource, "", ""}, // no source
		{ValidateSource, "web-1.prod:eu_1", ""},
		{ValidateSource, "allx", ""},
		{ValidateSource, "all", `source "all": "all" is reserved`},
		{ValidateSource, "ALL", `source "ALL": "all" is reserved`},
		{ValidateSource, "web 1", `source "web 1": invalid character ' ' at byte 3 (allowed: A-Z a-z 0-9 . : - _)`},
		{ValidateSource, long("s", 256), `source "` + long("s", 64) + `...": is 256 bytes long, at most 255 allowed`},

		{ValidateTagName, "Host_Name-1.a:b", ""}, // upper case is folded by the server, not rejected
		{ValidateTagName, long("t", 64), ""},
		{ValidateTagName, long("t", 65), `tag name "` + long("t", 64) + `...": is 65 bytes long, at most 64 allowed`},
		{ValidateTagName, "", `tag name "": must not be empty`},
		{ValidateTagName, "a/b", `tag name "a/b": invalid character '/' at byte 1 (allowed: A-Z a-z 0-9 . : - _)`},
		{ValidateTagName, "a b", `tag name "a b": invalid character ' ' at byte 1 (allowed: A-Z a-z 0-9 . : - _)`},

		{ValidateTagValue, `Prod Web/1\a?b.c:d-e_f`, ""},
		{ValidateTagValue, long("v", 255), ""},
		{ValidateTagValue, "", `tag value "": must not be empty`},
		{ValidateTagValue, long("v", 256), `tag value "` + long("v", 64) + `...": is 256 bytes long, at most 255 allowed`},
		{ValidateTagValue, "a,b", `tag value "a,b": invalid character ',' at byte 1 (allowed: A-Z a-z 0-9 . : - _ ? \ / and space)`},
		{ValidateTagValue, "ü", `tag value "ü": invalid character 'ü' at byte 0 (allowed: A-Z a-z 0-9 . : - _ ? \ / and space)`},
	}
	for _, tt := range tests {
		err := tt.fn(tt.in)
		if tt.wantErr == "" {
			assert.NoError(t, err, "%q", tt.in)
			continue
		}
		require.Error(t, err, "%q", tt.in)
		assert.Equal(t, tt.wantErr, err.Error())
		assert.ErrorIs(t, err, ErrInvalid)
		var ve *ValidationError
		require.ErrorAs(t, err, &ve)
		assert.Equal(t, tt.in, ve.Value, "Value keeps the whole input")
	}
}

func TestValidateTags(t *testing.T) {
	assert.NoError(t, ValidateTags(nil))
	assert.NoError(t, ValidateTags(map[string]string{}))
	assert.NoError(t, ValidateTags(map[string]string{"Host": "Web 1", "region": "us-east-1", "path": `/a\b?c`}))

	fifty := make(map[string]string, MaxTags+1)
	for i := range MaxTags {
		fifty[fmt.Sprintf("tag%02d", i)] = "v"
	}
	assert.NoError(t, ValidateTags(fifty))
	fifty["tag50"] = "v"
	err := ValidateTags(fifty)
	require.Error(t, err)
	assert.Equal(t, `tag count "51": at most 50 tags allowed`, err.Error())
	assert.ErrorIs(t, err, ErrInvalid)
	fifty["bad name"] = "v"
	assert.Equal(t, "tag count \"52\": at most 50 tags allowed\n"+
		`tag name "bad name": invalid character ' ' at byte 3 (allowed: A-Z a-z 0-9 . : - _)`, ValidateTags(fifty).Error())

	// Every problem, in sorted tag-name order, the same text every time.
	bad := map[string]string{"zone": "eu,west", "b a": "ok", "app": "", "fine": "yes", "": "x"}
	want := strings.Join([]string{
		`tag name "": must not be empty`,
		`tag "app" value "": must not be empty`,
		`tag name "b a": invalid character ' ' at byte 1 (allowed: A-Z a-z 0-9 . : - _)`,
		`tag "zone" value "eu,west": invalid character ',' at byte 2 (allowed: A-Z a-z 0-9 . : - _ ? \ / and space)`,
	}, "\n")
	for range 20 { // map iteration order varies between runs
		err := ValidateTags(bad)
		require.Error(t, err)
		assert.Equal(t, want, err.Error())
	}
	err = ValidateTags(bad)
	assert.ErrorIs(t, err, ErrInvalid)
	var ve *ValidationError
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, "tag name", ve.Field)

	// A single problem comes back as the *ValidationError itself.
	err = ValidateTags(map[string]string{"host": "a|b"})
	require.ErrorAs(t, err, &ve)
	assert.Equal(t, ValidationError{Field: `tag "host" value`, Value: "a|b",
		Reason: `invalid character '|' at byte 1 (allowed: A-Z a-z 0-9 . : - _ ? \ / and space)`}, *ve)
}

func TestValidatorsDoNotAllocate(t *testing.T) {
	tags := map[string]string{"host": "web-1", "region": "us-east-1", "service": "api"}
	for name, fn := range map[string]func(){
		"ValidateMetricName": func() { _ = ValidateMetricName("api.request.latency") },
		"ValidateSource":     func() { _ = ValidateSource("web-1.prod") },
		"ValidateTagName":    func() { _ = ValidateTagName("region") },
		"ValidateTagValue":   func() { _ = ValidateTagValue("us east/1") },
		"ValidateTags":       func() { _ = ValidateTags(tags) },
	} {
		assert.Zero(t, testing.AllocsPerRun(100, fn), name)
	}
}

func BenchmarkSanitizeMetricName(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"clean", "api.request.latency_p99:eu-west-1"},
		{"dirty", "api request/latency (p99) °C"},
		{"long", strings.Repeat("abc ", 100)},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.in)))
			for b.Loop() {
				_ = SanitizeMetricName(bc.in)
			}
		})
	}
}

func BenchmarkValidateMetricName(b *testing.B) {
	b.ReportAllocs()
	name := "api.request.latency_p99:eu-west-1"
	for b.Loop() {
		if ValidateMetricName(name) != nil {
			b.Fatal("invalid")
		}
	}
}

func BenchmarkValidateTags(b *testing.B) {
	b.ReportAllocs()
	tags := map[string]string{"host": "web-1", "region": "us-east-1", "service": "api"}
	for b.Loop() {
		if ValidateTags(tags) != nil {
			b.Fatal("invalid")
		}
	}
}

func FuzzSanitizeMetricName(f *testing.F) {
	for _, s := range []string{"abcdefghijklmnopqrstuvwxyz.:-_", "ABCDEFGHIJKLMNOPQRSTUVWXYZ.:-_", strings.Repeat("a", 500),
		"   \t\nbat$$$*[]()m#@%^&=`~an", "Just*toBeSafe", "  bat$$m#an", "温度.cpu", "a\xff\xfeb", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		got := SanitizeMetricName(name)
		if want := pythonSanitize(name); got != want {
			t.Fatalf("SanitizeMetricName(%q) = %q, python-librato gives %q", name, got, want)
		}
		if again := SanitizeMetricName(got); again != got {
			t.Fatalf("not idempotent: %q -> %q -> %q", name, got, again)
		}
		if len(got) > MaxMetricNameLength {
			t.Fatalf("%d bytes: %q", len(got), got)
		}
		if (got == "") != (name == "") {
			t.Fatalf("%q became %q", name, got)
		}
		if got != "" {
			if err := ValidateMetricName(got); err != nil {
				t.Fatalf("sanitized name invalid: %v", err)
			}
		}
		if ValidateMetricName(name) == nil && got != name {
			t.Fatalf("a valid name changed: %q -> %q", name, got)
		}
	})
}

func FuzzValidators(f *testing.F) {
	for _, s := range []string{"cpu.load", "a b", "", "all", "ALL", "Host_Name", `Prod Web/1\a?b`, "tempé", "a\xffb",
		strings.Repeat("t", 64), strings.Repeat("t", 65), strings.Repeat("v", 255), strings.Repeat("v", 256)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		nameErr, tagNameErr, tagValueErr, sourceErr := ValidateMetricName(s), ValidateTagName(s), ValidateTagValue(s), ValidateSource(s)
		// The byte loops accept exactly what the API's regular expressions accept.
		if (nameErr == nil) != metricNameRE.MatchString(s) {
			t.Fatalf("ValidateMetricName(%q) = %v, regexp says %v", s, nameErr, metricNameRE.MatchString(s))
		}
		if (tagNameErr == nil) != tagNameRE.MatchString(s) {
			t.Fatalf("ValidateTagName(%q) = %v, regexp says %v", s, tagNameErr, tagNameRE.MatchString(s))
		}
		if (tagValueErr == nil) != tagValueRE.MatchString(s) {
			t.Fatalf("ValidateTagValue(%q) = %v, regexp says %v", s, tagValueErr, tagValueRE.MatchString(s))
		}
		wantSource := s == "" || (metricNameRE.MatchString(s) && !strings.EqualFold(s, "all"))
		if (sourceErr == nil) != wantSource {
			t.Fatalf("ValidateSource(%q) = %v, want valid=%v", s, sourceErr, wantSource)
		}
		for _, err := range []error{nameErr, tagNameErr, tagValueErr, sourceErr} {
			if err != nil && (!errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), ": ")) {
				t.Fatalf("error %q does not wrap ErrInvalid or lacks a reason", err)
			}
		}
		// The server folds tag names and values to lower case: what is valid stays valid.
		if tagNameErr == nil {
			if ValidateTagName(strings.ToLower(s)) != nil || ValidateTagValue(s) != nil {
				t.Fatalf("valid tag name %q: lower-cased or as a value it must stay valid", s)
			}
			if ValidateTags(map[string]string{s: s}) != nil {
				t.Fatalf("ValidateTags rejects valid tag %q", s)
			}
		}
		if tagValueErr == nil && ValidateTagValue(strings.ToLower(s)) != nil {
			t.Fatalf("valid tag value %q invalid once lower-cased", s)
		}
		if tagNameErr != nil && ValidateTags(map[string]string{s: "v"}) == nil {
			t.Fatalf("ValidateTags accepts invalid tag name %q", s)
		}
		if nameErr == nil && SanitizeMetricName(s) != s {
			t.Fatalf("sanitizing valid name %q changed it", s)
		}
	})
}

func TestSanitizeTags(t *testing.T) {
	for in, want := range map[string]string{
		" HTTP Route ": "http_route", "already.ok:1-2_3": "already.ok:1-2_3", "é": "__", "": "",
		strings.Repeat("a", 70): strings.Repeat("a", MaxTagNameLength),
	} {
		got := SanitizeTagName(in)
		assert.Equal(t, want, got, "%q", in)
		if got != "" {
			assert.NoError(t, ValidateTagName(got), "%q", in)
		}
	}
	for in, want := range map[string]string{
		"GET /users/{id}": "GET /users/_id_", " a?b\\c ": "a?b\\c", "x\ty": "x_y",
		strings.Repeat("v", 300): strings.Repeat("v", MaxTagValueLength),
	} {
		got := SanitizeTagValue(in)
		assert.Equal(t, want, got, "%q", in)
		assert.NoError(t, ValidateTagValue(got), "%q", in)
	}
	clean := "already.clean"
	assert.Zero(t, testing.AllocsPerRun(100, func() { _ = SanitizeTagName(clean); _ = SanitizeTagValue(clean) }))
}
