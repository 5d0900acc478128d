// Package postgres is the store.Store backend for several acpgw replicas
// sharing one PostgreSQL database, through pgx/v5 and its connection pool.
//
// Every guarantee comes from the database, never from process memory:
// single-use tokens from a conditional UPDATE, row locks from SELECT ... FOR
// NO KEY UPDATE, idempotency claims from the primary key of the idempotency
// table, and attempt leases from UPDATE ... FOR UPDATE SKIP LOCKED. Two
// replicas therefore behave like two goroutines of one process.
//
// A transaction's statements are pipelined (Store.Tx), and an idempotency
// key is claimed ahead (ClaimIdempotency): a payment's intent takes two
// round trips to the server and its settlement one.
//
// Transactions run at READ COMMITTED. Each method that decides on what it
// read locks that row first (or decides in a single statement), so no method
// needs SERIALIZABLE; see Store.Tx for the retry of deadlocks.
//
// The schema is the one of store/sqlite with Postgres types: timestamps are
// BIGINT unix nanoseconds UTC (a zero time.Time is NULL and reads back as the
// zero time), maps and the decline JSON text, byte slices BYTEA; the rows
// are written and read by store/rowcodec, the codec store/sqlite shares.
// Open never changes the schema: Migrate does, once, for all replicas.
//
// Errors map onto the store sentinels: a unique violation is
// store.ErrDuplicate, no row store.ErrNotFound, and everything that says
// "the database cannot answer now" (connection refused or lost, server
// shutting down or starting, statement or lock timeout, a deadline or a
// cancelled context, a closed pool) wraps store.ErrUnavailable. The pool
// replaces broken connections by itself, so service resumes when the server
// is back. Error texts come from the server and pgx and name tables,
// columns and constraints, never values.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/puddle/v2"

	"acpgw/store"
)

// ErrSchemaTooNew is returned (wrapped) by Open and Migrate when the
// database was migrated by a newer acpgw than this binary: running older
// code on a newer schema could corrupt data, so both refuse.
var ErrSchemaTooNew = errors.New("postgres: database schema is newer than this binary knows")

// ErrSchemaMissing is returned (wrapped) by Open when the database lacks the
// schema, or some of the migrations, this binary needs: run `acpgw migrate`
// first. Open never migrates, so that replicas never race to change a
// shared schema.
var ErrSchemaMissing = errors.New("postgres: database schema is missing or older than this binary; run acpgw migrate")

var _ store.Store = (*Store)(nil)

// Options are the pool limits and timeouts. A zero field keeps the value of
// the DSN (pool_max_conns, connect_timeout, ...) or else the pgx or server
// default.
type Options struct {
	// MaxConns caps the pool's connections to the server; requests beyond it
	// wait for a free connection until their context ends.
	MaxConns int32
	// MinConns is how many connections the pool keeps open while idle.
	MinConns int32
	// StatementTimeout makes the server cancel any statement running longer
	// (SQLSTATE 57014, which becomes store.ErrUnavailable).
	StatementTimeout time.Duration
	// LockTimeout makes the server fail a statement that waits longer for a
	// row lock (SQLSTATE 55P03, store.ErrUnavailable): a request stuck behind
	// another one on the same token or payment gives up instead of queueing
	// for its whole deadline.
	LockTimeout time.Duration
	// ConnectTimeout bounds each new connection, TLS and authentication
	// included.
	ConnectTimeout time.Duration
}

// Store is a store.Store on a PostgreSQL database. It is safe for concurrent
// use, and any number of Stores (in this process or other replicas) may
// share one database.
type Store struct {
	pool *pgxpool.Pool
}

// Open connects to the database at dsn (a postgres:// or postgresql:// URL)
// with the pool limits and timeouts of o, and checks the schema version: it
// refuses, with an error wrapping ErrSchemaMissing or ErrSchemaTooNew, a
// schema other than the one this binary migrates to. It does not migrate
// (see Migrate). A database that cannot be reached is an error wrapping
// store.ErrUnavailable.
func Open(ctx context.Context, dsn string, o Options) (*Store, error) {
	cfg, err := poolConfig(dsn, o)
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, wrap("open", err)
	}
	s := &Store{pool: pool}
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		pool.Close()
		return nil, err
	}
	if err := checkVersion(v); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

// poolConfig parses dsn and applies o over it. The DSN is never part of an
// error: it may hold a password.
func poolConfig(dsn string, o Options) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("postgres: invalid DSN (want postgres://user@host:port/database?...)")
	}
	if o.MaxConns < 0 || o.MinConns < 0 || o.StatementTimeout < 0 || o.LockTimeout < 0 || o.ConnectTimeout < 0 {
		return nil, errors.New("postgres: pool options must not be negative")
	}
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	if o.MinConns > 0 {
		cfg.MinConns = o.MinConns
	}
	if cfg.MinConns > cfg.MaxConns {
		return nil, fmt.Errorf("postgres: min_conns %d is above max_conns %d", cfg.MinConns, cfg.MaxConns)
	}
	if o.ConnectTimeout > 0 {
		cfg.ConnConfig.ConnectTimeout = o.ConnectTimeout
	}
	// Server settings travel in the startup message: no round trip, and a
	// connection the pool replaces gets them too.
	if o.StatementTimeout > 0 {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = millis(o.StatementTimeout)
	}
	if o.LockTimeout > 0 {
		cfg.ConnConfig.RuntimeParams["lock_timeout"] = millis(o.LockTimeout)
	}
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	if cfg.ConnConfig.RuntimeParams["application_name"] == "" {
		cfg.ConnConfig.RuntimeParams["application_name"] = "acpgw"
	}
	return cfg, nil
}

// millis renders d as a server setting in whole milliseconds, at least 1
// (0 would mean no limit).
func millis(d time.Duration) string {
	return strconv.FormatInt(max(1, d.Milliseconds()), 10)
}

// checkVersion refuses a schema version this binary does not know.
func checkVersion(v int) error {
	latest := LatestSchemaVersion()
	switch {
	case v > latest:
		return fmt.Errorf("%w: database is at version %d, this binary knows up to %d; upgrade acpgw",
			ErrSchemaTooNew, v, latest)
	case v < latest:
		return fmt.Errorf("%w: database is at version %d, this binary needs %d", ErrSchemaMissing, v, latest)
	}
	return nil
}

// SchemaVersion returns the version of the last migration applied to the
// database, 0 when none was; a database without the schema_migrations table
// is an error wrapping ErrSchemaMissing.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.pool.QueryRow(ctx, qSchemaVersion).Scan(&v)
	if isUndefinedTable(err) {
		return 0, fmt.Errorf("%w: no schema_migrations table", ErrSchemaMissing)
	}
	return v, wrap("schema version", err)
}

// Ping checks that the pool reaches the database.
func (s *Store) Ping(ctx context.Context) error {
	return wrap("ping", s.pool.Ping(ctx))
}

// Close closes the pool, waiting for connections in use to be returned.
// Calls after Close fail with store.ErrUnavailable.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// SQLSTATE codes the error mapping and the Tx retry use.
const (
	codeUniqueViolation      = "23505"
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeUndefinedTable       = "42P01"
	codeQueryCanceled        = "57014" // statement_timeout, or a cancel request
	codeLockNotAvailable     = "55P03" // lock_timeout
	codeIdleInTxTimeout      = "25P03"
)

// unavailableCodes are the server errors that mean "not now" rather than
// "never": the request may succeed once the server is back or less busy.
// Whole classes are matched by their first two characters: 08 connection
// exception, 53 insufficient resources, 57 operator intervention (57P01
// admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now), 58
// system error.
var unavailableClasses = []string{"08", "53", "57", "58"}

// wrap adds op to err and maps it onto the store sentinels.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrDuplicate) ||
		errors.Is(err, store.ErrUnavailable) || errors.Is(err, store.ErrTokenConsumed) ||
		errors.Is(err, ErrSchemaMissing) || errors.Is(err, ErrSchemaTooNew) {
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == codeUniqueViolation:
			return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrDuplicate, err)
		case pe.Code == codeLockNotAvailable, pe.Code == codeIdleInTxTimeout, pe.Code == codeQueryCanceled,
			retryable(err):
			return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrUnavailable, err)
		}
		for _, c := range unavailableClasses {
			if len(pe.Code) == 5 && pe.Code[:2] == c {
				return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrUnavailable, err)
			}
		}
		return fmt.Errorf("postgres: %s: %w", op, err)
	}
	if connectionTrouble(err) {
		return fmt.Errorf("postgres: %s: %w: %w", op, store.ErrUnavailable, err)
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// connectionTrouble reports whether err (not a server error) says the
// server could not be reached or the connection broke: a dial or
// authentication failure, a reset or closed socket, a timeout, a cancelled
// context, or a closed pool.
func connectionTrouble(err error) bool {
	var (
		ce *pgconn.ConnectError
		ne net.Error
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled),
		errors.As(err, &ce), errors.As(err, &ne), errors.Is(err, net.ErrClosed),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, pgconn.ErrConnClosed), errors.Is(err, puddle.ErrClosedPool),
		pgconn.Timeout(err), pgconn.SafeToRetry(err):
		return true
	}
	return false
}

// retryable reports whether err is a serialization failure or a deadlock:
// the server rolled the transaction back and running it again may succeed.
func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == codeSerializationFailure || pe.Code == codeDeadlockDetected)
}

// isUndefinedTable reports whether err says a table does not exist.
func isUndefinedTable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == codeUndefinedTable
}
