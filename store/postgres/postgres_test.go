package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"acpgw/payment"
	"acpgw/store"
	"acpgw/store/postgres/pgtest"
	"acpgw/store/storetest"
)

// TestMain stops the throwaway PostgreSQL cluster pgtest may start when
// ACPGW_TEST_POSTGRES_DSN is not set.
func TestMain(m *testing.M) { pgtest.Main(m) }

func randomName(prefix string) string { return pgtest.RandomName(prefix) }
func newDatabase(t testing.TB) string { return pgtest.NewDatabase(t) }

// withParam returns dsn with the query parameter k set to v.
func withParam(dsn, k, v string) string {
	u, _ := url.Parse(dsn)
	q := u.Query()
	q.Set(k, v)
	u.RawQuery = q.Encode()
	return u.String()
}

// connect opens a plain connection, closed when the test ends.
func connect(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.WithoutCancel(t.Context())) })
	return conn
}

// openMigrated migrates dsn and opens a store on it, closed when the test
// ends.
func openMigrated(t testing.TB, dsn string, o Options) *Store {
	t.Helper()
	if _, err := Migrate(t.Context(), dsn); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return openTest(t, dsn, o)
}

func openTest(t testing.TB, dsn string, o Options) *Store {
	t.Helper()
	s, err := Open(t.Context(), dsn, o)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestStore runs the conformance suite. Subtests run in parallel, each in a
// schema of its own (through search_path) of one database made for the run,
// so that PurgeIdempotency counts only its own records.
func TestStore(t *testing.T) {
	dsn := newDatabase(t)
	admin := connect(t, dsn)
	var mu sync.Mutex
	storetest.Run(t, func(t *testing.T) store.Store {
		schema := randomName("s_")
		mu.Lock()
		_, err := admin.Exec(t.Context(), "CREATE SCHEMA "+schema)
		mu.Unlock()
		if err != nil {
			t.Fatalf("create schema: %v", err)
		}
		return openMigrated(t, withParam(dsn, "search_path", schema), Options{MaxConns: 4})
	})
}

func TestOpenRefusesUnknownSchema(t *testing.T) {
	ctx := t.Context()
	dsn := newDatabase(t)

	_, err := Open(ctx, dsn, Options{})
	if !errors.Is(err, ErrSchemaMissing) {
		t.Fatalf("Open of an empty database: %v, want ErrSchemaMissing", err)
	}

	if _, err := Migrate(ctx, dsn); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	admin := connect(t, dsn)
	latest := LatestSchemaVersion()
	if latest < 2 {
		t.Fatalf("LatestSchemaVersion = %d, want at least 2", latest)
	}

	// A database that is behind (an older acpgw migrated it).
	if _, err := admin.Exec(ctx, `DELETE FROM schema_migrations WHERE version = $1`, latest); err != nil {
		t.Fatal(err)
	}
	_, err = Open(ctx, dsn, Options{})
	if !errors.Is(err, ErrSchemaMissing) {
		t.Errorf("Open of a database at version %d: %v, want ErrSchemaMissing", latest-1, err)
	}
	if _, err := admin.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)`, latest); err != nil {
		t.Fatal(err)
	}
	s := openTest(t, dsn, Options{})
	if v, err := s.SchemaVersion(ctx); err != nil || v != latest {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, latest)
	}

	// A database that is ahead (a newer acpgw migrated it).
	if _, err := admin.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, 0)`, latest+1); err != nil {
		t.Fatal(err)
	}
	_, err = Open(ctx, dsn, Options{})
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("Open of a newer schema: %v, want ErrSchemaTooNew", err)
	}
	_, err = Migrate(ctx, dsn)
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("Migrate of a newer schema: %v, want ErrSchemaTooNew", err)
	}
}

func TestMigrateTwiceAppliesOnce(t *testing.T) {
	ctx := t.Context()
	dsn := newDatabase(t)
	for i, want := range []int{LatestSchemaVersion(), 0} {
		n, err := Migrate(ctx, dsn)
		if err != nil || n != want {
			t.Fatalf("Migrate #%d = %d, %v; want %d, nil", i+1, n, err, want)
		}
	}
	var rows int
	if err := connect(t, dsn).QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != LatestSchemaVersion() {
		t.Errorf("schema_migrations has %d rows, want %d", rows, LatestSchemaVersion())
	}
}

// TestMigrateConcurrent runs Migrate from several "replicas" at once: the
// advisory lock makes one apply everything and the others nothing.
func TestMigrateConcurrent(t *testing.T) {
	dsn := newDatabase(t)
	const n = 4
	applied := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { applied[i], errs[i] = Migrate(t.Context(), dsn) })
	}
	wg.Wait()
	total, appliers := 0, 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Migrate %d: %v", i, errs[i])
		}
		total += applied[i]
		if applied[i] > 0 {
			appliers++
		}
	}
	if total != LatestSchemaVersion() || appliers != 1 {
		t.Errorf("applied %v: %d migrations by %d callers, want %d by 1", applied, total, appliers, LatestSchemaVersion())
	}
	openTest(t, dsn, Options{})
}

func TestMigrateInSchema(t *testing.T) {
	ctx := t.Context()
	dsn := newDatabase(t)
	if _, err := connect(t, dsn).Exec(ctx, `CREATE SCHEMA acpgw`); err != nil {
		t.Fatal(err)
	}
	in := withParam(dsn, "search_path", "acpgw")
	if _, err := Migrate(ctx, in); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	openTest(t, in, Options{})
	if _, err := Open(ctx, dsn, Options{}); !errors.Is(err, ErrSchemaMissing) {
		t.Errorf("Open of the public schema: %v, want ErrSchemaMissing", err)
	}
}

// TestTwoReplicas runs the races of the conformance suite across two Stores
// on one database, as two acpgw replicas would: only Postgres stands between
// them.
func TestTwoReplicas(t *testing.T) {
	ctx := t.Context()
	dsn := newDatabase(t)
	a := openMigrated(t, dsn, Options{MaxConns: 8})
	b := openTest(t, dsn, Options{MaxConns: 8})
	replicas := []*Store{a, b}
	now := time.Now().UTC()
	const n = 100

	t.Run("ConsumeToken", func(t *testing.T) {
		tok := store.Token{ID: randomName("vt_"), Credential: []byte{1}}
		if err := a.Tx(ctx, func(tx store.Tx) error { return tx.InsertToken(ctx, tok) }); err != nil {
			t.Fatal(err)
		}
		var wins, refused atomic.Int64
		var wg sync.WaitGroup
		for i := range n {
			s := replicas[i%2]
			wg.Go(func() {
				err := s.Tx(ctx, func(tx store.Tx) error {
					if _, err := tx.GetTokenForUpdate(ctx, tok.ID); err != nil {
						return err
					}
					_, err := tx.ConsumeToken(ctx, tok.ID, fmt.Sprint("pay_", i), now)
					return err
				})
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, store.ErrTokenConsumed):
					refused.Add(1)
				default:
					t.Errorf("ConsumeToken %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 || refused.Load() != n-1 {
			t.Errorf("%d consumed, %d refused; want 1, %d", wins.Load(), refused.Load(), n-1)
		}
	})

	t.Run("BeginIdempotency", func(t *testing.T) {
		key := randomName("key_")
		var started, existing atomic.Int64
		var wg sync.WaitGroup
		for i := range n {
			s := replicas[i%2]
			wg.Go(func() {
				rec := store.IdemRecord{Scope: "s", Key: key, RequestHash: fmt.Sprint(i),
					LockedUntil: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour)}
				_, begin, err := s.BeginIdempotency(ctx, rec, now)
				switch {
				case err != nil:
					t.Errorf("BeginIdempotency %d: %v", i, err)
				case begin == store.IdemStarted:
					started.Add(1)
				case begin == store.IdemExisting:
					existing.Add(1)
				default:
					t.Errorf("BeginIdempotency %d: outcome %v", i, begin)
				}
			})
		}
		wg.Wait()
		if started.Load() != 1 || existing.Load() != n-1 {
			t.Errorf("%d started, %d existing; want 1, %d", started.Load(), existing.Load(), n-1)
		}
	})

	t.Run("TakeOver", func(t *testing.T) {
		key := randomName("key_")
		rec := store.IdemRecord{Scope: "s", Key: key, LockedUntil: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour)}
		if _, b, err := a.BeginIdempotency(ctx, rec, now); err != nil || b != store.IdemStarted {
			t.Fatalf("BeginIdempotency: %v %v", b, err)
		}
		later := now.Add(2 * time.Minute)
		var took atomic.Int64
		var wg sync.WaitGroup
		for i := range n {
			s := replicas[i%2]
			wg.Go(func() {
				next := rec
				next.LockedUntil = later.Add(time.Minute)
				_, begin, err := s.BeginIdempotency(ctx, next, later)
				switch {
				case err != nil:
					t.Errorf("BeginIdempotency %d: %v", i, err)
				case begin == store.IdemTakenOver:
					took.Add(1)
				case begin != store.IdemExisting:
					t.Errorf("BeginIdempotency %d: outcome %v", i, begin)
				}
			})
		}
		wg.Wait()
		if took.Load() != 1 {
			t.Errorf("%d took the key over, want 1", took.Load())
		}
	})

	t.Run("Lease", func(t *testing.T) {
		const total = 90
		p := store.Payment{ID: randomName("pay_"), CreatedAt: now}
		var atts []store.Attempt
		for seq := 1; seq <= total; seq++ {
			atts = append(atts, store.Attempt{ID: randomName("att_"), PaymentID: p.ID, Seq: seq,
				IdempotencyKey: randomName("k_"), State: store.AttemptPending,
				StartedAt: now.Add(-time.Duration(seq) * time.Second)})
		}
		err := a.Tx(ctx, func(tx store.Tx) error {
			if err := tx.InsertPayment(ctx, p); err != nil {
				return err
			}
			for _, at := range atts {
				if err := tx.InsertAttempt(ctx, at); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var (
			mu    sync.Mutex
			owner = map[string]string{}
			wg    sync.WaitGroup
		)
		for r := range 8 {
			s, name := replicas[r%2], fmt.Sprint("replica-", r%2, "-", r)
			wg.Go(func() {
				for range total {
					got, err := s.LeasePendingAttempts(ctx, store.LeaseQuery{Owner: name, LeaseUntil: now.Add(time.Hour), Now: now, StartedBefore: now, DeadlineBefore: now, Limit: 4})
					if err != nil {
						t.Errorf("%s: %v", name, err)
						return
					}
					if len(got) == 0 {
						return
					}
					mu.Lock()
					for _, at := range got {
						if prev, ok := owner[at.ID]; ok {
							t.Errorf("attempt leased by both %s and %s", prev, name)
						}
						owner[at.ID] = name
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(owner) != total {
			t.Errorf("%d attempts leased, want %d", len(owner), total)
		}
	})
}

// TestTerminatedBackends kills every connection of the stores, as a
// Postgres restart would: calls fail with store.ErrUnavailable or succeed,
// nothing half-written remains, and the pool recovers by itself.
func TestTerminatedBackends(t *testing.T) {
	ctx := t.Context()
	dsn := newDatabase(t)
	s := openMigrated(t, dsn, Options{MaxConns: 6})
	admin := connect(t, dsn)
	now := time.Now().UTC()

	tok := store.Token{ID: randomName("vt_"), Credential: []byte{1}}
	if err := s.Tx(ctx, func(tx store.Tx) error { return tx.InsertToken(ctx, tok) }); err != nil {
		t.Fatal(err)
	}

	// A transaction in flight when its connection dies.
	locked, resume := make(chan struct{}), make(chan struct{})
	txErr := make(chan error, 1)
	payID := randomName("pay_")
	go func() {
		runs := 0
		txErr <- s.Tx(ctx, func(tx store.Tx) error {
			runs++
			if _, err := tx.ConsumeToken(ctx, tok.ID, payID, now); err != nil {
				return err
			}
			if runs == 1 {
				close(locked)
				<-resume
			}
			return tx.InsertPayment(ctx, store.Payment{ID: payID, TokenID: tok.ID, CreatedAt: now})
		})
	}()
	<-locked

	// Background load across the termination: the backends are killed once
	// every worker has made a call, so that each holds a connection then.
	stop := make(chan struct{})
	var (
		wg, warm          sync.WaitGroup
		okCalls, failures atomic.Int64
	)
	const workers = 4
	warm.Add(workers)
	for range workers {
		wg.Go(func() {
			for first := true; ; first = false {
				select {
				case <-stop:
					return
				default:
				}
				_, err := s.GetToken(ctx, tok.ID)
				switch {
				case err == nil:
					okCalls.Add(1)
				case errors.Is(err, store.ErrUnavailable):
					failures.Add(1)
				default:
					t.Errorf("GetToken during termination: %v, want nil or ErrUnavailable", err)
				}
				if first {
					warm.Done()
				}
				time.Sleep(time.Millisecond) // paces the load; synchronises nothing
			}
		})
	}
	warm.Wait()

	var killed int
	err := admin.QueryRow(ctx, `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&killed)
	if err != nil {
		t.Fatalf("terminate: %v", err)
	}
	if killed == 0 {
		t.Fatal("no backend was terminated")
	}
	close(resume)
	if err := <-txErr; !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Tx whose connection was terminated: %v, want ErrUnavailable", err)
	}

	// Service resumes by itself, without intervention (within a second
	// here; the bound is generous for a loaded machine under -race).
	const recoverWithin = 30 * time.Second
	deadline := time.Now().Add(recoverWithin)
	streak := 0
	for streak < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("the store did not recover within %s (streak %d)", recoverWithin, streak)
		}
		err := s.Tx(ctx, func(tx store.Tx) error {
			_, err := tx.GetTokenForUpdate(ctx, tok.ID)
			return err
		})
		if err == nil {
			streak++
			continue
		}
		if !errors.Is(err, store.ErrUnavailable) {
			t.Fatalf("Tx after termination: %v, want nil or ErrUnavailable", err)
		}
		streak = 0
		time.Sleep(10 * time.Millisecond) // backs off between tries; synchronises nothing
	}
	close(stop)
	wg.Wait()
	t.Logf("terminated %d backends; background reads: %d ok, %d ErrUnavailable", killed, okCalls.Load(), failures.Load())

	// Nothing of the killed transaction was committed.
	got, err := s.GetToken(ctx, tok.ID)
	if err != nil || got.ConsumedAt != nil || got.PaymentID != "" {
		t.Errorf("token after the killed transaction: consumed %v by %q, %v; want unconsumed", got.ConsumedAt, got.PaymentID, err)
	}
	if _, err := s.GetPayment(ctx, payID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("payment of the killed transaction: %v, want ErrNotFound", err)
	}
	if err := s.Ping(ctx); err != nil {
		t.Errorf("Ping after recovery: %v", err)
	}
}

func TestErrorsMapToUnavailable(t *testing.T) {
	ctx := t.Context()
	dsn := newDatabase(t)
	s := openMigrated(t, dsn, Options{MaxConns: 2})
	tok := store.Token{ID: randomName("vt_"), Credential: []byte{1}}
	if err := s.Tx(ctx, func(tx store.Tx) error { return tx.InsertToken(ctx, tok) }); err != nil {
		t.Fatal(err)
	}

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.GetToken(cancelled, tok.ID); !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("GetToken with a cancelled context: %v, want ErrUnavailable and context.Canceled", err)
	}

	// Another replica holds the token's row lock past our timeouts.
	held, release := make(chan struct{}), make(chan struct{})
	holder := make(chan error, 1)
	go func() {
		holder <- s.Tx(ctx, func(tx store.Tx) error {
			if _, err := tx.GetTokenForUpdate(ctx, tok.ID); err != nil {
				return err
			}
			close(held)
			<-release
			return nil
		})
	}()
	<-held
	tests := []struct {
		name string
		o    Options
		ctx  func() (context.Context, context.CancelFunc)
	}{
		{"lock_timeout", Options{LockTimeout: 100 * time.Millisecond}, nil},
		{"statement_timeout", Options{StatementTimeout: 100 * time.Millisecond}, nil},
		{"context deadline", Options{}, func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(ctx, 100*time.Millisecond)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			other := openTest(t, dsn, tc.o)
			cctx, cancel := ctx, context.CancelFunc(func() {})
			if tc.ctx != nil {
				cctx, cancel = tc.ctx()
			}
			defer cancel()
			start := time.Now()
			err := other.Tx(cctx, func(tx store.Tx) error {
				_, err := tx.GetTokenForUpdate(cctx, tok.ID)
				return err
			})
			if !errors.Is(err, store.ErrUnavailable) {
				t.Errorf("GetTokenForUpdate of a locked row: %v, want ErrUnavailable", err)
			}
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("gave up after %v, want about 100ms", d)
			}
		})
	}
	close(release)
	if err := <-holder; err != nil {
		t.Fatalf("holder: %v", err)
	}

	// A server that does not answer.
	u, _ := url.Parse(dsn)
	u.Host = "127.0.0.1:1"
	if _, err := Open(ctx, u.String(), Options{ConnectTimeout: time.Second}); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Open of a closed port: %v, want ErrUnavailable", err)
	}

	// A closed store.
	closed := openTest(t, dsn, Options{})
	closed.Close()
	if _, err := closed.GetToken(ctx, tok.ID); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("GetToken after Close: %v, want ErrUnavailable", err)
	}
	if err := closed.Tx(ctx, func(store.Tx) error { return nil }); !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Tx after Close: %v, want ErrUnavailable", err)
	}
}

// TestTxRetriesDeadlock makes two transactions lock two tokens in opposite
// orders: Postgres aborts one with a deadlock, and Tx runs it again, so both
// succeed.
func TestTxRetriesDeadlock(t *testing.T) {
	s := openMigrated(t, newDatabase(t), Options{MaxConns: 4})
	ids := []string{randomName("vt_"), randomName("vt_")}
	for _, id := range ids {
		if err := s.Tx(t.Context(), func(tx store.Tx) error {
			return tx.InsertToken(t.Context(), store.Token{ID: id, Credential: []byte{1}})
		}); err != nil {
			t.Fatal(err)
		}
	}
	deadlock(t, s, ids, func(tx store.Tx, id string) error {
		_, err := tx.GetTokenForUpdate(t.Context(), id)
		return err
	})
}

// deadlock runs two transactions that each lock one of ids (i and 1-i)
// with GetTokenForUpdate, wait until both hold it, then run second on the
// other id: PostgreSQL aborts one with a deadlock, and Tx must run it
// again so that both succeed.
func deadlock(t *testing.T, s *Store, ids []string, second func(tx store.Tx, id string) error) {
	t.Helper()
	ctx := t.Context()
	var (
		runs    atomic.Int64
		barrier sync.WaitGroup
		wg      sync.WaitGroup
	)
	barrier.Add(2)
	errs := make([]error, 2)
	for i := range 2 {
		first, other := ids[i], ids[1-i]
		wg.Go(func() {
			n := 0
			errs[i] = s.Tx(ctx, func(tx store.Tx) error {
				runs.Add(1)
				n++
				if _, err := tx.GetTokenForUpdate(ctx, first); err != nil {
					return err
				}
				if n == 1 {
					// Both hold their first lock before either asks for
					// its second.
					barrier.Done()
					barrier.Wait()
				}
				return second(tx, other)
			})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("transaction %d: %v", i, err)
		}
	}
	if runs.Load() < 3 {
		t.Errorf("fn ran %d times, want at least 3 (one deadlock victim run again)", runs.Load())
	}
}

func TestOptions(t *testing.T) {
	ctx := t.Context()
	s := openMigrated(t, newDatabase(t), Options{MaxConns: 3, MinConns: 1,
		StatementTimeout: 1500 * time.Millisecond, LockTimeout: 250 * time.Millisecond, ConnectTimeout: 2 * time.Second})
	for name, want := range map[string]string{
		"statement_timeout": "1500ms", "lock_timeout": "250ms", "TimeZone": "UTC", "application_name": "acpgw",
	} {
		var got string
		if err := s.pool.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	cfg := s.pool.Config()
	if cfg.MaxConns != 3 || cfg.MinConns != 1 || cfg.ConnConfig.ConnectTimeout != 2*time.Second {
		t.Errorf("pool config: max %d min %d connect %v", cfg.MaxConns, cfg.MinConns, cfg.ConnConfig.ConnectTimeout)
	}

	for _, tc := range []struct {
		name string
		dsn  string
		o    Options
	}{
		{"bad DSN", "postgres://u:s3cret-pw@[::1", Options{}},
		{"negative", "postgres://u@db/x", Options{MaxConns: -1}},
		{"min above max", "postgres://u@db/x", Options{MaxConns: 2, MinConns: 3}},
	} {
		_, err := poolConfig(tc.dsn, tc.o)
		if err == nil {
			t.Errorf("%s: no error", tc.name)
		} else if strings.Contains(err.Error(), "s3cret") {
			t.Errorf("%s: the error shows the password: %v", tc.name, err)
		}
	}
}

func TestForeignKeys(t *testing.T) {
	ctx := t.Context()
	s := openMigrated(t, newDatabase(t), Options{})
	err := s.Tx(ctx, func(tx store.Tx) error {
		return tx.InsertAttempt(ctx, store.Attempt{ID: "att_1", PaymentID: "pay_missing", Seq: 1, IdempotencyKey: "k"})
	})
	if err == nil || errors.Is(err, store.ErrDuplicate) || errors.Is(err, store.ErrUnavailable) {
		t.Errorf("attempt of a missing payment: %v, want a foreign key error", err)
	}
}

// BenchmarkPaymentWriteTxs measures the store's share of one payment, as
// store/sqlite's benchmark of the same name does: the idempotency claim,
// the transaction that consumes the token and records payment and attempt,
// the one that records the processor's answer, and the stored response.
// goroutines=GOMAXPROCS is the sqlite benchmark's setting; more goroutines
// show what the pool gains from concurrent requests, as a server has.
func BenchmarkPaymentWriteTxs(b *testing.B) {
	dsn := newDatabase(b)
	s := openMigrated(b, dsn, Options{MaxConns: 32})
	for _, par := range []int{1, 8} {
		b.Run(fmt.Sprintf("parallelism=%dxGOMAXPROCS", par), func(b *testing.B) {
			benchPayments(b, s, par)
		})
	}
}

func benchPayments(b *testing.B, s *Store, parallelism int) {
	ctx := b.Context()
	run := randomName("")
	now := time.Now().UTC()
	cvc := []byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}
	cred := bytes.Repeat([]byte{0x42}, 120)
	for start := 0; start < b.N; start += 1000 {
		err := s.Tx(ctx, func(tx store.Tx) error {
			for i := start; i < min(start+1000, b.N); i++ {
				tok := store.Token{
					ID: fmt.Sprintf("vt_%s_%d", run, i), MerchantID: "acme", CheckoutSessionID: "cs_1", MaxAmount: 5000,
					Currency: "usd", ExpiresAt: now.Add(time.Hour), Reason: "one_time", KeyID: "k1",
					Credential: cred, CVC: cvc, Brand: "visa", Last4: "4242",
					Metadata: map[string]string{"source": "bench"}, CreatedAt: now,
				}
				if err := tx.InsertToken(ctx, tok); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	var next atomic.Int64
	const scope = "merchant:acme POST /v1/payments"
	one := func(i int64) error {
		key := fmt.Sprintf("key_%s_%d", run, i)
		tokID, payID := fmt.Sprintf("vt_%s_%d", run, i), fmt.Sprintf("pay_%s_%d", run, i)
		t0 := time.Now().UTC()
		rec := store.IdemRecord{Scope: scope, Key: key, RequestHash: "h", APIVersion: "2026-01-30",
			LockedUntil: t0.Add(time.Minute), ExpiresAt: t0.Add(24 * time.Hour)}
		if _, begin, err := s.BeginIdempotency(ctx, rec, t0); err != nil || begin != store.IdemStarted {
			return fmt.Errorf("BeginIdempotency: %v %w", begin, err)
		}
		p := store.Payment{ID: payID, MerchantID: "acme", CheckoutSessionID: "cs_1", TokenID: tokID,
			TokenKind: "vt", Amount: 2599, Currency: "usd", Capture: payment.CaptureAutomatic,
			Status: payment.StatusPending, Processor: "mock", ProcessorType: "mock", FeeEstimated: 105,
			FeeCurrency: "usd", Routing: []byte(`{"strategy":"priority","candidates":["mock"]}`),
			Metadata: map[string]string{"order_id": key}, CreatedAt: t0, UpdatedAt: t0}
		a := store.Attempt{ID: "att_" + payID + "_1", PaymentID: payID, Seq: 1, Processor: "mock",
			Operation: "authorize", IdempotencyKey: "acpgw_" + payID + "_1", Amount: 2599, Currency: "usd",
			State: store.AttemptPending, StartedAt: t0}
		err := s.Tx(ctx, func(tx store.Tx) error {
			if _, err := tx.ConsumeToken(ctx, tokID, payID, t0); err != nil {
				return err
			}
			if err := tx.InsertPayment(ctx, p); err != nil {
				return err
			}
			if err := tx.InsertAttempt(ctx, a); err != nil {
				return err
			}
			return tx.LinkIdempotency(ctx, scope, key, payID)
		})
		if err != nil {
			return err
		}
		t1 := time.Now().UTC()
		a.State, a.Outcome, a.Reference, a.LatencyMS, a.FinishedAt = store.AttemptDone, "captured", "mock_1", 5, &t1
		p.Status, p.ProcessorReference, p.CapturedAmount, p.UpdatedAt = payment.StatusCaptured, "mock_1", 2599, t1
		err = s.Tx(ctx, func(tx store.Tx) error {
			if err := tx.UpdateAttempt(ctx, a); err != nil {
				return err
			}
			return tx.UpdatePayment(ctx, p)
		})
		if err != nil {
			return err
		}
		return s.CompleteIdempotency(ctx, scope, key, 201, []byte(`{"id":"`+payID+`","status":"captured"}`))
	}
	b.ReportAllocs()
	b.SetParallelism(parallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := one(next.Add(1) - 1); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestLookupsUseIndexes: the statements that find rows by something other
// than a primary key are served by an index, as EXPLAIN says once
// sequential scans are priced out (the test tables are too small for the
// planner to prefer an index by itself).
func TestLookupsUseIndexes(t *testing.T) {
	dsn := newDatabase(t)
	if _, err := Migrate(t.Context(), dsn); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	conn := connect(t, dsn)
	if _, err := conn.Exec(t.Context(), `SET enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		q    string
		args []any
	}{
		"payment by reference":  {qPaymentByRef, []any{"adyen", "ref"}},
		"attempts of a payment": {qListAttempts, []any{"pay_1"}},
		"idempotency purge":     {qIdemPurge, []any{int64(1), 500}},
	} {
		if text := explain(t, conn, "EXPLAIN "+c.q, c.args...); strings.Contains(text, "Seq Scan") {
			t.Errorf("%s scans a table:\n%s", name, text)
		}
	}
}

// TestSettleUsesPrimaryKey: a settlement finds its attempt through the
// primary key in the plan that the connection caches (generic), on a table
// never analysed, as at the start of a run. With the literal 'pending' the
// planner chose the partial index attempts_pending and walked all of it at
// every settlement (see qSettleAttempt).
func TestSettleUsesPrimaryKey(t *testing.T) {
	ctx := t.Context()
	dsn := newDatabase(t)
	if _, err := Migrate(ctx, dsn); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	conn := connect(t, dsn)
	for name, c := range map[string]struct {
		q    string
		args string
	}{
		"settle attempt": {qSettleAttempt, `('done', '', '', '', 0, 0, '', NULL, 0, 'att_1', 'pending')`},
		"return lease":   {qReturnLease, `(0, 'att_1', 'owner', 'pending')`},
	} {
		stmts := []string{`SET plan_cache_mode = force_generic_plan`, `DEALLOCATE ALL`, `PREPARE s AS ` + c.q}
		for _, q := range stmts {
			if _, err := conn.Exec(ctx, q); err != nil {
				t.Fatalf("%s: %s: %v", name, q, err)
			}
		}
		if text := explain(t, conn, `EXPLAIN EXECUTE s`+c.args); !strings.Contains(text, "attempts_pkey") {
			t.Errorf("%s does not use the primary key:\n%s", name, text)
		}
	}
}

// explain runs an EXPLAIN statement and returns its plan's lines.
func explain(t *testing.T, conn *pgx.Conn, q string, args ...any) string {
	t.Helper()
	rows, err := conn.Query(t.Context(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return strings.Join(plan, "\n")
}

// TestLeasesUseTheirIndexes: the generic plans of the statements that
// claim rows for background work (the outbox lease, the reconciler's lease
// of pending attempts, the sweep of expired authentication sessions, the
// purge of expired idempotency records, the CVC sweep) find the rows they
// claim through the primary key (or their row addresses), not by reading
// a whole index or table, before and after ANALYZE, with a small backlog
// and a large one (all rows due: a merchant's endpoint or a processor
// down, when the claims matter most). The statements they
// replaced joined the claimed rows (the planner then read the whole table
// into a hash once it was analysed) and, for the outbox, named the state
// of the claimed rows and of the earlier events by the literal that is
// the predicate of outbox_due (the planner then walked all of that index).
// With 50,000 events pending an outbox lease took 27 ms unanalysed and 10
// ms analysed, against 1.6 and 0.6 ms now.
func TestLeasesUseTheirIndexes(t *testing.T) {
	ctx := t.Context()
	dsn := newDatabase(t)
	if _, err := Migrate(ctx, dsn); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	conn := connect(t, dsn)
	for _, tc := range []struct {
		name  string
		table string
		// fill inserts {N} rows, those where {DUE} holds being due (and
		// first empties the tables its table refers to).
		fill string
		stmt string
		args func(n int) string
		// want: the scan of each "table alias", with the nodes under it,
		// names this index and not avoid, the partial index that finds
		// the candidates (whose own plan depends on the statistics).
		want  map[string]string
		avoid string
	}{{
		name:  "outbox lease",
		table: "outbox_events",
		fill: `INSERT INTO outbox_events (id, merchant_id, payment_id, type, body, created_at, state, replay,
			since, attempts, next_attempt_at, last_status, last_error, lease_owner)
		SELECT 'ev_' || i, 'm', 'pay_' || (i / 2), 'payment.succeeded', '\x00', i,
			CASE WHEN {DUE} THEN 'pending' ELSE 'delivered' END, false, i, 0, i, 0, '', ''
		FROM generate_series(1, {N}) i`,
		stmt:  qLeaseOutbox,
		args:  func(n int) string { return fmt.Sprintf("('w', 1, %d, 10, 'pending')", n) },
		want:  map[string]string{"outbox_events o": "outbox_events_pkey", "outbox_events b": "outbox_payment"},
		avoid: "outbox_due",
	}, {
		name:  "attempts lease",
		table: "attempts",
		fill: `TRUNCATE payments CASCADE;
		INSERT INTO payments (id, merchant_id, checkout_session_id, token_id, token_kind, amount, currency, capture,
			status, processor, processor_type, processor_reference, captured_amount, refunded_amount, refund_pending,
			fee_estimated, fee_currency, metadata)
		SELECT 'pay_' || i, 'm', 'cs', 'tok', 'vault', 100, 'usd', 'automatic', 'pending', 'mock', 'mock', '', 0, 0, 0, 0,
			'usd', '{}' FROM generate_series(1, {N}) i;
		INSERT INTO attempts (id, payment_id, seq, processor, operation, idempotency_key, amount, currency, refund_id,
			state, outcome, reference, error, latency_ms, started_at, lease_owner)
		SELECT 'att_' || i, 'pay_' || i, 1, 'mock', 'authorize', 'acpgw_pay_' || i || '_1', 100, 'usd', '',
			CASE WHEN {DUE} THEN 'pending' ELSE 'done' END, '', '', '', 0, i, ''
		FROM generate_series(1, {N}) i`,
		stmt:  qLease,
		args:  func(n int) string { return fmt.Sprintf("('w', 1, %d, 0, %d, 0, 10)", n+1, n+1) },
		want:  map[string]string{"attempts a": "attempts_pkey"},
		avoid: "attempts_pending",
	}, {
		name:  "authentication sessions sweep",
		table: "auth_sessions",
		fill: `INSERT INTO auth_sessions (id, merchant_id, agent_id, provider, status, amount, currency,
			checkout_session_id, key_id, credential, result_key_id, step, idempotency_key, expires_at, created_at,
			updated_at, version)
		SELECT 'as_' || i, 'm', 'a', 'p', 'pending', 1, 'usd', 'cs', 'k', CASE WHEN {DUE} THEN '\x01'::bytea END, '', '',
			'k' || i, i, i, i, 1
		FROM generate_series(1, {N}) i`,
		stmt:  qExpireAuth,
		args:  func(n int) string { return fmt.Sprintf("(%d, 10)", n+1) },
		want:  map[string]string{"auth_sessions s": "auth_sessions_pkey"},
		avoid: "auth_sessions_open",
	}, {
		name:  "idempotency purge",
		table: "idempotency",
		fill: `INSERT INTO idempotency (scope, key, request_hash, api_version, state, resource_id, status, body,
			locked_until, created_at, expires_at)
		SELECT 'merchant:m POST /v1/payments', 'key-' || i, 'h', 'v', 'done', 'pay_' || i, 201, '\x00', 0, i,
			CASE WHEN {DUE} THEN i ELSE i + 1000000 END
		FROM generate_series(1, {N}) i`,
		stmt:  qIdemPurge,
		args:  func(n int) string { return fmt.Sprintf("(%d, 500)", n+1) },
		want:  map[string]string{"idempotency i": "Tid Scan"},
		avoid: "idempotency_expires",
	}, {
		name:  "cvc sweep",
		table: "tokens",
		fill: `INSERT INTO tokens (id, merchant_id, checkout_session_id, max_amount, currency, reason, key_id, credential,
			cvc, brand, funding, last4, iin, country, metadata, agent_id, idempotency_key, created_at, payment_id)
		SELECT 'vt_' || i, 'm', 'cs', 100, 'usd', 'one_time', 'k', '\x01', CASE WHEN {DUE} THEN '\x02'::bytea END,
			'visa', 'credit', '4242', '424242', 'US', '{}', 'a', 'k' || i, i, ''
		FROM generate_series(1, {N}) i`,
		stmt:  qEraseCVCs,
		args:  func(n int) string { return fmt.Sprintf("(%d, 500)", n+1) },
		want:  map[string]string{"tokens t": "tokens_pkey"},
		avoid: "tokens_cvc",
	}, {
		name:  "outbox purge",
		table: "outbox_events",
		fill: `TRUNCATE outbox_deliveries;
		INSERT INTO outbox_events (id, merchant_id, payment_id, type, body, created_at, state, replay,
			since, attempts, next_attempt_at, last_status, last_error, lease_owner)
		SELECT 'ev_' || i, 'm', 'pay_' || i, 'payment.succeeded', '\x00', i,
			CASE WHEN {DUE} THEN 'delivered' ELSE 'pending' END, false, i, 1, i, 200, '', ''
		FROM generate_series(1, {N}) i;
		INSERT INTO outbox_deliveries (event_id, n, at, status_code, latency_ms, error)
		SELECT 'ev_' || i, 1, i, 200, 5, '' FROM generate_series(1, {N}) i`,
		stmt: qPurgeOutbox,
		args: func(n int) string { return fmt.Sprintf("(%d, 500, 'pending')", n+1) },
		want: map[string]string{"outbox_events o": "outbox_events_pkey",
			"outbox_deliveries": "outbox_deliveries_pkey"},
		avoid: "outbox_settled",
	}} {
		t.Run(tc.name, func(t *testing.T) {
			name := "s_" + strings.ReplaceAll(tc.name, " ", "_") // a statement of its own: pgx caches the EXPLAINs by their text
			for _, q := range []string{
				`ALTER TABLE ` + tc.table + ` SET (autovacuum_enabled = false)`,
				`SET plan_cache_mode = force_generic_plan`,
				`PREPARE ` + name + ` AS ` + tc.stmt,
			} {
				if _, err := conn.Exec(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			for _, backlog := range []struct {
				name string
				n    int
				due  string
			}{{"small backlog", 5000, "i % 50 IN (0, 1)"}, {"large backlog", 20000, "true"}} {
				fill := strings.NewReplacer("{DUE}", backlog.due, "{N}", strconv.Itoa(backlog.n)).Replace(tc.fill)
				for _, q := range []string{`TRUNCATE ` + tc.table + ` CASCADE`, fill} {
					if _, err := conn.Exec(ctx, q); err != nil {
						t.Fatalf("%s: %v", backlog.name, err)
					}
				}
				for _, round := range []string{"before ANALYZE", "after ANALYZE"} {
					if round == "after ANALYZE" {
						if _, err := conn.Exec(ctx, `ANALYZE `+tc.table); err != nil {
							t.Fatal(err)
						}
					}
					text := explain(t, conn, `EXPLAIN EXECUTE `+name+tc.args(backlog.n))
					for rel, want := range tc.want {
						scan := scanOf(text, rel)
						if !strings.Contains(scan, want) || strings.Contains(scan, tc.avoid) {
							t.Errorf("%s, %s: %s is not found through %s alone:\n%s", backlog.name, round, rel, want, text)
						}
					}
				}
			}
		})
	}
}

// scanOf returns the scan node of rel ("table alias") in an EXPLAIN text,
// with the nodes under it (a bitmap heap scan's index scans), or "".
func scanOf(plan, rel string) string {
	lines := strings.Split(plan, "\n")
	indent := func(l string) int { return len(l) - len(strings.TrimLeft(l, " ->")) }
	for i, l := range lines {
		if !strings.Contains(l, "Scan") || !(strings.Contains(l, " on "+rel+" ") || strings.HasSuffix(l, " on "+rel)) {
			continue
		}
		end := i + 1
		for end < len(lines) && indent(lines[end]) > indent(l) {
			end++
		}
		return strings.Join(lines[i:end], "\n")
	}
	return ""
}
