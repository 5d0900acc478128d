package acp

import (
	"fmt"
	"net/http"
	"slices"
)

// Error is the ACP flat error object plus the HTTP status it is sent with.
// Message and Param never contain a card number or a CVC.
type Error struct {
	Status  int    `json:"-"`
	Type    string `json:"type"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Param   string `json:"param,omitempty"` // JSON path like "$.payment_method.exp_month"
	// Cause is the error behind it, if any, for errors.Is; it is never
	// sent.
	Cause error `json:"-"`
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// Error implements the error interface.
func (e *Error) Error() string {
	if e.Param != "" {
		return fmt.Sprintf("acp: %d %s/%s at %s: %s", e.Status, e.Type, e.Code, e.Param, e.Message)
	}
	return fmt.Sprintf("acp: %d %s/%s: %s", e.Status, e.Type, e.Code, e.Message)
}

// Errorf builds an *Error. The message is formatted with fmt.Sprintf; never
// pass a card number, CVC or key among args.
func Errorf(status int, typ, code, param, format string, args ...any) *Error {
	return &Error{Status: status, Type: typ, Code: code, Message: fmt.Sprintf(format, args...), Param: param}
}

// Error types of the Delegate Payment Error schema (the same four in both
// supported versions).
const (
	// TypeInvalidRequest is the type of every error caused by the request itself.
	TypeInvalidRequest = "invalid_request"
	// TypeRateLimitExceeded is the type of a 429 answer.
	TypeRateLimitExceeded = "rate_limit_exceeded"
	// TypeProcessingError is the type of a 5xx answer caused by acpgw or a processor.
	TypeProcessingError = "processing_error"
	// TypeServiceUnavailable is the type of a 503 answer.
	TypeServiceUnavailable = "service_unavailable"
)

// Error codes of the Delegate Payment Error schema. The first four exist in
// every supported version; CodeIdempotencyKeyRequired and
// CodeIdempotencyInFlight only from 2026-04-17 (see DelegateErrorCodes).
const (
	// CodeInvalidCard is the only Delegate Payment code for bad input: acpgw uses it for every field of the request.
	CodeInvalidCard = "invalid_card"
	// CodeDuplicateRequest says the same request was already processed.
	CodeDuplicateRequest = "duplicate_request"
	// CodeIdempotencyConflict says the Idempotency-Key was used with a different body (409 up to 2025-09-29, 422 from 2026-04-17).
	CodeIdempotencyConflict = "idempotency_conflict"
	// CodeTooManyRequests goes with TypeRateLimitExceeded on a 429.
	CodeTooManyRequests = "too_many_requests"
	// CodeIdempotencyKeyRequired says the Idempotency-Key header is missing (400, from 2026-04-17).
	CodeIdempotencyKeyRequired = "idempotency_key_required"
	// CodeIdempotencyInFlight says a request with the same Idempotency-Key is still running (409 with Retry-After, from 2026-04-17).
	CodeIdempotencyInFlight = "idempotency_in_flight"
)

// Error codes of acpgw's own API (POST /v1/payments and the operations on a
// payment). They are not part of the Delegate Payment Error enum and must
// never be sent on /agentic_commerce/delegate_payment.
//
// The request decoders use a deliberately small set:
//   - CodeInvalidRequest, 400: the body is not one JSON object, has a
//     duplicate or unknown key, a value of the wrong JSON type, a number
//     that is not an integer, a string too long, or a value outside its
//     enumeration, or mixes the two payment_data shapes.
//   - CodeMissingField, 400: a required field is absent.
//   - CodeInvalidAmount, 422: an integer amount that is not positive or
//     does not fit int64 minor units.
//   - CodeInvalidCurrency, 422: a well-formed lowercase code acpgw does not
//     know (payment.ValidCurrency).
//   - CodeTokenInvalid, 422: a payment token without a known prefix or with
//     characters a token never has.
//   - CodeAuthenticationFailed, 422: an authentication_result whose outcome
//     must not be charged (acp/authentication.go).
//   - CodeInvalidRequest with 422: a value the schema allows but that
//     cannot be right (a cryptogram that is not base64 of 20 bytes).
//
// The remaining codes are for the gateway's checks of the token, its
// allowance and the operations on a payment (the README's error table):
// the gateway makes its errors with them where it decides them, each
// wrapping the payment sentinel error it stands for.
const (
	// CodeInvalidRequest is a malformed or schema-violating body (400).
	CodeInvalidRequest = "invalid_request"
	// CodeMissingField is a required field that is absent (400).
	CodeMissingField = "missing_field"
	// CodeInvalidAmount is an amount that is not positive or overflows int64 (422).
	CodeInvalidAmount = "invalid_amount"
	// CodeInvalidCurrency is a well-formed currency acpgw does not know (422).
	CodeInvalidCurrency = "invalid_currency"
	// CodeTokenInvalid is a token that is malformed or unknown (422).
	CodeTokenInvalid = "token_invalid"
	// CodeTokenExpired is a token whose allowance has expired (422).
	CodeTokenExpired = "token_expired"
	// CodeTokenConsumed is a single-use token already used (422).
	CodeTokenConsumed = "token_consumed"
	// CodeAllowanceExceeded is an amount above the allowance (422).
	CodeAllowanceExceeded = "allowance_exceeded"
	// CodeCurrencyMismatch is a currency that differs from the allowance (422).
	CodeCurrencyMismatch = "currency_mismatch"
	// CodeMerchantMismatch is a token delegated to another merchant (422).
	CodeMerchantMismatch = "merchant_mismatch"
	// CodeCheckoutSessionMismatch is a token bound to another checkout session (422).
	CodeCheckoutSessionMismatch = "checkout_session_mismatch"
	// CodeTokenNotRoutable is a token kind no processor of the merchant takes (422).
	CodeTokenNotRoutable = "token_not_routable"
	// CodeAmountTooLarge is a capture or refund above what the payment allows (422).
	CodeAmountTooLarge = "amount_too_large"
	// CodeInvalidState is an operation the payment's status does not allow (409).
	CodeInvalidState = "invalid_state"
	// CodeOperationInProgress is an operation while another on the same payment is pending (409).
	CodeOperationInProgress = "operation_in_progress"
	// CodeNotFound is a payment (or route) that does not exist for the caller (404).
	CodeNotFound = "not_found"
	// CodeForbidden is a merchant_id other than the authenticated merchant's (403).
	CodeForbidden = "forbidden"
	// CodeUnknownMerchant is a merchant this gateway does not serve (422).
	CodeUnknownMerchant = "unknown_merchant"
	// CodeServiceUnavailable goes with TypeServiceUnavailable on a 503: no
	// processor could take the payment, or the store is down.
	CodeServiceUnavailable = "service_unavailable"
)

// DelegateErrorTypes lists, per API version, the values the Delegate
// Payment Error schema allows in "type". The examples in the spec's
// openapi.delegate_payment.yaml for 401/429/500/503 use other values
// (unauthorized, internal_server_error, ...); those are spec defects and
// acpgw never sends them.
var DelegateErrorTypes = func() map[string][]string {
	m := make(map[string][]string, len(versionRules))
	for v, r := range versionRules {
		m[v] = r.errorTypes
	}
	return m
}()

// DelegateErrorCodes lists, per API version, the values the Delegate Payment
// Error schema allows in "code".
var DelegateErrorCodes = func() map[string][]string {
	m := make(map[string][]string, len(versionRules))
	for v, r := range versionRules {
		m[v] = r.errorCodes
	}
	return m
}()

// ValidDelegateError reports whether e's type and code are inside the enums
// of version's Delegate Payment Error schema, so the api package can check
// an error before sending it on the delegate_payment route.
func (e *Error) ValidDelegateError(version string) bool {
	return e != nil && e.Message != "" &&
		slices.Contains(DelegateErrorTypes[version], e.Type) &&
		slices.Contains(DelegateErrorCodes[version], e.Code)
}

// Status codes the decoders use. The Delegate Payment spec (both versions)
// documents 400 for a malformed request ("card field is required") and 422
// for a semantic validation error ("Invalid card expiration month"): acpgw
// answers 400 when the body breaks the JSON syntax or the version's JSON
// schema, and 422 when it is schema-valid but its values cannot be right
// (Luhn, expiry, unknown currency, allowance already expired, ...).
const (
	statusSchema   = http.StatusBadRequest
	statusSemantic = http.StatusUnprocessableEntity
)
