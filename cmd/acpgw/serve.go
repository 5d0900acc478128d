package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"acpgw/api"
	"acpgw/config"
	"acpgw/gateway"
	"acpgw/limits"
	"acpgw/metrics"
	"acpgw/outbox"
	"acpgw/providers"
	"acpgw/providers/adyen"
	"acpgw/providers/mock"
	"acpgw/providers/mock/mockhttp"
	"acpgw/providers/stripe"
	"acpgw/store"
	"acpgw/store/postgres"
	"acpgw/store/sqlite"
	"acpgw/tracing"
)

func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return config.Demo("./data")
	}
	return config.Load(path)
}

func configCheckCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("config check", stdout, stderr)
	path := fs.String("config", "", "config file to check")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *path == "" {
		return fs.fail("--config FILE is required")
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	if _, err := gateway.NewRuntime(cfg, newFactory(nil, nil, "")); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok (%d processors, %d merchants, %d agents)\n", *path, len(cfg.Processors), len(cfg.Merchants), len(cfg.Agents))
	return nil
}

// mocks keeps one simulator per processor name (and public URL) across
// reloads, so that its ledger (what it has charged) and its open 3-D Secure
// transactions survive a config change like a real processor's would.
var mocks = struct {
	sync.Mutex
	byKey map[mockKey]*mock.Provider
}{byKey: map[mockKey]*mock.Provider{}}

// mockKey names an in-process mock: its processor name and the public URL
// its 3-D Secure pages are under.
type mockKey struct{ name, public string }

// newFactory is the one registry of processor types: each type is wired
// here explicitly. log and m may be nil (config check). public is the
// address browsers reach the API listener at (publicURL), under which
// in-process mocks serve their 3-D Secure pages; "" when nothing serves
// them (config check).
func newFactory(log *slog.Logger, m *metrics.Metrics, public string) gateway.ProviderFactory {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	unknownDecline := func(name string) func(string) {
		return func(code string) {
			if m != nil {
				m.UnknownDeclineCodes.WithLabelValues(name).Inc()
			}
			log.Warn("unknown decline code", slog.String("processor", name), slog.String("code", code))
		}
	}
	retried := func(name string) providers.RetryFunc {
		return func(op providers.Operation, reason string) {
			if m != nil {
				m.ProcessorRetries.WithLabelValues(name, string(op), reason).Inc()
			}
		}
	}
	return func(p *config.Processor) (providers.Provider, error) {
		switch p.Type {
		case config.TypeMock:
			if p.Mock != nil && p.Mock.URL != "" {
				return mockhttp.NewClient(mockhttp.ClientConfig{Name: p.Name, URL: p.Mock.URL, Timeout: p.Timeout, Currencies: p.Currencies})
			}
			return buildMock(p, public), nil
		case config.TypeStripe:
			return stripe.New(stripe.Config{
				Name: p.Name, SecretKey: p.Stripe.SecretKey, BaseURL: p.Stripe.BaseURL,
				WebhookSecret: p.Stripe.WebhookSecret, SharedTokenParam: p.Stripe.SharedTokenParam,
				APIVersion: p.Stripe.APIVersion, Timeout: p.Timeout, Currencies: p.Currencies,
				Logger: log.With(slog.String("processor", p.Name)), OnUnknownDecline: unknownDecline(p.Name),
				OnRetry: retried(p.Name),
			})
		case config.TypeAdyen:
			a := p.Adyen
			return adyen.New(adyen.Config{
				Name: p.Name, APIKey: a.APIKey, MerchantAccount: a.MerchantAccount, Environment: a.Environment,
				LiveURLPrefix: a.LiveURLPrefix, BaseURL: a.BaseURL, HMACKey: a.HMACKey, Timeout: p.Timeout,
				Currencies: p.Currencies, Logger: log.With(slog.String("processor", p.Name)),
				OnUnknownRefusal: unknownDecline(p.Name), OnRetry: retried(p.Name),
			})
		default:
			return nil, fmt.Errorf("processor type %q is not available in this build", p.Type)
		}
	}
}

// tracedFactory wraps every provider build makes so that its calls are
// traced; with a nil tracer it is build.
func tracedFactory(build gateway.ProviderFactory, tracer trace.Tracer) gateway.ProviderFactory {
	if tracer == nil {
		return build
	}
	return func(p *config.Processor) (providers.Provider, error) {
		prov, err := build(p)
		if err != nil {
			return nil, err
		}
		return tracing.Provider(prov, tracer), nil
	}
}

func buildMock(p *config.Processor, public string) providers.Provider {
	mocks.Lock()
	defer mocks.Unlock()
	k := mockKey{p.Name, public}
	if m, ok := mocks.byKey[k]; ok {
		return m
	}
	cfg := mockConfig(p)
	if public != "" {
		cfg.ThreeDS.BaseURL = public + mockPagesPath + p.Name
	}
	m := mock.New(cfg)
	mocks.byKey[k] = m
	return m
}

// mockPagesPath is where the API listener serves the 3-D Secure pages of
// in-process mock processors: mockPagesPath + NAME + "/...".
const mockPagesPath = "/mock/3ds/"

// publicURL is the address browsers reach the API listener at:
// server.public_url, else http(s)://server.listen with an unspecified host
// read as loopback.
func publicURL(s config.Server) string {
	if s.PublicURL != "" {
		return strings.TrimRight(s.PublicURL, "/")
	}
	scheme := "http"
	if s.TLS.CertFile != "" {
		scheme = "https"
	}
	host, port, err := net.SplitHostPort(s.Listen)
	if err != nil {
		return scheme + "://" + s.Listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// withMockPages serves, in front of api, the 3-D Secure pages of the
// in-process mock processors of the config in service, at
// /mock/3ds/NAME/. Every other path, and a NAME that is not such a mock,
// goes to api (which answers 404), so that a config without one serves no
// page.
func withMockPages(api http.Handler, public string, current func() *config.Config) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rest, ok := strings.CutPrefix(r.URL.Path, mockPagesPath); ok {
			name, _, _ := strings.Cut(rest, "/")
			if m := inProcessMock(current(), name, public); m != nil {
				http.StripPrefix(mockPagesPath+name, m.ThreeDS()).ServeHTTP(w, r)
				return
			}
		}
		api.ServeHTTP(w, r)
	})
}

// svcConfig returns the config in service of svc, nil before it has one.
func svcConfig(svc *gateway.Service) func() *config.Config {
	return func() *config.Config {
		if rt := svc.Runtime(); rt != nil {
			return rt.Config
		}
		return nil
	}
}

// inProcessMock returns the simulator of cfg's in-process mock processor
// name, nil when cfg has none of that name.
func inProcessMock(cfg *config.Config, name, public string) *mock.Provider {
	if cfg == nil {
		return nil
	}
	p, ok := cfg.Processors[name]
	if !ok || p.Type != config.TypeMock || (p.Mock != nil && p.Mock.URL != "") {
		return nil
	}
	mocks.Lock()
	defer mocks.Unlock()
	return mocks.byKey[mockKey{name, public}]
}

// mockConfig is the simulator's configuration for a mock processor: its
// latency, currencies and fee schedule. The simulator charges the base rate
// and the fixed fee in its own currency, as the estimate does.
func mockConfig(p *config.Processor) mock.Config {
	cfg := mock.Config{
		Name: p.Name, FeeRatePPM: int64(p.Fees.Percent), FeeFixed: p.Fees.Fixed, FeeCurrency: p.Fees.Currency,
		Currencies: p.Currencies,
	}
	if p.Mock != nil {
		cfg.Latency = p.Mock.Latency
	}
	return cfg
}

func openStore(ctx context.Context, cfg *config.Config) (store.Store, error) {
	switch cfg.Store.Driver {
	case "", config.DriverSQLite:
		return sqlite.Open(ctx, cfg.Store.DSN)
	case config.DriverPostgres:
		st, err := postgres.Open(ctx, cfg.Store.DSN, pgOptions(cfg))
		if errors.Is(err, postgres.ErrSchemaMissing) {
			return nil, fmt.Errorf("%w (run `acpgw migrate --config FILE` first)", err)
		}
		return st, err
	default:
		return nil, fmt.Errorf("store driver %q is not available in this build", cfg.Store.Driver)
	}
}

// migrateStore applies pending migrations and reports how many ran and the
// schema version.
func migrateStore(ctx context.Context, cfg *config.Config) (int, int, error) {
	switch cfg.Store.Driver {
	case "", config.DriverSQLite:
		st, err := sqlite.Open(ctx, cfg.Store.DSN)
		if err != nil {
			return 0, 0, err
		}
		defer st.Close()
		v, err := st.SchemaVersion(ctx)
		return 0, v, err
	case config.DriverPostgres:
		n, err := postgres.Migrate(ctx, cfg.Store.DSN)
		return n, postgres.LatestSchemaVersion(), err
	default:
		return 0, 0, fmt.Errorf("store driver %q is not available in this build", cfg.Store.Driver)
	}
}

func pgOptions(cfg *config.Config) postgres.Options {
	return postgres.Options{
		MaxConns: int32(cfg.Store.MaxConns), MinConns: int32(cfg.Store.MinConns),
		StatementTimeout: cfg.Store.StatementTimeout, LockTimeout: cfg.Store.LockTimeout,
		ConnectTimeout: cfg.Store.ConnectTimeout,
	}
}

func serveCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("serve", stdout, stderr)
	path := fs.String("config", "", "config file (default: the embedded demo config)")
	listen := fs.String("listen", "", "listen address (default: server.listen, else 127.0.0.1:8080)")
	debugListen := fs.String("debug-listen", "", "serve net/http/pprof on this HOST:PORT only (default: server.debug_listen, else off)")
	if err := fs.parse(args); err != nil {
		return err
	}
	log := newLogger(stdout)
	cfg, err := loadConfig(*path)
	if err != nil {
		return err
	}
	trc, err := tracing.New(ctx, cfg.Tracing, version)
	if err != nil {
		return err
	}
	tracer := trc.Tracer()
	if tracer != nil {
		// Log lines of a traced request carry its trace_id and span_id.
		log = slog.New(tracing.LogHandler(log.Handler()))
		otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
			log.Warn("tracing: spans not exported", slog.String("error", err.Error()))
		}))
		log.Info("tracing on", slog.String("tracing", cfg.Tracing.String()))
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := trc.Shutdown(sctx); err != nil {
			log.Warn("tracing: last spans not exported", slog.String("error", err.Error()))
		}
	}()
	if *listen != "" {
		cfg.Server.Listen = *listen
	}
	if *debugListen != "" {
		cfg.Server.DebugListen = *debugListen
	}
	if cfg.Demo {
		log.Warn("serving the embedded DEMO config: mock processor, merchant demo (key demo-merchant-key), agent demo-agent (key demo-agent-key), "+
			"fee report reader demo-finance (key demo-reports-key); not for real cards",
			slog.String("store", cfg.Store.DSN))
	}

	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	m.Build.WithLabelValues(version, runtime.Version()).Set(1)

	st, err := openStore(ctx, cfg)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer st.Close()

	public := publicURL(cfg.Server)
	build := tracedFactory(newFactory(log, m, public), tracer)
	rt, err := gateway.NewRuntime(cfg, build)
	if err != nil {
		return err
	}
	m.ConfigReloadSuccess.Set(1)
	var svc *gateway.Service
	events := outbox.New(outbox.Options{
		Store: st, Metrics: m, Logger: log, UserAgent: "acpgw/" + version,
		Config: func() *config.Config { return svc.Runtime().Config },
	})
	svc = gateway.New(gateway.Options{Store: tracing.Store(st, tracer, cfg.Store.Driver), Metrics: m, Logger: log, OnEvents: events.Wake, Tracer: tracer}, rt)
	defer closeService(ctx, svc, cfg.Server.ShutdownGrace, log)

	limiter, closeLimiter, err := newLimiter(ctx, cfg.Limits, m, log)
	if err != nil {
		return err
	}
	defer closeLimiter()

	var gatherer prometheus.Gatherer = reg
	if cfg.Metrics.Listen != "" {
		gatherer = nil
	}
	srv := api.New(api.Options{
		Service: svc, Metrics: m, Gatherer: gatherer, Logger: log,
		BodyLimit: cfg.Server.BodyLimit, Limiter: limiter, Tracer: tracer,
	})
	httpSrv := &http.Server{
		Handler:           withMockPages(srv, public, svcConfig(svc)),
		ReadTimeout:       cfg.Server.ReadTimeout,
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		WriteTimeout:      cfg.Server.WriteTimeout,
		IdleTimeout:       cfg.Server.IdleTimeout,
		MaxHeaderBytes:    api.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	useTLS := cfg.Server.TLS.CertFile != ""
	if useTLS {
		httpSrv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}

	// Every address is taken before anything serves; until start, shutdown
	// only closes the sockets taken so far.
	var servers listeners
	defer servers.shutdown(context.WithoutCancel(ctx), log)
	apiLn, err := servers.add("api", cfg.Server.Listen, httpSrv)
	if err != nil {
		return err
	}
	if useTLS {
		apiLn.certFile, apiLn.keyFile = cfg.Server.TLS.CertFile, cfg.Server.TLS.KeyFile
	}
	if cfg.Metrics.Listen != "" {
		msrv := &http.Server{Handler: promhttp.HandlerFor(reg, promhttp.HandlerOpts{EnableOpenMetrics: true}), ReadHeaderTimeout: 5 * time.Second}
		if _, err := servers.add("metrics", cfg.Metrics.Listen, msrv); err != nil {
			return err
		}
	}
	if cfg.Server.DebugListen != "" {
		if _, err := servers.add("debug", cfg.Server.DebugListen, debugServer()); err != nil {
			return err
		}
	}

	var wg sync.WaitGroup
	bg, cancelBG := context.WithCancel(context.WithoutCancel(ctx))
	defer func() {
		cancelBG()
		wg.Wait()
	}()
	// The reconciler reads reconcile.* and the processors' timeouts from the
	// config in service at every pass; each attempt carries its own call
	// deadline, so a reload never makes it re-send a call still in flight.
	wg.Go(func() { svc.RunReconciler(bg) })
	// Expired idempotency records and settled events past events.retention
	// (read at every pass, so a reload changes it) are deleted every ten
	// minutes.
	wg.Go(func() {
		purgeLoop(bg, st, func() time.Duration {
			if c := svcConfig(svc)(); c != nil {
				return c.Events.Retention
			}
			return config.DefaultEventsRetention
		}, log)
	})
	// CVCs past vault.cvc_ttl are out of use at once (their keys expire);
	// the sweep erases them from the store and memory.
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(cvcSweepEvery)
		defer t.Stop()
		svc.RunCVCSweep(bg, t.C)
	}()
	wg.Add(1)
	go func() {
		defer wg.Done()
		events.Run(bg)
	}()

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var reloader *gateway.Reloader
	if *path != "" {
		reloader = &gateway.Reloader{Path: *path, Build: build, Service: svc, Log: log}
		wg.Go(func() {
			if err := reloader.Watch(bg); err != nil {
				log.Warn("config file is not watched; SIGHUP still reloads", slog.String("error", err.Error()))
			}
		})
	}

	servers.start()
	for _, l := range servers.list[1:] {
		log.Info(l.name+" listening", slog.String("addr", l.ln.Addr().String()))
	}
	log.Info("acpgw listening", slog.String("addr", apiLn.ln.Addr().String()), slog.String("version", version),
		slog.Bool("demo", cfg.Demo), slog.Bool("tls", useTLS))

	var serveErr error
	for {
		select {
		case serveErr = <-servers.Err():
			log.Error("a listener stopped; shutting down", slog.String("error", serveErr.Error()))
		case <-hup:
			if reloader == nil {
				log.Info("reload ignored: the demo config has no file")
			} else {
				_ = reloader.Reload()
			}
			continue
		case <-ctx.Done():
		}
		break
	}

	// Shutdown in phases: readiness says 503 while the listeners still serve
	// for the drain delay (a second signal cuts it short), in-flight requests
	// finish within the grace period, then (deferred above) background loops
	// stop, the runtimes close and the store closes.
	// A listener that failed stops the process at once: there is nothing to
	// drain towards.
	delay := cfg.Server.DrainDelay
	if serveErr != nil {
		delay = 0
	}
	cut, stopCut := secondSignal()
	defer stopCut()
	stopServing(ctx, log, srv, &servers, delay, cfg.Server.ShutdownGrace, time.After, cut)
	return serveErr
}

// cvcSweepEvery is how often CVCs past vault.cvc_ttl are erased.
const cvcSweepEvery = time.Minute

// newLogger returns acpgw's JSON-lines logger. Durations are written as Go
// durations ("15s", "250ms") rather than slog's integer nanoseconds, so
// that a reader needs no arithmetic.
func newLogger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{
		Level: slog.LevelInfo,
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Value.Kind() == slog.KindDuration {
				a.Value = slog.StringValue(a.Value.Duration().String())
			}
			return a
		},
	}))
}

// secondSignal delivers on its channel once SIGTERM or SIGINT arrives again
// after the one that started the shutdown; stop ends the watch.
func secondSignal() (<-chan struct{}, func()) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	cut := make(chan struct{})
	done := make(chan struct{})
	go func() {
		select {
		case <-sig:
			close(cut)
		case <-done:
		}
	}()
	return cut, func() {
		signal.Stop(sig)
		close(done)
	}
}

// closeService closes the service's runtimes (their processor clients) once
// no request uses them, waiting at most grace.
func closeService(ctx context.Context, svc *gateway.Service, grace time.Duration, log *slog.Logger) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if err := svc.Close(cctx); err != nil {
		log.Warn("runtimes still in use at exit", slog.String("error", err.Error()))
	}
}

// newLimiter builds the rate limiter limits: chooses. A Redis that does not
// answer at start is not fatal: requests follow limits.on_error until it
// does, as in any outage.
func newLimiter(ctx context.Context, cfg config.Limits, m *metrics.Metrics, log *slog.Logger) (limits.Limiter, func(), error) {
	m.RateLimitBackendUp.Set(1)
	// Both series from the start, so that rate() sees the first error.
	m.RateLimitBackendErrors.WithLabelValues("allowed")
	m.RateLimitBackendErrors.WithLabelValues("denied")
	if cfg.Backend != config.LimitsRedis {
		return nil, func() {}, nil // api's in-memory default
	}
	redis.SetLogger(limits.Logger{L: log})
	r, err := limits.NewRedis(limits.RedisOptions{
		URL: cfg.RedisURL, OnError: cfg.OnError, Timeout: cfg.Timeout, Logger: log,
		OnState: func(up bool) {
			v := 0.0
			if up {
				v = 1
			}
			m.RateLimitBackendUp.Set(v)
		},
	})
	if err != nil {
		return nil, nil, err
	}
	if err := r.Ping(ctx); err != nil {
		m.RateLimitBackendUp.Set(0)
		log.Warn("rate limit backend: redis does not answer at start; requests follow limits.on_error until it does",
			slog.String("on_error", cfg.OnError), slog.String("error", err.Error()))
	} else {
		log.Info("rate limits are counted in redis, shared by every replica that uses it", slog.String("on_error", cfg.OnError))
	}
	return r, func() { _ = r.Close() }, nil
}

// purgeLoop deletes the expired idempotency records and the settled events
// older than retention(), at once and then every ten minutes until ctx ends.
func purgeLoop(ctx context.Context, st store.Store, retention func() time.Duration, log *slog.Logger) {
	t := time.NewTicker(10 * time.Minute)
	defer t.Stop()
	for {
		now := time.Now()
		n, err := purgeExpired(ctx, st, now)
		if err != nil && ctx.Err() == nil {
			log.Warn("idempotency purge failed", slog.String("error", err.Error()))
		} else if n > 0 {
			log.Info("idempotency records purged", slog.Int64("count", n))
		}
		n, err = purgeSettledEvents(ctx, st, now.Add(-retention()))
		if err != nil && ctx.Err() == nil {
			log.Warn("events purge failed", slog.String("error", err.Error()))
		} else if n > 0 {
			log.Info("settled events past events.retention purged", slog.Int64("count", n))
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// idemPurgeBatch bounds the records (idempotency records, or events) one
// transaction of purgeExpired or purgeSettledEvents deletes. One purge of all the expired records at once held SQLite's
// writer, and so every payment, for about 2 s per 100,000 records: at
// 1,000 payments/s with a day's retention, 12 s every ten minutes.
const idemPurgeBatch = 500

// purgeExpired deletes the idempotency records expired before now, a batch
// of idemPurgeBatch per transaction, until none is left or one fails.
func purgeExpired(ctx context.Context, st store.Store, now time.Time) (int64, error) {
	return inBatches(func() (int64, error) { return st.PurgeIdempotency(ctx, now, idemPurgeBatch) })
}

// purgeSettledEvents deletes the settled events created before
// createdBefore, with their deliveries, a batch of idemPurgeBatch per
// transaction, until none is left or one fails.
func purgeSettledEvents(ctx context.Context, st store.Store, createdBefore time.Time) (int64, error) {
	return inBatches(func() (int64, error) { return st.PurgeOutboxEvents(ctx, createdBefore, idemPurgeBatch) })
}

// inBatches calls batch until it deletes fewer than idemPurgeBatch rows or
// fails, and returns the rows deleted in all.
func inBatches(batch func() (int64, error)) (int64, error) {
	var total int64
	for {
		n, err := batch()
		total += n
		if err != nil || n < idemPurgeBatch {
			return total, err
		}
	}
}
