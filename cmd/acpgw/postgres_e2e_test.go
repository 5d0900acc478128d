package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"acpgw/api/apitest"
	"acpgw/store/postgres/pgtest"
)

// TestPostgresEndToEnd: serve refuses an unmigrated Postgres, `acpgw
// migrate` prepares it, payments work on it, and a dump of the database
// holds no card number or CVC.
func TestPostgresEndToEnd(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	y := fmt.Sprintf(`store: {driver: postgres, dsn: %q, max_conns: 4, statement_timeout: 5s}
vault: {keys: [{id: k1, key: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}]}
server: {drain_delay: 0s}
agents: [{id: a, api_key: agent-key}]
processors:
  mock: {type: mock}
merchants:
  - {id: m, api_key: merchant-key, processors: [mock]}
`, dsn)
	if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"serve", "--config", cfg, "--listen", "127.0.0.1:0"}, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "acpgw migrate") {
		t.Fatalf("serve on an unmigrated database: %d %s", code, errb.String())
	}
	errb.Reset()
	if code := run(context.Background(), []string{"migrate", "--config", cfg}, &out, &errb); code != 0 {
		t.Fatalf("migrate: %s", errb.String())
	}
	base, stop := serveConfig(t, cfg)
	cards := []string{"4242424242424242", "4000000000000002", "5555555555554444"}
	for i, card := range cards {
		tok := postJSON(t, base+"/agentic_commerce/delegate_payment", "agent-key", map[string]any{
			"payment_method": map[string]any{"type": "card", "card_number_type": "fpan", "number": card,
				"exp_month": "12", "exp_year": "2034", "cvc": "9182", "name": "Jane", "display_last4": card[12:], "display_brand": "visa",
				"display_card_funding_type": "credit", "checks_performed": []string{"cvv"}, "metadata": map[string]any{}},
			"allowance": map[string]any{"reason": "one_time", "max_amount": 5000, "currency": "usd", "checkout_session_id": "cs_1",
				"merchant_id": "m", "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)},
			"risk_signals": []any{}, "metadata": map[string]any{},
		}, http.StatusCreated)
		pay := postJSON(t, base+"/v1/payments", "merchant-key", map[string]any{
			"merchant_id": "m", "checkout_session_id": "cs_1", "amount": 1000 + i, "currency": "usd",
			"payment_data": map[string]any{"token": tok["id"], "provider": "stripe"},
		}, http.StatusCreated)
		if pay["status"] != "captured" && pay["status"] != "declined" {
			t.Fatalf("payment %d: %v", i, pay)
		}
	}
	stop()
	dump, err := exec.Command("pg_dump", "--data-only", dsn).CombinedOutput()
	if err != nil {
		t.Fatalf("pg_dump: %v %s", err, dump)
	}
	if !bytes.Contains(dump, []byte("pay_")) {
		t.Fatal("the dump holds no payments: the search below would prove nothing")
	}
	for _, c := range cards {
		if bytes.Contains(dump, []byte(c)) || bytes.Contains(dump, []byte(hex.EncodeToString([]byte(c)))) {
			t.Errorf("database dump contains %s…", c[:4])
		}
	}
	// Four digits turn up by chance inside the hex of sealed bytea columns
	// and in random ids; the CVC as a value stands alone (a COPY field, a
	// JSON string) or is hex of its ASCII in a bytea column.
	if standalone := regexp.MustCompile(`(^|[^0-9A-Za-z])9182([^0-9A-Za-z]|$)`); standalone.Match(dump) ||
		bytes.Contains(dump, []byte(hex.EncodeToString([]byte("9182")))) {
		t.Error("database dump contains the CVC")
	}
}

func postJSON(t *testing.T, url, key string, body any, want int) map[string]any {
	t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("API-Version", "2026-04-17")
	req.Header.Set("Idempotency-Key", fmt.Sprint(time.Now().UnixNano()))
	resp, err := apitest.Must(t).Client(t, 30*time.Second).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	if resp.StatusCode != want {
		t.Fatalf("%s: %d %s", url, resp.StatusCode, b)
	}
	return m
}
