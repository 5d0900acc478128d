// Package api is acpgw's HTTP surface: the Gin router, its middleware (request
// ids, recovery, metrics, body limits, authentication, API-Version,
// idempotency), thin handlers, and the one place where errors become HTTP
// statuses and ACP error objects.
package api

import (
	"errors"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"

	"acpgw/acp"
	"acpgw/gateway"
	"acpgw/limits"
	"acpgw/metrics"
)

// MaxHeaderBytes is the most request header bytes acpgw's http.Server
// reads. Above it (plus the 4 KiB net/http allows on top), net/http answers
// 431 in plain text itself, before any handler runs: the README's error table
// lists this and the server's other answers of its own.
const MaxHeaderBytes = 32 << 10

// Options configures a Server.
type Options struct {
	Service *gateway.Service
	Metrics *metrics.Metrics
	// Gatherer serves /metrics; nil leaves /metrics off this router (it is
	// served on its own listener).
	Gatherer prometheus.Gatherer
	Logger   *slog.Logger
	// BodyLimit is the largest request body accepted, in bytes (64 KiB when 0).
	BodyLimit int64
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	// Limiter keeps the callers' rate limit counts; nil counts in this
	// process's memory (limits.NewMemory on Now).
	Limiter limits.Limiter
	// Tracer, if set, gives every request a server span that continues the
	// caller's W3C traceparent; nil (tracing off) adds nothing to a
	// request.
	Tracer trace.Tracer
}

// Server is the HTTP handler of acpgw.
type Server struct {
	opts     Options
	svc      *gateway.Service
	m        *metrics.Metrics
	log      *slog.Logger
	now      func() time.Time
	engine   *gin.Engine
	draining atomic.Bool
	limiter  limits.Limiter
}

// New builds the router.
func New(o Options) *Server {
	if o.BodyLimit <= 0 {
		o.BodyLimit = 64 << 10
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	gin.SetMode(gin.ReleaseMode)
	if o.Limiter == nil {
		o.Limiter = limits.NewMemory(o.Now)
	}
	s := &Server{opts: o, svc: o.Service, m: o.Metrics, log: o.Logger, now: o.Now, limiter: o.Limiter}
	e := gin.New()
	// Every answer is JSON in the ACP error shape: no redirect with an HTML
	// body for a path with or without a trailing slash (GET
	// /v1/payments/{id}/ is a 404), no case-fixing redirect, and 405 (with
	// Allow) rather than 404 for a known path with another method.
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	e.NoRoute(func(c *gin.Context) {
		fail(c, errNotFoundRoute)
	})
	e.NoMethod(func(c *gin.Context) {
		fail(c, errMethod)
	})
	if o.Tracer != nil {
		e.Use(s.trace)
	}
	e.Use(s.requestID, s.observe, s.recover)

	e.GET("/healthz", func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) })
	e.GET("/readyz", s.ready)
	e.GET("/openapi.yaml", openAPI)
	if o.Gatherer != nil {
		// OpenMetrics when the scraper asks for it: only that format
		// carries the latency histograms' exemplars (trace ids).
		h := promhttp.HandlerFor(o.Gatherer, promhttp.HandlerOpts{EnableOpenMetrics: true})
		e.GET("/metrics", gin.WrapH(h))
	}

	e.POST("/agentic_commerce/delegate_payment",
		s.markDelegate, s.authAgent, s.rateLimit, s.apiVersion(true), s.readBody, s.verifySignature,
		s.delegate)

	auth := e.Group("/delegate_authentication", s.markAuthentication, s.authAgent, s.rateLimit, s.authAPIVersion)
	auth.POST("", s.readBody, s.verifySignature, s.createAuthSession)
	auth.POST("/:id/authenticate", s.readBody, s.verifySignature, s.authenticateSession)
	auth.GET("/:id", s.verifySignature, s.getAuthSession)

	e.POST("/webhooks/:processor", s.webhook)
	e.GET("/v1/reports/fees", s.authReports, s.feeReport)

	v1 := e.Group("/v1", s.authMerchant, s.rateLimit, s.apiVersion(false))
	v1.POST("/payments", s.readBody, s.pay)
	v1.GET("/payments/:id", s.get)
	v1.POST("/payments/:id/capture", s.readBody, s.modification((*gateway.Service).Capture, true))
	v1.POST("/payments/:id/void", s.readBody, s.modification((*gateway.Service).Void, false))
	v1.POST("/payments/:id/refunds", s.readBody, s.modification((*gateway.Service).Refund, true))
	v1.GET("/events", s.listEvents)
	v1.GET("/events/:id", s.getEvent)
	v1.POST("/events/:id/redeliver", s.readBody, s.redeliverEvent)
	s.engine = e
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.engine.ServeHTTP(w, r) }

// Drain makes /readyz answer 503, so load balancers stop sending traffic
// before shutdown.
func (s *Server) Drain() { s.draining.Store(true) }

// ready answers /readyz: 200 {"status": "ready"}, or 503 with an ACP error
// (service_unavailable) that says why, plus the "status" the 503 always
// had for probes that read it: draining, store unavailable, no config. A
// failed probe is not logged: load balancers ask every few seconds.
func (s *Server) ready(c *gin.Context) {
	e, status := errDraining, "draining"
	if !s.draining.Load() {
		switch err := s.svc.Ready(c.Request.Context()); {
		case err == nil:
			c.JSON(http.StatusOK, gin.H{"status": "ready"})
			return
		case errors.Is(err, gateway.ErrNoConfig):
			e, status = errNoConfig, "no config"
		default:
			e, status = errStoreUnavailable, "store unavailable"
		}
	}
	c.AbortWithStatusJSON(e.Status, gin.H{"type": e.Type, "code": e.Code, "message": e.Message, "status": status})
}

var (
	errDraining = acp.Errorf(http.StatusServiceUnavailable, acp.TypeServiceUnavailable, codeServiceUnavailable, "",
		"draining: this instance is shutting down; send requests to another")
	errNoConfig = acp.Errorf(http.StatusServiceUnavailable, acp.TypeServiceUnavailable, codeServiceUnavailable, "",
		"no config is loaded")
)
