package rowcodec

import (
	"database/sql"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"acpgw/payment"
	"acpgw/store"
)

// row is a Scanner that hands back args the way a driver does: integers as
// int64, text as string, BLOBs as []byte, NULL as nil. It reads a record's
// Args as the database would store them, so a round trip through it holds
// each record's Args, Columns and Scan to one order without a database (the
// store suite does the same on both real backends).
type row []any

func (r row) Scan(dest ...any) error {
	if len(dest) != len(r) {
		return fmt.Errorf("scan of %d columns into %d destinations", len(r), len(dest))
	}
	for i, d := range dest {
		if s, ok := d.(sql.Scanner); ok {
			if err := s.Scan(r[i]); err != nil {
				return fmt.Errorf("column %d: %w", i, err)
			}
			continue
		}
		v := reflect.ValueOf(d).Elem()
		if r[i] == nil {
			if v.Kind() != reflect.Slice {
				return fmt.Errorf("column %d: NULL into %s", i, v.Type())
			}
			v.SetZero()
			continue
		}
		src := reflect.ValueOf(r[i])
		if !src.CanConvert(v.Type()) || src.Kind() != v.Kind() && !(src.Kind() == reflect.Int64 && v.Kind() == reflect.Int) {
			return fmt.Errorf("column %d: %T into %s", i, r[i], v.Type())
		}
		v.Set(src.Convert(v.Type()))
	}
	return nil
}

func columns(list string) int { return len(strings.Split(list, ",")) }

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 18, 0, 0, 123456789, time.FixedZone("x", 3600))
	later := at.Add(time.Minute)
	fee := int64(105)
	tok := store.Token{ID: "vt_1", MerchantID: "acme", CheckoutSessionID: "cs_1", MaxAmount: 2599, Currency: "usd",
		ExpiresAt: at, Reason: "one_time", KeyID: "k1", Credential: []byte{1, 2}, CVC: []byte{3}, Brand: "visa",
		Funding: "credit", Last4: "4242", IIN: "42424242", Country: "US", Metadata: map[string]string{"a": "1"},
		AgentID: "openai", IdempotencyKey: "k", CreatedAt: at, ConsumedAt: &later, PaymentID: "pay_1", Attempts: 2}
	pay := store.Payment{ID: "pay_1", MerchantID: "acme", CheckoutSessionID: "cs_1", TokenID: "vt_1", TokenKind: "vault",
		Amount: 2599, Currency: "usd", Capture: payment.CaptureManual, Status: payment.StatusDeclined,
		Processor: "mock", ProcessorType: "mock", ProcessorReference: "ref",
		Decline:        &payment.Decline{Code: payment.DeclineInsufficientFunds, Category: payment.Soft, Retryable: true},
		CapturedAmount: 1, RefundedAmount: 2, RefundPending: 3, FeeEstimated: 4, FeeActual: &fee, FeeCurrency: "usd",
		Routing: []byte(`{"strategy":"priority"}`), Metadata: map[string]string{"order": "o_1"}, CreatedAt: at, UpdatedAt: later,
		Dispute: &store.Dispute{Reference: "dp_1", Amount: 2599, Currency: "usd", Reason: "fraudulent",
			ProcessorEvent: "charge.dispute.created", ReportedAt: at}}
	ev := store.OutboxEvent{ID: "evt_1", MerchantID: "acme", PaymentID: "pay_1", Type: "payment.captured",
		Body: []byte(`{"id":"evt_1"}`), CreatedAt: at, State: store.OutboxPending, Replay: true, Since: at, Attempts: 3,
		NextAttemptAt: later, LastStatus: 503, LastError: "status 503", DeliveredAt: &later, LeaseOwner: "w", LeaseUntil: &later}
	del := store.Delivery{EventID: "evt_1", N: 2, At: at, StatusCode: 500, LatencyMS: 9, Error: "status 500"}
	att := store.Attempt{ID: "att_1", PaymentID: "pay_1", Seq: 2, Processor: "mock", Operation: "authorize",
		IdempotencyKey: "acpgw_pay_1_2", Amount: 2599, Currency: "usd", RefundID: "re_1", State: store.AttemptPending,
		Outcome: "x", Reference: "ref", Error: "e", LatencyMS: 12, StartedAt: at, FinishedAt: &later,
		LeaseOwner: "me", LeaseUntil: &later, Deadline: later,
		Authentication: &payment.AuthenticationRecord{Outcome: payment.AuthAuthenticated, ECI: "05", TransactionID: "ds-1", Version: "2.2.0"}}
	ref := store.Refund{ID: "re_1", PaymentID: "pay_1", Amount: 5, Currency: "usd", Status: store.RefundPending,
		Reference: "r", CreatedAt: at, UpdatedAt: later}
	idem := store.IdemRecord{Scope: "s", Key: "k", RequestHash: "h", APIVersion: "2026-04-17", State: store.IdemDone,
		ResourceID: "pay_1", Status: 201, Body: []byte("{}"), LockedUntil: at, CreatedAt: at, ExpiresAt: later}
	feeRec := store.FeeRecord{Source: "src", SourceRef: "1", PaymentID: "pay_1", Processor: "mock", Amount: 7,
		Currency: "usd", CreatedAt: at}
	sess := store.AuthSession{ID: "as_1", MerchantID: "acme", AgentID: "openai", Provider: "mock", Status: "action_required",
		Amount: 1000, Currency: "eur", CheckoutSessionID: "cs_1", KeyID: "k1", Credential: []byte{1, 0, 2},
		Details: []byte(`{"browser":{}}`), Action: []byte(`{"fingerprint":{}}`), ResultKeyID: "k2", Result: []byte{9},
		State: []byte("ref"), Step: "authenticate", StepUntil: &later, IdempotencyKey: "k", ExpiresAt: later,
		CreatedAt: at, UpdatedAt: later, Version: 3}
	utc := func(t time.Time) time.Time { return t.UTC() }
	utcPtr := func(t time.Time) *time.Time { u := t.UTC(); return &u }

	tokArgs, err := TokenArgs(tok)
	if err != nil {
		t.Fatal(err)
	}
	payArgs, err := PaymentArgs(pay)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cols string
		args []any
		scan func(Scanner) (any, error)
		want any
	}{
		{"token", TokenColumns, tokArgs, func(s Scanner) (any, error) { return ScanToken(s) },
			func() store.Token {
				w := tok
				w.ExpiresAt, w.CreatedAt, w.ConsumedAt = utc(at), utc(at), utcPtr(later)
				return w
			}()},
		{"payment", PaymentColumns, payArgs, func(s Scanner) (any, error) { return ScanPayment(s) },
			func() store.Payment {
				w := pay
				w.CreatedAt, w.UpdatedAt = utc(at), utc(later)
				d := *pay.Dispute
				d.ReportedAt = utc(at)
				w.Dispute = &d
				return w
			}()},
		{"payment without options", PaymentColumns, mustArgs(PaymentArgs(store.Payment{ID: "pay_2"})),
			func(s Scanner) (any, error) { return ScanPayment(s) }, store.Payment{ID: "pay_2"}},
		{"attempt", AttemptColumns, mustArgs(AttemptArgs(att)), func(s Scanner) (any, error) { return ScanAttempt(s) },
			func() store.Attempt {
				w := att
				w.StartedAt, w.FinishedAt, w.LeaseUntil, w.Deadline = utc(at), utcPtr(later), utcPtr(later), utc(later)
				return w
			}()},
		{"attempt without authentication", AttemptColumns, mustArgs(AttemptArgs(store.Attempt{ID: "att_2"})),
			func(s Scanner) (any, error) { return ScanAttempt(s) }, store.Attempt{ID: "att_2"}},
		{"refund", RefundColumns, RefundArgs(ref), func(s Scanner) (any, error) { return ScanRefund(s) },
			func() store.Refund { w := ref; w.CreatedAt, w.UpdatedAt = utc(at), utc(later); return w }()},
		{"idempotency", IdemColumns, IdemArgs(idem), func(s Scanner) (any, error) { return ScanIdem(s) },
			func() store.IdemRecord {
				w := idem
				w.LockedUntil, w.CreatedAt, w.ExpiresAt = utc(at), utc(at), utc(later)
				return w
			}()},
		{"fee", FeeColumns, FeeArgs(feeRec), func(s Scanner) (any, error) { return ScanFee(s) },
			func() store.FeeRecord { w := feeRec; w.CreatedAt = utc(at); return w }()},
		{"outbox event", OutboxColumns, append([]any{int64(7)}, OutboxArgs(ev)...),
			func(s Scanner) (any, error) { return ScanOutbox(s) },
			func() store.OutboxEvent {
				w := ev
				w.Seq, w.CreatedAt, w.Since, w.NextAttemptAt = 7, utc(at), utc(at), utc(later)
				w.DeliveredAt, w.LeaseUntil = utcPtr(later), utcPtr(later)
				return w
			}()},
		{"outbox event without options", OutboxColumns, append([]any{int64(8)}, OutboxArgs(store.OutboxEvent{ID: "evt_2",
			Body: []byte("{}"), CreatedAt: at, Since: at, NextAttemptAt: at})...),
			func(s Scanner) (any, error) { return ScanOutbox(s) },
			store.OutboxEvent{Seq: 8, ID: "evt_2", Body: []byte("{}"), CreatedAt: utc(at), Since: utc(at), NextAttemptAt: utc(at)}},
		{"auth session", AuthSessionColumns, AuthSessionArgs(sess), func(s Scanner) (any, error) { return ScanAuthSession(s) },
			func() store.AuthSession {
				w := sess
				w.StepUntil, w.ExpiresAt, w.CreatedAt, w.UpdatedAt = utcPtr(later), utc(later), utc(at), utc(later)
				return w
			}()},
		{"auth session without options", AuthSessionColumns, AuthSessionArgs(store.AuthSession{ID: "as_2", CreatedAt: at}),
			func(s Scanner) (any, error) { return ScanAuthSession(s) }, store.AuthSession{ID: "as_2", CreatedAt: utc(at)}},
		{"delivery", DeliveryColumns, DeliveryArgs(del), func(s Scanner) (any, error) { return ScanDelivery(s) },
			func() store.Delivery { w := del; w.At = utc(at); return w }()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if n := columns(tt.cols); n != len(tt.args) {
				t.Fatalf("%d columns, %d arguments", n, len(tt.args))
			}
			got, err := tt.scan(row(tt.args))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("read back\n%+v\nwant\n%+v", got, tt.want)
			}
		})
	}
	// The update writes its columns, then the new version, the id and the
	// version read.
	if n, args := columns(AuthSessionUpdateColumns), AuthSessionUpdateArgs(sess); n+3 != len(args) ||
		args[n] != sess.Version+1 || args[n+1] != sess.ID || args[n+2] != sess.Version {
		t.Fatalf("auth session update: %d columns, arguments %v", n, args)
	}
	if n := columns(EventColumns); n != len(EventArgs(store.ProcessorEvent{})) {
		t.Fatalf("events: %d columns, %d arguments", n, len(EventArgs(store.ProcessorEvent{})))
	}
}

func mustArgs(args []any, err error) []any {
	if err != nil {
		panic(err)
	}
	return args
}

// TestNulls: zero times, nil pointers and nil bytes are NULL, and NULL
// reads back as them.
func TestNulls(t *testing.T) {
	t.Parallel()
	if Nanos(time.Time{}) != nil || NanosPtr(nil) != nil || Blob(nil) != nil || nullable(nil) != nil {
		t.Fatal("a zero value is not NULL")
	}
	var c nanoCol
	if err := c.Scan(nil); err != nil || !c.time().IsZero() || c.ptr() != nil {
		t.Fatalf("NULL time: %v %v %v", err, c.time(), c.ptr())
	}
	if err := c.Scan("12"); err == nil {
		t.Fatal("a text time column scanned")
	}
	var s nullText
	if err := s.Scan([]byte(`{"code":"x"}`)); err != nil || !s.valid || s.s != `{"code":"x"}` {
		t.Fatalf("text from bytes: %v %+v", err, s)
	}
}
