package libratotest

import (
	"encoding/json"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFormToMap(t *testing.T) {
	tests := []struct {
		form string
		want string
	}{
		{"gauges[0][name]=cpu&gauges[0][value]=1&source=a",
			`{"gauges":{"0":{"name":"cpu","value":"1"}},"source":"a"}`},
		{"names[]=a&names[]=b", `{"names":["a","b"]}`},
		{"names=cpu*&exclude[]=cpu.x", `{"exclude":["cpu.x"],"names":"cpu*"}`},
		{"g[a][attributes][color]=%23fff", `{"g":{"a":{"attributes":{"color":"#fff"}}}}`},
		{"a=1&a[b]=2", `{"a":"1"}`}, // conflicting shapes keep the first key in sorted order
		{"x[=1", `{"x[":"1"}`},
	}
	for _, tt := range tests {
		vals, err := url.ParseQuery(tt.form)
		require.NoError(t, err)
		b, err := json.Marshal(formToMap(vals))
		require.NoError(t, err)
		assert.JSONEq(t, tt.want, string(b), tt.form)
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"web*", "WEB1", true},
		{"*.time", "a.time", true},
		{"*.time", "a.timex", false},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXbY", false},
		{"exact", "exact", true},
		{"exact", "exactly", false},
		{"*prod*", "db-prod-1", true},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, globMatch(tt.pattern, tt.s), "%q %q", tt.pattern, tt.s)
	}
}

func TestFlexNumbers(t *testing.T) {
	var v struct {
		F *flexFloat `json:"f"`
		I *flexInt   `json:"i"`
	}
	require.NoError(t, json.Unmarshal([]byte(`{"f":"1.5","i":1500000000.0}`), &v))
	assert.Equal(t, flexFloat(1.5), *v.F)
	assert.Equal(t, flexInt(1500000000), *v.I)
	assert.Error(t, json.Unmarshal([]byte(`{"i":1.5}`), &v))
	assert.Error(t, json.Unmarshal([]byte(`{"f":"abc"}`), &v))
}

// TestAreaState checks the hooks other areas use to join Snapshot, Restore
// and Reset.
func TestAreaState(t *testing.T) {
	newSrv := func(store *[]string) *Server {
		s := NewUnstartedServer()
		s.addState("things",
			func() (json.RawMessage, error) { return json.Marshal(*store) },
			func(b json.RawMessage) error { return json.Unmarshal(b, store) },
			func() { *store = nil })
		return s
	}
	var a, b []string
	sa, sb := newSrv(&a), newSrv(&b)
	a = []string{"x", "y"}
	sa.mu.Lock()
	id := sa.nextID()
	sa.mu.Unlock()
	snap, err := sa.Snapshot()
	require.NoError(t, err)
	require.NoError(t, sb.Restore(snap))
	assert.Equal(t, []string{"x", "y"}, b)
	sb.mu.Lock()
	assert.Equal(t, id+1, sb.nextID(), "ids continue after a restore")
	sb.mu.Unlock()
	sb.Reset()
	assert.Nil(t, b)
}
