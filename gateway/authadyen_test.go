package gateway

import (
	"fmt"
	"testing"

	"acpgw/acp"
	"acpgw/config"
	"acpgw/providers"
	"acpgw/providers/adyen"
	"acpgw/providers/adyen/adyentest"
	"acpgw/threeds"
)

// adyenAuthRig is a rig whose merchant acme authenticates with the real
// Adyen provider against the fake Checkout API (adyentest), which checks
// every request and answer against Adyen's spec.
func adyenAuthRig(t *testing.T) (*rig, *adyentest.Server) {
	t.Helper()
	srv := adyentest.NewServer(t, adyentest.Options{})
	r := newRig(t, rigOpts{
		processors: fmt.Sprintf("  mock: {type: mock}\n  adyen_eu: {type: adyen, api_key: %q, merchant_account: %q, base_url: %q}\n",
			srv.APIKey, srv.MerchantAccount, srv.BaseURL),
		acmeAuthentication: "{provider: adyen_eu}",
		build: func(p *config.Processor) (providers.Provider, error) {
			return adyen.New(adyen.Config{Name: p.Name, APIKey: p.Adyen.APIKey, MerchantAccount: p.Adyen.MerchantAccount,
				BaseURL: p.Adyen.BaseURL, Timeout: p.Timeout})
		},
	})
	return r, srv
}

// TestAuthWithAdyen runs sessions through the Adyen provider: frictionless
// after the fingerprint, a challenge that ends while GET asks, and a card
// that is not enrolled. Nothing is charged, the fake sees no spec
// violation, and the database holds neither card nor cryptogram.
func TestAuthWithAdyen(t *testing.T) {
	t.Parallel()
	r, srv := adyenAuthRig(t)

	id, created := r.mustCreate(createInput(adyentest.CardApproved, true))
	if created["status"] != "action_required" {
		t.Fatalf("create: %v", created)
	}
	if got := r.mustAuthenticate(id, acp.AuthenticateRequest{Fingerprint: threeds.FingerprintCompleted}); got["status"] != "authenticated" {
		t.Fatalf("authenticate: %v", got)
	}
	frictionless := srv.Authentications()[0]
	got := r.mustGetSession(id)
	if res, _ := got["authentication_result"].(map[string]any); res["three_ds_cryptogram"] != frictionless.Cryptogram || frictionless.Cryptogram == "" {
		t.Fatalf("get: %v, the fake's cryptogram %q", got, frictionless.Cryptogram)
	}

	id, _ = r.mustCreate(createInput(adyentest.CardRedirect, true))
	auth := r.mustAuthenticate(id, acp.AuthenticateRequest{Fingerprint: threeds.FingerprintCompleted})
	ch, _ := auth["action"].(map[string]any)["challenge"].(map[string]any)
	trans, _ := ch["three_ds_server_trans_id"].(string)
	if auth["status"] != "action_required" || trans == "" {
		t.Fatalf("authenticate: %v", auth)
	}
	if got := r.mustGetSession(id); got["status"] != "action_required" {
		t.Fatalf("get during the challenge: %v", got)
	}
	if !srv.FinishChallenge(trans, adyentest.ChallengeAuthenticated) {
		t.Fatal("no challenge waiting at the fake")
	}
	if got := r.mustGetSession(id); got["status"] != "authenticated" || got["authentication_result"] == nil {
		t.Fatalf("get after the challenge: %v", got)
	}

	id, created = r.mustCreate(createInput(adyentest.Card3DSNotEnrolled, true))
	if created["status"] != "not_supported" || r.row(id).Credential != nil {
		t.Fatalf("not enrolled: %v", created)
	}

	if n := srv.Violations(); n != 0 {
		t.Fatalf("%d spec violations", n)
	}
	if n := srv.ChargeCount(); n != 0 {
		t.Fatalf("authentication charged %d payments", n)
	}
	needles := []string{adyentest.CardApproved, adyentest.CardRedirect}
	for _, a := range srv.Authentications() {
		if a.Cryptogram != "" {
			needles = append(needles, a.Cryptogram)
		}
	}
	r.noSecretsAtRest(needles...)
	if n := testutilEnded(r, "adyen_eu", threeds.StatusAuthenticated); n != 2 {
		t.Fatalf("sessions ended authenticated at adyen_eu: %v, want 2", n)
	}
}
