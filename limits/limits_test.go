package limits_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"acpgw/config"
	"acpgw/limits"
	"acpgw/limits/redistest"
)

// fakeClock is a clock that moves only when told.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

func TestMemory(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	m := limits.NewMemory(clock.Now)
	ctx := context.Background()
	lim := config.RateLimit{PerSecond: 2, Burst: 3}
	for i := range 3 {
		if d, err := m.Allow(ctx, "merchant:acme", lim); err != nil || !d.Allowed {
			t.Fatalf("request %d of the burst: %+v, %v", i+1, d, err)
		}
	}
	d, err := m.Allow(ctx, "merchant:acme", lim)
	if err != nil || d.Allowed || d.RetryAfter != 500*time.Millisecond {
		t.Fatalf("past the burst: %+v, %v; want denied, retry after 500ms", d, err)
	}
	// Another caller has its own bucket.
	if d, _ := m.Allow(ctx, "merchant:other", lim); !d.Allowed {
		t.Fatal("another caller was limited")
	}
	// A denial took no token: half a second later one request passes.
	clock.advance(500 * time.Millisecond)
	if d, _ := m.Allow(ctx, "merchant:acme", lim); !d.Allowed {
		t.Fatal("refilled token not given")
	}
	if d, _ := m.Allow(ctx, "merchant:acme", lim); d.Allowed {
		t.Fatal("more than the refill was given")
	}
	// A reload that changes the limit starts a new bucket.
	if d, _ := m.Allow(ctx, "merchant:acme", config.RateLimit{PerSecond: 2, Burst: 4}); !d.Allowed {
		t.Fatal("new limit kept the old bucket")
	}
}

// TestRedisShared: two limiters on one Redis (two replicas) share each
// key's burst; another key has its own.
func TestRedisShared(t *testing.T) {
	t.Parallel()
	url := redistest.Shared(t)
	prefix := redistest.Prefix()
	var reps []*limits.Redis
	for range 2 {
		r, err := limits.NewRedis(limits.RedisOptions{URL: url, OnError: config.OnErrorDeny, Prefix: prefix, Timeout: 2 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		reps = append(reps, r)
	}
	ctx := context.Background()
	// One token a second: the burst passes, plus one per second the loop
	// takes on a slow machine.
	lim := config.RateLimit{PerSecond: 1, Burst: 10}
	start := time.Now()
	allowed := 0
	var retry time.Duration
	for i := range 40 {
		d, err := reps[i%2].Allow(ctx, "merchant:acme", lim)
		if err != nil {
			t.Fatal(err)
		}
		if d.Allowed {
			allowed++
		} else {
			retry = d.RetryAfter
		}
	}
	elapsed := time.Since(start)
	// A second of refill is one more token.
	if max := 10 + int(elapsed/time.Second); allowed < 10 || allowed > max {
		t.Fatalf("two replicas admitted %d of 40 in %s; want the one burst of 10 (at most %d)", allowed, elapsed, max)
	}
	if retry <= 0 || retry > time.Second {
		t.Fatalf("RetryAfter %s, want (0, 1s]", retry)
	}
	if d, err := reps[1].Allow(ctx, "merchant:other", lim); err != nil || !d.Allowed {
		t.Fatalf("another key: %+v, %v", d, err)
	}
}

// TestRedisOnError: with its Redis stopped, a limiter follows on_error
// (allow admits, deny answers with a Retry-After), asks Redis at most once
// per back-off, logs the outage once, and shares limits again as soon as
// Redis answers.
func TestRedisOnError(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	clock := newFakeClock()
	var logs syncBuffer
	var states []bool
	var mu sync.Mutex
	mk := func(onError string) *limits.Redis {
		r, err := limits.NewRedis(limits.RedisOptions{
			URL: srv.URL(), OnError: onError, Timeout: time.Second, Now: clock.Now,
			Logger: slog.New(slog.NewTextHandler(&logs, nil)),
			OnState: func(up bool) {
				mu.Lock()
				states = append(states, up)
				mu.Unlock()
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { r.Close() })
		return r
	}
	allow, deny := mk(config.OnErrorAllow), mk(config.OnErrorDeny)
	ctx := context.Background()
	lim := config.RateLimit{PerSecond: 1, Burst: 2}
	for key, r := range map[string]*limits.Redis{"merchant:a": allow, "merchant:d": deny} {
		if err := r.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if d, err := r.Allow(ctx, key, lim); err != nil || d.Allowed != (i < 2) {
				t.Fatalf("Redis up, %s request %d: %+v, %v", key, i+1, d, err)
			}
		}
	}

	srv.Stop()
	d, err := allow.Allow(ctx, "merchant:acme", lim)
	if err == nil || !d.Allowed {
		t.Fatalf("on_error allow, Redis stopped: %+v, %v; want admitted with an error", d, err)
	}
	d, err = deny.Allow(ctx, "merchant:acme", lim)
	if err == nil || d.Allowed || d.RetryAfter < time.Second {
		t.Fatalf("on_error deny, Redis stopped: %+v, %v; want denied, retry after >= 1s", d, err)
	}
	// Within the back-off Redis is not asked at all.
	for range 5 {
		if d, err := deny.Allow(ctx, "merchant:acme", lim); !errors.Is(err, limits.ErrUnavailable) || d.Allowed {
			t.Fatalf("within the back-off: %+v, %v; want ErrUnavailable, denied", d, err)
		}
	}
	if n := strings.Count(logs.String(), "redis is not answering"); n != 2 {
		t.Errorf("outage logged %d times, want once per limiter:\n%s", n, logs.String())
	}

	srv.Restart()
	// Once the back-off has passed, a probe finds Redis and limits are
	// shared again. A connection the crash broke may fail one probe.
	recovered := func(r *limits.Redis) {
		t.Helper()
		for range 3 {
			clock.advance(10 * time.Second)
			if _, err := r.Allow(ctx, "merchant:probe", lim); err == nil {
				return
			}
		}
		t.Fatalf("no recovery after Redis returned:\n%s", logs.String())
	}
	recovered(allow)
	recovered(deny)
	for i := range 3 {
		d, err := deny.Allow(ctx, "merchant:after", lim)
		if err != nil || d.Allowed != (i < 2) {
			t.Fatalf("after recovery, request %d: %+v, %v", i+1, d, err)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(states) != 4 || states[0] || states[1] || !states[2] || !states[3] {
		t.Errorf("state changes %v, want [false false true true]", states)
	}
	if n := strings.Count(logs.String(), "redis answers again"); n != 2 {
		t.Errorf("recovery logged %d times, want 2:\n%s", n, logs.String())
	}
}

// TestNewRedisHidesPassword: a URL that does not parse is refused without
// quoting it.
func TestNewRedisHidesPassword(t *testing.T) {
	t.Parallel()
	_, err := limits.NewRedis(limits.RedisOptions{URL: "redis://:hunter2@[::1", OnError: config.OnErrorAllow})
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("err %v", err)
	}
	if _, err := limits.NewRedis(limits.RedisOptions{URL: "redis://127.0.0.1:6379", OnError: "maybe"}); err == nil {
		t.Fatal("on_error maybe accepted")
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
