package adyen_test

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"acpgw/payment"
	"acpgw/providers/adyen"
)

func TestParseAmount(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in, cur string
		want    int64
		err     error
	}{
		{"0.13", "eur", 13, nil},
		{"25.99", "eur", 2599, nil},
		{"25.9", "eur", 2590, nil},
		{"0.130", "eur", 13, nil},
		{"0", "eur", 0, nil},
		{"0.00", "eur", 0, nil},
		{"-1.50", "eur", -150, nil},
		{"3000", "jpy", 3000, nil},
		{"3000.0", "jpy", 3000, nil},
		{"3000.5", "jpy", 0, payment.ErrInvalidAmount},
		{"12.345", "kwd", 12345, nil},
		{"0.001", "kwd", 1, nil},
		{"0.0015", "kwd", 0, payment.ErrInvalidAmount},
		{"0.131", "eur", 0, payment.ErrInvalidAmount},
		{"1,000.00", "eur", 0, payment.ErrInvalidAmount},
		{"1e3", "eur", 0, payment.ErrInvalidAmount},
		{" 1", "eur", 0, payment.ErrInvalidAmount},
		{".5", "eur", 0, payment.ErrInvalidAmount},
		{"5.", "eur", 0, payment.ErrInvalidAmount},
		{"+5", "eur", 0, payment.ErrInvalidAmount},
		{"--5", "eur", 0, payment.ErrInvalidAmount},
		{"92233720368547758.07", "eur", math.MaxInt64, nil},
		{"92233720368547758.08", "eur", 0, payment.ErrOverflow},
		{"1", "EUR", 0, payment.ErrUnknownCurrency},
	} {
		got, err := adyen.ParseAmount(tt.in, tt.cur)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("ParseAmount(%q, %s) = %d, %v; want %v", tt.in, tt.cur, got, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseAmount(%q, %s) = %d, %v; want %d", tt.in, tt.cur, got, err, tt.want)
		}
	}
}

func readReport(t *testing.T) []adyen.SettlementRow {
	t.Helper()
	f, err := os.Open("testdata/settlement_detail_report.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := adyen.ParseSettlementReport(f)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestParseSettlementReport(t *testing.T) {
	t.Parallel()
	rows := readReport(t)
	if len(rows) != 11 {
		t.Fatalf("%d rows, want 11", len(rows))
	}
	r := rows[0]
	if r.Line != 2 || r.PSPReference != "8835511210681234" || r.Type != adyen.TypeSettled || r.NetCurrency != "eur" ||
		r.GrossCredit != 2599 || r.NetCredit != 2579 || r.Markup != 13 || r.SchemeFees != 2 || r.Interchange != 5 || r.Commission != 0 ||
		r.MerchantReference != "acpgw_pay_01JD5A8M3Q7X2V9KQW4R6T8Y0Z_1" || r.BatchNumber != "142" || r.PaymentMethodVariant != "visadebit" {
		t.Fatalf("row 0 = %+v", r)
	}
	if fee, err := r.Fee(); err != nil || fee != (payment.Money{Amount: 20, Currency: "eur"}) {
		t.Fatalf("row 0 fee %v %v", fee, err)
	}
	// Net = gross - fees, exactly, on every settled row in one currency.
	for _, r := range rows {
		fee, _ := r.Fee()
		if r.Type == adyen.TypeSettled && r.GrossCurrency == r.NetCurrency && r.GrossCredit-fee.Amount != r.NetCredit {
			t.Errorf("line %d: gross %d - fee %d != net %d", r.Line, r.GrossCredit, fee.Amount, r.NetCredit)
		}
	}
	if rows[3].NetCurrency != "jpy" || rows[3].Interchange != 24 || rows[4].NetCurrency != "kwd" || rows[4].Markup != 62 || rows[4].GrossCredit != 12345 {
		t.Fatalf("jpy/kwd rows = %+v / %+v", rows[3], rows[4])
	}
}

func TestReconcile(t *testing.T) {
	t.Parallel()
	rows := readReport(t)
	known := map[string]bool{
		"8835511210681234": true, "8835511210685678": true, "8835511210683456": true,
		"8835511210687890": true, "8835511210680001": true, "8835511210682222": true,
	}
	imp, err := adyen.Reconcile(rows, func(psp string) bool { return known[psp] })
	if err != nil {
		t.Fatal(err)
	}
	if len(imp.Matched) != 7 || len(imp.Unmatched) != 1 || len(imp.Duplicates) != 1 || len(imp.BatchLevel) != 2 {
		t.Fatalf("matched %d unmatched %d duplicates %d batch %d", len(imp.Matched), len(imp.Unmatched), len(imp.Duplicates), len(imp.BatchLevel))
	}
	if imp.Unmatched[0].PSPReference != "9912345678901234" || imp.Duplicates[0].Line != 10 {
		t.Fatalf("unmatched %+v duplicate %+v", imp.Unmatched[0], imp.Duplicates[0])
	}
	// eur: 20 + 144 + 0 (refund) + 136 (usd payment settled in eur) + 1500 (chargeback).
	want := map[string]int64{"eur": 20 + 144 + 0 + 136 + 1500, "jpy": 44, "kwd": 98}
	for cur, n := range want {
		if imp.Totals[cur] != n {
			t.Errorf("total %s = %d, want %d", cur, imp.Totals[cur], n)
		}
	}
	if len(imp.Totals) != len(want) {
		t.Errorf("totals %v", imp.Totals)
	}
	fees, err := adyen.FeesByPayment(imp.Matched)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]adyen.PaymentFees{}
	for _, f := range fees {
		by[f.PSPReference] = f
	}
	if f := by["8835511210685678"]; f.Actual.Amount != 144 || f.RefundCount != 1 || f.Refunds.Amount != 0 {
		t.Errorf("refunded payment %+v", f)
	}
	if f := by["8835511210682222"]; f.Actual.Amount != 0 || f.ChargebackCount != 1 || f.Chargebacks.Amount != 1500 {
		t.Errorf("chargeback %+v", f)
	}
	if f := by["8835511210687890"]; f.Actual != (payment.Money{Amount: 98, Currency: "kwd"}) {
		t.Errorf("kwd payment %+v", f)
	}
	// Importing the same file again: every key already seen.
	again, _ := adyen.Reconcile(append(rows, rows...), func(psp string) bool { return known[psp] })
	if len(again.Matched) != 7 || len(again.Duplicates) != 1+11-2 {
		t.Errorf("doubled file: matched %d duplicates %d", len(again.Matched), len(again.Duplicates))
	}
}

func TestParseSettlementReportErrors(t *testing.T) {
	t.Parallel()
	header := strings.Join(adyen.SettlementHeader, ",") + "\n"
	row := func(fields map[int]string) string {
		f := make([]string, len(adyen.SettlementHeader))
		f[2], f[7], f[13] = "PSP1", "Settled", "EUR"
		for i, v := range fields {
			f[i] = v
		}
		return strings.Join(f, ",") + "\n"
	}
	for name, tc := range map[string]struct {
		body string
		msg  string
	}{
		"empty":            {"", "empty"},
		"missing column":   {"Psp Reference,Type\nP,Settled\n", `"Net Currency"`},
		"duplicate column": {"Type," + header, "twice"},
		"short row":        {header + "a,b\n", "line 2 has 2 fields"},
		"bad amount":       {header + row(map[int]string{17: "0.131"}), "line 2, Markup (NC)"},
		"float amount":     {header + row(map[int]string{19: "1e-2"}), "Interchange (NC)"},
		"unknown currency": {header + row(map[int]string{13: "XXX"}), "unknown currency"},
		"no type":          {header + row(map[int]string{7: ""}), "no Type"},
		"bad quote":        {header + `"a` + "\n", "settlement report"},
	} {
		_, err := adyen.ParseSettlementReport(strings.NewReader(tc.body))
		if !errors.Is(err, adyen.ErrSettlementReport) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want ErrSettlementReport mentioning %q", name, err, tc.msg)
		}
	}
	// A byte-order mark and CRLF line ends are Excel's; both are fine.
	rows, err := adyen.ParseSettlementReport(strings.NewReader("\ufeff" + strings.ReplaceAll(header+row(map[int]string{17: "1.00"}), "\n", "\r\n")))
	if err != nil || len(rows) != 1 || rows[0].Markup != 100 {
		t.Fatalf("BOM/CRLF: %+v %v", rows, err)
	}
}

// FuzzParseSettlementReport checks that the parser never panics, that
// every row it accepts has its line and type, and that fees add up without
// overflow errors going unnoticed.
func FuzzParseSettlementReport(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/settlement/*.csv")
	seeds = append(seeds, "testdata/settlement_detail_report.csv")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := adyen.ParseSettlementReport(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, adyen.ErrSettlementReport) {
				t.Fatalf("error %v does not wrap ErrSettlementReport", err)
			}
			return
		}
		for _, r := range rows {
			if r.Line < 2 || r.Type == "" {
				t.Fatalf("row %+v", r)
			}
			if r.NetCurrency != "" && !payment.ValidCurrency(r.NetCurrency) {
				t.Fatalf("row currency %q", r.NetCurrency)
			}
		}
		if _, err := adyen.Reconcile(rows, func(string) bool { return true }); err != nil && !errors.Is(err, adyen.ErrSettlementReport) {
			t.Fatalf("Reconcile: %v", err)
		}
	})
}
