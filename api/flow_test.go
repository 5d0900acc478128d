package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"acpgw/gateway"
	"acpgw/providers"
)

// TestWalkthrough is the README's flow: delegate, pay (manual capture),
// partial capture, partial refunds, then the payment as GET shows it.
func TestWalkthrough(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.delegate("4242424242424242", 5000)
	if !strings.HasPrefix(tok, "vt_") {
		t.Fatalf("token %q", tok)
	}
	r := h.pay(tok, 4000, "manual")
	mustStatus(t, r, http.StatusCreated)
	if r.str("status") != "authorized" || r.str("processor") != "mock" || r.str("processor_type") != "mock" {
		t.Fatalf("pay: %s", r.raw)
	}
	fee := r.body["fee"].(map[string]any)
	// 2.9% of 40.00 + 0.30 = 1.16 + 0.30 = 1.46
	if fee["estimated"].(float64) != 146 || fee["currency"] != "usd" {
		t.Fatalf("fee estimate: %v", fee)
	}
	id := r.str("id")

	r = h.do(req{path: "/v1/payments/" + id + "/capture", key: acmeKey, idem: newKey(), body: map[string]any{"amount": 3000}})
	mustStatus(t, r, http.StatusOK)
	if r.str("status") != "captured" || r.num("amount_captured") != 3000 {
		t.Fatalf("capture: %s", r.raw)
	}
	if fee := r.body["fee"].(map[string]any); fee["actual"] == nil {
		t.Fatalf("actual fee missing after capture: %s", r.raw)
	}

	r = h.do(req{path: "/v1/payments/" + id + "/refunds", key: acmeKey, idem: newKey(), body: map[string]any{"amount": 1000}})
	mustStatus(t, r, http.StatusCreated)
	if r.str("status") != "partially_refunded" || r.num("amount_refunded") != 1000 {
		t.Fatalf("refund: %s", r.raw)
	}
	// Above what is left: refused, nothing changes.
	r = h.do(req{path: "/v1/payments/" + id + "/refunds", key: acmeKey, idem: newKey(), body: map[string]any{"amount": 2001}})
	mustStatus(t, r, http.StatusUnprocessableEntity)
	if r.str("code") != "amount_too_large" {
		t.Fatalf("over-refund: %s", r.raw)
	}
	// The rest, with no amount.
	r = h.do(req{path: "/v1/payments/" + id + "/refunds", key: acmeKey, idem: newKey(), body: map[string]any{}})
	mustStatus(t, r, http.StatusCreated)
	if r.str("status") != "refunded" || r.num("amount_refunded") != 3000 {
		t.Fatalf("refund rest: %s", r.raw)
	}
	r = h.do(req{path: "/v1/payments/" + id + "/refunds", key: acmeKey, idem: newKey(), body: map[string]any{}})
	mustStatus(t, r, http.StatusConflict)

	r = h.do(req{method: http.MethodGet, path: "/v1/payments/" + id, key: acmeKey})
	mustStatus(t, r, http.StatusOK)
	if got := len(r.body["attempts"].([]any)); got != 4 {
		t.Fatalf("attempts: %d: %s", got, r.raw)
	}
	if got := len(r.body["refunds"].([]any)); got != 2 {
		t.Fatalf("refunds: %d", got)
	}
	ch := h.mocks["mock"].Charges()
	if len(ch) != 1 || ch[0].Captured != 3000 || ch[0].Refunded != 3000 {
		t.Fatalf("ledger: %+v", ch)
	}

	// Another merchant sees nothing.
	r = h.do(req{method: http.MethodGet, path: "/v1/payments/" + id, key: otherKey})
	mustStatus(t, r, http.StatusNotFound)
	r = h.do(req{path: "/v1/payments/" + id + "/refunds", key: otherKey, idem: newKey(), body: map[string]any{}})
	mustStatus(t, r, http.StatusNotFound)
}

func TestAutomaticCaptureAndVoid(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	r := h.pay(h.delegate("5555555555554444", 2599), 2599, "automatic")
	mustStatus(t, r, http.StatusCreated)
	if r.str("status") != "captured" || r.num("amount_captured") != 2599 {
		t.Fatalf("automatic: %s", r.raw)
	}
	// A captured payment cannot be voided.
	r = h.do(req{path: "/v1/payments/" + r.str("id") + "/void", key: acmeKey, idem: newKey(), body: map[string]any{}})
	mustStatus(t, r, http.StatusConflict)

	r = h.pay(h.delegate("4242424242424242", 100), 100, "manual")
	mustStatus(t, r, http.StatusCreated)
	id := r.str("id")
	r = h.do(req{path: "/v1/payments/" + id + "/void", key: acmeKey, idem: newKey(), body: map[string]any{}})
	mustStatus(t, r, http.StatusOK)
	if r.str("status") != "voided" {
		t.Fatalf("void: %s", r.raw)
	}
	r = h.do(req{path: "/v1/payments/" + id + "/capture", key: acmeKey, idem: newKey(), body: map[string]any{}})
	mustStatus(t, r, http.StatusConflict)
}

func TestDeclines(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	for _, tc := range []struct {
		card, code, category string
	}{
		{"4000000000000002", "card_declined", "hard"},
		{"4000000000009995", "insufficient_funds", "soft"},
		{"4000000000000069", "expired_card", "hard"},
		{"4000000000000127", "incorrect_cvc", "hard"},
		{"4100000000000019", "fraud_suspected", "hard"},
		{"4000000000003220", "authentication_required", "soft"},
		{"4000000000009987", "lost_or_stolen", "hard"},
	} {
		r := h.pay(h.delegate(tc.card, 1000), 1000, "automatic")
		mustStatus(t, r, http.StatusCreated)
		d, _ := r.body["decline"].(map[string]any)
		if r.str("status") != "declined" || d == nil || d["code"] != tc.code || d["category"] != tc.category || d["processor_code"] == "" {
			t.Errorf("card %s: %s", tc.card[len(tc.card)-4:], r.raw)
		}
	}
	if n := h.charges(); n != 0 {
		t.Fatalf("declines charged: %d", n)
	}
}

// TestProcessorErrorReleasesToken: an error before processing charges
// nothing, answers 503 and leaves the token usable.
func TestProcessorErrorReleasesToken(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.delegate("4000000000000119", 1000)
	r := h.pay(tok, 1000, "automatic")
	mustStatus(t, r, http.StatusServiceUnavailable)
	if h.counts()["consumed"] != 0 {
		t.Fatal("token consumed after a processor error")
	}
	if h.charges() != 0 {
		t.Fatal("charged")
	}
}

// TestFailoverOnNotProcessed: the first processor refuses the connection,
// the second charges; the routing says so and the ledger shows one charge.
func TestFailoverOnNotProcessed(t *testing.T) {
	h := newHarness(t, harnessOpts{
		processors:     "  mock: {type: mock}\n  down: {type: mock, timeout: 300ms}\n  up: {type: mock, timeout: 300ms}\n",
		acmeProcessors: "[down, up]",
		wrap: func(p providers.Provider) providers.Provider {
			if p.Name() == "down" {
				return refusing{p}
			}
			return p
		},
	})
	r := h.pay(h.delegate("4242424242424242", 1000), 1000, "automatic")
	mustStatus(t, r, http.StatusCreated)
	if r.str("status") != "captured" || r.str("processor") != "up" {
		t.Fatalf("failover: %s", r.raw)
	}
	atts := r.body["attempts"].([]any)
	if len(atts) != 2 || atts[0].(map[string]any)["outcome"] != "not_processed" {
		t.Fatalf("attempts: %s", r.raw)
	}
	if h.mocks["down"].ChargeCount() != 0 || h.mocks["up"].ChargeCount() != 1 {
		t.Fatal("ledger")
	}
}

// refusing is a provider whose processor never accepts the connection.
type refusing struct{ providers.Provider }

func (refusing) Authorize(context.Context, providers.AuthorizeRequest) (providers.Result, error) {
	return providers.Result{}, providers.NotProcessed("connection_refused", errors.New("dial tcp: connection refused"))
}

// TestTimeoutThenReconcile: the charge is made but the answer is lost; the
// payment is pending (202), reconciliation re-sends with the same key and
// settles it, and the processor charged once.
func TestTimeoutThenReconcile(t *testing.T) {
	h := newHarness(t, harnessOpts{timeout: "200ms"})
	tok := h.delegate("4000000000009979", 1000)
	r := h.pay(tok, 1000, "automatic")
	mustStatus(t, r, http.StatusAccepted)
	if r.str("status") != "pending" {
		t.Fatalf("pending: %s", r.raw)
	}
	id := r.str("id")
	if h.charges() != 1 {
		t.Fatalf("charges before reconcile: %d", h.charges())
	}
	resolved, pending, err := h.svc.Reconcile(context.Background(), gateway.ReconcileOptions{After: 0, Lease: time.Minute})
	if err != nil || resolved != 1 || pending != 0 {
		t.Fatalf("reconcile: %d %d %v", resolved, pending, err)
	}
	r = h.do(req{method: http.MethodGet, path: "/v1/payments/" + id, key: acmeKey})
	if r.str("status") != "captured" {
		t.Fatalf("after reconcile: %s", r.raw)
	}
	if h.charges() != 1 || h.mocks["mock"].Calls(providers.OpAuthorize) != 2 {
		t.Fatalf("charges %d, calls %d", h.charges(), h.mocks["mock"].Calls(providers.OpAuthorize))
	}
	// The CVC was kept while the outcome was unknown (the re-send must carry
	// the same parameters) and erased once the attempt settled.
	if h.hasCVC(tok) {
		t.Fatal("CVC kept after the attempt settled")
	}
	// A second pass finds nothing.
	if resolved, pending, _ := h.svc.Reconcile(context.Background(), gateway.ReconcileOptions{Lease: time.Minute}); resolved+pending != 0 {
		t.Fatalf("second pass: %d %d", resolved, pending)
	}
}

// TestConcurrentTokenUse: 200 payments on one token with different keys:
// exactly one wins, the others are token_consumed (or 409 while the winner
// still runs), one charge.
func TestConcurrentTokenUse(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.delegate("4242424242424242", 1000)
	const n = 200
	statuses := make([]int, n)
	codes := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := h.pay(tok, 1000, "automatic")
			statuses[i], codes[i] = r.status, r.str("code")
		}()
	}
	wg.Wait()
	won := 0
	for i := range n {
		switch {
		case statuses[i] == http.StatusCreated:
			won++
		case statuses[i] == http.StatusUnprocessableEntity && codes[i] == "token_consumed":
		case statuses[i] == http.StatusConflict && codes[i] == "operation_in_progress":
			// The winner's payment was still running: the token was in
			// use, not yet consumed for good (a retryable decline would
			// have reopened it).
		default:
			t.Fatalf("request %d: %d %s", i, statuses[i], codes[i])
		}
	}
	if won != 1 || h.charges() != 1 {
		t.Fatalf("won %d, charges %d", won, h.charges())
	}
}

// TestConcurrentSameKey: 200 identical requests with one Idempotency-Key
// give one charge; every answer is the payment, a replay of it, or
// in-flight.
func TestConcurrentSameKey(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.delegate("4242424242424242", 1000)
	key := newKey()
	const n = 200
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		ids = map[string]int{}
		got = map[int]int{}
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := h.do(req{path: "/v1/payments", key: acmeKey, idem: key, body: payBody(tok, 1000, "automatic")})
			mu.Lock()
			defer mu.Unlock()
			got[r.status]++
			if r.status == http.StatusCreated {
				ids[r.str("id")]++
			} else if r.status != http.StatusConflict || r.str("code") != "idempotency_in_flight" || r.header.Get("Retry-After") == "" {
				t.Errorf("unexpected %d %s", r.status, r.raw)
			}
		}()
	}
	wg.Wait()
	if h.charges() != 1 || len(ids) != 1 {
		t.Fatalf("charges %d, payment ids %v, statuses %v", h.charges(), ids, got)
	}
	// After the first finished, a replay is the stored answer.
	r := h.do(req{path: "/v1/payments", key: acmeKey, idem: key, body: payBody(tok, 1000, "automatic")})
	mustStatus(t, r, http.StatusCreated)
	if r.header.Get("Idempotent-Replayed") != "true" || ids[r.str("id")] == 0 {
		t.Fatalf("replay: %v %s", r.header, r.raw)
	}
}

func TestIdempotencySemantics(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	tok := h.delegate("4242424242424242", 1000)
	key := newKey()
	first := h.do(req{path: "/v1/payments", key: acmeKey, idem: key, body: payBody(tok, 1000, "automatic")})
	mustStatus(t, first, http.StatusCreated)

	// The same body with keys in another order and other whitespace is the
	// same request.
	raw := fmt.Sprintf(`{"currency":"usd","amount":1000,  "merchant_id":"acme","checkout_session_id":"cs_1",
		"payment_data":{"provider":"stripe","token":%q},"metadata":{"order_id":"o_1"},"capture":"automatic"}`, tok)
	r := h.do(req{path: "/v1/payments", key: acmeKey, idem: key, rawBody: []byte(raw)})
	mustStatus(t, r, http.StatusCreated)
	if r.header.Get("Idempotent-Replayed") != "true" || string(r.raw) != string(first.raw) {
		t.Fatalf("canonical replay: %s", r.raw)
	}
	// Numbers are compared by value: 1000.0 and 1e3 are 1000 (RFC
	// delegate_payment, section 5.2), so these are the same request too.
	for _, amount := range []string{"1000.0", "1e3", "10.000E2"} {
		raw := fmt.Sprintf(`{"currency":"usd","amount":%s,"merchant_id":"acme","checkout_session_id":"cs_1",
		"payment_data":{"provider":"stripe","token":%q},"metadata":{"order_id":"o_1"},"capture":"automatic"}`, amount, tok)
		r := h.do(req{path: "/v1/payments", key: acmeKey, idem: key, rawBody: []byte(raw)})
		mustStatus(t, r, http.StatusCreated)
		if r.header.Get("Idempotent-Replayed") != "true" || string(r.raw) != string(first.raw) {
			t.Fatalf("amount %s: not a replay: %s", amount, r.raw)
		}
	}
	// A different body: 422 under 2026-04-17, 409 under 2025-09-29.
	r = h.do(req{path: "/v1/payments", key: acmeKey, idem: key, body: payBody(tok, 999, "automatic")})
	mustStatus(t, r, http.StatusUnprocessableEntity)
	if r.str("code") != "idempotency_conflict" {
		t.Fatalf("conflict: %s", r.raw)
	}
	r = h.do(req{path: "/v1/payments", key: acmeKey, idem: key, version: "2025-09-29", body: payBody(tok, 999, "automatic")})
	mustStatus(t, r, http.StatusConflict)
	// Keys are scoped to the caller: another merchant's identical key is its
	// own request (and fails on its own merits).
	r = h.do(req{path: "/v1/payments", key: otherKey, idem: key, body: payBody(tok, 1000, "automatic")})
	if r.header.Get("Idempotent-Replayed") != "" || r.status != http.StatusForbidden {
		t.Fatalf("scope: %d %s", r.status, r.raw)
	}
	// Required from 2026-04-17, optional before.
	r = h.do(req{path: "/v1/payments", key: acmeKey, body: payBody(tok, 1000, "automatic")})
	mustStatus(t, r, http.StatusBadRequest)
	if r.str("code") != "idempotency_key_required" {
		t.Fatalf("key required: %s", r.raw)
	}
	r = h.do(req{path: "/v1/payments", key: acmeKey, version: "2025-09-29", body: payBody(tok, 1000, "automatic")})
	mustStatus(t, r, http.StatusUnprocessableEntity) // token_consumed: it ran
	if r.str("code") != "token_consumed" {
		t.Fatalf("no key under 2025-09-29: %s", r.raw)
	}
	// 5xx is not stored: the processor error answer can be retried with the
	// same key and runs again.
	bad := h.delegate("4000000000000119", 1000)
	key2 := newKey()
	for range 2 {
		r = h.do(req{path: "/v1/payments", key: acmeKey, idem: key2, body: payBody(bad, 1000, "automatic")})
		mustStatus(t, r, http.StatusServiceUnavailable)
		if r.header.Get("Idempotent-Replayed") != "" {
			t.Fatal("a 5xx was replayed")
		}
	}
	if calls := h.mocks["mock"].Calls(providers.OpAuthorize); calls != 3 {
		t.Fatalf("authorize calls %d, want 3 (one payment, two 503 attempts)", calls)
	}
}

// TestDelegateReplayNoSecondToken: a replayed delegate_payment returns the
// same token and stores nothing new.
func TestDelegateReplayNoSecondToken(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	key := newKey()
	body := delegateBody("4242424242424242", "acme", "cs_1", 1000, "usd")
	a := h.do(req{path: "/agentic_commerce/delegate_payment", key: agentKey, idem: key, body: body})
	mustStatus(t, a, http.StatusCreated)
	b := h.do(req{path: "/agentic_commerce/delegate_payment", key: agentKey, idem: key, body: body})
	mustStatus(t, b, http.StatusCreated)
	if a.str("id") != b.str("id") || b.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %s vs %s", a.raw, b.raw)
	}
	if h.counts()["tokens"] != 1 {
		t.Fatal("second token stored")
	}
	// max_amount written 1e3 instead of 1000 is the same request.
	respelled, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	respelled = bytes.Replace(respelled, []byte(`"max_amount":1000`), []byte(`"max_amount":1e3`), 1)
	if !bytes.Contains(respelled, []byte(`1e3`)) {
		t.Fatalf("max_amount not respelled: %s", respelled)
	}
	e := h.do(req{path: "/agentic_commerce/delegate_payment", key: agentKey, idem: key, rawBody: respelled})
	mustStatus(t, e, http.StatusCreated)
	if e.header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(e.raw, a.raw) {
		t.Fatalf("respelled replay: %s", e.raw)
	}
	md := a.body["metadata"].(map[string]any)
	if md["merchant_id"] != "acme" || md["idempotency_key"] != key {
		t.Fatalf("metadata: %v", md)
	}
	// The request's metadata is echoed, the system's own fields added.
	if md["source"] != "test" || len(md) != 3 {
		t.Fatalf("metadata %v, want the request's source plus merchant_id and idempotency_key", md)
	}
	if !bytes.Equal(a.raw, b.raw) {
		t.Fatalf("replay differs: %s vs %s", a.raw, b.raw)
	}
	// A request key named like a system field does not override it, and
	// the metadata is the request's whatever the version.
	body = delegateBody("4242424242424242", "acme", "cs_1", 1000, "usd")
	body["metadata"] = map[string]string{"merchant_id": "spoofed", "idempotency_key": "spoofed", "campaign": "q4"}
	key = newKey()
	c := h.do(req{path: "/agentic_commerce/delegate_payment", key: agentKey, idem: key, version: "2025-12-12", body: body})
	mustStatus(t, c, http.StatusCreated)
	md = c.body["metadata"].(map[string]any)
	if md["merchant_id"] != "acme" || md["idempotency_key"] != key || md["campaign"] != "q4" || len(md) != 3 {
		t.Fatalf("metadata %v", md)
	}
}

// TestNoCardDataAtRest: card numbers and CVCs never reach logs, metrics or
// the database file.
func TestNoCardDataAtRest(t *testing.T) {
	h := newHarness(t, harnessOpts{timeout: "150ms"})
	cards := []string{"4242424242424242", "4000000000000002", "4000000000009979", "4000000000000119"}
	for _, card := range cards {
		tok := h.delegate(card, 1000)
		h.pay(tok, 1000, "manual")
	}
	// Bad input that echoes card data must not be logged either.
	bad := delegateBody("4242424242424241", "acme", "cs_1", 1000, "usd")
	h.do(req{path: "/agentic_commerce/delegate_payment", key: agentKey, idem: newKey(), body: bad})
	// Nor a 3-D Secure cryptogram: in a payment that is approved, one whose
	// answer is lost (kept for reconciliation), and one refused as bad
	// input.
	for _, card := range []string{"4000000000003220", "4000000000009979"} {
		body := payBody(h.delegate(card, 1000), 1000, "manual")
		body["authentication_result"] = authenticated()
		h.do(req{path: "/v1/payments", key: acmeKey, idem: newKey(), body: body})
	}
	badAuth := payBody(h.delegate("4000000000003220", 1000), 1000, "manual")
	badAuth["authentication_result"] = map[string]any{"outcome": "authenticated", "outcome_details": map[string]any{
		"three_ds_cryptogram": testCryptogram + "A", "electronic_commerce_indicator": "05", "transaction_id": "ds-1", "version": "2.2.0"}}
	if r := h.do(req{path: "/v1/payments", key: acmeKey, idem: newKey(), body: badAuth}); r.status != http.StatusUnprocessableEntity {
		t.Fatalf("a bad cryptogram: %d %s", r.status, r.raw)
	}
	if _, _, err := h.svc.Reconcile(context.Background(), gateway.ReconcileOptions{Lease: time.Minute}); err != nil {
		t.Fatal(err)
	}
	metricsOut := h.do(req{method: http.MethodGet, path: "/metrics", noVersion: true})
	db := string(h.fileBytes())
	logs := h.logs.String()
	if !contains(logs, `"msg":"payment"`) {
		t.Fatalf("no payment log lines: %s", logs)
	}
	for _, pan := range append(cards, "4242424242424241") {
		for name, hay := range map[string]string{"logs": logs, "metrics": string(metricsOut.raw), "database": db} {
			// The 12-digit prefix counts where it starts a number: a float
			// such as 0.04000000000000001 in a metric is not a card.
			if contains(hay, pan) || startsNumber(hay, pan[:12]) {
				t.Errorf("%s contain card %s…", name, pan[:6])
			}
		}
	}
	if contains(db, `"737"`) || contains(logs, `"737"`) || contains(db, `cvc":"7`) {
		t.Error("CVC found")
	}
	for name, hay := range map[string]string{"logs": logs, "metrics": string(metricsOut.raw), "database": db} {
		if contains(hay, testCryptogram[:20]) || contains(hay, "0123456789abcdefghij") {
			t.Errorf("%s contain the 3-D Secure cryptogram", name)
		}
	}
}

// TestCircuitOpensAndRoutesAround: a processor that keeps refusing opens its
// circuit; then routing leaves it out without calling it.
func TestCircuitOpensAndRoutesAround(t *testing.T) {
	h := newHarness(t, harnessOpts{
		processors:     "  mock: {type: mock}\n  down: {type: mock, circuit: {min_requests: 3, failure_percent: 50, open_for: 1h}}\n  up: {type: mock}\n",
		acmeProcessors: "[down, up]",
		wrap: func(p providers.Provider) providers.Provider {
			if p.Name() == "down" {
				return &countingRefuser{Provider: p}
			}
			return p
		},
	})
	for range 3 {
		r := h.pay(h.delegate("4242424242424242", 1000), 1000, "automatic")
		mustStatus(t, r, http.StatusCreated)
	}
	if v := gaugeVec(t, h, "acpgw_circuit_state", "down"); v != 2 {
		t.Fatalf("circuit state %v, want 2 (open)", v)
	}
	r := h.pay(h.delegate("4242424242424242", 1000), 1000, "automatic")
	mustStatus(t, r, http.StatusCreated)
	if atts := r.body["attempts"].([]any); len(atts) != 1 || atts[0].(map[string]any)["processor"] != "up" {
		t.Fatalf("attempts: %s", r.raw)
	}
	routing := r.body["routing"].(map[string]any)
	if sk, _ := routing["skipped"].([]any); len(sk) != 1 || sk[0].(map[string]any)["reason"] != "circuit_open" {
		t.Fatalf("routing: %v", routing)
	}
	if got := h.svc.Runtime().Providers; got == nil {
		t.Fatal("no providers")
	}
}

type countingRefuser struct {
	providers.Provider
}

func (c *countingRefuser) Authorize(context.Context, providers.AuthorizeRequest) (providers.Result, error) {
	return providers.Result{}, providers.NotProcessed("connection_refused", errors.New("connection refused"))
}

// TestSoftDeclineCascade: with cascade_on listing insufficient_funds, a soft
// decline tries the next processor; a hard decline never does.
func TestSoftDeclineCascade(t *testing.T) {
	h := newHarness(t, harnessOpts{
		processors:     "  mock: {type: mock}\n  a: {type: mock}\n  b: {type: mock}\n",
		acmeProcessors: "[a, b]",
		acmeRouting:    "{cascade_on: [insufficient_funds]}",
	})
	r := h.pay(h.delegate("4000000000009995", 1000), 1000, "automatic")
	mustStatus(t, r, http.StatusCreated)
	atts := r.body["attempts"].([]any)
	if r.str("status") != "declined" || len(atts) != 2 || r.str("processor") != "b" {
		t.Fatalf("soft decline cascade: %s", r.raw)
	}
	if h.mocks["b"].Calls(providers.OpAuthorize) != 1 {
		t.Fatal("b not called")
	}
	r = h.pay(h.delegate("4000000000000002", 1000), 1000, "automatic")
	if atts := r.body["attempts"].([]any); len(atts) != 1 {
		t.Fatalf("hard decline cascaded: %s", r.raw)
	}
}

func gaugeVec(t *testing.T, h *harness, name, processor string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "processor" && l.GetValue() == processor {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{processor=%q}", name, processor)
	return 0
}

// startsNumber reports whether digits occur in hay where a number starts:
// not right after another digit or a decimal point.
func startsNumber(hay, digits string) bool {
	for i := 0; ; {
		j := strings.Index(hay[i:], digits)
		if j < 0 {
			return false
		}
		at := i + j
		if at == 0 || (hay[at-1] != '.' && (hay[at-1] < '0' || hay[at-1] > '9')) {
			return true
		}
		i = at + 1
	}
}
