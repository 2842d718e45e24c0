package libratotest_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-librato/librato"
	"github.com/go-librato/librato/libratotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The alert endpoints, driven with plain HTTP to check status codes, headers and shapes.

// rootFixture reads a fixture of the librato package (../testdata), where the reference vectors live.
func rootFixture(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "testdata", name))
	require.NoError(t, err)
	return string(b)
}

// createService creates a service and returns its id.
func createService(t *testing.T, srv *libratotest.Server, body string) string {
	t.Helper()
	resp, out := call(t, srv, "POST", "/v1/services", jsonType, body)
	require.Equal(t, http.StatusCreated, resp.StatusCode, out)
	return strconv.Itoa(int(decode(t, out)["id"].(float64)))
}

func TestAlertCreateTV17Shape(t *testing.T) {
	srv := newServer(t, libratotest.WithNow(func() time.Time { return time.Unix(1484594787, 0) }))
	sid := createService(t, srv, `{"type":"slack","settings":{"url":"https://hooks.slack.com/services/ABCDEFG/A1B2C3/asdfg1234"},"title":"librato-services"}`)
	req := strings.Replace(rootFixture(t, "alerts/tv17_create_request.json"), `"services":[849]`, `"services":[`+sid+`]`, 1)
	resp, body := call(t, srv, "POST", "/v1/alerts", jsonType, req)
	require.Equal(t, http.StatusCreated, resp.StatusCode, body)
	got := decode(t, body)
	id := int(got["id"].(float64))
	assert.Equal(t, "/v1/alerts/"+strconv.Itoa(id), resp.Header.Get("Location"))

	// TV17's answer, with the fake's IDs: the service is the stored object.
	want := decode(t, rootFixture(t, "alerts/tv17_create_response.json"))
	want["id"] = got["id"]
	want["conditions"].([]any)[0].(map[string]any)["id"] = got["conditions"].([]any)[0].(map[string]any)["id"]
	sidn, _ := strconv.Atoi(sid)
	want["services"].([]any)[0].(map[string]any)["id"] = float64(sidn)
	assert.Equal(t, want, got)

	resp, body = call(t, srv, "GET", "/v1/alerts/"+strconv.Itoa(id), "", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, got, decode(t, body))
}

func TestAlertAcceptsPythonPayloadTV18(t *testing.T) {
	srv := newServer(t)
	sid := createService(t, srv, `{"type":"mail","title":"ops","settings":{"addresses":"ops@example.com"}}`)
	req := strings.Replace(rootFixture(t, "alerts/tv18_python_payload.json"), `"services": [1234]`, `"services": [`+sid+`]`, 1)
	resp, body := call(t, srv, "POST", "/v1/alerts", jsonType, req)
	require.Equal(t, http.StatusCreated, resp.StatusCode, body)
	got := decode(t, body)
	assert.Equal(t, 600.0, got["rearm_seconds"], "null means the default")
	conds := got["conditions"].([]any)
	require.Len(t, conds, 3)
	assert.Equal(t, "average", conds[0].(map[string]any)["summary_function"])
	assert.NotContains(t, conds[0], "duration")
	assert.Equal(t, 600.0, conds[2].(map[string]any)["duration"])
	assert.NotContains(t, conds[2], "summary_function")
}

func TestAlertValidationErrors(t *testing.T) {
	srv := newServer(t)
	cond := func(c string) string { return `{"name":"a","conditions":[` + c + `]}` }
	tests := []struct {
		name, body string
		status     int
		want       string
	}{
		{"no threshold", cond(`{"type":"above","metric_name":"m"}`), 400, `{"errors":{"params":{"conditions":{"threshold":["must be set"]}}}}`},
		{"absent without duration", cond(`{"type":"absent","metric_name":"m"}`), 400, `{"errors":{"params":{"conditions":{"duration":["must be set"]}}}}`},
		{"duration range", cond(`{"type":"above","metric_name":"m","threshold":1,"duration":30}`), 400, `{"errors":{"params":{"conditions":{"duration":["must be between 60 and 3600"]}}}}`},
		{"bad type", cond(`{"type":"between","metric_name":"m"}`), 400, `{"errors":{"params":{"conditions":{"type":["must be above, below or absent"]}}}}`},
		{"bad metric", cond(`{"type":"above","metric_name":"a b","threshold":1}`), 400, `{"errors":{"params":{"conditions":{"metric_name":["is invalid"]}}}}`},
		{"bad summary", cond(`{"type":"above","metric_name":"m","threshold":1,"summary_function":"p99"}`), 400, `{"errors":{"params":{"conditions":{"summary_function":["is not a valid summary function"]}}}}`},
		{"bad tags", cond(`{"type":"above","metric_name":"m","threshold":1,"tags":[{"name":"host","values":[]}]}`), 400, `{"errors":{"params":{"conditions":{"tags":["must have a valid name and at least one value"]}}}}`},
		{"no name", `{"conditions":[{"type":"above","metric_name":"m","threshold":1}]}`, 400, `{"errors":{"params":{"name":["is not present"]}}}`},
		{"bad name", `{"name":"a b","conditions":[{"type":"above","metric_name":"m","threshold":1}]}`, 400, `{"errors":{"params":{"name":["is invalid"]}}}`},
		{"no conditions", `{"name":"a","conditions":[]}`, 400, `{"errors":{"params":{"conditions":["must have at least one condition"]}}}`},
		{"rearm", `{"name":"a","rearm_seconds":90,"conditions":[{"type":"above","metric_name":"m","threshold":1}]}`, 400, `{"errors":{"params":{"rearm_seconds":["must be a multiple of 60"]}}}`},
		{"not JSON", `{"name":`, 400, `{"errors":{"request":["Unable to parse request body"]}}`},
	}
	for _, tc := range tests {
		resp, body := call(t, srv, "POST", "/v1/alerts", jsonType, tc.body)
		assert.Equal(t, tc.status, resp.StatusCode, tc.name)
		assert.JSONEq(t, tc.want, body, tc.name)
	}
	resp, _ := call(t, srv, "POST", "/v1/alerts", formType, "name=a")
	assert.Equal(t, http.StatusUnsupportedMediaType, resp.StatusCode)

	ok := `{"name":"dup","conditions":[{"type":"above","metric_name":"m","threshold":1}]}`
	resp, _ = call(t, srv, "POST", "/v1/alerts", jsonType, ok)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	resp, body := call(t, srv, "POST", "/v1/alerts", jsonType, strings.Replace(ok, "dup", "DUP", 1))
	assert.Equal(t, http.StatusUnprocessableEntity, resp.StatusCode)
	assert.JSONEq(t, `{"errors":{"params":{"name":["has already been taken"]}}}`, body)
}

func TestAlertPutReplacesConditions(t *testing.T) {
	srv := newServer(t)
	resp, body := call(t, srv, "POST", "/v1/alerts", jsonType,
		`{"name":"a","description":"d","conditions":[{"type":"above","metric_name":"m","threshold":1},{"type":"absent","metric_name":"n","duration":60}]}`)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	id := strconv.Itoa(int(decode(t, body)["id"].(float64)))

	// A failed PUT changes nothing.
	resp, _ = call(t, srv, "PUT", "/v1/alerts/"+id, jsonType, `{"conditions":[{"type":"above","metric_name":"m"}]}`)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	_, body = call(t, srv, "GET", "/v1/alerts/"+id, "", "")
	assert.Len(t, decode(t, body)["conditions"], 2)

	// A PUT without conditions deletes them all, as the real API does; other fields it omits stay.
	resp, body = call(t, srv, "PUT", "/v1/alerts/"+id, jsonType, `{"active":false}`)
	assert.Equal(t, http.StatusNoContent, resp.StatusCode, body)
	assert.Empty(t, body)
	_, body = call(t, srv, "GET", "/v1/alerts/"+id, "", "")
	got := decode(t, body)
	assert.Equal(t, []any{}, got["conditions"])
	assert.Equal(t, false, got["active"])
	assert.Equal(t, "d", got["description"])

	resp, _ = call(t, srv, "PUT", "/v1/alerts/999999", jsonType, `{"active":false}`)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
	resp, _ = call(t, srv, "DELETE", "/v1/alerts/"+id, "", "")
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	resp, _ = call(t, srv, "GET", "/v1/alerts/"+id, "", "")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestAlertStatusAndServicesTV19(t *testing.T) {
	srv := newServer(t, libratotest.WithNow(func() time.Time { return time.Unix(1454108320, 0) }))
	_, body := call(t, srv, "POST", "/v1/alerts", jsonType, `{"name":"a","conditions":[{"type":"above","metric_name":"m","threshold":1}]}`)
	idn := int(decode(t, body)["id"].(float64))
	id := strconv.Itoa(idn)

	_, body = call(t, srv, "GET", "/v1/alerts/"+id+"/status", "", "")
	assert.JSONEq(t, `{"alert":{"id":`+id+`},"status":"ok"}`, body)
	require.True(t, srv.FireAlert(librato.ID(idn)))
	assert.False(t, srv.FireAlert(librato.ID(idn+1000)))
	_, body = call(t, srv, "GET", "/v1/alerts/"+id+"/status", "", "")
	assert.JSONEq(t, `{"alert":{"id":`+id+`},"status":"triggered"}`, body)
	_, body = call(t, srv, "GET", "/v1/alerts/status", "", "")
	assert.JSONEq(t, `{"cleared":[],"firing":[{"id":`+id+`,"triggered_at":1454108320}]}`, body)
	resp, _ := call(t, srv, "POST", "/v1/alerts/"+id+"/clear", "", "")
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	_, body = call(t, srv, "GET", "/v1/alerts/status", "", "")
	assert.JSONEq(t, `{"cleared":[{"cleared_at":1454108320,"id":`+id+`}],"firing":[]}`, body)

	// Attach by form (service=N, as the docs show) and by JSON.
	mail := createService(t, srv, `{"type":"mail","title":"Ops Team","settings":{"addresses":"foo@domain.com,bar@domain.com"}}`)
	slack := createService(t, srv, `{"type":"slack","title":"chat","settings":{"url":"https://hooks.slack.com/x"}}`)
	resp, _ = call(t, srv, "POST", "/v1/alerts/"+id+"/services", formType, "service="+mail)
	assert.Equal(t, http.StatusCreated, resp.StatusCode)
	assert.Equal(t, "/v1/alerts/"+id+"/services/"+mail, resp.Header.Get("Location"))
	resp, _ = call(t, srv, "POST", "/v1/alerts/"+id+"/services", jsonType, `{"service":"`+slack+`"}`)
	assert.Equal(t, http.StatusCreated, resp.StatusCode)
	_, body = call(t, srv, "GET", "/v1/alerts/"+id, "", "")
	assert.JSONEq(t, `[{"id":`+mail+`,"type":"mail","title":"Ops Team","settings":{"addresses":"foo@domain.com,bar@domain.com"}},
		{"id":`+slack+`,"type":"slack","title":"chat","settings":{"url":"https://hooks.slack.com/x"}}]`, jsonOf(t, decode(t, body)["services"]))
	resp, _ = call(t, srv, "POST", "/v1/alerts/"+id+"/services", jsonType, `{}`)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, _ = call(t, srv, "DELETE", "/v1/alerts/"+id+"/services/"+mail, "", "")
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	resp, _ = call(t, srv, "DELETE", "/v1/alerts/"+id+"/services/"+mail, "", "")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// TestAlertServicesMustExist: an alert may only name stored services, and
// deleting a service detaches it from every alert.
func TestAlertServicesMustExist(t *testing.T) {
	srv := newServer(t)
	resp, body := call(t, srv, "POST", "/v1/alerts", jsonType, `{"name":"a","services":[4242],"conditions":[{"type":"above","metric_name":"m","threshold":1}]}`)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, `{"errors":{"params":{"services":["4242 does not exist"]}}}`, body)

	sid := createService(t, srv, `{"type":"mail","title":"ops","settings":{"addresses":"ops@example.com"}}`)
	keep := createService(t, srv, `{"type":"mail","title":"keep","settings":{}}`)
	var alerts []string
	for _, name := range []string{"a", "b"} {
		resp, body = call(t, srv, "POST", "/v1/alerts", jsonType, `{"name":"`+name+`","services":[`+sid+`,`+keep+`],"conditions":[{"type":"above","metric_name":"m","threshold":1}]}`)
		require.Equal(t, http.StatusCreated, resp.StatusCode, body)
		alerts = append(alerts, strconv.Itoa(int(decode(t, body)["id"].(float64))))
	}
	resp, body = call(t, srv, "POST", "/v1/alerts/"+alerts[0]+"/services", jsonType, `{"service":4242}`)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, body, `"service":["4242 does not exist"]`)

	// An updated service is answered as updated.
	resp, _ = call(t, srv, "PUT", "/v1/services/"+sid, jsonType, `{"type":"mail","title":"ops team","settings":{"addresses":"x@example.com"}}`)
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	_, body = call(t, srv, "GET", "/v1/alerts/"+alerts[1], "", "")
	assert.Equal(t, "ops team", decode(t, body)["services"].([]any)[0].(map[string]any)["title"])

	resp, _ = call(t, srv, "DELETE", "/v1/services/"+sid, "", "")
	require.Equal(t, http.StatusNoContent, resp.StatusCode)
	for _, id := range alerts {
		_, body = call(t, srv, "GET", "/v1/alerts/"+id, "", "")
		assert.JSONEq(t, `[{"id":`+keep+`,"type":"mail","title":"keep","settings":{}}]`, jsonOf(t, decode(t, body)["services"]), "alert %s", id)
	}
	// It survives a snapshot round trip and a reset.
	snap, err := srv.Snapshot()
	require.NoError(t, err)
	require.NoError(t, srv.Restore(snap))
	_, body = call(t, srv, "GET", "/v1/alerts/"+alerts[0], "", "")
	assert.Len(t, decode(t, body)["services"], 1)
	srv.Reset()
	resp, _ = call(t, srv, "POST", "/v1/alerts", jsonType, `{"name":"c","services":[`+keep+`],"conditions":[{"type":"above","metric_name":"m","threshold":1}]}`)
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "Reset removed the services")
	keep = createService(t, srv, `{"type":"mail","title":"new","settings":{}}`)
	resp, body = call(t, srv, "POST", "/v1/alerts", jsonType, `{"name":"c","services":[`+keep+`],"conditions":[{"type":"above","metric_name":"m","threshold":1}]}`)
	assert.Equal(t, http.StatusCreated, resp.StatusCode, body)
}

// jsonOf encodes v as JSON.
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func TestAlertListPagingAndFilters(t *testing.T) {
	srv := newServer(t, libratotest.WithPageSize(2))
	for _, n := range []string{"b.one", "a.two", "c.one"} {
		resp, _ := call(t, srv, "POST", "/v1/alerts", jsonType, `{"name":"`+n+`","conditions":[{"type":"above","metric_name":"m","threshold":1}]}`)
		require.Equal(t, http.StatusCreated, resp.StatusCode)
	}
	_, body := call(t, srv, "POST", "/v1/alerts", jsonType, `{"name":"old.one","version":1,"conditions":[{"type":"above","metric_name":"m","threshold":1}]}`)
	require.Contains(t, body, `"version":1`)

	_, body = call(t, srv, "GET", "/v1/alerts?name=ONE&version=2", "", "")
	got := decode(t, body)
	assert.Equal(t, map[string]any{"found": 2.0, "length": 2.0, "offset": 0.0, "total": 4.0}, got["query"])
	_, body = call(t, srv, "GET", "/v1/alerts?offset=2", "", "")
	got = decode(t, body)
	assert.Equal(t, map[string]any{"found": 4.0, "length": 2.0, "offset": 2.0, "total": 4.0}, got["query"])
	resp, _ := call(t, srv, "GET", "/v1/alerts?version=3", "", "")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	resp, _ = call(t, srv, "GET", "/v1/alerts?orderby=name", "", "")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "alerts order by updated_at only")
}

func TestAlertsAndAnnotationsSnapshot(t *testing.T) {
	a := newServer(t)
	resp, _ := call(t, a, "POST", "/v1/alerts", jsonType, `{"name":"a","conditions":[{"type":"above","metric_name":"m","threshold":1}]}`)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	resp, _ = call(t, a, "POST", "/v1/annotations/deploys", jsonType, `{"title":"v1"}`)
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	snap, err := a.Snapshot()
	require.NoError(t, err)

	b := newServer(t)
	require.NoError(t, b.Restore(snap))
	_, body := call(t, b, "GET", "/v1/alerts?name=a", "", "")
	assert.Len(t, decode(t, body)["alerts"], 1)
	_, body = call(t, b, "GET", "/v1/annotations/deploys?count=5", "", "")
	assert.Contains(t, body, `"title":"v1"`)

	b.Reset()
	_, body = call(t, b, "GET", "/v1/alerts", "", "")
	assert.Empty(t, decode(t, body)["alerts"])
	resp, _ = call(t, b, "GET", "/v1/annotations/deploys", "", "")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}
