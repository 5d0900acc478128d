package gateway

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"acpgw/payment"
	"acpgw/providers"
	"acpgw/store"
)

// Event results, stored with each event.
const (
	eventApplied        = "applied"
	eventUnknownPayment = "unknown_payment"
	eventNoChange       = "no_change"
)

// ApplyEvents stores and applies a processor's verified webhook events. Each
// event is stored once (a redelivery changes nothing) in the same
// transaction as its effect on the payment. Events about payments acpgw does
// not know are stored and acknowledged. An error means the delivery should
// be retried by the processor.
func (s *Service) ApplyEvents(ctx context.Context, processor string, events []providers.Event) error {
	rt, release := s.acquire()
	defer release()
	for _, ev := range events {
		if err := s.applyEvent(ctx, rt, processor, ev); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) applyEvent(ctx context.Context, rt *Runtime, processor string, ev providers.Event) error {
	paymentID := ev.PaymentID
	if paymentID == "" {
		for _, ref := range []string{ev.Reference, ev.ModificationReference} {
			if p, err := s.store.FindPaymentByReference(ctx, processor, ref); err == nil {
				paymentID = p.ID
				break
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
	}
	if ev.Kind == providers.EventCaptured && ev.Fee == nil && paymentID != "" {
		// Stripe's events do not expand the balance transaction: read the
		// fee back. A failure only leaves the actual fee unknown for now.
		if prov, ok := rt.Providers.Get(processor); ok {
			if sr, ok := prov.(providers.StatusReader); ok {
				cctx, cancel := callCtx(ctx, rt.timeout(processor))
				if res, err := sr.Status(cctx, ev.Reference); err == nil && res.Fee != nil {
					ev.Fee = res.Fee
				}
				cancel()
			}
		}
	}
	now := s.now().UTC()
	rec := store.ProcessorEvent{
		Processor: processor, EventID: ev.ID, Type: ev.Type, Kind: string(ev.Kind), Reference: ev.Reference,
		PaymentID: paymentID, Raw: ev.Raw, ReceivedAt: now,
	}
	var (
		p       store.Payment
		changed bool
		feeAdd  *payment.Money
	)
	err := s.store.Tx(ctx, func(tx store.Tx) error {
		rec.Result = eventUnknownPayment
		if paymentID != "" {
			var err error
			p, err = tx.GetPaymentForUpdate(ctx, paymentID)
			switch {
			case errors.Is(err, store.ErrNotFound):
				// A payment id in metadata that is not ours: store only.
			case err != nil:
				return err
			default:
				if p.Processor != processor {
					// Another processor's payment: never let one processor's
					// events move another's payments.
					break
				}
				if changed, feeAdd, err = s.applyToPayment(ctx, tx, &p, ev, now); err != nil {
					return err
				}
				rec.Result = eventNoChange
				if changed {
					rec.Result = eventApplied
				}
			}
		}
		return tx.InsertEvent(ctx, rec)
	})
	if errors.Is(err, store.ErrDuplicate) {
		// Seen before: it was applied then.
		return nil
	}
	if err != nil {
		return err
	}
	if feeAdd != nil {
		s.metrics.Fees.WithLabelValues(processor, feeAdd.Currency, "actual").Add(float64(feeAdd.Amount))
	}
	level := slog.LevelInfo
	if ev.Kind == providers.EventDisputed {
		level = slog.LevelWarn
	}
	s.log.LogAttrs(ctx, level, "processor event",
		slog.String("processor", processor), slog.String("event_id", ev.ID), slog.String("type", ev.Type),
		slog.String("kind", string(ev.Kind)), slog.String("payment_id", paymentID), slog.String("result", rec.Result),
		slog.String("status", string(p.Status)))
	return nil
}

// applyToPayment changes p (locked in tx) as ev says, settling the pending
// attempt the event answers. It reports whether anything changed and the
// actual fee newly learnt, if any.
func (s *Service) applyToPayment(ctx context.Context, tx store.Tx, p *store.Payment, ev providers.Event, now time.Time) (bool, *payment.Money, error) {
	atts, err := tx.ListAttempts(ctx, p.ID)
	if err != nil {
		return false, nil, err
	}
	pendingOf := func(op providers.Operation) *store.Attempt {
		for i := len(atts) - 1; i >= 0; i-- {
			a := &atts[i]
			if a.State != store.AttemptPending || a.Operation != string(op) {
				continue
			}
			if ev.ModificationReference == "" || a.Reference == "" || a.Reference == ev.ModificationReference {
				return a
			}
		}
		return nil
	}
	settle := func(a *store.Attempt, state store.AttemptState, outcome string) error {
		if a == nil {
			return nil
		}
		finishAttempt(a, state, outcome, ev.ModificationReference, nil, 0, now)
		a.LatencyMS = now.Sub(a.StartedAt).Milliseconds()
		a.Error = ""
		return tx.UpdateAttempt(ctx, *a)
	}
	was := p.Status
	changed := false
	switch ev.Kind {
	case providers.EventAuthorized, providers.EventAuthorizedHold:
		if p.Status == payment.StatusPending {
			p.Status = payment.StatusAuthorized
			if p.Capture == payment.CaptureAutomatic && ev.Kind == providers.EventAuthorized {
				p.Status = payment.StatusCaptured
				p.CapturedAmount = p.Amount
			}
			changed = true
			if err := settle(pendingOf(providers.OpAuthorize), store.AttemptDone, string(p.Status)); err != nil {
				return false, nil, err
			}
		}
	case providers.EventCaptured:
		if p.Status == payment.StatusPending || p.Status == payment.StatusAuthorized {
			a := pendingOf(providers.OpCapture)
			amount := p.Amount
			if a != nil {
				amount = a.Amount
			}
			if ev.Amount != nil && ev.Amount.Amount > 0 && ev.Amount.Amount <= p.Amount {
				amount = ev.Amount.Amount
			}
			p.Status, p.CapturedAmount = payment.StatusCaptured, amount
			changed = true
			if err := settle(a, store.AttemptDone, string(payment.StatusCaptured)); err != nil {
				return false, nil, err
			}
			if err := settle(pendingOf(providers.OpAuthorize), store.AttemptDone, string(payment.StatusCaptured)); err != nil {
				return false, nil, err
			}
		}
	case providers.EventCaptureFailed:
		if a := pendingOf(providers.OpCapture); a != nil {
			changed = true
			if err := settle(a, store.AttemptRejected, "capture_failed"); err != nil {
				return false, nil, err
			}
		}
	case providers.EventVoided:
		if p.Status == payment.StatusPending || p.Status == payment.StatusAuthorized {
			p.Status = payment.StatusVoided
			changed = true
			if err := settle(pendingOf(providers.OpVoid), store.AttemptDone, string(payment.StatusVoided)); err != nil {
				return false, nil, err
			}
			if err := settle(pendingOf(providers.OpAuthorize), store.AttemptDone, string(payment.StatusVoided)); err != nil {
				return false, nil, err
			}
		}
	case providers.EventRefunded, providers.EventRefundFailed:
		ok, err := s.applyRefundEvent(ctx, tx, p, ev, pendingOf(providers.OpRefund), settle, now)
		if err != nil {
			return false, nil, err
		}
		changed = ok
	case providers.EventDeclined, providers.EventFailed:
		if p.Status == payment.StatusPending {
			p.Status = payment.StatusFailed
			if ev.Kind == providers.EventDeclined {
				p.Status = payment.StatusDeclined
				p.Decline = ev.Decline
			}
			changed = true
			if err := settle(pendingOf(providers.OpAuthorize), store.AttemptDone, string(p.Status)); err != nil {
				return false, nil, err
			}
		}
	}
	var fee *payment.Money
	if ev.Fee != nil && ev.Fee.Currency != "" && (p.FeeActual == nil || *p.FeeActual != ev.Fee.Amount) {
		amount := ev.Fee.Amount
		p.FeeActual, p.FeeCurrency = &amount, ev.Fee.Currency
		fee = ev.Fee
		changed = true
	}
	if !changed {
		return false, nil, nil
	}
	if was == payment.StatusPending && p.Status != payment.StatusPending && p.TokenKind == "vault" {
		// The attempt that used the CVC has its answer now.
		if err := tx.DeleteTokenCVC(ctx, p.TokenID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return false, nil, err
		}
	}
	if was == payment.StatusPending && p.Status == payment.StatusDeclined {
		if err := s.reopenAfterEvent(ctx, tx, p); err != nil {
			return false, nil, err
		}
	}
	if was == payment.StatusPending && p.Status != payment.StatusPending {
		s.cryptograms.forget(p.ID)
	}
	p.UpdatedAt = now
	return true, fee, tx.UpdatePayment(ctx, *p)
}

// applyRefundEvent settles a refund the gateway sent (matched by the
// modification reference) or, for a refund made outside acpgw (the
// processor's dashboard), records it against the payment so acpgw's view
// stays true.
func (s *Service) applyRefundEvent(ctx context.Context, tx store.Tx, p *store.Payment, ev providers.Event, a *store.Attempt,
	settle func(*store.Attempt, store.AttemptState, string) error, now time.Time) (bool, error) {
	failed := ev.Kind == providers.EventRefundFailed
	if a != nil {
		state, outcome := store.AttemptDone, string(payment.StatusRefunded)
		if failed {
			state, outcome = store.AttemptRejected, "refund_failed"
		}
		if err := settle(a, state, outcome); err != nil {
			return false, err
		}
		applyModification(p, *a, state, providers.Result{})
		refs, err := tx.ListRefunds(ctx, p.ID)
		if err != nil {
			return false, err
		}
		for _, r := range refs {
			if r.ID == a.RefundID {
				r.Status, r.Reference, r.UpdatedAt = store.RefundSucceeded, ev.ModificationReference, now
				if failed {
					r.Status = store.RefundFailed
				}
				if err := tx.UpdateRefund(ctx, r); err != nil {
					return false, err
				}
			}
		}
		return true, nil
	}
	if failed || ev.Amount == nil || (p.Status != payment.StatusCaptured && p.Status != payment.StatusPartiallyRefunded) {
		return false, nil
	}
	left := p.CapturedAmount - p.RefundedAmount - p.RefundPending
	amount := min(ev.Amount.Amount, left)
	if amount <= 0 {
		return false, nil
	}
	p.RefundedAmount += amount
	p.Status = payment.StatusPartiallyRefunded
	if p.RefundedAmount >= p.CapturedAmount {
		p.Status = payment.StatusRefunded
	}
	return true, nil
}
