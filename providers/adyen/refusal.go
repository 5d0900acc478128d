package adyen

import (
	"strings"

	"acpgw/payment"
)

// Refusal is one of Adyen's refusal reasons and what it means in acpgw's
// decline taxonomy.
type Refusal struct {
	// Code is Adyen's refusalReasonCode.
	Code string
	// Reason is Adyen's refusalReason text for the code.
	Reason string
	// Decline is the taxonomy code it maps to.
	Decline payment.DeclineCode
}

// Refusals is Adyen's list of refusal reasons ("Refusal reasons",
// docs.adyen.com/development-resources/refusal-reasons) mapped onto
// acpgw's decline taxonomy, as data. Codes 13, 30 and 43 to 45 are not in
// Adyen's list (13 is the test-only "pending" answer, which comes as
// resultCode Received); they map to unknown like any code not listed.
var Refusals = []Refusal{
	{"2", "Refused", payment.DeclineCardDeclined},
	// A referral asks the merchant to call the issuer: a decline acpgw
	// cannot act on, and a retry cannot fix.
	{"3", "Referral", payment.DeclineDoNotHonor},
	{"4", "Acquirer Error", payment.DeclineProcessingError},
	// Adyen maps the schemes' pick-up, lost and stolen answers (Visa and
	// Mastercard 04, 07, 41, 43) to Blocked Card.
	{"5", "Blocked Card", payment.DeclineLostOrStolen},
	{"6", "Expired Card", payment.DeclineExpiredCard},
	{"7", "Invalid Amount", payment.DeclineInvalidAmount},
	{"8", "Invalid Card Number", payment.DeclineIncorrectNumber},
	{"9", "Issuer Unavailable", payment.DeclineIssuerUnavailable},
	{"10", "Not supported", payment.DeclineCardNotSupported},
	{"11", "3D Not Authenticated", payment.DeclineAuthenticationRequired},
	{"12", "Not enough balance", payment.DeclineInsufficientFunds},
	{"14", "Acquirer Fraud", payment.DeclineFraudSuspected},
	// Cancelled: the authorisation was cancelled before completing; no
	// finer reason is given.
	{"15", "Cancelled", payment.DeclineCardDeclined},
	// The shopper is never asked anything by acpgw; a cancel by the shopper
	// can only come from an issuer app, a revocation in effect.
	{"16", "Shopper Cancelled", payment.DeclineRevocationOfAuth},
	{"17", "Invalid Pin", payment.DeclineIncorrectPIN},
	{"18", "Pin tries exceeded", payment.DeclineIncorrectPIN},
	{"19", "Pin validation not possible", payment.DeclineIncorrectPIN},
	// 20 and 22 are Adyen's own risk checks (RevenueProtect) at score 100.
	{"20", "FRAUD", payment.DeclineFraudSuspected},
	{"21", "Not Submitted", payment.DeclineProcessingError},
	{"22", "FRAUD-CANCELLED", payment.DeclineFraudSuspected},
	{"23", "Transaction Not Permitted", payment.DeclineRestrictedCard},
	{"24", "CVC Declined", payment.DeclineIncorrectCVC},
	{"25", "Restricted Card", payment.DeclineRestrictedCard},
	{"26", "Revocation Of Auth", payment.DeclineRevocationOfAuth},
	// Declined Non Generic collects answers Adyen cannot map reliably;
	// the generic decline is the honest reading.
	{"27", "Declined Non Generic", payment.DeclineCardDeclined},
	{"28", "Withdrawal amount exceeded", payment.DeclineLimitExceeded},
	{"29", "Withdrawal count exceeded", payment.DeclineLimitExceeded},
	{"31", "Issuer Suspected Fraud", payment.DeclineFraudSuspected},
	{"32", "AVS Declined", payment.DeclineIncorrectAddress},
	{"33", "Card requires online pin", payment.DeclineIncorrectPIN},
	{"34", "No checking account available on Card", payment.DeclineInvalidAccount},
	{"35", "No savings account available on Card", payment.DeclineInvalidAccount},
	{"36", "Mobile pin required", payment.DeclineAuthenticationRequired},
	{"37", "Contactless fallback", payment.DeclineCardNotSupported},
	// The issuer refused the exemption and wants 3-D Secure (the soft
	// decline of PSD2).
	{"38", "Authentication required", payment.DeclineAuthenticationRequired},
	{"39", "RReq not received from DS", payment.DeclineAuthenticationRequired},
	// The card's application is blocked at the terminal after failures:
	// an in-person condition; for card-not-present it is a processing fault.
	{"40", "Current AID is in Penalty Box.", payment.DeclineProcessingError},
	{"41", "CVM Required Restart Payment", payment.DeclineAuthenticationRequired},
	{"42", "3DS Authentication Error", payment.DeclineAuthenticationRequired},
	// Adyen blocked a retry that would incur scheme retry fees: another
	// retry soon will be blocked too.
	{"46", "Transaction blocked by Adyen to prevent excessive retry fees", payment.DeclineLimitExceeded},
}

var (
	refusalByCode = func() map[string]Refusal {
		m := make(map[string]Refusal, len(Refusals))
		for _, r := range Refusals {
			m[r.Code] = r
		}
		return m
	}()
	refusalByReason = func() map[string]Refusal {
		m := make(map[string]Refusal, len(Refusals))
		for _, r := range Refusals {
			m[strings.ToLower(r.Reason)] = r
		}
		return m
	}()
)

// LookupRefusal returns the taxonomy code of a refusalReasonCode, and
// false (with payment.DeclineUnknown) for a code Adyen's list does not
// have.
func LookupRefusal(code string) (payment.DeclineCode, bool) {
	r, ok := refusalByCode[strings.TrimSpace(code)]
	if !ok {
		return payment.DeclineUnknown, false
	}
	return r.Decline, true
}

// lookupRefusalReason finds a refusal by its reason text, which is all a
// webhook carries ("CVC Declined").
func lookupRefusalReason(reason string) (Refusal, bool) {
	r, ok := refusalByReason[strings.ToLower(strings.TrimSpace(reason))]
	return r, ok
}

// decline builds the Decline of a refused payment, reporting codes the
// table does not know.
func (c *Client) decline(code, reason string) payment.Decline {
	dc, ok := LookupRefusal(code)
	if !ok && code == "" {
		if r, byReason := lookupRefusalReason(reason); byReason {
			dc, ok, code = r.Decline, true, r.Code
		}
	}
	if !ok {
		c.unknownRefusal(code)
	}
	processorCode := code
	if processorCode == "" {
		processorCode = "refused"
	}
	return payment.NewDecline(dc, processorCode, safeMessage(reason))
}

func (c *Client) unknownRefusal(code string) {
	c.logger.Warn("adyen: unknown refusalReasonCode; mapped to unknown", "processor", c.name, "refusal_reason_code", code)
	if c.onUnknownRefusal != nil {
		c.onUnknownRefusal(code)
	}
}

// safeMessage keeps an Adyen message short and free of long digit runs, so
// that nothing resembling a card number can travel on in a result.
func safeMessage(s string) string {
	const maxLen = 200
	var b strings.Builder
	run := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			run++
			if run > 6 {
				continue
			}
		} else {
			run = 0
		}
		if b.Len() >= maxLen {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}
