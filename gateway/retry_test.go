package gateway

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"acpgw/payment"
	"acpgw/providers"
	"acpgw/providers/providertest"
	"acpgw/store"
)

// withAuth is in with the buyer's 3-D Secure authentication and a fresh
// key for that body.
func (r *rig) withAuth(in PayInput, a *payment.Authentication) PayInput {
	in.Request.Authentication = a
	in.Idempotency = r.key("merchant:acme", "/v1/payments", in.Request)
	return in
}

// token reads a token as the store has it.
func (r *rig) token(id string) store.Token {
	r.t.Helper()
	tok, err := r.st.GetToken(context.Background(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	return tok
}

// eachStore runs fn in two parallel subtests, "sqlite" and "postgres"; pg
// says which store the subtest is for.
func eachStore(t *testing.T, fn func(t *testing.T, pg bool)) {
	for _, pg := range []bool{false, true} {
		name := "sqlite"
		if pg {
			name = "postgres"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, pg)
		})
	}
}

// forBothStores runs fn on a rig on SQLite and one on PostgreSQL (skipped
// without ACPGW_TEST_POSTGRES_DSN).
func forBothStores(t *testing.T, o rigOpts, fn func(t *testing.T, r *rig)) {
	eachStore(t, func(t *testing.T, pg bool) {
		o := o
		o.postgres = pg
		fn(t, newRig(t, o))
	})
}

// TestRetryableDeclineKeepsToken: a retryable decline leaves the token
// usable, with its CVC gone after the first attempt, until
// tokens.max_attempts payments used it; the last decline then says
// retryable: false, and the token is consumed.
func TestRetryableDeclineKeepsToken(t *testing.T) {
	t.Parallel()
	forBothStores(t, rigOpts{}, func(t *testing.T, r *rig) {
		tok := r.delegate("4000000000009995", 1000) // insufficient_funds
		if r.token(tok).CVC == nil {
			t.Fatal("the token has no CVC to begin with")
		}
		for i := 1; i <= 3; i++ {
			_, obj := r.mustPay(r.payInput(tok, 1000-int64(i), "automatic"))
			if obj.Status != payment.StatusDeclined || obj.Decline == nil || obj.Decline.Code != payment.DeclineInsufficientFunds {
				t.Fatalf("payment %d: %+v", i, obj)
			}
			after := r.token(tok)
			if after.Attempts != i || after.CVC != nil {
				t.Fatalf("payment %d: token attempts %d, CVC %d bytes; want %d and none", i, after.Attempts, len(after.CVC), i)
			}
			last := i == 3
			if obj.Decline.Retryable == last || (after.ConsumedAt == nil) == last {
				t.Fatalf("payment %d: retryable %v, token consumed %v; want retryable and usable except after the 3rd",
					i, obj.Decline.Retryable, after.ConsumedAt != nil)
			}
			if last && !strings.Contains(obj.Decline.Message, "limit") {
				t.Errorf("the last decline does not say why it is not retryable: %q", obj.Decline.Message)
			}
		}
		_, err := r.svc.Pay(t.Context(), r.payInput(tok, 900, "automatic"))
		if !errors.Is(err, payment.ErrTokenConsumed) {
			t.Fatalf("a 4th payment: %v, want token_consumed", err)
		}
		if n := r.mocks["mock"].Calls(providers.OpAuthorize); n != 3 {
			t.Fatalf("%d processor calls, want 3", n)
		}
	})
}

// TestTokenMaxAttempts: the limit is config (tokens.max_attempts).
func TestTokenMaxAttempts(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOpts{top: "tokens: {max_attempts: 1}\n"})
	tok := r.delegate("4000000000009995", 1000)
	if _, obj := r.mustPay(r.payInput(tok, 1000, "automatic")); obj.Decline == nil || obj.Decline.Retryable {
		t.Fatalf("with max_attempts 1 the first decline is the last: %+v", obj.Decline)
	}
	if _, err := r.svc.Pay(t.Context(), r.payInput(tok, 1000, "automatic")); !errors.Is(err, payment.ErrTokenConsumed) {
		t.Fatalf("second payment: %v, want token_consumed", err)
	}
}

// TestDeclinesThatConsume: a hard decline and a soft one that is not
// retryable consume the token as an approval does.
func TestDeclinesThatConsume(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOpts{})
	for _, card := range []string{"4000000000000002", "4000000000009987", "4242424242424242"} {
		tok := r.delegate(card, 1000)
		r.mustPay(r.payInput(tok, 1000, "automatic"))
		if _, err := r.svc.Pay(t.Context(), r.payInput(tok, 1000, "automatic")); !errors.Is(err, payment.ErrTokenConsumed) {
			t.Errorf("%s: second payment %v, want token_consumed", card, err)
		}
	}
}

// recorder remembers the 3-D Secure result of every authorization it
// passes on.
type recorder struct {
	providers.Provider
	mu    sync.Mutex
	auths []*payment.Authentication
}

func (c *recorder) Authorize(ctx context.Context, req providers.AuthorizeRequest) (providers.Result, error) {
	c.mu.Lock()
	if a := req.Authentication; a != nil {
		cp := *a
		c.auths = append(c.auths, &cp)
	} else {
		c.auths = append(c.auths, nil)
	}
	c.mu.Unlock()
	return c.Provider.Authorize(ctx, req)
}

func (c *recorder) seen() []*payment.Authentication {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*payment.Authentication(nil), c.auths...)
}

// TestAuthenticationRequiredThenAuthenticated: the 3-D Secure card is
// declined authentication_required (retryable) without a result; the same
// token paid again with an authenticated result is captured, the result
// reached the processor, and the attempt keeps it without its cryptogram,
// which no file of the store holds.
func TestAuthenticationRequiredThenAuthenticated(t *testing.T) {
	t.Parallel()
	var rec *recorder
	r := newRig(t, rigOpts{wrap: func(p providers.Provider) providers.Provider {
		rec = &recorder{Provider: p}
		return rec
	}})
	tok := r.delegate("4000000000003220", 1000)
	_, obj := r.mustPay(r.payInput(tok, 1000, "automatic"))
	if obj.Status != payment.StatusDeclined || obj.Decline.Code != payment.DeclineAuthenticationRequired || !obj.Decline.Retryable {
		t.Fatalf("without authentication: %+v", obj)
	}
	ans, obj := r.mustPay(r.withAuth(r.payInput(tok, 1000, "automatic"), providertest.Authenticated()))
	if obj.Status != payment.StatusCaptured {
		t.Fatalf("with authentication: %s", ans.Body)
	}
	if strings.Contains(string(ans.Body), providertest.Cryptogram) {
		t.Fatal("the answer carries the cryptogram")
	}
	seen := rec.seen()
	if len(seen) != 2 || seen[0] != nil || seen[1] == nil || seen[1].Cryptogram != providertest.Cryptogram || seen[1].ECI != "05" {
		t.Fatalf("the processor saw %v", seen)
	}
	atts, err := r.st.ListAttempts(t.Context(), obj.ID)
	if err != nil || len(atts) != 1 {
		t.Fatalf("attempts %v %v", atts, err)
	}
	if a := atts[0].Authentication; a == nil || *a != providertest.Authenticated().Record() {
		t.Fatalf("attempt's authentication %+v, want %+v", a, providertest.Authenticated().Record())
	}
	if _, err := r.svc.Pay(t.Context(), r.payInput(tok, 1000, "automatic")); !errors.Is(err, payment.ErrTokenConsumed) {
		t.Fatalf("after the approval: %v, want token_consumed", err)
	}
	if r.svc.cryptograms.len() != 0 {
		t.Fatalf("%d cryptograms kept after a settled payment", r.svc.cryptograms.len())
	}
	// The cryptogram is in no file of the store, in any encoding.
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(r.dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, needle := range []string{providertest.Cryptogram, "0123456789abcdefghij"} {
			if strings.Contains(string(b), needle) {
				t.Fatalf("%s holds the cryptogram", e.Name())
			}
		}
	}
}

// TestConcurrentRetries: after a retryable decline, many retries of the
// same token at once give one approval; the others are told the token is
// in use or consumed, and the processor charged once.
func TestConcurrentRetries(t *testing.T) {
	t.Parallel()
	forBothStores(t, rigOpts{}, func(t *testing.T, r *rig) {
		tok := r.delegate("4000000000003220", 1000)
		if _, obj := r.mustPay(r.payInput(tok, 1000, "automatic")); !obj.Decline.Retryable {
			t.Fatalf("first payment: %+v", obj)
		}
		const n = 12
		var (
			wg      sync.WaitGroup
			start   = make(chan struct{})
			results = make([]error, n)
			objs    = make([]PaymentObject, n)
		)
		for i := range n {
			in := r.withAuth(r.payInput(tok, 1000, "automatic"), providertest.Authenticated())
			wg.Go(func() {
				<-start
				ans, err := r.svc.Pay(t.Context(), in)
				results[i] = err
				if err == nil {
					objs[i] = r.object(ans)
				}
			})
		}
		close(start)
		wg.Wait()
		approved := 0
		for i, err := range results {
			switch {
			case err == nil && objs[i].Status == payment.StatusCaptured:
				approved++
			case err == nil:
				t.Errorf("retry %d: %s", i, objs[i].Status)
			case !errors.Is(err, payment.ErrTokenConsumed) && !errors.Is(err, payment.ErrConflict):
				t.Errorf("retry %d: %v, want token_consumed or in use", i, err)
			}
		}
		if approved != 1 || r.mocks["mock"].ChargeCount() != 1 {
			t.Fatalf("%d approvals, %d charges; want 1 and 1", approved, r.mocks["mock"].ChargeCount())
		}
	})
}

// unknownFirst makes the first answer to every idempotency key unknown
// (the call took effect, the answer was lost); a re-send gets the real
// answer, as from a processor that replays by key.
type unknownFirst struct {
	providers.Provider
	mu   sync.Mutex
	seen map[string]bool
}

func (u *unknownFirst) Authorize(ctx context.Context, req providers.AuthorizeRequest) (providers.Result, error) {
	res, err := u.Provider.Authorize(ctx, req)
	u.mu.Lock()
	first := !u.seen[req.IdempotencyKey]
	u.seen[req.IdempotencyKey] = true
	u.mu.Unlock()
	if first {
		return providers.Result{}, providers.OutcomeUnknown("timeout", errors.New("answer lost"))
	}
	return res, err
}

// TestReconcileKeepsRetryRules: a payment whose outcome was unknown keeps
// its token held (a retry is told it is in use); reconciliation re-sends
// it with the 3-D Secure result, cryptogram included, and settles it by
// the same token rules: a retryable decline reopens the token.
func TestReconcileKeepsRetryRules(t *testing.T) {
	t.Parallel()
	var rec *recorder
	r := newRig(t, rigOpts{wrap: func(p providers.Provider) providers.Provider {
		rec = &recorder{Provider: &unknownFirst{Provider: p, seen: map[string]bool{}}}
		return rec
	}})
	tok := r.delegate("4000000000009995", 1000)
	ans, err := r.svc.Pay(t.Context(), r.withAuth(r.payInput(tok, 1000, "automatic"), providertest.Authenticated()))
	if err != nil || ans.Status != statusAccepted {
		t.Fatalf("first payment: %d %v", ans.Status, err)
	}
	if r.svc.cryptograms.len() != 1 {
		t.Fatalf("%d cryptograms kept for the pending payment, want 1", r.svc.cryptograms.len())
	}
	if _, err := r.svc.Pay(t.Context(), r.payInput(tok, 1000, "automatic")); !errors.Is(err, payment.ErrConflict) {
		t.Fatalf("a retry while the first is pending: %v, want the token in use (409)", err)
	}
	resolved, pending, err := r.svc.Reconcile(t.Context(), ReconcileOptions{After: -time.Hour, Lease: time.Minute})
	if err != nil || resolved != 1 || pending != 0 {
		t.Fatalf("Reconcile: %d resolved, %d pending, %v", resolved, pending, err)
	}
	seen := rec.seen()
	if len(seen) != 2 || seen[1] == nil || seen[1].Cryptogram != providertest.Cryptogram {
		t.Fatalf("the re-send carried %v, want the authentication with its cryptogram", seen)
	}
	if after := r.token(tok); after.ConsumedAt != nil || after.Attempts != 1 {
		t.Fatalf("after the reconciled retryable decline: consumed %v, attempts %d; want usable, 1", after.ConsumedAt, after.Attempts)
	}
	if r.svc.cryptograms.len() != 0 {
		t.Fatal("the cryptogram outlived the payment's settlement")
	}
	// The token pays again.
	if ans, err := r.svc.Pay(t.Context(), r.payInput(tok, 1000, "automatic")); err != nil || ans.Status != statusAccepted {
		t.Fatalf("retry after reconciliation: %d %v", ans.Status, err)
	}
}

// TestCryptogramsExpire: kept cryptograms end with their retention, and
// put sweeps the expired ones.
func TestCryptogramsExpire(t *testing.T) {
	t.Parallel()
	c := newCryptograms()
	t0 := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	c.put("pay_1", "x", t0, t0.Add(time.Hour))
	if c.get("pay_1", t0.Add(59*time.Minute)) != "x" || c.get("pay_1", t0.Add(time.Hour)) != "" {
		t.Fatal("retention not honoured")
	}
	c.put("pay_2", "y", t0.Add(2*time.Hour), t0.Add(3*time.Hour))
	if c.len() != 1 {
		t.Fatalf("%d kept after a sweep, want 1", c.len())
	}
	c.forget("pay_2")
	if c.len() != 0 {
		t.Fatal("forget kept it")
	}
}

// TestWebhookDeclineKeepsRetryRules: a pending payment that a processor's
// event declines follows the same token rules: retryable under the limit
// reopens the token; at the limit the stored decline stops being
// retryable and the token stays consumed.
func TestWebhookDeclineKeepsRetryRules(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		top      string
		reopened bool
	}{
		{"", true},
		{"tokens: {max_attempts: 1}\n", false},
	} {
		r := newRig(t, rigOpts{top: tc.top, wrap: func(p providers.Provider) providers.Provider {
			return &unknownFirst{Provider: p, seen: map[string]bool{}}
		}})
		tok := r.delegate("4000000000009995", 1000)
		ans, err := r.svc.Pay(t.Context(), r.payInput(tok, 1000, "automatic"))
		if err != nil || ans.Status != statusAccepted {
			t.Fatalf("payment: %d %v", ans.Status, err)
		}
		id := r.object(ans).ID
		d := payment.NewDecline(payment.DeclineInsufficientFunds, "insufficient_funds", "")
		if err := r.svc.ApplyEvents(t.Context(), "mock", []providers.Event{{ID: "evt_" + id, Type: "declined",
			Kind: providers.EventDeclined, PaymentID: id, Decline: &d}}); err != nil {
			t.Fatal(err)
		}
		after := r.token(tok)
		v, err := r.svc.Get(t.Context(), "acme", id)
		if err != nil {
			t.Fatal(err)
		}
		p := v.Payment
		if p.Status != payment.StatusDeclined || (after.ConsumedAt == nil) != tc.reopened || p.Decline.Retryable != tc.reopened {
			t.Errorf("max_attempts %q: status %s, token usable %v, decline retryable %v; want usable and retryable = %v",
				tc.top, p.Status, after.ConsumedAt == nil, p.Decline.Retryable, tc.reopened)
		}
	}
}

// TestWebhookSettlesPaymentWithoutTokenRowPostgres: a webhook that settles
// a pending payment erases its token's CVC, and a token row that is gone is
// no reason to fail the event: on PostgreSQL, where the erasure is queued
// and a missing row would fail the whole transaction at COMMIT, the event
// still applies.
func TestWebhookSettlesPaymentWithoutTokenRowPostgres(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOpts{postgres: true, wrap: func(p providers.Provider) providers.Provider {
		return &unknownFirst{Provider: p, seen: map[string]bool{}}
	}})
	for _, drop := range []bool{false, true} {
		tok := r.delegate("4242424242424242", 1000)
		ans, err := r.svc.Pay(t.Context(), r.payInput(tok, 1000, "automatic"))
		if err != nil || ans.Status != statusAccepted {
			t.Fatalf("payment: %d %v", ans.Status, err)
		}
		id := r.object(ans).ID
		if drop {
			conn, err := pgx.Connect(t.Context(), r.pgDSN)
			if err != nil {
				t.Fatal(err)
			}
			_, err = conn.Exec(t.Context(), `DELETE FROM tokens WHERE id = $1`, tok)
			conn.Close(t.Context())
			if err != nil {
				t.Fatal(err)
			}
		}
		if err := r.svc.ApplyEvents(t.Context(), "mock", []providers.Event{{ID: "evt_" + id, Type: "authorized",
			Kind: providers.EventAuthorized, PaymentID: id}}); err != nil {
			t.Fatalf("token row dropped %v: ApplyEvents: %v", drop, err)
		}
		v, err := r.svc.Get(t.Context(), "acme", id)
		if err != nil {
			t.Fatal(err)
		}
		if v.Payment.Status == payment.StatusPending {
			t.Errorf("token row dropped %v: status %s, want final", drop, v.Payment.Status)
		}
		if !drop {
			if after, err := r.st.GetToken(t.Context(), tok); err != nil || after.CVC != nil {
				t.Errorf("token after the event: CVC %d bytes, %v; want erased", len(after.CVC), err)
			}
		}
	}
}
