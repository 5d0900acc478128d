package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"acpgw/acp"
	"acpgw/payment"
	"acpgw/providers"
	"acpgw/store"
)

// TestPublicFormsMatchREADME holds every error the service makes to the
// README's error table: its code is listed under its status.
func TestPublicFormsMatchREADME(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("^\\| ([45][0-9][0-9]) \\| ([^|]*) \\|")
	code := regexp.MustCompile("`([a-z_]+)`")
	table := map[int][]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		status, _ := strconv.Atoi(m[1])
		for _, c := range code.FindAllStringSubmatch(m[2], -1) {
			table[status] = append(table[status], c[1])
		}
	}
	if len(table) < 5 {
		t.Fatalf("README error table not found (%d statuses)", len(table))
	}
	seen := map[error]bool{}
	for _, f := range publicForms {
		if seen[f.kind] {
			t.Errorf("%v has two forms", f.kind)
		}
		seen[f.kind] = true
		listed := false
		for _, c := range table[f.status] {
			listed = listed || c == f.code
		}
		if !listed {
			t.Errorf("%v: code %s is not in the README's row for %d (%v)", f.kind, f.code, f.status, table[f.status])
		}
	}
}

// TestPublicErrorsKeepTheirKind: an error made for the caller is an
// *acp.Error with its kind's form and a message of its own, and still
// errors.Is its sentinel; a cause with detail keeps the detail out of the
// message; a cause without a form stays internal.
func TestPublicErrorsKeepTheirKind(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tok := store.Token{ID: "vt_1", MerchantID: "acme", CheckoutSessionID: "cs_1", MaxAmount: 1000, Currency: "usd",
		ExpiresAt: now.Add(time.Hour), IIN: "42424242", Last4: "4242"}
	req := func(f func(r *acp.PaymentRequest)) acp.PaymentRequest {
		r := acp.PaymentRequest{MerchantID: "acme", CheckoutSessionID: "cs_1", Amount: 500, Currency: "usd"}
		f(&r)
		return r
	}
	consumed, expired := tok, tok
	consumed.ConsumedAt = &now
	expired.ExpiresAt = now
	authorized := store.Payment{Status: payment.StatusAuthorized, Amount: 1000}
	noDetail := errors.New("connection refused to 10.0.0.1")
	tests := []struct {
		name    string
		err     error
		kind    error
		status  int
		code    string
		message string
	}{
		{"merchant mismatch", checkAllowance(tok, req(func(r *acp.PaymentRequest) { r.MerchantID = "other" }), now),
			payment.ErrMerchantMismatch, 422, acp.CodeMerchantMismatch, "the token was delegated to another merchant"},
		{"session mismatch", checkAllowance(tok, req(func(r *acp.PaymentRequest) { r.CheckoutSessionID = "cs_2" }), now),
			payment.ErrCheckoutSessionMismatch, 422, acp.CodeCheckoutSessionMismatch, "the token belongs to another checkout session"},
		{"consumed", checkAllowance(consumed, req(func(*acp.PaymentRequest) {}), now),
			payment.ErrTokenConsumed, 422, acp.CodeTokenConsumed, "the token was already used"},
		{"expired", checkAllowance(expired, req(func(*acp.PaymentRequest) {}), now),
			payment.ErrTokenExpired, 422, acp.CodeTokenExpired, "the allowance expired at 2026-01-02T03:04:05Z"},
		{"currency", checkAllowance(tok, req(func(r *acp.PaymentRequest) { r.Currency = "eur" }), now),
			payment.ErrCurrencyMismatch, 422, acp.CodeCurrencyMismatch, "the allowance is in usd"},
		{"allowance", checkAllowance(tok, req(func(r *acp.PaymentRequest) { r.Amount = 1001 }), now),
			payment.ErrAllowanceExceeded, 422, acp.CodeAllowanceExceeded, "the amount 1001 is above the allowance's max_amount 1000"},
		{"capture above", second(checkModification(authorized, nil, providers.OpCapture, i64(1001))),
			payment.ErrAmountTooLarge, 422, acp.CodeAmountTooLarge, "capture of 1001 is above the authorized 1000"},
		{"refund authorized", second(checkModification(authorized, nil, providers.OpRefund, nil)),
			payment.ErrInvalidState, 409, acp.CodeInvalidState, "cannot refund a payment that is authorized"},
		{"no processor, with detail", publicError(fmt.Errorf("%w: %w", payment.ErrNoProcessor, noDetail), msgNoProcessor),
			payment.ErrNoProcessor, 503, acp.CodeServiceUnavailable, msgNoProcessor},
		{"report query", second(ParseReportQuery("2026-02-01", "2026-01-01", "", now)),
			ErrBadReportQuery, 400, acp.CodeInvalidRequest, "from must be before to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, tt.kind) {
				t.Fatalf("%v does not wrap %v", tt.err, tt.kind)
			}
			var ae *acp.Error
			if !errors.As(tt.err, &ae) {
				t.Fatalf("%v (%T) is not an *acp.Error", tt.err, tt.err)
			}
			if ae.Status != tt.status || ae.Code != tt.code || ae.Message != tt.message {
				t.Fatalf("got %d %s %q, want %d %s %q", ae.Status, ae.Code, ae.Message, tt.status, tt.code, tt.message)
			}
			if ae.Status == http.StatusServiceUnavailable && !errors.Is(tt.err, noDetail) {
				t.Fatalf("the cause's detail is lost: %v", ae.Cause)
			}
		})
	}
	if err := publicError(errors.New("disk full"), "could not save"); errors.As(err, new(*acp.Error)) {
		t.Fatalf("a cause without a public form became public: %v", err)
	}
}

func second[T any](_ T, err error) error { return err }
