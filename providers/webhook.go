package providers

import (
	"context"
	"errors"
	"net/http"
	"time"

	"acpgw/payment"
)

// ErrBadSignature: a webhook delivery's signature did not verify (wrong
// secret, tampered body, timestamp outside the tolerance). Nothing of it may
// be applied.
var ErrBadSignature = errors.New("webhook signature does not verify")

// EventKind is what a processor event means for a payment, normalised.
type EventKind string

// The normalised event kinds. EventIgnored events are stored and
// acknowledged but change nothing.
const (
	EventAuthorized     EventKind = "authorized"
	EventCaptured       EventKind = "captured"
	EventCaptureFailed  EventKind = "capture_failed"
	EventVoided         EventKind = "voided"
	EventRefunded       EventKind = "refunded"
	EventRefundFailed   EventKind = "refund_failed"
	EventDeclined       EventKind = "declined"
	EventFailed         EventKind = "failed"
	EventDisputed       EventKind = "disputed"
	EventFeeReported    EventKind = "fee_reported"
	EventIgnored        EventKind = "ignored"
	EventAuthorizedHold EventKind = "amount_capturable_updated"
)

// Event is one processor event, verified and normalised.
type Event struct {
	// ID is the processor's unique id of the event, the dedupe key (Stripe's
	// evt_ id; Adyen's pspReference:eventCode:success).
	ID string
	// Type is the processor's raw event type (payment_intent.succeeded,
	// CAPTURE).
	Type string
	Kind EventKind
	// Reference is the processor's reference of the payment the event is
	// about (pi_..., the original pspReference).
	Reference string
	// PaymentID is acpgw's payment id when the event carries it (metadata,
	// merchantReference), else "".
	PaymentID string
	// ModificationReference identifies a capture/refund at the processor
	// (Adyen's pspReference of the modification), if any.
	ModificationReference string
	// Amount is the amount the event is about (captured, refunded), if any.
	Amount *payment.Money
	// Fee is the processor's actual fee, when the event reports it.
	Fee *payment.Money
	// Decline is set for EventDeclined.
	Decline *payment.Decline
	// Reason is a short processor explanation (no card data).
	Reason string
	// OccurredAt is when the processor says the event happened.
	OccurredAt time.Time
	// Raw is the event's own JSON, stored for audit.
	Raw []byte
}

// WebhookReceiver is implemented by providers that receive signed events.
type WebhookReceiver interface {
	// ParseWebhook verifies one delivery's signature and returns its events.
	// A bad signature is ErrBadSignature; a body that does not decode is
	// another error. Neither may have side effects.
	ParseWebhook(header http.Header, body []byte, now time.Time) ([]Event, error)
	// WebhookAck is what to answer a delivery that was stored (Adyen expects
	// "[accepted]").
	WebhookAck() (contentType string, body []byte)
}

// StatusReader is implemented by providers that can read a payment back from
// the processor (Stripe), used to learn the actual fee when an event does not
// carry it.
type StatusReader interface {
	Status(ctx context.Context, reference string) (Result, error)
}
