package gateway

import (
	"context"

	"go.opentelemetry.io/otel/trace"

	"acpgw/routing"
	"acpgw/tracing"
)

// step starts the span of one named step of a payment or modification
// (payment.prepare, payment.intent, ...); with tracing off it costs
// nothing.
func (s *Service) step(ctx context.Context, name, paymentID string) (context.Context, trace.Span) {
	ctx, span := tracing.Start(ctx, s.tracer, name)
	if paymentID != "" && span.IsRecording() {
		span.SetAttributes(tracing.AttrPaymentID.String(paymentID))
	}
	return ctx, span
}

// endDecision ends a routing span with what was decided: the strategy,
// the candidates in order, the reason and the rule.
func endDecision(span trace.Span, d *routing.Decision, err error) {
	if span.IsRecording() {
		span.SetAttributes(
			tracing.AttrStrategy.String(string(d.Strategy)),
			tracing.AttrCandidates.StringSlice(d.Names()),
			tracing.AttrReason.String(d.Reason),
		)
		if d.Rule != "" {
			span.SetAttributes(tracing.AttrRule.String(d.Rule))
		}
	}
	tracing.End(span, err)
}
