package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"acpgw/acp"
	"acpgw/gateway"
	"acpgw/store"
)

// recoverFunc answers a request whose first run committed its side effect
// (resourceID) but crashed before its response was stored.
type recoverFunc func(c *gin.Context, resourceID string) (int, any, error)

// idempotency implements ACP Idempotency-Key semantics for a POST route:
//
//   - an identical replay (same caller, path, key and canonical body) gets the
//     stored status and body with Idempotent-Replayed: true and no side effect;
//   - the same key with another body is idempotency_conflict (409 up to
//     2025-09-29's rules, 422 from 2026-04-17);
//   - a duplicate while the first request runs is 409 idempotency_in_flight
//     with Retry-After;
//   - 5xx answers are not stored, so the request can be retried.
//
// The in-flight marker is a database row, so the rules hold across replicas.
// The request's side effect links its resource to the row in its own
// transaction; if the process dies before the response is stored, a retry
// after the in-flight lock expires is answered from that resource instead of
// acting again.
func (s *Server) idempotency(recover recoverFunc) gin.HandlerFunc {
	return func(c *gin.Context) {
		version := c.GetString(ctxVersion)
		key := c.GetHeader("Idempotency-Key")
		route := c.FullPath()
		if key == "" {
			if version >= acp.Version20260417 {
				fail(c, acp.Errorf(http.StatusBadRequest, acp.TypeInvalidRequest, acp.CodeIdempotencyKeyRequired,
					"Idempotency-Key", "Idempotency-Key header is required"))
				return
			}
			c.Next()
			return
		}
		if !printable(key, 255) {
			fail(c, acp.Errorf(http.StatusBadRequest, acp.TypeInvalidRequest, acp.CodeInvalidRequest,
				"Idempotency-Key", "Idempotency-Key must be 1 to 255 printable ASCII characters"))
			return
		}
		ctx := c.Request.Context()
		st := s.svc.Store()
		now := s.now().UTC()
		rec := store.IdemRecord{
			Scope:       c.GetString(ctxCaller) + " " + c.Request.Method + " " + c.Request.URL.Path,
			Key:         key,
			RequestHash: canonicalHash(bodyOf(c)),
			APIVersion:  version,
			State:       store.IdemInFlight,
			LockedUntil: now.Add(s.opts.InFlightLock),
			CreatedAt:   now,
			ExpiresAt:   now.Add(s.opts.IdempotencyTTL),
		}
		old, outcome, err := st.BeginIdempotency(ctx, rec, now)
		if err != nil {
			fail(c, err)
			return
		}
		if outcome != store.IdemStarted && old.RequestHash != rec.RequestHash {
			s.countIdem(route, "conflict")
			status := http.StatusUnprocessableEntity
			if version < acp.Version20260417 {
				status = http.StatusConflict
			}
			fail(c, acp.Errorf(status, acp.TypeInvalidRequest, acp.CodeIdempotencyConflict, "Idempotency-Key",
				"Idempotency-Key has already been used with a different request body"))
			return
		}
		switch {
		case outcome == store.IdemExisting && old.State == store.IdemDone:
			s.countIdem(route, "replayed")
			c.Header("Idempotent-Replayed", "true")
			c.Data(old.Status, "application/json; charset=utf-8", old.Body)
			c.Abort()
			return
		case outcome == store.IdemExisting:
			s.countIdem(route, "in_flight")
			code := acp.CodeIdempotencyInFlight
			if c.GetBool(ctxDelegate) && version < acp.Version20260417 {
				// 2025-09-29's delegate_payment enum has no in-flight code.
				code = acp.CodeDuplicateRequest
			}
			c.Header("Retry-After", strconv.Itoa(retryAfter(old, now)))
			fail(c, acp.Errorf(http.StatusConflict, acp.TypeInvalidRequest, code, "Idempotency-Key",
				"A request with this Idempotency-Key is currently being processed"))
			return
		case outcome == store.IdemTakenOver && old.ResourceID != "":
			s.countIdem(route, "recovered")
			status, body, err := recover(c, old.ResourceID)
			if err != nil {
				fail(c, err)
				return
			}
			raw, err := json.Marshal(body)
			if err != nil {
				fail(c, err)
				return
			}
			if err := st.CompleteIdempotency(context.WithoutCancel(ctx), rec.Scope, key, status, raw); err != nil {
				fail(c, err)
				return
			}
			c.Header("Idempotent-Replayed", "true")
			c.Data(status, "application/json; charset=utf-8", raw)
			c.Abort()
			return
		}
		s.countIdem(route, "new")
		ref := &gateway.IdemRef{Scope: rec.Scope, Key: key}
		c.Request = c.Request.WithContext(gateway.WithIdempotency(ctx, ref))
		w := &capture{ResponseWriter: c.Writer}
		c.Writer = w
		c.Next()
		status := w.Status()
		// Finish the record even if the caller hung up.
		bg := context.WithoutCancel(ctx)
		switch {
		case ref.Completed():
			// The service stored the answer with its last write.
		case status < 500:
			err = st.CompleteIdempotency(bg, rec.Scope, key, status, w.buf.Bytes())
		case !ref.Linked():
			err = st.AbandonIdempotency(bg, rec.Scope, key)
		default:
			// A side effect committed but the answer is a 5xx: leave the
			// record in flight; once its lock expires a retry is answered
			// from the linked resource.
		}
		if err != nil {
			logError(c, err)
		}
	}
}

func retryAfter(rec store.IdemRecord, now interface{ Unix() int64 }) int {
	secs := rec.LockedUntil.Unix() - now.Unix()
	switch {
	case secs < 1:
		return 1
	case secs > 5:
		// The usual request takes milliseconds: ask for a quick retry even
		// though the lock is longer.
		return 5
	}
	return int(secs)
}

func (s *Server) countIdem(route, result string) {
	if s.m != nil {
		s.m.IdempotentReplays.WithLabelValues(route, result).Inc()
	}
}

// canonicalHash is the SHA-256 of the body's canonical JSON: object keys
// sorted, arrays in order, insignificant whitespace gone. A body that is not
// JSON hashes as its raw bytes.
func canonicalHash(body []byte) string {
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	sum := sha256.New()
	if err := dec.Decode(&v); err == nil && !dec.More() {
		if canon, err := json.Marshal(v); err == nil {
			sum.Write([]byte("json:"))
			sum.Write(canon)
			return hex.EncodeToString(sum.Sum(nil))
		}
	}
	sum.Write([]byte("raw:"))
	sum.Write(body)
	return hex.EncodeToString(sum.Sum(nil))
}

// capture keeps a copy of the response body for the idempotency record.
type capture struct {
	gin.ResponseWriter
	buf bytes.Buffer
}

func (w *capture) Write(b []byte) (int, error) {
	w.buf.Write(b)
	return w.ResponseWriter.Write(b)
}

func (w *capture) WriteString(s string) (int, error) {
	w.buf.WriteString(s)
	return w.ResponseWriter.WriteString(s)
}
