package stripe

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	stripego "github.com/stripe/stripe-go/v76"

	"acpgw/payment"
	"acpgw/providers"
)

// expandFee asks Stripe to inline the charge's balance transaction, which
// carries the actual fee, in a PaymentIntent answer.
const expandFee = "latest_charge.balance_transaction"

// Authorize charges req's instrument with one PaymentIntent, created and
// confirmed in one idempotent request: capture_method manual for
// payment.CaptureManual, automatic otherwise.
//
// A vault card first becomes a PaymentMethod (POST /v1/payment_methods with
// the card details, idempotency key <key>-pm), because that is where Stripe's
// API definition takes raw card details: its PaymentIntent
// payment_method_data has no card hash (stripe-mock refuses one). A Shared
// Payment Token goes straight into the PaymentIntent through the configured
// granted-token parameter, with the preview Stripe-Version.
//
// The buyer approved this payment in the agent moments ago, so it is a
// customer-initiated payment: off_session is not set (setting it would
// claim a merchant-initiated transaction without a prior agreement, which
// Stripe and the networks reserve for saved cards charged later). The buyer
// cannot complete a 3-D Secure challenge here either, so
// error_on_requires_action makes Stripe fail the attempt instead of waiting
// for an action; that, or a PaymentIntent left in requires_action, is a
// decline authentication_required. No return_url is sent: no redirects.
// When the buyer was authenticated beforehand (req.Authentication), the
// result goes in payment_method_options.card.three_d_secure (threeDSecure).
func (c *Client) Authorize(ctx context.Context, req providers.AuthorizeRequest) (providers.Result, error) {
	params, err := c.authorizeParams(req)
	if err != nil {
		return providers.Result{}, err
	}
	if req.Instrument.Kind == providers.TokenVault {
		pm, res, err := c.paymentMethod(ctx, req)
		if err != nil || res != nil {
			if res != nil {
				return *res, nil
			}
			return providers.Result{}, err
		}
		params.PaymentMethod = stripego.String(pm)
	}
	var pi *stripego.PaymentIntent
	sent, err := c.send(ctx, providers.OpAuthorize, req.IdempotencyKey, func(ctx context.Context) error {
		params.Context = ctx
		var err error
		pi, err = c.api.PaymentIntents.New(params)
		return err
	})
	if err != nil {
		if res, ok := c.cardError(err); ok {
			return res, nil
		}
		return providers.Result{}, classify(providers.OpAuthorize, sent, err)
	}
	return c.intentResult(pi)
}

// paymentMethod creates the PaymentMethod of a vault card and returns its
// id, or a declined Result when Stripe refuses the card details themselves
// (incorrect number, invalid expiry), or an error. A failure here has
// charged nothing, but it is classified like any other call: the gateway
// must not read a timeout as "not processed" only because no money moves
// yet, since the re-send with the same key has to find the same
// PaymentMethod.
func (c *Client) paymentMethod(ctx context.Context, req providers.AuthorizeRequest) (string, *providers.Result, error) {
	card := req.Instrument.Card
	p := &stripego.PaymentMethodParams{
		Type: stripego.String(string(stripego.PaymentMethodTypeCard)),
		Card: &stripego.PaymentMethodCardParams{
			Number:   stripego.String(card.Number),
			ExpMonth: stripego.Int64(int64(card.ExpMonth)),
			ExpYear:  stripego.Int64(int64(card.ExpYear)),
		},
	}
	if card.CVC != "" {
		p.Card.CVC = stripego.String(card.CVC)
	}
	if b := billing(req.Instrument.Billing, card.Name); b != nil {
		p.BillingDetails = b
	}
	p.AddMetadata(MetadataPaymentID, req.PaymentID)
	if req.IdempotencyKey != "" {
		p.SetIdempotencyKey(req.IdempotencyKey + "-pm")
	}
	var pm *stripego.PaymentMethod
	sent, err := c.send(ctx, providers.OpAuthorize, req.IdempotencyKey+"-pm", func(ctx context.Context) error {
		p.Context = ctx
		var err error
		pm, err = c.api.PaymentMethods.New(p)
		return err
	})
	if err != nil {
		if res, ok := c.cardError(err); ok {
			return "", &res, nil
		}
		return "", nil, classify(providers.OpAuthorize, sent, err)
	}
	return pm.ID, nil, nil
}

// authorizeParams builds the PaymentIntent create+confirm request (without
// the PaymentMethod of a vault card), or a NotProcessed error for an
// instrument Stripe cannot take.
func (c *Client) authorizeParams(req providers.AuthorizeRequest) (*stripego.PaymentIntentParams, error) {
	if !payment.ValidCurrency(req.Amount.Currency) || req.Amount.Amount <= 0 {
		return nil, providers.NotProcessed("invalid_amount", errors.New("stripe: amount must be positive in a known currency"))
	}
	captureMethod := stripego.PaymentIntentCaptureMethodAutomatic
	if req.Capture == payment.CaptureManual {
		captureMethod = stripego.PaymentIntentCaptureMethodManual
	}
	p := &stripego.PaymentIntentParams{
		Amount:                stripego.Int64(req.Amount.Amount),
		Currency:              stripego.String(req.Amount.Currency),
		CaptureMethod:         stripego.String(string(captureMethod)),
		Confirm:               stripego.Bool(true),
		ErrorOnRequiresAction: stripego.Bool(true),
		PaymentMethodTypes:    stripego.StringSlice([]string{"card"}),
	}
	for k, v := range req.Metadata {
		p.AddMetadata(k, v)
	}
	// acpgw's own keys last, so that caller metadata cannot hide them.
	p.AddMetadata(MetadataPaymentID, req.PaymentID)
	if req.AttemptID != "" {
		p.AddMetadata(MetadataAttemptID, req.AttemptID)
	}
	if req.Capture != payment.CaptureManual {
		p.AddExpand(expandFee)
	}
	if req.IdempotencyKey != "" {
		p.SetIdempotencyKey(req.IdempotencyKey)
	}
	if a := req.Authentication; a != nil && a.SendsData() {
		p.PaymentMethodOptions = &stripego.PaymentIntentPaymentMethodOptionsParams{
			Card: &stripego.PaymentIntentPaymentMethodOptionsCardParams{ThreeDSecure: threeDSecure(*a)},
		}
	}

	switch req.Instrument.Kind {
	case providers.TokenVault:
		card := req.Instrument.Card
		if card == nil || card.Number == "" {
			return nil, providers.NotProcessed(CodeUnsupportedToken, errors.New("stripe: vault instrument without a card"))
		}
		if card.NumberType == "network_token" || card.Cryptogram != "" {
			// Stripe's raw card details take a PAN, expiry and CVC; there is
			// no parameter for a network token's cryptogram and ECI, and
			// sending the token as a PAN without them would be declined or
			// processed as a plain card-not-present PAN. Nothing is sent.
			return nil, providers.NotProcessed(CodeNetworkTokenUnsupported,
				errors.New("stripe: network tokens with cryptograms are not supported by raw card details"))
		}
	case providers.TokenSharedPayment:
		if req.Instrument.SharedToken == "" {
			return nil, providers.NotProcessed(CodeUnsupportedToken, errors.New("stripe: shared payment instrument without a token"))
		}
		p.AddExtra(c.sharedTokenParam, req.Instrument.SharedToken)
		// The granted-token parameter exists only in the preview API
		// version; stripe-go lets one request override its pinned version.
		p.Headers = http.Header{"Stripe-Version": []string{c.apiVersion}}
	default:
		return nil, providers.NotProcessed(CodeUnsupportedToken, errors.New("stripe: unsupported token kind "+strconv.Quote(string(req.Instrument.Kind))))
	}
	return p, nil
}

// threeDSecure is payment_method_options.card.three_d_secure, Stripe's
// parameter for a card authenticated with 3-D Secure by a third party (here
// the agent, through ACP's authentication_result): the cryptogram, ECI,
// transaction id (dsTransID or XID) and version, with ares_trans_status
// the outcome's transStatus (Y, A or I). Stripe then sends them with the
// authorization and does not start a 3-D Secure flow of its own.
func threeDSecure(a payment.Authentication) *stripego.PaymentIntentPaymentMethodOptionsCardThreeDSecureParams {
	tds := &stripego.PaymentIntentPaymentMethodOptionsCardThreeDSecureParams{
		Cryptogram:                  stripego.String(a.Cryptogram),
		ElectronicCommerceIndicator: stripego.String(a.ECI),
		TransactionID:               stripego.String(a.TransactionID),
		Version:                     stripego.String(a.Version),
	}
	if ts := a.Info().TransStatus; ts != "" {
		tds.AresTransStatus = stripego.String(ts)
	}
	return tds
}

func billing(a *providers.Address, name string) *stripego.PaymentMethodBillingDetailsParams {
	if a == nil && name == "" {
		return nil
	}
	b := &stripego.PaymentMethodBillingDetailsParams{}
	if a != nil && a.Name != "" {
		name = a.Name
	}
	if name != "" {
		b.Name = stripego.String(name)
	}
	if a != nil {
		addr := &stripego.AddressParams{}
		set := func(dst **string, v string) {
			if v != "" {
				*dst = stripego.String(v)
			}
		}
		set(&addr.Line1, a.LineOne)
		set(&addr.Line2, a.LineTwo)
		set(&addr.City, a.City)
		set(&addr.State, a.State)
		set(&addr.Country, a.Country)
		set(&addr.PostalCode, a.PostalCode)
		if *addr != (stripego.AddressParams{}) {
			b.Address = addr
		}
	}
	return b
}

// cardError turns a 402 card error into a declined Result. Stripe created
// the PaymentIntent (now requires_payment_method) and names it in the error;
// a card refused at PaymentMethod creation has no PaymentIntent.
func (c *Client) cardError(err error) (providers.Result, bool) {
	var se *stripego.Error
	if !errors.As(err, &se) || se.Type != stripego.ErrorTypeCard || se.HTTPStatusCode != http.StatusPaymentRequired {
		return providers.Result{}, false
	}
	res := providers.Result{Status: payment.StatusDeclined, RequestID: se.RequestID}
	if se.PaymentIntent != nil {
		res.Reference = se.PaymentIntent.ID
	}
	res.Decline = c.decline(se.Code, se.DeclineCode, se.Msg)
	res.Message = res.Decline.Message
	return res, true
}

// intentResult reads a PaymentIntent answer as a Result.
func (c *Client) intentResult(pi *stripego.PaymentIntent) (providers.Result, error) {
	res := providers.Result{Reference: pi.ID}
	if pi.LastResponse != nil {
		res.RequestID = pi.LastResponse.RequestID
	}
	switch pi.Status {
	case stripego.PaymentIntentStatusSucceeded:
		res.Status = payment.StatusCaptured
		res.Fee = fee(pi)
	case stripego.PaymentIntentStatusRequiresCapture:
		res.Status = payment.StatusAuthorized
	case stripego.PaymentIntentStatusProcessing:
		res.Status = payment.StatusPending
		res.Message = "Stripe is processing the payment; a webhook will settle it"
	case stripego.PaymentIntentStatusRequiresAction, stripego.PaymentIntentStatusRequiresConfirmation:
		// The buyer would have to act (3-D Secure) and cannot: acpgw has
		// no redirect. The PaymentIntent stays uncaptured and expires.
		res.Status = payment.StatusDeclined
		d := payment.NewDecline(payment.DeclineAuthenticationRequired, string(pi.Status), "")
		res.Decline = &d
		res.Message = d.Message
	case stripego.PaymentIntentStatusRequiresPaymentMethod:
		res.Status = payment.StatusDeclined
		if e := pi.LastPaymentError; e != nil {
			res.Decline = c.decline(e.Code, e.DeclineCode, e.Msg)
		} else {
			res.Decline = c.decline("", "", "")
		}
		res.Message = res.Decline.Message
	case stripego.PaymentIntentStatusCanceled:
		res.Status = payment.StatusFailed
		res.Message = "the PaymentIntent was canceled"
		if pi.CancellationReason != "" {
			res.Message += " (" + string(pi.CancellationReason) + ")"
		}
	default:
		return providers.Result{}, providers.OutcomeUnknown(CodeUnexpectedStatus,
			errors.New("stripe: PaymentIntent "+pi.ID+" has status "+strconv.Quote(string(pi.Status))))
	}
	return res, nil
}

// fee returns the actual fee of the PaymentIntent's latest charge when its
// balance transaction was expanded, in the balance transaction's (settlement)
// currency, or nil.
func fee(pi *stripego.PaymentIntent) *payment.Money {
	if pi.LatestCharge == nil || pi.LatestCharge.BalanceTransaction == nil {
		return nil
	}
	bt := pi.LatestCharge.BalanceTransaction
	cur := string(bt.Currency)
	if bt.Fee <= 0 || !payment.ValidCurrency(cur) {
		return nil
	}
	return &payment.Money{Amount: bt.Fee, Currency: cur}
}
