// Package providers defines what acpgw asks of a payment processor, the
// registry of configured processors, and the error classes the gateway's
// failover rule depends on. Providers never import gateway, store or api.
package providers

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"acpgw/payment"
	"acpgw/threeds"
)

// TokenKind is the kind of approved ACP token a payment carries.
type TokenKind string

// The token kinds, told apart by their prefix.
const (
	// TokenVault is an acpgw vault token (vt_...): the card is in acpgw's vault
	// and any processor can take it.
	TokenVault TokenKind = "vault"
	// TokenSharedPayment is a Stripe Shared Payment Token (spt_...): only
	// Stripe processors can take it.
	TokenSharedPayment TokenKind = "spt"
)

// Address is a billing address as ACP sends it.
type Address struct {
	Name       string
	LineOne    string
	LineTwo    string
	City       string
	State      string
	Country    string
	PostalCode string
}

// Instrument is what the processor charges: a vault card or a shared token.
type Instrument struct {
	Kind TokenKind
	// Card is set for TokenVault.
	Card *payment.Card
	// SharedToken is the spt_ value for TokenSharedPayment.
	SharedToken string
	Billing     *Address
}

// AuthorizeRequest asks a processor to authorize, and with
// payment.CaptureAutomatic also capture, an amount.
type AuthorizeRequest struct {
	PaymentID string
	// AttemptID identifies this attempt; processors that take a merchant
	// reference (Adyen) get it.
	AttemptID string
	// IdempotencyKey is deterministic (acpgw_<payment>_<attempt>): re-sending
	// the same request with it must never charge twice.
	IdempotencyKey string
	// Attempt is the attempt's number within its payment (1, 2 after a
	// failover), for traces; 0 when unknown.
	Attempt    int
	MerchantID string
	Amount     payment.Money
	Capture    payment.CaptureMode
	Instrument Instrument
	Metadata   map[string]string
	// Authentication is the buyer's 3-D Secure authentication, nil without
	// one. A provider sends its data (cryptogram, ECI, transaction id,
	// version) when Authentication.SendsData() and nothing otherwise: an
	// outcome without data (not_supported) is a plain card payment. The
	// cryptogram is secret like the card number: it goes to the processor
	// and nowhere else, and a re-send of the same attempt may come without
	// it (it is kept in memory only), so it must not enter what makes two
	// requests the same one.
	Authentication *payment.Authentication
}

// ModifyRequest asks for a capture, void or refund of an earlier
// authorization identified by the processor's Reference.
type ModifyRequest struct {
	PaymentID      string
	IdempotencyKey string
	// Attempt is the attempt's number within its payment, for traces; 0
	// when unknown.
	Attempt   int
	Reference string
	// Amount is the amount to capture or refund; for a void it is the
	// authorized amount.
	Amount payment.Money
}

// Result is a processor's answer, normalised. A decline is a Result with
// Status payment.StatusDeclined, never an error.
type Result struct {
	// Status is one of authorized, captured, declined, failed, pending for an
	// authorization; captured, voided, refunded or pending for a modification
	// (pending: the processor accepted it and will confirm by webhook).
	Status payment.Status
	// Reference is the processor's id for the payment (pi_..., pspReference).
	Reference string
	// ModificationReference is the processor's own id of a capture, void or
	// refund when it has one (Adyen's modification pspReference), which its
	// webhook quotes.
	ModificationReference string
	// Decline is set when Status is declined.
	Decline *payment.Decline
	// Fee is the processor's actual fee when it reports one at once.
	Fee *payment.Money
	// Message is a short human-readable explanation for failed results; it
	// must not contain card data.
	Message string
	// RequestID is the processor's own id of the request that gave this
	// answer, when it sends one (Stripe's Request-Id), for traces and
	// support tickets.
	RequestID string
}

// Operation names a processor call, for metrics and attempts.
type Operation string

// The processor operations.
const (
	OpAuthorize Operation = "authorize"
	OpCapture   Operation = "capture"
	OpVoid      Operation = "void"
	OpRefund    Operation = "refund"
)

// Provider is one configured processor. Every method must be safe for
// concurrent use, honour ctx's deadline, send req.IdempotencyKey to the
// processor, and classify its errors with NotProcessed or OutcomeUnknown.
type Provider interface {
	// Name is the processor's name in config (stripe_us).
	Name() string
	// Type is the processor type (stripe, adyen, mock).
	Type() string
	// Supports reports whether the processor can take the token kind and
	// currency at all.
	Supports(kind TokenKind, currency string) bool
	Authorize(ctx context.Context, req AuthorizeRequest) (Result, error)
	Capture(ctx context.Context, req ModifyRequest) (Result, error)
	Void(ctx context.Context, req ModifyRequest) (Result, error)
	Refund(ctx context.Context, req ModifyRequest) (Result, error)
}

// Authenticating is implemented by processors that also serve 3-D Secure 2
// authentication (the mock, mock-server and Adyen): a merchant whose config
// names such a processor as its authentication provider gets its Delegate
// Authentication sessions run by Authenticator's answer.
type Authenticating interface {
	Authenticator() threeds.Provider
}

// Unwrapper is implemented by wrappers of a Provider (tracing) that keep
// only some of its optional interfaces: Unwrap returns the wrapped one.
type Unwrapper interface {
	Unwrap() Provider
}

// AuthenticatorOf returns the 3-D Secure provider of p, looking through
// wrappers, and false when p serves no authentication.
func AuthenticatorOf(p Provider) (threeds.Provider, bool) {
	for p != nil {
		if a, ok := p.(Authenticating); ok {
			if tp := a.Authenticator(); tp != nil {
				return tp, true
			}
			return nil, false
		}
		w, ok := p.(Unwrapper)
		if !ok {
			break
		}
		p = w.Unwrap()
	}
	return nil, false
}

// Closer is implemented by providers that hold resources to release when a
// config is replaced.
type Closer interface {
	Close() error
}

// Errors that classify a failed processor call. The gateway fails over to
// the next processor only after ErrNotProcessed; after ErrOutcomeUnknown the
// payment is pending until reconciliation. An error that is neither is
// treated as ErrOutcomeUnknown, the safe reading.
var (
	// ErrNotProcessed: the processor surely did not act on the request
	// (connection refused, DNS or TLS failure before the request was written,
	// an error its API documents as not processed).
	ErrNotProcessed = errors.New("processor did not process the request")
	// ErrOutcomeUnknown: the request may have been acted on (timeout or reset
	// after the request was written, 5xx).
	ErrOutcomeUnknown = errors.New("processor outcome unknown")
	// ErrRejected: the processor refused a modification as invalid for the
	// payment (over-refund, capture of a voided authorization). Nothing
	// changed at the processor.
	ErrRejected = errors.New("processor rejected the operation")
)

// Error carries the class (one of the errors above) and detail of a failed
// call; errors.Is(err, ErrNotProcessed) reads the class.
type Error struct {
	Class error
	// Code is the processor's error code, if any (rate_limit, 500).
	Code string
	// Err is the underlying cause; it must not contain card data.
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	msg := e.Class.Error()
	if e.Code != "" {
		msg += " (" + e.Code + ")"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// RequestIDOf returns the processor's id of the request that failed with
// err, when err (or an error it wraps) has one: a method
// ProcessorRequestID() string. "" otherwise.
func RequestIDOf(err error) string {
	var r interface{ ProcessorRequestID() string }
	if errors.As(err, &r) {
		return r.ProcessorRequestID()
	}
	return ""
}

// Is reports the class, so that errors.Is(err, ErrNotProcessed) works.
func (e *Error) Is(target error) bool { return target == e.Class }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// NotProcessed wraps err as an ErrNotProcessed error with the processor's
// code.
func NotProcessed(code string, err error) error {
	return &Error{Class: ErrNotProcessed, Code: code, Err: err}
}

// OutcomeUnknown wraps err as an ErrOutcomeUnknown error.
func OutcomeUnknown(code string, err error) error {
	return &Error{Class: ErrOutcomeUnknown, Code: code, Err: err}
}

// Rejected wraps err as an ErrRejected error.
func Rejected(code string, err error) error {
	return &Error{Class: ErrRejected, Code: code, Err: err}
}

// Registry holds the providers of one loaded config by name.
type Registry struct {
	byName map[string]Provider
}

// NewRegistry builds a registry, refusing duplicate names loudly.
func NewRegistry(ps ...Provider) (*Registry, error) {
	r := &Registry{byName: make(map[string]Provider, len(ps))}
	for _, p := range ps {
		if _, dup := r.byName[p.Name()]; dup {
			return nil, fmt.Errorf("providers: duplicate processor name %q", p.Name())
		}
		r.byName[p.Name()] = p
	}
	return r, nil
}

// Get returns the provider named name.
func (r *Registry) Get(name string) (Provider, bool) {
	p, ok := r.byName[name]
	return p, ok
}

// Names returns the registered names, sorted.
func (r *Registry) Names() []string {
	names := make([]string, 0, len(r.byName))
	for n := range r.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Close closes every provider that holds resources.
func (r *Registry) Close() error {
	var errs []error
	for _, p := range r.byName {
		if c, ok := p.(Closer); ok {
			errs = append(errs, c.Close())
		}
	}
	return errors.Join(errs...)
}
