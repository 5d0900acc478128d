package gateway

import (
	"context"
	"errors"
	"fmt"
	"time"

	"acpgw/payment"
	"acpgw/providers"
	"acpgw/store"
	"acpgw/vault"
)

// Capture captures an authorized payment, fully or partly (amount nil means
// the authorized amount). A partial capture releases the rest.
func (s *Service) Capture(ctx context.Context, merchantID, id string, amount *int64) (View, error) {
	return s.modify(ctx, merchantID, id, providers.OpCapture, amount)
}

// Void cancels an uncaptured authorization.
func (s *Service) Void(ctx context.Context, merchantID, id string) (View, error) {
	return s.modify(ctx, merchantID, id, providers.OpVoid, nil)
}

// Refund refunds a captured payment, fully or partly (amount nil means what
// remains refundable). Refunds add up to at most the captured amount.
func (s *Service) Refund(ctx context.Context, merchantID, id string, amount *int64) (View, error) {
	return s.modify(ctx, merchantID, id, providers.OpRefund, amount)
}

// modify reserves the operation and records its attempt in one transaction
// (so concurrent captures or refunds cannot both pass the amount checks),
// calls the processor, then settles.
func (s *Service) modify(ctx context.Context, merchantID, id string, op providers.Operation, amount *int64) (View, error) {
	rt := s.rt.Load()
	var (
		p   store.Payment
		att store.Attempt
		ref store.Refund
	)
	err := s.store.Tx(ctx, func(tx store.Tx) error {
		var err error
		if p, err = tx.GetPaymentForUpdate(ctx, id); err != nil {
			return err
		}
		if p.MerchantID != merchantID {
			return fmt.Errorf("payment %s: %w", id, payment.ErrNotFound)
		}
		atts, err := tx.ListAttempts(ctx, id)
		if err != nil {
			return err
		}
		amt, err := checkModification(p, atts, op, amount)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		seq := len(atts) + 1
		att = store.Attempt{
			ID: vault.NewID("att_"), PaymentID: p.ID, Seq: seq, Processor: p.Processor,
			Operation: string(op), IdempotencyKey: attemptKey(p.ID, seq),
			Amount: amt, Currency: p.Currency, State: store.AttemptPending, StartedAt: now,
		}
		if op == providers.OpRefund {
			ref = store.Refund{ID: vault.NewID("re_"), PaymentID: p.ID, Amount: amt, Currency: p.Currency,
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
		if err := tx.InsertAttempt(ctx, att); err != nil {
			return err
		}
		resource := p.ID
		if op == providers.OpRefund {
			resource = ref.ID
		}
		return link(ctx, tx, resource)
	})
	if err != nil {
		return View{}, err
	}
	markLinked(ctx)
	prov, ok := rt.Providers.Get(p.Processor)
	if !ok {
		// The processor was removed from config while the payment lived; the
		// attempt stays pending until it is configured again.
		return View{}, fmt.Errorf("%w: processor %q is no longer configured", payment.ErrNoProcessor, p.Processor)
	}
	res, callErr, latency := s.callModify(ctx, rt, prov, p, att)
	return s.settleModification(ctx, rt, p.ID, att, res, callErr, latency)
}

// checkModification checks op against the payment and its attempts and
// returns the amount to send.
func checkModification(p store.Payment, atts []store.Attempt, op providers.Operation, amount *int64) (int64, error) {
	for _, a := range atts {
		if a.State == store.AttemptPending && a.Operation != string(providers.OpRefund) {
			return 0, fmt.Errorf("%w: a %s of this payment is still pending", payment.ErrConflict, a.Operation)
		}
	}
	if amount != nil && *amount <= 0 {
		return 0, fmt.Errorf("%w: amount must be positive", payment.ErrInvalidAmount)
	}
	switch op {
	case providers.OpCapture:
		if p.Status != payment.StatusAuthorized {
			return 0, fmt.Errorf("%w: cannot capture a %s payment", payment.ErrInvalidState, p.Status)
		}
		if amount == nil {
			return p.Amount, nil
		}
		if *amount > p.Amount {
			return 0, fmt.Errorf("%w: capture of %d is above the authorized %d", payment.ErrAmountTooLarge, *amount, p.Amount)
		}
		return *amount, nil
	case providers.OpVoid:
		if p.Status != payment.StatusAuthorized {
			return 0, fmt.Errorf("%w: cannot void a %s payment", payment.ErrInvalidState, p.Status)
		}
		return p.Amount, nil
	default:
		if p.Status != payment.StatusCaptured && p.Status != payment.StatusPartiallyRefunded {
			return 0, fmt.Errorf("%w: cannot refund a %s payment", payment.ErrInvalidState, p.Status)
		}
		left := p.CapturedAmount - p.RefundedAmount - p.RefundPending
		if amount == nil {
			if left <= 0 {
				return 0, fmt.Errorf("%w: nothing left to refund", payment.ErrAmountTooLarge)
			}
			return left, nil
		}
		if *amount > left {
			return 0, fmt.Errorf("%w: refund of %d is above the %d left to refund", payment.ErrAmountTooLarge, *amount, left)
		}
		return *amount, nil
	}
}

func (s *Service) callModify(ctx context.Context, rt *Runtime, prov providers.Provider, p store.Payment, att store.Attempt) (providers.Result, error, time.Duration) {
	cctx, cancel := callCtx(ctx, rt.timeout(prov.Name()))
	defer cancel()
	req := providers.ModifyRequest{
		PaymentID: p.ID, IdempotencyKey: att.IdempotencyKey, Reference: p.ProcessorReference,
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
	s.metrics.ProcessorDuration.WithLabelValues(prov.Name(), string(op), outcomeLabel(res, err)).Observe(latency.Seconds())
	return res, err, latency
}

// settleModification applies a modification's answer to the payment in one
// transaction, re-reading the payment under lock (refunds may settle
// concurrently).
func (s *Service) settleModification(ctx context.Context, rt *Runtime, paymentID string, att store.Attempt, res providers.Result, callErr error, latency time.Duration) (View, error) {
	now := s.now().UTC()
	state := store.AttemptDone
	if callErr != nil {
		state = classify(callErr)
	}
	// A modification the processor accepted but will confirm later (Adyen's
	// "received") stays pending until a webhook or reconciliation settles it.
	if state == store.AttemptDone && res.Status == payment.StatusPending {
		state = store.AttemptPending
	}
	var p store.Payment
	err := s.store.Tx(ctx, func(tx store.Tx) error {
		var err error
		if p, err = tx.GetPaymentForUpdate(ctx, paymentID); err != nil {
			return err
		}
		if _, err := stillPending(ctx, tx, att); err != nil {
			return err
		}
		ref := res.ModificationReference
		if ref == "" {
			ref = res.Reference
		}
		finishAttempt(&att, state, string(res.Status), ref, callErr, latency, now)
		if err := tx.UpdateAttempt(ctx, att); err != nil {
			return err
		}
		changed := applyModification(&p, att, state, res)
		if op := providers.Operation(att.Operation); op == providers.OpRefund && state != store.AttemptPending {
			refs, err := tx.ListRefunds(ctx, p.ID)
			if err != nil {
				return err
			}
			for _, r := range refs {
				if r.ID == att.RefundID {
					r.Status, r.Reference, r.UpdatedAt = store.RefundFailed, res.Reference, now
					if state == store.AttemptDone {
						r.Status = store.RefundSucceeded
					}
					if err := tx.UpdateRefund(ctx, r); err != nil {
						return err
					}
				}
			}
		}
		if !changed {
			return nil
		}
		p.UpdatedAt = now
		return tx.UpdatePayment(ctx, p)
	})
	if errors.Is(err, errSettled) {
		return s.Get(ctx, p.MerchantID, paymentID)
	}
	if err != nil {
		return View{}, err
	}
	if state == store.AttemptDone && res.Fee != nil {
		s.metrics.Fees.WithLabelValues(p.Processor, res.Fee.Currency, "actual").Add(float64(res.Fee.Amount))
	}
	switch state {
	case store.AttemptRejected:
		return View{}, fmt.Errorf("%w: the processor refused the %s: %s", payment.ErrInvalidState, att.Operation, errorText(callErr))
	case store.AttemptNotProcessed:
		return View{}, fmt.Errorf("%w: %s", payment.ErrNoProcessor, errorText(callErr))
	}
	return s.view(ctx, p)
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
