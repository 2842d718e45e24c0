package librato

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var allSentinels = []error{ErrBadRequest, ErrUnauthorized, ErrForbidden, ErrNotFound, ErrAlreadyExists, ErrRateLimited, ErrServer}

// trackedBody records whether newError closed it.
type trackedBody struct {
	io.Reader
	closed bool
}

func (b *trackedBody) Close() error { b.closed = true; return nil }

func testResponse(status int, contentType string, body []byte, hdr ...string) *http.Response {
	h := http.Header{}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		h.Set(hdr[i], hdr[i+1])
	}
	return &http.Response{StatusCode: status, Header: h, Body: &trackedBody{Reader: bytes.NewReader(body)}}
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	require.NoError(t, err)
	return u
}

func TestNewErrorBodies(t *testing.T) {
	const jsonCT = "application/json;charset=utf-8"
	tests := []struct {
		file        string
		status      int
		contentType string
		message     string
		params      map[string][]string
		is          []error // every sentinel the error must match; all others must not
	}{
		// Reference section 9, shapes 1-11.
		{"shape01-params.json", 400, jsonCT,
			"params: name: is not present, params: start_time: is not a number",
			map[string][]string{"name": {"is not present"}, "start_time": {"is not a number"}},
			[]error{ErrBadRequest}},
		{"shape02-request-list.json", 403, jsonCT,
			"request: Please use secured connection through https!, request: Please provide credentials for authentication.",
			nil, []error{ErrForbidden}},
		{"shape03-request-string.json", 400, jsonCT,
			"request: The requested data resolution is unavailable for the given time range. Please try a different resolution.",
			nil, []error{ErrBadRequest}},
		{"shape04-measure-time.json", 400, jsonCT,
			"params: measure_time: is too far in the past",
			map[string][]string{"measure_time": {"is too far in the past"}}, []error{ErrBadRequest}},
		{"shape05-nested-params.json", 400, jsonCT,
			"params: conditions: duration: must be set",
			map[string][]string{"conditions.duration": {"must be set"}}, []error{ErrBadRequest}},
		{"shape06-system.json", 503, jsonCT,
			"system: The API is currently down for maintenance. It'll be back shortly.",
			nil, []error{ErrServer}},
		{"shape07-array.json", 400, jsonCT,
			"Tag based measurements are not enabled for this account. Please contact support@librato.com.",
			nil, []error{ErrBadRequest}},
		{"shape08-rate-limit.json", 403, jsonCT,
			"You have hit the API limit for measurements [measure:raw_rate]. Contact: support@librato.com to adjust this limit.",
			nil, []error{ErrForbidden, ErrRateLimited}},
		{"shape08-rate-limit.json", 429, jsonCT,
			"You have hit the API limit for measurements [measure:raw_rate]. Contact: support@librato.com to adjust this limit.",
			nil, []error{ErrRateLimited}},
		{"shape09-code-message.json", 400, jsonCT, "Unable to process JSON", nil, []error{ErrBadRequest}},
		{"shape10-text-plain.txt", 401, "text/plain",
			"Credentials are required to access this resource.", nil, []error{ErrUnauthorized}},
		{"shape10-json.json", 401, jsonCT, "request: Authorization Required", nil, []error{ErrUnauthorized}},
		{"shape11-job-failed.json", 400, jsonCT, "name: is invalid",
			map[string][]string{"name": {"is invalid"}}, []error{ErrBadRequest}},
		// TV20, python-librato's expected messages.
		{"tv20-01-string.json", 400, jsonCT, "a standard message", nil, []error{ErrBadRequest}},
		{"tv20-02-request-string.json", 400, jsonCT, "request: test error message", nil, []error{ErrBadRequest}},
		{"tv20-03-request-list.json", 400, jsonCT, "request: Not found", nil, []error{ErrBadRequest}},
		{"tv20-04-request-two.json", 400, jsonCT, "request: Not found, request: Another error", nil, []error{ErrBadRequest}},
		{"tv20-05-measure-time.json", 400, jsonCT, "params: measure_time: too far in past",
			map[string][]string{"measure_time": {"too far in past"}}, []error{ErrBadRequest}},
		{"tv20-06-name-two.json", 400, jsonCT, "params: name: duplicate etc, bad character etc",
			map[string][]string{"name": {"duplicate etc", "bad character etc"}}, []error{ErrBadRequest}},
		{"tv20-07-nested.json", 400, jsonCT, "params: conditions: duration: must be set",
			map[string][]string{"conditions.duration": {"must be set"}}, []error{ErrBadRequest}},
		{"tv20-08-rate-limit.json", 403, jsonCT, "You have hit the rate limit, etc", nil, []error{ErrForbidden, ErrRateLimited}},
		{"tv20-09-401-json.json", 401, "application/json", "request: Authorization Required", nil, []error{ErrUnauthorized}},
		{"tv20-10-401-text.txt", 401, "text/plain", "Credentials are required to access this resource.", nil, []error{ErrUnauthorized}},
		// Not the API: a proxy's page is the message as is; its JSON-looking type does not matter.
		{"extra-html-502.html", 502, "text/html", "<html><body><h1>502 Bad Gateway</h1></body></html>", nil, []error{ErrServer}},
		{"extra-html-502.html", 504, "", "<html><body><h1>502 Bad Gateway</h1></body></html>", nil, []error{ErrServer}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%d", tt.file, tt.status), func(t *testing.T) {
			body, err := os.ReadFile(filepath.Join("testdata", "errors", tt.file))
			require.NoError(t, err)
			resp := testResponse(tt.status, tt.contentType, body)
			e := newError(http.MethodPost, mustURL(t, "https://metrics-api.librato.com/v1/metrics"), resp)

			assert.Equal(t, tt.status, e.StatusCode)
			assert.Equal(t, http.MethodPost, e.Method)
			assert.Equal(t, "https://metrics-api.librato.com/v1/metrics", e.URL)
			assert.Equal(t, tt.message, e.Message)
			assert.Equal(t, tt.params, e.Params)
			assert.Equal(t, body, e.Body)
			want := fmt.Sprintf("librato: POST https://metrics-api.librato.com/v1/metrics: [%d] %s", tt.status, tt.message)
			if _, old := tt.params["measure_time"]; old {
				want += pastLimitHint // Error states the limit; Message is the API's
			}
			assert.Equal(t, want, e.Error())
			assert.False(t, resp.Body.(*trackedBody).closed, "newError must not close the body")
			for _, s := range allSentinels {
				want := false
				for _, w := range tt.is {
					want = want || s == w
				}
				assert.Equal(t, want, errors.Is(e, s), "errors.Is(%v)", s)
			}
		})
	}
}

func TestErrorMessageFromJSONNotAMessage(t *testing.T) {
	for _, raw := range []string{``, `   `, `not json`, `{"foo":"bar"}`, `{"errors":{}}`, `{"errors":null}`,
		`{"errors":{"params":{"name":[]}}}`, `{"error":""}`, `{"a":1} trailing`, `{"errors":`, `null`, `42`} {
		msg, params := errorMessageFromJSON([]byte(raw))
		assert.Empty(t, msg, raw)
		assert.Nil(t, params, raw)
	}
}

func TestErrorMessageFromJSONOrderAndNesting(t *testing.T) {
	// Body order, not alphabetical order, decides the message order.
	msg, params := errorMessageFromJSON([]byte(`{"errors":{"params":{"zeta":["z1"],"alpha":["a1","a2"],
		"conditions":{"threshold":["must be a number"],"duration":["must be set"]}},"request":["r1"]}}`))
	assert.Equal(t, "params: zeta: z1, params: alpha: a1, a2, params: conditions: threshold: must be a number, "+
		"params: conditions: duration: must be set, request: r1", msg)
	assert.Equal(t, map[string][]string{
		"zeta": {"z1"}, "alpha": {"a1", "a2"},
		"conditions.threshold": {"must be a number"}, "conditions.duration": {"must be set"},
	}, params)
}

func TestParseErrorBodyForJobs(t *testing.T) {
	// The jobs code wraps a failed job's "errors" value and reads the message.
	msg, params := parseErrorBody([]byte(`{"errors":{"name":["is invalid"]}}`))
	assert.Equal(t, "name: is invalid", msg)
	assert.Equal(t, map[string][]string{"name": {"is invalid"}}, params)

	msg, params = parseErrorBody([]byte("  plain words \n"))
	assert.Equal(t, "plain words", msg)
	assert.Nil(t, params)

	msg, _ = parseErrorBody(nil)
	assert.Empty(t, msg)
}

func TestNewErrorEmptyBodyUsesStatusText(t *testing.T) {
	for _, status := range []int{400, 404, 415, 422, 429, 500, 503, 599} {
		for _, body := range []string{"", " \r\n\t"} {
			e := newError(http.MethodGet, mustURL(t, "https://metrics-api.librato.com/v1/metrics/cpu"),
				testResponse(status, "application/json", []byte(body)))
			want := http.StatusText(status)
			if want == "" {
				want = fmt.Sprintf("HTTP status %d", status)
			}
			if status == 404 {
				want += wrongBaseHint
			}
			assert.Equal(t, want, e.Message)
			assert.Nil(t, e.Params)
			assert.Equal(t, fmt.Sprintf("librato: GET https://metrics-api.librato.com/v1/metrics/cpu: [%d] %s", status, want), e.Error())
		}
	}
}

// wrongBaseHint is what a 404 without the API's error body adds to the message.
const wrongBaseHint = " (not an error body of the API: is the base URL right? The API's ends in /v1/)"

func TestNotFoundOutsideTheAPISaysTheBaseURLMayBeWrong(t *testing.T) {
	u := mustURL(t, "http://127.0.0.1:8080/metrics/cpu")
	for _, tc := range []struct{ ct, body, msg string }{
		{"text/plain; charset=utf-8", "404 page not found\n", "404 page not found" + wrongBaseHint},
		{"text/html", "<html><body>Not Found</body></html>", "<html><body>Not Found</body></html>" + wrongBaseHint},
		{"application/json", `{"errors":{"request":["Not found"]}}`, "request: Not found"},
	} {
		e := newError(http.MethodGet, u, testResponse(404, tc.ct, []byte(tc.body)))
		assert.Equal(t, tc.msg, e.Message, tc.body)
		assert.ErrorIs(t, e, ErrNotFound, "still a 404")
	}
}

func TestNewErrorCapsBody(t *testing.T) {
	big := bytes.Repeat([]byte("x"), maxErrorBody*3)
	resp := testResponse(502, "text/html", big)
	e := newError(http.MethodGet, nil, resp)
	assert.Equal(t, maxErrorBody, len(e.Body))
	assert.Equal(t, maxErrorBody, len(e.Message))
	rest, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, 2*maxErrorBody, len(rest), "newError must read no more than the cap")
	assert.True(t, e.Error() == "librato: GET: [502] "+e.Message)
}

type failingReader struct{ data []byte }

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, errors.New("connection reset")
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestNewErrorBodyReadFails(t *testing.T) {
	resp := &http.Response{StatusCode: 503, Header: http.Header{},
		Body: io.NopCloser(&failingReader{data: []byte(`{"errors":{"system":["down"]}}`)})}
	e := newError(http.MethodGet, nil, resp)
	assert.Equal(t, "system: down", e.Message)
	assert.ErrorIs(t, e, ErrServer)

	e = newError(http.MethodGet, nil, &http.Response{StatusCode: 500})
	assert.Equal(t, "Internal Server Error", e.Message)
	assert.Equal(t, "librato: GET: [500] Internal Server Error", e.Error())

	e = newError(http.MethodGet, nil, nil)
	assert.Equal(t, "librato: GET: [0] HTTP status 0", e.Error())
}

func TestErrorIsAndAsWrapped(t *testing.T) {
	body, err := os.ReadFile("testdata/errors/tv20-03-request-list.json")
	require.NoError(t, err)
	apiErr := newError(http.MethodGet, mustURL(t, "https://metrics-api.librato.com/v1/metrics/nope"), testResponse(404, "application/json", body))

	wrapped := fmt.Errorf("get metric %q: %w", "nope", apiErr)
	twice := fmt.Errorf("sync: %w", wrapped)
	joined := errors.Join(errors.New("other"), twice)
	for name, err := range map[string]error{"direct": apiErr, "wrapped": wrapped, "twice": twice, "joined": joined} {
		t.Run(name, func(t *testing.T) {
			assert.ErrorIs(t, err, ErrNotFound)
			assert.NotErrorIs(t, err, ErrBadRequest)
			assert.NotErrorIs(t, err, ErrServer)
			var got *Error
			require.ErrorAs(t, err, &got)
			assert.Same(t, apiErr, got)
			assert.Equal(t, "request: Not found", got.Message)
			assert.Contains(t, err.Error(), "[404] request: Not found")
		})
	}
	assert.False(t, apiErr.Is(errors.New("librato: not found")), "only the sentinel values match")
}

func TestErrorStatusSentinels(t *testing.T) {
	tests := []struct {
		status int
		is     []error
	}{
		{400, []error{ErrBadRequest}},
		{401, []error{ErrUnauthorized}},
		{403, []error{ErrForbidden}}, // a plain 403 is not rate limiting
		{404, []error{ErrNotFound}},
		{415, nil},
		{422, []error{ErrAlreadyExists}},
		{429, []error{ErrRateLimited}},
		{500, []error{ErrServer}},
		{502, []error{ErrServer}},
		{503, []error{ErrServer}},
		{600, nil},
	}
	for _, tt := range tests {
		e := &Error{StatusCode: tt.status, Message: "You do not have access to this resource."}
		for _, s := range allSentinels {
			assert.Equal(t, slicesContains(tt.is, s), errors.Is(e, s), "status %d, %v", tt.status, s)
		}
	}
}

func slicesContains(errs []error, target error) bool {
	for _, e := range errs {
		if e == target {
			return true
		}
	}
	return false
}

func TestForbiddenRateLimitedByHeader(t *testing.T) {
	e := newError(http.MethodPost, nil, testResponse(403, "application/json", []byte(`{"errors":{"request":["Forbidden"]}}`),
		"X-Librato-RateLimit-Std", "limit=300,remaining=0,reset=20"))
	assert.ErrorIs(t, e, ErrForbidden)
	assert.ErrorIs(t, e, ErrRateLimited)

	e = newError(http.MethodPost, nil, testResponse(403, "application/json", []byte(`{"errors":{"request":["Forbidden"]}}`),
		"X-Librato-RateLimit-Std", "limit=300,remaining=12,reset=20"))
	assert.ErrorIs(t, e, ErrForbidden)
	assert.NotErrorIs(t, e, ErrRateLimited)
}

func TestErrorURLRedaction(t *testing.T) {
	const token = "75AFDB82-secret-token"
	tests := []struct{ in, want string }{
		{"https://metrics-api.librato.com/v1/metrics", "https://metrics-api.librato.com/v1/metrics"},
		{"https://example%40librato.com:" + token + "@metrics-api.librato.com/v1/metrics?length=1",
			"https://metrics-api.librato.com/v1/metrics?length=1"},
		{"https://" + token + "@api.appoptics.com/v1/measurements", "https://api.appoptics.com/v1/measurements"},
		{"https://metrics-api.librato.com/v1/metrics?name=cpu&token=" + token,
			"https://metrics-api.librato.com/v1/metrics?name=cpu&token=REDACTED"},
		{"https://metrics-api.librato.com/v1/metrics?API_KEY=" + token + "&access_token=" + token + "&b=2",
			"https://metrics-api.librato.com/v1/metrics?API_KEY=REDACTED&access_token=REDACTED&b=2"},
		// An untouched query keeps its order and encoding.
		{"https://metrics-api.librato.com/v1/metrics/cpu?start_time=1&count=4&tags%5Bhost%5D=h1",
			"https://metrics-api.librato.com/v1/metrics/cpu?start_time=1&count=4&tags%5Bhost%5D=h1"},
		{"https://metrics-api.librato.com/v1/metrics#" + token, "https://metrics-api.librato.com/v1/metrics"},
		{"https://metrics-api.librato.com/v1/metrics?x=%zz;" + token, "https://metrics-api.librato.com/v1/metrics"},
	}
	for _, tt := range tests {
		u := mustURL(t, tt.in)
		orig := *u
		e := newError(http.MethodGet, u, testResponse(401, "text/plain", []byte("Credentials are required to access this resource.")))
		assert.Equal(t, tt.want, e.URL)
		assert.NotContains(t, e.Error(), token)
		assert.NotContains(t, fmt.Sprintf("%+v", e), token)
		assert.Equal(t, orig, *u, "the caller's URL must not change")
	}
	assert.Empty(t, errorURL(nil))
}

func TestParseRateLimit(t *testing.T) {
	date := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	h := http.Header{}
	h.Set("Date", date.Format(http.TimeFormat))
	h.Set("X-Librato-RateLimit-Std", "limit=300,remaining=299,reset=42")
	h.Set("X-Librato-RateLimit-Agg", fmt.Sprintf(" Remaining = 101 , reset=%d, bogus, limit=abc, extra=1", date.Unix()+90))
	rl := parseRateLimit(h)
	assert.Equal(t, RateLimitWindow{Present: true, Limit: 300, Remaining: 299, Reset: 42 * time.Second,
		Raw: "limit=300,remaining=299,reset=42"}, rl.Std)
	assert.Equal(t, RateLimitWindow{Present: true, Limit: -1, Remaining: 101, Reset: 90 * time.Second,
		Raw: fmt.Sprintf("Remaining = 101 , reset=%d, bogus, limit=abc, extra=1", date.Unix()+90)}, rl.Agg)

	assert.Equal(t, RateLimit{}, parseRateLimit(http.Header{}))
	assert.Equal(t, RateLimit{}, parseRateLimit(nil))

	h = http.Header{}
	h.Set("X-Librato-RateLimit-Agg", "remaining=0")
	rl = parseRateLimit(h)
	assert.False(t, rl.Std.Present)
	assert.Equal(t, RateLimitWindow{Present: true, Limit: -1, Remaining: 0, Raw: "remaining=0"}, rl.Agg)
	assert.True(t, rl.Agg.exhausted())
	assert.False(t, rl.Std.exhausted())

	h.Set("X-Librato-RateLimit-Agg", "limit=99999999999999999999,reset=-5")
	rl = parseRateLimit(h)
	assert.Equal(t, -1, rl.Agg.Limit, "an overflowing value is ignored")
	assert.Equal(t, time.Duration(0), rl.Agg.Reset)
}

func TestNewErrorRetryAfterAndRateLimit(t *testing.T) {
	date := time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC)
	e := newError(http.MethodPost, nil, testResponse(429, "", nil, "Retry-After", "7", "X-Librato-RateLimit-Std", "limit=10,remaining=0,reset=7"))
	assert.Equal(t, 7*time.Second, e.RetryAfter)
	assert.Equal(t, RateLimitWindow{Present: true, Limit: 10, Remaining: 0, Reset: 7 * time.Second, Raw: "limit=10,remaining=0,reset=7"}, e.RateLimit.Std)
	assert.Equal(t, "Too Many Requests", e.Message)

	e = newError(http.MethodPost, nil, testResponse(503, "", nil,
		"Date", date.Format(http.TimeFormat), "Retry-After", date.Add(2*time.Minute).Format(http.TimeFormat)))
	assert.Equal(t, 2*time.Minute, e.RetryAfter, "an HTTP date is measured against the response's Date")

	e = newError(http.MethodPost, nil, testResponse(503, "", nil, "Retry-After", "soon"))
	assert.Equal(t, time.Duration(0), e.RetryAfter)
}

func FuzzParseErrorBody(f *testing.F) {
	files, err := filepath.Glob("testdata/errors/*")
	require.NoError(f, err)
	for _, file := range files {
		body, err := os.ReadFile(file)
		require.NoError(f, err)
		f.Add(400, "application/json", body)
		f.Add(403, "text/plain", body)
	}
	f.Add(502, "", []byte{0xff, 0xfe, '{'})
	f.Add(0, "", []byte(strings.Repeat("[", 100)+strings.Repeat("]", 100)))
	f.Add(400, "application/json", []byte(`{"errors":{"params":{"a":{"b":{"c":[1,true,null,{"d":"e"}]}}}}}`))
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		resp := testResponse(status, contentType, body)
		e := newError(http.MethodPut, mustURL(t, "https://u:p@metrics-api.librato.com/v1/metrics"), resp)
		if e.Message == "" {
			t.Fatalf("empty message for status %d body %q", status, body)
		}
		if !utf8.ValidString(e.Message) {
			t.Fatalf("message is not valid UTF-8: %q", e.Message)
		}
		if len(e.Body) > maxErrorBody || !bytes.Equal(e.Body, body[:min(len(body), maxErrorBody)]) {
			t.Fatalf("body not kept as read")
		}
		if !strings.Contains(e.Error(), fmt.Sprintf("[%d] %s", status, e.Message)) {
			t.Fatalf("Error() %q lacks the python-librato part", e.Error())
		}
		if strings.Contains(e.Error(), "u:p@") {
			t.Fatalf("credentials in %q", e.Error())
		}
		if msg, _ := parseErrorBody(body); (msg == "") != (len(bytes.TrimSpace(body)) == 0) {
			t.Fatalf("parseErrorBody(%q) = %q: empty iff the body is blank", body, msg)
		}
		for k, vs := range e.Params {
			if k == "" || len(vs) == 0 {
				t.Fatalf("params entry %q: %q", k, vs)
			}
		}
	})
}

func TestRejectedErrorMessage(t *testing.T) {
	names := []string{"a", "b", "a"}
	e := newRejectedError(names, errors.New("nope"))
	assert.Equal(t, "librato: 3 measurements rejected (a, b): nope", e.Error())
	one := newRejectedError(names[:1], errors.New("nope"))
	assert.Equal(t, "librato: 1 measurement rejected (a): nope", one.Error())
}
