// Package threeds defines what acpgw asks of a 3-D Secure 2 authentication
// provider when it serves ACP's Delegate Authentication API (2026-04-17,
// openapi.delegate_authentication.yaml): the session's data, the steps
// (create, authenticate, result), what each step answers, and the result
// an agent hands the seller to pay with.
//
// A provider is a 3DS Server: it sends the AReq to the card's directory
// server and receives the RReq when a challenge ends. acpgw keeps the
// session (store), the card (sealed by the vault) and the provider's own
// state between calls; a provider holds nothing a restart of acpgw must
// not lose, except what its remote side (an ACS) keeps.
//
// The package imports only payment: providers (mock, Adyen) implement
// Provider, gateway drives it, acp decodes the requests into its types.
package threeds

import (
	"context"
	"errors"

	"acpgw/payment"
)

// Status is the status of an authentication session, ACP's
// DelegateAuthenticationSessionBase.status enum.
type Status string

// The statuses of a session.
const (
	// StatusActionRequired: the browser must act (fingerprint after create,
	// challenge after authenticate); Action says what.
	StatusActionRequired Status = "action_required"
	// StatusPending: created, no fingerprint needed; the agent calls
	// authenticate with fingerprint_completion U.
	StatusPending Status = "pending"
	// StatusNotSupported: the card is not enrolled or its issuer does not
	// take part; the agent may pay without 3-D Secure. Final.
	StatusNotSupported Status = "not_supported"
	// StatusAuthenticated: transStatus Y. Final, with a Result.
	StatusAuthenticated Status = "authenticated"
	// StatusAttempted: transStatus A, proof of an attempt. Final, with a
	// Result.
	StatusAttempted Status = "attempted"
	// StatusNotAuthenticated: transStatus N. Final, with a Result.
	StatusNotAuthenticated Status = "not_authenticated"
	// StatusRejected: transStatus R, the issuer refuses; the agent must not
	// pay. Final, with a Result.
	StatusRejected Status = "rejected"
	// StatusUnavailable: transStatus U or a 3-D Secure system error. Final.
	StatusUnavailable Status = "unavailable"
	// StatusExpired: the session outlived its configured time before it
	// ended. Final; set by acpgw, never by a provider.
	StatusExpired Status = "expired"
	// StatusChallengeAbandoned: a challenge was presented and the shopper
	// did not complete it. Final.
	StatusChallengeAbandoned Status = "challenge_abandoned"
)

// Final reports whether s ends the session: no call changes it afterwards,
// and acpgw erases the session's card.
func (s Status) Final() bool {
	return s != StatusActionRequired && s != StatusPending
}

// FingerprintCompletion is the agent's result of the 3DS Method
// (fingerprint_completion): Y completed, N timed out, U not performed.
type FingerprintCompletion string

// The fingerprint completions of ACP's enum.
const (
	FingerprintCompleted   FingerprintCompletion = "Y"
	FingerprintTimedOut    FingerprintCompletion = "N"
	FingerprintUnavailable FingerprintCompletion = "U"
)

// Browser is the browser channel data of the AReq (ACP Channel.browser).
// The pointer fields are required when JavaScriptEnabled.
type Browser struct {
	AcceptHeader      string
	IPAddress         string
	JavaScriptEnabled bool
	Language          string
	UserAgent         string
	ColorDepth        *int
	JavaEnabled       *bool
	ScreenHeight      *int
	ScreenWidth       *int
	TimezoneOffset    *int
}

// Acquirer is ACP's acquirer_details: the acquirer data the AReq carries so
// that it matches the later authorization.
type Acquirer struct {
	BIN          string
	Country      string
	MerchantID   string
	MerchantName string
	RequestorID  string
}

// Address is a shopper's address (ACP Address).
type Address struct {
	Name       string
	LineOne    string
	LineTwo    string
	City       string
	State      string
	Country    string
	PostalCode string
}

// Shopper is ACP's shopper_details.
type Shopper struct {
	Name    string
	Email   string
	Phone   string
	Address *Address
}

// Flow is ACP's flow_preference: the agent's wish, which the issuer may
// ignore.
type Flow struct {
	// Type is "challenge" or "frictionless".
	Type string
	// Challenge is "mandated" or "preferred" when Type is challenge, ""
	// when not given.
	Challenge string
}

// Session is what a provider is given at each step: the session as acpgw
// keeps it, with its card opened from the vault for the duration of the
// call. Fields given at authenticate (Browser, ChallengeNotificationURL,
// Shopper, CheckoutSessionID) are merged in by acpgw before the call.
type Session struct {
	// ID is acpgw's authentication_session_id (as_...).
	ID         string
	MerchantID string
	// Card is secret: a provider sends it to its 3DS Server and nowhere
	// else, never in a log line, error or its State.
	Card                     payment.Card
	Amount                   payment.Money
	Acquirer                 *Acquirer
	Browser                  *Browser
	CheckoutSessionID        string
	Flow                     *Flow
	ChallengeNotificationURL string
	Shopper                  *Shopper
	// Status is the session's status before this call.
	Status Status
	// State is what the provider returned in its last Step (nil before
	// Create): its own references (3DS Server transaction id, Adyen's
	// pspReference and paymentData). acpgw stores it as given.
	State []byte
}

// Fingerprint is the 3DS Method the browser runs after create
// (ACP FingerprintAction).
type Fingerprint struct {
	MethodURL     string
	ServerTransID string
}

// Challenge is the challenge the browser presents after authenticate
// (ACP ChallengeAction).
type Challenge struct {
	ACSURL         string
	ACSTransID     string
	ServerTransID  string
	MessageVersion string
}

// Action is the browser action a session requires: exactly one of
// Fingerprint and Challenge is set.
type Action struct {
	Fingerprint *Fingerprint
	Challenge   *Challenge
}

// Result is the final 3-D Secure data of a session (ACP
// AuthenticationResult of the delegate_authentication spec). Cryptogram
// and AuthenticationValue are secret: every way of printing a Result
// leaves them out (see String).
type Result struct {
	// TransStatus is EMV 3DS transStatus: Y, A, N, R, U, I, C.
	TransStatus string
	// ECI is the Electronic Commerce Indicator ("05", "07").
	ECI string
	// Cryptogram is the CAVV/AAV, base64 of 20 bytes; "" without one.
	Cryptogram string
	// TransactionID is the Directory Server transaction id (dsTransID).
	TransactionID string
	// ServerTransID is the 3DS Server transaction id.
	ServerTransID string
	// Version is the 3-D Secure message version ("2.2.0").
	Version string
	// AuthenticationValue is the authentication value as the provider
	// named it, "" when it is the same as Cryptogram or absent.
	AuthenticationValue string
	// TransStatusReason is EMV transStatusReason ("01"), "" without one.
	TransStatusReason string
	// CardholderInfo is the issuer's text for the cardholder.
	CardholderInfo string
}

// String describes r without its cryptogram and authentication value.
func (r Result) String() string {
	s := "3ds-result(" + r.TransStatus
	if r.ECI != "" {
		s += " eci " + r.ECI
	}
	if r.Version != "" {
		s += " v" + r.Version
	}
	return s + ")"
}

// GoString hides the secrets from %#v as well.
func (r Result) GoString() string { return r.String() }

// Authentication returns the payment's authentication_result an agent makes
// of r for the seller (ACP AuthenticationResult of the checkout spec, the
// outcome form acpgw's POST /v1/payments takes): the outcome of r's
// transStatus (Y authenticated, A attempt_acknowledged, I informational,
// N denied, R rejected, U and others internal_error) with r's cryptogram,
// ECI, dsTransID and version.
func (r Result) Authentication() payment.Authentication {
	a := payment.Authentication{
		Cryptogram: r.Cryptogram, ECI: r.ECI, TransactionID: r.TransactionID, Version: r.Version,
	}
	if a.Cryptogram == "" {
		a.Cryptogram = r.AuthenticationValue
	}
	switch r.TransStatus {
	case "Y":
		a.Outcome = payment.AuthAuthenticated
	case "A":
		a.Outcome = payment.AuthAttemptAcknowledged
	case "I":
		a.Outcome = payment.AuthInformational
	case "N":
		a.Outcome = payment.AuthDenied
	case "R":
		a.Outcome = payment.AuthRejected
	default:
		a.Outcome = payment.AuthInternalError
	}
	return a
}

// Step is a provider's answer to one call: the session's new status, the
// browser action when the status is action_required, the result when the
// status is final and the provider has one, and the provider's state to
// keep with the session.
type Step struct {
	Status Status
	Action *Action
	Result *Result
	// State replaces the session's State when not nil. It must not hold
	// the card number or the cryptogram.
	State []byte
}

// Provider is a 3-D Secure 2 authentication provider. Its calls follow
// ACP's lifecycle; acpgw calls them one at a time per session, and never
// after the session's status is final.
type Provider interface {
	// Create starts a session (the 3DS Server's preparation: is the card
	// enrolled, does its ACS run a 3DS Method). It answers
	// action_required with a Fingerprint, pending, or not_supported.
	Create(ctx context.Context, s *Session) (Step, error)
	// Authenticate sends the AReq after the fingerprint: it answers a
	// final status (frictionless) or action_required with a Challenge.
	// s.Browser and s.ChallengeNotificationURL are set (acpgw refuses the
	// call otherwise).
	Authenticate(ctx context.Context, s *Session, fp FingerprintCompletion) (Step, error)
	// Result asks for the outcome of a challenge (the RReq the 3DS Server
	// received): a final status with its Result, or action_required with
	// the same Challenge while the shopper has not finished. A challenge
	// the shopper gave up answers challenge_abandoned.
	Result(ctx context.Context, s *Session) (Step, error)
}

// ErrUnavailable wraps a provider error that is worth trying again later
// (the 3DS Server could not be reached, timed out, answered 5xx): acpgw
// answers 503 and leaves the session as it was. Any other error is a
// failure of the session's step (acpgw answers it as the provider says,
// or as unavailable).
var ErrUnavailable = errors.New("threeds: provider unavailable")
