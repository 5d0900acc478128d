package adyentest

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// recorder is a testing.TB that records Errorf instead of failing.
type recorder struct {
	*testing.T
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// TestServerCatchesViolations proves the fake fails a test whose client
// sends a request that breaks the spec.
func TestServerCatchesViolations(t *testing.T) {
	t.Parallel()
	rec := &recorder{T: t}
	s := NewServer(rec, Options{})
	for _, body := range []string{
		// no returnUrl
		`{"amount":{"currency":"EUR","value":1},"merchantAccount":"AcpgwTestECOM","reference":"r","paymentMethod":{"type":"scheme","number":"4242424242424242","expiryMonth":"1","expiryYear":"2030"}}`,
		// a property PaymentRequest does not have
		`{"amount":{"currency":"EUR","value":1},"merchantAccount":"AcpgwTestECOM","reference":"r","returnUrl":"x","agent":"y","paymentMethod":{"type":"scheme","number":"4242424242424242","expiryMonth":"1","expiryYear":"2030"}}`,
	} {
		req, _ := http.NewRequest(http.MethodPost, s.BaseURL+"/payments", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", s.APIKey)
		req.Header.Set("Idempotency-Key", "k")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("status %d, want 422", resp.StatusCode)
		}
	}
	if s.Violations() != 2 || s.ChargeCount() != 0 {
		t.Fatalf("violations %d charges %d, want 2 and 0", s.Violations(), s.ChargeCount())
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.errs) != 2 || !strings.Contains(rec.errs[0], "CheckoutService-v71.json") {
		t.Fatalf("recorded %q", rec.errs)
	}
}

// TestAuthenticationCatchesViolations proves the fake fails a test whose
// client breaks Adyen's authentication-only flow in ways the spec's
// schemas allow: no browserInfo on a browser authentication, a
// threeDSResult that is not base64 JSON, details without
// authenticationOnly; and a schema violation on /payments/details.
func TestAuthenticationCatchesViolations(t *testing.T) {
	t.Parallel()
	rec := &recorder{T: t}
	s := NewServer(rec, Options{})
	post := func(path, key, body string) int {
		req, _ := http.NewRequest(http.MethodPost, s.BaseURL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", s.APIKey)
		req.Header.Set("Idempotency-Key", key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	const payment = `{"amount":{"currency":"EUR","value":1000},"merchantAccount":"AcpgwTestECOM","reference":"as_1",
	"returnUrl":"https://acpgw.invalid/r","channel":"Web","origin":"https://agent.example.com",
	"paymentMethod":{"type":"scheme","number":"4242424242424242","expiryMonth":"03","expiryYear":"2030"},
	"authenticationData":{"authenticationOnly":true},"threeDS2RequestData":{"notificationURL":"https://agent.example.com/n"}}`
	if code := post(PathPayments, "k1", payment); code != http.StatusOK {
		t.Fatalf("authentication without browserInfo: %d", code)
	}
	for i, body := range []string{
		`{"details":{"threeDSResult":"not base64!"},"paymentData":"x","authenticationData":{"authenticationOnly":true}}`,
		`{"details":{"threeDSResult":"e30="},"paymentData":"unknown"}`,
		`{"details":{"threeDSResult":"e30="},"paymentData":"x","extra":1}`,
	} {
		if code := post(PathPaymentsDetails, fmt.Sprintf("d%d", i), body); code == http.StatusOK {
			t.Errorf("details %d answered 200", i)
		}
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	want := []string{"no browserInfo", "threeDSResult is not base64", "without authenticationData.authenticationOnly", "breaks CheckoutService-v71.json"}
	if len(rec.errs) != len(want) {
		t.Fatalf("recorded %q, want %d violations", rec.errs, len(want))
	}
	for i, w := range want {
		if !strings.Contains(rec.errs[i], w) {
			t.Errorf("violation %d = %q, want %q", i, rec.errs[i], w)
		}
	}
}
