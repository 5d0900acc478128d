package payment

import (
	"errors"
	"fmt"
)

// ErrAboveMaximum: an amount above the largest acpgw accepts in its
// currency (MaxAmounts).
var ErrAboveMaximum = errors.New("amount above the currency's maximum")

// DefaultMaxAmount is the largest amount, in minor units, acpgw accepts in a
// currency that config (amounts.max) does not bound otherwise: the largest
// that both Stripe and Adyen accept.
//
//   - Stripe: "The amount value supports up to eight digits (e.g., a value of
//     99999999 for a USD charge of $999,999.99)" (the amount parameter of
//     PaymentIntents in the API reference, also in stripe-go v76's
//     PaymentIntentParams.Amount; stripe.com/docs/currencies#minimum-and-maximum-charge-amounts).
//     The limit is on the digits of the minor-unit integer, so it is
//     99999999 whatever the currency's exponent: 999,999.99 usd, 99,999,999
//     jpy, 99,999.999 kwd.
//   - Adyen: Checkout API v71 documents amount.value as an int64 of minor
//     units with no maximum (testdata/specs/adyen/CheckoutService-v71.json,
//     schema Amount).
//
// So Stripe's eight digits bind, for every currency.
const DefaultMaxAmount int64 = 99_999_999

// MaxExactAmount is the largest maximum config may set: 2^53, up to which
// every integer is exact in a float64, the type of Prometheus counters
// (acpgw_payment_amount_total, acpgw_fees_total). An accepted amount is
// therefore always counted exactly.
const MaxExactAmount int64 = 1 << 53

// MaxAmounts maps a lowercase currency code to the largest amount accepted
// in it, in minor units. A currency it does not list has DefaultMaxAmount;
// the zero value bounds every currency by DefaultMaxAmount.
type MaxAmounts map[string]int64

// Of returns the largest amount accepted in currency.
func (m MaxAmounts) Of(currency string) int64 {
	if v, ok := m[currency]; ok {
		return v
	}
	return DefaultMaxAmount
}

// Check returns an error wrapping ErrAboveMaximum when amount is above the
// maximum of its currency, nil otherwise. The message says both amounts in
// minor units and in major units, never anything else of the request.
func (m MaxAmounts) Check(amount Money) error {
	limit := m.Of(amount.Currency)
	if amount.Amount <= limit {
		return nil
	}
	return fmt.Errorf("%w: %d is above %d minor units (%s), the largest amount accepted in %s",
		ErrAboveMaximum, amount.Amount, limit, Money{Amount: limit, Currency: amount.Currency}, amount.Currency)
}
