package librato

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-retryablehttp"
)

// response is what callers of do need of a 2xx answer besides its decoded body.
type response struct {
	StatusCode int
	Header     http.Header
}

// escapePath joins path segments with "/", escaping each so user input (metric and stream names)
// cannot change the path. Dot segments are escaped too, so they are never resolved away.
func escapePath(segments ...string) string {
	var b strings.Builder
	for i, s := range segments {
		if i > 0 {
			b.WriteByte('/')
		}
		switch s {
		case ".":
			b.WriteString("%2E")
		case "..":
			b.WriteString("%2E%2E")
		default:
			b.WriteString(url.PathEscape(s))
		}
	}
	return b.String()
}

// do sends one API request and, for a 2xx answer, decodes its JSON body into out (when out is non-nil
// and the body is not empty). path is relative to the base URL and already escaped (see escapePath).
// body is nil for none, []byte for raw JSON, or a value for encoding/json. A non-2xx answer is an
// *Error; a 2xx answer whose body is over the cap or cut off is a *BodyError.
//
// do is the scrubbing point of the client: the answer's headers and body are scrubbed of the
// credentials as soon as they arrive, before anything (an *Error, a decoded value, a partial-failure
// message, the rate-limit state, a log line) is derived from them, and every error it returns
// passes scrubErr.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) (*response, error) {
	resp, err := c.roundTrip(ctx, method, path, query, body, out)
	return resp, c.scrubErr(err)
}

func (c *Client) roundTrip(ctx context.Context, method, path string, query url.Values, body, out any) (*response, error) {
	if strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("librato: internal error: absolute path %q would drop the base path", path)
	}
	u, err := url.Parse(c.baseURL + path)
	if err != nil {
		return nil, fmt.Errorf("librato: bad request path %q: %w", path, err)
	}
	if len(query) > 0 {
		u.RawQuery = query.Encode()
	}
	var payload []byte
	var reusable *requestBody
	switch b := body.(type) {
	case nil:
	case []byte:
		payload = b
	case *requestBody:
		payload, reusable = b.buf, b
	default:
		if payload, err = json.Marshal(body); err != nil {
			return nil, fmt.Errorf("librato: encoding %s %s: %w", method, path, err)
		}
	}
	gzipped := false
	if c.gzip && len(payload) > 0 {
		// Compress once, before the first attempt, so retries re-send identical bytes.
		if payload, err = gzipBytes(payload); err != nil {
			return nil, err
		}
		gzipped = true
	}
	var reqBody any // a nil interface, not a nil []byte, means "no body" to retryablehttp
	switch {
	case reusable != nil && !gzipped:
		reqBody = retryablehttp.ReaderFunc(reusable.reader)
	case payload != nil:
		reqBody = payload
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, u.String(), reqBody)
	if err != nil {
		return nil, fmt.Errorf("librato: building %s request: %w", method, err)
	}
	req.Header.Set("Authorization", c.auth())
	req.Header.Set("User-Agent", c.userAgent)
	req.Header.Set("Accept", "application/json")
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
		if gzipped {
			req.Header.Set("Content-Encoding", "gzip")
		}
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("librato: %s %s: %w", method, c.logURL(u), ctxErr)
		}
		return nil, fmt.Errorf("librato: %s %s: %w", method, c.logURL(u), unwrapURLError(err))
	}
	wire := resp.Body // closed here, even once resp.Body is replaced by the scrubbed copy
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(wire, 1<<16)) // lets the connection be reused
		wire.Close()
	}()
	c.scrub.scrubHeader(resp.Header)
	if rl := parseRateLimit(resp.Header); rl != (RateLimit{}) {
		c.rateLimit.Store(&rl)
	}
	if c.logger != nil {
		c.logger.DebugContext(ctx, "librato request", "method", method, "url", c.logURL(u),
			"status", resp.StatusCode, "duration", time.Since(start))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// A read error leaves what was read so far; the status still tells the story.
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, min(maxErrorBody, c.maxBody)))
		resp.Body = io.NopCloser(bytes.NewReader(c.scrub.Bytes(raw)))
		apiErr := newError(method, u, resp)
		c.scrubAPIError(apiErr)
		if c.logger != nil {
			c.logger.WarnContext(ctx, "librato request failed", "method", method, "url", apiErr.URL,
				"status", resp.StatusCode, "message", apiErr.Message)
		}
		return nil, apiErr
	}
	if out != nil {
		raw, err := c.readBody(resp)
		if err != nil {
			be := &BodyError{StatusCode: resp.StatusCode, Method: method, URL: c.logURL(u), Limit: c.maxBody, Err: err}
			if c.logger != nil {
				c.logger.WarnContext(ctx, "librato answer body lost", "method", method, "url", be.URL,
					"status", resp.StatusCode, "error", be.Error())
			}
			return nil, be
		}
		if len(bytes.TrimSpace(raw)) > 0 {
			if err := json.NewDecoder(bytes.NewReader(raw)).Decode(out); err != nil && !errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("librato: decoding %s %s response: %w", method, c.logURL(u), err)
			}
		}
	}
	return &response{StatusCode: resp.StatusCode, Header: resp.Header}, nil
}

// readBody reads a 2xx body up to the client's cap and scrubs it. Over the cap, it stops reading
// and returns ErrResponseTooLarge.
func (c *Client) readBody(resp *http.Response) ([]byte, error) {
	raw, err := io.ReadAll(io.LimitReader(resp.Body, c.maxBody+1))
	if err != nil {
		return nil, err
	}
	if int64(len(raw)) > c.maxBody {
		return nil, ErrResponseTooLarge
	}
	return c.scrub.Bytes(raw), nil
}

// fetch is do for the common call that decodes its answer into a new T.
func fetch[T any](ctx context.Context, c *Client, method, path string, query url.Values, body any) (*T, error) {
	var out T
	if _, err := c.do(ctx, method, path, query, body, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func gzipBytes(p []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(p); err != nil {
		return nil, fmt.Errorf("librato: gzip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("librato: gzip: %w", err)
	}
	return buf.Bytes(), nil
}

// unwrapURLError removes *url.Error's own "METHOD URL:" prefix: the caller adds a redacted one.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
