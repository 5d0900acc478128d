package api_test

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"acpgw/config"
	"acpgw/limits"
	"acpgw/limits/redistest"
)

// redisLimiter is a Redis rate limiter for a test; prefix keeps its keys
// apart from other tests on the same Redis.
func redisLimiter(t *testing.T, url, prefix, onError string, now func() time.Time) *limits.Redis {
	t.Helper()
	l, err := limits.NewRedis(limits.RedisOptions{URL: url, Prefix: prefix, OnError: onError, Timeout: time.Second, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// TestRateLimitSharedAcrossReplicas: two replicas, each with its own
// limiter on one Redis, hold a merchant to its limit in total. With
// per-replica memory limiters the same traffic gets twice as much through
// (checked too, so that the test can tell the two apart).
func TestRateLimitSharedAcrossReplicas(t *testing.T) {
	url := redistest.Shared(t)
	const perSecond, burst = 20, 10
	rateLimit := ", rate_limit: {per_second: " + strconv.Itoa(perSecond) + ", burst: " + strconv.Itoa(burst) + "}"

	run := func(t *testing.T, a, b *harness) (admitted int, elapsed time.Duration) {
		// Four clients per replica for two seconds: far more than 20/s.
		const window = 2 * time.Second
		var mu sync.Mutex
		var wg sync.WaitGroup
		perReplica := map[*harness]int{}
		start := time.Now()
		var last time.Time
		for _, h := range []*harness{a, b, a, b, a, b, a, b} {
			wg.Go(func() {
				for time.Since(start) < window {
					r := h.do(req{method: http.MethodGet, path: "/v1/payments/pay_none", key: acmeKey})
					at := time.Now()
					mu.Lock()
					switch r.status {
					case http.StatusNotFound:
						perReplica[h]++
						admitted++
						last = at
					case http.StatusTooManyRequests:
					default:
						t.Errorf("status %d: %s", r.status, r.raw)
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if perReplica[a] == 0 || perReplica[b] == 0 {
			t.Fatalf("admitted per replica %d and %d: both must serve", perReplica[a], perReplica[b])
		}
		return admitted, last.Sub(start)
	}

	t.Run("redis", func(t *testing.T) {
		prefix := redistest.Prefix()
		a := newHarness(t, harnessOpts{acmeExtra: rateLimit, limiter: func(now func() time.Time) limits.Limiter {
			return redisLimiter(t, url, prefix, config.OnErrorDeny, now)
		}})
		b := a.replica(redisLimiter(t, url, prefix, config.OnErrorDeny, nil))
		admitted, elapsed := run(t, a, b)
		// GCRA on Redis's clock: the burst, then perSecond.
		want := burst + perSecond*elapsed.Seconds()
		t.Logf("two replicas sharing Redis admitted %d in %s; the limit allows %.1f", admitted, elapsed.Round(time.Millisecond), want)
		if math.Abs(float64(admitted)-want) > 0.1*want {
			t.Fatalf("admitted %d in %s, want %.1f ± 10%%: the limit is not held in total", admitted, elapsed, want)
		}
	})
	t.Run("memory", func(t *testing.T) {
		a := newHarness(t, harnessOpts{acmeExtra: rateLimit})
		b := a.replica(nil)
		admitted, elapsed := run(t, a, b)
		want := 2 * (burst + perSecond*elapsed.Seconds())
		t.Logf("two replicas counting in memory admitted %d in %s; twice the limit is %.1f", admitted, elapsed.Round(time.Millisecond), want)
		if math.Abs(float64(admitted)-want) > 0.1*want {
			t.Fatalf("admitted %d in %s, want %.1f ± 10%% (each replica its own limit)", admitted, elapsed, want)
		}
	})
}

// TestRateLimitRedisDown: Redis stops under two replicas, one with
// on_error deny and one with allow. deny answers 429 with Retry-After (not
// stored under the request's Idempotency-Key: once Redis is back, the same
// request runs and charges); allow admits. Both count the errors and
// share the limit again once Redis answers.
func TestRateLimitRedisDown(t *testing.T) {
	srv := redistest.Start(t)
	prefix := redistest.Prefix()
	deny := newHarness(t, harnessOpts{acmeExtra: ", rate_limit: {per_second: 100, burst: 100}",
		limiter: func(now func() time.Time) limits.Limiter {
			return redisLimiter(t, srv.URL(), prefix, config.OnErrorDeny, now)
		}})
	allow := deny.replica(redisLimiter(t, srv.URL(), prefix, config.OnErrorAllow, deny.clock.Now))

	if r := deny.pay(deny.delegate("4242424242424242", 1000), 1000, "automatic"); r.status != http.StatusCreated {
		t.Fatalf("Redis up: %d %s", r.status, r.raw)
	}

	srv.Stop()
	tok := deny.delegate("4242424242424242", 1000)
	key := newKey()
	pay := func(h *harness) response {
		return h.do(req{path: "/v1/payments", key: acmeKey, idem: key, body: payBody(tok, 1000, "automatic")})
	}
	r := pay(deny)
	if r.status != http.StatusTooManyRequests || r.str("code") != "too_many_requests" {
		t.Fatalf("on_error deny, Redis stopped: %d %s", r.status, r.raw)
	}
	if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 {
		t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
	}
	if r := allow.do(req{method: http.MethodGet, path: "/v1/payments/pay_none", key: acmeKey}); r.status != http.StatusNotFound {
		t.Fatalf("on_error allow, Redis stopped: %d %s", r.status, r.raw)
	}
	if n := metricValue(t, deny.reg, "acpgw_rate_limit_backend_errors_total", map[string]string{"result": "denied"}); n != 1 {
		t.Errorf("deny replica: backend errors{denied} = %v, want 1", n)
	}
	if n := metricValue(t, allow.reg, "acpgw_rate_limit_backend_errors_total", map[string]string{"result": "allowed"}); n != 1 {
		t.Errorf("allow replica: backend errors{allowed} = %v, want 1", n)
	}

	srv.Restart()
	// Past the back-off (10 x the 1s timeout), the next request probes
	// Redis; a connection the crash broke may fail one probe.
	for i := 0; ; i++ {
		deny.clock.advance(11 * time.Second)
		r = pay(deny)
		if r.status != http.StatusTooManyRequests || i == 3 {
			break
		}
	}
	if r.status != http.StatusCreated || r.str("status") != "captured" || r.header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("same request once Redis is back: %d %s (Idempotent-Replayed %q); the 429 must not have been stored",
			r.status, r.raw, r.header.Get("Idempotent-Replayed"))
	}
	if r := allow.do(req{method: http.MethodGet, path: "/v1/payments/pay_none", key: acmeKey}); r.status != http.StatusNotFound {
		t.Fatalf("allow replica after Redis returned: %d", r.status)
	}
	if n := metricValue(t, allow.reg, "acpgw_rate_limit_backend_errors_total", map[string]string{"result": "allowed"}); n > 2 {
		t.Errorf("allow replica still counts errors after Redis returned: %v", n)
	}
}
