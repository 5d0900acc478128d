package gateway

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"acpgw/payment"
	"acpgw/store"
)

// A retryable decline keeps its token (issue 12). A token is held by the
// payment that consumed it (store.Tx.ConsumeToken, the single-use guard)
// while the payment runs, so two payments on one token never run at once
// and at most one can be approved. When the payment ends, its answer
// decides what becomes of the token:
//
//   - approved, or declined for good (a hard or non-retryable decline), or
//     failed: the token stays consumed;
//   - declined with retryable: true: the token is reopened, its use still
//     counted, unless this was its tokens.max_attempts-th payment, in which
//     case it stays consumed and the decline says retryable: false;
//   - nothing charged (not processed anywhere): the token is released and
//     its use taken back (ReleaseToken), as before;
//   - outcome unknown (202): the token stays held until reconciliation or
//     a webhook settles the payment, and is then treated as above.
//
// The CVC goes after the first attempt that sent it, whatever becomes of
// the token: a retry is paid without it.

// tokenAction is what a payment's settlement does with its token.
type tokenAction int

const (
	tokenKeep    tokenAction = iota // consumed for good, or still held (pending)
	tokenRelease                    // nothing charged: usable again, the use not counted
	tokenReopen                     // retryable decline: usable again, the use counted
)

// tokenOutcome decides what p's settlement does with its token, whose
// attempts (uses, p's included) are attempts, and adjusts p's decline: a
// retryable decline on a token that reached limit is no longer retryable,
// since the token cannot be paid again.
func tokenOutcome(p *store.Payment, notProcessed bool, attempts, limit int) tokenAction {
	switch {
	case notProcessed:
		return tokenRelease
	case p.Status != payment.StatusDeclined || p.Decline == nil || !p.Decline.Retryable:
		return tokenKeep
	case attempts < limit:
		return tokenReopen
	}
	d := *p.Decline
	d.Retryable = false
	d.Message = fmt.Sprintf("%s This token has been used for %d payments, its limit, and is now consumed.", d.Message, attempts)
	p.Decline = &d
	return tokenKeep
}

// applyTokenAction does action to p's token in tx.
func applyTokenAction(ctx context.Context, tx store.Tx, p store.Payment, action tokenAction) error {
	switch action {
	case tokenRelease:
		return tx.ReleaseToken(ctx, p.TokenID, p.ID)
	case tokenReopen:
		return tx.ReopenToken(ctx, p.TokenID, p.ID)
	}
	return nil
}

// tokenChange is the token rule a processor's decline applies (events.go):
// the token as it was read, and the action decided from it.
type tokenChange struct {
	id       string
	attempts int
	action   tokenAction
}

// tokenAfterDecline decides, from a read of the token p holds, what p's
// decline does to it, and adjusts p's decline as tokenOutcome does (a
// retryable decline on a token at its limit is not retryable).
func (s *Service) tokenAfterDecline(ctx context.Context, rt *Runtime, p *store.Payment) (*tokenChange, error) {
	tok, err := s.store.GetToken(ctx, p.TokenID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if tok.PaymentID != p.ID || tok.ConsumedAt == nil {
		return nil, nil // not held by this payment (any more)
	}
	return &tokenChange{id: tok.ID, attempts: tok.Attempts,
		action: tokenOutcome(p, false, tok.Attempts, rt.tokenMaxAttempts())}, nil
}

// apply re-reads the token under lock and applies the action decided from
// the earlier read, or starts the event again (errStale) if the token
// changed in between.
func (c *tokenChange) apply(ctx context.Context, tx store.Tx, p store.Payment) error {
	if c == nil {
		return nil
	}
	tok, err := tx.GetTokenForUpdate(ctx, c.id)
	if err != nil {
		return err
	}
	if tok.Attempts != c.attempts || tok.PaymentID != p.ID || tok.ConsumedAt == nil {
		return errStale
	}
	return applyTokenAction(ctx, tx, p, c.action)
}

func (c *eventChange) changed() bool { return c.payment }

// write makes the change in tx; p is the payment as it becomes.
func (c *eventChange) write(ctx context.Context, tx store.Tx, p store.Payment) error {
	if !c.payment {
		return nil
	}
	for _, a := range c.attempts {
		if err := tx.UpdateAttempt(ctx, a); err != nil {
			return err
		}
	}
	for _, r := range c.refunds {
		if err := tx.UpdateRefund(ctx, r); err != nil {
			return err
		}
	}
	for _, r := range c.newRefunds {
		if err := tx.InsertRefund(ctx, r); err != nil {
			return err
		}
	}
	if c.eraseCVC {
		// A token row that is gone has no CVC to erase. It is looked up
		// first rather than told by DeleteTokenCVC's ErrNotFound: a store
		// may report a write's error only when the transaction ends,
		// failing all of it (store.Tx).
		switch _, err := tx.GetTokenForUpdate(ctx, p.TokenID); {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return err
		default:
			if err := tx.DeleteTokenCVC(ctx, p.TokenID); err != nil {
				return err
			}
		}
	}
	return tx.UpdatePayment(ctx, p)
}

// tokenInUse is the error of a payment on a token held by a payment whose
// outcome is not known yet: once that payment settles, the token is either
// consumed or usable again. It is a 409 operation_in_progress, which is not
// stored under an Idempotency-Key: the same request sent later gets a fresh
// answer.
func tokenInUse() error {
	return publicError(payment.ErrConflict,
		"the token is in use by a payment whose outcome is not known yet; retry when that payment is settled")
}

// consumedError is the error for a payment on tok that found it consumed:
// token_consumed when a payment consumed it for good, or tokenInUse while
// the payment that holds it is still pending (a concurrent retry of a token
// whose last payment has no answer yet).
func (s *Service) consumedError(ctx context.Context, tok store.Token) error {
	consumed := publicError(payment.ErrTokenConsumed, msgTokenConsumed)
	if tok.PaymentID == "" {
		return consumed
	}
	p, err := s.store.GetPayment(ctx, tok.PaymentID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Not the holder's record (a Shared Payment Token row made by an
		// older acpgw, say): nothing says it is still running.
		return consumed
	case err != nil:
		return err
	case p.Status == payment.StatusPending:
		return tokenInUse()
	}
	return consumed
}

// raceConsumedError is consumedError for a token another payment took
// between this payment's read of it and its intent transaction.
func (s *Service) raceConsumedError(ctx context.Context, tokenID string) error {
	tok, err := s.store.GetToken(ctx, tokenID)
	if err != nil {
		return publicError(payment.ErrTokenConsumed, msgTokenConsumed)
	}
	return s.consumedError(ctx, tok)
}

// cryptograms keeps the 3-D Secure cryptograms of payments whose outcome
// is unknown, for reconciliation's re-send with the same idempotency key.
// A cryptogram is secret and single-use, so it is never written to the
// store, a log or an error: it lives in this process's memory from the
// moment its payment turns pending until the payment settles or its
// retention (vault.cvc_ttl, as for CVCs) ends. After a restart, or on
// another replica, the re-send goes without the cryptogram, as it goes
// without the CVC.
type cryptograms struct {
	mu    sync.Mutex
	byPay map[string]keptCryptogram
	swept time.Time
}

type keptCryptogram struct {
	value   string
	expires time.Time
}

// sweepEvery bounds how often put looks for expired cryptograms.
const sweepEvery = time.Minute

func newCryptograms() *cryptograms { return &cryptograms{byPay: map[string]keptCryptogram{}} }

// put keeps paymentID's cryptogram until expires.
func (c *cryptograms) put(paymentID, value string, now, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now.Sub(c.swept) >= sweepEvery {
		for id, k := range c.byPay {
			if !now.Before(k.expires) {
				delete(c.byPay, id)
			}
		}
		c.swept = now
	}
	c.byPay[paymentID] = keptCryptogram{value: value, expires: expires}
}

// get returns paymentID's cryptogram, "" when none is kept (or it
// expired).
func (c *cryptograms) get(paymentID string, now time.Time) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.byPay[paymentID]
	if !ok || !now.Before(k.expires) {
		return ""
	}
	return k.value
}

// forget drops paymentID's cryptogram.
func (c *cryptograms) forget(paymentID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.byPay, paymentID)
}

// len returns how many cryptograms are kept.
func (c *cryptograms) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byPay)
}

// keepCryptogram keeps the cryptogram of a payment that has no final answer
// yet (its attempt is pending, or its settlement did not commit), so that
// reconciliation re-sends it; a settled payment's is dropped.
func (s *Service) keepCryptogram(rt *Runtime, paymentID string, auth *payment.Authentication, settled bool, now time.Time) {
	switch {
	case auth == nil || auth.Cryptogram == "":
	case settled:
		s.cryptograms.forget(paymentID)
	default:
		s.cryptograms.put(paymentID, auth.Cryptogram, now, now.Add(rt.cvcTTL()))
	}
}

// authRecord is what an attempt keeps of a: everything but the cryptogram.
func authRecord(a *payment.Authentication) *payment.AuthenticationRecord {
	if a == nil {
		return nil
	}
	r := a.Record()
	return &r
}

// authOf rebuilds the authentication of a payment from its attempt's
// record and the cryptogram kept in memory ("" when none is).
func authOf(r *payment.AuthenticationRecord, cryptogram string) *payment.Authentication {
	if r == nil {
		return nil
	}
	return &payment.Authentication{Outcome: r.Outcome, Cryptogram: cryptogram, ECI: r.ECI,
		TransactionID: r.TransactionID, Version: r.Version}
}
