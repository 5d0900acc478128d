package config

import (
	"encoding/hex"
	"maps"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"acpgw/events"
	"acpgw/payment"
	"acpgw/store"
)

// Defaults for keys the file leaves out.
const (
	DefaultListen            = "127.0.0.1:8080"
	DefaultReadTimeout       = 10 * time.Second
	DefaultReadHeaderTimeout = 5 * time.Second
	DefaultWriteTimeout      = 30 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultShutdownGrace     = 15 * time.Second
	DefaultDrainDelay        = 5 * time.Second
	DefaultSettleTimeout     = 30 * time.Second
	DefaultBodyLimit         = 64 << 10
	DefaultSQLiteDSN         = "./data/acpgw.db"
	DefaultProcessorTimeout  = 10 * time.Second
	DefaultMockTimeout       = 2 * time.Second
	DefaultMaxAttempts       = 2
	DefaultIdempotencyTTL    = 24 * time.Hour
	DefaultInFlightLock      = 60 * time.Second
	DefaultReconcileInterval = 10 * time.Second
	DefaultReconcileAfter    = 5 * time.Second
	DefaultReconcileLease    = 60 * time.Second
	DefaultMaxTokenTTL       = 30 * 24 * time.Hour
	DefaultCVCTTL            = 24 * time.Hour
	DefaultTokenMaxAttempts  = 3
	DefaultEventsTimeout     = 10 * time.Second
	DefaultEventsRetry       = 30 * time.Second
	DefaultEventsRetryMax    = time.Hour
	DefaultEventsGiveUpAfter = 72 * time.Hour
	DefaultEventsWorkers     = 4
	DefaultEventsRetention   = 30 * 24 * time.Hour
	DefaultSampleRatio       = 0.1
	DefaultServiceName       = "acpgw"
	DefaultLimitsTimeout     = 100 * time.Millisecond
	DefaultAuthSessionTTL    = 10 * time.Minute
	DefaultAuthStepTimeout   = 20 * time.Second
)

// MaxAuthSessionTTL is the longest authentication.session_ttl accepted: a
// session keeps its card, sealed, until it ends.
const MaxAuthSessionTTL = 24 * time.Hour

// DefaultBlockActions are the risk signal actions that refuse a token when
// risk.block_actions is not set.
var DefaultBlockActions = []string{"blocked"}

// riskActions are the actions of ACP's RiskSignal schema.
var riskActions = []string{"blocked", "manual_review", "authorized"}

// MaxTokenAttempts is the largest tokens.max_attempts accepted.
const MaxTokenAttempts = 20

// MaxEventsWorkers is the largest events.workers accepted.
const MaxEventsWorkers = 64

// minEventsSecret is the shortest events secret accepted, as for agents'
// signing secrets.
const minEventsSecret = 16

// Store drivers.
const (
	DriverSQLite   = "sqlite"
	DriverPostgres = "postgres"
)

// MaxAttemptsLimit is the largest routing.max_attempts accepted.
const MaxAttemptsLimit = 10

// present reports whether the file has the key at path. Defaults fill only
// absent keys, so an explicit `timeout: 0s` is an error, not a default.
func (d *decoder) present(path string) bool {
	_, ok := d.lines[path]
	return ok
}

func (d *decoder) defaultDuration(path string, v *time.Duration, def time.Duration) {
	if !d.present(path) {
		*v = def
	}
}

func defaultString(v *string, def string) {
	if *v == "" {
		*v = def
	}
}

func (d *decoder) defaults(c *Config) {
	s := &c.Server
	defaultString(&s.Listen, DefaultListen)
	d.defaultDuration("server.read_timeout", &s.ReadTimeout, DefaultReadTimeout)
	d.defaultDuration("server.read_header_timeout", &s.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	d.defaultDuration("server.write_timeout", &s.WriteTimeout, DefaultWriteTimeout)
	d.defaultDuration("server.idle_timeout", &s.IdleTimeout, DefaultIdleTimeout)
	d.defaultDuration("server.shutdown_grace", &s.ShutdownGrace, DefaultShutdownGrace)
	d.defaultDuration("server.drain_delay", &s.DrainDelay, DefaultDrainDelay)
	d.defaultDuration("server.settle_timeout", &s.SettleTimeout, DefaultSettleTimeout)
	if !d.present("server.body_limit") {
		s.BodyLimit = DefaultBodyLimit
	}
	defaultString(&c.Store.Driver, DriverSQLite)
	if c.Store.Driver == DriverSQLite {
		defaultString(&c.Store.DSN, DefaultSQLiteDSN)
	}
	for _, name := range c.ProcessorOrder {
		p := c.Processors[name]
		path := "processors." + name
		def := DefaultProcessorTimeout
		if p.Type == TypeMock {
			def = DefaultMockTimeout
		}
		d.defaultDuration(path+".timeout", &p.Timeout, def)
		d.defaultCircuit(path+".circuit", &p.Circuit)
		if p.Adyen != nil {
			defaultString(&p.Adyen.Environment, AdyenTest)
		}
	}
	for i, m := range c.Merchants {
		path := index("merchants", i)
		defaultString(&m.Routing.Strategy, StrategyPriority)
		if !d.present(path + ".routing.max_attempts") {
			m.Routing.MaxAttempts = DefaultMaxAttempts
		}
	}
	d.defaultDuration("vault.max_token_ttl", &c.Vault.MaxTokenTTL, DefaultMaxTokenTTL)
	d.defaultDuration("vault.cvc_ttl", &c.Vault.CVCTTL, DefaultCVCTTL)
	if !d.present("risk.block_actions") {
		c.Risk.BlockActions = DefaultBlockActions
	}
	for i, m := range c.Merchants {
		// A merchant's risk: keys override the global ones, key by key.
		path := index("merchants", i) + ".risk"
		if !d.present(path + ".block_actions") {
			m.Risk.BlockActions = c.Risk.BlockActions
		}
		if !d.present(path + ".max_score") {
			m.Risk.MaxScore = c.Risk.MaxScore
		}
	}
	if !d.present("tokens.max_attempts") {
		c.Tokens.MaxAttempts = DefaultTokenMaxAttempts
	}
	d.defaultDuration("idempotency.ttl", &c.Idempotency.TTL, DefaultIdempotencyTTL)
	d.defaultDuration("idempotency.in_flight_lock", &c.Idempotency.InFlightLock, DefaultInFlightLock)
	d.defaultDuration("reconcile.interval", &c.Reconcile.Interval, DefaultReconcileInterval)
	d.defaultDuration("reconcile.after", &c.Reconcile.After, DefaultReconcileAfter)
	d.defaultDuration("reconcile.lease", &c.Reconcile.Lease, DefaultReconcileLease)
	d.defaultDuration("events.timeout", &c.Events.Timeout, DefaultEventsTimeout)
	d.defaultDuration("events.retry_initial", &c.Events.RetryInitial, DefaultEventsRetry)
	d.defaultDuration("events.retry_max", &c.Events.RetryMax, DefaultEventsRetryMax)
	d.defaultDuration("events.give_up_after", &c.Events.GiveUpAfter, DefaultEventsGiveUpAfter)
	d.defaultDuration("events.retention", &c.Events.Retention, DefaultEventsRetention)
	if !d.present("events.workers") {
		c.Events.Workers = DefaultEventsWorkers
	}
	if !d.present("tracing.sample_ratio") {
		c.Tracing.SampleRatio = DefaultSampleRatio
	}
	defaultString(&c.Tracing.ServiceName, DefaultServiceName)
	defaultString(&c.Limits.Backend, LimitsMemory)
	defaultString(&c.Limits.OnError, OnErrorAllow)
	d.defaultDuration("limits.timeout", &c.Limits.Timeout, DefaultLimitsTimeout)
	d.defaultDuration("authentication.session_ttl", &c.Authentication.SessionTTL, DefaultAuthSessionTTL)
	d.defaultDuration("authentication.step_timeout", &c.Authentication.StepTimeout, DefaultAuthStepTimeout)
}

// check reports an error at path unless ok, or unless path or a key that
// holds it already has an error (a merchant that is not a mapping is not
// also missing its id).
func (d *decoder) check(ok bool, path string, kind error, format string, args ...any) {
	d.checkAt(ok, path, lineOf(d.lines, path), kind, format, args...)
}

// checkAt is check with the line given, for a missing key whose cause is
// on another line.
func (d *decoder) checkAt(ok bool, path string, line int, kind error, format string, args ...any) {
	if ok {
		return
	}
	for p := path; p != ""; p = parentPath(p) {
		if d.reported[p] {
			return
		}
	}
	d.failAt(line, path, kind, format, args...)
}

func (d *decoder) positive(path string, v time.Duration) {
	d.check(v > 0, path, ErrInvalid, "duration must be positive, got %s", v)
}

func (d *decoder) validate(c *Config) {
	d.validateServer(c)

	switch c.Store.Driver {
	case DriverSQLite:
		d.validateSQLiteDSN(c.Store.DSN)
		for _, k := range []string{"max_conns", "min_conns", "statement_timeout", "lock_timeout", "connect_timeout"} {
			d.check(!d.present("store."+k), "store."+k, ErrInvalid, "%s applies to the postgres driver only", k)
		}
	case DriverPostgres:
		if !d.present("store.max_conns") {
			c.Store.MaxConns = 10
		}
		d.defaultDuration("store.statement_timeout", &c.Store.StatementTimeout, 5*time.Second)
		d.defaultDuration("store.lock_timeout", &c.Store.LockTimeout, 2*time.Second)
		d.defaultDuration("store.connect_timeout", &c.Store.ConnectTimeout, 5*time.Second)
		d.check(c.Store.MaxConns >= 1, "store.max_conns", ErrInvalid, "max_conns must be at least 1")
		d.check(c.Store.MinConns >= 0 && c.Store.MinConns <= c.Store.MaxConns, "store.min_conns", ErrInvalid, "min_conns must be between 0 and max_conns")
		if c.Store.DSN == "" {
			d.check(false, "store.dsn", ErrRequired, "dsn is required for postgres (postgres://user:password@host/db)")
		} else {
			d.check(isPostgresURL(c.Store.DSN), "store.dsn", ErrInvalid, "dsn must be a postgres:// or postgresql:// URL")
		}
	default:
		d.check(false, "store.driver", ErrInvalid, "unknown driver %q (want sqlite or postgres)", c.Store.Driver)
	}

	d.check(len(c.Vault.Keys) > 0, "vault.keys", ErrRequired, "at least one vault key is required")
	vaultIDs := map[string]int{}
	for i, k := range c.Vault.Keys {
		p := index("vault.keys", i) + ".id"
		if d.validID(p, k.ID, "key id") {
			if j, dup := vaultIDs[k.ID]; dup {
				d.check(false, p, ErrInvalid, "duplicate key id %q (also vault.keys[%d])", k.ID, j)
			}
			vaultIDs[k.ID] = i
		}
	}

	for i := range c.Agents {
		a := &c.Agents[i]
		p := index("agents", i)
		if a.SigningSecret != "" {
			d.check(len(a.SigningSecret) >= 16, p+".signing_secret", ErrInvalid, "signing_secret must be at least 16 characters")
			d.defaultDuration(p+".timestamp_window", &a.TimestampWindow, 5*time.Minute)
			d.check(a.TimestampWindow > 0, p+".timestamp_window", ErrInvalid, "timestamp_window must be positive")
		}
	}
	d.validateCallers(c.Agents, "agents", "agent")
	d.validateCallers(c.Reports, "reports", "report reader")

	d.positive("vault.max_token_ttl", c.Vault.MaxTokenTTL)
	d.positive("vault.cvc_ttl", c.Vault.CVCTTL)

	for _, name := range c.ProcessorOrder {
		d.validateProcessor(c.Processors[name], "processors."+name)
	}

	merchantIDs, merchantKeys := map[string]int{}, map[string]int{}
	for i, m := range c.Merchants {
		p := index("merchants", i)
		if d.validID(p+".id", m.ID, "merchant id") {
			if j, dup := merchantIDs[m.ID]; dup {
				d.check(false, p+".id", ErrInvalid, "duplicate merchant id %q (also merchants[%d])", m.ID, j)
			}
			merchantIDs[m.ID] = i
		}
		if m.APIKeySHA256 != nil {
			if j, dup := merchantKeys[string(m.APIKeySHA256)]; dup {
				d.check(false, keyPath(d, p), ErrInvalid, "same API key as merchants[%d]; every merchant needs its own", j)
			}
			merchantKeys[string(m.APIKeySHA256)] = i
		}
		d.validateMerchant(c, m, p)
	}

	if c.Metrics.Listen != "" {
		d.check(validHostPort(c.Metrics.Listen), "metrics.listen", ErrInvalid, "listen %q must be host:port", c.Metrics.Listen)
		d.check(c.Metrics.Listen != c.Server.Listen, "metrics.listen", ErrInvalid, "metrics.listen is server.listen; leave it out to serve /metrics on the API listener")
	}

	d.validateRisk(c.Risk, "risk")
	for i, m := range c.Merchants {
		if d.present(index("merchants", i) + ".risk") {
			d.validateRisk(m.Risk, index("merchants", i)+".risk")
		}
	}
	d.check(c.Tokens.MaxAttempts >= 1 && c.Tokens.MaxAttempts <= MaxTokenAttempts, "tokens.max_attempts", ErrInvalid,
		"max_attempts must be between 1 and %d, got %d", MaxTokenAttempts, c.Tokens.MaxAttempts)

	d.check(c.Idempotency.TTL >= DefaultIdempotencyTTL, "idempotency.ttl", ErrInvalid, "ttl must be at least 24h (ACP keeps keys a day), got %s", c.Idempotency.TTL)
	d.positive("idempotency.in_flight_lock", c.Idempotency.InFlightLock)
	d.check(c.Server.SettleTimeout <= c.Idempotency.InFlightLock, "server.settle_timeout", ErrInvalid,
		"settle_timeout %s must not exceed idempotency.in_flight_lock %s: a key would be taken over while its request still runs",
		c.Server.SettleTimeout, c.Idempotency.InFlightLock)
	d.positive("reconcile.interval", c.Reconcile.Interval)
	d.positive("reconcile.after", c.Reconcile.After)
	d.positive("reconcile.lease", c.Reconcile.Lease)
	d.validateAmounts(c.Amounts)
	d.validateEvents(c.Events)
	d.validateTracing(c.Tracing)
	d.validateLimits(c.Limits)
	d.validateAuthentication(c)
}

// validateAuthentication checks authentication: and the merchants' own
// authentication: {provider}, which must name a processor whose type can
// authenticate.
func (d *decoder) validateAuthentication(c *Config) {
	a := c.Authentication
	d.positive("authentication.session_ttl", a.SessionTTL)
	d.check(a.SessionTTL <= MaxAuthSessionTTL, "authentication.session_ttl", ErrInvalid,
		"session_ttl must be at most %s (a session keeps its card until it ends), got %s", MaxAuthSessionTTL, a.SessionTTL)
	d.positive("authentication.step_timeout", a.StepTimeout)
	d.check(a.StepTimeout <= c.Idempotency.InFlightLock, "authentication.step_timeout", ErrInvalid,
		"step_timeout %s must not exceed idempotency.in_flight_lock %s: a key would be taken over while its provider call still runs",
		a.StepTimeout, c.Idempotency.InFlightLock)
	for i, m := range c.Merchants {
		if m.Authentication == nil {
			continue
		}
		p := index("merchants", i) + ".authentication.provider"
		name := m.Authentication.Provider
		if name == "" {
			d.checkAt(false, p, lineOf(d.lines, index("merchants", i)+".authentication"), ErrRequired,
				"provider is required: the processor that runs the merchant's 3-D Secure authentication")
			continue
		}
		proc, known := c.Processors[name]
		if !known {
			d.check(false, p, ErrInvalid, "unknown processor %q", name)
			continue
		}
		d.check(slices.Contains(AuthenticatingTypes, proc.Type), p, ErrInvalid,
			"processor %q is of type %s, which cannot authenticate; 3-D Secure needs a processor of type %s",
			name, proc.Type, strings.Join(AuthenticatingTypes, " or "))
	}
}

// validateAmounts checks amounts.max: known currencies, and maximums from 1
// to payment.MaxExactAmount, so that every amount accepted stays exact in
// the float64 metrics that count it.
func (d *decoder) validateAmounts(a Amounts) {
	for _, currency := range slices.Sorted(maps.Keys(a.Max)) {
		max := a.Max[currency]
		p := "amounts.max." + currency
		if !payment.ValidCurrency(currency) {
			d.check(false, p, ErrInvalid, "%q is not a lowercase ISO 4217 currency acpgw supports", currency)
			continue
		}
		d.check(max > 0, p, ErrInvalid, "the maximum must be a positive number of minor units, got %d", max)
		d.check(max <= payment.MaxExactAmount, p, ErrInvalid,
			"%d is above 2^53 = %d minor units, above which amounts lose precision in the metrics (float64)", max, payment.MaxExactAmount)
	}
}

// validateRisk checks a risk: block: actions from ACP's enum, each once,
// and a max_score that is not negative.
func (d *decoder) validateRisk(r Risk, path string) {
	seen := map[string]bool{}
	for i, a := range r.BlockActions {
		p := index(path+".block_actions", i)
		d.check(slices.Contains(riskActions, a), p, ErrInvalid, "unknown risk action %q (want blocked, manual_review or authorized)", a)
		d.check(!seen[a], p, ErrInvalid, "duplicate risk action %q", a)
		seen[a] = true
	}
	if r.MaxScore != nil {
		d.check(*r.MaxScore >= 0, path+".max_score", ErrInvalid, "max_score must not be negative, got %d", *r.MaxScore)
	}
}

func (d *decoder) validateEvents(e Events) {
	d.positive("events.timeout", e.Timeout)
	d.positive("events.retry_initial", e.RetryInitial)
	d.positive("events.retry_max", e.RetryMax)
	d.positive("events.give_up_after", e.GiveUpAfter)
	d.positive("events.retention", e.Retention)
	if e.RetryInitial > 0 {
		d.check(e.RetryMax >= e.RetryInitial, "events.retry_max", ErrInvalid,
			"retry_max %s must not be below retry_initial %s", e.RetryMax, e.RetryInitial)
	}
	d.check(e.Workers >= 1 && e.Workers <= MaxEventsWorkers, "events.workers", ErrInvalid,
		"workers must be between 1 and %d, got %d", MaxEventsWorkers, e.Workers)
}

// validateMerchantEvents checks a merchant's events: endpoint. An event is
// a signed POST of payment data: the URL must be https, except to this
// machine (a receiver beside acpgw, tests), and the secret must be there.
func (d *decoder) validateMerchantEvents(e *MerchantEvents, path string) {
	if e == nil {
		return
	}
	up := path + ".url"
	if e.URL == "" {
		d.check(false, up, ErrRequired, "url is required: where the merchant's events are POSTed")
	} else {
		d.checkEventsURL(up, e.URL)
	}
	if e.Secret == "" {
		d.check(false, path+".secret", ErrRequired, "secret is required: it signs every delivery (Acpgw-Signature)")
	} else {
		d.check(len(e.Secret) >= minEventsSecret, path+".secret", ErrInvalid, "secret must be at least %d characters", minEventsSecret)
	}
	if e.PreviousSecret != "" {
		pp := path + ".previous_secret"
		d.check(len(e.PreviousSecret) >= minEventsSecret, pp, ErrInvalid, "previous_secret must be at least %d characters", minEventsSecret)
		d.check(e.PreviousSecret != e.Secret, pp, ErrInvalid, "previous_secret is the same as secret; leave it out once a rotation is over")
	}
	tp := path + ".types"
	d.check(len(e.Types) > 0 || !d.present(tp), tp, ErrInvalid, "types is empty; leave it out to receive every type")
	seen := map[string]bool{}
	for i, t := range e.Types {
		ip := index(tp, i)
		d.check(events.Known(t), ip, ErrInvalid, "unknown event type %q (known: %s)", t, strings.Join(events.Types, ", "))
		d.check(!seen[t], ip, ErrInvalid, "event type %q is listed twice", t)
		seen[t] = true
	}
}

// checkEventsURL requires https, or http to a loopback address; no
// credentials in the URL (the secret signs, it does not travel).
func (d *decoder) checkEventsURL(path, s string) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.Opaque != "" {
		d.check(false, path, ErrInvalid, "url must be an https:// URL (http:// only to a loopback address)")
		return
	}
	if u.User != nil {
		d.check(false, path, ErrInvalid, "url must not hold credentials; deliveries are authenticated by their signature")
		return
	}
	if u.Scheme == "http" {
		d.check(isLoopback(u.Hostname()), path, ErrInvalid,
			"http:// is only allowed to a loopback address (127.0.0.1, ::1, localhost); %s needs https://", u.Hostname())
	}
}

// isLoopback reports whether host is localhost or a loopback IP address.
// Names other than localhost are not resolved: what a name resolves to can
// change after the check.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// validateTracing checks tracing:. The endpoint is an OTLP/HTTP URL; its
// value is never quoted in a message (it may carry a password).
func (d *decoder) validateTracing(t Tracing) {
	if t.Endpoint != "" {
		u, err := url.Parse(t.Endpoint)
		d.check(err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.RawQuery == "" && u.Fragment == "",
			"tracing.endpoint", ErrInvalid, "endpoint must be an http:// or https:// URL of an OTLP/HTTP collector, such as http://127.0.0.1:4318")
	}
	d.check(t.SampleRatio >= 0 && t.SampleRatio <= 1, "tracing.sample_ratio", ErrInvalid, "sample_ratio must be between 0 and 1, got %g", t.SampleRatio)
}

// validateLimits checks limits:.
func (d *decoder) validateLimits(l Limits) {
	switch l.Backend {
	case LimitsMemory:
		d.check(l.RedisURL == "", "limits.redis_url", ErrInvalid, "redis_url applies to backend: redis only")
	case LimitsRedis:
		if l.RedisURL == "" {
			d.checkAt(false, "limits.redis_url", lineOf(d.lines, "limits.backend"), ErrRequired, "redis_url is required for backend: redis (redis://host:6379/0)")
		} else {
			u, err := url.Parse(l.RedisURL)
			d.check(err == nil && (u.Scheme == "redis" || u.Scheme == "rediss") && u.Host != "",
				"limits.redis_url", ErrInvalid, "redis_url must be a redis:// or rediss:// URL with a host")
		}
	default:
		d.check(false, "limits.backend", ErrInvalid, "unknown backend %q (want memory or redis)", l.Backend)
	}
	d.check(l.OnError == OnErrorAllow || l.OnError == OnErrorDeny, "limits.on_error", ErrInvalid, "on_error must be allow or deny, got %q", l.OnError)
	d.positive("limits.timeout", l.Timeout)
}

// keyPath is where an API key was given: api_key or api_key_sha256.
func keyPath(d *decoder, path string) string {
	if d.present(path + ".api_key_sha256") {
		return path + ".api_key_sha256"
	}
	return path + ".api_key"
}

func (d *decoder) validID(path, id, what string) bool {
	if d.reported[path] {
		return false
	}
	if id == "" {
		d.check(false, path, ErrRequired, "%s is required", what)
		return false
	}
	if !validName(id) {
		d.check(false, path, ErrInvalid, "%s %q must be 1-64 letters, digits, _ or -", what, id)
		return false
	}
	return true
}

func (d *decoder) validateServer(c *Config) {
	s := c.Server
	d.check(validHostPort(s.Listen), "server.listen", ErrInvalid, "listen %q must be host:port", s.Listen)
	if (s.TLS.CertFile == "") != (s.TLS.KeyFile == "") {
		missing := "server.tls.key_file"
		if s.TLS.CertFile == "" {
			missing = "server.tls.cert_file"
		}
		d.check(false, missing, ErrRequired, "tls needs both cert_file and key_file, or neither")
	}
	d.positive("server.read_timeout", s.ReadTimeout)
	d.positive("server.read_header_timeout", s.ReadHeaderTimeout)
	d.positive("server.write_timeout", s.WriteTimeout)
	d.positive("server.idle_timeout", s.IdleTimeout)
	d.positive("server.shutdown_grace", s.ShutdownGrace)
	d.check(s.DrainDelay >= 0, "server.drain_delay", ErrInvalid, "drain_delay must not be negative, got %s (0s closes the listener at once)", s.DrainDelay)
	d.positive("server.settle_timeout", s.SettleTimeout)
	d.check(s.BodyLimit > 0, "server.body_limit", ErrInvalid, "body_limit must be a positive number of bytes, got %d", s.BodyLimit)
	// Profiling shows the process's internals: never on the API listener,
	// and not mixed with metrics, which are scraped from further away.
	if u := s.PublicURL; u != "" {
		pu, err := url.Parse(u)
		d.check(err == nil && (pu.Scheme == "http" || pu.Scheme == "https") && pu.Host != "" && pu.User == nil &&
			pu.RawQuery == "" && pu.Fragment == "", "server.public_url", ErrInvalid,
			"public_url must be an http:// or https:// URL without credentials, query or fragment")
	}
	if dl := s.DebugListen; dl != "" {
		d.check(validHostPort(dl), "server.debug_listen", ErrInvalid, "debug_listen %q must be host:port", dl)
		d.check(dl != s.Listen, "server.debug_listen", ErrInvalid, "debug_listen is server.listen; profiling is never served on the API listener, give it its own address")
		d.check(dl != c.Metrics.Listen, "server.debug_listen", ErrInvalid, "debug_listen is metrics.listen; give profiling its own address")
	}
}

func (d *decoder) validateProcessor(p *Processor, path string) {
	if p.Stripe == nil && p.Adyen == nil && p.Mock == nil {
		return // the type was missing or wrong; already reported
	}
	d.positive(path+".timeout", p.Timeout)
	seen := map[string]bool{}
	for i, cur := range p.Currencies {
		cp := index(path+".currencies", i)
		d.check(payment.ValidCurrency(cur), cp, ErrInvalid, "unknown currency %q (lowercase ISO 4217, such as usd)", cur)
		d.check(!seen[cur], cp, ErrInvalid, "duplicate currency %q", cur)
		seen[cur] = true
	}
	f := p.Fees
	fp := path + ".fees"
	okFixed, okCur := f.Fixed >= 0, f.Currency == "" || payment.ValidCurrency(f.Currency)
	d.check(okFixed, fp+".fixed", ErrInvalid, "fixed must not be negative, got %d", f.Fixed)
	d.check(okCur, fp+".currency", ErrInvalid, "unknown currency %q (lowercase ISO 4217, such as usd)", f.Currency)
	d.check(f.Fixed == 0 || f.Currency != "", fp+".currency", ErrRequired, "currency is required when fixed is set: acpgw does not convert currencies")
	if okFixed && okCur {
		if err := f.Validate(); err != nil {
			d.check(false, fp, ErrInvalid, "%s", strings.ReplaceAll(err.Error(), "\n", "; "))
		}
	}

	switch {
	case p.Stripe != nil:
		s := p.Stripe
		d.check(s.SecretKey != "", path+".secret_key", ErrRequired, "secret_key is required for a stripe processor")
		d.checkURL(path+".base_url", s.BaseURL)
		d.check(s.SharedTokenParam == "" || stripeFormKey.MatchString(s.SharedTokenParam), path+".shared_token_param", ErrInvalid,
			"shared_token_param %q must be a form parameter name such as payment_method_data[shared_payment_granted_token]", s.SharedTokenParam)
		d.check(s.APIVersion == "" || stripeAPIVersion.MatchString(s.APIVersion), path+".api_version", ErrInvalid,
			"api_version %q must be a Stripe API version such as 2026-04-22.preview", s.APIVersion)
	case p.Adyen != nil:
		a := p.Adyen
		d.check(a.APIKey != "", path+".api_key", ErrRequired, "api_key is required for an adyen processor")
		d.check(a.MerchantAccount != "", path+".merchant_account", ErrRequired, "merchant_account is required for an adyen processor")
		switch a.Environment {
		case AdyenTest:
		case AdyenLive:
			d.checkAt(a.LiveURLPrefix != "", path+".live_url_prefix", lineOf(d.lines, path+".environment"), ErrRequired, "live_url_prefix is required when environment is live (Customer Area: Developers > API URLs)")
		default:
			d.check(false, path+".environment", ErrInvalid, "environment %q must be test or live", a.Environment)
		}
		if a.LiveURLPrefix != "" {
			d.check(validPrefix(a.LiveURLPrefix), path+".live_url_prefix", ErrInvalid, "live_url_prefix %q must be letters, digits and -", a.LiveURLPrefix)
		}
		d.checkURL(path+".base_url", a.BaseURL)
		if a.HMACKey != "" {
			_, err := hex.DecodeString(a.HMACKey)
			d.check(err == nil && len(a.HMACKey) >= 32, path+".hmac_key", ErrInvalid,
				"hmac_key must be the hex key from the Customer Area (webhook settings)")
		}
		if ic := a.Interchange; ic != nil {
			ip := path + ".interchange"
			d.check(ic.Fixed == 0 || ic.Currency != "", ip+".currency", ErrRequired, "currency is required when fixed is set: acpgw does not convert currencies")
			if err := ic.Validate(); err != nil {
				d.check(false, ip, ErrInvalid, "%s", strings.ReplaceAll(err.Error(), "\n", "; "))
			}
		}
	case p.Mock != nil:
		d.check(p.Mock.Latency >= 0, path+".latency", ErrInvalid, "latency must not be negative, got %s", p.Mock.Latency)
		d.checkURL(path+".url", p.Mock.URL)
	}
}

// stripeFormKey and stripeAPIVersion are the shapes of shared_token_param
// (name or name[sub]) and api_version (2026-04-22 or 2026-04-22.preview).
var (
	stripeFormKey    = regexp.MustCompile(`^[a-z_]+(\[[a-z_]+\])*$`)
	stripeAPIVersion = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$`)
)

func (d *decoder) checkURL(path, s string) {
	if s == "" {
		return
	}
	u, err := url.Parse(s)
	d.check(err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.User == nil,
		path, ErrInvalid, "base_url must be an http:// or https:// URL without credentials")
}

func (d *decoder) validateMerchant(c *Config, m *Merchant, path string) {
	pp := path + ".processors"
	d.check(len(m.Processors) > 0 || d.reported[path], pp, ErrRequired, "at least one processor is required")
	listed := map[string]bool{}
	for i, name := range m.Processors {
		p := index(pp, i)
		_, known := c.Processors[name]
		d.check(known, p, ErrInvalid, "unknown processor %q", name)
		d.check(!listed[name], p, ErrInvalid, "processor %q is listed twice", name)
		listed[name] = true
	}

	r := m.Routing
	rp := path + ".routing"
	switch r.Strategy {
	case StrategyPriority, StrategyLeastCost:
		d.check(len(r.Weights) == 0, rp+".weights", ErrInvalid, "weights are only used with strategy weighted")
	case StrategyWeighted:
		var sum int64
		for name, w := range r.Weights {
			wp := rp + ".weights." + name
			d.check(listed[name], wp, ErrInvalid, "weight for %q, which is not in this merchant's processors", name)
			d.check(w >= 0, wp, ErrInvalid, "weight must not be negative, got %d", w)
			if w > 0 {
				sum += int64(w)
			}
		}
		d.check(sum > 0, rp+".weights", ErrInvalid, "weighted routing needs weights that add up to more than 0")
	default:
		d.check(false, rp+".strategy", ErrInvalid, "unknown strategy %q (want priority, weighted or least_cost)", r.Strategy)
	}
	d.check(r.MaxAttempts >= 1 && r.MaxAttempts <= MaxAttemptsLimit, rp+".max_attempts", ErrInvalid,
		"max_attempts must be between 1 and %d, got %d", MaxAttemptsLimit, r.MaxAttempts)
	d.validateRouting(c, m, listed, rp)

	d.validateMerchantEvents(m.Events, path+".events")

	if m.Country != "" {
		ok := len(m.Country) == 2 && m.Country[0] >= 'A' && m.Country[0] <= 'Z' && m.Country[1] >= 'A' && m.Country[1] <= 'Z'
		d.check(ok, path+".country", ErrInvalid, "country %q must be an upper-case ISO 3166 alpha-2 code such as US", m.Country)
	}
}

func validHostPort(s string) bool {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 0 && n <= 65535
}

// validateSQLiteDSN checks that the sqlite driver's DSN is a file path. A
// URL would be taken for one (postgres://db/x made a folder "postgres:"),
// and :memory: would lose every token at exit. Messages never quote the
// DSN: a URL may hold a password.
func (d *decoder) validateSQLiteDSN(dsn string) {
	if scheme := store.URLScheme(dsn); scheme != "" {
		d.check(false, "store.dsn", ErrInvalid, "dsn is a file path, not a URL (%q) for the sqlite driver: "+
			"give a path such as ./data/acpgw.db, or set driver: postgres for PostgreSQL", scheme+":")
		return
	}
	path, _, _ := strings.Cut(dsn, "?")
	d.check(path != ":memory:", "store.dsn", ErrInvalid, "dsn :memory: is not supported: every token would be lost at exit; give a file path")
}

func isPostgresURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql")
}

func validPrefix(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '-' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return s != ""
}

// redactDSN hides the password of a URL-form DSN. A DSN that does not parse
// as a URL is hidden whole, since it may be key=value with a password.
func redactDSN(dsn string) string {
	if dsn == "" {
		return ""
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return redacted
	}
	if u.Scheme == "" {
		if strings.Contains(dsn, "=") {
			return redacted
		}
		return dsn // a file path
	}
	q := u.Query()
	for k := range q {
		if strings.Contains(strings.ToLower(k), "password") || strings.Contains(strings.ToLower(k), "secret") {
			q.Set(k, "REDACTED")
		}
	}
	u.RawQuery = q.Encode()
	if _, has := u.User.Password(); has {
		name := u.User.Username()
		u.User = nil
		s := u.String()
		prefix := u.Scheme + "://"
		return prefix + url.User(name).String() + ":" + redacted + "@" + strings.TrimPrefix(s, prefix)
	}
	return u.String()
}

const redacted = "[redacted]"

// validateCallers checks that every caller of a list has a valid, unique id
// and its own API key.
func (d *decoder) validateCallers(list []Agent, path, what string) {
	ids, keys := map[string]int{}, map[string]int{}
	for i, a := range list {
		p := index(path, i)
		if d.validID(p+".id", a.ID, what+" id") {
			if j, dup := ids[a.ID]; dup {
				d.check(false, p+".id", ErrInvalid, "duplicate %s id %q (also %s[%d])", what, a.ID, path, j)
			}
			ids[a.ID] = i
		}
		if a.APIKeySHA256 != nil {
			if j, dup := keys[string(a.APIKeySHA256)]; dup {
				d.check(false, keyPath(d, p), ErrInvalid, "same API key as %s[%d]; every %s needs its own", path, j, what)
			}
			keys[string(a.APIKeySHA256)] = i
		}
	}
}
