package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"acpgw/store"
)

// newOutboxEvent is a pending event of p created at at, due at once.
func newOutboxEvent(id string, p store.Payment, at time.Time) store.OutboxEvent {
	return store.OutboxEvent{
		ID: id, MerchantID: p.MerchantID, PaymentID: p.ID, Type: "payment.captured",
		Body:      []byte(`{"id":"` + id + `","object":"event","data":{"payment":{"id":"` + p.ID + `"}}}`),
		CreatedAt: at, State: store.OutboxPending, Since: at, NextAttemptAt: at,
	}
}

// insertEvents writes events in one transaction each, in order, and
// returns them as stored (with their Seq).
func insertEvents(t *testing.T, s store.Store, evs ...store.OutboxEvent) []store.OutboxEvent {
	t.Helper()
	out := make([]store.OutboxEvent, len(evs))
	for i, e := range evs {
		tx(t, s, func(tx store.Tx) error { return tx.InsertOutboxEvent(t.Context(), e) })
		got, err := s.GetOutboxEvent(t.Context(), e.ID)
		if err != nil {
			t.Fatalf("GetOutboxEvent %s: %v", e.ID, err)
		}
		out[i] = got
	}
	return out
}

func eventIDs(evs []store.OutboxEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func testPaymentDispute(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := newPayment(uid("pay"), "vt_1")
	p.Dispute = &store.Dispute{Reference: "dp_1", Amount: 2599, Currency: "usd", Reason: "fraudulent",
		ProcessorEvent: "charge.dispute.created", ReportedAt: base.In(zone)}
	insertPayment(t, s, p)
	got, err := s.GetPayment(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := *p.Dispute
	want.ReportedAt = base
	if got.Dispute == nil || *got.Dispute != want || got.Dispute.ReportedAt.Location() != time.UTC {
		t.Fatalf("dispute = %+v, want %+v in UTC", got.Dispute, want)
	}
	upd := got
	upd.Dispute = &store.Dispute{Reference: "PSPCB1", Reason: "Fraud", ProcessorEvent: "CHARGEBACK", ReportedAt: base.Add(time.Hour)}
	tx(t, s, func(tx store.Tx) error { return tx.UpdatePayment(ctx, upd) })
	got, _ = s.GetPayment(ctx, p.ID)
	same(t, "payment with a new dispute", got, upd)
	upd.Dispute = nil
	tx(t, s, func(tx store.Tx) error { return tx.UpdatePayment(ctx, upd) })
	if got, _ = s.GetPayment(ctx, p.ID); got.Dispute != nil {
		t.Errorf("cleared dispute reads back %+v", got.Dispute)
	}
}

func testOutboxRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := newPayment(uid("pay"), "vt_1")
	insertPayment(t, s, p)
	a := newOutboxEvent(uid("evt"), p, base.In(zone))
	b := newOutboxEvent(uid("evt"), p, base.Add(time.Second))
	b.Type, b.Replay, b.State = "refund.succeeded", true, store.OutboxDelivered
	b.Attempts, b.LastStatus, b.LastError = 3, 500, "status 500"
	b.DeliveredAt, b.LeaseOwner, b.LeaseUntil = ptr(base.Add(time.Minute)), "w1", ptr(base.Add(2*time.Minute))
	b.Since, b.NextAttemptAt = base.Add(30*time.Second), base.Add(time.Hour)
	// Both in one transaction: numbered in insert order.
	tx(t, s, func(tx store.Tx) error {
		if err := tx.InsertOutboxEvent(ctx, a); err != nil {
			return err
		}
		return tx.InsertOutboxEvent(ctx, b)
	})
	ga, err := s.GetOutboxEvent(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	gb, err := s.GetOutboxEvent(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ga.Seq <= 0 || gb.Seq <= ga.Seq {
		t.Fatalf("seqs %d, %d: want positive and increasing", ga.Seq, gb.Seq)
	}
	a.Seq, b.Seq = ga.Seq, gb.Seq
	same(t, "event a", ga, a)
	same(t, "event b", gb, b)
	if string(ga.Body) != string(a.Body) {
		t.Errorf("body %s, want %s", ga.Body, a.Body)
	}

	err = s.Tx(ctx, func(tx store.Tx) error { return tx.InsertOutboxEvent(ctx, a) })
	wantErr(t, "second InsertOutboxEvent", err, store.ErrDuplicate)
	_, err = s.GetOutboxEvent(ctx, "evt_none")
	wantErr(t, "GetOutboxEvent of an unknown id", err, store.ErrNotFound)
	if ds, err := s.ListDeliveries(ctx, a.ID); err != nil || len(ds) != 0 {
		t.Errorf("deliveries of a new event: %v, %v", ds, err)
	}
}

// testOutboxLeaseOrder: an event is leased only once the earlier events of
// its payment are delivered or given up; events of other payments do not
// wait; an event not yet due holds back the later ones; a lease that runs
// out frees the event.
func testOutboxLeaseOrder(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := base.Add(time.Hour)
	p, q := newPayment(uid("pay"), "vt_1"), newPayment(uid("pay"), "vt_2")
	insertPayment(t, s, p)
	insertPayment(t, s, q)
	p1, p2, p3 := newOutboxEvent(uid("evt"), p, now), newOutboxEvent(uid("evt"), p, now), newOutboxEvent(uid("evt"), p, now)
	q1, q2 := newOutboxEvent(uid("evt"), q, now), newOutboxEvent(uid("evt"), q, now)
	q1.NextAttemptAt = now.Add(time.Minute) // backing off
	evs := insertEvents(t, s, p1, q1, p2, q2, p3)
	until := now.Add(30 * time.Second)

	got, err := s.LeaseOutboxEvents(ctx, "w1", now, until, 10)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(eventIDs(got), []string{p1.ID}) {
		t.Fatalf("leased %v, want only %s (p's first; q's first is not due and holds q2 back)", eventIDs(got), p1.ID)
	}
	if got[0].LeaseOwner != "w1" || got[0].LeaseUntil == nil || !got[0].LeaseUntil.Equal(until) || got[0].Seq != evs[0].Seq {
		t.Errorf("leased event %+v", got[0])
	}
	// While p1 is leased nothing else of p goes, and nobody else gets p1.
	if got, err := s.LeaseOutboxEvents(ctx, "w2", now, until, 10); err != nil || len(got) != 0 {
		t.Fatalf("second lease: %v, %v; want none", eventIDs(got), err)
	}
	// p1 delivered: p2 is next.
	record(t, s, "w1", p1.ID, store.OutboxDelivered, now)
	got, _ = s.LeaseOutboxEvents(ctx, "w2", now, until, 10)
	if !slices.Equal(eventIDs(got), []string{p2.ID}) {
		t.Fatalf("after p1: leased %v, want %s", eventIDs(got), p2.ID)
	}
	// p2's attempt fails and it backs off: p3 waits for it.
	record(t, s, "w2", p2.ID, store.OutboxPending, now.Add(time.Hour))
	if got, _ := s.LeaseOutboxEvents(ctx, "w3", now, until, 10); len(got) != 0 {
		t.Fatalf("leased %v while p2 and q1 back off", eventIDs(got))
	}
	// q1 comes due; p2 is given up later, which lets p3 go.
	later := now.Add(2 * time.Minute)
	got, _ = s.LeaseOutboxEvents(ctx, "w3", later, later.Add(30*time.Second), 10)
	if !slices.Equal(eventIDs(got), []string{q1.ID}) {
		t.Fatalf("at +2m: leased %v, want %s", eventIDs(got), q1.ID)
	}
	// A lease that runs out frees the event for another worker.
	expired := later.Add(31 * time.Second)
	got, _ = s.LeaseOutboxEvents(ctx, "w4", expired, expired.Add(30*time.Second), 10)
	if !slices.Equal(eventIDs(got), []string{q1.ID}) || got[0].LeaseOwner != "w4" {
		t.Fatalf("after the lease ran out: leased %v, want %s for w4", eventIDs(got), q1.ID)
	}
	// w3 lost q1: its record changes nothing.
	err = s.RecordDelivery(ctx, "w3", store.DeliveryResult{State: store.OutboxDelivered,
		Delivery: store.Delivery{EventID: q1.ID, At: expired, StatusCode: 200}})
	wantErr(t, "RecordDelivery with a lost lease", err, store.ErrLeaseLost)
	if ds, _ := s.ListDeliveries(ctx, q1.ID); len(ds) != 0 {
		t.Errorf("a lost lease recorded %d deliveries", len(ds))
	}
	tx(t, s, func(tx store.Tx) error { return tx.RedeliverOutboxEvent(ctx, p2.ID, expired) }) // due now (still in order)
	got, _ = s.LeaseOutboxEvents(ctx, "w5", expired, expired.Add(time.Minute), 10)
	if !slices.Equal(eventIDs(got), []string{p2.ID}) {
		t.Fatalf("p2 made due: leased %v, want %s", eventIDs(got), p2.ID)
	}
	record(t, s, "w5", p2.ID, store.OutboxFailed, expired)
	got, _ = s.LeaseOutboxEvents(ctx, "w5", expired, expired.Add(time.Minute), 10)
	if !slices.Equal(eventIDs(got), []string{p3.ID}) {
		t.Fatalf("p2 given up: leased %v, want %s", eventIDs(got), p3.ID)
	}
	if got, _ := s.LeaseOutboxEvents(ctx, "w6", expired, expired.Add(time.Minute), 0); len(got) != 0 {
		t.Errorf("limit 0 leased %d", len(got))
	}
}

// record stores a delivery of id by owner ending in state, due again at next.
func record(t *testing.T, s store.Store, owner, id string, state store.OutboxState, next time.Time) {
	t.Helper()
	status := 200
	if state != store.OutboxDelivered {
		status = 500
	}
	err := s.RecordDelivery(t.Context(), owner, store.DeliveryResult{State: state, NextAttemptAt: next,
		Delivery: store.Delivery{EventID: id, At: next, StatusCode: status, LatencyMS: 7}})
	if err != nil {
		t.Fatalf("RecordDelivery %s: %v", id, err)
	}
}

func testOutboxRecordDelivery(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := base.Add(time.Hour)
	p := newPayment(uid("pay"), "vt_1")
	insertPayment(t, s, p)
	e := insertEvents(t, s, newOutboxEvent(uid("evt"), p, now))[0]
	lease := func(at time.Time) {
		t.Helper()
		got, err := s.LeaseOutboxEvents(ctx, "w", at, at.Add(time.Minute), 1)
		if err != nil || len(got) != 1 || got[0].ID != e.ID {
			t.Fatalf("lease at %v: %v %v", at, eventIDs(got), err)
		}
	}
	attempts := []store.Delivery{
		{EventID: e.ID, At: now.In(zone), StatusCode: 0, LatencyMS: 10000, Error: "timeout"},
		{EventID: e.ID, At: now.Add(30 * time.Second), StatusCode: 503, LatencyMS: 12, Error: "status 503"},
		{EventID: e.ID, At: now.Add(90 * time.Second), StatusCode: 204, LatencyMS: 9},
	}
	for i, d := range attempts {
		lease(d.At)
		state, next := store.OutboxPending, d.At.Add(time.Duration(i+1)*30*time.Second)
		if d.Error == "" {
			state, next = store.OutboxDelivered, d.At
		}
		if err := s.RecordDelivery(ctx, "w", store.DeliveryResult{Delivery: d, State: state, NextAttemptAt: next}); err != nil {
			t.Fatalf("RecordDelivery %d: %v", i, err)
		}
		got, _ := s.GetOutboxEvent(ctx, e.ID)
		if got.Attempts != i+1 || got.State != state || !got.NextAttemptAt.Equal(next) || got.LastStatus != d.StatusCode ||
			got.LastError != d.Error || got.LeaseOwner != "" || got.LeaseUntil != nil {
			t.Errorf("after attempt %d: %+v", i+1, got)
		}
		if (got.DeliveredAt != nil) != (state == store.OutboxDelivered) || (got.DeliveredAt != nil && !got.DeliveredAt.Equal(d.At)) {
			t.Errorf("after attempt %d: delivered_at %v", i+1, got.DeliveredAt)
		}
	}
	ds, err := s.ListDeliveries(ctx, e.ID)
	if err != nil || len(ds) != len(attempts) {
		t.Fatalf("deliveries: %d, %v", len(ds), err)
	}
	for i, d := range ds {
		want := attempts[i]
		want.N, want.At = i+1, want.At.UTC()
		same(t, fmt.Sprintf("delivery %d", i+1), d, want)
	}
	// A delivered event is not leased again.
	if got, _ := s.LeaseOutboxEvents(ctx, "w", now.Add(time.Hour), now.Add(2*time.Hour), 10); len(got) != 0 {
		t.Errorf("delivered event leased again: %v", eventIDs(got))
	}
}

// testOutboxRedeliver: a delivered event redelivered is pending again as a
// replay, due now, with a new Since, and does not hold back nor wait for
// the payment's other events; an unknown id is ErrNotFound.
func testOutboxRedeliver(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := base.Add(time.Hour)
	p := newPayment(uid("pay"), "vt_1")
	insertPayment(t, s, p)
	evs := insertEvents(t, s, newOutboxEvent(uid("evt"), p, now), newOutboxEvent(uid("evt"), p, now))
	first, second := evs[0], evs[1]
	if got, _ := s.LeaseOutboxEvents(ctx, "w", now, now.Add(time.Minute), 10); !slices.Equal(eventIDs(got), []string{first.ID}) {
		t.Fatalf("leased %v", eventIDs(got))
	}
	record(t, s, "w", first.ID, store.OutboxDelivered, now)
	// second is pending and backs off: redelivering first must not wait for it.
	if got, _ := s.LeaseOutboxEvents(ctx, "w", now, now.Add(time.Minute), 10); !slices.Equal(eventIDs(got), []string{second.ID}) {
		t.Fatalf("leased %v, want %s", eventIDs(got), second.ID)
	}
	record(t, s, "w", second.ID, store.OutboxPending, now.Add(time.Hour))
	at := now.Add(time.Minute)
	tx(t, s, func(tx store.Tx) error { return tx.RedeliverOutboxEvent(ctx, first.ID, at) })
	got, _ := s.GetOutboxEvent(ctx, first.ID)
	if got.State != store.OutboxPending || !got.Replay || !got.Since.Equal(at) || !got.NextAttemptAt.Equal(at) || got.Attempts != 1 {
		t.Fatalf("redelivered event %+v", got)
	}
	leased, _ := s.LeaseOutboxEvents(ctx, "w", at, at.Add(time.Minute), 10)
	if !slices.Equal(eventIDs(leased), []string{first.ID}) {
		t.Fatalf("leased %v, want the replay %s", eventIDs(leased), first.ID)
	}
	// The replay, pending, does not hold back second.
	second2, _ := s.GetOutboxEvent(ctx, second.ID)
	tx(t, s, func(tx store.Tx) error { return tx.RedeliverOutboxEvent(ctx, second.ID, at) })
	if g, _ := s.GetOutboxEvent(ctx, second.ID); g.Replay || !g.Since.Equal(second2.Since) || !g.NextAttemptAt.Equal(at) {
		t.Errorf("a pending event redelivered: %+v; want only made due", g)
	}
	leased, _ = s.LeaseOutboxEvents(ctx, "w2", at, at.Add(time.Minute), 10)
	if !slices.Equal(eventIDs(leased), []string{second.ID}) {
		t.Fatalf("leased %v, want %s beside the replay", eventIDs(leased), second.ID)
	}
	err := s.Tx(ctx, func(tx store.Tx) error { return tx.RedeliverOutboxEvent(ctx, "evt_none", at) })
	wantErr(t, "RedeliverOutboxEvent of an unknown id", err, store.ErrNotFound)
}

func testOutboxList(t *testing.T, s store.Store) {
	ctx := t.Context()
	m := uid("m")
	p, q := newPayment(uid("pay"), "vt_1"), newPayment(uid("pay"), "vt_2")
	p.MerchantID, q.MerchantID = m, m
	other := newPayment(uid("pay"), "vt_3")
	for _, x := range []store.Payment{p, q, other} {
		insertPayment(t, s, x)
	}
	var in []store.OutboxEvent
	for i := range 5 {
		e := newOutboxEvent(fmt.Sprintf("evt_%s_%d", m, i), p, base.Add(time.Duration(i)*time.Second))
		if i%2 == 1 {
			e.PaymentID, e.Type = q.ID, "refund.succeeded"
		}
		in = append(in, e)
	}
	in = append(in, newOutboxEvent(uid("evt"), other, base))
	stored := insertEvents(t, s, in...)
	ids := func(idx ...int) []string {
		var out []string
		for _, i := range idx {
			out = append(out, stored[i].ID)
		}
		return out
	}
	list := func(f store.OutboxFilter) []string {
		t.Helper()
		f.MerchantID = m
		got, err := s.ListOutboxEvents(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		return eventIDs(got)
	}
	if got := list(store.OutboxFilter{}); !slices.Equal(got, ids(4, 3, 2, 1, 0)) {
		t.Errorf("all, newest first: %v", got)
	}
	if got := list(store.OutboxFilter{Limit: 2}); !slices.Equal(got, ids(4, 3)) {
		t.Errorf("limit 2: %v", got)
	}
	if got := list(store.OutboxFilter{Limit: 2, BeforeSeq: stored[3].Seq}); !slices.Equal(got, ids(2, 1)) {
		t.Errorf("page 2: %v", got)
	}
	if got := list(store.OutboxFilter{PaymentID: q.ID}); !slices.Equal(got, ids(3, 1)) {
		t.Errorf("payment q: %v", got)
	}
	if got := list(store.OutboxFilter{Type: "payment.captured"}); !slices.Equal(got, ids(4, 2, 0)) {
		t.Errorf("type: %v", got)
	}
	if got := list(store.OutboxFilter{Type: "payment.captured", PaymentID: q.ID}); len(got) != 0 {
		t.Errorf("type and payment: %v", got)
	}
	if got, _ := s.ListOutboxEvents(ctx, store.OutboxFilter{MerchantID: uid("nobody")}); len(got) != 0 {
		t.Errorf("another merchant sees %v", eventIDs(got))
	}
}

func testOutboxBacklog(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := base.Add(time.Hour)
	a, b := newPayment(uid("pay"), "vt_1"), newPayment(uid("pay"), "vt_2")
	a.MerchantID, b.MerchantID = uid("ma"), uid("mb")
	insertPayment(t, s, a)
	insertPayment(t, s, b)
	e1 := newOutboxEvent(uid("evt"), a, now.Add(-time.Hour))
	e2 := newOutboxEvent(uid("evt"), a, now)
	e2.Since = now.Add(-2 * time.Hour) // redelivered long ago
	e3 := newOutboxEvent(uid("evt"), b, now)
	e4 := newOutboxEvent(uid("evt"), b, now.Add(-3*time.Hour))
	e4.State = store.OutboxDelivered
	insertEvents(t, s, e1, e2, e3, e4)
	got, err := s.OutboxBacklog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]store.Backlog{}
	for _, bl := range got {
		by[bl.MerchantID] = bl
	}
	if bl := by[a.MerchantID]; bl.Count != 2 || !bl.Oldest.Equal(now.Add(-2*time.Hour)) {
		t.Errorf("merchant a: %+v, want 2 since %v", bl, now.Add(-2*time.Hour))
	}
	if bl := by[b.MerchantID]; bl.Count != 1 || !bl.Oldest.Equal(now) {
		t.Errorf("merchant b: %+v, want 1 (the delivered one does not count)", bl)
	}
}

// testOutboxLeaseConcurrent: workers leasing at once never hold one event
// together, nor two events of one payment, and together deliver every
// event in its payment's order.
func testOutboxLeaseConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := base.Add(time.Hour)
	const payments, perPayment = 6, 5
	var all []store.OutboxEvent
	for range payments {
		p := newPayment(uid("pay"), "vt_1")
		insertPayment(t, s, p)
		for range perPayment {
			all = append(all, newOutboxEvent(uid("evt"), p, now))
		}
	}
	stored := insertEvents(t, s, all...)
	var (
		mu        sync.Mutex
		holding   = map[string]string{} // payment -> event leased now
		delivered = map[string][]int64{}
		wg        sync.WaitGroup
	)
	for w := range 6 {
		wg.Go(func() {
			owner := fmt.Sprint("w", w)
			for range len(stored) * 2 {
				got, err := s.LeaseOutboxEvents(ctx, owner, now, now.Add(time.Hour), 2)
				if err != nil {
					t.Errorf("%s: %v", owner, err)
					return
				}
				if len(got) == 0 {
					mu.Lock()
					n := 0
					for _, d := range delivered {
						n += len(d)
					}
					mu.Unlock()
					if n == len(stored) {
						return
					}
					continue
				}
				mu.Lock()
				for _, e := range got {
					if h, ok := holding[e.PaymentID]; ok {
						t.Errorf("%s leased %s while %s of the same payment is leased", owner, e.ID, h)
					}
					holding[e.PaymentID] = e.ID
				}
				mu.Unlock()
				for _, e := range got {
					mu.Lock()
					delete(holding, e.PaymentID)
					delivered[e.PaymentID] = append(delivered[e.PaymentID], e.Seq)
					mu.Unlock()
					if err := s.RecordDelivery(ctx, owner, store.DeliveryResult{State: store.OutboxDelivered,
						Delivery: store.Delivery{EventID: e.ID, At: now, StatusCode: 200}}); err != nil {
						t.Errorf("%s: RecordDelivery: %v", owner, err)
					}
				}
			}
		})
	}
	wg.Wait()
	n := 0
	for pay, seqs := range delivered {
		n += len(seqs)
		if !slices.IsSorted(seqs) || len(seqs) != perPayment {
			t.Errorf("payment %s delivered %v, want %d in order", pay, seqs, perPayment)
		}
	}
	if n != len(stored) {
		t.Errorf("%d events delivered, want %d", n, len(stored))
	}
}

// testOutboxPurge: PurgeOutboxEvents deletes settled events (delivered or
// failed) created before the cutoff, the oldest first and at most limit a
// call, with their deliveries; pending events, a redelivered one included,
// and younger ones stay, with their deliveries.
func testOutboxPurge(t *testing.T, s store.Store) {
	ctx := t.Context()
	cutoff := base.Add(time.Hour)
	type spec struct {
		created time.Duration // after base
		state   store.OutboxState
		replay  bool // delivered, then redelivered: pending again
	}
	specs := []spec{
		{0, store.OutboxDelivered, false},                // 0: purged in the first batch
		{time.Minute, store.OutboxFailed, false},         // 1: purged in the second batch
		{2 * time.Minute, store.OutboxPending, false},    // 2: kept, pending
		{3 * time.Minute, store.OutboxDelivered, true},   // 3: kept, redelivered
		{4 * time.Minute, store.OutboxDelivered, false},  // 4: purged in the second batch
		{2 * time.Hour, store.OutboxDelivered, false},    // 5: kept, younger than the cutoff
		{time.Hour, store.OutboxDelivered, false},        // 6: kept, created at the cutoff
		{30 * time.Second, store.OutboxDelivered, false}, // 7: purged in the first batch
	}
	// Inserted out of age order, so that oldest-first is not insertion order.
	evs := make([]store.OutboxEvent, len(specs))
	for i, sp := range specs {
		p := newPayment(uid("pay"), "vt_1") // one payment each: no event waits for another
		insertPayment(t, s, p)
		at := base.Add(sp.created)
		e := newOutboxEvent(uid("evt"), p, at)
		if sp.state == store.OutboxPending {
			e.NextAttemptAt = base.Add(24 * time.Hour) // not due: the later leases do not take it
		}
		evs[i] = insertEvents(t, s, e)[0]
		if sp.state == store.OutboxPending {
			continue
		}
		leased, err := s.LeaseOutboxEvents(ctx, "w", at, at.Add(time.Minute), 1)
		if err != nil || len(leased) != 1 || leased[0].ID != evs[i].ID {
			t.Fatalf("lease event %d: %v %v", i, eventIDs(leased), err)
		}
		record(t, s, "w", evs[i].ID, sp.state, at)
		if sp.replay {
			tx(t, s, func(tx store.Tx) error { return tx.RedeliverOutboxEvent(ctx, evs[i].ID, base.Add(24*time.Hour)) })
		}
	}
	gone := func(i int) bool {
		t.Helper()
		_, err := s.GetOutboxEvent(ctx, evs[i].ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetOutboxEvent %d: %v", i, err)
		}
		return err != nil
	}
	// The oldest settled first: 0 (base) and 7 (base+30s), then 1 and 4.
	if n, err := s.PurgeOutboxEvents(ctx, cutoff, 2); err != nil || n != 2 {
		t.Fatalf("PurgeOutboxEvents(limit 2) = %d, %v; want 2, nil", n, err)
	}
	for i, want := range map[int]bool{0: true, 7: true, 1: false, 4: false} {
		if gone(i) != want {
			t.Errorf("after the first batch, event %d (created %v) gone = %v, want %v", i, specs[i].created, !want, want)
		}
	}
	if n, err := s.PurgeOutboxEvents(ctx, cutoff, 2); err != nil || n != 2 {
		t.Fatalf("second PurgeOutboxEvents = %d, %v; want 2, nil", n, err)
	}
	if n, err := s.PurgeOutboxEvents(ctx, cutoff, 2); err != nil || n != 0 {
		t.Errorf("third PurgeOutboxEvents = %d, %v; want 0, nil", n, err)
	}
	if n, err := s.PurgeOutboxEvents(ctx, cutoff.Add(24*time.Hour), 0); err != nil || n != 0 {
		t.Errorf("PurgeOutboxEvents(limit 0) = %d, %v; want 0, nil", n, err)
	}
	for i, sp := range specs {
		purged := sp.state != store.OutboxPending && !sp.replay && sp.created < time.Hour
		if gone(i) != purged {
			t.Errorf("event %d (%s, created %v, redelivered %v): gone = %v, want %v", i, sp.state, sp.created, sp.replay,
				!purged, purged)
		}
		ds, err := s.ListDeliveries(ctx, evs[i].ID)
		if err != nil {
			t.Fatalf("ListDeliveries %d: %v", i, err)
		}
		wantDeliveries := 1
		if purged || sp.state == store.OutboxPending {
			wantDeliveries = 0
		}
		if len(ds) != wantDeliveries {
			t.Errorf("event %d: %d deliveries left, want %d", i, len(ds), wantDeliveries)
		}
	}
}
