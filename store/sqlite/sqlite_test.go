package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"acpgw/payment"
	"acpgw/store"
	"acpgw/store/storetest"
	"acpgw/vault"
)

func openTest(t testing.TB, dsn string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openTest(t, filepath.Join(t.TempDir(), "acpgw.db"))
	})
}

func TestOpenCreatesDirectoryAndMigratesOnce(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "data", "acpgw.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	tok := store.Token{ID: "vt_1", Credential: []byte{1}, Metadata: map[string]string{"a": "b"}}
	if err := s.Tx(ctx, func(tx store.Tx) error { return tx.InsertToken(ctx, tok) }); err != nil {
		t.Fatalf("InsertToken: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	s = openTest(t, path)
	v, err := s.SchemaVersion(ctx)
	if err != nil || v != LatestSchemaVersion() || v < 1 {
		t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, LatestSchemaVersion())
	}
	var rows int
	if err := s.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	if rows != LatestSchemaVersion() {
		t.Errorf("schema_migrations has %d rows after two opens, want %d", rows, LatestSchemaVersion())
	}
	if got, err := s.GetToken(ctx, "vt_1"); err != nil || got.Metadata["a"] != "b" {
		t.Errorf("token after reopen: %v, %v", got.Metadata, err)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "acpgw.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	future := LatestSchemaVersion() + 1
	if _, err := s.w.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, future); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(ctx, path)
	if err == nil {
		s.Close()
		t.Fatal("Open of a newer schema succeeded")
	}
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("Open: %v, want ErrSchemaTooNew", err)
	}
}

func TestParseDSN(t *testing.T) {
	tests := []struct {
		dsn, path, sync string
		ok              bool
	}{
		{"./data/acpgw.db", "./data/acpgw.db", "FULL", true},
		{"acpgw.db?synchronous=FULL", "acpgw.db", "FULL", true},
		{"acpgw.db?synchronous=extra", "acpgw.db", "EXTRA", true},
		{"acpgw.db?synchronous=OFF", "", "", false},
		{"acpgw.db?journal_mode=DELETE", "", "", false},
		{"", "", "", false},
		{"?synchronous=FULL", "", "", false},
		{":memory:", "", "", false},
		{"file:acpgw.db", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.dsn, func(t *testing.T) {
			path, sync, err := parseDSN(tc.dsn)
			if (err == nil) != tc.ok {
				t.Fatalf("parseDSN(%q) error %v, want ok %v", tc.dsn, err, tc.ok)
			}
			if path != tc.path || sync != tc.sync {
				t.Errorf("parseDSN(%q) = %q, %q; want %q, %q", tc.dsn, path, sync, tc.path, tc.sync)
			}
		})
	}
}

func TestPragmas(t *testing.T) {
	ctx := t.Context()
	for _, tc := range []struct {
		query string
		sync  int
	}{{"", 2}, {"?synchronous=NORMAL", 1}, {"?synchronous=FULL", 2}} {
		s := openTest(t, filepath.Join(t.TempDir(), "acpgw.db")+tc.query)
		want := map[string]any{
			"journal_mode":  "wal",
			"synchronous":   int64(tc.sync),
			"foreign_keys":  int64(1),
			"secure_delete": int64(1),
			"busy_timeout":  busyTimeout.Milliseconds(),
			"cache_size":    int64(-writerCacheKiB),
		}
		for name, w := range want {
			var got any
			if err := s.w.QueryRowContext(ctx, "PRAGMA "+name).Scan(&got); err != nil {
				t.Fatalf("PRAGMA %s: %v", name, err)
			}
			if fmt.Sprint(got) != fmt.Sprint(w) {
				t.Errorf("%q: write pool PRAGMA %s = %v, want %v", tc.query, name, got, w)
			}
		}
		if _, err := s.r.ExecContext(ctx, `DELETE FROM tokens`); err == nil {
			t.Errorf("the read pool accepted a write")
		}
	}
}

// TestCVCErasedFromFile checks that DeleteTokenCVC leaves no copy of the
// sealed CVC in the database files, while a CVC that was not deleted is
// found by the same search (so the search does see the data).
func TestCVCErasedFromFile(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "acpgw.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	kept := bytes.Repeat([]byte{0x4b, 0xe9, 0x7a, 0x11}, 8)
	erased := bytes.Repeat([]byte{0xc5, 0x5c, 0xa7, 0x3e}, 8)
	// Rows fill a page from its end downwards, in this order. The filler's
	// slot, freed below, is where SQLite puts the token's shorter rewritten
	// row, so the old row (and its CVC) would stay behind on the page as
	// free space unless the erase zeroes it. The spacers keep the two free
	// slots from merging, and the filler's slot from joining the page's
	// unallocated gap.
	rows := []store.Token{
		{ID: "vt_kept", CVC: kept},
		{ID: "vt_erased", CVC: erased},
		{ID: "vt_spacer_1"},
		{ID: "vt_filler", Metadata: map[string]string{"pad": string(bytes.Repeat([]byte("x"), 300))}},
		{ID: "vt_spacer_2"},
	}
	for _, tok := range rows {
		tok.Credential = bytes.Repeat([]byte{0x01}, 64)
		if err := s.Tx(ctx, func(tx store.Tx) error { return tx.InsertToken(ctx, tok) }); err != nil {
			t.Fatalf("InsertToken: %v", err)
		}
	}
	if _, err := s.w.ExecContext(ctx, `DELETE FROM tokens WHERE id = 'vt_filler'`); err != nil {
		t.Fatal(err)
	}
	// Move the pages with both CVCs into the main file, as a checkpoint
	// would in production, so that erasing has to overwrite them there.
	if _, err := s.w.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	if err := s.Tx(ctx, func(tx store.Tx) error { return tx.DeleteTokenCVC(ctx, "vt_erased") }); err != nil {
		t.Fatalf("DeleteTokenCVC: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	var files [][]byte
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		b, err := os.ReadFile(path + suffix)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, b)
	}
	all := bytes.Join(files, nil)
	if !bytes.Contains(all, kept) {
		t.Fatal("the kept CVC is not in the files: the search cannot see stored data")
	}
	if bytes.Contains(all, erased) {
		t.Error("the deleted CVC is still in the database files")
	}
	// Not even a fragment: any 8 bytes of the pattern.
	if bytes.Contains(all, erased[:8]) {
		t.Error("a fragment of the deleted CVC is still in the database files")
	}
}

func TestErrorsMapToUnavailable(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "acpgw.db")
	s := openTest(t, path)

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err := s.GetToken(cancelled, "vt_1")
	if !errors.Is(err, store.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Errorf("GetToken with a cancelled context: %v, want ErrUnavailable and context.Canceled", err)
	}

	// Another process holding the write lock past the deadline.
	other := openTest(t, path)
	hold := make(chan struct{})
	held := make(chan struct{})
	go func() {
		_ = other.Tx(ctx, func(tx store.Tx) error {
			close(held)
			<-hold
			return errors.New("release")
		})
	}()
	<-held
	short, cancel2 := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel2()
	err = s.Tx(short, func(tx store.Tx) error { return nil })
	close(hold)
	if !errors.Is(err, store.ErrUnavailable) {
		t.Errorf("Tx while another connection holds the lock: %v, want ErrUnavailable", err)
	}
	if err := s.Tx(ctx, func(tx store.Tx) error { return nil }); err != nil {
		t.Errorf("Tx after the lock was released: %v", err)
	}
}

// TestTwoStoresOneFile runs the single-use and idempotency races across two
// Stores on the same file, as two acpgw processes would: only SQLite's locks
// (BEGIN IMMEDIATE, busy_timeout) stand between them.
func TestTwoStoresOneFile(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "acpgw.db")
	stores := []*Store{openTest(t, path), openTest(t, path)}
	tok := store.Token{ID: "vt_shared", Credential: []byte{1}}
	if err := stores[0].Tx(ctx, func(tx store.Tx) error { return tx.InsertToken(ctx, tok) }); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	const n = 40
	var consumed, started, other atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		s := stores[i%2]
		wg.Go(func() {
			err := s.Tx(ctx, func(tx store.Tx) error {
				_, err := tx.ConsumeToken(ctx, tok.ID, fmt.Sprint("pay_", i), now)
				return err
			})
			switch {
			case err == nil:
				consumed.Add(1)
			case !errors.Is(err, store.ErrTokenConsumed):
				t.Errorf("ConsumeToken: %v", err)
			}
			rec := store.IdemRecord{Scope: "s", Key: "k", LockedUntil: now.Add(time.Minute), ExpiresAt: now.Add(time.Hour)}
			_, b, err := s.BeginIdempotency(ctx, rec, now)
			switch {
			case err != nil:
				t.Errorf("BeginIdempotency: %v", err)
			case b == store.IdemStarted:
				started.Add(1)
			default:
				other.Add(1)
			}
		})
	}
	wg.Wait()
	if consumed.Load() != 1 || started.Load() != 1 || other.Load() != n-1 {
		t.Errorf("consumed %d, started %d, existing %d; want 1, 1, %d",
			consumed.Load(), started.Load(), other.Load(), n-1)
	}
}

func TestForeignKeys(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, filepath.Join(t.TempDir(), "acpgw.db"))
	err := s.Tx(ctx, func(tx store.Tx) error {
		return tx.InsertAttempt(ctx, store.Attempt{ID: "att_1", PaymentID: "pay_missing", Seq: 1, IdempotencyKey: "k"})
	})
	if err == nil {
		t.Error("an attempt of a missing payment was stored")
	}
}

// BenchmarkPaymentWriteTxs measures the store's share of one payment as
// the gateway writes it: the intent (idempotency claim, token consumed,
// payment and first attempt) and the settlement (attempt, payment, CVC
// erased, the answer stored), with ids, references and an answer of the
// sizes the gateway produces.
//
// With 16 clients, group commit shares commits among however many
// transactions queue meanwhile, which varies with the machine's load; one
// client (synchronous=NORMAL, so that no fsync paces it) commits every
// transaction alone, the steadier measure of the work a payment itself
// costs.
//
// batch=16 runs the transactions of 16 payments as one batch each time
// (intents, then settlements): group commit at a fixed size, whatever the
// machine does meanwhile, which makes instruction counts (cachegrind)
// comparable from run to run.
func BenchmarkPaymentWriteTxs(b *testing.B) {
	for _, c := range []struct {
		sync           string
		clients, batch int
	}{{"NORMAL", 16, 0}, {"FULL", 16, 0}, {"NORMAL", 1, 0}, {"NORMAL", 16, 16}} {
		name := fmt.Sprintf("synchronous=%s/clients=%d", c.sync, c.clients)
		if c.batch > 0 {
			name = fmt.Sprintf("synchronous=%s/batch=%d", c.sync, c.batch)
		}
		b.Run(name, func(b *testing.B) {
			benchPayments(b, filepath.Join(b.TempDir(), "acpgw.db")+"?synchronous="+c.sync, c.clients, c.batch)
		})
	}
}

// runBatch runs fn(0) to fn(n-1), each calling Tx once, as one batch of
// the group commit: a transaction holds the writer until all n have
// queued, in order.
func runBatch(b *testing.B, s *Store, n int, fn func(k int) error) {
	queued := make(chan struct{})
	s.queued = queued
	hold, held := make(chan struct{}), make(chan struct{})
	errs := make(chan error, n+1)
	go func() {
		errs <- s.Tx(b.Context(), func(store.Tx) error {
			close(held)
			<-hold
			return nil
		})
	}()
	<-queued
	<-held
	for k := range n {
		go func() { errs <- fn(k) }()
		<-queued
	}
	s.queued = nil
	close(hold)
	for range n + 1 {
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	}
}

func benchPayments(b *testing.B, dsn string, clients, batch int) {
	ctx := b.Context()
	s := openTest(b, dsn)
	now := time.Now().UTC()
	cvc := bytes.Repeat([]byte{0x43}, 31)
	cred := bytes.Repeat([]byte{0x42}, 120)
	answer := bytes.Repeat([]byte("x"), 1300)
	toks := make([]string, b.N)
	for start := 0; start < b.N; start += 1000 {
		err := s.Tx(ctx, func(tx store.Tx) error {
			for i := start; i < min(start+1000, b.N); i++ {
				toks[i] = vault.NewTokenID()
				tok := store.Token{
					ID: toks[i], MerchantID: "acme", CheckoutSessionID: "cs_1", MaxAmount: 5000,
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
	// intent writes payment i's first transaction and returns its
	// settlement.
	intent := func(i int64) (settle func() error, err error) {
		key := "key-" + vault.NewID("")[12:] // random, as clients choose them
		tokID, payID := toks[i], vault.NewID("pay_")
		t0 := time.Now().UTC()
		rec := store.IdemRecord{Scope: scope, Key: key, RequestHash: strings.Repeat("h", 64), APIVersion: "2026-04-17",
			State: store.IdemInFlight, ResourceID: payID, LockedUntil: t0.Add(time.Minute), ExpiresAt: t0.Add(24 * time.Hour)}
		p := store.Payment{ID: payID, MerchantID: "acme", CheckoutSessionID: "cs_1", TokenID: tokID,
			TokenKind: "vault", Amount: 2599, Currency: "usd", Capture: payment.CaptureAutomatic,
			Status: payment.StatusPending, Processor: "mock", ProcessorType: "mock", FeeEstimated: 105,
			FeeCurrency: "usd", Routing: []byte(`{"strategy":"priority","candidates":[{"processor":"mock","estimated_fee":105}],"reason":"default"}`),
			Metadata: map[string]string{"order_id": key}, CreatedAt: t0, UpdatedAt: t0}
		a := store.Attempt{ID: vault.NewID("att_"), PaymentID: payID, Seq: 1, Processor: "mock",
			Operation: "authorize", IdempotencyKey: "acpgw_" + payID + "_1", Amount: 2599, Currency: "usd",
			State: store.AttemptPending, StartedAt: t0}
		err = s.Tx(ctx, func(tx store.Tx) error {
			if _, begin, err := tx.ClaimIdempotency(ctx, rec, t0); err != nil || begin != store.IdemStarted {
				return fmt.Errorf("ClaimIdempotency: %v %w", begin, err)
			}
			if _, err := tx.ConsumeToken(ctx, tokID, payID, t0); err != nil {
				return err
			}
			if err := tx.InsertPayment(ctx, p); err != nil {
				return err
			}
			return tx.InsertAttempt(ctx, a)
		})
		if err != nil {
			return nil, err
		}
		return func() error {
			t1 := time.Now().UTC()
			ref := vault.NewID("mock_ch_")
			a.State, a.Outcome, a.Reference, a.LatencyMS, a.FinishedAt = store.AttemptDone, "captured", ref, 5, &t1
			p.Status, p.ProcessorReference, p.CapturedAmount, p.UpdatedAt = payment.StatusCaptured, ref, 2599, t1
			return s.Tx(ctx, func(tx store.Tx) error {
				if err := tx.SettleAttempt(ctx, a); err != nil {
					return err
				}
				if err := tx.UpdatePayment(ctx, p); err != nil {
					return err
				}
				if err := tx.DeleteTokenCVC(ctx, tokID); err != nil {
					return err
				}
				return tx.CompleteIdempotency(ctx, scope, key, 201, answer)
			})
		}, nil
	}
	one := func(i int64) error {
		settle, err := intent(i)
		if err != nil {
			return err
		}
		return settle()
	}
	b.ReportAllocs()
	cpu0 := processCPU(b)
	w0, wok := writtenBytes()
	b.ResetTimer()
	switch {
	case batch > 0:
		// Fixed batches: the intents of batch payments commit together,
		// then their settlements.
		settles := make([]func() error, batch)
		for start := 0; start < b.N; start += batch {
			n := min(batch, b.N-start)
			runBatch(b, s, n, func(k int) (err error) {
				settles[k], err = intent(int64(start + k))
				return err
			})
			runBatch(b, s, n, func(k int) error { return settles[k]() })
		}
	case clients == 1:
		for i := range b.N {
			if err := one(int64(i)); err != nil {
				b.Fatal(err)
			}
		}
	default:
		b.SetParallelism(clients)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := one(next.Add(1) - 1); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	b.StopTimer()
	// CPU per payment is steadier than time per payment on a shared
	// machine.
	b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
	// Bytes handed to write system calls (WAL frames and checkpoints) say
	// how many pages a payment dirties, whatever the machine's load.
	if w1, ok := writtenBytes(); ok && wok {
		b.ReportMetric(float64(w1-w0)/1024/float64(b.N), "write-KiB/op")
	}
}

// writtenBytes is what this process has passed to write system calls so
// far (wchar of /proc/self/io); false where there is no such file.
func writtenBytes() (int64, bool) {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return 0, false
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "wchar: "); ok {
			n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			return n, err == nil
		}
	}
	return 0, false
}

// BenchmarkReadAfterWrite is a write transaction, then a read of a
// committed token through the read pool, one after the other: every read
// starts after a commit, as the payment path's reads do under load.
func BenchmarkReadAfterWrite(b *testing.B) {
	ctx := b.Context()
	s := openTest(b, filepath.Join(b.TempDir(), "acpgw.db")+"?synchronous=NORMAL")
	now := time.Now().UTC()
	ids := make([]string, 0, b.N+1)
	ins := func() {
		id := vault.NewTokenID()
		ids = append(ids, id)
		if err := s.Tx(ctx, func(tx store.Tx) error {
			return tx.InsertToken(ctx, store.Token{ID: id, MerchantID: "acme", Credential: make([]byte, 120),
				CreatedAt: now, Metadata: map[string]string{"a": "b"}})
		}); err != nil {
			b.Fatal(err)
		}
	}
	for range 5000 {
		ins()
	}
	cpu0 := processCPU(b)
	b.ResetTimer()
	for i := range b.N {
		ins()
		if _, err := s.GetToken(ctx, ids[(i*7919)%len(ids)]); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
}

// processCPU is the user and system CPU time of this process so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestOpenErasesLegacyCVCs: CVCs sealed before 0003 were sealed under a
// vault key that stays. Opening the database migrates them away, and no
// file of the store (database, -wal, -shm) keeps their bytes, even when
// the -wal of an earlier run held them.
func TestOpenErasesLegacyCVCs(t *testing.T) {
	ctx := t.Context()
	dir := t.TempDir()
	path := filepath.Join(dir, "acpgw.db")
	old := openTest(t, path)
	legacy := bytes.Repeat([]byte{0xc7, 0x1d}, 16) // stands for a CVC sealed under a vault key
	tok := store.Token{ID: "vt_legacy", Credential: []byte{1}, CVC: legacy}
	if err := old.Tx(ctx, func(tx store.Tx) error { return tx.InsertToken(ctx, tok) }); err != nil {
		t.Fatalf("InsertToken: %v", err)
	}
	// The database as an acpgw before 0003 left it (0004 to 0009 undone
	// too).
	for _, q := range []string{`DELETE FROM schema_migrations WHERE version >= 3`, `DROP INDEX IF EXISTS tokens_cvc`,
		`ALTER TABLE attempts DROP COLUMN deadline`, `ALTER TABLE tokens DROP COLUMN attempts`,
		`ALTER TABLE attempts DROP COLUMN authentication`,
		`DROP TABLE outbox_events`, `DROP TABLE outbox_deliveries`, `ALTER TABLE payments DROP COLUMN dispute`,
		`DROP TABLE auth_sessions`,
		`CREATE INDEX payments_reference ON payments (processor, processor_reference)`} {
		if _, err := old.w.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := old.w.ExecContext(ctx, `UPDATE tokens SET cvc = ? WHERE id = ?`, legacy, tok.ID); err != nil {
		t.Fatal(err)
	}

	s := openTest(t, path) // the old store stays open, its -wal in place
	got, err := s.GetToken(ctx, tok.ID)
	if err != nil || got.CVC != nil {
		t.Fatalf("legacy token after Open: CVC %d bytes, %v", len(got.CVC), err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if i := bytes.Index(b, legacy); i >= 0 {
			t.Errorf("%s still holds the legacy sealed CVC at offset %d", e.Name(), i)
		}
	}
}

// TestOpenDSNChecks: Open takes a file path, not a URL, and creates only the
// last folder of it: a missing parent is an error that says so, and
// nothing is created. It changes the working directory, so it does not run
// in parallel.
func TestOpenDSNChecks(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	for _, dsn := range []string{"postgres://u@db:5432/acpgw", "postgresql://db/acpgw?sslmode=disable", "file:acpgw.db", "sqlite:///acpgw.db"} {
		s, err := Open(t.Context(), dsn)
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", dsn)
		} else if !strings.Contains(err.Error(), "file path, not a URL") {
			t.Errorf("Open(%q): %v", dsn, err)
		}
	}
	missing := filepath.Join(dir, "missing", "data", "acpgw.db")
	if s, err := Open(t.Context(), missing); err == nil {
		s.Close()
		t.Errorf("Open under a missing parent folder succeeded")
	} else if msg := err.Error(); !strings.Contains(msg, filepath.Join(dir, "missing")) || !strings.Contains(msg, "does not exist") ||
		!strings.Contains(msg, "only the last folder") {
		t.Errorf("Open under a missing parent folder: %v", err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("Open left %q behind after refusing", e.Name())
	}
	// The last folder alone is created, relative paths included.
	s, err := Open(t.Context(), filepath.Join("data", "acpgw.db"))
	if err != nil {
		t.Fatalf("Open of a new last folder: %v", err)
	}
	s.Close()
	if fi, err := os.Stat(filepath.Join(dir, "data")); err != nil || !fi.IsDir() {
		t.Errorf("data folder: %v", err)
	}
	// A file where the folder should be is an error, not a crash.
	if err := os.WriteFile(filepath.Join(dir, "plain"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(t.Context(), filepath.Join("plain", "acpgw.db")); err == nil {
		s.Close()
		t.Error("Open under a file succeeded")
	}
}

// TestLookupsUseIndexes: every statement that finds rows by something
// other than a primary key is served by an index, as EXPLAIN QUERY PLAN
// says: it searches, and reads no table or index whole (a SCAN), since
// those grow with the payments, except a partial index that holds just
// the rows asked for (whole, for the outbox backlog: the pending events).
func TestLookupsUseIndexes(t *testing.T) {
	s := openTest(t, filepath.Join(t.TempDir(), "acpgw.db"))
	for name, c := range map[string]struct {
		q     string
		args  []any
		whole string
	}{
		"payment by reference":  {qPaymentByRef, []any{"ref", "adyen"}, ""},
		"attempts of a payment": {qListAttempts, []any{"pay_1"}, ""},
		"lease":                 {qLease, []any{"r", 1, 2, 3, 4, 5, 6}, ""},
		"idempotency record":    {qGetIdem, []any{"scope", "key"}, ""},
		"idempotency purge":     {qIdemPurge, []any{1, 500}, ""},
		"refunds of a payment":  {qListRefunds, []any{"pay_1"}, ""},
		"fees of a payment":     {qListFees, []any{"pay_1"}, ""},
		"payments by time":      {qListPayments, []any{1, 2, "", "", 0, 0, "", 10}, ""},
		"cvc sweep":             {qEraseCVCs, []any{1, 10}, ""},
		"outbox lease":          {qLeaseOutbox, []any{"w", 1, 2, 2, 10}, ""},
		"outbox backlog":        {qBacklog, nil, "outbox_due"},
		"outbox purge":          {qPurgeOutbox, []any{1, 500}, ""},
		"deliveries purge":      {qPurgeDeliveries, []any{1, 500}, ""},
		"sessions sweep":        {qExpireAuth, []any{1, 1, 10}, ""},
	} {
		rows, err := s.w.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+c.q, c.args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		for _, step := range plan {
			if strings.HasPrefix(step, "SCAN ") && (c.whole == "" || !strings.HasSuffix(step, " INDEX "+c.whole)) {
				t.Errorf("%s: %q reads a table or index whole: plan %q", name, step, plan)
			}
		}
	}
}

// holdWriter sets s.queued to queued and starts a transaction that holds
// the writer until release is called, so that the transactions queued
// meanwhile (each heard on queued) run as one batch in their order;
// release returns the holder's error.
func holdWriter(ctx context.Context, s *Store, queued chan struct{}) (release func() error) {
	s.queued = queued
	hold, held := make(chan struct{}), make(chan struct{})
	blocker := make(chan error, 1)
	go func() {
		blocker <- s.Tx(ctx, func(store.Tx) error {
			close(held)
			<-hold
			return nil
		})
	}()
	<-queued
	<-held
	return func() error {
		close(hold)
		return <-blocker
	}
}

// TestBatchRerunsAfterAFailure: in a batch, a fn that fails after writing
// (or panics) leaves nothing behind, while the others commit: the fn
// before it runs a second time (the optimistic pass was rolled back), so
// does the failed fn unless it panicked (what it read went with the
// rollback), the fn after it once, and the next batch runs with savepoints.
func TestBatchRerunsAfterAFailure(t *testing.T) {
	for _, failure := range []string{"error", "panic", "clean"} {
		t.Run(failure, func(t *testing.T) {
			ctx := t.Context()
			s := openTest(t, filepath.Join(t.TempDir(), "acpgw.db"))
			queued := make(chan struct{}, 1)
			release := holdWriter(ctx, s, queued)
			boom := errors.New("boom")
			var runs [3]atomic.Int32
			ids := [3]string{vault.NewTokenID(), vault.NewTokenID(), vault.NewTokenID()}
			errs := make([]chan any, 3)
			for i := range 3 {
				errs[i] = make(chan any, 1)
				go func() {
					defer func() {
						if r := recover(); r != nil {
							errs[i] <- r
						}
					}()
					errs[i] <- s.Tx(ctx, func(tx store.Tx) error {
						runs[i].Add(1)
						if i == 1 && failure == "clean" {
							// A read that finds nothing, an update of no row.
							if _, err := tx.GetTokenForUpdate(ctx, ids[i]); !errors.Is(err, store.ErrNotFound) {
								return fmt.Errorf("GetTokenForUpdate: %w", err)
							}
							if err := tx.DeleteTokenCVC(ctx, ids[i]); !errors.Is(err, store.ErrNotFound) {
								return fmt.Errorf("DeleteTokenCVC: %w", err)
							}
							return boom
						}
						if err := tx.InsertToken(ctx, store.Token{ID: ids[i], Credential: []byte{1}}); err != nil {
							return err
						}
						if i == 1 {
							if failure == "panic" {
								panic(boom)
							}
							return boom
						}
						return nil
					})
				}()
				// Queued in this order: the writer takes them as one batch.
				<-queued
			}
			s.queued = nil
			if err := release(); err != nil {
				t.Fatal(err)
			}
			for i, want := range []any{nil, boom, nil} {
				got := <-errs[i]
				if err, ok := got.(error); ok && want != nil {
					if !errors.Is(err, boom) {
						t.Errorf("transaction %d: %v, want %v", i, got, want)
					}
				} else if got != want {
					t.Errorf("transaction %d: %v, want %v", i, got, want)
				}
			}
			// The failure after writes rolls the pass back: transaction 0
			// runs again, and so does transaction 1, whose failure came
			// after it read 0's writes (unless it panicked: its caller is
			// gone). A clean failure rolls nothing back.
			reruns, failedRuns := int32(2), int32(2)
			switch failure {
			case "clean":
				reruns, failedRuns = 1, 1
			case "panic":
				failedRuns = 1
			}
			for i, want := range []int32{reruns, failedRuns, 1} {
				if got := runs[i].Load(); got != want {
					t.Errorf("transaction %d ran %d times, want %d", i, got, want)
				}
			}
			for i, want := range []error{nil, store.ErrNotFound, nil} {
				if _, err := s.GetToken(ctx, ids[i]); !errors.Is(err, want) {
					t.Errorf("token %d: %v, want %v", i, err, want)
				}
			}
		})
	}
}

// TestFailureWaitsForTheCommitItRead: in one batch, transaction A inserts
// a token and B then finds it and fails (as a payment finds its token
// taken by another in the batch). B read A's uncommitted write, so its
// failure is only true once A commits: B's Tx returns after the commit,
// never while the batch still runs (transaction C holds it open until B
// waits for its verdict or returned early), and the token is then readable
// by anyone B's caller asks (the read pool: a same-key replay looks up the
// key A claimed).
func TestFailureWaitsForTheCommitItRead(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, filepath.Join(t.TempDir(), "acpgw.db"))
	awaiting := make(chan struct{})
	s.awaiting = awaiting
	queued := make(chan struct{}, 1)
	release := holdWriter(ctx, s, queued)

	id := vault.NewTokenID()
	errTaken := errors.New("token taken")
	a := make(chan error, 1)
	go func() {
		a <- s.Tx(ctx, func(tx store.Tx) error {
			return tx.InsertToken(ctx, store.Token{ID: id, Credential: []byte{1}})
		})
	}()
	<-queued
	type result struct {
		err   error
		found error // GetToken(id) on the read pool, right after Tx returned
	}
	b := make(chan result, 1)
	go func() {
		err := s.Tx(ctx, func(tx store.Tx) error {
			if _, err := tx.GetTokenForUpdate(ctx, id); err != nil {
				return fmt.Errorf("B did not see A's token: %w", err)
			}
			return errTaken
		})
		_, found := s.GetToken(ctx, id)
		b <- result{err, found}
	}()
	<-queued
	c := make(chan error, 1)
	early := false
	go func() {
		c <- s.Tx(ctx, func(tx store.Tx) error {
			select {
			case r := <-b:
				early = true // B answered while the batch was open
				b <- r
			case <-awaiting:
			}
			return nil
		})
	}()
	<-queued
	s.queued = nil
	if err := release(); err != nil {
		t.Fatal(err)
	}
	for _, ch := range []chan error{a, c} {
		if err := <-ch; err != nil {
			t.Fatal(err)
		}
	}
	r := <-b
	if early {
		t.Error("B's failure was answered before the write it read was committed")
	}
	if !errors.Is(r.err, errTaken) {
		t.Errorf("B: %v, want %v", r.err, errTaken)
	}
	if r.found != nil {
		t.Errorf("when B returned, its token was not committed: GetToken: %v", r.found)
	}
}

// TestCheckpointSkipsWhenNothingChanged: a round of the checkpoint loop
// runs a checkpoint after a commit and skips once a complete checkpoint
// covered every commit; a checkpoint that a reader's snapshot kept from
// copying every frame does not count, so the next round runs again.
func TestCheckpointSkipsWhenNothingChanged(t *testing.T) {
	ctx := t.Context()
	s := openTest(t, filepath.Join(t.TempDir(), "acpgw.db"))
	// The loop's own rounds stop, so that only the test's run (one
	// checkpointer at a time: another would make a round busy).
	s.stop()
	<-s.done
	insert := func() {
		t.Helper()
		if err := s.Tx(ctx, func(tx store.Tx) error {
			return tx.InsertToken(ctx, store.Token{ID: vault.NewTokenID(), Credential: []byte{1}})
		}); err != nil {
			t.Fatal(err)
		}
	}
	covered := uint64(math.MaxUint64)
	insert()
	if !s.checkpoint(ctx, &covered) {
		t.Fatal("the first round after a commit did not checkpoint")
	}
	if s.checkpoint(ctx, &covered) {
		t.Fatal("a round with no commit since a complete checkpoint ran one")
	}
	insert()
	if !s.checkpoint(ctx, &covered) {
		t.Fatal("a round after a new commit did not checkpoint")
	}

	// A reader's snapshot taken before the next commit keeps the checkpoint
	// from copying that commit's frames.
	conn, err := s.r.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rtx, err := conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	// Ended before the connection is closed, whatever fails below (an open
	// transaction would hold the connection, and Close would wait for it).
	defer rtx.Rollback()
	var n int
	if err := rtx.QueryRowContext(ctx, `SELECT COUNT(*) FROM tokens`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	insert()
	for range 2 {
		if !s.checkpoint(ctx, &covered) {
			t.Fatal("a round after an incomplete checkpoint was skipped")
		}
	}
	if err := rtx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if !s.checkpoint(ctx, &covered) {
		t.Fatal("the round after the reader ended did not checkpoint")
	}
	if s.checkpoint(ctx, &covered) {
		t.Fatal("a round after the complete checkpoint ran one")
	}
}
