package routing

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"acpgw/config"
	"acpgw/payment"
)

const vaultYAML = `vault: {keys: [{id: k1, key: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}]}
`

func table(t testing.TB, yaml string, info map[string]ProcessorInfo) *Table {
	t.Helper()
	cfg, err := config.Parse([]byte(vaultYAML+yaml), "t.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tb, err := NewTable(cfg, info)
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

const rulesYAML = `processors:
  stripe_us: {type: stripe, secret_key: sk_test_x, fees: {percent: 2.9, fixed: 30, currency: usd, international_percent: 1.5}}
  adyen_eu:  {type: adyen, api_key: k, merchant_account: A, fees: {percent: 0.6, fixed: 13, currency: eur, interchange_percent: 0.3}, currencies: [eur, gbp, usd]}
  mock:      {type: mock, fees: {percent: 1, fixed: 0}}
  cheap:     {type: mock, fees: {percent: 0.5}, currencies: [usd], max_latency_p99: 100ms}
merchants:
  - id: acme
    api_key: k1
    country: US
    processors: [stripe_us, adyen_eu, mock, cheap]
    routing:
      max_attempts: 3
      rules:
        - {name: spt, match: {token_kind: spt}, processors: [stripe_us, adyen_eu]}
        - {name: eur, match: {currency: [eur]}, processors: [adyen_eu, stripe_us]}
        - {name: big, match: {amount: {min: 100000}}, processors: [cheap, mock], strategy: least_cost}
        - {name: amex, match: {brand: [amex]}, processors: [mock]}
        - {name: debit-de, match: {funding: [debit], card_country: [DE]}, processors: [adyen_eu]}
        - {name: bin, match: {iin: ["411111"]}, processors: [mock, stripe_us]}
        - {name: vip, match: {metadata: {tier: vip}}, processors: [stripe_us]}
  - id: lc
    api_key: k2
    country: US
    processors: [stripe_us, adyen_eu, mock]
    routing: {strategy: least_cost, max_attempts: 3}
`

type fakeHealth struct {
	open map[string]bool
	p99  map[string]time.Duration
}

func (f fakeHealth) Open(p string) bool                { return f.open[p] }
func (f fakeHealth) LatencyP99(p string) time.Duration { return f.p99[p] }

func usd(n int64) payment.Money { return payment.Money{Amount: n, Currency: "usd"} }

func TestRulePrecedenceAndConstraints(t *testing.T) {
	tb := table(t, rulesYAML, map[string]ProcessorInfo{"stripe_us": {SharedTokens: true}})
	tests := []struct {
		name    string
		req     Request
		health  fakeHealth
		rule    string
		want    string // candidates, comma separated
		skipped string // processor:reason, comma separated
	}{
		{"default order", Request{MerchantID: "acme", Amount: usd(1000)}, fakeHealth{}, "", "stripe_us,adyen_eu,mock", "cheap:beyond_max_attempts"},
		{"spt first and only stripe", Request{MerchantID: "acme", Amount: usd(1000), SharedToken: true}, fakeHealth{}, "spt", "stripe_us", "adyen_eu:token_kind_not_supported"},
		{"spt rule wins over eur", Request{MerchantID: "acme", Amount: payment.Money{Amount: 10, Currency: "eur"}, SharedToken: true}, fakeHealth{}, "spt", "stripe_us", "adyen_eu:token_kind_not_supported"},
		{"eur rule", Request{MerchantID: "acme", Amount: payment.Money{Amount: 10, Currency: "eur"}}, fakeHealth{}, "eur", "adyen_eu,stripe_us", ""},
		{"big least cost", Request{MerchantID: "acme", Amount: usd(200000)}, fakeHealth{}, "big", "cheap,mock", ""},
		{"big least cost, cheap too slow", Request{MerchantID: "acme", Amount: usd(200000)}, fakeHealth{p99: map[string]time.Duration{"cheap": time.Second}}, "big", "mock", "cheap:latency_above_max"},
		{"big in jpy skips usd-only cheap", Request{MerchantID: "acme", Amount: payment.Money{Amount: 200000, Currency: "jpy"}}, fakeHealth{}, "big", "mock", "cheap:currency_not_supported"},
		{"brand", Request{MerchantID: "acme", Amount: usd(10), CardBrand: "amex"}, fakeHealth{}, "amex", "mock", ""},
		{"funding and country both needed", Request{MerchantID: "acme", Amount: usd(10), Funding: "debit", CardCountry: "FR"}, fakeHealth{}, "", "stripe_us,adyen_eu,mock", "cheap:beyond_max_attempts"},
		{"funding and country", Request{MerchantID: "acme", Amount: usd(10), Funding: "debit", CardCountry: "DE"}, fakeHealth{}, "debit-de", "adyen_eu", ""},
		{"iin", Request{MerchantID: "acme", Amount: usd(10), IIN: "41111111"}, fakeHealth{}, "bin", "mock,stripe_us", ""},
		{"metadata", Request{MerchantID: "acme", Amount: usd(10), Metadata: map[string]string{"tier": "vip"}}, fakeHealth{}, "vip", "stripe_us", ""},
		{"circuit open skipped", Request{MerchantID: "acme", Amount: usd(10), Metadata: map[string]string{"tier": "vip"}}, fakeHealth{open: map[string]bool{"stripe_us": true}}, "vip", "", "stripe_us:circuit_open"},
		{"least cost international", Request{MerchantID: "lc", Amount: usd(10000), CardCountry: "GB"}, fakeHealth{}, "", "adyen_eu,mock,stripe_us", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Decision
			if err := tb.Route(&tt.req, tt.health, &d); err != nil {
				t.Fatal(err)
			}
			if d.Rule != tt.rule {
				t.Errorf("rule %q, want %q", d.Rule, tt.rule)
			}
			if got := strings.Join(d.Names(), ","); got != tt.want {
				t.Errorf("candidates %q, want %q", got, tt.want)
			}
			var sk []string
			for _, s := range d.Skipped {
				sk = append(sk, s.Processor+":"+s.Reason)
			}
			if got := strings.Join(sk, ","); got != tt.skipped {
				t.Errorf("skipped %q, want %q", got, tt.skipped)
			}
		})
	}
	var d Decision
	if err := tb.Route(&Request{MerchantID: "nobody", Amount: usd(1)}, AllHealthy{}, &d); err != ErrUnknownMerchant {
		t.Fatalf("unknown merchant: %v", err)
	}
}

func TestLeastCostFees(t *testing.T) {
	tb := table(t, rulesYAML, nil)
	var d Decision
	req := Request{MerchantID: "lc", Amount: usd(10000), CardCountry: "GB"}
	if err := tb.Route(&req, AllHealthy{}, &d); err != nil {
		t.Fatal(err)
	}
	// adyen: 0.6%+0.3%+1.5%? no: international only applies where set. 0.9% of 100.00 = 90; fixed 13 eur not applied to usd.
	// mock: 1% = 100. stripe: 2.9%+1.5% intl = 4.4% = 440 + 30.
	want := map[string]int64{"adyen_eu": 90, "mock": 100, "stripe_us": 470}
	for _, c := range d.Candidates {
		if c.EstimatedFee != want[c.Processor] {
			t.Errorf("%s fee %d, want %d", c.Processor, c.EstimatedFee, want[c.Processor])
		}
	}
	if !strings.Contains(string(d.JSON()), `"strategy":"least_cost"`) {
		t.Fatalf("json: %s", d.JSON())
	}
}

func TestTieKeepsConfiguredOrder(t *testing.T) {
	tb := table(t, `processors:
  a: {type: mock, fees: {percent: 1}}
  b: {type: mock, fees: {percent: 1}}
  c: {type: mock, fees: {percent: 0.5}}
merchants:
  - {id: m, api_key: k, processors: [a, b, c], routing: {strategy: least_cost, max_attempts: 3}}
`, nil)
	var d Decision
	if err := tb.Route(&Request{MerchantID: "m", Amount: usd(1000)}, AllHealthy{}, &d); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(d.Names(), ","); got != "c,a,b" {
		t.Fatalf("order %s", got)
	}
}

func TestWeightedSplitAndDeterminism(t *testing.T) {
	tb := table(t, `processors:
  a: {type: mock}
  b: {type: mock}
  c: {type: mock}
merchants:
  - {id: m, api_key: k, processors: [a, b, c], routing: {strategy: weighted, weights: {a: 70, b: 20, c: 10}, max_attempts: 3}}
`, nil)
	const n = 100000
	counts := map[string]int{}
	var d Decision
	for i := range n {
		req := Request{MerchantID: "m", PaymentID: fmt.Sprintf("pay_%026d", i), Amount: usd(1000)}
		if err := tb.Route(&req, AllHealthy{}, &d); err != nil {
			t.Fatal(err)
		}
		counts[d.Candidates[0].Processor]++
		if len(d.Candidates) != 3 {
			t.Fatalf("failover candidates missing: %v", d.Names())
		}
	}
	for name, w := range map[string]float64{"a": 0.7, "b": 0.2, "c": 0.1} {
		share := float64(counts[name]) / n
		if math.Abs(share-w) > 0.01 {
			t.Errorf("%s share %.4f, want %.2f ± 0.01", name, share, w)
		}
	}
	// The same payment id always routes the same way.
	req := Request{MerchantID: "m", PaymentID: "pay_fixed", Amount: usd(1000)}
	var first Decision
	_ = tb.Route(&req, AllHealthy{}, &first)
	want := strings.Join(first.Names(), ",")
	for range 100 {
		_ = tb.Route(&req, AllHealthy{}, &d)
		if got := strings.Join(d.Names(), ","); got != want {
			t.Fatalf("not deterministic: %s vs %s", got, want)
		}
	}
	// An open circuit takes its processor out of the split.
	for i := range 1000 {
		req := Request{MerchantID: "m", PaymentID: fmt.Sprintf("pay_%d", i), Amount: usd(1000)}
		_ = tb.Route(&req, fakeHealth{open: map[string]bool{"a": true}}, &d)
		if d.Candidates[0].Processor == "a" {
			t.Fatal("open processor chosen")
		}
	}
}

func TestRouteDoesNotAllocate(t *testing.T) {
	tb := table(t, rulesYAML, nil)
	req := Request{MerchantID: "acme", PaymentID: "pay_x", Amount: usd(200000), CardBrand: "visa"}
	d := Decision{Candidates: make([]Candidate, 0, 8), Skipped: make([]Skipped, 0, 8)}
	allocs := testing.AllocsPerRun(1000, func() {
		_ = tb.Route(&req, AllHealthy{}, &d)
	})
	if allocs != 0 {
		t.Fatalf("Route allocates %.1f times", allocs)
	}
}
