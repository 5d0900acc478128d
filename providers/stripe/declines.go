package stripe

import (
	stripego "github.com/stripe/stripe-go/v76"

	"acpgw/payment"
)

// declineCodes maps every stripe.DeclineCode of stripe-go v76 (a card
// error's decline_code, the issuer's reason) onto acpgw's taxonomy. A test
// parses stripe-go's error.go and fails when a constant is missing here.
var declineCodes = map[stripego.DeclineCode]payment.DeclineCode{
	stripego.DeclineCodeAuthenticationRequired:         payment.DeclineAuthenticationRequired,
	stripego.DeclineCodeApproveWithID:                  payment.DeclineTryAgainLater,
	stripego.DeclineCodeCallIssuer:                     payment.DeclineDoNotHonor,
	stripego.DeclineCodeCardNotSupported:               payment.DeclineCardNotSupported,
	stripego.DeclineCodeCardVelocityExceeded:           payment.DeclineLimitExceeded,
	stripego.DeclineCodeCurrencyNotSupported:           payment.DeclineCurrencyNotSupported,
	stripego.DeclineCodeDoNotHonor:                     payment.DeclineDoNotHonor,
	stripego.DeclineCodeDoNotTryAgain:                  payment.DeclineCardDeclined,
	stripego.DeclineCodeDuplicateTransaction:           payment.DeclineDuplicateTransaction,
	stripego.DeclineCodeExpiredCard:                    payment.DeclineExpiredCard,
	stripego.DeclineCodeFraudulent:                     payment.DeclineFraudSuspected,
	stripego.DeclineCodeGenericDecline:                 payment.DeclineCardDeclined,
	stripego.DeclineCodeIncorrectNumber:                payment.DeclineIncorrectNumber,
	stripego.DeclineCodeIncorrectCVC:                   payment.DeclineIncorrectCVC,
	stripego.DeclineCodeIncorrectPIN:                   payment.DeclineIncorrectPIN,
	stripego.DeclineCodeIncorrectZip:                   payment.DeclineIncorrectAddress,
	stripego.DeclineCodeInsufficientFunds:              payment.DeclineInsufficientFunds,
	stripego.DeclineCodeInvalidAccount:                 payment.DeclineInvalidAccount,
	stripego.DeclineCodeInvalidAmount:                  payment.DeclineInvalidAmount,
	stripego.DeclineCodeInvalidCVC:                     payment.DeclineIncorrectCVC,
	stripego.DeclineCodeInvalidExpiryMonth:             payment.DeclineIncorrectExpiry,
	stripego.DeclineCodeInvalidExpiryYear:              payment.DeclineIncorrectExpiry,
	stripego.DeclineCodeInvalidNumber:                  payment.DeclineIncorrectNumber,
	stripego.DeclineCodeInvalidPIN:                     payment.DeclineIncorrectPIN,
	stripego.DeclineCodeIssuerNotAvailable:             payment.DeclineIssuerUnavailable,
	stripego.DeclineCodeLostCard:                       payment.DeclineLostOrStolen,
	stripego.DeclineCodeMerchantBlacklist:              payment.DeclineFraudSuspected,
	stripego.DeclineCodeNewAccountInformationAvailable: payment.DeclineInvalidAccount,
	stripego.DeclineCodeNoActionTaken:                  payment.DeclineCardDeclined,
	stripego.DeclineCodeNotPermitted:                   payment.DeclineRestrictedCard,
	// A PIN cannot be entered in a card-not-present payment: the card
	// cannot be used for this kind of payment.
	stripego.DeclineCodeOfflinePINRequired:            payment.DeclineRestrictedCard,
	stripego.DeclineCodeOnlineOrOfflinePINRequired:    payment.DeclineRestrictedCard,
	stripego.DeclineCodePickupCard:                    payment.DeclineLostOrStolen,
	stripego.DeclineCodePINTryExceeded:                payment.DeclineIncorrectPIN,
	stripego.DeclineCodeProcessingError:               payment.DeclineProcessingError,
	stripego.DeclineCodeReenterTransaction:            payment.DeclineTryAgainLater,
	stripego.DeclineCodeRestrictedCard:                payment.DeclineRestrictedCard,
	stripego.DeclineCodeRevocationOfAllAuthorizations: payment.DeclineRevocationOfAuth,
	stripego.DeclineCodeRevocationOfAuthorization:     payment.DeclineRevocationOfAuth,
	stripego.DeclineCodeSecurityViolation:             payment.DeclineCardDeclined,
	stripego.DeclineCodeServiceNotAllowed:             payment.DeclineRestrictedCard,
	stripego.DeclineCodeStolenCard:                    payment.DeclineLostOrStolen,
	stripego.DeclineCodeStopPaymentOrder:              payment.DeclineRevocationOfAuth,
	stripego.DeclineCodeTestModeDecline:               payment.DeclineTestModeCard,
	stripego.DeclineCodeTransactionNotAllowed:         payment.DeclineRestrictedCard,
	stripego.DeclineCodeTryAgainLater:                 payment.DeclineTryAgainLater,
	stripego.DeclineCodeWithdrawalCountLimitExceeded:  payment.DeclineLimitExceeded,
}

// cardErrorCodes maps the error codes of Stripe card errors (402 card_error,
// a PaymentIntent's last_payment_error.code) onto the taxonomy. A card error
// with a decline_code is mapped by declineCodes first; the code decides when
// there is no decline_code (expired_card, incorrect_cvc, ...) or when the
// decline_code is unknown.
var cardErrorCodes = map[stripego.ErrorCode]payment.DeclineCode{
	stripego.ErrorCodeCardDeclined:                       payment.DeclineCardDeclined,
	stripego.ErrorCodeExpiredCard:                        payment.DeclineExpiredCard,
	stripego.ErrorCodeIncorrectCVC:                       payment.DeclineIncorrectCVC,
	stripego.ErrorCodeIncorrectNumber:                    payment.DeclineIncorrectNumber,
	stripego.ErrorCodeIncorrectZip:                       payment.DeclineIncorrectAddress,
	stripego.ErrorCodeIncorrectAddress:                   payment.DeclineIncorrectAddress,
	stripego.ErrorCodeInvalidCVC:                         payment.DeclineIncorrectCVC,
	stripego.ErrorCodeInvalidExpiryMonth:                 payment.DeclineIncorrectExpiry,
	stripego.ErrorCodeInvalidExpiryYear:                  payment.DeclineIncorrectExpiry,
	stripego.ErrorCodeInvalidNumber:                      payment.DeclineIncorrectNumber,
	stripego.ErrorCodeProcessingError:                    payment.DeclineProcessingError,
	stripego.ErrorCodeAuthenticationRequired:             payment.DeclineAuthenticationRequired,
	stripego.ErrorCodeInsufficientFunds:                  payment.DeclineInsufficientFunds,
	stripego.ErrorCodeCardDeclineRateLimitExceeded:       payment.DeclineLimitExceeded,
	stripego.ErrorCodeInvalidCardType:                    payment.DeclineCardNotSupported,
	stripego.ErrorCodePaymentIntentAuthenticationFailure: payment.DeclineAuthenticationRequired,
	stripego.ErrorCodePaymentIntentActionRequired:        payment.DeclineAuthenticationRequired,
	stripego.ErrorCodePaymentMethodCurrencyMismatch:      payment.DeclineCurrencyNotSupported,
	stripego.ErrorCodeTestmodeChargesOnly:                payment.DeclineTestModeCard,
	stripego.ErrorCodePaymentIntentPaymentAttemptFailed:  payment.DeclineCardDeclined,
	stripego.ErrorCodePaymentMethodProviderDecline:       payment.DeclineCardDeclined,
}

// decline maps a Stripe card error (code and decline_code) to a Decline,
// keeping the raw code: the decline_code when there is one, else the code.
// A code the tables do not know becomes payment.DeclineUnknown and is
// reported to OnUnknownDecline.
func (c *Client) decline(code stripego.ErrorCode, declineCode stripego.DeclineCode, message string) *payment.Decline {
	raw := string(declineCode)
	if raw == "" {
		raw = string(code)
	}
	mapped, ok := declineCodes[declineCode]
	if !ok {
		mapped, ok = cardErrorCodes[code]
		// A generic card_declined code says nothing when the decline_code
		// is one the table does not know: count it as unknown.
		if ok && declineCode != "" && code == stripego.ErrorCodeCardDeclined {
			ok = false
		}
	}
	if !ok {
		mapped = payment.DeclineUnknown
		if c.onUnknown != nil {
			c.onUnknown(raw)
		}
	}
	if raw == "" {
		raw = string(payment.DeclineUnknown)
	}
	d := payment.NewDecline(mapped, raw, redact(message))
	return &d
}
