package api_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDelegateAllowanceTooLong: delegate_payment refuses an allowance that
// ends later than vault.max_token_ttl (default 30 days) with a 400 whose
// param is $.allowance.expires_at and whose code stays in the Delegate
// Payment enum; nothing is stored.
func TestDelegateAllowanceTooLong(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	for _, tt := range []struct {
		name string
		in   time.Duration
		want int
	}{
		{"29 days", 29 * 24 * time.Hour, http.StatusCreated},
		{"31 days", 31 * 24 * time.Hour, http.StatusBadRequest},
		{"a century", 100 * 365 * 24 * time.Hour, http.StatusBadRequest},
	} {
		body := delegateBody("4242424242424242", "acme", "cs_1", 1000, "usd")
		body["allowance"].(map[string]any)["expires_at"] = time.Now().Add(tt.in).UTC().Format(time.RFC3339)
		before := h.counts()
		r := h.do(req{path: "/agentic_commerce/delegate_payment", key: agentKey, idem: newKey(), body: body})
		if r.status != tt.want {
			t.Errorf("%s: %d %s, want %d", tt.name, r.status, r.raw, tt.want)
			continue
		}
		if tt.want != http.StatusBadRequest {
			continue
		}
		if r.str("type") != "invalid_request" || r.str("code") != "invalid_card" || r.str("param") != "$.allowance.expires_at" ||
			!strings.Contains(r.str("message"), "vault.max_token_ttl") {
			t.Errorf("%s: error %s", tt.name, r.raw)
		}
		if after := h.counts(); after["tokens"] != before["tokens"] {
			t.Errorf("%s: tokens %d -> %d", tt.name, before["tokens"], after["tokens"])
		}
	}
}
