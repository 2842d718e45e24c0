package librato

import (
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tv18Alert builds reference TV18's scenario with our builder.
func tv18Alert(c *Client) *Alert {
	al := c.Alerts.New("my.alert")
	al.AddConditionFor("cpu").Above(200)
	al.AddConditionFor("mem").Source("web*").Below(10).SummaryFunction("max").Duration(300 * time.Second)
	al.AddConditionFor("heartbeat").StopsReportingFor(600 * time.Second)
	al.AddService(1234)
	return al
}

func renderAlert(t *testing.T, al *Alert) map[string]any {
	t.Helper()
	require.NoError(t, al.Validate())
	b, err := json.Marshal(al.request())
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	return m
}

func TestAlertBuilderTV18Golden(t *testing.T) {
	c, err := Connect("u@example.com", "t")
	require.NoError(t, err)
	got := renderAlert(t, tv18Alert(c))
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

func TestAlertBuilderOnTaggedClients(t *testing.T) {
	// No source "*" on tagged clients; an explicit source is still sent; md is set.
	for name, connect := range map[string]func() (*Client, error){
		"default tags": func() (*Client, error) {
			return Connect("u@example.com", "t", WithTags(map[string]string{"env": "prod"}))
		},
		"appoptics": func() (*Client, error) { return ConnectAppOptics("t") },
	} {
		c, err := connect()
		require.NoError(t, err)
		got := renderAlert(t, tv18Alert(c))
		conds := got["conditions"].([]any)
		assert.NotContains(t, conds[0], "source", name)
		assert.Equal(t, "web*", conds[1].(map[string]any)["source"], name)
		assert.NotContains(t, conds[2], "source", name)
		assert.Equal(t, true, got["md"], name)
	}
}

func TestAlertBuilderChains(t *testing.T) {
	c, err := Connect("u@example.com", "t", WithSanitizer(SanitizeMetricName))
	require.NoError(t, err)
	al := c.Alerts.New("api.latency.high").Description("d").RunbookURL("https://runbooks/x").RearmAfter(30 * time.Minute).Active(false).AddService(3).AddService(3)
	al.AddConditionFor("api latency").Above(0).SummaryFunction("derivative").DetectReset(false).
		GroupedTag("region", "us-*", "eu-*").Tag("host", "*")
	got := renderAlert(t, al)
	assert.JSONEq(t, `{"name":"api.latency.high","description":"d","conditions":[
	  {"type":"above","metric_name":"api-latency","threshold":0,"summary_function":"derivative","detect_reset":false,
	   "tags":[{"name":"region","grouped":true,"values":["us-*","eu-*"]},{"name":"host","grouped":false,"values":["*"]}]}],
	  "services":[3],"attributes":{"runbook_url":"https://runbooks/x"},"active":false,"rearm_seconds":1800,"version":2,"md":true}`,
		mustJSON(t, got))
	assert.Equal(t, "api latency", al.Conditions[0].MetricName, "the sanitizer applies on the wire, not to the data")
	assert.Equal(t, "d", al.AlertData.Description)

	al.RunbookURL("")
	assert.NotContains(t, al.Attributes, "runbook_url")
	var zero Condition // not from AddConditionFor: methods do nothing instead of panicking
	assert.Nil(t, zero.Above(1).Data())
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// alertNoIO is a transport that fails the test on any request.
type alertNoIO struct{ t *testing.T }

func (n alertNoIO) RoundTrip(r *http.Request) (*http.Response, error) {
	n.t.Errorf("unexpected request %s %s", r.Method, r.URL)
	return nil, errors.New("no I/O expected")
}

func TestAlertValidate(t *testing.T) {
	c, err := Connect("u@example.com", "t", WithHTTPClient(&http.Client{Transport: alertNoIO{t}}))
	require.NoError(t, err)
	tests := []struct {
		name  string
		build func(al *Alert)
		want  []string // substrings of the error; none: valid
	}{
		{"valid above", func(al *Alert) { al.AddConditionFor("cpu").Above(90).Duration(time.Minute) }, nil},
		{"valid absent 1h", func(al *Alert) { al.AddConditionFor("cpu").StopsReportingFor(time.Hour) }, nil},
		{"absolute_value for legacy counters", func(al *Alert) { al.AddConditionFor("c").Above(1).SummaryFunction("absolute_value") }, nil},
		{"empty name", func(al *Alert) { al.Name = ""; al.AddConditionFor("cpu").Above(1) }, []string{`name "": must not be empty`}},
		{"long name", func(al *Alert) { al.Name = strings.Repeat("a", 256); al.AddConditionFor("cpu").Above(1) }, []string{"at most 255"}},
		{"bad name char", func(al *Alert) { al.Name = "my alert"; al.AddConditionFor("cpu").Above(1) }, []string{"invalid character ' ' at byte 2"}},
		{"no conditions", func(al *Alert) {}, []string{"at least one condition"}},
		{"no type", func(al *Alert) { al.AddConditionFor("cpu") }, []string{"condition 0 (cpu) type", "call Above, Below or StopsReportingFor"}},
		{"unknown type", func(al *Alert) { al.AddConditionFor("cpu").Data().Type = "between" }, []string{`type "between": must be above, below or absent`}},
		{"missing threshold", func(al *Alert) { d := al.AddConditionFor("cpu").Data(); d.Type = ConditionBelow }, []string{"condition 0 (cpu) threshold", "below conditions need a threshold"}},
		{"NaN threshold", func(al *Alert) { al.AddConditionFor("cpu").Above(math.NaN()) }, []string{"finite"}},
		{"Inf threshold", func(al *Alert) { al.AddConditionFor("cpu").Below(math.Inf(-1)) }, []string{"finite"}},
		{"absent without duration", func(al *Alert) { al.AddConditionFor("cpu").StopsReportingFor(0) }, []string{"absent condition needs a duration"}},
		{"duration too short", func(al *Alert) { al.AddConditionFor("cpu").Above(1).Duration(30 * time.Second) }, []string{`duration "30s"`, "60-3600 seconds"}},
		{"duration too long", func(al *Alert) { al.AddConditionFor("cpu").StopsReportingFor(61 * time.Minute) }, []string{`duration "1h1m0s"`}},
		{"duration not whole minutes", func(al *Alert) { al.AddConditionFor("cpu").Above(1).Duration(90 * time.Second) }, []string{`duration "1m30s"`, "whole minutes"}},
		{"negative duration", func(al *Alert) { al.AddConditionFor("cpu").Above(1).Duration(-time.Minute) }, []string{`duration "-1m0s"`}},
		{"summary function", func(al *Alert) { al.AddConditionFor("cpu").Above(1).SummaryFunction("avg") }, []string{`summary function "avg"`}},
		{"rearm not minutes", func(al *Alert) { al.RearmAfter(90 * time.Second); al.AddConditionFor("cpu").Above(1) }, []string{`rearm "1m30s"`, "multiple of 60"}},
		{"negative rearm", func(al *Alert) { al.RearmAfter(-time.Minute); al.AddConditionFor("cpu").Above(1) }, []string{`rearm "-1m0s"`}},
		{"bad service", func(al *Alert) { al.AddService(0); al.AddConditionFor("cpu").Above(1) }, []string{`service "0"`}},
		{"relative runbook", func(al *Alert) { al.RunbookURL("/runbooks/x"); al.AddConditionFor("cpu").Above(1) }, []string{"absolute URL"}},
		{"negative id", func(al *Alert) { al.ID = -3; al.AddConditionFor("cpu").Above(1) }, []string{`id "-3": must be positive`}},
		{"bad version", func(al *Alert) { al.Version = 3; al.AddConditionFor("cpu").Above(1) }, []string{"must be 1 or 2"}},
		{"bad metric", func(al *Alert) { al.AddConditionFor("cpu load").Above(1) }, []string{"condition 0 (cpu load) metric name"}},
		{"tag without values", func(al *Alert) { al.AddConditionFor("cpu").Above(1).Tag("host") }, []string{`tag "host"`, "at least one value"}},
		{"bad tag name", func(al *Alert) { al.AddConditionFor("cpu").Above(1).Tag("ho st", "a") }, []string{`tag name "ho st"`}},
		{"empty tag value", func(al *Alert) { al.AddConditionFor("cpu").Above(1).GroupedTag("host", "") }, []string{`tag "host" value`}},
		{"nil condition", func(al *Alert) { al.Conditions = append(al.Conditions, nil) }, []string{"condition 0", "is nil"}},
		{"several problems, second condition named", func(al *Alert) {
			al.AddConditionFor("ok").Above(1)
			al.AddConditionFor("mem").Below(1).Duration(time.Second).SummaryFunction("p99")
		}, []string{"condition 1 (mem) duration", "condition 1 (mem) summary function"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			al := c.Alerts.New("my.alert")
			tc.build(al)
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
			// Save validates before any I/O (the transport fails the test on a request).
			assert.Equal(t, err, al.Save(t.Context()))
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
			_ = a.data()
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
