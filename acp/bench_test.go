package acp

import (
	"testing"
)

// The bodies of cmd/acpgw-load, the requests scripts/bench.sh measures.
var (
	benchPaymentBody = []byte(`{"merchant_id":"bench","checkout_session_id":"cs_load_x_a17","amount":1999,"currency":"usd",` +
		`"payment_data":{"token":"vt_06h2f3m2982tw8hb6z2shnt9aybyxhw0w520","provider":"stripe"},"capture":"automatic"}`)
	benchDelegateBody = []byte(`{"payment_method":{"type":"card","card_number_type":"fpan","number":"4242424242424242",` +
		`"exp_month":"12","exp_year":"2029","name":"Load Test","cvc":"123","checks_performed":["cvv"],` +
		`"display_card_funding_type":"credit","display_brand":"visa","display_last4":"4242","metadata":{}},` +
		`"allowance":{"reason":"one_time","max_amount":100000,"currency":"usd","checkout_session_id":"cs_load_x_dm17",` +
		`"merchant_id":"bench","expires_at":"2026-11-26T13:00:00Z"},"billing_address":{"name":"Load Test",` +
		`"line_one":"1 Main St","city":"San Francisco","state":"CA","country":"US","postal_code":"94107"},` +
		`"risk_signals":[{"type":"card_testing","score":1,"action":"authorized"}],"metadata":{}}`)
)

func BenchmarkDecodePaymentRequest(b *testing.B) {
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := DecodePaymentRequest(benchPaymentBody); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeDelegateRequest(b *testing.B) {
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		if _, err := DecodeDelegateRequest(Latest, benchDelegateBody, testNow); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRequestHash(b *testing.B) {
	for _, bc := range []struct {
		name string
		body []byte
	}{{"payment", benchPaymentBody}, {"delegate", benchDelegateBody}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				RequestHash(bc.body)
			}
		})
	}
}

// BenchmarkHandlerWork is what a handler asks of acp for one request: the
// body's idempotency hash and its decoding.
func BenchmarkHandlerWork(b *testing.B) {
	b.Run("payment", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			body := ReadBody(benchPaymentBody)
			body.Hash()
			if _, err := body.DecodePaymentRequest(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("delegate", func(b *testing.B) {
		b.ReportAllocs()
		defer reportCPU(b)()
		for b.Loop() {
			body := ReadBody(benchDelegateBody)
			body.Hash()
			if _, err := body.DecodeDelegateRequest(Latest, testNow); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// reportCPU starts counting the process's CPU time; the function it
// returns reports it per op as cpu-ns/op, which, unlike ns/op, does not
// count the time other processes of a shared machine take.
func reportCPU(b *testing.B) func() {
	start := cpuTime()
	return func() {
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	}
}
