package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"acpgw/acp"
	"acpgw/payment"
)

// Codes acpgw's own API adds to the ACP ones, for errors that are not about
// the request body. The gateway makes its errors with acp's codes; the
// ones the api makes too are named here after them. Every code constant of
// this package, acp and gateway is in the ErrorCode enum of
// api/openapi.yaml (a test in api/apitest compares them).
const (
	codeUnauthorized        = "unauthorized"
	codeNotFound            = acp.CodeNotFound
	codeMethodNotAllowed    = "method_not_allowed"
	codeUnsupportedVersion  = "unsupported_api_version"
	codeUnsupportedMedia    = "unsupported_media_type"
	codeBodyTooLarge        = "request_too_large"
	codeOperationInProgress = acp.CodeOperationInProgress
	codeServiceUnavailable  = acp.CodeServiceUnavailable
	codeInternal            = "internal_error"
	codeUnknownMerchant     = acp.CodeUnknownMerchant
)

// errorFor maps any error to the status and ACP error object sent for it.
// It is the one place where errors become HTTP: an *acp.Error, made where
// the error arose with its status, code and a message for the caller, is
// sent as it is; any other error is the gateway's own failure, and its text
// goes to the logs only.
func errorFor(err error) *acp.Error {
	var ae *acp.Error
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.Is(err, payment.ErrUnavailable):
		return errStoreUnavailable
	default:
		return acp.Errorf(http.StatusInternalServerError, acp.TypeProcessingError, codeInternal, "", "internal error; %s", retryShortly)
	}
}

// retryShortly ends the message of a 5xx that a retry may cure. On a
// request with an Idempotency-Key, publicError adds that the retry takes the
// same key; a GET has none, so its message says nothing of one.
const retryShortly = "retry shortly"

// errStoreUnavailable is the answer while the store cannot be reached: to
// reads and writes alike, and to /readyz.
var errStoreUnavailable = acp.Errorf(http.StatusServiceUnavailable, acp.TypeServiceUnavailable, codeServiceUnavailable, "",
	"storage is unavailable; %s", retryShortly)

// fail aborts the request with err rendered as an ACP error. On the
// delegate_payment and delegate_authentication routes the code must be one
// of their spec's Error enum; acpgw-only codes are replaced by the spec's
// generic card code there, with the meaning kept in the message and param.
func fail(c *gin.Context, err error) {
	e := publicError(c, err)
	if e.Status >= 500 {
		logError(c, err)
	}
	c.AbortWithStatusJSON(e.Status, e)
}

// publicError is the ACP error sent for err on this request's route.
func publicError(c *gin.Context, err error) *acp.Error {
	e := errorFor(err)
	if e.Status >= 500 && strings.HasSuffix(e.Message, retryShortly) && c.GetHeader("Idempotency-Key") != "" {
		out := *e
		out.Message += " with the same Idempotency-Key"
		e = &out
	}
	switch {
	case c.GetBool(ctxDelegate):
		e = delegateError(c.GetString(ctxVersion), e)
	case c.GetBool(ctxAuthentication):
		e = acp.AuthenticationError(e)
	}
	return e
}

// delegateError keeps an error on the delegate_payment route inside the
// version's Error enums where the enum has a fitting value. The enums have
// no value at all for authentication, server and availability failures
// (upstream ACP issue 161); those keep an honest code.
func delegateError(version string, e *acp.Error) *acp.Error {
	if version == "" || e.ValidDelegateError(version) {
		return e
	}
	out := *e
	switch {
	case e.Code == codeUnsupportedMedia:
		// The spec documents no 415: a wrong Content-Type breaks its
		// required header parameter, which it answers with 400.
		out.Status, out.Code = http.StatusBadRequest, acp.CodeInvalidCard
	case e.Status == http.StatusUnprocessableEntity || e.Status == http.StatusBadRequest:
		if e.Code != codeUnsupportedVersion {
			out.Code = acp.CodeInvalidCard
		}
	case e.Status == http.StatusTooManyRequests:
		out.Type, out.Code = acp.TypeRateLimitExceeded, acp.CodeTooManyRequests
	}
	return &out
}
