// Package routing decides which processors may take a payment and in which
// order. It is pure decision logic: no I/O and no clock; processor health
// comes in through the Health interface. A Table is built once per config
// and is immutable, so it is shared by every request without locks.
package routing

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"acpgw/config"
	"acpgw/fees"
	"acpgw/payment"
)

// Strategy names an ordering strategy.
type Strategy string

// The strategies.
const (
	// Priority tries processors in the configured order.
	Priority Strategy = "priority"
	// Weighted picks the first processor by weight, deterministically from
	// the payment id (a retried request routes the same way); the others
	// follow in configured order as failover.
	Weighted Strategy = "weighted"
	// LeastCost orders processors by estimated fee, ties in configured order.
	LeastCost Strategy = "least_cost"
)

// Skip reasons: bounded values for metrics and the routing object.
const (
	SkipCurrency     = "currency_not_supported"
	SkipTokenKind    = "token_kind_not_supported"
	SkipCircuitOpen  = "circuit_open"
	SkipLatency      = "latency_above_max"
	SkipMaxAttempts  = "beyond_max_attempts"
	ReasonRule       = "rule"
	ReasonDefault    = "default"
	ReasonNoneViable = "no_viable_processor"
)

// ErrUnknownMerchant: the merchant has no routing table.
var ErrUnknownMerchant = errors.New("routing: unknown merchant")

// Health tells routing what it must know of a processor's state.
type Health interface {
	// Open reports whether the processor's circuit is open (it takes no
	// traffic). A half-open circuit is not open: the gateway asks the
	// breaker for a probe slot before calling.
	Open(processor string) bool
	// LatencyP99 is the processor's recent p99 latency, 0 when unknown.
	LatencyP99(processor string) time.Duration
}

// AllHealthy is a Health that reports every processor closed and fast.
type AllHealthy struct{}

// Open implements Health.
func (AllHealthy) Open(string) bool { return false }

// LatencyP99 implements Health.
func (AllHealthy) LatencyP99(string) time.Duration { return 0 }

// Request is what routing sees of a payment.
type Request struct {
	MerchantID string
	// PaymentID seeds the weighted choice.
	PaymentID   string
	Amount      payment.Money
	SharedToken bool
	CardCountry string
	CardBrand   string
	Funding     string
	// IIN is the card number's first digits (6 or 8), when known.
	IIN      string
	Metadata map[string]string
}

// facts is what the merchant's rules see of the request.
func (r *Request) facts() config.Facts {
	return config.Facts{
		Amount: r.Amount, SharedToken: r.SharedToken, CardCountry: r.CardCountry, CardBrand: r.CardBrand,
		Funding: r.Funding, IIN: r.IIN, Metadata: r.Metadata,
	}
}

// Candidate is a processor to try, with its estimated fee in the payment's
// currency.
type Candidate struct {
	Processor    string `json:"processor"`
	EstimatedFee int64  `json:"estimated_fee"`
}

// Skipped is a processor left out and why.
type Skipped struct {
	Processor string `json:"processor"`
	Reason    string `json:"reason"`
}

// Decision is the outcome of Route, shown to merchants as the payment's
// routing object. Route fills a caller's Decision, reusing its slices, so
// the hot path does not allocate.
type Decision struct {
	Strategy Strategy `json:"strategy"`
	// Rule is the matching rule's name, "" for the merchant default.
	Rule       string      `json:"rule,omitempty"`
	Candidates []Candidate `json:"candidates"`
	Skipped    []Skipped   `json:"skipped,omitempty"`
	// Reason is ReasonRule, ReasonDefault or ReasonNoneViable.
	Reason string `json:"reason"`
}

// Names returns the candidates' processor names in order.
func (d *Decision) Names() []string {
	out := make([]string, len(d.Candidates))
	for i, c := range d.Candidates {
		out[i] = c.Processor
	}
	return out
}

// Fee returns the estimated fee of processor, 0 if it is no candidate.
func (d *Decision) Fee(processor string) int64 {
	for _, c := range d.Candidates {
		if c.Processor == processor {
			return c.EstimatedFee
		}
	}
	return 0
}

// OnlyUnroutable reports whether every processor was left out for a reason
// that will not change on retry (token kind or currency), as opposed to a
// circuit that may close.
func (d *Decision) OnlyUnroutable() bool {
	if len(d.Candidates) > 0 {
		return false
	}
	for _, s := range d.Skipped {
		if s.Reason != SkipCurrency && s.Reason != SkipTokenKind {
			return false
		}
	}
	return true
}

// JSON encodes d for storage with the payment.
func (d *Decision) JSON() []byte {
	b, err := json.Marshal(d)
	if err != nil {
		return nil
	}
	return b
}

// processor is what routing keeps of a configured processor.
type processor struct {
	name         string
	typ          string
	currencies   []string
	sharedTokens bool
	fees         fees.Schedule
	// interchange, when set (Adyen Interchange++), replaces fees for
	// estimates.
	interchange   *fees.Interchange
	maxLatencyP99 time.Duration
}

// estimate is the processor's estimated fee for the payment, 0 when it
// cannot be estimated.
func (p *processor) estimate(req *Request, merchantCountry string) int64 {
	if p.interchange != nil {
		f, err := p.interchange.Estimate(fees.InterchangeInput{Amount: req.Amount, CardCountry: req.CardCountry,
			MerchantCountry: merchantCountry, Funding: fees.Funding(req.Funding)})
		if err != nil {
			return 0
		}
		return f.Total.Amount
	}
	fee, _, err := p.fees.Estimate(fees.Input{Amount: req.Amount, CardCountry: req.CardCountry, MerchantCountry: merchantCountry})
	if err != nil {
		return 0
	}
	return fee.Amount
}

func (p *processor) supportsCurrency(c string) bool {
	if len(p.currencies) == 0 {
		return true
	}
	for _, x := range p.currencies {
		if x == c {
			return true
		}
	}
	return false
}

// route is an ordered processor list with its strategy: a rule's or the
// merchant default.
type route struct {
	name       string
	strategy   Strategy
	processors []*processor
	// weights is parallel to processors (weighted only).
	weights     []uint64
	totalWeight uint64
}

type rule struct {
	route
	match config.Match
}

type merchant struct {
	id          string
	country     string
	maxAttempts int
	def         route
	rules       []rule
}

// Table is an immutable routing table built from one config.
type Table struct {
	processors map[string]*processor
	merchants  map[string]*merchant
}

// ProcessorInfo is what the caller knows of a processor beyond its config:
// whether it takes Stripe Shared Payment Tokens.
type ProcessorInfo struct {
	SharedTokens bool
}

// NewTable builds a table from cfg. info says, per processor name, what only
// the built provider knows.
func NewTable(cfg *config.Config, info map[string]ProcessorInfo) (*Table, error) {
	t := &Table{processors: make(map[string]*processor, len(cfg.Processors)), merchants: make(map[string]*merchant, len(cfg.Merchants))}
	for name, pc := range cfg.Processors {
		t.processors[name] = &processor{
			name: name, typ: pc.Type, currencies: pc.Currencies, sharedTokens: info[name].SharedTokens,
			fees: pc.Fees, maxLatencyP99: pc.MaxLatencyP99,
		}
		if pc.Adyen != nil && pc.Adyen.Interchange != nil {
			t.processors[name].interchange = pc.Adyen.Interchange
		}
	}
	for _, mc := range cfg.Merchants {
		m := &merchant{id: mc.ID, country: mc.Country, maxAttempts: mc.Routing.MaxAttempts}
		if m.maxAttempts <= 0 {
			m.maxAttempts = config.DefaultMaxAttempts
		}
		var err error
		if m.def, err = t.newRoute("", mc.Routing.Strategy, mc.Processors, mc.Routing.Weights); err != nil {
			return nil, fmt.Errorf("routing: merchant %q: %w", mc.ID, err)
		}
		for _, rc := range mc.Routing.Rules {
			strategy := rc.Strategy
			if strategy == "" {
				strategy = mc.Routing.Strategy
			}
			weights := rc.Weights
			if weights == nil {
				weights = mc.Routing.Weights
			}
			r, err := t.newRoute(rc.Name, strategy, rc.Processors, weights)
			if err != nil {
				return nil, fmt.Errorf("routing: merchant %q rule %q (line %d): %w", mc.ID, rc.Name, rc.Line, err)
			}
			m.rules = append(m.rules, rule{route: r, match: rc.Match})
		}
		t.merchants[mc.ID] = m
	}
	return t, nil
}

func (t *Table) newRoute(name, strategy string, names []string, weights map[string]int) (route, error) {
	if strategy == "" {
		strategy = string(Priority)
	}
	r := route{name: name, strategy: Strategy(strategy)}
	switch r.strategy {
	case Priority, Weighted, LeastCost:
	default:
		return route{}, fmt.Errorf("unknown strategy %q", strategy)
	}
	for _, n := range names {
		p, ok := t.processors[n]
		if !ok {
			return route{}, fmt.Errorf("unknown processor %q", n)
		}
		r.processors = append(r.processors, p)
		if r.strategy == Weighted {
			w := weights[n]
			if w < 0 {
				w = 0
			}
			r.weights = append(r.weights, uint64(w))
			r.totalWeight += uint64(w)
		}
	}
	if r.strategy == Weighted && r.totalWeight == 0 {
		return route{}, errors.New("weighted routing needs weights that add up to more than 0")
	}
	return r, nil
}

// Merchants returns how many merchants the table routes.
func (t *Table) Merchants() int { return len(t.merchants) }

// MaxAttempts returns the merchant's max_attempts.
func (t *Table) MaxAttempts(merchantID string) int {
	if m, ok := t.merchants[merchantID]; ok {
		return m.maxAttempts
	}
	return config.DefaultMaxAttempts
}

// Route fills d with the processors that may take req, in the order to try
// them, at most the merchant's max_attempts. A decision with no candidates is
// not an error: the caller answers 503 or token_not_routable from Skipped.
// Route does not allocate when d's slices have room.
func (t *Table) Route(req *Request, h Health, d *Decision) error {
	m, ok := t.merchants[req.MerchantID]
	if !ok {
		return ErrUnknownMerchant
	}
	d.Candidates = d.Candidates[:0]
	d.Skipped = d.Skipped[:0]
	r := &m.def
	d.Rule, d.Reason = "", ReasonDefault
	facts := req.facts()
	for i := range m.rules {
		if m.rules[i].match.Matches(&facts) {
			r = &m.rules[i].route
			d.Rule, d.Reason = r.name, ReasonRule
			break
		}
	}
	d.Strategy = r.strategy
	for _, p := range r.processors {
		reason := ""
		switch {
		case req.SharedToken && !p.sharedTokens:
			reason = SkipTokenKind
		case !p.supportsCurrency(req.Amount.Currency):
			reason = SkipCurrency
		case h.Open(p.name):
			reason = SkipCircuitOpen
		case r.strategy == LeastCost && p.maxLatencyP99 > 0 && h.LatencyP99(p.name) > p.maxLatencyP99:
			reason = SkipLatency
		}
		if reason != "" {
			d.Skipped = append(d.Skipped, Skipped{Processor: p.name, Reason: reason})
			continue
		}
		d.Candidates = append(d.Candidates, Candidate{Processor: p.name, EstimatedFee: p.estimate(req, m.country)})
	}
	switch r.strategy {
	case LeastCost:
		// Insertion sort: stable (ties keep the configured order), in place,
		// and fastest for the handful of processors a merchant has.
		c := d.Candidates
		for i := 1; i < len(c); i++ {
			for j := i; j > 0 && c[j].EstimatedFee < c[j-1].EstimatedFee; j-- {
				c[j], c[j-1] = c[j-1], c[j]
			}
		}
	case Weighted:
		weightedFirst(r, req.PaymentID, d.Candidates)
	}
	if len(d.Candidates) > m.maxAttempts {
		for _, c := range d.Candidates[m.maxAttempts:] {
			d.Skipped = append(d.Skipped, Skipped{Processor: c.Processor, Reason: SkipMaxAttempts})
		}
		d.Candidates = d.Candidates[:m.maxAttempts]
	}
	if len(d.Candidates) == 0 {
		d.Reason = ReasonNoneViable
	}
	return nil
}

// weightedFirst moves the processor chosen by weight to the front of c.
// The choice hashes the payment id, so the same payment always routes the
// same way, and over many payments the shares follow the weights. Only
// eligible processors share the weight.
func weightedFirst(r *route, paymentID string, c []Candidate) {
	var total uint64
	for _, cand := range c {
		total += r.weightOf(cand.Processor)
	}
	if total == 0 || len(c) < 2 {
		return
	}
	pick := fnv1a(paymentID) % total
	for i, cand := range c {
		w := r.weightOf(cand.Processor)
		if pick < w {
			chosen := c[i]
			copy(c[1:i+1], c[:i])
			c[0] = chosen
			return
		}
		pick -= w
	}
}

func (r *route) weightOf(name string) uint64 {
	for i, p := range r.processors {
		if p.name == name {
			return r.weights[i]
		}
	}
	return 0
}

// fnv1a is the 64-bit FNV-1a hash, then mixed (splitmix64 finaliser) so that
// ids differing in their last characters spread over the whole range.
func fnv1a(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}
