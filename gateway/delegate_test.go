package gateway

import (
	"testing"

	"acpgw/acp"
	"acpgw/config"
)

func TestRiskRefusal(t *testing.T) {
	t.Parallel()
	fifty := int64(50)
	def := config.Risk{BlockActions: config.DefaultBlockActions}
	strict := config.Risk{BlockActions: []string{"blocked", "manual_review"}, MaxScore: &fifty}
	sig := func(score int, action string) acp.RiskSignal {
		return acp.RiskSignal{Type: "card_testing", Score: score, Action: action}
	}
	for _, tc := range []struct {
		name    string
		policy  config.Risk
		signals []acp.RiskSignal
		param   string
		reason  string
	}{
		{"no signals", strict, nil, "", ""},
		{"authorized", def, []acp.RiskSignal{sig(99, "authorized")}, "", ""},
		{"blocked", def, []acp.RiskSignal{sig(0, "blocked")}, "$.risk_signals[0].action", refusedRiskAction},
		{"manual_review allowed by default", def, []acp.RiskSignal{sig(0, "manual_review")}, "", ""},
		{"manual_review blocked", strict, []acp.RiskSignal{sig(0, "authorized"), sig(0, "manual_review")}, "$.risk_signals[1].action", refusedRiskAction},
		{"score above", strict, []acp.RiskSignal{sig(51, "authorized")}, "$.risk_signals[0].score", refusedRiskScore},
		{"score at the limit", strict, []acp.RiskSignal{sig(50, "authorized")}, "", ""},
		{"nothing blocks", config.Risk{}, []acp.RiskSignal{sig(1000, "blocked")}, "", ""},
	} {
		e, reason := riskRefusal(tc.policy, tc.signals)
		switch {
		case tc.param == "" && e != nil:
			t.Errorf("%s: refused: %v", tc.name, e)
		case tc.param != "" && (e == nil || e.Param != tc.param || e.Status != 422 || reason != tc.reason || !e.ValidDelegateError(acp.Latest)):
			t.Errorf("%s: got %v (%s), want a 422 at %s (%s)", tc.name, e, reason, tc.param, tc.reason)
		}
	}
}
