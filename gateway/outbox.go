package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"acpgw/acp"
	"acpgw/events"
	"acpgw/payment"
	"acpgw/store"
	"acpgw/vault"
)

// Merchant events (package events has the contract). Every change of a
// payment that a merchant subscribes to is written to the outbox in the
// transaction that makes the change, so that a crash at any moment loses
// no event and invents none; package outbox delivers them.
//
// Each write path does the same three things, with one call each:
//
//   - before its transaction, it renders the events of the change from the
//     payment as the transaction will commit it (nothing is rendered inside
//     a write transaction);
//   - inside, after the payment's row is locked or written, it inserts
//     them (batch.write);
//   - after the commit, it counts them and wakes the delivery workers
//     (batch.committed).

// EventAPIVersion is the api_version of every event body: data.payment is
// the payment object as this version of the API renders it.
const EventAPIVersion = acp.Version20260417

// batch is the rendered events of one transaction. A nil *batch has no
// events; its methods do nothing.
type batch struct {
	s   *Service
	evs []store.OutboxEvent
	// err is a rendering failure, returned by write so that the
	// transaction does not commit a change without its events.
	err error
}

// write inserts the batch's events in tx. The caller has locked the
// payment (GetPaymentForUpdate) or written it (UpdatePayment) earlier in
// tx, which orders a payment's events as their transactions commit.
func (b *batch) write(ctx context.Context, tx store.Tx) error {
	if b == nil {
		return nil
	}
	if b.err != nil {
		return b.err
	}
	for _, e := range b.evs {
		if err := tx.InsertOutboxEvent(ctx, e); err != nil {
			return err
		}
	}
	return nil
}

// committed counts the events and wakes the delivery workers, once the
// transaction that wrote them committed.
func (b *batch) committed() {
	if b == nil || len(b.evs) == 0 {
		return
	}
	for _, e := range b.evs {
		b.s.metrics.EventsCreated.WithLabelValues(e.Type).Inc()
	}
	if b.s.onEvents != nil {
		b.s.onEvents()
	}
}

// settlementEvents renders the events of a payment's settlement (the
// payment's own answer, or reconciliation's). A payment settled by its own
// request is new to the merchant: its answer is the first thing the
// merchant hears of it. One that reconciliation settles was answered
// pending.
func (s *Service) settlementEvents(rt *Runtime, pl *payPlan, after View) *batch {
	var before store.Payment
	if pl.resolving {
		before.Status = payment.StatusPending
	}
	return s.changeEvents(rt, before, after, nil)
}

// changeEvents renders the events that a change of a payment announces:
// from before (what the merchant may know of it) to after (the payment as
// the transaction will commit it, with its attempts and refunds). refund
// is the refund the change settled, if any. Only the types the merchant's
// events config subscribes to are rendered; nothing without one.
func (s *Service) changeEvents(rt *Runtime, before store.Payment, after View, refund *store.Refund) *batch {
	m, ok := rt.Merchant(after.Payment.MerchantID)
	if !ok || m.Events == nil {
		return nil
	}
	var types []string
	for _, t := range eventTypes(before, after.Payment, refund) {
		if m.Events.Wants(t) {
			types = append(types, t)
		}
	}
	if len(types) == 0 {
		return nil
	}
	b := &batch{s: s}
	pay, err := json.Marshal(after.Object())
	if err != nil {
		b.err = fmt.Errorf("gateway: render event: %w", err)
		return b
	}
	var ref json.RawMessage
	if refund != nil {
		if ref, err = json.Marshal(refundObject(*refund)); err != nil {
			b.err = fmt.Errorf("gateway: render event: %w", err)
			return b
		}
	}
	now := s.now().UTC()
	for _, t := range types {
		body := events.Body{
			ID: vault.NewID("evt_"), Object: "event", Type: t, Created: now.Format(time.RFC3339),
			APIVersion: EventAPIVersion, Data: events.Data{Payment: pay},
		}
		if t == events.RefundSucceeded || t == events.RefundFailed {
			body.Data.Refund = ref
		}
		raw, err := json.Marshal(body)
		if err != nil {
			b.err = fmt.Errorf("gateway: render event: %w", err)
			return b
		}
		b.evs = append(b.evs, store.OutboxEvent{
			ID: body.ID, MerchantID: after.Payment.MerchantID, PaymentID: after.Payment.ID, Type: t, Body: raw,
			CreatedAt: now, State: store.OutboxPending, Since: now, NextAttemptAt: now,
		})
	}
	return b
}

// eventTypes lists, in the order they are written, the event types of a
// change of a payment from before to after that settled refund (nil when
// none).
func eventTypes(before, after store.Payment, refund *store.Refund) []string {
	var out []string
	if before.Status != after.Status {
		if before.Status == payment.StatusPending {
			out = append(out, events.PaymentPendingResolved)
		}
		switch after.Status {
		case payment.StatusAuthorized:
			out = append(out, events.PaymentAuthorized)
		case payment.StatusCaptured:
			out = append(out, events.PaymentCaptured)
		case payment.StatusDeclined:
			out = append(out, events.PaymentDeclined)
		case payment.StatusFailed:
			out = append(out, events.PaymentFailed)
		case payment.StatusVoided:
			out = append(out, events.PaymentVoided)
		}
	}
	if refund != nil {
		switch refund.Status {
		case store.RefundSucceeded:
			out = append(out, events.RefundSucceeded)
		case store.RefundFailed:
			out = append(out, events.RefundFailed)
		}
	}
	if f := after.FeeActual; f != nil && (before.FeeActual == nil || *before.FeeActual != *f || before.FeeCurrency != after.FeeCurrency) {
		out = append(out, events.PaymentFeeSettled)
	}
	if d := after.Dispute; d != nil && (before.Dispute == nil || before.Dispute.Reference != d.Reference ||
		before.Dispute.ProcessorEvent != d.ProcessorEvent) {
		out = append(out, events.PaymentDisputed)
	}
	return out
}
