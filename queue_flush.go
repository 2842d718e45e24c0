package librato

import (
	"context"
	"errors"
	"math/bits"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// RejectedError reports measurements the API refused with 400 Bad Request (or 413) even after
// their chunk was split to isolate them, or that failed validation when a flush built them. They
// are not sent again. errors.Is(err, ErrBadRequest) holds for API rejections.
type RejectedError struct {
	// Count is the number of measurements rejected.
	Count int
	// Names are the names of the rejected measurements (at most 20, duplicates removed).
	Names []string
	// Err is the API's answer (an *Error, whose Message is the server's reason) or the
	// validation error.
	Err error
}

// maxRejectedNames bounds RejectedError.Names.
const maxRejectedNames = 20

// Error returns "librato: N measurements rejected (name1, name2): <reason>".
func (e *RejectedError) Error() string {
	var b strings.Builder
	b.WriteString("librato: ")
	b.WriteString(strconv.Itoa(e.Count))
	if e.Count == 1 {
		b.WriteString(" measurement rejected (")
	} else {
		b.WriteString(" measurements rejected (")
	}
	b.WriteString(strings.Join(e.Names, ", "))
	if len(e.Names) < e.Count && e.Count > 1 && len(e.Names) == maxRejectedNames {
		b.WriteString(", ...")
	}
	b.WriteString("): ")
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the API's or the validator's error.
func (e *RejectedError) Unwrap() error { return e.Err }

func newRejectedError(ms []Measurement, err error) *RejectedError {
	e := &RejectedError{Count: len(ms), Err: err}
	for i := range ms {
		if len(e.Names) == maxRejectedNames {
			break
		}
		name := ms[i].Name
		dup := false
		for _, n := range e.Names {
			if n == name {
				dup = true
				break
			}
		}
		if !dup {
			e.Names = append(e.Names, name)
		}
	}
	return e
}

// span is the half-open range [lo, hi) of a batch of measurements.
type span struct{ lo, hi int }

// sender posts batches of validated measurements in chunks. It is used by one flush at a time.
type sender struct {
	c         *Client
	chunkSize int
	queueTags map[string]string
	now       time.Time

	// Results of the flush.
	sent      int              // measurements accepted (a 2xx answer, partial failures included)
	requests  int              // POSTs made
	failures  int              // POSTs that failed
	unsent    []span           // measurements not sent for a transient reason, in order
	rejected  []*RejectedError // measurements refused for good
	rejSpans  []span           // their positions, parallel to rejected
	partial   []error          // 2xx answers with "errors" in the body
	stopErr   error            // the failure that stopped the flush, if any
	splitLeft int              // POSTs the 400 isolation of the current chunk may still make
}

// splittable reports whether err is an answer about the content of a chunk, so that sending its
// halves apart can isolate the measurements at fault: 400 Bad Request or 413 Payload Too Large.
func splittable(err error) bool {
	var apiErr *Error
	return errors.As(err, &apiErr) &&
		(apiErr.StatusCode == http.StatusBadRequest || apiErr.StatusCode == http.StatusRequestEntityTooLarge)
}

// send posts ms (all for the legacy or all for the tagged API) in chunks, recording results with
// positions offset by off. After a failure that is not about the content (network, 5xx, 429,
// 401, ctx, ...) it stops: that chunk and the rest are recorded as unsent, never dropped.
func (s *sender) send(ctx context.Context, tagged bool, ms []Measurement, off int) {
	size := s.chunkSize
	if size < 1 {
		size = DefaultChunkSize
	}
	for lo := 0; lo < len(ms); lo += size {
		if s.stopErr != nil {
			s.unsent = append(s.unsent, span{off + lo, off + len(ms)})
			return
		}
		hi := min(lo+size, len(ms))
		// Isolating one bad measurement takes two POSTs per halving; allow for about two.
		s.splitLeft = 4 * bits.Len(uint(hi-lo))
		s.sendChunk(ctx, tagged, ms, off, lo, hi)
	}
}

// sendChunk posts ms[lo:hi]; on a 400 it sends the halves apart, recursively, until the rejected
// measurements are alone (or the split budget is spent, and what is left is rejected as a group).
func (s *sender) sendChunk(ctx context.Context, tagged bool, ms []Measurement, off, lo, hi int) {
	if s.stopErr != nil {
		s.unsent = append(s.unsent, span{off + lo, off + hi})
		return
	}
	if err := ctx.Err(); err != nil {
		s.stopErr = err
		s.unsent = append(s.unsent, span{off + lo, off + hi})
		return
	}
	// A fresh body per POST: the HTTP transport may still read a request body after the round
	// trip returned (when the server answered early), so a body buffer is never reused.
	body := appendPayload(make([]byte, 0, 64+200*(hi-lo)), tagged, ms[lo:hi], s.queueTags, s.c.tags, s.now)
	s.requests++
	err := s.c.postPayload(ctx, tagged, body)
	var pe *PartialError
	switch {
	case err == nil:
		s.sent += hi - lo
	case errors.As(err, &pe):
		// The API took the request; resending would duplicate what it stored.
		s.sent += hi - lo
		s.partial = append(s.partial, err)
	case splittable(err):
		s.failures++
		if hi-lo == 1 || s.splitLeft < 2 {
			s.rejected = append(s.rejected, newRejectedError(ms[lo:hi], err))
			s.rejSpans = append(s.rejSpans, span{off + lo, off + hi})
			return
		}
		s.splitLeft -= 2
		mid := lo + (hi-lo)/2
		s.sendChunk(ctx, tagged, ms, off, lo, mid)
		s.sendChunk(ctx, tagged, ms, off, mid, hi)
	default:
		s.failures++
		s.stopErr = err
		s.unsent = append(s.unsent, span{off + lo, off + hi})
	}
}

// rejectedCount is the number of measurements rejected for good.
func (s *sender) rejectedCount() int {
	n := 0
	for _, r := range s.rejSpans {
		n += r.hi - r.lo
	}
	return n
}

// err is what the flush reports: rejections, partial failures and the failure that stopped it.
func (s *sender) err() error {
	if len(s.rejected) == 0 && len(s.partial) == 0 {
		return s.stopErr
	}
	errs := make([]error, 0, len(s.rejected)+len(s.partial)+1)
	for _, e := range s.rejected {
		errs = append(errs, e)
	}
	errs = append(errs, s.partial...)
	if s.stopErr != nil {
		errs = append(errs, s.stopErr)
	}
	return errors.Join(errs...)
}

// sendAll validates and sends a mixed batch (the Aggregator's): legacy measurements first, then
// tagged ones, as python-librato does. Positions in the results refer to ms. Invalid measurements
// are rejected with their validation error.
func (s *sender) sendAll(ctx context.Context, ms []Measurement) *sender {
	s.now = s.c.now()
	order := make([]int, 0, len(ms))
	batch := make([]Measurement, 0, len(ms))
	var invalid []*RejectedError
	var invalidAt []span
	legacy := 0
	for pass := 0; pass < 2; pass++ {
		for i := range ms {
			m := ms[i]
			if s.c.tagged(&m, s.queueTags) != (pass == 1) {
				continue
			}
			err := s.c.checkMeasurement(&m)
			if err == nil {
				err = s.c.checkRoute(&m, s.queueTags)
			}
			if err != nil {
				invalid = append(invalid, newRejectedError(ms[i:i+1], err))
				invalidAt = append(invalidAt, span{i, i + 1})
				continue
			}
			batch = append(batch, m)
			order = append(order, i)
		}
		if pass == 0 {
			legacy = len(batch)
		}
	}
	s.send(ctx, false, batch[:legacy], 0)
	s.send(ctx, true, batch[legacy:], legacy)
	// Positions so far refer to batch; map them back to ms.
	s.unsent = remapSpans(s.unsent, order)
	for k, r := range s.rejSpans {
		s.rejSpans[k] = span{order[r.lo], order[r.lo] + 1} // only the count matters from here
		if r.hi-r.lo > 1 {
			s.rejSpans[k].hi = order[r.lo] + r.hi - r.lo
		}
	}
	s.rejected = append(s.rejected, invalid...)
	s.rejSpans = append(s.rejSpans, invalidAt...)
	return s
}

// remapSpans maps spans of positions in a batch to positions in the original slice, batch
// position p being original position order[p]; contiguous runs stay one span.
func remapSpans(spans []span, order []int) []span {
	var out []span
	for _, r := range spans {
		for p := r.lo; p < r.hi; p++ {
			o := order[p]
			if n := len(out); n > 0 && out[n-1].hi == o {
				out[n-1].hi++
				continue
			}
			out = append(out, span{o, o + 1})
		}
	}
	return out
}
