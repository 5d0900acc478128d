package api

import (
	"errors"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"acpgw/acp"
	"acpgw/gateway"
	"acpgw/payment"
	"acpgw/store"
)

// Codes acpgw's own API adds to the ACP ones, for errors that are not about
// the request body.
const (
	codeUnauthorized        = "unauthorized"
	codeForbidden           = "forbidden"
	codeNotFound            = "not_found"
	codeUnsupportedVersion  = "unsupported_api_version"
	codeUnsupportedMedia    = "unsupported_media_type"
	codeBodyTooLarge        = "request_too_large"
	codeInvalidState        = gateway.CodeInvalidState
	codeAmountTooLarge      = "amount_too_large"
	codeOperationInProgress = "operation_in_progress"
	codeServiceUnavailable  = "service_unavailable"
	codeInternal            = "internal_error"
	codeUnknownMerchant     = "unknown_merchant"
)

// errorFor maps any error to the status and ACP error object sent for it.
// It is the one place where errors become HTTP.
func errorFor(err error) *acp.Error {
	var ae *acp.Error
	if errors.As(err, &ae) {
		return ae
	}
	msg := publicMessage(err)
	switch {
	case errors.Is(err, payment.ErrTokenInvalid):
		return acp.Errorf(http.StatusUnprocessableEntity, acp.TypeInvalidRequest, acp.CodeTokenInvalid, "$.payment_data", "%s", msg)
	case errors.Is(err, payment.ErrTokenExpired):
		return acp.Errorf(http.StatusUnprocessableEntity, acp.TypeInvalidRequest, acp.CodeTokenExpired, "$.payment_data", "%s", msg)
	case errors.Is(err, payment.ErrTokenConsumed):
		return acp.Errorf(http.StatusUnprocessableEntity, acp.TypeInvalidRequest, acp.CodeTokenConsumed, "$.payment_data", "%s", msg)
	case errors.Is(err, payment.ErrAllowanceExceeded):
		return acp.Errorf(http.StatusUnprocessableEntity, acp.TypeInvalidRequest, acp.CodeAllowanceExceeded, "$.amount", "%s", msg)
	case errors.Is(err, payment.ErrCurrencyMismatch):
		return acp.Errorf(http.StatusUnprocessableEntity, acp.TypeInvalidRequest, acp.CodeCurrencyMismatch, "$.currency", "%s", msg)
	case errors.Is(err, payment.ErrMerchantMismatch):
		return acp.Errorf(http.StatusUnprocessableEntity, acp.TypeInvalidRequest, acp.CodeMerchantMismatch, "$.payment_data", "%s", msg)
	case errors.Is(err, payment.ErrCheckoutSessionMismatch):
		return acp.Errorf(http.StatusUnprocessableEntity, acp.TypeInvalidRequest, acp.CodeCheckoutSessionMismatch, "$.checkout_session_id", "%s", msg)
	case errors.Is(err, payment.ErrTokenNotRoutable):
		return acp.Errorf(http.StatusUnprocessableEntity, acp.TypeInvalidRequest, acp.CodeTokenNotRoutable, "$.payment_data", "%s", msg)
	case errors.Is(err, payment.ErrInvalidAmount), errors.Is(err, payment.ErrOverflow):
		return acp.Errorf(http.StatusUnprocessableEntity, acp.TypeInvalidRequest, acp.CodeInvalidAmount, "$.amount", "%s", msg)
	case errors.Is(err, payment.ErrUnknownCurrency):
		return acp.Errorf(http.StatusUnprocessableEntity, acp.TypeInvalidRequest, acp.CodeInvalidCurrency, "$.currency", "%s", msg)
	case errors.Is(err, payment.ErrAmountTooLarge):
		return acp.Errorf(http.StatusUnprocessableEntity, acp.TypeInvalidRequest, codeAmountTooLarge, "$.amount", "%s", msg)
	case errors.Is(err, payment.ErrInvalidState):
		return acp.Errorf(http.StatusConflict, acp.TypeInvalidRequest, codeInvalidState, "", "%s", msg)
	case errors.Is(err, payment.ErrConflict):
		return acp.Errorf(http.StatusConflict, acp.TypeInvalidRequest, codeOperationInProgress, "", "%s", msg)
	case errors.Is(err, payment.ErrNotFound):
		return acp.Errorf(http.StatusNotFound, acp.TypeInvalidRequest, codeNotFound, "", "no such payment")
	case errors.Is(err, gateway.ErrForbidden):
		return acp.Errorf(http.StatusForbidden, acp.TypeInvalidRequest, codeForbidden, "$.merchant_id", "%s", msg)
	case errors.Is(err, gateway.ErrUnknownMerchant):
		return acp.Errorf(http.StatusUnprocessableEntity, acp.TypeInvalidRequest, codeUnknownMerchant, "$.merchant_id", "%s", msg)
	case errors.Is(err, payment.ErrNoProcessor):
		return acp.Errorf(http.StatusServiceUnavailable, acp.TypeServiceUnavailable, codeServiceUnavailable, "", "no processor could take the payment now; nothing was charged and the token can be used again")
	case errors.Is(err, store.ErrUnavailable):
		return acp.Errorf(http.StatusServiceUnavailable, acp.TypeServiceUnavailable, codeServiceUnavailable, "", "storage is unavailable; retry shortly (a POST with the same Idempotency-Key)")
	default:
		return acp.Errorf(http.StatusInternalServerError, acp.TypeProcessingError, codeInternal, "", "internal error; retry shortly (a POST with the same Idempotency-Key)")
	}
}

// publicMessage is the part of an error's text safe to show: the text after
// the sentinel prefix, which acpgw's own packages write without card data.
func publicMessage(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 && i+2 < len(msg) {
		return msg[i+2:]
	}
	return msg
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
