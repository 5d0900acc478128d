package gateway

import (
	"errors"
	"fmt"
	"net/http"

	"acpgw/acp"
	"acpgw/payment"
)

// The errors the service reports to its callers are made where it decides
// them, as *acp.Error values: the ACP flat error object with its HTTP
// status, a code, the request field at fault and a message written there
// for the caller. Each wraps the sentinel error it stands for, so
// errors.Is(err, payment.ErrTokenExpired) holds. The status, type, code and
// field of each sentinel come from publicForms, so every error of one kind
// looks alike wherever it arises; only the message is the site's own.
//
// A message is sent as it is: it may name amounts, currencies, statuses,
// ids and fields, never a card number, CVC or key.

// publicForm is how callers see one sentinel error.
type publicForm struct {
	kind   error
	status int
	typ    string
	code   string
	// param is the JSON path of the request field at fault, if one is.
	param string
}

// publicForms is the README's error table for the errors the service makes.
// The first form whose kind the cause wraps is the one used.
var publicForms = []publicForm{
	{payment.ErrTokenInvalid, http.StatusUnprocessableEntity, acp.TypeInvalidRequest, acp.CodeTokenInvalid, "$.payment_data"},
	{payment.ErrTokenExpired, http.StatusUnprocessableEntity, acp.TypeInvalidRequest, acp.CodeTokenExpired, "$.payment_data"},
	{payment.ErrTokenConsumed, http.StatusUnprocessableEntity, acp.TypeInvalidRequest, acp.CodeTokenConsumed, "$.payment_data"},
	{payment.ErrAllowanceExceeded, http.StatusUnprocessableEntity, acp.TypeInvalidRequest, acp.CodeAllowanceExceeded, "$.amount"},
	{payment.ErrCurrencyMismatch, http.StatusUnprocessableEntity, acp.TypeInvalidRequest, acp.CodeCurrencyMismatch, "$.currency"},
	{payment.ErrMerchantMismatch, http.StatusUnprocessableEntity, acp.TypeInvalidRequest, acp.CodeMerchantMismatch, "$.payment_data"},
	{payment.ErrCheckoutSessionMismatch, http.StatusUnprocessableEntity, acp.TypeInvalidRequest, acp.CodeCheckoutSessionMismatch, "$.checkout_session_id"},
	{payment.ErrTokenNotRoutable, http.StatusUnprocessableEntity, acp.TypeInvalidRequest, acp.CodeTokenNotRoutable, "$.payment_data"},
	{payment.ErrInvalidAmount, http.StatusUnprocessableEntity, acp.TypeInvalidRequest, acp.CodeInvalidAmount, "$.amount"},
	{payment.ErrOverflow, http.StatusUnprocessableEntity, acp.TypeInvalidRequest, acp.CodeInvalidAmount, "$.amount"},
	{payment.ErrUnknownCurrency, http.StatusUnprocessableEntity, acp.TypeInvalidRequest, acp.CodeInvalidCurrency, "$.currency"},
	{payment.ErrAmountTooLarge, http.StatusUnprocessableEntity, acp.TypeInvalidRequest, acp.CodeAmountTooLarge, "$.amount"},
	// Above the currency's maximum (amounts.max): well formed, but more than
	// the processors take; the field is the amount or the allowance's.
	{payment.ErrAboveMaximum, http.StatusBadRequest, acp.TypeInvalidRequest, acp.CodeInvalidRequest, "$.amount"},
	{payment.ErrInvalidState, http.StatusConflict, acp.TypeInvalidRequest, acp.CodeInvalidState, ""},
	{payment.ErrConflict, http.StatusConflict, acp.TypeInvalidRequest, acp.CodeOperationInProgress, ""},
	{ErrEventNotFound, http.StatusNotFound, acp.TypeInvalidRequest, acp.CodeNotFound, ""},
	{payment.ErrNotFound, http.StatusNotFound, acp.TypeInvalidRequest, acp.CodeNotFound, ""},
	{payment.ErrNoProcessor, http.StatusServiceUnavailable, acp.TypeServiceUnavailable, acp.CodeServiceUnavailable, ""},
	{ErrForbidden, http.StatusForbidden, acp.TypeInvalidRequest, acp.CodeForbidden, "$.merchant_id"},
	{ErrUnknownMerchant, http.StatusUnprocessableEntity, acp.TypeInvalidRequest, acp.CodeUnknownMerchant, "$.merchant_id"},
	{ErrNoAuthentication, http.StatusUnprocessableEntity, acp.TypeInvalidRequest, acp.CodeUnknownMerchant, "$.merchant_id"},
	{ErrAuthUnavailable, http.StatusServiceUnavailable, acp.TypeServiceUnavailable, acp.CodeServiceUnavailable, ""},
	{ErrBadReportQuery, http.StatusBadRequest, acp.TypeInvalidRequest, acp.CodeInvalidRequest, ""},
	{ErrBadEventQuery, http.StatusBadRequest, acp.TypeInvalidRequest, acp.CodeInvalidRequest, ""},
}

// publicError returns the error callers see for cause, a sentinel of
// publicForms or an error wrapping one (whose text then reaches the logs,
// never the caller), with a message formatted from format and args. A cause
// without a public form stays an internal error.
func publicError(cause error, format string, args ...any) error {
	f, ok := formOf(cause)
	if !ok {
		return fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), cause)
	}
	return f.errorf(cause, format, args...)
}

// formOf returns the public form of the first kind that err wraps.
func formOf(err error) (publicForm, bool) {
	for _, f := range publicForms {
		if errors.Is(err, f.kind) {
			return f, true
		}
	}
	return publicForm{}, false
}

// errorf makes the error of form f with cause and a message.
func (f publicForm) errorf(cause error, format string, args ...any) *acp.Error {
	return &acp.Error{Status: f.status, Type: f.typ, Code: f.code, Param: f.param, Message: fmt.Sprintf(format, args...), Cause: cause}
}

// Messages of errors made in more than one place.
const (
	msgNoSuchPayment = "no such payment"
	msgTokenConsumed = "the token was already used"
	msgNoProcessor   = "no processor could take the payment now; nothing was charged and the token can be used again"
)
