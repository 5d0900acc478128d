package api_test

import (
	"database/sql"
	"encoding/csv"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestFeeReportReconciles drives random traffic, then checks the report's
// totals equal sums over the payments table, in JSON and CSV.
func TestFeeReportReconciles(t *testing.T) {
	h := newHarness(t, harnessOpts{
		processors:     "  mock: {type: mock, fees: {percent: 2.9, fixed: 30, currency: usd}}\n  alt: {type: mock, fees: {percent: 1.1}}\n",
		acmeProcessors: "[mock, alt]",
		acmeRouting:    "{strategy: weighted, weights: {mock: 1, alt: 1}}",
	})
	rng := rand.New(rand.NewPCG(1, 2))
	cards := []string{"4242424242424242", "4242424242424242", "5555555555554444", "4000000000000002"}
	for range 40 {
		amount := int64(100 + rng.IntN(50000))
		r := h.pay(h.delegate(cards[rng.IntN(len(cards))], amount), amount, "automatic")
		if r.status != http.StatusCreated {
			t.Fatalf("pay: %d %s", r.status, r.raw)
		}
		if r.str("status") == "captured" && rng.IntN(3) == 0 {
			refund := 1 + rng.Int64N(amount)
			mustStatus(t, h.do(req{path: "/v1/payments/" + r.str("id") + "/refunds", key: acmeKey, idem: newKey(),
				body: map[string]any{"amount": refund}}), http.StatusCreated)
		}
	}
	from := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
	to := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	r := h.do(req{method: http.MethodGet, path: "/v1/reports/fees?group_by=processor,day&from=" + from + "&to=" + to, key: "test-finance-key"})
	mustStatus(t, r, http.StatusOK)
	totals := r.body["totals"].([]any)
	if len(totals) != 1 {
		t.Fatalf("totals: %s", r.raw)
	}
	tot := totals[0].(map[string]any)

	db, err := sql.Open("sqlite", "file:"+h.dbPath+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n, vol, refunded, est, actual int64
	err = db.QueryRow(`SELECT COUNT(*), SUM(captured_amount), SUM(refunded_amount), SUM(fee_estimated), COALESCE(SUM(fee_actual), 0)
		FROM payments WHERE status IN ('captured', 'partially_refunded', 'refunded')`).Scan(&n, &vol, &refunded, &est, &actual)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"payments": n, "volume": vol, "refunded": refunded, "net_volume": vol - refunded, "fee_estimated": est, "fee_actual": actual}
	for k, v := range want {
		if got := int64(tot[k].(float64)); got != v {
			t.Errorf("total %s = %d, table says %d", k, got, v)
		}
	}
	// The groups add up to the total.
	var sum int64
	procs := map[string]bool{}
	for _, row := range r.body["rows"].([]any) {
		m := row.(map[string]any)
		sum += int64(m["fee_estimated"].(float64))
		procs[m["processor"].(string)] = true
	}
	if sum != est || !procs["mock"] || !procs["alt"] {
		t.Fatalf("rows add to %d, want %d; processors %v", sum, est, procs)
	}

	// CSV: a header row, then rows that parse.
	c := h.do(req{method: http.MethodGet, path: "/v1/reports/fees?format=csv&group_by=merchant&from=" + from + "&to=" + to, key: "test-finance-key"})
	mustStatus(t, c, http.StatusOK)
	recs, err := csv.NewReader(strings.NewReader(string(c.raw))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if recs[0][0] != "from" || recs[0][10] != "fee_estimated" || len(recs) != 3 {
		t.Fatalf("csv: %q", recs)
	}
	if last := recs[len(recs)-1]; last[2] != "TOTAL" || last[10] != strconv.FormatInt(est, 10) {
		t.Fatalf("csv total: %q", last)
	}

	// Only report readers; bad queries are 400.
	mustStatus(t, h.do(req{method: http.MethodGet, path: "/v1/reports/fees", key: acmeKey}), http.StatusUnauthorized)
	bad := h.do(req{method: http.MethodGet, path: "/v1/reports/fees?group_by=colour", key: "test-finance-key"})
	mustStatus(t, bad, http.StatusBadRequest)
	mustStatus(t, h.do(req{method: http.MethodGet, path: "/v1/reports/fees?from=2026-02-01&to=2026-01-01", key: "test-finance-key"}), http.StatusBadRequest)
}
