// Package limits counts API callers' requests against their configured
// rate limits (rate_limit: {per_second, burst}), either in this process's
// memory (Memory: each replica counts alone) or in Redis (Redis: one count
// shared by every replica that uses the same Redis). Both are the same
// limit: a bucket of Burst requests that refills at PerSecond.
package limits

import (
	"context"
	"errors"
	"time"

	"acpgw/config"
)

// Decision is a limiter's answer for one request.
type Decision struct {
	// Allowed admits the request.
	Allowed bool
	// RetryAfter is, for a request not admitted, how long until one would
	// be.
	RetryAfter time.Duration
}

// Limiter counts requests by key (a caller such as "merchant:acme"). It is
// safe for concurrent use.
type Limiter interface {
	// Allow counts one request of key against l, whose PerSecond is
	// positive. A non-nil error says the count could not be kept (the
	// shared backend did not answer); the Decision is then the limiter's
	// policy for that case (limits.on_error).
	Allow(ctx context.Context, key string, l config.RateLimit) (Decision, error)
}

// ErrUnavailable: the shared backend is not asked for now because its last
// call failed; it is asked again after a back-off.
var ErrUnavailable = errors.New("limits: backend unavailable")
