package routing

import (
	"fmt"
	"maps"
	"slices"

	"acpgw/config"
	"acpgw/payment"
)

// TrafficRow is one payment of a simulated traffic mix.
type TrafficRow struct {
	// Line is the row's line in its file, for messages; 0 when unknown.
	Line        int
	MerchantID  string
	Amount      payment.Money
	CardCountry string
	Brand       string
	Funding     string
}

// SimResult is what one strategy would have cost over a traffic mix.
type SimResult struct {
	Strategy Strategy
	// Fees and Volume by currency, in minor units.
	Fees   map[string]int64
	Volume map[string]int64
	// Share is how many payments each processor would take first.
	Share map[string]int
	// Unroutable counts payments no processor could take.
	Unroutable int
	Payments   int
}

// BPS is the effective fee rate of a currency in basis points.
func (r SimResult) BPS(currency string) float64 {
	if r.Volume[currency] == 0 {
		return 0
	}
	return float64(r.Fees[currency]) * 10000 / float64(r.Volume[currency])
}

// Currencies returns the result's currencies, sorted.
func (r SimResult) Currencies() []string {
	return slices.Sorted(maps.Keys(r.Volume))
}

// RowError is a traffic row that cannot be routed, such as one naming a
// merchant the config does not have.
type RowError struct {
	// Row counts rows from 1; Line is the row's line in its file (0 when
	// unknown).
	Row, Line  int
	MerchantID string
	Err        error
}

// Error names the row (by its line when known), its merchant and the
// routing error.
func (e *RowError) Error() string {
	where := fmt.Sprintf("row %d", e.Row)
	if e.Line > 0 {
		where = fmt.Sprintf("line %d", e.Line)
	}
	return fmt.Sprintf("%s: merchant %q: %v", where, e.MerchantID, e.Err)
}

// Unwrap returns the routing error.
func (e *RowError) Unwrap() error { return e.Err }

// Simulate routes every row under each strategy in turn, as if every
// merchant and rule used it (weighted with equal weights where none are
// configured), and totals the estimated fees of the processor each payment
// would go to first. It calls no processor.
func Simulate(cfg *config.Config, info map[string]ProcessorInfo, rows []TrafficRow, strategies []Strategy) ([]SimResult, error) {
	var out []SimResult
	for _, st := range strategies {
		tb, err := NewTable(withStrategy(cfg, st), info)
		if err != nil {
			return nil, fmt.Errorf("simulate %s: %w", st, err)
		}
		res := SimResult{Strategy: st, Fees: map[string]int64{}, Volume: map[string]int64{}, Share: map[string]int{}}
		var d Decision
		for i, row := range rows {
			req := Request{
				MerchantID: row.MerchantID, PaymentID: fmt.Sprintf("sim_%d", i), Amount: row.Amount,
				CardCountry: row.CardCountry, CardBrand: row.Brand, Funding: row.Funding,
			}
			if err := tb.Route(&req, AllHealthy{}, &d); err != nil {
				return nil, &RowError{Row: i + 1, Line: row.Line, MerchantID: row.MerchantID, Err: err}
			}
			res.Payments++
			if len(d.Candidates) == 0 {
				res.Unroutable++
				continue
			}
			c := d.Candidates[0]
			res.Fees[row.Amount.Currency] += c.EstimatedFee
			res.Volume[row.Amount.Currency] += row.Amount.Amount
			res.Share[c.Processor]++
		}
		out = append(out, res)
	}
	return out, nil
}

// withStrategy copies cfg's merchants with every strategy set to st.
func withStrategy(cfg *config.Config, st Strategy) *config.Config {
	c := *cfg
	c.Merchants = make([]*config.Merchant, len(cfg.Merchants))
	for i, m := range cfg.Merchants {
		mm := *m
		mm.Routing.Strategy = string(st)
		mm.Routing.Weights = equalWeights(st, m.Routing.Weights, m.Processors)
		mm.Routing.Rules = make([]config.Rule, len(m.Routing.Rules))
		for j, r := range m.Routing.Rules {
			r.Strategy = string(st)
			r.Weights = equalWeights(st, r.Weights, r.Processors)
			mm.Routing.Rules[j] = r
		}
		c.Merchants[i] = &mm
	}
	return &c
}

func equalWeights(st Strategy, w map[string]int, processors []string) map[string]int {
	if st != Weighted {
		return nil
	}
	sum := 0
	for _, p := range processors {
		sum += max(w[p], 0)
	}
	if sum > 0 {
		return w
	}
	eq := make(map[string]int, len(processors))
	for _, p := range processors {
		eq[p] = 1
	}
	return eq
}
