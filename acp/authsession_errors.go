package acp

import (
	"net/http"
	"slices"
)

// AuthenticationErrorTypes are the values the Delegate Authentication Error
// schema (2026-04-17) allows in "type".
var AuthenticationErrorTypes = []string{TypeInvalidRequest, TypeRateLimitExceeded, TypeProcessingError, TypeServiceUnavailable}

// AuthenticationErrorCodes are the values the Delegate Authentication Error
// schema (2026-04-17) allows in "code": fewer than delegate_payment's, with
// no code for a rate limit, a missing Idempotency-Key or a request still in
// flight.
var AuthenticationErrorCodes = []string{CodeInvalidCard, CodeDuplicateRequest, CodeIdempotencyConflict}

// AuthenticationConflictStatus is the status of idempotency_conflict on the
// Delegate Authentication routes: the RFC's section 7 says 409 (where
// delegate_payment 2026-04-17 says 422).
const AuthenticationConflictStatus = http.StatusConflict

// ValidAuthenticationError reports whether e fits the Delegate
// Authentication Error schema: a message, and type and code inside its
// enums. The decoders of this API only return such errors.
func (e *Error) ValidAuthenticationError() bool {
	return e != nil && e.Message != "" &&
		slices.Contains(AuthenticationErrorTypes, e.Type) &&
		slices.Contains(AuthenticationErrorCodes, e.Code)
}

// AuthenticationError returns the error sent for e on a Delegate
// Authentication route: e itself when it fits the Error schema, else a copy
// with the closest type and code the schema allows, the meaning kept in
// status, message and param. The choices, for what the gateway and the api
// make:
//
//   - idempotency_conflict keeps its code, with status 409 (RFC section 7).
//   - A request that collides with one still running (409 idempotency_in_flight
//     or operation_in_progress) is duplicate_request: the same request is
//     already being processed.
//   - Every other 4xx about the request or the session it names (400, 404
//     for an unknown session, 413, 415, 422: a malformed body, a missing
//     Idempotency-Key, an unknown merchant, a session in a state that
//     refuses the call) is invalid_request with invalid_card. That code is
//     the schema's only one for bad input, and the spec's own example uses
//     it for any malformed field, so clients read it as "this request is
//     wrong"; the status says which way (404: no such session).
//
// What the enums have no value for keeps an honest code, as on
// delegate_payment (upstream ACP issue 161), and fails
// ValidAuthenticationError: 401 and 403 (no code says "not authorised"),
// 405, 429
// (type rate_limit_exceeded, but no rate-limit code) and 5xx (types
// processing_error and service_unavailable are in the enum, no code is).
// Sending invalid_card or duplicate_request there would tell a client
// something false about its card or its request, and a client that trusts
// duplicate_request might never retry a create that did not happen.
func AuthenticationError(e *Error) *Error {
	if e == nil {
		return nil
	}
	out := *e
	switch {
	case e.Code == CodeIdempotencyConflict:
		out.Type, out.Status = TypeInvalidRequest, AuthenticationConflictStatus
	case e.ValidAuthenticationError():
	case e.Status == http.StatusConflict && (e.Code == CodeIdempotencyInFlight || e.Code == CodeOperationInProgress):
		out.Type, out.Code = TypeInvalidRequest, CodeDuplicateRequest
	case e.Status == http.StatusTooManyRequests:
		out.Type = TypeRateLimitExceeded
	case e.Status >= 500:
	case e.Status == http.StatusUnauthorized, e.Status == http.StatusForbidden, e.Status == http.StatusMethodNotAllowed:
	case e.Status >= 400:
		out.Type, out.Code = TypeInvalidRequest, CodeInvalidCard
	}
	if out.Message == "" {
		out.Message = http.StatusText(out.Status)
	}
	return &out
}
