package postgres

import (
	"context"
	"embed"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"acpgw/store"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// migrateLockKey is the pg_advisory_xact_lock key that serialises
// migrations of one database ("acpgw" in ASCII): two replicas running
// Migrate at once apply each migration once.
const migrateLockKey int64 = 0x6163706777

// migrations returns the embedded migrations in order.
func migrations() ([]store.Migration, error) {
	ms, err := store.Migrations(migrationFS)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return ms, nil
}

// LatestSchemaVersion returns the schema version this binary migrates to
// and that Open requires.
func LatestSchemaVersion() int {
	ms, err := migrations()
	if err != nil {
		return 0
	}
	return len(ms)
}

// Migrate applies the pending embedded migrations to the database at dsn
// and returns how many it applied. All of them run in one transaction, so a
// failed step leaves the schema as it was, and under a transaction-scoped
// advisory lock, so that replicas migrating at the same moment queue: the
// first applies, the others find nothing left to do. Each applied migration
// is recorded in schema_migrations. A database migrated by a newer binary is
// refused with an error wrapping ErrSchemaTooNew.
//
// The tables are created in the first schema of the connection's
// search_path (public unless the DSN sets search_path).
func Migrate(ctx context.Context, dsn string) (applied int, err error) {
	ms, err := migrations()
	if err != nil {
		return 0, err
	}
	cfg, err := poolConfig(dsn, Options{})
	if err != nil {
		return 0, err
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return 0, wrap("migrate: connect", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		defer cancel()
		_ = conn.Close(cctx)
	}()

	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return 0, wrap("migrate: begin", err)
	}
	defer func() {
		if err != nil {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
			defer cancel()
			_ = tx.Rollback(rctx)
		}
	}()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockKey); err != nil {
		return 0, wrap("migrate: lock", err)
	}
	// Everything below runs after the lock is held, and each statement of a
	// READ COMMITTED transaction sees what committed before it: a replica
	// that waited reads the version its predecessor left.
	const create = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version    INTEGER NOT NULL PRIMARY KEY,
	applied_at BIGINT  NOT NULL
)`
	if _, err := tx.Exec(ctx, create); err != nil {
		return 0, wrap("migrate: create schema_migrations", err)
	}
	var cur int
	if err := tx.QueryRow(ctx, qSchemaVersion).Scan(&cur); err != nil {
		return 0, wrap("migrate: read version", err)
	}
	if cur > len(ms) {
		return 0, fmt.Errorf("%w: database is at version %d, this binary knows up to %d; upgrade acpgw",
			ErrSchemaTooNew, cur, len(ms))
	}
	for _, m := range ms[cur:] {
		// No arguments: pgx sends the file with the simple protocol, which
		// runs several statements.
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return 0, wrap("migrate: "+m.Name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`,
			m.Version, time.Now().UTC().UnixNano()); err != nil {
			return 0, wrap("migrate: record "+m.Name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, wrap("migrate: commit", err)
	}
	return len(ms) - cur, nil
}
