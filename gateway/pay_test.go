package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"

	"acpgw/config"
	"acpgw/payment"
	"acpgw/providers"
	"acpgw/providers/adyen"
	"acpgw/providers/adyen/adyentest"
	"acpgw/store"
)

// TestCommitsPerRequest holds the write path to its transactions: a token
// is one commit, a payment two (intent, settlement), a failover one more.
func TestCommitsPerRequest(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOpts{
		processors:         "  a: {type: mock, timeout: 5s}\n  b: {type: mock, timeout: 5s}\n",
		merchantProcessors: "[a, b]",
	})
	commits := func(what string, want int64, fn func()) {
		t.Helper()
		before := r.st.commits.Load()
		fn()
		if got := r.st.commits.Load() - before; got != want {
			t.Errorf("%s: %d commits, want %d", what, got, want)
		}
	}
	var tok string
	commits("delegate_payment", 1, func() { tok = r.delegate("4242424242424242", 1000) })
	commits("approved payment", 2, func() {
		if _, obj := r.mustPay(r.payInput(tok, 1000, "automatic")); obj.Status != payment.StatusCaptured {
			t.Fatalf("status %q", obj.Status)
		}
	})
	declined := r.delegate("4000000000000002", 1000)
	commits("declined payment", 2, func() {
		if _, obj := r.mustPay(r.payInput(declined, 1000, "automatic")); obj.Status != payment.StatusDeclined {
			t.Fatalf("status %q", obj.Status)
		}
	})
	// The mock refuses this card before processing: a fails over to b,
	// which refuses it too; nothing was charged, so the answer is a 503
	// and the token stays usable.
	refused := r.delegate("4000000000000119", 1000)
	commits("payment failed over twice", 3, func() {
		_, err := r.svc.Pay(t.Context(), r.payInput(refused, 1000, "automatic"))
		if !errors.Is(err, payment.ErrNoProcessor) {
			t.Fatalf("Pay: %v, want ErrNoProcessor", err)
		}
	})
	in := r.payInput(r.delegate("4242424242424242", 1000), 1000, "automatic")
	first, _ := r.mustPay(in)
	commits("replay", 0, func() {
		ans, replay, err := r.svc.Replay(t.Context(), in.Idempotency)
		if err != nil || !replay || !bytes.Equal(ans.Body, first.Body) || ans.Status != first.Status {
			t.Fatalf("Replay: %v %v %d %s", err, replay, ans.Status, ans.Body)
		}
	})
	// The same request sent again finds its token consumed by the first
	// run; it gets the first run's answer, not token_consumed.
	commits("payment sent again", 0, func() {
		ans, err := r.svc.Pay(t.Context(), in)
		if err != nil || !ans.Replayed || !bytes.Equal(ans.Body, first.Body) || ans.Status != first.Status {
			t.Fatalf("Pay again: %v %v %d %s", err, ans.Replayed, ans.Status, ans.Body)
		}
	})
	// Another body under the same key is a conflict, whatever it asks.
	other := in
	other.Idempotency.RequestHash = "another body"
	if _, err := r.svc.Pay(t.Context(), other); !errors.Is(err, ErrIdempotencyConflict) {
		t.Fatalf("Pay with another body under the same key: %v, want ErrIdempotencyConflict", err)
	}
}

// TestPayClientHangsUp: the caller's context ends while the processor call
// runs. The payment settles anyway, without reconciliation, and a replay of
// the same key gets the final answer.
func TestPayClientHangsUp(t *testing.T) {
	t.Parallel()
	var g *gate
	r := newRig(t, rigOpts{wrap: func(p providers.Provider) providers.Provider {
		g = newGate(p)
		return g
	}})
	in := r.payInput(r.delegate("4242424242424242", 1000), 1000, "automatic")
	ctx, hangUp := context.WithCancel(t.Context())
	type result struct {
		ans Answer
		err error
	}
	done := make(chan result, 1)
	go func() {
		ans, err := r.svc.Pay(ctx, in)
		done <- result{ans, err}
	}()
	<-g.entered
	hangUp()
	close(g.release)
	res := <-done
	if res.err != nil {
		t.Fatalf("Pay after the hang-up: %v", res.err)
	}
	if obj := r.object(res.ans); res.ans.Status != http.StatusCreated || obj.Status != payment.StatusCaptured {
		t.Fatalf("answer %d %s", res.ans.Status, res.ans.Body)
	}
	rec, err := r.record(in.Idempotency)
	if err != nil || rec.State != store.IdemDone || !bytes.Equal(rec.Body, res.ans.Body) {
		t.Fatalf("idempotency record %+v, %v; want done with the answer", rec, err)
	}
	ans, replay, err := r.svc.Replay(t.Context(), in.Idempotency)
	if err != nil || !replay || !ans.Replayed || !bytes.Equal(ans.Body, res.ans.Body) {
		t.Fatalf("replay: %v %v %s", err, replay, ans.Body)
	}
	if n := r.mocks["mock"].ChargeCount(); n != 1 {
		t.Fatalf("%d charges, want 1", n)
	}
}

// TestPayAdyenInProgress: Adyen answers 704 (in progress) to every try.
// The payment is pending on Adyen (202), the next processor is never
// called, and reconciliation settles it at Adyen with one charge.
func TestPayAdyenInProgress(t *testing.T) {
	t.Parallel()
	fake := adyentest.NewServer(t, adyentest.Options{})
	r := newRig(t, rigOpts{
		processors: fmt.Sprintf("  adyen_eu: {type: adyen, api_key: %q, merchant_account: %q, base_url: %q, hmac_key: %q, timeout: 5s}\n  mock: {type: mock, timeout: 5s}\n",
			fake.APIKey, fake.MerchantAccount, fake.BaseURL, fake.HMACKey),
		merchantProcessors: "[adyen_eu, mock]",
		build: func(p *config.Processor) (providers.Provider, error) {
			a := p.Adyen
			return adyen.New(adyen.Config{Name: p.Name, APIKey: a.APIKey, MerchantAccount: a.MerchantAccount,
				BaseURL: a.BaseURL, HMACKey: a.HMACKey, Timeout: p.Timeout})
		},
	})
	release := fake.HoldAllKeys()
	in := r.payInput(r.delegate(adyentest.CardApproved, 1000), 1000, "automatic")
	ans, obj := r.mustPay(in)
	if ans.Status != http.StatusAccepted || obj.Status != payment.StatusPending || obj.Processor != "adyen_eu" {
		t.Fatalf("answer %d %s; want 202 pending on adyen_eu", ans.Status, ans.Body)
	}
	if len(obj.Attempts) != 1 {
		t.Fatalf("attempts %+v; want one, at adyen_eu", obj.Attempts)
	}
	if n := r.mocks["mock"].Calls(providers.OpAuthorize); n != 0 {
		t.Fatalf("the mock was called %d times while Adyen was in progress", n)
	}
	if rec, err := r.record(in.Idempotency); err != nil || rec.State != store.IdemPending {
		t.Fatalf("record %+v, %v; want pending (a 202 is not final)", rec, err)
	}
	release()
	if resolved, pending, err := r.svc.Reconcile(t.Context(), ReconcileOptions{}); err != nil || resolved != 1 || pending != 0 {
		t.Fatalf("Reconcile: resolved %d, pending %d, %v", resolved, pending, err)
	}
	ans, replay, err := r.svc.Replay(t.Context(), in.Idempotency)
	if err != nil || !replay || ans.Status != http.StatusCreated || r.object(ans).Status != payment.StatusCaptured {
		t.Fatalf("replay after reconciliation: %v %v %d %s", err, replay, ans.Status, ans.Body)
	}
	if n := fake.ChargeCount(); n != 1 {
		t.Fatalf("Adyen charged %d times, want 1", n)
	}
	// Final now: stored, and replayed byte for byte.
	if rec, err := r.record(in.Idempotency); err != nil || rec.State != store.IdemDone || !bytes.Equal(rec.Body, ans.Body) {
		t.Fatalf("record %+v, %v; want done with the final answer", rec, err)
	}
}

// TestConcurrentRefunds: twelve refunds of one payment at once, each with
// its own key. Each answer is 201 with the refund its request created; the
// amounts add up; replays give the same bytes.
func TestConcurrentRefunds(t *testing.T) {
	t.Parallel()
	const n = 12
	r := newRig(t, rigOpts{})
	_, paid := r.mustPay(r.payInput(r.delegate("4242424242424242", 1200), 1200, "automatic"))
	ins := make([]ModifyInput, n)
	answers := make([]Answer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		amount := int64(100)
		ins[i] = ModifyInput{MerchantID: "acme", PaymentID: paid.ID, Amount: &amount,
			Idempotency: r.key("merchant:acme", "/v1/payments/"+paid.ID+"/refunds", i)}
		wg.Go(func() { answers[i], errs[i] = r.svc.Refund(t.Context(), ins[i]) })
	}
	wg.Wait()
	seen := map[string]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("refund %d: %v", i, errs[i])
		}
		obj := r.object(answers[i])
		if answers[i].Status != http.StatusCreated || obj.Refund == nil || obj.Refund.Amount != 100 || obj.Refund.Status != store.RefundSucceeded {
			t.Fatalf("refund %d: %d %s", i, answers[i].Status, answers[i].Body)
		}
		if seen[obj.Refund.ID] {
			t.Fatalf("refund %d answers with refund %s, which another request created", i, obj.Refund.ID)
		}
		seen[obj.Refund.ID] = true
		ans, replay, err := r.svc.Replay(t.Context(), ins[i].Idempotency)
		if err != nil || !replay || !bytes.Equal(ans.Body, answers[i].Body) || ans.Status != answers[i].Status {
			t.Fatalf("replay of refund %d: %v %v %d %s", i, err, replay, ans.Status, ans.Body)
		}
	}
	v, err := r.svc.Get(t.Context(), "acme", paid.ID)
	if err != nil || v.Payment.RefundedAmount != 1200 || v.Payment.Status != payment.StatusRefunded || len(v.Refunds) != n {
		t.Fatalf("payment after the refunds: %+v, %d refunds, %v", v.Payment, len(v.Refunds), err)
	}
}

// TestConcurrentCaptures: twelve captures of one authorization at once, each
// with its own key: one captures (200); the others are refused (409); none
// is left pending and the processor captured once.
func TestConcurrentCaptures(t *testing.T) {
	t.Parallel()
	const n = 12
	r := newRig(t, rigOpts{})
	_, auth := r.mustPay(r.payInput(r.delegate("4242424242424242", 1000), 1000, "manual"))
	answers := make([]Answer, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		in := ModifyInput{MerchantID: "acme", PaymentID: auth.ID,
			Idempotency: r.key("merchant:acme", "/v1/payments/"+auth.ID+"/capture", i)}
		wg.Go(func() { answers[i], errs[i] = r.svc.Capture(t.Context(), in) })
	}
	wg.Wait()
	captured := 0
	for i := range n {
		switch {
		case errs[i] == nil && answers[i].Status == http.StatusOK && r.object(answers[i]).Status == payment.StatusCaptured:
			captured++
		case errors.Is(errs[i], payment.ErrInvalidState), errors.Is(errs[i], payment.ErrConflict):
		default:
			t.Fatalf("capture %d: %d %s, %v", i, answers[i].Status, answers[i].Body, errs[i])
		}
	}
	if captured != 1 {
		t.Fatalf("%d captures succeeded, want 1", captured)
	}
	if c := r.mocks["mock"].Calls(providers.OpCapture); c != 1 {
		t.Fatalf("the processor got %d captures, want 1", c)
	}
}
