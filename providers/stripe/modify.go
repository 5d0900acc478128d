package stripe

import (
	"context"
	"errors"
	"strconv"

	stripego "github.com/stripe/stripe-go/v76"

	"acpgw/payment"
	"acpgw/providers"
)

// Capture captures req.Amount of an authorized PaymentIntent
// (amount_to_capture; Stripe releases any remainder) and reports the
// charge's actual fee from its expanded balance transaction.
func (c *Client) Capture(ctx context.Context, req providers.ModifyRequest) (providers.Result, error) {
	if err := checkModify(req); err != nil {
		return providers.Result{}, err
	}
	p := &stripego.PaymentIntentCaptureParams{AmountToCapture: stripego.Int64(req.Amount.Amount)}
	p.AddExpand(expandFee)
	p.SetIdempotencyKey(req.IdempotencyKey)
	var pi *stripego.PaymentIntent
	sent, err := c.send(ctx, providers.OpCapture, req.IdempotencyKey, func(ctx context.Context) error {
		p.Context = ctx
		var err error
		pi, err = c.api.PaymentIntents.Capture(req.Reference, p)
		return err
	})
	if err != nil {
		return providers.Result{}, classify(providers.OpCapture, sent, err)
	}
	switch pi.Status {
	case stripego.PaymentIntentStatusSucceeded:
		return providers.Result{Status: payment.StatusCaptured, Reference: pi.ID, Fee: fee(pi)}, nil
	case stripego.PaymentIntentStatusProcessing:
		return providers.Result{Status: payment.StatusPending, Reference: pi.ID, Message: "Stripe is processing the capture"}, nil
	}
	return providers.Result{}, unexpected("PaymentIntent", pi.ID, string(pi.Status))
}

// Void cancels an uncaptured PaymentIntent, releasing the authorization.
func (c *Client) Void(ctx context.Context, req providers.ModifyRequest) (providers.Result, error) {
	if err := checkModify(req); err != nil {
		return providers.Result{}, err
	}
	p := &stripego.PaymentIntentCancelParams{}
	p.SetIdempotencyKey(req.IdempotencyKey)
	var pi *stripego.PaymentIntent
	sent, err := c.send(ctx, providers.OpVoid, req.IdempotencyKey, func(ctx context.Context) error {
		p.Context = ctx
		var err error
		pi, err = c.api.PaymentIntents.Cancel(req.Reference, p)
		return err
	})
	if err != nil {
		return providers.Result{}, classify(providers.OpVoid, sent, err)
	}
	if pi.Status != stripego.PaymentIntentStatusCanceled {
		return providers.Result{}, unexpected("PaymentIntent", pi.ID, string(pi.Status))
	}
	return providers.Result{Status: payment.StatusVoided, Reference: pi.ID}, nil
}

// Refund refunds req.Amount of a captured PaymentIntent. The Result's
// Reference is the PaymentIntent's; Message names the refund (re_...).
func (c *Client) Refund(ctx context.Context, req providers.ModifyRequest) (providers.Result, error) {
	if err := checkModify(req); err != nil {
		return providers.Result{}, err
	}
	p := &stripego.RefundParams{
		PaymentIntent: stripego.String(req.Reference),
		Amount:        stripego.Int64(req.Amount.Amount),
	}
	p.AddMetadata(MetadataPaymentID, req.PaymentID)
	p.SetIdempotencyKey(req.IdempotencyKey)
	var re *stripego.Refund
	sent, err := c.send(ctx, providers.OpRefund, req.IdempotencyKey, func(ctx context.Context) error {
		p.Context = ctx
		var err error
		re, err = c.api.Refunds.New(p)
		return err
	})
	if err != nil {
		return providers.Result{}, classify(providers.OpRefund, sent, err)
	}
	// The refund's own id is its modification reference: charge.refunded
	// names the refund by it, so the gateway can tell its own refunds from
	// ones made in Stripe's dashboard.
	res := providers.Result{Reference: req.Reference, ModificationReference: re.ID, Message: "refund " + re.ID}
	switch re.Status {
	case stripego.RefundStatusSucceeded:
		res.Status = payment.StatusRefunded
	case stripego.RefundStatusPending, stripego.RefundStatusRequiresAction:
		// Card refunds usually succeed at once; a pending one settles by
		// the charge.refunded webhook.
		res.Status = payment.StatusPending
	case stripego.RefundStatusFailed, stripego.RefundStatusCanceled:
		return providers.Result{}, providers.Rejected("refund_"+string(re.Status),
			errors.New("stripe: refund "+re.ID+" "+string(re.Status)+" ("+string(re.FailureReason)+")"))
	default:
		return providers.Result{}, unexpected("refund", re.ID, string(re.Status))
	}
	return res, nil
}

// Status retrieves a PaymentIntent and reads it as an authorization Result,
// with the actual fee when it has been captured: for reconciliation of
// pending attempts and for fetching the fee after a webhook (Stripe's event
// payloads do not expand the balance transaction).
func (c *Client) Status(ctx context.Context, reference string) (providers.Result, error) {
	if reference == "" {
		return providers.Result{}, providers.NotProcessed("missing_reference", errors.New("stripe: empty PaymentIntent reference"))
	}
	p := &stripego.PaymentIntentParams{}
	p.AddExpand(expandFee)
	var pi *stripego.PaymentIntent
	sent, err := c.send(ctx, providers.OpAuthorize, "", func(ctx context.Context) error {
		p.Context = ctx
		var err error
		pi, err = c.api.PaymentIntents.Get(reference, p)
		return err
	})
	if err != nil {
		// A read changes nothing; its failures still carry a class so that
		// callers can tell "retry later" from "no such payment".
		return providers.Result{}, classify(providers.OpAuthorize, sent, err)
	}
	return c.intentResult(pi)
}

func checkModify(req providers.ModifyRequest) error {
	switch {
	case req.Reference == "":
		return providers.NotProcessed("missing_reference", errors.New("stripe: empty PaymentIntent reference"))
	case req.Amount.Amount <= 0:
		return providers.NotProcessed("invalid_amount", errors.New("stripe: amount must be positive"))
	}
	return nil
}

// unexpected is the error of a 2xx answer whose status cannot be read as the
// operation's result: Stripe acted, so the outcome is unknown to acpgw.
func unexpected(object, id, status string) error {
	return providers.OutcomeUnknown(CodeUnexpectedStatus,
		errors.New("stripe: "+object+" "+id+" has status "+strconv.Quote(status)))
}
