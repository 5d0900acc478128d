// Package fees holds processor fee schedules and the estimate of what a
// payment will cost. Amounts are int64 minor units and rates are integer
// parts per million: no floating point is used anywhere, so an estimate is
// exact and the same on every machine.
package fees

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Rate is a fraction of an amount in parts per million: 2.9% is 29000 and
// 100% is 1000000. It is parsed from a decimal percent string so that a
// config value such as 2.9 never passes through float64.
type Rate int64

// Rate bounds and precision.
const (
	// OneHundredPercent is the Rate of a whole amount.
	OneHundredPercent Rate = 1_000_000
	// PercentDecimals is the most decimals a percent string may have; one
	// parts-per-million step is 0.0001%.
	PercentDecimals = 4
)

// ErrInvalidPercent is returned (wrapped) by ParsePercent for text that is
// not a decimal percent between 0 and 100 with at most four decimals.
var ErrInvalidPercent = errors.New("invalid percent")

// ParsePercent reads a decimal percent such as "2.9", "0.6" or "100" and
// returns it as a Rate ("2.9" is 29000). It accepts only ASCII digits with an
// optional fraction of one to four digits; signs, exponents, spaces, a bare
// or trailing dot, and values above 100 are refused.
func ParsePercent(s string) (Rate, error) {
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || (hasDot && frac == "") || !allDigits(intPart) || !allDigits(frac) {
		return 0, fmt.Errorf("%w: %q is not a decimal percent such as 2.9", ErrInvalidPercent, s)
	}
	if len(frac) > PercentDecimals {
		return 0, fmt.Errorf("%w: %q has more than %d decimals", ErrInvalidPercent, s, PercentDecimals)
	}
	var whole int64
	for i := 0; i < len(intPart); i++ {
		whole = whole*10 + int64(intPart[i]-'0')
		if whole > 100 {
			return 0, fmt.Errorf("%w: %q is above 100", ErrInvalidPercent, s)
		}
	}
	r := whole * 10_000
	scale := int64(1000)
	for i := 0; i < len(frac); i++ {
		r += int64(frac[i]-'0') * scale
		scale /= 10
	}
	if Rate(r) > OneHundredPercent {
		return 0, fmt.Errorf("%w: %q is above 100", ErrInvalidPercent, s)
	}
	return Rate(r), nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Percent returns r as a decimal percent without the sign, in the form
// ParsePercent reads back ("2.9" for 29000, "0" for 0).
func (r Rate) Percent() string {
	neg := r < 0
	u := uint64(r)
	if neg {
		u = -u
	}
	s := strconv.FormatUint(u/10_000, 10)
	if f := u % 10_000; f != 0 {
		fs := strconv.FormatUint(f, 10)
		fs = strings.Repeat("0", PercentDecimals-len(fs)) + fs
		s += "." + strings.TrimRight(fs, "0")
	}
	if neg {
		s = "-" + s
	}
	return s
}

// String formats r as a percent for humans and logs ("2.9%").
func (r Rate) String() string {
	return r.Percent() + "%"
}

// UnmarshalYAML reads a Rate from the literal text of a YAML scalar, so that
// 2.9 is parsed as decimal text and never becomes a float64.
func (r *Rate) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: %w: expected a number such as 2.9", n.Line, ErrInvalidPercent)
	}
	v, err := ParsePercent(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*r = v
	return nil
}

// MarshalYAML writes r as a plain decimal number (2.9), the form
// UnmarshalYAML reads.
func (r Rate) MarshalYAML() (any, error) {
	return &yaml.Node{Kind: yaml.ScalarNode, Value: r.Percent()}, nil
}
