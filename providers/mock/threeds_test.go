package mock_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"acpgw/payment"
	"acpgw/providers"
	"acpgw/providers/mock"
	"acpgw/threeds"
	"acpgw/threeds/mock3ds"
	"acpgw/threeds/mock3ds/mock3dstest"
)

// TestThreeDSCardsAgree: every 3-D Secure test card means to the processor
// what its 3-D Secure behaviour promises. 4000000000003220 is declined
// authentication_required without an authentication; the others, which
// authenticate (or not) without the processor caring, are approved.
func TestThreeDSCardsAgree(t *testing.T) {
	t.Parallel()
	p := newUSD()
	for _, c := range mock3ds.Cards() {
		res := mustAuthorize(t, p, authReq(c.Number, 1000, payment.CaptureManual))
		wantDecline := c.Number == "4000000000003220"
		if wantDecline != (res.Status == payment.StatusDeclined) {
			t.Errorf("%s (%s): %s, want declined %v", c.Number, c.Flow, res.Status, wantDecline)
		}
		if wantDecline && res.Decline.Code != payment.DeclineAuthenticationRequired {
			t.Errorf("%s: decline %s, want authentication_required", c.Number, res.Decline.Code)
		}
	}
	if got := mock3ds.LookupCard("4000000000003220"); got.Flow != mock3ds.FlowChallenge {
		t.Errorf("4000000000003220 has flow %s in mock3ds, want a challenge", got.Flow)
	}
	if got := mock3ds.LookupCard("4242424242424242"); got.Flow != mock3ds.FlowFrictionless || got.TransStatus != "Y" {
		t.Errorf("4242424242424242 in mock3ds: %+v, want frictionless Y", got)
	}
}

// TestAuthenticatedPayment runs the mock's own 3-D Secure server through a
// browser and pays with what it gives: the challenge card is approved
// with the authenticated result, and still declined after a failed
// challenge.
func TestAuthenticatedPayment(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		number  string
		answers []string
		status  threeds.Status
		paid    payment.Status
	}{
		{"challenge passed", "4000000000003220", []string{"1234"}, threeds.StatusAuthenticated, payment.StatusAuthorized},
		{"challenge failed", "4000000000003220", []string{"1", "2", "3"}, threeds.StatusNotAuthenticated, payment.StatusDeclined},
		{"frictionless", "4242424242424242", nil, threeds.StatusAuthenticated, payment.StatusAuthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mux := http.NewServeMux()
			srv := httptest.NewServer(mux)
			t.Cleanup(srv.Close)
			cfg := mock.Config{Name: "mock", ThreeDS: mock3ds.Options{BaseURL: srv.URL + "/mock/3ds/mock"}}
			if err := cfg.Validate(); err != nil {
				t.Fatal(err)
			}
			p := mock.New(cfg)
			mux.Handle("/mock/3ds/mock/", http.StripPrefix("/mock/3ds/mock", p.ThreeDS()))
			var auth providers.Authenticating = p
			a := auth.Authenticator()
			b := mock3dstest.NewBrowser(t)

			c := card(tc.number)
			sess := &threeds.Session{ID: "as_1", MerchantID: "acme", Card: c, Amount: payment.Money{Amount: 2599, Currency: "usd"},
				ChallengeNotificationURL: b.Shop.ChallengeNotificationURL(), Browser: &threeds.Browser{UserAgent: "test"}}
			step, err := a.Create(ctx(t), sess)
			if err != nil {
				t.Fatal(err)
			}
			sess.State = step.State
			if _, err := b.Fingerprint(ctx(t), *step.Action.Fingerprint); err != nil {
				t.Fatal(err)
			}
			step, err = a.Authenticate(ctx(t), sess, threeds.FingerprintCompleted)
			if err != nil {
				t.Fatal(err)
			}
			if step.Action != nil {
				if _, err := b.Challenge(ctx(t), *step.Action.Challenge, tc.answers...); err != nil {
					t.Fatal(err)
				}
				if step, err = a.Result(ctx(t), sess); err != nil {
					t.Fatal(err)
				}
			}
			if step.Status != tc.status || step.Result == nil {
				t.Fatalf("3-D Secure: %+v, want %s with a result", step, tc.status)
			}
			noCard(t, string(step.State), step.Result.String())

			req := authReq(tc.number, 2599, payment.CaptureManual)
			authn := step.Result.Authentication()
			req.Authentication = &authn
			res := mustAuthorize(t, p, req)
			if res.Status != tc.paid {
				t.Fatalf("payment: %+v, want %s", res, tc.paid)
			}
			if strings.Contains(res.Message, authn.Cryptogram) && authn.Cryptogram != "" {
				t.Error("the answer shows the cryptogram")
			}
		})
	}
}

func TestThreeDSConfig(t *testing.T) {
	t.Parallel()
	err := mock.Config{ThreeDS: mock3ds.Options{BaseURL: "javascript:alert(1)"}}.Validate()
	if err == nil || !strings.Contains(err.Error(), "base URL") {
		t.Errorf("a bad 3-D Secure base URL: %v", err)
	}
	if got := mock.New(mock.Config{}).ThreeDS().BaseURL(); got != mock3ds.DefaultBaseURL {
		t.Errorf("default base URL %q", got)
	}
}
