package mock

import "acpgw/payment"

// behaviour is what the mock does for a card number.
type behaviour struct {
	// decline, when set, declines with this code and raw processor code.
	decline payment.DeclineCode
	raw     string
	// processorError refuses the call before processing it.
	processorError bool
	// hang makes the charge and then never answers.
	hang bool
	// needsAuthentication declines authentication_required unless the
	// request carries an authenticated 3-D Secure result.
	needsAuthentication bool
}

// testCards is the README's test-card table ("The mock processor's test
// cards"), a contract. Any other Luhn-valid number approves; the two
// approving numbers are listed so that the table reads like the contract.
var testCards = map[string]behaviour{
	"4242424242424242": {},
	"5555555555554444": {},
	"4000000000000002": {decline: payment.DeclineCardDeclined, raw: "generic_decline"},
	"4000000000009995": {decline: payment.DeclineInsufficientFunds, raw: "insufficient_funds"},
	"4000000000000069": {decline: payment.DeclineExpiredCard, raw: "expired_card"},
	"4000000000000127": {decline: payment.DeclineIncorrectCVC, raw: "incorrect_cvc"},
	"4100000000000019": {decline: payment.DeclineFraudSuspected, raw: "fraudulent"},
	"4000000000003220": {needsAuthentication: true},
	"4000000000009987": {decline: payment.DeclineLostOrStolen, raw: "lost_card"},
	"4000000000000119": {processorError: true},
	"4000000000009979": {hang: true},
}

// cardBehaviour returns what the mock does for number: the table's entry, an
// approval for any other Luhn-valid number, and an incorrect_number decline
// for anything else.
func cardBehaviour(number string) behaviour {
	if b, ok := testCards[number]; ok {
		return b
	}
	if !payment.CardNumberValid(number) {
		return behaviour{decline: payment.DeclineIncorrectNumber, raw: "invalid_number"}
	}
	return behaviour{}
}
