package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeAgentAPI answers delegate_payment like acpgw (a vt_ token per request,
// or a 400 for a body without a checkout session) and serves a stand-in
// CPU profile, recording what it was asked.
type fakeAgentAPI struct {
	mu       sync.Mutex
	sessions map[string]int
	idem     map[string]int
	profiles []string // the seconds parameter of each profile request
}

func (f *fakeAgentAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/agentic_commerce/delegate_payment":
		var req delegateRequest
		if r.Header.Get("Authorization") != "Bearer agent-key" || json.NewDecoder(r.Body).Decode(&req) != nil || req.Allowance.CheckoutSessionID == "" {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"type":"invalid_request","code":"invalid_request"}`)
			return
		}
		f.mu.Lock()
		f.sessions[req.Allowance.CheckoutSessionID]++
		f.idem[r.Header.Get("Idempotency-Key")]++
		n := len(f.idem)
		f.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"id":"vt_%d","created":"2026-01-01T00:00:00Z","metadata":{}}`, n)
	case "/debug/pprof/profile":
		f.mu.Lock()
		f.profiles = append(f.profiles, r.URL.Query().Get("seconds"))
		f.mu.Unlock()
		io.WriteString(w, "stand-in profile")
	default:
		http.NotFound(w, r)
	}
}

// TestRunDelegate runs the closed loop on delegate_payment with the server's
// CPU sampled (this test process stands in for it) and a CPU profile
// fetched, and checks the JSON report and the profile file.
func TestRunDelegate(t *testing.T) {
	fake := &fakeAgentAPI{sessions: map[string]int{}, idem: map[string]int{}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	prof := filepath.Join(t.TempDir(), "cpu.pprof")
	var out, errb bytes.Buffer
	code := realMain([]string{"run", "--delegate", "--url", srv.URL, "--agent-key", "agent-key", "--concurrency", "2",
		"--duration", "300ms", "--warmup", "100ms", "--server-pid", fmt.Sprint(os.Getpid()), "--clk-tck", "100",
		"--pprof-url", srv.URL + "/", "--cpu-profile", prof, "--json"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	rep, err := decodeReport(out.Bytes())
	if err != nil {
		t.Fatalf("report: %v\n%s", err, out.String())
	}
	if rep.Operation != opDelegate || rep.Successes == 0 || rep.Successes != rep.Requests || rep.Statuses["issued"] != rep.Successes || rep.TokensIssued != 0 {
		t.Errorf("report %+v", rep)
	}
	if rep.CPUSeconds == nil || rep.CPUPerOpUS == nil || *rep.CPUSeconds < 0 || rep.ServerPID != os.Getpid() {
		t.Fatalf("no server CPU in the report: %s", out.String())
	}
	if want := cpuPerOp(*rep.CPUSeconds, rep.Successes); *rep.CPUPerOpUS != want {
		t.Errorf("cpu_per_op_us %v, want %v", *rep.CPUPerOpUS, want)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	for s, n := range fake.sessions {
		if n != 1 {
			t.Errorf("checkout session %s sent %d times; each delegation needs its own", s, n)
		}
	}
	for k, n := range fake.idem {
		if n != 1 {
			t.Errorf("idempotency key %s sent %d times", k, n)
		}
	}
	if strings.Join(fake.profiles, ",") != "1" {
		t.Errorf("profile requests with seconds %q, want one of 1", fake.profiles)
	}
	if b, err := os.ReadFile(prof); err != nil || string(b) != "stand-in profile" {
		t.Errorf("profile file: %q %v", b, err)
	}
}

func TestRunFlagErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--bare", "--delegate"}, "exclude each other"},
		{[]string{"--delegate"}, "--agent-key is required"},
		{[]string{"--bare", "--cpu-profile", "x.pprof"}, "go together"},
		{[]string{"--bare", "--server-pid", "1", "--clk-tck", "0"}, "--clk-tck must be positive"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			t.Parallel()
			_, err := parseRunFlags(tc.args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v, want one containing %q", err, tc.msg)
			}
		})
	}
}

// TestCPUWindow: the CPU time of a process that burns CPU grows, read from
// /proc; an unknown pid is an error, no pid no window.
func TestCPUWindow(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	w, err := startCPU(os.Getpid(), 100)
	if err != nil {
		t.Fatal(err)
	}
	// Burn CPU until the kernel has counted at least one tick (10 ms at
	// 100 Hz), bounded so a broken reader fails instead of spinning.
	deadline := time.Now().Add(20 * time.Second)
	x := 0
	var secs float64
	for secs == 0 && time.Now().Before(deadline) {
		for i := range 1_000_000 {
			x += i
		}
		if secs, err = w.stop(); err != nil {
			t.Fatal(err)
		}
	}
	if secs <= 0 || secs > 25 {
		t.Fatalf("cpu seconds %v after burning CPU (%d)", secs, x)
	}
	if w, err := startCPU(0, 100); w != nil || err != nil {
		t.Errorf("startCPU(0) = %v, %v; want nothing", w, err)
	}
	if _, err := startCPU(1<<30, 100); err == nil || !strings.Contains(err.Error(), "--server-pid") {
		t.Errorf("startCPU(unknown pid) = %v", err)
	}
}

func TestProfileSeconds(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]int{
		300 * time.Millisecond: 1, time.Second: 1, 3 * time.Second: 3, 2500 * time.Millisecond: 3, 10*time.Second + 400*time.Millisecond: 10,
	} {
		if got := profileSeconds(d); got != want {
			t.Errorf("profileSeconds(%s) = %d, want %d", d, got, want)
		}
	}
}

func TestCPUPerOp(t *testing.T) {
	t.Parallel()
	if got := cpuPerOp(1.5, 3000); got != 500 {
		t.Errorf("cpuPerOp(1.5 s, 3000) = %v µs, want 500", got)
	}
	if got := cpuPerOp(1, 0); got != 0 {
		t.Errorf("cpuPerOp with no successes = %v, want 0", got)
	}
}
