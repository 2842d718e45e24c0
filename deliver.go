package librato

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// The one delivery engine. Client.Submit, Queue flushes, spool replay and Aggregator.Submit all
// turn measurements into encoded chunks (one request body each, see encode.go) and hand each
// chunk to deliver, which posts it and reports one of four outcomes for each of its measurements:
//
//   - accepted: the API answered 2xx with no "errors" in the body (a body cut short or over the
//     response cap still counts: the status line answered, and the caller is told);
//   - rejected: the API refused them for good, with its reason: a 400 or 413 after the chunk was
//     split to isolate them (within a request budget), or a 2xx whose body carries "errors"
//     (the API took the request but says something in it failed, without saying which
//     measurement: the whole part is reported, and never sent again, since resending could
//     duplicate what it stored);
//   - unsent: not delivered for a transient reason (network, 5xx, 429, 401, a ctx deadline):
//     the caller keeps them for later (Queue, spool) or reports them (Submit);
//   - dropped: decided by the caller (queue full, closed, spool full or damaged), never here.

// part is a request body holding the measurements at positions [lo, hi) of its chunk.
type part struct {
	body   []byte
	lo, hi int
}

func (p part) count() int { return p.hi - p.lo }

// rejection is a part the API refused for good.
type rejection struct {
	part
	err error // an *Error (400, 413) or a *PartialError (2xx with "errors")
}

// outcome is what deliver did with one chunk.
type outcome struct {
	sent               int         // measurements accepted
	rejected           []rejection // refused for good, in chunk order
	unsent             []part      // not sent: a transient failure stopped the delivery
	requests, failures int         // POSTs made, and those that failed
	err                error       // the transient failure, nil when none stopped it
	notes              []error     // problems with answers that still accepted the chunk
}

// deliver posts the chunk body (count measurements, for the tagged API or not). On a 400 or 413 it sends the halves
// apart, recursively, until the measurements at fault are alone or the request budget is spent
// (what is left is rejected as a group). After a transient failure it stops: the part that failed
// and every part not yet tried are unsent.
func (c *Client) deliver(ctx context.Context, tagged bool, body []byte, count int) outcome {
	return c.deliverBody(ctx, tagged, body, nil, count)
}

// deliverBody is deliver with the whole chunk's body, for its first POST, given as rb (a
// reusable buffer holding body) when rb is not nil.
func (c *Client) deliverBody(ctx context.Context, tagged bool, body []byte, rb *requestBody, count int) outcome {
	var o outcome
	// Isolating one bad measurement takes two POSTs per halving; allow for about two.
	budget := 4 * bits.Len(uint(count))
	c.deliverPart(ctx, tagged, part{body, 0, count}, rb, &budget, &o)
	return o
}

func (c *Client) deliverPart(ctx context.Context, tagged bool, p part, rb *requestBody, budget *int, o *outcome) {
	if o.err != nil {
		o.unsent = append(o.unsent, p)
		return
	}
	if err := ctx.Err(); err != nil {
		o.err = err
		o.unsent = append(o.unsent, p)
		return
	}
	o.requests++
	var body any = p.body
	if rb != nil {
		body = rb
	}
	err := c.postPayload(ctx, tagged, body)
	var pe *PartialError
	var be *BodyError
	switch {
	case err == nil:
		o.sent += p.count()
	case errors.As(err, &be):
		// The status line said 2xx: the API took the chunk, and resending it would duplicate it.
		// Its body was cut short or is over the cap: accepted, and the caller is told.
		o.sent += p.count()
		o.notes = append(o.notes, err)
	case errors.As(err, &pe):
		o.rejected = append(o.rejected, rejection{p, err})
	case splittable(err):
		o.failures++
		var a, b part
		var serr error
		if p.count() > 1 && *budget >= 2 {
			a, b, serr = splitBody(tagged, p)
		}
		if p.count() <= 1 || *budget < 2 || serr != nil {
			o.rejected = append(o.rejected, rejection{p, err})
			return
		}
		*budget -= 2
		c.deliverPart(ctx, tagged, a, nil, budget, o)
		c.deliverPart(ctx, tagged, b, nil, budget, o)
	default:
		o.failures++
		o.err = err
		o.unsent = append(o.unsent, p)
	}
}

// requestBody is a chunk body whose buffer is reused for later chunks, once the HTTP layer is done
// with it: the transport may go on reading a request body after the round trip returned (when
// the server answered early), so the buffer is free only when every reader handed out has been
// read to its end or closed. Until then it is left to the garbage collector.
type requestBody struct {
	buf  []byte
	live atomic.Int32 // readers handed out, not yet at their end or closed
}

// bodyPool holds the buffers of finished request bodies (*[]byte).
var bodyPool sync.Pool

// newRequestBody returns a body with an empty buffer of at least size bytes.
func newRequestBody(size int) *requestBody {
	if p, _ := bodyPool.Get().(*[]byte); p != nil && cap(*p) >= size {
		return &requestBody{buf: (*p)[:0]}
	}
	return &requestBody{buf: make([]byte, 0, size)}
}

// release gives the buffer back for reuse if no reader can touch it any more.
func (b *requestBody) release() {
	if b.live.Load() == 0 && b.buf != nil {
		buf := b.buf[:0]
		b.buf = nil
		bodyPool.Put(&buf)
	}
}

// reader returns a new reader of the body (a retryablehttp.ReaderFunc).
func (b *requestBody) reader() (io.Reader, error) {
	b.live.Add(1)
	return &bodyReader{b: b, r: bytes.NewReader(b.buf)}, nil
}

// bodyReader reads a requestBody and tells it when it is done.
type bodyReader struct {
	b    *requestBody
	r    *bytes.Reader
	done bool
}

func (r *bodyReader) Read(p []byte) (int, error) {
	if r.done {
		return 0, io.EOF
	}
	n, err := r.r.Read(p)
	if err == io.EOF {
		r.finish()
	}
	return n, err
}

// Len is the bytes left, which the HTTP layer uses as the content length.
func (r *bodyReader) Len() int {
	if r.done {
		return 0
	}
	return r.r.Len()
}

func (r *bodyReader) Close() error {
	r.finish()
	return nil
}

func (r *bodyReader) finish() {
	if !r.done {
		r.done = true
		r.b.live.Add(-1)
	}
}

// splittable reports whether err is an answer about the content of a chunk, so that sending its
// halves apart can isolate the measurements at fault: 400 Bad Request or 413 Payload Too Large.
func splittable(err error) bool {
	var apiErr *Error
	return errors.As(err, &apiErr) &&
		(apiErr.StatusCode == http.StatusBadRequest || apiErr.StatusCode == http.StatusRequestEntityTooLarge)
}

// postPayload POSTs one body to "metrics" (legacy) or "measurements" (tagged). A 2xx whose JSON
// body has a non-empty top-level "errors" is a *PartialError; a 2xx body that is not JSON at all
// is accepted (the API answered success); a 2xx body cut short or over the response cap is a
// *BodyError, which deliver counts as accepted.
// body is a []byte or a *requestBody.
func (c *Client) postPayload(ctx context.Context, tagged bool, body any) error {
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

// partialBody captures the 2xx answer of a POST, to find an "errors" member in it.
type partialBody struct {
	raw []byte
}

func (p *partialBody) UnmarshalJSON(b []byte) error {
	p.raw = append(p.raw[:0], b[:min(len(b), maxErrorBody)]...)
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

// maxRejectedNames bounds RejectedError.Names.
const maxRejectedNames = 20

// plural returns "1 measurement", "2 measurements".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// newRejectedError describes the rejection, for err, of the measurements named names.
func newRejectedError(names []string, err error) *RejectedError {
	e := &RejectedError{Count: len(names), Err: err}
	for _, name := range names {
		if len(e.Names) == maxRejectedNames {
			break
		}
		if !containsString(e.Names, name) {
			e.Names = append(e.Names, name)
		}
	}
	return e
}

// joinRejected joins the rejections and the failure of a flush into its error.
func joinRejected(rs []*RejectedError, err error) error {
	if len(rs) == 0 {
		return err
	}
	errs := make([]error, 0, len(rs)+1)
	for _, r := range rs {
		errs = append(errs, r)
	}
	if err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// measurementNames returns the names of ms.
func measurementNames(ms []Measurement) []string {
	names := make([]string, len(ms))
	for i := range ms {
		names[i] = ms[i].Name
	}
	return names
}

func containsString(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// chunkWire is the shape of the bodies appendBody writes (and of older spooled bodies, which had
// no top-level time).
type chunkWire struct {
	Time         *int64            `json:"time"`
	MeasureTime  *int64            `json:"measure_time"`
	Gauges       []json.RawMessage `json:"gauges"`
	Counters     []json.RawMessage `json:"counters"`
	Measurements []json.RawMessage `json:"measurements"`
}

// splitBody splits p into two parts of half its measurements each, keeping the top-level time.
// The measurement objects are copied byte for byte. Legacy measurements are numbered gauges
// first, then counters.
func splitBody(tagged bool, p part) (a, b part, err error) {
	var w chunkWire
	if err := json.Unmarshal(p.body, &w); err != nil {
		return part{}, part{}, fmt.Errorf("librato: splitting a chunk: %w", err)
	}
	objs := w.Measurements
	if !tagged {
		objs = append(w.Gauges[:len(w.Gauges):len(w.Gauges)], w.Counters...)
	}
	if len(objs) < 2 || len(objs) != p.count() {
		return part{}, part{}, errors.New("librato: splitting a chunk: it does not hold the measurements it should")
	}
	mid := len(objs) / 2
	build := func(lo, hi int) part {
		var dst []byte
		if tagged {
			dst = append(dst, '{')
			if w.Time != nil {
				dst = append(dst, `"time":`...)
				dst = strconv.AppendInt(dst, *w.Time, 10)
				dst = append(dst, ',')
			}
			dst = append(dst, `"measurements":[`...)
			dst = appendJoined(dst, objs[lo:hi])
			dst = append(dst, "]}"...)
		} else {
			ng := len(w.Gauges)
			dst = append(dst, '{')
			if w.MeasureTime != nil {
				dst = append(dst, `"measure_time":`...)
				dst = strconv.AppendInt(dst, *w.MeasureTime, 10)
				dst = append(dst, ',')
			}
			dst = append(dst, `"gauges":[`...)
			dst = appendJoined(dst, objs[min(lo, ng):min(hi, ng)])
			dst = append(dst, `],"counters":[`...)
			dst = appendJoined(dst, objs[max(lo, ng):max(hi, ng)])
			dst = append(dst, "]}"...)
		}
		return part{dst, p.lo + lo, p.lo + hi}
	}
	return build(0, mid), build(mid, len(objs)), nil
}

func appendJoined(dst []byte, elems []json.RawMessage) []byte {
	for i, e := range elems {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, e...)
	}
	return dst
}

// chunkMeasurement is what decodeChunk reads back of a measurement object.
type chunkMeasurement struct {
	Name        string            `json:"name"`
	Value       float64           `json:"value"`
	Source      string            `json:"source"`
	Tags        map[string]string `json:"tags"`
	Time        int64             `json:"time"`
	MeasureTime int64             `json:"measure_time"`
	Count       *int64            `json:"count"`
	Sum         float64           `json:"sum"`
	Min         float64           `json:"min"`
	Max         float64           `json:"max"`
	SumSquares  *float64          `json:"sum_squares"`
	Last        *float64          `json:"last"`
	Period      int64             `json:"period"`
	Description string            `json:"description"`
	DisplayName string            `json:"display_name"`
	Attributes  map[string]any    `json:"attributes"`
}

// decodeChunk reads the count measurements of a body back, for OnDrop and RejectedError: a
// failure path, so encoding/json. Each gets its chunk's time when it has none of its own. A body
// it cannot read gives count measurements named "(unreadable chunk)", so counts stay right.
func decodeChunk(tagged bool, body []byte, count int) []Measurement {
	var w chunkWire
	if err := json.Unmarshal(body, &w); err != nil {
		out := make([]Measurement, count)
		for i := range out {
			out[i].Name = "(unreadable chunk)"
		}
		return out
	}
	var top int64
	for _, t := range []*int64{w.Time, w.MeasureTime} {
		if t != nil {
			top = *t
		}
	}
	out := make([]Measurement, 0, count)
	add := func(raw []json.RawMessage, typ MetricType) {
		for _, r := range raw {
			var wm chunkMeasurement
			if json.Unmarshal(r, &wm) != nil {
				wm.Name = "(unreadable measurement)"
			}
			m := Measurement{Name: wm.Name, Value: wm.Value, Type: typ, Source: wm.Source, Tags: wm.Tags,
				Period: time.Duration(wm.Period) * time.Second, Description: wm.Description,
				DisplayName: wm.DisplayName, Attributes: wm.Attributes}
			switch {
			case wm.Time > 0:
				m.Time = time.Unix(wm.Time, 0)
			case wm.MeasureTime > 0:
				m.Time = time.Unix(wm.MeasureTime, 0)
			case top > 0:
				m.Time = time.Unix(top, 0)
			}
			if wm.Count != nil {
				m.Summary = &Summary{Count: *wm.Count, Sum: wm.Sum, Min: wm.Min, Max: wm.Max,
					SumSquares: wm.SumSquares, Last: wm.Last}
			}
			out = append(out, m)
		}
	}
	if tagged {
		add(w.Measurements, Gauge)
	} else {
		add(w.Gauges, Gauge)
		add(w.Counters, Counter)
	}
	return out
}
