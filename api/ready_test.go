package api_test

import (
	"net/http"
	"testing"
)

// TestReadyFollowsTheStore: /readyz asks the service, which asks its store;
// once the store is gone the answer is 503 while /healthz stays 200.
func TestReadyFollowsTheStore(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	r := h.do(req{method: http.MethodGet, path: "/readyz"})
	mustStatus(t, r, http.StatusOK)
	if r.str("status") != "ready" {
		t.Fatalf("ready body %s", r.raw)
	}
	if err := h.st.Close(); err != nil {
		t.Fatal(err)
	}
	r = h.do(req{method: http.MethodGet, path: "/readyz"})
	mustStatus(t, r, http.StatusServiceUnavailable)
	if r.str("status") != "store unavailable" {
		t.Fatalf("not-ready body %s", r.raw)
	}
	mustStatus(t, h.do(req{method: http.MethodGet, path: "/healthz"}), http.StatusOK)
}
