package e2e

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"
	"time"

	"acpgw/threeds"
	"acpgw/threeds/mock3ds/mock3dstest"
)

// Delegate Authentication traffic of the end-to-end test: hooli's sessions
// run on the in-process mock processor named mock (its 3-D Secure server,
// whose pages acpgw serves on its own listener), and a scripted browser
// plays the fingerprint and the challenge on those pages.

// The mock's 3-D Secure test cards (the README's table).
const (
	authCardFrictionless = "4242424242424242" // fingerprint, then authenticated (Y)
	authCardChallenge    = "4000000000003220" // fingerprint, then a challenge; 1234 authenticates
	authCardNotEnrolled  = "4000000000003014" // not_supported at create
	authCardRejected     = "4000000000003048" // fingerprint, then rejected (R)
)

const (
	// authMerchant offers Delegate Authentication, through authProvider.
	authMerchant = "hooli"
	authProvider = "mock"
	// authChallengeCode is the mock challenge page's one-time code.
	authChallengeCode = "1234"
)

// The steps of acpgw_authentication_step_duration_seconds: one provider
// call each.
const (
	stepCreate       = "create"
	stepAuthenticate = "authenticate"
	stepResult       = "result"
)

// authSessionView is the part of a Delegate Authentication session answer
// the test reads. The result's cryptogram is only checked to be there.
type authSessionView struct {
	ID     string `json:"authentication_session_id"`
	Status string `json:"status"`
	Action *struct {
		Type        string `json:"type"`
		Fingerprint *struct {
			MethodURL     string `json:"three_ds_method_url"`
			ServerTransID string `json:"three_ds_server_trans_id"`
		} `json:"fingerprint"`
		Challenge *struct {
			ACSURL         string `json:"acs_url"`
			ACSTransID     string `json:"acs_trans_id"`
			ServerTransID  string `json:"three_ds_server_trans_id"`
			MessageVersion string `json:"message_version"`
		} `json:"challenge"`
	} `json:"action"`
	Result *struct {
		TransStatus string `json:"trans_status"`
		Cryptogram  string `json:"three_ds_cryptogram"`
	} `json:"authentication_result"`
}

// authTally is what the Delegate Authentication traffic must produce:
// sessions ended by provider and status, provider calls by provider and
// step.
type authTally struct {
	ended map[key2]int
	steps map[key2]int
}

func newAuthTally() authTally {
	return authTally{ended: map[key2]int{}, steps: map[key2]int{}}
}

// authEnded counts a session that ended with status.
func (tr *traffic) authEnded(status string) {
	tr.auth.ended[key2{authProvider, status}]++
	if tr.phase == 2 {
		tr.authMeasured.ended[key2{authProvider, status}]++
	}
}

// authStep counts a call to the authentication provider.
func (tr *traffic) authStep(step string) {
	tr.auth.steps[key2{authProvider, step}]++
	if tr.phase == 2 {
		tr.authMeasured.steps[key2{authProvider, step}]++
	}
}

// authMix sends one session of each kind the priming phase needs (every
// status and step series): a challenge completed in the browser (create,
// authenticate, two results: authenticated), a card that is not enrolled
// (create: not_supported) and a rejected one (create, authenticate). With
// more, it adds frictionless authentications (with the browser's
// fingerprint and without one), a second rejection and a create replayed
// with its Idempotency-Key, so that no two statuses end with the same
// count.
func (tr *traffic) authMix(more bool) {
	tr.authChallenge()
	tr.authNotSupported(more)
	tr.authRejected()
	if more {
		tr.authFrictionless(true)
		tr.authFrictionless(false)
		tr.authRejected()
	}
}

// browser returns the scripted shopper's browser, started on first use.
func (tr *traffic) browser() *mock3dstest.Browser {
	if tr.shopper == nil {
		tr.shopper = mock3dstest.NewBrowser(tr.gw.t)
	}
	return tr.shopper
}

// authCreate opens a session for card and requires wantStatus; with
// replay, it sends the same request again with its Idempotency-Key and
// requires the stored answer (no second provider call).
func (tr *traffic) authCreate(card, wantStatus string, replay bool) authSessionView {
	t := tr.gw.t
	t.Helper()
	tr.gw.n++
	idem := fmt.Sprintf("da-%d", tr.gw.n)
	body := map[string]any{
		"merchant_id": authMerchant,
		"payment_method": map[string]any{"type": "card", "number": card, "exp_month": "12", "exp_year": "2030",
			"name": "Jane Doe"},
		"amount": map[string]any{"value": amount, "currency": "USD"},
		"channel": map[string]any{"type": "browser", "browser": map[string]any{
			"accept_header": "text/html", "ip_address": "192.0.2.1", "javascript_enabled": false,
			"language": "en-US", "user_agent": "Mozilla/5.0"}},
		"challenge_notification_url": tr.browser().Shop.ChallengeNotificationURL(),
		"checkout_session_id":        fmt.Sprintf("cs_%s_%d", authMerchant, tr.gw.n),
	}
	var s authSessionView
	code, _ := tr.gw.call(http.MethodPost, "/delegate_authentication", "agent-key", idem, body, &s)
	if code != http.StatusCreated || s.Status != wantStatus || s.ID == "" {
		t.Fatalf("create a session for %s: HTTP %d, %+v; want 201 %s", card[len(card)-4:], code, s, wantStatus)
	}
	tr.authStep(stepCreate)
	if replay {
		var again authSessionView
		code, h := tr.gw.call(http.MethodPost, "/delegate_authentication", "agent-key", idem, body, &again)
		if code != http.StatusCreated || h.Get("Idempotent-Replayed") != "true" || again.ID != s.ID {
			t.Fatalf("create replayed: HTTP %d, Idempotent-Replayed %q, session %q; want 201 replayed %s",
				code, h.Get("Idempotent-Replayed"), again.ID, s.ID)
		}
	}
	return s
}

// authFingerprint runs the session's 3DS Method in the browser.
func (tr *traffic) authFingerprint(s authSessionView) {
	t := tr.gw.t
	t.Helper()
	if s.Action == nil || s.Action.Fingerprint == nil {
		t.Fatalf("session %s: no fingerprint action: %+v", s.ID, s)
	}
	if _, err := tr.browser().Fingerprint(t.Context(), threeds.Fingerprint{
		MethodURL: s.Action.Fingerprint.MethodURL, ServerTransID: s.Action.Fingerprint.ServerTransID,
	}); err != nil {
		t.Fatalf("session %s: fingerprint on the mock's pages: %v", s.ID, err)
	}
}

// authAuthenticate sends the AReq with completion and requires
// wantStatus.
func (tr *traffic) authAuthenticate(s authSessionView, completion, wantStatus string) authSessionView {
	t := tr.gw.t
	t.Helper()
	tr.gw.n++
	var out authSessionView
	code, _ := tr.gw.call(http.MethodPost, "/delegate_authentication/"+s.ID+"/authenticate", "agent-key",
		fmt.Sprintf("daa-%d", tr.gw.n), map[string]any{"fingerprint_completion": completion}, &out)
	if code != http.StatusOK || out.Status != wantStatus {
		t.Fatalf("authenticate %s: HTTP %d, %+v; want 200 %s", s.ID, code, out, wantStatus)
	}
	tr.authStep(stepAuthenticate)
	return out
}

// authGet reads the session and requires wantStatus. askedProvider says
// whether the gateway asks the provider (Result): only while the shopper
// faces a challenge (gateway.awaitsChallenge), which the test knows from
// the status it last saw.
func (tr *traffic) authGet(id string, askedProvider bool, wantStatus string) authSessionView {
	t := tr.gw.t
	t.Helper()
	var out authSessionView
	code, _ := tr.gw.call(http.MethodGet, "/delegate_authentication/"+id, "agent-key", "", nil, &out)
	if code != http.StatusOK || out.Status != wantStatus {
		t.Fatalf("GET session %s: HTTP %d, %+v; want 200 %s", id, code, out, wantStatus)
	}
	if askedProvider {
		tr.authStep(stepResult)
	}
	return out
}

// authFrictionless: 4242... authenticates without a challenge, after the
// browser's fingerprint (Y) or without one (U).
func (tr *traffic) authFrictionless(withFingerprint bool) {
	s := tr.authCreate(authCardFrictionless, "action_required", false)
	completion := "U"
	if withFingerprint {
		tr.authFingerprint(s)
		completion = "Y"
	}
	tr.authAuthenticate(s, completion, "authenticated")
	tr.authEnded("authenticated")
	if got := tr.authGet(s.ID, false, "authenticated"); got.Result == nil || got.Result.TransStatus != "Y" || got.Result.Cryptogram == "" {
		tr.gw.t.Fatalf("frictionless session %s: result %+v, want Y with a cryptogram", s.ID, got.Result)
	}
}

// authNotSupported: a card that is not enrolled ends at create. With
// replay, the create is sent twice under one key.
func (tr *traffic) authNotSupported(replay bool) {
	tr.authCreate(authCardNotEnrolled, "not_supported", replay)
	tr.authEnded("not_supported")
}

// authRejected: the issuer rejects the AReq without a challenge; no
// fingerprint ran (U).
func (tr *traffic) authRejected() {
	s := tr.authCreate(authCardRejected, "action_required", false)
	tr.authAuthenticate(s, "U", "rejected")
	tr.authEnded("rejected")
}

// authChallenge: fingerprint, AReq, a GET while the shopper has not
// answered (the provider is asked: still the challenge), the challenge
// answered with the code in the browser, a GET that learns the end from
// the provider (authenticated), and a GET of the ended session, which asks
// the provider nothing.
func (tr *traffic) authChallenge() {
	t := tr.gw.t
	s := tr.authCreate(authCardChallenge, "action_required", false)
	tr.authFingerprint(s)
	ch := tr.authAuthenticate(s, "Y", "action_required")
	if ch.Action == nil || ch.Action.Challenge == nil {
		t.Fatalf("session %s: authenticate gave no challenge: %+v", s.ID, ch)
	}
	tr.authGet(s.ID, true, "action_required")
	c := ch.Action.Challenge
	cres, err := tr.browser().Challenge(t.Context(), threeds.Challenge{
		ACSURL: c.ACSURL, ACSTransID: c.ACSTransID, ServerTransID: c.ServerTransID, MessageVersion: c.MessageVersion,
	}, authChallengeCode)
	if err != nil || cres.TransStatus != "Y" {
		t.Fatalf("session %s: challenge in the browser: %+v, %v", s.ID, cres, err)
	}
	got := tr.authGet(s.ID, true, "authenticated")
	if got.Result == nil || got.Result.TransStatus != "Y" || got.Result.Cryptogram == "" {
		t.Fatalf("session %s after the challenge: result %+v, want Y with a cryptogram", s.ID, got.Result)
	}
	tr.authEnded("authenticated")
	tr.authGet(s.ID, false, "authenticated")
}

// checkAuthCounters: the Delegate Authentication counters as Prometheus
// scraped them equal the traffic exactly: sessions ended by provider and
// status, provider calls by provider and step (the step histogram's
// counts), and the replayed create.
func checkAuthCounters(t *testing.T, prom *promAPI, tr *traffic) {
	t.Run("authentication counters", func(t *testing.T) {
		for _, c := range []struct {
			expr, l1, l2 string
			want         map[key2]int
		}{
			{`sum by (provider, status) (acpgw_authentication_sessions_total)`, "provider", "status", tr.auth.ended},
			{`sum by (provider, step) (acpgw_authentication_step_duration_seconds_count)`, "provider", "step", tr.auth.steps},
		} {
			equalCounts(t, c.expr, byLabel(prom.mustQuery(c.expr), c.l1, c.l2), c.want)
		}
		one(t, prom, `sum(acpgw_idempotency_total{route="/delegate_authentication",result="replayed"})`, 1)
	})
}

// equalCounts requires got (by "a/b") to hold exactly the counts of want.
func equalCounts(t *testing.T, expr string, got map[string]float64, want map[key2]int) {
	t.Helper()
	if len(want) == 0 {
		t.Fatalf("%s: the traffic sent nothing to compare with", expr)
	}
	for k, n := range want {
		if got[k.a+"/"+k.b] != float64(n) {
			t.Errorf("%s: %s/%s = %v, sent %d", expr, k.a, k.b, got[k.a+"/"+k.b], n)
		}
	}
	for k, v := range got {
		a, b, _ := strings.Cut(k, "/")
		if _, sent := want[key2{a, b}]; !sent {
			t.Errorf("%s: %s = %v, but nothing of it was sent", expr, k, v)
		}
	}
}

// checkAuthPanel compares a Delegate Authentication panel's rates with
// the measured phase: one series per label pair sent in either phase;
// rate × window, the increase Prometheus extrapolates over the window, is
// at least what phase 2 sent and at most a little more (the extrapolation
// to the window's ends), and 0 for pairs phase 2 did not send.
func checkAuthPanel(t *testing.T, res []sample, l1, l2 string, all, measured map[key2]int) {
	t.Helper()
	window := rateInterval(t)
	got := byLabel(res, l1, l2)
	if len(got) != len(all) {
		t.Errorf("series %v, want one for each of %v", res, all)
	}
	for k := range all {
		v, ok := got[k.a+"/"+k.b]
		m := float64(measured[k])
		if inc := v * window.Seconds(); !ok || inc < 0.9*m || inc > 1.5*m {
			t.Errorf("%s/%s: rate %v (%.2f in %s), phase 2 sent %v", k.a, k.b, v, inc, window, m)
		}
	}
}

// checkAuthLatencyPanel: p95 of each step that phase 2 called, above 0
// and within authentication.step_timeout (the default, 20s), which bounds
// every call.
func checkAuthLatencyPanel(t *testing.T, res []sample, measured map[key2]int) {
	t.Helper()
	got := byLabel(res, "provider", "step")
	if len(got) != len(measured) {
		t.Errorf("series %v, want one for each step of %v", res, measured)
	}
	for k := range measured {
		if v, ok := got[k.a+"/"+k.b]; !ok || math.IsNaN(v) || v <= 0 || v > 20 {
			t.Errorf("%s/%s p95 = %v s, want in (0, 20]", k.a, k.b, v)
		}
	}
}

// rateInterval is what grafanaVars substitutes for $__rate_interval.
func rateInterval(t *testing.T) time.Duration {
	t.Helper()
	for _, v := range grafanaVars {
		if v.name == "$__rate_interval" {
			d, err := time.ParseDuration(v.value)
			if err != nil {
				t.Fatal(err)
			}
			return d
		}
	}
	t.Fatal("grafanaVars has no $__rate_interval")
	return 0
}
