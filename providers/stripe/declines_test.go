package stripe

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	stripego "github.com/stripe/stripe-go/v76"

	"acpgw/payment"
	"acpgw/providers"
)

// stripeGoDir returns the directory of the stripe-go module the build uses.
func stripeGoDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/stripe/stripe-go/v76").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" {
		t.Fatalf("go list stripe-go: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// TestDeclineTableCoversStripeGo parses stripe-go's error.go and fails for
// every DeclineCode constant the table does not map.
func TestDeclineTableCoversStripeGo(t *testing.T) {
	file := filepath.Join(stripeGoDir(t), "error.go")
	f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.CONST {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			id, ok := vs.Type.(*ast.Ident)
			if !ok || id.Name != "DeclineCode" {
				continue
			}
			for i, name := range vs.Names {
				lit, ok := vs.Values[i].(*ast.BasicLit)
				if !ok {
					t.Fatalf("%s is not a literal", name.Name)
				}
				value, _ := strconv.Unquote(lit.Value)
				found++
				mapped, ok := declineCodes[stripego.DeclineCode(value)]
				if !ok {
					t.Errorf("stripe.%s (%q) is not in declineCodes", name.Name, value)
					continue
				}
				if _, ok := payment.LookupDecline(mapped); !ok || mapped == payment.DeclineUnknown {
					t.Errorf("stripe.%s maps to %q, not a known taxonomy code", name.Name, mapped)
				}
			}
		}
	}
	if found < 40 {
		t.Fatalf("found only %d DeclineCode constants in %s; the parser missed them", found, file)
	}
	if found != len(declineCodes) {
		t.Errorf("stripe-go has %d DeclineCode constants, the table %d entries", found, len(declineCodes))
	}
	for code, mapped := range cardErrorCodes {
		if _, ok := payment.LookupDecline(mapped); !ok {
			t.Errorf("card error %q maps to %q, not in the taxonomy", code, mapped)
		}
	}
}

func TestDeclinePrecedence(t *testing.T) {
	c := &Client{}
	for _, tc := range []struct {
		code    stripego.ErrorCode
		decline stripego.DeclineCode
		want    payment.DeclineCode
		raw     string
	}{
		{"card_declined", "insufficient_funds", payment.DeclineInsufficientFunds, "insufficient_funds"},
		{"expired_card", "", payment.DeclineExpiredCard, "expired_card"},
		{"card_declined", "brand_new_code", payment.DeclineUnknown, "brand_new_code"},
		{"incorrect_cvc", "brand_new_code", payment.DeclineIncorrectCVC, "brand_new_code"},
		{"", "", payment.DeclineUnknown, "unknown"},
	} {
		d := c.decline(tc.code, tc.decline, "")
		if d.Code != tc.want || d.ProcessorCode != tc.raw {
			t.Errorf("decline(%q, %q) = %s/%s, want %s/%s", tc.code, tc.decline, d.Code, d.ProcessorCode, tc.want, tc.raw)
		}
	}
}

func TestIntentStatuses(t *testing.T) {
	c := &Client{}
	for _, tc := range []struct {
		status  stripego.PaymentIntentStatus
		want    payment.Status
		decline payment.DeclineCode
		err     error
	}{
		{stripego.PaymentIntentStatusSucceeded, payment.StatusCaptured, "", nil},
		{stripego.PaymentIntentStatusRequiresCapture, payment.StatusAuthorized, "", nil},
		{stripego.PaymentIntentStatusProcessing, payment.StatusPending, "", nil},
		{stripego.PaymentIntentStatusRequiresAction, payment.StatusDeclined, payment.DeclineAuthenticationRequired, nil},
		{stripego.PaymentIntentStatusRequiresConfirmation, payment.StatusDeclined, payment.DeclineAuthenticationRequired, nil},
		{stripego.PaymentIntentStatusRequiresPaymentMethod, payment.StatusDeclined, payment.DeclineUnknown, nil},
		{stripego.PaymentIntentStatusCanceled, payment.StatusFailed, "", nil},
		{"brand_new", "", "", providers.ErrOutcomeUnknown},
	} {
		res, err := c.intentResult(&stripego.PaymentIntent{ID: "pi_1", Status: tc.status})
		if res.Status != tc.want || (tc.err == nil) != (err == nil) {
			t.Errorf("%s: %+v, %v; want %s", tc.status, res, err, tc.want)
		}
		if tc.decline != "" && (res.Decline == nil || res.Decline.Code != tc.decline) {
			t.Errorf("%s: decline %+v, want %s", tc.status, res.Decline, tc.decline)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"card 4242424242424242 failed": "card [redacted] failed",
		"4242 4242 4242 4242":          "[redacted]",
		"amount 2599, req_123":         "amount 2599, req_123",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}
