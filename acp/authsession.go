package acp

import (
	"acpgw/payment"
	"acpgw/threeds"
)

// AuthenticationAPIVersion is the only API-Version of the Delegate
// Authentication API (openapi.delegate_authentication.yaml).
const AuthenticationAPIVersion = "2026-04-17"

// AuthCreateRequest is a validated POST /delegate_authentication body
// (DelegateAuthenticationCreateRequest).
type AuthCreateRequest struct {
	MerchantID string
	// Card holds payment_method: number, expiry, name; no CVC (the schema
	// has none). Secret like every card.
	Card                     payment.Card
	Amount                   payment.Money
	Acquirer                 *threeds.Acquirer
	Browser                  *threeds.Browser
	CheckoutSessionID        string
	Flow                     *threeds.Flow
	ChallengeNotificationURL string
	Shopper                  *threeds.Shopper
}

// AuthenticateRequest is a validated POST
// /delegate_authentication/{id}/authenticate body
// (DelegateAuthenticationAuthenticateRequest).
type AuthenticateRequest struct {
	Fingerprint              threeds.FingerprintCompletion
	Browser                  *threeds.Browser
	CheckoutSessionID        string
	ChallengeNotificationURL string
	Shopper                  *threeds.Shopper
}
