package gateway

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"

	"acpgw/acp"
	"acpgw/payment"
	"acpgw/providers"
	"acpgw/store"
)

// ReconcileOptions tunes a reconciliation pass.
type ReconcileOptions struct {
	// After: only attempts pending for longer than this are re-sent, so a
	// call still in flight is left alone.
	After time.Duration
	// Lease: how long this replica owns an attempt it re-sends.
	Lease time.Duration
	// Limit: attempts per pass.
	Limit int
}

// Reconcile re-sends pending attempts with their original idempotency key
// (the processor answers with the original outcome, or acts once if it never
// saw the request) and settles those that get a final answer. It returns how
// many were resolved and how many stay pending.
func (s *Service) Reconcile(ctx context.Context, o ReconcileOptions) (resolved, pending int, err error) {
	if o.Limit <= 0 {
		o.Limit = 100
	}
	now := s.now().UTC()
	atts, err := s.store.LeasePendingAttempts(ctx, s.owner, now.Add(-o.After), now, now.Add(o.Lease), o.Limit)
	if err != nil {
		return 0, 0, err
	}
	rt := s.rt.Load()
	for _, att := range atts {
		if ctx.Err() != nil {
			return resolved, pending, ctx.Err()
		}
		ok, err := s.reconcileOne(ctx, rt, att)
		result := "still_pending"
		if ok {
			resolved++
			result = "resolved"
		} else {
			pending++
		}
		s.metrics.Reconciliations.WithLabelValues(att.Processor, result).Inc()
		if err != nil {
			s.log.LogAttrs(ctx, slog.LevelWarn, "reconcile attempt",
				slog.String("payment_id", att.PaymentID), slog.String("attempt_id", att.ID),
				slog.String("processor", att.Processor), slog.String("error", err.Error()))
		}
	}
	s.metrics.PendingAttempts.Set(float64(pending))
	return resolved, pending, nil
}

func (s *Service) reconcileOne(ctx context.Context, rt *Runtime, att store.Attempt) (bool, error) {
	prov, ok := rt.Providers.Get(att.Processor)
	if !ok {
		return false, errors.New("processor no longer configured")
	}
	p, err := s.store.GetPayment(ctx, att.PaymentID)
	if err != nil {
		return false, err
	}
	if providers.Operation(att.Operation) != providers.OpAuthorize {
		out := s.callModify(ctx, rt, prov, p, att)
		if out.err != nil {
			return false, out.err
		}
		if out.res.Status == payment.StatusPending {
			return false, nil
		}
		_, err := s.settleModification(ctx, Idempotency{}, att, out)
		return err == nil, err
	}
	pl := &payPlan{p: p}
	if p.TokenKind == string(acp.TokenVault) {
		if pl.tok, err = s.store.GetToken(ctx, p.TokenID); err != nil {
			return false, err
		}
	}
	if pl.atts, err = s.store.ListAttempts(ctx, p.ID); err != nil {
		return false, err
	}
	// The attempt being reconciled is the current one: the view lists it
	// last.
	pl.atts = slices.DeleteFunc(pl.atts, func(a store.Attempt) bool { return a.ID == att.ID })
	pl.atts = append(pl.atts, att)
	ins, err := s.instrument(rt, p, pl.tok)
	if err != nil {
		return false, err
	}
	res, callErr, latency := s.authorize(ctx, rt, prov, p, att, ins)
	if callErr != nil {
		// Whatever the class, the first request may have been acted on: only
		// a definite answer to the same key settles it.
		return false, callErr
	}
	if res.Status == payment.StatusPending {
		return false, nil
	}
	_, err = s.settlePayment(ctx, rt, pl, callOutcome{res: res, latency: latency})
	return err == nil, err
}

// RunReconciler reconciles at start and then every interval until ctx ends.
// It recovers from panics so that one bad record cannot stop the loop.
func (s *Service) RunReconciler(ctx context.Context, interval time.Duration, o ReconcileOptions) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.reconcileSafely(ctx, o)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Service) reconcileSafely(ctx context.Context, o ReconcileOptions) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("reconciler panic", slog.Any("panic", r))
		}
	}()
	resolved, pending, err := s.Reconcile(ctx, o)
	if err != nil && ctx.Err() == nil {
		s.log.Warn("reconcile pass failed", slog.String("error", err.Error()))
		return
	}
	if resolved > 0 || pending > 0 {
		s.log.Info("reconcile pass", slog.Int("resolved", resolved), slog.Int("pending", pending))
	}
}
