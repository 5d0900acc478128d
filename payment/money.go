// Package payment holds the domain types every other acpgw package shares:
// money in integer minor units, payment statuses, the decline taxonomy, the
// card credential that the vault seals and the providers charge, and the
// sentinel errors. It imports nothing of acpgw's own.
package payment

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Money is an amount in the minor units of its currency (cents for usd, yen
// for jpy, fils for kwd). Currency is a lowercase ISO 4217 code.
type Money struct {
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
}

// Errors returned by the money functions; test for them with errors.Is.
var (
	ErrUnknownCurrency = errors.New("unknown currency")
	ErrInvalidAmount   = errors.New("invalid amount")
	ErrOverflow        = errors.New("amount overflows int64 minor units")
	ErrCurrencyDiffers = errors.New("currencies differ")
)

// currencyExponents lists the ISO 4217 currencies acpgw accepts with their
// minor-unit exponent. Currencies that are not listed are rejected rather
// than guessed, because a wrong exponent charges 100 times too much or too
// little.
var currencyExponents = map[string]int{
	// zero-decimal currencies
	"bif": 0, "clp": 0, "djf": 0, "gnf": 0, "isk": 0, "jpy": 0, "kmf": 0, "krw": 0,
	"pyg": 0, "rwf": 0, "ugx": 0, "vnd": 0, "vuv": 0, "xaf": 0, "xof": 0, "xpf": 0,
	// three-decimal currencies
	"bhd": 3, "iqd": 3, "jod": 3, "kwd": 3, "lyd": 3, "omr": 3, "tnd": 3,
	// two-decimal currencies
	"aed": 2, "ars": 2, "aud": 2, "bgn": 2, "brl": 2, "cad": 2, "chf": 2, "cny": 2,
	"cop": 2, "czk": 2, "dkk": 2, "egp": 2, "eur": 2, "gbp": 2, "hkd": 2, "huf": 2,
	"idr": 2, "ils": 2, "inr": 2, "kes": 2, "mad": 2, "mxn": 2, "myr": 2, "ngn": 2,
	"nok": 2, "nzd": 2, "pen": 2, "php": 2, "pkr": 2, "pln": 2, "qar": 2, "ron": 2,
	"rsd": 2, "sar": 2, "sek": 2, "sgd": 2, "thb": 2, "try": 2, "twd": 2, "uah": 2,
	"usd": 2, "zar": 2,
}

// Exponent returns the number of minor-unit digits of a lowercase ISO 4217
// currency code, and false when acpgw does not know the currency.
func Exponent(currency string) (int, bool) {
	e, ok := currencyExponents[currency]
	return e, ok
}

// ValidCurrency reports whether currency is a lowercase ISO 4217 code acpgw
// knows.
func ValidCurrency(currency string) bool {
	_, ok := currencyExponents[currency]
	return ok
}

// New returns Money after checking that the currency is known and the amount
// is positive. Zero and negative amounts are never valid charges.
func New(amount int64, currency string) (Money, error) {
	if !ValidCurrency(currency) {
		return Money{}, fmt.Errorf("%w: %q", ErrUnknownCurrency, currency)
	}
	if amount <= 0 {
		return Money{}, fmt.Errorf("%w: %d must be positive", ErrInvalidAmount, amount)
	}
	return Money{Amount: amount, Currency: currency}, nil
}

// Parse reads a decimal major-unit string such as "25.99" in currency and
// returns it in minor units. It refuses more fraction digits than the
// currency has ("1.5" jpy, "1.234" usd), signs, exponents, spaces, and
// anything that would overflow int64.
func Parse(s, currency string) (Money, error) {
	exp, ok := Exponent(currency)
	if !ok {
		return Money{}, fmt.Errorf("%w: %q", ErrUnknownCurrency, currency)
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || (hasDot && frac == "") {
		return Money{}, fmt.Errorf("%w: %q is not a decimal amount", ErrInvalidAmount, s)
	}
	if !digits(intPart) || !digits(frac) {
		return Money{}, fmt.Errorf("%w: %q is not a decimal amount", ErrInvalidAmount, s)
	}
	if len(frac) > exp {
		return Money{}, fmt.Errorf("%w: %q has more than %d decimals for %s", ErrInvalidAmount, s, exp, currency)
	}
	frac += strings.Repeat("0", exp-len(frac))
	var minor int64
	for _, r := range intPart + frac {
		d := int64(r - '0')
		if minor > (math.MaxInt64-d)/10 {
			return Money{}, fmt.Errorf("%w: %q", ErrOverflow, s)
		}
		minor = minor*10 + d
	}
	return New(minor, currency)
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Add returns m+o, refusing different currencies and int64 overflow.
func (m Money) Add(o Money) (Money, error) {
	if m.Currency != o.Currency {
		return Money{}, fmt.Errorf("%w: %s and %s", ErrCurrencyDiffers, m.Currency, o.Currency)
	}
	if (o.Amount > 0 && m.Amount > math.MaxInt64-o.Amount) || (o.Amount < 0 && m.Amount < math.MinInt64-o.Amount) {
		return Money{}, ErrOverflow
	}
	return Money{Amount: m.Amount + o.Amount, Currency: m.Currency}, nil
}

// Sub returns m-o, refusing different currencies and int64 overflow.
func (m Money) Sub(o Money) (Money, error) {
	if o.Amount == math.MinInt64 {
		return Money{}, ErrOverflow
	}
	return m.Add(Money{Amount: -o.Amount, Currency: o.Currency})
}

// String formats m in major units with its currency, for humans ("25.99 usd").
// It is the one place acpgw formats money.
func (m Money) String() string {
	exp, ok := Exponent(m.Currency)
	if !ok || exp == 0 {
		return strconv.FormatInt(m.Amount, 10) + " " + m.Currency
	}
	neg := m.Amount < 0
	u := uint64(m.Amount)
	if neg {
		u = -u
	}
	s := strconv.FormatUint(u, 10)
	if len(s) <= exp {
		s = strings.Repeat("0", exp-len(s)+1) + s
	}
	s = s[:len(s)-exp] + "." + s[len(s)-exp:]
	if neg {
		s = "-" + s
	}
	return s + " " + m.Currency
}
