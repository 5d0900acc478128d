package fees

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"

	"acpgw/payment"
)

// ErrInvalidSchedule is returned (wrapped) by Schedule.Validate.
var ErrInvalidSchedule = errors.New("invalid fee schedule")

// Schedule is what a processor charges per payment: a percentage of the
// amount plus a fixed amount, with optional surcharges. The zero Schedule
// charges nothing.
type Schedule struct {
	// Percent is the base rate on every payment.
	Percent Rate `yaml:"percent"`
	// Fixed is added to every payment, in minor units of Currency.
	Fixed int64 `yaml:"fixed"`
	// Currency is the lowercase ISO 4217 currency of Fixed. When it is empty,
	// Fixed is taken as minor units of whatever currency the payment is in.
	Currency string `yaml:"currency"`
	// InternationalPercent is added when the card was issued in another
	// country than the merchant's.
	InternationalPercent Rate `yaml:"international_percent"`
	// InterchangePercent is a pass-through estimate (as in Adyen
	// Interchange++ pricing), added to Percent on every payment.
	InterchangePercent Rate `yaml:"interchange_percent"`
}

// Input is the payment a fee is estimated for.
type Input struct {
	// Amount is the payment amount; its currency is the fee's currency.
	Amount payment.Money
	// CardCountry is the ISO 3166 alpha-2 country of the card's issuer, ""
	// when unknown.
	CardCountry string
	// MerchantCountry is the merchant's ISO 3166 alpha-2 country, "" when
	// unknown.
	MerchantCountry string
}

// Validate reports whether s is usable: every rate between 0 and 100%, the
// rates together at most 100%, Fixed not negative, and Currency empty or a
// known lowercase ISO 4217 code.
func (s Schedule) Validate() error {
	var errs []error
	for _, f := range []struct {
		name string
		r    Rate
	}{
		{"percent", s.Percent},
		{"international_percent", s.InternationalPercent},
		{"interchange_percent", s.InterchangePercent},
	} {
		if f.r < 0 || f.r > OneHundredPercent {
			errs = append(errs, fmt.Errorf("%w: %s %s must be between 0 and 100%%", ErrInvalidSchedule, f.name, f.r))
		}
	}
	if len(errs) == 0 && s.Percent+s.InternationalPercent+s.InterchangePercent > OneHundredPercent {
		errs = append(errs, fmt.Errorf("%w: percent, international_percent and interchange_percent add up to more than 100%%", ErrInvalidSchedule))
	}
	if s.Fixed < 0 {
		errs = append(errs, fmt.Errorf("%w: fixed %d must not be negative", ErrInvalidSchedule, s.Fixed))
	}
	if s.Currency != "" && !payment.ValidCurrency(s.Currency) {
		errs = append(errs, fmt.Errorf("%w: currency %q is not a known lowercase ISO 4217 code", ErrInvalidSchedule, s.Currency))
	}
	return errors.Join(errs...)
}

// Estimate returns the estimated fee for a payment, in the payment's
// currency:
//
//	round-half-up(amount × (Percent + InterchangePercent [+ InternationalPercent]) / 1e6) + Fixed
//
// InternationalPercent is added only when both countries are known and
// differ. acpgw does not convert currencies: Fixed is added only when the
// payment's currency equals Currency (or Currency is empty); otherwise the
// fixed part is omitted and fixedApplied is false, so callers can mark the
// estimate as partial. fixedApplied is true whenever nothing was left out.
//
// The arithmetic is exact for every amount up to math.MaxInt64; a fee that
// does not fit in int64 is an error wrapping payment.ErrOverflow.
func (s Schedule) Estimate(in Input) (fee payment.Money, fixedApplied bool, err error) {
	cur := in.Amount.Currency
	if !payment.ValidCurrency(cur) {
		return payment.Money{}, false, fmt.Errorf("fee estimate: %w: %q", payment.ErrUnknownCurrency, cur)
	}
	if in.Amount.Amount < 0 {
		return payment.Money{}, false, fmt.Errorf("fee estimate: %w: %d is negative", payment.ErrInvalidAmount, in.Amount.Amount)
	}
	if err := s.Validate(); err != nil {
		return payment.Money{}, false, fmt.Errorf("fee estimate: %w", err)
	}
	rate := s.Percent + s.InterchangePercent
	if in.CardCountry != "" && in.MerchantCountry != "" && !strings.EqualFold(in.CardCountry, in.MerchantCountry) {
		rate += s.InternationalPercent
	}
	pct, err := applyRate(uint64(in.Amount.Amount), uint64(rate))
	if err != nil {
		return payment.Money{}, false, fmt.Errorf("fee estimate: %w", err)
	}
	total := pct
	fixedApplied = true
	if s.Fixed != 0 {
		if s.Currency == "" || s.Currency == cur {
			if total > math.MaxInt64-s.Fixed {
				return payment.Money{}, false, fmt.Errorf("fee estimate: %w", payment.ErrOverflow)
			}
			total += s.Fixed
		} else {
			fixedApplied = false
		}
	}
	return payment.Money{Amount: total, Currency: cur}, fixedApplied, nil
}

// applyRate returns round-half-up(amount*ppm/1e6) using a 128-bit product,
// so no amount overflows before the division.
func applyRate(amount, ppm uint64) (int64, error) {
	const million = uint64(OneHundredPercent)
	hi, lo := bits.Mul64(amount, ppm)
	lo, carry := bits.Add64(lo, million/2, 0)
	hi += carry
	if hi >= million { // the quotient would not fit in 64 bits
		return 0, payment.ErrOverflow
	}
	q, _ := bits.Div64(hi, lo, million)
	if q > math.MaxInt64 {
		return 0, payment.ErrOverflow
	}
	return int64(q), nil
}
