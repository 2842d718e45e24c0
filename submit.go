package librato

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// Submit sends measurements in one go: each to the legacy API (POST metrics) or, when it has tags,
// the client has default tags or the client is AppOptics, to the tagged API (POST measurements),
// in chunks of at most the client's chunk size (WithChunkSize, default 300), legacy chunks first.
//
// Everything is validated before any I/O: if a measurement is invalid, nothing is sent and the
// error is an *InvalidMeasurementsError naming each bad measurement (errors.Is(err, ErrInvalid)
// holds). Measurements without a time are stamped with one time for the whole call. Submit with no
// measurements does nothing.
//
// If a chunk fails, Submit stops and returns a *SubmitError that says which measurements were
// not sent; the chunks before it were accepted and must not be sent again. Submit keeps no
// reference to ms or anything in it after it returns.
func (c *Client) Submit(ctx context.Context, ms ...Measurement) error {
	if len(ms) == 0 {
		return nil
	}
	work := ms // becomes a private copy if the sanitizer renames anything: ms is the caller's
	var bad []*InvalidMeasurementError
	legacy := 0
	for i := range ms {
		m := ms[i]
		if err := c.checkMeasurement(&m); err != nil {
			bad = append(bad, &InvalidMeasurementError{Index: i, Name: ms[i].Name, Err: err})
			continue
		}
		if m.Name != ms[i].Name {
			if &work[0] == &ms[0] {
				work = append([]Measurement(nil), ms...)
			}
			work[i].Name = m.Name
		}
		if !c.tagged(&m, nil) {
			legacy++
		}
	}
	if bad != nil {
		return &InvalidMeasurementsError{Errors: bad, Total: len(ms)}
	}

	// Order: legacy first, then tagged, each in argument order. order[j] is the argument index of
	// the j-th measurement sent; it exists only when the call mixes both kinds.
	var order []int
	if legacy > 0 && legacy < len(work) {
		sorted := make([]Measurement, 0, len(work))
		order = make([]int, 0, len(work))
		for pass := 0; pass < 2; pass++ {
			for i := range work {
				if c.tagged(&work[i], nil) == (pass == 1) {
					sorted = append(sorted, work[i])
					order = append(order, i)
				}
			}
		}
		work = sorted
	}

	now := c.now()
	size := c.chunkSize
	if size < 1 {
		size = DefaultChunkSize
	}
	var body []byte
	// Chunks never mix the two APIs: legacy ones cover work[:legacy], tagged ones the rest.
	for _, part := range [2]struct{ lo, hi int }{{0, legacy}, {legacy, len(work)}} {
		isTagged := part.lo == legacy
		for start := part.lo; start < part.hi; start += size {
			end := min(start+size, part.hi)
			// A fresh buffer per POST: the HTTP transport may still read a request body after the
			// round trip returns, so a body is never reused. Size it from the previous one.
			body = appendPayload(make([]byte, 0, max(len(body), 256)), isTagged, work[start:end], nil, c.tags, now)
			if err := c.postPayload(ctx, isTagged, body); err != nil {
				return newSubmitError(err, start, end, len(work), order)
			}
		}
	}
	return nil
}

// SubmitError is a failed Submit that sent some chunks before one failed. The Sent measurements
// were accepted by the API (or, for a *PartialError, reached it) and must not be resent; the
// Unsent ones were not delivered.
type SubmitError struct {
	// Sent counts the measurements accepted before the failure (plus those of a partially
	// failed chunk, which the API did receive).
	Sent int
	// Unsent counts the measurements not delivered.
	Unsent int
	// UnsentIndices lists the argument indices of the Unsent measurements, in ascending order.
	// (Legacy chunks are sent before tagged ones, so these need not be a suffix of the arguments.)
	UnsentIndices []int
	// Err is the chunk's failure: an *Error, a *PartialError, or a transport or context error.
	Err error
}

// Error says how much was sent and why the rest was not.
func (e *SubmitError) Error() string {
	return fmt.Sprintf("librato: submit: %d measurements sent, %d not sent: %v", e.Sent, e.Unsent, e.Err)
}

// Unwrap returns the chunk's error, so errors.Is(err, ErrRateLimited) and the like work.
func (e *SubmitError) Unwrap() error { return e.Err }

// newSubmitError describes a failure of the chunk work[start:end] of total measurements. A partial
// failure counts its chunk as sent: the API took the request, resending would duplicate data.
func newSubmitError(err error, start, end, total int, order []int) *SubmitError {
	sent := start
	var pe *PartialError
	if errors.As(err, &pe) {
		sent = end
	}
	unsent := make([]int, 0, total-sent)
	for j := sent; j < total; j++ {
		if order != nil {
			unsent = append(unsent, order[j])
		} else {
			unsent = append(unsent, j)
		}
	}
	slices.Sort(unsent)
	return &SubmitError{Sent: sent, Unsent: total - sent, UnsentIndices: unsent, Err: err}
}

// PartialError is a 2xx answer whose JSON body still carries a non-empty top-level "errors":
// the API took the request but reports problems with some of its measurements (reference 2b).
// The request must not be resent as a whole.
type PartialError struct {
	// StatusCode is the (2xx) HTTP status of the answer.
	StatusCode int
	// Path is the API path posted to, "metrics" or "measurements".
	Path string
	// Messages are the server's error messages, one per entry of "errors".
	Messages []string
	// Body is the raw response body (at most 64 KiB).
	Body []byte
}

// Error returns "librato: POST <path>: [<status>] partial failure: <messages>".
func (e *PartialError) Error() string {
	return "librato: POST " + e.Path + ": [" + strconv.Itoa(e.StatusCode) + "] partial failure: " +
		strings.Join(e.Messages, ", ")
}

// partialBody captures the 2xx answer of a POST, to find an "errors" member in it.
type partialBody struct {
	raw []byte
}

func (p *partialBody) UnmarshalJSON(b []byte) error {
	p.raw = append(p.raw[:0], b[:min(len(b), maxErrorBody)]...)
	return nil
}

// postPayload POSTs one body built by appendPayload to "metrics" (legacy) or "measurements"
// (tagged). A 2xx whose JSON body has a non-empty top-level "errors" is a *PartialError; a 2xx
// body that is not JSON at all is accepted (the API answered success).
func (c *Client) postPayload(ctx context.Context, tagged bool, body []byte) error {
	path := "metrics"
	if tagged {
		path = "measurements"
	}
	var out partialBody
	resp, err := c.do(ctx, http.MethodPost, path, nil, body, &out)
	if err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			return nil // a 2xx with a body that is not JSON: success, nothing to inspect
		}
		return err
	}
	if msgs := partialMessages(out.raw); len(msgs) > 0 {
		return &PartialError{StatusCode: resp.StatusCode, Path: path, Messages: msgs, Body: out.raw}
	}
	return nil
}

// partialMessages returns the entries of a top-level "errors" in a 2xx body: strings as they
// are, objects and other values through the error-body parser (or as compact JSON).
func partialMessages(raw []byte) []string {
	if len(raw) == 0 || raw[0] != '{' {
		return nil
	}
	var top struct {
		Errors json.RawMessage `json:"errors"`
	}
	if json.Unmarshal(raw, &top) != nil {
		return nil
	}
	errs := bytes.TrimSpace(top.Errors)
	if len(errs) == 0 || string(errs) == "null" || string(errs) == "[]" || string(errs) == "{}" || string(errs) == `""` {
		return nil
	}
	var list []json.RawMessage
	if json.Unmarshal(errs, &list) != nil {
		// Not a list: an object ({"params":{...}}) or a scalar; one message for all of it.
		list = []json.RawMessage{errs}
	}
	msgs := make([]string, 0, len(list))
	for _, item := range list {
		var s string
		if json.Unmarshal(item, &s) == nil {
			msgs = append(msgs, s)
			continue
		}
		if msg, _ := parseErrorBody(append([]byte(`{"errors":`), append(item, '}')...)); msg != "" {
			msgs = append(msgs, msg)
			continue
		}
		msgs = append(msgs, string(item))
	}
	return msgs
}
