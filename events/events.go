// Package events is the contract of acpgw's merchant events: the event
// types, the body every delivery carries, and the Acpgw-Signature header
// that signs it. It imports nothing of acpgw, so that the gateway that
// writes events, the worker that delivers them, the config that names their
// types and the receivers that verify them all share one definition.
//
// A delivery is a POST of the JSON body to the merchant's URL with
//
//	Acpgw-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<raw body>")>
//
// and a second v1 while a secret is being rotated (the new secret's first,
// then the previous one's). The body is the same bytes on every attempt of
// an event; t is the time of the attempt.
package events

import (
	"encoding/json"
	"slices"
)

// The event types. A merchant's events.types config selects among them.
const (
	// PaymentAuthorized: a payment is authorized (capture later).
	PaymentAuthorized = "payment.authorized"
	// PaymentCaptured: a payment is captured, by the payment itself
	// (automatic capture) or by a capture.
	PaymentCaptured = "payment.captured"
	// PaymentDeclined: the processor declined the payment.
	PaymentDeclined = "payment.declined"
	// PaymentFailed: no processor could take the payment (nothing was
	// charged).
	PaymentFailed = "payment.failed"
	// PaymentVoided: an authorization was cancelled.
	PaymentVoided = "payment.voided"
	// PaymentPendingResolved: a payment whose outcome was unknown (answered
	// 202 pending) has its outcome now; data.payment shows it. The event of
	// that outcome (payment.captured, ...) follows.
	PaymentPendingResolved = "payment.pending_resolved"
	// RefundSucceeded: a refund succeeded; data.refund is the refund.
	RefundSucceeded = "refund.succeeded"
	// RefundFailed: a refund failed; data.refund is the refund.
	RefundFailed = "refund.failed"
	// PaymentFeeSettled: the processor reported the payment's actual fee.
	PaymentFeeSettled = "payment.fee_settled"
	// PaymentDisputed: the processor reported a dispute or chargeback;
	// data.payment.dispute describes it.
	PaymentDisputed = "payment.disputed"
)

// Types lists every event type, in the order the events of one change are
// written.
var Types = []string{
	PaymentPendingResolved, PaymentAuthorized, PaymentCaptured, PaymentDeclined, PaymentFailed, PaymentVoided,
	RefundSucceeded, RefundFailed, PaymentFeeSettled, PaymentDisputed,
}

// Known reports whether t is one of Types.
func Known(t string) bool { return slices.Contains(Types, t) }

// Body is what a delivery carries: the JSON body of the POST.
type Body struct {
	// ID is evt_..., the same on every attempt: receivers dedupe on it.
	ID string `json:"id"`
	// Object is always "event".
	Object string `json:"object"`
	Type   string `json:"type"`
	// Created is when the change happened, RFC 3339 UTC.
	Created string `json:"created"`
	// APIVersion is the API version the payment object is rendered in.
	APIVersion string `json:"api_version"`
	Data       Data   `json:"data"`
}

// Data is an event's subject: the payment as GET /v1/payments/{id} shows
// it at the moment of the change, and for refund events the refund.
type Data struct {
	Payment json.RawMessage `json:"payment"`
	Refund  json.RawMessage `json:"refund,omitempty"`
}
