package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestVersionAndUsage(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "acpgw ") {
		t.Fatalf("version: %d %q", code, out.String())
	}
	if code := run(context.Background(), []string{"frobnicate"}, &out, &errb); code != 2 {
		t.Fatalf("unknown command exit %d", code)
	}
	if code := run(context.Background(), nil, &out, &errb); code != 2 {
		t.Fatalf("no command exit %d", code)
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	writeConfig(t, good, dir, "[mock]")
	writeConfig(t, bad, dir, "[nowhere]")
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"config", "check", "--config", good}, &out, &errb); code != 0 {
		t.Fatalf("good config: %d %s", code, errb.String())
	}
	errb.Reset()
	if code := run(context.Background(), []string{"config", "check", "--config", bad}, &out, &errb); code != 1 {
		t.Fatalf("bad config exit %d", code)
	}
	if !strings.Contains(errb.String(), "bad.yaml:7:") || !strings.Contains(errb.String(), "nowhere") {
		t.Fatalf("message must name file, line and value: %s", errb.String())
	}
	if code := run(context.Background(), []string{"config", "check"}, &out, &errb); code != 2 {
		t.Fatalf("missing --config exit %d", code)
	}
}

func writeConfig(t *testing.T, path, dir, processors string) {
	t.Helper()
	y := fmt.Sprintf(`store: {driver: sqlite, dsn: %q}
vault: {keys: [{id: k1, key: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}]}
agents: [{id: a, api_key: agent-key}]
processors:
  mock: {type: mock}
merchants:
  - {id: m, api_key: merchant-key, processors: %s}
`, filepath.Join(dir, "db.sqlite"), processors)
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestServeLifecycle starts the real serve command, checks readiness, then
// cancels it (what SIGTERM does) and expects a clean exit.
func TestServeLifecycle(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	writeConfig(t, cfg, dir, "[mock]")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve", "--config", cfg, "--listen", addr}, &out, &errb) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("never ready: %v %s", err, errb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errb.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not stop")
	}
	if _, err := http.Get("http://" + addr + "/healthz"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}
