package api_test

import (
	"net/http"
	"strings"
	"testing"
)

// testCryptogram is a 3-D Secure authentication value: base64 of the 20
// bytes "0123456789abcdefghij".
const testCryptogram = "MDEyMzQ1Njc4OWFiY2RlZmdoaWo="

// authenticated is an ACP authentication_result of a frictionless 3-D
// Secure 2 authentication.
func authenticated() map[string]any {
	return map[string]any{"outcome": "authenticated", "outcome_details": map[string]any{
		"three_ds_cryptogram": testCryptogram, "electronic_commerce_indicator": "05",
		"transaction_id": "f25084f0-5b16-4c0a-ae5d-b24808a95e4b", "version": "2.2.0"}}
}

// TestAuthenticationAndRetry is the agent's story on acpgw's side: the
// card's issuer wants 3-D Secure; the first payment, without a result, is
// declined authentication_required and retryable; the same token paid with
// the authentication_result is captured, and its attempt shows the result
// without the cryptogram; the token is then consumed. A soft decline
// (insufficient funds) on another token is retried on that token.
func TestAuthenticationAndRetry(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.delegate("4000000000003220", 2599)
	first := h.pay(tok, 2599, "automatic")
	mustStatus(t, first, http.StatusCreated)
	d, _ := first.body["decline"].(map[string]any)
	if first.str("status") != "declined" || d["code"] != "authentication_required" || d["retryable"] != true {
		t.Fatalf("without authentication: %s", first.raw)
	}
	body := payBody(tok, 2599, "automatic")
	body["authentication_result"] = authenticated()
	second := h.do(req{path: "/v1/payments", key: acmeKey, idem: newKey(), body: body})
	mustStatus(t, second, http.StatusCreated)
	if second.str("status") != "captured" || strings.Contains(string(second.raw), testCryptogram) {
		t.Fatalf("with authentication: %s", second.raw)
	}
	atts, _ := second.body["attempts"].([]any)
	a, _ := atts[0].(map[string]any)["authentication"].(map[string]any)
	if len(atts) != 1 || a["outcome"] != "authenticated" || a["electronic_commerce_indicator"] != "05" || a["version"] != "2.2.0" {
		t.Fatalf("attempt's authentication: %s", second.raw)
	}
	third := h.pay(tok, 2599, "automatic")
	if third.status != http.StatusUnprocessableEntity || third.str("code") != "token_consumed" {
		t.Fatalf("after the approval: %d %s", third.status, third.raw)
	}

	soft := h.delegate("4000000000009995", 1000)
	for i := range 2 {
		r := h.pay(soft, 1000-int64(i), "automatic")
		mustStatus(t, r, http.StatusCreated)
		if d, _ := r.body["decline"].(map[string]any); d["code"] != "insufficient_funds" || d["retryable"] != true {
			t.Fatalf("soft decline %d: %s", i, r.raw)
		}
	}
	if h.charges() != 1 {
		t.Fatalf("%d charges, want 1", h.charges())
	}
}

// TestAuthenticationResultRefused: a bad authentication_result is a 400
// with param, an outcome that must not be charged a 422
// authentication_failed; neither reaches the processor nor touches the
// token.
func TestAuthenticationResultRefused(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.delegate("4000000000003220", 1000)
	with := func(edit func(map[string]any)) map[string]any {
		b := payBody(tok, 1000, "automatic")
		ar := authenticated()
		edit(ar)
		b["authentication_result"] = ar
		return b
	}
	details := func(k string, v any) func(map[string]any) {
		return func(ar map[string]any) { ar["outcome_details"].(map[string]any)[k] = v }
	}
	for _, tc := range []struct {
		name   string
		body   map[string]any
		status int
		code   string
		param  string
	}{
		{"unknown outcome", with(func(ar map[string]any) { ar["outcome"] = "ok" }), 400, "invalid_request", "$.authentication_result.outcome"},
		{"no details", with(func(ar map[string]any) { delete(ar, "outcome_details") }), 400, "missing_field", "$.authentication_result.outcome_details"},
		{"bad eci", with(details("electronic_commerce_indicator", "5")), 400, "invalid_request", "$.authentication_result.outcome_details.electronic_commerce_indicator"},
		{"short cryptogram", with(details("three_ds_cryptogram", "abc=")), 422, "invalid_request", "$.authentication_result.outcome_details.three_ds_cryptogram"},
		{"rejected", with(func(ar map[string]any) { ar["outcome"] = "rejected" }), 422, "authentication_failed", "$.authentication_result.outcome"},
		{"abandoned", with(func(ar map[string]any) { ar["outcome"] = "abandoned"; delete(ar, "outcome_details") }), 422, "authentication_failed", "$.authentication_result.outcome"},
		{"processing_error", with(func(ar map[string]any) { ar["outcome"] = "processing_error" }), 422, "authentication_failed", "$.authentication_result.outcome"},
	} {
		before := h.counts()
		r := h.do(req{path: "/v1/payments", key: acmeKey, idem: newKey(), body: tc.body})
		if r.status != tc.status || r.str("code") != tc.code || r.str("param") != tc.param {
			t.Errorf("%s: %d %s, want %d %s at %s", tc.name, r.status, r.raw, tc.status, tc.code, tc.param)
		}
		if strings.Contains(string(r.raw), testCryptogram) {
			t.Errorf("%s: the answer quotes the cryptogram", tc.name)
		}
		if after := h.counts(); after["payments"] != before["payments"] || after["consumed"] != before["consumed"] {
			t.Errorf("%s: the store changed: %v -> %v", tc.name, before, after)
		}
	}
	if h.charges() != 0 || h.mocks["mock"].Calls("authorize") != 0 {
		t.Fatal("the processor was called")
	}
}
