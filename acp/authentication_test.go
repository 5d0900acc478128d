package acp

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"acpgw/acp/acpspec"
	"acpgw/payment"
)

// testCryptogram is base64 of the 20 bytes "0123456789abcdefghij".
const testCryptogram = "MDEyMzQ1Njc4OWFiY2RlZmdoaWo="

func authDetails() map[string]any {
	return map[string]any{"three_ds_cryptogram": testCryptogram, "electronic_commerce_indicator": "05",
		"transaction_id": "f25084f0-5b16-4c0a-ae5d-b24808a95e4b", "version": "2.2.0"}
}

// authCase is one authentication_result and what decoding it must give:
// status 0 accepts it.
type authCase struct {
	name   string
	result any
	status int
	code   string
	param  string
}

func authCases() []authCase {
	const s400, s422 = http.StatusBadRequest, http.StatusUnprocessableEntity
	with := func(outcome string, edits map[string]any) map[string]any {
		d := authDetails()
		for k, v := range edits {
			if v == nil {
				delete(d, k)
			} else {
				d[k] = v
			}
		}
		return map[string]any{"outcome": outcome, "outcome_details": d}
	}
	const p = "$.authentication_result"
	cases := []authCase{
		{name: "authenticated", result: with("authenticated", nil)},
		{name: "attempt_acknowledged", result: with("attempt_acknowledged", map[string]any{"electronic_commerce_indicator": "06"})},
		{name: "informational", result: with("informational", map[string]any{"electronic_commerce_indicator": "07"})},
		{name: "not_supported without details", result: map[string]any{"outcome": "not_supported"}},
		{name: "3DS1 version and XID", result: with("authenticated", map[string]any{"version": "1.0.2", "transaction_id": "MDEyMzQ1Njc4OWFiY2RlZmdoaWo="})},
		// schema (400)
		{name: "not an object", result: "authenticated", status: s400, code: CodeInvalidRequest, param: p},
		{name: "no outcome", result: map[string]any{"outcome_details": authDetails()}, status: s400, code: CodeMissingField, param: p + ".outcome"},
		{name: "unknown outcome", result: map[string]any{"outcome": "success"}, status: s400, code: CodeInvalidRequest, param: p + ".outcome"},
		{name: "unknown key", result: map[string]any{"outcome": "not_supported", "status": "authenticated"}, status: s400, code: CodeInvalidRequest, param: p + ".status"},
		{name: "spec example shape", result: map[string]any{"status": "authenticated", "transaction_id": "3ds_abc123", "eci": "05"}, status: s400, code: CodeInvalidRequest, param: p + ".eci"},
		{name: "authenticated without details", result: map[string]any{"outcome": "authenticated"}, status: s400, code: CodeMissingField, param: p + ".outcome_details"},
		{name: "informational without details", result: map[string]any{"outcome": "informational"}, status: s400, code: CodeMissingField, param: p + ".outcome_details"},
		{name: "details without cryptogram", result: with("authenticated", map[string]any{"three_ds_cryptogram": nil}), status: s400, code: CodeMissingField, param: p + ".outcome_details.three_ds_cryptogram"},
		{name: "details without version", result: with("authenticated", map[string]any{"version": nil}), status: s400, code: CodeMissingField, param: p + ".outcome_details.version"},
		{name: "eci 03", result: with("authenticated", map[string]any{"electronic_commerce_indicator": "03"}), status: s400, code: CodeInvalidRequest, param: p + ".outcome_details.electronic_commerce_indicator"},
		{name: "eci number", result: with("authenticated", map[string]any{"electronic_commerce_indicator": 5}), status: s400, code: CodeInvalidRequest, param: p + ".outcome_details.electronic_commerce_indicator"},
		{name: "unknown detail", result: with("authenticated", map[string]any{"cavv": testCryptogram}), status: s400, code: CodeInvalidRequest, param: p + ".outcome_details.cavv"},
		{name: "null details", result: map[string]any{"outcome": "authenticated", "outcome_details": nil}, status: s400, code: CodeInvalidRequest, param: p + ".outcome_details"},
		{name: "long transaction_id", result: with("authenticated", map[string]any{"transaction_id": strings.Repeat("a", 65)}), status: s400, code: CodeInvalidRequest, param: p + ".outcome_details.transaction_id"},
		// semantic (422)
		{name: "cryptogram 27 characters (the spec's example)", result: with("authenticated", map[string]any{"three_ds_cryptogram": "AbCdEfGhIjKlMnOpQrStUvWxY0="}), status: s422, code: CodeInvalidRequest, param: p + ".outcome_details.three_ds_cryptogram"},
		{name: "cryptogram not base64", result: with("authenticated", map[string]any{"three_ds_cryptogram": "!!!!MzQ1Njc4OWFiY2RlZmdoaWo="}), status: s422, code: CodeInvalidRequest, param: p + ".outcome_details.three_ds_cryptogram"},
		{name: "cryptogram 21 bytes", result: with("authenticated", map[string]any{"three_ds_cryptogram": "MDEyMzQ1Njc4OWFiY2RlZmdoaWpr"}), status: s422, code: CodeInvalidRequest, param: p + ".outcome_details.three_ds_cryptogram"},
		{name: "empty transaction_id", result: with("authenticated", map[string]any{"transaction_id": " "}), status: s422, code: CodeInvalidRequest, param: p + ".outcome_details.transaction_id"},
		{name: "version words", result: with("authenticated", map[string]any{"version": "two"}), status: s422, code: CodeInvalidRequest, param: p + ".outcome_details.version"},
	}
	// Every outcome that must not be charged is a 422 before any
	// processor, with or without details.
	for _, o := range []string{"rejected", "denied", "canceled", "abandoned", "internal_error", "processing_error"} {
		cases = append(cases,
			authCase{name: o, result: map[string]any{"outcome": o}, status: s422, code: CodeAuthenticationFailed, param: p + ".outcome"},
			authCase{name: o + " with details", result: with(o, nil), status: s422, code: CodeAuthenticationFailed, param: p + ".outcome"})
	}
	return cases
}

func paymentWithAuth(t testing.TB, result any) []byte {
	t.Helper()
	b := mutate(t, readTestdata(t, "payment_token_shape.json"), map[string]any{"authentication_result": result})
	return b
}

func TestDecodeAuthenticationResult(t *testing.T) {
	t.Parallel()
	for _, tc := range authCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := paymentWithAuth(t, tc.result)
			r, err := DecodePaymentRequest(body)
			if tc.status == 0 {
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
				a := r.Authentication
				m := tc.result.(map[string]any)
				if a == nil || string(a.Outcome) != m["outcome"] {
					t.Fatalf("authentication %v, want outcome %v", a, m["outcome"])
				}
				if d, ok := m["outcome_details"].(map[string]any); ok && (a.Cryptogram != d["three_ds_cryptogram"] ||
					a.ECI != d["electronic_commerce_indicator"] || a.TransactionID != d["transaction_id"] || a.Version != d["version"]) {
					t.Fatalf("details %#v decoded as %+v", d, a.Record())
				}
				again, err := DecodePaymentRequest(encodePayment(r))
				if err != nil || *again.Authentication != *a {
					t.Fatalf("round trip: %v %v", err, again.Authentication)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want %d %s at %s", tc.status, tc.code, tc.param)
			}
			if err.Status != tc.status || err.Code != tc.code || err.Param != tc.param {
				t.Fatalf("got %d %s %q (%s), want %d %s %q", err.Status, err.Code, err.Param, err.Message, tc.status, tc.code, tc.param)
			}
			if strings.Contains(err.Message, testCryptogram) || strings.Contains(err.Message, "MDEyMzQ1") {
				t.Fatalf("message quotes the cryptogram: %s", err.Message)
			}
		})
	}
	// No authentication_result: nil.
	r, err := DecodePaymentRequest(readTestdata(t, "payment_token_shape.json"))
	if err != nil || r.Authentication != nil {
		t.Fatalf("%v %v", err, r.Authentication)
	}
}

// TestAuthenticationResultMatchesSpec holds the decoder to the
// AuthenticationResult schema of the 2026-04-17 checkout OpenAPI: what it
// accepts or answers 422 is valid there, what it answers 400 is not.
func TestAuthenticationResultMatchesSpec(t *testing.T) {
	t.Parallel()
	spec, err := acpspec.LoadCheckoutSpec(Version20260417)
	if err != nil {
		t.Fatal(err)
	}
	// Cases where the spec's schema is looser than acpgw on purpose.
	lenient := map[string]string{
		"long transaction_id": "the schema sets no maxLength; acpgw bounds every string",
	}
	for _, tc := range authCases() {
		raw, err := json.Marshal(tc.result)
		if err != nil {
			t.Fatal(err)
		}
		specErr := acpspec.ValidateSchema(spec, "AuthenticationResult", raw)
		switch {
		case tc.status != http.StatusBadRequest && specErr != nil:
			t.Errorf("%s: acpgw reads it as schema-valid (%d), the spec refuses it: %v", tc.name, tc.status, specErr)
		case tc.status == http.StatusBadRequest && specErr == nil && lenient[tc.name] == "":
			t.Errorf("%s: acpgw refuses it as schema-invalid, the spec accepts it", tc.name)
		}
	}
	// The outcome enum is the spec's, in its order.
	var enum []string
	for _, e := range spec.Components.Schemas["AuthenticationResult"].Value.Properties["outcome"].Value.Enum {
		enum = append(enum, fmt.Sprint(e))
	}
	if !slices.Equal(enum, authenticationOutcomes) {
		t.Errorf("outcome enum %v, the spec's %v", authenticationOutcomes, enum)
	}
	var ecis []string
	for _, e := range spec.Components.Schemas["AuthenticationResult"].Value.Properties["outcome_details"].Value.Properties["electronic_commerce_indicator"].Value.Enum {
		ecis = append(ecis, fmt.Sprint(e))
	}
	if !slices.Equal(ecis, eciValues) {
		t.Errorf("ECI enum %v, the spec's %v", eciValues, ecis)
	}
	// The outcomes that require outcome_details are the spec's if/then.
	for _, info := range payment.AuthenticationOutcomes {
		raw := fmt.Appendf(nil, `{"outcome":%q}`, info.Outcome)
		if err := acpspec.ValidateSchema(spec, "AuthenticationResult", raw); (err != nil) != info.HasDetails {
			t.Errorf("%s without details: spec says %v, acpgw's table HasDetails=%v", info.Outcome, err, info.HasDetails)
		}
	}
}

func TestAuthenticationNeverPrintsCryptogram(t *testing.T) {
	t.Parallel()
	a := payment.Authentication{Outcome: payment.AuthAuthenticated, Cryptogram: testCryptogram, ECI: "05",
		TransactionID: "ds-1", Version: "2.2.0"}
	j, _ := json.Marshal(a)
	for name, out := range map[string]string{
		"%v": fmt.Sprintf("%v", a), "%+v": fmt.Sprintf("%+v", a), "%#v": fmt.Sprintf("%#v", a), "%s": fmt.Sprintf("%s", a),
		"%q": fmt.Sprintf("%q", a), "ptr": fmt.Sprintf("%+v", &a), "struct": fmt.Sprintf("%+v", struct{ A payment.Authentication }{a}),
		"json": string(j),
	} {
		if strings.Contains(out, testCryptogram) || strings.Contains(out, "MDEy") {
			t.Errorf("%s shows the cryptogram: %s", name, out)
		}
		if !strings.Contains(out, "authenticated") {
			t.Errorf("%s lost the outcome: %s", name, out)
		}
	}
}
