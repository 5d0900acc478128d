package stripe_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"acpgw/payment"
	"acpgw/providers"
	"acpgw/providers/stripe"
	"acpgw/providers/stripe/stripetest"
)

func authReq(key string, c payment.Card, capture payment.CaptureMode) providers.AuthorizeRequest {
	return providers.AuthorizeRequest{
		PaymentID: "pay_1", AttemptID: key, IdempotencyKey: key, MerchantID: "acme",
		Amount: payment.Money{Amount: 2599, Currency: "usd"}, Capture: capture,
		Instrument: providers.Instrument{Kind: providers.TokenVault, Card: &c},
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func posts(fake *stripetest.Server, path string) []stripetest.Request {
	var out []stripetest.Request
	for _, r := range fake.Requests() {
		if r.Method == "POST" && r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

func TestAuthorizeRequestShape(t *testing.T) {
	t.Parallel()
	fake := stripetest.New(t)
	c := newClient(t, fake, nil)

	res, err := c.Authorize(ctx(t), authReq("acpgw_pay_1_1", card(stripetest.CardVisa), payment.CaptureAutomatic))
	if err != nil || res.Status != payment.StatusCaptured {
		t.Fatalf("Authorize = %+v, %v", res, err)
	}
	if res.Fee == nil || *res.Fee != (payment.Money{Amount: stripetest.Fee(2599), Currency: "usd"}) {
		t.Errorf("fee %+v, want %d usd from the balance transaction", res.Fee, stripetest.Fee(2599))
	}
	pm := posts(fake, "/v1/payment_methods")
	pi := posts(fake, "/v1/payment_intents")
	if len(pm) != 1 || len(pi) != 1 {
		t.Fatalf("%d payment_methods and %d payment_intents requests, want 1 and 1", len(pm), len(pi))
	}
	if got := pm[0].Header.Get("Idempotency-Key"); got != "acpgw_pay_1_1-pm" {
		t.Errorf("payment method Idempotency-Key %q", got)
	}
	if pm[0].Form.Get("card[cvc]") != "123" || pm[0].Form.Get("card[number]") != stripetest.CardVisa {
		t.Errorf("payment method form lacks card details")
	}
	f := pi[0].Form
	for k, want := range map[string]string{
		"confirm": "true", "capture_method": "automatic", "error_on_requires_action": "true",
		"payment_method_types[0]": "card", "metadata[acpgw_payment_id]": "pay_1",
		"metadata[acpgw_attempt_id]": "acpgw_pay_1_1", "expand[0]": "latest_charge.balance_transaction",
		"amount": "2599", "currency": "usd",
	} {
		if got := f.Get(k); got != want {
			t.Errorf("payment intent %s = %q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"off_session", "return_url", "payment_method_data[type]"} {
		if f.Has(k) {
			t.Errorf("payment intent has %s", k)
		}
	}
	if !strings.HasPrefix(f.Get("payment_method"), "pm_") {
		t.Errorf("payment_method %q", f.Get("payment_method"))
	}
	if got := pi[0].Header.Get("Idempotency-Key"); got != "acpgw_pay_1_1" {
		t.Errorf("payment intent Idempotency-Key %q", got)
	}
	if v := pi[0].Header.Get("Stripe-Version"); v == stripe.DefaultAPIVersion || v == "" {
		t.Errorf("a card payment sent Stripe-Version %q, want stripe-go's pinned version", v)
	}

	// Manual capture, no CVC (second use): no expand, no card[cvc].
	noCVC := card(stripetest.CardVisa)
	noCVC.CVC = ""
	if res, err := c.Authorize(ctx(t), authReq("acpgw_pay_1_2", noCVC, payment.CaptureManual)); err != nil || res.Status != payment.StatusAuthorized || res.Fee != nil {
		t.Fatalf("manual Authorize = %+v, %v", res, err)
	}
	pm, pi = posts(fake, "/v1/payment_methods"), posts(fake, "/v1/payment_intents")
	if pm[1].Form.Has("card[cvc]") {
		t.Error("an empty CVC was sent")
	}
	if pi[1].Form.Get("capture_method") != "manual" || pi[1].Form.Has("expand[0]") {
		t.Errorf("manual form: capture_method %q, expand %q", pi[1].Form.Get("capture_method"), pi[1].Form.Get("expand[0]"))
	}
}

func TestAuthorizeSharedToken(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, param, version string
	}{
		{"defaults", "", ""},
		{"older preview", "shared_payment_granted_token", "2025-09-30.preview"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := stripetest.New(t)
			c := newClient(t, fake, func(cfg *stripe.Config) {
				cfg.SharedTokenParam, cfg.APIVersion = tc.param, tc.version
			})
			if tc.param == "" {
				tc.param, tc.version = stripe.DefaultSharedTokenParam, stripe.DefaultAPIVersion
			}
			fake.SharedTokenParam = tc.param
			req := authReq("acpgw_pay_1_1", card(stripetest.CardVisa), payment.CaptureManual)
			req.Instrument = providers.Instrument{Kind: providers.TokenSharedPayment, SharedToken: "spt_123"}
			res, err := c.Authorize(ctx(t), req)
			if err != nil || res.Status != payment.StatusAuthorized {
				t.Fatalf("Authorize = %+v, %v", res, err)
			}
			if n := len(posts(fake, "/v1/payment_methods")); n != 0 {
				t.Errorf("%d payment method requests for a shared token", n)
			}
			pi := posts(fake, "/v1/payment_intents")[0]
			if pi.Form.Get(tc.param) != "spt_123" || pi.Header.Get("Stripe-Version") != tc.version {
				t.Errorf("form %s = %q, Stripe-Version %q; want spt_123 and %q", tc.param, pi.Form.Get(tc.param), pi.Header.Get("Stripe-Version"), tc.version)
			}

			req.IdempotencyKey, req.Instrument.SharedToken = "acpgw_pay_1_2", "spt_decline_1"
			if res, err := c.Authorize(ctx(t), req); err != nil || res.Status != payment.StatusDeclined {
				t.Errorf("declined token: %+v, %v", res, err)
			}
		})
	}
}

func TestAuthorizeNotSent(t *testing.T) {
	t.Parallel()
	fake := stripetest.New(t)
	c := newClient(t, fake, nil)
	nt := card(stripetest.CardVisa)
	nt.NumberType, nt.Cryptogram = "network_token", "AgAAAAAAAIR8CQrXcIhbQAAAAAA="
	_, err := c.Authorize(ctx(t), authReq("k1", nt, payment.CaptureAutomatic))
	var pe *providers.Error
	if !errors.Is(err, providers.ErrNotProcessed) || !errors.As(err, &pe) || pe.Code != stripe.CodeNetworkTokenUnsupported {
		t.Errorf("network token: %v, want NotProcessed %s", err, stripe.CodeNetworkTokenUnsupported)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
}

// TestErrorClasses checks the failover classes of Stripe's answers.
func TestErrorClasses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		fault stripetest.Fault
		want  error
		code  string
		// charges the processor may have made (after processing).
		charges int
	}{
		{"500 api_error", stripetest.Fault{Path: "/v1/payment_intents", Status: 500, Type: "api_error"}, providers.ErrOutcomeUnknown, "api_error", 0},
		{"500 after processing", stripetest.Fault{Path: "/v1/payment_intents", Status: 500, Type: "api_error", After: true}, providers.ErrOutcomeUnknown, "api_error", 1},
		// Once: Go's transport does not re-send the request by itself when
		// the reused connection dies (providers.SendOnce).
		{"reset after processing", stripetest.Fault{Path: "/v1/payment_intents", Reset: true}, providers.ErrOutcomeUnknown, stripe.CodeNoAnswer, 1},
		{"429 rate limit", stripetest.Fault{Status: 429, Type: "invalid_request_error", Code: "rate_limit"}, providers.ErrNotProcessed, "rate_limit", 0},
		{"429 lock timeout", stripetest.Fault{Path: "/v1/payment_intents", Status: 429, Type: "invalid_request_error", Code: "lock_timeout"}, providers.ErrNotProcessed, "lock_timeout", 0},
		{"400 invalid request", stripetest.Fault{Status: 400, Type: "invalid_request_error", Code: "parameter_unknown"}, providers.ErrNotProcessed, "parameter_unknown", 0},
		{"403 permission", stripetest.Fault{Status: 403, Type: "invalid_request_error"}, providers.ErrNotProcessed, "invalid_request_error", 0},
		{"409 key in use, persistently", stripetest.Fault{Path: "/v1/payment_intents", Status: 409, Type: "invalid_request_error", Code: "idempotency_key_in_use", Times: 100}, providers.ErrOutcomeUnknown, "idempotency_key_in_use", 0},
		{"502 without an error type", stripetest.Fault{Path: "/v1/payment_intents", Status: 502}, providers.ErrOutcomeUnknown, "502", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := stripetest.New(t)
			c := newClient(t, fake, nil)
			fake.Inject(tc.fault)
			req := authReq("acpgw_pay_1_1", card(stripetest.CardVisa), payment.CaptureAutomatic)
			res, err := c.Authorize(ctx(t), req)
			var pe *providers.Error
			if !errors.Is(err, tc.want) || !errors.As(err, &pe) || pe.Code != tc.code {
				t.Fatalf("got %+v, %v; want %v with code %q", res, err, tc.want, tc.code)
			}
			if strings.Contains(err.Error(), stripetest.CardVisa) {
				t.Error("the error contains the card number")
			}
			if n := fake.ChargeCount(); n != tc.charges {
				t.Errorf("%d charges, want %d", n, tc.charges)
			}
			if tc.fault.Reset {
				// The re-send with the same key finds the charge.
				res, err := c.Authorize(ctx(t), req)
				if err != nil || res.Status != payment.StatusCaptured || fake.ChargeCount() != 1 {
					t.Errorf("re-send after reset: %+v, %v, %d charges", res, err, fake.ChargeCount())
				}
			}
		})
	}
}

// TestKeyInUseIsRetried: a request whose key Stripe reports in use is
// re-sent by the provider itself, and each re-send is counted and logged.
func TestKeyInUseIsRetried(t *testing.T) {
	t.Parallel()
	fake := stripetest.New(t)
	var buf bytes.Buffer
	var mu sync.Mutex
	var retries []string
	c := newClient(t, fake, func(cfg *stripe.Config) {
		cfg.Logger = slog.New(slog.NewJSONHandler(&lockedWriter{w: &buf, mu: &mu}, nil))
		cfg.OnRetry = func(op providers.Operation, reason string) {
			mu.Lock()
			defer mu.Unlock()
			retries = append(retries, string(op)+"/"+reason)
		}
	})
	fake.Inject(stripetest.Fault{Path: "/v1/payment_intents", Status: 409, Type: "invalid_request_error", Code: "idempotency_key_in_use", Times: 2})
	res, err := c.Authorize(ctx(t), authReq("acpgw_pay_1_1", card(stripetest.CardVisa), payment.CaptureManual))
	if err != nil || res.Status != payment.StatusAuthorized {
		t.Errorf("got %+v, %v; want authorized after two 409s", res, err)
	}
	if n := len(posts(fake, "/v1/payment_intents")); n != 3 {
		t.Errorf("%d PaymentIntent requests, want 3 (two answered 409)", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"authorize/in_progress", "authorize/in_progress"}; !slices.Equal(retries, want) {
		t.Errorf("OnRetry got %v, want %v", retries, want)
	}
	if n := strings.Count(buf.String(), `"idempotency_key":"acpgw_pay_1_1"`); n != 2 {
		t.Errorf("%d log lines name the re-sent key, want 2:\n%s", n, buf.String())
	}
	if strings.Contains(buf.String(), stripetest.CardVisa) {
		t.Error("the log contains the card number")
	}
}

func TestTransportErrors(t *testing.T) {
	t.Parallel()
	// A port nobody listens on: connection refused before anything is sent.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	c, err := stripe.New(stripe.Config{SecretKey: "sk_test_x", BaseURL: "http://" + addr, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Authorize(ctx(t), authReq("k", card(stripetest.CardVisa), payment.CaptureAutomatic))
	if !errors.Is(err, providers.ErrNotProcessed) {
		t.Errorf("connection refused: %v, want ErrNotProcessed", err)
	}

	fake := stripetest.New(t)
	bad := newClient(t, fake, func(cfg *stripe.Config) { cfg.SecretKey = "sk_test_wrong" })
	if _, err := bad.Authorize(ctx(t), authReq("k", card(stripetest.CardVisa), payment.CaptureAutomatic)); !errors.Is(err, providers.ErrNotProcessed) {
		t.Errorf("401: %v, want ErrNotProcessed", err)
	}
	if strings.Contains(err.Error(), "sk_test_wrong") {
		t.Error("the error contains the key")
	}
}

func TestIdempotencyMismatch(t *testing.T) {
	t.Parallel()
	fake := stripetest.New(t)
	c := newClient(t, fake, nil)
	req := authReq("acpgw_pay_1_1", card(stripetest.CardVisa), payment.CaptureAutomatic)
	first, err := c.Authorize(ctx(t), req)
	if err != nil {
		t.Fatal(err)
	}
	// The re-send of an attempt whose CVC is gone differs from the first
	// send: Stripe refuses it, and the first send may have charged.
	noCVC := *req.Instrument.Card
	noCVC.CVC = ""
	req.Instrument.Card = &noCVC
	if _, err := c.Authorize(ctx(t), req); !errors.Is(err, providers.ErrOutcomeUnknown) {
		t.Errorf("authorize with changed parameters: %v, want ErrOutcomeUnknown", err)
	}

	refund := providers.ModifyRequest{PaymentID: "pay_1", IdempotencyKey: "acpgw_pay_1_2", Reference: first.Reference,
		Amount: payment.Money{Amount: 1000, Currency: "usd"}}
	if _, err := c.Refund(ctx(t), refund); err != nil {
		t.Fatal(err)
	}
	refund.Amount.Amount = 500
	if _, err := c.Refund(ctx(t), refund); !errors.Is(err, providers.ErrRejected) {
		t.Errorf("refund with changed parameters: %v, want ErrRejected", err)
	}
}

func TestDeclines(t *testing.T) {
	t.Parallel()
	fake := stripetest.New(t)
	var mu sync.Mutex
	var unknown []string
	c := newClient(t, fake, func(cfg *stripe.Config) {
		cfg.OnUnknownDecline = func(code string) { mu.Lock(); unknown = append(unknown, code); mu.Unlock() }
	})
	res, err := c.Authorize(ctx(t), authReq("k1", card(stripetest.CardUnknownDecline), payment.CaptureAutomatic))
	if err != nil || res.Decline == nil || res.Decline.Code != payment.DeclineUnknown || res.Decline.ProcessorCode != "stripetest_unheard_of" {
		t.Fatalf("unknown decline: %+v, %v", res, err)
	}
	if !strings.HasPrefix(res.Reference, "pi_") {
		t.Errorf("a PaymentIntent decline has Reference %q", res.Reference)
	}
	if len(unknown) != 1 || unknown[0] != "stripetest_unheard_of" {
		t.Errorf("OnUnknownDecline got %q", unknown)
	}
	// Refused at PaymentMethod creation: declined, no PaymentIntent.
	res, err = c.Authorize(ctx(t), authReq("k2", card("4242424242424241"), payment.CaptureAutomatic))
	if err != nil || res.Status != payment.StatusDeclined || res.Decline.Code != payment.DeclineIncorrectNumber || res.Reference != "" {
		t.Errorf("bad number: %+v, %v", res, err)
	}
}

func TestModifications(t *testing.T) {
	t.Parallel()
	fake := stripetest.New(t)
	c := newClient(t, fake, nil)
	auth, err := c.Authorize(ctx(t), authReq("k1", card(stripetest.CardVisa), payment.CaptureManual))
	if err != nil {
		t.Fatal(err)
	}
	mod := func(key string, n int64) providers.ModifyRequest {
		return providers.ModifyRequest{PaymentID: "pay_1", IdempotencyKey: key, Reference: auth.Reference, Amount: payment.Money{Amount: n, Currency: "usd"}}
	}
	res, err := c.Capture(ctx(t), mod("k2", 1000))
	if err != nil || res.Status != payment.StatusCaptured || res.Fee == nil || res.Fee.Amount != stripetest.Fee(1000) {
		t.Fatalf("partial capture: %+v, %v", res, err)
	}
	req := posts(fake, "/v1/payment_intents/"+auth.Reference+"/capture")[0]
	if req.Form.Get("amount_to_capture") != "1000" || req.Form.Get("expand[0]") != "latest_charge.balance_transaction" || req.Header.Get("Idempotency-Key") != "k2" {
		t.Errorf("capture form %v", req.Form)
	}
	st, err := c.Status(ctx(t), auth.Reference)
	if err != nil || st.Status != payment.StatusCaptured || st.Fee == nil {
		t.Errorf("Status: %+v, %v", st, err)
	}
	if _, err := c.Status(ctx(t), "pi_nope"); !errors.Is(err, providers.ErrNotProcessed) {
		t.Errorf("Status of an unknown PaymentIntent: %v", err)
	}
	unknown := mod("k3", 1000)
	unknown.Reference = "pi_nope"
	if _, err := c.Capture(ctx(t), unknown); !errors.Is(err, providers.ErrNotProcessed) {
		t.Errorf("capture of an unknown PaymentIntent: %v, want ErrNotProcessed", err)
	}
}

// stripe-go's own log lines reach slog at debug level, without bodies.
func TestLoggerHidesBodies(t *testing.T) {
	t.Parallel()
	fake := stripetest.New(t)
	var buf bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c := newClient(t, fake, func(cfg *stripe.Config) { cfg.Logger = logger })
	res, _ := c.Authorize(ctx(t), authReq("k1", card(stripetest.CardDeclined), payment.CaptureAutomatic))
	_, _ = c.Authorize(ctx(t), authReq("k2", card(stripetest.CardVisa), payment.CaptureAutomatic))
	mu.Lock()
	out := buf.String()
	mu.Unlock()
	if out == "" {
		t.Fatal("nothing logged; want stripe-go's messages at debug")
	}
	for _, secret := range []string{stripetest.CardDeclined, stripetest.CardVisa, fake.Key, "4242", res.Reference, "generic_decline"} {
		if secret != "" && strings.Contains(out, secret) {
			t.Errorf("the log contains %q:\n%s", secret, out)
		}
	}
	if strings.Contains(out, "level=INFO") || strings.Contains(out, "level=ERROR") {
		t.Errorf("stripe-go logged above debug:\n%s", out)
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  stripe.Config
		ok   bool
	}{
		{"minimal", stripe.Config{SecretKey: "sk"}, true},
		{"no key", stripe.Config{}, false},
		{"ftp base", stripe.Config{SecretKey: "sk", BaseURL: "ftp://x"}, false},
		{"base with credentials", stripe.Config{SecretKey: "sk", BaseURL: "http://u:p@x"}, false},
		{"bracketed param", stripe.Config{SecretKey: "sk", SharedTokenParam: "payment_method_data[shared_payment_granted_token]"}, true},
		{"bad param", stripe.Config{SecretKey: "sk", SharedTokenParam: "spt token"}, false},
		{"preview version", stripe.Config{SecretKey: "sk", APIVersion: "2026-04-22.preview"}, true},
		{"bad version", stripe.Config{SecretKey: "sk", APIVersion: "latest"}, false},
		{"bad currency", stripe.Config{SecretKey: "sk", Currencies: []string{"xyz"}}, false},
	} {
		err := tc.cfg.Validate()
		if (err == nil) != tc.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tc.name, err, tc.ok)
		}
		if err != nil && strings.Contains(err.Error(), tc.cfg.SecretKey+"\"") {
			t.Errorf("%s: error names the key", tc.name)
		}
	}
}
