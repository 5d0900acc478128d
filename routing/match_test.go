package routing

import (
	"fmt"
	"strings"
	"testing"

	"acpgw/config"
	"acpgw/payment"
)

// agreementRules are rule matches in the config's own syntax ("" is a rule
// without match, which takes every payment). Together with the payments of
// agreementPayments they hold, for every ordered pair that is not shadowed,
// a payment the later rule takes and the earlier does not.
var agreementRules = []string{
	``,
	`{currency: [usd]}`,
	`{currency: [usd, eur]}`,
	`{currency: [eur]}`,
	`{amount: {min: 5000}}`,
	`{amount: {min: 1000, max: 10000}}`,
	`{amount: {max: 999}}`,
	`{currency: [usd], amount: {min: 5000}}`,
	`{brand: [visa]}`,
	`{brand: [visa, mastercard], funding: [credit]}`,
	`{card_country: [DE]}`,
	`{funding: [debit], card_country: [DE, FR]}`,
	`{iin: ["4"]}`,
	`{iin: ["424242"]}`,
	`{iin: ["420000-429999"]}`,
	`{iin: ["510000-559999", "4"]}`,
	`{token_kind: spt}`,
	`{token_kind: vault}`,
	`{metadata: {tier: vip}}`,
	`{metadata: {tier: vip, channel: agent}}`,
	`{metadata: {tier: ""}}`,
}

// agreementPayments is every combination of values on both sides of each
// bound and list of agreementRules.
func agreementPayments() []Request {
	var out []Request
	for _, cur := range []string{"usd", "eur", "gbp"} {
		for _, amount := range []int64{999, 1000, 5000, 10000, 10001} {
			for _, brand := range []string{"visa", "mastercard", "amex"} {
				for _, funding := range []string{"credit", "debit"} {
					for _, country := range []string{"DE", "FR", "US"} {
						for _, iin := range []string{"42424242", "42000000", "41111111", "55000000", ""} {
							for _, shared := range []bool{false, true} {
								for _, md := range []map[string]string{nil, {"tier": "vip"}, {"tier": "vip", "channel": "agent"}, {"tier": ""}} {
									out = append(out, Request{
										PaymentID: "pay_x", Amount: payment.Money{Amount: amount, Currency: cur},
										SharedToken: shared, CardCountry: country, CardBrand: brand, Funding: funding,
										IIN: iin, Metadata: md,
									})
								}
							}
						}
					}
				}
			}
		}
	}
	return out
}

// agreementConfig is a config with one merchant per group of rules, the
// merchant's id given by name.
func agreementConfig(merchants map[string][]int) string {
	var b strings.Builder
	b.WriteString(vaultYAML + "processors:\n  p: {type: mock}\nmerchants:\n")
	for id, rules := range merchants {
		fmt.Fprintf(&b, "  - id: %s\n    api_key: key-%s\n    processors: [p]\n    routing:\n      rules:\n", id, id)
		for k, r := range rules {
			match := ""
			if agreementRules[r] != "" {
				match = ", match: " + agreementRules[r]
			}
			fmt.Fprintf(&b, "        - {name: r%d_%d%s, processors: [p]}\n", r, k, match)
		}
	}
	return b.String()
}

// TestRuleMatchingAgreesWithValidation holds the two uses of a rule's match
// to each other: config validation refuses rule b after rule a as
// unreachable exactly when routing sends none of the payments b takes alone
// to b once a is before it, that is when every payment b takes, a takes too.
func TestRuleMatchingAgreesWithValidation(t *testing.T) {
	t.Parallel()
	// Routing: which payments each rule takes, alone.
	alone := map[string][]int{}
	for i := range agreementRules {
		alone[fmt.Sprintf("m%d", i)] = []int{i}
	}
	tb := table(t, strings.TrimPrefix(agreementConfig(alone), vaultYAML), nil)
	pays := agreementPayments()
	takes := make([][]bool, len(agreementRules))
	var d Decision
	for i := range agreementRules {
		takes[i] = make([]bool, len(pays))
		n := 0
		for k := range pays {
			req := pays[k]
			req.MerchantID = fmt.Sprintf("m%d", i)
			if err := tb.Route(&req, AllHealthy{}, &d); err != nil {
				t.Fatal(err)
			}
			takes[i][k] = d.Rule == fmt.Sprintf("r%d_0", i)
			if takes[i][k] {
				n++
			}
		}
		if n == 0 {
			t.Fatalf("rule %q takes none of the payments: the table cannot tell anything about it", agreementRules[i])
		}
	}

	var shadowed, reachable int
	for a := range agreementRules {
		for b := range agreementRules {
			// Validation: is b after a refused?
			_, err := config.Parse([]byte(agreementConfig(map[string][]int{"m": {a, b}})), "t.yaml")
			refused := err != nil && strings.Contains(err.Error(), fmt.Sprintf("no payment can reach rule \"r%d_1\"", b))
			if err != nil && !refused {
				t.Fatalf("rules %q then %q: %v", agreementRules[a], agreementRules[b], err)
			}
			// Routing: a payment b takes and a does not.
			witness := -1
			for k := range pays {
				if takes[b][k] && !takes[a][k] {
					witness = k
					break
				}
			}
			switch {
			case refused && witness >= 0:
				t.Errorf("rule %q after %q is refused as unreachable, but routing sends it %+v", agreementRules[b], agreementRules[a], pays[witness])
			case !refused && witness < 0:
				t.Errorf("rule %q after %q is accepted, but routing sends it none of the payments it takes", agreementRules[b], agreementRules[a])
			case refused:
				shadowed++
			default:
				reachable++
			}
		}
	}
	if shadowed < len(agreementRules) || reachable == 0 {
		t.Fatalf("%d pairs shadowed, %d reachable: the table does not exercise both answers", shadowed, reachable)
	}
	t.Logf("%d pairs shadowed, %d reachable, over %d payments", shadowed, reachable, len(pays))
}
