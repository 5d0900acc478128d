package gateway

import (
	"cmp"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"acpgw/payment"
	"acpgw/store"
)

// Report dimensions.
const (
	GroupProcessor = "processor"
	GroupCurrency  = "currency"
	GroupMerchant  = "merchant"
	GroupDay       = "day"
)

// ErrBadReportQuery: the report's range or grouping is invalid.
var ErrBadReportQuery = errors.New("invalid report query")

// ReportQuery selects a fee report: payments created in [From, To), grouped
// by some of processor, merchant and day. Currency is always a group, since
// amounts in different currencies cannot be added.
type ReportQuery struct {
	From, To   time.Time
	GroupBy    []string
	MerchantID string
}

// ParseReportQuery reads from/to (RFC 3339 or YYYY-MM-DD) and group_by (a
// comma-separated list). It is shared by the HTTP endpoint and the CLI.
func ParseReportQuery(from, to, groupBy string, now time.Time) (ReportQuery, error) {
	var q ReportQuery
	var err error
	if q.From, err = parseReportTime(from, now.AddDate(0, 0, -30)); err != nil {
		return q, publicError(ErrBadReportQuery, "from: %v", err)
	}
	if q.To, err = parseReportTime(to, now); err != nil {
		return q, publicError(ErrBadReportQuery, "to: %v", err)
	}
	if !q.From.Before(q.To) {
		return q, publicError(ErrBadReportQuery, "from must be before to")
	}
	if q.To.Sub(q.From) > 366*24*time.Hour {
		return q, publicError(ErrBadReportQuery, "the range may span at most 366 days")
	}
	if groupBy == "" {
		groupBy = GroupProcessor
	}
	for _, g := range strings.Split(groupBy, ",") {
		g = strings.TrimSpace(g)
		switch g {
		case GroupProcessor, GroupMerchant, GroupDay:
			if !slices.Contains(q.GroupBy, g) {
				q.GroupBy = append(q.GroupBy, g)
			}
		case GroupCurrency:
		default:
			return q, publicError(ErrBadReportQuery, "group_by %q (want processor, currency, merchant, day)", g)
		}
	}
	return q, nil
}

func parseReportTime(s string, def time.Time) (time.Time, error) {
	if s == "" {
		return def.UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither RFC 3339 nor YYYY-MM-DD", s)
	}
	return t, nil
}

// ReportRow is one group of a fee report. Amounts are minor units of
// Currency.
type ReportRow struct {
	Processor string `json:"processor,omitempty"`
	Merchant  string `json:"merchant,omitempty"`
	Day       string `json:"day,omitempty"`
	Currency  string `json:"currency"`
	// Payments counts payments that moved money (captured, partially or
	// fully refunded).
	Payments int64 `json:"payments"`
	// Volume is the captured amount; Refunded what was refunded of it;
	// NetVolume the difference.
	Volume    int64 `json:"volume"`
	Refunded  int64 `json:"refunded"`
	NetVolume int64 `json:"net_volume"`
	// FeeEstimated sums the estimates of every counted payment; FeeActual
	// sums the actual fees known, over PaymentsWithActual payments.
	FeeEstimated       int64 `json:"fee_estimated"`
	FeeActual          int64 `json:"fee_actual"`
	PaymentsWithActual int64 `json:"payments_with_actual_fee"`
}

// Report is a fee report built from the payments ledger (not from metrics,
// which are lossy).
type Report struct {
	From    time.Time   `json:"from"`
	To      time.Time   `json:"to"`
	GroupBy []string    `json:"group_by"`
	Rows    []ReportRow `json:"rows"`
	// Totals has one row per currency.
	Totals []ReportRow `json:"totals"`
}

// counted reports whether a payment moved money, the payments fees apply to.
func counted(p store.Payment) bool {
	switch p.Status {
	case payment.StatusCaptured, payment.StatusPartiallyRefunded, payment.StatusRefunded:
		return true
	}
	return false
}

// FeeReport totals the fees of the payments q selects, from the service's
// ledger.
func (s *Service) FeeReport(ctx context.Context, q ReportQuery) (Report, error) {
	return BuildFeeReport(ctx, s.store, q)
}

// BuildFeeReport reads the payments of q from st page by page and totals
// them. The fees report command calls it on a store of its own, without a
// Service.
func BuildFeeReport(ctx context.Context, st store.Store, q ReportQuery) (Report, error) {
	rep := Report{From: q.From, To: q.To, GroupBy: append([]string{}, q.GroupBy...)}
	rows := map[ReportRow]*ReportRow{}
	totals := map[string]*ReportRow{}
	f := store.PaymentFilter{From: q.From, To: q.To, MerchantID: q.MerchantID, Limit: 1000}
	for {
		page, err := st.ListPayments(ctx, f)
		if err != nil {
			return Report{}, err
		}
		for _, p := range page {
			if !counted(p) {
				continue
			}
			key := ReportRow{Currency: p.Currency}
			for _, g := range q.GroupBy {
				switch g {
				case GroupProcessor:
					key.Processor = p.Processor
				case GroupMerchant:
					key.Merchant = p.MerchantID
				case GroupDay:
					key.Day = p.CreatedAt.UTC().Format("2006-01-02")
				}
			}
			r := rows[key]
			if r == nil {
				k := key
				r = &k
				rows[key] = r
			}
			t := totals[p.Currency]
			if t == nil {
				t = &ReportRow{Currency: p.Currency}
				totals[p.Currency] = t
			}
			for _, row := range []*ReportRow{r, t} {
				if err := addPayment(row, p); err != nil {
					return Report{}, publicError(err, "the report's totals overflow 64-bit minor units; ask for a shorter range")
				}
			}
		}
		if len(page) < f.Limit {
			break
		}
		last := page[len(page)-1]
		f.AfterCreated, f.AfterID = last.CreatedAt, last.ID
	}
	for _, r := range rows {
		rep.Rows = append(rep.Rows, *r)
	}
	slices.SortFunc(rep.Rows, func(a, b ReportRow) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Processor, b.Processor),
			cmp.Compare(a.Merchant, b.Merchant), cmp.Compare(a.Currency, b.Currency))
	})
	for _, cur := range slices.Sorted(maps.Keys(totals)) {
		rep.Totals = append(rep.Totals, *totals[cur])
	}
	if rep.Rows == nil {
		rep.Rows = []ReportRow{}
	}
	if rep.Totals == nil {
		rep.Totals = []ReportRow{}
	}
	return rep, nil
}

// addPayment adds p to r with overflow checks: a report that wrapped around
// would be worse than none.
func addPayment(r *ReportRow, p store.Payment) error {
	add := func(dst *int64, v int64) error {
		m, err := payment.Money{Amount: *dst, Currency: p.Currency}.Add(payment.Money{Amount: v, Currency: p.Currency})
		if err != nil {
			return fmt.Errorf("report: %w", err)
		}
		*dst = m.Amount
		return nil
	}
	r.Payments++
	err := errors.Join(
		add(&r.Volume, p.CapturedAmount),
		add(&r.Refunded, p.RefundedAmount),
		add(&r.NetVolume, p.CapturedAmount-p.RefundedAmount),
		add(&r.FeeEstimated, p.FeeEstimated),
	)
	// An actual fee settled in another currency (an Adyen report's net
	// currency) cannot be added to this currency's row.
	if p.FeeActual != nil && (p.FeeCurrency == "" || p.FeeCurrency == p.Currency) {
		r.PaymentsWithActual++
		err = errors.Join(err, add(&r.FeeActual, *p.FeeActual))
	}
	return err
}

// WriteCSV writes the report's rows, then one total row per currency, with a
// header row. Amounts are integer minor units.
func (r Report) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	header := []string{"from", "to", "processor", "merchant", "day", "currency", "payments", "volume", "refunded",
		"net_volume", "fee_estimated", "fee_actual", "payments_with_actual_fee"}
	if err := cw.Write(header); err != nil {
		return err
	}
	write := func(row ReportRow, total bool) error {
		proc := row.Processor
		if total {
			proc = "TOTAL"
		}
		return cw.Write([]string{
			r.From.Format(time.RFC3339), r.To.Format(time.RFC3339), proc, row.Merchant, row.Day, row.Currency,
			strconv.FormatInt(row.Payments, 10), strconv.FormatInt(row.Volume, 10), strconv.FormatInt(row.Refunded, 10),
			strconv.FormatInt(row.NetVolume, 10), strconv.FormatInt(row.FeeEstimated, 10),
			strconv.FormatInt(row.FeeActual, 10), strconv.FormatInt(row.PaymentsWithActual, 10),
		})
	}
	for _, row := range r.Rows {
		if err := write(row, false); err != nil {
			return err
		}
	}
	for _, row := range r.Totals {
		if err := write(row, true); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
