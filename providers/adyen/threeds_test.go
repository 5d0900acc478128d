package adyen_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"acpgw/payment"
	"acpgw/providers/adyen"
	"acpgw/providers/adyen/adyentest"
	"acpgw/threeds"
)

const notificationURL = "https://agent.example.com/3ds/challenge-callback?s=1"

func ptr[T any](v T) *T { return &v }

// authSession is a session as acpgw hands it to a provider at create, with
// every optional part ACP has.
func authSession(id, number string) *threeds.Session {
	return &threeds.Session{
		ID: id, MerchantID: "acme",
		Card:   payment.Card{NumberType: "fpan", Number: number, ExpMonth: 3, ExpYear: 2030, Name: "Jane Doe", Brand: "visa"},
		Amount: payment.Money{Amount: 1000, Currency: "eur"},
		Acquirer: &threeds.Acquirer{BIN: "412345", Country: "US", MerchantID: "123456789012345",
			MerchantName: "Example Merchant Inc, a name longer than forty characters", RequestorID: "REQ_12345"},
		Browser: &threeds.Browser{
			AcceptHeader: "text/html", IPAddress: "192.0.2.1", JavaScriptEnabled: true, Language: "en-US",
			UserAgent: "Mozilla/5.0", ColorDepth: ptr(24), JavaEnabled: ptr(false), ScreenHeight: ptr(1080),
			ScreenWidth: ptr(1920), TimezoneOffset: ptr(-60),
		},
		ChallengeNotificationURL: notificationURL,
		Flow:                     &threeds.Flow{Type: "challenge", Challenge: "preferred"},
		Shopper: &threeds.Shopper{Name: "Jane Doe", Email: "shopper@example.com", Phone: "15551234567",
			Address: &threeds.Address{LineOne: "123 Main Street", LineTwo: "Apt 4B", City: "Amsterdam", State: "NH",
				Country: "NL", PostalCode: "1012 AB"}},
	}
}

// driver plays acpgw's part: it keeps the session's state and status
// between steps, and checks what every step answers.
type driver struct {
	t   *testing.T
	p   threeds.Provider
	s   *threeds.Session
	srv *adyentest.Server
}

func newDriver(t *testing.T, id, number string) *driver {
	t.Helper()
	c, srv := newClient(t, adyen.Config{})
	return &driver{t: t, p: c.Authenticator(), s: authSession(id, number), srv: srv}
}

// apply records step as acpgw would and checks its invariants: an action
// exactly when action_required, a state without the card or cryptogram.
func (d *driver) apply(step threeds.Step, err error) threeds.Step {
	d.t.Helper()
	if err != nil {
		d.t.Fatalf("step: %v", err)
	}
	if (step.Status == threeds.StatusActionRequired) != (step.Action != nil) {
		d.t.Fatalf("status %s with action %+v", step.Status, step.Action)
	}
	if a := step.Action; a != nil && (a.Fingerprint == nil) == (a.Challenge == nil) {
		d.t.Fatalf("action %+v: want exactly one of fingerprint and challenge", a)
	}
	if step.State != nil {
		d.noSecrets(string(step.State), "state")
		d.s.State = step.State
	}
	if step.Result != nil {
		d.noSecrets(step.Result.String(), "Result.String")
	}
	d.s.Status = step.Status
	return step
}

// noSecrets fails if s holds the card number or any cryptogram the fake
// answered.
func (d *driver) noSecrets(s, what string) {
	d.t.Helper()
	if strings.Contains(s, d.s.Card.Number) {
		d.t.Fatalf("%s holds the card number: %s", what, s)
	}
	for _, a := range d.srv.Authentications() {
		if a.Cryptogram != "" && strings.Contains(s, a.Cryptogram) {
			d.t.Fatalf("%s holds the cryptogram: %s", what, s)
		}
	}
}

func (d *driver) create() threeds.Step {
	d.t.Helper()
	return d.apply(d.p.Create(d.t.Context(), d.s))
}

func (d *driver) authenticate(fp threeds.FingerprintCompletion) threeds.Step {
	d.t.Helper()
	return d.apply(d.p.Authenticate(d.t.Context(), d.s, fp))
}

func (d *driver) result() threeds.Step {
	d.t.Helper()
	return d.apply(d.p.Result(d.t.Context(), d.s))
}

// last is the fake's record of the session's transaction.
func (d *driver) last() adyentest.Authentication {
	d.t.Helper()
	as := d.srv.Authentications()
	if len(as) == 0 {
		d.t.Fatal("the fake saw no authentication")
	}
	return as[len(as)-1]
}

func (d *driver) done() {
	d.t.Helper()
	if n := d.srv.Violations(); n != 0 {
		d.t.Fatalf("%d spec violations", n)
	}
	if n := d.srv.ChargeCount(); n != 0 {
		d.t.Fatalf("an authentication charged %d payments", n)
	}
}

// TestThreeDSFrictionless: fingerprint at create, then a frictionless Y
// with the fake's cryptogram; the request carried what Adyen's docs ask
// for a native browser authentication, all of it valid against v71.
func TestThreeDSFrictionless(t *testing.T) {
	t.Parallel()
	d := newDriver(t, "as_frictionless", adyentest.CardApproved)
	step := d.create()
	fp := step.Action.Fingerprint
	if step.Status != threeds.StatusActionRequired || fp == nil || fp.MethodURL != adyentest.ThreeDSMethodURL || fp.ServerTransID == "" {
		t.Fatalf("create: %+v", step)
	}
	step = d.authenticate(threeds.FingerprintCompleted)
	a := d.last()
	r := step.Result
	if step.Status != threeds.StatusAuthenticated || r == nil {
		t.Fatalf("authenticate: %+v", step)
	}
	want := threeds.Result{TransStatus: "Y", ECI: "05", Cryptogram: a.Cryptogram, TransactionID: r.TransactionID,
		ServerTransID: fp.ServerTransID, Version: adyentest.ThreeDSVersion}
	if *r != want || a.Cryptogram == "" || r.TransactionID == "" {
		t.Fatalf("result %#v (cryptogram %t), want %#v", r, r.Cryptogram == a.Cryptogram, want)
	}
	if got := r.Authentication(); got.Outcome != payment.AuthAuthenticated || got.Cryptogram != a.Cryptogram {
		t.Fatalf("authentication_result %+v", got)
	}
	wantReq := adyentest.Authentication{
		PSPReference: a.PSPReference, Reference: "as_frictionless", Last4: "4242", ServerTransID: fp.ServerTransID,
		Channel: "Web", Origin: "https://agent.example.com", NotificationURL: notificationURL, ChallengeInd: "03",
		AcquirerBIN: "412345", AcquirerMerchantID: "123456789012345", MerchantName: "Example Merchant Inc, a name longer than",
		RequestorID: "REQ_12345", ShopperEmail: "shopper@example.com", ShopperIP: "192.0.2.1", TelephoneNumber: "+15551234567",
		ExpiryMonth: "03", NativeThreeDS: "preferred", BrowserInfo: true, BillingAddress: true,
		CompInd: "Y", TransStatus: "Y", Cryptogram: a.Cryptogram,
	}
	if a != wantReq {
		t.Fatalf("the fake saw\n%+v\nwant\n%+v", a, wantReq)
	}
	d.done()
}

// TestThreeDSAfterFingerprint: the other outcomes Adyen answers to the
// fingerprint's completion.
func TestThreeDSAfterFingerprint(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, card string
		fp         threeds.FingerprintCompletion
		status     threeds.Status
		trans, eci string
		cryptogram bool
	}{
		{"rejected", adyentest.Card3DSRejected, threeds.FingerprintCompleted, threeds.StatusRejected, "R", "07", false},
		{"attempted", adyentest.Card3DSAttempted, threeds.FingerprintTimedOut, threeds.StatusAttempted, "A", "06", true},
		{"error", adyentest.Card3DSError, threeds.FingerprintUnavailable, threeds.StatusUnavailable, "", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := newDriver(t, "as_fp_"+tc.name, tc.card)
			if step := d.create(); step.Status != threeds.StatusActionRequired {
				t.Fatalf("create: %+v", step)
			}
			step := d.authenticate(tc.fp)
			if step.Status != tc.status {
				t.Fatalf("authenticate: %+v, want %s", step, tc.status)
			}
			if a := d.last(); a.CompInd != string(tc.fp) {
				t.Fatalf("threeDSCompInd %q, want %q", a.CompInd, tc.fp)
			}
			r := step.Result
			switch {
			case tc.trans == "" && r != nil:
				t.Fatalf("result %v without a threeDS2Result", r)
			case tc.trans != "" && (r == nil || r.TransStatus != tc.trans || r.ECI != tc.eci || (r.Cryptogram != "") != tc.cryptogram):
				t.Fatalf("result %#v", r)
			}
			if tc.name == "rejected" && (r.TransStatusReason != "01" || r.CardholderInfo == "") {
				t.Fatalf("rejected result lacks reason or cardholder info: %#v", r)
			}
			d.done()
		})
	}
}

// TestThreeDSChallenge: fingerprint, challenge, result while the shopper
// is on it (the same challenge again, each poll a new request), then the
// end the shopper chose.
func TestThreeDSChallenge(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		outcome string
		status  threeds.Status
		trans   string
	}{
		{adyentest.ChallengeAuthenticated, threeds.StatusAuthenticated, "Y"},
		{adyentest.ChallengeFailed, threeds.StatusNotAuthenticated, "N"},
		{adyentest.ChallengeCancelled, threeds.StatusChallengeAbandoned, "N"},
	} {
		t.Run(tc.outcome, func(t *testing.T) {
			t.Parallel()
			d := newDriver(t, "as_challenge_"+tc.outcome, adyentest.CardRedirect)
			fp := d.create().Action.Fingerprint
			step := d.authenticate(threeds.FingerprintCompleted)
			ch := step.Action.Challenge
			if step.Status != threeds.StatusActionRequired || ch == nil || ch.ACSURL != adyentest.ACSURL || ch.ACSTransID == "" ||
				ch.ServerTransID != fp.ServerTransID || ch.MessageVersion != adyentest.ThreeDSVersion {
				t.Fatalf("authenticate: %+v", step)
			}
			for i := range 2 {
				again := d.result()
				if again.Status != threeds.StatusActionRequired || *again.Action.Challenge != *ch {
					t.Fatalf("result %d while waiting: %+v", i, again)
				}
			}
			if !d.srv.FinishChallenge(ch.ServerTransID, tc.outcome) {
				t.Fatal("no challenge waiting at the fake")
			}
			step = d.result()
			a := d.last()
			if step.Status != tc.status || step.Result == nil || step.Result.TransStatus != tc.trans || a.Polls != 2 {
				t.Fatalf("result: %+v (%d polls)", step, a.Polls)
			}
			if tc.trans == "Y" && (step.Result.Cryptogram != a.Cryptogram || step.Result.ECI != "05") {
				t.Fatalf("result %#v", step.Result)
			}
			if _, err := d.p.Result(t.Context(), d.s); err == nil {
				t.Fatal("result of a final session asked Adyen again")
			}
			d.done()
		})
	}
}

// TestThreeDSWithoutFingerprint: Adyen answers at once when the ACS runs
// no 3DS Method; create hands the answer on as pending, and authenticate
// answers it: a challenge kept in the state, a frictionless outcome that
// Adyen replays for the same Idempotency-Key (the state holds no
// cryptogram), or no 3-D Secure at all.
func TestThreeDSWithoutFingerprint(t *testing.T) {
	t.Parallel()
	t.Run("challenge", func(t *testing.T) {
		t.Parallel()
		d := newDriver(t, "as_direct_challenge", adyentest.Card3DSDirectChallenge)
		if step := d.create(); step.Status != threeds.StatusPending {
			t.Fatalf("create: %+v", step)
		}
		before := d.srv.Requests()
		step := d.authenticate(threeds.FingerprintUnavailable)
		if step.Status != threeds.StatusActionRequired || step.Action.Challenge == nil || d.srv.Requests() != before {
			t.Fatalf("authenticate: %+v after %d requests", step, d.srv.Requests()-before)
		}
		d.srv.FinishChallenge(step.Action.Challenge.ServerTransID, adyentest.ChallengeAuthenticated)
		if step := d.result(); step.Status != threeds.StatusAuthenticated || step.Result.Cryptogram != d.last().Cryptogram {
			t.Fatalf("result: %+v", step)
		}
		d.done()
	})
	t.Run("frictionless", func(t *testing.T) {
		t.Parallel()
		d := newDriver(t, "as_direct_frictionless", adyentest.Card3DSDirectFrictionless)
		if step := d.create(); step.Status != threeds.StatusPending {
			t.Fatalf("create: %+v", step)
		}
		// acpgw merges what authenticate brings; the replayed request is
		// still the one create sent (the fake fails the test otherwise).
		d.s.Shopper = &threeds.Shopper{Email: "other@example.com"}
		step := d.authenticate(threeds.FingerprintUnavailable)
		if step.Status != threeds.StatusAuthenticated || step.Result == nil || step.Result.Cryptogram != d.last().Cryptogram {
			t.Fatalf("authenticate: %+v", step)
		}
		if n := len(d.srv.Authentications()); n != 1 || d.last().ShopperEmail != "shopper@example.com" {
			t.Fatalf("%d transactions at the fake, want the first one replayed", n)
		}
		d.done()
	})
	t.Run("not enrolled", func(t *testing.T) {
		t.Parallel()
		d := newDriver(t, "as_not_enrolled", adyentest.Card3DSNotEnrolled)
		if step := d.create(); step.Status != threeds.StatusNotSupported || step.Result != nil {
			t.Fatalf("create: %+v", step)
		}
		d.done()
	})
}

// TestThreeDSDeferred: without the browser data (or the challenge
// notification URL) create sends nothing and answers pending;
// authenticate sends /payments, and after a fingerprint request at once
// /payments/details with threeDSCompInd U (no 3DS Method ran).
func TestThreeDSDeferred(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, card string
		status     threeds.Status
	}{
		{"frictionless", adyentest.CardApproved, threeds.StatusAuthenticated},
		{"challenge", adyentest.CardRedirect, threeds.StatusActionRequired},
		{"not enrolled", adyentest.Card3DSNotEnrolled, threeds.StatusNotSupported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := newDriver(t, "as_deferred_"+strings.ReplaceAll(tc.name, " ", "_"), tc.card)
			browser, url := d.s.Browser, d.s.ChallengeNotificationURL
			d.s.Browser, d.s.ChallengeNotificationURL = nil, ""
			if step := d.create(); step.Status != threeds.StatusPending || d.srv.Requests() != 0 {
				t.Fatalf("create: %+v after %d requests", step, d.srv.Requests())
			}
			if _, err := d.p.Authenticate(t.Context(), d.s, threeds.FingerprintUnavailable); err == nil {
				t.Fatal("authenticate without browser data succeeded")
			}
			d.s.Browser, d.s.ChallengeNotificationURL = browser, url
			step := d.authenticate(threeds.FingerprintUnavailable)
			if step.Status != tc.status {
				t.Fatalf("authenticate: %+v", step)
			}
			if tc.card != adyentest.Card3DSNotEnrolled && d.last().CompInd != "U" {
				t.Fatalf("threeDSCompInd %q, want U", d.last().CompInd)
			}
			d.done()
		})
	}
}

// TestThreeDSFlowPreference: flow_preference becomes EMV's
// threeDSRequestorChallengeInd; JavaScript off still sends a BrowserInfo
// v71 accepts.
func TestThreeDSFlowPreference(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct {
		flow *threeds.Flow
		want string
	}{
		{nil, ""},
		{&threeds.Flow{Type: "frictionless"}, "02"},
		{&threeds.Flow{Type: "challenge"}, "03"},
		{&threeds.Flow{Type: "challenge", Challenge: "mandated"}, "04"},
	} {
		d := newDriver(t, "as_flow_"+string(rune('a'+i)), adyentest.CardApproved)
		d.s.Flow = tc.flow
		d.s.Browser = &threeds.Browser{AcceptHeader: "text/html", IPAddress: "192.0.2.1", Language: "nl", UserAgent: "curl"}
		d.s.Shopper, d.s.Acquirer = nil, nil
		d.create()
		if got := d.last().ChallengeInd; got != tc.want {
			t.Errorf("flow %+v: threeDSRequestorChallengeInd %q, want %q", tc.flow, got, tc.want)
		}
		d.done()
	}
}

// TestThreeDSRetrySafe: a step repeated with the same state (acpgw lost
// the answer) sends the same request with the same Idempotency-Key and
// gets Adyen's first answer: one transaction, no second AReq.
func TestThreeDSRetrySafe(t *testing.T) {
	t.Parallel()
	d := newDriver(t, "as_retry", adyentest.CardApproved)
	first := d.create()
	again := d.create()
	if *first.Action.Fingerprint != *again.Action.Fingerprint {
		t.Fatalf("create again: %+v, want %+v", again.Action.Fingerprint, first.Action.Fingerprint)
	}
	state := d.s.State
	one := d.authenticate(threeds.FingerprintCompleted)
	d.s.State = state
	two := d.authenticate(threeds.FingerprintCompleted)
	if *one.Result != *two.Result || len(d.srv.Authentications()) != 1 {
		t.Fatalf("authenticate again: %#v, want %#v", two.Result, one.Result)
	}
	d.done()
}

// TestThreeDSErrors: what may pass wraps threeds.ErrUnavailable (5xx, no
// answer, no connection, still in progress); what will not (4xx) fails
// the step; no error names the card or the cryptogram.
func TestThreeDSErrors(t *testing.T) {
	t.Parallel()
	var errs []error
	check := func(name string, err error, unavailable bool) {
		t.Helper()
		if err == nil || errors.Is(err, threeds.ErrUnavailable) != unavailable {
			t.Errorf("%s: %v, want unavailable %t", name, err, unavailable)
		}
		errs = append(errs, err)
	}

	// 500 after Adyen stored its answer: unavailable; the retry replays it.
	d := newDriver(t, "as_err_500", adyentest.CardServerError)
	_, err := d.p.Create(t.Context(), d.s)
	check("500", err, true)
	if step := d.create(); step.Status != threeds.StatusActionRequired {
		t.Fatalf("create after 500: %+v", step)
	}
	d.authenticate(threeds.FingerprintCompleted)
	cryptogram := d.last().Cryptogram

	// No answer before the deadline.
	d2 := newDriver(t, "as_err_hang", adyentest.CardNeverAnswers)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	_, err = d2.p.Create(ctx, d2.s)
	cancel()
	check("timeout", err, true)

	// 422 invalid card: the step fails, with Adyen's message.
	d3 := newDriver(t, "as_err_422", adyentest.CardInvalidNumber)
	_, err = d3.p.Create(t.Context(), d3.s)
	check("422", err, false)
	if !strings.Contains(err.Error(), "Invalid card number") {
		t.Errorf("422: %v", err)
	}

	// 401 wrong key.
	srv := adyentest.NewServer(t, adyentest.Options{})
	bad, err := adyen.New(adyen.Config{APIKey: "wrong", MerchantAccount: srv.MerchantAccount, BaseURL: srv.BaseURL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.Authenticator().Create(t.Context(), authSession("as_err_401", adyentest.CardApproved))
	check("401", err, false)

	// No connection.
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	refused, err := adyen.New(adyen.Config{APIKey: "k", MerchantAccount: "M", BaseURL: closed.URL + "/v71"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = refused.Authenticator().Create(t.Context(), authSession("as_err_refused", adyentest.CardApproved))
	check("refused", err, true)

	// Still in progress at Adyen (704) after the client's re-sends.
	d4 := newDriver(t, "as_err_704", adyentest.CardApproved)
	d4.create()
	release := d4.srv.HoldAllKeys()
	_, err = d4.p.Authenticate(t.Context(), d4.s, threeds.FingerprintCompleted)
	release()
	check("704", err, true)

	// 503 and a reset on /payments/details, behind a proxy to the fake.
	for _, mode := range []string{"503", "reset"} {
		d5 := newDriver(t, "as_err_details_"+mode, adyentest.CardRedirect)
		var fail atomic.Bool
		d5.p = proxied(t, d5.srv, &fail, mode).Authenticator()
		d5.create()
		fail.Store(true)
		_, err = d5.p.Authenticate(t.Context(), d5.s, threeds.FingerprintCompleted)
		check("details "+mode, err, true)
		fail.Store(false)
		step := d5.authenticate(threeds.FingerprintCompleted)
		fail.Store(true)
		_, err = d5.p.Result(t.Context(), d5.s)
		check("result "+mode, err, true)
		fail.Store(false)
		if again := d5.result(); *again.Action.Challenge != *step.Action.Challenge {
			t.Fatalf("result after %s: %+v", mode, again)
		}
	}

	for _, err := range errs {
		for _, secret := range []string{adyentest.CardServerError, adyentest.CardNeverAnswers, adyentest.CardInvalidNumber,
			adyentest.CardApproved, adyentest.CardRedirect, cryptogram} {
			if err != nil && secret != "" && strings.Contains(err.Error(), secret) {
				t.Errorf("error %q holds a card number or cryptogram", err)
			}
		}
	}
}

// proxied is a client whose calls go through a proxy to srv that, while
// fail is set, answers /payments/details itself: 503, or a connection
// closed without an answer.
func proxied(t *testing.T, srv *adyentest.Server, fail *atomic.Bool, mode string) *adyen.Client {
	t.Helper()
	target, err := url.Parse(srv.BaseURL)
	if err != nil {
		t.Fatal(err)
	}
	target.Path = ""
	proxy := httputil.NewSingleHostReverseProxy(target)
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Load() && strings.HasSuffix(r.URL.Path, "/payments/details") {
			if mode == "reset" {
				if conn, _, err := w.(http.Hijacker).Hijack(); err == nil {
					conn.Close()
				}
				return
			}
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)
	c, err := adyen.New(adyen.Config{APIKey: srv.APIKey, MerchantAccount: srv.MerchantAccount, BaseURL: front.URL + "/v71"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestThreeDSRefusedSessions: what Adyen cannot authenticate is refused
// before any request, with messages free of the card; steps out of order
// fail.
func TestThreeDSRefusedSessions(t *testing.T) {
	t.Parallel()
	c, srv := newClient(t, adyen.Config{Currencies: []string{"eur"}})
	p := c.Authenticator()
	for name, mutate := range map[string]func(*threeds.Session){
		"network token": func(s *threeds.Session) { s.Card.NumberType = "network_token" },
		"bad expiry":    func(s *threeds.Session) { s.Card.ExpMonth = 13 },
		"no amount":     func(s *threeds.Session) { s.Amount.Amount = 0 },
		"currency":      func(s *threeds.Session) { s.Amount.Currency = "usd" },
		"no id":         func(s *threeds.Session) { s.ID = "" },
	} {
		s := authSession("as_refused", adyentest.CardApproved)
		mutate(s)
		if _, err := p.Create(t.Context(), s); err == nil || errors.Is(err, threeds.ErrUnavailable) || strings.Contains(err.Error(), adyentest.CardApproved) {
			t.Errorf("%s: %v", name, err)
		}
	}
	s := authSession("as_order", adyentest.CardApproved)
	if _, err := p.Authenticate(t.Context(), s, threeds.FingerprintCompleted); err == nil {
		t.Error("authenticate before create succeeded")
	}
	step, err := p.Create(t.Context(), s)
	if err != nil {
		t.Fatal(err)
	}
	s.State = step.State
	if _, err := p.Result(t.Context(), s); err == nil {
		t.Error("result before a challenge succeeded")
	}
	if srv.Requests() != 1 || srv.Violations() != 0 {
		t.Fatalf("%d requests, %d violations", srv.Requests(), srv.Violations())
	}
}

// TestThreeDSLongSessionID: an id too long for Adyen's 64-character
// Idempotency-Key still gives keys Adyen accepts (the fake fails the test
// otherwise), stable across retries.
func TestThreeDSLongSessionID(t *testing.T) {
	t.Parallel()
	d := newDriver(t, "as_"+strings.Repeat("x", 90), adyentest.CardApproved)
	d.create()
	d.create()
	if step := d.authenticate(threeds.FingerprintCompleted); step.Status != threeds.StatusAuthenticated {
		t.Fatalf("authenticate: %+v", step)
	}
	if n := len(d.srv.Authentications()); n != 1 {
		t.Fatalf("%d transactions, want 1", n)
	}
	d.done()
}

// FuzzDecodeThreeDS2Token: the decoder never panics, never quotes the
// token in its error, and what it decodes survives encoding again.
func FuzzDecodeThreeDS2Token(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/threeds2token/*")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(strings.TrimSpace(string(b)))
	}
	f.Fuzz(func(t *testing.T, token string) {
		tok, err := adyen.DecodeThreeDS2Token(token)
		if err != nil {
			if !errors.Is(err, adyen.ErrBadThreeDS2Token) {
				t.Fatalf("error %v is not ErrBadThreeDS2Token", err)
			}
			if len(token) >= 8 && strings.Contains(err.Error(), token) {
				t.Fatalf("error quotes the token: %v", err)
			}
			return
		}
		b, err := json.Marshal(tok)
		if err != nil {
			t.Fatal(err)
		}
		again, err := adyen.DecodeThreeDS2Token(base64.StdEncoding.EncodeToString(b))
		if err != nil || again != tok {
			t.Fatalf("re-encoded token: %+v, %v; want %+v", again, err, tok)
		}
	})
}
