package adyen_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"acpgw/payment"
	"acpgw/providers"
	"acpgw/providers/adyen"
	"acpgw/providers/adyen/adyentest"
	"acpgw/providers/providertest"
)

func TestRefusalTable(t *testing.T) {
	t.Parallel()
	// Codes in 2..46 that Adyen's list does not have.
	undocumented := map[int]bool{13: true, 30: true, 43: true, 44: true, 45: true}
	for n := 2; n <= 46; n++ {
		code := fmt.Sprint(n)
		t.Run(code, func(t *testing.T) {
			t.Parallel()
			dc, ok := adyen.LookupRefusal(code)
			if undocumented[n] {
				if ok || dc != payment.DeclineUnknown {
					t.Fatalf("undocumented code %s maps to %s", code, dc)
				}
				return
			}
			if !ok {
				t.Fatalf("documented code %s is not in the table", code)
			}
			if _, known := payment.LookupDecline(dc); !known || dc == payment.DeclineUnknown {
				t.Fatalf("code %s maps to %q, not a specific taxonomy code", code, dc)
			}
		})
	}
	seen := map[string]bool{}
	for _, r := range adyen.Refusals {
		if seen[r.Code] || r.Reason == "" {
			t.Errorf("refusal %+v duplicated or without reason", r)
		}
		seen[r.Code] = true
	}
	if dc, ok := adyen.LookupRefusal("99"); ok || dc != payment.DeclineUnknown {
		t.Errorf("code 99 = %s, %v", dc, ok)
	}
}

func TestUnknownRefusalKeepsCode(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var unknown []string
	c, _ := newClient(t, adyen.Config{OnUnknownRefusal: func(code string) {
		mu.Lock()
		unknown = append(unknown, code)
		mu.Unlock()
	}})
	res, err := c.Authorize(t.Context(), authReq("acpgw_pay_u_1", card(adyentest.CardUnknownRefusal), payment.CaptureAutomatic))
	if err != nil {
		t.Fatal(err)
	}
	if res.Decline == nil || res.Decline.Code != payment.DeclineUnknown || res.Decline.ProcessorCode != "99" {
		t.Fatalf("decline %+v", res.Decline)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(unknown) != 1 || unknown[0] != "99" {
		t.Fatalf("OnUnknownRefusal got %v", unknown)
	}
}

func authReq(key string, c payment.Card, capture payment.CaptureMode) providers.AuthorizeRequest {
	return providers.AuthorizeRequest{
		PaymentID: "pay_test", AttemptID: key, IdempotencyKey: key, MerchantID: "acme",
		Amount: payment.Money{Amount: 2599, Currency: "eur"}, Capture: capture,
		Instrument: providers.Instrument{Kind: providers.TokenVault, Card: &c},
		Metadata:   map[string]string{"order_id": "o_1"},
	}
}

func TestPaymentRequestShapes(t *testing.T) {
	t.Parallel()
	c, srv := newClient(t, adyen.Config{})
	// Manual capture with a CVC; automatic capture after first use (no
	// CVC); a network token with its cryptogram. The fake fails the test
	// if any request breaks the spec or lacks what it needs.
	nt := payment.Card{NumberType: "network_token", Number: "4895370012003478", ExpMonth: 3, ExpYear: 2030,
		Cryptogram: "AAABAWFlmQAAAABjRWWZEEFgFz8=", ECI: "05", Brand: "visa", Name: "Ada Lovelace"}
	noCVC := card(adyentest.CardApproved)
	noCVC.CVC = ""
	for i, tc := range []struct {
		card    payment.Card
		capture payment.CaptureMode
		want    payment.Status
	}{
		{card(adyentest.CardApproved), payment.CaptureManual, payment.StatusAuthorized},
		{noCVC, payment.CaptureAutomatic, payment.StatusCaptured},
		{nt, payment.CaptureAutomatic, payment.StatusCaptured},
	} {
		req := authReq(fmt.Sprintf("acpgw_pay_shape_%d", i), tc.card, tc.capture)
		req.Instrument.Billing = &providers.Address{LineOne: "1 Main St", City: "Amsterdam", Country: "nl", PostalCode: "1011AA"}
		res, err := c.Authorize(t.Context(), req)
		if err != nil || res.Status != tc.want {
			t.Fatalf("case %d: %+v, %v", i, res, err)
		}
	}
	ps := srv.Payments()
	if len(ps) != 3 || !ps[0].ManualCapture || ps[1].ManualCapture || !ps[2].NetworkToken {
		t.Fatalf("ledger %+v", ps)
	}
	if ps[0].Metadata["acpgw_payment_id"] != "pay_test" || ps[0].Reference != "acpgw_pay_shape_0" || ps[0].Currency != "EUR" {
		t.Fatalf("payment 0 = %+v", ps[0])
	}
	// A network token without cryptogram is refused before sending.
	nt.Cryptogram = ""
	if _, err := c.Authorize(t.Context(), authReq("acpgw_pay_shape_9", nt, payment.CaptureAutomatic)); !errors.Is(err, providers.ErrNotProcessed) {
		t.Fatalf("network token without cryptogram: %v", err)
	}
	if srv.ChargeCount() != 3 {
		t.Fatalf("charges %d", srv.ChargeCount())
	}
}

func TestErrorClassification(t *testing.T) {
	t.Parallel()
	c, srv := newClient(t, adyen.Config{})
	ctx := t.Context()
	// 422 validation error: not processed, nothing charged.
	_, err := c.Authorize(ctx, authReq("acpgw_pay_e_1", card(adyentest.CardInvalidNumber), payment.CaptureAutomatic))
	var apiErr *adyen.APIError
	if !errors.Is(err, providers.ErrNotProcessed) || !errors.As(err, &apiErr) || apiErr.Code != "101" || apiErr.HTTPStatus != 422 {
		t.Fatalf("invalid card: %v", err)
	}
	if strings.Contains(err.Error(), adyentest.CardInvalidNumber) {
		t.Fatal("the error contains the card number")
	}
	// 500 after charging: unknown; the re-send finds the charge.
	req := authReq("acpgw_pay_e_2", card(adyentest.CardServerError), payment.CaptureAutomatic)
	if _, err := c.Authorize(ctx, req); !errors.Is(err, providers.ErrOutcomeUnknown) {
		t.Fatalf("500: %v", err)
	}
	if res, err := c.Authorize(ctx, req); err != nil || res.Status != payment.StatusCaptured {
		t.Fatalf("re-send after 500: %+v %v", res, err)
	}
	// Shopper action: declined authentication_required.
	res, err := c.Authorize(ctx, authReq("acpgw_pay_e_3", card(adyentest.CardRedirect), payment.CaptureAutomatic))
	if err != nil || res.Decline == nil || res.Decline.Code != payment.DeclineAuthenticationRequired {
		t.Fatalf("redirect: %+v %v", res, err)
	}
	// Capture of an unknown pspReference: 422 on a modification, rejected.
	_, err = c.Capture(ctx, providers.ModifyRequest{PaymentID: "pay_x", IdempotencyKey: "acpgw_pay_x_2", Reference: "NOSUCHREFERENCE0", Amount: payment.Money{Amount: 1, Currency: "eur"}})
	if !errors.Is(err, providers.ErrRejected) {
		t.Fatalf("unknown reference: %v", err)
	}
	// Wrong API key: 401, not processed.
	bad, err := adyen.New(adyen.Config{APIKey: "wrong", MerchantAccount: srv.MerchantAccount, BaseURL: srv.BaseURL})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bad.Authorize(ctx, authReq("acpgw_pay_e_4", card(adyentest.CardApproved), payment.CaptureAutomatic)); !errors.Is(err, providers.ErrNotProcessed) || strings.Contains(err.Error(), "wrong") {
		t.Fatalf("401: %v", err)
	}
	// Idempotency key too long: refused unsent.
	if _, err := c.Authorize(ctx, authReq(strings.Repeat("k", 65), card(adyentest.CardApproved), payment.CaptureAutomatic)); !errors.Is(err, adyen.ErrIdempotencyKeyTooLong) || !errors.Is(err, providers.ErrNotProcessed) {
		t.Fatalf("long key: %v", err)
	}
	// Shared Payment Tokens are Stripe's.
	spt := authReq("acpgw_pay_e_5", card(adyentest.CardApproved), payment.CaptureAutomatic)
	spt.Instrument = providers.Instrument{Kind: providers.TokenSharedPayment, SharedToken: "spt_123"}
	if c.Supports(providers.TokenSharedPayment, "eur") {
		t.Fatal("supports spt")
	}
	if _, err := c.Authorize(ctx, spt); !errors.Is(err, providers.ErrNotProcessed) {
		t.Fatalf("spt: %v", err)
	}
	if n := srv.ChargeCount(); n != 1 {
		t.Fatalf("charges = %d, want 1 (the 500 one)", n)
	}
}

func TestTransportErrors(t *testing.T) {
	t.Parallel()
	// Connection refused: a listener closed at once.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c, err := adyen.New(adyen.Config{APIKey: "k", MerchantAccount: "M", BaseURL: "http://" + addr + "/v71"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Authorize(t.Context(), authReq("acpgw_pay_t_1", card(adyentest.CardApproved), payment.CaptureAutomatic)); !errors.Is(err, providers.ErrNotProcessed) {
		t.Fatalf("connection refused: %v", err)
	}
	// Both error body forms, and a reset after the request was read.
	for _, tc := range []struct {
		name    string
		handler http.HandlerFunc
		class   error
		msg     string
	}{
		{"rfc7807 422", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(422)
			fmt.Fprint(w, `{"type":"https://docs.adyen.com/errors/validation","title":"The request is missing required fields","status":422,"detail":"amount is required","errorCode":"100"}`)
		}, providers.ErrNotProcessed, "amount is required"},
		{"service error 403", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(403)
			fmt.Fprint(w, `{"status":403,"errorCode":"010","message":"Not allowed","errorType":"security"}`)
		}, providers.ErrNotProcessed, "Not allowed"},
		{"503 html", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(503)
			fmt.Fprint(w, `<html>down</html>`)
		}, providers.ErrOutcomeUnknown, "503"},
		{"reset after read", func(w http.ResponseWriter, _ *http.Request) {
			conn, _, err := w.(http.Hijacker).Hijack()
			if err == nil {
				conn.Close()
			}
		}, providers.ErrOutcomeUnknown, "no answer"},
		{"garbage 200", func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprint(w, `{"resultCode":`)
		}, providers.ErrOutcomeUnknown, "unreadable"},
		{"unknown resultCode", func(w http.ResponseWriter, _ *http.Request) {
			fmt.Fprint(w, `{"resultCode":"PartiallyAuthorised","pspReference":"P"}`)
		}, providers.ErrOutcomeUnknown, "PartiallyAuthorised"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(tc.handler)
			defer srv.Close()
			c, err := adyen.New(adyen.Config{APIKey: "k", MerchantAccount: "M", BaseURL: srv.URL, Timeout: 2 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Authorize(context.Background(), authReq("acpgw_pay_t_2", card(adyentest.CardApproved), payment.CaptureAutomatic))
			if !errors.Is(err, tc.class) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want %v containing %q", err, tc.class, tc.msg)
			}
		})
	}
}

func TestNewConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  adyen.Config
		base string
		ok   bool
	}{
		{adyen.Config{APIKey: "k", MerchantAccount: "M"}, "https://checkout-test.adyen.com/v71", true},
		{adyen.Config{APIKey: "k", MerchantAccount: "M", Environment: "live", LiveURLPrefix: "1797a841fbb37ca7-AdyenDemo"}, "https://1797a841fbb37ca7-AdyenDemo-checkout-live.adyenpayments.com/checkout/v71", true},
		{adyen.Config{APIKey: "k", MerchantAccount: "M", Environment: "live"}, "", false},
		{adyen.Config{APIKey: "k", MerchantAccount: "M", Environment: "prod"}, "", false},
		{adyen.Config{APIKey: "k", MerchantAccount: "M", BaseURL: "ftp://x"}, "", false},
		{adyen.Config{APIKey: "k", MerchantAccount: "M", HMACKey: "not-hex-secret"}, "", false},
		{adyen.Config{APIKey: "k", MerchantAccount: "M", Currencies: []string{"EUR", "xyz"}}, "", false},
		{adyen.Config{MerchantAccount: "M"}, "", false},
		{adyen.Config{APIKey: "k"}, "", false},
	} {
		c, err := adyen.New(tc.cfg)
		if (err == nil) != tc.ok {
			t.Errorf("New(%+v) = %v", tc.cfg.Environment, err)
			continue
		}
		if err != nil {
			if strings.Contains(err.Error(), "not-hex-secret") {
				t.Errorf("error reveals the hmac key: %v", err)
			}
			continue
		}
		if c.BaseURL() != tc.base {
			t.Errorf("BaseURL = %s, want %s", c.BaseURL(), tc.base)
		}
	}
}

// TestExternalMPI: a 3-D Secure result goes in mpiData as Adyen's v71
// ThreeDSecureData has it (the fake validates every request against the
// spec and fails the test on a violation): dsTransID for 3-D Secure 2, xid
// for 3-D Secure 1, the transStatus in directoryResponse and, where its
// enum allows, authenticationResponse. The fake's 3-D Secure card is
// authorised with an authenticated result; without data nothing is sent.
func TestExternalMPI(t *testing.T) {
	t.Parallel()
	c, srv := newClient(t, adyen.Config{})
	v2 := providertest.Authenticated()
	v1 := providertest.Authenticated()
	v1.Version, v1.TransactionID = "1.0.2", providertest.Cryptogram
	info := providertest.Authenticated()
	info.Outcome, info.ECI = payment.AuthInformational, "07"
	for i, tc := range []struct {
		card string
		auth *payment.Authentication
		want adyentest.ThreeDS
	}{
		{adyentest.CardRedirect, v2, adyentest.ThreeDS{Cavv: true, ECI: "05", DsTransID: v2.TransactionID, Version: "2.2.0",
			AuthenticationResponse: "Y", DirectoryResponse: "Y"}},
		{adyentest.CardRedirect, v1, adyentest.ThreeDS{Cavv: true, ECI: "05", Xid: providertest.Cryptogram, Version: "1.0.2",
			AuthenticationResponse: "Y", DirectoryResponse: "Y"}},
		{adyentest.CardApproved, info, adyentest.ThreeDS{Cavv: true, ECI: "07", DsTransID: info.TransactionID, Version: "2.2.0",
			DirectoryResponse: "I"}},
		{adyentest.CardApproved, &payment.Authentication{Outcome: payment.AuthNotSupported}, adyentest.ThreeDS{}},
	} {
		req := authReq(fmt.Sprintf("acpgw_pay_3ds_%d", i), card(tc.card), payment.CaptureManual)
		req.Authentication = tc.auth
		res, err := c.Authorize(t.Context(), req)
		if err != nil || res.Status != payment.StatusAuthorized {
			t.Fatalf("case %d: %+v, %v", i, res, err)
		}
		ps := srv.Payments()
		got := ps[len(ps)-1].ThreeDS
		switch {
		case tc.want == (adyentest.ThreeDS{}) && got != nil:
			t.Errorf("case %d: mpiData %+v sent for a result without data", i, *got)
		case tc.want != (adyentest.ThreeDS{}) && (got == nil || *got != tc.want):
			t.Errorf("case %d: mpiData %+v, want %+v", i, got, tc.want)
		}
	}
	// The 3-D Secure card without a result: RedirectShopper, which acpgw
	// cannot follow: a retryable authentication_required decline.
	res, err := c.Authorize(t.Context(), authReq("acpgw_pay_3ds_9", card(adyentest.CardRedirect), payment.CaptureManual))
	if err != nil || res.Decline == nil || res.Decline.Code != payment.DeclineAuthenticationRequired || !res.Decline.Retryable {
		t.Fatalf("without a result: %+v, %v", res, err)
	}
	if srv.Violations() != 0 {
		t.Fatalf("%d spec violations", srv.Violations())
	}
}
