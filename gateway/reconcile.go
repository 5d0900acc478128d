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
	// After: only attempts pending for longer than this are re-sent.
	After time.Duration
	// Skew is added to every attempt's recorded call deadline before it may
	// be re-sent: the clocks of two replicas may differ by that much. The
	// deadline itself keeps a call still in flight from being re-sent,
	// whatever reload changed the processor's timeout since (see
	// attemptCtx).
	Skew time.Duration
	// Lease: how long this replica owns an attempt it re-sends; its re-send
	// ends by then.
	Lease time.Duration
	// Limit: attempts per pass.
	Limit int
}

// DefaultReconcileSkew is the clock skew between replicas that
// RunReconciler allows for.
const DefaultReconcileSkew = time.Second

// reconcileOptions are the options of a pass under rt's config: read at
// every pass, so that a reload applies to the next one.
func reconcileOptions(rt *Runtime) ReconcileOptions {
	c := rt.Config.Reconcile
	return ReconcileOptions{After: c.After, Skew: DefaultReconcileSkew, Lease: c.Lease}
}

// Reconcile re-sends pending attempts with their original idempotency key
// (the processor answers with the original outcome, or acts once if it never
// saw the request) and settles those that get a final answer. An attempt is
// re-sent only once its own call has ended: its recorded deadline (plus
// o.Skew) has passed. It returns how many were resolved and how many stay
// pending.
func (s *Service) Reconcile(ctx context.Context, o ReconcileOptions) (resolved, pending int, err error) {
	if o.Limit <= 0 {
		o.Limit = 100
	}
	rt, release := s.acquire()
	defer release()
	now := s.now().UTC()
	q := store.LeaseQuery{
		Owner: s.owner, Now: now, Limit: o.Limit,
		// The lease covers at least one whole re-send: no other replica
		// takes the attempt while this one's call may be in flight.
		LeaseUntil:     now.Add(max(o.Lease, rt.maxTimeout()+o.Skew)),
		StartedBefore:  now.Add(-o.After),
		DeadlineBefore: now.Add(-o.Skew),
		// An attempt written without a deadline (by an older acpgw) gets
		// the longest timeout configured now.
		Unrecorded: rt.maxTimeout(),
	}
	atts, err := s.store.LeasePendingAttempts(ctx, q)
	if err != nil {
		return 0, 0, err
	}
	for _, att := range atts {
		if ctx.Err() != nil {
			return resolved, pending, ctx.Err()
		}
		att.Deadline = resendDeadline(rt, att, s.now(), q, o.Skew)
		res, err := s.reconcileOne(ctx, rt, att)
		if res == resent {
			// The re-send came back without a final answer: it is over, so
			// the next pass may try again without waiting for the lease.
			if rerr := s.store.ReturnLease(ctx, att.ID, s.owner, s.now().UTC()); rerr != nil && err == nil {
				err = rerr
			}
		}
		result := "still_pending"
		if res == resolvedNow {
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

// resendDeadline is the deadline of att's re-send at now: the processor's
// timeout, but no later than the lease ends (less the clock skew between
// replicas), after which another replica may take the attempt over and
// re-send it too. Past it, the re-send is not made.
func resendDeadline(rt *Runtime, att store.Attempt, now time.Time, q store.LeaseQuery, skew time.Duration) time.Time {
	d := now.Add(rt.timeout(att.Processor))
	if end := q.LeaseUntil.Add(-skew); end.Before(d) {
		d = end
	}
	return d
}

// reconcileResult is what a reconciliation of one attempt came to.
type reconcileResult int

const (
	// keepLease: nothing was sent (the processor is no longer configured,
	// the lease ran out, a read failed), or the answer could not be
	// recorded; the attempt keeps its lease until it runs out.
	keepLease reconcileResult = iota
	// resent: the re-send came back without a final answer.
	resent
	// resolvedNow: the attempt is settled.
	resolvedNow
)

func (s *Service) reconcileOne(ctx context.Context, rt *Runtime, att store.Attempt) (reconcileResult, error) {
	prov, ok := rt.Providers.Get(att.Processor)
	if !ok {
		return keepLease, errors.New("processor no longer configured")
	}
	if !s.now().Before(att.Deadline) {
		return keepLease, errors.New("lease ran out before the re-send")
	}
	p, err := s.store.GetPayment(ctx, att.PaymentID)
	if err != nil {
		return keepLease, err
	}
	if providers.Operation(att.Operation) != providers.OpAuthorize {
		out := s.callModify(ctx, rt, prov, p, att)
		if out.err != nil {
			return resent, out.err
		}
		if out.res.Status == payment.StatusPending {
			return resent, nil
		}
		_, err := s.settleModification(ctx, Idempotency{}, att, out)
		return settled(err)
	}
	pl := &payPlan{p: p, resolving: true}
	// The token, held by this payment until it settles: its count of
	// payments decides whether a retryable decline reopens it (retry.go).
	// A Shared Payment Token's row is acpgw's own record of its uses.
	switch pl.tok, err = s.store.GetToken(ctx, p.TokenID); {
	case err == nil:
		pl.tokenAttempts = pl.tok.Attempts
	case errors.Is(err, store.ErrNotFound) && p.TokenKind != string(acp.TokenVault):
		pl.tokenAttempts = rt.tokenMaxAttempts() // no record: never reopened
	default:
		return keepLease, err
	}
	if pl.atts, err = s.store.ListAttempts(ctx, p.ID); err != nil {
		return keepLease, err
	}
	// The attempt being reconciled is the current one: the view lists it
	// last.
	pl.atts = slices.DeleteFunc(pl.atts, func(a store.Attempt) bool { return a.ID == att.ID })
	pl.atts = append(pl.atts, att)
	ins, err := s.instrument(rt, p, pl.tok)
	if err != nil {
		return keepLease, err
	}
	// The 3-D Secure result goes again, with its cryptogram when this
	// process still has it (retry.go).
	pl.auth = authOf(att.Authentication, s.cryptograms.get(p.ID, s.now()))
	res, callErr, latency := s.authorize(ctx, rt, prov, p, att, ins, pl.auth)
	if callErr != nil {
		// Whatever the class, the first request may have been acted on: only
		// a definite answer to the same key settles it.
		return resent, callErr
	}
	if res.Status == payment.StatusPending {
		return resent, nil
	}
	_, err = s.settlePayment(ctx, rt, pl, callOutcome{res: res, latency: latency})
	return settled(err)
}

// settled is the result of a settlement that returned err.
func settled(err error) (reconcileResult, error) {
	if err != nil {
		// The answer could not be recorded; the attempt stays pending and
		// leased, and a later pass re-sends it.
		return keepLease, err
	}
	return resolvedNow, nil
}

// RunReconciler reconciles at start and then every reconcile.interval
// until ctx ends. Each pass takes its options from the config in service
// then, so a reload applies from the next pass. It recovers from panics so
// that one bad record cannot stop the loop.
func (s *Service) RunReconciler(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		rt := s.Runtime()
		s.reconcileSafely(ctx, reconcileOptions(rt))
		t.Reset(rt.Config.Reconcile.Interval)
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
