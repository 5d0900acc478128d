package mock3ds

import "acpgw/payment"

// Flow is what the simulated issuer does with a card's authentication
// request (the AReq).
type Flow string

// The flows of the test cards.
const (
	// FlowNotEnrolled: the card range is not in the directory server; create
	// answers not_supported.
	FlowNotEnrolled Flow = "not_enrolled"
	// FlowFrictionless: the ACS answers the AReq with a final transStatus
	// (Card.TransStatus) and no challenge.
	FlowFrictionless Flow = "frictionless"
	// FlowChallenge: the ACS asks for a challenge; the shopper's one-time
	// code decides.
	FlowChallenge Flow = "challenge"
	// FlowAbandoned: the ACS asks for a challenge and ends it at once as
	// abandoned, as if the shopper had closed the window (challengeCancel
	// 05, the CReq never arrived): for testing challenge_abandoned without
	// a browser.
	FlowAbandoned Flow = "abandoned"
)

// Card is one test card of the simulated issuers: what the 3-D Secure
// mock does for its number.
type Card struct {
	Number string
	// Brand is "visa" or "mastercard"; it decides the ECI values.
	Brand string
	// Method: the card's ACS runs a 3DS Method (fingerprint), so create
	// answers action_required with a fingerprint; without one, pending.
	Method bool
	Flow   Flow
	// TransStatus is the ARes transStatus of a frictionless flow (Y, A, N,
	// R, U); "" for the other flows.
	TransStatus string
	// Meaning says what the card is for, in the words of the README.
	Meaning string
}

// testCards is the card table: data, in the order the README lists it.
// Every number passes the Luhn check. 4242424242424242, 5555555555554444
// and 4000000000003220 are also cards of the mock processor
// (providers/mock/cards.go) with the same meaning there: the first two
// approve, 4000000000003220 declines authentication_required unless the
// payment carries an authenticated result, which its challenge gives.
var testCards = []Card{
	{"4242424242424242", "visa", true, FlowFrictionless, "Y",
		"frictionless authenticated (Y, ECI 05) after the fingerprint; a mandated challenge gives a challenge"},
	{"5555555555554444", "mastercard", true, FlowFrictionless, "Y",
		"frictionless authenticated (Y, ECI 02) after the fingerprint; a mandated challenge gives a challenge"},
	{"4000000000003220", "visa", true, FlowChallenge, "",
		"fingerprint, then a challenge: code 1234 authenticates (Y, ECI 05), three wrong codes fail (N), Cancel abandons"},
	{"5200000000003225", "mastercard", true, FlowChallenge, "",
		"fingerprint, then a challenge, as 4000000000003220 (Y gives ECI 02)"},
	{"4000000000003006", "visa", false, FlowFrictionless, "Y",
		"no 3DS Method: create answers pending; authenticate with U gives authenticated (Y)"},
	{"4000000000003014", "visa", false, FlowNotEnrolled, "",
		"not enrolled: create answers not_supported (pay without 3-D Secure)"},
	{"4000000000003022", "visa", true, FlowFrictionless, "A",
		"frictionless attempted (A, ECI 06, with a cryptogram)"},
	{"4000000000003030", "visa", true, FlowFrictionless, "N",
		"frictionless not_authenticated (N, ECI 07, reason 01)"},
	{"4000000000003048", "visa", true, FlowFrictionless, "R",
		"frictionless rejected (R, reason 11): the agent must not pay"},
	{"4000000000003071", "visa", true, FlowFrictionless, "U",
		"unavailable (U, reason 14: the ACS timed out)"},
	{"4000000000003089", "visa", true, FlowAbandoned, "",
		"fingerprint, then a challenge the shopper abandons: the result reads challenge_abandoned"},
}

// Cards returns the test card table, in the README's order. The table is
// a copy: changing it changes nothing.
func Cards() []Card {
	return append([]Card(nil), testCards...)
}

// LookupCard returns what the mock does for number: the table's entry; for
// any other Luhn-valid number, a frictionless authentication (Y) after a
// fingerprint, its brand read from the number; for anything else, a card
// that is not enrolled (the directory server has no range for it).
func LookupCard(number string) Card {
	for _, c := range testCards {
		if c.Number == number {
			return c
		}
	}
	if !payment.CardNumberValid(number) {
		return Card{Number: number, Brand: brandOf(number), Flow: FlowNotEnrolled}
	}
	return Card{Number: number, Brand: brandOf(number), Method: true, Flow: FlowFrictionless, TransStatus: "Y"}
}

// brandOf reads the brand from a number's prefix: Mastercard's 51-55 and
// 2221-2720, Visa for the rest (the mock only knows the two ECI schemes).
func brandOf(number string) string {
	if len(number) >= 4 {
		p2 := int(number[0]-'0')*10 + int(number[1]-'0')
		p4 := p2*100 + int(number[2]-'0')*10 + int(number[3]-'0')
		if (p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720) {
			return "mastercard"
		}
	}
	return "visa"
}

// eci returns the Electronic Commerce Indicator of transStatus for brand:
// Visa 05 authenticated, 06 attempted, 07 otherwise; Mastercard 02, 01, 00.
func eci(brand, transStatus string) string {
	mc := brand == "mastercard"
	switch transStatus {
	case "Y":
		if mc {
			return "02"
		}
		return "05"
	case "A":
		if mc {
			return "01"
		}
		return "06"
	default:
		if mc {
			return "00"
		}
		return "07"
	}
}
