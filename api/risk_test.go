package api_test

import (
	"context"
	"net/http"
	"testing"

	"acpgw/acp/acpspec"
)

// TestRiskPolicy: delegate_payment refuses a token whose risk signals the
// merchant's risk policy blocks (the global risk: with the merchant's own
// keys over it), with a 422 in each version's Error shape and param at the
// signal; nothing is stored, and the refusal is replayed under its key.
func TestRiskPolicy(t *testing.T) {
	h := newHarness(t, harnessOpts{
		sections:  "risk: {max_score: 50}\n",
		acmeExtra: ", risk: {block_actions: [blocked, manual_review]}",
	})
	const path = "/agentic_commerce/delegate_payment"
	body := func(merchant string, signals ...map[string]any) map[string]any {
		b := delegateBody("4242424242424242", merchant, "cs_1", 1000, "usd")
		list := make([]any, len(signals))
		for i, s := range signals {
			list[i] = s
		}
		b["risk_signals"] = list
		return b
	}
	signal := func(score int, action string) map[string]any {
		return map[string]any{"type": "card_testing", "score": score, "action": action}
	}
	cases := []struct {
		name   string
		body   map[string]any
		status int
		param  string
		reason string
	}{
		{"blocked by default", body("other", signal(3, "blocked")), 422, "$.risk_signals[0].action", "risk_action"},
		{"manual_review passes by default", body("other", signal(3, "manual_review")), 201, "", ""},
		{"acme also blocks manual_review", body("acme", signal(3, "manual_review")), 422, "$.risk_signals[0].action", "risk_action"},
		{"score above the global maximum", body("other", signal(51, "authorized")), 422, "$.risk_signals[0].score", "risk_score"},
		{"score at the maximum", body("acme", signal(50, "authorized")), 201, "", ""},
		{"second signal", body("other", signal(1, "authorized"), signal(2, "blocked")), 422, "$.risk_signals[1].action", "risk_action"},
	}
	for _, version := range allVersions {
		spec, err := acpspec.LoadSpec(version)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range cases {
			key := newKey()
			before := h.counts()["tokens"]
			r := h.do(req{path: path, key: agentKey, version: version, idem: key, body: tc.body})
			if r.status != tc.status {
				t.Fatalf("%s/%s: %d %s, want %d", version, tc.name, r.status, r.raw, tc.status)
			}
			if err := acpspec.ValidateDelegateResponse(context.Background(), spec, r.status, r.header, r.raw); err != nil {
				t.Errorf("%s/%s: answer breaks the spec: %v\n%s", version, tc.name, err, r.raw)
			}
			if tc.status != http.StatusCreated {
				if r.str("type") != "invalid_request" || r.str("code") != "invalid_card" || r.str("param") != tc.param {
					t.Errorf("%s/%s: %s, want invalid_request/invalid_card at %s", version, tc.name, r.raw, tc.param)
				}
				if h.counts()["tokens"] != before {
					t.Errorf("%s/%s: a token was stored", version, tc.name)
				}
				again := h.do(req{path: path, key: agentKey, version: version, idem: key, body: tc.body})
				if again.status != r.status || string(again.raw) != string(r.raw) || again.header.Get("Idempotent-Replayed") != "true" {
					t.Errorf("%s/%s: replay %d %s", version, tc.name, again.status, again.raw)
				}
			}
		}
	}
	// Neither merchant has its own metrics label: both count under _other.
	n := float64(len(allVersions))
	for reason, want := range map[string]float64{"risk_action": 3 * n, "risk_score": n} {
		if got := metricValue(t, h.reg, "acpgw_tokens_refused_total", map[string]string{"merchant": "_other", "reason": reason}); got != want {
			t.Errorf("acpgw_tokens_refused_total{reason=%q} = %v, want %v", reason, got, want)
		}
	}
}
