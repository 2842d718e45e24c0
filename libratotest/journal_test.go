package libratotest_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"sync"
	"testing"

	"github.com/go-librato/librato/libratotest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// memJournal keeps the changes a server hands it.
type memJournal struct {
	mu      sync.Mutex
	changes []libratotest.Change
	fail    error
}

func (j *memJournal) record(c libratotest.Change) func() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.changes = append(j.changes, c)
	fail := j.fail
	return func() error { return fail }
}

// withoutTime is a snapshot with its "time" member removed.
func withoutTime(t *testing.T, snap []byte) map[string]any {
	var m map[string]any
	require.NoError(t, json.Unmarshal(snap, &m))
	delete(m, "time")
	return m
}

// TestJournalReplayRebuildsTheState: the changes a server journals, replayed in order on a new
// server, give the same state, ids included; reads are not journaled; a failed record is a 500.
func TestJournalReplayRebuildsTheState(t *testing.T) {
	j := &memJournal{}
	src := newServer(t, libratotest.WithJournal(j.record))
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/v1/metrics", fixture(t, "tv4.json")},
		{"POST", "/v1/measurements", `{"tags":{"host":"a"},"measurements":[{"name":"cpu","value":1},{"name":"cpu","value":2,"tags":{"host":"b"}}]}`},
		{"POST", "/v1/measurements", `{"tags":{"host":"a"},"measurements":[{"name":"cpu","value":5}]}`},
		{"PUT", "/v1/metrics/queue_len", `{"type":"gauge","description":"d","period":60}`},
		{"POST", "/v1/annotations/deploys", `{"title":"v1"}`},
		{"POST", "/v1/annotations/deploys", `{"title":"v2"}`},
		{"DELETE", "/v1/metrics/login-delay", ""},
		{"POST", "/v1/measurements", `{"measurements":[{"name":"bad name","value":1}]}`}, // a 400, journaled: replay gives the same
	} {
		ct := jsonType
		if tc.body == "" {
			ct = ""
		}
		resp, body := call(t, src, tc.method, tc.path, ct, tc.body)
		require.Less(t, resp.StatusCode, 500, body)
	}
	resp, _ := call(t, src, "GET", "/v1/metrics", "", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, j.changes, 8, "every change and no read")
	for _, c := range j.changes {
		assert.Empty(t, c.Header.Get("Authorization"), "credentials stay out of the journal")
	}

	dst := newServer(t)
	for _, c := range j.changes {
		status, err := dst.Replay(c)
		require.NoError(t, err)
		assert.Equal(t, c.Status, status, "the replay answers as the change was answered: %s %s", c.Method, c.URI)
	}
	assert.Equal(t, http.StatusBadRequest, j.changes[7].Status)
	a, err := src.Snapshot()
	require.NoError(t, err)
	b, err := dst.Snapshot()
	require.NoError(t, err)
	assert.Equal(t, withoutTime(t, a), withoutTime(t, b))

	_, err = dst.Replay(libratotest.Change{Method: "POST", URI: "http://elsewhere/v1/metrics"})
	assert.Error(t, err, "a change whose URI is not a path")

	j.fail = errors.New("disk full")
	resp, body := call(t, src, "POST", "/v1/measurements", jsonType, `{"tags":{"host":"a"},"measurements":[{"name":"cpu","value":9}]}`)
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode, "a change that could not be recorded is not acknowledged")
	assert.Contains(t, body, "could not be recorded")
}
