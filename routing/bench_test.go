package routing

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"acpgw/config"
)

// bigConfig is 10,000 merchants with 20 rules each, every rule reachable
// (disjoint amount bands), over four processors.
func bigConfig() []byte {
	var b strings.Builder
	b.WriteString(vaultYAML)
	b.WriteString(`processors:
  p1: {type: mock, fees: {percent: 2.9, fixed: 30, currency: usd}}
  p2: {type: mock, fees: {percent: 1.2, fixed: 10, currency: usd}, max_latency_p99: 1s}
  p3: {type: mock, fees: {percent: 0.8}, currencies: [usd, eur]}
  p4: {type: mock, fees: {percent: 1.9, international_percent: 1}}
merchants:
`)
	for m := range 10000 {
		fmt.Fprintf(&b, "  - id: m%d\n    api_key: key%d\n    country: US\n    processors: [p1, p2, p3, p4]\n    routing:\n      strategy: least_cost\n      max_attempts: 3\n      rules:\n", m, m)
		for r := range 20 {
			strategy := []string{"priority", "least_cost", "weighted"}[r%3]
			weights := ""
			if strategy == "weighted" {
				weights = ", weights: {p1: 3, p2: 1, p3: 1}"
			}
			fmt.Fprintf(&b, "        - {match: {currency: [usd, eur], amount: {min: %d, max: %d}, brand: [visa, mastercard]}, processors: [p1, p2, p3], strategy: %s%s}\n",
				r*1000, r*1000+999, strategy, weights)
		}
	}
	return []byte(b.String())
}

var big []byte

func loadBig(b *testing.B) *Table {
	if big == nil {
		big = bigConfig()
	}
	cfg, err := config.Parse(big, "big.yaml")
	if err != nil {
		b.Fatal(err)
	}
	tb, err := NewTable(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	return tb
}

// BenchmarkRoute routes a payment that matches the last of 20 rules (the
// slowest path) of one of 10,000 merchants.
func BenchmarkRoute(b *testing.B) {
	tb := loadBig(b)
	health := NewBreakers(nil, nil)
	for _, p := range []string{"p1", "p2", "p3", "p4"} {
		health.Configure(p, config.Circuit{FailureRatio: 500000, Window: time.Second, MinRequests: 10, OpenFor: time.Second})
	}
	reqs := []Request{
		{MerchantID: "m9999", PaymentID: "pay_a", Amount: usd(19500), CardBrand: "visa"},
		{MerchantID: "m5000", PaymentID: "pay_b", Amount: usd(18200), CardBrand: "mastercard"},
		{MerchantID: "m1", PaymentID: "pay_c", Amount: usd(999999), CardBrand: "visa"},
	}
	d := Decision{Candidates: make([]Candidate, 0, 8), Skipped: make([]Skipped, 0, 8)}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if err := tb.Route(&reqs[i%len(reqs)], health, &d); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLoad is a reload of the 10,000 x 20 config: parse, validate and
// build the table. It also reports the table's heap size.
func BenchmarkLoad(b *testing.B) {
	big = bigConfig()
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	keep := loadBig(b)
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	runtime.KeepAlive(keep)
	for b.Loop() {
		loadBig(b)
	}
	b.ReportMetric(float64(len(big))/(1<<20), "MiB-yaml")
	b.ReportMetric(float64(ms1.HeapAlloc-ms0.HeapAlloc)/(1<<20), "MiB-loaded")
}
