package gateway

import (
	"context"
	"time"

	"acpgw/store"
)

// startBudget bounds the time from writing an attempt to starting its
// call: the commit of the transaction that writes it, milliseconds usually,
// seconds under heavy load. An attempt's recorded deadline allows for it on
// top of the processor's timeout, so that a slow commit does not shorten
// the call; a call that could not start within it gets the time left. It
// delays reconciliation only after a crash: a call that returned, with any
// answer, lowers its attempt's deadline to the moment it did (endCall).
const startBudget = 10 * time.Second

// attemptCtx is the context of att's processor call: detached from the
// caller's cancellation (a client that hangs up must not turn a charge into
// an unknown outcome), bounded by the processor's timeout, and ending at
// the latest at the attempt's recorded deadline, so that the call is never
// in flight after the time its record gives, whatever reload changes the
// processor's timeout meanwhile: reconciliation leaves the attempt alone
// until then. The time to the deadline is measured on the service's clock,
// the clock it was set on.
func (s *Service) attemptCtx(ctx context.Context, rt *Runtime, att store.Attempt) (context.Context, context.CancelFunc) {
	d := rt.timeout(att.Processor)
	if !att.Deadline.IsZero() {
		d = min(d, att.Deadline.Sub(s.now()))
	}
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// endCall records that a's call returned at now: a call that came back
// without a final answer (Adyen's "in progress", a timeout) is no longer in
// flight, so reconciliation need not wait for the rest of its deadline.
func endCall(a *store.Attempt, now time.Time) {
	if a.Deadline.IsZero() || now.Before(a.Deadline) {
		a.Deadline = now.UTC()
	}
}
