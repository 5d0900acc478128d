package stripe_test

import (
	"context"
	"testing"

	"acpgw/payment"
	"acpgw/providers"
	"acpgw/providers/providertest"
	"acpgw/providers/stripe"
)

// TestNoTransportResend: a PaymentIntent request whose reused connection is
// reset after Stripe read it is an unknown outcome, and Go's Transport does
// not re-send it by itself, although stripe-go sends it with an
// Idempotency-Key header and a rewindable body.
func TestNoTransportResend(t *testing.T) {
	t.Parallel()
	providertest.NoTransportResend(t, providertest.ResendCase{
		New: func(t *testing.T, baseURL string) providers.Provider {
			c, err := stripe.New(stripe.Config{Name: "stripe_resend", SecretKey: "sk_test_resend", BaseURL: baseURL})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Close() })
			return c
		},
		Answer: `{"id":"pi_resend","object":"payment_intent","status":"requires_capture","amount":2599,"currency":"usd"}`,
		Call: func(ctx context.Context, p providers.Provider, key string) error {
			// A Shared Payment Token: one POST /v1/payment_intents per call.
			req := authReq(key, card("4242424242424242"), payment.CaptureManual)
			req.Instrument = providers.Instrument{Kind: providers.TokenSharedPayment, SharedToken: "spt_resend"}
			_, err := p.Authorize(ctx, req)
			return err
		},
	})
}
