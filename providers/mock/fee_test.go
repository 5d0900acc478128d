package mock

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"

	"acpgw/fees"
	"acpgw/payment"
)

// bigFee is the reference computation of fee in arbitrary precision.
func bigFee(amount, ratePPM, fixed int64) (int64, bool) {
	n := new(big.Int).Mul(big.NewInt(amount), big.NewInt(ratePPM))
	n.Add(n, big.NewInt(ppm/2))
	n.Quo(n, big.NewInt(ppm))
	n.Add(n, big.NewInt(fixed))
	if !n.IsInt64() {
		return 0, false
	}
	return n.Int64(), true
}

func TestFee(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		amount, rate, fixed int64
		want                int64
		ok                  bool
	}{
		{2599, 29000, 30, 105, true}, // 75.371 + 30
		{50, 10000, 0, 1, true},      // 0.5 rounds up
		{49, 10000, 0, 0, true},      // 0.49 rounds down
		{150, 10000, 0, 2, true},     // 1.5 rounds up
		{1250, 36000, 0, 45, true},   // jpy, exact
		{14, 36000, 0, 1, true},      // jpy 0.504
		{0, 29000, 30, 30, true},     // fixed only
		{1000, 0, 0, 0, true},        // free
		{1000, 1_000_000, 0, 1000, true},
		{math.MaxInt64, 29000, 30, 267477789068788498 + 30, true},
		{math.MaxInt64, 1_000_000, 0, math.MaxInt64, true},
		{math.MaxInt64, 1_000_000, 1, 0, false},     // fixed pushes past int64
		{math.MaxInt64, math.MaxInt64, 0, 0, false}, // quotient needs 64+ bits
		{math.MaxInt64 / 2, 2_000_000, 0, math.MaxInt64 - 1, true},
		{math.MaxInt64/2 + 1, 2_000_000, 0, 0, false},    // 2^63   // quotient above int64
		{1 << 40, 1 << 40, 0, 1208925819614629175, true}, // 2^80/1e6 = ...174.7, product above 2^64
		{-1, 29000, 0, 0, false},
		{1, -1, 0, 0, false},
		{1, 1, -1, 0, false},
	} {
		got, ok := fee(tc.amount, tc.rate, tc.fixed)
		if got != tc.want || ok != tc.ok {
			t.Errorf("fee(%d, %d, %d) = %d, %v; want %d, %v", tc.amount, tc.rate, tc.fixed, got, ok, tc.want, tc.ok)
		}
		if tc.amount >= 0 && tc.rate >= 0 && tc.fixed >= 0 {
			if want, wantOK := bigFee(tc.amount, tc.rate, tc.fixed); got != want || ok != wantOK {
				t.Errorf("fee(%d, %d, %d) = %d, %v; big.Int says %d, %v", tc.amount, tc.rate, tc.fixed, got, ok, want, wantOK)
			}
		}
	}
}

// TestFeeMatchesBig compares fee with the big.Int reference over random
// amounts of every magnitude.
func TestFeeMatchesBig(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for range 100_000 {
		amount := r.Int64N(math.MaxInt64) >> r.IntN(63)
		rate := r.Int64N(2_000_000)
		fixed := r.Int64N(1000)
		if r.IntN(10) == 0 {
			fixed = r.Int64N(math.MaxInt64)
		}
		got, ok := fee(amount, rate, fixed)
		want, wantOK := bigFee(amount, rate, fixed)
		if got != want || ok != wantOK {
			t.Fatalf("fee(%d, %d, %d) = %d, %v; big.Int says %d, %v", amount, rate, fixed, got, ok, want, wantOK)
		}
	}
}

// FuzzFee checks fee against the big.Int reference on fuzzed inputs.
func FuzzFee(f *testing.F) {
	f.Add(int64(2599), int64(29000), int64(30))
	f.Add(int64(math.MaxInt64), int64(1_000_000), int64(1))
	f.Add(int64(50), int64(10000), int64(0))
	f.Fuzz(func(t *testing.T, amount, rate, fixed int64) {
		got, ok := fee(amount, rate, fixed)
		if amount < 0 || rate < 0 || fixed < 0 {
			if ok {
				t.Fatalf("fee(%d, %d, %d) accepted a negative input", amount, rate, fixed)
			}
			return
		}
		if want, wantOK := bigFee(amount, rate, fixed); got != want || ok != wantOK {
			t.Fatalf("fee(%d, %d, %d) = %d, %v; big.Int says %d, %v", amount, rate, fixed, got, ok, want, wantOK)
		}
	})
}

func TestLuhn(t *testing.T) {
	t.Parallel()
	for number, want := range map[string]bool{
		"4242424242424242":     true,
		"5555555555554444":     true,
		"4000000000009979":     true,
		"378282246310005":      true, // 15-digit amex
		"4242424242424241":     false,
		"424242424243":         false, // 12 digits, bad check digit
		"424242424242":         true,  // 12 digits, the shortest accepted
		"4242 4242 4242 4242":  false,
		"":                     false,
		"0000000000":           false, // too short
		"00000000000000000000": false, // too long
	} {
		if got := payment.CardNumberValid(number); got != want {
			t.Errorf("payment.CardNumberValid(%q) = %v, want %v", number, got, want)
		}
	}
	// Every number of the contract's table must be Luhn-valid (the README
	// says so), or the table and the fallback would disagree.
	for number := range testCards {
		if !payment.CardNumberValid(number) {
			t.Errorf("test card ending %s is not Luhn-valid", number[len(number)-4:])
		}
	}
}

// TestFeeMatchesEstimate holds the mock's actual fee to the estimate that
// routing and the payment's fee.estimated use, currency rule included: for
// a schedule without surcharges they must agree on every charge.
func TestFeeMatchesEstimate(t *testing.T) {
	t.Parallel()
	sched := fees.Schedule{Percent: 29000, Fixed: 30, Currency: "usd"}
	p := New(Config{FeeRatePPM: int64(sched.Percent), FeeFixed: sched.Fixed, FeeCurrency: sched.Currency})
	for _, cur := range []string{"usd", "eur", "jpy", "kwd"} {
		for _, amount := range []int64{1, 50, 2599, 1_000_000} {
			m := payment.Money{Amount: amount, Currency: cur}
			want, _, err := sched.Estimate(fees.Input{Amount: m})
			if err != nil {
				t.Fatal(err)
			}
			got, ok := fee(amount, p.feeRatePPM, p.fixedFee(cur))
			if !ok || got != want.Amount {
				t.Errorf("%v: mock fee %d (%v), estimate %d", m, got, ok, want.Amount)
			}
		}
	}
}
