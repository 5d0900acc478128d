package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"acpgw/gateway"
)

// TestReloadUnderLoad: payments keep flowing through 50 reloads and none
// fails for them; a broken file is refused and the old config keeps
// serving; a change of the file is picked up by the watcher.
func TestReloadUnderLoad(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	path := filepath.Join(t.TempDir(), "acpgw.yaml")
	variantA := h.yaml
	variantB := strings.Replace(h.yaml, "percent: 2.9", "percent: 2.5", 1)
	if variantA == variantB {
		t.Fatal("variants equal")
	}
	write := func(s string) {
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(tmp, path); err != nil {
			t.Fatal(err)
		}
	}
	write(variantA)
	rl := &gateway.Reloader{Path: path, Build: h.build, Service: h.svc}

	// Tokens first, so that the load is payments only.
	const workers, perWorker = 4, 25
	tokens := make([][]string, workers)
	for w := range workers {
		for range perWorker {
			tokens[w] = append(tokens[w], h.delegate("4242424242424242", 1000))
		}
	}
	var (
		wg     sync.WaitGroup
		failed atomic.Int64
		ok     atomic.Int64
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, tok := range tokens[w] {
				r := h.pay(tok, 1000, "automatic")
				if r.status != http.StatusCreated || r.str("status") != "captured" {
					failed.Add(1)
					t.Errorf("payment during reload: %d %s", r.status, r.raw)
					continue
				}
				ok.Add(1)
			}
		}()
	}
	for i := range 50 {
		if i%2 == 0 {
			write(variantB)
		} else {
			write(variantA)
		}
		if err := rl.Reload(); err != nil {
			t.Fatalf("reload %d: %v", i, err)
		}
	}
	wg.Wait()
	if failed.Load() != 0 || ok.Load() != workers*perWorker {
		t.Fatalf("ok %d failed %d", ok.Load(), failed.Load())
	}

	// A broken file: refused with its line, the metric says so, and the
	// running config still serves.
	write(strings.Replace(variantA, "processors: [mock]", "processors: [nowhere]", 1))
	err := rl.Reload()
	if err == nil || !strings.Contains(err.Error(), "acpgw.yaml:") || !strings.Contains(err.Error(), "nowhere") {
		t.Fatalf("broken file: %v", err)
	}
	if v := gaugeValue(t, h, "acpgw_config_reload_success"); v != 0 {
		t.Fatalf("reload_success = %v", v)
	}
	mustStatus(t, h.pay(h.delegate("4242424242424242", 1000), 1000, "automatic"), http.StatusCreated)

	// The watcher picks up a fixed file: a new merchant becomes usable.
	// The file is written once the watch is in place; reloads are awaited
	// through their log line.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reloaded := make(chan struct{}, 1)
	watching := make(chan struct{})
	rl.Log = slog.New(signalHandler{msg: "config reloaded", c: reloaded})
	rl.Debounce = 20 * time.Millisecond
	rl.Watching = func() { close(watching) }
	done := make(chan struct{})
	go func() { _ = rl.Watch(ctx); close(done) }()
	<-watching
	write(strings.Replace(variantA, "merchants:\n", "merchants:\n  - {id: late, api_key: late-key, processors: [mock]}\n", 1))
	giveUp := time.NewTimer(30 * time.Second)
	defer giveUp.Stop()
	for picked := false; !picked; {
		select {
		case <-reloaded:
			_, picked = h.svc.Runtime().AuthenticateMerchant("late-key")
		case <-giveUp.C:
			t.Fatal("watcher did not reload the changed file")
		}
	}
	if v := gaugeValue(t, h, "acpgw_config_reload_success"); v != 1 {
		t.Fatalf("reload_success = %v after a good reload", v)
	}
	cancel()
	<-done
}

func gaugeValue(t *testing.T, h *harness, name string) float64 {
	t.Helper()
	mfs, err := h.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// signalHandler is a slog.Handler that sends on c (without blocking) for
// every record whose message is msg, and drops everything.
type signalHandler struct {
	msg string
	c   chan struct{}
}

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		select {
		case h.c <- struct{}{}:
		default:
		}
	}
	return nil
}

func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }

func (h signalHandler) WithGroup(string) slog.Handler { return h }
