package stripe_test

import (
	"testing"
	"time"

	"acpgw/payment"
	"acpgw/providers/providertest"
	"acpgw/providers/stripe"
	"acpgw/providers/stripe/stripetest"
)

func card(number string) payment.Card {
	return payment.Card{NumberType: "fpan", Number: number, ExpMonth: 12, ExpYear: 2034, CVC: "123", Brand: "visa"}
}

// newClient returns a provider pointed at fake, failing the test on error.
func newClient(t *testing.T, fake *stripetest.Server, mod func(*stripe.Config)) *stripe.Client {
	t.Helper()
	cfg := stripe.Config{
		Name:          "stripe_test",
		SecretKey:     fake.Key,
		BaseURL:       fake.URL,
		WebhookSecret: "whsec_test",
		Timeout:       5 * time.Second,
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := stripe.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestConformance(t *testing.T) {
	for _, currency := range []string{"usd", "jpy"} {
		t.Run(currency, func(t *testing.T) {
			providertest.Run(t, func(t *testing.T) providertest.Harness {
				fake := stripetest.New(t)
				// Long enough that concurrent duplicates meet Stripe's 409.
				fake.Delay = 10 * time.Millisecond
				timeout := card(stripetest.CardHang)
				auth := card(stripetest.CardAuthRequired)
				return providertest.Harness{
					AuthenticationCard: &auth,
					HoldKey:            fake.HoldKey,
					Provider:           newClient(t, fake, nil),
					Currency:           currency,
					ApproveCard:        card(stripetest.CardVisa),
					DeclineCards: map[payment.DeclineCode]payment.Card{
						payment.DeclineCardDeclined:           card(stripetest.CardDeclined),
						payment.DeclineInsufficientFunds:      card(stripetest.CardInsufficientFunds),
						payment.DeclineExpiredCard:            card(stripetest.CardExpired),
						payment.DeclineIncorrectCVC:           card(stripetest.CardIncorrectCVC),
						payment.DeclineFraudSuspected:         card(stripetest.CardFraudulent),
						payment.DeclineLostOrStolen:           card(stripetest.CardLost),
						payment.DeclineAuthenticationRequired: card(stripetest.CardAuthRequired),
						payment.DeclineProcessingError:        card(stripetest.CardProcessingError),
						payment.DeclineIncorrectNumber:        card("4242424242424241"),
					},
					TimeoutCard: &timeout,
					ChargeCount: fake.ChargeCount,
				}
			})
		})
	}
}
