package adyen

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"acpgw/payment"
	"acpgw/providers"
)

// WebhookAckBody is the answer Adyen's standard webhooks expect from an
// endpoint that stored a delivery.
const WebhookAckBody = "[accepted]"

// maxWebhookItems bounds the items of one delivery; Adyen batches at most
// a few dozen.
const maxWebhookItems = 1000

// Adyen's eventCode values acpgw applies; others are stored and ignored.
const (
	EventCodeAuthorisation = "AUTHORISATION"
	EventCodeCapture       = "CAPTURE"
	EventCodeCaptureFailed = "CAPTURE_FAILED"
	EventCodeCancellation  = "CANCELLATION"
	EventCodeRefund        = "REFUND"
	EventCodeRefundFailed  = "REFUND_FAILED"
	EventCodeChargeback    = "CHARGEBACK"
	// EventCodeNotificationOfChargeback is the early warning of a
	// chargeback (the issuer opened a dispute); CHARGEBACK follows when the
	// funds are debited.
	EventCodeNotificationOfChargeback = "NOTIFICATION_OF_CHARGEBACK"
)

// ErrMalformedWebhook: a delivery that is not Adyen's standard
// notification JSON. It is told apart from providers.ErrBadSignature.
var ErrMalformedWebhook = errors.New("adyen: malformed webhook")

// Notification is Adyen's standard webhook body.
type Notification struct {
	// Live is "true" or "false", as a string.
	Live              string             `json:"live"`
	NotificationItems []NotificationItem `json:"notificationItems"`
}

// NotificationItem wraps one item, as Adyen nests it.
type NotificationItem struct {
	Item NotificationRequestItem `json:"NotificationRequestItem"`
}

// NotificationRequestItem is one event of a delivery.
type NotificationRequestItem struct {
	AdditionalData      map[string]string `json:"additionalData,omitempty"`
	Amount              *ItemAmount       `json:"amount,omitempty"`
	EventCode           string            `json:"eventCode"`
	EventDate           string            `json:"eventDate,omitempty"`
	MerchantAccountCode string            `json:"merchantAccountCode"`
	MerchantReference   string            `json:"merchantReference,omitempty"`
	OriginalReference   string            `json:"originalReference,omitempty"`
	PaymentMethod       string            `json:"paymentMethod,omitempty"`
	PSPReference        string            `json:"pspReference"`
	Reason              string            `json:"reason,omitempty"`
	// Success is "true" or "false", as a string.
	Success    string   `json:"success"`
	Operations []string `json:"operations,omitempty"`
}

// ItemAmount is an item's amount. Value is kept as the JSON number's own
// text, because the signature covers it exactly as sent.
type ItemAmount struct {
	Currency string      `json:"currency"`
	Value    json.Number `json:"value"`
}

// SigningString is what an item's HMAC signature covers:
// pspReference:originalReference:merchantAccountCode:merchantReference:
// value:currency:eventCode:success, with absent fields empty.
func SigningString(it NotificationRequestItem) string {
	var value, currency string
	if it.Amount != nil {
		value, currency = it.Amount.Value.String(), it.Amount.Currency
	}
	return strings.Join([]string{
		it.PSPReference, it.OriginalReference, it.MerchantAccountCode, it.MerchantReference,
		value, currency, it.EventCode, it.Success,
	}, ":")
}

// Sign returns the base64 HMAC-SHA256 of the item's signing string under
// key (the hex-decoded HMAC key).
func Sign(key []byte, it NotificationRequestItem) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(SigningString(it)))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// VerifyItem reports whether the item's additionalData.hmacSignature is
// its signature under key, comparing in constant time.
func VerifyItem(key []byte, it NotificationRequestItem) bool {
	if len(key) == 0 {
		return false
	}
	// Strict: a signature that differs only in base64 padding bits is a
	// different text, and is refused.
	got, err := base64.StdEncoding.Strict().DecodeString(it.AdditionalData["hmacSignature"])
	if err != nil || len(got) != sha256.Size {
		return false
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(SigningString(it)))
	return hmac.Equal(got, m.Sum(nil))
}

// DecodeNotification reads a delivery body strictly enough to trust what
// the signature covers: one JSON object, no trailing data.
func DecodeNotification(body []byte) (Notification, []json.RawMessage, error) {
	var raw struct {
		Live              json.RawMessage `json:"live"`
		NotificationItems []struct {
			Item json.RawMessage `json:"NotificationRequestItem"`
		} `json:"notificationItems"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil {
		return Notification{}, nil, fmt.Errorf("%w: %v", ErrMalformedWebhook, err)
	}
	if dec.More() {
		return Notification{}, nil, fmt.Errorf("%w: data after the JSON object", ErrMalformedWebhook)
	}
	if len(raw.NotificationItems) == 0 {
		return Notification{}, nil, fmt.Errorf("%w: no notificationItems", ErrMalformedWebhook)
	}
	if len(raw.NotificationItems) > maxWebhookItems {
		return Notification{}, nil, fmt.Errorf("%w: %d items", ErrMalformedWebhook, len(raw.NotificationItems))
	}
	var n Notification
	// live is a string in Adyen's body; tolerate a bare boolean.
	if len(raw.Live) > 0 {
		var s string
		if err := json.Unmarshal(raw.Live, &s); err != nil {
			var b bool
			if err := json.Unmarshal(raw.Live, &b); err != nil {
				return Notification{}, nil, fmt.Errorf("%w: live is neither a string nor a boolean", ErrMalformedWebhook)
			}
			s = fmt.Sprint(b)
		}
		n.Live = s
	}
	raws := make([]json.RawMessage, len(raw.NotificationItems))
	for i, w := range raw.NotificationItems {
		if len(w.Item) == 0 || string(w.Item) == "null" {
			return Notification{}, nil, fmt.Errorf("%w: item %d has no NotificationRequestItem", ErrMalformedWebhook, i)
		}
		var it NotificationRequestItem
		d := json.NewDecoder(bytes.NewReader(w.Item))
		d.UseNumber()
		if err := d.Decode(&it); err != nil {
			return Notification{}, nil, fmt.Errorf("%w: item %d: %v", ErrMalformedWebhook, i, err)
		}
		if it.PSPReference == "" || it.EventCode == "" {
			return Notification{}, nil, fmt.Errorf("%w: item %d lacks pspReference or eventCode", ErrMalformedWebhook, i)
		}
		if it.Amount != nil && it.Amount.Value != "" {
			if _, err := it.Amount.Value.Int64(); err != nil {
				return Notification{}, nil, fmt.Errorf("%w: item %d: amount.value is not an integer", ErrMalformedWebhook, i)
			}
		}
		n.NotificationItems = append(n.NotificationItems, NotificationItem{Item: it})
		raws[i] = w.Item
	}
	return n, raws, nil
}

// ParseWebhook verifies every item's HMAC signature, and only when all
// verify returns their events: one bad item rejects the whole delivery
// with providers.ErrBadSignature, so nothing of a tampered batch is
// applied. It has no side effects.
func (c *Client) ParseWebhook(_ http.Header, body []byte, now time.Time) ([]providers.Event, error) {
	n, raws, err := DecodeNotification(body)
	if err != nil {
		return nil, err
	}
	if len(c.hmacKey) == 0 {
		return nil, fmt.Errorf("%w: no hmac_key is configured for %s", providers.ErrBadSignature, c.name)
	}
	for i, w := range n.NotificationItems {
		if !VerifyItem(c.hmacKey, w.Item) {
			return nil, fmt.Errorf("%w: item %d (pspReference %s)", providers.ErrBadSignature, i, w.Item.PSPReference)
		}
	}
	events := make([]providers.Event, len(n.NotificationItems))
	for i, w := range n.NotificationItems {
		events[i] = c.event(w.Item, raws[i], now)
	}
	return events, nil
}

// WebhookAck returns "[accepted]" as text/plain, the answer Adyen expects.
func (c *Client) WebhookAck() (string, []byte) {
	return "text/plain; charset=utf-8", []byte(WebhookAckBody)
}

// event normalises one verified item.
//
// Reference is the payment's pspReference: the item's own for
// AUTHORISATION, originalReference for modifications and chargebacks,
// whose own pspReference is the modification's (ModificationReference).
// PaymentID is merchantReference only when it is an acpgw payment id
// (pay_...): acpgw sends the payment id as the reference of captures,
// cancels and refunds, but the attempt id as the reference of /payments,
// so an AUTHORISATION's merchantReference names the attempt, which the
// gateway finds through Reference.
func (c *Client) event(it NotificationRequestItem, raw json.RawMessage, now time.Time) providers.Event {
	success := strings.EqualFold(it.Success, "true")
	ev := providers.Event{
		ID:         it.PSPReference + ":" + it.EventCode + ":" + it.Success,
		Type:       it.EventCode,
		Kind:       providers.EventIgnored,
		Reference:  it.PSPReference,
		OccurredAt: now,
		Raw:        append([]byte(nil), raw...),
	}
	if strings.HasPrefix(it.MerchantReference, "pay_") {
		ev.PaymentID = it.MerchantReference
	}
	if t, err := time.Parse(time.RFC3339, it.EventDate); err == nil {
		ev.OccurredAt = t
	}
	if it.OriginalReference != "" && it.EventCode != EventCodeAuthorisation {
		ev.Reference = it.OriginalReference
		ev.ModificationReference = it.PSPReference
	}
	if it.Amount != nil {
		if v, err := it.Amount.Value.Int64(); err == nil && v > 0 {
			cur := strings.ToLower(it.Amount.Currency)
			if payment.ValidCurrency(cur) {
				ev.Amount = &payment.Money{Amount: v, Currency: cur}
			}
		}
	}
	failureReason := func() string { return safeMessage(it.Reason) }
	switch it.EventCode {
	case EventCodeAuthorisation:
		if success {
			// reason carries authCode:last4:expiry on success; it is not
			// kept as the event's reason.
			ev.Kind = providers.EventAuthorized
		} else {
			ev.Kind = providers.EventDeclined
			ev.Reason = failureReason()
			code := it.AdditionalData["refusalReasonCode"]
			d := c.decline(code, it.Reason)
			ev.Decline = &d
		}
	case EventCodeCapture:
		ev.Kind = providers.EventCaptured
		if !success {
			// A CAPTURE with success false is Adyen's way of saying the
			// capture failed, as CAPTURE_FAILED does later in the flow.
			ev.Kind, ev.Reason = providers.EventCaptureFailed, failureReason()
		}
	case EventCodeCaptureFailed:
		ev.Kind, ev.Reason = providers.EventCaptureFailed, failureReason()
	case EventCodeCancellation:
		ev.Kind = providers.EventVoided
		if !success {
			// The cancel was refused (already captured): nothing changed.
			ev.Kind, ev.Reason = providers.EventIgnored, failureReason()
		}
	case EventCodeRefund:
		ev.Kind = providers.EventRefunded
		if !success {
			ev.Kind, ev.Reason = providers.EventRefundFailed, failureReason()
		}
	case EventCodeRefundFailed:
		ev.Kind, ev.Reason = providers.EventRefundFailed, failureReason()
	case EventCodeChargeback, EventCodeNotificationOfChargeback:
		ev.Kind, ev.Reason = providers.EventDisputed, failureReason()
	}
	return ev
}
