package storetest

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"acpgw/store"
)

// newAuthSession is a session waiting for its fingerprint, with every
// field set, expiring ten minutes after base.
func newAuthSession(id string) store.AuthSession {
	until := base.Add(time.Minute).In(zone)
	return store.AuthSession{
		ID: id, MerchantID: "acme", AgentID: "openai", Provider: "mock", Status: "action_required",
		Amount: 1000, Currency: "eur", CheckoutSessionID: "cs_1", KeyID: "k1",
		Credential: []byte{0x01, 0x00, 0xff, 0x02}, Details: []byte(`{"browser":{"language":"en-US"}}`),
		Action: []byte(`{"fingerprint":{"three_ds_method_url":"https://acs.example/m"}}`),
		State:  []byte{0x00, 0x7f}, Step: "authenticate", StepUntil: &until, IdempotencyKey: "key-1",
		ExpiresAt: base.Add(10 * time.Minute).In(zone), CreatedAt: base.In(zone), UpdatedAt: base.In(zone), Version: 1,
	}
}

// utcSession is s as it reads back: times in UTC.
func utcSession(s store.AuthSession) store.AuthSession {
	s.ExpiresAt, s.CreatedAt, s.UpdatedAt = s.ExpiresAt.UTC(), s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	if s.StepUntil != nil {
		s.StepUntil = ptr(s.StepUntil.UTC())
	}
	return s
}

func insertAuthSession(t *testing.T, s store.Store, a store.AuthSession) {
	t.Helper()
	tx(t, s, func(tx store.Tx) error { return tx.InsertAuthSession(t.Context(), a) })
}

func testAuthSessionRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newAuthSession(uid("as"))
	insertAuthSession(t, s, a)
	got, err := s.GetAuthSession(ctx, a.ID)
	if err != nil {
		t.Fatalf("GetAuthSession: %v", err)
	}
	same(t, "committed session", got, utcSession(a))
	tx(t, s, func(tx store.Tx) error {
		got, err := tx.GetAuthSession(ctx, a.ID)
		same(t, "session in a transaction", got, utcSession(a))
		return err
	})

	// The fields a session may lack read back as absent.
	bare := store.AuthSession{ID: uid("as"), Status: "not_supported", ExpiresAt: base, CreatedAt: base, UpdatedAt: base, Version: 1}
	insertAuthSession(t, s, bare)
	got, err = s.GetAuthSession(ctx, bare.ID)
	if err != nil || got.Credential != nil || got.Action != nil || got.Result != nil || got.State != nil || got.StepUntil != nil {
		t.Fatalf("bare session read back as %+v, %v", got, err)
	}

	err = s.Tx(ctx, func(tx store.Tx) error { return tx.InsertAuthSession(ctx, a) })
	wantErr(t, "InsertAuthSession of an existing id", err, store.ErrDuplicate)
	_, err = s.GetAuthSession(ctx, uid("as"))
	wantErr(t, "GetAuthSession of an unknown id", err, store.ErrNotFound)
	err = s.Tx(ctx, func(tx store.Tx) error { _, err := tx.GetAuthSession(ctx, uid("as")); return err })
	wantErr(t, "Tx.GetAuthSession of an unknown id", err, store.ErrNotFound)
}

// testAuthSessionUpdate: an update writes every mutable field over the
// version it read and moves the version on; a stale version and an
// unknown id write nothing.
func testAuthSessionUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newAuthSession(uid("as"))
	insertAuthSession(t, s, a)

	next := a
	next.Status, next.CheckoutSessionID, next.KeyID, next.Credential = "authenticated", "cs_2", "k2", nil
	next.Details, next.Action, next.ResultKeyID, next.Result = []byte(`{}`), nil, "k3", []byte{0xaa, 0x00}
	next.State, next.Step, next.StepUntil, next.UpdatedAt = []byte("s2"), "", nil, base.Add(time.Second)
	// What no update changes.
	next.MerchantID, next.Amount, next.ExpiresAt = "other", 1, base
	tx(t, s, func(tx store.Tx) error { return tx.UpdateAuthSession(ctx, next) })
	got, err := s.GetAuthSession(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := next
	want.MerchantID, want.Amount, want.ExpiresAt, want.Version = a.MerchantID, a.Amount, a.ExpiresAt, 2
	same(t, "updated session", got, utcSession(want))

	// A second writer that read version 1 too changes nothing.
	stale := a
	stale.Status = "rejected"
	err = s.Tx(ctx, func(tx store.Tx) error { return tx.UpdateAuthSession(ctx, stale) })
	wantErr(t, "UpdateAuthSession of a stale version", err, store.ErrChanged)
	if got, _ := s.GetAuthSession(ctx, a.ID); got.Status != "authenticated" || got.Version != 2 {
		t.Fatalf("after a stale update: %s version %d", got.Status, got.Version)
	}
	err = s.Tx(ctx, func(tx store.Tx) error { return tx.UpdateAuthSession(ctx, newAuthSession(uid("as"))) })
	wantErr(t, "UpdateAuthSession of an unknown id", err, store.ErrNotFound)

	// Inside one transaction, the read sees the transaction's own update.
	tx(t, s, func(tx store.Tx) error {
		cur, err := tx.GetAuthSession(ctx, a.ID)
		if err != nil {
			return err
		}
		cur.Status = "attempted"
		if err := tx.UpdateAuthSession(ctx, cur); err != nil {
			return err
		}
		again, err := tx.GetAuthSession(ctx, a.ID)
		if err == nil && (again.Version != 3 || again.Status != "attempted") {
			t.Errorf("read after update in one transaction: %s version %d", again.Status, again.Version)
		}
		return err
	})
}

// testAuthSessionUpdateConcurrent: of many requests that read the same
// version and update it at once, exactly one writes; the others get
// ErrChanged. It is the guard that keeps two authenticate calls from both
// sending the AReq.
func testAuthSessionUpdateConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	a := newAuthSession(uid("as"))
	insertAuthSession(t, s, a)
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = s.Tx(ctx, func(tx store.Tx) error {
				cur, err := tx.GetAuthSession(ctx, a.ID)
				if err != nil {
					return err
				}
				// Every writer claims the version all of them started from.
				cur.Version = a.Version
				cur.CheckoutSessionID = uid("cs")
				return tx.UpdateAuthSession(ctx, cur)
			})
		})
	}
	close(start)
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil:
			wins++
		case !errors.Is(err, store.ErrChanged):
			t.Errorf("writer %d: %v, want nil or ErrChanged", i, err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d writers updated version %d, want exactly 1", wins, a.Version)
	}
	if got, err := s.GetAuthSession(ctx, a.ID); err != nil || got.Version != a.Version+1 {
		t.Fatalf("version after the race: %d, %v", got.Version, err)
	}
}

// testExpireAuthSessions: sessions past their expiry that are not final
// become expired with their cards erased; final ones and those still
// running are left alone; limit bounds one call.
func testExpireAuthSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := base.Add(time.Hour)
	due1, due2 := newAuthSession(uid("as")), newAuthSession(uid("as"))
	due1.ExpiresAt, due2.ExpiresAt = now.Add(-2*time.Minute), now
	due2.Status = "pending"
	running := newAuthSession(uid("as"))
	running.ExpiresAt = now.Add(time.Microsecond)
	final := newAuthSession(uid("as"))
	final.ExpiresAt, final.Status, final.Credential, final.Action = now.Add(-time.Hour), "authenticated", nil, nil
	for _, a := range []store.AuthSession{due1, due2, running, final} {
		insertAuthSession(t, s, a)
	}

	first, err := s.ExpireAuthSessions(ctx, now, 1)
	if err != nil || len(first) != 1 || first[0].ID != due1.ID {
		t.Fatalf("first call with limit 1: %v, %v; want the earliest due session", ids(first), err)
	}
	rest, err := s.ExpireAuthSessions(ctx, now, 10)
	if err != nil || len(rest) != 1 || rest[0].ID != due2.ID {
		t.Fatalf("second call: %v, %v; want %s", ids(rest), err, due2.ID)
	}
	if more, err := s.ExpireAuthSessions(ctx, now, 10); err != nil || len(more) != 0 {
		t.Fatalf("third call: %v, %v; want none left", ids(more), err)
	}
	for _, a := range append(first, rest...) {
		got, err := s.GetAuthSession(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != "expired" || got.Credential != nil || got.Action != nil || got.Step != "" || got.StepUntil != nil ||
			got.Version != 2 || !got.UpdatedAt.Equal(now) || got.Provider != "mock" {
			t.Errorf("expired session %s: %+v", a.ID, got)
		}
		same(t, "returned session", a, got)
	}
	for _, a := range []store.AuthSession{running, final} {
		got, err := s.GetAuthSession(ctx, a.ID)
		if err != nil || got.Status != a.Status || got.Version != 1 {
			t.Errorf("session %s (%s) changed: %s version %d, %v", a.ID, a.Status, got.Status, got.Version, err)
		}
	}
	if out, err := s.ExpireAuthSessions(ctx, now, 0); err != nil || out != nil {
		t.Fatalf("limit 0: %v, %v", out, err)
	}
}

func ids(list []store.AuthSession) []string {
	out := make([]string, len(list))
	for i, a := range list {
		out[i] = a.ID
	}
	slices.Sort(out)
	return out
}
