package gateway

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"acpgw/acp"
	"acpgw/payment"
	"acpgw/providers"
)

// fakeClock is a clock that moves only when the test says so.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// cvcSpy records the CVC of every authorization it passes on.
type cvcSpy struct {
	providers.Provider
	mu   sync.Mutex
	cvcs []string
}

func (s *cvcSpy) Authorize(ctx context.Context, req providers.AuthorizeRequest) (providers.Result, error) {
	s.mu.Lock()
	cvc := "(no card)"
	if req.Instrument.Card != nil {
		cvc = req.Instrument.Card.CVC
	}
	s.cvcs = append(s.cvcs, cvc)
	s.mu.Unlock()
	return s.Provider.Authorize(ctx, req)
}

// last returns the CVC of the last authorization.
func (s *cvcSpy) last() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.cvcs) == 0 {
		return "(none sent)"
	}
	return s.cvcs[len(s.cvcs)-1]
}

// TestMaxTokenTTL: an allowance that ends later than vault.max_token_ttl
// from now is refused with a 400 naming $.allowance.expires_at, and no
// token is stored; one within it is accepted.
func TestMaxTokenTTL(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name, vault string
		ok, refused time.Duration
		limit       string
	}{
		{"default 30 days", "", 29 * 24 * time.Hour, 31 * 24 * time.Hour, "30 days"},
		{"configured", ", max_token_ttl: 2h", 90 * time.Minute, 3 * time.Hour, "2h0m0s"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, rigOpts{vault: tt.vault})
			if ans, err := r.delegateUntil("4242424242424242", 1000, time.Now().Add(tt.ok)); err != nil || ans.Status != http.StatusCreated {
				t.Fatalf("allowance within the limit: %d, %v", ans.Status, err)
			}
			before := r.st.commits.Load()
			_, err := r.delegateUntil("4242424242424242", 1000, time.Now().Add(tt.refused))
			var ae *acp.Error
			if !errors.As(err, &ae) {
				t.Fatalf("allowance beyond the limit: %v, want an *acp.Error", err)
			}
			if ae.Status != http.StatusBadRequest || ae.Type != acp.TypeInvalidRequest || ae.Param != "$.allowance.expires_at" ||
				!strings.Contains(ae.Message, tt.limit) || !strings.Contains(ae.Message, "vault.max_token_ttl") {
				t.Errorf("error %d %s/%s at %s: %q", ae.Status, ae.Type, ae.Code, ae.Param, ae.Message)
			}
			if n := r.st.commits.Load() - before; n != 0 {
				t.Errorf("a refused allowance wrote %d transactions", n)
			}
		})
	}
}

// TestCVCSweep: after vault.cvc_ttl a payment goes without the CVC, and
// the sweep (driven by a fake clock and fake ticks) erases it from the store
// and memory; it stops when its context ends.
func TestCVCSweep(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{t: time.Now().UTC()}
	spy := &cvcSpy{}
	r := newRig(t, rigOpts{vault: ", cvc_ttl: 10m", now: clk.now, wrap: func(p providers.Provider) providers.Provider {
		spy.Provider = p
		return spy
	}})
	ctx, stop := context.WithCancel(t.Context())
	ticks := make(chan time.Time)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.svc.RunCVCSweep(ctx, ticks)
	}()
	// sweep lets one whole pass run: the loop takes the first tick, and
	// takes the second only once that pass has ended.
	sweep := func() {
		t.Helper()
		for range 2 {
			select {
			case ticks <- clk.now():
			case <-time.After(30 * time.Second):
				t.Fatal("the sweep loop does not take its ticks")
			}
		}
	}
	cvcOf := func(id string) []byte {
		t.Helper()
		tok, err := r.st.GetToken(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		return tok.CVC
	}

	kept := r.delegate("4242424242424242", 1000)
	late := r.delegate("4242424242424242", 1000)
	clk.add(9 * time.Minute)
	sweep()
	if cvcOf(kept) == nil || cvcOf(late) == nil {
		t.Fatal("the sweep erased a CVC before vault.cvc_ttl")
	}
	if _, obj := r.mustPay(r.payInput(kept, 1000, "automatic")); obj.Status != payment.StatusCaptured || spy.last() != "737" {
		t.Fatalf("payment within cvc_ttl: %s, CVC sent %q; want captured with 737", obj.Status, spy.last())
	}

	clk.add(2 * time.Minute)
	// Before any sweep runs, the CVC is already out of use...
	if _, obj := r.mustPay(r.payInput(late, 1000, "automatic")); obj.Status != payment.StatusCaptured || spy.last() != "" {
		t.Fatalf("payment after cvc_ttl: %s, CVC sent %q; want captured without one", obj.Status, spy.last())
	}
	// ... and the sweep erases what is left of it.
	old := r.delegate("4242424242424242", 1000)
	clk.add(11 * time.Minute)
	sweep()
	if cvcOf(old) != nil {
		t.Error("a CVC past vault.cvc_ttl is still in the store after a sweep")
	}
	if n := r.svc.cvcs.Len(); n != 0 {
		t.Errorf("%d CVC keys left in memory after the sweep", n)
	}
	fresh := r.delegate("4242424242424242", 1000)
	sweep()
	if cvcOf(fresh) == nil {
		t.Error("the sweep erased a CVC issued just now")
	}
	if _, obj := r.mustPay(r.payInput(old, 1000, "automatic")); obj.Status != payment.StatusCaptured || spy.last() != "" {
		t.Fatalf("payment with a swept token: %s, CVC sent %q; want captured without one", obj.Status, spy.last())
	}

	stop()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the sweep loop did not stop when its context ended")
	}
}
