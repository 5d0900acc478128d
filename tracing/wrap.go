package tracing

import (
	"context"
	"errors"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"acpgw/providers"
	"acpgw/store"
)

// Store returns st with each write transaction traced as a span "store.tx"
// (db.system.name = system) under the caller's span. Reads are not
// traced: they are single statements, and the steps that make them have
// spans of their own. A nil tr returns st itself.
func Store(st store.Store, tr trace.Tracer, system string) store.Store {
	if tr == nil {
		return st
	}
	return &tracedStore{Store: st, tr: tr, system: attribute.String(string(AttrDBSystem), system)}
}

type tracedStore struct {
	store.Store
	tr     trace.Tracer
	system attribute.KeyValue
}

// Tx runs fn in a transaction under a span.
func (s *tracedStore) Tx(ctx context.Context, fn func(tx store.Tx) error) error {
	ctx, span := Start(ctx, s.tr, "store.tx", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(s.system))
	err := s.Store.Tx(ctx, fn)
	End(span, err)
	return err
}

// Provider returns p with each processor call traced as a client span
// "processor.<operation>": processor, type, operation, payment, attempt,
// and when it ends the outcome class (the same as the processor latency
// metric's outcome label), the processor's reference and request id, and a
// decline's code. The optional interfaces p implements (webhooks, reading
// a payment back) are kept. A nil tr returns p itself.
func Provider(p providers.Provider, tr trace.Tracer) providers.Provider {
	if tr == nil {
		return p
	}
	t := &tracedProvider{Provider: p, tr: tr, name: p.Name(), typ: p.Type()}
	wr, isWR := p.(providers.WebhookReceiver)
	sr, isSR := p.(providers.StatusReader)
	switch {
	case isWR && isSR:
		return &tracedWebhookStatus{tracedProvider: t, WebhookReceiver: wr, sr: sr}
	case isWR:
		return &tracedWebhook{tracedProvider: t, WebhookReceiver: wr}
	case isSR:
		return &tracedStatus{tracedProvider: t, sr: sr}
	}
	return t
}

type tracedProvider struct {
	providers.Provider
	tr        trace.Tracer
	name, typ string
}

var (
	_ providers.Closer = (*tracedProvider)(nil)
	_ providers.Closer = (*tracedWebhookStatus)(nil)
)

type tracedWebhook struct {
	*tracedProvider
	providers.WebhookReceiver
}

type tracedStatus struct {
	*tracedProvider
	sr providers.StatusReader
}

// Status reads a payment back under a span.
func (t *tracedStatus) Status(ctx context.Context, reference string) (providers.Result, error) {
	return t.status(ctx, t.sr, reference)
}

type tracedWebhookStatus struct {
	*tracedProvider
	providers.WebhookReceiver
	sr providers.StatusReader
}

// Status reads a payment back under a span.
func (t *tracedWebhookStatus) Status(ctx context.Context, reference string) (providers.Result, error) {
	return t.status(ctx, t.sr, reference)
}

// Unwrap returns the traced provider, for the optional interfaces the
// wrapper does not keep (providers.AuthenticatorOf).
func (t *tracedProvider) Unwrap() providers.Provider { return t.Provider }

// Close closes the wrapped provider when it holds resources.
func (t *tracedProvider) Close() error {
	if c, ok := t.Provider.(providers.Closer); ok {
		return c.Close()
	}
	return nil
}

// Authorize calls the processor under a span.
func (t *tracedProvider) Authorize(ctx context.Context, req providers.AuthorizeRequest) (providers.Result, error) {
	ctx, span := t.start(ctx, providers.OpAuthorize, req.PaymentID, req.Attempt)
	res, err := t.Provider.Authorize(ctx, req)
	t.end(span, res, err)
	return res, err
}

// Capture calls the processor under a span.
func (t *tracedProvider) Capture(ctx context.Context, req providers.ModifyRequest) (providers.Result, error) {
	ctx, span := t.start(ctx, providers.OpCapture, req.PaymentID, req.Attempt)
	res, err := t.Provider.Capture(ctx, req)
	t.end(span, res, err)
	return res, err
}

// Void calls the processor under a span.
func (t *tracedProvider) Void(ctx context.Context, req providers.ModifyRequest) (providers.Result, error) {
	ctx, span := t.start(ctx, providers.OpVoid, req.PaymentID, req.Attempt)
	res, err := t.Provider.Void(ctx, req)
	t.end(span, res, err)
	return res, err
}

// Refund calls the processor under a span.
func (t *tracedProvider) Refund(ctx context.Context, req providers.ModifyRequest) (providers.Result, error) {
	ctx, span := t.start(ctx, providers.OpRefund, req.PaymentID, req.Attempt)
	res, err := t.Provider.Refund(ctx, req)
	t.end(span, res, err)
	return res, err
}

func (t *tracedProvider) status(ctx context.Context, sr providers.StatusReader, reference string) (providers.Result, error) {
	ctx, span := t.start(ctx, "status", "", 0)
	res, err := sr.Status(ctx, reference)
	t.end(span, res, err)
	return res, err
}

func (t *tracedProvider) start(ctx context.Context, op providers.Operation, paymentID string, attempt int) (context.Context, trace.Span) {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() && !sc.IsSampled() {
		return ctx, noop // see Start
	}
	attrs := make([]attribute.KeyValue, 0, 5)
	attrs = append(attrs, AttrProcessor.String(t.name), AttrProcType.String(t.typ), AttrOperation.String(string(op)))
	if paymentID != "" {
		attrs = append(attrs, AttrPaymentID.String(paymentID))
	}
	if attempt > 0 {
		attrs = append(attrs, AttrAttempt.Int(attempt))
	}
	return t.tr.Start(ctx, "processor."+string(op), trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(attrs...))
}

func (t *tracedProvider) end(span trace.Span, res providers.Result, err error) {
	if span.IsRecording() {
		span.SetAttributes(AttrOutcome.String(Outcome(res, err)))
		id := res.RequestID
		if err != nil {
			id = providers.RequestIDOf(err)
		}
		if id != "" {
			span.SetAttributes(AttrProcRequest.String(id))
		}
		if res.Reference != "" {
			span.SetAttributes(AttrReference.String(res.Reference))
		}
		if res.Decline != nil {
			span.SetAttributes(AttrDeclineCode.String(string(res.Decline.Code)))
		}
	}
	End(span, err)
}

// Outcome is a processor call's outcome class: the Result's status, or
// not_processed, rejected or unknown for an error ("unknown wins" when an
// error carries two classes).
func Outcome(res providers.Result, err error) string {
	switch {
	case err == nil:
		return string(res.Status)
	case errors.Is(err, providers.ErrOutcomeUnknown):
		return "unknown"
	case errors.Is(err, providers.ErrNotProcessed):
		return "not_processed"
	case errors.Is(err, providers.ErrRejected):
		return "rejected"
	}
	return "unknown"
}
