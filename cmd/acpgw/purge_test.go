package main

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"acpgw/store"
	"acpgw/store/sqlite"
)

// openSQLite opens a store on a new SQLite database, closed when t ends.
func openSQLite(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "acpgw.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// TestPurgeExpired: purgeExpired deletes every expired idempotency record,
// more than one batch of them, and leaves the live ones.
func TestPurgeExpired(t *testing.T) {
	ctx := t.Context()
	st := openSQLite(t)
	now := time.Now().UTC()
	const expired, live = 2*idemPurgeBatch + 3, 2
	err := st.Tx(ctx, func(tx store.Tx) error {
		for i := range expired + live {
			exp := now.Add(-time.Duration(i+1) * time.Second)
			if i >= expired {
				exp = now.Add(time.Hour)
			}
			rec := store.IdemRecord{Scope: "merchant:m POST /v1/payments", Key: fmt.Sprint("key-", i), RequestHash: "h",
				APIVersion: "v", State: store.IdemInFlight, LockedUntil: now.Add(time.Minute), CreatedAt: now.Add(-time.Hour),
				ExpiresAt: exp}
			if _, begin, err := tx.ClaimIdempotency(ctx, rec, now.Add(-time.Hour)); err != nil || begin != store.IdemStarted {
				return fmt.Errorf("claim %d: %v %w", i, begin, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	n, err := purgeExpired(ctx, st, now)
	if err != nil || n != expired {
		t.Fatalf("purgeExpired = %d, %v; want %d, nil", n, err, expired)
	}
	for i := range expired + live {
		_, err := st.GetIdempotency(ctx, "merchant:m POST /v1/payments", fmt.Sprint("key-", i))
		if gone := err != nil; gone != (i < expired) {
			t.Errorf("record %d: GetIdempotency error %v after the purge", i, err)
		}
	}
}

// TestPurgeSettledEvents: purgeSettledEvents deletes every settled event
// created before the cutoff, more than one batch of them, and leaves the
// pending ones and the younger ones.
func TestPurgeSettledEvents(t *testing.T) {
	ctx := t.Context()
	st := openSQLite(t)
	now := time.Now().UTC()
	cutoff := now.Add(-time.Hour)
	const old, pending, young = 2*idemPurgeBatch + 3, 2, 2
	ev := func(i int) store.OutboxEvent {
		created := cutoff.Add(-time.Duration(i+1) * time.Second)
		state := store.OutboxDelivered
		if i%2 == 1 {
			state = store.OutboxFailed
		}
		switch {
		case i >= old+pending:
			created = now
		case i >= old:
			state = store.OutboxPending
		}
		return store.OutboxEvent{ID: fmt.Sprint("evt_", i), MerchantID: "m", PaymentID: fmt.Sprint("pay_", i),
			Type: "payment.captured", Body: []byte(`{}`), CreatedAt: created, State: state, Since: created,
			NextAttemptAt: now.Add(time.Hour)}
	}
	err := st.Tx(ctx, func(tx store.Tx) error {
		for i := range old + pending + young {
			if err := tx.InsertOutboxEvent(ctx, ev(i)); err != nil {
				return fmt.Errorf("event %d: %w", i, err)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	n, err := purgeSettledEvents(ctx, st, cutoff)
	if err != nil || n != old {
		t.Fatalf("purgeSettledEvents = %d, %v; want %d, nil", n, err, old)
	}
	for i := range old + pending + young {
		_, err := st.GetOutboxEvent(ctx, ev(i).ID)
		if gone := err != nil; gone != (i < old) {
			t.Errorf("event %d: GetOutboxEvent error %v after the purge", i, err)
		}
	}
}
