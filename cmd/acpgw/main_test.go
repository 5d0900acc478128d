package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"acpgw/payment"
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

// TestConfigCheckSQLiteURL: a URL given to the sqlite driver fails `config
// check` with the file, line and key, without the DSN's password, and
// creates nothing (it once made a folder named "postgres:").
func TestConfigCheckSQLiteURL(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	path := filepath.Join(dir, "url.yaml")
	y := `vault: {keys: [{id: k1, key: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}]}
store:
  driver: sqlite
  dsn: "postgres://acpgw:hunter2secret@db:5432/acpgw"
`
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"config", "check", "--config", path}, &out, &errb); code != 1 {
		t.Fatalf("config check exit %d: %s %s", code, out.String(), errb.String())
	}
	msg := errb.String()
	if !strings.Contains(msg, "url.yaml:4: store.dsn:") || !strings.Contains(msg, "not a URL") || strings.Contains(msg, "hunter2secret") {
		t.Errorf("message must name file, line and key, and hide the password: %s", msg)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("config check left files behind: %v", entries)
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
	appendFile(t, cfg, "server: {drain_delay: 0s}\n") // TestServeDrainsOnShutdown tests the delay
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

func TestRouteExplain(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"route", "explain", "--config", "testdata/routing.yaml",
		"--merchant", "acme", "--amount", "4500", "--currency", "eur", "--json"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, want := range []string{`"rule": "eur-to-adyen"`, `"processor": "adyen_eu"`, `"estimated_fee": 54`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %s in %s", want, out.String())
		}
	}
	out.Reset()
	code = run(context.Background(), []string{"route", "explain", "--config", "testdata/routing.yaml",
		"--merchant", "acme", "--amount", "100", "--currency", "usd", "--token-kind", "spt"}, &out, &errb)
	if code != 0 || !strings.Contains(out.String(), "adyen_eu") || !strings.Contains(out.String(), "token_kind_not_supported") {
		t.Fatalf("spt explain: %d %s", code, out.String())
	}
	if code := run(context.Background(), []string{"route", "explain", "--config", "testdata/routing.yaml", "--merchant", "nobody", "--amount", "1", "--currency", "usd"}, &out, &errb); code != 1 {
		t.Fatalf("unknown merchant exit %d", code)
	}
}

func TestSimulate(t *testing.T) {
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"simulate", "--config", "testdata/routing.yaml", "--traffic", "testdata/traffic.csv"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	// least_cost can never cost more than priority on the same traffic.
	fees := map[string]string{}
	for _, line := range strings.Split(out.String(), "\n") {
		f := strings.Fields(line)
		if len(f) >= 6 && f[1] == "usd" {
			fees[f[0]] = f[4]
		}
	}
	pri, err1 := payment.Parse(fees["priority"], "usd")
	lc, err2 := payment.Parse(fees["least_cost"], "usd")
	if err1 != nil || err2 != nil || lc.Amount > pri.Amount {
		t.Fatalf("fees %v (%v %v)\n%s", fees, err1, err2, out.String())
	}
	bad := filepath.Join(t.TempDir(), "bad.csv")
	os.WriteFile(bad, []byte("merchant,amount,currency\nacme,12.5,usd\n"), 0o600)
	errb.Reset()
	if code := run(context.Background(), []string{"simulate", "--config", "testdata/routing.yaml", "--traffic", bad}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "bad.csv:2:") {
		t.Fatalf("bad csv: %d %s", code, errb.String())
	}
}

func TestFeesReportCommand(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	writeConfig(t, cfg, dir, "[mock]")
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"fees", "report", "--config", cfg, "--group-by", "processor,day"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.HasPrefix(out.String(), "from,to,processor,merchant,day,currency,payments") {
		t.Fatalf("csv header: %q", out.String())
	}
	errb.Reset()
	if code := run(context.Background(), []string{"fees", "report", "--config", cfg, "--group-by", "colour"}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "colour") {
		t.Fatalf("bad group: %d %s", code, errb.String())
	}
}

// FuzzReadTraffic: the simulate command's CSV decoder never panics, and
// every row it accepts is a valid positive amount in a known currency.
func FuzzReadTraffic(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/traffic/*.csv")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		rows, err := readTraffic(bytes.NewReader(in), "fuzz.csv")
		if err != nil {
			return
		}
		for _, r := range rows {
			if r.Amount.Amount <= 0 || !payment.ValidCurrency(r.Amount.Currency) {
				t.Fatalf("accepted %+v", r)
			}
		}
	})
}

// freeAddr returns a loopback host:port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// serveConfig runs `acpgw serve --config cfg [extra flags]` on a free
// loopback port until the test ends, waits for readiness, and returns the
// base URL. stop ends it early and checks it exited cleanly.
func serveConfig(t *testing.T, cfg string, extra ...string) (base string, stop func()) {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var errb bytes.Buffer
	done := make(chan int, 1)
	args := append([]string{"serve", "--config", cfg, "--listen", addr}, extra...)
	go func() { done <- run(ctx, args, io.Discard, &errb) }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d: %s", code, errb.String())
		}
	}
	t.Cleanup(stop)
	base = "http://" + addr
	waitReady(t, base)
	return base, stop
}
