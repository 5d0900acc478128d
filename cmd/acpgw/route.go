package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"

	"acpgw/config"
	"acpgw/payment"
	"acpgw/routing"
)

// processorInfo says what routing needs to know of each processor without
// building clients: only Stripe processors take Shared Payment Tokens.
func processorInfo(cfg *config.Config) map[string]routing.ProcessorInfo {
	info := make(map[string]routing.ProcessorInfo, len(cfg.Processors))
	for name, p := range cfg.Processors {
		info[name] = routing.ProcessorInfo{SharedTokens: p.Type == config.TypeStripe}
	}
	return info
}

type kvFlag map[string]string

func (f kvFlag) String() string { return fmt.Sprint(map[string]string(f)) }

func (f kvFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return errors.New("want key=value")
	}
	f[k] = v
	return nil
}

// routeExplainCmd prints the routing decision for a payment without charging
// anything.
func routeExplainCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("route explain", stdout, stderr)
	path := fs.String("config", "", "config file")
	merchant := fs.String("merchant", "", "merchant id")
	amount := fs.Int64("amount", 0, "amount in minor units")
	currency := fs.String("currency", "", "lowercase ISO 4217 currency")
	country := fs.String("card-country", "", "card country (ISO alpha-2)")
	brand := fs.String("brand", "", "card brand (visa, mastercard, ...)")
	funding := fs.String("funding", "", "card funding (credit, debit, ...)")
	iin := fs.String("iin", "", "card IIN (first 6-8 digits)")
	kind := fs.String("token-kind", "vault", "vault or spt")
	paymentID := fs.String("payment-id", "pay_explain", "payment id (seeds weighted routing)")
	asJSON := fs.Bool("json", false, "print JSON")
	md := kvFlag{}
	fs.Var(md, "metadata", "payment metadata key=value (repeatable)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *path == "" || *merchant == "" || *amount <= 0 || *currency == "" {
		return fs.fail("--config, --merchant, --amount (> 0) and --currency are required")
	}
	money, err := payment.New(*amount, strings.ToLower(*currency))
	if err != nil {
		return fs.fail("--currency: %v", err)
	}
	cc := strings.ToUpper(*country)
	if cc != "" && !isCountryCode(cc) {
		return fs.fail("--card-country %q is not an ISO 3166 alpha-2 code such as DE", *country)
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	tb, err := routing.NewTable(cfg, processorInfo(cfg))
	if err != nil {
		return err
	}
	req := routing.Request{
		MerchantID: *merchant, PaymentID: *paymentID, Amount: money, SharedToken: *kind == "spt",
		CardCountry: cc, CardBrand: strings.ToLower(*brand), Funding: strings.ToLower(*funding), IIN: *iin, Metadata: md,
	}
	var d routing.Decision
	if err := tb.Route(&req, routing.AllHealthy{}, &d); err != nil {
		return fmt.Errorf("%w %q", err, *merchant)
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(d)
	}
	rule := d.Rule
	if rule == "" {
		rule = "(none: merchant default)"
	}
	fmt.Fprintf(stdout, "merchant %s, %s, strategy %s, rule %s\n", *merchant, money, d.Strategy, rule)
	fmt.Fprintln(stdout, "(circuits are assumed closed: explain does not see live processor health)")
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "order\tprocessor\testimated fee")
	for i, c := range d.Candidates {
		fmt.Fprintf(tw, "%d\t%s\t%s\n", i+1, c.Processor, payment.Money{Amount: c.EstimatedFee, Currency: money.Currency})
	}
	for _, s := range d.Skipped {
		fmt.Fprintf(tw, "-\t%s\tskipped: %s\n", s.Processor, s.Reason)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(d.Candidates) == 0 {
		fmt.Fprintln(stdout, "no processor can take this payment")
	}
	return nil
}

// simulateCmd replays a traffic mix through every strategy and prints what
// each would cost.
func simulateCmd(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("simulate", stdout, stderr)
	path := fs.String("config", "", "config file")
	traffic := fs.String("traffic", "", "CSV with header: merchant,amount,currency,card_country,brand[,funding]")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *path == "" || *traffic == "" {
		return fs.fail("--config and --traffic are required")
	}
	cfg, err := config.Load(*path)
	if err != nil {
		return err
	}
	f, err := os.Open(*traffic)
	if err != nil {
		return err
	}
	defer f.Close()
	rows, err := readTraffic(f, *traffic)
	if err != nil {
		return err
	}
	results, err := routing.Simulate(cfg, processorInfo(cfg), rows, []routing.Strategy{routing.Priority, routing.Weighted, routing.LeastCost})
	var rowErr *routing.RowError
	if errors.As(err, &rowErr) && rowErr.Line > 0 {
		return fmt.Errorf("%s:%d: merchant %q: %w", *traffic, rowErr.Line, rowErr.MerchantID, rowErr.Err)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d payments from %s; fees are estimates from each processor's fee schedule\n\n", len(rows), *traffic)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "strategy\tcurrency\tvolume\tfees\teffective bps\tfirst choice (all currencies)")
	for _, r := range results {
		share := make([]string, 0, len(r.Share))
		for _, name := range cfg.ProcessorOrder {
			if n := r.Share[name]; n > 0 {
				share = append(share, fmt.Sprintf("%s %.1f%%", name, 100*float64(n)/float64(r.Payments)))
			}
		}
		if r.Unroutable > 0 {
			share = append(share, fmt.Sprintf("unroutable %d", r.Unroutable))
		}
		for i, cur := range r.Currencies() {
			sh := ""
			if i == 0 {
				sh = strings.Join(share, ", ")
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%.1f\t%s\n", r.Strategy, cur,
				payment.Money{Amount: r.Volume[cur], Currency: cur}, payment.Money{Amount: r.Fees[cur], Currency: cur}, r.BPS(cur), sh)
		}
	}
	return tw.Flush()
}

// isCountryCode reports whether s has the shape of an upper-case ISO 3166
// alpha-2 code, as config's country keys must.
func isCountryCode(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

// readTraffic parses the traffic CSV; every row error names its line. A
// file without rows is an error: it would simulate nothing.
func readTraffic(r io.Reader, name string) ([]routing.TrafficRow, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: the file is empty (want a header merchant,amount,currency,card_country,brand and rows)", name)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: reading header: %w", name, err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(strings.ToLower(h))] = i
	}
	for _, need := range []string{"merchant", "amount", "currency"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("%s:1: header lacks column %q (want merchant,amount,currency,card_country,brand)", name, need)
		}
	}
	get := func(rec []string, c string) string {
		if i, ok := col[c]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
	var rows []routing.TrafficRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// csv.ParseError names the line itself.
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		line, _ := cr.FieldPos(0) // blank lines are skipped, so count from the reader
		amount, err := strconv.ParseInt(get(rec, "amount"), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: amount must be an integer in minor units", name, line)
		}
		money, err := payment.New(amount, strings.ToLower(get(rec, "currency")))
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", name, line, err)
		}
		cc := strings.ToUpper(get(rec, "card_country"))
		if cc != "" && !isCountryCode(cc) {
			return nil, fmt.Errorf("%s:%d: card_country %q is not an ISO 3166 alpha-2 code such as DE", name, line, cc)
		}
		rows = append(rows, routing.TrafficRow{
			Line: line, MerchantID: get(rec, "merchant"), Amount: money, CardCountry: cc,
			Brand: strings.ToLower(get(rec, "brand")), Funding: strings.ToLower(get(rec, "funding")),
		})
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: no rows after the header: nothing to simulate", name)
	}
	return rows, nil
}
