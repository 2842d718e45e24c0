package libratotest

import (
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// tagCond is one condition of a tag filter: the series' tag name must match
// one of patterns (OR); a pattern starting with '!' matches a series whose
// value does not match the rest (or which lacks the tag). absent requires
// the series not to have the tag at all.
type tagCond struct {
	name     string
	patterns []string
	absent   bool
}

// matchTags reports whether the tags that tag looks up satisfy every condition.
func matchTags(conds []tagCond, tag func(name string) (string, bool)) bool {
	for _, c := range conds {
		v, has := tag(c.name)
		if c.absent {
			if has {
				return false
			}
			continue
		}
		ok := false
		for _, p := range c.patterns {
			if neg, found := strings.CutPrefix(p, "!"); found {
				ok = ok || !has || !globMatch(neg, v)
			} else {
				ok = ok || (has && globMatch(p, v))
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// andRe splits a tags_search expression into terms.
var andRe = regexp.MustCompile(`(?i)\s+and\s+`)

// parseTagFilter reads tags[name]=pattern parameters (same name repeated:
// OR; different names: AND; "!pattern" negates; tags[!name] requires the
// tag to be absent) or tags_search. The tags_search subset this fake
// understands is terms "name=pattern", "name=!pattern" and "name!=pattern"
// joined by "and" (any case), values optionally quoted; "or", "not" and
// parentheses are refused with 400.
func parseTagFilter(q url.Values, bad paramErrors) []tagCond {
	var conds []tagCond
	byName := map[string]int{}
	add := func(name, pattern string) {
		name = strings.ToLower(name)
		if n, found := strings.CutPrefix(name, "!"); found {
			conds = append(conds, tagCond{name: n, absent: true})
			return
		}
		if i, ok := byName[name]; ok {
			conds[i].patterns = append(conds[i].patterns, strings.ToLower(pattern))
			return
		}
		byName[name] = len(conds)
		conds = append(conds, tagCond{name: name, patterns: []string{strings.ToLower(pattern)}})
	}
	for _, k := range slices.Sorted(maps.Keys(q)) {
		name, ok := strings.CutPrefix(k, "tags[")
		if !ok || !strings.HasSuffix(name, "]") {
			continue
		}
		name = strings.TrimSuffix(name, "]")
		for _, v := range q[k] {
			add(name, v)
		}
	}
	search := strings.TrimSpace(q.Get("tags_search"))
	if search == "" {
		return conds
	}
	if len(conds) > 0 {
		bad.add("tags_search", "cannot be combined with tags")
		return nil
	}
	lowerSearch := strings.ToLower(search)
	if strings.ContainsAny(search, "()") || strings.Contains(lowerSearch, " or ") || strings.HasPrefix(lowerSearch, "not ") || strings.Contains(lowerSearch, " not ") {
		bad.add("tags_search", "uses syntax libratotest does not support (only name=pattern terms joined by and)")
		return nil
	}
	for _, term := range andRe.Split(search, -1) {
		name, value, ok := strings.Cut(term, "=")
		if !ok {
			bad.add("tags_search", "term "+strconv.Quote(term)+" is not name=value")
			return nil
		}
		name = strings.TrimSpace(name)
		value = strings.Trim(strings.TrimSpace(value), `"'`)
		if n, neg := strings.CutSuffix(name, "!"); neg {
			name, value = strings.TrimSpace(n), "!"+value
		}
		if name == "" || value == "" || value == "!" {
			bad.add("tags_search", "term "+strconv.Quote(term)+" is not name=value")
			return nil
		}
		add(name, value)
	}
	return conds
}

// queryInt parses the integer query parameter k; ok is false when it is
// absent or, recorded in bad, not a number.
func queryInt(q url.Values, k string, bad paramErrors) (n int64, ok bool) {
	v := q.Get(k)
	if v == "" {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		bad.add(k, "is not a number")
		return 0, false
	}
	return n, true
}

// timeRange parses start_time, end_time and duration: end defaults to now,
// start to end-duration; all three together are an error, and with
// requireStart one of start_time or duration is required.
func timeRange(q url.Values, now int64, requireStart bool, bad paramErrors) (start, end int64) {
	end = now
	st, hasStart := queryInt(q, "start_time", bad)
	en, hasEnd := queryInt(q, "end_time", bad)
	du, hasDur := queryInt(q, "duration", bad)
	if hasEnd {
		end = en
	}
	switch {
	case hasStart && hasEnd && hasDur:
		bad.add("duration", "cannot be combined with both start_time and end_time")
	case hasStart:
		start = st
	case hasDur:
		start = end - du
	case requireStart:
		bad.add("start_time", "is not present")
	}
	return start, end
}

// summaryValue is the value of a bucket under a summary function; derivative
// needs the previous bucket (nil for the first, which is then skipped).
func summaryValue(fn string, b bucket, prev *bucket) (float64, bool) {
	switch fn {
	case "", "mean", "average", "all":
		return b.a.mean(), true
	case "sum":
		return b.a.Sum, true
	case "min":
		return b.a.Min, true
	case "max":
		return b.a.Max, true
	case "count":
		return float64(b.a.Count), true
	case "stddev":
		return b.a.stddev(), true
	case "derivative":
		if prev == nil {
			return 0, false
		}
		return b.a.mean() - prev.a.mean(), true
	}
	return 0, false
}

// validSummary lists the summary functions of GET /v1/measurements/:name.
var validSummary = map[string]bool{"": true, "mean": true, "sum": true, "min": true, "max": true,
	"count": true, "derivative": true, "stddev": true, "all": true}

// taggedSeriesJSON is one series of a tagged read.
type taggedSeriesJSON struct {
	Tags         map[string]string `json:"tags"`
	Measurements []map[string]any  `json:"measurements"`
}

// readTagged serves GET /v1/measurements/:name: the metric's tagged series
// between start_time (or end_time-duration) and end_time, rolled up to the
// required resolution, filtered by tags or tags_search, optionally grouped,
// at most the page size of series per response with a links[rel=next] href
// to the rest (the href carries page_offset; clients treat it as opaque).
// Series without points in the range are left out. summary_function picks
// each point's value (mean by default; "all" adds count, sum, min, max, last
// and stddev; derivative drops the first point); group_by combines the
// series sharing the named tags' values with group_by_function, and
// group_by=* combines every series into one with empty tags.
func (s *Server) readTagged(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	q := r.URL.Query()
	bad := paramErrors{}
	var res int64
	switch v := q.Get("resolution"); {
	case v == "":
		bad.add("resolution", "is not present")
	default:
		n, err := strconv.ParseInt(v, 10, 64)
		switch {
		case err != nil || n < 1:
			bad.add("resolution", "is not a valid resolution")
		case n > maxResolution:
			bad.add("resolution", "must be less than or equal to 604800")
		}
		res = n
	}
	start, end := timeRange(q, s.now().Unix(), true, bad)
	conds := parseTagFilter(q, bad)
	summaryFn := q.Get("summary_function")
	if !validSummary[summaryFn] {
		bad.add("summary_function", "is not included in the list")
	}
	var groupBy []string
	groupFn := q.Get("group_by_function")
	if v := q.Get("group_by"); v != "" {
		for _, g := range strings.Split(v, ",") {
			groupBy = append(groupBy, strings.ToLower(strings.TrimSpace(g)))
		}
		if _, ok := combineFunc(groupFn); !ok || groupFn == "count" {
			bad.add("group_by_function", "must be one of sum, min, max, mean")
		}
		if summaryFn == "all" {
			bad.add("summary_function", "all cannot be combined with group_by")
		}
	}
	offset := 0
	if v := q.Get("page_offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			bad.add("page_offset", "is invalid")
		}
		offset = n
	}
	if len(bad) > 0 {
		s.writeParamErrors(w, http.StatusBadRequest, bad)
		return
	}

	type rolled struct {
		tags    map[string]string
		buckets []bucket
	}
	s.mu.Lock()
	m := s.st.Metrics[lower(name)]
	var attrs map[string]any
	var all []rolled
	var mname string
	if m != nil {
		mname = m.Name
		attrs = maps.Clone(m.Attributes)
		for _, se := range s.st.seriesOf(name, true) {
			if !matchTags(conds, se.tag) {
				continue
			}
			if b := rollup(se.Points, start, end, res); len(b) > 0 {
				all = append(all, rolled{se.tags(), b})
			}
		}
	}
	s.mu.Unlock()
	if m == nil {
		s.notFound(w)
		return
	}

	var out []taggedSeriesJSON
	if len(groupBy) == 0 {
		for _, se := range all {
			var pts []map[string]any
			for i, b := range se.buckets {
				var prev *bucket
				if i > 0 {
					prev = &se.buckets[i-1]
				}
				if p, ok := taggedPoint(summaryFn, b, prev); ok {
					pts = append(pts, p)
				}
			}
			out = append(out, taggedSeriesJSON{Tags: se.tags, Measurements: orEmpty(pts)})
		}
	} else {
		f, _ := combineFunc(groupFn)
		groups := map[string][][]timedValue{}
		groupTags := map[string]map[string]string{}
		for _, se := range all {
			gt := map[string]string{}
			if !slices.Contains(groupBy, "*") {
				for _, g := range groupBy {
					if v, ok := se.tags[g]; ok {
						gt[g] = v
					}
				}
			}
			key := taggedKey("", gt)
			groupTags[key] = gt
			var vals []timedValue
			for i, b := range se.buckets {
				var prev *bucket
				if i > 0 {
					prev = &se.buckets[i-1]
				}
				if v, ok := summaryValue(summaryFn, b, prev); ok {
					vals = append(vals, timedValue{b.t, v})
				}
			}
			groups[key] = append(groups[key], vals)
		}
		for _, key := range slices.Sorted(maps.Keys(groups)) {
			var pts []map[string]any
			for _, tv := range combineSeries(groups[key], f) {
				pts = append(pts, map[string]any{"time": tv.t, "value": tv.v})
			}
			out = append(out, taggedSeriesJSON{Tags: groupTags[key], Measurements: orEmpty(pts)})
		}
	}

	links := []map[string]string{}
	lo := min(offset, len(out))
	hi := min(lo+s.pageSize, len(out))
	if hi < len(out) {
		next := *r.URL
		nq := next.Query()
		nq.Set("page_offset", strconv.Itoa(hi))
		next.RawQuery = nq.Encode()
		next.Scheme, next.Host = "http", r.Host
		if r.TLS != nil {
			next.Scheme = "https"
		}
		links = append(links, map[string]string{"rel": "next", "href": next.String()})
	}
	page := out[lo:hi]
	if page == nil {
		page = []taggedSeriesJSON{}
	}
	if attrs == nil {
		attrs = map[string]any{}
	}
	s.writeJSON(w, http.StatusOK, map[string]any{
		"name": mname, "series": page, "links": links, "resolution": res, "attributes": attrs,
	})
}

// taggedPoint is one point of a tagged series: time and value, plus count,
// sum, min and max for complex points, plus last and stddev for
// summary_function=all.
func taggedPoint(fn string, b bucket, prev *bucket) (map[string]any, bool) {
	v, ok := summaryValue(fn, b, prev)
	if !ok {
		return nil, false
	}
	p := map[string]any{"time": b.t, "value": v}
	if b.a.Complex || fn == "all" {
		p["count"], p["sum"], p["min"], p["max"] = b.a.Count, b.a.Sum, b.a.Min, b.a.Max
	}
	if fn == "all" {
		p["last"], p["stddev"] = b.a.Last, b.a.stddev()
	}
	return p, true
}

// orEmpty turns a nil slice into an empty one, so it encodes as [].
func orEmpty(p []map[string]any) []map[string]any {
	if p == nil {
		return []map[string]any{}
	}
	return p
}
