package payment

import (
	"encoding/json"
	"fmt"
	"log/slog"
)

// Card is a decrypted card credential: what the vault seals and opens and
// what a processor charges. It lives in memory only for the duration of one
// processor call; never log or store it. Every way of printing it (String,
// GoString, Format for all verbs, slog's LogValue and encoding/json) shows
// only the brand and the last four digits. Code that must send or seal the
// credential reads the fields directly; it must not rely on
// json.Marshal(Card).
type Card struct {
	// NumberType is "fpan" or "network_token".
	NumberType string
	Number     string
	ExpMonth   int
	ExpYear    int
	Name       string
	// CVC is empty after the credential's first use.
	CVC        string
	Cryptogram string
	ECI        string
	Brand      string
	Funding    string
}

// last4 is the part of the number that may be shown.
func (c Card) last4() string {
	if len(c.Number) >= 4 {
		return c.Number[len(c.Number)-4:]
	}
	return ""
}

// String hides the card so that a stray %v never prints a PAN.
func (c Card) String() string {
	return fmt.Sprintf("card(%s ****%s)", c.Brand, c.last4())
}

// GoString hides the card from %#v as well.
func (c Card) GoString() string { return c.String() }

// Format prints the redacted description for every verb and flag, so that
// %d or %x of a Card (or of a struct holding one) cannot show the number or
// the CVC either.
func (c Card) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		_, _ = fmt.Fprintf(f, "%q", c.String())
		return
	}
	_, _ = f.Write([]byte(c.String()))
}

// LogValue implements slog.LogValuer with the redacted description; without
// it slog's JSON handler would marshal every field.
func (c Card) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON writes the redacted description, so that a Card handed to a
// JSON encoder cannot leak the credential.
func (c Card) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }

// CardNumberValid reports whether number looks like a card number: 12 to
// 19 digits whose last is the Luhn check digit (ISO/IEC 7812).
func CardNumberValid(number string) bool {
	if len(number) < 12 || len(number) > 19 {
		return false
	}
	sum, double := 0, false
	for i := len(number) - 1; i >= 0; i-- {
		d := int(number[i]) - '0'
		if d < 0 || d > 9 {
			return false
		}
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}
