package adyentest

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
)

func TestSpecValidatesFixtures(t *testing.T) {
	t.Parallel()
	s, err := LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		fixture, path string
		status        int
	}{
		{"checkout-payments-authorised-card-go.json", "/payments", 200},
		{"checkout-payments-redirectshopper.json", "/payments", 200},
		{"checkout-error-422-invalid-card.json", "/payments", 422},
		{"error-403-010-not-allowed.json", "/payments", 403},
		{"checkout-captures-received.json", "/payments/852633330805862B/captures", 201},
		{"checkout-refunds-received.json", "/payments/852633330805862B/refunds", 201},
		{"checkout-modifications-error-422.json", "/payments/852633330805862B/refunds", 422},
	} {
		b, err := Fixture(tc.fixture)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.ValidateResponse(ctx, tc.path, tc.status, nil, b); err != nil {
			t.Errorf("%s: %v", tc.fixture, err)
		}
	}
	// checkout-payments-authorised.json comes from an older Java library
	// commit and wraps each fraudResult.results item in FraudCheckResult,
	// which v71 does not: the fake does not serve it, and the spec check
	// must notice.
	b, err := Fixture("checkout-payments-authorised.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.ValidateResponse(ctx, "/payments", 200, nil, b); err == nil || !strings.Contains(err.Error(), "FraudCheckResult") {
		t.Errorf("checkout-payments-authorised.json: got %v, want the FraudCheckResult wrapper refused", err)
	}
	// A response the spec forbids must fail.
	if err := s.ValidateResponse(ctx, "/payments/X/captures", 201, nil, []byte(`{"status":"done"}`)); err == nil {
		t.Error("an invalid capture response validated")
	}
	body := `{"amount":{"currency":"EUR","value":2599},"merchantAccount":"M","reference":"r","returnUrl":"https://acpgw.invalid/x",
	"paymentMethod":{"type":"scheme","number":"4242424242424242","expiryMonth":"12","expiryYear":"2034","cvc":"123","holderName":"A B"},
	"shopperInteraction":"Ecommerce","captureDelayHours":0,"authenticationData":{"attemptAuthentication":"never"},"metadata":{"acpgw_payment_id":"pay_1"}}`
	req, _ := http.NewRequest(http.MethodPost, "http://x/v71/payments", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", "k")
	if err := s.ValidateRequest(ctx, req, "/payments"); err != nil {
		t.Errorf("valid payment request: %v", err)
	}
	bad := strings.Replace(body, `"shopperInteraction":"Ecommerce"`, `"shopperInteraction":"Agent"`, 1)
	req, _ = http.NewRequest(http.MethodPost, "http://x/v71/payments", strings.NewReader(bad))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-API-Key", "k")
	if err := s.ValidateRequest(ctx, req, "/payments"); err == nil {
		t.Error("an invalid payment request validated")
	}
}

// externalMPI2 is the mpiData of a 3-D Secure 2 authentication made
// outside Adyen, as acpgw sends it.
const externalMPI2 = `"mpiData":{"cavv":"MDEyMzQ1Njc4OWFiY2RlZmdoaWo=","eci":"05","dsTransID":"f25084f0-5b16-4c0a-ae5d-b24808a95e4b","threeDSVersion":"2.2.0","authenticationResponse":"Y","directoryResponse":"Y"}`

// TestBodyValidatorsAgree checks that the fake's body check (VisitJSON)
// and openapi3filter's full request validation (JSON Schema 2020-12 for
// this OpenAPI 3.1 document) give the same verdicts.
func TestBodyValidatorsAgree(t *testing.T) {
	t.Parallel()
	s, err := LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	valid := `{"amount":{"currency":"EUR","value":2599},"merchantAccount":"M","reference":"r","returnUrl":"https://acpgw.invalid/x",
	"paymentMethod":{"type":"scheme","number":"4242424242424242","expiryMonth":"12","expiryYear":"2034"},"shopperInteraction":"Ecommerce"}`
	for name, body := range map[string]string{
		"valid":               valid,
		"network token":       strings.Replace(valid, `"type":"scheme"`, `"type":"networkToken"`, 1) + ``,
		"bad enum":            strings.Replace(valid, `"Ecommerce"`, `"Agent"`, 1),
		"unknown property":    strings.Replace(valid, `"reference":"r"`, `"reference":"r","agent":"x"`, 1),
		"unknown card prop":   strings.Replace(valid, `"expiryYear":"2034"`, `"expiryYear":"2034","pan":"1"`, 1),
		"no returnUrl":        strings.Replace(valid, `"returnUrl":"https://acpgw.invalid/x",`, ``, 1),
		"string value":        strings.Replace(valid, `"value":2599`, `"value":"2599"`, 1),
		"long currency":       strings.Replace(valid, `"EUR"`, `"EURO"`, 1),
		"bad cavv":            strings.Replace(valid, `"shopperInteraction"`, `"mpiData":{"tokenAuthenticationVerificationValue":"not base64!"},"shopperInteraction"`, 1),
		"mpi data":            strings.Replace(valid, `"shopperInteraction"`, `"mpiData":{"tokenAuthenticationVerificationValue":"AAABAWFlmQAAAABjRWWZEEFgFz8=","eci":"05"},"shopperInteraction"`, 1),
		"external 3ds2":       strings.Replace(valid, `"shopperInteraction"`, externalMPI2+`,"shopperInteraction"`, 1),
		"external 3ds1":       strings.Replace(valid, `"shopperInteraction"`, `"mpiData":{"cavv":"MDEyMzQ1Njc4OWFiY2RlZmdoaWo=","eci":"05","xid":"MDEyMzQ1Njc4OWFiY2RlZmdoaWo=","threeDSVersion":"1.0.2","authenticationResponse":"Y","directoryResponse":"Y"},"shopperInteraction"`, 1),
		"3ds cavv not base64": strings.Replace(valid, `"shopperInteraction"`, strings.Replace(externalMPI2, `MDEyMzQ1Njc4OWFiY2RlZmdoaWo=`, `not base64!`, 1)+`,"shopperInteraction"`, 1),
		"3ds response I":      strings.Replace(valid, `"shopperInteraction"`, strings.Replace(externalMPI2, `"authenticationResponse":"Y"`, `"authenticationResponse":"I"`, 1)+`,"shopperInteraction"`, 1),
		"3ds unknown field":   strings.Replace(valid, `"shopperInteraction"`, strings.Replace(externalMPI2, `"eci":"05"`, `"eci":"05","outcome":"authenticated"`, 1)+`,"shopperInteraction"`, 1),
	} {
		t.Run(name, func(t *testing.T) {
			route, params, err := s.route(PathPayments)
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest(http.MethodPost, "http://x/v71/payments", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-API-Key", "k")
			full := openapi3filter.ValidateRequest(context.Background(), &openapi3filter.RequestValidationInput{
				Request: req, PathParams: params, Route: route,
				Options: &openapi3filter.Options{AuthenticationFunc: apiKeyAuth},
			})
			fast := validateBody(route.Operation.RequestBody.Value.Content, "application/json", []byte(body))
			if (full == nil) != (fast == nil) {
				t.Fatalf("openapi3filter says %v, the fake's check says %v", full, fast)
			}
			want := name == "valid" || name == "network token" || name == "mpi data" || name == "external 3ds2" || name == "external 3ds1"
			if (fast == nil) != want {
				t.Fatalf("verdict %v, want valid=%v", fast, want)
			}
		})
	}
}
