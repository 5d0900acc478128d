package limits

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"acpgw/config"
)

// DefaultPrefix is the start of every key acpgw counts in Redis (after
// redis_rate's own "rate:").
const DefaultPrefix = "acpgw:ratelimit:"

// backoffFactor: after a failed call, Redis is asked again after
// backoffFactor times the call timeout.
const backoffFactor = 10

// RedisOptions configures a Redis limiter.
type RedisOptions struct {
	// URL is limits.redis_url. It may hold a password; it is never logged.
	URL string
	// OnError is config.OnErrorAllow or config.OnErrorDeny: the decision
	// while Redis cannot be asked.
	OnError string
	// Timeout bounds each call, connecting included (limits.timeout);
	// config.DefaultLimitsTimeout when 0.
	Timeout time.Duration
	// Prefix starts every key; DefaultPrefix when "". Replicas that share
	// a limit must share the prefix.
	Prefix string
	// Now is the clock of the back-off; time.Now when nil. The limit itself
	// runs on Redis's clock, the same for every replica.
	Now func() time.Time
	// Logger gets one line when Redis stops answering and one when it
	// answers again; nil discards them.
	Logger *slog.Logger
	// OnState, if set, is told each time Redis stops answering (false) or
	// answers again (true), e.g. for a gauge.
	OnState func(up bool)
}

// Redis counts requests in Redis with GCRA (the generic cell rate
// algorithm of github.com/go-redis/redis_rate, one Lua script per request
// on Redis's own clock), so every replica that shares the Redis shares each
// caller's limit.
//
// When a call fails (Redis down, slow, unreachable) the request gets the
// OnError decision, and Redis is not asked again for Timeout*10; then one
// request probes it while the others keep the OnError decision, and the
// first answer ends the outage. A Redis that does not answer so costs each
// request at most one Timeout, and most requests nothing.
type Redis struct {
	client  *redis.Client
	limiter *redis_rate.Limiter
	allow   bool
	timeout time.Duration
	prefix  string
	now     func() time.Time
	log     *slog.Logger
	onState func(bool)
	// retryAt is, while Redis is down, when it may be asked again (unix
	// nanoseconds); 0 while it answers.
	retryAt atomic.Int64
}

var _ Limiter = (*Redis)(nil)

// NewRedis parses o.URL and returns a limiter. It does not connect: a
// Redis that is down at start is an outage like any other.
func NewRedis(o RedisOptions) (*Redis, error) {
	opts, err := redis.ParseURL(o.URL)
	if err != nil {
		// ParseURL's messages quote no password, but say nothing of the URL
		// either way.
		return nil, errors.New("limits: redis_url is not a valid redis:// or rediss:// URL")
	}
	if o.OnError != config.OnErrorAllow && o.OnError != config.OnErrorDeny {
		return nil, fmt.Errorf("limits: on_error %q: want allow or deny", o.OnError)
	}
	if o.Timeout <= 0 {
		o.Timeout = config.DefaultLimitsTimeout
	}
	opts.DialTimeout = o.Timeout
	opts.ReadTimeout = o.Timeout
	opts.WriteTimeout = o.Timeout
	opts.PoolTimeout = o.Timeout
	opts.ContextTimeoutEnabled = true
	// go-redis re-sends a failed command up to 3 times by default: a
	// re-sent script could count one request twice, and each re-send
	// costs another timeout while Redis is down.
	opts.MaxRetries = -1
	// Nor dial again within one call (go-redis dials up to 5 times, 100ms
	// apart, by default): one failed dial fails the call.
	opts.DialerRetries = 1
	r := &Redis{
		client:  redis.NewClient(opts),
		allow:   o.OnError == config.OnErrorAllow,
		timeout: o.Timeout,
		prefix:  o.Prefix,
		now:     o.Now,
		log:     o.Logger,
		onState: o.OnState,
	}
	r.limiter = redis_rate.NewLimiter(r.client)
	if r.prefix == "" {
		r.prefix = DefaultPrefix
	}
	if r.now == nil {
		r.now = time.Now
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	return r, nil
}

// Allow counts one request of key in Redis.
func (r *Redis) Allow(ctx context.Context, key string, l config.RateLimit) (Decision, error) {
	if !r.ask() {
		return r.fallback(), ErrUnavailable
	}
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	res, err := r.limiter.Allow(cctx, r.prefix+key, redis_rate.Limit{Rate: l.PerSecond, Burst: max(l.Burst, 1), Period: time.Second})
	if err != nil {
		if ctx.Err() == nil {
			r.down(err)
		} else if r.retryAt.Load() != 0 {
			// A probe whose caller went away says nothing about Redis:
			// let the next request probe.
			r.retryAt.Store(r.now().UnixNano())
		}
		return r.fallback(), fmt.Errorf("limits: redis: %w", err)
	}
	r.up()
	if res.Allowed == 0 {
		return Decision{RetryAfter: res.RetryAfter}, nil
	}
	return Decision{Allowed: true}, nil
}

// ask reports whether this request asks Redis: always while it answers;
// while it is down, one request after each back-off (the probe).
func (r *Redis) ask() bool {
	at := r.retryAt.Load()
	if at == 0 {
		return true
	}
	now := r.now().UnixNano()
	if now < at {
		return false
	}
	// The request that moves retryAt on is the probe; the others keep
	// the fallback until it answers.
	return r.retryAt.CompareAndSwap(at, now+int64(backoffFactor*r.timeout))
}

// down records a failed call; the first failure of an outage is logged.
func (r *Redis) down(err error) {
	next := r.now().Add(backoffFactor * r.timeout).UnixNano()
	if r.retryAt.Swap(next) == 0 {
		r.log.Warn("rate limit backend: redis is not answering; requests follow limits.on_error until it does",
			slog.Bool("allow", r.allow), slog.String("error", err.Error()), slog.Duration("retry_every", backoffFactor*r.timeout))
		if r.onState != nil {
			r.onState(false)
		}
	}
}

// up records an answer; the first after an outage is logged.
func (r *Redis) up() {
	if r.retryAt.Load() != 0 && r.retryAt.Swap(0) != 0 {
		r.log.Info("rate limit backend: redis answers again; limits are shared again")
		if r.onState != nil {
			r.onState(true)
		}
	}
}

// fallback is the OnError decision. A denial asks the caller to come back
// once Redis may be asked again.
func (r *Redis) fallback() Decision {
	if r.allow {
		return Decision{Allowed: true}
	}
	wait := time.Duration(r.retryAt.Load() - r.now().UnixNano())
	return Decision{RetryAfter: max(wait, time.Second)}
}

// Ping asks Redis once (start-up, readiness of the limiter); it changes
// no limiter state.
func (r *Redis) Ping(ctx context.Context) error {
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	return r.client.Ping(cctx).Err()
}

// Logger adapts l to go-redis's package-wide logger (redis.SetLogger), at
// debug level: the limiter logs outages itself, once each.
type Logger struct{ L *slog.Logger }

// Printf implements go-redis's internal logging interface.
func (g Logger) Printf(ctx context.Context, format string, v ...any) {
	g.L.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

// Close closes the connections to Redis.
func (r *Redis) Close() error { return r.client.Close() }
