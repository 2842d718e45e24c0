package librato

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/h2non/gock"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// awBase is the base URL of the alert and annotation wire tests: a host of its own, so these mocks
// never answer another area's requests.
const awBase = "https://alerts.librato.test/v1/"

// awClient returns a client whose requests go through gock, without retries, and checks at the end
// of the test that every armed request was sent.
func awClient(t *testing.T, opts ...Option) *Client {
	t.Helper()
	hc := gockHTTPClient(t)
	t.Cleanup(func() { assert.True(t, gock.IsDone(), "armed requests not sent: %d", len(gock.Pending())) })
	opts = append([]Option{WithBaseURL(awBase), WithHTTPClient(hc), WithRetry(RetryPolicy{MaxAttempts: 1})}, opts...)
	c, err := Connect("user@example.com", "secret-token", opts...)
	require.NoError(t, err)
	return c
}

// awSeen is what the mock saw of its request.
type awSeen struct {
	body        []byte
	contentType string
	hit         bool
}

// awExpect arms one request: exactly method, path (relative to awBase, escaped form) and query
// (nil: none), answered with status, a body and header key/value pairs. body is a JSON literal when
// it starts with { or [, else the name of a fixture under testdata ("" for no body).
func awExpect(t *testing.T, method, path string, query url.Values, status int, body string, headers ...string) *awSeen {
	t.Helper()
	seen := &awSeen{}
	wantPath := "/v1/" + path
	m := gock.New(awBase).AddMatcher(func(r *http.Request, _ *gock.Request) (bool, error) {
		if r.Method != method || r.URL.EscapedPath() != wantPath || r.URL.RawQuery != query.Encode() {
			return false, nil
		}
		if r.Body != nil {
			b, err := io.ReadAll(r.Body)
			if err != nil {
				return false, err
			}
			r.Body = io.NopCloser(bytes.NewReader(b))
			seen.body = b
		}
		seen.contentType = r.Header.Get("Content-Type")
		seen.hit = true
		return true, nil
	})
	m.Method = method
	resp := m.Reply(status)
	for i := 0; i+1 < len(headers); i += 2 {
		resp.SetHeader(headers[i], headers[i+1])
	}
	switch {
	case strings.HasPrefix(body, "{") || strings.HasPrefix(body, "["):
		resp.SetHeader("Content-Type", "application/json").BodyString(body)
	case body != "":
		resp.SetHeader("Content-Type", "application/json").BodyString(string(awFixture(t, body)))
	}
	return seen
}

func awFixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// awJSONWith returns the fixture's JSON object with extra keys set (nil deletes).
func awJSONWith(t *testing.T, fixture string, extra map[string]any) string {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(awFixture(t, fixture), &m))
	for k, v := range extra {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return string(b)
}

func TestAlertCreateTV17(t *testing.T) {
	c := awClient(t)
	seen := awExpect(t, "POST", "alerts", nil, 201, "alerts/tv17_create_response.json", "Location", "/v1/alerts/1234567")
	al := c.Alerts.New("production.web.frontend.response_time").
		Description("Web Response Time").
		RunbookURL("http://myco.com/runbooks/response_time").
		AddService(849)
	al.AddConditionFor("web.nginx.response_time").Above(200).SummaryFunction("max").Tag("tag_name", "tag_value")

	require.NoError(t, al.Save(t.Context()))

	// TV17's body plus "version":2, which python-librato also sends: the API's default, made explicit.
	assert.JSONEq(t, awJSONWith(t, "alerts/tv17_create_request.json", map[string]any{"version": 2}), string(seen.body))
	assert.Equal(t, "application/json", seen.contentType)
	assert.Equal(t, ID(1234567), al.ID)
	require.Len(t, al.Conditions, 1)
	assert.Equal(t, ID(19376030), al.Conditions[0].ID, "condition IDs come back so the next PUT keeps them")
	assert.Equal(t, []Service{{ID: 17584, Type: "slack", Title: "librato-services",
		Settings: map[string]any{"url": "https://hooks.slack.com/services/ABCDEFG/A1B2C3/asdfg1234"}}}, al.Services)
	assert.Equal(t, time.Unix(1484594787, 0).UTC(), al.CreatedAt)
	assert.Equal(t, 10*time.Minute, al.Rearm)
	assert.True(t, al.MD)
}

func TestAlertCreateTakesIDFromLocationWhenBodyIsEmpty(t *testing.T) {
	c := awClient(t)
	awExpect(t, "POST", "alerts", nil, 201, "", "Location", "/v1/alerts/77")
	al := c.Alerts.New("a")
	al.AddConditionFor("cpu").Above(1)
	require.NoError(t, al.Save(t.Context()))
	assert.Equal(t, ID(77), al.ID)
	assert.Equal(t, ID(0), al.Conditions[0].ID)
}

func TestAlertCreateWithoutIDIsAnError(t *testing.T) {
	c := awClient(t)
	awExpect(t, "POST", "alerts", nil, 201, "")
	al := c.Alerts.New("a")
	al.AddConditionFor("cpu").Above(1)
	err := al.Save(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "carries no ID")
	assert.Equal(t, ID(0), al.ID)
}

func TestGetAlertTV17AndUpdateSendsEveryCondition(t *testing.T) {
	c := awClient(t)
	awExpect(t, "GET", "alerts/1234567", nil, 200, "alerts/tv17_create_response.json")
	al, err := c.Alerts.Get(t.Context(), 1234567)
	require.NoError(t, err)
	assert.Equal(t, "production.web.frontend.response_time", al.Name)
	assert.Equal(t, "Web Response Time", al.AlertData.Description)
	assert.True(t, al.AlertData.Active)
	assert.Equal(t, 2, al.Version)
	assert.Equal(t, time.Unix(1484594787, 0).UTC(), al.UpdatedAt)
	assert.Equal(t, map[string]any{"runbook_url": "http://myco.com/runbooks/response_time"}, al.Attributes)
	require.Len(t, al.Conditions, 1)
	want := &ConditionData{ID: 19376030, Type: ConditionAbove, MetricName: "web.nginx.response_time",
		Threshold: Float(200), SummaryFunction: "max", Tags: []ConditionTag{{Name: "tag_name", Values: []string{"tag_value"}}}}
	assert.Equal(t, want, al.Conditions[0])

	// Adding a condition and saving must send the old one too, with its ID: a PUT deletes what it omits.
	al.AddConditionFor("web.nginx.errors").Above(5).Duration(5 * time.Minute)
	seen := awExpect(t, "PUT", "alerts/1234567", nil, 204, "")
	require.NoError(t, al.Save(t.Context()))
	assert.JSONEq(t, `{"name":"production.web.frontend.response_time","description":"Web Response Time",
		"conditions":[
		 {"id":19376030,"type":"above","metric_name":"web.nginx.response_time","threshold":200,"summary_function":"max",
		  "tags":[{"name":"tag_name","grouped":false,"values":["tag_value"]}]},
		 {"type":"above","metric_name":"web.nginx.errors","source":"*","threshold":5,"summary_function":"average","duration":300}],
		"services":[17584],"attributes":{"runbook_url":"http://myco.com/runbooks/response_time"},
		"active":true,"rearm_seconds":600,"version":2,"md":true}`, string(seen.body))
}

func TestListAlertsLegacyItem(t *testing.T) {
	c := awClient(t)
	awExpect(t, "GET", "alerts", url.Values{"name": {"cpu"}, "version": {"2"}, "length": {"1"}}, 200, "alerts/tv17_list_legacy.json")
	page, err := c.Alerts.List(t.Context(), &AlertListOptions{ListOptions: ListOptions{Name: "cpu", Length: 1}})
	require.NoError(t, err)
	assert.Equal(t, 1, page.Found)
	assert.Empty(t, page.Next, "one found, one read: the last page")
	als := page.Items
	require.Len(t, als, 1)
	al := als[0]
	assert.Equal(t, &ConditionData{ID: 1016, Type: ConditionAbove, MetricName: "AWS.EC2.CPUUtilization", Source: "*prod*",
		Threshold: Float(90), Duration: 5 * time.Minute, SummaryFunction: "max"}, al.Conditions[0])
	assert.Equal(t, []Service{{ID: 1153, Type: "mail", Title: "Ops Team",
		Settings: map[string]any{"addresses": "foo@domain.com,bar@domain.com"}}}, al.Services)
}

func TestAlertsIteratesEveryPageAndListsV1OnRequest(t *testing.T) {
	c := awClient(t)
	page := func(offset, found int, ids ...int) string {
		items := []map[string]any{}
		for _, id := range ids {
			items = append(items, map[string]any{"id": id, "name": "a" + string(rune('0'+id)), "conditions": []any{}, "services": []any{}})
		}
		b, _ := json.Marshal(map[string]any{"query": map[string]int{"found": found, "length": len(ids), "offset": offset, "total": found}, "alerts": items})
		return string(b)
	}
	for _, p := range []struct {
		q    url.Values
		body string
	}{
		{url.Values{"version": {"1"}}, page(0, 3, 1, 2)},
		{url.Values{"version": {"1"}, "offset": {"2"}}, page(2, 3, 3)},
	} {
		awExpect(t, "GET", "alerts", p.q, 200, p.body)
	}
	opts := &AlertListOptions{Version: 1}
	var ids []ID
	for al, err := range c.Alerts.All(t.Context(), opts) {
		require.NoError(t, err)
		ids = append(ids, al.ID)
	}
	assert.Equal(t, []ID{1, 2, 3}, ids)
	assert.Equal(t, &AlertListOptions{Version: 1}, opts, "options are not modified")
}

func TestGetAlertByNamePicksTheExactName(t *testing.T) {
	c := awClient(t)
	awExpect(t, "GET", "alerts", url.Values{"name": {"my.alert"}, "version": {"2"}}, 200,
		`{"query":{"found":2,"length":2,"offset":0,"total":9},"alerts":[{"id":1,"name":"my.alert.slow"},{"id":2,"name":"my.alert"}]}`)
	al, err := c.Alerts.GetByName(t.Context(), "my.alert")
	require.NoError(t, err)
	assert.Equal(t, ID(2), al.ID)

	awExpect(t, "GET", "alerts", url.Values{"name": {"nope"}, "version": {"2"}}, 200,
		`{"query":{"found":1,"length":1,"offset":0,"total":9},"alerts":[{"id":1,"name":"nope.not.this"}]}`)
	_, err = c.Alerts.GetByName(t.Context(), "nope")
	assert.ErrorIs(t, err, ErrNotFound)
	assert.Contains(t, err.Error(), `"nope"`)
}

func TestAlertStatusTV19(t *testing.T) {
	c := awClient(t)
	awExpect(t, "GET", "alerts/120/status", nil, 200, "alerts/tv19_status_triggered.json")
	st, err := c.Alerts.Status(t.Context(), 120)
	require.NoError(t, err)
	assert.Equal(t, AlertTriggered, st)

	awExpect(t, "GET", "alerts/121/status", nil, 200, "alerts/tv19_status_ok.json")
	st, err = c.Alerts.Status(t.Context(), 121)
	require.NoError(t, err)
	assert.Equal(t, AlertOK, st)

	awExpect(t, "GET", "alerts/status", nil, 200, "alerts/tv19_status_all.json")
	sum, err := c.Alerts.Firing(t.Context())
	require.NoError(t, err)
	assert.Equal(t, &AlertStatusSummary{
		Firing:  []FiringAlert{{ID: 106, TriggeredAt: time.Unix(1413328283, 0).UTC()}, {ID: 129, TriggeredAt: time.Unix(1444934147, 0).UTC()}},
		Cleared: []ClearedAlert{{ID: 127, ClearedAt: time.Unix(1454108320, 0).UTC()}},
	}, sum)
}

func TestAlertCallsWithoutBodies(t *testing.T) {
	c := awClient(t)
	ctx := t.Context()
	for _, tc := range []struct {
		method, path string
		status       int
		call         func() error
	}{
		{"POST", "alerts/120/clear", 204, func() error { return c.Alerts.Clear(ctx, 120) }},
		{"DELETE", "alerts/120", 204, func() error { return c.Alerts.Delete(ctx, 120) }},
		{"DELETE", "alerts/120/services/290", 204, func() error { return c.Alerts.DetachService(ctx, 120, 290) }},
	} {
		seen := awExpect(t, tc.method, tc.path, nil, tc.status, "")
		require.NoError(t, tc.call(), tc.path)
		assert.Empty(t, seen.body, tc.path)
		assert.Empty(t, seen.contentType, tc.path)
	}
}

func TestAttachService(t *testing.T) {
	c := awClient(t)
	seen := awExpect(t, "POST", "alerts/120/services", nil, 201, "", "Location", "/v1/alerts/120/services/290")
	require.NoError(t, c.Alerts.AttachService(t.Context(), 120, 290))
	assert.JSONEq(t, `{"service":290}`, string(seen.body))
}

func TestAlertAPIErrorIsReadable(t *testing.T) {
	c := awClient(t)
	awExpect(t, "POST", "alerts", nil, 400, `{"errors":{"params":{"conditions":{"duration":["must be set"]}}}}`)
	al := c.Alerts.New("a")
	al.AddConditionFor("cpu").Above(1)
	err := al.Save(t.Context())
	require.ErrorIs(t, err, ErrBadRequest)
	var apiErr *Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "params: conditions: duration: must be set", apiErr.Message)
	assert.Equal(t, ID(0), al.ID)
	assert.NotContains(t, err.Error(), "secret-token")
}

func TestAlertCallsRejectBadIDsWithoutIO(t *testing.T) {
	c := awClient(t) // no request armed: any I/O fails the test
	ctx := t.Context()
	calls := map[string]error{
		"GetAlert":      func() error { _, err := c.Alerts.Get(ctx, 0); return err }(),
		"DeleteAlert":   c.Alerts.Delete(ctx, -1),
		"AlertStatus":   func() error { _, err := c.Alerts.Status(ctx, 0); return err }(),
		"ClearAlert":    c.Alerts.Clear(ctx, 0),
		"AttachService": c.Alerts.AttachService(ctx, 1, 0),
		"DetachService": c.Alerts.DetachService(ctx, 0, 1),
		"ByName":        func() error { _, err := c.Alerts.GetByName(ctx, ""); return err }(),
		"ListVersion":   func() error { _, err := c.Alerts.List(ctx, &AlertListOptions{Version: 3}); return err }(),
	}
	for name, err := range calls {
		assert.Error(t, err, name)
		if name != "ListVersion" {
			assert.ErrorIs(t, err, ErrInvalid, name)
		}
	}
	for _, err := range c.Alerts.All(ctx, &AlertListOptions{Version: 3}) {
		assert.ErrorContains(t, err, "Version 3")
	}
}

func TestAlertResponseDecodesLooseShapes(t *testing.T) {
	// Services as bare IDs (as in requests) or with string IDs, python-librato's tags object,
	// RFC 3339 and null times, a missing "active": all decode.
	raw := `{"id":5,"name":"x","description":null,"services":[7,"8",{"id":"9","type":"mail"}],
	  "created_at":"2017-01-16T19:26:27Z","updated_at":null,
	  "conditions":[{"id":1,"type":"absent","metric_name":"m","source":"*","tags":{},"summary_function":null,"duration":600},
	                {"id":2,"type":"above","metric_name":"n","tags":{"host":["a","b"]},"threshold":0,"detect_reset":false}]}`
	var w alertResponse
	require.NoError(t, json.Unmarshal([]byte(raw), &w))
	d := w.data()
	assert.Equal(t, []Service{{ID: 7}, {ID: 8}, {ID: 9, Type: "mail"}}, d.Services)
	assert.Equal(t, time.Date(2017, 1, 16, 19, 26, 27, 0, time.UTC), d.CreatedAt)
	assert.True(t, d.UpdatedAt.IsZero())
	assert.True(t, d.Active)
	assert.Equal(t, &ConditionData{ID: 1, Type: ConditionAbsent, MetricName: "m", Duration: 10 * time.Minute}, d.Conditions[0])
	f := false
	assert.Equal(t, &ConditionData{ID: 2, Type: ConditionAbove, MetricName: "n", Threshold: Float(0), DetectReset: &f,
		Tags: []ConditionTag{{Name: "host", Values: []string{"a", "b"}}}}, d.Conditions[1])

	for _, bad := range []string{`{"services":[true]}`, `{"services":[{"id":"x"}]}`, `{"created_at":"yesterday"}`, `{"conditions":[{"tags":"x"}]}`} {
		assert.Error(t, json.Unmarshal([]byte(bad), &alertResponse{}), bad)
	}
}

func TestLastPathID(t *testing.T) {
	for in, want := range map[string]ID{
		"/v1/alerts/123": 123, "https://x/v1/alerts/9": 9, "": 0, "/v1/alerts/": 0, "/v1/alerts/abc": 0, "/v1/alerts/-4": 0,
	} {
		assert.Equal(t, want, lastPathID(in), in)
	}
}

func TestAlertSaveNeedsAClient(t *testing.T) {
	al := &Alert{AlertData: AlertData{Name: "x"}}
	al.AddConditionFor("cpu").Above(1)
	err := al.Save(t.Context())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "NewAlert")
	assert.False(t, errors.Is(err, ErrInvalid))
}
