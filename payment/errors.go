package payment

import "errors"

// Sentinel errors for what went wrong; the api package maps each to one HTTP
// status and ACP error code. Wrap them with %w to say where.
var (
	// ErrNotFound: the payment, token or record does not exist for this caller.
	ErrNotFound = errors.New("not found")
	// ErrTokenInvalid: the token is unknown or malformed.
	ErrTokenInvalid = errors.New("token_invalid")
	// ErrTokenExpired: the token's allowance has expired.
	ErrTokenExpired = errors.New("token_expired")
	// ErrTokenConsumed: the single-use token was already used.
	ErrTokenConsumed = errors.New("token_consumed")
	// ErrAllowanceExceeded: the amount is above the allowance's max_amount.
	ErrAllowanceExceeded = errors.New("allowance_exceeded")
	// ErrCurrencyMismatch: the currency differs from the allowance's.
	ErrCurrencyMismatch = errors.New("currency_mismatch")
	// ErrMerchantMismatch: the token was delegated to another merchant.
	ErrMerchantMismatch = errors.New("merchant_mismatch")
	// ErrCheckoutSessionMismatch: the token belongs to another checkout session.
	ErrCheckoutSessionMismatch = errors.New("checkout_session_mismatch")
	// ErrTokenNotRoutable: no processor of the merchant can take this token kind.
	ErrTokenNotRoutable = errors.New("token_not_routable")
	// ErrNoProcessor: no healthy processor can take the payment now.
	ErrNoProcessor = errors.New("no healthy processor")
	// ErrInvalidState: the operation does not fit the payment's status
	// (capturing a declined payment, voiding a captured one).
	ErrInvalidState = errors.New("invalid state for operation")
	// ErrAmountTooLarge: a capture or refund above what the payment allows.
	ErrAmountTooLarge = errors.New("amount above what the payment allows")
	// ErrConflict: a concurrent operation on the same payment is under way.
	ErrConflict = errors.New("concurrent operation in progress")
	// ErrUnavailable: a dependency (the store) cannot be reached now.
	ErrUnavailable = errors.New("service unavailable")
)
