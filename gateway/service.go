// Package gateway is the payment service: it turns an approved ACP token into
// a charge at a processor chosen by routing, with every processor attempt
// recorded durably before it is made, so that no buyer is charged twice and
// no outcome is lost. It also captures, voids, refunds, and reconciles
// attempts whose outcome was unknown.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"

	"acpgw/metrics"
	"acpgw/payment"
	"acpgw/providers"
	"acpgw/routing"
	"acpgw/store"
	"acpgw/vault"
)

// Service is the payment service. It is safe for concurrent use.
type Service struct {
	store   store.Store
	metrics *metrics.Metrics
	log     *slog.Logger
	now     func() time.Time
	rt      atomic.Pointer[Runtime]
	// health holds the circuit breakers and latency trackers; it outlives
	// reloads.
	health *routing.Breakers
	// owner names this replica in reconciliation leases.
	owner string
	// cvcs holds the keys of the CVCs this process sealed (cvc.go); like
	// health, it outlives reloads.
	cvcs *vault.CVCKeys
	// retired closes swapped-out Runtimes (lifecycle.go).
	retired retirement
	// cryptograms holds the 3-D Secure cryptograms of pending payments
	// (retry.go); it outlives reloads too.
	cryptograms *cryptograms
	// onEvents is called after a commit that wrote merchant events.
	onEvents func()
	// tracer starts the spans of the payment's steps; nil when tracing is
	// off.
	tracer trace.Tracer
}

// Options configures a Service.
type Options struct {
	Store   store.Store
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Owner names this replica for reconciliation leases; hostname and pid
	// when empty.
	Owner string
	// RetireGrace is how long a Runtime swapped out by a reload stays open
	// at least, for users that do not acquire it (the API's authentication
	// reads Runtime()); DefaultRetireGrace when 0.
	RetireGrace time.Duration
	// OnEvents, when set, is called after every commit that wrote merchant
	// events to the outbox (main wakes the delivery workers with it). It
	// must not block.
	OnEvents func()
	// Tracer, if set, traces the steps of payments and modifications
	// (prepare, routing, intent, failover, settle). Processor calls and
	// store transactions are traced by wrapping the providers and the
	// store (package tracing).
	Tracer trace.Tracer
}

// New returns a Service serving rt.
func New(opts Options, rt *Runtime) *Service {
	s := &Service{metrics: opts.Metrics, log: opts.Logger, now: opts.Now, owner: opts.Owner, cvcs: vault.NewCVCKeys(),
		cryptograms: newCryptograms(), onEvents: opts.OnEvents, tracer: opts.Tracer}
	s.store = cvcStore{Store: opts.Store, keys: s.cvcs}
	s.retired.init(opts.RetireGrace)
	if s.now == nil {
		s.now = time.Now
	}
	if s.metrics == nil {
		s.metrics = metrics.New(prometheus.NewRegistry())
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.owner == "" {
		host, _ := os.Hostname()
		s.owner = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), vault.NewID(""))
	}
	s.health = routing.NewBreakers(s.now, func(name string, st routing.State) {
		s.metrics.CircuitState.WithLabelValues(name).Set(float64(st))
		up := 1.0
		if st == routing.Open {
			up = 0
		}
		s.metrics.ProcessorUp.WithLabelValues(name).Set(up)
		if st != routing.Closed {
			s.log.Warn("circuit state", slog.String("processor", name), slog.String("state", st.String()))
		}
	})
	s.configure(rt)
	s.rt.Store(rt)
	return s
}

// configure points the breakers at rt's processors.
func (s *Service) configure(rt *Runtime) {
	for name, p := range rt.Config.Processors {
		s.health.Configure(name, p.Circuit)
	}
}

// Health returns the breakers, for routing explanations and tests.
func (s *Service) Health() *routing.Breakers { return s.health }

// Runtime returns the Runtime in service now, for a short read (an API
// key lookup): it is not counted as a user, so it must be done within the
// retire grace period. Work that calls processors acquires its Runtime.
func (s *Service) Runtime() *Runtime { return s.rt.Load() }

// Swap installs a new Runtime and returns the old one. Requests under way
// finish on the Runtime they started with; the Service closes the old one
// once none of them uses it any more and the retire grace period has passed.
func (s *Service) Swap(rt *Runtime) *Runtime {
	s.configure(rt)
	old := s.rt.Swap(rt)
	if old != nil && old != rt {
		s.retire(old, false)
	}
	return old
}

// Errors of Ready: why the service cannot take requests now.
var (
	// ErrStoreUnreachable: the store does not answer.
	ErrStoreUnreachable = errors.New("store unavailable")
	// ErrNoConfig: no config is in service.
	ErrNoConfig = errors.New("no config")
)

// Ready returns nil when the service can take requests: its store answers
// and a config is in service. Otherwise the error wraps
// ErrStoreUnreachable or ErrNoConfig.
func (s *Service) Ready(ctx context.Context) error {
	if err := s.store.Ping(ctx); err != nil {
		return fmt.Errorf("%w: %w", ErrStoreUnreachable, err)
	}
	if s.Runtime() == nil {
		return ErrNoConfig
	}
	return nil
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying the request id for log lines.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id in ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// Get returns merchantID's payment id. Another merchant's payment is
// ErrNotFound, indistinguishable from a payment that does not exist.
func (s *Service) Get(ctx context.Context, merchantID, id string) (View, error) {
	p, err := s.store.GetPayment(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && p.MerchantID != merchantID {
		return View{}, publicError(payment.ErrNotFound, msgNoSuchPayment)
	}
	if err != nil {
		return View{}, err
	}
	return s.view(ctx, p)
}

func (s *Service) view(ctx context.Context, p store.Payment) (View, error) {
	atts, err := s.store.ListAttempts(ctx, p.ID)
	if err != nil {
		return View{}, err
	}
	refs, err := s.store.ListRefunds(ctx, p.ID)
	if err != nil {
		return View{}, err
	}
	return View{Payment: p, Attempts: atts, Refunds: refs}, nil
}

func attemptKey(paymentID string, seq int) string {
	return fmt.Sprintf("acpgw_%s_%d", paymentID, seq)
}

// callCtx detaches a processor call from the caller's cancellation (a client
// that hangs up must not turn a charge into an unknown outcome) and bounds
// it by the processor's timeout.
func callCtx(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), d)
}

// classify names an error's class for attempts and metrics.
func classify(err error) store.AttemptState {
	switch {
	case errors.Is(err, providers.ErrOutcomeUnknown):
		// Checked first: an error that wraps both classes may have charged.
		return store.AttemptPending
	case errors.Is(err, providers.ErrNotProcessed):
		return store.AttemptNotProcessed
	case errors.Is(err, providers.ErrRejected):
		return store.AttemptRejected
	default:
		return store.AttemptPending
	}
}

func errorText(err error) string {
	if err == nil {
		return ""
	}
	var pe *providers.Error
	if errors.As(err, &pe) {
		if pe.Code != "" {
			return pe.Class.Error() + " (" + pe.Code + ")"
		}
		return pe.Class.Error()
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return "timeout"
	}
	return "error"
}

func outcomeLabel(res providers.Result, err error) string {
	if err != nil {
		switch classify(err) {
		case store.AttemptNotProcessed:
			return "not_processed"
		case store.AttemptRejected:
			return "rejected"
		default:
			return "unknown"
		}
	}
	return string(res.Status)
}

func cleanMetadata(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

func lastN(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
