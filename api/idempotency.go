package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"acpgw/acp"
	"acpgw/gateway"
)

// ACP Idempotency-Key semantics for every POST:
//
//   - an identical replay (same caller, path, key and canonical body) gets
//     the stored status and body with Idempotent-Replayed: true and no side
//     effect;
//   - the same key with another body is idempotency_conflict (409 before
//     2026-04-17, 422 from it);
//   - a duplicate while the first request runs is 409 idempotency_in_flight
//     with Retry-After.
//
// Only final answers are stored: answers that could differ if the same
// request were sent again are not. Those are 409 operation_in_progress, 409
// idempotency_in_flight, 429, 503 and every other 5xx; a 202 (outcome
// unknown) is answered afresh from the payment until its outcome is known,
// and that final answer is stored then.
//
// The handler passes the key to the service as a value (begin); the service
// claims it in the transaction of the request's first write, where a key
// seen before is found and answered (replay, conflict, in flight), and
// stores the answer with its last write, so a request costs no extra read
// or commit for its key. A request that fails before its first write looks
// the key up before its error is answered: the service does so for its own
// checks (a replayed payment finds its token consumed by the first run and
// must get the first run's answer), refuse for a body that does not decode.

// begin reads the request's Idempotency-Key and returns it (zero when the
// request has none, which the version allows), bound to the hash of body,
// for the service; false when the header itself was refused.
func (s *Server) begin(c *gin.Context, body *acp.Body) (gateway.Idempotency, bool) {
	version := c.GetString(ctxVersion)
	key := c.GetHeader("Idempotency-Key")
	if key == "" {
		// The Delegate Authentication API makes the key optional (its
		// spec's IdempotencyKey parameter), whatever the version.
		if acp.IdempotencyKeyRequired(version) && !c.GetBool(ctxAuthentication) {
			fail(c, acp.Errorf(http.StatusBadRequest, acp.TypeInvalidRequest, acp.CodeIdempotencyKeyRequired,
				"Idempotency-Key", "Idempotency-Key header is required"))
			return gateway.Idempotency{}, false
		}
		return gateway.Idempotency{}, true
	}
	if !printable(key, 255) {
		fail(c, acp.Errorf(http.StatusBadRequest, acp.TypeInvalidRequest, acp.CodeInvalidRequest,
			"Idempotency-Key", "Idempotency-Key must be 1 to 255 printable ASCII characters"))
		return gateway.Idempotency{}, false
	}
	return gateway.Idempotency{
		Scope:       c.GetString(ctxCaller) + " " + c.Request.Method + " " + c.Request.URL.Path,
		Key:         key,
		RequestHash: body.Hash(),
		APIVersion:  version,
	}, true
}

// refuse answers a request the API refused before calling the service (its
// body does not decode): a request seen before with the same key gets that
// request's answer instead; otherwise err is answered, and stored if final.
func (s *Server) refuse(c *gin.Context, idem gateway.Idempotency, err error) {
	if idem.Key != "" {
		prev, replay, lerr := s.svc.Replay(c.Request.Context(), idem)
		switch {
		case lerr != nil:
			err = lerr
		case replay:
			s.finish(c, idem, prev, nil)
			return
		}
	}
	s.finish(c, idem, gateway.Answer{}, err)
}

// finish sends the service's answer, or err as an ACP error. An error that
// is final is stored under the key, so that a replay gets it again (unless
// the key already holds an answer: the request's own, written with its side
// effect).
func (s *Server) finish(c *gin.Context, idem gateway.Idempotency, ans gateway.Answer, err error) {
	if err == nil {
		s.countAnswer(c, idem, ans)
		send(c, ans)
		return
	}
	if isIdempotencyError(err) {
		s.idemError(c, err)
		return
	}
	e := publicError(c, err)
	if idem.Key != "" && finalError(e) {
		body, merr := json.Marshal(e)
		if merr == nil {
			merr = s.svc.Remember(c.Request.Context(), idem, gateway.Answer{Status: e.Status, Body: body})
		}
		if merr != nil {
			logError(c, merr)
		}
	}
	if e.Status >= 500 {
		logError(c, err)
	}
	c.AbortWithStatusJSON(e.Status, e)
}

// send writes an answer as the service made it.
func send(c *gin.Context, ans gateway.Answer) {
	if ans.Replayed {
		c.Header("Idempotent-Replayed", "true")
	}
	c.Data(ans.Status, "application/json; charset=utf-8", ans.Body)
	c.Abort()
}

// finalError reports whether an error answer is final: the same request
// sent again would get it again. Server errors, rate limits and the
// answers that say "not now" are not.
func finalError(e *acp.Error) bool {
	switch {
	case e.Status >= 500, e.Status == http.StatusTooManyRequests:
		return false
	case e.Code == codeOperationInProgress, e.Code == acp.CodeIdempotencyInFlight,
		e.Code == acp.CodeDuplicateRequest, e.Code == acp.CodeIdempotencyConflict:
		return false
	}
	return true
}

func isIdempotencyError(err error) bool {
	return errors.Is(err, gateway.ErrIdempotencyConflict) || errors.Is(err, gateway.ErrIdempotencyInFlight)
}

// idemError answers a conflict or a duplicate in flight; any other error
// of the key's lookup is answered as usual, and not stored.
func (s *Server) idemError(c *gin.Context, err error) {
	version := c.GetString(ctxVersion)
	var inFlight *gateway.InFlightError
	switch {
	case errors.Is(err, gateway.ErrIdempotencyConflict):
		s.countIdem(c.FullPath(), "conflict")
		fail(c, acp.Errorf(acp.IdempotencyConflictStatus(version), acp.TypeInvalidRequest, acp.CodeIdempotencyConflict, "Idempotency-Key",
			"Idempotency-Key has already been used with a different request body"))
	case errors.As(err, &inFlight):
		s.countIdem(c.FullPath(), "in_flight")
		code := acp.CodeIdempotencyInFlight
		if c.GetBool(ctxDelegate) {
			// Before 2026-04-17 the delegate_payment enum has no in-flight
			// code.
			code = acp.DelegateInFlightCode(version)
		}
		c.Header("Retry-After", strconv.Itoa(int(inFlight.RetryAfter.Seconds())))
		fail(c, acp.Errorf(http.StatusConflict, acp.TypeInvalidRequest, code, "Idempotency-Key",
			"A request with this Idempotency-Key is currently being processed"))
	default:
		fail(c, err)
	}
}

// countAnswer counts an answer to a request with a key as new or replayed.
func (s *Server) countAnswer(c *gin.Context, idem gateway.Idempotency, ans gateway.Answer) {
	switch {
	case ans.Replayed:
		s.countIdem(c.FullPath(), "replayed")
	case idem.Key != "":
		s.countIdem(c.FullPath(), "new")
	}
}

func (s *Server) countIdem(route, result string) {
	if s.m != nil {
		s.m.IdempotentReplays.WithLabelValues(route, result).Inc()
	}
}
