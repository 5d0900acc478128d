package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"acpgw/payment"
	"acpgw/providers"
)

// asyncProvider answers modifications "received" (pending) like Adyen, and
// takes webhooks signed with a fixed header value.
type asyncProvider struct {
	providers.Provider
	n atomic.Int64
}

func (a *asyncProvider) Capture(ctx context.Context, r providers.ModifyRequest) (providers.Result, error) {
	return a.received()
}

func (a *asyncProvider) Refund(ctx context.Context, r providers.ModifyRequest) (providers.Result, error) {
	return a.received()
}

func (a *asyncProvider) received() (providers.Result, error) {
	return providers.Result{Status: payment.StatusPending, Reference: fmt.Sprintf("mod_%d", a.n.Add(1))}, nil
}

type testEvent struct {
	ID, Kind, Reference, ModRef string
	Amount                      int64
	Fee                         int64
}

func (a *asyncProvider) ParseWebhook(h http.Header, body []byte, now time.Time) ([]providers.Event, error) {
	if h.Get("X-Test-Signature") != "valid" {
		return nil, providers.ErrBadSignature
	}
	var in []testEvent
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, err
	}
	var out []providers.Event
	for _, e := range in {
		ev := providers.Event{ID: e.ID, Type: e.Kind, Kind: providers.EventKind(e.Kind), Reference: e.Reference,
			ModificationReference: e.ModRef, Raw: []byte(`{}`)}
		if e.Amount > 0 {
			ev.Amount = &payment.Money{Amount: e.Amount, Currency: "usd"}
		}
		if e.Fee > 0 {
			ev.Fee = &payment.Money{Amount: e.Fee, Currency: "usd"}
		}
		out = append(out, ev)
	}
	return out, nil
}

func (a *asyncProvider) WebhookAck() (string, []byte) { return "text/plain", []byte("[accepted]") }

var _ providers.WebhookReceiver = (*asyncProvider)(nil)

func (h *harness) webhook(sig string, events ...testEvent) response {
	h.t.Helper()
	body, _ := json.Marshal(events)
	hr, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/webhooks/mock", bytesReader(body))
	hr.Header.Set("X-Test-Signature", sig)
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out response
	out.status = resp.StatusCode
	out.raw = readAll(resp)
	return out
}

func TestWebhooksSettleAsyncModifications(t *testing.T) {
	h := newHarness(t, harnessOpts{wrap: func(p providers.Provider) providers.Provider { return &asyncProvider{Provider: p} }})
	r := h.pay(h.delegate("4242424242424242", 1000), 1000, "manual")
	mustStatus(t, r, http.StatusCreated)
	id, ref := r.str("id"), r.str("processor_reference")

	// Capture is received, not done: 202 and still authorized.
	r = h.do(req{path: "/v1/payments/" + id + "/capture", key: acmeKey, idem: newKey(), body: map[string]any{"amount": 800}})
	mustStatus(t, r, http.StatusAccepted)
	if r.str("status") != "authorized" {
		t.Fatalf("before webhook: %s", r.raw)
	}
	// A forged delivery changes nothing.
	if w := h.webhook("forged", testEvent{ID: "e1", Kind: "captured", Reference: ref, ModRef: "mod_1", Amount: 800}); w.status != http.StatusBadRequest {
		t.Fatalf("bad signature: %d %s", w.status, w.raw)
	}
	if g := h.get(id); g.str("status") != "authorized" {
		t.Fatalf("forged event applied: %s", g.raw)
	}
	// The real one settles the capture, with the actual fee.
	w := h.webhook("valid", testEvent{ID: "e1", Kind: "captured", Reference: ref, ModRef: "mod_1", Amount: 800, Fee: 26})
	if w.status != http.StatusOK || string(w.raw) != "[accepted]" {
		t.Fatalf("webhook: %d %s", w.status, w.raw)
	}
	g := h.get(id)
	if g.str("status") != "captured" || g.num("amount_captured") != 800 || g.body["fee"].(map[string]any)["actual"] != float64(26) {
		t.Fatalf("after capture event: %s", g.raw)
	}
	// Redelivery: stored once, applied once.
	h.webhook("valid", testEvent{ID: "e1", Kind: "captured", Reference: ref, ModRef: "mod_1", Amount: 800, Fee: 26})

	// Two refunds pending; the events settle the right one each.
	r = h.do(req{path: "/v1/payments/" + id + "/refunds", key: acmeKey, idem: newKey(), body: map[string]any{"amount": 300}})
	mustStatus(t, r, http.StatusAccepted)
	r = h.do(req{path: "/v1/payments/" + id + "/refunds", key: acmeKey, idem: newKey(), body: map[string]any{"amount": 500}})
	mustStatus(t, r, http.StatusAccepted)
	// Nothing more can be refunded while they are pending.
	r = h.do(req{path: "/v1/payments/" + id + "/refunds", key: acmeKey, idem: newKey(), body: map[string]any{"amount": 1}})
	mustStatus(t, r, http.StatusUnprocessableEntity)
	h.webhook("valid", testEvent{ID: "e2", Kind: "refund_failed", Reference: ref, ModRef: "mod_2"})
	h.webhook("valid", testEvent{ID: "e3", Kind: "refunded", Reference: ref, ModRef: "mod_3", Amount: 500})
	g = h.get(id)
	if g.str("status") != "partially_refunded" || g.num("amount_refunded") != 500 {
		t.Fatalf("after refund events: %s", g.raw)
	}
	refunds := g.body["refunds"].([]any)
	if refunds[0].(map[string]any)["status"] != "failed" || refunds[1].(map[string]any)["status"] != "succeeded" {
		t.Fatalf("refunds: %v", refunds)
	}
	// The failed 300 is refundable again.
	r = h.do(req{path: "/v1/payments/" + id + "/refunds", key: acmeKey, idem: newKey(), body: map[string]any{"amount": 300}})
	mustStatus(t, r, http.StatusAccepted)

	// An event about a payment acpgw does not know is stored and acknowledged.
	if w := h.webhook("valid", testEvent{ID: "e4", Kind: "captured", Reference: "psp_unknown"}); w.status != http.StatusOK {
		t.Fatalf("unknown payment: %d %s", w.status, w.raw)
	}
	// A processor without webhooks, or no such processor: 404.
	hr, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/webhooks/nope", nil)
	resp, err := http.DefaultClient.Do(hr)
	if err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown processor: %v %v", err, resp.StatusCode)
	}
	resp.Body.Close()
}

func (h *harness) get(id string) response {
	h.t.Helper()
	return h.do(req{method: http.MethodGet, path: "/v1/payments/" + id, key: acmeKey})
}
