package gateway

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// DefaultRetireGrace is how long a Runtime swapped out by a reload stays
// open at least when Options.RetireGrace is 0.
const DefaultRetireGrace = 10 * time.Second

// retirement closes the Runtimes a Service no longer serves. Each one is
// closed by a goroutine of its own, owned here: once no request uses it
// and the grace period since the swap has passed, or at once when the
// Service closes. Close waits for them all.
type retirement struct {
	grace   time.Duration
	wg      sync.WaitGroup
	closing chan struct{}
	once    sync.Once
}

func (r *retirement) init(grace time.Duration) {
	if grace <= 0 {
		grace = DefaultRetireGrace
	}
	r.grace = grace
	r.closing = make(chan struct{})
}

// acquire returns the Runtime in service, counted as used until release is
// called. A Runtime swapped out between the load and the count is not
// used: the one that replaced it is loaded again. Once the Service is
// closed, the last Runtime is returned uncounted.
func (s *Service) acquire() (rt *Runtime, release func()) {
	for {
		rt := s.rt.Load()
		if rt.acquire() {
			return rt, rt.release
		}
		if s.rt.Load() == rt {
			return rt, func() {}
		}
	}
}

// retire closes rt once no request uses it: after the grace period, or
// without waiting for it when now is set or the Service is closing.
func (s *Service) retire(rt *Runtime, now bool) {
	idle := rt.retire()
	r := &s.retired
	r.wg.Go(func() {
		if !now {
			grace := time.NewTimer(r.grace)
			select {
			case <-grace.C:
			case <-r.closing:
				grace.Stop()
			}
		}
		<-idle
		if err := rt.Close(); err != nil {
			s.log.Warn("closing a retired runtime", slog.String("error", err.Error()))
		}
	})
}

// Close retires the Runtime in service and closes every retired Runtime as
// soon as no request uses it, without waiting for grace periods. It returns
// when all are closed, or ctx's error if ctx ends first (requests still
// hold a Runtime). Call it once the listeners and background loops have
// stopped.
func (s *Service) Close(ctx context.Context) error {
	r := &s.retired
	r.once.Do(func() {
		close(r.closing)
		s.retire(s.rt.Load(), true)
	})
	done := make(chan struct{})
	go func() {
		r.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
