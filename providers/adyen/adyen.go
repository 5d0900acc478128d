// Package adyen is acpgw's own client for the part of Adyen's Checkout API
// v71 that a payment gateway needs: POST /payments and the captures,
// cancels and refunds of a payment. It is held to Adyen's official OpenAPI
// description by the fake server in adyentest, which validates every
// request and answer against it.
//
// The package also verifies and normalises Adyen's standard webhooks
// (HMAC-SHA256 signatures) and reads the Settlement details report, from
// which the actual fees of settled payments are known: Adyen reports no fee
// when it authorises a payment.
package adyen

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"acpgw/payment"
	"acpgw/providers"
)

// Type is the processor type of Adyen processors in config (type: adyen).
const Type = "adyen"

// Environments, as config's environment key names them.
const (
	EnvironmentTest = "test"
	EnvironmentLive = "live"
)

// Base URLs of Checkout API v71. The live URL carries the account's own
// prefix (Customer Area: Developers > API URLs), so it is a format.
const (
	TestBaseURL       = "https://checkout-test.adyen.com/v71"
	liveBaseURLFormat = "https://%s-checkout-live.adyenpayments.com/checkout/v71"
)

// Defaults of Config.
const (
	// DefaultTimeout bounds one call when Config.Timeout is zero and the
	// caller's context has no earlier deadline.
	DefaultTimeout = 10 * time.Second
	// DefaultDialTimeout bounds connecting (TCP and TLS) to Adyen.
	DefaultDialTimeout = 5 * time.Second
	// DefaultReturnURL is sent as returnUrl, which v71 requires on every
	// /payments request. acpgw never redirects a shopper (a redirect is a
	// decline with authentication_required), so the URL is never visited;
	// the .invalid top-level domain (RFC 2606) can never resolve.
	DefaultReturnURL = "https://acpgw.invalid/adyen/return"
)

// MaxIdempotencyKeyLen is the longest Idempotency-Key Adyen accepts.
const MaxIdempotencyKeyLen = 64

// Config is the configuration of one Adyen processor account.
type Config struct {
	// Name is the processor name from config (adyen_eu); empty means Type.
	Name string
	// APIKey is sent as X-API-Key. Secret: never logged.
	APIKey string
	// MerchantAccount is sent with every request.
	MerchantAccount string
	// Environment is EnvironmentTest (default) or EnvironmentLive.
	Environment string
	// LiveURLPrefix is the account's live endpoint prefix; required for
	// live unless BaseURL is set.
	LiveURLPrefix string
	// BaseURL overrides the API's address (tests, the fake server); it
	// includes the version path, e.g. http://127.0.0.1:1234/v71.
	BaseURL string
	// HMACKey is the hex HMAC key of the webhook endpoint in the Customer
	// Area. Secret. Empty means every webhook is refused.
	HMACKey string
	// Timeout bounds one call; zero means DefaultTimeout.
	Timeout time.Duration
	// ReturnURL is sent as returnUrl; empty means DefaultReturnURL.
	ReturnURL string
	// Currencies, when not empty, is the only lowercase currencies taken.
	Currencies []string
	// Logger receives warnings (unknown refusal codes, malformed answers);
	// nil discards them. Nothing secret or card-related is logged.
	Logger *slog.Logger
	// OnUnknownRefusal, if set, is called with every refusalReasonCode the
	// mapping table does not know, e.g. to count it in a metric.
	OnUnknownRefusal func(code string)
	// OnRetry, if set, is told of every re-send the client makes by itself
	// (a request Adyen reported in progress, errorCode 704), e.g. to count
	// it in a metric; each is logged as well.
	OnRetry providers.RetryFunc
	// HTTPClient replaces the client New builds; its Transport should have
	// dial and response-header timeouts. Nil builds one. Either way the
	// client is used through providers.SendOnce: it never re-sends a
	// request and follows no redirect.
	HTTPClient *http.Client
}

// Client is one Adyen processor account. It is safe for concurrent use.
type Client struct {
	name             string
	apiKey           string
	merchantAccount  string
	baseURL          string
	hmacKey          []byte
	timeout          time.Duration
	returnURL        string
	currencies       map[string]bool // nil: every currency acpgw knows
	logger           *slog.Logger
	onUnknownRefusal func(string)
	onRetry          providers.RetryFunc
	http             *http.Client
	ownTransport     *http.Transport
}

var (
	_ providers.Provider        = (*Client)(nil)
	_ providers.WebhookReceiver = (*Client)(nil)
	_ providers.Closer          = (*Client)(nil)
)

// New checks cfg and returns a client. It does not contact Adyen.
func New(cfg Config) (*Client, error) {
	if cfg.APIKey == "" {
		return nil, errors.New("adyen: api_key is required")
	}
	if cfg.MerchantAccount == "" {
		return nil, errors.New("adyen: merchant_account is required")
	}
	base, err := baseURL(cfg)
	if err != nil {
		return nil, err
	}
	var hmacKey []byte
	if cfg.HMACKey != "" {
		hmacKey, err = hex.DecodeString(cfg.HMACKey)
		if err != nil || len(hmacKey) == 0 {
			// The key itself stays out of the message.
			return nil, errors.New("adyen: hmac_key must be the hex key shown in the Customer Area")
		}
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("adyen: timeout %s must not be negative", cfg.Timeout)
	}
	c := &Client{
		name:             cfg.Name,
		apiKey:           cfg.APIKey,
		merchantAccount:  cfg.MerchantAccount,
		baseURL:          base,
		hmacKey:          hmacKey,
		timeout:          cfg.Timeout,
		returnURL:        cfg.ReturnURL,
		logger:           cfg.Logger,
		onUnknownRefusal: cfg.OnUnknownRefusal,
		onRetry:          cfg.OnRetry,
		http:             cfg.HTTPClient,
	}
	if c.name == "" {
		c.name = Type
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if c.returnURL == "" {
		c.returnURL = DefaultReturnURL
	}
	if c.logger == nil {
		c.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if len(cfg.Currencies) > 0 {
		c.currencies = make(map[string]bool, len(cfg.Currencies))
		for _, cur := range cfg.Currencies {
			cur = strings.ToLower(cur)
			if !payment.ValidCurrency(cur) {
				return nil, fmt.Errorf("adyen: currencies: %w: %q", payment.ErrUnknownCurrency, cur)
			}
			c.currencies[cur] = true
		}
	}
	if c.http == nil {
		c.ownTransport = newTransport(c.timeout)
		// No Client.Timeout: each call's deadline comes from its context,
		// so that a timeout is told apart from a refused connection.
		c.http = &http.Client{Transport: c.ownTransport}
	}
	// Every re-send is the client's own (see do), never net/http's.
	c.http = providers.SendOnce(c.http)
	return c, nil
}

// newTransport is an HTTP transport with named dial, TLS and
// response-header timeouts (STYLE.md: every timeout is named).
func newTransport(timeout time.Duration) *http.Transport {
	dialer := &net.Dialer{Timeout: min(DefaultDialTimeout, timeout), KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   min(DefaultDialTimeout, timeout),
		ResponseHeaderTimeout: timeout,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     true,
	}
}

// baseURL picks the API address from the environment, the live prefix and
// the override.
func baseURL(cfg Config) (string, error) {
	if cfg.BaseURL != "" {
		u, err := url.Parse(cfg.BaseURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
			return "", errors.New("adyen: base_url must be an http:// or https:// URL without credentials")
		}
		return strings.TrimRight(cfg.BaseURL, "/"), nil
	}
	switch cfg.Environment {
	case "", EnvironmentTest:
		return TestBaseURL, nil
	case EnvironmentLive:
		if !validPrefix(cfg.LiveURLPrefix) {
			return "", errors.New("adyen: live_url_prefix (letters, digits and -) is required when environment is live")
		}
		return fmt.Sprintf(liveBaseURLFormat, cfg.LiveURLPrefix), nil
	default:
		return "", fmt.Errorf("adyen: environment %q must be test or live", cfg.Environment)
	}
}

func validPrefix(s string) bool {
	if s == "" || len(s) > 100 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '-' && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// Name returns the processor name from config.
func (c *Client) Name() string { return c.name }

// Type returns "adyen".
func (c *Client) Type() string { return Type }

// BaseURL returns the API address the client calls, for start-up logs.
func (c *Client) BaseURL() string { return c.baseURL }

// Supports reports whether the client takes the token kind and currency:
// vault cards only (Stripe's Shared Payment Tokens are Stripe's alone) in a
// configured currency.
func (c *Client) Supports(kind providers.TokenKind, currency string) bool {
	if kind != providers.TokenVault || !payment.ValidCurrency(currency) {
		return false
	}
	return c.currencies == nil || c.currencies[currency]
}

// Close releases idle connections of the client's own transport.
func (c *Client) Close() error {
	if c.ownTransport != nil {
		c.ownTransport.CloseIdleConnections()
	}
	return nil
}

// callContext bounds one call by the client's timeout as well as ctx.
func (c *Client) callContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.timeout)
}
