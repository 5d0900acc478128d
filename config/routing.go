package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"acpgw/fees"
	"acpgw/payment"
)

// Rule is one routing rule of a merchant: when Match matches a payment, its
// Processors (in order, by Strategy) take it.
type Rule struct {
	// Name labels the rule in routing decisions; default "rule<N>" (from 1).
	Name       string
	Match      Match
	Processors []string
	// Strategy overrides the merchant's strategy; "" keeps it.
	Strategy string
	// Weights, for a weighted rule.
	Weights map[string]int
	// Line is the rule's line in the file, for messages.
	Line int
}

// Circuit tunes a processor's circuit breaker. The breaker counts outcomes
// (declines are not failures) over Window; with at least MinRequests and a
// failure share of FailureRatio or more it opens for OpenFor, then lets
// HalfOpenProbes requests through; one success closes it.
type Circuit struct {
	// FailureRatio is failure_percent, in parts per million.
	FailureRatio int64
	Window       time.Duration
	MinRequests  int
	OpenFor      time.Duration
	// HalfOpenProbes is how many trial requests a half-open circuit admits.
	HalfOpenProbes int
	// Disabled turns the breaker off.
	Disabled bool
}

// Circuit breaker defaults.
const (
	DefaultFailurePercent = 50
	DefaultCircuitWindow  = 30 * time.Second
	DefaultMinRequests    = 20
	DefaultOpenFor        = 30 * time.Second
	DefaultHalfOpenProbes = 3
	// MaxRules bounds a merchant's rules, to keep routing fast.
	MaxRules = 100
)

func (d *decoder) circuit(n *yaml.Node, path string, c *Circuit) {
	d.object(n, path, []field{
		{"failure_percent", func(n *yaml.Node, p string) {
			var r fees.Rate
			d.percent(&r)(n, p)
			c.FailureRatio = int64(r)
		}},
		{"window", d.duration(&c.Window)},
		{"min_requests", d.smallInt(&c.MinRequests)},
		{"open_for", d.duration(&c.OpenFor)},
		{"half_open_probes", d.smallInt(&c.HalfOpenProbes)},
		{"disabled", d.boolean(&c.Disabled)},
	}, nil)
}

func (d *decoder) defaultCircuit(path string, c *Circuit) {
	if !d.present(path + ".failure_percent") {
		c.FailureRatio = DefaultFailurePercent * 10000
	}
	d.defaultDuration(path+".window", &c.Window, DefaultCircuitWindow)
	d.defaultDuration(path+".open_for", &c.OpenFor, DefaultOpenFor)
	if !d.present(path + ".min_requests") {
		c.MinRequests = DefaultMinRequests
	}
	if !d.present(path + ".half_open_probes") {
		c.HalfOpenProbes = DefaultHalfOpenProbes
	}
}

func (d *decoder) rules(n *yaml.Node, path string, r *Routing) {
	r.Rules = nil
	d.list(n, path, func(i int, v *yaml.Node, p string) {
		rule := Rule{Line: v.Line}
		d.object(v, p, []field{
			{"name", d.str(&rule.Name)},
			{"match", func(n *yaml.Node, p string) { d.match(n, p, &rule.Match) }},
			{"processors", d.strings(&rule.Processors)},
			{"strategy", d.str(&rule.Strategy)},
			{"weights", func(n *yaml.Node, p string) {
				rule.Weights = map[string]int{}
				d.entries(n, p, func(name string, _, v *yaml.Node, p string) {
					var w int
					d.smallInt(&w)(v, p)
					rule.Weights[name] = w
				})
			}},
		}, nil)
		if rule.Name == "" {
			rule.Name = "rule" + strconv.Itoa(i+1)
		}
		r.Rules = append(r.Rules, rule)
	})
}

func (d *decoder) match(n *yaml.Node, path string, m *Match) {
	var iins []string
	d.object(n, path, []field{
		{"currency", d.strings(&m.Currencies)},
		{"amount", func(n *yaml.Node, p string) {
			d.object(n, p, []field{
				{"min", func(n *yaml.Node, p string) { m.AmountMin = new(int64); d.integer(m.AmountMin)(n, p) }},
				{"max", func(n *yaml.Node, p string) { m.AmountMax = new(int64); d.integer(m.AmountMax)(n, p) }},
			}, nil)
		}},
		{"brand", d.strings(&m.Brands)},
		{"funding", d.strings(&m.Funding)},
		{"card_country", d.strings(&m.CardCountries)},
		{"iin", d.strings(&iins)},
		{"token_kind", d.str(&m.TokenKind)},
		{"metadata", func(n *yaml.Node, p string) {
			m.Metadata = map[string]string{}
			d.entries(n, p, func(name string, _, v *yaml.Node, p string) {
				var s string
				d.str(&s)(v, p)
				m.Metadata[name] = s
			})
		}},
	}, nil)
	for i, s := range iins {
		r, err := parseIIN(s)
		if err != nil {
			d.fail(nil, index(join(path, "iin"), i), ErrInvalid, "%v", err)
			continue
		}
		m.IIN = append(m.IIN, r)
	}
}

func parseIIN(s string) (IINRange, error) {
	low, high, isRange := strings.Cut(s, "-")
	if !isRange {
		high = low
	}
	if !digitsOnly(low) || !digitsOnly(high) || len(low) == 0 || len(low) > 8 || len(low) != len(high) || low > high {
		return IINRange{}, fmt.Errorf("iin %q must be a prefix of 1-8 digits or a range LOW-HIGH of equal-length prefixes", s)
	}
	return IINRange{Low: low, High: high}, nil
}

func digitsOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// validateRouting checks rules, cascade codes and the circuit settings of
// the merchant's processors.
func (d *decoder) validateRouting(c *Config, m *Merchant, listed map[string]bool, rp string) {
	r := m.Routing
	d.check(len(r.Rules) <= MaxRules, rp+".rules", ErrInvalid, "at most %d rules per merchant", MaxRules)
	names := map[string]bool{}
	for i, rule := range r.Rules {
		p := index(rp+".rules", i)
		d.check(!names[rule.Name], p+".name", ErrInvalid, "rule name %q is used twice", rule.Name)
		names[rule.Name] = true
		d.check(len(rule.Processors) > 0, p+".processors", ErrRequired, "a rule needs at least one processor")
		for j, name := range rule.Processors {
			_, known := c.Processors[name]
			d.check(known, index(p+".processors", j), ErrInvalid, "unknown processor %q", name)
			d.check(!known || listed[name], index(p+".processors", j), ErrInvalid,
				"processor %q is not enabled for this merchant (add it to its processors)", name)
		}
		strategy := rule.Strategy
		if strategy == "" {
			strategy = r.Strategy
		}
		switch strategy {
		case StrategyPriority, StrategyLeastCost:
			d.check(len(rule.Weights) == 0, p+".weights", ErrInvalid, "weights are only used with strategy weighted")
		case StrategyWeighted:
			weights := rule.Weights
			if weights == nil {
				weights = r.Weights
			}
			sum := 0
			for name, w := range weights {
				d.check(slices.Contains(rule.Processors, name), p+".weights."+name, ErrInvalid, "weight for %q, which is not in this rule's processors", name)
				d.check(w >= 0, p+".weights."+name, ErrInvalid, "weight must not be negative, got %d", w)
				if w > 0 {
					sum += w
				}
			}
			d.check(sum > 0, p+".weights", ErrInvalid, "weighted routing needs weights that add up to more than 0")
		default:
			d.check(false, p+".strategy", ErrInvalid, "unknown strategy %q (want priority, weighted or least_cost)", rule.Strategy)
		}
		d.validateMatch(rule.Match, p+".match")
		if mt := rule.Match; mt.AmountMin != nil && mt.AmountMax != nil && *mt.AmountMin > *mt.AmountMax {
			d.check(false, p+".match.amount", ErrInvalid, "no payment can reach this rule: amount min %d is above max %d", *mt.AmountMin, *mt.AmountMax)
		}
		for j := 0; j < i; j++ {
			if r.Rules[j].Match.covers(&rule.Match) {
				d.check(false, p, ErrInvalid, "no payment can reach rule %q: rule %q (line %d) matches every payment it would", rule.Name, r.Rules[j].Name, r.Rules[j].Line)
				break
			}
		}
	}
	for i, code := range r.CascadeOn {
		p := index(rp+".cascade_on", i)
		info, ok := payment.LookupDecline(payment.DeclineCode(code))
		d.check(ok, p, ErrInvalid, "unknown decline code %q", code)
		d.check(!ok || info.Category == payment.Soft, p, ErrInvalid,
			"%q is a hard decline: card networks penalise retrying it, so it never cascades", code)
	}
}

func (d *decoder) validateMatch(m Match, path string) {
	for i, cur := range m.Currencies {
		d.check(payment.ValidCurrency(cur), index(path+".currency", i), ErrInvalid, "unknown currency %q (lowercase ISO 4217)", cur)
	}
	for i, cc := range m.CardCountries {
		ok := len(cc) == 2 && cc[0] >= 'A' && cc[0] <= 'Z' && cc[1] >= 'A' && cc[1] <= 'Z'
		d.check(ok, index(path+".card_country", i), ErrInvalid, "card_country %q must be an upper-case ISO 3166 alpha-2 code", cc)
	}
	d.check(m.TokenKind == "" || m.TokenKind == "vault" || m.TokenKind == "spt", path+".token_kind", ErrInvalid,
		"token_kind must be vault or spt, got %q", m.TokenKind)
	if m.AmountMin != nil {
		d.check(*m.AmountMin >= 0, path+".amount.min", ErrInvalid, "amount min must not be negative")
	}
}
