package libratotest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// errContentType reports a body whose content type the endpoint refuses.
var errContentType = errors.New("incorrect content type")

// writeJSON writes v as the JSON body of a response with status.
func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"errors":{"system":["libratotest: cannot encode response"]}}`)
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	w.Write(b)
}

// writeEmpty writes a response without a body (200 of POST /v1/metrics, 204).
func (s *Server) writeEmpty(w http.ResponseWriter, status int) {
	w.WriteHeader(status)
}

// writeError writes {"errors":{kind:[msgs...]}}, kind being "request",
// "system" or another top-level key of the real API's error bodies.
func (s *Server) writeError(w http.ResponseWriter, status int, kind string, msgs ...string) {
	s.writeJSON(w, status, map[string]any{"errors": map[string][]string{kind: msgs}})
}

// notFound writes the 404 of a missing resource or route.
func (s *Server) notFound(w http.ResponseWriter) {
	s.writeError(w, http.StatusNotFound, "request", "Not found")
}

// paramErrors collects {"errors":{"params":{name:[msgs]}}} messages.
type paramErrors map[string][]string

// add records msg for param once.
func (p paramErrors) add(param, msg string) {
	for _, m := range p[param] {
		if m == msg {
			return
		}
	}
	p[param] = append(p[param], msg)
}

// writeParamErrors writes {"errors":{"params":p}} with the request_time the
// real API adds to measurement errors.
func (s *Server) writeParamErrors(w http.ResponseWriter, status int, p paramErrors) {
	s.writeJSON(w, status, map[string]any{
		"errors":       map[string]any{"params": p},
		"request_time": s.now().Unix(),
	})
}

// mediaType returns the lower-cased media type of r's Content-Type.
func mediaType(r *http.Request) string {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		return ""
	}
	return strings.ToLower(mt)
}

// requireJSON answers 415 and returns false unless r has a JSON body.
func (s *Server) requireJSON(w http.ResponseWriter, r *http.Request) bool {
	if mediaType(r) != "application/json" {
		s.writeError(w, http.StatusUnsupportedMediaType, "request", "Incorrect Content-Type")
		return false
	}
	return true
}

// decodeJSON decodes r's JSON body into v. With strict, unknown fields are an
// error, as on the real endpoints that reject them.
func (s *Server) decodeJSON(r *http.Request, v any, strict bool) error {
	dec := json.NewDecoder(r.Body)
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("trailing data after JSON value")
	}
	return nil
}

// decodeBody decodes a JSON or form-encoded body into v, leniently (unknown
// fields are ignored). Form keys use brackets (gauges[0][name]=cpu,
// names[]=a); form values are strings, so numeric fields of v should use
// flexFloat and flexInt. An empty body leaves v untouched. It returns
// errContentType for other content types.
func (s *Server) decodeBody(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	switch mediaType(r) {
	case "application/json":
		return json.Unmarshal(body, v)
	case "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return err
		}
		b, err := json.Marshal(formToMap(vals))
		if err != nil {
			return err
		}
		return json.Unmarshal(b, v)
	}
	return errContentType
}

// writeDecodeError answers a body decodeBody or decodeJSON could not decode.
func (s *Server) writeDecodeError(w http.ResponseWriter, err error) {
	if errors.Is(err, errContentType) {
		s.writeError(w, http.StatusUnsupportedMediaType, "request", "Incorrect Content-Type")
		return
	}
	s.writeError(w, http.StatusBadRequest, "request", "Unable to parse request body")
}

// listParams are the common parameters of a paginated list.
type listParams struct {
	Name    string // name substring filter, "" for all
	Offset  int
	Length  int
	OrderBy string
	Desc    bool
}

// listQuery is the "query" object of a list response.
type listQuery struct {
	Found  int `json:"found"`
	Length int `json:"length"`
	Offset int `json:"offset"`
	Total  int `json:"total"`
}

// listParams parses name, offset, length, orderby and sort. orderBys are the
// orderby values the list allows, the first being the default. A length
// above the page size is clamped to it. On a bad parameter it writes the
// 400 and returns false.
func (s *Server) listParams(w http.ResponseWriter, r *http.Request, orderBys ...string) (listParams, bool) {
	q := r.URL.Query()
	p := listParams{Name: q.Get("name"), Length: s.pageSize}
	bad := paramErrors{}
	if v := q.Get("offset"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			bad.add("offset", "is not a valid offset")
		}
		p.Offset = n
	}
	if v := q.Get("length"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			bad.add("length", "is not a valid length")
		}
		p.Length = min(n, s.pageSize)
	}
	if len(orderBys) > 0 {
		p.OrderBy = orderBys[0]
	}
	if v := q.Get("orderby"); v != "" {
		ok := false
		for _, o := range orderBys {
			ok = ok || o == v
		}
		if !ok {
			bad.add("orderby", "is not a valid ordering field")
		}
		p.OrderBy = v
	}
	switch strings.ToLower(q.Get("sort")) {
	case "", "asc":
	case "desc":
		p.Desc = true
	default:
		bad.add("sort", "must be asc or desc")
	}
	if len(bad) > 0 {
		s.writeParamErrors(w, http.StatusBadRequest, bad)
		return p, false
	}
	return p, true
}

// page returns the bounds [lo, hi) of the requested page in a list of found
// items (after filtering) out of total, and the matching query object.
func (p listParams) page(found, total int) (lo, hi int, q listQuery) {
	lo = min(p.Offset, found)
	hi = min(lo+p.Length, found)
	return lo, hi, listQuery{Found: found, Length: hi - lo, Offset: p.Offset, Total: total}
}

// formToMap turns bracketed form keys into nested maps: a[b][c]=v becomes
// {"a":{"b":{"c":"v"}}} and a[]=v1&a[]=v2 becomes {"a":["v1","v2"]}.
// Conflicting keys keep the first value.
func formToMap(vals url.Values) map[string]any {
	root := map[string]any{}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		path := splitFormKey(k)
		m := root
		for i, seg := range path {
			last := i == len(path)-1
			if last {
				if seg == "" {
					break // a bare "[]" with no parent: ignore
				}
				if _, exists := m[seg]; !exists {
					m[seg] = vals[k][len(vals[k])-1]
				}
				break
			}
			if path[i+1] == "" && i+1 == len(path)-1 {
				if _, exists := m[seg]; !exists {
					m[seg] = append([]string(nil), vals[k]...)
				}
				break
			}
			next, ok := m[seg].(map[string]any)
			if !ok {
				if _, exists := m[seg]; exists {
					break
				}
				next = map[string]any{}
				m[seg] = next
			}
			m = next
		}
	}
	return root
}

// splitFormKey splits "gauges[0][name]" into ["gauges","0","name"] and
// "names[]" into ["names",""].
func splitFormKey(k string) []string {
	i := strings.IndexByte(k, '[')
	if i < 0 || !strings.HasSuffix(k, "]") {
		return []string{k}
	}
	out := []string{k[:i]}
	rest := k[i:]
	for len(rest) > 0 && rest[0] == '[' {
		j := strings.IndexByte(rest, ']')
		if j < 0 {
			break
		}
		out = append(out, rest[1:j])
		rest = rest[j+1:]
	}
	return out
}

// flexFloat is a number that also decodes from a numeric string (form
// bodies).
type flexFloat float64

// UnmarshalJSON accepts 1.5 and "1.5".
func (f *flexFloat) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return err
	}
	*f = flexFloat(v)
	return nil
}

// flexInt is an integer that also decodes from a numeric string and from a
// JSON number with a zero fraction (1500000000.0).
type flexInt int64

// UnmarshalJSON accepts 15, 15.0 and "15".
func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if v, err := strconv.ParseInt(s, 10, 64); err == nil {
		*f = flexInt(v)
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v != float64(int64(v)) {
		return errors.New("not an integer")
	}
	*f = flexInt(v)
	return nil
}

// MaxBodyBytesInFlight bounds the request body bytes all requests hold at once (64 MiB, twice
// the largest body one request may have): a request waits for room before its body is read, so
// many large concurrent POSTs cannot exhaust memory.
const MaxBodyBytesInFlight = 2 * maxBody

// byteBudget is a counting semaphore of bytes.
type byteBudget struct {
	mu      sync.Mutex
	free    int64
	changed chan struct{} // closed and replaced whenever bytes are released
}

func newByteBudget(n int64) *byteBudget {
	return &byteBudget{free: n, changed: make(chan struct{})}
}

// acquire takes n bytes, waiting until they are free or ctx ends.
func (b *byteBudget) acquire(ctx context.Context, n int64) error {
	for {
		b.mu.Lock()
		if b.free >= n {
			b.free -= n
			b.mu.Unlock()
			return nil
		}
		ch := b.changed
		b.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (b *byteBudget) release(n int64) {
	b.mu.Lock()
	b.free += n
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
}

// hasBody reports whether r may carry a body.
func hasBody(r *http.Request) bool {
	return r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0
}

// admitBody reserves room for r's body in the server's budget, before anything reads it: its
// Content-Length (a declared length over the limit is a 413 at once), or the largest body
// allowed when the length is unknown; a gzip body may inflate to the largest body allowed, so
// that much more; a journaled change (WithJournal) twice that. It returns the release function, or false once it has answered (413) or the
// client went away while waiting.
func (s *Server) admitBody(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	if !hasBody(r) {
		return func() {}, true
	}
	if r.ContentLength > maxBody {
		s.writeError(w, http.StatusRequestEntityTooLarge, "request", "request body too large")
		return nil, false
	}
	n := int64(maxBody)
	if r.ContentLength > 0 {
		n = r.ContentLength
	}
	if strings.EqualFold(r.Header.Get("Content-Encoding"), "gzip") {
		n += maxBody
	}
	if s.journal != nil && changes(r.Method) {
		n *= 2 // the journal keeps a copy of the body until the change is recorded
	}
	n = min(n, MaxBodyBytesInFlight)
	if err := s.bodies.acquire(r.Context(), n); err != nil {
		return nil, false
	}
	return func() { s.bodies.release(n) }, true
}

// answer is what a handler's locked part decided to write: a status and a
// body (nil: none; paramErrors: a params error). Status 404 writes the
// standard not-found body.
type answer struct {
	status int
	body   any
}

var answerNotFound = answer{status: http.StatusNotFound}

// locked runs f with s.mu held and writes its answer after releasing the
// lock, so that no response is written under it. f copies what it returns
// out of the store.
func (s *Server) locked(w http.ResponseWriter, f func() answer) {
	s.mu.Lock()
	ans := f()
	s.mu.Unlock()
	switch body := ans.body.(type) {
	case nil:
		if ans.status == http.StatusNotFound {
			s.notFound(w)
			return
		}
		s.writeEmpty(w, ans.status)
	case paramErrors:
		s.writeParamErrors(w, ans.status, body)
	default:
		s.writeJSON(w, ans.status, body)
	}
}
