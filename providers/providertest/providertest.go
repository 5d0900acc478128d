// Package providertest is the conformance suite every acpgw provider must
// pass: authorize, capture (full and partial), void, refund (full, partial,
// over-refund), decline mapping, idempotent replay, timeout behaviour,
// "in progress" answers, cancelled contexts, unsupported tokens and 3-D Secure
// authentication results. A provider package runs it from
// a test:
//
//	func TestConformance(t *testing.T) {
//		providertest.Run(t, func(t *testing.T) providertest.Harness {
//			return providertest.Harness{Provider: ..., Currency: "usd", ...}
//		})
//	}
package providertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"acpgw/payment"
	"acpgw/providers"
)

// Harness describes a provider under test and the cards that trigger
// outcomes on it.
type Harness struct {
	// Provider is the provider under test, fresh for each subtest.
	Provider providers.Provider
	// Currency is the payment currency of the suite, e.g. "usd".
	Currency string
	// ApproveCard is a card the provider approves.
	ApproveCard payment.Card
	// DeclineCards gives the expected decline code per card; for real
	// processors it may be a subset of the taxonomy.
	DeclineCards map[payment.DeclineCode]payment.Card
	// TimeoutCard, if set, is a card whose charge is made but whose answer
	// does not arrive before a short deadline.
	TimeoutCard *payment.Card
	// ChargeCount, if set, returns how many charges the processor side
	// recorded (used to prove idempotent replay and timeout make one
	// charge). It must count only this harness's charges.
	ChargeCount func() int
	// HoldKey, if set, makes the processor side answer every request with
	// the idempotency key as "still in progress" (Adyen 422 errorCode 704,
	// Stripe 409 idempotency_key_in_use) until release is called, as when
	// an earlier request with the key is still being processed there.
	HoldKey func(key string) (release func())
	// AuthenticationCard, if set, is a card whose issuer requires 3-D
	// Secure: declined authentication_required without an authentication,
	// approved with an authenticated one (Authenticated).
	AuthenticationCard *payment.Card
	// ModificationsAsync: true when capture/void/refund answer pending
	// (e.g. Adyen "received") and settle by webhook. Checks that need the
	// settled outcome at once are then relaxed.
	ModificationsAsync bool
}

// Timing of the suite.
const (
	// callTimeout is the deadline of an ordinary call.
	callTimeout = 30 * time.Second
	// shortDeadline is the deadline of the timeout subtest's first call.
	shortDeadline = 200 * time.Millisecond
	// timeoutSlack is how long after shortDeadline a provider may take to
	// give up.
	timeoutSlack = 2 * time.Second
	// concurrentReplays is how many goroutines send one request at once.
	concurrentReplays = 20
)

// amount is what the suite charges, in minor units of Harness.Currency; it
// is a plausible price in every currency acpgw knows.
const amount = 2599

// Run runs the conformance suite. Every subtest gets a fresh harness from
// newHarness and runs in parallel with the others.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	t.Helper()
	for _, tc := range []struct {
		name string
		fn   func(*suite)
	}{
		{"identity", (*suite).identity},
		{"authorize_manual", (*suite).authorizeManual},
		{"authorize_automatic_capture", (*suite).authorizeAutomatic},
		{"capture_full", (*suite).captureFull},
		{"capture_partial", (*suite).capturePartial},
		{"void", (*suite).void},
		{"void_after_capture", (*suite).voidAfterCapture},
		{"refund_full", (*suite).refundFull},
		{"refund_partial", (*suite).refundPartial},
		{"over_refund", (*suite).overRefund},
		{"decline_mapping", (*suite).declineMapping},
		{"idempotent_replay", (*suite).idempotentReplay},
		{"idempotent_replay_concurrent", (*suite).idempotentReplayConcurrent},
		{"modification_replay", (*suite).modificationReplay},
		{"different_keys", (*suite).differentKeys},
		{"timeout", (*suite).timeout},
		{"in_progress", (*suite).inProgress},
		{"context_cancelled", (*suite).contextCancelled},
		{"unsupported_token", (*suite).unsupportedToken},
		{"authentication", (*suite).authentication},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			checkHarness(t, h)
			tc.fn(&suite{t: t, h: h})
		})
	}
}

func checkHarness(t *testing.T, h Harness) {
	t.Helper()
	switch {
	case h.Provider == nil:
		t.Fatal("harness: Provider is nil")
	case !payment.ValidCurrency(h.Currency):
		t.Fatalf("harness: Currency %q is not a currency acpgw knows", h.Currency)
	case h.ApproveCard.Number == "":
		t.Fatal("harness: ApproveCard has no number")
	}
}

// suite is one subtest's view of its harness.
type suite struct {
	t *testing.T
	h Harness
}

// pay is one payment of the suite: a fresh PaymentID and a counter for its
// idempotency keys (acpgw_<payment>_<n>, as the gateway makes them).
type pay struct {
	id   string
	keys int
}

func newPay() *pay { return &pay{id: "pay_" + randomHex(8)} }

func (p *pay) nextKey() string {
	p.keys++
	return "acpgw_" + p.id + "_" + strconv.Itoa(p.keys)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+).
	return hex.EncodeToString(b)
}

func (s *suite) ctx() context.Context {
	ctx, cancel := context.WithTimeout(s.t.Context(), callTimeout)
	s.t.Cleanup(cancel)
	return ctx
}

func (s *suite) money(n int64) payment.Money {
	return payment.Money{Amount: n, Currency: s.h.Currency}
}

// authReq builds the request of p's next attempt.
func (s *suite) authReq(p *pay, card payment.Card, capture payment.CaptureMode) providers.AuthorizeRequest {
	key := p.nextKey()
	return providers.AuthorizeRequest{
		PaymentID:      p.id,
		AttemptID:      key,
		IdempotencyKey: key,
		MerchantID:     "conformance",
		Amount:         s.money(amount),
		Capture:        capture,
		Instrument:     providers.Instrument{Kind: providers.TokenVault, Card: &card},
		Metadata:       map[string]string{"suite": "providertest"},
	}
}

func (s *suite) modReq(p *pay, ref string, n int64) providers.ModifyRequest {
	return providers.ModifyRequest{PaymentID: p.id, IdempotencyKey: p.nextKey(), Reference: ref, Amount: s.money(n)}
}

// charges returns the processor's charge count, and false when the harness
// cannot count.
func (s *suite) charges() (int, bool) {
	if s.h.ChargeCount == nil {
		return 0, false
	}
	return s.h.ChargeCount(), true
}

// wantCharges checks that the processor recorded want charges since before
// (a value from charges).
func (s *suite) wantCharges(before, want int, why string) {
	s.t.Helper()
	if after, ok := s.charges(); ok && after-before != want {
		s.t.Errorf("%s: processor recorded %d charges, want %d", why, after-before, want)
	}
}

// authorize sends req, checks the answer carries no card data, and fails the
// test on an error.
func (s *suite) authorize(ctx context.Context, req providers.AuthorizeRequest) providers.Result {
	s.t.Helper()
	res, err := s.h.Provider.Authorize(ctx, req)
	s.checkAnswer(res, err)
	if err != nil {
		s.t.Fatalf("Authorize: unexpected error: %v", err)
	}
	return res
}

// authorized authorizes a fresh approved payment and checks that it is
// authorized (manual) or captured (automatic).
func (s *suite) authorized(capture payment.CaptureMode) (*pay, providers.Result) {
	s.t.Helper()
	p := newPay()
	res := s.authorize(s.ctx(), s.authReq(p, s.h.ApproveCard, capture))
	want := []payment.Status{payment.StatusAuthorized}
	if capture == payment.CaptureAutomatic {
		want = []payment.Status{payment.StatusCaptured}
		if s.h.ModificationsAsync {
			want = append(want, payment.StatusPending)
		}
	}
	if !slices.Contains(want, res.Status) {
		s.t.Fatalf("Authorize(%s) status = %q, want one of %q (message %q)", capture, res.Status, want, res.Message)
	}
	if res.Reference == "" {
		s.t.Fatalf("Authorize(%s) gave no Reference", capture)
	}
	if res.Decline != nil {
		s.t.Errorf("Authorize(%s) status %s carries a decline %+v", capture, res.Status, *res.Decline)
	}
	s.checkFee(res)
	return p, res
}

// checkFee checks a reported fee: positive and in the payment currency.
func (s *suite) checkFee(res providers.Result) {
	s.t.Helper()
	if res.Fee == nil {
		return
	}
	if res.Fee.Amount <= 0 {
		s.t.Errorf("fee %d is not positive", res.Fee.Amount)
	}
	if res.Fee.Currency != s.h.Currency {
		s.t.Errorf("fee currency %q, want the payment currency %q", res.Fee.Currency, s.h.Currency)
	}
}

type modifyFunc func(context.Context, providers.ModifyRequest) (providers.Result, error)

func (s *suite) op(op providers.Operation) modifyFunc {
	switch op {
	case providers.OpCapture:
		return s.h.Provider.Capture
	case providers.OpVoid:
		return s.h.Provider.Void
	default:
		return s.h.Provider.Refund
	}
}

// modify sends a capture, void or refund that must succeed with want (or
// pending for asynchronous modifications) and keep the payment's reference.
func (s *suite) modify(op providers.Operation, req providers.ModifyRequest, want payment.Status) providers.Result {
	s.t.Helper()
	res, err := s.op(op)(s.ctx(), req)
	s.checkAnswer(res, err)
	if err != nil {
		s.t.Fatalf("%s of %d: unexpected error: %v", op, req.Amount.Amount, err)
	}
	if res.Status != want && !(s.h.ModificationsAsync && res.Status == payment.StatusPending) {
		s.t.Fatalf("%s of %d: status %q, want %q (message %q)", op, req.Amount.Amount, res.Status, want, res.Message)
	}
	if res.Reference != "" && res.Reference != req.Reference {
		s.t.Errorf("%s: Reference %q, want the payment's %q", op, res.Reference, req.Reference)
	}
	if res.Decline != nil {
		s.t.Errorf("%s: result carries a decline %+v", op, *res.Decline)
	}
	return res
}

// refused sends a modification that must be refused with ErrRejected. With
// asynchronous modifications a pending answer is accepted too: the refusal
// then comes by webhook.
func (s *suite) refused(op providers.Operation, req providers.ModifyRequest, why string) {
	s.t.Helper()
	res, err := s.op(op)(s.ctx(), req)
	s.checkAnswer(res, err)
	if s.h.ModificationsAsync && err == nil && res.Status == payment.StatusPending {
		return
	}
	if !errors.Is(err, providers.ErrRejected) {
		s.t.Errorf("%s (%s): got result %q and error %v, want an error that is ErrRejected", op, why, res.Status, err)
	}
	if err != nil && !isZero(res) {
		s.t.Errorf("%s (%s): an error came with a non-empty result %+v", op, why, res)
	}
}

func isZero(r providers.Result) bool {
	return r.Status == "" && r.Reference == "" && r.Decline == nil && r.Fee == nil && r.Message == ""
}

// checkAnswer fails the test if a message or error carries a card number of
// the harness, or if an error belongs to more than one class: the gateway
// must never read "surely not charged" from an error that also says "maybe
// charged" (a NotProcessed wrapping an OutcomeUnknown, say).
func (s *suite) checkAnswer(res providers.Result, err error) {
	s.t.Helper()
	classes := 0
	for _, class := range []error{providers.ErrNotProcessed, providers.ErrOutcomeUnknown, providers.ErrRejected} {
		if errors.Is(err, class) {
			classes++
		}
	}
	if classes > 1 {
		s.t.Errorf("error %v belongs to %d error classes, want at most one", err, classes)
	}
	texts := []string{res.Message}
	if res.Decline != nil {
		texts = append(texts, res.Decline.Message, res.Decline.ProcessorCode)
	}
	if err != nil {
		texts = append(texts, err.Error())
	}
	for _, txt := range texts {
		if strings.Contains(txt, Cryptogram) {
			s.t.Errorf("a result message or error contains the 3-D Secure cryptogram")
		}
	}
	for _, c := range s.cards() {
		if len(c.Number) < 12 {
			continue
		}
		for _, txt := range texts {
			if strings.Contains(txt, c.Number) {
				s.t.Errorf("a result message or error contains the card number ending %s", c.Number[len(c.Number)-4:])
			}
		}
	}
}

func (s *suite) cards() []payment.Card {
	cards := []payment.Card{s.h.ApproveCard}
	for _, c := range s.h.DeclineCards {
		cards = append(cards, c)
	}
	if s.h.TimeoutCard != nil {
		cards = append(cards, *s.h.TimeoutCard)
	}
	return cards
}

func (s *suite) identity() {
	p := s.h.Provider
	if p.Name() == "" || p.Type() == "" {
		s.t.Errorf("Name() = %q, Type() = %q; both must be set", p.Name(), p.Type())
	}
	if !p.Supports(providers.TokenVault, s.h.Currency) {
		s.t.Errorf("Supports(vault, %q) = false; the suite needs vault cards in its currency", s.h.Currency)
	}
	if p.Supports(providers.TokenVault, "xyz") {
		s.t.Error(`Supports(vault, "xyz") = true for a currency that does not exist`)
	}
}

func (s *suite) authorizeManual() {
	before, _ := s.charges()
	_, res := s.authorized(payment.CaptureManual)
	if res.Fee != nil {
		s.t.Errorf("an uncaptured authorization reported a fee %+v", *res.Fee)
	}
	s.wantCharges(before, 1, "one authorization")
}

func (s *suite) authorizeAutomatic() {
	before, _ := s.charges()
	s.authorized(payment.CaptureAutomatic)
	s.wantCharges(before, 1, "one automatic capture")
}

func (s *suite) captureFull() {
	p, auth := s.authorized(payment.CaptureManual)
	res := s.modify(providers.OpCapture, s.modReq(p, auth.Reference, amount), payment.StatusCaptured)
	s.checkFee(res)
	if !s.h.ModificationsAsync {
		// The whole amount is refundable: the capture took all of it.
		s.modify(providers.OpRefund, s.modReq(p, auth.Reference, amount), payment.StatusRefunded)
	}
}

func (s *suite) capturePartial() {
	const part = 1000
	p, auth := s.authorized(payment.CaptureManual)
	res := s.modify(providers.OpCapture, s.modReq(p, auth.Reference, part), payment.StatusCaptured)
	s.checkFee(res)
	if s.h.ModificationsAsync {
		return
	}
	// Only the captured part can be refunded, and a partial capture
	// releases the remainder: it cannot be captured later.
	s.refused(providers.OpRefund, s.modReq(p, auth.Reference, part+1), "refund above a partial capture")
	s.refused(providers.OpCapture, s.modReq(p, auth.Reference, amount-part), "second capture")
	s.modify(providers.OpRefund, s.modReq(p, auth.Reference, part), payment.StatusRefunded)
}

func (s *suite) void() {
	p, auth := s.authorized(payment.CaptureManual)
	s.modify(providers.OpVoid, s.modReq(p, auth.Reference, amount), payment.StatusVoided)
	s.refused(providers.OpCapture, s.modReq(p, auth.Reference, amount), "capture after void")
}

func (s *suite) voidAfterCapture() {
	p, auth := s.authorized(payment.CaptureAutomatic)
	s.refused(providers.OpVoid, s.modReq(p, auth.Reference, amount), "void after capture")
}

func (s *suite) refundFull() {
	p, auth := s.authorized(payment.CaptureAutomatic)
	s.modify(providers.OpRefund, s.modReq(p, auth.Reference, amount), payment.StatusRefunded)
	s.refused(providers.OpRefund, s.modReq(p, auth.Reference, 1), "refund after a full refund")
}

func (s *suite) refundPartial() {
	p, auth := s.authorized(payment.CaptureAutomatic)
	s.modify(providers.OpRefund, s.modReq(p, auth.Reference, 1000), payment.StatusRefunded)
	s.modify(providers.OpRefund, s.modReq(p, auth.Reference, amount-1000), payment.StatusRefunded)
	s.refused(providers.OpRefund, s.modReq(p, auth.Reference, 1), "refund beyond two partial refunds")
}

func (s *suite) overRefund() {
	p, auth := s.authorized(payment.CaptureAutomatic)
	s.refused(providers.OpRefund, s.modReq(p, auth.Reference, amount+1), "over-refund")
	// The refused refund changed nothing: the full amount is still there.
	if !s.h.ModificationsAsync {
		s.modify(providers.OpRefund, s.modReq(p, auth.Reference, amount), payment.StatusRefunded)
	}
}

func (s *suite) declineMapping() {
	if len(s.h.DeclineCards) == 0 {
		s.t.Skip("harness has no decline cards")
	}
	codes := make([]payment.DeclineCode, 0, len(s.h.DeclineCards))
	for code := range s.h.DeclineCards {
		codes = append(codes, code)
	}
	slices.Sort(codes)
	for _, code := range codes {
		card := s.h.DeclineCards[code]
		s.t.Run(string(code), func(t *testing.T) {
			s := &suite{t: t, h: s.h}
			info, ok := payment.LookupDecline(code)
			if !ok {
				t.Fatalf("harness: %q is not in the decline taxonomy", code)
			}
			for _, capture := range []payment.CaptureMode{payment.CaptureManual, payment.CaptureAutomatic} {
				res := s.authorize(s.ctx(), s.authReq(newPay(), card, capture))
				if res.Status != payment.StatusDeclined || res.Decline == nil {
					t.Fatalf("%s: status %q, decline %v; want declined with a decline", capture, res.Status, res.Decline)
				}
				d := *res.Decline
				if d.Code != code || d.Category != info.Category || d.Retryable != info.Retryable {
					t.Errorf("%s: decline %s/%s/retryable=%v, want %s/%s/retryable=%v",
						capture, d.Code, d.Category, d.Retryable, info.Code, info.Category, info.Retryable)
				}
				if d.ProcessorCode == "" {
					t.Errorf("%s: decline %s has no ProcessorCode", capture, d.Code)
				}
				if res.Fee != nil {
					t.Errorf("%s: a decline reported a fee %+v", capture, *res.Fee)
				}
			}
		})
	}
}

func (s *suite) idempotentReplay() {
	before, _ := s.charges()
	req := s.authReq(newPay(), s.h.ApproveCard, payment.CaptureAutomatic)
	first := s.authorize(s.ctx(), req)
	second := s.authorize(s.ctx(), req)
	if first.Reference == "" || second.Reference != first.Reference {
		s.t.Errorf("replay Reference = %q, want the first answer's %q", second.Reference, first.Reference)
	}
	if second.Status != first.Status {
		s.t.Errorf("replay status = %q, want the first answer's %q", second.Status, first.Status)
	}
	s.wantCharges(before, 1, "a request sent twice with one key")
}

func (s *suite) idempotentReplayConcurrent() {
	before, _ := s.charges()
	req := s.authReq(newPay(), s.h.ApproveCard, payment.CaptureManual)
	ctx := s.ctx()
	var (
		wg      sync.WaitGroup
		start   = make(chan struct{})
		results = make([]providers.Result, concurrentReplays)
		errs    = make([]error, concurrentReplays)
	)
	for i := range concurrentReplays {
		wg.Go(func() {
			<-start
			results[i], errs[i] = s.h.Provider.Authorize(ctx, req)
		})
	}
	close(start)
	wg.Wait()

	refs := map[string]bool{}
	for i := range concurrentReplays {
		s.checkAnswer(results[i], errs[i])
		switch {
		case errs[i] == nil:
			refs[results[i].Reference] = true
		case errors.Is(errs[i], providers.ErrNotProcessed):
			// A processor may refuse a request while another with the
			// same key is in flight (Stripe's 409); that charged nothing.
		default:
			s.t.Errorf("concurrent replay %d: error %v, want a result or ErrNotProcessed", i, errs[i])
		}
	}
	// Whatever the concurrent calls saw, a replay now must find the charge.
	final := s.authorize(s.ctx(), req)
	if final.Status != payment.StatusAuthorized {
		s.t.Errorf("replay after the concurrent calls: status %q, want authorized", final.Status)
	}
	refs[final.Reference] = true
	if len(refs) != 1 || refs[""] {
		s.t.Errorf("%d concurrent calls with one key gave references %v, want one non-empty reference", concurrentReplays, refs)
	}
	s.wantCharges(before, 1, "concurrent calls with one key")
}

func (s *suite) modificationReplay() {
	p, auth := s.authorized(payment.CaptureManual)
	capture := s.modReq(p, auth.Reference, amount)
	s.modify(providers.OpCapture, capture, payment.StatusCaptured)
	// Without replay, the second capture would be refused as a double
	// capture.
	s.modify(providers.OpCapture, capture, payment.StatusCaptured)

	refund := s.modReq(p, auth.Reference, amount-1000)
	s.modify(providers.OpRefund, refund, payment.StatusRefunded)
	s.modify(providers.OpRefund, refund, payment.StatusRefunded)
	if s.h.ModificationsAsync {
		return
	}
	// The replayed refund refunded nothing: 1000 is left, and no more.
	s.modify(providers.OpRefund, s.modReq(p, auth.Reference, 1000), payment.StatusRefunded)
	s.refused(providers.OpRefund, s.modReq(p, auth.Reference, 1), "refund after the replayed refunds")
}

func (s *suite) differentKeys() {
	before, _ := s.charges()
	_, a := s.authorized(payment.CaptureManual)
	_, b := s.authorized(payment.CaptureManual)
	if a.Reference == b.Reference {
		s.t.Errorf("two payments with different keys share the reference %q", a.Reference)
	}
	s.wantCharges(before, 2, "two payments with different keys")
}

func (s *suite) timeout() {
	if s.h.TimeoutCard == nil {
		s.t.Skip("harness has no timeout card")
	}
	before, _ := s.charges()
	req := s.authReq(newPay(), *s.h.TimeoutCard, payment.CaptureAutomatic)

	ctx, cancel := context.WithTimeout(s.t.Context(), shortDeadline)
	defer cancel()
	began := time.Now()
	res, err := s.h.Provider.Authorize(ctx, req)
	took := time.Since(began)
	s.checkAnswer(res, err)
	if !errors.Is(err, providers.ErrOutcomeUnknown) {
		s.t.Fatalf("timeout card: got result %q and error %v, want an error that is ErrOutcomeUnknown", res.Status, err)
	}
	if !isZero(res) {
		s.t.Errorf("timeout card: an error came with a non-empty result %+v", res)
	}
	if took > shortDeadline+timeoutSlack {
		s.t.Errorf("timeout card: returned after %s, want within %s of the %s deadline", took, timeoutSlack, shortDeadline)
	}

	// Reconciliation: the same request with the same key finds the charge.
	final := s.authorize(s.ctx(), req)
	if final.Status != payment.StatusCaptured && final.Status != payment.StatusAuthorized {
		s.t.Errorf("re-send after timeout: status %q, want the charge's final status", final.Status)
	}
	if final.Reference == "" {
		s.t.Error("re-send after timeout gave no Reference")
	}
	s.wantCharges(before, 1, "a timed-out charge and its re-send")
}

// inProgress: while the processor reports a request with the key in
// progress, the first request may be charging the card, so the answer must
// be ErrOutcomeUnknown (the payment goes pending and is reconciled with the
// same key), never ErrNotProcessed (which would fail over to another
// processor and could charge the buyer twice) nor ErrRejected. Once the
// processor is done, the same request settles with one charge.
func (s *suite) inProgress() {
	if s.h.HoldKey == nil {
		s.t.Skip("harness cannot hold a key in progress")
	}
	before, _ := s.charges()
	p := newPay()
	req := s.authReq(p, s.h.ApproveCard, payment.CaptureManual)
	release := s.h.HoldKey(req.IdempotencyKey)
	res, err := s.h.Provider.Authorize(s.ctx(), req)
	s.checkAnswer(res, err)
	s.wantInProgress(res, err, "Authorize")
	s.wantCharges(before, 0, "an authorization answered in progress")
	release()
	auth := s.authorize(s.ctx(), req)
	if auth.Status != payment.StatusAuthorized {
		s.t.Fatalf("re-send after in progress: status %q, want authorized", auth.Status)
	}
	s.wantCharges(before, 1, "an authorization answered in progress, then re-sent")

	// A capture in progress is not a rejection either.
	capReq := s.modReq(p, auth.Reference, amount)
	release = s.h.HoldKey(capReq.IdempotencyKey)
	res, err = s.h.Provider.Capture(s.ctx(), capReq)
	s.checkAnswer(res, err)
	s.wantInProgress(res, err, "Capture")
	release()
	s.modify(providers.OpCapture, capReq, payment.StatusCaptured)
}

// wantInProgress checks the answer to a request the processor reported in
// progress: no result and an error that is ErrOutcomeUnknown only.
func (s *suite) wantInProgress(res providers.Result, err error, what string) {
	s.t.Helper()
	switch {
	case !errors.Is(err, providers.ErrOutcomeUnknown):
		s.t.Fatalf("%s in progress: result %q, error %v; want an error that is ErrOutcomeUnknown", what, res.Status, err)
	case errors.Is(err, providers.ErrNotProcessed), errors.Is(err, providers.ErrRejected):
		s.t.Fatalf("%s in progress: error %v is also ErrNotProcessed or ErrRejected", what, err)
	case !isZero(res):
		s.t.Errorf("%s in progress: an error came with a non-empty result %+v", what, res)
	}
}

func (s *suite) contextCancelled() {
	before, _ := s.charges()
	ctx, cancel := context.WithCancel(s.t.Context())
	cancel()
	res, err := s.h.Provider.Authorize(ctx, s.authReq(newPay(), s.h.ApproveCard, payment.CaptureAutomatic))
	s.checkAnswer(res, err)
	s.wantUnsent(res, err, "Authorize with a cancelled context")
	if errors.Is(err, providers.ErrNotProcessed) {
		s.wantCharges(before, 0, "a call that was not processed")
	}

	// A modification with a cancelled context is unsent or unknown too; a
	// re-send with the same key then settles it exactly once.
	p, auth := s.authorized(payment.CaptureManual)
	req := s.modReq(p, auth.Reference, amount)
	res, err = s.h.Provider.Capture(ctx, req)
	s.checkAnswer(res, err)
	s.wantUnsent(res, err, "Capture with a cancelled context")
	s.modify(providers.OpCapture, req, payment.StatusCaptured)
}

// wantUnsent checks that a call with a cancelled context gave no result and
// an error of a class the gateway can act on.
func (s *suite) wantUnsent(res providers.Result, err error, what string) {
	s.t.Helper()
	if !errors.Is(err, providers.ErrNotProcessed) && !errors.Is(err, providers.ErrOutcomeUnknown) {
		s.t.Errorf("%s: error %v, want ErrNotProcessed or ErrOutcomeUnknown", what, err)
	}
	if !isZero(res) {
		s.t.Errorf("%s: got a result %+v, want none", what, res)
	}
}

func (s *suite) unsupportedToken() {
	kinds := []providers.TokenKind{providers.TokenSharedPayment, "conformance_unknown_kind"}
	tested := 0
	for _, kind := range kinds {
		if s.h.Provider.Supports(kind, s.h.Currency) {
			continue
		}
		tested++
		before, _ := s.charges()
		p := newPay()
		req := s.authReq(p, s.h.ApproveCard, payment.CaptureAutomatic)
		req.Instrument = providers.Instrument{Kind: kind, SharedToken: "spt_conformance_" + randomHex(8)}
		res, err := s.h.Provider.Authorize(s.ctx(), req)
		s.checkAnswer(res, err)
		if !errors.Is(err, providers.ErrNotProcessed) {
			s.t.Errorf("Authorize with unsupported token kind %q: result %q, error %v; want ErrNotProcessed", kind, res.Status, err)
		}
		if !isZero(res) {
			s.t.Errorf("Authorize with unsupported token kind %q gave a result %+v", kind, res)
		}
		s.wantCharges(before, 0, "an unsupported token")
	}
	if tested == 0 {
		s.t.Skip("the provider claims to support every token kind tried")
	}
}

// Cryptogram is the 3-D Secure authentication value of Authenticated: base64
// of 20 bytes, as a CAVV is.
const Cryptogram = "MDEyMzQ1Njc4OWFiY2RlZmdoaWo="

// Authenticated returns a frictionless 3-D Secure 2 authentication of the
// buyer, as ACP's authentication_result carries it.
func Authenticated() *payment.Authentication {
	return &payment.Authentication{Outcome: payment.AuthAuthenticated, Cryptogram: Cryptogram, ECI: "05",
		TransactionID: "f25084f0-5b16-4c0a-ae5d-b24808a95e4b", Version: "2.2.0"}
}

// authentication: a card whose issuer requires 3-D Secure is declined
// authentication_required, retryable (the same card may be paid again with
// an authentication), and approved once the request carries an
// authenticated result; an approving card is approved with one too. No
// answer carries the cryptogram.
func (s *suite) authentication() {
	if s.h.AuthenticationCard == nil {
		s.t.Skip("harness has no card that requires 3-D Secure")
	}
	card := *s.h.AuthenticationCard
	before, _ := s.charges()
	res := s.authorize(s.ctx(), s.authReq(newPay(), card, payment.CaptureManual))
	if res.Status != payment.StatusDeclined || res.Decline == nil || res.Decline.Code != payment.DeclineAuthenticationRequired {
		s.t.Fatalf("without an authentication: status %q, decline %+v; want declined authentication_required", res.Status, res.Decline)
	}
	if !res.Decline.Retryable {
		s.t.Errorf("authentication_required is not retryable: %+v", *res.Decline)
	}
	s.wantCharges(before, 0, "a payment that needed 3-D Secure and had none")
	for _, capture := range []payment.CaptureMode{payment.CaptureManual, payment.CaptureAutomatic} {
		req := s.authReq(newPay(), card, capture)
		req.Authentication = Authenticated()
		res = s.authorize(s.ctx(), req)
		want := []payment.Status{payment.StatusAuthorized}
		if capture == payment.CaptureAutomatic {
			want = []payment.Status{payment.StatusCaptured}
			if s.h.ModificationsAsync {
				want = append(want, payment.StatusPending)
			}
		}
		if !slices.Contains(want, res.Status) || res.Decline != nil {
			s.t.Fatalf("%s with an authenticated result: status %q, decline %+v; want %q", capture, res.Status, res.Decline, want)
		}
	}
	req := s.authReq(newPay(), s.h.ApproveCard, payment.CaptureManual)
	req.Authentication = Authenticated()
	if res = s.authorize(s.ctx(), req); res.Status != payment.StatusAuthorized {
		s.t.Errorf("the approving card with an authenticated result: status %q, want authorized", res.Status)
	}
	s.wantCharges(before, 3, "three authenticated payments")
}
