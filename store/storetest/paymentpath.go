package storetest

import (
	"errors"
	"testing"
	"time"

	"acpgw/store"
)

// testGetAttempt: an attempt reads back by id; an unknown id is ErrNotFound.
func testGetAttempt(t *testing.T, s store.Store) {
	ctx := t.Context()
	tok := newToken(uid("vt"))
	insertToken(t, s, tok)
	p := newPayment(uid("pay"), tok.ID)
	insertPayment(t, s, p)
	a := newAttempt(p, 1, base)
	insertAttempts(t, s, a)
	got, err := s.GetAttempt(ctx, a.ID)
	if err != nil {
		t.Fatalf("GetAttempt: %v", err)
	}
	same(t, "GetAttempt", got, a)
	_, err = s.GetAttempt(ctx, uid("att"))
	wantErr(t, "GetAttempt of an unknown id", err, store.ErrNotFound)
}

// testSettleAttempt: SettleAttempt writes a pending attempt once; a second
// settlement finds it settled and changes nothing.
func testSettleAttempt(t *testing.T, s store.Store) {
	ctx := t.Context()
	tok := newToken(uid("vt"))
	insertToken(t, s, tok)
	p := newPayment(uid("pay"), tok.ID)
	insertPayment(t, s, p)
	a := newAttempt(p, 1, base)
	insertAttempts(t, s, a)

	// Pending to pending (outcome still unknown) is a settlement too.
	a.Error = "processor outcome unknown (timeout)"
	tx(t, s, func(tx store.Tx) error { return tx.SettleAttempt(ctx, a) })
	done := a
	done.State, done.Outcome, done.Reference, done.Error = store.AttemptDone, "captured", "ref_1", ""
	done.FinishedAt = ptr(base.Add(time.Second))
	tx(t, s, func(tx store.Tx) error { return tx.SettleAttempt(ctx, done) })

	late := done
	late.Outcome, late.Reference = "declined", "ref_2"
	err := s.Tx(ctx, func(tx store.Tx) error { return tx.SettleAttempt(ctx, late) })
	wantErr(t, "second SettleAttempt", err, store.ErrSettled)
	got, err := s.GetAttempt(ctx, a.ID)
	if err != nil {
		t.Fatalf("GetAttempt: %v", err)
	}
	same(t, "attempt after a late settlement", got, done)
}

// testIdemClaimInTx: a key claimed inside a transaction commits with it,
// or rolls back with it; a claim stored done carries its answer; a claim of
// a key taken is refused with the existing record.
func testIdemClaimInTx(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := base
	rolled := newIdem("scope", uid("key"), "hash-1", now)
	boom := errors.New("boom")
	err := s.Tx(ctx, func(tx store.Tx) error {
		if _, b, err := tx.ClaimIdempotency(ctx, rolled, now); err != nil || b != store.IdemStarted {
			t.Errorf("ClaimIdempotency: %v, %v", b, err)
		}
		return boom
	})
	wantErr(t, "Tx", err, boom)
	_, err = s.GetIdempotency(ctx, rolled.Scope, rolled.Key)
	wantErr(t, "GetIdempotency of a rolled back claim", err, store.ErrNotFound)

	done := newIdem("scope", uid("key"), "hash-1", now)
	done.State, done.Status, done.Body, done.ResourceID = store.IdemDone, 201, []byte(`{"id":"vt_1"}`), "vt_1"
	tx(t, s, func(tx store.Tx) error {
		_, b, err := tx.ClaimIdempotency(ctx, done, now)
		if err == nil && b != store.IdemStarted {
			t.Errorf("ClaimIdempotency: %v", b)
		}
		return err
	})
	got, err := s.GetIdempotency(ctx, done.Scope, done.Key)
	if err != nil {
		t.Fatalf("GetIdempotency: %v", err)
	}
	same(t, "record claimed done", got, done)

	// fn may run more than once (store.Tx; PostgreSQL claims ahead and
	// runs fn again when the key was taken): the answer of its last run
	// is the one that counts.
	again := newIdem(done.Scope, done.Key, "hash-2", now.Add(time.Second))
	var (
		old store.IdemRecord
		b   store.IdemBegin
	)
	tx(t, s, func(tx store.Tx) error {
		var err error
		old, b, err = tx.ClaimIdempotency(ctx, again, now.Add(time.Second))
		return err
	})
	if b != store.IdemExisting || old.State != store.IdemDone || old.RequestHash != "hash-1" {
		t.Errorf("second ClaimIdempotency: %v %+v", b, old)
	}
}

// testIdemPend: a pending record (answered 202) holds no answer and no
// lock, is existing to a new claim, and completes once final.
func testIdemPend(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := base
	rec := newIdem("scope", uid("key"), "hash-1", now)
	rec.ResourceID = "pay_1"
	beginIdem(t, s, rec, now)
	tx(t, s, func(tx store.Tx) error { return tx.PendIdempotency(ctx, rec.Scope, rec.Key, now) })
	got, err := s.GetIdempotency(ctx, rec.Scope, rec.Key)
	if err != nil || got.State != store.IdemPending || got.Body != nil || got.LockedUntil.After(now) || got.ResourceID != "pay_1" {
		t.Fatalf("pending record %+v, %v", got, err)
	}
	if _, b, err := s.BeginIdempotency(ctx, newIdem(rec.Scope, rec.Key, "hash-1", now), now.Add(time.Minute)); err != nil || b != store.IdemExisting {
		t.Fatalf("BeginIdempotency on a pending record: %v, %v; want IdemExisting", b, err)
	}
	if err := s.Tx(ctx, func(tx store.Tx) error { return tx.AbandonIdempotency(ctx, rec.Scope, rec.Key) }); err != nil {
		t.Fatalf("AbandonIdempotency: %v", err)
	}
	if _, err := s.GetIdempotency(ctx, rec.Scope, rec.Key); err != nil {
		t.Fatalf("a pending record was abandoned: %v", err)
	}
	tx(t, s, func(tx store.Tx) error { return tx.CompleteIdempotency(ctx, rec.Scope, rec.Key, 201, []byte("{}")) })
	if got, err := s.GetIdempotency(ctx, rec.Scope, rec.Key); err != nil || got.State != store.IdemDone || got.Status != 201 {
		t.Fatalf("completed record %+v, %v", got, err)
	}
	err = s.Tx(ctx, func(tx store.Tx) error { return tx.PendIdempotency(ctx, rec.Scope, uid("key"), now) })
	wantErr(t, "PendIdempotency of an unknown key", err, store.ErrNotFound)
}
