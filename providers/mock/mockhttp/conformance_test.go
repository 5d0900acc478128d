package mockhttp_test

import (
	"context"
	"net/http/httptest"
	"testing"
	"time"

	"acpgw/payment"
	"acpgw/providers/mock"
	"acpgw/providers/mock/mockhttp"
	"acpgw/providers/providertest"
)

func card(number string) payment.Card {
	return payment.Card{NumberType: "fpan", Number: number, ExpMonth: 12, ExpYear: 2034, CVC: "123", Brand: "visa"}
}

var declineCards = map[payment.DeclineCode]payment.Card{
	payment.DeclineCardDeclined:           card("4000000000000002"),
	payment.DeclineInsufficientFunds:      card("4000000000009995"),
	payment.DeclineExpiredCard:            card("4000000000000069"),
	payment.DeclineIncorrectCVC:           card("4000000000000127"),
	payment.DeclineFraudSuspected:         card("4100000000000019"),
	payment.DeclineAuthenticationRequired: card("4000000000003220"),
	payment.DeclineLostOrStolen:           card("4000000000009987"),
}

// serve starts a Server for a fresh mock and returns a Client of it.
func serve(t *testing.T, cfg mock.Config) (*mockhttp.Client, *mock.Provider, string) {
	t.Helper()
	p := mock.New(cfg)
	srv := httptest.NewServer(mockhttp.NewServer(p))
	t.Cleanup(srv.Close)
	c, err := mockhttp.NewClient(mockhttp.ClientConfig{Name: cfg.Name, URL: srv.URL, Timeout: 10 * time.Second, Currencies: cfg.Currencies})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, p, srv.URL
}

// TestConformance runs the shared provider suite against Client and Server
// over real sockets; the Server's ledger, read over HTTP, counts charges.
func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		currency string
		cfg      mock.Config
	}{
		{"usd", mock.Config{Name: "mock_http", FeeRatePPM: 29000, FeeFixed: 30}},
		{"jpy", mock.Config{Name: "mock_http_jp", FeeRatePPM: 36000, Currencies: []string{"jpy"}}},
		{"kwd", mock.Config{Name: "mock_http_kw", FeeRatePPM: 25000, FeeFixed: 100, Latency: 2 * time.Millisecond}},
	} {
		t.Run(tc.currency, func(t *testing.T) {
			providertest.Run(t, func(t *testing.T) providertest.Harness {
				c, p, url := serve(t, tc.cfg)
				timeout := card("4000000000009979")
				auth := card("4000000000003220")
				return providertest.Harness{
					AuthenticationCard: &auth,
					Provider:           c,
					Currency:           tc.currency,
					ApproveCard:        card("4242424242424242"),
					DeclineCards:       declineCards,
					TimeoutCard:        &timeout,
					HoldKey:            p.HoldKey,
					ChargeCount: func() int {
						ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
						defer cancel()
						charges, err := mockhttp.FetchLedger(ctx, url)
						if err != nil {
							t.Errorf("ledger: %v", err)
						}
						return len(charges)
					},
				}
			})
		})
	}
}
