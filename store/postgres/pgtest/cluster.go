package pgtest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ErrNoServer means PostgreSQL's server programs (initdb, pg_ctl) are not
// installed, or there is no unprivileged user to run them as: the only
// reason a PostgreSQL test may skip.
var ErrNoServer = errors.New("pgtest: no PostgreSQL server programs")

// serverUsers are the accounts a root test process runs the cluster as, in
// order of preference: initdb refuses to run as root.
var serverUsers = []string{"postgres", "nobody"}

// Cluster is a throwaway PostgreSQL cluster: initdb in a temporary folder,
// served on a free loopback port with trust authentication and without
// fsync (the data is thrown away). A watchdog shell owns the server: it stops
// it and removes the folder when Stop is called or when the test process
// dies, since a killed test binary runs no clean-up of its own.
type Cluster struct {
	bin  string // directory of initdb, pg_ctl, postgres
	dir  string // the temporary folder: data/, log, socket
	port int
	cred *credential // nil: run as the current user

	watchdog *exec.Cmd
	stdin    io.WriteCloser
	done     chan struct{} // closed when the watchdog has exited
	stopOnce sync.Once
}

// DSN is the cluster's admin database as the superuser postgres.
func (c *Cluster) DSN() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// StartCluster creates and starts a throwaway cluster. It returns an error
// wrapping ErrNoServer when the server programs are missing.
func StartCluster() (*Cluster, error) {
	bin, err := serverBin()
	if err != nil {
		return nil, err
	}
	cred, err := serverCredential()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "acpgw-pg-")
	if err != nil {
		return nil, err
	}
	if cred != nil {
		if err := os.Chown(dir, cred.uid, cred.gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	c := &Cluster{bin: bin, dir: dir, cred: cred}
	initdb := c.command(filepath.Join(bin, "initdb"), "-D", c.dataDir(), "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--no-locale", "--no-sync")
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pgtest: initdb: %v\n%s", err, out)
	}
	// A port found free may be taken before the server binds it: try again
	// on another.
	for attempt := 0; ; attempt++ {
		if c.port, err = freePort(); err != nil {
			break
		}
		if err = c.start(); err == nil || attempt == 2 {
			break
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return c, nil
}

func (c *Cluster) dataDir() string { return filepath.Join(c.dir, "data") }

func (c *Cluster) logFile() string { return filepath.Join(c.dir, "server.log") }

// options are the server's settings: loopback only, a socket in the
// cluster's folder (never the system's), and no durability, which a
// throwaway cluster does not need.
func (c *Cluster) options() string {
	return fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
		c.port, c.dir)
}

// watchdogScript starts the server, says so, and stops it and removes the
// folder once its standard input closes: when Stop closes it, or when the
// test process exits for any reason.
const watchdogScript = `
"$1/pg_ctl" -D "$2/data" -l "$2/server.log" -w -t 120 -o "$3" start >/dev/null || exit 1
echo ready
read -r _ || true
"$1/pg_ctl" -D "$2/data" -m immediate -w -t 60 stop >/dev/null 2>&1
rm -rf "$2"
`

func (c *Cluster) start() error {
	cmd := c.command("/bin/sh", "-c", watchdogScript, "pgtest-watchdog", c.bin, c.dir, c.options())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("pgtest: start the server: %w", err)
	}
	c.watchdog, c.stdin, c.done = cmd, stdin, make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(c.done)
	}()
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		<-c.done
		log, _ := os.ReadFile(c.logFile())
		return fmt.Errorf("pgtest: pg_ctl start on port %d failed; server log:\n%s", c.port, tail(log, 2000))
	}
	return nil
}

// Restart stops the server and starts it again on the same port, as an
// operator's restart would: clients see their connections dropped.
func (c *Cluster) Restart() error {
	out, err := c.command(filepath.Join(c.bin, "pg_ctl"), "-D", c.dataDir(), "-l", c.logFile(), "-m", "fast",
		"-w", "-t", "120", "-o", c.options(), "restart").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pgtest: pg_ctl restart: %v\n%s", err, out)
	}
	return nil
}

// Stop stops the server and removes its folder. It is safe to call more
// than once.
func (c *Cluster) Stop() {
	c.stopOnce.Do(func() {
		_ = c.stdin.Close()
		select {
		case <-c.done:
		case <-time.After(2 * time.Minute):
			_ = c.watchdog.Process.Kill()
			<-c.done
		}
		_ = os.RemoveAll(c.dir)
	})
}

// command runs name as the cluster's user.
func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(name, args...)
	cmd.Dir = c.dir
	// Not the test process's PG* variables: they would point pg_ctl's
	// checks at another server.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "PG") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if c.cred != nil {
		runAs(cmd, c.cred)
		cmd.Env = append(cmd.Env, "HOME="+c.dir)
	}
	return cmd
}

// serverBin finds the directory holding initdb and pg_ctl: PATH first, then
// where Debian, Ubuntu and the PostgreSQL RPMs install them (the newest
// version first).
func serverBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if isExec(filepath.Join(dir, "pg_ctl")) {
			return dir, nil
		}
	}
	var dirs []string
	for _, pattern := range []string{"/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin", "/usr/local/pgsql/bin"} {
		m, _ := filepath.Glob(pattern)
		slices.SortFunc(m, func(a, b string) int { return versionOf(b) - versionOf(a) })
		dirs = append(dirs, m...)
	}
	for _, dir := range dirs {
		if isExec(filepath.Join(dir, "initdb")) && isExec(filepath.Join(dir, "pg_ctl")) {
			return dir, nil
		}
	}
	return "", fmt.Errorf("%w: initdb and pg_ctl are neither on PATH nor in /usr/lib/postgresql/*/bin "+
		"(Debian: apt-get install postgresql)", ErrNoServer)
}

// versionOf reads the major version from a path such as
// /usr/lib/postgresql/15/bin, 0 when there is none.
func versionOf(dir string) int {
	for _, part := range strings.FieldsFunc(dir, func(r rune) bool { return r == '/' || r == '-' }) {
		if n, err := strconv.Atoi(part); err == nil {
			return n
		}
	}
	return 0
}

func isExec(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
