package librato

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
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

// tv18Alert is TV18's scenario (testdata/README.md) as a plain value.
func tv18Alert() Alert {
	mem := Below("mem", 10)
	mem.Source, mem.SummaryFunction, mem.Duration = "web*", "max", 300*time.Second
	return Alert{Name: "my.alert", Services: []ID{1234}, Conditions: []Condition{
		Above("cpu", 200), mem, Absent("heartbeat", 600*time.Second),
	}}
}

func renderAlert(t *testing.T, c *Client, al Alert) map[string]any {
	t.Helper()
	require.NoError(t, al.validate(c))
	b, err := json.Marshal(al.request(c))
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

func TestAlertRequestTV18Golden(t *testing.T) {
	c, err := Connect("u@example.com", "t")
	require.NoError(t, err)
	got := renderAlert(t, c, tv18Alert())
	gotJSON, err := json.Marshal(got)
	require.NoError(t, err)
	assert.JSONEq(t, string(awFixture(t, "alerts/tv18_builder.golden.json")), string(gotJSON))

	// The golden file is python-librato's payload with these intended differences:
	//  - "description": "" instead of null (same meaning; we always send a string);
	//  - "rearm_seconds", "duration" and "summary_function" left out instead of null: unset means
	//    the API default, and absent conditions take no summary function;
	//  - "tags" left out instead of python's {} (the API documents an array; no tags, no key).
	var py map[string]any
	require.NoError(t, json.Unmarshal(awFixture(t, "alerts/tv18_python_payload.json"), &py))
	py["description"] = ""
	delete(py, "rearm_seconds")
	for _, cond := range py["conditions"].([]any) {
		cm := cond.(map[string]any)
		delete(cm, "tags")
		for k, v := range cm {
			if v == nil {
				delete(cm, k)
			}
		}
	}
	assert.Equal(t, py, got)
}

func TestAlertRequestOnTaggedClients(t *testing.T) {
	// No source "*" on tagged clients; an explicit source is still sent; md is set.
	for name, connect := range map[string]func() (*Client, error){
		"default tags": func() (*Client, error) {
			return Connect("u@example.com", "t", WithTags(map[string]string{"env": "prod"}))
		},
		"appoptics": func() (*Client, error) { return ConnectAppOptics("t") },
	} {
		c, err := connect()
		require.NoError(t, err)
		got := renderAlert(t, c, tv18Alert())
		conds := got["conditions"].([]any)
		assert.NotContains(t, conds[0], "source", name)
		assert.Equal(t, "web*", conds[1].(map[string]any)["source"], name)
		assert.NotContains(t, conds[2], "source", name)
		assert.Equal(t, true, got["md"], name)
	}
}

func TestAlertRequestCarriesEveryField(t *testing.T) {
	c, err := Connect("u@example.com", "t", WithSanitizer(SanitizeMetricName))
	require.NoError(t, err)
	keep := false
	cond := Above("api latency", 0)
	cond.SummaryFunction, cond.DetectReset = "derivative", &keep
	cond.Tags = []ConditionTag{{Name: "region", Grouped: true, Values: []string{"us-*", "eu-*"}}, {Name: "host", Values: []string{"*"}}}
	al := Alert{Name: "api.latency.high", Description: "d", Attributes: map[string]any{"runbook_url": "https://runbooks/x"},
		Rearm: 30 * time.Minute, Disabled: true, Services: []ID{3}, Conditions: []Condition{cond}}
	got := renderAlert(t, c, al)
	assert.JSONEq(t, `{"name":"api.latency.high","description":"d","conditions":[
	  {"type":"above","metric_name":"api-latency","threshold":0,"summary_function":"derivative","detect_reset":false,
	   "tags":[{"name":"region","grouped":true,"values":["us-*","eu-*"]},{"name":"host","grouped":false,"values":["*"]}]}],
	  "services":[3],"attributes":{"runbook_url":"https://runbooks/x"},"active":false,"rearm_seconds":1800,"version":2,"md":true}`,
		mustJSON(t, got))
	assert.Equal(t, "api latency", al.Conditions[0].MetricName, "the sanitizer applies on the wire, not to the data")
}

func TestAlertConstructors(t *testing.T) {
	assert.Equal(t, Condition{Type: ConditionAbove, MetricName: "cpu", Threshold: 90}, Above("cpu", 90))
	assert.Equal(t, Condition{Type: ConditionBelow, MetricName: "cpu", Threshold: -1}, Below("cpu", -1))
	assert.Equal(t, Condition{Type: ConditionAbsent, MetricName: "hb", Duration: time.Minute}, Absent("hb", time.Minute))
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestAlertValidate(t *testing.T) {
	c := awClient(t) // no request armed: any I/O fails the call with gock's error, not the validation's
	above := func(f func(*Condition)) Condition { cd := Above("cpu", 1); f(&cd); return cd }
	tests := []struct {
		name  string
		build func(al *Alert)
		want  []string // substrings of the error; none: valid
	}{
		{"valid above", func(al *Alert) { al.Conditions = []Condition{above(func(cd *Condition) { cd.Duration = time.Minute })} }, nil},
		{"valid absent 1h", func(al *Alert) { al.Conditions = []Condition{Absent("cpu", time.Hour)} }, nil},
		{"threshold 0", func(al *Alert) { al.Conditions = []Condition{Below("cpu", 0)} }, nil},
		{"absolute_value for legacy counters", func(al *Alert) {
			al.Conditions = []Condition{above(func(cd *Condition) { cd.SummaryFunction = "absolute_value" })}
		}, nil},
		{"empty name", func(al *Alert) { al.Name = "" }, []string{`name "": must not be empty`}},
		{"long name", func(al *Alert) { al.Name = strings.Repeat("a", 256) }, []string{"at most 255"}},
		{"bad name char", func(al *Alert) { al.Name = "my alert" }, []string{"invalid character ' ' at byte 2"}},
		{"no conditions", func(al *Alert) { al.Conditions = nil }, []string{"at least one condition"}},
		{"no type", func(al *Alert) { al.Conditions = []Condition{{MetricName: "cpu"}} }, []string{"condition 0 (cpu) type", "with Above, Below or Absent"}},
		{"unknown type", func(al *Alert) { al.Conditions = []Condition{{MetricName: "cpu", Type: "between"}} }, []string{`type "between": must be above, below or absent`}},
		{"NaN threshold", func(al *Alert) { al.Conditions = []Condition{Above("cpu", math.NaN())} }, []string{"finite"}},
		{"Inf threshold", func(al *Alert) { al.Conditions = []Condition{Below("cpu", math.Inf(-1))} }, []string{"finite"}},
		{"absent without duration", func(al *Alert) { al.Conditions = []Condition{Absent("cpu", 0)} }, []string{"absent condition needs a duration"}},
		{"duration too short", func(al *Alert) {
			al.Conditions = []Condition{above(func(cd *Condition) { cd.Duration = 30 * time.Second })}
		}, []string{`duration "30s"`, "60-3600 seconds"}},
		{"duration too long", func(al *Alert) { al.Conditions = []Condition{Absent("cpu", 61*time.Minute)} }, []string{`duration "1h1m0s"`}},
		{"duration not whole minutes", func(al *Alert) {
			al.Conditions = []Condition{above(func(cd *Condition) { cd.Duration = 90 * time.Second })}
		}, []string{`duration "1m30s"`, "whole minutes"}},
		{"negative duration", func(al *Alert) {
			al.Conditions = []Condition{above(func(cd *Condition) { cd.Duration = -time.Minute })}
		}, []string{`duration "-1m0s"`}},
		{"summary function", func(al *Alert) {
			al.Conditions = []Condition{above(func(cd *Condition) { cd.SummaryFunction = "avg" })}
		}, []string{`summary function "avg"`}},
		{"rearm not minutes", func(al *Alert) { al.Rearm = 90 * time.Second }, []string{`rearm "1m30s"`, "multiple of 60"}},
		{"negative rearm", func(al *Alert) { al.Rearm = -time.Minute }, []string{`rearm "-1m0s"`}},
		{"bad service", func(al *Alert) { al.Services = []ID{0} }, []string{`service "0"`}},
		{"relative runbook", func(al *Alert) { al.Attributes = map[string]any{"runbook_url": "/runbooks/x"} }, []string{"absolute URL"}},
		{"negative id", func(al *Alert) { al.ID = -3 }, []string{`id "-3": must be positive`}},
		{"bad version", func(al *Alert) { al.Version = 3 }, []string{"must be 1 or 2"}},
		{"bad metric", func(al *Alert) { al.Conditions = []Condition{Above("cpu load", 1)} }, []string{"condition 0 (cpu load) metric name"}},
		{"tag without values", func(al *Alert) {
			al.Conditions = []Condition{above(func(cd *Condition) { cd.Tags = []ConditionTag{{Name: "host"}} })}
		}, []string{`tag "host"`, "at least one value"}},
		{"bad tag name", func(al *Alert) {
			al.Conditions = []Condition{above(func(cd *Condition) { cd.Tags = []ConditionTag{{Name: "ho st", Values: []string{"a"}}} })}
		}, []string{`tag name "ho st"`}},
		{"empty tag value", func(al *Alert) {
			al.Conditions = []Condition{above(func(cd *Condition) { cd.Tags = []ConditionTag{{Name: "host", Grouped: true, Values: []string{""}}} })}
		}, []string{`tag "host" value`}},
		{"several problems, second condition named", func(al *Alert) {
			mem := Below("mem", 1)
			mem.Duration, mem.SummaryFunction = time.Second, "p99"
			al.Conditions = []Condition{Above("ok", 1), mem}
		}, []string{"condition 1 (mem) duration", "condition 1 (mem) summary function"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			al := Alert{Name: "my.alert", Conditions: []Condition{Above("cpu", 1)}}
			tc.build(&al)
			err := al.Validate()
			if tc.want == nil {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalid)
			for _, w := range tc.want {
				assert.Contains(t, err.Error(), w)
			}
			// Create and Update validate before any I/O (the transport fails the test on a request).
			if al.ID == 0 {
				_, cerr := c.Alerts.Create(t.Context(), al)
				assert.Equal(t, err, cerr)
			} else if al.ID > 0 {
				assert.Equal(t, err, c.Alerts.Update(t.Context(), al))
			}
		})
	}
}

// FuzzDecodeAlertsAndAnnotations feeds arbitrary bodies to the alert and annotation decoders: they
// may reject them but must never panic, and what they accept must convert.
func FuzzDecodeAlertsAndAnnotations(f *testing.F) {
	for _, name := range []string{"alerts/tv17_create_response.json", "alerts/tv17_list_legacy.json", "alerts/tv18_python_payload.json",
		"annotations/tv16_stream_events_array.json", "annotations/stream_events_map.json", "annotations/tv16_post_response.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte(`{"services":["1",{"id":2}],"created_at":"1.5","conditions":[{"tags":{"a":["b"]}}],"events":[{},{"x":[]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var a alertResponse
		if json.Unmarshal(b, &a) == nil {
			_ = a.alert()
		}
		var s annotationStreamWire
		if json.Unmarshal(b, &s) == nil {
			_ = s.stream()
		}
		var ev annotationResponse
		if json.Unmarshal(b, &ev) == nil {
			_ = ev.annotation()
		}
	})
}

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
	cond := Above("web.nginx.response_time", 200)
	cond.SummaryFunction, cond.Tags = "max", []ConditionTag{{Name: "tag_name", Values: []string{"tag_value"}}}
	sent := Alert{Name: "production.web.frontend.response_time", Description: "Web Response Time",
		Attributes: map[string]any{"runbook_url": "http://myco.com/runbooks/response_time"},
		Services:   []ID{849}, Conditions: []Condition{cond}}

	al, err := c.Alerts.Create(t.Context(), sent)
	require.NoError(t, err)

	// TV17's body plus "version":2, which python-librato also sends: the API's default, made explicit.
	assert.JSONEq(t, awJSONWith(t, "alerts/tv17_create_request.json", map[string]any{"version": 2}), string(seen.body))
	assert.Equal(t, "application/json", seen.contentType)
	assert.Equal(t, ID(1234567), al.ID)
	require.Len(t, al.Conditions, 1)
	assert.Equal(t, ID(19376030), al.Conditions[0].ID, "condition IDs come back so the next PUT keeps them")
	assert.Equal(t, []ID{849}, al.Services, "the services sent")
	assert.Equal(t, time.Unix(1484594787, 0).UTC(), al.CreatedAt)
	assert.Equal(t, 10*time.Minute, al.Rearm)
	assert.True(t, al.MD)
	assert.Equal(t, ID(0), sent.ID, "Create returns a new value and leaves its argument alone")
	assert.Equal(t, ID(0), sent.Conditions[0].ID)
}

func TestAlertCreateTakesIDFromLocationWhenBodyIsEmpty(t *testing.T) {
	c := awClient(t)
	awExpect(t, "POST", "alerts", nil, 201, "", "Location", "/v1/alerts/77")
	al, err := c.Alerts.Create(t.Context(), Alert{Name: "a", Conditions: []Condition{Above("cpu", 1)}})
	require.NoError(t, err)
	assert.Equal(t, ID(77), al.ID)
	assert.Equal(t, ID(0), al.Conditions[0].ID)
}

func TestAlertCreateWithoutIDIsAnError(t *testing.T) {
	c := awClient(t)
	awExpect(t, "POST", "alerts", nil, 201, "")
	al, err := c.Alerts.Create(t.Context(), Alert{Name: "a", Conditions: []Condition{Above("cpu", 1)}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "carries no ID")
	assert.Nil(t, al)
}

func TestGetAlertTV17AndUpdateSendsEveryCondition(t *testing.T) {
	c := awClient(t)
	awExpect(t, "GET", "alerts/1234567", nil, 200, "alerts/tv17_create_response.json")
	al, err := c.Alerts.Get(t.Context(), 1234567)
	require.NoError(t, err)
	assert.Equal(t, "production.web.frontend.response_time", al.Name)
	assert.Equal(t, "Web Response Time", al.Description)
	assert.False(t, al.Disabled)
	assert.Equal(t, []ID{17584}, al.Services, "the service objects of the answer, by ID")
	assert.Equal(t, 2, al.Version)
	assert.Equal(t, time.Unix(1484594787, 0).UTC(), al.UpdatedAt)
	assert.Equal(t, map[string]any{"runbook_url": "http://myco.com/runbooks/response_time"}, al.Attributes)
	require.Len(t, al.Conditions, 1)
	want := Condition{ID: 19376030, Type: ConditionAbove, MetricName: "web.nginx.response_time",
		Threshold: 200, SummaryFunction: "max", Tags: []ConditionTag{{Name: "tag_name", Values: []string{"tag_value"}}}}
	assert.Equal(t, want, al.Conditions[0])

	// Adding a condition and saving must send the old one too, with its ID: a PUT deletes what it omits.
	errs := Above("web.nginx.errors", 5)
	errs.Duration = 5 * time.Minute
	al.Conditions = append(al.Conditions, errs)
	seen := awExpect(t, "PUT", "alerts/1234567", nil, 204, "")
	require.NoError(t, c.Alerts.Update(t.Context(), *al))
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
	assert.Equal(t, Condition{ID: 1016, Type: ConditionAbove, MetricName: "AWS.EC2.CPUUtilization", Source: "*prod*",
		Threshold: 90, Duration: 5 * time.Minute, SummaryFunction: "max"}, al.Conditions[0])
	assert.Equal(t, []ID{1153}, al.Services)
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
	al, err := c.Alerts.Create(t.Context(), Alert{Name: "a", Conditions: []Condition{Above("cpu", 1)}})
	require.ErrorIs(t, err, ErrBadRequest)
	var apiErr *Error
	require.ErrorAs(t, err, &apiErr)
	assert.Equal(t, "params: conditions: duration: must be set", apiErr.Message)
	assert.Nil(t, al)
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
		"Update":        c.Alerts.Update(ctx, Alert{Name: "a", Conditions: []Condition{Above("cpu", 1)}}),
		"CreateWithID":  func() error { _, err := c.Alerts.Create(ctx, Alert{ID: 4, Name: "a"}); return err }(),
		"ListVersion":   func() error { _, err := c.Alerts.List(ctx, &AlertListOptions{Version: 3}); return err }(),
	}
	for name, err := range calls {
		assert.Error(t, err, name)
		if name != "ListVersion" && name != "CreateWithID" {
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
	d := w.alert()
	assert.Equal(t, []ID{7, 8, 9}, d.Services)
	assert.Equal(t, time.Date(2017, 1, 16, 19, 26, 27, 0, time.UTC), d.CreatedAt)
	assert.True(t, d.UpdatedAt.IsZero())
	assert.False(t, d.Disabled, "no active field: active")
	assert.Equal(t, Condition{ID: 1, Type: ConditionAbsent, MetricName: "m", Duration: 10 * time.Minute}, d.Conditions[0])
	f := false
	assert.Equal(t, Condition{ID: 2, Type: ConditionAbove, MetricName: "n", Threshold: 0, DetectReset: &f,
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
