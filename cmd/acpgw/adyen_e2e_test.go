package main

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"acpgw/api/apitest"
	"acpgw/providers/adyen"
	"acpgw/providers/adyen/adyentest"
)

// TestAdyenEndToEnd: a merchant routed to an Adyen processor (the fake,
// which validates every request against Adyen's OpenAPI) is charged,
// captured and refunded through the binary; Adyen's webhooks settle each
// step; the settlement import records actual fees once; the fee report shows
// estimated and actual fees.
func TestAdyenEndToEnd(t *testing.T) {
	fake := adyentest.NewServer(t, adyentest.Options{})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	y := fmt.Sprintf(`store: {driver: sqlite, dsn: %q}
vault: {keys: [{id: k1, key: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}]}
server: {drain_delay: 0s}
agents: [{id: a, api_key: agent-key}]
reports: [{id: finance, api_key: finance-key}]
processors:
  adyen_eu: {type: adyen, api_key: %q, merchant_account: %q, base_url: %q, hmac_key: %q, timeout: 5s,
             fees: {percent: 0.6, fixed: 13, currency: eur, interchange_percent: 0.3}}
merchants:
  - {id: m, api_key: merchant-key, processors: [adyen_eu], country: DE}
`, filepath.Join(dir, "db.sqlite"), fake.APIKey, fake.MerchantAccount, fake.BaseURL, fake.HMACKey)
	if err := os.WriteFile(cfg, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	base, stop := serveConfig(t, cfg)
	ctx := t.Context()

	call := func(method, path, key string, body any) (int, map[string]any) {
		var rd io.Reader
		if body != nil {
			raw, _ := json.Marshal(body)
			rd = bytes.NewReader(raw)
		}
		req, _ := http.NewRequest(method, base+path, rd)
		req.Header.Set("Authorization", "Bearer "+key)
		req.Header.Set("API-Version", "2026-04-17")
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", fmt.Sprint(time.Now().UnixNano()))
		}
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
	deliver := func() {
		t.Helper()
		n, err := fake.DeliverWebhooks(ctx, base+"/webhooks/adyen_eu")
		if err != nil || n == 0 {
			t.Fatalf("webhooks: %d %v", n, err)
		}
	}
	st, tok := call(http.MethodPost, "/agentic_commerce/delegate_payment", "agent-key", map[string]any{
		"payment_method": map[string]any{"type": "card", "card_number_type": "fpan", "number": "4242424242424242",
			"exp_month": "12", "exp_year": "2034", "cvc": "737", "name": "Jane", "display_last4": "4242", "display_brand": "visa",
			"display_card_funding_type": "credit", "checks_performed": []string{"cvv"}, "metadata": map[string]any{}},
		"allowance": map[string]any{"reason": "one_time", "max_amount": 5000, "currency": "eur", "checkout_session_id": "cs_1",
			"merchant_id": "m", "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)},
		"risk_signals": []any{}, "metadata": map[string]any{},
	})
	if st != http.StatusCreated {
		t.Fatalf("delegate: %d %v", st, tok)
	}
	st, pay := call(http.MethodPost, "/v1/payments", "merchant-key", map[string]any{
		"merchant_id": "m", "checkout_session_id": "cs_1", "amount": 2599, "currency": "eur",
		"payment_data": map[string]any{"token": tok["id"], "provider": "stripe"}, "capture": "manual",
	})
	if st != http.StatusCreated || pay["status"] != "authorized" || pay["processor_type"] != "adyen" {
		t.Fatalf("pay: %d %v", st, pay)
	}
	id, psp := pay["id"].(string), pay["processor_reference"].(string)
	deliver() // AUTHORISATION

	st, p := call(http.MethodPost, "/v1/payments/"+id+"/capture", "merchant-key", map[string]any{})
	if st != http.StatusAccepted || p["status"] != "authorized" {
		t.Fatalf("capture before its webhook: %d %v", st, p)
	}
	deliver() // CAPTURE
	if _, p = call(http.MethodGet, "/v1/payments/"+id, "merchant-key", nil); p["status"] != "captured" {
		t.Fatalf("after CAPTURE webhook: %v", p)
	}
	st, p = call(http.MethodPost, "/v1/payments/"+id+"/refunds", "merchant-key", map[string]any{"amount": 599})
	if st != http.StatusAccepted {
		t.Fatalf("refund: %d %v", st, p)
	}
	deliver() // REFUND
	if _, p = call(http.MethodGet, "/v1/payments/"+id, "merchant-key", nil); p["status"] != "partially_refunded" || p["amount_refunded"] != float64(599) {
		t.Fatalf("after REFUND webhook: %v", p)
	}
	if fake.Violations() != 0 || fake.ChargeCount() != 1 {
		t.Fatalf("fake: %d spec violations, %d charges", fake.Violations(), fake.ChargeCount())
	}

	// The settlement report: our payment's Settled row, a row for a payment
	// acpgw does not know, and the same row twice.
	report := filepath.Join(dir, "settlement.csv")
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	_ = w.Write(adyen.SettlementHeader)
	row := func(psp, typ, commission string) []string {
		r := make([]string, len(adyen.SettlementHeader))
		set := func(col, v string) {
			for i, h := range adyen.SettlementHeader {
				if h == col {
					r[i] = v
				}
			}
		}
		set(adyen.ColCompany, "AcmeCompany")
		set(adyen.ColMerchant, fake.MerchantAccount)
		set(adyen.ColPSPReference, psp)
		set(adyen.ColType, typ)
		set(adyen.ColGrossCurrency, "EUR")
		set(adyen.ColGrossCredit, "25.99")
		set(adyen.ColNetCurrency, "EUR")
		set(adyen.ColNetCredit, "25.70")
		set(adyen.ColCommission, commission)
		set(adyen.ColMarkup, "0.05")
		set(adyen.ColSchemeFees, "0.03")
		set(adyen.ColInterchange, "0.08")
		return r
	}
	_ = w.Write(row(psp, "Settled", "0.13"))
	_ = w.Write(row("9999999999999999", "Settled", "0.10"))
	_ = w.Write(row(psp, "Settled", "0.13"))
	w.Flush()
	if err := os.WriteFile(report, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"1 new, 0 already imported", "0 new, 1 already imported"} {
		var o, e bytes.Buffer
		if code := run(ctx, []string{"fees", "import-adyen", "--config", cfg, "--processor", "adyen_eu", report}, &o, &e); code != 0 {
			t.Fatalf("import %d: %d %s", i, code, e.String())
		}
		if !strings.Contains(o.String(), want) || !strings.Contains(o.String(), "unmatched (no such payment): 1, duplicate rows in the file: 1") {
			t.Fatalf("import %d: %s", i, o.String())
		}
	}
	// 0.13 + 0.05 + 0.03 + 0.08 = 0.29 eur.
	_, p = call(http.MethodGet, "/v1/payments/"+id, "merchant-key", nil)
	if fee := p["fee"].(map[string]any); fee["actual"] != float64(29) || fee["currency"] != "eur" {
		t.Fatalf("actual fee: %v", fee)
	}
	_, rep := call(http.MethodGet, "/v1/reports/fees?group_by=processor", "finance-key", nil)
	tot := rep["totals"].([]any)[0].(map[string]any)
	if tot["fee_actual"] != float64(29) || tot["fee_estimated"].(float64) <= 0 || tot["refunded"] != float64(599) {
		t.Fatalf("fee report: %v", rep)
	}
	stop()
}
