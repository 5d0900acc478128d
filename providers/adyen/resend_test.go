package adyen_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"acpgw/payment"
	"acpgw/providers"
	"acpgw/providers/adyen"
	"acpgw/providers/adyen/adyentest"
	"acpgw/providers/providertest"
)

// TestNoTransportResend: a /payments request whose reused connection is
// reset after Adyen read it is an unknown outcome, and Go's Transport does
// not re-send it by itself.
func TestNoTransportResend(t *testing.T) {
	t.Parallel()
	providertest.NoTransportResend(t, providertest.ResendCase{
		New: func(t *testing.T, baseURL string) providers.Provider {
			c, err := adyen.New(adyen.Config{Name: "adyen_resend", APIKey: "key", MerchantAccount: "Acme", BaseURL: baseURL + "/v71"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			return c
		},
		Answer: `{"pspReference":"QFQTPCQ8HXSKGK82","resultCode":"Authorised","merchantReference":"att_1"}`,
		Call: func(ctx context.Context, p providers.Provider, key string) error {
			_, err := p.Authorize(ctx, authReq(key, card(adyentest.CardApproved), payment.CaptureManual))
			return err
		},
	})
}

// TestInProgressRetriesCounted: the client's own re-sends of a request
// Adyen reports in progress (704) are reported to OnRetry and logged.
func TestInProgressRetriesCounted(t *testing.T) {
	t.Parallel()
	var (
		mu      sync.Mutex
		retries []string
		logs    bytes.Buffer
	)
	logger := slog.New(slog.NewJSONHandler(writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return logs.Write(p)
	}), nil))
	c, srv := newClient(t, adyen.Config{Logger: logger, OnRetry: func(op providers.Operation, reason string) {
		mu.Lock()
		defer mu.Unlock()
		retries = append(retries, string(op)+"/"+reason)
	}})
	const key = "acpgw_pay_held_1"
	defer srv.HoldKey(key)()
	_, err := c.Authorize(t.Context(), authReq(key, card(adyentest.CardApproved), payment.CaptureManual))
	if !errors.Is(err, providers.ErrOutcomeUnknown) {
		t.Fatalf("Authorize of a held key: %v, want ErrOutcomeUnknown", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(retries) == 0 || srv.Requests() != len(retries)+1 {
		t.Fatalf("OnRetry got %v for %d requests; want one report per re-send", retries, srv.Requests())
	}
	for _, r := range retries {
		if r != "authorize/in_progress" {
			t.Errorf("OnRetry got %q, want authorize/in_progress", r)
		}
	}
	if n := strings.Count(logs.String(), `"idempotency_key":"`+key+`"`); n != len(retries) {
		t.Errorf("%d log lines name the re-sent key, want %d:\n%s", n, len(retries), logs.String())
	}
	if strings.Contains(logs.String(), adyentest.CardApproved) {
		t.Error("the log contains the card number")
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
