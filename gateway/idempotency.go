package gateway

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"acpgw/store"
)

// Idempotency is a request's Idempotency-Key as the API read it. It is
// passed to the service method that runs the request, which claims the key
// in the same transaction as the request's first write and stores the
// request's answer with its last. The zero value means the request carries
// no key.
type Idempotency struct {
	// Scope is the caller, method and path the key is scoped to.
	Scope string
	Key   string
	// RequestHash is the SHA-256 of the canonical request body.
	RequestHash string
	// APIVersion is the request's API-Version.
	APIVersion string
}

func (i Idempotency) none() bool { return i.Key == "" }

// Answer is a request's answer: the HTTP status and JSON body sent, and
// stored under the request's Idempotency-Key when final.
type Answer struct {
	Status int
	Body   []byte
	// Replayed: the answer belongs to an earlier request with the same key;
	// this request changed nothing.
	Replayed bool
}

// Errors of the idempotency rules; the API maps them to 409 or 422.
var (
	// ErrIdempotencyConflict: the key was used before with another body.
	ErrIdempotencyConflict = errors.New("Idempotency-Key has already been used with a different request body")
	// ErrIdempotencyInFlight: a request with the key is still running.
	ErrIdempotencyInFlight = errors.New("a request with this Idempotency-Key is currently being processed")
)

// InFlightError is ErrIdempotencyInFlight with the time after which a retry
// makes sense.
type InFlightError struct {
	// RetryAfter is at least a second.
	RetryAfter time.Duration
}

// Error implements error.
func (e *InFlightError) Error() string { return ErrIdempotencyInFlight.Error() }

// Is makes errors.Is(err, ErrIdempotencyInFlight) true.
func (e *InFlightError) Is(target error) bool { return target == ErrIdempotencyInFlight }

// maxRetryAfter caps Retry-After: the usual request takes milliseconds, so
// a duplicate is asked to come back soon even though the lock is longer.
const maxRetryAfter = 5 * time.Second

// Replay answers a request whose key was seen before, without running it:
// the stored answer of a finished request (true), or an error
// (ErrIdempotencyConflict, an *InFlightError). A request whose key is new,
// expired or left by a request that crashed before its side effect gets
// false: the caller runs it, and the run claims the key.
func (s *Service) Replay(ctx context.Context, idem Idempotency) (Answer, bool, error) {
	if idem.none() {
		return Answer{}, false, nil
	}
	rec, err := s.store.GetIdempotency(ctx, idem.Scope, idem.Key)
	if errors.Is(err, store.ErrNotFound) {
		return Answer{}, false, nil
	}
	if err != nil {
		return Answer{}, false, err
	}
	return s.existing(ctx, idem, rec)
}

// existing decides what an existing record of the key means for a request
// with idem (see Replay).
func (s *Service) existing(ctx context.Context, idem Idempotency, rec store.IdemRecord) (Answer, bool, error) {
	now := s.now()
	switch {
	case !rec.ExpiresAt.IsZero() && !rec.ExpiresAt.After(now):
		return Answer{}, false, nil // expired: as if absent
	case rec.RequestHash != idem.RequestHash:
		return Answer{}, false, ErrIdempotencyConflict
	case rec.State == store.IdemDone:
		return Answer{Status: rec.Status, Body: rec.Body, Replayed: true}, true, nil
	case rec.State == store.IdemPending:
		return s.answerFrom(ctx, idem, rec.ResourceID)
	case rec.LockedUntil.After(now):
		wait := min(max(rec.LockedUntil.Sub(now).Round(time.Second), time.Second), maxRetryAfter)
		return Answer{}, false, &InFlightError{RetryAfter: wait}
	case rec.ResourceID != "":
		// The first request crashed after its side effect committed.
		return s.answerFrom(ctx, idem, rec.ResourceID)
	default:
		// It crashed before any side effect: run again.
		return Answer{}, false, nil
	}
}

// answerFrom rebuilds the answer of the request that created resourceID
// (a vt_ token, a pay_ payment, the att_ attempt of a capture, void or
// refund, the evt_ event a redelivery was asked for, or the as_
// authentication session an authenticate call was for) from what the
// store holds now, and stores it under the key once it is final.
func (s *Service) answerFrom(ctx context.Context, idem Idempotency, resourceID string) (Answer, bool, error) {
	var (
		ans Answer
		err error
	)
	switch {
	case strings.HasPrefix(resourceID, "vt_"):
		var t store.Token
		if t, err = s.store.GetToken(ctx, resourceID); err == nil {
			ans, err = tokenAnswer(t)
		}
	case strings.HasPrefix(resourceID, "pay_"):
		var v View
		if v, err = s.viewOf(ctx, resourceID); err == nil {
			ans, err = paymentAnswer(v)
		}
	case strings.HasPrefix(resourceID, "att_"):
		ans, err = s.attemptAnswer(ctx, resourceID)
	case strings.HasPrefix(resourceID, "evt_"):
		ans, err = s.eventAnswer(ctx, resourceID)
	case strings.HasPrefix(resourceID, "as_"):
		ans, err = s.authSessionAnswer(ctx, resourceID)
	default:
		err = fmt.Errorf("gateway: idempotency record names an unknown resource %q", resourceID)
	}
	if errors.Is(err, errRunAgain) {
		// The request's processor call surely did nothing: its key is
		// released and the request runs afresh.
		err = s.store.Tx(context.WithoutCancel(ctx), func(tx store.Tx) error {
			return tx.AbandonIdempotency(ctx, idem.Scope, idem.Key)
		})
		return Answer{}, false, err
	}
	if err != nil {
		return Answer{}, false, err
	}
	ans.Replayed = true
	if ans.Status == statusAccepted {
		return ans, true, nil // still unknown: answered, not stored
	}
	err = s.store.Tx(context.WithoutCancel(ctx), func(tx store.Tx) error {
		return tx.CompleteIdempotency(ctx, idem.Scope, idem.Key, ans.Status, ans.Body)
	})
	return ans, true, err
}

// errRunAgain: the resource a key names changed nothing (its processor call
// was not processed), so the request it answered may run again.
var errRunAgain = errors.New("gateway: the request changed nothing; run it again")

// Remember stores a final error answer under the key of a request that
// failed before it changed anything, so that a replay gets the same answer.
// A key taken meanwhile by another request is left as it is.
func (s *Service) Remember(ctx context.Context, idem Idempotency, ans Answer) error {
	if idem.none() {
		return nil
	}
	now := s.now().UTC()
	rec := s.idemRecord(idem, now, "")
	rec.State, rec.Status, rec.Body = store.IdemDone, ans.Status, ans.Body
	return s.store.Tx(context.WithoutCancel(ctx), func(tx store.Tx) error {
		old, begin, err := tx.ClaimIdempotency(ctx, rec, now)
		if err != nil || begin != store.IdemTakenOver || old.ResourceID != "" {
			return err
		}
		// Taken over from a request that crashed before its side effect.
		return tx.CompleteIdempotency(ctx, idem.Scope, idem.Key, ans.Status, ans.Body)
	})
}

// idemRecord is the in-flight record a request claims, naming the resource
// its side effect creates.
func (s *Service) idemRecord(idem Idempotency, now time.Time, resourceID string) store.IdemRecord {
	c := s.rt.Load().Config.Idempotency
	return store.IdemRecord{
		Scope:       idem.Scope,
		Key:         idem.Key,
		RequestHash: idem.RequestHash,
		APIVersion:  idem.APIVersion,
		State:       store.IdemInFlight,
		ResourceID:  resourceID,
		LockedUntil: now.Add(c.InFlightLock),
		CreatedAt:   now,
		ExpiresAt:   now.Add(c.TTL),
	}
}

// claimed is the error a side effect's transaction returns when it finds
// the key taken by another request: the transaction rolls back, and the
// request is answered from the existing record.
type claimed struct{ rec store.IdemRecord }

func (c *claimed) Error() string { return "gateway: idempotency key already claimed" }

// claim claims idem inside tx with rec. A key held by another request ends
// the transaction with a *claimed error. A key taken over from a request
// that crashed before its side effect reports IdemTakenOver: the record
// kept its in-flight state, whatever rec's.
func (s *Service) claim(ctx context.Context, tx store.Tx, idem Idempotency, rec store.IdemRecord, now time.Time) (store.IdemBegin, error) {
	if idem.none() {
		return store.IdemStarted, nil
	}
	old, begin, err := tx.ClaimIdempotency(ctx, rec, now)
	switch {
	case err != nil:
		return 0, err
	case begin == store.IdemStarted:
		return begin, nil
	case begin == store.IdemTakenOver && old.ResourceID == "" && old.RequestHash == rec.RequestHash:
		// The first request crashed before its side effect: this one runs.
		return begin, nil
	}
	return 0, &claimed{rec: old}
}

// beforeWrite answers a request that failed before its first write
// committed (its checks failed, or its first transaction rolled back): a
// request seen before with the same key gets that request's answer (a
// replay of a payment finds its token consumed by the first run, and must
// get the first run's answer, not token_consumed), a key held by another
// request its in-flight or conflict error, and a new key err itself.
func (s *Service) beforeWrite(ctx context.Context, idem Idempotency, err error) (Answer, error) {
	var c *claimed
	if errors.As(err, &c) {
		ans, replay, err := s.existing(ctx, idem, c.rec)
		if err == nil && !replay {
			// Gone again between the claim and now: ask for a retry.
			err = &InFlightError{RetryAfter: time.Second}
		}
		return ans, err
	}
	if idem.none() {
		return Answer{}, err
	}
	ans, replay, lerr := s.Replay(ctx, idem)
	switch {
	case lerr != nil:
		return Answer{}, lerr
	case replay:
		return ans, nil
	}
	return Answer{}, err
}
