package limits

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"acpgw/config"
)

// Memory keeps one token bucket per key in process memory. Behind a load
// balancer of N replicas, each with its own Memory, a caller gets up to N
// times its limit. Keys are the callers that config lists, so the map stays
// small.
type Memory struct {
	now func() time.Time
	mu  sync.Mutex
	m   map[string]*bucket
}

type bucket struct {
	cfg config.RateLimit
	l   *rate.Limiter
}

var _ Limiter = (*Memory)(nil)

// NewMemory returns a Memory on the clock now (time.Now when nil).
func NewMemory(now func() time.Time) *Memory {
	if now == nil {
		now = time.Now
	}
	return &Memory{now: now, m: map[string]*bucket{}}
}

// get returns key's bucket, rebuilt when a reload changed its limit.
func (ms *Memory) get(key string, cfg config.RateLimit) *rate.Limiter {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if b, ok := ms.m[key]; ok && b.cfg == cfg {
		return b.l
	}
	l := rate.NewLimiter(rate.Limit(cfg.PerSecond), max(cfg.Burst, 1))
	ms.m[key] = &bucket{cfg: cfg, l: l}
	return l
}

// Allow takes a token from key's bucket if one is there now. It never
// fails.
func (ms *Memory) Allow(_ context.Context, key string, cfg config.RateLimit) (Decision, error) {
	now := ms.now()
	r := ms.get(key, cfg).ReserveN(now, 1)
	if delay := r.DelayFrom(now); delay > 0 {
		r.CancelAt(now)
		return Decision{RetryAfter: delay}, nil
	}
	return Decision{Allowed: true}, nil
}
