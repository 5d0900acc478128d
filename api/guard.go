package api

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"acpgw/acp"
	"acpgw/config"
)

// Codes of the request guards.
const (
	codeInvalidSignature = "invalid_signature"
	codeStaleTimestamp   = "timestamp_out_of_window"
)

// verifySignature checks the ACP Signature and Timestamp headers of an
// agent whose config has a signing_secret. acpgw's scheme (the ACP spec names
// the headers but not an algorithm): Signature is the base64 of
// HMAC-SHA256(signing_secret, Timestamp + "." + body), and Timestamp (RFC
// 3339) must be within timestamp_window of acpgw's clock, so that a captured
// request cannot be replayed later. Agents without a secret are not checked.
func (s *Server) verifySignature(c *gin.Context) {
	id := strings.TrimPrefix(c.GetString(ctxCaller), "agent:")
	agent, ok := s.svc.Runtime().Agent(id)
	if !ok || agent.SigningSecret == "" {
		c.Next()
		return
	}
	ts := c.GetHeader("Timestamp")
	at, err := time.Parse(time.RFC3339, ts)
	if err != nil {
		unauthorized(c, acp.Errorf(http.StatusUnauthorized, acp.TypeInvalidRequest, codeStaleTimestamp, "Timestamp",
			"Timestamp header (RFC 3339) is required for this agent"))
		return
	}
	if d := s.now().Sub(at); math.Abs(float64(d)) > float64(agent.TimestampWindow) {
		unauthorized(c, acp.Errorf(http.StatusUnauthorized, acp.TypeInvalidRequest, codeStaleTimestamp, "Timestamp",
			"Timestamp is more than %s from the server's clock", agent.TimestampWindow))
		return
	}
	got, err := base64.StdEncoding.DecodeString(c.GetHeader("Signature"))
	if err != nil || !hmac.Equal(got, Sign(agent.SigningSecret, ts, bodyOf(c))) {
		unauthorized(c, acp.Errorf(http.StatusUnauthorized, acp.TypeInvalidRequest, codeInvalidSignature, "Signature",
			"Signature does not match the request"))
		return
	}
	c.Next()
}

// Sign computes the request signature of acpgw's scheme (see
// verifySignature), for clients and tests.
func Sign(secret, timestamp string, body []byte) []byte {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(timestamp))
	mac.Write([]byte("."))
	mac.Write(body)
	return mac.Sum(nil)
}

// rateLimit answers 429 with Retry-After once a caller exceeds its
// configured rate. Where the count is kept is the limiter's business
// (limits.backend): per replica in memory, or shared by all replicas in
// Redis. A limiter that cannot count follows limits.on_error; such
// requests are counted in acpgw_rate_limit_backend_errors_total. The 429
// is never stored under the request's Idempotency-Key: this runs before
// the key is looked at.
func (s *Server) rateLimit(c *gin.Context) {
	caller := c.GetString(ctxCaller)
	rt := s.svc.Runtime()
	var cfg config.RateLimit
	switch {
	case strings.HasPrefix(caller, "agent:"):
		if a, ok := rt.Agent(strings.TrimPrefix(caller, "agent:")); ok {
			cfg = a.RateLimit
		}
	case strings.HasPrefix(caller, "merchant:"):
		if m, ok := rt.Merchant(strings.TrimPrefix(caller, "merchant:")); ok {
			cfg = m.RateLimit
		}
	}
	if cfg.PerSecond <= 0 {
		c.Next()
		return
	}
	d, err := s.limiter.Allow(c.Request.Context(), caller, cfg)
	if err != nil && s.m != nil {
		result := "allowed"
		if !d.Allowed {
			result = "denied"
		}
		s.m.RateLimitBackendErrors.WithLabelValues(result).Inc()
	}
	if !d.Allowed {
		c.Header("Retry-After", strconv.Itoa(max(1, int(math.Ceil(d.RetryAfter.Seconds())))))
		if err != nil {
			fail(c, acp.Errorf(http.StatusTooManyRequests, acp.TypeRateLimitExceeded, acp.CodeTooManyRequests, "",
				"rate limits cannot be checked right now; retry later"))
			return
		}
		fail(c, acp.Errorf(http.StatusTooManyRequests, acp.TypeRateLimitExceeded, acp.CodeTooManyRequests, "",
			"rate limit of %d requests per second exceeded", cfg.PerSecond))
		return
	}
	c.Next()
}
