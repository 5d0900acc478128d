package config

import (
	"errors"
	"strings"
	"testing"

	"acpgw/payment"
)

const routingBase = `vault: {keys: [{id: k1, key: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}]}
processors:
  a: {type: mock, max_latency_p99: 500ms, circuit: {failure_percent: 25, window: 10s, min_requests: 5, open_for: 5s, half_open_probes: 2}}
  b: {type: mock}
  c: {type: mock}
merchants:
  - id: acme
    api_key: k
    processors: [a, b]
    routing:
`

func TestRoutingRulesParse(t *testing.T) {
	cfg, err := Parse([]byte(routingBase+`      strategy: least_cost
      cascade_on: [insufficient_funds, try_again_later]
      rules:
        - name: big-eur
          match: {currency: [eur], amount: {min: 10000}, brand: [visa], funding: [credit], card_country: [DE, FR], iin: ["4", "510000-559999"], token_kind: vault, metadata: {channel: agent}}
          processors: [b, a]
          strategy: weighted
          weights: {a: 1, b: 3}
        - match: {currency: [usd]}
          processors: [a]
`), "r.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Merchants[0].Routing
	if len(r.Rules) != 2 || r.Rules[0].Name != "big-eur" || r.Rules[1].Name != "rule2" {
		t.Fatalf("rules: %+v", r.Rules)
	}
	m := r.Rules[0].Match
	if *m.AmountMin != 10000 || m.AmountMax != nil || len(m.IIN) != 2 || !m.IIN[1].Contains("5212345678901234") || m.IIN[1].Contains("5600001234") {
		t.Fatalf("match: %+v", m)
	}
	if r.Rules[0].Line != 14 {
		t.Fatalf("rule line %d", r.Rules[0].Line)
	}
	a := cfg.Processors["a"]
	if a.MaxLatencyP99.Milliseconds() != 500 || a.Circuit.FailureRatio != 250000 || a.Circuit.MinRequests != 5 || a.Circuit.HalfOpenProbes != 2 {
		t.Fatalf("processor a: %+v", a.Circuit)
	}
	if b := cfg.Processors["b"].Circuit; b.FailureRatio != 500000 || b.Window != DefaultCircuitWindow || b.MinRequests != DefaultMinRequests {
		t.Fatalf("circuit defaults: %+v", b)
	}
}

func TestRoutingRulesErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
		line             string
	}{
		{"unknown processor", `      rules:
        - {match: {currency: [usd]}, processors: [zzz]}
`, `unknown processor "zzz"`, "r.yaml:12:"},
		{"processor not enabled", `      rules:
        - {match: {currency: [usd]}, processors: [c]}
`, "not enabled for this merchant", "r.yaml:12:"},
		{"weights sum zero", `      rules:
        - {match: {currency: [usd]}, processors: [a, b], strategy: weighted, weights: {a: 0, b: 0}}
`, "add up to more than 0", ":12:"},
		{"shadowed rule", `      rules:
        - {name: all-usd, match: {currency: [usd]}, processors: [a]}
        - {name: big-usd, match: {currency: [usd], amount: {min: 5000}}, processors: [b]}
`, `no payment can reach rule "big-usd": rule "all-usd" (line 12)`, ":13:"},
		{"catch-all first", `      rules:
        - {processors: [a]}
        - {match: {brand: [visa]}, processors: [b]}
`, "no payment can reach rule", ":13:"},
		{"empty amount range", `      rules:
        - {match: {amount: {min: 500, max: 100}}, processors: [a]}
`, "amount min 500 is above max 100", ":12:"},
		{"hard decline cascade", `      cascade_on: [card_declined]
`, "hard decline", ":11:"},
		{"unknown decline cascade", `      cascade_on: [nope]
`, `unknown decline code "nope"`, ":11:"},
		{"bad iin", `      rules:
        - {match: {iin: ["4x"]}, processors: [a]}
`, "iin \"4x\"", ":12:"},
		{"bad token kind", `      rules:
        - {match: {token_kind: card}, processors: [a]}
`, "token_kind must be vault or spt", ":12:"},
		{"unknown match key", `      rules:
        - {match: {colour: [red]}, processors: [a]}
`, `unknown key "colour"`, ":12:"},
		{"bad currency", `      rules:
        - {match: {currency: [EUR]}, processors: [a]}
`, `unknown currency "EUR"`, ":12:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(routingBase+tt.yaml), "r.yaml")
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), tt.line) {
				t.Fatalf("error %q, want %q at %s", err, tt.want, tt.line)
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("not a *config.Error: %T", err)
			}
		})
	}
}

func TestCovers(t *testing.T) {
	i64 := func(v int64) *int64 { return &v }
	tests := []struct {
		a, b Match
		want bool
	}{
		{Match{}, Match{Currencies: []string{"usd"}}, true},
		{Match{Currencies: []string{"usd"}}, Match{}, false},
		{Match{Currencies: []string{"usd", "eur"}}, Match{Currencies: []string{"eur"}}, true},
		{Match{AmountMin: i64(100)}, Match{AmountMin: i64(50)}, false},
		{Match{AmountMin: i64(100), AmountMax: i64(1000)}, Match{AmountMin: i64(200), AmountMax: i64(300)}, true},
		{Match{IIN: []IINRange{{"4", "4"}}}, Match{IIN: []IINRange{{"424242", "424242"}}}, true},
		{Match{IIN: []IINRange{{"424242", "424242"}}}, Match{IIN: []IINRange{{"4", "4"}}}, false},
		{Match{Metadata: map[string]string{"a": "1"}}, Match{Metadata: map[string]string{"a": "1", "b": "2"}}, true},
		{Match{TokenKind: "spt"}, Match{}, false},
		{Match{TokenKind: "vault"}, Match{TokenKind: "vault"}, true},
		{Match{Metadata: map[string]string{"a": ""}}, Match{}, false},
		{Match{IIN: []IINRange{{"4", "4"}}}, Match{IIN: []IINRange{{"400000", "499999"}, {"42", "43"}}}, true},
		{Match{IIN: []IINRange{{"40", "41"}, {"43", "49"}}}, Match{IIN: []IINRange{{"40", "49"}}}, false},
	}
	for i, tt := range tests {
		if got := tt.a.covers(&tt.b); got != tt.want {
			t.Errorf("%d: covers = %v", i, got)
		}
	}
}

func TestMatches(t *testing.T) {
	t.Parallel()
	i64 := func(v int64) *int64 { return &v }
	usd := func(n int64) payment.Money { return payment.Money{Amount: n, Currency: "usd"} }
	tests := []struct {
		name string
		m    Match
		f    Facts
		want bool
	}{
		{"empty takes all", Match{}, Facts{Amount: usd(1)}, true},
		{"currency", Match{Currencies: []string{"eur", "usd"}}, Facts{Amount: usd(1)}, true},
		{"other currency", Match{Currencies: []string{"eur"}}, Facts{Amount: usd(1)}, false},
		{"amount at min", Match{AmountMin: i64(100)}, Facts{Amount: usd(100)}, true},
		{"amount below min", Match{AmountMin: i64(100)}, Facts{Amount: usd(99)}, false},
		{"amount at max", Match{AmountMax: i64(100)}, Facts{Amount: usd(100)}, true},
		{"amount above max", Match{AmountMax: i64(100)}, Facts{Amount: usd(101)}, false},
		{"unknown brand", Match{Brands: []string{"visa"}}, Facts{Amount: usd(1)}, false},
		{"funding and country", Match{Funding: []string{"debit"}, CardCountries: []string{"DE"}}, Facts{Amount: usd(1), Funding: "debit", CardCountry: "DE"}, true},
		{"vault token", Match{TokenKind: "vault"}, Facts{Amount: usd(1)}, true},
		{"spt rule, vault token", Match{TokenKind: "spt"}, Facts{Amount: usd(1)}, false},
		{"iin range", Match{IIN: []IINRange{{"510000", "559999"}}}, Facts{Amount: usd(1), IIN: "55550000"}, true},
		{"no iin", Match{IIN: []IINRange{{"4", "4"}}}, Facts{Amount: usd(1)}, false},
		{"metadata", Match{Metadata: map[string]string{"tier": "vip"}}, Facts{Amount: usd(1), Metadata: map[string]string{"tier": "vip", "x": "y"}}, true},
		{"empty metadata value needs the key", Match{Metadata: map[string]string{"tier": ""}}, Facts{Amount: usd(1)}, false},
	}
	for _, tt := range tests {
		if got := tt.m.Matches(&tt.f); got != tt.want {
			t.Errorf("%s: Matches = %v", tt.name, got)
		}
	}
}
