package librato

import (
	"net/http"
	"testing"

	"github.com/h2non/gock"
)

// gockHTTPClient returns an http.Client whose requests go to gock's mocks only. When the test ends
// every mock and every unmatched request is dropped and the client restored; a caller that checks
// gock.IsDone at the end registers that cleanup after this call, so it runs first.
func gockHTTPClient(t *testing.T) *http.Client {
	t.Helper()
	hc := &http.Client{}
	gock.InterceptClient(hc)
	t.Cleanup(func() {
		gock.OffAll()
		gock.RestoreClient(hc)
	})
	return hc
}
