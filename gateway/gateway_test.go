package gateway

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"acpgw/config"
	"acpgw/payment"
	"acpgw/providers"
	"acpgw/store"
)

func i64(v int64) *int64 { return &v }

func TestCheckModification(t *testing.T) {
	authorized := store.Payment{Status: payment.StatusAuthorized, Amount: 1000}
	captured := store.Payment{Status: payment.StatusCaptured, Amount: 1000, CapturedAmount: 800, RefundedAmount: 300, RefundPending: 100}
	pendingCapture := []store.Attempt{{Operation: "capture", State: store.AttemptPending}}
	pendingRefund := []store.Attempt{{Operation: "refund", State: store.AttemptPending}}
	tests := []struct {
		name   string
		p      store.Payment
		atts   []store.Attempt
		op     providers.Operation
		amount *int64
		want   int64
		err    error
	}{
		{"full capture", authorized, nil, providers.OpCapture, nil, 1000, nil},
		{"partial capture", authorized, nil, providers.OpCapture, i64(400), 400, nil},
		{"capture above", authorized, nil, providers.OpCapture, i64(1001), 0, payment.ErrAmountTooLarge},
		{"capture zero", authorized, nil, providers.OpCapture, i64(0), 0, payment.ErrInvalidAmount},
		{"capture captured", captured, nil, providers.OpCapture, nil, 0, payment.ErrInvalidState},
		{"capture while one pending", authorized, pendingCapture, providers.OpCapture, nil, 0, payment.ErrConflict},
		{"void", authorized, nil, providers.OpVoid, nil, 1000, nil},
		{"void captured", captured, nil, providers.OpVoid, nil, 0, payment.ErrInvalidState},
		{"refund rest", captured, nil, providers.OpRefund, nil, 400, nil},
		{"refund exactly rest", captured, nil, providers.OpRefund, i64(400), 400, nil},
		{"refund above rest (pending counted)", captured, nil, providers.OpRefund, i64(401), 0, payment.ErrAmountTooLarge},
		{"refund beside a pending refund", captured, pendingRefund, providers.OpRefund, i64(100), 100, nil},
		{"refund authorized", authorized, nil, providers.OpRefund, nil, 0, payment.ErrInvalidState},
		{"refund nothing left", store.Payment{Status: payment.StatusPartiallyRefunded, CapturedAmount: 5, RefundedAmount: 5}, nil, providers.OpRefund, nil, 0, payment.ErrAmountTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := checkModification(tt.p, tt.atts, tt.op, tt.amount)
			if tt.err != nil {
				if !errors.Is(err, tt.err) {
					t.Fatalf("err %v, want %v", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %d, %v; want %d", got, err, tt.want)
			}
		})
	}
}

func TestFailoverReason(t *testing.T) {
	m := &config.Merchant{Routing: config.Routing{CascadeOn: []string{"insufficient_funds"}}}
	none := &config.Merchant{}
	soft := providers.Result{Status: payment.StatusDeclined, Decline: &payment.Decline{Code: payment.DeclineInsufficientFunds, Category: payment.Soft}}
	hard := providers.Result{Status: payment.StatusDeclined, Decline: &payment.Decline{Code: payment.DeclineCardDeclined, Category: payment.Hard}}
	otherSoft := providers.Result{Status: payment.StatusDeclined, Decline: &payment.Decline{Code: payment.DeclineTryAgainLater, Category: payment.Soft}}
	tests := []struct {
		name string
		m    *config.Merchant
		res  providers.Result
		err  error
		want string
	}{
		{"refused connection", none, providers.Result{}, providers.NotProcessed("dial", errors.New("refused")), "not_processed"},
		{"circuit open", none, providers.Result{}, providers.NotProcessed("circuit_open", errors.New("open")), "circuit_open"},
		{"timeout never", m, providers.Result{}, providers.OutcomeUnknown("timeout", errors.New("t")), ""},
		{"plain error is unknown", m, providers.Result{}, errors.New("eof"), ""},
		{"rejected never", m, providers.Result{}, providers.Rejected("x", errors.New("x")), ""},
		{"soft listed", m, soft, nil, "soft_decline"},
		{"soft not listed", m, otherSoft, nil, ""},
		{"soft without cascade config", none, soft, nil, ""},
		{"hard never", &config.Merchant{Routing: config.Routing{CascadeOn: []string{"card_declined"}}}, hard, nil, ""},
		{"approved", m, providers.Result{Status: payment.StatusCaptured}, nil, ""},
	}
	for _, tt := range tests {
		if got := failoverReason(tt.m, tt.res, tt.err); got != tt.want {
			t.Errorf("%s: %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestClassifyUnknownWins(t *testing.T) {
	both := providers.NotProcessed("x", providers.OutcomeUnknown("timeout", errors.New("t")))
	if classify(both) != store.AttemptPending {
		t.Fatal("an error that may have charged must never read as not processed")
	}
}

// FuzzParseReportQuery: the report query parser (outside input from the
// HTTP query string and the CLI) never panics and only accepts a bounded,
// ordered range and known groups.
func FuzzParseReportQuery(f *testing.F) {
	raw, err := os.ReadFile("testdata/reportquery/seeds.txt")
	if err != nil {
		f.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		parts := strings.SplitN(line, " ", 3)
		for len(parts) < 3 {
			parts = append(parts, "")
		}
		f.Add(parts[0], parts[1], parts[2])
	}
	now := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, from, to, group string) {
		q, err := ParseReportQuery(from, to, group, now)
		if err != nil {
			return
		}
		if !q.From.Before(q.To) || q.To.Sub(q.From) > 366*24*time.Hour {
			t.Fatalf("accepted range %v..%v", q.From, q.To)
		}
		for _, g := range q.GroupBy {
			if g != GroupProcessor && g != GroupMerchant && g != GroupDay {
				t.Fatalf("accepted group %q", g)
			}
		}
	})
}

// TestReady: the service is ready while its store answers, and says why
// not once it does not.
func TestReady(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOpts{})
	ctx := context.Background()
	if err := r.svc.Ready(ctx); err != nil {
		t.Fatalf("Ready = %v", err)
	}
	if err := r.st.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.svc.Ready(ctx); !errors.Is(err, ErrStoreUnreachable) {
		t.Fatalf("Ready after the store closed = %v, want ErrStoreUnreachable", err)
	}
}
