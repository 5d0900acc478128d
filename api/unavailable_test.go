package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestStoreDownReads closes the store under a running server: reads and
// readiness answer 503 service_unavailable in the ACP error shape, and the
// message says nothing of an Idempotency-Key (a GET has none).
func TestStoreDownReads(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.delegate("4242424242424242", 5000)
	r := h.pay(tok, 2599, "automatic")
	mustStatus(t, r, http.StatusCreated)
	id := r.str("id")
	mustStatus(t, h.do(req{method: http.MethodGet, path: "/v1/payments/" + id, key: acmeKey}), http.StatusOK)
	mustStatus(t, h.do(req{method: http.MethodGet, path: "/readyz", noVersion: true}), http.StatusOK)

	if err := h.st.Close(); err != nil {
		t.Fatalf("close store: %v", err)
	}
	for _, tc := range []struct{ name, path, key string }{
		{"get payment", "/v1/payments/" + id, acmeKey},
		{"get unknown payment", "/v1/payments/pay_unknown", acmeKey},
		{"readyz", "/readyz", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := h.do(req{method: http.MethodGet, path: tc.path, key: tc.key})
			mustStatus(t, r, http.StatusServiceUnavailable)
			if r.str("type") != "service_unavailable" || r.str("code") != "service_unavailable" {
				t.Errorf("type %q code %q, want service_unavailable for both: %s", r.str("type"), r.str("code"), r.raw)
			}
			msg := r.str("message")
			if msg == "" {
				t.Errorf("no message: %s", r.raw)
			}
			if strings.Contains(strings.ToLower(msg), "idempotency") {
				t.Errorf("message %q speaks of an Idempotency-Key, which a GET has none of", msg)
			}
			if tc.path == "/readyz" && r.str("status") != "store unavailable" {
				t.Errorf("readyz status %q, want the one probes always read, store unavailable", r.str("status"))
			}
		})
	}
	// A POST with a key is told to retry with that key.
	r = h.do(req{path: "/v1/payments", key: acmeKey, idem: newKey(), body: payBody(tok, 100, "automatic")})
	mustStatus(t, r, http.StatusServiceUnavailable)
	if r.str("code") != "service_unavailable" || !strings.Contains(r.str("message"), "same Idempotency-Key") {
		t.Errorf("POST while the store is down: %s; want service_unavailable, retry with the same Idempotency-Key", r.raw)
	}
}
