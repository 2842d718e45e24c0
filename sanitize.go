package librato

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits the API enforces on names and tags (testdata/README.md, "Limits").
const (
	// MaxMetricNameLength is the longest metric name, in bytes.
	MaxMetricNameLength = 255
	// MaxSourceLength is the longest source name, in bytes.
	MaxSourceLength = 255
	// MaxTagNameLength is the longest tag name, in bytes.
	MaxTagNameLength = 64
	// MaxTagValueLength is the longest tag value, in bytes.
	MaxTagValueLength = 255
	// MaxTags is the most tags one measurement may carry.
	MaxTags = 50
)

// Sanitizer rewrites a metric name before it is sent, for example
// SanitizeMetricName. WithSanitizer(nil) means no rewriting.
type Sanitizer func(name string) string

// Character classes, one bit each, in a table indexed by byte: a lookup per
// byte keeps the checks branch-light and allocation-free on the hot path.
const (
	className     = 1 << iota // metric names and sources: A-Z a-z 0-9 . : - _
	classTagValue             // tag values: the name class plus ? \ / and space
)

var charClass = func() (t [256]uint8) {
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = className | classTagValue
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = className | classTagValue
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = className | classTagValue
	}
	for _, c := range ".:-_" {
		t[c] = className | classTagValue
	}
	for _, c := range "?\\/ " {
		t[c] = classTagValue
	}
	return t
}()

// The allowed sets as the error messages state them.
const (
	allowedName     = "A-Z a-z 0-9 . : - _"
	allowedTagValue = `A-Z a-z 0-9 . : - _ ? \ / and space`
)

// SanitizeMetricName makes name acceptable to the API exactly like
// python-librato's sanitize_metric_name: every run of characters outside
// A-Z a-z 0-9 . : - _ (whitespace, brackets, any non-ASCII character, bytes of
// invalid UTF-8) becomes a single '-', then the first 255 characters are kept.
//
//	SanitizeMetricName("  bat$$m#an") == "-bat-m-an"
//
// It does not allocate when name is already clean. An empty name stays empty
// (and still fails ValidateMetricName).
func SanitizeMetricName(name string) string {
	i := 0
	for i < len(name) && charClass[name[i]]&className != 0 {
		i++
	}
	if i == len(name) {
		if len(name) > MaxMetricNameLength {
			return name[:MaxMetricNameLength]
		}
		return name
	}
	if i >= MaxMetricNameLength {
		return name[:MaxMetricNameLength]
	}
	// The result is all ASCII, so 255 characters are 255 bytes.
	var buf [MaxMetricNameLength]byte
	n := copy(buf[:], name[:i])
	inRun := false
	for ; i < len(name) && n < len(buf); i++ {
		c := name[i]
		if charClass[c]&className != 0 {
			buf[n] = c
			n++
			inRun = false
		} else if !inRun {
			buf[n] = '-'
			n++
			inRun = true
		}
	}
	return string(buf[:n])
}

// ValidateMetricName checks name against the API's rule: 1 to 255 bytes of
// A-Z a-z 0-9 . : - _. Names are case-insensitive on the server.
func ValidateMetricName(name string) error {
	return checkChars("metric name", name, 1, MaxMetricNameLength, className, allowedName)
}

// ValidateSource checks a legacy source name: at most 255 bytes of
// A-Z a-z 0-9 . : - _, and not "all" (reserved, in any case). The empty
// source means "no source" and is valid.
func ValidateSource(source string) error {
	if source == "" {
		return nil
	}
	if err := checkChars("source", source, 1, MaxSourceLength, className, allowedName); err != nil {
		return err
	}
	if len(source) == 3 && strings.EqualFold(source, "all") {
		return &ValidationError{Field: "source", Value: source, Reason: `"all" is reserved`}
	}
	return nil
}

// SanitizeTagName makes name acceptable to the API as a tag name: surrounding
// spaces trimmed, the first MaxTagNameLength bytes kept, every byte outside
// A-Z a-z 0-9 . : - _ replaced by '_', and lower case, as the API stores tag
// names. It does not allocate when name is already clean and lower case. An
// empty result (from an empty name) is still not a valid name.
//
//	SanitizeTagName(" HTTP Route ") == "http_route"
func SanitizeTagName(name string) string {
	return sanitizeTag(name, MaxTagNameLength, className, true)
}

// SanitizeTagValue makes value acceptable to the API as a tag value: surrounding
// spaces trimmed, the first MaxTagValueLength bytes kept, every byte outside
// A-Z a-z 0-9 . : - _ ? \ / and space replaced by '_'. Case is kept (the API
// folds values itself). It does not allocate when value is already clean.
//
//	SanitizeTagValue("GET /users/{id}") == "GET /users/_id_"
func SanitizeTagValue(value string) string {
	return sanitizeTag(value, MaxTagValueLength, classTagValue, false)
}

func sanitizeTag(s string, max int, class uint8, lower bool) string {
	s = strings.TrimSpace(s)
	if len(s) > max {
		s = s[:max]
	}
	clean := func(c byte) bool { return charClass[c]&class != 0 && !(lower && 'A' <= c && c <= 'Z') }
	i := 0
	for i < len(s) && clean(s[i]) {
		i++
	}
	if i == len(s) {
		return s
	}
	b := []byte(s)
	for j := i; j < len(b); j++ {
		switch c := b[j]; {
		case lower && 'A' <= c && c <= 'Z':
			b[j] = c + ('a' - 'A')
		case charClass[c]&class == 0:
			b[j] = '_'
		}
	}
	return string(b)
}

// ValidateTagName checks a tag name against the API's /\A[-.:_\w]{1,64}\z/
// (\w is ASCII letters, digits and underscore). Upper case is accepted: the
// server folds tag names to lower case.
func ValidateTagName(name string) error {
	return checkChars("tag name", name, 1, MaxTagNameLength, className, allowedName)
}

// ValidateTagValue checks a tag value against the API's
// /\A[-.:_?\\\/\w ]{1,255}\z/. Upper case is accepted: the server folds tag
// values to lower case.
func ValidateTagValue(value string) error {
	return checkChars("tag value", value, 1, MaxTagValueLength, classTagValue, allowedTagValue)
}

// ValidateTags checks a measurement's tag set: at most MaxTags tags, each
// name and value valid. All problems are reported, joined with errors.Join
// in sorted tag-name order so the text is deterministic. A nil or empty map is
// valid. It does not allocate when the tags are valid.
func ValidateTags(tags map[string]string) error {
	if len(tags) == 0 {
		return nil // the common untagged case costs no map iteration
	}
	ok := len(tags) <= MaxTags
	if ok {
		for k, v := range tags {
			if !validChars(k, 1, MaxTagNameLength, className) || !validChars(v, 1, MaxTagValueLength, classTagValue) {
				ok = false
				break
			}
		}
	}
	if ok {
		return nil
	}
	var errs []error
	if len(tags) > MaxTags {
		errs = append(errs, &ValidationError{Field: "tag count", Value: strconv.Itoa(len(tags)),
			Reason: "at most " + strconv.Itoa(MaxTags) + " tags allowed"})
	}
	names := make([]string, 0, len(tags))
	for k := range tags {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if err := ValidateTagName(k); err != nil {
			errs = append(errs, err)
		}
		if err := checkChars("tag "+strconv.Quote(k)+" value", tags[k], 1, MaxTagValueLength, classTagValue, allowedTagValue); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 1 {
		return errs[0]
	}
	return errors.Join(errs...)
}

// validChars reports whether s has lo..hi bytes, all of class.
func validChars(s string, lo, hi int, class uint8) bool {
	if len(s) < lo || len(s) > hi {
		return false
	}
	for i := 0; i < len(s); i++ {
		if charClass[s[i]]&class == 0 {
			return false
		}
	}
	return true
}

// checkChars is validChars with a *ValidationError naming the first problem.
func checkChars(field, s string, lo, hi int, class uint8, allowed string) error {
	if validChars(s, lo, hi, class) {
		return nil
	}
	if len(s) == 0 {
		return &ValidationError{Field: field, Value: s, Reason: "must not be empty"}
	}
	for i := 0; i < len(s); i++ {
		if charClass[s[i]]&class == 0 {
			return &ValidationError{Field: field, Value: s,
				Reason: fmt.Sprintf("invalid character %s at byte %d (allowed: %s)", quoteCharAt(s, i), i, allowed)}
		}
	}
	return &ValidationError{Field: field, Value: s,
		Reason: fmt.Sprintf("is %d bytes long, at most %d allowed", len(s), hi)}
}

// quoteCharAt quotes the character starting at byte i of s: 'é' for a valid
// rune, '\xff' for a byte of invalid UTF-8.
func quoteCharAt(s string, i int) string {
	r, size := utf8.DecodeRuneInString(s[i:])
	if r == utf8.RuneError && size <= 1 {
		return fmt.Sprintf(`'\x%02x'`, s[i])
	}
	return strconv.QuoteRune(r)
}
