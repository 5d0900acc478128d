package pgtest

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

func ping(ctx context.Context, dsn string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return conn.Ping(ctx)
}

// TestNewDatabase: with or without ACPGW_TEST_POSTGRES_DSN, a test gets a
// database of its own that it can write to, dropped at its end.
func TestNewDatabase(t *testing.T) {
	dsn := NewDatabase(t)
	conn, err := pgx.Connect(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.WithoutCancel(t.Context()))
	if _, err := conn.Exec(t.Context(), "CREATE TABLE t (x int); INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := conn.QueryRow(t.Context(), "SELECT count(*) FROM t").Scan(&n); err != nil || n != 1 {
		t.Fatalf("count %d, %v", n, err)
	}
}

// TestClusterRestart: a test's own cluster keeps its port and data across a
// restart, and is gone after Stop.
func TestClusterRestart(t *testing.T) {
	c := NewCluster(t)
	conn, err := pgx.Connect(t.Context(), c.DSN())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(t.Context(), "CREATE TABLE kept (x int); INSERT INTO kept VALUES (7)"); err != nil {
		t.Fatal(err)
	}
	if err := c.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := conn.Ping(t.Context()); err == nil {
		t.Error("a connection from before the restart still works: the server did not restart")
	}
	conn.Close(context.WithoutCancel(t.Context()))
	conn, err = pgx.Connect(t.Context(), c.DSN())
	if err != nil {
		t.Fatalf("after the restart: %v", err)
	}
	var x int
	if err := conn.QueryRow(t.Context(), "SELECT x FROM kept").Scan(&x); err != nil || x != 7 {
		t.Fatalf("after the restart: %d, %v", x, err)
	}
	conn.Close(context.WithoutCancel(t.Context()))
	c.Stop()
	if err := ping(t.Context(), c.DSN()); err == nil {
		t.Error("the server still answers after Stop")
	}
	if _, err := os.Stat(c.dir); !os.IsNotExist(err) {
		t.Errorf("the cluster's folder %s is still there: %v", c.dir, err)
	}
}

// TestClusterDiesWithTestProcess: a test binary that is killed (a timeout,
// kill -9) runs no clean-up, so the watchdog must stop the server and remove
// its folder by itself.
func TestClusterDiesWithTestProcess(t *testing.T) {
	if os.Getenv("PGTEST_HELPER") == "1" {
		c, err := StartCluster()
		if err != nil {
			os.Stdout.WriteString("error " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Stdout.WriteString(c.DSN() + " " + c.dir + "\n")
		select {} // until killed
	}
	if _, err := serverBin(); err != nil {
		skipOrFail(t, err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestClusterDiesWithTestProcess$")
	cmd.Env = append(os.Environ(), "PGTEST_HELPER=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	dsn, dir, ok := strings.Cut(strings.TrimSpace(line), " ")
	if !ok || !strings.HasPrefix(dsn, "postgres://") {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("helper: %q", line)
	}
	if err := ping(t.Context(), dsn); err != nil {
		t.Fatalf("the helper's cluster does not answer: %v", err)
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		_, statErr := os.Stat(dir)
		if ping(t.Context(), dsn) != nil && os.IsNotExist(statErr) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("2 minutes after the test process died, its cluster still answers or %s is still there", dir)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
