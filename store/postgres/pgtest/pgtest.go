// Package pgtest gives tests an empty PostgreSQL database of their own,
// dropped when the test ends. The databases live on the server named by
// ACPGW_TEST_POSTGRES_DSN when it is set, else on a throwaway cluster that
// the test binary starts on first use (initdb and pg_ctl on a free loopback
// port in a temporary folder) and stops when its tests end, so `go test
// ./...` runs the PostgreSQL suites on any machine with PostgreSQL's server
// programs and no set-up. Running as root, the cluster runs as the user
// postgres (or nobody): initdb refuses root.
//
// Without the server programs tests skip with a loud message, except under
// CI, where a skipped backend would pass unnoticed, so they fail.
//
// A package that uses it calls Main from its TestMain.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvDSN names the variable holding a DSN to an admin database (one the test
// user may connect to and CREATE DATABASE from). When it is set, no cluster
// is started.
const EnvDSN = "ACPGW_TEST_POSTGRES_DSN"

var (
	mainRunning atomic.Bool
	// shared is the test binary's throwaway cluster, started by the first
	// AdminDSN that needs it and stopped by Main.
	shared struct {
		once sync.Once
		c    *Cluster
		err  error
	}
)

// Main runs a package's tests, then stops the throwaway cluster if one was
// started. Call it from TestMain of every package that uses AdminDSN or
// NewDatabase:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
func Main(m *testing.M) {
	mainRunning.Store(true)
	code := m.Run()
	if shared.c != nil {
		shared.c.Stop()
	}
	os.Exit(code)
}

// AdminDSN returns the admin DSN: ACPGW_TEST_POSTGRES_DSN, else the
// throwaway cluster's, starting it on first use. Without PostgreSQL's server
// programs it skips the test, or fails it when CI is set.
func AdminDSN(t testing.TB) string {
	t.Helper()
	if dsn := os.Getenv(EnvDSN); dsn != "" {
		return dsn
	}
	if !mainRunning.Load() {
		t.Fatalf("pgtest: %s is not set, and this package's TestMain does not call pgtest.Main, "+
			"which stops the throwaway cluster after the tests", EnvDSN)
	}
	shared.once.Do(func() { shared.c, shared.err = StartCluster() })
	if shared.err != nil {
		skipOrFail(t, shared.err)
	}
	return shared.c.DSN()
}

// NewCluster starts a throwaway cluster of the test's own, stopped when the
// test ends, for tests that restart or stop their server. It skips like
// AdminDSN when the server programs are missing, whether or not
// ACPGW_TEST_POSTGRES_DSN is set.
func NewCluster(t testing.TB) *Cluster {
	t.Helper()
	c, err := StartCluster()
	if err != nil {
		skipOrFail(t, err)
	}
	t.Cleanup(c.Stop)
	return c
}

func skipOrFail(t testing.TB, err error) {
	t.Helper()
	if !errors.Is(err, ErrNoServer) {
		t.Fatalf("%v", err)
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%v; CI is set: the PostgreSQL store must be tested in CI (or set %s)", err, EnvDSN)
	}
	t.Logf("SKIPPING the PostgreSQL tests: %v (or set %s to a server's admin DSN)", err, EnvDSN)
	t.Skip("no PostgreSQL server programs")
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
	return NewDatabaseOn(t, AdminDSN(t))
}

// NewDatabaseOn is NewDatabase on the server of the admin DSN given, such as
// a Cluster's.
func NewDatabaseOn(t testing.TB, admin string) string {
	t.Helper()
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
