package payment

// DeclineCategory says whether retrying a declined card can succeed.
type DeclineCategory string

// Hard declines will not succeed on retry (card networks penalise retrying
// them); soft declines may succeed later or on another route.
const (
	Hard DeclineCategory = "hard"
	Soft DeclineCategory = "soft"
)

// DeclineCode is acpgw's processor-independent reason for a decline.
type DeclineCode string

// The decline taxonomy. Every provider maps its own codes onto these and
// keeps its raw code beside them in Decline.ProcessorCode.
const (
	DeclineCardDeclined           DeclineCode = "card_declined"
	DeclineInsufficientFunds      DeclineCode = "insufficient_funds"
	DeclineExpiredCard            DeclineCode = "expired_card"
	DeclineIncorrectCVC           DeclineCode = "incorrect_cvc"
	DeclineIncorrectNumber        DeclineCode = "incorrect_number"
	DeclineIncorrectExpiry        DeclineCode = "incorrect_expiry"
	DeclineIncorrectPIN           DeclineCode = "incorrect_pin"
	DeclineIncorrectAddress       DeclineCode = "incorrect_address"
	DeclineFraudSuspected         DeclineCode = "fraud_suspected"
	DeclineAuthenticationRequired DeclineCode = "authentication_required"
	DeclineLostOrStolen           DeclineCode = "lost_or_stolen"
	DeclineDoNotHonor             DeclineCode = "do_not_honor"
	DeclineRestrictedCard         DeclineCode = "restricted_card"
	DeclineCardNotSupported       DeclineCode = "card_not_supported"
	DeclineCurrencyNotSupported   DeclineCode = "currency_not_supported"
	DeclineInvalidAmount          DeclineCode = "invalid_amount"
	DeclineLimitExceeded          DeclineCode = "limit_exceeded"
	DeclineTryAgainLater          DeclineCode = "try_again_later"
	DeclineIssuerUnavailable      DeclineCode = "issuer_unavailable"
	DeclineInvalidAccount         DeclineCode = "invalid_account"
	DeclineRevocationOfAuth       DeclineCode = "revocation_of_authorization"
	DeclineDuplicateTransaction   DeclineCode = "duplicate_transaction"
	DeclineTestModeCard           DeclineCode = "testmode_card"
	DeclineProcessingError        DeclineCode = "processing_error"
	DeclineUnknown                DeclineCode = "unknown"
)

// DeclineInfo describes one code of the taxonomy.
type DeclineInfo struct {
	Code        DeclineCode
	Category    DeclineCategory
	Retryable   bool
	Description string
}

// Declines is the decline taxonomy as data: code, category, whether a later
// retry of the same card may succeed, and what it means. Unknown codes are
// soft and not retryable: acpgw does not encourage retries it cannot justify.
var Declines = []DeclineInfo{
	{DeclineCardDeclined, Hard, false, "The issuer declined the card without giving a reason."},
	{DeclineInsufficientFunds, Soft, true, "The account has insufficient funds for the amount."},
	{DeclineExpiredCard, Hard, false, "The card has expired."},
	{DeclineIncorrectCVC, Hard, false, "The card verification code is incorrect."},
	{DeclineIncorrectNumber, Hard, false, "The card number is incorrect."},
	{DeclineIncorrectExpiry, Hard, false, "The expiry date is incorrect."},
	{DeclineIncorrectPIN, Hard, false, "The PIN is incorrect."},
	{DeclineIncorrectAddress, Hard, false, "The billing address did not verify."},
	{DeclineFraudSuspected, Hard, false, "The issuer or processor suspects fraud."},
	{DeclineAuthenticationRequired, Soft, true, "The issuer requires cardholder authentication: pay again with a 3-D Secure authentication_result."},
	{DeclineLostOrStolen, Hard, false, "The card is reported lost or stolen."},
	{DeclineDoNotHonor, Soft, false, "The issuer answered do not honor."},
	{DeclineRestrictedCard, Hard, false, "The card cannot be used for this kind of payment."},
	{DeclineCardNotSupported, Hard, false, "The card brand or type is not supported."},
	{DeclineCurrencyNotSupported, Hard, false, "The card does not support the currency."},
	{DeclineInvalidAmount, Hard, false, "The amount is invalid for the card or processor."},
	{DeclineLimitExceeded, Soft, true, "A card limit (amount or frequency) was exceeded."},
	{DeclineTryAgainLater, Soft, true, "A temporary issuer problem; retrying later may succeed."},
	{DeclineIssuerUnavailable, Soft, true, "The issuer could not be reached."},
	{DeclineInvalidAccount, Hard, false, "The card or account is invalid or closed."},
	{DeclineRevocationOfAuth, Hard, false, "The cardholder revoked the authorization."},
	{DeclineDuplicateTransaction, Hard, false, "An identical transaction was submitted very recently."},
	{DeclineTestModeCard, Hard, false, "A test card was used in live mode, or a live card in test mode."},
	{DeclineProcessingError, Soft, true, "The processor had an error processing the card."},
	{DeclineUnknown, Soft, false, "The processor gave a code acpgw does not know; see processor_code."},
}

var declineIndex = func() map[DeclineCode]DeclineInfo {
	m := make(map[DeclineCode]DeclineInfo, len(Declines))
	for _, d := range Declines {
		m[d.Code] = d
	}
	return m
}()

// LookupDecline returns the taxonomy entry of code, and false when the code
// is not part of the taxonomy.
func LookupDecline(code DeclineCode) (DeclineInfo, bool) {
	d, ok := declineIndex[code]
	return d, ok
}

// Decline is the decline object of a payment response.
type Decline struct {
	Code          DeclineCode     `json:"code"`
	Category      DeclineCategory `json:"category"`
	Retryable     bool            `json:"retryable"`
	ProcessorCode string          `json:"processor_code"`
	Message       string          `json:"message"`
}

// NewDecline builds a Decline from a taxonomy code and the processor's raw
// code and message. A code outside the taxonomy becomes DeclineUnknown, and
// the raw code is kept either way.
func NewDecline(code DeclineCode, processorCode, message string) Decline {
	info, ok := declineIndex[code]
	if !ok {
		info = declineIndex[DeclineUnknown]
	}
	if message == "" {
		message = info.Description
	}
	return Decline{
		Code:          info.Code,
		Category:      info.Category,
		Retryable:     info.Retryable,
		ProcessorCode: processorCode,
		Message:       message,
	}
}
