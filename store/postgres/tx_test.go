package postgres

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"net/url"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"acpgw/payment"
	"acpgw/store"
)

// countingConn counts the writes to a connection's socket: one per round
// trip, since pgconn writes a whole pipeline (or statement) at once. It
// also counts the statements those writes run: the frontend's Execute
// ('E') and Query ('Q') messages.
type countingConn struct {
	net.Conn
	writes *atomic.Int64
	stmts  *atomic.Int64
	msgs   *messages
}

func (c countingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	c.stmts.Add(c.msgs.count(b))
	return c.Conn.Write(b)
}

// messages splits the bytes a client writes into protocol messages: the
// startup message (a length and its body), then messages of a type byte, a
// length that counts itself, and a body. A message may span writes.
type messages struct {
	started bool
	head    []byte // the start of a header cut by the end of a write
	skip    int    // bytes of the current message still to come
}

// count reads b and returns the number of Execute and Query messages that
// begin in it.
func (m *messages) count(b []byte) int64 {
	var n int64
	for len(b) > 0 {
		if m.skip > 0 {
			k := min(m.skip, len(b))
			m.skip -= k
			b = b[k:]
			continue
		}
		size := 5 // type and length
		if !m.started {
			size = 4 // length only
		}
		k := min(size-len(m.head), len(b))
		m.head = append(m.head, b[:k]...)
		b = b[k:]
		if len(m.head) < size {
			break
		}
		length := int(binary.BigEndian.Uint32(m.head[size-4:]))
		if m.started && (m.head[0] == 'E' || m.head[0] == 'Q') {
			n++
		}
		m.skip = length - 4 // the length counts itself
		m.started = true
		m.head = m.head[:0]
	}
	return n
}

// openCounting opens a store of one connection on dsn whose socket writes
// are counted, and the statements they run. The statements can be counted
// only on a plain connection (plain): one is used unless dsn's sslmode
// requires TLS.
func openCounting(t testing.TB, dsn string) (s *Store, writes, stmts *atomic.Int64, plain bool) {
	t.Helper()
	cfg, err := poolConfig(dsn, Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	writes, stmts = new(atomic.Int64), new(atomic.Int64)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	switch u.Query().Get("sslmode") {
	case "", "disable", "allow", "prefer":
		cfg.ConnConfig.TLSConfig, cfg.ConnConfig.Fallbacks = nil, nil
		plain = true
	}
	var d net.Dialer
	cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return countingConn{Conn: c, writes: writes, stmts: stmts, msgs: new(messages)}, nil
	}
	// No liveness ping between the transactions counted.
	cfg.ShouldPing = func(context.Context, pgxpool.ShouldPingParams) bool { return false }
	pool, err := pgxpool.NewWithConfig(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return &Store{pool: pool}, writes, stmts, plain
}

// fixture is a token, a payment on it and its pending attempt, committed.
type fixture struct {
	tok store.Token
	p   store.Payment
	att store.Attempt
}

func newFixture(t testing.TB, s store.Store) fixture {
	t.Helper()
	ctx := t.Context()
	now := time.Now().UTC()
	f := fixture{tok: store.Token{ID: randomName("vt_"), MerchantID: "acme", CheckoutSessionID: "cs_1",
		MaxAmount: 5000, Currency: "usd", ExpiresAt: now.Add(time.Hour), Credential: []byte{1}, CVC: []byte{2},
		CreatedAt: now}}
	f.p = store.Payment{ID: randomName("pay_"), MerchantID: "acme", TokenID: f.tok.ID, Amount: 100, Currency: "usd",
		Status: payment.StatusPending, CreatedAt: now, UpdatedAt: now}
	f.att = store.Attempt{ID: randomName("att_"), PaymentID: f.p.ID, Seq: 1, Processor: "mock",
		Operation: "authorize", IdempotencyKey: randomName("k_"), Amount: 100, Currency: "usd",
		State: store.AttemptPending, StartedAt: now}
	err := s.Tx(ctx, func(tx store.Tx) error {
		if err := tx.InsertToken(ctx, f.tok); err != nil {
			return err
		}
		if err := tx.InsertPayment(ctx, f.p); err != nil {
			return err
		}
		return tx.InsertAttempt(ctx, f.att)
	})
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return f
}

// TestRoundTrips counts the round trips and statements of a payment's two
// transactions as the gateway makes them (gateway/pay.go openIntent and
// settlePayment). The intent takes two round trips (BEGIN with the token
// read; the idempotency claim, made ahead, with the token's use, the
// payment, its attempt and COMMIT) and seven statements; the settlement one
// round trip and six statements (BEGIN, its four writes, COMMIT).
func TestRoundTrips(t *testing.T) {
	ctx := t.Context()
	dsn := newDatabase(t)
	openMigrated(t, dsn, Options{})
	s, writes, stmts, plain := openCounting(t, dsn)
	now := time.Now().UTC()

	type counts struct{ trips, stmts int64 }
	pay := func() (intent, settle counts) {
		f := newFixture(t, s) // a token to pay with; its payment is not used
		p := f.p
		p.ID = randomName("pay_")
		att := f.att
		att.ID, att.PaymentID, att.IdempotencyKey = randomName("att_"), p.ID, randomName("k_")
		rec := store.IdemRecord{Scope: "s", Key: randomName("key_"), RequestHash: "h", ResourceID: p.ID,
			LockedUntil: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour)}
		before, beforeStmts := writes.Load(), stmts.Load()
		err := s.Tx(ctx, func(tx store.Tx) error {
			if _, err := tx.GetTokenForUpdate(ctx, f.tok.ID); err != nil {
				return err
			}
			if _, begin, err := tx.ClaimIdempotency(ctx, rec, now); err != nil || begin != store.IdemStarted {
				return errors.Join(err, errors.New("claim: not started"))
			}
			n, err := tx.ConsumeToken(ctx, f.tok.ID, p.ID, now)
			if err != nil {
				return err
			}
			if n != 1 {
				t.Errorf("ConsumeToken: attempts %d, want 1", n)
			}
			if err := tx.InsertPayment(ctx, p); err != nil {
				return err
			}
			return tx.InsertAttempt(ctx, att)
		})
		if err != nil {
			t.Fatalf("intent: %v", err)
		}
		intent = counts{writes.Load() - before, stmts.Load() - beforeStmts}
		before, beforeStmts = writes.Load(), stmts.Load()
		att.State, att.Outcome = store.AttemptDone, "authorized"
		p.Status = payment.StatusAuthorized
		err = s.Tx(ctx, func(tx store.Tx) error {
			if err := tx.SettleAttempt(ctx, att); err != nil {
				return err
			}
			if err := tx.UpdatePayment(ctx, p); err != nil {
				return err
			}
			if err := tx.DeleteTokenCVC(ctx, f.tok.ID); err != nil {
				return err
			}
			return tx.CompleteIdempotency(ctx, rec.Scope, rec.Key, 201, []byte(`{}`))
		})
		if err != nil {
			t.Fatalf("settlement: %v", err)
		}
		settle = counts{writes.Load() - before, stmts.Load() - beforeStmts}

		// What was written is there.
		got, err := s.GetToken(ctx, f.tok.ID)
		if err != nil || got.ConsumedAt == nil || got.PaymentID != p.ID || got.Attempts != 1 || got.CVC != nil {
			t.Errorf("token after the payment: consumed %v by %q, attempts %d, cvc %v; %v",
				got.ConsumedAt, got.PaymentID, got.Attempts, got.CVC, err)
		}
		if gp, err := s.GetPayment(ctx, p.ID); err != nil || gp.Status != payment.StatusAuthorized {
			t.Errorf("payment after the settlement: %q, %v", gp.Status, err)
		}
		if r, err := s.GetIdempotency(ctx, rec.Scope, rec.Key); err != nil || r.State != store.IdemDone {
			t.Errorf("idempotency record: %q, %v", r.State, err)
		}
		return intent, settle
	}
	pay() // prepares the statements on the connection
	intent, settle := pay()
	if plain {
		t.Logf("intent: %d round trips, %d statements; settlement: %d, %d", intent.trips, intent.stmts,
			settle.trips, settle.stmts)
	} else {
		t.Logf("intent: %d round trips; settlement: %d (statements not counted: the DSN requires TLS)",
			intent.trips, settle.trips)
	}
	if intent.trips != 2 || settle.trips != 1 {
		t.Errorf("round trips: intent %d, settlement %d; want 2 and 1", intent.trips, settle.trips)
	}
	if plain && (intent.stmts != 7 || settle.stmts != 6) {
		t.Errorf("statements: intent %d, settlement %d; want 7 and 6", intent.stmts, settle.stmts)
	}
}

// TestQueuedWriteFailures: a queued write that fails rolls the whole
// transaction back and Tx returns its sentinel, whether the failure shows
// at COMMIT or at a read fn makes after the write, and even when fn ignores
// that read's error and returns nil.
func TestQueuedWriteFailures(t *testing.T) {
	ctx := t.Context()
	s := openMigrated(t, newDatabase(t), Options{MaxConns: 4})
	f := newFixture(t, s)
	settled := newFixture(t, s)
	settled.att.State = store.AttemptDone
	if err := s.Tx(ctx, func(tx store.Tx) error { return tx.SettleAttempt(ctx, settled.att) }); err != nil {
		t.Fatal(err)
	}
	missing := f.p
	missing.ID = randomName("pay_")
	cases := []struct {
		name  string
		write func(tx store.Tx) error
		want  error
	}{
		{"duplicate payment", func(tx store.Tx) error { return tx.InsertPayment(ctx, f.p) }, store.ErrDuplicate},
		{"update of a missing payment", func(tx store.Tx) error { return tx.UpdatePayment(ctx, missing) }, store.ErrNotFound},
		{"settled attempt", func(tx store.Tx) error { return tx.SettleAttempt(ctx, settled.att) }, store.ErrSettled},
		{"cvc of a missing token", func(tx store.Tx) error { return tx.DeleteTokenCVC(ctx, "vt_missing") }, store.ErrNotFound},
		{"missing idempotency record", func(tx store.Tx) error {
			return tx.CompleteIdempotency(ctx, "s", "missing", 200, nil)
		}, store.ErrNotFound},
	}
	for _, tc := range cases {
		for _, then := range []string{"commit", "read"} {
			t.Run(tc.name+"/"+then, func(t *testing.T) {
				extra := store.Token{ID: randomName("vt_"), Credential: []byte{1}}
				runs := 0
				err := s.Tx(ctx, func(tx store.Tx) error {
					runs++
					// A good write before the failing one and after it.
					if err := tx.InsertToken(ctx, extra); err != nil {
						return err
					}
					if err := tc.write(tx); err != nil {
						t.Errorf("the queued write: %v, want nil (its error comes from Tx)", err)
					}
					if then == "read" {
						_, err := tx.GetTokenForUpdate(ctx, f.tok.ID)
						if err == nil || errors.Is(err, tc.want) {
							t.Errorf("a read after the failed write: %v, want an error that is not %v", err, tc.want)
						}
						if err := tx.UpdateAttempt(ctx, f.att); err == nil {
							t.Error("a write after the failed write: nil, want an error")
						}
						return nil // ignores the read's error
					}
					return tx.UpdateAttempt(ctx, f.att)
				})
				if !errors.Is(err, tc.want) {
					t.Errorf("Tx: %v, want %v", err, tc.want)
				}
				if runs != 1 {
					t.Errorf("fn ran %d times, want 1", runs)
				}
				if _, err := s.GetToken(ctx, extra.ID); !errors.Is(err, store.ErrNotFound) {
					t.Errorf("the transaction's other write: %v, want ErrNotFound (rolled back)", err)
				}
			})
		}
	}

	// The connection is fine afterwards.
	if err := s.Tx(ctx, func(tx store.Tx) error { return tx.DeleteTokenCVC(ctx, f.tok.ID) }); err != nil {
		t.Fatalf("a transaction after the failures: %v", err)
	}
}

// TestQueuedWriteDeadlockRetried: a deadlock that a queued write meets when
// the COMMIT pipeline runs it aborts the transaction before COMMIT ran, so
// Tx runs fn again and both transactions commit.
func TestQueuedWriteDeadlockRetried(t *testing.T) {
	ctx := t.Context()
	s := openMigrated(t, newDatabase(t), Options{MaxConns: 4})
	ids := []string{newFixture(t, s).tok.ID, newFixture(t, s).tok.ID}
	deadlock(t, s, ids, func(tx store.Tx, id string) error {
		return tx.DeleteTokenCVC(ctx, id) // queued: runs with COMMIT
	})
	for _, id := range ids {
		if tok, err := s.GetToken(ctx, id); err != nil || tok.CVC != nil {
			t.Errorf("token %s: cvc %v, %v; want erased", id, tok.CVC, err)
		}
	}
}

// TestConsumeLockedToken: ConsumeToken of a token the transaction locked
// answers without asking the server, as it would have: a consumed token is
// ErrTokenConsumed, and the uses are counted across transactions.
func TestConsumeLockedToken(t *testing.T) {
	ctx := t.Context()
	s := openMigrated(t, newDatabase(t), Options{MaxConns: 2})
	f := newFixture(t, s)
	now := time.Now().UTC()
	for round, want := range []int{1, 2} {
		err := s.Tx(ctx, func(tx store.Tx) error {
			if _, err := tx.GetTokenForUpdate(ctx, f.tok.ID); err != nil {
				return err
			}
			n, err := tx.ConsumeToken(ctx, f.tok.ID, f.p.ID, now)
			if err != nil {
				return err
			}
			if n != want {
				t.Errorf("round %d: attempts %d, want %d", round, n, want)
			}
			if _, err := tx.ConsumeToken(ctx, f.tok.ID, "pay_other", now); !errors.Is(err, store.ErrTokenConsumed) {
				t.Errorf("round %d: second ConsumeToken: %v, want ErrTokenConsumed", round, err)
			}
			if round == 0 {
				return tx.ReopenToken(ctx, f.tok.ID, f.p.ID)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
	}
	got, err := s.GetToken(ctx, f.tok.ID)
	if err != nil || got.Attempts != 2 || got.ConsumedAt == nil || got.PaymentID != f.p.ID {
		t.Errorf("token: attempts %d, consumed %v by %q, %v; want 2, consumed by %s", got.Attempts, got.ConsumedAt,
			got.PaymentID, err, f.p.ID)
	}
}

// TestClaimAhead: a claim made ahead (ClaimIdempotency queues the INSERT
// and answers IdemStarted) costs no round trip of its own when the key is
// free; when the key was taken, or fn failed before the claim was known,
// Tx runs fn again with the claim made at once, and what fn decides on the
// server's answer is what commits.
func TestClaimAhead(t *testing.T) {
	ctx := t.Context()
	s := openMigrated(t, newDatabase(t), Options{MaxConns: 2})
	now := time.Now().UTC()
	taken := store.IdemRecord{Scope: "s", Key: randomName("key_"), RequestHash: "h", State: store.IdemDone,
		Status: 201, Body: []byte(`{}`), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.Tx(ctx, func(tx store.Tx) error {
		_, _, err := tx.ClaimIdempotency(ctx, taken, now)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	cases := []struct {
		name      string
		key       string
		fails     bool // fn fails after its claim
		wantRuns  int
		wantBegin store.IdemBegin
		wantErr   error
	}{
		{"a free key", randomName("key_"), false, 1, store.IdemStarted, nil},
		{"a taken key", taken.Key, false, 2, store.IdemExisting, nil},
		{"fn fails on a free key", randomName("key_"), true, 2, store.IdemStarted, boom},
		{"fn fails on a taken key", taken.Key, true, 2, store.IdemExisting, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := store.IdemRecord{Scope: "s", Key: tc.key, RequestHash: "h2", State: store.IdemInFlight,
				LockedUntil: now.Add(time.Minute),
				ExpiresAt:   now.Add(time.Hour)}
			extra := store.Token{ID: randomName("vt_"), Credential: []byte{1}}
			var (
				runs  int
				begin store.IdemBegin
			)
			err := s.Tx(ctx, func(tx store.Tx) error {
				runs++
				var err error
				if _, begin, err = tx.ClaimIdempotency(ctx, rec, now); err != nil {
					return err
				}
				if begin != store.IdemStarted {
					return nil // as the gateway does: replays what the key holds
				}
				if tc.fails {
					return boom
				}
				return tx.InsertToken(ctx, extra) // the side effect the key guards
			})
			if !errors.Is(err, tc.wantErr) || (tc.wantErr == nil && err != nil) {
				t.Errorf("Tx: %v, want %v", err, tc.wantErr)
			}
			if runs != tc.wantRuns || begin != tc.wantBegin {
				t.Errorf("fn ran %d times, the last with %v; want %d and %v", runs, begin, tc.wantRuns, tc.wantBegin)
			}
			_, terr := s.GetToken(ctx, extra.ID)
			if committed := terr == nil; committed != (tc.wantBegin == store.IdemStarted && !tc.fails) {
				t.Errorf("the side effect committed: %v (%v)", committed, terr)
			}
			got, err := s.GetIdempotency(ctx, rec.Scope, rec.Key)
			switch {
			case tc.key == taken.Key && (err != nil || got.RequestHash != "h"):
				t.Errorf("the taken key: %+v, %v; want it unchanged", got, err)
			case tc.key != taken.Key && tc.fails && !errors.Is(err, store.ErrNotFound):
				t.Errorf("the key of a failed fn: %v, want ErrNotFound (rolled back)", err)
			case tc.key != taken.Key && !tc.fails && (err != nil || got.State != store.IdemInFlight):
				t.Errorf("the claimed key: %+v, %v; want it in flight", got, err)
			}
		})
	}
}
