package main

import (
	"context"
	"log/slog"
	"time"
)

// drainer is what the shutdown needs of the API server: readiness that
// turns to 503.
type drainer interface{ Drain() }

// stopServing is the shutdown of the listeners in two phases. First
// readiness says 503 while the listeners keep serving for delay, so that
// load balancers notice and stop sending requests before the listeners
// close; cut (a second signal) ends the delay early. Then in-flight
// requests get grace to finish and the listeners close. after is
// time.After, or a fake clock in tests; ctx carries values only (its
// cancellation is what started the shutdown).
func stopServing(ctx context.Context, log *slog.Logger, api drainer, ls *listeners, delay, grace time.Duration,
	after func(time.Duration) <-chan time.Time, cut <-chan struct{}) {
	api.Drain()
	if delay > 0 {
		log.Info("draining: /readyz answers 503; listeners close after the drain delay",
			slog.Duration("drain_delay", delay))
		select {
		case <-after(delay):
		case <-cut:
			log.Info("drain delay cut short by a second signal")
		}
	}
	log.Info("shutting down", slog.Duration("grace", grace))
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	ls.shutdown(sctx, log)
}
