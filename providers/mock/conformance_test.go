package mock_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"acpgw/payment"
	"acpgw/providers"
	"acpgw/providers/mock"
	"acpgw/providers/providertest"
)

func card(number string) payment.Card {
	return payment.Card{NumberType: "fpan", Number: number, ExpMonth: 12, ExpYear: 2034, CVC: "123", Brand: "visa"}
}

// declineCards is the decline part of the test-card table.
var declineCards = map[payment.DeclineCode]payment.Card{
	payment.DeclineCardDeclined:           card("4000000000000002"),
	payment.DeclineInsufficientFunds:      card("4000000000009995"),
	payment.DeclineExpiredCard:            card("4000000000000069"),
	payment.DeclineIncorrectCVC:           card("4000000000000127"),
	payment.DeclineFraudSuspected:         card("4100000000000019"),
	payment.DeclineAuthenticationRequired: card("4000000000003220"),
	payment.DeclineLostOrStolen:           card("4000000000009987"),
}

func harness(p providers.Provider, m *mock.Provider, currency string) providertest.Harness {
	timeout := card("4000000000009979")
	auth := card("4000000000003220")
	return providertest.Harness{
		AuthenticationCard: &auth,
		HoldKey:            m.HoldKey,
		Provider:           p,
		Currency:           currency,
		ApproveCard:        card("4242424242424242"),
		DeclineCards:       declineCards,
		TimeoutCard:        &timeout,
		ChargeCount:        m.ChargeCount,
	}
}

func TestConformance(t *testing.T) {
	for _, tc := range []struct {
		currency string
		cfg      mock.Config
	}{
		{"usd", mock.Config{Name: "mock", FeeRatePPM: 29000, FeeFixed: 30}},
		{"jpy", mock.Config{Name: "mock_jp", FeeRatePPM: 36000, Currencies: []string{"jpy"}}},
		{"kwd", mock.Config{Name: "mock_kw", FeeRatePPM: 25000, FeeFixed: 100}},
	} {
		t.Run(tc.currency, func(t *testing.T) {
			providertest.Run(t, func(t *testing.T) providertest.Harness {
				p := mock.New(tc.cfg)
				return harness(p, p, tc.currency)
			})
		})
	}
}

// broken wraps the mock with one deliberate fault, to prove that the
// conformance suite notices it.
type broken struct {
	*mock.Provider
	fault string
}

func (b broken) Authorize(ctx context.Context, req providers.AuthorizeRequest) (providers.Result, error) {
	switch b.fault {
	case "ignores_idempotency_keys":
		req.IdempotencyKey = ""
	case "drops_authentication":
		req.Authentication = nil
	}
	res, err := b.Provider.Authorize(ctx, req)
	switch b.fault {
	case "maps_declines_wrongly":
		if res.Decline != nil && res.Decline.Code == payment.DeclineInsufficientFunds {
			d := payment.NewDecline(payment.DeclineCardDeclined, res.Decline.ProcessorCode, "")
			res.Decline = &d
		}
	case "timeout_reads_as_not_processed":
		if errors.Is(err, providers.ErrOutcomeUnknown) {
			err = providers.NotProcessed("timeout", err)
		}
	case "leaks_cryptogram":
		if req.Authentication != nil && res.Decline == nil {
			res.Message = "authorized with " + req.Authentication.Cryptogram
		}
	case "in_progress_reads_as_not_processed":
		// The old Adyen 704 reading: the request "did nothing".
		var pe *providers.Error
		if errors.As(err, &pe) && pe.Code == "in_progress" {
			err = providers.NotProcessed(pe.Code, pe.Err)
		}
	}
	return res, err
}

func (b broken) Capture(ctx context.Context, req providers.ModifyRequest) (providers.Result, error) {
	if b.fault == "ignores_idempotency_keys" {
		req.IdempotencyKey = ""
	}
	return b.Provider.Capture(ctx, req)
}

func (b broken) Refund(ctx context.Context, req providers.ModifyRequest) (providers.Result, error) {
	if b.fault == "ignores_idempotency_keys" {
		req.IdempotencyKey = ""
	}
	res, err := b.Provider.Refund(ctx, req)
	if b.fault == "accepts_over_refunds" && errors.Is(err, providers.ErrRejected) {
		return providers.Result{Status: payment.StatusRefunded, Reference: req.Reference}, nil
	}
	return res, err
}

// brokenEnv selects the fault of TestBrokenProviderHelper in a child process.
const brokenEnv = "ACPGW_MOCK_BROKEN_FAULT"

// TestBrokenProviderHelper runs the conformance suite on a broken provider.
// It runs only as a child process of TestConformanceCatchesFaults, where it
// is expected to fail.
func TestBrokenProviderHelper(t *testing.T) {
	fault := os.Getenv(brokenEnv)
	if fault == "" {
		t.Skip("runs only as a child of TestConformanceCatchesFaults")
	}
	providertest.Run(t, func(t *testing.T) providertest.Harness {
		p := mock.New(mock.Config{FeeRatePPM: 29000, FeeFixed: 30})
		return harness(broken{Provider: p, fault: fault}, p, "usd")
	})
}

func TestConformanceCatchesFaults(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the suite in child processes")
	}
	for fault, tc := range map[string]struct {
		wantFailing []string
		skip        string // subtests too slow against this fault
	}{
		// Its timeout subtest would wait out the re-send's deadline on a
		// second hanging charge.
		"ignores_idempotency_keys":           {[]string{"idempotent_replay", "idempotent_replay_concurrent", "modification_replay"}, "/timeout$"},
		"maps_declines_wrongly":              {wantFailing: []string{"decline_mapping/insufficient_funds"}},
		"timeout_reads_as_not_processed":     {wantFailing: []string{"timeout"}},
		"in_progress_reads_as_not_processed": {wantFailing: []string{"in_progress"}},
		"accepts_over_refunds":               {wantFailing: []string{"over_refund", "refund_full", "refund_partial", "capture_partial"}},
		"drops_authentication":               {wantFailing: []string{"authentication"}},
		"leaks_cryptogram":                   {wantFailing: []string{"authentication"}},
	} {
		t.Run(fault, func(t *testing.T) {
			t.Parallel()
			args := []string{"-test.run=^TestBrokenProviderHelper$", "-test.v", "-test.count=1"}
			if tc.skip != "" {
				args = append(args, "-test.skip=^TestBrokenProviderHelper$"+tc.skip)
			}
			cmd := exec.CommandContext(t.Context(), os.Args[0], args...)
			cmd.Env = append(os.Environ(), brokenEnv+"="+fault)
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("the suite passed a provider that %s (err %v):\n%s", fault, err, out)
			}
			for _, sub := range tc.wantFailing {
				if !strings.Contains(string(out), "--- FAIL: TestBrokenProviderHelper/"+sub+" ") {
					t.Errorf("subtest %s did not fail for a provider that %s:\n%s", sub, fault, out)
				}
			}
			if strings.Contains(string(out), "4242424242424242") {
				t.Errorf("the suite's output contains a card number")
			}
		})
	}
}
