package payment

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

// AuthenticationOutcome is the outcome of a 3-D Secure authentication of
// the buyer: the outcome of ACP's AuthenticationResult (2026-04-17), which
// the agent hands the seller and the seller passes on with the payment.
type AuthenticationOutcome string

// The outcomes of ACP's AuthenticationResult.outcome enum.
const (
	AuthAbandoned           AuthenticationOutcome = "abandoned"
	AuthAttemptAcknowledged AuthenticationOutcome = "attempt_acknowledged"
	AuthAuthenticated       AuthenticationOutcome = "authenticated"
	AuthCanceled            AuthenticationOutcome = "canceled"
	AuthDenied              AuthenticationOutcome = "denied"
	AuthInformational       AuthenticationOutcome = "informational"
	AuthInternalError       AuthenticationOutcome = "internal_error"
	AuthNotSupported        AuthenticationOutcome = "not_supported"
	AuthProcessingError     AuthenticationOutcome = "processing_error"
	AuthRejected            AuthenticationOutcome = "rejected"
)

// AuthenticationOutcomeInfo describes one outcome: whether a payment may be
// made with it, whether it carries authentication data (outcome_details)
// for the processor, and the EMV 3-D Secure transStatus it stands for.
type AuthenticationOutcomeInfo struct {
	Outcome AuthenticationOutcome
	// Chargeable: a payment with this outcome may be sent to a processor.
	// The buyer was authenticated (or the issuer took the attempt, or
	// exempted it), or 3-D Secure was not available for the card, in which
	// case the payment goes as a plain card payment and the issuer decides.
	// The others (the buyer or issuer refused, the buyer gave up, the
	// 3-D Secure system failed) are refused before any processor is called.
	Chargeable bool
	// HasDetails: the outcome comes with outcome_details (cryptogram, ECI,
	// transaction id, version), which ACP requires for it and which acpgw
	// sends to the processor.
	HasDetails bool
	// TransStatus is the EMV 3-D Secure transStatus of the outcome
	// (Y authenticated, A attempt, I informational, N not authenticated,
	// R rejected, U unavailable), "" where there is none.
	TransStatus string
}

// AuthenticationOutcomes is the outcome table, in ACP's enum order.
var AuthenticationOutcomes = []AuthenticationOutcomeInfo{
	{AuthAbandoned, false, false, ""},
	{AuthAttemptAcknowledged, true, true, "A"},
	{AuthAuthenticated, true, true, "Y"},
	{AuthCanceled, false, false, ""},
	{AuthDenied, false, false, "N"},
	{AuthInformational, true, true, "I"},
	{AuthInternalError, false, false, "U"},
	{AuthNotSupported, true, false, "U"},
	{AuthProcessingError, false, false, "U"},
	{AuthRejected, false, false, "R"},
}

// LookupAuthenticationOutcome returns the table entry of o, and false when
// o is not one of ACP's outcomes.
func LookupAuthenticationOutcome(o AuthenticationOutcome) (AuthenticationOutcomeInfo, bool) {
	for _, info := range AuthenticationOutcomes {
		if info.Outcome == o {
			return info, true
		}
	}
	return AuthenticationOutcomeInfo{}, false
}

// Authentication is a 3-D Secure authentication result a payment carries to
// the processor: ACP's AuthenticationResult, read from the payment request
// (or, later, made by acpgw's own delegated authentication). Cryptogram is
// secret: every way of printing an Authentication (String, GoString,
// Format, slog, encoding/json) leaves it out.
type Authentication struct {
	Outcome AuthenticationOutcome
	// Cryptogram is the authentication value (CAVV, AAV or AEVV): base64 of
	// 20 bytes. Never logged, stored in clear or put in an error.
	Cryptogram string
	// ECI is the Electronic Commerce Indicator ("01", "02", "05", "06",
	// "07").
	ECI string
	// TransactionID is the 3-D Secure 2 Directory Server transaction id
	// (dsTransID), or the XID of 3-D Secure 1.
	TransactionID string
	// Version is the 3-D Secure protocol version ("2.2.0").
	Version string
}

// Info returns the outcome table entry of a's outcome (the zero entry,
// neither chargeable nor with details, for an unknown outcome).
func (a Authentication) Info() AuthenticationOutcomeInfo {
	info, _ := LookupAuthenticationOutcome(a.Outcome)
	return info
}

// SendsData reports whether a carries authentication data for the
// processor: an outcome with details, and its cryptogram.
func (a Authentication) SendsData() bool {
	return a.Info().HasDetails && a.Cryptogram != ""
}

// String describes a without its cryptogram.
func (a Authentication) String() string {
	s := "3ds(" + string(a.Outcome)
	if a.ECI != "" {
		s += " eci " + a.ECI
	}
	if a.Version != "" {
		s += " v" + a.Version
	}
	if a.Cryptogram != "" {
		s += " cryptogram [redacted]"
	}
	return s + ")"
}

// GoString is String, for %#v.
func (a Authentication) GoString() string { return "payment.Authentication{" + a.String() + "}" }

// Format prints String for every verb, so that no verb shows the
// cryptogram.
func (a Authentication) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = f.Write([]byte(a.GoString()))
	case verb == 'q':
		_, _ = fmt.Fprintf(f, "%q", a.String())
	default:
		_, _ = f.Write([]byte(a.String()))
	}
}

// LogValue implements slog.LogValuer without the cryptogram.
func (a Authentication) LogValue() slog.Value { return slog.StringValue(a.String()) }

// AuthenticationRecord is what is kept of an Authentication with a
// payment's attempt and shown in its answers: everything but the
// cryptogram.
type AuthenticationRecord struct {
	Outcome       AuthenticationOutcome `json:"outcome"`
	ECI           string                `json:"electronic_commerce_indicator,omitempty"`
	TransactionID string                `json:"transaction_id,omitempty"`
	Version       string                `json:"version,omitempty"`
}

// Record returns what may be kept of a: all but the cryptogram.
func (a Authentication) Record() AuthenticationRecord {
	return AuthenticationRecord{Outcome: a.Outcome, ECI: a.ECI, TransactionID: a.TransactionID, Version: a.Version}
}

// MarshalJSON writes the record (no cryptogram), so an Authentication
// handed to a JSON encoder cannot leak it.
func (a Authentication) MarshalJSON() ([]byte, error) { return json.Marshal(a.Record()) }
