package main

import (
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// burnEnv makes the test binary, started by TestDBCPUWindow, the child that
// burns CPU (see TestMain).
const burnEnv = "ACPGW_LOAD_BURN"

// TestMain runs the tests, or, with burnEnv set, is TestDBCPUWindow's
// child: with burnEnv=ticks it burns CPU until its own /proc stat counts
// ten clock ticks and exits; with burnEnv=stdin, until its stdin closes.
func TestMain(m *testing.M) {
	if mode := os.Getenv(burnEnv); mode != "" {
		burn(mode)
	}
	os.Exit(m.Run())
}

// burnSink keeps burn's loop from being optimised away.
var burnSink int

func burn(mode string) {
	done := make(chan struct{})
	if mode == "stdin" {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			close(done)
		}()
	}
	for {
		burnSink = 0
		for i := range 1_000_000 {
			burnSink += i
		}
		select {
		case <-done:
			os.Exit(0)
		default:
		}
		if mode == "ticks" {
			if n, err := cpuTicks(os.Getpid()); err != nil || n >= 10 {
				os.Exit(0)
			}
		}
	}
}

func burner(t *testing.T, mode string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), burnEnv+"="+mode)
	return cmd
}

// TestDBCPUWindow: a database server's CPU counts its children's, both a
// child still running and one that ended and was waited for in the window;
// the server's own CPU (--server-pid) does not.
func TestDBCPUWindow(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	self := os.Getpid()
	// window starts a --db-pid window on this process; its stop returns
	// the CPU counted beyond the process's own (its children's), in ticks.
	window := func() (stop func() uint64) {
		db, err := startDBCPU(self, 1)
		if err != nil {
			t.Fatal(err)
		}
		own, err := startCPU(self, 1)
		if err != nil {
			t.Fatal(err)
		}
		return func() uint64 {
			o, err := own.stop()
			if err != nil {
				t.Fatal(err)
			}
			d, err := db.stop()
			if err != nil {
				t.Fatal(err)
			}
			return uint64(d) - uint64(o)
		}
	}

	t.Run("ended child", func(t *testing.T) {
		stop := window()
		cmd := burner(t, "ticks")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("child: %v\n%s", err, out)
		}
		// The child burned 10 ticks of its own before it exited; the two
		// clocks round differently, by a tick at most.
		if got := stop(); got < 9 {
			t.Errorf("children's CPU in the window: %d ticks, want the ended child's 10 or so", got)
		}
	})

	t.Run("live child", func(t *testing.T) {
		cmd := burner(t, "stdin")
		in, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() {
			_ = in.Close()
			_ = cmd.Wait()
		}()
		stop := window()
		base, err := cpuTicks(cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		// Wait for the child to burn 10 ticks inside the window (bounded, so
		// that a child that never runs fails the test).
		deadline := time.Now().Add(time.Minute)
		var now uint64
		for now < base+10 {
			if time.Now().After(deadline) {
				t.Fatalf("the child used %d ticks in a minute", now-base)
			}
			time.Sleep(time.Millisecond)
			if now, err = cpuTicks(cmd.Process.Pid); err != nil {
				t.Fatal(err)
			}
		}
		if got := stop(); got < now-base {
			t.Errorf("children's CPU in the window: %d ticks, want at least the live child's %d", got, now-base)
		}
	})

	if _, err := startDBCPU(1<<30, 100); err == nil || !strings.Contains(err.Error(), "--db-pid") {
		t.Errorf("startDBCPU(unknown pid) = %v", err)
	}
	if w, err := startDBCPU(0, 100); w != nil || err != nil {
		t.Errorf("startDBCPU(0) = %v, %v; want nothing", w, err)
	}
}
