// Package sqlite is the embedded store.Store backend: one SQLite file in WAL
// mode, through the pure-Go driver modernc.org/sqlite.
//
// Writes go through a pool of exactly one connection whose transactions begin
// with BEGIN IMMEDIATE, so writers in this process queue in Go rather than
// retrying on SQLITE_BUSY, and a transaction that reads before it writes (the
// token check, the idempotency claim) cannot be overtaken by another writer.
// Reads outside transactions use a separate pool of query-only connections,
// which WAL lets run beside the writer.
//
// Timestamps are stored as INTEGER unix nanoseconds UTC, so they keep full
// precision between the years 1678 and 2262; a zero time.Time is stored as
// NULL and reads back as the zero time. Maps and the decline are JSON text.
// The rows are written and read by store/rowcodec, the codec store/postgres
// shares.
//
// Durability: by default the database runs with synchronous=FULL: every
// commit fsyncs the WAL before Tx returns, so a payment answered 2xx (and
// the intent written before its processor call) survives a power failure
// or kernel crash. Group commit (batch.go) shares one fsync among all the
// transactions of a batch. The DSN parameter ?synchronous=NORMAL skips the
// fsync (the WAL is synced at checkpoints only): it survives a crash of the
// process but may lose the last transactions on a power failure, which for
// a payment gateway means a charge the processor made and acpgw forgot.
//
// Commits sync with fdatasync(2), not fsync(2), where the system has it
// (useFdatasync): it writes the data and the metadata needed to read it
// back (the file's size included) but not the timestamps, which is all a
// commit needs, and what SQLite's own builds for Linux do. The driver's
// default is fsync.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"math"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"acpgw/store"
)

// ErrSchemaTooNew is returned by Open when the database was migrated by a
// newer acpgw than this binary: running older code on a newer schema could
// corrupt data, so Open refuses.
var ErrSchemaTooNew = errors.New("sqlite: database schema is newer than this binary knows")

//go:embed migrations/*.sql
var migrationFS embed.FS

// busyTimeout is how long a connection waits for another process's lock
// (a second acpgw or an `acpgw migrate` on the same file) before it fails
// with SQLITE_BUSY, which becomes store.ErrUnavailable.
const busyTimeout = 5 * time.Second

// journalSizeLimit caps the WAL file kept after a checkpoint, in bytes.
const journalSizeLimit = 64 << 20

// writerCacheKiB is the writer's page cache. It is kept small on purpose.
// When a page split renumbers pages (balance_nonroot swaps two page
// numbers through the number of the lock-byte page, 1 GiB in), SQLite's
// page cache remembers that number as the largest it has seen, and the
// commit that follows scans the cache's whole hash table to drop pages
// past the end of the file (pcache1TruncateUnsafe). The hash grows with
// the pages cached, so with 64 MiB that scan cost about 26 µs a payment in
// the profile of a database under 1 GiB; with 8 MiB it costs about 5, and
// the few extra pages read back (from the OS's cache) cost about 1.
const writerCacheKiB = 8 << 10

// Checkpoints copy the WAL into the database file and fsync it. A background
// goroutine runs them every checkpointEvery on a connection of its own, so
// that the fsync is not paid by the writer in the middle of a commit; the
// writer checkpoints by itself only as a backstop, once the WAL holds
// backstopPages pages (4 KiB each). Small checkpoints often disturb the
// writer's commits less than large ones seldom: at 1,000 payments/s the
// open loop's p99 was 5.8 ms with one every 50 ms against 6.6 ms every
// 200 ms (medians of seven runs each, p=0.02), and no CPU moved.
const (
	checkpointEvery = 50 * time.Millisecond
	backstopPages   = 10000
)

var _ store.Store = (*Store)(nil)

// Store is a store.Store on one SQLite database file. It is safe for
// concurrent use.
type Store struct {
	w  *sql.DB // one connection, BEGIN IMMEDIATE
	r  *sql.DB // several query-only connections
	c  *sql.DB // one connection for checkpoints
	rs stmts   // the read statements, prepared on r

	// The writer's statements, prepared on wdc, w's driver connection;
	// only the writer and the transaction it hands the connection to use
	// them (batch.go, raw.go).
	ws  wstmts
	wdc driver.Conn

	stop context.CancelFunc
	done chan struct{} // closed when the checkpoint loop has ended

	// The group-commit writer (batch.go).
	jobs   chan *job
	wstop  chan struct{}
	wdone  chan struct{}
	mu     sync.RWMutex
	closed bool
	// queued, set by tests only, hears of every transaction queued for the
	// writer.
	queued chan<- struct{}
	// commits counts the writer's commits (batch.go), for checkpointLoop.
	commits atomic.Uint64
	// awaiting, set by tests only, hears of every caller whose fn failed,
	// as it waits for the writer's verdict on the failure.
	awaiting chan<- struct{}
}

// Open opens (creating it and its folder if needed, both private to the
// owner: 0600 files in a 0700 folder) the database file at dsn, applies
// pending migrations and returns the store. dsn is a file path, not a URL,
// optionally followed by ?synchronous=NORMAL|FULL|EXTRA (default FULL; see
// the package documentation for the trade-off). Only the last folder of the
// path is created: its parent must exist. Open fails with an error
// wrapping ErrSchemaTooNew if the file's schema is newer than this binary.
func Open(ctx context.Context, dsn string) (*Store, error) {
	path, sync, err := parseDSN(dsn)
	if err != nil {
		return nil, err
	}
	if err := prepareFiles(path); err != nil {
		return nil, err
	}
	useFdatasync()

	ms := strconv.FormatInt(busyTimeout.Milliseconds(), 10)
	wq := url.Values{}
	wq.Set("_txlock", "immediate")
	wq.Set("_busy_timeout", ms)
	wq.Set("_journal_mode", "WAL")
	wq.Set("_synchronous", sync)
	wq.Set("_foreign_keys", "on")
	// secure_delete zeroes deleted content (an erased CVC) in the file
	// instead of leaving it in free space.
	wq.Add("_pragma", "secure_delete(1)")
	wq.Add("_pragma", "journal_size_limit("+strconv.Itoa(journalSizeLimit)+")")
	wq.Add("_pragma", "temp_store(memory)")
	// The writer is the only connection that changes the file, so its page
	// cache stays valid from one transaction to the next: it keeps the hot
	// pages of every table in memory (see writerCacheKiB for its size).
	wq.Add("_pragma", "cache_size("+strconv.Itoa(-writerCacheKiB)+")")
	wq.Add("_pragma", "wal_autocheckpoint("+strconv.Itoa(backstopPages)+")")

	w, err := sql.Open("sqlite", path+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	s := &Store{w: w}
	s.startWriter()
	if err := s.migrate(ctx); err != nil {
		s.stopWriter()
		w.Close()
		return nil, err
	}
	// The -wal file of a run that crashed (or of the migrations just
	// applied) holds old page images, erased values among them: copy what
	// it holds into the database, where secure_delete has zeroed them, and
	// empty it. Best effort: another process reading the file makes it
	// wait, and the next start tries again.
	_, _ = w.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)

	rq := url.Values{}
	rq.Set("_busy_timeout", ms)
	rq.Set("_query_only", "on")
	rq.Add("_pragma", "temp_store(memory)")
	// Readers do not map the file (mmap_size stays 0). A reader's page cache
	// is dropped whenever the writer has committed since its last read, and
	// with the file mapped SQLite unmaps the whole mapping then too, so each
	// read after a commit paid for munmap, mmap and a page fault per page it
	// touched: more than the pread of the few pages a point read needs
	// (BenchmarkReadAfterWrite).
	r, err := sql.Open("sqlite", path+"?"+rq.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	n := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	s.r = r

	if err := prepareReads(ctx, &s.rs, r); err != nil {
		s.Close()
		return nil, err
	}

	cq := url.Values{}
	cq.Set("_busy_timeout", ms)
	c, err := sql.Open("sqlite", path+"?"+cq.Encode())
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	c.SetMaxOpenConns(1)
	s.c = c
	// The loop outlives Open's ctx; Close ends it.
	loopCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stop, s.done = stop, make(chan struct{})
	go s.checkpointLoop(loopCtx)
	return s, nil
}

// checkpointLoop runs a PASSIVE checkpoint every checkpointEvery until ctx
// ends. PASSIVE never waits for the writer or readers; what it cannot copy
// now, the next round copies. A failed round is retried on the next tick:
// the writer's backstop checkpoint keeps the WAL bounded meanwhile.
func (s *Store) checkpointLoop(ctx context.Context) {
	defer close(s.done)
	tick := time.NewTicker(checkpointEvery)
	defer tick.Stop()
	covered := uint64(math.MaxUint64)
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
			s.checkpoint(ctx, &covered)
		}
	}
}

// checkpoint runs one round of checkpointLoop. *covered is the writer's
// commit count that the last complete checkpoint covered: with no commit
// since, there is nothing to copy and the round is skipped (so an idle
// store does not checkpoint 20 times a second); a checkpoint that could
// not copy every frame (a reader's snapshot held some back) leaves it, so
// the next round tries again. A commit during the checkpoint counts as not
// covered. It reports whether it ran a checkpoint.
func (s *Store) checkpoint(ctx context.Context, covered *uint64) bool {
	n := s.commits.Load()
	if n == *covered {
		return false
	}
	var busy, frames, copied int
	err := s.c.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied)
	if err == nil && busy == 0 && frames == copied {
		*covered = n
	}
	return true
}

// useFdatasync makes SQLite sync with fdatasync in this process (a setting
// of the driver, shared by every connection). Where the system has no
// fdatasync (macOS, Windows) the driver keeps fsync and says so, which is
// no error.
func useFdatasync() {
	_, _ = sqlite.Fdatasync(true)
}

// parseDSN splits dsn into the file path and the synchronous level.
func parseDSN(dsn string) (path, sync string, err error) {
	if scheme := store.URLScheme(dsn); scheme != "" {
		// Never quote the DSN: a URL may hold a password.
		return "", "", fmt.Errorf("sqlite: the DSN is a file path, not a URL (%q); PostgreSQL is the postgres driver", scheme+":")
	}
	path, query, _ := strings.Cut(dsn, "?")
	if path == "" {
		return "", "", errors.New("sqlite: empty database path")
	}
	if path == ":memory:" {
		return "", "", errors.New("sqlite: the DSN must be a plain file path, not :memory:")
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", "", fmt.Errorf("sqlite: DSN query: %w", err)
	}
	sync = "FULL"
	for k, v := range q {
		switch k {
		case "synchronous":
			sync = strings.ToUpper(v[len(v)-1])
			if sync != "NORMAL" && sync != "FULL" && sync != "EXTRA" {
				return "", "", fmt.Errorf("sqlite: DSN parameter synchronous=%q: want NORMAL, FULL or EXTRA", sync)
			}
		default:
			return "", "", fmt.Errorf("sqlite: unknown DSN parameter %q", k)
		}
	}
	return path, sync, nil
}

// migrations returns the embedded migrations in order.
func migrations() ([]store.Migration, error) {
	ms, err := store.Migrations(migrationFS)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	return ms, nil
}

// migrate applies the pending migrations in one transaction, so a failed
// step leaves the schema as it was.
func (s *Store) migrate(ctx context.Context) (err error) {
	ms, err := migrations()
	if err != nil {
		return err
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return wrap("migrate: begin", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER NOT NULL PRIMARY KEY,
	applied_at INTEGER NOT NULL
)`
	if _, err := tx.ExecContext(ctx, create); err != nil {
		return wrap("migrate: create schema_migrations", err)
	}
	var cur int
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&cur); err != nil {
		return wrap("migrate: read version", err)
	}
	if cur > len(ms) {
		return fmt.Errorf("%w: database is at version %d, this binary knows up to %d; upgrade acpgw",
			ErrSchemaTooNew, cur, len(ms))
	}
	for _, m := range ms[cur:] {
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return wrap("migrate: "+m.Name, err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
			m.Version, time.Now().UTC().UnixNano()); err != nil {
			return wrap("migrate: record "+m.Name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return wrap("migrate: commit", err)
	}
	return nil
}

// LatestSchemaVersion returns the schema version this binary migrates to.
func LatestSchemaVersion() int {
	ms, err := migrations()
	if err != nil {
		return 0
	}
	return len(ms)
}

// SchemaVersion returns the version of the last migration applied to the
// database.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.r.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	return v, s.readErr(wrap("schema version", err))
}

// Ping checks that both connection pools reach the database.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return s.readErr(wrap("ping", err))
	}
	return s.readErr(wrap("ping", s.r.PingContext(ctx)))
}

// readErr marks the error of a call outside the writer (a read, a ping)
// that failed because the store is closed as store.ErrUnavailable, like a
// transaction after Close (errClosed). database/sql answers such calls with
// errors it does not export ("sql: database is closed", "sql: statement is
// closed"), so the store's own closed flag decides, not the error's text.
func (s *Store) readErr(err error) error {
	if err == nil || errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrNotFound) {
		return err
	}
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if !closed {
		return err
	}
	return fmt.Errorf("%w (%w)", errClosed, err)
}

// Close stops the checkpoint loop and closes the checkpoint and read
// connections, then the write pool: the last connection to close
// checkpoints the WAL into the database file and removes it.
func (s *Store) Close() error {
	s.stopWriter()
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	if s.stop != nil {
		s.stop()
		<-s.done
	}
	closeReads(&s.rs)
	s.closeWrites()
	var errs []error
	for _, db := range []*sql.DB{s.c, s.r} {
		if db != nil {
			errs = append(errs, db.Close())
		}
	}
	errs = append(errs, s.w.Close())
	return errors.Join(errs...)
}

// closeWrites closes the writer's statements on the connection they were
// prepared on, so that closing the pool closes the file (SQLite keeps a
// connection with unfinalized statements open).
func (s *Store) closeWrites() {
	if s.wdc == nil {
		return
	}
	conn, err := s.w.Conn(context.Background())
	if err != nil {
		return
	}
	defer conn.Close()
	_ = conn.Raw(func(c any) error {
		if c.(driver.Conn) == s.wdc {
			closeWrites(&s.ws)
		}
		s.wdc = nil
		return nil
	})
}

// wrap adds op to err and maps driver errors onto the store sentinels:
// missing rows to ErrNotFound, unique violations to ErrDuplicate, and
// timeouts, locks and I/O failures to ErrUnavailable. SQLite's own messages
// name tables and columns, never values, so no data leaks into the text.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrDuplicate) ||
		errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrTokenConsumed) {
		return fmt.Errorf("sqlite: %s: %w", op, err)
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrNotFound)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.Is(err, driver.ErrBadConn), errors.Is(err, sql.ErrConnDone):
		return fmt.Errorf("sqlite: %s: %w: %w", op, store.ErrUnavailable, err)
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("sqlite: %s: %w: %w", op, store.ErrDuplicate, err)
		}
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN,
			sqlite3.SQLITE_FULL, sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_INTERRUPT, sqlite3.SQLITE_NOMEM:
			return fmt.Errorf("sqlite: %s: %w: %w", op, store.ErrUnavailable, err)
		}
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}
