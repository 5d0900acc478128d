package api

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"acpgw/acp"
	"acpgw/gateway"
	"acpgw/metrics"
	"acpgw/tracing"
	"acpgw/vault"
)

// Keys of values the middleware leaves in the gin context.
const (
	ctxDelegate = "acpgw.delegate"
	ctxVersion  = "acpgw.version"
	ctxCaller   = "acpgw.caller"
	ctxBody     = "acpgw.body"
	ctxServer   = "acpgw.server"
)

var (
	errNotFoundRoute = acp.Errorf(http.StatusNotFound, acp.TypeInvalidRequest, codeNotFound, "", "no such route")
	errMethod        = acp.Errorf(http.StatusMethodNotAllowed, acp.TypeInvalidRequest, codeMethodNotAllowed, "", "method not allowed on this route")
	errUnauthorized  = acp.Errorf(http.StatusUnauthorized, acp.TypeInvalidRequest, codeUnauthorized, "", "missing or invalid Bearer API key")
)

// requestID takes the caller's Request-Id (when short and printable) or makes
// one, echoes it, and puts it in the request context for log lines.
func (s *Server) requestID(c *gin.Context) {
	id := c.GetHeader("Request-Id")
	if !printable(id, 128) {
		id = vault.NewID("req_")
	}
	c.Header("Request-Id", id)
	c.Set(ctxServer, s)
	c.Request = c.Request.WithContext(gateway.WithRequestID(c.Request.Context(), id))
	c.Next()
}

func printable(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// observe records the request's metrics and one access log line.
func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	method := c.Request.Method
	status := c.Writer.Status()
	d := time.Since(start)
	if s.m != nil {
		s.m.HTTPRequests.WithLabelValues(route, method, strconv.Itoa(status)).Inc()
		metrics.Observe(c.Request.Context(), s.m.HTTPDuration.WithLabelValues(route, method), d.Seconds())
	}
	level := slog.LevelDebug
	if status >= 500 {
		level = slog.LevelWarn
	}
	if !s.log.Enabled(c.Request.Context(), level) {
		// At the default level (info) only 5xx answers are logged here: the
		// attributes of the others are not even gathered.
		return
	}
	s.log.LogAttrs(c.Request.Context(), level, "http",
		slog.String("request_id", gateway.RequestID(c.Request.Context())),
		slog.String("method", method), slog.String("route", route),
		slog.Int("status", status), slog.Float64("duration_ms", float64(d.Microseconds())/1000),
		slog.String("caller", c.GetString(ctxCaller)))
}

// trace runs the request under a server span named for its method and
// route, continuing the caller's trace when it sends a W3C traceparent
// (sampled by the caller: kept; not sampled: not kept). The span says the
// route, method, status, request id and the authenticated caller; never a
// header, a body or a path's values. Installed only when tracing is on.
func (s *Server) trace(c *gin.Context) {
	route := c.FullPath()
	switch route {
	case "":
		route = "unmatched"
	case "/metrics", "/healthz", "/readyz":
		// Scrapes and probes: traces of them would only be noise.
		c.Next()
		return
	}
	method := c.Request.Method
	ctx := propagation.TraceContext{}.Extract(c.Request.Context(), propagation.HeaderCarrier(c.Request.Header))
	ctx, span := s.opts.Tracer.Start(ctx, method+" "+route, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", method), attribute.String("http.route", route)))
	defer span.End()
	c.Request = c.Request.WithContext(ctx)
	c.Next()
	if !span.IsRecording() {
		return
	}
	status := c.Writer.Status()
	span.SetAttributes(attribute.Int("http.response.status_code", status),
		tracing.AttrRequestID.String(gateway.RequestID(c.Request.Context())))
	caller := c.GetString(ctxCaller)
	if id, ok := strings.CutPrefix(caller, "merchant:"); ok {
		span.SetAttributes(tracing.AttrMerchantID.String(id))
	} else if id, ok := strings.CutPrefix(caller, "agent:"); ok {
		span.SetAttributes(tracing.AttrAgentID.String(id))
	}
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
}

// recover turns a panic into a 500 ACP error and a log line.
func (s *Server) recover(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			if err, ok := r.(error); ok && errors.Is(err, http.ErrAbortHandler) {
				panic(r)
			}
			s.log.Error("panic", slog.String("request_id", gateway.RequestID(c.Request.Context())), slog.String("panic", fmt.Sprint(r)))
			fail(c, fmt.Errorf("panic"))
		}
	}()
	c.Next()
}

func logError(c *gin.Context, err error) {
	s, ok := c.Get(ctxServer)
	if !ok {
		return
	}
	attrs := []slog.Attr{
		slog.String("request_id", gateway.RequestID(c.Request.Context())),
		slog.String("route", c.FullPath()), slog.String("error", err.Error()),
	}
	// A public error's text is what the caller saw; its cause says why.
	var ae *acp.Error
	if errors.As(err, &ae) && ae.Cause != nil {
		attrs = append(attrs, slog.String("cause", ae.Cause.Error()))
	}
	s.(*Server).log.LogAttrs(c.Request.Context(), slog.LevelError, "request failed", attrs...)
}

func (s *Server) markDelegate(c *gin.Context) {
	c.Set(ctxDelegate, true)
	c.Next()
}

func bearer(c *gin.Context) string {
	h := c.GetHeader("Authorization")
	const prefix = "Bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return ""
	}
	return strings.TrimSpace(h[len(prefix):])
}

// bearerRealm is the challenge of every 401 answer: RFC 9110 (section
// 15.5.2) requires a WWW-Authenticate header with one, and acpgw's API keys
// are Bearer tokens (RFC 6750).
const bearerRealm = `Bearer realm="acpgw"`

// unauthorized aborts with err, a 401, and its Bearer challenge. A request
// whose Bearer key was refused gets error="invalid_token" (RFC 6750
// section 3.1); one without a key, or refused for another reason (a bad
// Signature), gets the bare challenge.
func unauthorized(c *gin.Context, err error) {
	challenge := bearerRealm
	if errors.Is(err, errUnauthorized) && bearer(c) != "" {
		challenge += `, error="invalid_token"`
	}
	c.Header("WWW-Authenticate", challenge)
	fail(c, err)
}

// authAgent admits agent platforms (config agents:) to delegate_payment and
// the Delegate Authentication API.
func (s *Server) authAgent(c *gin.Context) {
	id, ok := s.svc.Runtime().AuthenticateAgent(bearer(c))
	if !ok {
		unauthorized(c, errUnauthorized)
		return
	}
	c.Set(ctxCaller, "agent:"+id)
	c.Next()
}

// authMerchant admits merchants (config merchants:) to /v1.
func (s *Server) authMerchant(c *gin.Context) {
	id, ok := s.svc.Runtime().AuthenticateMerchant(bearer(c))
	if !ok {
		unauthorized(c, errUnauthorized)
		return
	}
	c.Set(ctxCaller, "merchant:"+id)
	c.Next()
}

func merchantOf(c *gin.Context) string {
	return strings.TrimPrefix(c.GetString(ctxCaller), "merchant:")
}

// apiVersion reads API-Version. delegate_payment requires it (the ACP spec
// does); acpgw's own /v1 API defaults to the newest version, whose
// idempotency rules are the strictest.
func (s *Server) apiVersion(required bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		v := c.GetHeader("API-Version")
		if v == "" && !required {
			v = acp.Latest
		}
		if !acp.SupportedVersion(v) {
			msg := "API-Version header is required"
			if v != "" {
				msg = fmt.Sprintf("API-Version %q is not supported", v)
			}
			c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{
				"type": acp.TypeInvalidRequest, "code": codeUnsupportedVersion,
				"message": msg, "param": "API-Version", "supported_versions": acp.SupportedVersionsNewestFirst(),
			})
			return
		}
		c.Set(ctxVersion, v)
		c.Header("API-Version", v)
		c.Next()
	}
}

// readBody checks Content-Type and reads at most BodyLimit bytes.
func (s *Server) readBody(c *gin.Context) {
	ct := c.GetHeader("Content-Type")
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, s.opts.BodyLimit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			fail(c, acp.Errorf(http.StatusRequestEntityTooLarge, acp.TypeInvalidRequest, codeBodyTooLarge, "",
				"request body is larger than %d bytes", s.opts.BodyLimit))
			return
		}
		fail(c, acp.Errorf(http.StatusBadRequest, acp.TypeInvalidRequest, acp.CodeInvalidRequest, "", "could not read the request body"))
		return
	}
	if len(body) > 0 || ct != "" {
		if !isJSON(ct) {
			fail(c, acp.Errorf(http.StatusUnsupportedMediaType, acp.TypeInvalidRequest, codeUnsupportedMedia, "Content-Type",
				"Content-Type must be application/json"))
			return
		}
	}
	c.Set(ctxBody, body)
	c.Next()
}

// isJSON reports whether a Content-Type names application/json, whatever
// its parameters. The exact "application/json" every client sends is
// recognised without parsing.
func isJSON(ct string) bool {
	if ct == "application/json" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && mt == "application/json"
}

func bodyOf(c *gin.Context) []byte {
	b, _ := c.Get(ctxBody)
	body, _ := b.([]byte)
	return body
}
