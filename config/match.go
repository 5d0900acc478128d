package config

import (
	"math"

	"acpgw/payment"
)

// Rule matching lives here, in one place for its two uses: routing asks
// Matches whether a rule applies to a payment, and validation asks covers
// whether an earlier rule leaves a later one unreachable. covers is built
// from the conditions Matches tests, so the two cannot drift apart: a new
// field of Match needs one condition, used by both.

// Match is what a payment must have for a rule to apply. Empty fields match
// everything; set fields must all match.
type Match struct {
	Currencies []string
	// AmountMin and AmountMax bound the amount in minor units, inclusive;
	// nil means unbounded.
	AmountMin *int64
	AmountMax *int64
	// Brands and Funding as the card's display_brand and
	// display_card_funding_type (lowercase: visa, mastercard; credit, debit).
	Brands  []string
	Funding []string
	// CardCountries are upper-case ISO alpha-2 codes.
	CardCountries []string
	// IIN are card-number prefix ranges: "4" (a prefix) or "510000-559999"
	// (a range of equal-length prefixes).
	IIN []IINRange
	// TokenKind is "vault" (vt_) or "spt" (Stripe Shared Payment Token).
	TokenKind string
	// Metadata pairs must all be in the payment's metadata.
	Metadata map[string]string
}

// Facts is what a rule can see of a payment.
type Facts struct {
	Amount payment.Money
	// SharedToken is set for a Stripe Shared Payment Token (spt_).
	SharedToken bool
	CardCountry string
	CardBrand   string
	Funding     string
	// IIN is the card number's first digits (6 or 8), when known.
	IIN      string
	Metadata map[string]string
}

// Matches reports whether a payment with the facts f meets every condition
// of m.
func (m *Match) Matches(f *Facts) bool {
	return oneOf(m.Currencies, f.Amount.Currency) &&
		m.amountHas(f.Amount.Amount) &&
		oneOf(m.Brands, f.CardBrand) &&
		oneOf(m.Funding, f.Funding) &&
		oneOf(m.CardCountries, f.CardCountry) &&
		m.tokenKindHas(f.SharedToken) &&
		m.iinHas(f.IIN) &&
		m.metadataHas(f.Metadata)
}

// covers reports whether every payment o matches is also matched by m, so
// that a rule o after a rule m can never be reached. Field by field, it asks
// m's condition about the extremes of o's: each value o lists, the ends of
// o's amount range, both token kinds when o takes either. It may answer
// false when m does cover o (an iin range of o shorter than m's, such as m
// 40-49 and o 4): a rule is refused only when it surely cannot be reached.
func (m *Match) covers(o *Match) bool {
	lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
	if o.AmountMin != nil {
		lo = *o.AmountMin
	}
	if o.AmountMax != nil {
		hi = *o.AmountMax
	}
	return allOf(m.Currencies, o.Currencies) &&
		m.amountHas(lo) && m.amountHas(hi) &&
		allOf(m.Brands, o.Brands) &&
		allOf(m.Funding, o.Funding) &&
		allOf(m.CardCountries, o.CardCountries) &&
		m.tokenKindCovers(o.TokenKind) &&
		m.iinCovers(o.IIN) &&
		// The payments o matches have at least o's metadata pairs.
		m.metadataHas(o.Metadata)
}

// oneOf is the condition of a list field: empty, or holding v.
func oneOf(list []string, v string) bool {
	if len(list) == 0 {
		return true
	}
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// allOf reports whether the list condition ms takes every value the list
// condition os takes; an empty os takes any value.
func allOf(ms, os []string) bool {
	if len(ms) == 0 {
		return true
	}
	if len(os) == 0 {
		return false
	}
	for _, v := range os {
		if !oneOf(ms, v) {
			return false
		}
	}
	return true
}

func (m *Match) amountHas(amount int64) bool {
	return (m.AmountMin == nil || amount >= *m.AmountMin) && (m.AmountMax == nil || amount <= *m.AmountMax)
}

func (m *Match) tokenKindHas(shared bool) bool {
	return m.TokenKind == "" || (m.TokenKind == "spt") == shared
}

// tokenKindCovers reports whether m takes every token kind that the
// condition o (vault, spt or "" for either) takes.
func (m *Match) tokenKindCovers(o string) bool {
	return (o == "spt" || m.tokenKindHas(false)) && (o == "vault" || m.tokenKindHas(true))
}

func (m *Match) iinHas(iin string) bool {
	if len(m.IIN) == 0 {
		return true
	}
	for _, r := range m.IIN {
		if r.Contains(iin) {
			return true
		}
	}
	return false
}

// iinCovers reports whether every range of os lies inside one range of m:
// one that contains both its ends. Contains refuses a prefix shorter than
// its range's, so a shorter range of os is never inside.
func (m *Match) iinCovers(os []IINRange) bool {
	if len(m.IIN) == 0 {
		return true
	}
	if len(os) == 0 {
		return false
	}
	for _, o := range os {
		inside := false
		for _, r := range m.IIN {
			if r.Contains(o.Low) && r.Contains(o.High) {
				inside = true
				break
			}
		}
		if !inside {
			return false
		}
	}
	return true
}

// metadataHas reports whether every pair of m is in md: the key present
// with the same value (a pair with an empty value needs the key too).
func (m *Match) metadataHas(md map[string]string) bool {
	for k, v := range m.Metadata {
		if got, ok := md[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// IINRange is an inclusive range of card-number prefixes of one length.
type IINRange struct {
	Low, High string
}

// Contains reports whether the card number (or its IIN) falls in r.
func (r IINRange) Contains(number string) bool {
	if len(number) < len(r.Low) {
		return false
	}
	p := number[:len(r.Low)]
	return p >= r.Low && p <= r.High
}
