package api

import (
	"errors"
	"net/http"

	"github.com/gin-gonic/gin"

	"acpgw/acp"
	"acpgw/payment"
)

// Codes acpgw's own API adds to the ACP ones, for errors that are not about
// the request body. The gateway makes its errors with acp's codes; the
// ones the api makes too are named here after them.
const (
	codeUnauthorized        = "unauthorized"
	codeNotFound            = acp.CodeNotFound
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
		return acp.Errorf(http.StatusServiceUnavailable, acp.TypeServiceUnavailable, codeServiceUnavailable, "", "storage is unavailable; retry shortly (a POST with the same Idempotency-Key)")
	default:
		return acp.Errorf(http.StatusInternalServerError, acp.TypeProcessingError, codeInternal, "", "internal error; retry shortly (a POST with the same Idempotency-Key)")
	}
}

// fail aborts the request with err rendered as an ACP error. On the
// delegate_payment route the code must be one of the version's Error enum;
// acpgw-only codes are replaced by the spec's generic card code there, with
// the meaning kept in the message and param.
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
	if c.GetBool(ctxDelegate) {
		e = delegateError(c.GetString(ctxVersion), e)
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
