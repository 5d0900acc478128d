// Package pgtest gives tests an empty PostgreSQL database of their own,
// created from the admin DSN in ACPGW_TEST_POSTGRES_DSN and dropped when the
// test ends. Without the variable tests skip, except under CI, where a
// skipped backend would pass unnoticed, so they fail.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the variable holding a DSN to an admin database (one the test
// user may connect to and CREATE DATABASE from).
const EnvDSN = "ACPGW_TEST_POSTGRES_DSN"

// AdminDSN returns the admin DSN, skipping the test when it is unset, or
// failing it when CI is set.
func AdminDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set, and CI is: the Postgres store must be tested in CI", EnvDSN)
		}
		t.Skipf("%s is not set: skipping the Postgres tests "+
			"(e.g. %s='postgres://postgres@127.0.0.1:5432/test?sslmode=disable')", EnvDSN, EnvDSN)
	}
	return dsn
}

// RandomName returns prefix followed by 12 random hex digits.
func RandomName(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// WithDatabase returns dsn pointing at database name.
func WithDatabase(t testing.TB, dsn, name string) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL", EnvDSN)
	}
	u.Path = "/" + name
	return u.String()
}

// NewDatabase creates an empty database, dropped when the test ends, and
// returns its DSN.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin := AdminDSN(t)
	name := RandomName("acpgw_test_")
	conn, err := pgx.Connect(t.Context(), admin)
	if err != nil {
		t.Fatalf("connect to the admin database: %v", err)
	}
	defer conn.Close(context.WithoutCancel(t.Context()))
	if _, err := conn.Exec(t.Context(), "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("connect to drop %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	return WithDatabase(t, admin, name)
}
