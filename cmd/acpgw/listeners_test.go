package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// fakeAPI is the API server as the shutdown sees it: /readyz answers 200
// until Drain, then 503.
type fakeAPI struct {
	drained  atomic.Bool
	draining chan struct{}
	once     sync.Once
}

func newFakeAPI() *fakeAPI { return &fakeAPI{draining: make(chan struct{})} }

func (a *fakeAPI) Drain() {
	a.drained.Store(true)
	a.once.Do(func() { close(a.draining) })
}

func (a *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if a.drained.Load() {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

var discard = slog.New(slog.DiscardHandler)

// TestListenerErrorReported: a server that stops by itself (here the
// metrics listener's socket is closed under it) reports its error, named,
// instead of vanishing; shutdown then stops the others and waits for every
// goroutine.
func TestListenerErrorReported(t *testing.T) {
	var ls listeners
	apiL, err := ls.add("api", "127.0.0.1:0", &http.Server{Handler: newFakeAPI()})
	if err != nil {
		t.Fatal(err)
	}
	metL, err := ls.add("metrics", "127.0.0.1:0", &http.Server{Handler: http.NotFoundHandler()})
	if err != nil {
		t.Fatal(err)
	}
	ls.start()
	metL.ln.Close()
	select {
	case err := <-ls.Err():
		if !strings.HasPrefix(err.Error(), "metrics listener: ") || !errors.Is(err, net.ErrClosed) {
			t.Fatalf("error %v; want the metrics listener's", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the metrics listener's error was never reported")
	}
	addr := apiL.ln.Addr().String()
	if refused(addr) {
		t.Fatal("the API listener stopped with the metrics one")
	}
	ls.shutdown(t.Context(), discard)
	if !refused(addr) {
		t.Fatal("the API listener still accepts after shutdown")
	}
}

// TestStopServingDrainDelay: on shutdown /readyz answers 503 while the
// listener still serves for the drain delay; only when it ends (a fake
// clock's tick, or a second signal) does the listener close.
func TestStopServingDrainDelay(t *testing.T) {
	for _, tc := range []struct {
		name string
		end  func(tick chan time.Time, cut chan struct{})
	}{
		{"the delay runs out", func(tick chan time.Time, _ chan struct{}) { tick <- time.Now() }},
		{"a second signal cuts it short", func(_ chan time.Time, cut chan struct{}) { close(cut) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := newFakeAPI()
			var ls listeners
			l, err := ls.add("api", "127.0.0.1:0", &http.Server{Handler: api})
			if err != nil {
				t.Fatal(err)
			}
			ls.start()
			base := "http://" + l.ln.Addr().String()
			tick, cut := make(chan time.Time), make(chan struct{})
			var asked atomic.Int64
			after := func(d time.Duration) <-chan time.Time {
				asked.Store(int64(d))
				return tick
			}
			done := make(chan struct{})
			go func() {
				defer close(done)
				stopServing(t.Context(), discard, api, &ls, 5*time.Second, 30*time.Second, after, cut)
			}()
			select {
			case <-api.draining:
			case <-time.After(30 * time.Second):
				t.Fatal("readiness never turned to 503")
			}
			// Draining, and still serving: load balancers see the 503.
			for range 3 {
				if code, _ := get(t, base+"/readyz"); code != http.StatusServiceUnavailable {
					t.Fatalf("/readyz while draining: %d, want 503", code)
				}
			}
			select {
			case <-done:
				t.Fatal("the listeners closed before the drain delay ended")
			default:
			}
			tc.end(tick, cut)
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("shutdown did not finish after the drain delay")
			}
			if asked.Load() != int64(5*time.Second) {
				t.Errorf("waited %v, want the drain delay 5s", time.Duration(asked.Load()))
			}
			if !refused(l.ln.Addr().String()) {
				t.Fatal("still serving after shutdown")
			}
		})
	}
}

// TestServeMetricsAddressInUse: a metrics.listen address that is taken
// fails start-up with an error that names the metrics listener, and leaves
// nothing behind: the API address is free again.
func TestServeMetricsAddressInUse(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	writeConfig(t, cfg, dir, "[mock]")
	appendFile(t, cfg, fmt.Sprintf("metrics: {listen: %q}\n", taken.Addr().String()))
	addr := freeAddr(t)
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"serve", "--config", cfg, "--listen", addr}, &out, &errb); code != 1 {
		t.Fatalf("exit %d, want 1: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "metrics listener") || !strings.Contains(errb.String(), "address already in use") {
		t.Errorf("error %q does not say the metrics address is in use", errb.String())
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the API address is still taken after a failed start: %v", err)
	}
	ln.Close()
}

// TestServeDrainsOnShutdown runs the real serve command with a drain delay
// far longer than the test: after the shutdown signal /readyz answers 503
// while the listener still serves, /metrics on its own listener too, and a
// second SIGTERM ends the delay: serve exits cleanly and both listeners are
// closed.
func TestServeDrainsOnShutdown(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	writeConfig(t, cfg, dir, "[mock]")
	metricsAddr := freeAddr(t)
	appendFile(t, cfg, fmt.Sprintf("server: {drain_delay: 1h}\nmetrics: {listen: %q}\n", metricsAddr))
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out syncWriter
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve", "--config", cfg, "--listen", addr}, &out, &out) }()
	waitStatus(t, "http://"+addr+"/readyz", http.StatusOK, done, &out)

	cancel() // what the first SIGTERM does
	waitStatus(t, "http://"+addr+"/readyz", http.StatusServiceUnavailable, done, &out)
	if code, _ := get(t, "http://"+metricsAddr+"/metrics"); code != http.StatusOK {
		t.Fatalf("/metrics while draining: %d", code)
	}
	select {
	case code := <-done:
		t.Fatalf("serve exited (%d) during the drain delay: %s", code, out.String())
	default:
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d: %s", code, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("a second SIGTERM did not end the drain delay: %s", out.String())
	}
	if !refused(addr) || !refused(metricsAddr) {
		t.Fatalf("a listener still accepts after serve returned (api %v, metrics %v)", !refused(addr), !refused(metricsAddr))
	}
	if !strings.Contains(out.String(), "draining") {
		t.Errorf("no draining line in the log:\n%s", out.String())
	}
}

// waitStatus polls url until it answers want; serve exiting first, or 20
// seconds passing, fails the test.
func waitStatus(t *testing.T, url string, want int, exited <-chan int, logs fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
		}
		select {
		case code := <-exited:
			t.Fatalf("serve exited (%d) before %s answered %d: %s", code, url, want, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never answered %d: %v %s", url, want, err, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// syncWriter is a bytes.Buffer safe for serve's log and the test to share.
type syncWriter struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}
