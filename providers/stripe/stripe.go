// Package stripe is acpgw's Stripe processor, built on stripe-go v76. It
// charges both kinds of approved ACP token (vault cards as raw card details,
// Stripe Shared Payment Tokens through their granted-token parameter) with
// PaymentIntents, normalises every Stripe answer to acpgw's statuses and
// decline taxonomy, classifies failures for the gateway's failover rule, and
// verifies and normalises Stripe's webhook events.
//
// Each configured processor gets its own stripe-go backend and http.Client:
// nothing here touches stripe-go's package-level key, backends or logger.
package stripe

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	stripego "github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"

	"acpgw/payment"
	"acpgw/providers"
)

// Type is the processor type of this provider in config (type: stripe).
const Type = "stripe"

// Defaults of Config.
const (
	// DefaultTimeout bounds one call to Stripe when Config.Timeout is zero.
	DefaultTimeout = 10 * time.Second
	// DefaultSharedTokenParam is the PaymentIntent parameter that takes a
	// Shared Payment Token in Stripe's agentic commerce preview as of API
	// version 2026-04-22.preview. Earlier previews used the top-level
	// shared_payment_granted_token and, before that, shared_payment_token:
	// the name is config because Stripe moves it between versions.
	DefaultSharedTokenParam = "payment_method_data[shared_payment_granted_token]"
	// DefaultAPIVersion is the Stripe-Version sent with Shared Payment Token
	// calls (the version whose docs define DefaultSharedTokenParam). Other
	// calls use stripe-go v76's pinned version, which its types decode.
	DefaultAPIVersion = "2026-04-22.preview"
)

// Metadata keys acpgw sets on every PaymentIntent, so that webhook events and
// the Stripe dashboard lead back to acpgw's payment and attempt.
const (
	MetadataPaymentID = "acpgw_payment_id"
	MetadataAttemptID = "acpgw_attempt_id"
)

// Config configures one Stripe processor account.
type Config struct {
	// Name is the processor name from config (stripe_us); empty means Type.
	Name string
	// SecretKey is the sk_/rk_ API key. Never logged.
	SecretKey string
	// BaseURL overrides https://api.stripe.com (tests, stripe-mock).
	BaseURL string
	// WebhookSecret is the endpoint's whsec_ signing secret; empty makes
	// every webhook delivery fail verification.
	WebhookSecret string
	// SharedTokenParam is the form parameter that carries an spt_ token;
	// empty means DefaultSharedTokenParam.
	SharedTokenParam string
	// APIVersion is the Stripe-Version header of Shared Payment Token calls;
	// empty means DefaultAPIVersion.
	APIVersion string
	// Timeout bounds each call (dial, TLS, waiting for the answer, and the
	// whole exchange); zero means DefaultTimeout.
	Timeout time.Duration
	// Currencies, when not empty, is the only lowercase ISO 4217 currencies
	// the processor takes.
	Currencies []string
	// Logger receives stripe-go's own messages at debug level, without
	// bodies, and the provider's re-sends (see OnRetry) at info level; nil
	// discards them.
	Logger *slog.Logger
	// OnUnknownDecline, when set, is called with Stripe's raw code each time
	// a decline code outside the mapping table becomes payment.DeclineUnknown
	// (wire it to a metric). It must be safe for concurrent use.
	OnUnknownDecline func(code string)
	// OnRetry, if set, is told of every re-send the provider makes by
	// itself (a request whose idempotency key Stripe reports in use), e.g.
	// to count it in a metric; each is logged at info level as well.
	OnRetry providers.RetryFunc
	// HTTPClient, when set, replaces the http.Client New builds (tests). It
	// is used through providers.SendOnce either way: no request is re-sent
	// by net/http and no redirect is followed.
	HTTPClient *http.Client
}

// Client is one Stripe processor. It is safe for concurrent use.
type Client struct {
	name             string
	api              *client.API
	webhookSecret    string
	sharedTokenParam string
	apiVersion       string
	timeout          time.Duration
	currencies       map[string]bool // nil: every currency acpgw knows
	onUnknown        func(string)
	onRetry          providers.RetryFunc
	log              *slog.Logger
	httpClient       *http.Client
	ownTransport     *http.Transport // closed by Close; nil with Config.HTTPClient
}

var (
	_ providers.Provider        = (*Client)(nil)
	_ providers.WebhookReceiver = (*Client)(nil)
	_ providers.Closer          = (*Client)(nil)
)

// formKey is what a form parameter name may look like: name or
// name[sub][subsub].
var formKey = regexp.MustCompile(`^[a-z_]+(\[[a-z_]+\])*$`)

// apiVersion is what a Stripe-Version value looks like: 2026-04-22 or
// 2026-04-22.preview (or .dahlia, .acacia, ...).
var apiVersion = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}(\.[a-z]+)?$`)

// Validate reports the first problem with c, naming the offending field and
// never printing a secret.
func (c Config) Validate() error {
	if c.SecretKey == "" {
		return errors.New("stripe: secret_key is required")
	}
	if c.BaseURL != "" {
		u, err := url.Parse(c.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return errors.New("stripe: base_url must be an http:// or https:// URL without credentials")
		}
	}
	if c.SharedTokenParam != "" && !formKey.MatchString(c.SharedTokenParam) {
		return fmt.Errorf("stripe: shared_token_param %q must look like name or name[sub]", c.SharedTokenParam)
	}
	if c.APIVersion != "" && !apiVersion.MatchString(c.APIVersion) {
		return fmt.Errorf("stripe: api_version %q must look like 2026-04-22 or 2026-04-22.preview", c.APIVersion)
	}
	if c.Timeout < 0 {
		return fmt.Errorf("stripe: timeout %s must not be negative", c.Timeout)
	}
	for _, cur := range c.Currencies {
		if !payment.ValidCurrency(strings.ToLower(cur)) {
			return fmt.Errorf("stripe: currencies: %w: %q", payment.ErrUnknownCurrency, cur)
		}
	}
	return nil
}

// New returns a Stripe processor for cfg after validating it.
func New(cfg Config) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	c := &Client{
		name:             cfg.Name,
		webhookSecret:    cfg.WebhookSecret,
		sharedTokenParam: cfg.SharedTokenParam,
		apiVersion:       cfg.APIVersion,
		timeout:          cfg.Timeout,
		onUnknown:        cfg.OnUnknownDecline,
		onRetry:          cfg.OnRetry,
		httpClient:       cfg.HTTPClient,
	}
	if c.name == "" {
		c.name = Type
	}
	if c.sharedTokenParam == "" {
		c.sharedTokenParam = DefaultSharedTokenParam
	}
	if c.apiVersion == "" {
		c.apiVersion = DefaultAPIVersion
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if len(cfg.Currencies) > 0 {
		c.currencies = make(map[string]bool, len(cfg.Currencies))
		for _, cur := range cfg.Currencies {
			c.currencies[strings.ToLower(cur)] = true
		}
	}
	if c.httpClient == nil {
		c.ownTransport = newTransport(c.timeout)
		c.httpClient = &http.Client{Transport: c.ownTransport, Timeout: c.timeout}
	}
	// stripe-go sends every POST with an Idempotency-Key header and a
	// rewindable body, which net/http would re-send by itself when a reused
	// connection fails; SendOnce leaves every re-send to send (errors.go).
	c.httpClient = providers.SendOnce(c.httpClient)

	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c.log = logger
	backend := func(tp stripego.SupportedBackend, base string) stripego.Backend {
		bc := &stripego.BackendConfig{
			HTTPClient:    c.httpClient,
			LeveledLogger: &leveledLogger{log: logger.With("processor", c.name)},
			// The gateway owns retries and reconciliation: a retry hidden in
			// the library would blur the line between "not processed" and
			// "outcome unknown" that failover depends on.
			MaxNetworkRetries: stripego.Int64(0),
			EnableTelemetry:   stripego.Bool(false),
		}
		if base != "" {
			bc.URL = stripego.String(base)
		}
		return stripego.GetBackendWithConfig(tp, bc)
	}
	c.api = client.New(cfg.SecretKey, &stripego.Backends{
		API:     backend(stripego.APIBackend, cfg.BaseURL),
		Connect: backend(stripego.ConnectBackend, cfg.BaseURL),
		Uploads: backend(stripego.UploadsBackend, cfg.BaseURL),
	})
	return c, nil
}

// newTransport is the processor's own transport: every phase of a call has a
// deadline, so a stuck Stripe connection cannot hold a payment forever.
func newTransport(timeout time.Duration) *http.Transport {
	dial := min(timeout, 5*time.Second)
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   dial,
		ResponseHeaderTimeout: timeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       90 * time.Second,
		MaxIdleConnsPerHost:   32,
		ForceAttemptHTTP2:     true,
	}
}

// Name returns the processor's name in config.
func (c *Client) Name() string { return c.name }

// Type returns "stripe".
func (c *Client) Type() string { return Type }

// Supports reports whether the processor takes the token kind and currency:
// vault cards and Shared Payment Tokens, in the configured currencies (or
// every currency acpgw knows).
func (c *Client) Supports(kind providers.TokenKind, currency string) bool {
	if kind != providers.TokenVault && kind != providers.TokenSharedPayment {
		return false
	}
	if !payment.ValidCurrency(currency) {
		return false
	}
	return c.currencies == nil || c.currencies[currency]
}

// Close releases the processor's idle connections.
func (c *Client) Close() error {
	if c.ownTransport != nil {
		c.ownTransport.CloseIdleConnections()
	}
	return nil
}

// callContext bounds ctx by the processor's timeout.
func (c *Client) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}

// leveledLogger routes stripe-go's messages to slog at debug level. It logs
// the format string only, never the arguments: stripe-go passes whole
// response bodies and error objects as arguments ("Response: %s").
type leveledLogger struct{ log *slog.Logger }

func (l *leveledLogger) logf(level, format string) {
	l.log.Debug("stripe-go: "+format, "stripe_level", level)
}

// Debugf implements stripe.LeveledLoggerInterface.
func (l *leveledLogger) Debugf(format string, _ ...interface{}) { l.logf("debug", format) }

// Infof implements stripe.LeveledLoggerInterface.
func (l *leveledLogger) Infof(format string, _ ...interface{}) { l.logf("info", format) }

// Warnf implements stripe.LeveledLoggerInterface.
func (l *leveledLogger) Warnf(format string, _ ...interface{}) { l.logf("warn", format) }

// Errorf implements stripe.LeveledLoggerInterface.
func (l *leveledLogger) Errorf(format string, _ ...interface{}) { l.logf("error", format) }
