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
