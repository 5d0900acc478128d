package tracing

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"
)

// LogHandler returns h with trace_id and span_id added to every record
// logged with a context that holds a span (a traced request): the ids to
// look a trace up by. A span that was not sampled (its trace is not
// exported) adds trace_sampled=false as well.
func LogHandler(h slog.Handler) slog.Handler { return logHandler{h} }

type logHandler struct{ slog.Handler }

// Handle adds the span's ids to r.
func (l logHandler) Handle(ctx context.Context, r slog.Record) error {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		r.AddAttrs(slog.String("trace_id", sc.TraceID().String()), slog.String("span_id", sc.SpanID().String()))
		if !sc.IsSampled() {
			r.AddAttrs(slog.Bool("trace_sampled", false))
		}
	}
	return l.Handler.Handle(ctx, r)
}

// WithAttrs keeps the ids on loggers derived with With.
func (l logHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return logHandler{l.Handler.WithAttrs(attrs)}
}

// WithGroup keeps the ids on loggers derived with WithGroup.
func (l logHandler) WithGroup(name string) slog.Handler {
	return logHandler{l.Handler.WithGroup(name)}
}
