package adyen

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"acpgw/payment"
	"acpgw/providers"
)

// Card number types of payment.Card.NumberType.
const (
	numberTypeFPAN         = "fpan"
	numberTypeNetworkToken = "network_token"
)

// Adyen payment method types (CardDetails.type).
const (
	methodScheme       = "scheme"
	methodNetworkToken = "networkToken"
)

// Values of PaymentRequest fields, with the reasons for choosing them.
const (
	// shopperInteraction Ecommerce: the buyer approved this one purchase in
	// the agent moments before, so this is a customer-initiated online
	// payment. ContAuth is for merchant-initiated payments on a credential
	// stored earlier with the shopper's consent (subscriptions, top-ups),
	// which a single-use vault token is not.
	shopperInteractionEcommerce = "Ecommerce"
	// attemptAuthentication never: acpgw cannot present a 3-D Secure
	// challenge to a buyer who is in an agent's chat, so it asks Adyen not
	// to start one. Where SCA is mandatory the issuer then declines (code
	// 38, Authentication required), which maps to authentication_required.
	attemptAuthenticationNever = "never"
)

// metadataPaymentID is the metadata key carrying acpgw's payment id.
const metadataPaymentID = "acpgw_payment_id"

// Adyen's resultCode values (PaymentResponse.resultCode).
const (
	resultAuthorised        = "Authorised"
	resultRefused           = "Refused"
	resultError             = "Error"
	resultCancelled         = "Cancelled"
	resultPending           = "Pending"
	resultReceived          = "Received"
	resultRedirectShopper   = "RedirectShopper"
	resultIdentifyShopper   = "IdentifyShopper"
	resultChallengeShopper  = "ChallengeShopper"
	resultPresentToShopper  = "PresentToShopper"
	statusReceived          = "received"
	processorCodeAuthAction = "shopper_action_required"
)

// errUnsupportedToken is the cause when a token kind is not for Adyen.
var errUnsupportedToken = errors.New("adyen: only acpgw vault cards (vt_) can be charged through Adyen")

// Authorize sends POST /payments for a vault card: the raw card fields
// (scheme) or a network token with its cryptogram, the attempt id as
// reference, and manual or immediate capture. A request re-sent with the
// same IdempotencyKey gets Adyen's first answer and charges nothing more.
func (c *Client) Authorize(ctx context.Context, req providers.AuthorizeRequest) (providers.Result, error) {
	if req.Instrument.Kind != providers.TokenVault || req.Instrument.Card == nil {
		return providers.Result{}, providers.NotProcessed("unsupported_token", errUnsupportedToken)
	}
	if !c.Supports(req.Instrument.Kind, req.Amount.Currency) {
		return providers.Result{}, providers.NotProcessed("unsupported_currency",
			fmt.Errorf("adyen: %w: %q is not configured for %s", payment.ErrUnknownCurrency, req.Amount.Currency, c.name))
	}
	body, err := c.paymentRequest(req)
	if err != nil {
		return providers.Result{}, providers.NotProcessed("invalid_request", err)
	}
	var resp paymentResponse
	if err := c.do(ctx, call{op: "authorize", path: "/payments", key: req.IdempotencyKey, body: body}, &resp); err != nil {
		return providers.Result{}, err
	}
	return c.paymentResult(req.Capture, resp)
}

// paymentRequest builds the PaymentRequest of req.
func (c *Client) paymentRequest(req providers.AuthorizeRequest) (*paymentRequest, error) {
	card := req.Instrument.Card
	if card.Number == "" || card.ExpMonth < 1 || card.ExpMonth > 12 || card.ExpYear < 1000 || card.ExpYear > 9999 {
		// Nothing of the card goes into the message.
		return nil, errors.New("adyen: the card has no number or an invalid expiry")
	}
	if req.Amount.Amount <= 0 {
		return nil, fmt.Errorf("adyen: %w: %d", payment.ErrInvalidAmount, req.Amount.Amount)
	}
	reference := req.AttemptID
	if reference == "" {
		reference = req.IdempotencyKey
	}
	body := &paymentRequest{
		Amount:             amount{Currency: strings.ToUpper(req.Amount.Currency), Value: req.Amount.Amount},
		MerchantAccount:    c.merchantAccount,
		Reference:          reference,
		ReturnURL:          c.returnURL,
		ShopperInteraction: shopperInteractionEcommerce,
		// recurringProcessingModel is left out: it flags a payment on a
		// stored credential (CardOnFile, Subscription,
		// UnscheduledCardOnFile), and this one-time payment stores nothing.
		AuthenticationData: &authenticationData{AttemptAuthentication: attemptAuthenticationNever},
		PaymentMethod: cardDetails{
			Type:        methodScheme,
			Number:      card.Number,
			ExpiryMonth: strconv.Itoa(card.ExpMonth),
			ExpiryYear:  strconv.Itoa(card.ExpYear),
			CVC:         card.CVC, // empty after first use: omitted
			HolderName:  card.Name,
		},
	}
	switch card.NumberType {
	case "", numberTypeFPAN:
	case numberTypeNetworkToken:
		if card.Cryptogram == "" {
			return nil, errors.New("adyen: a network token needs its cryptogram")
		}
		// A network token from a third party: type networkToken with the
		// token as number, and its cryptogram (TAVV) and ECI in mpiData.
		body.PaymentMethod.Type = methodNetworkToken
		body.PaymentMethod.CVC = ""
		body.PaymentMethod.Brand = adyenBrand(card.Brand)
		body.MpiData = &threeDSecureData{TokenAuthenticationVerificationValue: card.Cryptogram, ECI: card.ECI}
	default:
		return nil, fmt.Errorf("adyen: unknown card number type %q", card.NumberType)
	}
	if a := req.Authentication; a != nil && a.SendsData() {
		if body.MpiData == nil {
			body.MpiData = &threeDSecureData{}
		}
		externalMPI(body.MpiData, *a)
	}
	switch req.Capture {
	case payment.CaptureManual:
		// manualCapture holds the authorisation until a /captures call,
		// whatever capture delay the merchant account has.
		body.AdditionalData = map[string]string{"manualCapture": "true"}
	default:
		// captureDelayHours 0 captures at once, overriding the account's
		// default delay.
		zero := 0
		body.CaptureDelayHours = &zero
	}
	if req.PaymentID != "" || len(req.Metadata) > 0 {
		body.Metadata = metadata(req)
	}
	if a := req.Instrument.Billing; a != nil {
		body.BillingAddress = newBillingAddress(a.LineOne, a.LineTwo, a.City, a.State, a.Country, a.PostalCode)
	}
	return body, nil
}

// newBillingAddress is the BillingAddress of an ACP address, nil unless it
// has what the schema requires: a street, city, postal code and a
// two-letter country. ACP has no separate house number; it is part of the
// street line.
func newBillingAddress(lineOne, lineTwo, city, state, country, postalCode string) *billingAddress {
	if lineOne == "" || city == "" || len(country) != 2 || postalCode == "" {
		return nil
	}
	street := lineOne
	if lineTwo != "" {
		street += ", " + lineTwo
	}
	return &billingAddress{
		City: city, Country: strings.ToUpper(country), PostalCode: postalCode,
		StateOrProvince: state, Street: street, HouseNumberOrName: "",
	}
}

// externalMPI fills mpiData with a 3-D Secure result obtained outside
// Adyen (v71 ThreeDSecureData): cavv (the cryptogram), eci, threeDSVersion,
// and the transaction id as dsTransID (3-D Secure 2) or xid (3-D Secure 1,
// base64 of 20 bytes, sent only in that form). ACP's authentication_result
// gives only the final transStatus, so it goes in directoryResponse (the
// ARes status, which it is for a frictionless flow) and, where that
// field's enum has it (Y or A), in authenticationResponse (the challenge
// result, which it is after a challenge): whichever flow the buyer went
// through, Adyen gets the status the issuer ended with. authenticationData
// keeps attemptAuthentication never: the buyer was authenticated already,
// and Adyen must not start a flow of its own. A network token's ECI, when
// it has one, is kept.
func externalMPI(m *threeDSecureData, a payment.Authentication) {
	m.Cavv = a.Cryptogram
	if m.ECI == "" {
		m.ECI = a.ECI
	}
	m.ThreeDSVersion = a.Version
	if strings.HasPrefix(a.Version, "1.") {
		if b, err := base64.StdEncoding.DecodeString(a.TransactionID); err == nil && len(b) == 20 {
			m.Xid = a.TransactionID
		}
	} else {
		m.DsTransID = a.TransactionID
	}
	ts := a.Info().TransStatus
	m.DirectoryResponse = ts
	if ts == "Y" || ts == "A" {
		m.AuthenticationResponse = ts
	}
}

// Adyen's metadata limits: at most 20 keys, keys up to 20 characters and
// values up to 80.
const (
	maxMetadataKeys  = 20
	maxMetadataKey   = 20
	maxMetadataValue = 80
)

// metadata is req.Metadata within Adyen's limits, with acpgw's payment id
// first. Entries that do not fit are dropped rather than failing a charge.
func metadata(req providers.AuthorizeRequest) map[string]string {
	m := map[string]string{}
	if req.PaymentID != "" {
		m[metadataPaymentID] = truncate(req.PaymentID, maxMetadataValue)
	}
	for k, v := range req.Metadata {
		if len(m) >= maxMetadataKeys {
			break
		}
		if k == "" || len(k) > maxMetadataKey || k == metadataPaymentID {
			continue
		}
		m[k] = truncate(v, maxMetadataValue)
	}
	return m
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

// adyenBrand maps acpgw's brand names onto Adyen's payment method variants.
func adyenBrand(brand string) string {
	switch b := strings.ToLower(brand); b {
	case "mastercard", "mc":
		return "mc"
	case "american_express", "amex":
		return "amex"
	case "diners", "diners_club":
		return "diners"
	default:
		return b
	}
}

// paymentResult maps a /payments answer onto a Result.
func (c *Client) paymentResult(capture payment.CaptureMode, resp paymentResponse) (providers.Result, error) {
	res := providers.Result{Reference: resp.PSPReference}
	switch resp.ResultCode {
	case resultAuthorised:
		res.Status = payment.StatusAuthorized
		if capture == payment.CaptureAutomatic {
			// captureDelayHours 0: Adyen captures the authorisation at once.
			res.Status = payment.StatusCaptured
		}
	case resultRefused:
		d := c.decline(resp.RefusalReasonCode, resp.RefusalReason)
		res.Status, res.Decline = payment.StatusDeclined, &d
	case resultCancelled:
		d := payment.NewDecline(payment.DeclineCardDeclined, "cancelled", safeMessage(resp.RefusalReason))
		if code, ok := LookupRefusal(resp.RefusalReasonCode); ok {
			d = payment.NewDecline(code, resp.RefusalReasonCode, safeMessage(resp.RefusalReason))
		}
		res.Status, res.Decline = payment.StatusDeclined, &d
	case resultRedirectShopper, resultIdentifyShopper, resultChallengeShopper, resultPresentToShopper:
		// An action only the shopper can take; acpgw has no shopper page to
		// show it on. The authorisation never completes, so nothing is held.
		d := payment.NewDecline(payment.DeclineAuthenticationRequired, processorCodeAuthAction+":"+resp.ResultCode, "")
		res.Status, res.Decline = payment.StatusDeclined, &d
	case resultError:
		res.Status = payment.StatusFailed
		res.Message = safeMessage(resp.RefusalReason)
		if res.Message == "" {
			res.Message = "Adyen answered Error"
		}
	case resultPending, resultReceived:
		// Adyen has the payment and will settle it by webhook.
		res.Status = payment.StatusPending
	default:
		// PartiallyAuthorised is impossible without allowPartialAuth, and
		// the authentication-only codes without authenticationOnly; an
		// unknown code may hide a charge, so the outcome is unknown.
		return providers.Result{}, providers.OutcomeUnknown("result_code",
			fmt.Errorf("%w: unexpected resultCode %q (pspReference %s)", ErrBadResponse, resp.ResultCode, resp.PSPReference))
	}
	if res.Reference == "" && res.Status != payment.StatusDeclined && res.Status != payment.StatusFailed {
		return providers.Result{}, providers.OutcomeUnknown("bad_response",
			fmt.Errorf("%w: resultCode %s without pspReference", ErrBadResponse, resp.ResultCode))
	}
	return res, nil
}

// Capture sends POST /payments/{pspReference}/captures. Adyen answers
// "received" and confirms with a CAPTURE or CAPTURE_FAILED webhook, so the
// Result is pending.
func (c *Client) Capture(ctx context.Context, req providers.ModifyRequest) (providers.Result, error) {
	return c.modify(ctx, "capture", "captures", req, true)
}

// Void sends POST /payments/{pspReference}/cancels; a CANCELLATION webhook
// confirms it. The Result is pending.
func (c *Client) Void(ctx context.Context, req providers.ModifyRequest) (providers.Result, error) {
	return c.modify(ctx, "void", "cancels", req, false)
}

// Refund sends POST /payments/{pspReference}/refunds; a REFUND or
// REFUND_FAILED webhook confirms it. The Result is pending.
func (c *Client) Refund(ctx context.Context, req providers.ModifyRequest) (providers.Result, error) {
	return c.modify(ctx, "refund", "refunds", req, true)
}

func (c *Client) modify(ctx context.Context, op, endpoint string, req providers.ModifyRequest, withAmount bool) (providers.Result, error) {
	if req.Reference == "" {
		return providers.Result{}, providers.NotProcessed("invalid_request", fmt.Errorf("adyen: %s needs the payment's pspReference", op))
	}
	body := modificationRequest{MerchantAccount: c.merchantAccount, Reference: req.PaymentID}
	if withAmount {
		if req.Amount.Amount <= 0 || !payment.ValidCurrency(req.Amount.Currency) {
			return providers.Result{}, providers.NotProcessed("invalid_request",
				fmt.Errorf("adyen: %s: %w: %d %q", op, payment.ErrInvalidAmount, req.Amount.Amount, req.Amount.Currency))
		}
		body.Amount = &amount{Currency: strings.ToUpper(req.Amount.Currency), Value: req.Amount.Amount}
	}
	path := "/payments/" + url.PathEscape(req.Reference) + "/" + endpoint
	var resp modificationResponse
	if err := c.do(ctx, call{op: op, path: path, key: req.IdempotencyKey, body: body, modification: true}, &resp); err != nil {
		return providers.Result{}, err
	}
	if resp.Status != statusReceived {
		return providers.Result{}, providers.OutcomeUnknown("bad_response",
			fmt.Errorf("%w: %s status %q, want received", ErrBadResponse, op, resp.Status))
	}
	// The modification's own pspReference arrives again in its webhook
	// (pspReference, with originalReference the payment's): it is what the
	// gateway matches the webhook to this attempt by.
	return providers.Result{Status: payment.StatusPending, Reference: req.Reference, ModificationReference: resp.PSPReference}, nil
}
