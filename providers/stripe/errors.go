package stripe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"regexp"
	"strconv"
	"sync/atomic"
	"time"

	stripego "github.com/stripe/stripe-go/v76"

	"acpgw/providers"
)

// Codes of errors the provider makes itself (not Stripe's).
const (
	// CodeNetworkTokenUnsupported: the vault credential is a network token
	// with a cryptogram, which Stripe's raw card details do not take. Nothing
	// was sent; the gateway may fail over to a processor that takes it.
	CodeNetworkTokenUnsupported = "network_token_unsupported"
	// CodeUnsupportedToken: the instrument is of a kind Stripe cannot take.
	CodeUnsupportedToken = "unsupported_token"
	// CodeNotSent: the call failed before a connection to Stripe was made
	// (cancelled context, DNS, dial, TLS handshake).
	CodeNotSent = "not_sent"
	// CodeNoAnswer: the request may have reached Stripe but no usable answer
	// came back (timeout, reset, undecodable body).
	CodeNoAnswer = "no_answer"
	// CodeUnexpectedStatus: Stripe answered with a PaymentIntent or refund
	// status the provider cannot read as a result.
	CodeUnexpectedStatus = "unexpected_status"
)

// rejectedCodes are Stripe error codes that say a capture, void or refund
// does not fit the payment's state or amounts. Stripe changed nothing.
var rejectedCodes = map[stripego.ErrorCode]bool{
	stripego.ErrorCodeAmountTooLarge:                    true,
	stripego.ErrorCodeAmountTooSmall:                    true,
	stripego.ErrorCodeCaptureChargeAuthorizationExpired: true,
	stripego.ErrorCodeCaptureUnauthorizedPayment:        true,
	stripego.ErrorCodeChargeAlreadyCaptured:             true,
	stripego.ErrorCodeChargeAlreadyRefunded:             true,
	stripego.ErrorCodeChargeDisputed:                    true,
	stripego.ErrorCodeChargeExpiredForCapture:           true,
	stripego.ErrorCodeChargeNotRefundable:               true,
	stripego.ErrorCodeIntentInvalidState:                true,
	stripego.ErrorCodeInvalidChargeAmount:               true,
	stripego.ErrorCodePaymentIntentUnexpectedState:      true,
	stripego.ErrorCodeRefundDisputedPayment:             true,
	stripego.ErrorCodeStatusTransitionInvalid:           true,
	stripego.ErrorCodeBalanceInsufficient:               true,
}

// Retries of a request whose idempotency key Stripe reports in use (409
// idempotency_key_in_use): another request with the same key is still
// executing at Stripe. Waiting and re-sending with the same key is safe (it
// can only replay that request's answer) and turns a concurrent duplicate
// into the original's result. These are the provider's only re-sends
// (stripe-go's MaxNetworkRetries is 0 and the HTTP client makes none, see
// providers.SendOnce), and each is logged and reported to Config.OnRetry.
const (
	maxInUseRetries = 6
	firstInUseDelay = 25 * time.Millisecond
)

// sendTrace records whether a request obtained a connection. Until it has,
// no byte of the request can have reached Stripe: a failure then (DNS, dial,
// TLS handshake, a context ended early) surely processed nothing.
type sendTrace struct{ gotConn atomic.Bool }

func (t *sendTrace) context(ctx context.Context) context.Context {
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		GotConn: func(httptrace.GotConnInfo) { t.gotConn.Store(true) },
	})
}

// send runs one Stripe call of operation op with idempotency key key under
// the processor's timeout, traced, and re-sends it while Stripe reports the
// key in use. sent reports whether any request of the call may have reached
// Stripe.
func (c *Client) send(ctx context.Context, op providers.Operation, key string, call func(ctx context.Context) error) (sent bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	ctx, cancel := c.callContext(ctx)
	defer cancel()
	delay := firstInUseDelay
	for attempt := 0; ; attempt++ {
		tr := &sendTrace{}
		err = call(tr.context(ctx))
		sent = sent || tr.gotConn.Load()
		if !keyInUse(err) || attempt == maxInUseRetries {
			return sent, err
		}
		c.retrying(ctx, op, key, attempt+1, delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return sent, err
		case <-t.C:
		}
		delay *= 2
	}
}

// retrying logs and reports the re-send of a request after attempt answers
// "key in use", before waiting wait.
func (c *Client) retrying(ctx context.Context, op providers.Operation, key string, attempt int, wait time.Duration) {
	c.log.LogAttrs(ctx, slog.LevelInfo, "stripe: idempotency key in use at Stripe; re-sending with the same key",
		slog.String("processor", c.name), slog.String("operation", string(op)), slog.String("reason", providers.RetryInProgress),
		slog.String("idempotency_key", key), slog.Int("attempt", attempt), slog.Duration("wait", wait))
	if c.onRetry != nil {
		c.onRetry(op, providers.RetryInProgress)
	}
}

func keyInUse(err error) bool {
	var se *stripego.Error
	return errors.As(err, &se) && se.Code == stripego.ErrorCodeIdempotencyKeyInUse
}

// classify turns a failed Stripe call into one of the provider error classes.
// Card errors of an authorization are not errors; Authorize handles them
// before it calls classify.
func classify(op providers.Operation, sent bool, err error) error {
	var se *stripego.Error
	if !errors.As(err, &se) {
		return classifyTransport(sent, err)
	}
	code := string(se.Code)
	if code == "" {
		code = string(se.Type)
	}
	if code == "" {
		code = strconv.Itoa(se.HTTPStatusCode)
	}
	cause := sanitize(se)
	switch {
	case se.Code == stripego.ErrorCodeIdempotencyKeyInUse:
		// 409 after the retries: Stripe did not act on this request, but
		// another request with the same key (the same attempt, re-sent
		// after a timeout or from another replica) is still executing and
		// may charge. Failing over now could charge the buyer twice, so the
		// attempt's outcome is unknown until a later re-send replays it.
		return providers.OutcomeUnknown(code, cause)
	case se.Type == stripego.ErrorTypeIdempotency:
		if op == providers.OpAuthorize {
			// Same key, different parameters: a request with this key was
			// processed before (typically the first send of this attempt,
			// which still had the CVC). It may have charged.
			return providers.OutcomeUnknown("idempotency_error", cause)
		}
		return providers.Rejected("idempotency_error", cause)
	case se.HTTPStatusCode >= 500:
		return providers.OutcomeUnknown(code, cause)
	case se.HTTPStatusCode == http.StatusTooManyRequests:
		// Rate limits and lock timeouts: Stripe refused before executing.
		return providers.NotProcessed(code, cause)
	case op != providers.OpAuthorize && (rejectedCodes[se.Code] || se.Type == stripego.ErrorTypeCard ||
		(se.HTTPStatusCode == http.StatusBadRequest && se.Code == "" && se.Param == "amount")):
		return providers.Rejected(code, cause)
	case se.HTTPStatusCode >= 400:
		// 400 invalid request, 401/403 authentication and permission, 404
		// unknown object: Stripe validates before it executes, and stores no
		// idempotent result for requests that failed validation.
		return providers.NotProcessed(code, cause)
	default:
		return providers.OutcomeUnknown(code, cause)
	}
}

// classifyTransport classifies an error that is not a Stripe error object:
// connection and timeout failures, or an answer that did not decode.
func classifyTransport(sent bool, err error) error {
	cause := errors.New(redact(err.Error()))
	var op *net.OpError
	var dns *net.DNSError
	switch {
	case !sent:
		return providers.NotProcessed(CodeNotSent, cause)
	case errors.As(err, &op) && op.Op == "dial", errors.As(err, &dns):
		return providers.NotProcessed(CodeNotSent, cause)
	case errors.Is(err, context.DeadlineExceeded):
		return providers.OutcomeUnknown("timeout", cause)
	default:
		return providers.OutcomeUnknown(CodeNoAnswer, cause)
	}
}

// apiError is a Stripe error object reduced to what may be logged: no
// PaymentIntent, PaymentMethod or source objects, the message redacted.
type apiError struct {
	Status      int
	Type        string
	Code        string
	DeclineCode string
	Param       string
	RequestID   string
	Message     string
}

// ProcessorRequestID is Stripe's Request-Id of the failed request.
func (e *apiError) ProcessorRequestID() string { return e.RequestID }

func (e *apiError) Error() string {
	s := fmt.Sprintf("stripe %d %s", e.Status, e.Type)
	if e.Code != "" {
		s += "/" + e.Code
	}
	if e.DeclineCode != "" {
		s += "/" + e.DeclineCode
	}
	if e.Param != "" {
		s += " (param " + e.Param + ")"
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RequestID != "" {
		s += " [" + e.RequestID + "]"
	}
	return s
}

func sanitize(se *stripego.Error) *apiError {
	return &apiError{
		Status:      se.HTTPStatusCode,
		Type:        string(se.Type),
		Code:        string(se.Code),
		DeclineCode: string(se.DeclineCode),
		Param:       se.Param,
		RequestID:   se.RequestID,
		Message:     redact(se.Msg),
	}
}

// cardLike matches runs of 12 to 19 digits, optionally separated by spaces
// or dashes: anything that might be a card number.
var cardLike = regexp.MustCompile(`\d(?:[ -]?\d){11,18}`)

// redact removes anything that looks like a card number from s. Stripe does
// not echo card numbers, but messages of outside origin are treated as
// untrusted before they reach an error or a log line.
func redact(s string) string {
	return cardLike.ReplaceAllString(s, "[redacted]")
}
