// Package metrics holds acpgw's Prometheus collectors, built on a registry
// the caller owns (no globals), and the label policy that keeps series
// bounded: labels carry only names that config lists.
package metrics

import (
	"context"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/trace"
)

// OtherMerchant is the merchant label of every merchant without
// metrics.per_merchant, so that thousands of merchants cannot explode the
// series count.
const OtherMerchant = "_other"

// Metrics is the set of acpgw collectors. Names are a contract once shipped
// (docs/metrics.md lists them).
type Metrics struct {
	HTTPRequests        *prometheus.CounterVec
	HTTPDuration        *prometheus.HistogramVec
	ProcessorDuration   *prometheus.HistogramVec
	Payments            *prometheus.CounterVec
	Declines            *prometheus.CounterVec
	PaymentAmount       *prometheus.CounterVec
	Fees                *prometheus.CounterVec
	FeeRate             *prometheus.HistogramVec
	RoutingDecisions    *prometheus.CounterVec
	Failovers           *prometheus.CounterVec
	ProcessorUp         *prometheus.GaugeVec
	CircuitState        *prometheus.GaugeVec
	ConfigReloadSuccess prometheus.Gauge
	PendingAttempts     prometheus.Gauge
	Reconciliations     *prometheus.CounterVec
	IdempotentReplays   *prometheus.CounterVec
	TokensIssued        *prometheus.CounterVec
	TokensRefused       *prometheus.CounterVec
	Webhooks            *prometheus.CounterVec
	UnknownDeclineCodes *prometheus.CounterVec
	ProcessorRetries    *prometheus.CounterVec
	// Merchant events: written to the outbox, delivery attempts and their
	// latency, given up, and the backlog the store holds.
	EventsCreated         *prometheus.CounterVec
	EventDeliveries       *prometheus.CounterVec
	EventDeliveryDuration *prometheus.HistogramVec
	EventsGivenUp         *prometheus.CounterVec
	EventBacklog          *prometheus.GaugeVec
	EventBacklogAge       *prometheus.GaugeVec
	// RateLimitBackendErrors counts requests whose rate limit could not be
	// checked (Redis down), by what limits.on_error made of them.
	RateLimitBackendErrors *prometheus.CounterVec
	// RateLimitBackendUp is 0 while the shared rate limit backend (Redis)
	// does not answer, else 1 (always 1 with the memory backend).
	RateLimitBackendUp prometheus.Gauge
	// AuthSessions counts Delegate Authentication sessions that ended, by
	// provider and final status; AuthStepDuration times each call to an
	// authentication provider, by provider and step.
	AuthSessions     *prometheus.CounterVec
	AuthStepDuration *prometheus.HistogramVec
	Build            *prometheus.GaugeVec
}

// latencyBuckets spans a fast mock (sub-millisecond) to a slow processor
// (tens of seconds).
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// New creates the collectors and registers them, with the Go and process
// collectors, on reg.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		HTTPRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "acpgw_http_requests_total",
			Help: "HTTP requests answered, by route template, method and status code.",
		}, []string{"route", "method", "code"}),
		HTTPDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "acpgw_http_request_duration_seconds",
			Help:    "Time to answer an HTTP request, by route template and method.",
			Buckets: latencyBuckets,
		}, []string{"route", "method"}),
		ProcessorDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "acpgw_processor_request_duration_seconds",
			Help:    "Time of one processor call, by processor, operation and outcome.",
			Buckets: latencyBuckets,
		}, []string{"processor", "operation", "outcome"}),
		Payments: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "acpgw_payments_total",
			Help: "Payments that reached a status, by processor and status.",
		}, []string{"processor", "status", "merchant"}),
		Declines: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "acpgw_declines_total",
			Help: "Declined payments by processor and acpgw decline code.",
		}, []string{"processor", "code"}),
		PaymentAmount: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "acpgw_payment_amount_total",
			Help: "Amount of authorized or captured payments, in minor units of the currency.",
		}, []string{"processor", "currency", "merchant"}),
		Fees: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "acpgw_fees_total",
			Help: "Processing fees in minor units of the currency; kind is estimated or actual.",
		}, []string{"processor", "currency", "kind"}),
		FeeRate: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "acpgw_fee_rate_bps",
			Help:    "Estimated fee of each payment as basis points of its amount.",
			Buckets: []float64{10, 25, 50, 75, 100, 150, 200, 250, 300, 350, 400, 500, 750, 1000},
		}, []string{"processor"}),
		RoutingDecisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "acpgw_routing_decisions_total",
			Help: "Routing decisions by strategy, chosen processor and reason.",
		}, []string{"strategy", "processor", "reason"}),
		Failovers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "acpgw_failovers_total",
			Help: "Failovers from one processor to the next, by reason.",
		}, []string{"from", "to", "reason"}),
		ProcessorUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "acpgw_processor_up",
			Help: "1 when the processor takes traffic (circuit not open), else 0.",
		}, []string{"processor"}),
		CircuitState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "acpgw_circuit_state",
			Help: "Circuit breaker state per processor: 0 closed, 1 half-open, 2 open.",
		}, []string{"processor"}),
		ConfigReloadSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "acpgw_config_reload_success",
			Help: "1 when the last config load or reload succeeded, 0 when it failed.",
		}),
		PendingAttempts: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "acpgw_pending_attempts",
			Help: "Processor attempts whose outcome is unknown, as seen by the last reconciliation pass.",
		}),
		Reconciliations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "acpgw_reconciliations_total",
			Help: "Pending attempts re-sent by reconciliation, by processor and result (resolved or still_pending).",
		}, []string{"processor", "result"}),
		IdempotentReplays: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "acpgw_idempotency_total",
			Help: "Idempotency-Key handling by route and result (new, replayed, conflict, in_flight).",
		}, []string{"route", "result"}),
		TokensIssued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "acpgw_tokens_issued_total",
			Help: "Vault tokens issued by delegate_payment, by merchant.",
		}, []string{"merchant"}),
		TokensRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "acpgw_tokens_refused_total",
			Help: "delegate_payment requests refused by the risk policy, by merchant and reason (risk_action, risk_score).",
		}, []string{"merchant", "reason"}),
		Webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "acpgw_webhooks_total",
			Help: "Processor webhook deliveries by processor and result (accepted, bad_signature, invalid, error).",
		}, []string{"processor", "result"}),
		UnknownDeclineCodes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "acpgw_unknown_decline_codes_total",
			Help: "Processor decline codes acpgw's tables do not know (mapped to unknown), by processor.",
		}, []string{"processor"}),
		ProcessorRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "acpgw_processor_retries_total",
			Help: "Processor requests a provider re-sent by itself with the same idempotency key, by processor, operation and reason (in_progress).",
		}, []string{"processor", "operation", "reason"}),
		EventsCreated: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "acpgw_events_created_total",
			Help: "Merchant events written to the outbox, by event type.",
		}, []string{"type"}),
		EventDeliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "acpgw_event_deliveries_total",
			Help: "Attempts to deliver a merchant event, by merchant and result (delivered, http_error, timeout, connection_error, no_endpoint).",
		}, []string{"merchant", "result"}),
		EventDeliveryDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "acpgw_event_delivery_duration_seconds",
			Help:    "Time of one delivery attempt of a merchant event, until the merchant's answer or the failure, by merchant.",
			Buckets: latencyBuckets,
		}, []string{"merchant"}),
		EventsGivenUp: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "acpgw_events_given_up_total",
			Help: "Merchant events marked failed after events.give_up_after without a 2xx, by merchant.",
		}, []string{"merchant"}),
		EventBacklog: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "acpgw_event_backlog",
			Help: "Merchant events not delivered yet (pending in the store, whichever replica will send them), by merchant.",
		}, []string{"merchant"}),
		EventBacklogAge: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "acpgw_event_backlog_oldest_age_seconds",
			Help: "Age of the oldest merchant event not delivered yet, from the store, by merchant; 0 when none waits.",
		}, []string{"merchant"}),
		RateLimitBackendErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "acpgw_rate_limit_backend_errors_total",
			Help: "Requests whose rate limit the shared backend (Redis) could not check, by what limits.on_error did with them (allowed or denied).",
		}, []string{"result"}),
		RateLimitBackendUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "acpgw_rate_limit_backend_up",
			Help: "0 while the shared rate limit backend (Redis) does not answer, else 1; always 1 with limits.backend memory.",
		}),
		AuthSessions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "acpgw_authentication_sessions_total",
			Help: "Delegate Authentication (3-D Secure) sessions that ended, by authentication provider and final status (authenticated, attempted, not_authenticated, rejected, unavailable, not_supported, expired, challenge_abandoned).",
		}, []string{"provider", "status"}),
		AuthStepDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "acpgw_authentication_step_duration_seconds",
			Help:    "Time of one call to an authentication provider, by provider and step (create, authenticate, result), failures included.",
			Buckets: latencyBuckets,
		}, []string{"provider", "step"}),
		Build: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "acpgw_build_info",
			Help: "Always 1; labels say the acpgw version and Go version.",
		}, []string{"version", "goversion"}),
	}
	reg.MustRegister(
		m.HTTPRequests, m.HTTPDuration, m.ProcessorDuration, m.Payments, m.Declines,
		m.PaymentAmount, m.Fees, m.FeeRate, m.RoutingDecisions, m.Failovers, m.ProcessorUp,
		m.CircuitState, m.ConfigReloadSuccess, m.PendingAttempts, m.Reconciliations,
		m.IdempotentReplays, m.TokensIssued, m.TokensRefused, m.Webhooks, m.UnknownDeclineCodes, m.ProcessorRetries, m.Build,
		m.EventsCreated, m.EventDeliveries, m.EventDeliveryDuration, m.EventsGivenUp, m.EventBacklog, m.EventBacklogAge,
		m.RateLimitBackendErrors, m.RateLimitBackendUp, m.AuthSessions, m.AuthStepDuration,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Observe records v in o, with the trace id of ctx's span as the
// observation's exemplar when that span is sampled, so that a dashboard can
// link a slow bucket to one trace of it. Exemplars are exposed in the
// OpenMetrics format only (Prometheus stores them with
// --enable-feature=exemplar-storage). Without a sampled span (tracing off)
// it is o.Observe(v).
func Observe(ctx context.Context, o prometheus.Observer, v float64) {
	if sc := trace.SpanContextFromContext(ctx); sc.IsSampled() {
		if eo, ok := o.(prometheus.ExemplarObserver); ok {
			eo.ObserveWithExemplar(v, prometheus.Labels{ExemplarTraceID: sc.TraceID().String()})
			return
		}
	}
	o.Observe(v)
}

// ExemplarTraceID is the exemplar label that holds a trace id; Grafana's
// exemplar links read it.
const ExemplarTraceID = "trace_id"

// MerchantLabels decides the merchant label value: merchants listed in the
// set keep their id, every other merchant is OtherMerchant.
type MerchantLabels map[string]bool

// Label returns the merchant label for id.
func (l MerchantLabels) Label(id string) string {
	if l[id] {
		return id
	}
	return OtherMerchant
}
