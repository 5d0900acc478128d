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
}

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
	TypeInvalidRequest     = "invalid_request"
	TypeRateLimitExceeded  = "rate_limit_exceeded"
	TypeProcessingError    = "processing_error"
	TypeServiceUnavailable = "service_unavailable"
)

// Error codes of the Delegate Payment Error schema. The first four exist in
// every supported version; CodeIdempotencyKeyRequired and
// CodeIdempotencyInFlight only from 2026-04-17 (see DelegateErrorCodes).
const (
	CodeInvalidCard            = "invalid_card"
	CodeDuplicateRequest       = "duplicate_request"
	CodeIdempotencyConflict    = "idempotency_conflict"
	CodeTooManyRequests        = "too_many_requests"
	CodeIdempotencyKeyRequired = "idempotency_key_required"
	CodeIdempotencyInFlight    = "idempotency_in_flight"
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
//
// The remaining token codes are for the gateway's allowance checks (DESIGN
// "Contract: HTTP API"); the api package maps the payment sentinel errors
// to them.
const (
	CodeInvalidRequest          = "invalid_request"
	CodeMissingField            = "missing_field"
	CodeInvalidAmount           = "invalid_amount"
	CodeInvalidCurrency         = "invalid_currency"
	CodeTokenInvalid            = "token_invalid"
	CodeTokenExpired            = "token_expired"
	CodeTokenConsumed           = "token_consumed"
	CodeAllowanceExceeded       = "allowance_exceeded"
	CodeCurrencyMismatch        = "currency_mismatch"
	CodeMerchantMismatch        = "merchant_mismatch"
	CodeCheckoutSessionMismatch = "checkout_session_mismatch"
	CodeTokenNotRoutable        = "token_not_routable"
)

// DelegateErrorTypes lists, per API version, the values the Delegate
// Payment Error schema allows in "type". The examples in the spec's
// openapi.delegate_payment.yaml for 401/429/500/503 use other values
// (unauthorized, internal_server_error, ...); those are spec defects and
// acpgw never sends them.
var DelegateErrorTypes = map[string][]string{
	Version20250929: {TypeInvalidRequest, TypeRateLimitExceeded, TypeProcessingError, TypeServiceUnavailable},
	Version20260417: {TypeInvalidRequest, TypeRateLimitExceeded, TypeProcessingError, TypeServiceUnavailable},
}

// DelegateErrorCodes lists, per API version, the values the Delegate Payment
// Error schema allows in "code".
var DelegateErrorCodes = map[string][]string{
	Version20250929: {CodeInvalidCard, CodeDuplicateRequest, CodeIdempotencyConflict, CodeTooManyRequests},
	Version20260417: {CodeInvalidCard, CodeDuplicateRequest, CodeIdempotencyConflict, CodeTooManyRequests,
		CodeIdempotencyKeyRequired, CodeIdempotencyInFlight},
}

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
