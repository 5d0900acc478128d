package adyen

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"

	"acpgw/payment"
)

// Columns of Adyen's Settlement details report, as its header names them.
// Only the first group is required; the others are read when present.
// Adyen lets users add and reorder columns, so they are found by name.
const (
	ColPSPReference  = "Psp Reference"
	ColType          = "Type"
	ColNetCurrency   = "Net Currency"
	ColCommission    = "Commission (NC)"
	ColMarkup        = "Markup (NC)"
	ColSchemeFees    = "Scheme Fees (NC)"
	ColInterchange   = "Interchange (NC)"
	ColCompany       = "Company Account"
	ColMerchant      = "Merchant Account"
	ColMerchantRef   = "Merchant Reference"
	ColPaymentMethod = "Payment Method"
	ColCreationDate  = "Creation Date"
	ColTimeZone      = "TimeZone"
	ColModRef        = "Modification Reference"
	ColGrossCurrency = "Gross Currency"
	ColGrossDebit    = "Gross Debit (GC)"
	ColGrossCredit   = "Gross Credit (GC)"
	ColExchangeRate  = "Exchange Rate"
	ColNetDebit      = "Net Debit (NC)"
	ColNetCredit     = "Net Credit (NC)"
	ColVariant       = "Payment Method Variant"
	ColModMerchRef   = "Modification Merchant Reference"
	ColBatchNumber   = "Batch Number"
)

// SettlementHeader is the standard header of the Settlement details report
// in Adyen's documented order.
var SettlementHeader = []string{
	ColCompany, ColMerchant, ColPSPReference, ColMerchantRef, ColPaymentMethod, ColCreationDate, ColTimeZone,
	ColType, ColModRef, ColGrossCurrency, ColGrossDebit, ColGrossCredit, ColExchangeRate, ColNetCurrency,
	ColNetDebit, ColNetCredit, ColCommission, ColMarkup, ColSchemeFees, ColInterchange, ColVariant,
	ColModMerchRef, ColBatchNumber, "Reserved4", "Reserved5", "Reserved6", "Reserved7", "Reserved8",
	"Reserved9", "Reserved10",
}

// requiredColumns must be in every report acpgw imports.
var requiredColumns = []string{ColPSPReference, ColType, ColNetCurrency, ColCommission, ColMarkup, ColSchemeFees, ColInterchange}

// columnAliases are spellings other tools have used for a column.
var columnAliases = map[string]string{"Schemes Fees (NC)": ColSchemeFees}

// Journal types of report rows that concern one payment.
const (
	TypeSettled            = "Settled"
	TypeRefunded           = "Refunded"
	TypeChargeback         = "Chargeback"
	TypeSecondChargeback   = "SecondChargeback"
	TypeChargebackReversed = "ChargebackReversed"
	TypeRefundedReversed   = "RefundedReversed"
)

// Limits of ParseSettlementReport.
const (
	// MaxSettlementRows bounds one report; Adyen splits larger batches.
	MaxSettlementRows = 5_000_000
	maxFieldLen       = 1000
)

// ErrSettlementReport is wrapped by every error of ParseSettlementReport.
var ErrSettlementReport = errors.New("adyen: settlement report")

// SettlementRow is one line of the Settlement details report. Amounts are
// integer minor units: Gross* of GrossCurrency, Net* and the fees of
// NetCurrency. Absent or empty amounts are zero.
type SettlementRow struct {
	// Line is the row's line number in the file (the header is line 1).
	Line                          int
	CompanyAccount                string
	MerchantAccount               string
	PSPReference                  string
	MerchantReference             string
	PaymentMethod                 string
	PaymentMethodVariant          string
	CreationDate                  string
	TimeZone                      string
	Type                          string
	ModificationReference         string
	ModificationMerchantReference string
	BatchNumber                   string
	// GrossCurrency and NetCurrency are lowercase ISO 4217 codes.
	GrossCurrency string
	GrossDebit    int64
	GrossCredit   int64
	// ExchangeRate is kept as text: it is not money and is never computed
	// with here.
	ExchangeRate string
	NetCurrency  string
	NetDebit     int64
	NetCredit    int64
	Commission   int64
	Markup       int64
	SchemeFees   int64
	Interchange  int64
}

// Fee returns the row's processing cost: commission, markup, scheme fees
// and interchange, in the net currency.
func (r SettlementRow) Fee() (payment.Money, error) {
	var sum int64
	for _, v := range []int64{r.Commission, r.Markup, r.SchemeFees, r.Interchange} {
		if (v > 0 && sum > math.MaxInt64-v) || (v < 0 && sum < math.MinInt64-v) {
			return payment.Money{}, fmt.Errorf("%w: line %d: %w", ErrSettlementReport, r.Line, payment.ErrOverflow)
		}
		sum += v
	}
	return payment.Money{Amount: sum, Currency: r.NetCurrency}, nil
}

// PaymentLevel reports whether the row is about one payment (it has a Psp
// Reference) rather than a batch-level booking (Fee, MerchantPayout,
// InvoiceDeduction...).
func (r SettlementRow) PaymentLevel() bool { return r.PSPReference != "" }

// ParseSettlementReport reads a Settlement details report (CSV, header
// first, columns found by name) and converts every amount exactly from
// decimal major units to minor units of its currency. Any malformed row is
// an error naming its line and column; nothing is guessed.
func ParseSettlementReport(r io.Reader) ([]SettlementRow, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked below, with a better message
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: the file is empty", ErrSettlementReport)
		}
		return nil, fmt.Errorf("%w: header: %v", ErrSettlementReport, err)
	}
	cols := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))
		if alias, ok := columnAliases[h]; ok {
			h = alias
		}
		if _, dup := cols[h]; dup && h != "" {
			return nil, fmt.Errorf("%w: header: column %q appears twice", ErrSettlementReport, h)
		}
		cols[h] = i
	}
	for _, c := range requiredColumns {
		if _, ok := cols[c]; !ok {
			return nil, fmt.Errorf("%w: header: no %q column (is this a Settlement details report?)", ErrSettlementReport, c)
		}
	}
	width := len(header)
	var rows []SettlementRow
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrSettlementReport, err)
		}
		line, _ := cr.FieldPos(0) // a successful Read has at least one field
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line
		}
		if len(rec) != width {
			return nil, fmt.Errorf("%w: line %d has %d fields, the header %d", ErrSettlementReport, line, len(rec), width)
		}
		if len(rows) >= MaxSettlementRows {
			return nil, fmt.Errorf("%w: more than %d rows", ErrSettlementReport, MaxSettlementRows)
		}
		row, err := parseRow(rec, cols, line)
		if err != nil {
			return nil, err
		}
		rows = append(rows, row)
	}
	return rows, nil
}

func parseRow(rec []string, cols map[string]int, line int) (SettlementRow, error) {
	var perr error
	get := func(name string) string {
		i, ok := cols[name]
		if !ok {
			return ""
		}
		v := strings.TrimSpace(rec[i])
		if len(v) > maxFieldLen && perr == nil {
			perr = fmt.Errorf("%w: line %d, %s: longer than %d characters", ErrSettlementReport, line, name, maxFieldLen)
		}
		return v
	}
	currency := func(name string) string {
		v := strings.ToLower(get(name))
		if v != "" && !payment.ValidCurrency(v) && perr == nil {
			perr = fmt.Errorf("%w: line %d, %s: %w: %q", ErrSettlementReport, line, name, payment.ErrUnknownCurrency, v)
		}
		return v
	}
	row := SettlementRow{
		Line:                          line,
		CompanyAccount:                get(ColCompany),
		MerchantAccount:               get(ColMerchant),
		PSPReference:                  get(ColPSPReference),
		MerchantReference:             get(ColMerchantRef),
		PaymentMethod:                 get(ColPaymentMethod),
		PaymentMethodVariant:          get(ColVariant),
		CreationDate:                  get(ColCreationDate),
		TimeZone:                      get(ColTimeZone),
		Type:                          get(ColType),
		ModificationReference:         get(ColModRef),
		ModificationMerchantReference: get(ColModMerchRef),
		BatchNumber:                   get(ColBatchNumber),
		GrossCurrency:                 currency(ColGrossCurrency),
		ExchangeRate:                  get(ColExchangeRate),
		NetCurrency:                   currency(ColNetCurrency),
	}
	amountOf := func(name, cur string, out *int64) {
		v := get(name)
		if perr != nil || v == "" {
			return
		}
		if cur == "" {
			perr = fmt.Errorf("%w: line %d, %s: an amount without its currency", ErrSettlementReport, line, name)
			return
		}
		n, err := ParseAmount(v, cur)
		if err != nil {
			perr = fmt.Errorf("%w: line %d, %s: %w", ErrSettlementReport, line, name, err)
			return
		}
		*out = n
	}
	amountOf(ColGrossDebit, row.GrossCurrency, &row.GrossDebit)
	amountOf(ColGrossCredit, row.GrossCurrency, &row.GrossCredit)
	amountOf(ColNetDebit, row.NetCurrency, &row.NetDebit)
	amountOf(ColNetCredit, row.NetCurrency, &row.NetCredit)
	amountOf(ColCommission, row.NetCurrency, &row.Commission)
	amountOf(ColMarkup, row.NetCurrency, &row.Markup)
	amountOf(ColSchemeFees, row.NetCurrency, &row.SchemeFees)
	amountOf(ColInterchange, row.NetCurrency, &row.Interchange)
	if perr == nil && row.Type == "" {
		perr = fmt.Errorf("%w: line %d: no Type", ErrSettlementReport, line)
	}
	return row, perr
}

// ParseAmount reads a report amount, a decimal in major units such as
// "0.13" or "-1.5", as minor units of the lowercase currency, exactly.
// Zero and negative amounts are allowed (reversals); more significant
// decimals than the currency has, exponents, thousands separators and
// spaces are not. Trailing zero decimals beyond the exponent ("0.130" eur)
// are accepted, since they change nothing.
func ParseAmount(s, currency string) (int64, error) {
	exp, ok := payment.Exponent(currency)
	if !ok {
		return 0, fmt.Errorf("%w: %q", payment.ErrUnknownCurrency, currency)
	}
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || (hasDot && frac == "") || !isDigits(intPart) || !isDigits(frac) {
		return 0, fmt.Errorf("%w: %q is not a decimal amount", payment.ErrInvalidAmount, s)
	}
	if len(frac) > exp {
		if strings.Trim(frac[exp:], "0") != "" {
			return 0, fmt.Errorf("%w: %q has more than %d decimals for %s", payment.ErrInvalidAmount, s, exp, currency)
		}
		frac = frac[:exp]
	}
	frac += strings.Repeat("0", exp-len(frac))
	var n int64
	for _, r := range intPart + frac {
		d := int64(r - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, fmt.Errorf("%w: %q", payment.ErrOverflow, s)
		}
		n = n*10 + d
	}
	if neg {
		n = -n
	}
	return n, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// FeeRecord is the actual fee of one payment-level report row, ready to be
// stored.
type FeeRecord struct {
	// Key identifies the row across imports: Psp Reference, Type and
	// Modification Reference. Storing records under a unique Key makes a
	// second import of the same file change nothing.
	Key string
	// PSPReference is the payment's pspReference (Result.Reference).
	PSPReference string
	// MerchantReference is the reference sent with the payment (acpgw's
	// attempt id).
	MerchantReference string
	// Type is the journal type (Settled, Refunded, Chargeback...).
	Type                  string
	ModificationReference string
	// Fee is commission + markup + scheme fees + interchange.
	Fee payment.Money
	// Line is the row's line in the file.
	Line int
}

// SettlementImport is a report sorted against the payments acpgw knows.
type SettlementImport struct {
	// Matched rows are about a payment acpgw knows.
	Matched []FeeRecord
	// Unmatched rows are about a payment acpgw does not know (another
	// integration on the same merchant account, or a wrong file).
	Unmatched []FeeRecord
	// Duplicates repeat the Key of an earlier row of the same file; they
	// are not counted.
	Duplicates []FeeRecord
	// BatchLevel rows (no Psp Reference: Fee, MerchantPayout,
	// InvoiceDeduction...) are not about one payment.
	BatchLevel []SettlementRow
	// Totals sums the matched fees per lowercase currency, in minor units.
	Totals map[string]int64
}

// Reconcile sorts rows into matched, unmatched, duplicate and batch-level
// ones; known reports whether acpgw has a payment with that pspReference.
func Reconcile(rows []SettlementRow, known func(pspReference string) bool) (SettlementImport, error) {
	imp := SettlementImport{Totals: map[string]int64{}}
	seen := map[string]bool{}
	for _, r := range rows {
		if !r.PaymentLevel() {
			imp.BatchLevel = append(imp.BatchLevel, r)
			continue
		}
		fee, err := r.Fee()
		if err != nil {
			return SettlementImport{}, err
		}
		rec := FeeRecord{
			Key:          r.PSPReference + ":" + r.Type + ":" + r.ModificationReference,
			PSPReference: r.PSPReference, MerchantReference: r.MerchantReference,
			Type: r.Type, ModificationReference: r.ModificationReference, Fee: fee, Line: r.Line,
		}
		switch {
		case seen[rec.Key]:
			imp.Duplicates = append(imp.Duplicates, rec)
		case known != nil && known(r.PSPReference):
			seen[rec.Key] = true
			imp.Matched = append(imp.Matched, rec)
			t := imp.Totals[fee.Currency]
			if (fee.Amount > 0 && t > math.MaxInt64-fee.Amount) || (fee.Amount < 0 && t < math.MinInt64-fee.Amount) {
				return SettlementImport{}, fmt.Errorf("%w: line %d: %w", ErrSettlementReport, r.Line, payment.ErrOverflow)
			}
			imp.Totals[fee.Currency] = t + fee.Amount
		default:
			seen[rec.Key] = true
			imp.Unmatched = append(imp.Unmatched, rec)
		}
	}
	return imp, nil
}

// PaymentFees is what the report says one payment cost.
type PaymentFees struct {
	PSPReference string
	// Actual is the fee of its Settled rows: what processing it cost.
	Actual payment.Money
	// Refunds is the fees on its Refunded rows (and RefundedReversed,
	// negative), Chargebacks those on chargeback rows; both are costs of
	// later events, reported apart from the processing fee.
	Refunds     payment.Money
	Chargebacks payment.Money
	// RefundCount and ChargebackCount count those rows.
	RefundCount     int
	ChargebackCount int
}

// FeesByPayment sums records (normally SettlementImport.Matched) per
// pspReference, sorted by it. Records of other journal types are left out.
func FeesByPayment(records []FeeRecord) ([]PaymentFees, error) {
	by := map[string]*PaymentFees{}
	for _, rec := range records {
		p := by[rec.PSPReference]
		if p == nil {
			cur := rec.Fee.Currency
			p = &PaymentFees{PSPReference: rec.PSPReference,
				Actual: payment.Money{Currency: cur}, Refunds: payment.Money{Currency: cur}, Chargebacks: payment.Money{Currency: cur}}
			by[rec.PSPReference] = p
		}
		var target *payment.Money
		switch rec.Type {
		case TypeSettled:
			target = &p.Actual
		case TypeRefunded, TypeRefundedReversed:
			target = &p.Refunds
			p.RefundCount++
		case TypeChargeback, TypeSecondChargeback, TypeChargebackReversed:
			target = &p.Chargebacks
			p.ChargebackCount++
		default:
			continue
		}
		sum, err := target.Add(rec.Fee)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d, psp reference %s: %w", ErrSettlementReport, rec.Line, rec.PSPReference, err)
		}
		*target = sum
	}
	out := make([]PaymentFees, 0, len(by))
	for _, p := range by {
		out = append(out, *p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PSPReference < out[j].PSPReference })
	return out, nil
}
