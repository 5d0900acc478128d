package outbox

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"acpgw/config"
	"acpgw/events"
	"acpgw/events/receiver"
	"acpgw/metrics"
	"acpgw/store"
	"acpgw/store/sqlite"
)

const (
	secret   = "whsec_outbox_test_0001"
	previous = "whsec_outbox_test_0000"
)

// clock is a fake clock that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// rig is a dispatcher on a SQLite store, delivering to a receiver.
type rig struct {
	t     *testing.T
	st    *sqlite.Store
	clock *clock
	recv  *receiver.Receiver
	url   string
	cfg   *config.Config
	m     *metrics.Metrics
	d     *Dispatcher
	seq   int
}

type rigOpts struct {
	// merchantEvents is acme's events: mapping, with %s for the
	// receiver's URL; default url and secret.
	merchantEvents string
	// global is the events: section; default short retries.
	global string
	// hold is the receiver's Hold.
	hold func(id string)
	// secrets are the receiver's; default secret.
	secrets []string
	// realClock uses time.Now instead of the fake clock.
	realClock bool
}

func newRig(t *testing.T, o rigOpts) *rig {
	t.Helper()
	r := &rig{t: t, clock: &clock{t: time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)}}
	now := r.clock.Now
	if o.realClock {
		now = time.Now
	}
	if o.secrets == nil {
		o.secrets = []string{secret}
	}
	r.recv = receiver.New(receiver.Options{Secrets: o.secrets, Now: now, Hold: o.hold})
	srv := httptest.NewServer(r.recv)
	t.Cleanup(srv.Close)
	r.url = srv.URL
	if o.merchantEvents == "" {
		o.merchantEvents = "{url: %q, secret: " + secret + "}"
	}
	if o.global == "" {
		o.global = "{timeout: 2s, retry_initial: 1m, retry_max: 10m, give_up_after: 1h, workers: 2}"
	}
	dir := t.TempDir()
	y := fmt.Sprintf(`store: {driver: sqlite, dsn: %q}
vault: {keys: [{id: k1, key: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}]}
processors: {mock: {type: mock}}
merchants:
  - {id: acme, api_key: acme-key, processors: [mock], metrics: {per_merchant: true}, events: %s}
  - {id: quiet, api_key: quiet-key, processors: [mock]}
events: %s
`, filepath.Join(dir, "db"), fmt.Sprintf(o.merchantEvents, r.url+receiver.PathEvents), o.global)
	cfg, err := config.Parse([]byte(y), "outbox.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r.cfg = cfg
	st, err := sqlite.Open(t.Context(), cfg.Store.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r.st = st
	r.m = metrics.New(prometheus.NewRegistry())
	r.d = New(Options{Store: st, Config: func() *config.Config { return r.cfg }, Metrics: r.m, Owner: "test",
		Now: now, Jitter: func() float64 { return 0.5 }})
	return r
}

// event writes an event of payment for merchant, created now.
func (r *rig) event(merchant, pay, typ string) store.OutboxEvent {
	r.t.Helper()
	r.seq++
	now := r.clock.Now()
	id := fmt.Sprintf("evt_%d", r.seq)
	b, _ := json.Marshal(events.Body{ID: id, Object: "event", Type: typ, Created: now.Format(time.RFC3339), APIVersion: "2026-04-17",
		Data: events.Data{Payment: json.RawMessage(fmt.Sprintf(`{"id":%q,"status":"captured"}`, pay))}})
	e := store.OutboxEvent{ID: id, MerchantID: merchant, PaymentID: pay, Type: typ, Body: b, CreatedAt: now,
		State: store.OutboxPending, Since: now, NextAttemptAt: now}
	if err := r.st.Tx(r.t.Context(), func(tx store.Tx) error { return tx.InsertOutboxEvent(r.t.Context(), e) }); err != nil {
		r.t.Fatal(err)
	}
	return e
}

func (r *rig) get(id string) store.OutboxEvent {
	r.t.Helper()
	e, err := r.st.GetOutboxEvent(r.t.Context(), id)
	if err != nil {
		r.t.Fatal(err)
	}
	return e
}

func received(ds []receiver.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

// TestDeliverSignedInOrder: due events are POSTed signed, with their
// headers, a payment's in order, and recorded as delivered.
func TestDeliverSignedInOrder(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOpts{})
	a1 := r.event("acme", "pay_a", events.PaymentAuthorized)
	b1 := r.event("acme", "pay_b", events.PaymentCaptured)
	a2 := r.event("acme", "pay_a", events.PaymentCaptured)
	a3 := r.event("acme", "pay_a", events.RefundSucceeded)
	for r.d.RunOnce(t.Context(), 10) > 0 {
	}
	got := r.recv.Deliveries()
	if !slices.Equal(received(got), []string{a1.ID, b1.ID, a2.ID, a3.ID}) {
		t.Fatalf("received %v", received(got))
	}
	for _, d := range got {
		if !d.Verified || d.Signatures != 1 || d.Attempt != 1 || d.Status != 200 || d.Overlapped {
			t.Errorf("delivery %+v", d)
		}
	}
	for _, e := range []store.OutboxEvent{a1, a2, a3, b1} {
		g := r.get(e.ID)
		if g.State != store.OutboxDelivered || g.Attempts != 1 || g.DeliveredAt == nil || g.LastStatus != 200 || g.LeaseOwner != "" {
			t.Errorf("%s after delivery: %+v", e.ID, g)
		}
		ds, _ := r.st.ListDeliveries(t.Context(), e.ID)
		if len(ds) != 1 || ds[0].StatusCode != 200 || ds[0].Error != "" {
			t.Errorf("%s deliveries %+v", e.ID, ds)
		}
	}
	if v := testutil.ToFloat64(r.m.EventDeliveries.WithLabelValues("acme", ResultDelivered)); v != 4 {
		t.Errorf("deliveries metric %v, want 4", v)
	}
}

// TestRetriedWithTheSameIDThenDelivered: a receiver that answers 500 twice
// gets the same event (id and body) a third time, after the backoff.
func TestRetriedWithTheSameIDThenDelivered(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOpts{})
	e := r.event("acme", "pay_a", events.PaymentCaptured)
	later := r.event("acme", "pay_a", events.RefundSucceeded)
	r.recv.Set(receiver.Control{FailNext: 2, Status: 500})
	if n := r.d.RunOnce(t.Context(), 10); n != 1 {
		t.Fatalf("first pass attempted %d, want 1 (the later event waits)", n)
	}
	g := r.get(e.ID)
	if g.State != store.OutboxPending || g.Attempts != 1 || g.LastStatus != 500 || g.LastError != "status 500" ||
		!g.NextAttemptAt.Equal(r.clock.Now().Add(time.Minute)) {
		t.Fatalf("after a 500: %+v (want due again in retry_initial)", g)
	}
	if n := r.d.RunOnce(t.Context(), 10); n != 0 {
		t.Fatalf("%d attempted before the backoff ran out", n)
	}
	r.clock.Add(time.Minute)
	r.d.RunOnce(t.Context(), 10)
	if g := r.get(e.ID); g.Attempts != 2 || g.State != store.OutboxPending {
		t.Fatalf("after the second 500: %+v", g)
	}
	r.clock.Add(2 * time.Minute)
	for r.d.RunOnce(t.Context(), 10) > 0 {
	}
	got := r.recv.Deliveries()
	if !slices.Equal(received(got), []string{e.ID, e.ID, e.ID, later.ID}) {
		t.Fatalf("received %v, want %s three times, then %s", received(got), e.ID, later.ID)
	}
	for i, d := range got[:3] {
		if d.Attempt != i+1 || !d.Verified {
			t.Errorf("attempt %d: %+v", i+1, d)
		}
	}
	ds, _ := r.st.ListDeliveries(t.Context(), e.ID)
	if len(ds) != 3 || ds[0].StatusCode != 500 || ds[1].StatusCode != 500 || ds[2].StatusCode != 200 {
		t.Fatalf("deliveries %+v", ds)
	}
	if v := testutil.ToFloat64(r.m.EventDeliveries.WithLabelValues("acme", ResultHTTPError)); v != 2 {
		t.Errorf("http_error metric %v, want 2", v)
	}
}

// TestGiveUp: an event never accepted is marked failed once give_up_after
// has passed, counted, and the payment's next event then goes.
func TestGiveUp(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOpts{})
	e := r.event("acme", "pay_a", events.PaymentCaptured)
	next := r.event("acme", "pay_a", events.RefundSucceeded)
	down := true
	r.recv.Set(receiver.Control{Down: &down})
	attempts := 0
	for r.get(e.ID).State == store.OutboxPending {
		attempts += r.d.RunOnce(t.Context(), 10)
		g := r.get(e.ID)
		if g.State == store.OutboxPending {
			if g.NextAttemptAt.After(g.Since.Add(time.Hour)) {
				t.Fatalf("next attempt %v after the give-up time", g.NextAttemptAt)
			}
			r.clock.Add(g.NextAttemptAt.Sub(r.clock.Now()))
		}
		if attempts > 30 {
			t.Fatal("never given up")
		}
	}
	g := r.get(e.ID)
	if g.State != store.OutboxFailed || g.DeliveredAt != nil || !r.clock.Now().Equal(g.Since.Add(time.Hour)) {
		t.Fatalf("given up: %+v at %v", g, r.clock.Now())
	}
	// Waits double from retry_initial to retry_max: 1m, 1m, 2m, 4m, 8m, 10m...
	ds, _ := r.st.ListDeliveries(t.Context(), e.ID)
	var waits []time.Duration
	for i := 1; i < len(ds); i++ {
		waits = append(waits, ds[i].At.Sub(ds[i-1].At))
	}
	want := []time.Duration{time.Minute, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute}
	if len(waits) < len(want) || !slices.Equal(waits[:len(want)], want) {
		t.Errorf("waits %v, want them to start %v", waits, want)
	}
	if v := testutil.ToFloat64(r.m.EventsGivenUp.WithLabelValues("acme")); v != 1 {
		t.Errorf("given up metric %v, want 1", v)
	}
	up := false
	r.recv.Set(receiver.Control{Down: &up})
	r.d.RunOnce(t.Context(), 10)
	if g := r.get(next.ID); g.State != store.OutboxDelivered {
		t.Fatalf("the next event after a given-up one: %+v", g)
	}
}

func TestSchedule(t *testing.T) {
	e := config.Events{RetryInitial: time.Minute, RetryMax: time.Hour, GiveUpAfter: 72 * time.Hour}
	since := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name      string
		elapsed   time.Duration
		jitter    float64
		state     store.OutboxState
		wait      time.Duration
		wantExact bool
	}{
		{"first failure waits retry_initial", 0, 0.5, store.OutboxPending, time.Minute, true},
		{"jitter low", 0, 0, store.OutboxPending, 45 * time.Second, true},
		{"jitter high", 0, 0.999999999, store.OutboxPending, 75 * time.Second, false},
		{"waits as long as waited", 10 * time.Minute, 0.5, store.OutboxPending, 10 * time.Minute, true},
		{"capped at retry_max", 20 * time.Hour, 0.999, store.OutboxPending, time.Hour, true},
		{"last attempt at the give-up time", 71*time.Hour + 30*time.Minute, 0.5, store.OutboxPending, 30 * time.Minute, true},
		{"given up", 72 * time.Hour, 0.5, store.OutboxFailed, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := since.Add(tc.elapsed)
			state, next := schedule(e, since, now, tc.jitter)
			if state != tc.state {
				t.Fatalf("state %s, want %s", state, tc.state)
			}
			wait := next.Sub(now)
			if tc.wantExact && wait != tc.wait || !tc.wantExact && (wait > tc.wait || wait < tc.wait-time.Second) {
				t.Errorf("wait %v, want %v", wait, tc.wait)
			}
		})
	}
}

// TestAttemptFailures: timeouts, redirects, refused connections, bad
// signatures and a merchant without an endpoint are failed attempts with a
// reason, never a delivery.
func TestAttemptFailures(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	hang := func(id string) {
		if id == "evt_1" {
			<-release
		}
	}
	r := newRig(t, rigOpts{hold: hang, global: "{timeout: 200ms, retry_initial: 1m, retry_max: 1h, give_up_after: 72h}"})
	t.Cleanup(func() { close(release) }) // before the receiver closes, which waits for its handlers
	e := r.event("acme", "pay_a", events.PaymentCaptured)
	r.d.RunOnce(t.Context(), 1)
	if g := r.get(e.ID); g.State != store.OutboxPending || g.LastError != "timeout" || g.LastStatus != 0 {
		t.Fatalf("a hanging receiver: %+v", g)
	}
	if v := testutil.ToFloat64(r.m.EventDeliveries.WithLabelValues("acme", ResultTimeout)); v != 1 {
		t.Errorf("timeout metric %v", v)
	}

	q := r.event("quiet", "pay_q", events.PaymentCaptured)
	r.d.RunOnce(t.Context(), 10)
	if g := r.get(q.ID); g.State != store.OutboxPending || g.LastError == "" {
		t.Fatalf("merchant without an endpoint: %+v", g)
	}

	redirect := httptest.NewServer(http.RedirectHandler(r.url+receiver.PathEvents, http.StatusFound))
	t.Cleanup(redirect.Close)
	refused := httptest.NewServer(http.NotFoundHandler())
	refused.Close()
	for name, tc := range map[string]struct {
		url, secret, want string
	}{
		"redirect not followed": {redirect.URL, secret, "status 302"},
		"connection refused":    {refused.URL, secret, "connection refused"},
		"wrong secret":          {r.url + receiver.PathEvents, "whsec_not_the_receivers_one", "status 400"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := *r.cfg
			cfg.Merchants = slices.Clone(cfg.Merchants)
			m := *cfg.Merchants[0]
			m.Events = &config.MerchantEvents{URL: tc.url, Secret: tc.secret}
			cfg.Merchants[0] = &m
			d := New(Options{Store: r.st, Config: func() *config.Config { return &cfg }, Owner: "t-" + name, Now: r.clock.Now})
			ev := r.event("acme", "pay_"+name, events.PaymentCaptured)
			r.clock.Add(time.Hour) // everything due, evt_1 included
			if !slices.ContainsFunc(leaseAndDeliver(t, d), func(id string) bool { return id == ev.ID }) {
				t.Fatalf("%s not attempted", ev.ID)
			}
			g := r.get(ev.ID)
			if g.State != store.OutboxPending || g.DeliveredAt != nil || !strings.Contains(g.LastError, tc.want) {
				t.Fatalf("%+v; want pending with error %q", g, tc.want)
			}
		})
	}
}

// leaseAndDeliver runs one pass of d and returns the ids it attempted.
func leaseAndDeliver(t *testing.T, d *Dispatcher) []string {
	t.Helper()
	evs := d.lease(t.Context(), 100)
	for _, e := range evs {
		d.deliverSafely(t.Context(), e)
	}
	ids := make([]string, len(evs))
	for i, e := range evs {
		ids[i] = e.ID
	}
	return ids
}

// TestRotation: during a rotation every delivery carries two v1 values, so
// a receiver on either secret verifies it.
func TestRotation(t *testing.T) {
	t.Parallel()
	for name, recvSecret := range map[string]string{"receiver on the new secret": secret, "receiver on the old secret": previous} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t, rigOpts{merchantEvents: "{url: %q, secret: " + secret + ", previous_secret: " + previous + "}",
				secrets: []string{recvSecret}})
			r.event("acme", "pay_a", events.PaymentCaptured)
			r.d.RunOnce(t.Context(), 10)
			got := r.recv.Deliveries()
			if len(got) != 1 || !got[0].Verified || got[0].Signatures != 2 {
				t.Fatalf("deliveries %+v", got)
			}
		})
	}
}

// TestRunWakesAndStops: Run delivers what it is woken for, and returns
// once its context ends.
func TestRunWakesAndStops(t *testing.T) {
	t.Parallel()
	got := make(chan string, 10)
	r := newRig(t, rigOpts{realClock: true, hold: func(id string) { got <- id }})
	r.d.o.Poll = time.Hour // only Wake can start a pass after the first
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		r.d.Run(ctx)
		close(done)
	}()
	r.clock.t = time.Now()
	e := r.event("acme", "pay_a", events.PaymentCaptured)
	r.d.Wake()
	select {
	case id := <-got:
		if id != e.ID {
			t.Fatalf("received %s, want %s", id, e.ID)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not deliver the event it was woken for")
	}
	cancel()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	if g := r.get(e.ID); g.State != store.OutboxDelivered {
		t.Errorf("after Run: %+v", g)
	}
}

// TestBacklogFromTheStore: the backlog gauges count every pending event in
// the store, by merchant label, and the age of the oldest.
func TestBacklogFromTheStore(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOpts{})
	r.event("acme", "pay_a", events.PaymentCaptured)
	r.clock.Add(10 * time.Minute)
	r.event("acme", "pay_b", events.PaymentCaptured)
	r.event("quiet", "pay_q", events.PaymentCaptured)
	r.event("someone", "pay_s", events.PaymentCaptured)
	r.clock.Add(5 * time.Minute)
	r.d.refreshBacklog(t.Context())
	for label, want := range map[string][2]float64{"acme": {2, 900}, metrics.OtherMerchant: {2, 300}} {
		n := testutil.ToFloat64(r.m.EventBacklog.WithLabelValues(label))
		age := testutil.ToFloat64(r.m.EventBacklogAge.WithLabelValues(label))
		if n != want[0] || age != want[1] {
			t.Errorf("%s: backlog %v, oldest %vs; want %v", label, n, age, want)
		}
	}
	for r.d.RunOnce(t.Context(), 10) > 0 {
	}
	r.d.refreshBacklog(t.Context())
	if n := testutil.ToFloat64(r.m.EventBacklog.WithLabelValues("acme")); n != 0 {
		t.Errorf("acme backlog %v after delivery", n)
	}
}

// TestTwoDispatchersNeverOverlap: two dispatchers (two replicas) on one
// store, deliveries held in flight: no event is received twice at once,
// none twice at all, and each payment's in order.
func TestTwoDispatchersNeverOverlap(t *testing.T) {
	t.Parallel()
	const n = 40
	var held sync.WaitGroup
	held.Add(n)
	r := newRig(t, rigOpts{realClock: true, hold: func(string) {
		// A slow merchant: each delivery stays in flight a moment, so
		// that a second sender of the same event would overlap it.
		time.Sleep(time.Millisecond)
		held.Done()
	}})
	r.clock.t = time.Now()
	var want []store.OutboxEvent
	for i := range n {
		want = append(want, r.event("acme", fmt.Sprintf("pay_%d", i%8), events.PaymentCaptured))
	}
	d2 := New(Options{Store: r.st, Config: func() *config.Config { return r.cfg }, Owner: "test-2", Poll: 20 * time.Millisecond})
	r.d.o.Poll = 20 * time.Millisecond
	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	wg.Go(func() { r.d.Run(ctx) })
	wg.Go(func() { d2.Run(ctx) })
	all := make(chan struct{})
	go func() { held.Wait(); close(all) }()
	select {
	case <-all:
	case <-time.After(60 * time.Second):
		t.Error("not every event was delivered within a minute")
	}
	cancel()
	wg.Wait() // the attempts under way end, and the receiver has recorded them
	got := r.recv.Deliveries()
	if len(got) != len(want) {
		t.Fatalf("%d deliveries, want %d", len(got), len(want))
	}
	seen := map[string]bool{}
	last := map[string]string{}
	order := map[string]int{}
	for i, e := range want {
		order[e.ID] = i
	}
	for _, d := range got {
		if d.Overlapped || seen[d.ID] {
			t.Errorf("%s received twice", d.ID)
		}
		seen[d.ID] = true
		if p, ok := last[d.PaymentID]; ok && order[p] > order[d.ID] {
			t.Errorf("payment %s: %s after %s", d.PaymentID, d.ID, p)
		}
		last[d.PaymentID] = d.ID
	}
}
