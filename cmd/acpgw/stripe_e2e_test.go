package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"acpgw/api/apitest"
	"acpgw/providers/stripe/stripetest"
)

// TestStripeEndToEnd runs the gateway with a merchant routed to a Stripe
// processor pointed at stripe-mock, delegates a card and pays with it.
func TestStripeEndToEnd(t *testing.T) {
	mockURL := stripetest.StripeMock(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	y := fmt.Sprintf(`store: {driver: sqlite, dsn: %q}
vault: {keys: [{id: k1, key: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}]}
server: {drain_delay: 0s}
agents: [{id: a, api_key: agent-key}]
processors:
  stripe_us: {type: stripe, secret_key: sk_test_123, base_url: %q, webhook_secret: whsec_test, timeout: 5s,
              fees: {percent: 2.9, fixed: 30, currency: usd}}
merchants:
  - {id: m, api_key: merchant-key, processors: [stripe_us]}
`, filepath.Join(dir, "db.sqlite"), mockURL)
	if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	base, stop := serveConfig(t, cfg)

	post := func(path, key string, body any) (int, map[string]any) {
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, base+path, bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("API-Version", "2026-04-17")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", fmt.Sprint(time.Now().UnixNano()))
		resp, err := apitest.Must(t).Client(t, 30*time.Second).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return resp.StatusCode, m
	}
	st, tok := post("/agentic_commerce/delegate_payment", "agent-key", map[string]any{
		"payment_method": map[string]any{"type": "card", "card_number_type": "fpan", "number": "4242424242424242",
			"exp_month": "12", "exp_year": "2034", "cvc": "123", "display_last4": "4242", "display_brand": "visa", "display_card_funding_type": "credit", "name": "Jane", "checks_performed": []string{"cvv"}, "metadata": map[string]any{}},
		"allowance": map[string]any{"reason": "one_time", "max_amount": 5000, "currency": "usd", "checkout_session_id": "cs_1",
			"merchant_id": "m", "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)},
		"risk_signals": []any{}, "metadata": map[string]any{},
	})
	if st != http.StatusCreated {
		t.Fatalf("delegate: %d %v", st, tok)
	}
	st, pay := post("/v1/payments", "merchant-key", map[string]any{
		"merchant_id": "m", "checkout_session_id": "cs_1", "amount": 2599, "currency": "usd",
		"payment_data": map[string]any{"token": tok["id"], "provider": "stripe"}, "capture": "automatic",
	})
	if st != http.StatusCreated || pay["processor"] != "stripe_us" || pay["processor_type"] != "stripe" {
		t.Fatalf("pay on stripe-mock: %d %v", st, pay)
	}
	t.Logf("stripe-mock payment: status %v, reference %v", pay["status"], pay["processor_reference"])
	stop()
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
