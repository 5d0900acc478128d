package payment

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, cur string
		want    int64
		err     error
	}{
		{"25.99", "usd", 2599, nil},
		{"25", "usd", 2500, nil},
		{"25.9", "usd", 2590, nil},
		{"0.01", "usd", 1, nil},
		{"1000", "jpy", 1000, nil},
		{"1.5", "jpy", 0, ErrInvalidAmount},
		{"1.234", "kwd", 1234, nil},
		{"1.2345", "kwd", 0, ErrInvalidAmount},
		{"1.234", "usd", 0, ErrInvalidAmount},
		{"0", "usd", 0, ErrInvalidAmount},
		{"0.00", "usd", 0, ErrInvalidAmount},
		{"-1", "usd", 0, ErrInvalidAmount},
		{"+1", "usd", 0, ErrInvalidAmount},
		{"1e3", "usd", 0, ErrInvalidAmount},
		{" 1", "usd", 0, ErrInvalidAmount},
		{"1.", "usd", 0, ErrInvalidAmount},
		{".5", "usd", 0, ErrInvalidAmount},
		{"", "usd", 0, ErrInvalidAmount},
		{"1,00", "usd", 0, ErrInvalidAmount},
		{"92233720368547758.07", "usd", math.MaxInt64, nil},
		{"92233720368547758.08", "usd", 0, ErrOverflow},
		{"9223372036854775807", "jpy", math.MaxInt64, nil},
		{"9223372036854775808", "jpy", 0, ErrOverflow},
		{"99999999999999999999999", "usd", 0, ErrOverflow},
		{"1", "USD", 0, ErrUnknownCurrency},
		{"1", "xxx", 0, ErrUnknownCurrency},
	}
	for _, tt := range tests {
		t.Run(tt.in+"_"+tt.cur, func(t *testing.T) {
			got, err := Parse(tt.in, tt.cur)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("Parse(%q, %q) err = %v, want %v", tt.in, tt.cur, err, tt.err)
				}
				return
			}
			if err != nil || got.Amount != tt.want || got.Currency != tt.cur {
				t.Fatalf("Parse(%q, %q) = %+v, %v; want %d", tt.in, tt.cur, got, err, tt.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		m    Money
		want string
	}{
		{Money{2599, "usd"}, "25.99 usd"},
		{Money{5, "usd"}, "0.05 usd"},
		{Money{-5, "usd"}, "-0.05 usd"},
		{Money{1000, "jpy"}, "1000 jpy"},
		{Money{1, "kwd"}, "0.001 kwd"},
		{Money{math.MinInt64, "usd"}, "-92233720368547758.08 usd"},
	} {
		if got := tt.m.String(); got != tt.want {
			t.Errorf("%+v.String() = %q, want %q", tt.m, got, tt.want)
		}
	}
}

func TestArithmetic(t *testing.T) {
	t.Parallel()
	a := Money{math.MaxInt64 - 1, "usd"}
	if _, err := a.Add(Money{2, "usd"}); !errors.Is(err, ErrOverflow) {
		t.Fatalf("overflow not caught: %v", err)
	}
	if s, err := a.Add(Money{1, "usd"}); err != nil || s.Amount != math.MaxInt64 {
		t.Fatalf("add to max: %v %v", s, err)
	}
	if _, err := a.Add(Money{1, "eur"}); !errors.Is(err, ErrCurrencyDiffers) {
		t.Fatalf("currency: %v", err)
	}
	if _, err := (Money{math.MinInt64 + 1, "usd"}).Sub(Money{2, "usd"}); !errors.Is(err, ErrOverflow) {
		t.Fatalf("sub overflow not caught: %v", err)
	}
	if _, err := (Money{0, "usd"}).Sub(Money{math.MinInt64, "usd"}); !errors.Is(err, ErrOverflow) {
		t.Fatalf("sub min overflow not caught: %v", err)
	}
	if d, err := (Money{500, "usd"}).Sub(Money{200, "usd"}); err != nil || d.Amount != 300 {
		t.Fatalf("sub: %v %v", d, err)
	}
	if _, err := New(0, "usd"); !errors.Is(err, ErrInvalidAmount) {
		t.Fatal("zero accepted")
	}
}

func TestDeclineTable(t *testing.T) {
	t.Parallel()
	seen := map[DeclineCode]bool{}
	for _, d := range Declines {
		if seen[d.Code] {
			t.Errorf("duplicate code %s", d.Code)
		}
		seen[d.Code] = true
		if d.Category != Hard && d.Category != Soft {
			t.Errorf("%s: category %q", d.Code, d.Category)
		}
		if d.Category == Hard && d.Retryable {
			t.Errorf("%s: a hard decline cannot be retryable", d.Code)
		}
		if d.Description == "" {
			t.Errorf("%s: no description", d.Code)
		}
	}
	d := NewDecline("made_up", "zz", "")
	if d.Code != DeclineUnknown || d.ProcessorCode != "zz" || d.Message == "" {
		t.Fatalf("unknown code: %+v", d)
	}
	d = NewDecline(DeclineInsufficientFunds, "insufficient_funds", "no money")
	if d.Category != Soft || !d.Retryable || d.Message != "no money" {
		t.Fatalf("known code: %+v", d)
	}
}

// FuzzParse checks that Parse never panics, that accepted amounts are
// positive, and that formatting an accepted amount parses back to itself.
func FuzzParse(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/money/*.txt")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		in, cur, _ := strings.Cut(strings.TrimSpace(string(b)), " ")
		f.Add(in, cur)
	}
	f.Fuzz(func(t *testing.T, in, cur string) {
		m, err := Parse(in, cur)
		if err != nil {
			return
		}
		if m.Amount <= 0 {
			t.Fatalf("Parse(%q) accepted %d", in, m.Amount)
		}
		major, _, _ := strings.Cut(m.String(), " ")
		back, err := Parse(major, cur)
		if err != nil || back != m {
			t.Fatalf("round trip %q -> %v -> %q -> %v, %v", in, m, major, back, err)
		}
	})
}

func TestMaxAmounts(t *testing.T) {
	t.Parallel()
	limits := MaxAmounts{"jpy": 5_000_000}
	for _, tc := range []struct {
		amount   int64
		currency string
		ok       bool
	}{
		{1, "usd", true},
		{DefaultMaxAmount, "usd", true},
		{DefaultMaxAmount + 1, "usd", false},
		{math.MaxInt64, "usd", false},
		{DefaultMaxAmount, "kwd", true},
		{DefaultMaxAmount + 1, "kwd", false},
		{5_000_000, "jpy", true},
		{5_000_001, "jpy", false},
	} {
		err := limits.Check(Money{Amount: tc.amount, Currency: tc.currency})
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrAboveMaximum)) {
			t.Errorf("Check(%d %s) = %v, want ok %v", tc.amount, tc.currency, err, tc.ok)
		}
	}
	if got := (MaxAmounts(nil)).Of("usd"); got != DefaultMaxAmount {
		t.Errorf("nil MaxAmounts.Of(usd) = %d, want %d", got, DefaultMaxAmount)
	}
}

// TestMaxAmountsExactInFloat64: every amount acpgw can accept, up to the
// largest maximum config may set, is exact in a float64 (the type of
// Prometheus counters), and the next integer is not: MaxExactAmount is the
// tightest such bound, not a guess.
func TestMaxAmountsExactInFloat64(t *testing.T) {
	t.Parallel()
	for _, v := range []int64{1, DefaultMaxAmount, MaxExactAmount - 1, MaxExactAmount} {
		if int64(float64(v)) != v {
			t.Errorf("%d is not exact in a float64", v)
		}
	}
	if f := float64(MaxExactAmount + 1); int64(f) == MaxExactAmount+1 {
		t.Errorf("%d is exact in a float64; MaxExactAmount could be larger", MaxExactAmount+1)
	}
	if DefaultMaxAmount > MaxExactAmount {
		t.Errorf("DefaultMaxAmount %d is above MaxExactAmount %d", DefaultMaxAmount, MaxExactAmount)
	}
}
