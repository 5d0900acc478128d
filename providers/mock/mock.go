// Package mock is acpgw's built-in processor simulator. It is not a stub: it
// keeps its own ledger of authorizations, captures, voids and refunds with
// their amounts checked, replays answers by idempotency key, charges a
// configurable fee, waits a configurable latency, and behaves by card number
// as the README's test-card table says, so that the gateway can be
// exercised end to end, failures included, without a network. It also
// authenticates buyers with 3-D Secure 2 (Authenticator): a mock3ds.Server
// whose test cards agree with the processor's (4000000000003220 is
// challenged, and the processor approves it only with the authenticated
// result the challenge gives).
package mock

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"acpgw/payment"
	"acpgw/providers"
	"acpgw/threeds"
	"acpgw/threeds/mock3ds"
)

// Type is the processor type of the mock in config (type: mock).
const Type = "mock"

// DefaultHangFor is how long the never-answering test card blocks when the
// caller's context has no deadline and Config.HangFor is zero.
const DefaultHangFor = 30 * time.Second

// maxFeeRatePPM is a fee rate of 100%; a higher rate is a config mistake.
const maxFeeRatePPM = 1_000_000

// Config is the mock processor's configuration.
type Config struct {
	// Name is the processor name from config, e.g. "mock"; empty means Type.
	Name string
	// Latency is added to every call, after the call has taken effect, so
	// that a context ending during it leaves the outcome unknown.
	Latency time.Duration
	// FeeRatePPM is the fee rate in parts per million of the captured
	// amount (2.9% is 29000).
	FeeRatePPM int64
	// FeeFixed is a fixed fee per captured charge, in minor units of
	// FeeCurrency.
	FeeFixed int64
	// FeeCurrency is the lowercase currency of FeeFixed: a charge in another
	// currency gets no fixed fee, as fees.Schedule.Estimate has it (acpgw
	// converts no currencies). Empty means any currency.
	FeeCurrency string
	// Currencies lists the supported lowercase ISO 4217 currencies; empty
	// means every currency acpgw knows.
	Currencies []string
	// HangFor is how long the never-answering test card blocks when the
	// caller's context has no deadline; zero means DefaultHangFor.
	HangFor time.Duration
	// ThreeDS configures the mock's 3-D Secure server (Authenticator):
	// above all the base URL browsers reach its pages at, which the
	// process serving them sets.
	ThreeDS mock3ds.Options
}

// Validate reports the first problem with c, naming the offending field.
func (c Config) Validate() error {
	if c.Latency < 0 {
		return fmt.Errorf("mock: latency %s must not be negative", c.Latency)
	}
	if c.HangFor < 0 {
		return fmt.Errorf("mock: hang_for %s must not be negative", c.HangFor)
	}
	if c.FeeRatePPM < 0 || c.FeeRatePPM > maxFeeRatePPM {
		return fmt.Errorf("mock: fee rate %d ppm must be between 0 and %d", c.FeeRatePPM, maxFeeRatePPM)
	}
	if c.FeeFixed < 0 {
		return fmt.Errorf("mock: fixed fee %d must not be negative", c.FeeFixed)
	}
	if c.FeeCurrency != "" && !payment.ValidCurrency(c.FeeCurrency) {
		return fmt.Errorf("mock: fee currency: %w: %q", payment.ErrUnknownCurrency, c.FeeCurrency)
	}
	for _, cur := range c.Currencies {
		if !payment.ValidCurrency(strings.ToLower(cur)) {
			return fmt.Errorf("mock: currencies: %w: %q", payment.ErrUnknownCurrency, cur)
		}
	}
	return c.ThreeDS.Validate()
}

// Provider is the mock processor. It is safe for concurrent use.
type Provider struct {
	name       string
	latency    time.Duration
	feeRatePPM int64
	feeFixed   int64
	feeCur     string          // "": feeFixed applies to every currency
	currencies map[string]bool // nil: every known currency
	hangFor    time.Duration
	threeDS    *mock3ds.Server

	mu      sync.Mutex
	charges map[string]*Charge // by Reference; authorizations only
	order   []*Charge          // charges in the order they were made
	keys    map[string]*keyEntry
	held    map[string]bool // keys of requests "still in progress"
	calls   map[providers.Operation]int
}

var (
	_ providers.Provider       = (*Provider)(nil)
	_ providers.Authenticating = (*Provider)(nil)
)

// New returns a mock processor with an empty ledger. New does not fail:
// config loading should call Config.Validate first; New reads negative
// durations and fees as zero and a fee rate above 100% as 100%.
func New(cfg Config) *Provider {
	p := &Provider{
		name:       cfg.Name,
		latency:    max(cfg.Latency, 0),
		feeRatePPM: min(max(cfg.FeeRatePPM, 0), maxFeeRatePPM),
		feeFixed:   max(cfg.FeeFixed, 0),
		feeCur:     cfg.FeeCurrency,
		hangFor:    cfg.HangFor,
		charges:    make(map[string]*Charge),
		keys:       make(map[string]*keyEntry),
		held:       make(map[string]bool),
		calls:      make(map[providers.Operation]int),
		threeDS:    mock3ds.New(cfg.ThreeDS),
	}
	if p.name == "" {
		p.name = Type
	}
	if p.hangFor <= 0 {
		p.hangFor = DefaultHangFor
	}
	if len(cfg.Currencies) > 0 {
		p.currencies = make(map[string]bool, len(cfg.Currencies))
		for _, c := range cfg.Currencies {
			p.currencies[strings.ToLower(c)] = true
		}
	}
	return p
}

// Authenticator returns the mock's 3-D Secure server, a mock3ds.Server
// running in this process: its cards behave as mock3ds.Cards says, and
// 4000000000003220, which this processor declines authentication_required
// without authentication, is the one to challenge.
func (p *Provider) Authenticator() threeds.Provider { return p.threeDS }

// ThreeDS returns the mock's 3-D Secure server, whose handler serves the
// pages a browser meets; serve it at Config.ThreeDS.BaseURL.
func (p *Provider) ThreeDS() *mock3ds.Server { return p.threeDS }

// Name returns the processor name from config.
func (p *Provider) Name() string { return p.name }

// Type returns "mock".
func (p *Provider) Type() string { return Type }

// Supports reports whether the mock takes the token kind and currency: vault
// cards only (never Shared Payment Tokens) in a configured currency.
func (p *Provider) Supports(kind providers.TokenKind, currency string) bool {
	return kind == providers.TokenVault && p.supportsCurrency(currency)
}

func (p *Provider) supportsCurrency(currency string) bool {
	if !payment.ValidCurrency(currency) {
		return false
	}
	return p.currencies == nil || p.currencies[currency]
}

// errNoAnswer is the cause when the never-answering card gives up on its own.
var errNoAnswer = errors.New("mock: the processor's answer never arrived")

// Authorize authorizes, and with payment.CaptureAutomatic also captures,
// req.Amount on the card, answering by the test-card table. A request whose
// IdempotencyKey was seen before gets the stored answer and has no effect.
func (p *Provider) Authorize(ctx context.Context, req providers.AuthorizeRequest) (providers.Result, error) {
	p.count(providers.OpAuthorize)
	if err := ctx.Err(); err != nil {
		return providers.Result{}, providers.NotProcessed("context_done", err)
	}
	res, hang, err := p.authorize(req)
	if hang {
		return providers.Result{}, p.hang(ctx)
	}
	return p.answer(ctx, res, err)
}

// Capture captures req.Amount, at most the authorized amount, of the
// authorization req.Reference. One capture per authorization: a partial
// capture releases the remainder.
func (p *Provider) Capture(ctx context.Context, req providers.ModifyRequest) (providers.Result, error) {
	return p.modify(ctx, providers.OpCapture, req, p.capture)
}

// Void cancels the uncaptured authorization req.Reference. req.Amount, when
// set, must be the authorized amount.
func (p *Provider) Void(ctx context.Context, req providers.ModifyRequest) (providers.Result, error) {
	return p.modify(ctx, providers.OpVoid, req, voidCharge)
}

// Refund refunds req.Amount of the captured charge req.Reference. Refunds
// add up to at most the captured amount.
func (p *Provider) Refund(ctx context.Context, req providers.ModifyRequest) (providers.Result, error) {
	return p.modify(ctx, providers.OpRefund, req, refundCharge)
}

// modify runs one capture, void or refund: counts it, refuses it unsent when
// ctx is already done, applies it to the ledger, then answers after the
// latency.
func (p *Provider) modify(ctx context.Context, op providers.Operation, req providers.ModifyRequest, apply applyFunc) (providers.Result, error) {
	p.count(op)
	if err := ctx.Err(); err != nil {
		return providers.Result{}, providers.NotProcessed("context_done", err)
	}
	res, err := p.modifyLedger(op, req, apply)
	return p.answer(ctx, res, err)
}

// answer delivers a result after the configured latency. Once the call has
// reached the ledger, a context that ends first means the caller cannot
// know what happened: the outcome is unknown, whatever it was.
func (p *Provider) answer(ctx context.Context, res providers.Result, err error) (providers.Result, error) {
	if p.latency > 0 {
		t := time.NewTimer(p.latency)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return providers.Result{}, providers.OutcomeUnknown("timeout", ctx.Err())
		case <-t.C:
		}
	}
	return res, err
}

// hang simulates an answer that never arrives: it blocks until ctx is done,
// or for HangFor when ctx has no deadline.
func (p *Provider) hang(ctx context.Context) error {
	if _, ok := ctx.Deadline(); ok {
		<-ctx.Done()
		return providers.OutcomeUnknown("timeout", ctx.Err())
	}
	t := time.NewTimer(p.hangFor)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return providers.OutcomeUnknown("timeout", ctx.Err())
	case <-t.C:
		return providers.OutcomeUnknown("timeout", errNoAnswer)
	}
}

func (p *Provider) count(op providers.Operation) {
	p.mu.Lock()
	p.calls[op]++
	p.mu.Unlock()
}

// Calls returns how many calls of op the mock received, replays and failed
// calls included.
func (p *Provider) Calls(op providers.Operation) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.calls[op]
}

// Charge is one authorization in the mock's ledger, as seen by tests.
type Charge struct {
	// Reference is the processor id returned in Result.Reference (mock_ch_...).
	Reference string
	// PaymentID and IdempotencyKey are those of the authorizing request.
	PaymentID      string
	IdempotencyKey string
	// Amount is the authorized amount, Captured and Refunded what was
	// captured and refunded of it, all in minor units of Currency.
	Amount   int64
	Captured int64
	Refunded int64
	Currency string
	// Voided is true once the authorization was voided.
	Voided    bool
	CreatedAt time.Time
}

// Charges returns a snapshot of the ledger: every authorization made, in the
// order made. Declined attempts are not charges.
func (p *Provider) Charges() []Charge {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Charge, len(p.order))
	for i, c := range p.order {
		out[i] = *c
	}
	return out
}

// ChargeCount returns how many authorizations the mock made.
func (p *Provider) ChargeCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.order)
}

// ChargesForPayment returns a snapshot of the authorizations made for
// paymentID, in the order made.
func (p *Provider) ChargesForPayment(paymentID string) []Charge {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Charge
	for _, c := range p.order {
		if c.PaymentID == paymentID {
			out = append(out, *c)
		}
	}
	return out
}
