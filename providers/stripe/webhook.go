package stripe

import (
	"crypto/hmac"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	stripego "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"

	"acpgw/payment"
	"acpgw/providers"
)

// WebhookTolerance is how far a delivery's signed timestamp may be from now,
// either way: Stripe's own default of 300 s against replays of old
// deliveries, applied to clock skew into the future as well.
const WebhookTolerance = 300 * time.Second

// SignatureHeader is the header Stripe signs webhook deliveries in.
const SignatureHeader = "Stripe-Signature"

// maxSignatures bounds the v1 signatures one header may carry (Stripe sends
// one per active secret, two while a secret is rolled).
const maxSignatures = 8

// ParseWebhook verifies a delivery's Stripe-Signature against the webhook
// secret at time now (any API version is accepted) and returns its one
// event, normalised. A bad signature, or a timestamp more than
// WebhookTolerance from now, is providers.ErrBadSignature; a signed body
// that does not decode is another error. Event types acpgw does not act on
// come back as providers.EventIgnored.
//
// It is stripe-go's webhook.ConstructEventWithOptions with the clock as a
// parameter (stripe-go reads time.Now itself), using stripe-go's
// ComputeSignature for the HMAC.
func (c *Client) ParseWebhook(header http.Header, body []byte, now time.Time) ([]providers.Event, error) {
	if err := c.verify(header.Get(SignatureHeader), body, now); err != nil {
		return nil, err
	}
	var evt stripego.Event
	if err := json.Unmarshal(body, &evt); err != nil {
		return nil, fmt.Errorf("stripe webhook: decode event: %w", err)
	}
	if evt.ID == "" || evt.Type == "" {
		return nil, errors.New("stripe webhook: event without id or type")
	}
	ev, err := c.normalise(&evt)
	if err != nil {
		return nil, fmt.Errorf("stripe webhook: event %s (%s): %w", evt.ID, evt.Type, err)
	}
	ev.Raw = append([]byte(nil), body...)
	return []providers.Event{ev}, nil
}

// WebhookAck is Stripe's expected answer to a stored delivery: any 2xx; a
// small JSON body.
func (c *Client) WebhookAck() (contentType string, body []byte) {
	return "application/json", []byte(`{"received":true}`)
}

func (c *Client) verify(sig string, body []byte, now time.Time) error {
	if c.webhookSecret == "" {
		return fmt.Errorf("%w: no webhook_secret configured", providers.ErrBadSignature)
	}
	if sig == "" {
		return fmt.Errorf("%w: no %s header", providers.ErrBadSignature, SignatureHeader)
	}
	var (
		ts     int64
		haveTS bool
		sigs   [][]byte
	)
	for _, part := range strings.Split(sig, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return fmt.Errorf("%w: bad timestamp", providers.ErrBadSignature)
			}
			ts, haveTS = n, true
		case "v1":
			b, err := hex.DecodeString(v)
			if err != nil || len(sigs) == maxSignatures {
				continue
			}
			sigs = append(sigs, b)
		}
	}
	if !haveTS || len(sigs) == 0 {
		return fmt.Errorf("%w: header lacks t= or v1=", providers.ErrBadSignature)
	}
	signed := time.Unix(ts, 0)
	if d := now.Sub(signed); d > WebhookTolerance || d < -WebhookTolerance {
		return fmt.Errorf("%w: timestamp %s is outside the %s tolerance", providers.ErrBadSignature,
			signed.UTC().Format(time.RFC3339), WebhookTolerance)
	}
	want := webhook.ComputeSignature(signed, body, c.webhookSecret)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return fmt.Errorf("%w: no v1 signature matches", providers.ErrBadSignature)
}

// normalise maps one verified Stripe event onto an acpgw event.
func (c *Client) normalise(evt *stripego.Event) (providers.Event, error) {
	ev := providers.Event{
		ID:         evt.ID,
		Type:       string(evt.Type),
		Kind:       providers.EventIgnored,
		OccurredAt: time.Unix(evt.Created, 0).UTC(),
	}
	if evt.Data == nil || len(evt.Data.Raw) == 0 {
		if handled(evt.Type) {
			return ev, errors.New("no data.object")
		}
		return ev, nil
	}
	raw := evt.Data.Raw
	switch evt.Type {
	case "payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled",
		"payment_intent.amount_capturable_updated":
		var pi stripego.PaymentIntent
		if err := json.Unmarshal(raw, &pi); err != nil {
			return ev, fmt.Errorf("decode PaymentIntent: %w", err)
		}
		ev.Reference = pi.ID
		ev.PaymentID = pi.Metadata[MetadataPaymentID]
		cur := string(pi.Currency)
		switch evt.Type {
		case "payment_intent.succeeded":
			ev.Kind = providers.EventCaptured
			ev.Amount = money(pi.AmountReceived, cur)
			ev.Fee = fee(&pi)
		case "payment_intent.payment_failed":
			ev.Kind = providers.EventDeclined
			if e := pi.LastPaymentError; e != nil {
				ev.Decline = c.decline(e.Code, e.DeclineCode, e.Msg)
			} else {
				ev.Decline = c.decline("", "", "")
			}
			ev.Reason = ev.Decline.Message
		case "payment_intent.canceled":
			ev.Kind = providers.EventVoided
			ev.Reason = string(pi.CancellationReason)
		case "payment_intent.amount_capturable_updated":
			ev.Kind = providers.EventAuthorizedHold
			ev.Amount = money(pi.AmountCapturable, cur)
		}
	case "charge.refunded":
		var ch stripego.Charge
		if err := json.Unmarshal(raw, &ch); err != nil {
			return ev, fmt.Errorf("decode charge: %w", err)
		}
		ev.Kind = providers.EventRefunded
		if ch.PaymentIntent != nil {
			ev.Reference = ch.PaymentIntent.ID
		}
		ev.PaymentID = ch.Metadata[MetadataPaymentID]
		// amount_refunded is the charge's running total, not this refund's.
		ev.Amount = money(ch.AmountRefunded, string(ch.Currency))
		if ch.Refunds != nil && len(ch.Refunds.Data) > 0 && ch.Refunds.Data[0] != nil {
			ev.ModificationReference = ch.Refunds.Data[0].ID
		}
		if ch.Refunded {
			ev.Reason = "fully refunded"
		} else {
			ev.Reason = "partially refunded"
		}
	case "charge.dispute.created":
		var d stripego.Dispute
		if err := json.Unmarshal(raw, &d); err != nil {
			return ev, fmt.Errorf("decode dispute: %w", err)
		}
		ev.Kind = providers.EventDisputed
		if d.PaymentIntent != nil {
			ev.Reference = d.PaymentIntent.ID
		}
		ev.PaymentID = d.Metadata[MetadataPaymentID]
		ev.ModificationReference = d.ID
		ev.Amount = money(d.Amount, string(d.Currency))
		ev.Reason = string(d.Reason)
	default:
		// Ignored, but keep the object's id when it is a PaymentIntent so
		// that the stored event can be found by payment.
		var obj struct {
			ID       string            `json:"id"`
			Object   string            `json:"object"`
			Metadata map[string]string `json:"metadata"`
		}
		if json.Unmarshal(raw, &obj) == nil && obj.Object == "payment_intent" {
			ev.Reference = obj.ID
			ev.PaymentID = obj.Metadata[MetadataPaymentID]
		}
	}
	return ev, nil
}

func handled(t stripego.EventType) bool {
	switch t {
	case "payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled",
		"payment_intent.amount_capturable_updated", "charge.refunded", "charge.dispute.created":
		return true
	}
	return false
}

// money returns an amount of an event, or nil when the event's currency is
// not one acpgw knows or the amount is not positive.
func money(amount int64, currency string) *payment.Money {
	if amount <= 0 || !payment.ValidCurrency(currency) {
		return nil
	}
	return &payment.Money{Amount: amount, Currency: currency}
}
