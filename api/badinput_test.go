package api_test

import (
	"bytes"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"testing"
	"time"
)

// TestBadInput sends each kind of bad request and checks the status, the
// ACP error object, and that nothing was stored, charged or consumed.
func TestBadInput(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.delegate("4242424242424242", 1000)
	otherTok := func() string {
		r := h.do(req{path: "/agentic_commerce/delegate_payment", key: agentKey, idem: newKey(),
			body: delegateBody("4242424242424242", "other", "cs_1", 1000, "usd")})
		mustStatus(t, r, http.StatusCreated)
		return r.str("id")
	}()
	used := h.delegate("4242424242424242", 1000)
	mustStatus(t, h.pay(used, 1000, "manual"), http.StatusCreated)
	authorized := h.pay(h.delegate("4242424242424242", 1000), 1000, "manual")
	mustStatus(t, authorized, http.StatusCreated)
	authID := authorized.str("id")
	shortLived := func() string {
		b := delegateBody("4242424242424242", "acme", "cs_1", 1000, "usd")
		b["allowance"].(map[string]any)["expires_at"] = h.clock.Now().Add(1500 * time.Millisecond).UTC().Format(time.RFC3339Nano)
		r := h.do(req{path: "/agentic_commerce/delegate_payment", key: agentKey, idem: newKey(), body: b})
		mustStatus(t, r, http.StatusCreated)
		return r.str("id")
	}()
	h.clock.advance(1600 * time.Millisecond) // shortLived expires; the other tokens live an hour

	del := func(mutate func(b map[string]any)) map[string]any {
		b := delegateBody("4242424242424242", "acme", "cs_1", 1000, "usd")
		mutate(b)
		return b
	}
	card := func(b map[string]any) map[string]any { return b["payment_method"].(map[string]any) }
	allow := func(b map[string]any) map[string]any { return b["allowance"].(map[string]any) }
	pay := func(mutate func(b map[string]any)) map[string]any {
		b := payBody(tok, 500, "automatic")
		mutate(b)
		return b
	}
	const dp = "/agentic_commerce/delegate_payment"
	const pp = "/v1/payments"
	big := bytes.Repeat([]byte(" "), 70<<10)
	big = append(append([]byte(`{"amount":`), big...), []byte(`1}`)...)

	tests := []struct {
		name   string
		r      req
		status int
		code   string
		param  string
	}{
		// delegate_payment
		{"malformed json", req{path: dp, key: agentKey, rawBody: []byte(`{"payment_method":`)}, 400, "invalid_card", ""},
		{"not an object", req{path: dp, key: agentKey, rawBody: []byte(`[1,2]`)}, 400, "invalid_card", ""},
		{"max_amount as string", req{path: dp, key: agentKey, body: del(func(b map[string]any) { allow(b)["max_amount"] = "1000" })}, 400, "invalid_card", "$.allowance.max_amount"},
		{"max_amount float", req{path: dp, key: agentKey, body: del(func(b map[string]any) { allow(b)["max_amount"] = 10.5 })}, 400, "invalid_card", "$.allowance.max_amount"},
		{"missing allowance", req{path: dp, key: agentKey, body: del(func(b map[string]any) { delete(b, "allowance") })}, 400, "invalid_card", "$.allowance"},
		{"missing card number", req{path: dp, key: agentKey, body: del(func(b map[string]any) { delete(card(b), "number") })}, 400, "invalid_card", "$.payment_method.number"},
		{"unknown top-level field", req{path: dp, key: agentKey, body: del(func(b map[string]any) { b["extra"] = 1 })}, 400, "invalid_card", "$.extra"},
		{"unknown nested field", req{path: dp, key: agentKey, body: del(func(b map[string]any) { card(b)["pin"] = "1234" })}, 400, "invalid_card", "$.payment_method.pin"},
		{"uppercase currency", req{path: dp, key: agentKey, body: del(func(b map[string]any) { allow(b)["currency"] = "USD" })}, 400, "invalid_card", "$.allowance.currency"},
		{"unknown currency", req{path: dp, key: agentKey, body: del(func(b map[string]any) { allow(b)["currency"] = "xyz" })}, 422, "invalid_card", "$.allowance.currency"},
		{"expired card", req{path: dp, key: agentKey, body: del(func(b map[string]any) { card(b)["exp_year"] = "2020" })}, 422, "invalid_card", "$.payment_method.exp_year"},
		{"exp_month 13", req{path: dp, key: agentKey, body: del(func(b map[string]any) { card(b)["exp_month"] = "13" })}, 422, "invalid_card", "$.payment_method.exp_month"},
		{"bad luhn", req{path: dp, key: agentKey, body: del(func(b map[string]any) { card(b)["number"] = "4242424242424241"; card(b)["display_last4"] = "4241" })}, 422, "invalid_card", "$.payment_method.number"},
		{"display_last4 mismatch", req{path: dp, key: agentKey, body: del(func(b map[string]any) { card(b)["display_last4"] = "1111" })}, 422, "invalid_card", "$.payment_method.display_last4"},
		{"allowance expired", req{path: dp, key: agentKey, body: del(func(b map[string]any) { allow(b)["expires_at"] = "2020-01-01T00:00:00Z" })}, 422, "invalid_card", "$.allowance.expires_at"},
		{"zero max_amount", req{path: dp, key: agentKey, body: del(func(b map[string]any) { allow(b)["max_amount"] = 0 })}, 422, "invalid_card", "$.allowance.max_amount"},
		{"overflowing max_amount", req{path: dp, key: agentKey, rawBody: []byte(`{"allowance":{"max_amount":99999999999999999999}}`)}, 400, "invalid_card", ""},
		{"merchant not served", req{path: dp, key: agentKey, body: del(func(b map[string]any) { allow(b)["merchant_id"] = "nobody" })}, 422, "invalid_card", "$.allowance.merchant_id"},
		{"no bearer", req{path: dp, body: del(func(map[string]any) {})}, 401, "unauthorized", ""},
		{"wrong bearer", req{path: dp, key: "nope", body: del(func(map[string]any) {})}, 401, "unauthorized", ""},
		{"merchant key on agent route", req{path: dp, key: acmeKey, body: del(func(map[string]any) {})}, 401, "unauthorized", ""},
		{"unsupported version", req{path: dp, key: agentKey, version: "2024-01-01", body: del(func(map[string]any) {})}, 400, "unsupported_api_version", "API-Version"},
		{"missing version", req{path: dp, key: agentKey, noVersion: true, body: del(func(map[string]any) {})}, 400, "unsupported_api_version", "API-Version"},
		{"missing idempotency key", req{path: dp, key: agentKey, body: del(func(map[string]any) {})}, 400, "idempotency_key_required", "Idempotency-Key"},
		{"wrong content type", req{path: dp, key: agentKey, contentType: "text/plain", body: del(func(map[string]any) {})}, 400, "invalid_card", "Content-Type"},
		{"body over limit", req{path: dp, key: agentKey, rawBody: big}, 413, "request_too_large", ""},

		// payments
		{"zero amount", req{path: pp, key: acmeKey, body: pay(func(b map[string]any) { b["amount"] = 0 })}, 422, "invalid_amount", "$.amount"},
		{"negative amount", req{path: pp, key: acmeKey, body: pay(func(b map[string]any) { b["amount"] = -5 })}, 422, "invalid_amount", "$.amount"},
		{"overflowing amount", req{path: pp, key: acmeKey, rawBody: fmt.Appendf(nil, `{"merchant_id":"acme","checkout_session_id":"cs_1","amount":9223372036854775808,"currency":"usd","payment_data":{"token":%q,"provider":"stripe"}}`, tok)}, 422, "invalid_amount", "$.amount"},
		{"fractional amount (jpy exponent)", req{path: pp, key: acmeKey, body: pay(func(b map[string]any) { b["amount"] = 10.5; b["currency"] = "jpy" })}, 400, "invalid_request", "$.amount"},
		{"amount as string", req{path: pp, key: acmeKey, body: pay(func(b map[string]any) { b["amount"] = "500" })}, 400, "invalid_request", "$.amount"},
		{"uppercase currency", req{path: pp, key: acmeKey, body: pay(func(b map[string]any) { b["currency"] = "USD" })}, 400, "invalid_request", "$.currency"},
		{"unknown currency", req{path: pp, key: acmeKey, body: pay(func(b map[string]any) { b["currency"] = "xyz" })}, 422, "invalid_currency", "$.currency"},
		{"missing merchant_id", req{path: pp, key: acmeKey, body: pay(func(b map[string]any) { delete(b, "merchant_id") })}, 400, "missing_field", "$.merchant_id"},
		{"unknown field", req{path: pp, key: acmeKey, body: pay(func(b map[string]any) { b["tip"] = 5 })}, 400, "invalid_request", "$.tip"},
		{"mixed payment_data shapes", req{path: pp, key: acmeKey, body: pay(func(b map[string]any) {
			b["payment_data"].(map[string]any)["handler_id"] = "h1"
		})}, 400, "invalid_request", ""},
		{"bad capture mode", req{path: pp, key: acmeKey, body: pay(func(b map[string]any) { b["capture"] = "later" })}, 400, "invalid_request", "$.capture"},
		{"token without known prefix", req{path: pp, key: acmeKey, body: pay(func(b map[string]any) { b["payment_data"].(map[string]any)["token"] = "tok_123" })}, 422, "token_invalid", ""},
		{"unknown vault token", req{path: pp, key: acmeKey, body: pay(func(b map[string]any) { b["payment_data"].(map[string]any)["token"] = "vt_doesnotexist" })}, 422, "token_invalid", ""},
		{"token of another merchant", req{path: pp, key: acmeKey, body: pay(func(b map[string]any) { b["payment_data"].(map[string]any)["token"] = otherTok })}, 422, "merchant_mismatch", ""},
		{"token of another session", req{path: pp, key: acmeKey, body: pay(func(b map[string]any) { b["checkout_session_id"] = "cs_2" })}, 422, "checkout_session_mismatch", ""},
		{"consumed token", req{path: pp, key: acmeKey, body: pay(func(b map[string]any) { b["payment_data"].(map[string]any)["token"] = used })}, 422, "token_consumed", ""},
		{"expired allowance", req{path: pp, key: acmeKey, body: pay(func(b map[string]any) { b["payment_data"].(map[string]any)["token"] = shortLived })}, 422, "token_expired", ""},
		{"amount over allowance", req{path: pp, key: acmeKey, body: pay(func(b map[string]any) { b["amount"] = 1001 })}, 422, "allowance_exceeded", "$.amount"},
		{"currency mismatch", req{path: pp, key: acmeKey, body: pay(func(b map[string]any) { b["currency"] = "eur" })}, 422, "currency_mismatch", "$.currency"},
		{"key of another merchant", req{path: pp, key: otherKey, body: pay(func(map[string]any) {})}, 403, "forbidden", "$.merchant_id"},
		{"no bearer", req{path: pp, body: pay(func(map[string]any) {})}, 401, "unauthorized", ""},
		{"agent key on merchant route", req{path: pp, key: agentKey, body: pay(func(map[string]any) {})}, 401, "unauthorized", ""},
		{"unsupported version", req{path: pp, key: acmeKey, version: "2099-01-01", body: pay(func(map[string]any) {})}, 400, "unsupported_api_version", "API-Version"},
		{"wrong content type", req{path: pp, key: acmeKey, contentType: "application/x-www-form-urlencoded", body: pay(func(map[string]any) {})}, 415, "unsupported_media_type", "Content-Type"},
		{"body over limit", req{path: pp, key: acmeKey, rawBody: big}, 413, "request_too_large", ""},
		{"capture above authorized", req{path: pp + "/" + authID + "/capture", key: acmeKey, body: map[string]any{"amount": 1001}}, 422, "amount_too_large", "$.amount"},
		{"capture negative", req{path: pp + "/" + authID + "/capture", key: acmeKey, body: map[string]any{"amount": -1}}, 422, "invalid_amount", "$.amount"},
		{"void with amount", req{path: pp + "/" + authID + "/void", key: acmeKey, body: map[string]any{"amount": 1}}, 400, "invalid_request", "$.amount"},
		{"refund of an uncaptured payment", req{path: pp + "/" + authID + "/refunds", key: acmeKey, body: map[string]any{}}, 409, "invalid_state", ""},
		{"capture of another merchant's payment", req{path: pp + "/" + authID + "/capture", key: otherKey, body: map[string]any{}}, 404, "not_found", ""},
		{"unknown payment", req{path: pp + "/pay_nope/capture", key: acmeKey, body: map[string]any{}}, 404, "not_found", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, charges := h.counts(), h.charges()
			if tt.r.idem == "" && tt.name != "missing idempotency key" {
				tt.r.idem = newKey()
			}
			r := h.do(tt.r)
			if r.status != tt.status || r.str("code") != tt.code {
				t.Fatalf("got %d %s, want %d %s", r.status, r.raw, tt.status, tt.code)
			}
			if r.str("type") == "" || r.str("message") == "" {
				t.Fatalf("not an ACP error object: %s", r.raw)
			}
			if tt.param != "" && r.str("param") != tt.param {
				t.Fatalf("param %q, want %q: %s", r.str("param"), tt.param, r.raw)
			}
			if after := h.counts(); !maps.Equal(before, after) {
				t.Fatalf("database changed: %v -> %v", before, after)
			}
			if h.charges() != charges {
				t.Fatal("the processor was charged")
			}
			if tt.code == "unsupported_api_version" {
				// Every released ACP version, newest first (the 2026-04-17
				// Error schema's order of preference).
				want := []any{"2026-04-17", "2026-01-30", "2026-01-16", "2025-12-12", "2025-09-29"}
				if sv, _ := r.body["supported_versions"].([]any); !slices.Equal(sv, want) {
					t.Fatalf("supported_versions %v, want %v: %s", sv, want, r.raw)
				}
			}
		})
	}
	if len(tests) < 30 {
		t.Fatalf("only %d cases", len(tests))
	}
}
