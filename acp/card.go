package acp

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
)

// Card is the payment_method object of a Delegate Payment request: the raw
// card credential. It holds a PAN and a CVC, so every way of printing it
// (String, GoString, Format for all verbs, slog's LogValue and
// encoding/json) shows only brand, last four digits and number type.
// Code that must store the credential (the vault) reads the fields
// directly; it must not rely on json.Marshal(Card).
type Card struct {
	Type                   string // always "card"
	CardNumberType         string // "fpan" or "network_token"
	Number                 string // PAN or network token; 12 to 19 digits
	ExpMonth               string // "01".."12" (normalised to two digits) or empty
	ExpYear                string // four digits or empty
	Name                   string
	CVC                    string
	Cryptogram             string
	ECIValue               string
	ChecksPerformed        []string
	IIN                    string
	DisplayCardFundingType string
	DisplayWalletType      string
	DisplayBrand           string
	DisplayLast4           string
	Metadata               map[string]string
	Virtual                *bool // nil when absent
}

// Last4 returns the last four digits of the number, or DisplayLast4 when the
// number is too short (it never is after decoding).
func (c Card) Last4() string {
	if len(c.Number) >= 4 {
		return c.Number[len(c.Number)-4:]
	}
	return c.DisplayLast4
}

// String returns a redacted description: brand, last four and number type.
func (c Card) String() string {
	brand := c.DisplayBrand
	if brand == "" {
		brand = "card"
	}
	typ := c.CardNumberType
	if typ == "" {
		typ = "unknown"
	}
	return fmt.Sprintf("%s ****%s (%s)", sanitize(brand), sanitize(c.Last4()), sanitize(typ))
}

// sanitize keeps caller-controlled display fields from smuggling digits or
// control characters into logs.
func sanitize(s string) string {
	if len(s) > 32 {
		s = s[:32]
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// GoString returns the redacted description for %#v.
func (c Card) GoString() string {
	return "acp.Card{" + c.String() + "}"
}

// Format prints the redacted description for every verb and flag, so that
// %v, %+v, %#v, %s, %q and %d of a Card (or of a struct holding one) never
// show the number or the CVC.
func (c Card) Format(f fmt.State, verb rune) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = f.Write([]byte(c.GoString()))
	case verb == 'q':
		_, _ = fmt.Fprintf(f, "%q", c.String())
	default:
		_, _ = f.Write([]byte(c.String()))
	}
}

// LogValue implements slog.LogValuer with the redacted description.
func (c Card) LogValue() slog.Value {
	return slog.StringValue(c.String())
}

// MarshalJSON writes only non-sensitive fields, so a Card handed to a JSON
// logger cannot leak the credential.
func (c Card) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Type           string `json:"type"`
		CardNumberType string `json:"card_number_type"`
		Brand          string `json:"display_brand,omitempty"`
		Last4          string `json:"last4"`
	}{c.Type, c.CardNumberType, c.DisplayBrand, c.Last4()})
}

// luhn reports whether the digit string s passes the Luhn check.
func luhn(s string) bool {
	sum := 0
	double := false
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}
