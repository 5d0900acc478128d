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
)

// debugConfig writes a valid config with server.debug_listen set to addr
// (left out when addr is "") and no drain delay, and returns its path.
func debugConfig(t *testing.T, addr string) string {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	writeConfig(t, cfg, dir, "[mock]")
	// No drain delay: the tests stop serve and wait for it.
	if addr != "" {
		appendFile(t, cfg, fmt.Sprintf("server: {debug_listen: %q, drain_delay: 0s}\n", addr))
	} else {
		appendFile(t, cfg, "server: {drain_delay: 0s}\n")
	}
	return cfg
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// get fetches url and returns its status and body.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// refused reports whether nothing accepts connections on addr.
func refused(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return true
	}
	c.Close()
	return false
}

// TestDebugListener: pprof answers on the debug address (from the config
// key, or from the flag, which wins) and nowhere else; the public listener
// answers 404 for it; the debug listener stops with the others.
func TestDebugListener(t *testing.T) {
	fromKey := freeAddr(t)
	fromFlag := freeAddr(t)
	for _, tc := range []struct {
		name   string
		key    string   // server.debug_listen
		flags  []string // extra serve flags
		serves string   // the address pprof must answer on
		silent string   // an address nothing may listen on ("" none)
	}{
		{name: "config key", key: fromKey, serves: fromKey},
		{name: "flag wins", key: fromKey, flags: []string{"--debug-listen", fromFlag}, serves: fromFlag, silent: fromKey},
		{name: "flag alone", flags: []string{"--debug-listen", fromFlag}, serves: fromFlag},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, stop := serveConfig(t, debugConfig(t, tc.key), tc.flags...)
			code, body := get(t, "http://"+tc.serves+"/debug/pprof/")
			if code != http.StatusOK || !strings.Contains(body, "goroutine") || !strings.Contains(body, "profile") {
				t.Fatalf("debug listener /debug/pprof/: %d %.300s", code, body)
			}
			if code, body := get(t, "http://"+tc.serves+"/debug/pprof/goroutine?debug=1"); code != http.StatusOK || !strings.Contains(body, "goroutine profile:") {
				t.Fatalf("debug listener goroutine profile: %d %.300s", code, body)
			}
			for _, path := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1", "/debug/pprof/cmdline"} {
				if code, _ := get(t, base+path); code != http.StatusNotFound {
					t.Errorf("public listener %s: %d, want 404", path, code)
				}
			}
			if code, _ := get(t, "http://"+tc.serves+"/healthz"); code != http.StatusNotFound {
				t.Errorf("debug listener serves the API's /healthz: %d, want 404", code)
			}
			if tc.silent != "" && !refused(tc.silent) {
				t.Errorf("%s accepts connections; the flag should have replaced server.debug_listen", tc.silent)
			}
			stop()
			if !refused(tc.serves) {
				t.Errorf("debug listener %s still accepts connections after shutdown", tc.serves)
			}
		})
	}
}

// TestDebugListenerOffByDefault: with neither key nor flag, the public
// listener has no pprof either.
func TestDebugListenerOffByDefault(t *testing.T) {
	base, _ := serveConfig(t, debugConfig(t, ""))
	if code, _ := get(t, base+"/debug/pprof/"); code != http.StatusNotFound {
		t.Fatalf("public listener /debug/pprof/: %d, want 404", code)
	}
}

// TestDebugListenInUse: a debug address that cannot be listened on fails
// start-up with a message naming the debug listener, and the API address
// taken before it is released again.
func TestDebugListenInUse(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	api := freeAddr(t)
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(context.Background(), []string{"serve", "--config", debugConfig(t, ""), "--listen", api,
			"--debug-listen", busy.Addr().String()}, &out, &errb)
	}()
	select {
	case code := <-done:
		if code != 1 {
			t.Fatalf("exit %d, want 1: %s", code, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not fail on a debug address in use")
	}
	if msg := errb.String(); !strings.Contains(msg, "debug listener") || !strings.Contains(msg, "address already in use") {
		t.Fatalf("message should name the debug listener and the cause: %q", msg)
	}
	if strings.Contains(out.String(), "acpgw listening") {
		t.Errorf("serve said it was listening before failing:\n%s", out.String())
	}
	ln, err := net.Listen("tcp", api)
	if err != nil {
		t.Fatalf("the API address is still taken after the failed start: %v", err)
	}
	ln.Close()
}

// TestConfigCheckDebugListen: config check names file, line and
// server.debug_listen for a bad address.
func TestConfigCheckDebugListen(t *testing.T) {
	for _, tc := range []struct{ name, value, msg string }{
		{"no port", "localhost", "must be host:port"},
		{"the API listener", "127.0.0.1:8080", "never served on the API listener"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			cfg := filepath.Join(dir, "c.yaml")
			writeConfig(t, cfg, dir, "[mock]")
			b, err := os.ReadFile(cfg)
			if err != nil {
				t.Fatal(err)
			}
			line := strings.Count(string(b), "\n") + 2
			appendFile(t, cfg, fmt.Sprintf("server:\n  debug_listen: %q\n", tc.value))
			var out, errb bytes.Buffer
			if code := run(context.Background(), []string{"config", "check", "--config", cfg}, &out, &errb); code != 1 {
				t.Fatalf("exit %d, want 1: %s%s", code, out.String(), errb.String())
			}
			want := fmt.Sprintf("c.yaml:%d: server.debug_listen: ", line)
			if !strings.Contains(errb.String(), want) || !strings.Contains(errb.String(), tc.msg) {
				t.Fatalf("message %q should contain %q and %q", errb.String(), want, tc.msg)
			}
		})
	}
}
