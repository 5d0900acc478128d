package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"acpgw/events/receiver"
)

// TestConfigCheckRefusesBadEvents: config check names the file and line of
// each bad events setting: http to a public host, an empty secret, an
// unknown type.
func TestConfigCheckRefusesBadEvents(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "bad.yaml")
	y := `vault: {keys: [{id: k1, key: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}]}
processors:
  mock: {type: mock}
merchants:
  - id: a
    api_key: a-key
    processors: [mock]
    events:
      url: "http://shop.example/acpgw-events"
      secret: whsec_0123456789abcdef
  - id: b
    api_key: b-key
    processors: [mock]
    events:
      url: "https://b.example/events"
      secret: ""
  - id: c
    api_key: c-key
    processors: [mock]
    events:
      url: "http://127.0.0.1:9099/merchant/events"
      secret: whsec_0123456789abcdef
      types: [payment.captured, payment.shipped]
`
	if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"config", "check", "--config", cfg}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, errb.String())
	}
	for _, want := range []string{
		"bad.yaml:9: merchants[0].events.url: http:// is only allowed to a loopback address",
		"bad.yaml:16: merchants[1].events.secret: secret is required",
		`bad.yaml:23: merchants[2].events.types[1]: unknown event type "payment.shipped"`,
	} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("config check output lacks %q:\n%s", want, errb.String())
		}
	}
}

// TestEventsTail: events tail prints a merchant's events with where their
// delivery stands, and refuses an unknown merchant.
func TestEventsTail(t *testing.T) {
	recv := receiver.New(receiver.Options{Secrets: []string{"whsec_tail_test_0000"}})
	rs := httptest.NewServer(recv)
	defer rs.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	y := fmt.Sprintf(`store: {driver: sqlite, dsn: %q}
vault: {keys: [{id: k1, key: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}]}
agents: [{id: a, api_key: agent-key}]
processors:
  mock: {type: mock}
merchants:
  - {id: m, api_key: merchant-key, processors: [mock], events: {url: %q, secret: whsec_tail_test_0000, types: [payment.captured]}}
events: {timeout: 2s, retry_initial: 100ms, retry_max: 1s}
`, filepath.Join(dir, "db.sqlite"), rs.URL+receiver.PathEvents)
	if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	base, stop := serveConfig(t, cfg)
	tok := postJSON(t, base+"/agentic_commerce/delegate_payment", "agent-key", map[string]any{
		"payment_method": map[string]any{"type": "card", "card_number_type": "fpan", "number": "4242424242424242",
			"exp_month": "12", "exp_year": "2034", "cvc": "123", "name": "Jane", "display_last4": "4242", "display_brand": "visa",
			"display_card_funding_type": "credit", "checks_performed": []string{"cvv"}, "metadata": map[string]any{}},
		"allowance": map[string]any{"reason": "one_time", "max_amount": 5000, "currency": "usd", "checkout_session_id": "cs_1",
			"merchant_id": "m", "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)},
		"risk_signals": []any{}, "metadata": map[string]any{},
	}, http.StatusCreated)
	pay := postJSON(t, base+"/v1/payments", "merchant-key", map[string]any{
		"merchant_id": "m", "checkout_session_id": "cs_1", "amount": 1000, "currency": "usd",
		"payment_data": map[string]any{"token": tok["id"], "provider": "stripe"},
	}, http.StatusCreated)
	stop() // what is pending now stays pending, and tail shows it so

	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"events", "tail", "--config", cfg, "--merchant", "m", "--follow=false"}, &out, &errb); code != 0 {
		t.Fatalf("events tail: %d %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 1 || !strings.Contains(lines[0], "evt_") || !strings.Contains(lines[0], "payment.captured") ||
		!strings.Contains(lines[0], pay["id"].(string)) || !strings.Contains(lines[0], "attempts)") {
		t.Fatalf("events tail printed:\n%s", out.String())
	}
	errb.Reset()
	if code := run(context.Background(), []string{"events", "tail", "--config", cfg, "--merchant", "nobody", "--follow=false"}, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), `merchant "nobody"`) {
		t.Fatalf("unknown merchant: %d %s", code, errb.String())
	}
	if code := run(context.Background(), []string{"events", "tail", "--config", cfg}, &out, &errb); code != 2 {
		t.Fatalf("no --merchant: exit %d", code)
	}
}
