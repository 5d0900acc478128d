package fees

import (
	"errors"
	"math"
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"acpgw/payment"
)

func TestParsePercent(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    Rate
		wantErr bool
	}{
		{"2.9", 29000, false},
		{"0.6", 6000, false},
		{"1.5", 15000, false},
		{"0", 0, false},
		{"0.0", 0, false},
		{"100", 1_000_000, false},
		{"100.0000", 1_000_000, false},
		{"0.0001", 1, false},
		{"99.9999", 999_999, false},
		{"2.90", 29000, false},
		{"007", 70000, false},
		{"100.0001", 0, true},
		{"101", 0, true},
		{"1000000000000000000000", 0, true},
		{"-1", 0, true},
		{"-0", 0, true},
		{"+1", 0, true},
		{"1e2", 0, true},
		{"2.9e0", 0, true},
		{" 2.9", 0, true},
		{"2.9 ", 0, true},
		{"2. 9", 0, true},
		{"", 0, true},
		{".5", 0, true},
		{"5.", 0, true},
		{".", 0, true},
		{"2.12345", 0, true},
		{"0x10", 0, true},
		{"1,5", 0, true},
		{"2.9%", 0, true},
		{"NaN", 0, true},
		{"inf", 0, true},
		{"١", 0, true}, // a non-ASCII digit
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := ParsePercent(tt.in)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("ParsePercent(%q) = %d, want error", tt.in, got)
				}
				if !errors.Is(err, ErrInvalidPercent) {
					t.Fatalf("ParsePercent(%q) error %v does not wrap ErrInvalidPercent", tt.in, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParsePercent(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestRateString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		r    Rate
		want string
	}{
		{29000, "2.9%"},
		{6000, "0.6%"},
		{0, "0%"},
		{1, "0.0001%"},
		{10, "0.001%"},
		{1_000_000, "100%"},
		{123_450, "12.345%"},
		{-15000, "-1.5%"},
	}
	for _, tt := range tests {
		if got := tt.r.String(); got != tt.want {
			t.Errorf("Rate(%d).String() = %q, want %q", int64(tt.r), got, tt.want)
		}
	}
}

func TestRateYAML(t *testing.T) {
	t.Parallel()
	var s Schedule
	dec := yaml.NewDecoder(strings.NewReader("percent: 2.9\nfixed: 30\ncurrency: usd\ninternational_percent: 1.5\ninterchange_percent: 0.30\n"))
	dec.KnownFields(true)
	if err := dec.Decode(&s); err != nil {
		t.Fatal(err)
	}
	want := Schedule{Percent: 29000, Fixed: 30, Currency: "usd", InternationalPercent: 15000, InterchangePercent: 3000}
	if s != want {
		t.Fatalf("decoded %+v, want %+v", s, want)
	}
	out, err := yaml.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "percent: 2.9\n") || !strings.Contains(string(out), "interchange_percent: 0.3\n") {
		t.Fatalf("marshalled %q, want plain decimals", out)
	}
	var back Schedule
	if err := yaml.Unmarshal(out, &back); err != nil || back != s {
		t.Fatalf("round trip = %+v, %v; want %+v", back, err, s)
	}

	for _, bad := range []string{"percent: 2.9e0\n", "percent: [1]\n", "percent: -1\n", "percent: 1.23456\n"} {
		var s Schedule
		err := yaml.Unmarshal([]byte(bad), &s)
		if !errors.Is(err, ErrInvalidPercent) {
			t.Errorf("Unmarshal(%q) error = %v, want ErrInvalidPercent", bad, err)
		}
	}
}

func TestEstimate(t *testing.T) {
	t.Parallel()
	stripeUS := Schedule{Percent: 29000, Fixed: 30, Currency: "usd", InternationalPercent: 15000}
	adyenEU := Schedule{Percent: 6000, Fixed: 13, Currency: "eur", InterchangePercent: 3000}
	tests := []struct {
		name      string
		s         Schedule
		in        Input
		want      int64
		wantFixed bool
		wantErr   error
	}{
		// 2599 * 2.9% = 75.371 -> 75, + 30
		{"usd domestic", stripeUS, Input{Amount: usd(2599), CardCountry: "US", MerchantCountry: "US"}, 105, true, nil},
		// 2599 * 4.4% = 114.356 -> 114, + 30
		{"usd international", stripeUS, Input{Amount: usd(2599), CardCountry: "GB", MerchantCountry: "US"}, 144, true, nil},
		{"country case ignored", stripeUS, Input{Amount: usd(2599), CardCountry: "us", MerchantCountry: "US"}, 105, true, nil},
		{"unknown card country: no surcharge", stripeUS, Input{Amount: usd(2599), MerchantCountry: "US"}, 105, true, nil},
		// 10000 * 0.9% = 90, + 13
		{"eur interchange", adyenEU, Input{Amount: money(10000, "eur")}, 103, true, nil},
		// fixed is in eur, payment in usd: omitted
		{"fixed in other currency omitted", adyenEU, Input{Amount: usd(10000)}, 90, false, nil},
		{"no currency: fixed always", Schedule{Percent: 10000, Fixed: 7}, Input{Amount: money(1000, "jpy")}, 17, true, nil},
		// jpy has no minor digits: 1234 * 3.6% = 44.424 -> 44
		{"jpy", Schedule{Percent: 36000, Currency: "jpy", Fixed: 40}, Input{Amount: money(1234, "jpy")}, 84, true, nil},
		// kwd has three: 12345 * 2.5% = 308.625 -> 309
		{"kwd", Schedule{Percent: 25000, Fixed: 100, Currency: "kwd"}, Input{Amount: money(12345, "kwd")}, 409, true, nil},
		// 50 * 1% = 0.5 -> 1 (half up)
		{"half rounds up", Schedule{Percent: 10000}, Input{Amount: usd(50)}, 1, true, nil},
		// 49 * 1% = 0.49 -> 0
		{"below half rounds down", Schedule{Percent: 10000}, Input{Amount: usd(49)}, 0, true, nil},
		// 150 * 1% = 1.5 -> 2
		{"1.5 rounds up", Schedule{Percent: 10000}, Input{Amount: usd(150)}, 2, true, nil},
		// 1 * 0.0001% = 0.000001 -> 0
		{"tiny", Schedule{Percent: 1}, Input{Amount: usd(1)}, 0, true, nil},
		{"zero amount pays fixed", stripeUS, Input{Amount: usd(0)}, 30, true, nil},
		{"zero schedule", Schedule{}, Input{Amount: usd(999)}, 0, true, nil},
		// MaxInt64 * 2.9% = 267477789068788498.403 -> ...498, + 30
		{"max amount", stripeUS, Input{Amount: usd(math.MaxInt64)}, 267477789068788528, true, nil},
		// MaxInt64 * 100% needs 83 bits before the division.
		{"max amount 100%", Schedule{Percent: 1_000_000}, Input{Amount: usd(math.MaxInt64)}, math.MaxInt64, true, nil},
		{"max amount 100% plus fixed overflows", Schedule{Percent: 1_000_000, Fixed: 1}, Input{Amount: usd(math.MaxInt64)}, 0, false, payment.ErrOverflow},
		{"fixed near max", Schedule{Fixed: math.MaxInt64}, Input{Amount: usd(0)}, math.MaxInt64, true, nil},
		{"unknown currency", stripeUS, Input{Amount: money(100, "xxx")}, 0, false, payment.ErrUnknownCurrency},
		{"negative amount", stripeUS, Input{Amount: usd(-1)}, 0, false, payment.ErrInvalidAmount},
		{"invalid schedule", Schedule{Percent: -1}, Input{Amount: usd(100)}, 0, false, ErrInvalidSchedule},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			fee, fixed, err := tt.s.Estimate(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Estimate = %v, %v, %v; want error %v", fee, fixed, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Estimate: %v", err)
			}
			if fee.Amount != tt.want || fee.Currency != tt.in.Amount.Currency || fixed != tt.wantFixed {
				t.Fatalf("Estimate = %d %s fixedApplied=%v; want %d %s fixedApplied=%v",
					fee.Amount, fee.Currency, fixed, tt.want, tt.in.Amount.Currency, tt.wantFixed)
			}
		})
	}
}

// TestApplyRateExhaustiveSmall checks the 128-bit arithmetic against plain
// int64 arithmetic where the latter cannot overflow.
func TestApplyRateExhaustiveSmall(t *testing.T) {
	t.Parallel()
	for _, amount := range []uint64{0, 1, 2, 49, 50, 51, 99, 100, 12345, 999_999, 1_000_000, 1 << 40} {
		for _, ppm := range []uint64{0, 1, 5000, 29000, 500_000, 999_999, 1_000_000} {
			want := int64((amount*ppm + 500_000) / 1_000_000)
			got, err := applyRate(amount, ppm)
			if err != nil || got != want {
				t.Errorf("applyRate(%d, %d) = %d, %v; want %d", amount, ppm, got, err, want)
			}
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		s    Schedule
		ok   bool
	}{
		{"zero", Schedule{}, true},
		{"typical", Schedule{Percent: 29000, Fixed: 30, Currency: "usd", InternationalPercent: 15000}, true},
		{"negative percent", Schedule{Percent: -1}, false},
		{"percent above 100", Schedule{Percent: 1_000_001}, false},
		{"sum above 100", Schedule{Percent: 600_000, InterchangePercent: 400_001}, false},
		{"negative fixed", Schedule{Fixed: -1, Currency: "usd"}, false},
		{"uppercase currency", Schedule{Fixed: 1, Currency: "USD"}, false},
		{"unknown currency", Schedule{Currency: "zzz"}, false},
	}
	for _, tt := range tests {
		err := tt.s.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("%s: Validate() = %v, want ok=%v", tt.name, err, tt.ok)
		}
		if err != nil && !errors.Is(err, ErrInvalidSchedule) {
			t.Errorf("%s: Validate() = %v, does not wrap ErrInvalidSchedule", tt.name, err)
		}
	}
}

func FuzzParsePercent(f *testing.F) {
	seeds, err := os.ReadFile("testdata/percents.txt")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range strings.Split(string(seeds), "\n") {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParsePercent(s)
		if err != nil {
			if r != 0 {
				t.Fatalf("ParsePercent(%q) = %d with error %v", s, r, err)
			}
			return
		}
		if r < 0 || r > OneHundredPercent {
			t.Fatalf("ParsePercent(%q) = %d, out of range", s, r)
		}
		str := r.String()
		back, err := ParsePercent(strings.TrimSuffix(str, "%"))
		if err != nil || back != r {
			t.Fatalf("ParsePercent(%q) = %d, String %q reads back as %d, %v", s, r, str, back, err)
		}
		if _, _, err := (Schedule{Percent: r}).Estimate(Input{Amount: usd(math.MaxInt64)}); err != nil {
			t.Fatalf("Estimate at %s of MaxInt64: %v", r, err)
		}
	})
}

func usd(a int64) payment.Money { return money(a, "usd") }

func money(a int64, c string) payment.Money { return payment.Money{Amount: a, Currency: c} }
