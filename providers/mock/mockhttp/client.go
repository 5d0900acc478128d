package mockhttp

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/propagation"

	"acpgw/payment"
	"acpgw/providers"
	"acpgw/providers/mock"
)

// DefaultTimeout bounds a call when ClientConfig.Timeout is zero; the
// caller's context usually ends it sooner.
const DefaultTimeout = 10 * time.Second

// dialTimeout bounds connecting, so that a black-holed address fails as
// "not processed" rather than eating the whole call deadline.
const dialTimeout = 5 * time.Second

// ErrBadResponse: the Server answered with a body the Client cannot read.
var ErrBadResponse = errors.New("mockhttp: unreadable response")

// ClientConfig configures a Client.
type ClientConfig struct {
	// Name is the processor name from config; empty means "mock".
	Name string
	// URL is the Server's base address, http:// or https:// (e.g.
	// http://127.0.0.1:9099).
	URL string
	// Timeout bounds each call on top of the caller's context; zero means
	// DefaultTimeout.
	Timeout time.Duration
	// Currencies lists the currencies Supports accepts; empty means every
	// currency acpgw knows. The Server's mock decides for itself too.
	Currencies []string
}

// Client is a providers.Provider that calls a Server. It is safe for
// concurrent use.
//
// It classifies every failure for the gateway's failover rule, with
// net/http/httptrace telling whether the request was fully written:
//
//   - No answer, and the request was never fully written (connection
//     refused, DNS failure, TLS handshake failure, a context that ended
//     first, a write that failed part-way): providers.ErrNotProcessed. The
//     Server acts only on a complete body, so a request that did not leave
//     whole cannot have charged.
//   - No answer after the request was written (timeout, reset, EOF), or an
//     answer whose body did not arrive whole before the deadline:
//     providers.ErrOutcomeUnknown.
//   - 200: the Result. 409: providers.ErrRejected. 503 or 400 with
//     "processed": false: providers.ErrNotProcessed. 500, 502, 504, any
//     other status, or an error body without that promise:
//     providers.ErrOutcomeUnknown, the safe reading.
//
// The idempotency key travels in the JSON body, and the HTTP client is
// wrapped by providers.SendOnce, so net/http never re-sends a request by
// itself (it would re-send a POST with an Idempotency-Key header when a
// reused keep-alive connection fails after the request was written): the
// only re-send of a written request is the gateway's own (reconciliation),
// under the same key, and the classification describes the one try there
// was.
type Client struct {
	name       string
	base       string
	timeout    time.Duration
	currencies map[string]bool // nil: every known currency
	transport  *http.Transport
	http       *http.Client
}

var _ providers.Provider = (*Client)(nil)
var _ providers.Closer = (*Client)(nil)

// NewClient validates cfg and returns a Client. It does not connect.
func NewClient(cfg ClientConfig) (*Client, error) {
	base, err := baseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout < 0 {
		return nil, fmt.Errorf("mockhttp: timeout %s must not be negative", cfg.Timeout)
	}
	c := &Client{name: cfg.Name, base: base, timeout: cfg.Timeout}
	if c.name == "" {
		c.name = mock.Type
	}
	if c.timeout == 0 {
		c.timeout = DefaultTimeout
	}
	if len(cfg.Currencies) > 0 {
		c.currencies = make(map[string]bool, len(cfg.Currencies))
		for _, cur := range cfg.Currencies {
			cur = strings.ToLower(cur)
			if !payment.ValidCurrency(cur) {
				return nil, fmt.Errorf("mockhttp: currencies: %w: %q", payment.ErrUnknownCurrency, cur)
			}
			c.currencies[cur] = true
		}
	}
	c.transport = newTransport()
	// SendOnce: no re-send by net/http, and no redirect followed (the
	// Server never redirects; following one would re-send a POST).
	c.http = providers.SendOnce(&http.Client{Transport: c.transport})
	return c, nil
}

// newTransport is a Transport of its own (no environment proxy: the test
// processor is on loopback), HTTP/1.1 only, with bounded connecting.
func newTransport() *http.Transport {
	d := &net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:         d.DialContext,
		TLSHandshakeTimeout: dialTimeout,
		MaxIdleConns:        64,
		MaxIdleConnsPerHost: 32,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   false,
	}
}

func baseURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("mockhttp: url %q: %w", raw, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("mockhttp: url %q: want http://host:port or https://host:port", raw)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("mockhttp: url %q: want no user, query or fragment", u.Redacted())
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// Name returns the processor name from config.
func (c *Client) Name() string { return c.name }

// Type returns "mock": the processor behind the Server is the mock.
func (c *Client) Type() string { return mock.Type }

// Supports reports whether the processor takes the token kind and currency:
// vault cards only, in a configured currency.
func (c *Client) Supports(kind providers.TokenKind, currency string) bool {
	if kind != providers.TokenVault || !payment.ValidCurrency(currency) {
		return false
	}
	return c.currencies == nil || c.currencies[currency]
}

// Authorize sends an authorization to the Server.
func (c *Client) Authorize(ctx context.Context, req providers.AuthorizeRequest) (providers.Result, error) {
	return c.call(ctx, providers.OpAuthorize, PathAuthorize, toAuthorizeBody(req))
}

// Capture sends a capture to the Server.
func (c *Client) Capture(ctx context.Context, req providers.ModifyRequest) (providers.Result, error) {
	return c.call(ctx, providers.OpCapture, PathCapture, toModifyBody(req))
}

// Void sends a void to the Server.
func (c *Client) Void(ctx context.Context, req providers.ModifyRequest) (providers.Result, error) {
	return c.call(ctx, providers.OpVoid, PathVoid, toModifyBody(req))
}

// Refund sends a refund to the Server.
func (c *Client) Refund(ctx context.Context, req providers.ModifyRequest) (providers.Result, error) {
	return c.call(ctx, providers.OpRefund, PathRefund, toModifyBody(req))
}

// Close releases idle connections.
func (c *Client) Close() error {
	c.transport.CloseIdleConnections()
	return nil
}

// call makes one POST and classifies its outcome (see Client).
func (c *Client) call(ctx context.Context, op providers.Operation, path string, body any) (providers.Result, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return providers.Result{}, providers.NotProcessed("encode", fmt.Errorf("mockhttp: encode %s request: %w", op, err))
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	// written is set once the request was written in full.
	var written atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(info httptrace.WroteRequestInfo) {
			if info.Err == nil {
				written.Store(true)
			}
		},
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(data))
	if err != nil {
		return providers.Result{}, providers.NotProcessed("request", fmt.Errorf("mockhttp: build %s request: %w", op, err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	// The caller's trace goes on (W3C traceparent) when it has one: the
	// Server, like any service of ours, may join it.
	propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(req.Header))

	resp, err := c.http.Do(req)
	if err != nil {
		// *url.Error names the method and URL only; the body is not in it.
		if !written.Load() {
			return providers.Result{}, providers.NotProcessed(transportCode(err), fmt.Errorf("mockhttp: %s not sent: %w", op, err))
		}
		return providers.Result{}, providers.OutcomeUnknown(transportCode(err), fmt.Errorf("mockhttp: %s sent, no answer: %w", op, err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
	if err != nil {
		// The status line came but not the whole body: whatever it said,
		// the outcome cannot be known.
		return providers.Result{}, providers.OutcomeUnknown(transportCode(err),
			fmt.Errorf("mockhttp: %s answer %d cut short: %w", op, resp.StatusCode, err))
	}
	res, err := classify(op, resp.StatusCode, raw)
	id := resp.Header.Get(HeaderRequestID)
	var se *StatusError
	if errors.As(err, &se) {
		se.RequestID = id
	} else if err == nil {
		res.RequestID = id
	}
	return res, err
}

// classify reads an answer that arrived whole.
func classify(op providers.Operation, status int, raw []byte) (providers.Result, error) {
	if status == http.StatusOK {
		var b resultBody
		if err := json.Unmarshal(raw, &b); err != nil || b.Status == "" {
			return providers.Result{}, providers.OutcomeUnknown("bad_response", fmt.Errorf("%w to %s", ErrBadResponse, op))
		}
		return b.result(), nil
	}
	var b errorBody
	_ = json.Unmarshal(raw, &b) // a body that is not ours leaves b empty
	code := b.Code
	if code == "" {
		code = fmt.Sprint(status)
	}
	err := &StatusError{Status: status, Code: b.Code, Message: b.Message}
	notProcessed := b.Processed != nil && !*b.Processed
	switch {
	case status == http.StatusConflict:
		return providers.Result{}, providers.Rejected(code, err)
	case notProcessed && (status == http.StatusServiceUnavailable || status == http.StatusBadRequest):
		return providers.Result{}, providers.NotProcessed(code, err)
	default:
		// 500, 502, 504, a 503 from something that is not the Server, and
		// anything unexpected: the request may have been acted on.
		return providers.Result{}, providers.OutcomeUnknown(code, err)
	}
}

// StatusError is an error answer of the Server.
type StatusError struct {
	// Status is the HTTP status code.
	Status int
	// Code and Message are the answer's code and message, if it had them.
	Code    string
	Message string
	// RequestID is the Server's Request-Id of the answer.
	RequestID string
}

// ProcessorRequestID is the Server's Request-Id of the answer.
func (e *StatusError) ProcessorRequestID() string { return e.RequestID }

// Error implements error.
func (e *StatusError) Error() string {
	s := fmt.Sprintf("mockhttp: HTTP %d", e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// transportCode names a transport failure for attempts and logs. It only
// labels the error; the class comes from whether the request was written.
func transportCode(err error) string {
	var (
		dnsErr  *net.DNSError
		certErr *tls.CertificateVerificationError
		recErr  tls.RecordHeaderError
		authErr x509.UnknownAuthorityError
		netErr  net.Error
	)
	switch {
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection_reset"
	case errors.As(err, &dnsErr):
		return "dns"
	case errors.As(err, &certErr), errors.As(err, &recErr), errors.As(err, &authErr):
		return "tls"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	}
	return "transport"
}

// FetchLedger returns the charges of the Server at baseURL, in the order
// made: the judge of tests that count charges across processes.
func FetchLedger(ctx context.Context, baseURL string) ([]mock.Charge, error) {
	return fetchLedger(ctx, baseURL, "")
}

// FetchPaymentLedger returns the charges the Server at baseURL made for
// paymentID.
func FetchPaymentLedger(ctx context.Context, baseURL, paymentID string) ([]mock.Charge, error) {
	return fetchLedger(ctx, baseURL, paymentID)
}

func fetchLedger(ctx context.Context, raw, paymentID string) ([]mock.Charge, error) {
	base, err := baseURL(raw)
	if err != nil {
		return nil, err
	}
	u := base + PathLedger
	if paymentID != "" {
		u += "?payment_id=" + url.QueryEscape(paymentID)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("mockhttp: ledger: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("mockhttp: ledger: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64*maxBodyBytes))
	if err != nil {
		return nil, fmt.Errorf("mockhttp: ledger: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("mockhttp: ledger: HTTP %d", resp.StatusCode)
	}
	var b ledgerBody
	if err := json.Unmarshal(data, &b); err != nil {
		return nil, fmt.Errorf("%w: ledger: %v", ErrBadResponse, err)
	}
	out := make([]mock.Charge, 0, len(b.Charges))
	for _, c := range b.Charges {
		at, err := time.Parse(time.RFC3339Nano, c.CreatedAt)
		if err != nil {
			return nil, fmt.Errorf("%w: ledger: created_at %q", ErrBadResponse, c.CreatedAt)
		}
		out = append(out, mock.Charge{
			Reference: c.Reference, PaymentID: c.PaymentID, IdempotencyKey: c.IdempotencyKey,
			Amount: c.Amount, Captured: c.Captured, Refunded: c.Refunded, Currency: c.Currency,
			Voided: c.Voided, CreatedAt: at,
		})
	}
	return out, nil
}
