package acp

import (
	"encoding/json"
	"math/big"
	"strings"
	"testing"
)

func TestCanonicalNumber(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		want string
		lits []string
	}{
		{"2599", []string{"2599", "2599.0", "2599.000", "2.599e3", "2.599E+3", "259900e-2", "0.2599e4", "25990E-1"}},
		{"1000", []string{"1000", "1e3", "1E3", "10e2", "1000.0", "0.001e6"}},
		{"0", []string{"0", "-0", "0.0", "-0.0", "0e5", "0E-99999999999999999999"}},
		{"-5", []string{"-5", "-5.000", "-0.5e1", "-50e-1"}},
		{"2599e-2", []string{"25.99", "2599e-2", "0.2599e2", "25.990"}},
		{"1e100", []string{"1e100", "10e99", "0.1e101"}},
		{"1e99999999999999999999", []string{"1e99999999999999999999", "10e99999999999999999998"}},
		{"-15e-1", []string{"-1.5", "-1.50", "-15e-1"}},
	} {
		for _, lit := range tc.lits {
			if got := CanonicalNumber(lit); got != tc.want {
				t.Errorf("CanonicalNumber(%s) = %s, want %s", lit, got, tc.want)
			}
		}
	}
	// Not JSON numbers: returned as they are.
	for _, lit := range []string{"", "-", "01", "1.", ".5", "1e", "1e+", "+1", "1.5.5", "0x10", "1e--1", "NaN", "1 "} {
		if got := CanonicalNumber(lit); got != lit {
			t.Errorf("CanonicalNumber(%q) = %q, want it unchanged", lit, got)
		}
	}
	// 40 digits are written out, 41 go to exponent form.
	if got := CanonicalNumber("1e39"); got != "1"+strings.Repeat("0", 39) {
		t.Errorf("1e39 -> %s", got)
	}
	if got := CanonicalNumber("1e40"); got != "1e40" {
		t.Errorf("1e40 -> %s", got)
	}
}

// FuzzCanonicalNumber: a JSON number and its canonical spelling are the
// same value, the canonical spelling is a fixed point, and an integer keeps
// its spelling.
func FuzzCanonicalNumber(f *testing.F) {
	for _, s := range []string{"2599", "2599.0", "1e3", "-0", "25.99", "1e-7", "9223372036854775807", "1E+400", "0.000",
		"999999999999999999", "-999999999999999999", "1000000000000000000000000000000000000000", "10000000000000000000000000000000000000000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, lit string) {
		var n json.Number
		if err := json.Unmarshal([]byte(lit), &n); err != nil || string(n) != lit {
			if _, ok := parseDecimal(lit); ok && json.Valid([]byte(lit)) && !strings.ContainsAny(lit, " \t\r\n") {
				t.Fatalf("parseDecimal accepts %q, which encoding/json does not read as a number", lit)
			}
			return
		}
		d, ok := parseDecimal(lit)
		if !ok {
			t.Fatalf("parseDecimal refuses the JSON number %q", lit)
		}
		c := d.canonical()
		if again := CanonicalNumber(c); again != c {
			t.Fatalf("canonical of %q is %q, whose canonical is %q", lit, c, again)
		}
		// The same value, where big.Rat can hold it cheaply.
		if len(lit) < 40 && !strings.ContainsAny(lit, "eE") {
			a, okA := new(big.Rat).SetString(lit)
			b, okB := new(big.Rat).SetString(c)
			if !okA || !okB || a.Cmp(b) != 0 {
				t.Fatalf("%q and its canonical %q differ", lit, c)
			}
		}
		if v, integral, rangeErr := d.int64(); integral && !rangeErr {
			if c != big.NewInt(v).String() {
				t.Fatalf("%q is the integer %d but canonical %q", lit, v, c)
			}
		}
		// The fast paths agree with parseDecimal.
		if got := CanonicalNumber(lit); got != c {
			t.Fatalf("CanonicalNumber(%q) = %q, parseDecimal's canonical %q", lit, got, c)
		}
		if n, ok := smallInteger(lit); ok {
			if v, integral, rangeErr := d.int64(); !integral || rangeErr || v != n {
				t.Fatalf("smallInteger(%q) = %d, parseDecimal's %d (integral %v, range error %v)", lit, n, v, integral, rangeErr)
			}
		}
	})
}
