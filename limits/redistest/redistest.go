// Package redistest gives tests a Redis: the shared one named by
// ACPGW_TEST_REDIS_URL (default redis://127.0.0.1:6379/0, which .ci/run
// starts), with a key prefix of their own, or a redis-server process of
// their own that they may stop and start again. Without Redis tests skip,
// except under CI, where a skipped backend would pass unnoticed, so they
// fail.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// EnvURL names the variable holding the shared Redis's URL.
const EnvURL = "ACPGW_TEST_REDIS_URL"

// DefaultURL is the shared Redis when EnvURL is unset.
const DefaultURL = "redis://127.0.0.1:6379/0"

// readyWithin bounds how long a Redis gets to answer PING: generous, the
// test machines are shared and slow under -race.
const readyWithin = 20 * time.Second

// unavailable skips the test, or fails it under CI.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("%s, and CI is set: the Redis rate limits must be tested in CI", msg)
	}
	t.Skipf("%s: skipping (start one: redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\" --appendonly no)", msg)
}

// Shared returns the URL of the shared Redis after checking that it
// answers. Tests sharing it keep to keys under their own Prefix.
func Shared(t testing.TB) string {
	t.Helper()
	url := os.Getenv(EnvURL)
	if url == "" {
		url = DefaultURL
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("%s: %v", EnvURL, err)
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		unavailable(t, "no Redis answers at %s (%v)", opts.Addr, err)
	}
	return url
}

// Prefix returns a key prefix no other test uses.
func Prefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "acpgw:test:" + hex.EncodeToString(b[:]) + ":"
}

// Server is a redis-server process of one test, on a loopback port of its
// own, without persistence. It is stopped when the test ends.
type Server struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
	done chan struct{}
}

// Start runs a redis-server for t and waits until it answers.
func Start(t testing.TB) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		unavailable(t, "redis-server is not installed (apt-get install redis-server)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &Server{t: t, bin: bin, dir: t.TempDir(), port: port}
	s.Restart()
	t.Cleanup(s.Stop)
	return s
}

// URL is the server's redis:// URL.
func (s *Server) URL() string { return "redis://127.0.0.1:" + strconv.Itoa(s.port) + "/0" }

// Restart starts the server again on its port (after Stop) and waits until
// it answers. Its data is gone: nothing is persisted.
func (s *Server) Restart() {
	s.t.Helper()
	if s.cmd != nil {
		s.t.Fatal("redistest: Restart of a running server")
	}
	logf, err := os.OpenFile(filepath.Join(s.dir, "redis.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		s.t.Fatal(err)
	}
	cmd := exec.Command(s.bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(s.port), "--save", "", "--appendonly", "no",
		"--dir", s.dir, "--daemonize", "no")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		s.t.Fatalf("start redis-server: %v", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(done)
	}()
	s.cmd, s.done = cmd, done
	c := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(s.port), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(readyWithin)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err := c.Ping(ctx).Err()
		cancel()
		if err == nil {
			return
		}
		select {
		case <-done:
			raw, _ := os.ReadFile(filepath.Join(s.dir, "redis.log"))
			s.t.Fatalf("redis-server on port %d exited: %s", s.port, raw)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("redis-server on port %d did not answer within %s: %v", s.port, readyWithin, err)
		}
	}
}

// Stop kills the server (as a crash would) and waits until it has exited,
// so that its port refuses connections. Stopping a stopped server does
// nothing.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd, s.done = nil, nil
}
