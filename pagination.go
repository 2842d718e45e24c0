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
	Offset  int    // index of the first item
	Length  int    // page size, at most 100 (0: the API default, 100)
	OrderBy string // field to order by; each endpoint has its own (metrics: name)
	Sort    string // "asc" (default) or "desc"
}

// PageInfo is the "query" block of a list answer.
type PageInfo struct {
	Found  int `json:"found"`  // items matching the filter
	Length int `json:"length"` // items in this page
	Offset int `json:"offset"` // index of the first item in this page
	Total  int `json:"total"`  // items in the account, filter or not
}

func (o *ListOptions) values() (url.Values, error) {
	q := url.Values{}
	if o == nil {
		return q, nil
	}
	if o.Offset < 0 {
		return nil, fmt.Errorf("librato: ListOptions.Offset %d is negative", o.Offset)
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
	if o.Offset > 0 {
		q.Set("offset", strconv.Itoa(o.Offset))
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
func listPage[T any](ctx context.Context, c *Client, path, key string, opts *ListOptions, extra url.Values) ([]T, PageInfo, error) {
	q, err := opts.values()
	if err != nil {
		return nil, PageInfo{}, err
	}
	for k, v := range extra {
		q[k] = v
	}
	var raw map[string]json.RawMessage
	if _, err := c.do(ctx, http.MethodGet, path, q, nil, &raw); err != nil {
		return nil, PageInfo{}, err
	}
	var page PageInfo
	if b, ok := raw["query"]; ok {
		if err := json.Unmarshal(b, &page); err != nil {
			return nil, PageInfo{}, fmt.Errorf("librato: decoding %s page info: %w", path, err)
		}
	}
	var items []T
	if b, ok := raw[key]; ok {
		if err := json.Unmarshal(b, &items); err != nil {
			return nil, PageInfo{}, fmt.Errorf("librato: decoding %s %s: %w", path, key, err)
		}
	}
	return items, page, nil
}

// listAll iterates over every item of a paginated list, page after page, until query.found items were
// seen (python-librato stops at 100; this does not). It works on a copy of opts.
func listAll[T any](ctx context.Context, c *Client, path, key string, opts *ListOptions, extra url.Values) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		var o ListOptions
		if opts != nil {
			o = *opts
		}
		for {
			items, page, err := listPage[T](ctx, c, path, key, &o, extra)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range items {
				if !yield(it, nil) {
					return
				}
			}
			o.Offset += len(items)
			if len(items) == 0 || o.Offset >= page.Found {
				return
			}
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
