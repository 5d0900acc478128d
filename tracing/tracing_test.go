package tracing_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"acpgw/acp"
	"acpgw/config"
	"acpgw/payment"
	"acpgw/providers"
	"acpgw/providers/mock"
	"acpgw/tracing"
	"acpgw/tracing/otlptest"
)

func TestTracesURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://c:4318":            "http://c:4318/v1/traces",
		"http://c:4318/":           "http://c:4318/v1/traces",
		"https://c/otlp/v1/traces": "https://c/otlp/v1/traces",
	} {
		if got := tracing.TracesURL(in); got != want {
			t.Errorf("TracesURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestErrorClass: a span's status names the error's class, never a
// message that may quote a token.
func TestErrorClass(t *testing.T) {
	t.Parallel()
	const tok = "vt_01J9SECRETTOKEN"
	for err, want := range map[error]string{
		fmt.Errorf("gateway: token %s: %w", tok, payment.ErrTokenConsumed):                      "token_consumed",
		fmt.Errorf("x %s: %w", tok, providers.NotProcessed("connect", errors.New(tok))):         "processor did not process the request (connect)",
		acp.Errorf(http.StatusUnprocessableEntity, "invalid_request", "token_invalid", "", tok): "invalid_request/token_invalid",
		fmt.Errorf("wrapped %s: %w", tok, context.DeadlineExceeded):                             "context deadline exceeded",
		errors.New("store: " + tok): "error",
	} {
		if got := tracing.ErrorClass(err); got != want || strings.Contains(got, tok) {
			t.Errorf("ErrorClass(%v) = %q, want %q", err, got, want)
		}
	}
}

// TestOffCostsNothing: with tracing off (nil tracer) Start hands back the
// caller's context and allocates nothing, and the wrappers are the
// wrapped values themselves.
func TestOffCostsNothing(t *testing.T) {
	ctx := context.Background()
	failed := errors.New("x")
	allocs := testing.AllocsPerRun(100, func() {
		c, span := tracing.Start(ctx, nil, "payment.prepare")
		if c != ctx || span.IsRecording() {
			t.Fatal("tracing off changed the context or recorded")
		}
		tracing.End(span, failed)
	})
	if allocs != 0 {
		t.Errorf("Start/End with tracing off: %v allocations, want 0", allocs)
	}
	m := mock.New(mock.Config{Name: "m"})
	if tracing.Provider(m, nil) != providers.Provider(m) {
		t.Error("Provider with a nil tracer wrapped the provider")
	}
	if tr, _ := tracing.New(ctx, config.Tracing{}, "v"); tr.Tracer() != nil {
		t.Error("tracing without an endpoint has a tracer")
	}
}

// webhookProvider is a provider that receives webhooks and reads payments
// back, to check that the wrapper keeps both.
type webhookProvider struct {
	*mock.Provider
	statusCalls int
}

func (w *webhookProvider) ParseWebhook(http.Header, []byte, time.Time) ([]providers.Event, error) {
	return nil, nil
}
func (w *webhookProvider) WebhookAck() (string, []byte) { return "text/plain", []byte("ok") }
func (w *webhookProvider) Status(context.Context, string) (providers.Result, error) {
	w.statusCalls++
	return providers.Result{Status: payment.StatusCaptured, RequestID: "req_status"}, nil
}

// TestProviderKeepsInterfaces: the traced provider still receives
// webhooks and reads payments back when the provider does, and only then;
// its Status call is a span.
func TestProviderKeepsInterfaces(t *testing.T) {
	recv := otlptest.Start(t)
	tr, err := tracing.New(context.Background(), config.Tracing{Endpoint: recv.Endpoint(), SampleRatio: 1}, "v")
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown(context.Background())
	plain := tracing.Provider(mock.New(mock.Config{Name: "m"}), tr.Tracer())
	if _, ok := plain.(providers.WebhookReceiver); ok {
		t.Error("mock became a WebhookReceiver")
	}
	if _, ok := plain.(providers.StatusReader); ok {
		t.Error("mock became a StatusReader")
	}
	if _, ok := plain.(providers.Closer); !ok {
		t.Error("traced provider is not a Closer")
	}
	inner := &webhookProvider{Provider: mock.New(mock.Config{Name: "w"})}
	wrapped := tracing.Provider(inner, tr.Tracer())
	if _, ok := wrapped.(providers.WebhookReceiver); !ok {
		t.Fatal("webhook receiver lost")
	}
	sr, ok := wrapped.(providers.StatusReader)
	if !ok {
		t.Fatal("status reader lost")
	}
	if _, err := sr.Status(context.Background(), "pi_1"); err != nil || inner.statusCalls != 1 {
		t.Fatalf("Status: %v, %d calls", err, inner.statusCalls)
	}
	if err := tr.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	spans := recv.Spans()
	if len(spans) != 1 || spans[0].Name != "processor.status" || spans[0].Attrs["acpgw.processor.request_id"] != "req_status" ||
		spans[0].Attrs["acpgw.processor"] != "w" || spans[0].Attrs["acpgw.processor.outcome"] != "captured" {
		t.Fatalf("spans %+v", spans)
	}
}

// TestLogHandler: a record logged under a span carries its ids; one under
// an unsampled span says so; one without a span has none.
func TestLogHandler(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := slog.New(tracing.LogHandler(slog.NewJSONHandler(&buf, nil))).With(slog.String("component", "x"))
	sc := func(flags trace.TraceFlags) context.Context {
		return trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{0xab, 1}, SpanID: trace.SpanID{0xcd, 2}, TraceFlags: flags}))
	}
	log.InfoContext(sc(trace.FlagsSampled), "sampled")
	log.InfoContext(sc(0), "unsampled")
	log.InfoContext(context.Background(), "none")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("lines: %q", lines)
	}
	ids := `"trace_id":"ab010000000000000000000000000000","span_id":"cd02000000000000"`
	if !strings.Contains(lines[0], ids) || strings.Contains(lines[0], "trace_sampled") || !strings.Contains(lines[0], `"component":"x"`) {
		t.Errorf("sampled: %s", lines[0])
	}
	if !strings.Contains(lines[1], ids) || !strings.Contains(lines[1], `"trace_sampled":false`) {
		t.Errorf("unsampled: %s", lines[1])
	}
	if strings.Contains(lines[2], "trace_id") {
		t.Errorf("no span: %s", lines[2])
	}
}

// TestUnsampledParentSkipsChildren: under a span that is not sampled,
// Start creates nothing (no child of it would be sampled) and keeps the
// parent's ids in the context; under a sampled one it starts a child.
func TestUnsampledParentSkipsChildren(t *testing.T) {
	recv := otlptest.Start(t)
	tr, err := tracing.New(context.Background(), config.Tracing{Endpoint: recv.Endpoint(), SampleRatio: 1}, "v")
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown(context.Background())
	parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, Remote: true})
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), parent)
	allocs := testing.AllocsPerRun(100, func() {
		c, span := tracing.Start(ctx, tr.Tracer(), "payment.prepare")
		if c != ctx || span.IsRecording() {
			t.Fatal("a child of an unsampled span was started")
		}
		span.End()
	})
	if allocs != 0 {
		t.Errorf("%v allocations under an unsampled parent, want 0", allocs)
	}
	sampled := trace.ContextWithRemoteSpanContext(context.Background(), parent.WithTraceFlags(trace.FlagsSampled))
	c, span := tracing.Start(sampled, tr.Tracer(), "payment.prepare")
	if !span.IsRecording() || trace.SpanContextFromContext(c).TraceID() != parent.TraceID() {
		t.Fatal("no child of a sampled span")
	}
	span.End()
}

func TestWrappedProviderKeepsAuthenticator(t *testing.T) {
	recv := otlptest.Start(t)
	tr, err := tracing.New(context.Background(), config.Tracing{Endpoint: recv.Endpoint(), SampleRatio: 1}, "v")
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Shutdown(context.Background())
	traced := tracing.Provider(mock.New(mock.Config{Name: "mock"}), tr.Tracer())
	if _, ok := traced.(providers.Authenticating); ok {
		t.Fatal("test assumes the wrapper does not implement Authenticating itself")
	}
	if _, ok := providers.AuthenticatorOf(traced); !ok {
		t.Fatal("AuthenticatorOf does not find the mock's 3-D Secure provider through the tracing wrapper")
	}
}
