package providers_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"acpgw/providers"
)

// TestSendOnceFollowsNoRedirect: a 307 or 308 would make http.Client send
// the POST again to another address; SendOnce returns the answer instead.
func TestSendOnceFollowsNoRedirect(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		var posts atomic.Int32
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			posts.Add(1)
			http.Redirect(w, r, "/elsewhere", status)
		}))
		t.Cleanup(srv.Close)
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+"/payments", strings.NewReader(`{"amount":1}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Idempotency-Key", "acpgw_pay_1_1")
		resp, err := providers.SendOnce(srv.Client()).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != status || posts.Load() != 1 {
			t.Errorf("%d: answer %d after %d POSTs, want the %d itself after one POST", status, resp.StatusCode, posts.Load(), status)
		}
		if req.GetBody == nil {
			t.Error("SendOnce changed the caller's request")
		}
	}
}
