// Package routing decides which processors may take a payment and in which
// order. It is pure decision logic: no I/O, no clocks of its own; health
// comes in through the Health interface.
package routing

import (
	"errors"
	"fmt"

	"acpgw/fees"
	"acpgw/payment"
)

// Strategy names an ordering strategy.
type Strategy string

// The strategies. Only priority is implemented by this version of the
// engine; the others are recognised so config can name them.
const (
	Priority  Strategy = "priority"
	Weighted  Strategy = "weighted"
	LeastCost Strategy = "least_cost"
)

// Skip reasons: bounded label values for metrics and the routing object.
const (
	SkipCurrency    = "currency_not_supported"
	SkipTokenKind   = "token_kind_not_supported"
	SkipCircuitOpen = "circuit_open"
	SkipUnknown     = "unknown_processor"
)

// Errors of Route.
var (
	// ErrUnknownMerchant: the merchant has no routing table.
	ErrUnknownMerchant = errors.New("routing: unknown merchant")
)

// Processor is what routing knows of a processor.
type Processor struct {
	Name string
	Type string
	// Currencies is the allow-list; empty means every currency.
	Currencies []string
	// SharedTokens is true when the processor takes Stripe Shared Payment
	// Tokens (Stripe processors only).
	SharedTokens bool
	Fees         fees.Schedule
}

func (p Processor) supportsCurrency(c string) bool {
	if len(p.Currencies) == 0 {
		return true
	}
	for _, x := range p.Currencies {
		if x == c {
			return true
		}
	}
	return false
}

// Merchant is a merchant's routing configuration.
type Merchant struct {
	ID string
	// Country is the merchant's ISO alpha-2 country, for international fees.
	Country    string
	Processors []string
	Strategy   Strategy
}

// Request is what routing sees of a payment.
type Request struct {
	MerchantID  string
	PaymentID   string
	Amount      payment.Money
	SharedToken bool
	CardCountry string
	CardBrand   string
	Funding     string
}

// Health tells whether a processor's circuit lets traffic through.
type Health interface {
	Available(processor string) bool
}

// AllHealthy is a Health that reports every processor available.
type AllHealthy struct{}

// Available implements Health.
func (AllHealthy) Available(string) bool { return true }

// Skipped is a processor left out and why.
type Skipped struct {
	Processor string `json:"processor"`
	Reason    string `json:"reason"`
}

// Decision is the outcome of Route, shown to merchants as the payment's
// routing object.
type Decision struct {
	Strategy Strategy `json:"strategy"`
	// Rule is the name of the matching rule, empty for the merchant default.
	Rule string `json:"rule,omitempty"`
	// Candidates are the processors to try, in order.
	Candidates []string `json:"candidates"`
	// EstimatedFees is each candidate's estimated fee in the payment currency.
	EstimatedFees map[string]int64 `json:"estimated_fees"`
	Skipped       []Skipped        `json:"skipped,omitempty"`
	// Reason explains the order in one line.
	Reason string `json:"reason"`
}

// Table is an immutable routing table built from one config.
type Table struct {
	processors map[string]Processor
	merchants  map[string]Merchant
}

// NewTable builds a table, checking that every merchant names known
// processors.
func NewTable(processors []Processor, merchants []Merchant) (*Table, error) {
	t := &Table{processors: make(map[string]Processor, len(processors)), merchants: make(map[string]Merchant, len(merchants))}
	for _, p := range processors {
		t.processors[p.Name] = p
	}
	for _, m := range merchants {
		for _, name := range m.Processors {
			if _, ok := t.processors[name]; !ok {
				return nil, fmt.Errorf("routing: merchant %q names unknown processor %q", m.ID, name)
			}
		}
		if m.Strategy == "" {
			m.Strategy = Priority
		}
		t.merchants[m.ID] = m
	}
	return t, nil
}

// Processor returns the processor named name.
func (t *Table) Processor(name string) (Processor, bool) {
	p, ok := t.processors[name]
	return p, ok
}

// Route returns the processors that may take req, in the order to try them.
// A decision with no candidates is not an error: the caller answers 503 or
// token_not_routable from the Skipped reasons.
func (t *Table) Route(req Request, health Health) (Decision, error) {
	m, ok := t.merchants[req.MerchantID]
	if !ok {
		return Decision{}, fmt.Errorf("%w %q", ErrUnknownMerchant, req.MerchantID)
	}
	d := Decision{Strategy: Priority, EstimatedFees: make(map[string]int64, len(m.Processors))}
	for _, name := range m.Processors {
		p := t.processors[name]
		switch {
		case req.SharedToken && !p.SharedTokens:
			d.Skipped = append(d.Skipped, Skipped{name, SkipTokenKind})
		case !p.supportsCurrency(req.Amount.Currency):
			d.Skipped = append(d.Skipped, Skipped{name, SkipCurrency})
		case !health.Available(name):
			d.Skipped = append(d.Skipped, Skipped{name, SkipCircuitOpen})
		default:
			fee, _, err := p.Fees.Estimate(fees.Input{Amount: req.Amount, CardCountry: req.CardCountry, MerchantCountry: m.Country})
			if err == nil {
				d.EstimatedFees[name] = fee.Amount
			}
			d.Candidates = append(d.Candidates, name)
		}
	}
	switch len(d.Candidates) {
	case 0:
		d.Reason = "no processor can take the payment"
	case 1:
		d.Reason = "only eligible processor"
	default:
		d.Reason = "merchant's processor order"
	}
	return d, nil
}

// OnlyUnroutable reports whether every processor was skipped for a reason
// that will not change on retry (token kind or currency), as opposed to a
// circuit that may close.
func (d Decision) OnlyUnroutable() bool {
	if len(d.Candidates) > 0 {
		return false
	}
	for _, s := range d.Skipped {
		if s.Reason == SkipCircuitOpen {
			return false
		}
	}
	return true
}
