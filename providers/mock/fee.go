package mock

import (
	"math"
	"math/bits"
)

// ppm is the denominator of fee rates.
const ppm = 1_000_000

// fixedFee is the fixed part of the fee of a charge in currency: none when
// the fixed fee is in another currency.
func (p *Provider) fixedFee(currency string) int64 {
	if p.feeCur != "" && p.feeCur != currency {
		return 0
	}
	return p.feeFixed
}

// fee returns round-half-up(amount*ratePPM/1e6) + fixed in minor units, and
// false when an input is negative or the fee does not fit in int64. The
// product is computed in 128 bits, so any int64 amount and rate is exact.
func fee(amount, ratePPM, fixed int64) (int64, bool) {
	if amount < 0 || ratePPM < 0 || fixed < 0 {
		return 0, false
	}
	hi, lo := bits.Mul64(uint64(amount), uint64(ratePPM))
	var carry uint64
	lo, carry = bits.Add64(lo, ppm/2, 0)
	hi += carry // hi < 2^62 before, so this cannot wrap.
	if hi >= ppm {
		return 0, false // the quotient needs more than 64 bits
	}
	q, _ := bits.Div64(hi, lo, ppm)
	if q > math.MaxInt64 || int64(q) > math.MaxInt64-fixed {
		return 0, false
	}
	return int64(q) + fixed, true
}
