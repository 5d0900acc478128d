package acp

import (
	"math/big"
	"strconv"
	"strings"
)

// JSON numbers. JSON Schema (draft 2020-12, the dialect of every ACP
// schema) counts any number with a zero fractional part as an integer, so
// 2599.0, 2.599e3 and 2599 are the same valid integer; the Delegate Payment
// RFC (section 5.2) makes "1.0 vs 1" equivalent for idempotency too. acpgw
// reads a number literal exactly, as decimal digits and a base-ten
// exponent, never through a float, so that 2599.0 is 2599 and 25.99 is
// refused without rounding in between.

// maxCanonicalIntegerDigits bounds the plain-integer spelling of a
// canonical number: a larger integer is written in exponent form, so that
// 1e1000000 costs no more to canonicalise than to read.
const maxCanonicalIntegerDigits = 40

// decimal is a JSON number literal in normal form: its value is
// (-1)^neg × digits × 10^exp, with digits free of leading and trailing
// zeros; zero has no digits (and no sign: -0 is 0).
type decimal struct {
	neg    bool
	digits string
	exp    *big.Int // nil for zero
}

// parseDecimal reads a JSON number literal (RFC 8259 grammar:
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?). It reports false for
// anything else. The exponent is read as a big integer: a literal such as
// 1e99999999999999999999 is a valid JSON number and must not overflow
// into another value.
func parseDecimal(lit string) (decimal, bool) {
	s := lit
	var d decimal
	if strings.HasPrefix(s, "-") {
		d.neg = true
		s = s[1:]
	}
	intEnd := digitRun(s)
	if intEnd == 0 || (intEnd > 1 && s[0] == '0') {
		return decimal{}, false
	}
	intPart, rest := s[:intEnd], s[intEnd:]
	var frac string
	if strings.HasPrefix(rest, ".") {
		n := digitRun(rest[1:])
		if n == 0 {
			return decimal{}, false
		}
		frac, rest = rest[1:1+n], rest[1+n:]
	}
	exp := new(big.Int)
	if rest != "" {
		if rest[0] != 'e' && rest[0] != 'E' {
			return decimal{}, false
		}
		e, sign := rest[1:], ""
		if e != "" && (e[0] == '+' || e[0] == '-') {
			if e[0] == '-' {
				sign = "-"
			}
			e = e[1:]
		}
		if e == "" || digitRun(e) != len(e) {
			return decimal{}, false
		}
		if _, ok := exp.SetString(sign+e, 10); !ok {
			return decimal{}, false
		}
	}
	// digits × 10^(exp - len(frac)), then strip zeros on both ends.
	digits := strings.TrimLeft(intPart+frac, "0")
	if digits == "" {
		return decimal{}, true // zero, whatever its sign and exponent
	}
	exp.Sub(exp, big.NewInt(int64(len(frac))))
	trimmed := strings.TrimRight(digits, "0")
	exp.Add(exp, big.NewInt(int64(len(digits)-len(trimmed))))
	d.digits, d.exp = trimmed, exp
	return d, true
}

// plainInteger reports whether lit is an integer literal without fraction
// or exponent, -?(0|[1-9][0-9]*), of at most maxDigits digits.
func plainInteger(lit string, maxDigits int) bool {
	digits := strings.TrimPrefix(lit, "-")
	n := digitRun(digits)
	return n > 0 && n == len(digits) && n <= maxDigits && (digits[0] != '0' || n == 1)
}

// smallInteger returns the value of a plain integer literal of at most 18
// digits, which always fits int64, without parseDecimal's big.Int; ok is
// false for any other literal.
func smallInteger(lit string) (n int64, ok bool) {
	if !plainInteger(lit, 18) {
		return 0, false
	}
	n, err := strconv.ParseInt(lit, 10, 64)
	return n, err == nil
}

// digitRun returns how many ASCII digits s starts with.
func digitRun(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}

// integral reports whether d has no fractional part.
func (d decimal) integral() bool { return d.exp == nil || d.exp.Sign() >= 0 }

// int64 returns d as an int64; ok is false when d is not integral, range
// is true when it is integral but does not fit.
func (d decimal) int64() (n int64, ok, rangeErr bool) {
	if !d.integral() {
		return 0, false, false
	}
	if d.exp == nil {
		return 0, true, false
	}
	// 19 digits is the most an int64 can have; checking the length first
	// keeps a huge exponent from being spelled out.
	if !d.exp.IsInt64() || int64(len(d.digits))+d.exp.Int64() > 19 {
		return 0, true, true
	}
	s := d.digits + strings.Repeat("0", int(d.exp.Int64()))
	if d.neg {
		s = "-" + s
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, true, true
	}
	return n, true, false
}

// canonical spells d uniquely: an integer of at most
// maxCanonicalIntegerDigits digits in plain decimal ("2599", "-5", "0"),
// anything else as digits and exponent ("2599e-2", "1e1000").
func (d decimal) canonical() string {
	if d.exp == nil {
		return "0"
	}
	sign := ""
	if d.neg {
		sign = "-"
	}
	if d.exp.Sign() >= 0 && d.exp.IsInt64() && int64(len(d.digits))+d.exp.Int64() <= maxCanonicalIntegerDigits {
		return sign + d.digits + strings.Repeat("0", int(d.exp.Int64()))
	}
	return sign + d.digits + "e" + d.exp.String()
}

// CanonicalNumber returns the canonical spelling of a JSON number literal:
// two literals have the same canonical spelling exactly when they are the
// same number (2599, 2599.0, 2.599e3 and 259900e-2 are all "2599"). A
// literal that is not a JSON number is returned as it is.
func CanonicalNumber(lit string) string {
	if plainInteger(lit, maxCanonicalIntegerDigits) && lit != "-0" {
		// Its own canonical spelling: the common case, without big.Int.
		return lit
	}
	d, ok := parseDecimal(lit)
	if !ok {
		return lit
	}
	return d.canonical()
}
