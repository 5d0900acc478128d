package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"acpgw/gateway"
	"acpgw/providers"
)

// TestTransientAnswersNotStored: a capture sent while the authorization's
// outcome is unknown is answered 409 operation_in_progress, and that answer
// is not stored: once reconciliation settles the authorization, the same
// key captures. The payment's own 202 is not stored either: its key answers
// 202 while pending and the final 201 afterwards.
func TestTransientAnswersNotStored(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOpts{})
	payKey := newKey()
	payReq := payBody(h.delegate("4000000000009979", 1000), 1000, "manual")
	pay := h.do(req{path: "/v1/payments", key: acmeKey, idem: payKey, body: payReq})
	mustStatus(t, pay, http.StatusAccepted)
	id := pay.str("id")
	pending := h.do(req{path: "/v1/payments", key: acmeKey, idem: payKey, body: payReq})
	mustStatus(t, pending, http.StatusAccepted)
	if pending.str("status") != "pending" || pending.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay while pending: %s", pending.raw)
	}

	capKey := newKey()
	capture := func() response {
		return h.do(req{path: "/v1/payments/" + id + "/capture", key: acmeKey, idem: capKey, body: map[string]any{}})
	}
	busy := capture()
	mustStatus(t, busy, http.StatusConflict)
	if busy.str("code") != "operation_in_progress" {
		t.Fatalf("capture while pending: %s", busy.raw)
	}

	if resolved, _, err := h.svc.Reconcile(t.Context(), gateway.ReconcileOptions{Lease: time.Minute}); err != nil || resolved != 1 {
		t.Fatalf("Reconcile: %d resolved, %v", resolved, err)
	}
	replay := h.do(req{path: "/v1/payments", key: acmeKey, idem: payKey, body: payReq})
	mustStatus(t, replay, http.StatusCreated)
	if replay.str("status") != "authorized" || replay.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay of the payment after reconciliation: %s", replay.raw)
	}

	done := capture()
	mustStatus(t, done, http.StatusOK)
	if done.str("status") != "captured" || done.header.Get("Idempotent-Replayed") == "true" {
		t.Fatalf("capture with the same key after reconciliation: %s", done.raw)
	}
	replayed := capture()
	mustStatus(t, replayed, http.StatusOK)
	if !bytes.Equal(replayed.raw, done.raw) || replayed.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replayed capture %s, want %s replayed", replayed.raw, done.raw)
	}
}

// TestHangUpDuringProcessorCall: the client goes away while the processor
// call runs. The payment settles without reconciliation, and the same key
// then replays the final answer.
func TestHangUpDuringProcessorCall(t *testing.T) {
	t.Parallel()
	g := &holdProvider{entered: make(chan struct{}, 1), release: make(chan struct{})}
	served := make(chan string, 16)
	h := newHarness(t, harnessOpts{served: served, wrap: func(p providers.Provider) providers.Provider {
		g.Provider = p
		return g
	}})
	token := h.delegate("4242424242424242", 1000)
	key := newKey()
	body := mustJSON(t, payBody(token, 1000, "automatic"))

	ctx, hangUp := context.WithCancel(t.Context())
	hr, _ := http.NewRequestWithContext(ctx, http.MethodPost, h.srv.URL+"/v1/payments", bytes.NewReader(body))
	hr.Header.Set("Authorization", "Bearer "+acmeKey)
	hr.Header.Set("Idempotency-Key", key)
	hr.Header.Set("Content-Type", "application/json")
	errc := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(hr)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-g.entered
	hangUp()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("the client's request ended with %v, want context.Canceled", err)
	}
	close(g.release)

	// The handler goes on without the client: wait until it returns, its
	// answer stored.
	for path := range served {
		if path == "/v1/payments" {
			break
		}
	}
	r := h.do(req{path: "/v1/payments", key: acmeKey, idem: key, rawBody: body})
	mustStatus(t, r, http.StatusCreated)
	if r.str("status") != "captured" || r.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay after the hang-up: %s", r.raw)
	}
	if n := h.charges(); n != 1 {
		t.Fatalf("%d charges, want 1", n)
	}
}

// holdProvider holds authorizations until release is closed.
type holdProvider struct {
	providers.Provider
	entered chan struct{}
	release chan struct{}
}

func (g *holdProvider) Authorize(ctx context.Context, req providers.AuthorizeRequest) (providers.Result, error) {
	select {
	case g.entered <- struct{}{}:
	default:
	}
	<-g.release
	return g.Provider.Authorize(ctx, req)
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
