package acp

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// testNow is the clock of every decoder test: the allowance and card
// expiries of the fixtures lie after it.
var testNow = time.Date(2026, time.November, 26, 12, 0, 0, 0, time.UTC)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// seedFiles returns the testdata files whose name starts with prefix.
func seedFiles(t testing.TB, prefix string) map[string][]byte {
	t.Helper()
	names, err := filepath.Glob(filepath.Join("testdata", prefix+"*.json"))
	if err != nil || len(names) == 0 {
		t.Fatalf("no seeds for %s: %v", prefix, err)
	}
	out := map[string][]byte{}
	for _, n := range names {
		out[filepath.Base(n)] = readTestdata(t, filepath.Base(n))
	}
	return out
}

// del marks a field to delete in mutate.
type del struct{}

// raw is a literal JSON fragment to splice in mutate.
type raw string

// mutate decodes body, sets (or deletes, with del{}) the value at each
// dotted path (array elements as "risk_signals.0"), and re-encodes.
func mutate(t testing.TB, body []byte, edits map[string]any) []byte {
	t.Helper()
	var m any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	for path, v := range edits {
		parts := strings.Split(path, ".")
		cur := m
		for _, p := range parts[:len(parts)-1] {
			switch c := cur.(type) {
			case map[string]any:
				if _, ok := c[p]; !ok {
					c[p] = map[string]any{}
				}
				cur = c[p]
			case []any:
				cur = c[atoi(t, p)]
			}
		}
		last := parts[len(parts)-1]
		if r, ok := v.(raw); ok {
			v = json.RawMessage(r)
		}
		switch c := cur.(type) {
		case map[string]any:
			if _, ok := v.(del); ok {
				delete(c, last)
			} else {
				c[last] = v
			}
		case []any:
			c[atoi(t, last)] = v
		default:
			t.Fatalf("mutate: %s does not lead to a container", path)
		}
	}
	out, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func atoi(t testing.TB, s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			t.Fatalf("bad index %q", s)
		}
		n = n*10 + int(c-'0')
	}
	return n
}

var longDigits = regexp.MustCompile(`[0-9]{12,}`)

// assertNoPAN fails when the error's message or param contains any run of
// 12 or more digits that appears in the input.
func assertNoPAN(t testing.TB, input []byte, e *Error) {
	t.Helper()
	for _, run := range longDigits.FindAllString(string(input), -1) {
		for i := 0; i+12 <= len(run); i++ {
			sub := run[i : i+12]
			if strings.Contains(e.Message, sub) || strings.Contains(e.Param, sub) {
				t.Fatalf("error leaks a digit run of the input: %+v", e)
			}
		}
	}
}

// encodeDelegate writes r back as a Delegate Payment request body, the
// inverse of DecodeDelegateRequest for accepted requests.
func encodeDelegate(r DelegateRequest) []byte {
	c := r.PaymentMethod
	pm := map[string]any{
		"type": c.Type, "card_number_type": c.CardNumberType, "number": c.Number,
		"display_card_funding_type": c.DisplayCardFundingType, "metadata": c.Metadata,
	}
	opt := map[string]string{"exp_month": c.ExpMonth, "exp_year": c.ExpYear, "name": c.Name, "cvc": c.CVC,
		"cryptogram": c.Cryptogram, "eci_value": c.ECIValue, "iin": c.IIN, "display_wallet_type": c.DisplayWalletType,
		"display_brand": c.DisplayBrand, "display_last4": c.DisplayLast4}
	for k, v := range opt {
		if v != "" {
			pm[k] = v
		}
	}
	if c.ChecksPerformed != nil {
		pm["checks_performed"] = c.ChecksPerformed
	}
	if c.Virtual != nil {
		pm["virtual"] = *c.Virtual
	}
	a := r.Allowance
	body := map[string]any{
		"payment_method": pm,
		"allowance": map[string]any{"reason": a.Reason, "max_amount": a.MaxAmount, "currency": a.Currency,
			"checkout_session_id": a.CheckoutSessionID, "merchant_id": a.MerchantID,
			"expires_at": a.ExpiresAt.Format(time.RFC3339Nano)},
		"metadata": r.Metadata,
	}
	if b := r.BillingAddress; b != nil {
		body["billing_address"] = encodeAddress(b)
	}
	rs := []any{}
	for _, s := range r.RiskSignals {
		rs = append(rs, map[string]any{"type": s.Type, "score": s.Score, "action": s.Action})
	}
	body["risk_signals"] = rs
	out, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	return out
}

func encodeAddress(b *Address) map[string]any {
	m := map[string]any{"name": b.Name, "line_one": b.LineOne, "city": b.City, "state": b.State,
		"country": b.Country, "postal_code": b.PostalCode}
	if b.LineTwo != "" {
		m["line_two"] = b.LineTwo
	}
	return m
}

// encodePayment writes r back as a POST /v1/payments body.
func encodePayment(r PaymentRequest) []byte {
	pd := r.PaymentData
	data := map[string]any{}
	if pd.Shape == ShapeToken {
		data["token"], data["provider"] = pd.Token, pd.Provider
	} else {
		data["handler_id"] = pd.HandlerID
		data["instrument"] = map[string]any{"type": pd.InstrumentType,
			"credential": map[string]any{"type": pd.CredentialType, "token": pd.Token}}
		if pd.PurchaseOrderNumber != "" {
			data["purchase_order_number"] = pd.PurchaseOrderNumber
		}
		if pd.PaymentTerms != "" {
			data["payment_terms"] = pd.PaymentTerms
		}
		if !pd.DueDate.IsZero() {
			data["due_date"] = pd.DueDate.Format(time.RFC3339Nano)
		}
		if pd.ApprovalRequired != nil {
			data["approval_required"] = *pd.ApprovalRequired
		}
	}
	if pd.BillingAddress != nil {
		data["billing_address"] = encodeAddress(pd.BillingAddress)
	}
	body := map[string]any{"merchant_id": r.MerchantID, "checkout_session_id": r.CheckoutSessionID,
		"amount": r.Amount, "currency": r.Currency, "payment_data": data, "capture": r.Capture}
	if r.Metadata != nil {
		body["metadata"] = r.Metadata
	}
	if a := r.Authentication; a != nil {
		ar := map[string]any{"outcome": string(a.Outcome)}
		if a.Cryptogram != "" || a.ECI != "" || a.TransactionID != "" || a.Version != "" {
			ar["outcome_details"] = map[string]any{"three_ds_cryptogram": a.Cryptogram,
				"electronic_commerce_indicator": a.ECI, "transaction_id": a.TransactionID, "version": a.Version}
		}
		body["authentication_result"] = ar
	}
	out, err := json.Marshal(body)
	if err != nil {
		panic(err)
	}
	return out
}
