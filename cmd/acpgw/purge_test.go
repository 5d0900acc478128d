package main

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"acpgw/store"
	"acpgw/store/sqlite"
)

// TestPurgeExpired: purgeExpired deletes every expired idempotency record,
// more than one batch of them, and leaves the live ones.
func TestPurgeExpired(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "acpgw.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC()
	const expired, live = 2*idemPurgeBatch + 3, 2
	err = st.Tx(ctx, func(tx store.Tx) error {
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
