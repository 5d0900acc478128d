// Package tracing is acpgw's OpenTelemetry tracing: the tracer provider
// that exports spans over OTLP/HTTP (tracing: in config), wrappers that
// trace the store's transactions and the processors' calls, a log handler
// that puts the trace and span ids on every log line of a traced request,
// and the span names and attributes the rest of acpgw shares.
//
// With tracing off every entry point takes a nil trace.Tracer and costs
// nothing: no span, no context value, no allocation. Spans never carry a
// card number, CVC, token or key: attributes are names, ids acpgw made
// (payment, attempt, request), processor references and outcome classes,
// and a failed span's status is the error's class, never its message.
package tracing

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"acpgw/acp"
	"acpgw/config"
	"acpgw/payment"
	"acpgw/providers"
)

// InstrumentationName names acpgw's tracer.
const InstrumentationName = "acpgw"

// Attribute keys acpgw sets on its spans.
const (
	AttrMerchantID  = attribute.Key("acpgw.merchant_id")
	AttrAgentID     = attribute.Key("acpgw.agent_id")
	AttrRequestID   = attribute.Key("acpgw.request_id")
	AttrPaymentID   = attribute.Key("acpgw.payment_id")
	AttrAttempt     = attribute.Key("acpgw.attempt")
	AttrProcessor   = attribute.Key("acpgw.processor")
	AttrProcType    = attribute.Key("acpgw.processor.type")
	AttrOperation   = attribute.Key("acpgw.processor.operation")
	AttrOutcome     = attribute.Key("acpgw.processor.outcome")
	AttrProcRequest = attribute.Key("acpgw.processor.request_id")
	AttrReference   = attribute.Key("acpgw.processor.reference")
	AttrDeclineCode = attribute.Key("acpgw.decline_code")
	AttrStrategy    = attribute.Key("acpgw.routing.strategy")
	AttrCandidates  = attribute.Key("acpgw.routing.candidates")
	AttrReason      = attribute.Key("acpgw.routing.reason")
	AttrRule        = attribute.Key("acpgw.routing.rule")
	AttrDBSystem    = attribute.Key("db.system.name")
)

// Tracing owns the tracer provider of one `acpgw serve`.
type Tracing struct {
	tp *sdktrace.TracerProvider
}

// New builds the exporter and provider cfg asks for. With tracing off it
// returns a Tracing whose Tracer is nil. Nothing connects until the first
// batch of spans is exported.
func New(ctx context.Context, cfg config.Tracing, version string) (*Tracing, error) {
	if !cfg.Enabled() {
		return &Tracing{}, nil
	}
	exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(TracesURL(cfg.Endpoint)))
	if err != nil {
		return nil, fmt.Errorf("tracing: OTLP exporter: %w", err)
	}
	return NewWithExporter(cfg, version, exp), nil
}

// NewWithExporter is New with the span exporter given (tests, benchmarks).
func NewWithExporter(cfg config.Tracing, version string, exp sdktrace.SpanExporter) *Tracing {
	name := cfg.ServiceName
	if name == "" {
		name = config.DefaultServiceName
	}
	res := resource.NewSchemaless(
		attribute.String("service.name", name),
		attribute.String("service.version", version),
	)
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		// Parent based: a caller's sampled traceparent is kept, an unsampled
		// one is not; new traces are kept at the configured ratio.
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(cfg.SampleRatio))),
		sdktrace.WithResource(res),
	)
	return &Tracing{tp: tp}
}

// TracesURL is endpoint with OTLP/HTTP's /v1/traces path added when it has
// no path.
func TracesURL(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Path != "" && u.Path != "/") {
		return endpoint
	}
	u.Path = "/v1/traces"
	return u.String()
}

// Tracer returns acpgw's tracer, nil when tracing is off.
func (t *Tracing) Tracer() trace.Tracer {
	if t == nil || t.tp == nil {
		return nil
	}
	return t.tp.Tracer(InstrumentationName)
}

// ForceFlush exports every span ended so far.
func (t *Tracing) ForceFlush(ctx context.Context) error {
	if t == nil || t.tp == nil {
		return nil
	}
	return t.tp.ForceFlush(ctx)
}

// Shutdown exports what is left and stops the provider.
func (t *Tracing) Shutdown(ctx context.Context) error {
	if t == nil || t.tp == nil {
		return nil
	}
	return t.tp.Shutdown(ctx)
}

// noop is the span of a nil tracer: every method does nothing.
var noop = trace.SpanFromContext(context.Background())

// Start starts a span named name under ctx's span. With a nil tr (tracing
// off) it returns ctx itself and a span that does nothing, allocating
// nothing. Under a span that is not sampled it does the same: acpgw's
// sampler is parent based, so no child of an unsampled span is ever
// sampled, and the 90% of requests that a 10% ratio leaves out cost one
// span (the request's) instead of one per step. The trace and span ids of
// ctx stay for log lines and traceparent.
func Start(ctx context.Context, tr trace.Tracer, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	if tr == nil {
		return ctx, noop
	}
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() && !sc.IsSampled() {
		return ctx, noop
	}
	return tr.Start(ctx, name, opts...)
}

// End ends span; a non-nil err marks it failed with ErrorClass(err).
func End(span trace.Span, err error) {
	if err != nil && span.IsRecording() {
		span.SetStatus(codes.Error, ErrorClass(err))
	}
	span.End()
}

// sentinels are the errors whose text ErrorClass may show: fixed
// strings, no value of the request in them.
var sentinels = []error{
	payment.ErrTokenInvalid, payment.ErrTokenExpired, payment.ErrTokenConsumed, payment.ErrAllowanceExceeded,
	payment.ErrCurrencyMismatch, payment.ErrMerchantMismatch, payment.ErrCheckoutSessionMismatch,
	payment.ErrTokenNotRoutable, payment.ErrNoProcessor, payment.ErrInvalidState, payment.ErrAmountTooLarge,
	payment.ErrConflict, payment.ErrUnavailable, payment.ErrNotFound, payment.ErrUnknownCurrency,
	payment.ErrInvalidAmount, payment.ErrOverflow, payment.ErrCurrencyDiffers,
	context.DeadlineExceeded, context.Canceled,
}

// ErrorClass names what kind of error err is without its message, which
// may quote a token id or a value of the request: a processor error's
// class and code, an ACP error's code, a known sentinel's text, else
// "error".
func ErrorClass(err error) string {
	var pe *providers.Error
	if errors.As(err, &pe) {
		if pe.Code != "" {
			return pe.Class.Error() + " (" + pe.Code + ")"
		}
		return pe.Class.Error()
	}
	var ae *acp.Error
	if errors.As(err, &ae) {
		return ae.Type + "/" + ae.Code
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return s.Error()
		}
	}
	return "error"
}
