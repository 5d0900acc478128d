package adyen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"strconv"
	"sync/atomic"
	"time"

	"acpgw/providers"
)

// maxResponseBytes caps what is read of an answer; Adyen's are a few KB.
const maxResponseBytes = 1 << 20

// errorCodeInProgress is Adyen's errorCode for a request whose
// Idempotency-Key belongs to a request still being processed. Adyen marks
// it transient (Transient-Error: true): the same request may be re-sent
// later and then gets the first request's answer.
const errorCodeInProgress = "704"

// inProgressRetries is how often a request answered errorCodeInProgress is
// re-sent, with inProgressBackoff times the attempt number between them,
// before the caller is told the outcome is unknown. Each re-send carries the
// same Idempotency-Key, so it can only ever replay the first request's
// answer. These are the client's only re-sends (the HTTP client makes none,
// see providers.SendOnce), and each is logged and reported to
// Config.OnRetry.
const (
	inProgressRetries = 5
	inProgressBackoff = 40 * time.Millisecond
)

// Errors of the client itself; test for them with errors.Is.
var (
	// ErrIdempotencyKeyTooLong: the key is longer than Adyen accepts, so
	// the request is not sent.
	ErrIdempotencyKeyTooLong = errors.New("adyen: idempotency key longer than 64 characters")
	// ErrBadResponse: Adyen answered 2xx with a body acpgw cannot read.
	ErrBadResponse = errors.New("adyen: unreadable response")
)

// APIError is an error answer of the Checkout API (both body forms).
type APIError struct {
	// HTTPStatus is the answer's status code.
	HTTPStatus int
	// Code is Adyen's errorCode (e.g. 101, 167, 010), "" when absent.
	Code string
	// Type is Adyen's errorType (validation, security, internal) or the
	// RFC 7807 type URI.
	Type string
	// Message is Adyen's message; Adyen does not echo card data in it.
	Message string
	// PSPReference is the reference of the failed request, if given.
	PSPReference string
}

// ProcessorRequestID is the pspReference Adyen gave the failed request.
func (e *APIError) ProcessorRequestID() string { return e.PSPReference }

// Error implements error.
func (e *APIError) Error() string {
	s := "adyen: HTTP " + strconv.Itoa(e.HTTPStatus)
	if e.Code != "" {
		s += " errorCode " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// call is one POST to the Checkout API.
type call struct {
	op   string // authorize, capture, void, refund: for messages
	path string
	key  string
	body any
	// modification: a 422 means the operation is invalid for the payment
	// (providers.ErrRejected) rather than a malformed request.
	modification bool
}

// do sends c and decodes a 2xx answer into out. Its error is classified
// for the gateway's failover rule (see classify).
func (cl *Client) do(ctx context.Context, c call, out any) error {
	if len(c.key) > MaxIdempotencyKeyLen {
		return providers.NotProcessed("idempotency_key_too_long",
			fmt.Errorf("%w (%d characters)", ErrIdempotencyKeyTooLong, len(c.key)))
	}
	body, err := json.Marshal(c.body)
	if err != nil {
		return providers.NotProcessed("encode", fmt.Errorf("adyen: encode %s request: %w", c.op, err))
	}
	for attempt := 1; ; attempt++ {
		err := cl.send(ctx, c, body, out)
		var apiErr *APIError
		if attempt > inProgressRetries || !errors.As(err, &apiErr) || apiErr.Code != errorCodeInProgress {
			return err
		}
		wait := time.Duration(attempt) * inProgressBackoff
		cl.retrying(ctx, c, attempt, wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return err // in progress: unknown, like the last answer
		case <-t.C:
		}
	}
}

// retrying logs and reports the re-send of c after attempt answers "in
// progress", before waiting wait.
func (cl *Client) retrying(ctx context.Context, c call, attempt int, wait time.Duration) {
	cl.logger.LogAttrs(ctx, slog.LevelInfo, "adyen: request in progress at Adyen; re-sending with the same Idempotency-Key",
		slog.String("processor", cl.name), slog.String("operation", c.op), slog.String("reason", providers.RetryInProgress),
		slog.String("idempotency_key", c.key), slog.Int("attempt", attempt), slog.Duration("wait", wait))
	if cl.onRetry != nil {
		cl.onRetry(providers.Operation(c.op), providers.RetryInProgress)
	}
}

// send makes one HTTP exchange.
func (cl *Client) send(ctx context.Context, c call, body []byte, out any) error {
	ctx, cancel := cl.callContext(ctx)
	defer cancel()
	// wrote records whether the request reached the wire: an error before
	// that means Adyen cannot have acted on it.
	var wrote atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				wrote.Store(true)
			}
		},
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, cl.baseURL+c.path, bytes.NewReader(body))
	if err != nil {
		return providers.NotProcessed("request", fmt.Errorf("adyen: build %s request: %w", c.op, err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("X-API-Key", cl.apiKey)
	if c.key != "" {
		req.Header.Set("Idempotency-Key", c.key)
	}
	resp, err := cl.http.Do(req)
	if err != nil {
		// Not written: connection refused, DNS or TLS failure, or a context
		// that ended before sending. Written: a timeout or reset after
		// Adyen may have acted. The URL in *url.Error carries no secret.
		if !wrote.Load() {
			return providers.NotProcessed("connect", fmt.Errorf("adyen: %s not sent: %w", c.op, err))
		}
		return providers.OutcomeUnknown("timeout", fmt.Errorf("adyen: %s sent, no answer: %w", c.op, err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		// The status line arrived but the body did not: whatever it said,
		// acpgw cannot know what happened.
		return providers.OutcomeUnknown("read", fmt.Errorf("adyen: %s answer cut short: %w", c.op, err))
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			return providers.OutcomeUnknown("bad_response", fmt.Errorf("%w to %s: %v", ErrBadResponse, c.op, err))
		}
		return nil
	}
	return classify(c, resp.StatusCode, data)
}

// classify turns an error answer into a classified error. The reasons:
//
//   - 5xx: Adyen may have processed the request before failing (its docs
//     advise re-sending with the same Idempotency-Key), so the outcome is
//     unknown.
//   - 400, 401, 403, 404, 405, 413, 415: the request was not understood,
//     not authenticated or not allowed; Adyen rejects these before
//     processing anything.
//   - 429: rate limited before processing.
//   - 422 on /payments: a validation error (invalid card number, missing
//     field); Adyen documents these as not processed, nothing is charged.
//   - 422 on a modification: the capture, cancel or refund is invalid for
//     this payment (unknown or wrong pspReference, amount); nothing
//     changed, so it is a rejection, not a failover reason.
//   - 422 errorCode 704: a request with this Idempotency-Key was already
//     processed or is still in progress at Adyen. The first request with the
//     key may be charging the card right now, so the outcome is unknown: a
//     failover here could charge the buyer twice. Checked before the
//     modification rule, since a capture in progress is not a rejection.
//   - anything else (1xx, 3xx, unexpected 4xx): unknown, the safe reading.
func classify(c call, status int, data []byte) error {
	var se serviceError
	_ = json.Unmarshal(data, &se) // a body that is not JSON leaves se empty
	apiErr := &APIError{HTTPStatus: status, Code: se.ErrorCode, Type: se.ErrorType, Message: se.text(), PSPReference: se.PSPReference}
	if apiErr.Type == "" {
		apiErr.Type = se.Type
	}
	code := se.ErrorCode
	if code == "" {
		code = strconv.Itoa(status)
	}
	switch {
	case status >= 500:
		return providers.OutcomeUnknown(code, apiErr)
	case status == http.StatusUnprocessableEntity && se.ErrorCode == errorCodeInProgress:
		return providers.OutcomeUnknown(code, apiErr)
	case status == http.StatusUnprocessableEntity && c.modification:
		return providers.Rejected(code, apiErr)
	case status == http.StatusUnprocessableEntity,
		status == http.StatusBadRequest, status == http.StatusUnauthorized, status == http.StatusForbidden,
		status == http.StatusNotFound, status == http.StatusMethodNotAllowed,
		status == http.StatusRequestEntityTooLarge, status == http.StatusUnsupportedMediaType,
		status == http.StatusTooManyRequests:
		return providers.NotProcessed(code, apiErr)
	default:
		return providers.OutcomeUnknown(code, apiErr)
	}
}
