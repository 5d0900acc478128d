package api_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"acpgw/config"
	"acpgw/events/receiver"
	"acpgw/outbox"
)

// TestEventsAPI: a merchant lists its events (newest first, filtered,
// paginated), reads one with its delivery attempts, and has it redelivered
// (idempotently); another merchant sees none of it.
func TestEventsAPI(t *testing.T) {
	// The receiver's clock is the harness's, which the test moves forward.
	var h *harness
	recv := receiver.New(receiver.Options{Secrets: []string{"whsec_api_events_test"}, Now: func() time.Time { return h.clock.Now() }})
	rs := httptest.NewServer(recv)
	defer rs.Close()
	h = newHarness(t, harnessOpts{acmeExtra: `, events: {url: "` + rs.URL + receiver.PathEvents +
		`", secret: whsec_api_events_test, types: [payment.authorized, payment.captured, refund.succeeded]}`})
	d := outbox.New(outbox.Options{Store: h.st, Config: func() *config.Config { return h.svc.Runtime().Config },
		Now: h.clock.Now, Owner: "api-test"})

	p := h.pay(h.delegate("4242424242424242", 1000), 1000, "manual")
	mustStatus(t, p, http.StatusCreated)
	id := p.str("id")
	mustStatus(t, h.do(req{path: "/v1/payments/" + id + "/capture", key: acmeKey, idem: newKey(), body: map[string]any{}}), http.StatusOK)
	mustStatus(t, h.do(req{path: "/v1/payments/" + id + "/refunds", key: acmeKey, idem: newKey(), body: map[string]any{"amount": 100}}), http.StatusCreated)
	other := h.pay(h.delegate("4242424242424242", 500), 500, "automatic")
	mustStatus(t, other, http.StatusCreated)

	list := func(query, key string) response {
		t.Helper()
		return h.do(req{method: http.MethodGet, path: "/v1/events" + query, key: key})
	}
	ids := func(r response) []string {
		var out []string
		for _, e := range r.body["data"].([]any) {
			out = append(out, e.(map[string]any)["type"].(string))
		}
		return out
	}
	all := list("", acmeKey)
	mustStatus(t, all, http.StatusOK)
	if got := ids(all); len(got) != 4 || got[0] != "payment.captured" || got[3] != "payment.authorized" {
		t.Fatalf("all events, newest first: %v", got)
	}
	r := list("?payment_id="+id, acmeKey)
	if got := ids(r); len(got) != 3 || got[0] != "refund.succeeded" || got[1] != "payment.captured" || got[2] != "payment.authorized" {
		t.Fatalf("events of %s: %v", id, got)
	}
	first := r.body["data"].([]any)[0].(map[string]any)
	if first["object"] != "event" || first["payment_id"] != id || first["api_version"] != "2026-04-17" ||
		first["data"].(map[string]any)["refund"] == nil || first["delivery"].(map[string]any)["status"] != "pending" {
		t.Fatalf("refund event %v", first)
	}
	if got := ids(list("?type=payment.captured", acmeKey)); len(got) != 2 {
		t.Fatalf("type filter: %v", got)
	}
	page := list("?limit=3", acmeKey)
	cursor, _ := page.body["next_cursor"].(string)
	if len(ids(page)) != 3 || page.body["has_more"] != true || cursor == "" {
		t.Fatalf("page 1: %s", page.raw)
	}
	page = list("?limit=3&starting_after="+cursor, acmeKey)
	if got := ids(page); len(got) != 1 || got[0] != "payment.authorized" || page.body["has_more"] != false || page.body["next_cursor"] != nil {
		t.Fatalf("page 2: %s", page.raw)
	}
	for _, bad := range []string{"?limit=0", "?limit=101", "?type=payment.refunded", "?starting_after=evt_nope"} {
		if r := list(bad, acmeKey); r.status != http.StatusBadRequest || r.str("type") != "invalid_request" {
			t.Errorf("%s: %d %s", bad, r.status, r.raw)
		}
	}

	// Delivered, with its attempt.
	recv.Set(receiver.Control{FailNext: 1, Status: 503})
	for d.RunOnce(t.Context(), 10) > 0 {
	}
	evID := r.body["data"].([]any)[2].(map[string]any)["id"].(string) // payment.authorized of id
	e := h.do(req{method: http.MethodGet, path: "/v1/events/" + evID, key: acmeKey})
	mustStatus(t, e, http.StatusOK)
	atts := e.body["attempts"].([]any)
	if len(atts) != 1 || atts[0].(map[string]any)["status_code"] != float64(503) || atts[0].(map[string]any)["error"] != "status 503" ||
		e.body["delivery"].(map[string]any)["status"] != "pending" || e.body["delivery"].(map[string]any)["next_attempt_at"] == nil {
		t.Fatalf("event after a failed attempt: %s", e.raw)
	}
	h.clock.advance(time.Hour)
	for d.RunOnce(t.Context(), 10) > 0 {
	}
	e = h.do(req{method: http.MethodGet, path: "/v1/events/" + evID, key: acmeKey})
	if del := e.body["delivery"].(map[string]any); del["status"] != "delivered" || del["attempts"] != float64(2) || del["delivered_at"] == nil {
		t.Fatalf("event after delivery: %s", e.raw)
	}

	// Redelivery: pending again, sent again with the same id; a replay of
	// the request answers the same and changes nothing.
	key := newKey()
	rd := h.do(req{path: "/v1/events/" + evID + "/redeliver", key: acmeKey, idem: key})
	mustStatus(t, rd, http.StatusOK)
	if del := rd.body["delivery"].(map[string]any); del["status"] != "pending" || rd.body["id"] != evID {
		t.Fatalf("redeliver: %s", rd.raw)
	}
	again := h.do(req{path: "/v1/events/" + evID + "/redeliver", key: acmeKey, idem: key})
	if again.status != http.StatusOK || again.header.Get("Idempotent-Replayed") != "true" || string(again.raw) != string(rd.raw) {
		t.Fatalf("replay: %d %s %s", again.status, again.header, again.raw)
	}
	before := len(recv.Deliveries())
	for d.RunOnce(t.Context(), 10) > 0 {
	}
	got := recv.Deliveries()
	if len(got) != before+1 || got[len(got)-1].ID != evID || !got[len(got)-1].Verified {
		t.Fatalf("redelivered: %+v", got[before:])
	}
	if r := h.do(req{path: "/v1/events/" + evID + "/redeliver", key: acmeKey, idem: newKey(), body: map[string]any{"url": "x"}}); r.status != http.StatusBadRequest {
		t.Errorf("redeliver with parameters: %d %s", r.status, r.raw)
	}
	if r := h.do(req{path: "/v1/events/" + evID + "/redeliver", key: acmeKey}); r.status != http.StatusBadRequest {
		t.Errorf("redeliver without Idempotency-Key on 2026-04-17: %d %s", r.status, r.raw)
	}

	// Another merchant: nothing to see, nothing to redeliver.
	if r := list("", otherKey); r.status != http.StatusOK || len(ids(r)) != 0 {
		t.Errorf("other's list: %d %s", r.status, r.raw)
	}
	for _, r := range []response{
		h.do(req{method: http.MethodGet, path: "/v1/events/" + evID, key: otherKey}),
		h.do(req{path: "/v1/events/" + evID + "/redeliver", key: otherKey, idem: newKey()}),
		h.do(req{method: http.MethodGet, path: "/v1/events/evt_nope", key: acmeKey}),
	} {
		if r.status != http.StatusNotFound || r.str("code") != "not_found" || r.str("message") != "no such event" {
			t.Errorf("%d %s; want 404 no such event", r.status, r.raw)
		}
	}
	if r := list("", ""); r.status != http.StatusUnauthorized {
		t.Errorf("no key: %d", r.status)
	}
}
