package gateway

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"acpgw/acp"
	"acpgw/store"
	"acpgw/vault"
)

// CVCs are crypto-shredded: each one is sealed under a data key of its own
// that lives only in this process (vault.CVCKeys), and erasing a CVC
// destroys its key. Nulling the column alone is not enough: SQLite's -wal
// file keeps old page images, PostgreSQL keeps old row versions until
// VACUUM, and backups keep everything; all those copies become ciphertext
// that no remaining key opens. A CVC cannot be used after a restart or on
// another replica than the one that issued its token: the payment then goes
// without it, as after vault.cvc_ttl.

// cvcStore is the store as the service sees it: erasing a token's CVC
// (Tx.DeleteTokenCVC, wherever the payment path, a webhook or
// reconciliation calls it) also destroys the key that sealed it. Every
// other method is the backend's.
type cvcStore struct {
	store.Store
	keys *vault.CVCKeys
}

// Tx runs fn in a transaction of the backend whose DeleteTokenCVC also
// destroys the CVC's key.
func (c cvcStore) Tx(ctx context.Context, fn func(tx store.Tx) error) error {
	return c.Store.Tx(ctx, func(tx store.Tx) error { return fn(cvcTx{Tx: tx, keys: c.keys}) })
}

// cvcTx is a backend transaction whose DeleteTokenCVC shreds.
type cvcTx struct {
	store.Tx
	keys *vault.CVCKeys
}

// DeleteTokenCVC destroys the token's CVC key, then nulls the sealed CVC.
// The key goes first and whatever the transaction's fate: a CVC that was
// meant to be erased must not be usable again, and a payment without one
// is the safe side.
func (t cvcTx) DeleteTokenCVC(ctx context.Context, id string) error {
	t.keys.Destroy(id)
	return t.Tx.DeleteTokenCVC(ctx, id)
}

// sealCVC seals a new token's CVC, nil for none, under a key that ends at
// end.
func (s *Service) sealCVC(tokenID, cvc string, now, end time.Time) ([]byte, error) {
	if cvc == "" {
		return nil, nil
	}
	return s.cvcs.Seal(tokenID, cvc, now, end)
}

// cvcEnd is when a CVC issued now stops being usable: after vault.cvc_ttl,
// or when its allowance ends if that is sooner.
func cvcEnd(rt *Runtime, now, allowanceEnd time.Time) time.Time {
	end := now.Add(rt.cvcTTL())
	if allowanceEnd.Before(end) {
		return allowanceEnd
	}
	return end
}

// openCVC returns the token's CVC, or "" when it has none that this process
// can open: erased, past its retention, or sealed before a restart or by
// another replica.
func (s *Service) openCVC(tok store.Token) string {
	cvc, _ := s.cvcs.Open(tok.ID, tok.CVC, s.now())
	return cvc
}

// checkTokenTTL refuses an allowance that ends later than vault.max_token_ttl
// from now: the token, and the card sealed for it, would be kept that long.
func checkTokenTTL(rt *Runtime, expiresAt, now time.Time) error {
	limit := rt.maxTokenTTL()
	if !expiresAt.After(now.Add(limit)) {
		return nil
	}
	return acp.Errorf(http.StatusBadRequest, acp.TypeInvalidRequest, acp.CodeInvalidCard, "$.allowance.expires_at",
		"allowance.expires_at is more than %s from now; this gateway keeps a token at most that long (vault.max_token_ttl)",
		humanDuration(limit))
}

// humanDuration writes whole days as days ("30 days"), anything else as Go
// does ("36h0m0s").
func humanDuration(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d == day:
		return "1 day"
	case d%day == 0:
		return strconv.FormatInt(int64(d/day), 10) + " days"
	default:
		return d.String()
	}
}

// SweepCVCs erases the CVCs whose retention (vault.cvc_ttl) has ended, in the
// store and in memory, and returns how many the store erased. Keys of
// allowances that ended go too: those tokens cannot pay any more.
func (s *Service) SweepCVCs(ctx context.Context) (int64, error) {
	rt := s.rt.Load()
	now := s.now().UTC()
	cutoff := now.Add(-rt.cvcTTL())
	// Memory first: from here on no sealed copy of these CVCs opens,
	// whatever becomes of the store's write.
	s.cvcs.Sweep(now, cutoff)
	var total int64
	for {
		n, err := s.store.EraseCVCs(ctx, cutoff, cvcSweepBatch)
		total += n
		if err != nil || n < cvcSweepBatch {
			return total, err
		}
	}
}

// cvcSweepBatch bounds the rows one write of SweepCVCs changes, so that the
// sweep never holds the SQLite writer for long.
const cvcSweepBatch = 500

// RunCVCSweep runs SweepCVCs, and SweepAuthSessions (the cards of
// authentication sessions past their time), at once and then on every
// tick until ctx ends. It recovers from panics, so that one bad pass
// cannot stop the loop. The caller owns the ticker (and a test its fake
// ticks).
func (s *Service) RunCVCSweep(ctx context.Context, ticks <-chan time.Time) {
	for {
		s.sweepCVCsSafely(ctx)
		s.sweepAuthSessionsSafely(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		}
	}
}

func (s *Service) sweepCVCsSafely(ctx context.Context) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("cvc sweep panic", slog.Any("panic", r))
		}
	}()
	n, err := s.SweepCVCs(ctx)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("cvc sweep failed", slog.String("error", err.Error()))
	}
	if n > 0 {
		s.log.Info("cvcs past vault.cvc_ttl erased", slog.Int64("count", n))
	}
}
