package gateway

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"acpgw/acp"
	"acpgw/metrics"
	"acpgw/payment"
	"acpgw/providers"
	"acpgw/store"
	"acpgw/tracing"
	"acpgw/vault"
)

// ModifyInput is a validated capture, void or refund call by an
// authenticated merchant.
type ModifyInput struct {
	MerchantID string
	PaymentID  string
	// Amount is the amount to capture or refund; nil means all there is (a
	// void takes none).
	Amount *int64
	// Idempotency is the request's key; zero when it has none.
	Idempotency Idempotency
}

// Capture captures an authorized payment, fully or partly (Amount nil means
// the authorized amount). A partial capture releases the rest. The answer
// is 200 with the payment, or 202 while this capture's outcome is unknown.
func (s *Service) Capture(ctx context.Context, in ModifyInput) (Answer, error) {
	return s.modify(ctx, in, providers.OpCapture)
}

// Void cancels an uncaptured authorization: 200 with the payment, or 202
// while the void's outcome is unknown.
func (s *Service) Void(ctx context.Context, in ModifyInput) (Answer, error) {
	return s.modify(ctx, in, providers.OpVoid)
}

// Refund refunds a captured payment, fully or partly (Amount nil means what
// remains refundable); refunds add up to at most the captured amount. The
// answer is 201 with the payment and the refund this request created, or
// 202 while that refund's outcome is unknown.
func (s *Service) Refund(ctx context.Context, in ModifyInput) (Answer, error) {
	return s.modify(ctx, in, providers.OpRefund)
}

// modify runs one capture, void or refund in the payment's two
// transactions: the intent reserves the operation (so concurrent captures
// or refunds cannot both pass the amount checks) and records its attempt;
// after the processor call, detached from the caller, the settlement
// applies the answer and stores the request's.
func (s *Service) modify(ctx context.Context, in ModifyInput, op providers.Operation) (Answer, error) {
	rt, release := s.acquire()
	defer release()
	sctx, span := s.step(ctx, "modification.intent", in.PaymentID)
	p, att, err := s.openModification(sctx, rt, in, op)
	tracing.End(span, err)
	if err != nil {
		return s.beforeWrite(ctx, in.Idempotency, err)
	}
	prov, ok := rt.Providers.Get(p.Processor)
	if !ok {
		// The processor was removed from config while the payment lived; the
		// attempt stays pending until it is configured again.
		return Answer{}, publicError(fmt.Errorf("%w: processor %q is no longer configured", payment.ErrNoProcessor, p.Processor),
			"the payment's processor cannot be reached now; nothing was changed, retry later")
	}
	ctx, cancel := s.detach(ctx, rt)
	defer cancel()
	out := s.callModify(ctx, rt, prov, p, att)
	sctx, span = s.step(ctx, "modification.settle", in.PaymentID)
	ans, err := s.settleModification(sctx, in.Idempotency, att, out)
	tracing.End(span, err)
	return ans, err
}

// openModification is a modification's first transaction: it claims the
// request's key, checks the operation against the payment under its lock,
// and writes the attempt (and for a refund the refund, counted as pending).
func (s *Service) openModification(ctx context.Context, rt *Runtime, in ModifyInput, op providers.Operation) (store.Payment, store.Attempt, error) {
	now := s.now().UTC()
	attID := vault.NewID("att_")
	rec := s.idemRecord(in.Idempotency, now, attID)
	var (
		p   store.Payment
		att store.Attempt
	)
	err := s.store.Tx(ctx, func(tx store.Tx) error {
		if _, err := s.claim(ctx, tx, in.Idempotency, rec, now); err != nil {
			return err
		}
		var err error
		p, err = tx.GetPaymentForUpdate(ctx, in.PaymentID)
		if errors.Is(err, store.ErrNotFound) || err == nil && p.MerchantID != in.MerchantID {
			return publicError(payment.ErrNotFound, msgNoSuchPayment)
		}
		if err != nil {
			return err
		}
		atts, err := tx.ListAttempts(ctx, p.ID)
		if err != nil {
			return err
		}
		amt, err := checkModification(p, atts, op, in.Amount)
		if err != nil {
			return err
		}
		att = s.newAttempt(rt, p, len(atts)+1, p.Processor, op, amt, now)
		att.ID = attID
		if op == providers.OpRefund {
			ref := store.Refund{ID: vault.NewID("re_"), PaymentID: p.ID, Amount: amt, Currency: p.Currency,
				Status: store.RefundPending, CreatedAt: now, UpdatedAt: now}
			att.RefundID = ref.ID
			if err := tx.InsertRefund(ctx, ref); err != nil {
				return err
			}
			p.RefundPending += amt
			p.UpdatedAt = now
			if err := tx.UpdatePayment(ctx, p); err != nil {
				return err
			}
		}
		return tx.InsertAttempt(ctx, att)
	})
	return p, att, err
}

// checkModification checks op against the payment and its attempts and
// returns the amount to send.
func checkModification(p store.Payment, atts []store.Attempt, op providers.Operation, amount *int64) (int64, error) {
	for _, a := range atts {
		if a.State == store.AttemptPending && a.Operation != string(providers.OpRefund) {
			return 0, publicError(payment.ErrConflict, "a %s of this payment is still pending", a.Operation)
		}
	}
	if amount != nil && *amount <= 0 {
		return 0, publicError(payment.ErrInvalidAmount, "amount must be positive")
	}
	switch op {
	case providers.OpCapture:
		if p.Status != payment.StatusAuthorized {
			return 0, publicError(payment.ErrInvalidState, "cannot capture a payment that is %s", p.Status)
		}
		if amount == nil {
			return p.Amount, nil
		}
		if *amount > p.Amount {
			return 0, publicError(payment.ErrAmountTooLarge, "capture of %d is above the authorized %d", *amount, p.Amount)
		}
		return *amount, nil
	case providers.OpVoid:
		if p.Status != payment.StatusAuthorized {
			return 0, publicError(payment.ErrInvalidState, "cannot void a payment that is %s", p.Status)
		}
		return p.Amount, nil
	default:
		if p.Status != payment.StatusCaptured && p.Status != payment.StatusPartiallyRefunded {
			return 0, publicError(payment.ErrInvalidState, "cannot refund a payment that is %s", p.Status)
		}
		left := p.CapturedAmount - p.RefundedAmount - p.RefundPending
		if amount == nil {
			if left <= 0 {
				return 0, publicError(payment.ErrAmountTooLarge, "nothing left to refund")
			}
			return left, nil
		}
		if *amount > left {
			return 0, publicError(payment.ErrAmountTooLarge, "refund of %d is above the %d left to refund", *amount, left)
		}
		return *amount, nil
	}
}

// callModify makes the processor call of a capture, void or refund attempt.
func (s *Service) callModify(ctx context.Context, rt *Runtime, prov providers.Provider, p store.Payment, att store.Attempt) callOutcome {
	cctx, cancel := s.attemptCtx(ctx, rt, att)
	defer cancel()
	req := providers.ModifyRequest{
		PaymentID: p.ID, IdempotencyKey: att.IdempotencyKey, Attempt: att.Seq, Reference: p.ProcessorReference,
		Amount: payment.Money{Amount: att.Amount, Currency: att.Currency},
	}
	op := providers.Operation(att.Operation)
	start := time.Now()
	var (
		res providers.Result
		err error
	)
	switch op {
	case providers.OpCapture:
		res, err = prov.Capture(cctx, req)
	case providers.OpVoid:
		res, err = prov.Void(cctx, req)
	case providers.OpRefund:
		res, err = prov.Refund(cctx, req)
	default:
		err = fmt.Errorf("gateway: unknown operation %q", op)
	}
	latency := time.Since(start)
	metrics.Observe(ctx, s.metrics.ProcessorDuration.WithLabelValues(prov.Name(), string(op), outcomeLabel(res, err)), latency.Seconds())
	return callOutcome{res: res, err: err, latency: latency}
}

// maxSettleRounds bounds how often a modification's settlement starts again
// because the payment changed between its read and its transaction (other
// refunds of the same payment settling at the same moment).
const maxSettleRounds = 100

// errStale: the payment changed since the settlement read it.
var errStale = errors.New("gateway: payment changed while settling")

// settleModification applies a modification's answer to the payment and
// stores the request's answer under its key. The answer is rendered from a
// read of the payment before the transaction; the transaction re-reads the
// payment and its attempts under lock and starts again if another request
// changed them in between, so the stored answer is exactly what committed.
func (s *Service) settleModification(ctx context.Context, idem Idempotency, att store.Attempt, out callOutcome) (Answer, error) {
	state := store.AttemptDone
	if out.err != nil {
		state = classify(out.err)
	}
	// A modification the processor accepted but will confirm later (Adyen's
	// "received") stays pending until a webhook or reconciliation settles it.
	if state == store.AttemptDone && out.res.Status == payment.StatusPending {
		state = store.AttemptPending
	}
	for round := 1; ; round++ {
		ans, err := s.settleModificationOnce(ctx, idem, att, state, out)
		if errors.Is(err, errStale) && round < maxSettleRounds {
			continue
		}
		return ans, err
	}
}

func (s *Service) settleModificationOnce(ctx context.Context, idem Idempotency, att store.Attempt, state store.AttemptState, out callOutcome) (Answer, error) {
	v, err := s.viewOf(ctx, att.PaymentID)
	if err != nil {
		return Answer{}, err
	}
	if cur, ok := findAttempt(v.Attempts, att.ID); !ok || cur.State != store.AttemptPending {
		// Reconciliation or a webhook settled it first.
		return s.finalAnswer(ctx, idem, v, cur)
	}
	now := s.now().UTC()
	before := v.Payment
	p := before
	ref := out.res.ModificationReference
	if ref == "" {
		ref = out.res.Reference
	}
	finishAttempt(&att, state, string(out.res.Status), ref, out.err, out.latency, now)
	changed := applyModification(&p, att, state, out.res)
	if changed {
		p.UpdatedAt = now
	}
	var refund *store.Refund
	if att.RefundID != "" && state != store.AttemptPending {
		for i := range v.Refunds {
			if r := &v.Refunds[i]; r.ID == att.RefundID {
				r.Status, r.Reference, r.UpdatedAt = store.RefundFailed, out.res.Reference, now
				if state == store.AttemptDone {
					r.Status = store.RefundSucceeded
				}
				refund = r
			}
		}
	}
	beforeAtts := v.Attempts
	v.Payment, v.Attempts = p, replaceAttempt(v.Attempts, att)
	ans, failure := modificationOutcome(v, att, out.err)
	if failure != nil && !errors.Is(failure, payment.ErrInvalidState) && !errors.Is(failure, payment.ErrNoProcessor) {
		return Answer{}, failure // the answer could not be encoded
	}
	evs := s.changeEvents(s.rt.Load(), before, v, refund)
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		locked, err := tx.GetPaymentForUpdate(ctx, p.ID)
		if err != nil {
			return err
		}
		atts, err := tx.ListAttempts(ctx, p.ID)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(locked, before) || !sameAttempts(atts, beforeAtts) {
			return errStale
		}
		if err := tx.UpdateAttempt(ctx, att); err != nil {
			return err
		}
		if refund != nil {
			if err := tx.UpdateRefund(ctx, *refund); err != nil {
				return err
			}
		}
		if changed {
			if err := tx.UpdatePayment(ctx, p); err != nil {
				return err
			}
		}
		if err := evs.write(ctx, tx); err != nil {
			return err
		}
		return storeAnswer(ctx, tx, idem, ans, state == store.AttemptNotProcessed, now)
	})
	if err != nil {
		return Answer{}, err
	}
	evs.committed()
	if state == store.AttemptDone && out.res.Fee != nil {
		s.metrics.Fees.WithLabelValues(p.Processor, out.res.Fee.Currency, "actual").Add(float64(out.res.Fee.Amount))
	}
	if failure != nil {
		return Answer{}, failure
	}
	return ans, nil
}

// modificationOutcome is the answer to a modification whose attempt is att
// in v: its answer, or the error that is its answer (a rejection, stored;
// nothing processed, a 503 that is not).
func modificationOutcome(v View, att store.Attempt, callErr error) (Answer, error) {
	switch att.State {
	case store.AttemptRejected:
		e := rejectedError(att)
		ans, err := jsonAnswer(e.Status, e)
		if err != nil {
			return Answer{}, err
		}
		return ans, e
	case store.AttemptNotProcessed:
		return Answer{}, publicError(fmt.Errorf("%w: %s", payment.ErrNoProcessor, errorText(callErr)),
			"the processor did not take the %s; nothing was changed, retry shortly", att.Operation)
	}
	return modificationAnswer(v, att)
}

// rejectedError is the answer to a modification the processor refused.
func rejectedError(att store.Attempt) *acp.Error {
	f, _ := formOf(payment.ErrInvalidState)
	return f.errorf(payment.ErrInvalidState, "the processor refused the %s: %s", att.Operation, att.Error)
}

// finalAnswer is the answer of a request whose attempt att someone else
// settled: rendered from v and stored under the key once final.
func (s *Service) finalAnswer(ctx context.Context, idem Idempotency, v View, att store.Attempt) (Answer, error) {
	ans, failure := modificationOutcome(v, att, errors.New("not processed"))
	if failure != nil && ans.Body == nil && att.State != store.AttemptNotProcessed {
		return Answer{}, failure
	}
	if !idem.none() {
		err := s.store.Tx(ctx, func(tx store.Tx) error {
			return storeAnswer(ctx, tx, idem, ans, att.State == store.AttemptNotProcessed, s.now().UTC())
		})
		if err != nil {
			return Answer{}, err
		}
	}
	if failure != nil {
		return Answer{}, failure
	}
	return ans, nil
}

func findAttempt(atts []store.Attempt, id string) (store.Attempt, bool) {
	for _, a := range atts {
		if a.ID == id {
			return a, true
		}
	}
	return store.Attempt{}, false
}

// replaceAttempt returns atts with att in place of the attempt of its id.
func replaceAttempt(atts []store.Attempt, att store.Attempt) []store.Attempt {
	out := make([]store.Attempt, len(atts))
	copy(out, atts)
	for i := range out {
		if out[i].ID == att.ID {
			out[i] = att
		}
	}
	return out
}

// sameAttempts reports whether two reads of a payment's attempts show the
// same attempts in the same states (leases aside: a reconciler's lease
// changes nothing a settlement writes).
func sameAttempts(a, b []store.Attempt) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].State != b[i].State || a[i].Outcome != b[i].Outcome {
			return false
		}
	}
	return true
}

// applyModification writes a settled modification onto p and reports
// whether p changed.
func applyModification(p *store.Payment, att store.Attempt, state store.AttemptState, res providers.Result) bool {
	op := providers.Operation(att.Operation)
	if op == providers.OpRefund {
		if state == store.AttemptPending {
			return false
		}
		p.RefundPending -= att.Amount
		if state == store.AttemptDone {
			p.RefundedAmount += att.Amount
			if p.RefundedAmount >= p.CapturedAmount {
				p.Status = payment.StatusRefunded
			} else {
				p.Status = payment.StatusPartiallyRefunded
			}
		}
		return true
	}
	if state != store.AttemptDone {
		return false
	}
	switch op {
	case providers.OpCapture:
		p.Status = payment.StatusCaptured
		p.CapturedAmount = att.Amount
		if res.Fee != nil {
			fee := res.Fee.Amount
			p.FeeActual = &fee
			p.FeeCurrency = res.Fee.Currency
		}
	case providers.OpVoid:
		p.Status = payment.StatusVoided
	}
	return true
}
