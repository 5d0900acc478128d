package routing

import (
	"sync"
	"testing"
	"time"

	"acpgw/config"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestBreakerTransitions(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	var changes []State
	b := NewBreakers(clk.now, func(_ string, s State) { changes = append(changes, s) })
	b.Configure("p", config.Circuit{FailureRatio: 500000, Window: 10 * time.Second, MinRequests: 4, OpenFor: 5 * time.Second, HalfOpenProbes: 1})

	// Below min_requests nothing opens, whatever the ratio.
	for range 3 {
		b.Record("p", true, time.Millisecond)
	}
	if b.Open("p") {
		t.Fatal("opened below min_requests")
	}
	// The fourth failure: 4/4 >= 50%.
	b.Record("p", true, time.Millisecond)
	if !b.Open("p") || b.Allow("p") {
		t.Fatal("not open after 4 failures")
	}
	// Still open just before open_for ends.
	clk.add(4999 * time.Millisecond)
	if !b.Open("p") {
		t.Fatal("closed early")
	}
	// Half-open: one probe admitted, a second refused.
	clk.add(time.Millisecond)
	if b.Open("p") || b.Get("p").State() != HalfOpen {
		t.Fatal("not half-open after open_for")
	}
	if !b.Allow("p") || b.Allow("p") {
		t.Fatal("half-open must admit exactly one probe")
	}
	// The probe fails: open again.
	b.Record("p", true, time.Millisecond)
	if !b.Open("p") {
		t.Fatal("failed probe did not reopen")
	}
	clk.add(5 * time.Second)
	if !b.Allow("p") {
		t.Fatal("no probe after second open_for")
	}
	// The probe succeeds: closed, with a clean window.
	b.Record("p", false, time.Millisecond)
	if b.Get("p").State() != Closed {
		t.Fatal("successful probe did not close")
	}
	for range 3 {
		b.Record("p", true, time.Millisecond)
	}
	if b.Open("p") {
		t.Fatal("old failures counted after closing")
	}
	want := []State{Closed, Open, HalfOpen, Open, HalfOpen, Closed}
	if len(changes) != len(want) {
		t.Fatalf("changes %v, want %v", changes, want)
	}
	for i := range want {
		if changes[i] != want[i] {
			t.Fatalf("changes %v, want %v", changes, want)
		}
	}
}

func TestBreakerWindowAndRatio(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	b := NewBreakers(clk.now, nil)
	b.Configure("p", config.Circuit{FailureRatio: 500000, Window: 10 * time.Second, MinRequests: 10, OpenFor: time.Second, HalfOpenProbes: 1})
	// Declines are successes to the breaker; 4 failures in 10 is below 50%.
	for i := range 10 {
		b.Record("p", i < 4, time.Millisecond)
	}
	if b.Open("p") {
		t.Fatal("opened at 40%")
	}
	// The window slides: after 11 s the old outcomes no longer count.
	clk.add(11 * time.Second)
	for range 9 {
		b.Record("p", true, time.Millisecond)
	}
	if b.Open("p") {
		t.Fatal("outcomes from outside the window counted")
	}
	b.Record("p", true, time.Millisecond)
	if !b.Open("p") {
		t.Fatal("10 failures in the window did not open")
	}
	// Reconfiguring keeps the state.
	b.Configure("p", config.Circuit{FailureRatio: 900000, Window: time.Second, MinRequests: 1, OpenFor: time.Hour})
	if !b.Open("p") {
		t.Fatal("reconfigure reset the state")
	}
	// A disabled breaker never opens.
	b.Configure("q", config.Circuit{Disabled: true, FailureRatio: 1, MinRequests: 1})
	for range 100 {
		b.Record("q", true, time.Millisecond)
	}
	if b.Open("q") {
		t.Fatal("disabled breaker opened")
	}
}

func TestLatencyP99(t *testing.T) {
	clk := &clock{t: time.Unix(1_700_000_000, 0)}
	b := NewBreakers(clk.now, nil)
	b.Configure("p", config.Circuit{Window: time.Second, MinRequests: 1000, FailureRatio: 1000000})
	for i := 1; i <= 1000; i++ {
		b.Record("p", false, time.Duration(i)*time.Millisecond)
	}
	clk.add(2 * time.Second)
	b.Record("p", false, time.Millisecond)
	if p99 := b.LatencyP99("p"); p99 < 980*time.Millisecond || p99 > 1000*time.Millisecond {
		t.Fatalf("p99 %v", p99)
	}
}
