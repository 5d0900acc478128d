package acp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"acpgw/acp/acpspec"
)

const v1, v2 = Version20250929, Version20260417

// before20260417 is every version before 2026-04-17; from20251212 every
// version with the display_last4 pattern.
var (
	before20260417 = []string{Version20250929, Version20251212, Version20260116, Version20260130}
	from20251212   = []string{Version20251212, Version20260116, Version20260130, Version20260417}
)

func TestSupportedVersion(t *testing.T) {
	t.Parallel()
	for _, v := range Versions {
		if !SupportedVersion(v) {
			t.Errorf("SupportedVersion(%q) = false", v)
		}
	}
	// Every released version, as the spec folders name them: an outside
	// list, so that a version dropped from Versions fails here.
	for _, v := range []string{"2025-09-29", "2025-12-12", "2026-01-16", "2026-01-30", "2026-04-17"} {
		if !SupportedVersion(v) {
			t.Errorf("SupportedVersion(%q) = false for a released version", v)
		}
	}
	for _, v := range []string{"", "2026-01-31", "2025-09-29 ", "2025-9-29", "latest", "2026-01-28"} {
		if SupportedVersion(v) {
			t.Errorf("SupportedVersion(%q) = true", v)
		}
	}
	if !slices.IsSorted(Versions) {
		t.Errorf("Versions not oldest first: %v", Versions)
	}
}

// badDelegateCase is one invalid Delegate Payment request and the error it
// must produce.
type badDelegateCase struct {
	name     string
	versions []string // nil: every version
	body     []byte
	status   int
	param    string
}

// delegateRejectCases are the invalid Delegate Payment requests; the spec
// conformance test reuses them.
func delegateRejectCases(t testing.TB) []badDelegateCase {
	base := readTestdata(t, "delegate_valid_fpan.json")
	m := func(edits map[string]any) []byte { return mutate(t, base, edits) }
	const s400, s422 = http.StatusBadRequest, http.StatusUnprocessableEntity
	deep := strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40)
	return []badDelegateCase{
		// JSON layer
		{name: "malformed", body: []byte(`{"payment_method":`), status: s400},
		{name: "syntax error", body: []byte(`{"payment_method" 1}`), status: s400},
		{name: "trailing object", body: readTestdata(t, "delegate_bad_trailing.json"), status: s400},
		{name: "trailing garbage", body: append(bytes.Clone(base), 'x'), status: s400},
		{name: "array body", body: []byte(`[]`), status: s400, param: "$"},
		{name: "null body", body: []byte(`null`), status: s400, param: "$"},
		{name: "string body", body: []byte(`"4242424242424242"`), status: s400, param: "$"},
		{name: "empty body", body: nil, status: s400},
		{name: "duplicate key", body: readTestdata(t, "delegate_bad_duplicate_key.json"), status: s400},
		{name: "invalid utf8", body: []byte("{\"metadata\":{\"a\":\"\xff\"}}"), status: s400},
		{name: "too deep", body: m(map[string]any{"metadata": raw(deep)}), status: s400},
		// unknown fields at every level
		{name: "unknown top", body: m(map[string]any{"extra": 1}), status: s400, param: "$.extra"},
		{name: "unknown card", body: m(map[string]any{"payment_method.foo": "x"}), status: s400, param: "$.payment_method.foo"},
		{name: "unknown allowance", body: m(map[string]any{"allowance.bar": "x"}), status: s400, param: "$.allowance.bar"},
		{name: "unknown address", body: m(map[string]any{"billing_address.zip": "x"}), status: s400, param: "$.billing_address.zip"},
		{name: "unknown risk", body: m(map[string]any{"risk_signals.0.note": "x"}), status: s400, param: "$.risk_signals[0].note"},
		{name: "unknown PAN key", body: m(map[string]any{"payment_method.4242424242424242": "x"}), status: s400, param: "$.payment_method"},
		// required fields
		{name: "no payment_method", body: m(map[string]any{"payment_method": del{}}), status: s400, param: "$.payment_method"},
		{name: "no allowance", body: m(map[string]any{"allowance": del{}}), status: s400, param: "$.allowance"},
		{name: "no risk_signals", body: m(map[string]any{"risk_signals": del{}}), status: s400, param: "$.risk_signals"},
		{name: "no metadata", body: m(map[string]any{"metadata": del{}}), status: s400, param: "$.metadata"},
		{name: "no number", body: m(map[string]any{"payment_method.number": del{}}), status: s400, param: "$.payment_method.number"},
		{name: "no card metadata", body: m(map[string]any{"payment_method.metadata": del{}}), status: s400, param: "$.payment_method.metadata"},
		{name: "no funding type", body: m(map[string]any{"payment_method.display_card_funding_type": del{}}), status: s400, param: "$.payment_method.display_card_funding_type"},
		{name: "no expires_at", body: m(map[string]any{"allowance.expires_at": del{}}), status: s400, param: "$.allowance.expires_at"},
		{name: "no merchant_id", body: m(map[string]any{"allowance.merchant_id": del{}}), status: s400, param: "$.allowance.merchant_id"},
		{name: "no city", body: m(map[string]any{"billing_address.city": del{}}), status: s400, param: "$.billing_address.city"},
		{name: "no risk action", body: m(map[string]any{"risk_signals.0.action": del{}}), status: s400, param: "$.risk_signals[0].action"},
		// JSON types are never coerced
		{name: "number as number", body: m(map[string]any{"payment_method.number": raw("4242424242424242")}), status: s400, param: "$.payment_method.number"},
		{name: "max_amount string", body: m(map[string]any{"allowance.max_amount": "2000"}), status: s400, param: "$.allowance.max_amount"},
		{name: "max_amount float", body: readTestdata(t, "delegate_bad_float_amount.json"), status: s400, param: "$.allowance.max_amount"},
		{name: "max_amount fraction exponent", body: m(map[string]any{"allowance.max_amount": raw("2.5e0")}), status: s400, param: "$.allowance.max_amount"},
		{name: "max_amount negative exponent", body: m(map[string]any{"allowance.max_amount": raw("1e-1")}), status: s400, param: "$.allowance.max_amount"},
		{name: "max_amount null", body: m(map[string]any{"allowance.max_amount": nil}), status: s400, param: "$.allowance.max_amount"},
		{name: "billing_address null", body: m(map[string]any{"billing_address": nil}), status: s400, param: "$.billing_address"},
		{name: "payment_method array", body: m(map[string]any{"payment_method": []any{}}), status: s400, param: "$.payment_method"},
		{name: "metadata value number", body: m(map[string]any{"metadata.campaign": 4}), status: s400, param: "$.metadata.campaign"},
		{name: "card metadata array", body: m(map[string]any{"payment_method.metadata": []any{}}), status: s400, param: "$.payment_method.metadata"},
		{name: "virtual string", body: m(map[string]any{"payment_method.virtual": "no"}), status: s400, param: "$.payment_method.virtual"},
		{name: "risk score float", body: m(map[string]any{"risk_signals.0.score": 1.5}), status: s400, param: "$.risk_signals[0].score"},
		{name: "risk score string", body: m(map[string]any{"risk_signals.0.score": "10"}), status: s400, param: "$.risk_signals[0].score"},
		{name: "risk_signals object", body: m(map[string]any{"risk_signals": map[string]any{}}), status: s400, param: "$.risk_signals"},
		// enums
		{name: "type bank", body: m(map[string]any{"payment_method.type": "bank"}), status: s400, param: "$.payment_method.type"},
		{name: "card_number_type dpan", body: m(map[string]any{"payment_method.card_number_type": "dpan"}), status: s400, param: "$.payment_method.card_number_type"},
		{name: "card_number_type PAN", body: m(map[string]any{"payment_method.card_number_type": "4242424242424242"}), status: s400, param: "$.payment_method.card_number_type"},
		{name: "funding charge", body: m(map[string]any{"payment_method.display_card_funding_type": "charge"}), status: s400, param: "$.payment_method.display_card_funding_type"},
		{name: "checks_performed item", body: m(map[string]any{"payment_method.checks_performed": []any{"avs", "3ds"}}), status: s400, param: "$.payment_method.checks_performed[1]"},
		{name: "reason recurring", body: m(map[string]any{"allowance.reason": "recurring"}), status: s400, param: "$.allowance.reason"},
		{name: "risk type", body: m(map[string]any{"risk_signals.0.type": "velocity"}), status: s400, param: "$.risk_signals[0].type"},
		{name: "risk action", body: m(map[string]any{"risk_signals.0.action": "deny"}), status: s400, param: "$.risk_signals[0].action"},
		// maxLength and patterns
		{name: "exp_month 3 chars", body: m(map[string]any{"payment_method.exp_month": "012"}), status: s400, param: "$.payment_method.exp_month"},
		{name: "exp_year 5 chars", body: m(map[string]any{"payment_method.exp_year": "20300"}), status: s400, param: "$.payment_method.exp_year"},
		{name: "cvc 5 chars", body: m(map[string]any{"payment_method.cvc": "12345"}), status: s400, param: "$.payment_method.cvc"},
		{name: "eci 3 chars", body: m(map[string]any{"payment_method.eci_value": "005"}), status: s400, param: "$.payment_method.eci_value"},
		{name: "iin 9 chars", body: m(map[string]any{"payment_method.iin": "424242424"}), status: s400, param: "$.payment_method.iin"},
		{name: "iin 7 chars before 2026-04-17", versions: before20260417, body: m(map[string]any{"payment_method.iin": "4242424"}), status: s400, param: "$.payment_method.iin"},
		{name: "last4 5 chars", body: m(map[string]any{"payment_method.display_last4": "42424"}), status: s400, param: "$.payment_method.display_last4"},
		{name: "last4 short pattern", versions: from20251212, body: m(map[string]any{"payment_method.display_last4": "42"}), status: s400, param: "$.payment_method.display_last4"},
		{name: "last4 short v1 semantic", versions: []string{v1}, body: m(map[string]any{"payment_method.display_last4": "42"}), status: s422, param: "$.payment_method.display_last4"},
		{name: "currency upper", body: m(map[string]any{"allowance.currency": "USD"}), status: s400, param: "$.allowance.currency"},
		{name: "currency 4 letters", body: m(map[string]any{"allowance.currency": "usdd"}), status: s400, param: "$.allowance.currency"},
		{name: "merchant_id 257", body: m(map[string]any{"allowance.merchant_id": strings.Repeat("m", 257)}), status: s400, param: "$.allowance.merchant_id"},
		{name: "line_one 61", body: m(map[string]any{"billing_address.line_one": strings.Repeat("é", 61)}), status: s400, param: "$.billing_address.line_one"},
		{name: "country 3", body: m(map[string]any{"billing_address.country": "USA"}), status: s400, param: "$.billing_address.country"},
		{name: "country 1", body: m(map[string]any{"billing_address.country": "U"}), status: s400, param: "$.billing_address.country"},
		{name: "expires_at words", body: m(map[string]any{"allowance.expires_at": "tomorrow"}), status: s400, param: "$.allowance.expires_at"},
		{name: "expires_at Feb 30", body: m(map[string]any{"allowance.expires_at": "2030-02-30T00:00:00Z"}), status: s400, param: "$.allowance.expires_at"},
		{name: "expires_at no zone", body: m(map[string]any{"allowance.expires_at": "2030-01-01T00:00:00"}), status: s400, param: "$.allowance.expires_at"},
		{name: "risk_signals empty before 2026-04-17", versions: before20260417, body: m(map[string]any{"risk_signals": []any{}}), status: s400, param: "$.risk_signals"},
		// semantic (422)
		{name: "luhn", body: m(map[string]any{"payment_method.number": "4242424242424241"}), status: s422, param: "$.payment_method.number"},
		{name: "number letters", body: m(map[string]any{"payment_method.number": "4242-4242-4242-4242"}), status: s422, param: "$.payment_method.number"},
		{name: "number short", body: m(map[string]any{"payment_method.number": "4242"}), status: s422, param: "$.payment_method.number"},
		{name: "number 20 digits", body: m(map[string]any{"payment_method.number": "42424242424242424242"}), status: s422, param: "$.payment_method.number"},
		{name: "exp_month 13", body: m(map[string]any{"payment_method.exp_month": "13"}), status: s422, param: "$.payment_method.exp_month"},
		{name: "exp_month 00", body: m(map[string]any{"payment_method.exp_month": "00"}), status: s422, param: "$.payment_method.exp_month"},
		{name: "exp_month empty", body: m(map[string]any{"payment_method.exp_month": ""}), status: s422, param: "$.payment_method.exp_month"},
		{name: "exp_month sign", body: m(map[string]any{"payment_method.exp_month": "+1"}), status: s422, param: "$.payment_method.exp_month"},
		{name: "exp_year 2 digits", body: m(map[string]any{"payment_method.exp_year": "30"}), status: s422, param: "$.payment_method.exp_year"},
		{name: "exp_year without month", body: m(map[string]any{"payment_method.exp_month": del{}}), status: s422, param: "$.payment_method.exp_month"},
		{name: "exp_month without year", body: m(map[string]any{"payment_method.exp_year": del{}}), status: s422, param: "$.payment_method.exp_year"},
		{name: "card expired last month", body: m(map[string]any{"payment_method.exp_month": "10", "payment_method.exp_year": "2026"}), status: s422, param: "$.payment_method.exp_year"},
		{name: "cvc 2 digits", body: m(map[string]any{"payment_method.cvc": "12"}), status: s422, param: "$.payment_method.cvc"},
		{name: "cvc letters", body: m(map[string]any{"payment_method.cvc": "12a"}), status: s422, param: "$.payment_method.cvc"},
		{name: "iin mismatch", body: m(map[string]any{"payment_method.iin": "411111"}), status: s422, param: "$.payment_method.iin"},
		{name: "iin letters", body: m(map[string]any{"payment_method.iin": "42x"}), status: s422, param: "$.payment_method.iin"},
		{name: "last4 mismatch", body: m(map[string]any{"payment_method.display_last4": "1111"}), status: s422, param: "$.payment_method.display_last4"},
		{name: "max_amount zero", body: m(map[string]any{"allowance.max_amount": 0}), status: s422, param: "$.allowance.max_amount"},
		{name: "max_amount negative", body: m(map[string]any{"allowance.max_amount": -5}), status: s422, param: "$.allowance.max_amount"},
		{name: "max_amount 1e19", body: m(map[string]any{"allowance.max_amount": raw("1e19")}), status: s422, param: "$.allowance.max_amount"},
		{name: "max_amount zero with exponent", body: m(map[string]any{"allowance.max_amount": raw("0e5")}), status: s422, param: "$.allowance.max_amount"},
		{name: "max_amount overflow", body: m(map[string]any{"allowance.max_amount": raw("9223372036854775808")}), status: s422, param: "$.allowance.max_amount"},
		{name: "max_amount huge negative", body: m(map[string]any{"allowance.max_amount": raw("-99999999999999999999")}), status: s422, param: "$.allowance.max_amount"},
		{name: "currency unknown", body: m(map[string]any{"allowance.currency": "xyz"}), status: s422, param: "$.allowance.currency"},
		{name: "session empty", body: m(map[string]any{"allowance.checkout_session_id": ""}), status: s422, param: "$.allowance.checkout_session_id"},
		{name: "merchant empty", body: m(map[string]any{"allowance.merchant_id": ""}), status: s422, param: "$.allowance.merchant_id"},
		{name: "allowance expired", body: m(map[string]any{"allowance.expires_at": "2026-11-26T11:59:59Z"}), status: s422, param: "$.allowance.expires_at"},
		{name: "allowance expired, offset", body: m(map[string]any{"allowance.expires_at": "2026-11-26T13:00:00+02:00"}), status: s422, param: "$.allowance.expires_at"},
		{name: "allowance expires now", body: m(map[string]any{"allowance.expires_at": "2026-11-26T12:00:00Z"}), status: s422, param: "$.allowance.expires_at"},
		{name: "country digits", body: m(map[string]any{"billing_address.country": "1A"}), status: s422, param: "$.billing_address.country"},
		{name: "risk score overflow", body: m(map[string]any{"risk_signals.0.score": raw("99999999999999999999")}), status: s422, param: "$.risk_signals[0].score"},
		// precedence: a schema error anywhere beats a semantic one
		{name: "schema before semantic", body: m(map[string]any{"payment_method.number": "4242424242424241", "metadata.x": 1}), status: s400, param: "$.metadata.x"},
	}
}

func TestDecodeDelegateRequestRejects(t *testing.T) {
	t.Parallel()
	n := 0
	for _, tc := range delegateRejectCases(t) {
		vs := tc.versions
		if vs == nil {
			vs = Versions
		}
		for _, v := range vs {
			n++
			t.Run(v+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				_, err := DecodeDelegateRequest(v, tc.body, testNow)
				if err == nil {
					t.Fatalf("accepted, want %d at %q", tc.status, tc.param)
				}
				if err.Status != tc.status || err.Param != tc.param || err.Type != TypeInvalidRequest || err.Code != CodeInvalidCard {
					t.Fatalf("got %d %s/%s param %q (%s), want %d invalid_request/invalid_card param %q",
						err.Status, err.Type, err.Code, err.Param, err.Message, tc.status, tc.param)
				}
				if err.Message == "" || !err.ValidDelegateError(v) {
					t.Fatalf("error not valid for the %s Error schema: %+v", v, err)
				}
				assertNoPAN(t, tc.body, err)
				if strings.Contains(err.Message, "4242") {
					t.Fatalf("message echoes card digits: %q", err.Message)
				}
			})
		}
	}
	if n < 40 {
		t.Fatalf("only %d bad-input cases", n)
	}
}

// TestDecodeExtremeExponents: numbers a float64 cannot hold are still read
// exactly. They are not among the shared reject cases because the spec
// validator reads numbers as float64 and cannot judge them (1e-99999... is
// 0 to it, 1e99999... an error).
func TestDecodeExtremeExponents(t *testing.T) {
	t.Parallel()
	base := readTestdata(t, "delegate_valid_fpan.json")
	for _, tc := range []struct {
		lit    string
		status int
	}{
		{"1e-99999999999999999999", http.StatusBadRequest},
		{"1e99999999999999999999", http.StatusUnprocessableEntity},
		{"-1e99999999999999999999", http.StatusUnprocessableEntity},
		{"0e-99999999999999999999", http.StatusUnprocessableEntity}, // zero: an integer, not positive
		{"1" + strings.Repeat("0", 1000) + "e-1000", 0},             // 1
	} {
		body := mutate(t, base, map[string]any{"allowance.max_amount": raw(tc.lit)})
		r, err := DecodeDelegateRequest(v2, body, testNow)
		switch {
		case tc.status == 0 && (err != nil || r.Allowance.MaxAmount != 1):
			t.Errorf("%.30s: got %v, max_amount %d; want 1", tc.lit, err, r.Allowance.MaxAmount)
		case tc.status != 0 && (err == nil || err.Status != tc.status || err.Param != "$.allowance.max_amount"):
			t.Errorf("%.30s: got %v, want %d at $.allowance.max_amount", tc.lit, err, tc.status)
		}
	}
}

func TestDecodeDelegateRequestUnsupportedVersion(t *testing.T) {
	t.Parallel()
	_, err := DecodeDelegateRequest("2026-01-28", readTestdata(t, "delegate_valid_fpan.json"), testNow)
	if err == nil || err.Status != http.StatusBadRequest || err.Code != CodeInvalidRequest {
		t.Fatalf("got %+v, want 400 invalid_request", err)
	}
}

// goodDelegateCase is one valid Delegate Payment request and what to check
// on its decoding.
type goodDelegateCase struct {
	name     string
	versions []string // nil: every version
	body     []byte
	check    func(t *testing.T, r DelegateRequest)
}

// delegateAcceptCases are the valid Delegate Payment requests; the spec
// conformance test reuses them.
func delegateAcceptCases(t testing.TB) []goodDelegateCase {
	base := readTestdata(t, "delegate_valid_fpan.json")
	yes := true
	return []goodDelegateCase{
		{name: "fpan fixture", body: base, check: func(t *testing.T, r DelegateRequest) {
			want := DelegateRequest{
				PaymentMethod: Card{Type: "card", CardNumberType: "fpan", Number: "4242424242424242", ExpMonth: "12",
					ExpYear: "2030", Name: "Jane Doe", CVC: "223", ChecksPerformed: []string{"avs", "cvv"}, IIN: "424242",
					DisplayCardFundingType: "credit", DisplayWalletType: "apple_pay", DisplayBrand: "visa",
					DisplayLast4: "4242", Metadata: map[string]string{"issuing_bank": "temp"}, Virtual: new(bool)},
				Allowance: Allowance{Reason: "one_time", MaxAmount: 2000, Currency: "usd",
					CheckoutSessionID: "csn_01HV3P3XYZ9ABC", MerchantID: "acme",
					ExpiresAt: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
				BillingAddress: &Address{Name: "Ada Lovelace", LineOne: "1234 Chat Road", City: "San Francisco",
					State: "CA", Country: "US", PostalCode: "94131"},
				RiskSignals: []RiskSignal{{Type: "card_testing", Score: 10, Action: "manual_review"}},
				Metadata:    map[string]string{"campaign": "q4"},
			}
			if !reflect.DeepEqual(r, want) {
				t.Fatalf("got\n%#v\nwant\n%#v", r.Allowance, want.Allowance)
			}
		}},
		{name: "minimal", body: readTestdata(t, "delegate_valid_minimal.json"), check: func(t *testing.T, r DelegateRequest) {
			if r.BillingAddress != nil || r.PaymentMethod.ExpMonth != "" || r.Allowance.Currency != "jpy" || r.Allowance.MaxAmount != 1 {
				t.Fatalf("unexpected %+v", r.Allowance)
			}
			if !r.Allowance.ExpiresAt.Equal(time.Date(2030, 6, 30, 21, 59, 59, 999e6, time.UTC)) {
				t.Fatalf("expires_at %v", r.Allowance.ExpiresAt)
			}
		}},
		{name: "network token", body: readTestdata(t, "delegate_valid_network_token.json"), check: func(t *testing.T, r DelegateRequest) {
			// exp_month "7" is accepted and normalised; iin and last4 of a
			// network token are not compared with the token number.
			if r.PaymentMethod.ExpMonth != "07" || r.Allowance.MaxAmount != 1<<63-1 || r.RiskSignals[0].Score != -5 {
				t.Fatalf("unexpected %+v %+v", r.PaymentMethod, r.Allowance)
			}
		}},
		{name: "card valid through its month", body: mutate(t, base, map[string]any{"payment_method.exp_month": "11", "payment_method.exp_year": "2026"})},
		{name: "exp_month single digit", body: mutate(t, base, map[string]any{"payment_method.exp_month": "9"}), check: func(t *testing.T, r DelegateRequest) {
			if r.PaymentMethod.ExpMonth != "09" {
				t.Fatalf("exp_month %q", r.PaymentMethod.ExpMonth)
			}
		}},
		{name: "4-digit cvc and virtual", body: mutate(t, base, map[string]any{"payment_method.cvc": "1234", "payment_method.virtual": true}), check: func(t *testing.T, r DelegateRequest) {
			if r.PaymentMethod.CVC != "1234" || !reflect.DeepEqual(r.PaymentMethod.Virtual, &yes) {
				t.Fatalf("unexpected card %#v", r.PaymentMethod)
			}
		}},
		{name: "lowercase country", body: mutate(t, base, map[string]any{"billing_address.country": "de"}), check: func(t *testing.T, r DelegateRequest) {
			if r.BillingAddress.Country != "DE" {
				t.Fatalf("country %q", r.BillingAddress.Country)
			}
		}},
		// JSON Schema 2020-12 integers: a zero fractional part is an
		// integer whatever the spelling.
		{name: "max_amount 10.0", body: mutate(t, base, map[string]any{"allowance.max_amount": raw("10.0")}), check: maxAmount(10)},
		{name: "max_amount 2e3", body: mutate(t, base, map[string]any{"allowance.max_amount": raw("2e3")}), check: maxAmount(2000)},
		{name: "max_amount 2.599E+3", body: mutate(t, base, map[string]any{"allowance.max_amount": raw("2.599E+3")}), check: maxAmount(2599)},
		{name: "max_amount 259900e-2", body: mutate(t, base, map[string]any{"allowance.max_amount": raw("259900e-2")}), check: maxAmount(2599)},
		{name: "max_amount int64 max as 9.223372036854775807e18", body: mutate(t, base, map[string]any{"allowance.max_amount": raw("9.223372036854775807e18")}), check: maxAmount(1<<63 - 1)},
		{name: "risk score -5.000", body: mutate(t, base, map[string]any{"risk_signals.0.score": raw("-5.000")}), check: func(t *testing.T, r DelegateRequest) {
			if r.RiskSignals[0].Score != -5 {
				t.Fatalf("score %d", r.RiskSignals[0].Score)
			}
		}},
		{name: "iin 8 digits in 2026-04-17", versions: []string{v2}, body: mutate(t, base, map[string]any{"payment_method.iin": "42424242"})},
		{name: "iin 6 digits", body: mutate(t, base, map[string]any{"payment_method.iin": "424242"})},
		{name: "risk_signals empty in 2026-04-17", versions: []string{v2}, body: mutate(t, base, map[string]any{"risk_signals": []any{}})},
	}
}

// maxAmount checks the decoded allowance.max_amount.
func maxAmount(want int64) func(*testing.T, DelegateRequest) {
	return func(t *testing.T, r DelegateRequest) {
		t.Helper()
		if r.Allowance.MaxAmount != want {
			t.Fatalf("max_amount %d, want %d", r.Allowance.MaxAmount, want)
		}
	}
}

func TestDecodeDelegateRequestAccepts(t *testing.T) {
	t.Parallel()
	for _, tc := range delegateAcceptCases(t) {
		vs := tc.versions
		if vs == nil {
			vs = Versions
		}
		for _, v := range vs {
			t.Run(v+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				r, err := DecodeDelegateRequest(v, tc.body, testNow)
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				if tc.check != nil {
					tc.check(t, r)
				}
				assertRoundTrip(t, v, r)
			})
		}
	}
}

// assertRoundTrip checks that an accepted request, written back, decodes to
// the same value.
func assertRoundTrip(t testing.TB, version string, r DelegateRequest) {
	t.Helper()
	again, err := DecodeDelegateRequest(version, encodeDelegate(r), testNow)
	if err != nil {
		t.Fatalf("re-encoded request rejected: %v", err)
	}
	if !again.Allowance.ExpiresAt.Equal(r.Allowance.ExpiresAt) {
		t.Fatalf("expires_at changed: %v vs %v", again.Allowance.ExpiresAt, r.Allowance.ExpiresAt)
	}
	again.Allowance.ExpiresAt = r.Allowance.ExpiresAt
	if !reflect.DeepEqual(again, r) {
		t.Fatalf("round trip changed the request")
	}
}

// specExample rewrites a spec example so that its allowance and card are
// in the future at testNow: the examples date from 2025.
func specExample(t *testing.T, body []byte) []byte {
	t.Helper()
	edits := map[string]any{"allowance.expires_at": testNow.Add(24 * time.Hour).Format(time.RFC3339)}
	var m struct {
		PaymentMethod map[string]any `json:"payment_method"`
	}
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m.PaymentMethod["exp_year"]; ok {
		edits["payment_method.exp_year"] = "2030"
	}
	return mutate(t, body, edits)
}

// specExamples returns every Delegate Payment request example of version:
// the examples file and the request examples inside the OpenAPI document.
func specExamples(t *testing.T, version string) map[string][]byte {
	t.Helper()
	root, err := acpspec.SpecDir()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	var ex map[string]json.RawMessage
	b, err := os.ReadFile(filepath.Join(root, "examples", version, "examples.delegate_payment.json"))
	if err != nil {
		t.Fatalf("spec examples: %v", err)
	}
	if err := json.Unmarshal(b, &ex); err != nil {
		t.Fatal(err)
	}
	out["examples.delegate_payment.json"] = ex["delegate_payment_request"]

	y, err := os.ReadFile(filepath.Join(root, "spec", version, "openapi", "openapi.delegate_payment.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			RequestBody struct {
				Content map[string]struct {
					Examples map[string]struct {
						Value any `yaml:"value"`
					} `yaml:"examples"`
				} `yaml:"content"`
			} `yaml:"requestBody"`
		} `yaml:"paths"`
		Components struct {
			Schemas map[string]struct {
				Example any `yaml:"example"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(y, &doc); err != nil {
		t.Fatal(err)
	}
	for name, e := range doc.Paths["/agentic_commerce/delegate_payment"]["post"].RequestBody.Content["application/json"].Examples {
		out["openapi requestBody "+name] = mustJSON(t, e.Value)
	}
	if e := doc.Components.Schemas["DelegatePaymentRequest"].Example; e != nil {
		out["openapi DelegatePaymentRequest example"] = mustJSON(t, e)
	}
	return out
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeDelegateRequestSpecExamples(t *testing.T) {
	t.Parallel()
	for _, v := range Versions {
		examples := specExamples(t, v)
		if len(examples) < 2 {
			t.Fatalf("%s: only %d examples found", v, len(examples))
		}
		for name, body := range examples {
			t.Run(v+"/"+name, func(t *testing.T) {
				t.Parallel()
				r, err := DecodeDelegateRequest(v, specExample(t, body), testNow)
				if err != nil {
					t.Fatalf("spec example rejected: %v", err)
				}
				if r.PaymentMethod.Number != "4242424242424242" || r.Allowance.MaxAmount <= 0 {
					t.Fatalf("unexpected decode %v %+v", r.PaymentMethod, r.Allowance)
				}
				assertRoundTrip(t, v, r)
				// Unmodified, the examples have expired allowances: 422.
				if _, err := DecodeDelegateRequest(v, body, testNow); err == nil || err.Status != http.StatusUnprocessableEntity {
					t.Fatalf("stale example: got %v, want 422", err)
				}
			})
		}
	}
}

func TestCardNeverPrintsSecrets(t *testing.T) {
	t.Parallel()
	c := Card{Type: "card", CardNumberType: "fpan", Number: "4242424242424242", CVC: "7391", ExpMonth: "12",
		ExpYear: "2030", DisplayBrand: "visa", DisplayLast4: "4242", Cryptogram: "CRYPTO"}
	r := DelegateRequest{PaymentMethod: c, RiskSignals: []RiskSignal{}}
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("x", "card", c, "req", r)
	jsonCard, _ := json.Marshal(c)
	jsonReq, _ := json.Marshal(r)
	outputs := map[string]string{
		"%v": fmt.Sprintf("%v", c), "%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c),
		"%s": fmt.Sprintf("%s", c), "%q": fmt.Sprintf("%q", c), "%d": fmt.Sprintf("%d", c), "%x": fmt.Sprintf("%x", c),
		"ptr %v": fmt.Sprintf("%v", &c), "req %v": fmt.Sprintf("%v", r), "req %+v": fmt.Sprintf("%+v", r),
		"req %#v": fmt.Sprintf("%#v", r), "req ptr %+v": fmt.Sprintf("%+v", &r), "Println": fmt.Sprintln(c, r),
		"slog": logBuf.String(), "json card": string(jsonCard), "json req": string(jsonReq),
	}
	for name, out := range outputs {
		if strings.Contains(out, "424242424242") || strings.Contains(out, "7391") || strings.Contains(out, "CRYPTO") {
			t.Errorf("%s leaks: %s", name, out)
		}
	}
	if got := c.String(); got != "visa ****4242 (fpan)" {
		t.Errorf("String() = %q", got)
	}
	if !strings.Contains(outputs["%v"], "4242") || !strings.Contains(outputs["%#v"], "acp.Card{") {
		t.Errorf("redacted form lost its useful part: %q %q", outputs["%v"], outputs["%#v"])
	}
}

func TestLuhn(t *testing.T) {
	t.Parallel()
	for _, n := range []string{"4242424242424242", "5555555555554444", "4000000000000002", "4000000000009995",
		"4000000000000069", "4000000000000127", "4100000000000019", "4000000000003220", "4000000000009987",
		"4000000000000119", "4000000000009979", "378282246310005"} {
		if !luhn(n) {
			t.Errorf("luhn(%s) = false", n)
		}
	}
	for _, n := range []string{"4242424242424241", "1234567812345678", "4000000000000001"} {
		if luhn(n) {
			t.Errorf("luhn(%s) = true", n)
		}
	}
}

func TestErrorf(t *testing.T) {
	t.Parallel()
	e := Errorf(http.StatusUnprocessableEntity, TypeInvalidRequest, CodeInvalidCard, "$.payment_method.exp_month", "bad %s", "month")
	var err error = e
	if e.Message != "bad month" || e.Status != 422 || !strings.Contains(err.Error(), "$.payment_method.exp_month") {
		t.Fatalf("unexpected %+v / %v", e, err)
	}
	b, _ := json.Marshal(e)
	if string(b) != `{"type":"invalid_request","code":"invalid_card","message":"bad month","param":"$.payment_method.exp_month"}` {
		t.Fatalf("json %s", b)
	}
	for _, v := range before20260417 {
		if e.ValidDelegateError(v) != true || Errorf(409, TypeInvalidRequest, CodeIdempotencyInFlight, "", "x").ValidDelegateError(v) {
			t.Fatalf("idempotency_in_flight is not in the %s enum", v)
		}
	}
	if (*Error)(nil).ValidDelegateError(v2) || Errorf(401, "unauthorized", "unauthorized", "", "x").ValidDelegateError(v2) {
		t.Fatal("nil or out-of-enum errors are not valid")
	}
}
