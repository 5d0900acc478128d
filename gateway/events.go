package gateway

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"slices"
	"time"

	"acpgw/acp"
	"acpgw/payment"
	"acpgw/providers"
	"acpgw/store"
	"acpgw/vault"
)

// Event results, stored with each event.
const (
	eventApplied        = "applied"
	eventUnknownPayment = "unknown_payment"
	eventNoChange       = "no_change"
)

// ApplyEvents stores and applies a processor's verified webhook events. Each
// event is stored once (a redelivery changes nothing) in the same
// transaction as its effect on the payment and the merchant events that
// effect announces. Events about payments acpgw does not know are stored
// and acknowledged. An error means the delivery should be retried by the
// processor.
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
	for round := 1; ; round++ {
		err := s.applyEventOnce(ctx, rt, processor, ev, paymentID)
		if errors.Is(err, errStale) && round < maxSettleRounds {
			continue
		}
		return err
	}
}

// applyEventOnce applies ev the way settleModification settles: the
// change is worked out, and its merchant events rendered, from a read of
// the payment; the transaction re-reads the payment and its attempts under
// lock and starts again (errStale) if another writer changed them in
// between, so what commits is exactly what was rendered.
func (s *Service) applyEventOnce(ctx context.Context, rt *Runtime, processor string, ev providers.Event, paymentID string) error {
	now := s.now().UTC()
	rec := store.ProcessorEvent{
		Processor: processor, EventID: ev.ID, Type: ev.Type, Kind: string(ev.Kind), Reference: ev.Reference,
		PaymentID: paymentID, Raw: ev.Raw, ReceivedAt: now, Result: eventUnknownPayment,
	}
	var (
		before, after View
		ch            eventChange
		evs           *batch
		known         bool
	)
	if paymentID != "" {
		v, err := s.viewOf(ctx, paymentID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			// A payment id in metadata that is not ours: store only.
		case err != nil:
			return err
		case v.Payment.Processor != processor:
			// Another processor's payment: never let one processor's events
			// move another's payments.
		default:
			known = true
			before = v
			after = View{Payment: v.Payment, Attempts: slices.Clone(v.Attempts), Refunds: slices.Clone(v.Refunds)}
			ch = applyToView(&after, ev, now)
			if ch.changed() && before.Payment.Status == payment.StatusPending && after.Payment.Status == payment.StatusDeclined {
				// The token rules of a declined payment (retry.go), which
				// may make the decline non-retryable: before rendering.
				if ch.token, err = s.tokenAfterDecline(ctx, rt, &after.Payment); err != nil {
					return err
				}
			}
			rec.Result = eventNoChange
			if ch.changed() {
				rec.Result = eventApplied
				evs = s.changeEvents(rt, before.Payment, after, ch.refund)
			}
		}
	}
	err := s.store.Tx(ctx, func(tx store.Tx) error {
		if known {
			locked, err := tx.GetPaymentForUpdate(ctx, paymentID)
			if err != nil {
				return err
			}
			atts, err := tx.ListAttempts(ctx, paymentID)
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(locked, before.Payment) || !sameAttempts(atts, before.Attempts) {
				return errStale
			}
			if err := ch.token.apply(ctx, tx, after.Payment); err != nil {
				return err
			}
			if err := ch.write(ctx, tx, after.Payment); err != nil {
				return err
			}
			if err := evs.write(ctx, tx); err != nil {
				return err
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
	evs.committed()
	if ch.changed() && before.Payment.Status == payment.StatusPending && after.Payment.Status != payment.StatusPending {
		s.cryptograms.forget(paymentID)
	}
	if ch.fee != nil {
		s.metrics.Fees.WithLabelValues(processor, ch.fee.Currency, "actual").Add(float64(ch.fee.Amount))
	}
	level := slog.LevelInfo
	if ev.Kind == providers.EventDisputed {
		level = slog.LevelWarn
	}
	s.log.LogAttrs(ctx, level, "processor event",
		slog.String("processor", processor), slog.String("event_id", ev.ID), slog.String("type", ev.Type),
		slog.String("kind", string(ev.Kind)), slog.String("payment_id", paymentID), slog.String("result", rec.Result),
		slog.String("status", string(after.Payment.Status)))
	return nil
}

// eventChange is what a processor event changes: the writes of its
// transaction.
type eventChange struct {
	// payment: the payment changed and is written.
	payment bool
	// attempts settled, refunds updated and refunds recorded (made outside
	// acpgw).
	attempts   []store.Attempt
	refunds    []store.Refund
	newRefunds []store.Refund
	// eraseCVC: the attempt that used the CVC has its answer now.
	eraseCVC bool
	// refund is the refund the event settled or recorded, for its merchant
	// event.
	refund *store.Refund
	// fee is an actual fee newly learnt.
	fee *payment.Money
	// token is what the decline of a pending payment does to the token the
	// payment holds; nil when nothing.
	token *tokenChange
}

// applyToView changes v (a read of the payment with its attempts and
// refunds) as ev says, settling the pending attempt the event answers, and
// returns the writes that make the change. It does no I/O.
func applyToView(v *View, ev providers.Event, now time.Time) eventChange {
	var ch eventChange
	p := &v.Payment
	pendingOf := func(op providers.Operation) *store.Attempt {
		for i := len(v.Attempts) - 1; i >= 0; i-- {
			a := &v.Attempts[i]
			if a.State != store.AttemptPending || a.Operation != string(op) {
				continue
			}
			if ev.ModificationReference == "" || a.Reference == "" || a.Reference == ev.ModificationReference {
				return a
			}
		}
		return nil
	}
	settle := func(a *store.Attempt, state store.AttemptState, outcome string) {
		if a == nil {
			return
		}
		finishAttempt(a, state, outcome, ev.ModificationReference, nil, 0, now)
		a.LatencyMS = now.Sub(a.StartedAt).Milliseconds()
		a.Error = ""
		ch.attempts = append(ch.attempts, *a)
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
			settle(pendingOf(providers.OpAuthorize), store.AttemptDone, string(p.Status))
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
			settle(a, store.AttemptDone, string(payment.StatusCaptured))
			settle(pendingOf(providers.OpAuthorize), store.AttemptDone, string(payment.StatusCaptured))
		}
	case providers.EventCaptureFailed:
		if a := pendingOf(providers.OpCapture); a != nil {
			changed = true
			settle(a, store.AttemptRejected, "capture_failed")
		}
	case providers.EventVoided:
		if p.Status == payment.StatusPending || p.Status == payment.StatusAuthorized {
			p.Status = payment.StatusVoided
			changed = true
			settle(pendingOf(providers.OpVoid), store.AttemptDone, string(payment.StatusVoided))
			settle(pendingOf(providers.OpAuthorize), store.AttemptDone, string(payment.StatusVoided))
		}
	case providers.EventRefunded, providers.EventRefundFailed:
		changed = applyRefundToView(v, ev, pendingOf(providers.OpRefund), settle, now, &ch)
	case providers.EventDeclined, providers.EventFailed:
		if p.Status == payment.StatusPending {
			p.Status = payment.StatusFailed
			if ev.Kind == providers.EventDeclined {
				p.Status = payment.StatusDeclined
				p.Decline = ev.Decline
			}
			changed = true
			settle(pendingOf(providers.OpAuthorize), store.AttemptDone, string(p.Status))
		}
	case providers.EventDisputed:
		d := disputeOf(ev, now)
		if p.Dispute == nil || p.Dispute.Reference != d.Reference || p.Dispute.ProcessorEvent != d.ProcessorEvent {
			p.Dispute = d
			changed = true
		}
	}
	if ev.Fee != nil && ev.Fee.Currency != "" && (p.FeeActual == nil || *p.FeeActual != ev.Fee.Amount) {
		amount := ev.Fee.Amount
		p.FeeActual, p.FeeCurrency = &amount, ev.Fee.Currency
		ch.fee = ev.Fee
		changed = true
	}
	if !changed {
		return eventChange{}
	}
	ch.payment = true
	ch.eraseCVC = was == payment.StatusPending && p.Status != payment.StatusPending && p.TokenKind == string(acp.TokenVault)
	p.UpdatedAt = now
	return ch
}

// disputeOf is the dispute a processor's dispute or chargeback event
// reports.
func disputeOf(ev providers.Event, now time.Time) *store.Dispute {
	d := &store.Dispute{Reference: ev.ModificationReference, Reason: ev.Reason, ProcessorEvent: ev.Type, ReportedAt: now}
	if d.Reference == "" {
		d.Reference = ev.ID
	}
	if ev.Amount != nil {
		d.Amount, d.Currency = ev.Amount.Amount, ev.Amount.Currency
	}
	if !ev.OccurredAt.IsZero() {
		d.ReportedAt = ev.OccurredAt.UTC()
	}
	return d
}

// applyRefundToView settles a refund the gateway sent (matched by the
// modification reference) or, for a refund made outside acpgw (the
// processor's dashboard), records it against the payment, as a refund of
// its own, so acpgw's view stays true. A refund event about a refund acpgw
// already settled (its reference is known) changes nothing. It reports
// whether v changed.
func applyRefundToView(v *View, ev providers.Event, a *store.Attempt, settle func(*store.Attempt, store.AttemptState, string),
	now time.Time, ch *eventChange) bool {
	p := &v.Payment
	failed := ev.Kind == providers.EventRefundFailed
	if a != nil {
		state, outcome := store.AttemptDone, string(payment.StatusRefunded)
		if failed {
			state, outcome = store.AttemptRejected, "refund_failed"
		}
		settle(a, state, outcome)
		applyModification(p, *a, state, providers.Result{})
		for i := range v.Refunds {
			if r := &v.Refunds[i]; r.ID == a.RefundID {
				r.Status, r.Reference, r.UpdatedAt = store.RefundSucceeded, ev.ModificationReference, now
				if failed {
					r.Status = store.RefundFailed
				}
				ch.refunds = append(ch.refunds, *r)
				ch.refund = &ch.refunds[len(ch.refunds)-1]
			}
		}
		return true
	}
	if failed || ev.Amount == nil || (p.Status != payment.StatusCaptured && p.Status != payment.StatusPartiallyRefunded) {
		return false
	}
	if ref := ev.ModificationReference; ref != "" && knownReference(*v, ref) {
		return false
	}
	left := p.CapturedAmount - p.RefundedAmount - p.RefundPending
	amount := min(ev.Amount.Amount, left)
	if amount <= 0 {
		return false
	}
	p.RefundedAmount += amount
	p.Status = payment.StatusPartiallyRefunded
	if p.RefundedAmount >= p.CapturedAmount {
		p.Status = payment.StatusRefunded
	}
	r := store.Refund{ID: vault.NewID("re_"), PaymentID: p.ID, Amount: amount, Currency: p.Currency,
		Status: store.RefundSucceeded, Reference: ev.ModificationReference, CreatedAt: now, UpdatedAt: now}
	v.Refunds = append(v.Refunds, r)
	ch.newRefunds = append(ch.newRefunds, r)
	ch.refund = &ch.newRefunds[len(ch.newRefunds)-1]
	return true
}

// knownReference reports whether ref is the reference of one of v's
// attempts or refunds: a refund acpgw made and already settled.
func knownReference(v View, ref string) bool {
	for _, a := range v.Attempts {
		if a.Reference == ref {
			return true
		}
	}
	for _, r := range v.Refunds {
		if r.Reference == ref {
			return true
		}
	}
	return false
}
