package gateway

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"acpgw/payment"
	"acpgw/store"
	"acpgw/threeds"
)

// insertAuthSession stores a new session, the claim of the create
// request's key and its answer in one transaction.
func (s *Service) insertAuthSession(ctx context.Context, sess store.AuthSession, idem Idempotency, ans Answer, now time.Time) error {
	rec := s.idemRecord(idem, now, sess.ID)
	rec.State, rec.Status, rec.Body = store.IdemDone, ans.Status, ans.Body
	return s.store.Tx(ctx, func(tx store.Tx) error {
		begin, err := s.claim(ctx, tx, idem, rec, now)
		if err != nil {
			return err
		}
		if err := tx.InsertAuthSession(ctx, sess); err != nil {
			return err
		}
		if begin != store.IdemTakenOver {
			return nil
		}
		// A taken-over record kept its in-flight state: store the answer.
		return tx.CompleteIdempotency(ctx, rec.Scope, rec.Key, ans.Status, ans.Body)
	})
}

// claimStep claims the session for its authenticate call, with the
// request's merged fields, and claims the request's key (in flight, naming
// the session), in one transaction. The update is conditional on the
// version read: of two authenticate calls that read the same version, the
// second is refused here, before its provider call.
func (s *Service) claimStep(ctx context.Context, rt *Runtime, read, merged store.AuthSession, idem Idempotency, now time.Time) (store.AuthSession, error) {
	claimed := merged
	until := now.Add(rt.authStepTimeout() + stepGrace)
	claimed.Step, claimed.StepUntil, claimed.UpdatedAt = stepAuthenticate, &until, now
	rec := s.idemRecord(idem, now, read.ID)
	err := s.store.Tx(ctx, func(tx store.Tx) error {
		if _, err := s.claim(ctx, tx, idem, rec, now); err != nil {
			return err
		}
		return tx.UpdateAuthSession(ctx, claimed)
	})
	if errors.Is(err, store.ErrChanged) {
		return store.AuthSession{}, publicError(payment.ErrConflict,
			"another request on this session got there first; GET the session for its status")
	}
	if err != nil {
		return store.AuthSession{}, err
	}
	claimed.Version++
	return claimed, nil
}

// releaseStep undoes claimStep after a provider call that could not be
// made or answered (503): the session is put back as it was read and the
// key is released, so that the same request may be sent again.
func (s *Service) releaseStep(ctx context.Context, read, claimed store.AuthSession, idem Idempotency) error {
	restored := read
	restored.Version = claimed.Version
	err := s.store.Tx(ctx, func(tx store.Tx) error {
		// A session changed meanwhile (expired) is left as it is.
		if err := tx.UpdateAuthSession(ctx, restored); err != nil && !errors.Is(err, store.ErrChanged) {
			return err
		}
		if idem.none() {
			return nil
		}
		return tx.AbandonIdempotency(ctx, idem.Scope, idem.Key)
	})
	if err != nil {
		return err
	}
	return publicError(ErrAuthUnavailable, msgAuthUnavailable)
}

// settleAuthenticate stores the session after its authenticate call and
// the request's answer under its key, in one transaction. A session ended
// meanwhile by another request (it expired) keeps that end, and the
// request is answered from it.
func (s *Service) settleAuthenticate(ctx context.Context, rt *Runtime, claimed, next store.AuthSession, idem Idempotency) (Answer, error) {
	now := next.UpdatedAt
	ans, err := sessionAnswer(rt, next, now, false)
	if err != nil {
		return Answer{}, err
	}
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if err := tx.UpdateAuthSession(ctx, next); err != nil {
			return err
		}
		return completeKey(ctx, tx, idem, ans)
	})
	if errors.Is(err, store.ErrNotFound) && !idem.none() {
		// The key's record is gone (purged), which is no reason to lose the
		// session's write: it is made again without the key. (A session
		// that is gone fails again.)
		err = s.store.Tx(ctx, func(tx store.Tx) error { return tx.UpdateAuthSession(ctx, next) })
	}
	if errors.Is(err, store.ErrChanged) {
		return s.answerCurrent(ctx, rt, claimed.ID, idem, now)
	}
	if err != nil {
		return Answer{}, err
	}
	s.countEnded(next)
	return ans, nil
}

// answerCurrent answers an authenticate request from its session as
// stored now, and stores that answer under the request's key.
func (s *Service) answerCurrent(ctx context.Context, rt *Runtime, id string, idem Idempotency, now time.Time) (Answer, error) {
	cur, err := s.store.GetAuthSession(ctx, id)
	if err != nil {
		return Answer{}, err
	}
	ans, err := sessionAnswer(rt, cur, now, false)
	if err != nil {
		return Answer{}, err
	}
	err = s.store.Tx(ctx, func(tx store.Tx) error { return completeKey(ctx, tx, idem, ans) })
	if errors.Is(err, store.ErrNotFound) {
		err = nil // the key's record is gone (purged): nothing to store it in
	}
	return ans, err
}

// answerAuthenticate answers an authenticate request on an expired
// session: 200 expired (the RFC's answer, telling the agent to create a new
// session), stored under the request's key.
func (s *Service) answerAuthenticate(ctx context.Context, rt *Runtime, sess store.AuthSession, idem Idempotency, now time.Time) (Answer, error) {
	ans, err := sessionAnswer(rt, sess, now, false)
	if err != nil {
		return Answer{}, err
	}
	return ans, s.Remember(ctx, idem, ans)
}

// completeKey stores ans under the request's claimed key, if it has one. A
// record gone meanwhile (purged) is store.ErrNotFound, which the callers
// handle after the transaction: a store may report it only when the
// transaction ends, failing all of it (store.Tx).
func completeKey(ctx context.Context, tx store.Tx, idem Idempotency, ans Answer) error {
	if idem.none() {
		return nil
	}
	return tx.CompleteIdempotency(ctx, idem.Scope, idem.Key, ans.Status, ans.Body)
}

// writeSession stores next over old (the version read) and returns it as
// stored. When another request wrote first, its write stands and the
// session is returned as it wrote it.
func (s *Service) writeSession(ctx context.Context, old, next store.AuthSession) (store.AuthSession, error) {
	err := s.store.Tx(ctx, func(tx store.Tx) error { return tx.UpdateAuthSession(ctx, next) })
	if errors.Is(err, store.ErrChanged) {
		return s.store.GetAuthSession(ctx, old.ID)
	}
	if err != nil {
		return store.AuthSession{}, err
	}
	next.Version = old.Version + 1
	if !threeds.Status(old.Status).Final() {
		s.countEnded(next)
	}
	return next, nil
}

// authSweepBatch bounds the sessions one write of SweepAuthSessions
// changes, so that the sweep never holds the SQLite writer for long.
const authSweepBatch = 500

// SweepAuthSessions expires the sessions past their expiry that no request
// ended, erasing their cards, and returns how many it expired. Requests
// expire a session they find overdue themselves; the sweep bounds how long
// an abandoned session keeps its card.
func (s *Service) SweepAuthSessions(ctx context.Context) (int, error) {
	now := s.now().UTC()
	total := 0
	for {
		list, err := s.store.ExpireAuthSessions(ctx, now, authSweepBatch)
		for _, sess := range list {
			s.countEnded(sess)
		}
		total += len(list)
		if err != nil || len(list) < authSweepBatch {
			return total, err
		}
	}
}

func (s *Service) sweepAuthSessionsSafely(ctx context.Context) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("authentication session sweep panic", slog.Any("panic", r))
		}
	}()
	n, err := s.SweepAuthSessions(ctx)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("authentication session sweep failed", slog.String("error", err.Error()))
	}
	if n > 0 {
		s.log.Info("authentication sessions past authentication.session_ttl expired", slog.Int("count", n))
	}
}
