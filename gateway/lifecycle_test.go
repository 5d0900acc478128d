package gateway

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"acpgw/config"
	"acpgw/payment"
	"acpgw/providers"
)

// held is a processor whose first authorization is held until the test
// answers it (an answer that never came: the outcome is unknown); every
// later one goes to the processor it wraps. It counts authorizations and
// reports whether one was made after Close.
type held struct {
	providers.Provider
	calls    atomic.Int64
	inFlight atomic.Int64
	entered  chan struct{}
	answer   chan error
	closed   chan struct{}
	once     sync.Once
	misuse   atomic.Bool
}

func newHeld(p providers.Provider) *held {
	return &held{Provider: p, entered: make(chan struct{}, 1), answer: make(chan error), closed: make(chan struct{})}
}

func (h *held) Authorize(ctx context.Context, req providers.AuthorizeRequest) (providers.Result, error) {
	h.inFlight.Add(1)
	defer h.inFlight.Add(-1)
	if h.isClosed() {
		h.misuse.Store(true)
	}
	if h.calls.Add(1) == 1 {
		h.entered <- struct{}{}
		select {
		case err := <-h.answer:
			return providers.Result{}, err
		case <-ctx.Done():
			return providers.Result{}, providers.OutcomeUnknown("timeout", ctx.Err())
		}
	}
	return h.Provider.Authorize(ctx, req)
}

// Close records that the runtime holding h closed it; a call in flight
// then is a misuse.
func (h *held) Close() error {
	if h.inFlight.Load() > 0 {
		h.misuse.Store(true)
	}
	h.once.Do(func() { close(h.closed) })
	return nil
}

func (h *held) isClosed() bool {
	select {
	case <-h.closed:
		return true
	default:
		return false
	}
}

// reloadTo builds a Runtime from the rig's config with processors and
// swaps it in, as Reloader.Reload does.
func (r *rig) reloadTo(processors string) *Runtime {
	r.t.Helper()
	cfg, err := config.Parse([]byte(r.config(processors)), "reload.yaml")
	if err != nil {
		r.t.Fatalf("config: %v", err)
	}
	rt, err := NewRuntime(cfg, r.build)
	if err != nil {
		r.t.Fatal(err)
	}
	r.svc.Swap(rt)
	return rt
}

// TestReconcileLeavesCallInFlight: a processor call may be in flight until
// the deadline it was sent with, and no reconciliation pass re-sends it
// before then, whatever a reload did to the processor's timeout: whether
// the call was sent under a long timeout that a reload then shortened, or
// a reload lengthened the timeout before the call. Once the call has
// ended, the next pass re-sends it with its key and settles it.
func TestReconcileLeavesCallInFlight(t *testing.T) {
	const short, long = "  mock: {type: mock, timeout: 2s}\n", "  mock: {type: mock, timeout: 1h}\n"
	for _, tc := range []struct {
		name          string
		first, second string
		// reloadFirst reloads before the payment, else while its call runs.
		reloadFirst bool
	}{
		{name: "a reload shortens the timeout of a call in flight", first: long, second: short},
		{name: "a reload lengthens the timeout before the call", first: short, second: long, reloadFirst: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := &fakeClock{t: time.Now().UTC()}
			var prov *held
			r := newRig(t, rigOpts{processors: tc.first, now: clock.now, wrap: func(p providers.Provider) providers.Provider {
				// One processor across reloads, like a real one.
				if prov == nil {
					prov = newHeld(p)
				}
				return prov
			}})
			if tc.reloadFirst {
				r.reloadTo(tc.second)
			}
			in := r.payInput(r.delegate("4242424242424242", 1000), 1000, "automatic")
			type result struct {
				ans Answer
				err error
			}
			paid := make(chan result, 1)
			go func() {
				ans, err := r.svc.Pay(context.WithoutCancel(t.Context()), in)
				paid <- result{ans, err}
			}()
			<-prov.entered // the call is in flight, with a deadline an hour away
			if !tc.reloadFirst {
				r.reloadTo(tc.second)
			}

			// Ten minutes on: far past reconcile.after and the 2s timeout in
			// either config, well before the call's own deadline.
			clock.add(10 * time.Minute)
			resolved, pending, err := r.svc.Reconcile(t.Context(), reconcileOptions(r.svc.Runtime()))
			if err != nil || resolved != 0 || pending != 0 {
				t.Fatalf("Reconcile while the call is in flight: resolved %d pending %d, %v; want nothing leased", resolved, pending, err)
			}
			if n := prov.calls.Load(); n != 1 {
				t.Fatalf("%d authorizations: the pass re-sent a call still in flight", n)
			}

			// The answer never comes: the call ends with its outcome unknown.
			prov.answer <- providers.OutcomeUnknown("timeout", context.DeadlineExceeded)
			res := <-paid
			if res.err != nil || res.ans.Status != http.StatusAccepted {
				t.Fatalf("Pay: %d %s, %v; want 202 pending", res.ans.Status, res.ans.Body, res.err)
			}
			// The call is over: the next pass (past the clock skew allowed)
			// re-sends it with its key and settles it.
			clock.add(2 * DefaultReconcileSkew)
			resolved, pending, err = r.svc.Reconcile(t.Context(), reconcileOptions(r.svc.Runtime()))
			if err != nil || resolved != 1 || pending != 0 {
				t.Fatalf("Reconcile after the call ended: resolved %d pending %d, %v; want 1 resolved", resolved, pending, err)
			}
			if n := prov.calls.Load(); n != 2 {
				t.Fatalf("%d authorizations, want 2 (the call and its re-send)", n)
			}
		})
	}
}

// TestRetiredRuntimeClosed: a Runtime swapped out by a reload is closed
// once the last request that uses it has ended, not while one still does.
func TestRetiredRuntimeClosed(t *testing.T) {
	var (
		mu    sync.Mutex
		built []*held
	)
	r := newRig(t, rigOpts{retireGrace: time.Nanosecond, wrap: func(p providers.Provider) providers.Provider {
		h := newHeld(p)
		mu.Lock()
		built = append(built, h)
		mu.Unlock()
		return h
	}})
	first := built[0]
	in := r.payInput(r.delegate("4242424242424242", 1000), 1000, "automatic")
	paid := make(chan error, 1)
	go func() {
		_, err := r.svc.Pay(context.WithoutCancel(t.Context()), in)
		paid <- err
	}()
	<-first.entered

	r.reloadTo("  mock: {type: mock, timeout: 5s}\n")
	mu.Lock()
	second := built[1]
	mu.Unlock()
	// A payment on the new Runtime runs to its end while the old one is
	// still in use; the old one stays open meanwhile.
	second.calls.Store(1) // hold nothing on the new one
	if _, obj := r.mustPay(r.payInput(r.delegate("4242424242424242", 500), 500, "automatic")); obj.Status != payment.StatusCaptured {
		t.Fatalf("payment on the new runtime: %s", obj.Status)
	}
	if first.isClosed() {
		t.Fatal("the old runtime was closed while a payment still used it")
	}

	first.answer <- errors.New("processor answer")
	if err := <-paid; err != nil && !errors.Is(err, payment.ErrNoProcessor) {
		t.Fatalf("Pay on the old runtime: %v", err)
	}
	select {
	case <-first.closed:
	case <-time.After(30 * time.Second):
		t.Fatal("the old runtime was never closed after its last user ended")
	}
	if first.misuse.Load() {
		t.Fatal("the old runtime's processor was closed with a call in flight, or called after Close")
	}
	if second.isClosed() {
		t.Fatal("the runtime in service was closed")
	}

	// Close closes the runtime in service too, once unused.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := r.svc.Close(ctx); err != nil || !second.isClosed() {
		t.Fatalf("Close: %v, closed %v; want the runtime in service closed", err, second.isClosed())
	}
}

// TestServiceCloseWaitsForUsers: Close returns only once the requests that
// hold a Runtime have released it, or when its context ends.
func TestServiceCloseWaitsForUsers(t *testing.T) {
	r := newRig(t, rigOpts{})
	_, release := r.svc.acquire()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := r.svc.Close(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Close with a user holding the runtime: %v, want the context's error", err)
	}
	release()
	ctx, cancel = context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if err := r.svc.Close(ctx); err != nil {
		t.Fatalf("Close once released: %v", err)
	}
	// Work after Close still gets a Runtime rather than spinning.
	rt, release := r.svc.acquire()
	release()
	if rt == nil {
		t.Fatal("acquire after Close: no runtime")
	}
}

// TestReconcileOptionsFollowReload: each reconciliation pass reads the
// config in service, so a reload applies from the next pass.
func TestReconcileOptionsFollowReload(t *testing.T) {
	r := newRig(t, rigOpts{})
	before := reconcileOptions(r.svc.Runtime())
	cfg, err := config.Parse([]byte(r.config("  mock: {type: mock, timeout: 5s}\n")+"reconcile: {after: 42s, lease: 7m, interval: 3s}\n"), "reload.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rt, err := NewRuntime(cfg, r.build)
	if err != nil {
		t.Fatal(err)
	}
	r.svc.Swap(rt)
	after := reconcileOptions(r.svc.Runtime())
	if after.After != 42*time.Second || after.Lease != 7*time.Minute || after == before {
		t.Fatalf("options after the reload %+v (before %+v); want after 42s, lease 7m", after, before)
	}
}
