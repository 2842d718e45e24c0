package librato

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"net/http"
	"net/url"
	"strconv"
)

// MaxPageLength is the largest page the API serves (and its default).
const MaxPageLength = 100

// ListOptions selects one page of a list endpoint (metrics, alerts, annotation streams, spaces, services).
// The zero value asks for the first page of everything.
type ListOptions struct {
	Name    string // case-insensitive substring filter
	Cursor  string // where the page starts: a Page's Next ("" for the first page)
	Length  int    // page size, at most 100 (0: the API default, 100)
	OrderBy string // field to order by; each endpoint has its own (metrics: name)
	Sort    string // "asc" (default) or "desc"
}

// pageInfo is the "query" block of a list answer.
type pageInfo struct {
	Found  int `json:"found"`  // items matching the filter
	Length int `json:"length"` // items in this page
	Offset int `json:"offset"` // index of the first item in this page
	Total  int `json:"total"`  // items in the account, filter or not
}

// offset is the index the cursor names (the decimal offset these lists page by).
func (o *ListOptions) offset() (int, error) {
	if o == nil || o.Cursor == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(o.Cursor)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("librato: ListOptions.Cursor %q is not a cursor of this list (a Page's Next)", o.Cursor)
	}
	return n, nil
}

func (o *ListOptions) values() (url.Values, error) {
	q := url.Values{}
	if o == nil {
		return q, nil
	}
	off, err := o.offset()
	if err != nil {
		return nil, err
	}
	if o.Length < 0 || o.Length > MaxPageLength {
		return nil, fmt.Errorf("librato: ListOptions.Length %d is outside 0..%d", o.Length, MaxPageLength)
	}
	if o.Sort != "" && o.Sort != "asc" && o.Sort != "desc" {
		return nil, fmt.Errorf("librato: ListOptions.Sort %q is neither asc nor desc", o.Sort)
	}
	if o.Name != "" {
		q.Set("name", o.Name)
	}
	if off > 0 {
		q.Set("offset", strconv.Itoa(off))
	}
	if o.Length > 0 {
		q.Set("length", strconv.Itoa(o.Length))
	}
	if o.OrderBy != "" {
		q.Set("orderby", o.OrderBy)
	}
	if o.Sort != "" {
		q.Set("sort", o.Sort)
	}
	return q, nil
}

// listPage fetches one page of a paginated list whose items sit under key.
func listPage[T any](ctx context.Context, c *Client, path, key string, opts *ListOptions, extra url.Values) (*Page[T], error) {
	q, err := opts.values()
	if err != nil {
		return nil, err
	}
	for k, v := range extra {
		q[k] = v
	}
	var raw map[string]json.RawMessage
	if _, err := c.do(ctx, http.MethodGet, path, q, nil, &raw); err != nil {
		return nil, err
	}
	var info pageInfo
	if b, ok := raw["query"]; ok {
		if err := json.Unmarshal(b, &info); err != nil {
			return nil, fmt.Errorf("librato: decoding %s page info: %w", path, err)
		}
	}
	p := &Page[T]{Found: info.Found}
	if b, ok := raw[key]; ok {
		if err := json.Unmarshal(b, &p.Items); err != nil {
			return nil, fmt.Errorf("librato: decoding %s %s: %w", path, key, err)
		}
	}
	off, _ := opts.offset() // checked by values
	if next := off + len(p.Items); len(p.Items) > 0 && next < info.Found {
		p.Next = strconv.Itoa(next)
	}
	return p, nil
}

// listAll iterates over every item of a paginated list, page after page, until query.found items were
// seen (python-librato stops at 100; this does not). It works on a copy of opts.
func listAll[T any](ctx context.Context, c *Client, path, key string, opts *ListOptions, extra url.Values) iter.Seq2[*T, error] {
	return func(yield func(*T, error) bool) {
		var o ListOptions
		if opts != nil {
			o = *opts
		}
		for {
			p, err := listPage[T](ctx, c, path, key, &o, extra)
			if err != nil {
				yield(nil, err)
				return
			}
			for i := range p.Items {
				if !yield(&p.Items[i], nil) {
					return
				}
			}
			if p.Next == "" {
				return
			}
			o.Cursor = p.Next
		}
	}
}

// ID identifies an alert, annotation, space, chart, service or job. The API documents some IDs as
// strings ("145") and serves them as numbers; both decode.
type ID int64

// UnmarshalJSON accepts 145 and "145".
func (id *ID) UnmarshalJSON(b []byte) error {
	b = bytes.Trim(b, `"`)
	if string(b) == "null" || len(b) == 0 {
		*id = 0
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return fmt.Errorf("librato: service id %s is not an integer", b)
	}
	*id = ID(n)
	return nil
}

// MarshalJSON writes the ID as a number.
func (id ID) MarshalJSON() ([]byte, error) {
	return json.Marshal(int64(id))
}

// Page is one page of a list: its items, how many match in all where the API says, and the cursor
// of the next page. Every List call in this package returns a *Page; every All call walks the pages.
type Page[T any] struct {
	Items []T
	// Found is how many items match the query over all pages, where the API counts them (the
	// offset-paged lists); 0 where it does not.
	Found int
	// Next is the cursor of the next page, "" on the last one. Set it as the options' Cursor to read
	// that page; it is opaque (an offset for most lists, the API's next link for measurements).
	Next string
}
