package libratotest

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Limits and patterns of the API (the Limits rule of testdata/README.md).
var (
	metricNameRe = regexp.MustCompile(`^[-.:_A-Za-z0-9]{1,255}$`)
	sourceRe     = regexp.MustCompile(`^[-.:_A-Za-z0-9]{1,255}$`)
	tagNameRe    = regexp.MustCompile(`^[-.:_\w]{1,64}$`)
	tagValueRe   = regexp.MustCompile(`^[-.:_?\\/\w ]{1,255}$`)
)

// maxTags is the number of tags a measurement may carry.
const maxTags = 50

// maxResolution is the largest resolution of a tagged read (one week).
const maxResolution = 604800

// validMetricName reports whether name is a valid metric name.
func validMetricName(name string) bool { return metricNameRe.MatchString(name) }

// checkSource returns the problem with a legacy source, or "".
func checkSource(src string) string {
	switch {
	case !sourceRe.MatchString(src):
		return "is invalid"
	case strings.EqualFold(src, "all"):
		return "'all' is reserved"
	}
	return ""
}

// normalizeTags validates tags and returns them with names and values
// lower-cased. Problems are added to bad under "tags".
func normalizeTags(tags map[string]string, bad paramErrors) map[string]string {
	if len(tags) > maxTags {
		bad.add("tags", fmt.Sprintf("must have at most %d tags", maxTags))
	}
	out := make(map[string]string, len(tags))
	for k, v := range tags {
		if !tagNameRe.MatchString(k) {
			bad.add("tags", fmt.Sprintf("tag name %q is invalid", k))
			continue
		}
		if !tagValueRe.MatchString(v) {
			bad.add("tags", fmt.Sprintf("tag value %q of %q is invalid", v, k))
			continue
		}
		out[strings.ToLower(k)] = strings.ToLower(v)
	}
	return out
}

// tooOld reports whether the Unix time t is too far in the past for now.
func (s *Server) tooOld(t int64, now time.Time) bool {
	return s.maxAge > 0 && t < now.Add(-s.maxAge).Unix()
}

// globMatch reports whether s matches pattern, where '*' matches any run of
// characters; the comparison ignores case, as metric and source names do.
func globMatch(pattern, s string) bool {
	return globMatchExact(strings.ToLower(pattern), strings.ToLower(s))
}

// globMatchExact is globMatch without case folding.
func globMatchExact(p, s string) bool {
	// Iterative matcher with backtracking to the last '*'.
	pi, si := 0, 0
	star, mark := -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case pi < len(p) && p[pi] == s[si]:
			pi++
			si++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// lower is strings.ToLower, for the case-insensitive names.
func lower(s string) string { return strings.ToLower(s) }
