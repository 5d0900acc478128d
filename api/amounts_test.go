package api_test

import (
	"fmt"
	"math"
	"net/http"
	"strings"
	"testing"

	"acpgw/payment"
)

// TestAmountsBounded: an allowance or a payment above its currency's
// maximum is refused with 400 invalid_request at the field that holds it,
// and nothing is stored or charged. The default maximum is the largest
// Stripe and Adyen both take (99999999); config sets others per currency.
func TestAmountsBounded(t *testing.T) {
	h := newHarness(t, harnessOpts{sections: "amounts:\n  max: {eur: 5000}\n"})
	before := h.counts()
	for _, tc := range []struct {
		name     string
		max      int64
		currency string
	}{
		{"2^63-1 usd", math.MaxInt64, "usd"},
		{"2^53+1 usd", payment.MaxExactAmount + 1, "usd"},
		{"one above the default usd", payment.DefaultMaxAmount + 1, "usd"},
		{"one above the default jpy", payment.DefaultMaxAmount + 1, "jpy"},
		{"one above the configured eur", 5001, "eur"},
	} {
		t.Run("delegate "+tc.name, func(t *testing.T) {
			r := h.do(req{path: "/agentic_commerce/delegate_payment", key: agentKey, idem: newKey(),
				body: delegateBody("4242424242424242", "acme", "cs_1", tc.max, tc.currency)})
			mustStatus(t, r, http.StatusBadRequest)
			// delegate_payment's spec has one code for bad input, invalid_card.
			if r.str("type") != "invalid_request" || r.str("code") != "invalid_card" || r.str("param") != "$.allowance.max_amount" {
				t.Errorf("answer %s; want invalid_request/invalid_card at $.allowance.max_amount", r.raw)
			}
			if !strings.Contains(r.str("message"), fmt.Sprint(tc.max)) {
				t.Errorf("message %q does not say the amount", r.str("message"))
			}
		})
	}
	if after := h.counts(); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("refused allowances changed the store: %v, then %v", before, after)
	}

	// A token at the default maximum is accepted; a payment one above it is
	// refused before the allowance is even looked at.
	tok := h.delegate("4242424242424242", payment.DefaultMaxAmount)
	for _, amount := range []int64{payment.DefaultMaxAmount + 1, math.MaxInt64} {
		r := h.pay(tok, amount, "automatic")
		mustStatus(t, r, http.StatusBadRequest)
		if r.str("type") != "invalid_request" || r.str("code") != "invalid_request" || r.str("param") != "$.amount" {
			t.Errorf("pay %d: %s; want invalid_request at $.amount", amount, r.raw)
		}
	}
	if n := h.charges(); n != 0 {
		t.Fatalf("%d charges for refused amounts", n)
	}
	mustStatus(t, h.pay(tok, payment.DefaultMaxAmount, "automatic"), http.StatusCreated)
}

// TestAmountsCountedExactly: the metrics count every accepted amount
// exactly. acpgw_payment_amount_total is a float64, exact up to 2^53, which
// is the largest maximum config may set; here it is set, and a payment of
// 2^53-1 (odd, so a float64 that rounded would show it) is counted to the
// unit.
func TestAmountsCountedExactly(t *testing.T) {
	h := newHarness(t, harnessOpts{sections: fmt.Sprintf("amounts:\n  max: {usd: %d}\n", payment.MaxExactAmount)})
	// 2^53+1 is the smallest amount a float64 cannot hold: no config can
	// let it in.
	r := h.do(req{path: "/agentic_commerce/delegate_payment", key: agentKey, idem: newKey(),
		body: delegateBody("4242424242424242", "acme", "cs_1", payment.MaxExactAmount+1, "usd")})
	mustStatus(t, r, http.StatusBadRequest)

	amount := payment.MaxExactAmount - 1
	tok := h.delegate("4242424242424242", payment.MaxExactAmount)
	r = h.pay(tok, amount, "automatic")
	mustStatus(t, r, http.StatusCreated)
	if r.num("amount") != amount {
		t.Fatalf("payment amount %d, want %d", r.num("amount"), amount)
	}
	got := metricValue(t, h.reg, "acpgw_payment_amount_total", map[string]string{"currency": "usd"})
	if got != float64(amount) || int64(got) != amount {
		t.Errorf("acpgw_payment_amount_total = %.0f, want exactly %d", got, amount)
	}
	if fee := metricValue(t, h.reg, "acpgw_fees_total", map[string]string{"currency": "usd", "kind": "estimated"}); fee <= 0 || fee != math.Trunc(fee) {
		t.Errorf("acpgw_fees_total = %v, want a positive whole number of minor units", fee)
	}
}
