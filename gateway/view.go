package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"time"

	"acpgw/payment"
	"acpgw/store"
)

// The statuses of the service's answers.
const (
	statusOK       = http.StatusOK
	statusCreated  = http.StatusCreated
	statusAccepted = http.StatusAccepted
)

// View is a payment with its attempts and refunds, as the service read or
// wrote it.
type View struct {
	Payment  store.Payment
	Attempts []store.Attempt
	Refunds  []store.Refund
}

// PaymentObject is the payment object of the HTTP contract, which every
// payment answer and GET /v1/payments/{id} send.
type PaymentObject struct {
	ID                 string            `json:"id"`
	Object             string            `json:"object"`
	Status             payment.Status    `json:"status"`
	MerchantID         string            `json:"merchant_id"`
	CheckoutSessionID  string            `json:"checkout_session_id"`
	Amount             int64             `json:"amount"`
	Currency           string            `json:"currency"`
	Capture            string            `json:"capture"`
	AmountCaptured     int64             `json:"amount_captured"`
	AmountRefunded     int64             `json:"amount_refunded"`
	Processor          string            `json:"processor"`
	ProcessorType      string            `json:"processor_type"`
	ProcessorReference *string           `json:"processor_reference"`
	Decline            *payment.Decline  `json:"decline"`
	Fee                FeeObject         `json:"fee"`
	Routing            json.RawMessage   `json:"routing"`
	Attempts           []AttemptObject   `json:"attempts"`
	Refunds            []RefundObject    `json:"refunds"`
	Dispute            *DisputeObject    `json:"dispute"`
	Metadata           map[string]string `json:"metadata"`
	CreatedAt          string            `json:"created_at"`
	UpdatedAt          string            `json:"updated_at"`
	// Refund is, in the answer to a refund request, the refund that request
	// created.
	Refund *RefundObject `json:"refund,omitempty"`
}

// FeeObject is a payment's estimated and actual processing fee in minor
// units of Currency.
type FeeObject struct {
	Estimated int64  `json:"estimated"`
	Actual    *int64 `json:"actual"`
	Currency  string `json:"currency"`
}

// AttemptObject is one processor call of a payment.
type AttemptObject struct {
	Processor string `json:"processor"`
	Operation string `json:"operation"`
	Outcome   string `json:"outcome"`
	Amount    int64  `json:"amount"`
	LatencyMS int64  `json:"latency_ms"`
	// Authentication is the 3-D Secure result the call was sent with (its
	// outcome, ECI, transaction id and version; never the cryptogram).
	Authentication *payment.AuthenticationRecord `json:"authentication,omitempty"`
}

// RefundObject is one refund of a payment.
type RefundObject struct {
	ID        string `json:"id"`
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	Status    string `json:"status"`
	CreatedAt string `json:"created_at"`
}

// DisputeObject is the last dispute or chargeback a processor reported on
// a payment.
type DisputeObject struct {
	// Reference is the processor's id of the dispute.
	Reference string `json:"reference"`
	// Amount is disputed, in minor units of Currency; 0 when not reported.
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	Reason   string `json:"reason"`
	// ProcessorEvent is the processor's event type that reported it
	// (charge.dispute.created, NOTIFICATION_OF_CHARGEBACK, CHARGEBACK).
	ProcessorEvent string `json:"processor_event"`
	ReportedAt     string `json:"reported_at"`
}

// Object renders v as the contract's payment object.
func (v View) Object() PaymentObject {
	p := v.Payment
	out := PaymentObject{
		ID: p.ID, Object: "payment", Status: p.Status, MerchantID: p.MerchantID,
		CheckoutSessionID: p.CheckoutSessionID, Amount: p.Amount, Currency: p.Currency,
		Capture: string(p.Capture), AmountCaptured: p.CapturedAmount, AmountRefunded: p.RefundedAmount,
		Processor: p.Processor, ProcessorType: p.ProcessorType, Decline: p.Decline,
		Fee:       FeeObject{Estimated: p.FeeEstimated, Actual: p.FeeActual, Currency: p.FeeCurrency},
		Routing:   p.Routing,
		Attempts:  make([]AttemptObject, 0, len(v.Attempts)),
		Refunds:   make([]RefundObject, 0, len(v.Refunds)),
		Metadata:  p.Metadata,
		CreatedAt: p.CreatedAt.UTC().Format(time.RFC3339), UpdatedAt: p.UpdatedAt.UTC().Format(time.RFC3339),
	}
	if p.ProcessorReference != "" {
		ref := p.ProcessorReference
		out.ProcessorReference = &ref
	}
	if len(out.Routing) == 0 {
		out.Routing = json.RawMessage("null")
	}
	if out.Metadata == nil {
		out.Metadata = map[string]string{}
	}
	for _, a := range v.Attempts {
		out.Attempts = append(out.Attempts, AttemptObject{
			Processor: a.Processor, Operation: a.Operation, Outcome: attemptOutcome(a), Amount: a.Amount, LatencyMS: a.LatencyMS,
			Authentication: a.Authentication,
		})
	}
	for _, r := range v.Refunds {
		out.Refunds = append(out.Refunds, refundObject(r))
	}
	if d := p.Dispute; d != nil {
		out.Dispute = &DisputeObject{Reference: d.Reference, Amount: d.Amount, Currency: d.Currency, Reason: d.Reason,
			ProcessorEvent: d.ProcessorEvent, ReportedAt: d.ReportedAt.UTC().Format(time.RFC3339)}
	}
	return out
}

func refundObject(r store.Refund) RefundObject {
	return RefundObject{ID: r.ID, Amount: r.Amount, Currency: r.Currency, Status: r.Status,
		CreatedAt: r.CreatedAt.UTC().Format(time.RFC3339)}
}

// attemptOutcome is what the contract shows of an attempt: its result, or
// where it stands.
func attemptOutcome(a store.Attempt) string {
	switch a.State {
	case store.AttemptPending:
		return "pending"
	case store.AttemptNotProcessed:
		return "not_processed"
	case store.AttemptRejected:
		return "rejected"
	}
	return a.Outcome
}

// paymentAnswer is the answer to POST /v1/payments: 201, or 202 while the
// authorization's outcome is unknown.
func paymentAnswer(v View) (Answer, error) {
	status := statusCreated
	if v.Payment.Status == payment.StatusPending {
		status = statusAccepted
	}
	return jsonAnswer(status, v.Object())
}

// modificationAnswer is the answer to a capture, void or refund request
// whose attempt is att: 200 (201 for a refund, with the refund it created),
// or 202 while att's own outcome is unknown, whatever other requests'
// attempts do.
func modificationAnswer(v View, att store.Attempt) (Answer, error) {
	obj := v.Object()
	status := statusOK
	if att.RefundID != "" {
		status = statusCreated
		for _, r := range v.Refunds {
			if r.ID == att.RefundID {
				ro := refundObject(r)
				obj.Refund = &ro
			}
		}
		if obj.Refund == nil {
			return Answer{}, fmt.Errorf("gateway: refund %s of attempt %s not found", att.RefundID, att.ID)
		}
	}
	if att.State == store.AttemptPending {
		status = statusAccepted
	}
	return jsonAnswer(status, obj)
}

// DelegateResponse is ACP's DelegatePaymentResponse.
type DelegateResponse struct {
	ID       string            `json:"id"`
	Created  string            `json:"created"`
	Metadata map[string]string `json:"metadata"`
}

// tokenAnswer is the answer to delegate_payment: 201 with the token. Its
// metadata is, as the 2026-04-17 schema says, "echoed from the request plus
// system-added fields": the request's metadata, then merchant_id and
// idempotency_key, which win over request keys of the same name (they are
// what acpgw bound the token to).
func tokenAnswer(t store.Token) (Answer, error) {
	md := make(map[string]string, len(t.Metadata)+2)
	maps.Copy(md, t.Metadata)
	md["merchant_id"] = t.MerchantID
	if t.IdempotencyKey != "" {
		md["idempotency_key"] = t.IdempotencyKey
	} else {
		delete(md, "idempotency_key")
	}
	return jsonAnswer(statusCreated, DelegateResponse{ID: t.ID, Created: t.CreatedAt.UTC().Format(time.RFC3339), Metadata: md})
}

func jsonAnswer(status int, v any) (Answer, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Answer{}, fmt.Errorf("gateway: encode answer: %w", err)
	}
	return Answer{Status: status, Body: b}, nil
}

// viewOf reads payment id with its attempts and refunds.
func (s *Service) viewOf(ctx context.Context, id string) (View, error) {
	p, err := s.store.GetPayment(ctx, id)
	if err != nil {
		return View{}, err
	}
	return s.view(ctx, p)
}

// attemptAnswer rebuilds the answer of the modification request whose
// attempt is id.
func (s *Service) attemptAnswer(ctx context.Context, id string) (Answer, error) {
	att, err := s.store.GetAttempt(ctx, id)
	if err != nil {
		return Answer{}, err
	}
	switch att.State {
	case store.AttemptRejected:
		return jsonAnswer(rejectedError(att).Status, rejectedError(att))
	case store.AttemptNotProcessed:
		return Answer{}, errRunAgain
	}
	v, err := s.viewOf(ctx, att.PaymentID)
	if err != nil {
		return Answer{}, err
	}
	return modificationAnswer(v, att)
}
