// Package config reads acpgw's YAML configuration: ${NAME} expansion from
// the environment, strict decoding (unknown keys, duplicate keys and wrong
// types are errors), defaults and validation. Every error names the file,
// the line and the key path, and never the value of a secret.
//
// Decoding walks the yaml.Node tree by hand rather than through reflection:
// processors have flat, type-specific keys, and a hand walk is the simplest
// way to say exactly which key on which line is wrong.
package config

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"acpgw/fees"
	"acpgw/payment"
)

// Config is a loaded, defaulted and validated acpgw configuration. Treat it
// as read-only once returned: a reload builds a new Config.
type Config struct {
	// Server is the server: section, Store store:, Vault vault: and Agents
	// agents:; each section's type says its keys and defaults.
	Server Server
	Store  Store
	Vault  Vault
	Agents []Agent
	// Reports are the callers of GET /v1/reports/fees (finance), with their
	// own keys.
	Reports []Agent
	// Processors maps each processor's name to it; Processor.Name is the key.
	Processors map[string]*Processor
	// ProcessorOrder lists the processor names in file order.
	ProcessorOrder []string
	// Merchants is merchants:, in file order.
	Merchants []*Merchant
	// Metrics, Idempotency and Reconcile are the sections of those names.
	Metrics     Metrics
	Idempotency Idempotency
	Reconcile   Reconcile
	// Amounts bounds the amounts of payments and allowances (amounts:).
	Amounts Amounts
	// Risk is risk:, the policy on delegate_payment's risk_signals; a
	// merchant's own risk: overrides it key by key (Merchant.Risk holds the
	// result).
	Risk Risk
	// Tokens is tokens:, how vt_ tokens may be used.
	Tokens Tokens
	// Events is events:, how merchant events are delivered (merchants opt
	// in with their own events: key).
	Events Events
	// Tracing is tracing:, where OpenTelemetry traces go (off by default).
	Tracing Tracing
	// Limits is limits:, where the callers' rate_limit counters live.
	Limits Limits
	// Authentication is authentication:, how Delegate Authentication (3-D
	// Secure) sessions run; merchants opt in with their own
	// authentication: key, which names the provider.
	Authentication Authentication
	// Demo is true for the embedded demo config.
	Demo bool
	// Path is the file the config was loaded from, "" for the demo config.
	Path string

	// lines maps key paths ("merchants[0].processors[1]") to the line they
	// are on, for messages about them after loading.
	lines map[string]int
}

// Server configures the inbound HTTP listener.
type Server struct {
	// Listen is host:port; default 127.0.0.1:8080.
	Listen string
	// TLS is tls: {cert_file, key_file}.
	TLS TLS
	// ReadTimeout defaults to 10s, ReadHeaderTimeout to 5s, WriteTimeout to
	// 30s, IdleTimeout to 120s and ShutdownGrace (how long in-flight
	// requests get to finish on shutdown) to 15s.
	ReadTimeout       time.Duration
	ReadHeaderTimeout time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownGrace     time.Duration
	// DrainDelay is how long, on SIGTERM, /readyz answers 503 while the
	// listener still serves, before it closes: load balancers need a few
	// probes to take the instance out of rotation, and requests they send
	// meanwhile are served, not refused. Default 5s; 0s closes at once. A
	// second SIGTERM or SIGINT ends the delay.
	DrainDelay time.Duration
	// SettleTimeout bounds what follows a payment's or modification's
	// first write (the processor calls, failovers and the settlement),
	// which runs to its end even when the client hangs up; default 30s, at
	// most idempotency.in_flight_lock so that no key is taken over while
	// its request still runs.
	SettleTimeout time.Duration
	// BodyLimit is the largest request body in bytes; default 65536.
	BodyLimit int64
	// DebugListen, when set, serves net/http/pprof on its own host:port
	// (debug_listen; the --debug-listen flag wins). Off by default: the
	// profiles show the process's internals, so it belongs on loopback or
	// an operator-only network, never on the API listener.
	DebugListen string
	// PublicURL is the address browsers reach this listener at
	// (scheme://host[:port][/path], public_url), for the pages acpgw serves
	// them: the 3-D Secure pages of in-process mock processors, under
	// /mock/3ds/NAME. "" derives it from Listen and TLS
	// (http://127.0.0.1:8080). It takes effect on restart.
	PublicURL string
}

// TLS names the certificate and key files; both or neither are set.
type TLS struct {
	// CertFile and KeyFile are PEM file paths (cert_file, key_file).
	CertFile string
	KeyFile  string
}

// Enabled reports whether the listener serves TLS.
func (t TLS) Enabled() bool { return t.CertFile != "" }

// Store selects the database.
type Store struct {
	// Driver is "sqlite" (default) or "postgres".
	Driver string
	// DSN is a file path for sqlite (default ./data/acpgw.db) and a
	// postgres:// or postgresql:// URL for postgres. It may hold a password.
	DSN string
	// Postgres pool and timeouts (postgres only): max_conns (default 10),
	// min_conns, statement_timeout (5s), lock_timeout (2s), connect_timeout
	// (5s).
	MaxConns         int
	MinConns         int
	StatementTimeout time.Duration
	LockTimeout      time.Duration
	ConnectTimeout   time.Duration
}

// String describes s with any password in the DSN redacted.
func (s Store) String() string { return s.Driver + " " + redactDSN(s.DSN) }

// GoString is String, so that %#v does not print the DSN's password.
func (s Store) GoString() string { return s.String() }

// Vault holds the credential encryption keys and how long card data is
// kept.
type Vault struct {
	// Keys has at least one key; the first encrypts, all decrypt.
	Keys []VaultKey
	// MaxTokenTTL is max_token_ttl, the longest allowance a token may have:
	// delegate_payment refuses an allowance.expires_at further away;
	// default 720h (30 days).
	MaxTokenTTL time.Duration
	// CVCTTL is cvc_ttl, how long a token keeps its CVC: after it the CVC is
	// erased and a payment goes without it; default 24h.
	CVCTTL time.Duration
}

// VaultKey is one AES-256 key with the id stored beside what it encrypted.
type VaultKey struct {
	// ID names the key in stored ciphertexts, so it never changes.
	ID string
	// Key is exactly 32 bytes (base64 in the file).
	Key []byte
}

// String describes k without the key.
func (k VaultKey) String() string { return "VaultKey{ID: " + k.ID + ", Key: " + redacted + "}" }

// GoString is String, so that %#v does not print the key.
func (k VaultKey) GoString() string { return k.String() }

// Agent is a caller of delegate_payment (an agent platform).
type Agent struct {
	// ID names the agent platform in logs and records.
	ID string
	// APIKey is empty after loading; only its hash is kept.
	APIKey string
	// APIKeySHA256 is the SHA-256 of the agent's bearer key, always set
	// after loading.
	APIKeySHA256 []byte
	// SigningSecret, when set, makes the Signature and Timestamp headers
	// required on this caller's requests (HMAC-SHA256, see README). Secret.
	SigningSecret string
	// TimestampWindow is how far Timestamp may be from acpgw's clock;
	// default 5m.
	TimestampWindow time.Duration
	// RateLimit bounds this caller's requests; zero means unlimited.
	RateLimit RateLimit
}

// RateLimit is a token bucket: PerSecond requests per second on average,
// bursts of up to Burst.
type RateLimit struct {
	PerSecond int
	Burst     int
}

// String describes a without its key or key hash.
func (a Agent) String() string { return "Agent{ID: " + a.ID + ", APIKey: " + redacted + "}" }

// GoString is String, so that %#v does not print the key.
func (a Agent) GoString() string { return a.String() }

// Merchant is a caller of the payments API and the processors it may use.
type Merchant struct {
	// ID is the merchant_id callers send: 1-64 of [a-zA-Z0-9_-].
	ID string
	// APIKey is empty after loading; only its hash is kept.
	APIKey string
	// APIKeySHA256 is the SHA-256 of the merchant's bearer key, always set
	// after loading.
	APIKeySHA256 []byte
	// Processors names the processors this merchant may use, in priority
	// order.
	Processors []string
	// Routing is routing: {strategy, weights, max_attempts}.
	Routing Routing
	// Country is the merchant's ISO 3166 alpha-2 country in upper case, ""
	// when not set; it decides international fee surcharges.
	Country string
	// Metrics is metrics: {per_merchant}.
	Metrics MerchantMetrics
	// RateLimit bounds this merchant's requests; zero means unlimited.
	RateLimit RateLimit
	// Risk is the risk policy for tokens delegated to this merchant: the
	// global risk: with this merchant's risk: keys laid over it.
	Risk Risk
	// Events is events: {url, secret, previous_secret, types}: where the
	// merchant's events are delivered; nil when the merchant gets none.
	Events *MerchantEvents
	// Authentication is authentication: {provider}: who runs the merchant's
	// Delegate Authentication sessions; nil when the merchant offers none
	// (POST /delegate_authentication for it is refused).
	Authentication *MerchantAuthentication
}

// MerchantAuthentication is a merchant's 3-D Secure authentication.
type MerchantAuthentication struct {
	// Provider names the processor (processors:) that authenticates; its
	// type must be one that can (AuthenticatingTypes).
	Provider string
}

// AuthenticatingTypes are the processor types that serve 3-D Secure
// authentication: the mock (in process or a mock-server) and Adyen.
var AuthenticatingTypes = []string{TypeMock, TypeAdyen}

// MerchantEvents is a merchant's events endpoint.
type MerchantEvents struct {
	// URL receives the POSTs: https://, or http:// to a loopback address.
	URL string
	// Secret signs every delivery (Acpgw-Signature v1). Secret.
	Secret string
	// PreviousSecret, during a rotation, signs every delivery too (a
	// second v1), so the receiver can switch secrets at its own pace.
	// Secret.
	PreviousSecret string
	// Types are the event types delivered; empty (types left out) means
	// all of them.
	Types []string
}

// Wants reports whether the merchant receives events of type t.
func (e *MerchantEvents) Wants(t string) bool {
	return e != nil && (len(e.Types) == 0 || slices.Contains(e.Types, t))
}

// Secrets returns the secrets that sign a delivery, current first.
func (e *MerchantEvents) Secrets() []string {
	if e.PreviousSecret == "" {
		return []string{e.Secret}
	}
	return []string{e.Secret, e.PreviousSecret}
}

// String describes e without its secrets.
func (e MerchantEvents) String() string {
	return "MerchantEvents{URL: " + e.URL + ", Secret: " + redacted + ", PreviousSecret: " + secretShown(e.PreviousSecret) +
		", Types: [" + strings.Join(e.Types, " ") + "]}"
}

// GoString is String, so that %#v does not print the secrets.
func (e MerchantEvents) GoString() string { return e.String() }

// secretShown says whether a secret is set, never what it is.
func secretShown(s string) string {
	if s == "" {
		return `""`
	}
	return redacted
}

// String describes m without its key or key hash.
func (m Merchant) String() string {
	return "Merchant{ID: " + m.ID + ", APIKey: " + redacted + ", Processors: [" + strings.Join(m.Processors, " ") + "]}"
}

// GoString is String, so that %#v does not print the key.
func (m Merchant) GoString() string { return m.String() }

// MerchantMetrics says how a merchant appears in metrics.
type MerchantMetrics struct {
	// PerMerchant gives the merchant its own merchant label value; others
	// share "_other".
	PerMerchant bool `yaml:"per_merchant"`
}

// Routing strategies.
const (
	StrategyPriority  = "priority"
	StrategyWeighted  = "weighted"
	StrategyLeastCost = "least_cost"
)

// Routing says how a merchant's payments pick a processor.
type Routing struct {
	// Strategy is StrategyPriority (default), StrategyWeighted or
	// StrategyLeastCost.
	Strategy string
	// Weights maps processor names to relative weights; only with
	// StrategyWeighted. Processors without a weight get 0.
	Weights map[string]int
	// MaxAttempts caps processors tried for one payment; default 2.
	MaxAttempts int
	// Rules are tried in order; the first that matches decides the
	// processors (and optionally the strategy). No match: the merchant's
	// processors and strategy.
	Rules []Rule
	// CascadeOn lists soft decline codes after which the next processor is
	// tried; empty (the default) never cascades a decline. Hard declines
	// never cascade.
	CascadeOn []string
}

// Processor types.
const (
	TypeStripe = "stripe"
	TypeAdyen  = "adyen"
	TypeMock   = "mock"
)

// Processor is one configured processor account.
type Processor struct {
	// Name is the key under processors:, used in metrics and routing.
	Name string
	// Type is TypeStripe, TypeAdyen or TypeMock.
	Type string
	// Timeout bounds each call; default 10s (mock: 2s).
	Timeout time.Duration
	// Currencies, when not empty, is the only currencies the processor takes.
	Currencies []string
	// Fees is fees:, the schedule used for estimates and least_cost routing.
	Fees fees.Schedule
	// MaxLatencyP99 excludes the processor from least_cost routing while its
	// observed p99 latency is above it; 0 means no limit.
	MaxLatencyP99 time.Duration
	// Circuit tunes the processor's circuit breaker.
	Circuit Circuit
	// Exactly one of Stripe, Adyen and Mock is set, matching Type.
	Stripe *StripeSettings
	Adyen  *AdyenSettings
	Mock   *MockSettings
}

// StripeSettings are the keys of a stripe processor.
type StripeSettings struct {
	// SecretKey is secret_key, the sk_/rk_ API key. Secret.
	SecretKey string
	// BaseURL overrides the API's address (tests); "" means Stripe's.
	BaseURL string
	// WebhookSecret is webhook_secret (whsec_...), for event signatures.
	// Secret.
	WebhookSecret string
	// SharedTokenParam is shared_token_param, the PaymentIntent parameter
	// that carries a Shared Payment Token; "" means the provider's default
	// (payment_method_data[shared_payment_granted_token]).
	SharedTokenParam string
	// APIVersion is api_version, the Stripe-Version header of Shared
	// Payment Token calls; "" means the provider's default
	// (2026-04-22.preview).
	APIVersion string
}

// String describes s without its secrets.
func (s StripeSettings) String() string {
	return "StripeSettings{SecretKey: " + redacted + ", BaseURL: " + s.BaseURL + ", WebhookSecret: " + redacted +
		", SharedTokenParam: " + s.SharedTokenParam + ", APIVersion: " + s.APIVersion + "}"
}

// GoString is String, so that %#v does not print the secrets.
func (s StripeSettings) GoString() string { return s.String() }

// Adyen environments.
const (
	AdyenTest = "test"
	AdyenLive = "live"
)

// AdyenSettings are the keys of an adyen processor.
type AdyenSettings struct {
	// APIKey is api_key, the Checkout API key. Secret.
	APIKey string
	// MerchantAccount is merchant_account, sent with every request.
	MerchantAccount string
	// Environment is AdyenTest (default) or AdyenLive.
	Environment string
	// LiveURLPrefix is the account's live endpoint prefix; required for live.
	LiveURLPrefix string
	// BaseURL overrides the API's address (tests); "" derives it from
	// Environment and LiveURLPrefix.
	BaseURL string
	// HMACKey is hmac_key, the hex key of webhook signatures. Secret.
	HMACKey string
	// Interchange is interchange:, an optional Interchange++ schedule for
	// fee estimates (markup, fixed fee, interchange and scheme rates by
	// region and funding); nil means the processor's fees: schedule.
	Interchange *fees.Interchange
}

// String describes s without its secrets.
func (s AdyenSettings) String() string {
	return "AdyenSettings{APIKey: " + redacted + ", MerchantAccount: " + s.MerchantAccount +
		", Environment: " + s.Environment + ", LiveURLPrefix: " + s.LiveURLPrefix +
		", BaseURL: " + s.BaseURL + ", HMACKey: " + redacted + "}"
}

// GoString is String, so that %#v does not print the secrets.
func (s AdyenSettings) GoString() string { return s.String() }

// MockSettings are the keys of a mock processor.
type MockSettings struct {
	// Latency is added to every simulated call; default 0.
	Latency time.Duration
	// URL, when set, makes the processor a client of an `acpgw mock-server`
	// at that address instead of an in-process simulator: real sockets,
	// and one ledger shared by several acpgw processes (tests).
	URL string
}

// Metrics configures the metrics endpoint.
type Metrics struct {
	// Listen, when set, serves /metrics on its own host:port instead of the
	// API listener.
	Listen string
}

// Tracing configures OpenTelemetry traces, exported over OTLP/HTTP
// (protobuf). With no Endpoint tracing is off and costs nothing on the
// request path: no span is started and no traceparent is read.
type Tracing struct {
	// Endpoint is the OTLP/HTTP traces URL of a collector, e.g.
	// http://otel-collector:4318 (the path /v1/traces is added when the URL
	// has none); "" (the default) turns tracing off.
	Endpoint string
	// SampleRatio is the share of new traces kept, 0 to 1; default 0.1. A
	// request whose traceparent says its caller sampled it is kept whatever
	// the ratio, one whose caller did not sample it is not (parent based).
	SampleRatio float64
	// ServiceName is the service.name resource attribute; default acpgw.
	ServiceName string
}

// Enabled reports whether traces are exported.
func (t Tracing) Enabled() bool { return t.Endpoint != "" }

// String describes t with any password in the endpoint redacted.
func (t Tracing) String() string {
	return fmt.Sprintf("Tracing{Endpoint: %s, SampleRatio: %g, ServiceName: %s}", redactDSN(t.Endpoint), t.SampleRatio, t.ServiceName)
}

// GoString is String, so that %#v does not print a password.
func (t Tracing) GoString() string { return t.String() }

// Rate limit backends and error policies (limits.backend, limits.on_error).
const (
	LimitsMemory = "memory"
	LimitsRedis  = "redis"
	OnErrorAllow = "allow"
	OnErrorDeny  = "deny"
)

// Limits chooses where the callers' rate_limit counters are kept. The
// limits themselves stay on each agent and merchant (rate_limit:
// {per_second, burst}).
type Limits struct {
	// Backend is LimitsMemory (default: one counter per replica, so N
	// replicas admit up to N times a limit) or LimitsRedis (one counter
	// shared by every replica that uses the same Redis).
	Backend string
	// RedisURL is redis://[user:password@]host:port[/db] or rediss:// (TLS);
	// required with the redis backend. It may hold a password: secret.
	RedisURL string
	// OnError is what a request gets while Redis cannot be asked:
	// OnErrorAllow (default: admitted, unlimited) or OnErrorDeny (429).
	OnError string
	// Timeout bounds each Redis call, connecting included; default 100ms.
	// After a failed call Redis is asked again after Timeout*10 at the
	// earliest (one second by default), so that a Redis that does not
	// answer adds no latency to every request.
	Timeout time.Duration
}

// String describes l with any password in the Redis URL redacted.
func (l Limits) String() string {
	return fmt.Sprintf("Limits{Backend: %s, RedisURL: %s, OnError: %s, Timeout: %s}", l.Backend, redactDSN(l.RedisURL), l.OnError, l.Timeout)
}

// GoString is String, so that %#v does not print a password.
func (l Limits) GoString() string { return l.String() }

// Idempotency configures Idempotency-Key handling.
type Idempotency struct {
	// TTL is how long keys are kept; default and minimum 24h.
	TTL time.Duration
	// InFlightLock is how long a request holds its key before another may
	// take over; default 60s.
	InFlightLock time.Duration
}

// Authentication configures Delegate Authentication (3-D Secure) sessions.
type Authentication struct {
	// SessionTTL (session_ttl) is how long a session may take to end: one
	// that is not final by then is expired, its card erased, and never
	// sent to the provider again; default 10m, at most 24h.
	SessionTTL time.Duration
	// StepTimeout (step_timeout) bounds each call to the authentication
	// provider (create, authenticate, result); default 20s, at most
	// idempotency.in_flight_lock.
	StepTimeout time.Duration
}

// Amounts bounds the amounts acpgw accepts, per currency.
type Amounts struct {
	// Max maps a currency to the largest amount accepted in it, in minor
	// units (amounts: {max: {usd: 5000000}}): a payment's amount and an
	// allowance's max_amount above it are refused with 400. A currency not
	// listed has payment.DefaultMaxAmount (99999999, the largest Stripe and
	// Adyen both take); a value may be at most payment.MaxExactAmount (2^53),
	// so that every accepted amount is counted exactly in the metrics.
	Max payment.MaxAmounts
}

// Reconcile configures the resolution of payments whose outcome is unknown.
type Reconcile struct {
	// Interval between reconciliation passes; default 10s.
	Interval time.Duration
	// After is how long an attempt stays pending before it is re-sent;
	// default 5s. An attempt is never re-sent before the deadline its own
	// call was sent with has passed, whatever this says.
	After time.Duration
	// Lease is how long one replica owns a pending attempt; default 60s.
	Lease time.Duration
}

// Risk is the policy delegate_payment applies to a request's risk_signals
// (ACP's fraud signals from the agent platform): a token is refused when a
// signal's action is one of BlockActions or its score is above MaxScore.
type Risk struct {
	// BlockActions lists the risk signal actions that refuse the token
	// (block_actions; blocked, manual_review, authorized); default
	// [blocked]. An empty list blocks on no action.
	BlockActions []string
	// MaxScore, when set (max_score), refuses a token with a signal scored
	// above it; nil means no limit. Scores are the agent platform's own
	// scale: ACP defines none.
	MaxScore *int64
}

// Blocks reports whether action is one of r's blocking actions.
func (r Risk) Blocks(action string) bool {
	for _, a := range r.BlockActions {
		if a == action {
			return true
		}
	}
	return false
}

// Tokens configures vt_ tokens.
type Tokens struct {
	// MaxAttempts (max_attempts, default 3) is how many payments may be
	// made with one token: a declined payment whose decline is retryable
	// leaves the token usable, until this many payments have used it.
	MaxAttempts int
}

// Events configures the delivery of merchant events. Every duration is
// positive; see the defaults in validate.go.
type Events struct {
	// Timeout bounds one delivery (connect, send, answer); default 10s.
	Timeout time.Duration
	// RetryInitial is the wait before the second attempt; each later
	// attempt waits twice as long, up to RetryMax, with jitter. Defaults
	// 30s and 1h.
	RetryInitial time.Duration
	RetryMax     time.Duration
	// GiveUpAfter is how long an event is retried before it is marked
	// failed; default 72h.
	GiveUpAfter time.Duration
	// Workers is how many deliveries one acpgw process makes at once;
	// default 4. Read at start: a reload does not change it.
	Workers int
	// Retention is how long an event is kept once it is settled
	// (delivered, or failed after GiveUpAfter), counted from its creation;
	// default 720h (30 days). Older settled events are deleted with their
	// deliveries; a pending one is kept until it settles.
	Retention time.Duration
}

// Line returns the line of the key at path ("merchants[0].processors[1]",
// "processors.stripe_us.fees") in the file, or of the nearest enclosing key
// that is in the file when path itself is not (a defaulted key). It returns
// 0 when nothing on the path is in the file.
func (c *Config) Line(path string) int {
	return lineOf(c.lines, path)
}

func lineOf(lines map[string]int, path string) int {
	for path != "" {
		if l, ok := lines[path]; ok {
			return l
		}
		path = parentPath(path)
	}
	return 0
}

// parentPath strips the last element: "a.b[2]" -> "a.b", "a.b" -> "a".
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

// Sentinel errors saying what is wrong; an *Error says where. Test for them
// with errors.Is.
var (
	// ErrUnknownKey: a key the schema does not have at that place.
	ErrUnknownKey = errors.New("unknown key")
	// ErrDuplicateKey: the same key twice in one mapping.
	ErrDuplicateKey = errors.New("duplicate key")
	// ErrType: a value of the wrong YAML type (a list where a string goes).
	ErrType = errors.New("wrong type")
	// ErrEnv: a ${NAME} reference to an unset variable, or a malformed one.
	ErrEnv = errors.New("environment variable")
	// ErrRequired: a required key is missing or empty.
	ErrRequired = errors.New("required")
	// ErrInvalid: a value of the right type that is not allowed.
	ErrInvalid = errors.New("invalid value")
	// ErrSyntax: the file is not one well-formed YAML mapping.
	ErrSyntax = errors.New("invalid YAML")
)

// Error is one problem in a config file. Parse and Load return all of them
// joined (errors.Join); use errors.As to get the first, or unwrap the
// joined error's Unwrap() []error for all.
type Error struct {
	// File is the file name as given to Load or Parse ("config" if none).
	File string
	// Line is 1-based, 0 when unknown.
	Line int
	// Path is the key path, such as "merchants[0].processors[1]".
	Path string
	// Msg says what is wrong; it never holds a secret value.
	Msg string
	// Kind is one of the sentinel errors above.
	Kind error
}

// Error formats e as "file:line: path: message".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ":%d", e.Line)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the sentinel error Kind.
func (e *Error) Unwrap() error { return e.Kind }

// Load reads the file at path, expands ${NAME} references from the
// environment, decodes it strictly, applies defaults and validates it.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path)
}

// Parse is Load for a file already read; path names it in messages and in
// Config.Path.
func Parse(data []byte, path string) (*Config, error) {
	return parse(data, path, os.LookupEnv)
}
