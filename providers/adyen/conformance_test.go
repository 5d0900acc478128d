package adyen_test

import (
	"testing"

	"acpgw/payment"
	"acpgw/providers/adyen"
	"acpgw/providers/adyen/adyentest"
	"acpgw/providers/providertest"
)

func card(number string) payment.Card {
	return payment.Card{NumberType: "fpan", Number: number, ExpMonth: 12, ExpYear: 2034, CVC: "123", Name: "Ada Lovelace", Brand: "visa"}
}

// declineCards are the fake's decline cards with the codes they must map to.
var declineCards = map[payment.DeclineCode]payment.Card{
	payment.DeclineCardDeclined:           card(adyentest.CardRefused),
	payment.DeclineInsufficientFunds:      card(adyentest.CardNotEnough),
	payment.DeclineExpiredCard:            card(adyentest.CardExpired),
	payment.DeclineIncorrectCVC:           card(adyentest.CardCVCDeclined),
	payment.DeclineFraudSuspected:         card(adyentest.CardFraud),
	payment.DeclineAuthenticationRequired: card(adyentest.CardRedirect),
	payment.DeclineLostOrStolen:           card(adyentest.CardBlocked),
	payment.DeclineUnknown:                card(adyentest.CardUnknownRefusal),
}

// newClient returns a client of a fresh fake server.
func newClient(t *testing.T, cfg adyen.Config) (*adyen.Client, *adyentest.Server) {
	t.Helper()
	srv := adyentest.NewServer(t, adyentest.Options{})
	cfg.BaseURL = srv.BaseURL
	if cfg.APIKey == "" {
		cfg.APIKey = srv.APIKey
	}
	if cfg.MerchantAccount == "" {
		cfg.MerchantAccount = srv.MerchantAccount
	}
	if cfg.HMACKey == "" {
		cfg.HMACKey = srv.HMACKey
	}
	c, err := adyen.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, srv
}

func TestConformance(t *testing.T) {
	for _, currency := range []string{"eur", "jpy", "kwd"} {
		t.Run(currency, func(t *testing.T) {
			providertest.Run(t, func(t *testing.T) providertest.Harness {
				c, srv := newClient(t, adyen.Config{Name: "adyen_" + currency})
				timeout := card(adyentest.CardNeverAnswers)
				auth := card(adyentest.CardRedirect)
				return providertest.Harness{
					AuthenticationCard: &auth,
					Provider:           c,
					Currency:           currency,
					ApproveCard:        card(adyentest.CardApproved),
					DeclineCards:       declineCards,
					TimeoutCard:        &timeout,
					ChargeCount:        srv.ChargeCount,
					HoldKey:            srv.HoldKey,
					ModificationsAsync: true,
				}
			})
		})
	}
}
