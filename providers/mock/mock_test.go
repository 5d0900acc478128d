package mock_test

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"acpgw/payment"
	"acpgw/providers"
	"acpgw/providers/mock"
	"acpgw/providers/providertest"
)

const usdCfgRate, usdCfgFixed = 29000, 30

func newUSD() *mock.Provider {
	return mock.New(mock.Config{Name: "mock", FeeRatePPM: usdCfgRate, FeeFixed: usdCfgFixed})
}

var keySeq atomic.Int64

// authReq builds an authorization of amount usd on number with a fresh
// payment and key.
func authReq(number string, amount int64, capture payment.CaptureMode) providers.AuthorizeRequest {
	n := strconv.FormatInt(keySeq.Add(1), 10)
	c := card(number)
	return providers.AuthorizeRequest{
		PaymentID:      "pay_" + n,
		AttemptID:      "att_" + n,
		IdempotencyKey: "acpgw_pay_" + n + "_1",
		MerchantID:     "acme",
		Amount:         payment.Money{Amount: amount, Currency: "usd"},
		Capture:        capture,
		Instrument:     providers.Instrument{Kind: providers.TokenVault, Card: &c},
	}
}

func modReq(auth providers.AuthorizeRequest, ref string, amount int64) providers.ModifyRequest {
	return providers.ModifyRequest{
		PaymentID:      auth.PaymentID,
		IdempotencyKey: "acpgw_" + auth.PaymentID + "_mod_" + strconv.FormatInt(keySeq.Add(1), 10),
		Reference:      ref,
		Amount:         payment.Money{Amount: amount, Currency: auth.Amount.Currency},
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// wantErr checks err's class and processor code, and that it shows no card
// number.
func wantErr(t *testing.T, err error, class error, code string) {
	t.Helper()
	if !errors.Is(err, class) {
		t.Fatalf("error %v, want class %v", err, class)
	}
	var pe *providers.Error
	if !errors.As(err, &pe) || pe.Code != code {
		t.Fatalf("error %v, want code %q", err, code)
	}
	noCard(t, err.Error())
}

var allCardNumbers = []string{
	"4242424242424242", "5555555555554444", "4000000000000002", "4000000000009995", "4000000000000069",
	"4000000000000127", "4100000000000019", "4000000000003220", "4000000000009987", "4000000000000119",
	"4000000000009979", "4000056655665556", "4242424242424241",
}

func noCard(t *testing.T, texts ...string) {
	t.Helper()
	for _, s := range texts {
		for _, n := range allCardNumbers {
			if strings.Contains(s, n) {
				t.Errorf("text %q contains a card number", s)
			}
		}
	}
}

func mustAuthorize(t *testing.T, p *mock.Provider, req providers.AuthorizeRequest) providers.Result {
	t.Helper()
	res, err := p.Authorize(ctx(t), req)
	if err != nil {
		t.Fatalf("Authorize: %v", err)
	}
	return res
}

func TestCardTable(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		number string
		code   payment.DeclineCode // empty: approves
		raw    string
	}{
		{"4242424242424242", "", ""},
		{"5555555555554444", "", ""},
		{"4000056655665556", "", ""}, // not in the table, Luhn-valid
		{"4000000000000002", payment.DeclineCardDeclined, "generic_decline"},
		{"4000000000009995", payment.DeclineInsufficientFunds, "insufficient_funds"},
		{"4000000000000069", payment.DeclineExpiredCard, "expired_card"},
		{"4000000000000127", payment.DeclineIncorrectCVC, "incorrect_cvc"},
		{"4100000000000019", payment.DeclineFraudSuspected, "fraudulent"},
		{"4000000000003220", payment.DeclineAuthenticationRequired, "authentication_required"},
		{"4000000000009987", payment.DeclineLostOrStolen, "lost_card"},
		{"4242424242424241", payment.DeclineIncorrectNumber, "invalid_number"}, // Luhn-invalid
		{"4242-4242", payment.DeclineIncorrectNumber, "invalid_number"},
	} {
		for _, capture := range []payment.CaptureMode{payment.CaptureManual, payment.CaptureAutomatic} {
			t.Run(tc.number+"/"+string(capture), func(t *testing.T) {
				t.Parallel()
				p := newUSD()
				req := authReq(tc.number, 2599, capture)
				res := mustAuthorize(t, p, req)
				noCard(t, res.Message)
				if res.Reference == "" {
					t.Error("no Reference")
				}
				if tc.code != "" {
					info, _ := payment.LookupDecline(tc.code)
					want := payment.Decline{Code: tc.code, Category: info.Category, Retryable: info.Retryable,
						ProcessorCode: tc.raw, Message: info.Description}
					if res.Status != payment.StatusDeclined || res.Decline == nil || *res.Decline != want {
						t.Fatalf("got %q %+v, want declined %+v", res.Status, res.Decline, want)
					}
					if res.Fee != nil || p.ChargeCount() != 0 {
						t.Errorf("a decline charged: fee %v, %d charges", res.Fee, p.ChargeCount())
					}
					return
				}
				wantStatus, wantCaptured := payment.StatusAuthorized, int64(0)
				if capture == payment.CaptureAutomatic {
					wantStatus, wantCaptured = payment.StatusCaptured, 2599
				}
				if res.Status != wantStatus || res.Decline != nil {
					t.Fatalf("got %q %+v, want %q", res.Status, res.Decline, wantStatus)
				}
				if (res.Fee != nil) != (capture == payment.CaptureAutomatic) {
					t.Errorf("fee %v with capture %s", res.Fee, capture)
				}
				got := p.Charges()
				if len(got) != 1 {
					t.Fatalf("%d charges, want 1", len(got))
				}
				c := got[0]
				if c.Reference != res.Reference || c.PaymentID != req.PaymentID || c.IdempotencyKey != req.IdempotencyKey ||
					c.Amount != 2599 || c.Currency != "usd" || c.Captured != wantCaptured || c.Refunded != 0 || c.Voided {
					t.Errorf("ledger %+v does not match the authorization", c)
				}
				if time.Since(c.CreatedAt) > time.Minute || c.CreatedAt.After(time.Now()) {
					t.Errorf("CreatedAt %v is not now", c.CreatedAt)
				}
			})
		}
	}
}

func TestProcessorErrorCard(t *testing.T) {
	t.Parallel()
	p := newUSD()
	req := authReq("4000000000000119", 2599, payment.CaptureAutomatic)
	for range 2 { // nothing is stored under the key: a re-send is processed afresh
		res, err := p.Authorize(ctx(t), req)
		wantErr(t, err, providers.ErrNotProcessed, "processing_error")
		if errors.Is(err, providers.ErrOutcomeUnknown) || res != (providers.Result{}) {
			t.Errorf("result %+v, error %v: want only a NotProcessed error", res, err)
		}
	}
	if n := p.ChargeCount(); n != 0 {
		t.Errorf("%d charges after a processor error, want 0", n)
	}
	if n := p.Calls(providers.OpAuthorize); n != 2 {
		t.Errorf("Calls(authorize) = %d, want 2", n)
	}
}

func TestHangCardWithDeadline(t *testing.T) {
	t.Parallel()
	for _, capture := range []payment.CaptureMode{payment.CaptureManual, payment.CaptureAutomatic} {
		t.Run(string(capture), func(t *testing.T) {
			t.Parallel()
			p := newUSD()
			req := authReq("4000000000009979", 2599, capture)
			// began is taken before the deadline is set: the deadline
			// counts from then, so the call cannot end before 100ms.
			began := time.Now()
			short, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
			defer cancel()
			res, err := p.Authorize(short, req)
			took := time.Since(began)
			wantErr(t, err, providers.ErrOutcomeUnknown, "timeout")
			if !errors.Is(err, context.DeadlineExceeded) || res != (providers.Result{}) {
				t.Errorf("result %+v, error %v: want only a deadline error", res, err)
			}
			if took < 100*time.Millisecond || took > 2*time.Second {
				t.Errorf("returned after %s, want at the 100ms deadline", took)
			}
			charges := p.Charges()
			if len(charges) != 1 {
				t.Fatalf("%d charges, want the one made before the answer was lost", len(charges))
			}
			wantCaptured, wantStatus := int64(0), payment.StatusAuthorized
			if capture == payment.CaptureAutomatic {
				wantCaptured, wantStatus = 2599, payment.StatusCaptured
			}
			if charges[0].Captured != wantCaptured {
				t.Errorf("captured %d, want %d", charges[0].Captured, wantCaptured)
			}

			// Reconciliation: the stored answer comes at once, even with no
			// deadline at all, and without the CVC (deleted after first use).
			req.Instrument.Card.CVC = ""
			began = time.Now()
			res, err = p.Authorize(t.Context(), req)
			if err != nil || res.Status != wantStatus || res.Reference != charges[0].Reference {
				t.Fatalf("re-send: %+v, %v; want %s %s", res, err, wantStatus, charges[0].Reference)
			}
			if took := time.Since(began); took > time.Second {
				t.Errorf("re-send took %s, want the stored answer at once", took)
			}
			if n := p.ChargeCount(); n != 1 {
				t.Errorf("%d charges after the re-send, want 1", n)
			}
		})
	}
}

func TestHangCardWithoutDeadline(t *testing.T) {
	t.Parallel()
	t.Run("hang_for", func(t *testing.T) {
		t.Parallel()
		p := mock.New(mock.Config{HangFor: 50 * time.Millisecond})
		began := time.Now()
		res, err := p.Authorize(t.Context(), authReq("4000000000009979", 100, payment.CaptureManual))
		took := time.Since(began)
		wantErr(t, err, providers.ErrOutcomeUnknown, "timeout")
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) || res != (providers.Result{}) {
			t.Errorf("result %+v, error %v: want a lost answer, not a context error", res, err)
		}
		if took < 50*time.Millisecond || took > 2*time.Second {
			t.Errorf("hung for %s, want HangFor (50ms)", took)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		p := mock.New(mock.Config{HangFor: time.Hour})
		c, cancel := context.WithCancel(t.Context())
		time.AfterFunc(50*time.Millisecond, cancel)
		began := time.Now()
		_, err := p.Authorize(c, authReq("4000000000009979", 100, payment.CaptureManual))
		wantErr(t, err, providers.ErrOutcomeUnknown, "timeout")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("error %v, want context.Canceled inside", err)
		}
		if took := time.Since(began); took > 2*time.Second {
			t.Errorf("hung for %s after cancel", took)
		}
		if p.ChargeCount() != 1 {
			t.Errorf("%d charges, want 1", p.ChargeCount())
		}
	})
}

func TestSharedPaymentTokens(t *testing.T) {
	t.Parallel()
	p := newUSD()
	if p.Supports(providers.TokenSharedPayment, "usd") {
		t.Error("Supports(spt, usd) = true; the mock takes no Shared Payment Tokens")
	}
	if !p.Supports(providers.TokenVault, "usd") {
		t.Error("Supports(vault, usd) = false")
	}
	req := authReq("4242424242424242", 2599, payment.CaptureAutomatic)
	req.Instrument = providers.Instrument{Kind: providers.TokenSharedPayment, SharedToken: "spt_123"}
	res, err := p.Authorize(ctx(t), req)
	wantErr(t, err, providers.ErrNotProcessed, "token_not_supported")
	if res != (providers.Result{}) || p.ChargeCount() != 0 {
		t.Errorf("result %+v and %d charges for an unsupported token", res, p.ChargeCount())
	}

	req.Instrument = providers.Instrument{Kind: providers.TokenVault} // no card
	_, err = p.Authorize(ctx(t), req)
	wantErr(t, err, providers.ErrNotProcessed, "invalid_request")
}

func TestCurrencies(t *testing.T) {
	t.Parallel()
	limited := mock.New(mock.Config{Currencies: []string{"USD", "jpy"}})
	all := mock.New(mock.Config{})
	for _, tc := range []struct {
		p    *mock.Provider
		cur  string
		want bool
	}{
		{limited, "usd", true},
		{limited, "jpy", true},
		{limited, "eur", false},
		{limited, "xyz", false},
		{all, "eur", true},
		{all, "kwd", true},
		{all, "xyz", false},
		{all, "USD", false}, // currencies are lowercase on the wire
	} {
		if got := tc.p.Supports(providers.TokenVault, tc.cur); got != tc.want {
			t.Errorf("Supports(vault, %q) = %v, want %v", tc.cur, got, tc.want)
		}
	}
	req := authReq("4242424242424242", 2599, payment.CaptureAutomatic)
	req.Amount.Currency = "eur"
	_, err := limited.Authorize(ctx(t), req)
	wantErr(t, err, providers.ErrNotProcessed, "currency_not_supported")
	if limited.ChargeCount() != 0 {
		t.Error("an unsupported currency was charged")
	}
	if all.Name() != "mock" || all.Type() != "mock" {
		t.Errorf("Name, Type = %q, %q; want mock, mock", all.Name(), all.Type())
	}
}

func TestInvalidAmounts(t *testing.T) {
	t.Parallel()
	for _, amount := range []int64{0, -1} {
		p := newUSD()
		res := mustAuthorize(t, p, authReq("4242424242424242", amount, payment.CaptureAutomatic))
		if res.Status != payment.StatusDeclined || res.Decline.Code != payment.DeclineInvalidAmount {
			t.Errorf("amount %d: %q %+v, want an invalid_amount decline", amount, res.Status, res.Decline)
		}
		if p.ChargeCount() != 0 {
			t.Errorf("amount %d was charged", amount)
		}
	}
}

// ledgerStep is one modification of a ledger scenario and what it must do.
type ledgerStep struct {
	op     providers.Operation
	amount int64
	code   string // empty: succeeds; otherwise the Rejected code
}

func TestLedger(t *testing.T) {
	t.Parallel()
	const authorized = 2599
	for _, tc := range []struct {
		name    string
		capture payment.CaptureMode
		steps   []ledgerStep
		want    mock.Charge // Captured, Refunded, Voided after the steps
	}{
		{"capture above authorized", payment.CaptureManual, []ledgerStep{
			{providers.OpCapture, authorized + 1, "amount_too_large"},
			{providers.OpCapture, authorized, ""},
		}, mock.Charge{Captured: authorized}},
		{"partial capture releases the remainder", payment.CaptureManual, []ledgerStep{
			{providers.OpCapture, 1000, ""},
			{providers.OpCapture, 1599, "charge_already_captured"},
			{providers.OpCapture, 1, "charge_already_captured"},
			{providers.OpVoid, authorized, "charge_already_captured"},
		}, mock.Charge{Captured: 1000}},
		{"refunds within a partial capture", payment.CaptureManual, []ledgerStep{
			{providers.OpCapture, 1000, ""},
			{providers.OpRefund, 1001, "amount_too_large"},
			{providers.OpRefund, 600, ""},
			{providers.OpRefund, 401, "amount_too_large"},
			{providers.OpRefund, 400, ""},
			{providers.OpRefund, 1, "amount_too_large"},
		}, mock.Charge{Captured: 1000, Refunded: 1000}},
		{"void then nothing", payment.CaptureManual, []ledgerStep{
			{providers.OpVoid, authorized, ""},
			{providers.OpVoid, authorized, "charge_voided"},
			{providers.OpCapture, authorized, "charge_voided"},
			{providers.OpRefund, 1, "charge_not_captured"},
		}, mock.Charge{Voided: true}},
		{"void needs the authorized amount", payment.CaptureManual, []ledgerStep{
			{providers.OpVoid, authorized - 1, "amount_mismatch"},
			{providers.OpVoid, authorized, ""},
		}, mock.Charge{Voided: true}},
		{"refund of an uncaptured authorization", payment.CaptureManual, []ledgerStep{
			{providers.OpRefund, 100, "charge_not_captured"},
		}, mock.Charge{}},
		{"non-positive amounts", payment.CaptureManual, []ledgerStep{
			{providers.OpCapture, 0, "invalid_amount"},
			{providers.OpCapture, -5, "invalid_amount"},
			{providers.OpCapture, 10, ""},
			{providers.OpRefund, 0, "invalid_amount"},
			{providers.OpRefund, -1, "invalid_amount"},
		}, mock.Charge{Captured: 10}},
		{"automatic capture", payment.CaptureAutomatic, []ledgerStep{
			{providers.OpCapture, authorized, "charge_already_captured"},
			{providers.OpVoid, authorized, "charge_already_captured"},
			{providers.OpRefund, authorized + 1, "amount_too_large"},
			{providers.OpRefund, authorized, ""},
			{providers.OpRefund, 1, "amount_too_large"},
		}, mock.Charge{Captured: authorized, Refunded: authorized}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newUSD()
			auth := authReq("4242424242424242", authorized, tc.capture)
			ref := mustAuthorize(t, p, auth).Reference
			for i, st := range tc.steps {
				res, err := modify(t, p, st.op, modReq(auth, ref, st.amount))
				if st.code != "" {
					wantErr(t, err, providers.ErrRejected, st.code)
					if res != (providers.Result{}) {
						t.Errorf("step %d: a rejection came with a result %+v", i, res)
					}
					continue
				}
				if err != nil || res.Reference != ref {
					t.Fatalf("step %d: %s of %d: %+v, %v", i, st.op, st.amount, res, err)
				}
			}
			c := p.ChargesForPayment(auth.PaymentID)
			if len(c) != 1 {
				t.Fatalf("%d charges for the payment, want 1", len(c))
			}
			if c[0].Captured != tc.want.Captured || c[0].Refunded != tc.want.Refunded || c[0].Voided != tc.want.Voided {
				t.Errorf("ledger captured %d refunded %d voided %v, want %d %d %v", c[0].Captured, c[0].Refunded,
					c[0].Voided, tc.want.Captured, tc.want.Refunded, tc.want.Voided)
			}
		})
	}
}

func modify(t *testing.T, p *mock.Provider, op providers.Operation, req providers.ModifyRequest) (providers.Result, error) {
	t.Helper()
	switch op {
	case providers.OpCapture:
		return p.Capture(ctx(t), req)
	case providers.OpVoid:
		return p.Void(ctx(t), req)
	case providers.OpRefund:
		return p.Refund(ctx(t), req)
	}
	t.Fatalf("unknown operation %q", op)
	return providers.Result{}, nil
}

func TestModifyRefusals(t *testing.T) {
	t.Parallel()
	p := newUSD()
	auth := authReq("4242424242424242", 2599, payment.CaptureAutomatic)
	ref := mustAuthorize(t, p, auth).Reference
	declinedAuth := authReq("4000000000000002", 2599, payment.CaptureManual)
	declinedRef := mustAuthorize(t, p, declinedAuth).Reference
	for _, op := range []providers.Operation{providers.OpCapture, providers.OpVoid, providers.OpRefund} {
		_, err := modify(t, p, op, modReq(auth, "mock_ch_nope", 100))
		wantErr(t, err, providers.ErrRejected, "resource_missing")
		_, err = modify(t, p, op, modReq(declinedAuth, declinedRef, 100))
		wantErr(t, err, providers.ErrRejected, "resource_missing")

		other := modReq(auth, ref, 100)
		other.PaymentID = "pay_someone_else"
		_, err = modify(t, p, op, other)
		wantErr(t, err, providers.ErrRejected, "payment_mismatch")

		eur := modReq(auth, ref, 100)
		eur.Amount.Currency = "eur"
		_, err = modify(t, p, op, eur)
		wantErr(t, err, providers.ErrRejected, "currency_mismatch")
	}
	if c := p.Charges()[0]; c.Refunded != 0 || c.Voided {
		t.Errorf("refused modifications changed the ledger: %+v", c)
	}
	// A void may leave the amount out entirely.
	manual := authReq("4242424242424242", 2599, payment.CaptureManual)
	mref := mustAuthorize(t, p, manual).Reference
	if res, err := p.Void(ctx(t), providers.ModifyRequest{PaymentID: manual.PaymentID, IdempotencyKey: "k_void", Reference: mref}); err != nil || res.Status != payment.StatusVoided {
		t.Errorf("void without amount: %+v, %v", res, err)
	}
}

func TestIdempotency(t *testing.T) {
	t.Parallel()
	p := newUSD()
	req := authReq("4242424242424242", 2599, payment.CaptureManual)
	first := mustAuthorize(t, p, req)

	replay := req
	noCVC := *req.Instrument.Card
	noCVC.CVC = "" // deleted after first use; the re-send must still replay
	replay.Instrument.Card = &noCVC
	if again := mustAuthorize(t, p, replay); !reflect.DeepEqual(again, first) {
		t.Errorf("replay = %+v, want %+v", again, first)
	}

	for name, change := range map[string]func(*providers.AuthorizeRequest){
		"amount":   func(r *providers.AuthorizeRequest) { r.Amount.Amount++ },
		"currency": func(r *providers.AuthorizeRequest) { r.Amount.Currency = "eur" },
		"capture":  func(r *providers.AuthorizeRequest) { r.Capture = payment.CaptureAutomatic },
		"payment":  func(r *providers.AuthorizeRequest) { r.PaymentID = "pay_other" },
		"card": func(r *providers.AuthorizeRequest) {
			c := noCVC
			c.Number = "5555555555554444"
			r.Instrument.Card = &c
		},
		"metadata": func(r *providers.AuthorizeRequest) { r.Metadata = map[string]string{"order": "o_2"} },
	} {
		changed := req
		change(&changed)
		res, err := p.Authorize(ctx(t), changed)
		if res != (providers.Result{}) {
			t.Errorf("%s changed: got a result %+v", name, res)
		}
		wantErr(t, err, providers.ErrRejected, "idempotency_key_reused")
	}

	// The same key for another operation is refused too.
	mod := modReq(req, first.Reference, 2599)
	mod.IdempotencyKey = req.IdempotencyKey
	_, err := p.Capture(ctx(t), mod)
	wantErr(t, err, providers.ErrRejected, "idempotency_key_reused")

	// Capture and refund replay with no second effect.
	capture := modReq(req, first.Reference, 2000)
	c1, err1 := p.Capture(ctx(t), capture)
	c2, err2 := p.Capture(ctx(t), capture)
	if err1 != nil || err2 != nil || !reflect.DeepEqual(c1, c2) || c1.Fee == nil {
		t.Fatalf("capture replay: %+v %v / %+v %v", c1, err1, c2, err2)
	}
	c1.Fee.Amount = 0 // a caller's change must not reach the stored answer
	if c3, _ := p.Capture(ctx(t), capture); c3.Fee == nil || c3.Fee.Amount != c2.Fee.Amount {
		t.Errorf("the stored answer changed with the caller's copy: %+v", c3)
	}
	bigger := capture
	bigger.Amount.Amount++
	_, err = p.Capture(ctx(t), bigger)
	wantErr(t, err, providers.ErrRejected, "idempotency_key_reused")

	refund := modReq(req, first.Reference, 1500)
	for range 3 {
		if res, err := p.Refund(ctx(t), refund); err != nil || res.Status != payment.StatusRefunded {
			t.Fatalf("refund replay: %+v, %v", res, err)
		}
	}
	c := p.Charges()
	if len(c) != 1 || c[0].Captured != 2000 || c[0].Refunded != 1500 {
		t.Errorf("ledger %+v, want one charge captured 2000 refunded 1500", c)
	}
	wantCalls := map[providers.Operation]int{
		providers.OpAuthorize: 2 + 6, providers.OpCapture: 5, providers.OpRefund: 3, providers.OpVoid: 0,
	}
	for op, want := range wantCalls {
		if got := p.Calls(op); got != want {
			t.Errorf("Calls(%s) = %d, want %d", op, got, want)
		}
	}

	// Declines replay as well.
	dreq := authReq("4000000000009995", 2599, payment.CaptureManual)
	d1, d2 := mustAuthorize(t, p, dreq), mustAuthorize(t, p, dreq)
	if !reflect.DeepEqual(d1, d2) || d1.Status != payment.StatusDeclined {
		t.Errorf("decline replay: %+v / %+v", d1, d2)
	}

	// Without a key there is no idempotency.
	nokey := authReq("4242424242424242", 100, payment.CaptureManual)
	nokey.IdempotencyKey = ""
	a, b := mustAuthorize(t, p, nokey), mustAuthorize(t, p, nokey)
	if a.Reference == b.Reference || p.ChargeCount() != 3 {
		t.Errorf("two keyless calls: references %s %s, %d charges; want two new charges", a.Reference, b.Reference, p.ChargeCount())
	}
}

func TestConcurrentSameKey(t *testing.T) {
	t.Parallel()
	const n = 200
	p := newUSD()
	req := authReq("4242424242424242", 2599, payment.CaptureManual)
	refs := make([]string, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			res, err := p.Authorize(t.Context(), req)
			if err != nil {
				t.Errorf("call %d: %v", i, err)
			}
			refs[i] = res.Reference
		})
	}
	close(start)
	wg.Wait()
	if got := p.ChargeCount(); got != 1 {
		t.Fatalf("ChargeCount = %d after %d concurrent calls with one key, want 1", got, n)
	}
	for i, r := range refs {
		if r != refs[0] || r == "" {
			t.Fatalf("call %d got reference %q, call 0 %q", i, r, refs[0])
		}
	}
	if got := p.Calls(providers.OpAuthorize); got != n {
		t.Errorf("Calls(authorize) = %d, want %d", got, n)
	}

	// Concurrent captures with one key: one capture. Concurrent refunds with
	// distinct keys: never more than captured.
	capture := modReq(req, refs[0], 2599)
	var refunded atomic.Int64
	for i := range n {
		wg.Go(func() {
			if _, err := p.Capture(t.Context(), capture); err != nil {
				t.Errorf("capture %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	for range n {
		refund := modReq(req, refs[0], 100)
		wg.Go(func() {
			_, err := p.Refund(t.Context(), refund)
			switch {
			case err == nil:
				refunded.Add(100)
			case !errors.Is(err, providers.ErrRejected):
				t.Errorf("refund: %v", err)
			}
		})
	}
	wg.Wait()
	c := p.Charges()[0]
	if c.Captured != 2599 || c.Refunded != 2500 || refunded.Load() != 2500 {
		t.Errorf("ledger captured %d refunded %d, refunds answered ok %d; want 2599, 2500, 2500",
			c.Captured, c.Refunded, refunded.Load())
	}
}

func TestFeesInResults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		cfg      mock.Config
		currency string
		amount   int64
		capture  int64 // 0: automatic capture of amount
		want     int64
	}{
		// 2599*0.029 = 75.371 -> 75, + 30
		{"usd automatic", mock.Config{FeeRatePPM: 29000, FeeFixed: 30}, "usd", 2599, 0, 105},
		// 1000*0.029 = 29, + 30
		{"usd partial capture", mock.Config{FeeRatePPM: 29000, FeeFixed: 30}, "usd", 2599, 1000, 59},
		// 1250*0.036 = 45 yen, no fraction to round
		{"jpy", mock.Config{FeeRatePPM: 36000}, "jpy", 1250, 0, 45},
		// 14*0.036 = 0.504 yen -> 1
		{"jpy rounds up past half", mock.Config{FeeRatePPM: 36000}, "jpy", 14, 0, 1},
		// 13*0.036 = 0.468 yen -> 0, + 10 fixed yen
		{"jpy rounds down below half", mock.Config{FeeRatePPM: 36000, FeeFixed: 10}, "jpy", 13, 0, 10},
		// 50*0.01 = 0.5 -> 1: half rounds up
		{"half rounds up", mock.Config{FeeRatePPM: 10000}, "usd", 50, 0, 1},
		// 1.234 kwd at 2.5% = 30.85 fils -> 31, + 100
		{"kwd three decimals", mock.Config{FeeRatePPM: 25000, FeeFixed: 100}, "kwd", 1234, 0, 131},
		// amount*rate overflows int64: 9223372036854775807*29000/1e6
		// = 267477789068788498.403 -> 267477789068788498
		{"max amount", mock.Config{FeeRatePPM: 29000, FeeFixed: 30}, "usd", 1<<63 - 1, 0, 267477789068788498 + 30},
		// A fixed fee in usd is added to usd charges only: acpgw converts no
		// currencies (the estimate's rule), so a eur charge gets 75 cents
		// of percentage and no fixed part.
		{"fixed fee in its currency", mock.Config{FeeRatePPM: 29000, FeeFixed: 30, FeeCurrency: "usd"}, "usd", 2599, 0, 105},
		{"fixed fee in another currency", mock.Config{FeeRatePPM: 29000, FeeFixed: 30, FeeCurrency: "usd"}, "eur", 2599, 0, 75},
		{"partial capture in another currency", mock.Config{FeeRatePPM: 29000, FeeFixed: 30, FeeCurrency: "usd"}, "eur", 2599, 1000, 29},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := mock.New(tc.cfg)
			mode := payment.CaptureAutomatic
			if tc.capture > 0 {
				mode = payment.CaptureManual
			}
			req := authReq("4242424242424242", tc.amount, mode)
			req.Amount.Currency = tc.currency
			res := mustAuthorize(t, p, req)
			if tc.capture > 0 {
				var err error
				res, err = p.Capture(ctx(t), modReq(req, res.Reference, tc.capture))
				if err != nil {
					t.Fatal(err)
				}
			}
			want := payment.Money{Amount: tc.want, Currency: tc.currency}
			if res.Fee == nil || *res.Fee != want {
				t.Errorf("fee %v, want %v", res.Fee, want)
			}
		})
	}

	// A fee that cannot fit in int64 minor units is a decline, not a wrap.
	p := mock.New(mock.Config{FeeRatePPM: 1_000_000, FeeFixed: 1})
	res := mustAuthorize(t, p, authReq("4242424242424242", 1<<63-1, payment.CaptureManual))
	if res.Status != payment.StatusDeclined || res.Decline.Code != payment.DeclineInvalidAmount || p.ChargeCount() != 0 {
		t.Errorf("overflowing fee: %q %+v, %d charges; want an invalid_amount decline", res.Status, res.Decline, p.ChargeCount())
	}
}

func TestLatency(t *testing.T) {
	t.Parallel()
	t.Run("honoured", func(t *testing.T) {
		t.Parallel()
		p := mock.New(mock.Config{Latency: 50 * time.Millisecond})
		began := time.Now()
		res := mustAuthorize(t, p, authReq("4242424242424242", 100, payment.CaptureManual))
		if took := time.Since(began); took < 50*time.Millisecond {
			t.Errorf("answered after %s, want at least the 50ms latency", took)
		}
		if res.Status != payment.StatusAuthorized {
			t.Errorf("status %q", res.Status)
		}
	})
	t.Run("cancelled before the call", func(t *testing.T) {
		t.Parallel()
		p := mock.New(mock.Config{Latency: 50 * time.Millisecond})
		c, cancel := context.WithCancel(t.Context())
		cancel()
		req := authReq("4242424242424242", 100, payment.CaptureManual)
		res, err := p.Authorize(c, req)
		wantErr(t, err, providers.ErrNotProcessed, "context_done")
		if !errors.Is(err, context.Canceled) || res != (providers.Result{}) || p.ChargeCount() != 0 {
			t.Errorf("result %+v, error %v, %d charges: want nothing done", res, err, p.ChargeCount())
		}
		_, err = p.Refund(c, modReq(req, "mock_ch_x", 1))
		wantErr(t, err, providers.ErrNotProcessed, "context_done")
		if p.Calls(providers.OpAuthorize) != 1 || p.Calls(providers.OpRefund) != 1 {
			t.Error("calls refused for a done context were not counted")
		}
	})
	t.Run("deadline during latency", func(t *testing.T) {
		t.Parallel()
		p := mock.New(mock.Config{Latency: 500 * time.Millisecond})
		req := authReq("4242424242424242", 100, payment.CaptureManual)
		short, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel()
		began := time.Now()
		_, err := p.Authorize(short, req)
		if took := time.Since(began); took > 400*time.Millisecond {
			t.Errorf("returned after %s; the 20ms deadline was not honoured", took)
		}
		wantErr(t, err, providers.ErrOutcomeUnknown, "timeout")
		if p.ChargeCount() != 1 {
			t.Fatalf("%d charges: the effect precedes the lost answer, want 1", p.ChargeCount())
		}
		res := mustAuthorize(t, p, req) // re-send with the key
		if res.Reference != p.Charges()[0].Reference || p.ChargeCount() != 1 {
			t.Errorf("re-send %+v, %d charges", res, p.ChargeCount())
		}

		capture := modReq(req, res.Reference, 100)
		short2, cancel2 := context.WithTimeout(t.Context(), 20*time.Millisecond)
		defer cancel2()
		_, err = p.Capture(short2, capture)
		wantErr(t, err, providers.ErrOutcomeUnknown, "timeout")
		if c := p.Charges()[0]; c.Captured != 100 {
			t.Errorf("captured %d, want 100: the capture happened before its answer was lost", c.Captured)
		}
		if res, err := p.Capture(ctx(t), capture); err != nil || res.Status != payment.StatusCaptured {
			t.Errorf("capture re-send: %+v, %v", res, err)
		}
	})
}

func TestLedgerSnapshots(t *testing.T) {
	t.Parallel()
	p := newUSD()
	a := authReq("4242424242424242", 100, payment.CaptureManual)
	b := authReq("5555555555554444", 200, payment.CaptureManual)
	ra, rb := mustAuthorize(t, p, a), mustAuthorize(t, p, b)
	all := p.Charges()
	if len(all) != 2 || all[0].Reference != ra.Reference || all[1].Reference != rb.Reference {
		t.Fatalf("Charges() = %+v, want a then b", all)
	}
	all[0].Captured = 99 // a snapshot, not the ledger
	if p.Charges()[0].Captured != 0 {
		t.Error("changing a snapshot changed the ledger")
	}
	if got := p.ChargesForPayment(b.PaymentID); len(got) != 1 || got[0].Amount != 200 {
		t.Errorf("ChargesForPayment(b) = %+v", got)
	}
	if got := p.ChargesForPayment("pay_unknown"); len(got) != 0 {
		t.Errorf("ChargesForPayment(unknown) = %+v, want none", got)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		cfg  mock.Config
		want string // empty: valid
	}{
		{mock.Config{}, ""},
		{mock.Config{Name: "mock", Latency: 5 * time.Millisecond, FeeRatePPM: 29000, FeeFixed: 30, Currencies: []string{"usd", "JPY"}}, ""},
		{mock.Config{FeeRatePPM: 1_000_000}, ""},
		{mock.Config{Latency: -1}, "latency"},
		{mock.Config{HangFor: -1}, "hang_for"},
		{mock.Config{FeeRatePPM: -1}, "fee rate"},
		{mock.Config{FeeRatePPM: 1_000_001}, "fee rate"},
		{mock.Config{FeeFixed: -1}, "fixed fee"},
		{mock.Config{Currencies: []string{"usd", "xyz"}}, "xyz"},
	} {
		err := tc.cfg.Validate()
		if tc.want == "" && err != nil {
			t.Errorf("Validate(%+v) = %v, want nil", tc.cfg, err)
		}
		if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("Validate(%+v) = %v, want an error naming %q", tc.cfg, err, tc.want)
		}
	}
}

func BenchmarkAuthorize(b *testing.B) {
	p := newUSD()
	c := card("4242424242424242")
	req := providers.AuthorizeRequest{
		PaymentID:  "pay_bench",
		Amount:     payment.Money{Amount: 2599, Currency: "usd"},
		Capture:    payment.CaptureAutomatic,
		Instrument: providers.Instrument{Kind: providers.TokenVault, Card: &c},
	}
	ctx := b.Context()
	i := 0
	for b.Loop() {
		i++
		req.IdempotencyKey = "acpgw_pay_bench_" + strconv.Itoa(i)
		if _, err := p.Authorize(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// TestThreeDSecureCard: the 4000000000003220 card declines
// authentication_required (retryable) unless the request carries an
// authenticated 3-D Secure result with its data; a re-send of the approved
// request without the result (its cryptogram is gone after a restart)
// replays the charge instead of declining.
func TestThreeDSecureCard(t *testing.T) {
	t.Parallel()
	p := newUSD()
	with := func(a *payment.Authentication) providers.AuthorizeRequest {
		req := authReq("4000000000003220", 2599, payment.CaptureManual)
		req.Authentication = a
		return req
	}
	full := providertest.Authenticated()
	noCryptogram := *full
	noCryptogram.Cryptogram = ""
	attempt := *full
	attempt.Outcome, attempt.ECI = payment.AuthAttemptAcknowledged, "06"
	notSupported := &payment.Authentication{Outcome: payment.AuthNotSupported}
	for name, a := range map[string]*payment.Authentication{
		"none": nil, "no cryptogram": &noCryptogram, "attempt acknowledged": &attempt, "not supported": notSupported,
	} {
		res := mustAuthorize(t, p, with(a))
		if res.Status != payment.StatusDeclined || res.Decline.Code != payment.DeclineAuthenticationRequired || !res.Decline.Retryable {
			t.Errorf("%s: %+v, want a retryable authentication_required decline", name, res)
		}
	}
	req := with(full)
	res := mustAuthorize(t, p, req)
	if res.Status != payment.StatusAuthorized || strings.Contains(res.Message, providertest.Cryptogram) {
		t.Fatalf("authenticated: %+v", res)
	}
	req.Authentication = nil
	again := mustAuthorize(t, p, req)
	if again.Status != payment.StatusAuthorized || again.Reference != res.Reference || p.ChargeCount() != 1 {
		t.Fatalf("re-send without the result: %+v (%d charges), want the first answer", again, p.ChargeCount())
	}
}
