package metrics

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
)

// TestObserveExemplar: an observation under a sampled span carries its
// trace id as an exemplar; one under an unsampled span or none does not.
func TestObserveExemplar(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := New(reg)
	tid := trace.TraceID{0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d, 0x0e, 0x0e, 0x47, 0x36}
	span := func(flags trace.TraceFlags) context.Context {
		return trace.ContextWithSpanContext(context.Background(), trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: tid, SpanID: trace.SpanID{0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7}, TraceFlags: flags,
		}))
	}
	Observe(span(trace.FlagsSampled), m.HTTPDuration.WithLabelValues("/v1/payments", "POST"), 0.2)
	Observe(span(0), m.HTTPDuration.WithLabelValues("/v1/payments", "POST"), 3)
	Observe(context.Background(), m.HTTPDuration.WithLabelValues("/v1/payments", "POST"), 7)

	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var found, others int
	for _, f := range fams {
		if f.GetName() != "acpgw_http_request_duration_seconds" {
			continue
		}
		h := f.GetMetric()[0].GetHistogram()
		if h.GetSampleCount() != 3 {
			t.Fatalf("%d observations, want 3", h.GetSampleCount())
		}
		for _, b := range h.GetBucket() {
			ex := b.GetExemplar()
			if ex == nil {
				continue
			}
			if b.GetUpperBound() != 0.25 || ex.GetValue() != 0.2 {
				others++
				continue
			}
			for _, l := range ex.GetLabel() {
				if l.GetName() == ExemplarTraceID && l.GetValue() == tid.String() {
					found++
				}
			}
		}
	}
	if found != 1 || others != 0 {
		t.Fatalf("exemplars: %d with the sampled trace id in the 0.25 bucket, %d elsewhere; want 1 and 0", found, others)
	}
}
