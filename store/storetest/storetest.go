// Package storetest is the conformance suite every store.Store backend
// passes: round trips of every field, single-use tokens, transactions,
// idempotency records and attempt leases, including the races that the
// database itself must settle.
//
// A backend's test calls Run with a function that opens a store on an empty
// database; each subtest opens its own store, and subtests run in parallel.
package storetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"acpgw/payment"
	"acpgw/store"
)

// Run runs the whole suite. open must return a store on an empty database
// that no other subtest uses (ids are unique per subtest anyway, but
// PurgeIdempotency counts every expired record); the suite does not close
// it, so open should register Close with t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"TokenRoundTrip", testTokenRoundTrip},
		{"NotFound", testNotFound},
		{"ConsumeToken", testConsumeToken},
		{"ConsumeTokenConcurrent", testConsumeTokenConcurrent},
		{"ReleaseToken", testReleaseToken},
		{"ReopenToken", testReopenToken},
		{"DeleteTokenCVC", testDeleteTokenCVC},
		{"EraseCVCs", testEraseCVCs},
		{"PaymentRoundTrip", testPaymentRoundTrip},
		{"Attempts", testAttempts},
		{"Refunds", testRefunds},
		{"TxRollbackOnError", testTxRollbackOnError},
		{"TxRollbackOnPanic", testTxRollbackOnPanic},
		{"TxAtomicConsume", testTxAtomicConsume},
		{"IdemBeginExisting", testIdemBeginExisting},
		{"IdemComplete", testIdemComplete},
		{"IdemTakeOver", testIdemTakeOver},
		{"IdemExpiredReplaced", testIdemExpiredReplaced},
		{"IdemAbandon", testIdemAbandon},
		{"IdemPurge", testIdemPurge},
		{"IdemLink", testIdemLink},
		{"IdemBeginConcurrent", testIdemBeginConcurrent},
		{"IdemTakeOverConcurrent", testIdemTakeOverConcurrent},
		{"LeasePendingAttempts", testLease},
		{"LeaseConcurrent", testLeaseConcurrent},
		{"LeaseDeadline", testLeaseDeadline},
		{"ReturnLease", testReturnLease},
		{"Events", testEvents},
		{"FeeRecords", testFeeRecords},
		{"FindPaymentByReference", testFindByReference},
		{"ListPayments", testListPayments},
		{"GetAttempt", testGetAttempt},
		{"SettleAttempt", testSettleAttempt},
		{"IdemClaimInTx", testIdemClaimInTx},
		{"IdemPend", testIdemPend},
		{"Closed", testClosed},
		{"PaymentDispute", testPaymentDispute},
		{"OutboxRoundTrip", testOutboxRoundTrip},
		{"OutboxLeaseOrder", testOutboxLeaseOrder},
		{"OutboxRecordDelivery", testOutboxRecordDelivery},
		{"OutboxRedeliver", testOutboxRedeliver},
		{"OutboxList", testOutboxList},
		{"OutboxBacklog", testOutboxBacklog},
		{"OutboxLeaseConcurrent", testOutboxLeaseConcurrent},
		{"OutboxPurge", testOutboxPurge},
		{"AuthSessionRoundTrip", testAuthSessionRoundTrip},
		{"AuthSessionUpdate", testAuthSessionUpdate},
		{"AuthSessionUpdateConcurrent", testAuthSessionUpdateConcurrent},
		{"ExpireAuthSessions", testExpireAuthSessions},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// base is a fixed instant with microsecond precision, the finest every
// backend keeps (Postgres timestamps).
var base = time.Date(2026, 11, 26, 18, 0, 0, 123456000, time.UTC)

// zone is a non-UTC zone: backends must return times in UTC whatever zone
// they were given.
var zone = time.FixedZone("UTC+2", 2*60*60)

// uid returns a unique id with prefix.
func uid(prefix string) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return prefix + "_" + hex.EncodeToString(b[:])
}

func ptr[T any](v T) *T { return &v }

func newToken(id string) store.Token {
	return store.Token{
		ID:                id,
		MerchantID:        "acme",
		CheckoutSessionID: "cs_123",
		MaxAmount:         2599,
		Currency:          "usd",
		ExpiresAt:         base.Add(time.Hour).In(zone),
		Reason:            "one_time",
		KeyID:             "k1",
		Credential:        []byte{0x01, 0x02, 0x00, 0xff, 0x10},
		CVC:               []byte{0xca, 0xfe, 0x00, 0x01},
		Brand:             "visa",
		Funding:           "credit",
		Last4:             "4242",
		IIN:               "424242",
		Country:           "US",
		Metadata:          map[string]string{"source": "chatgpt", "empty": ""},
		AgentID:           "openai",
		IdempotencyKey:    "idem-1",
		CreatedAt:         base.Add(-time.Minute),
	}
}

func newPayment(id, tokenID string) store.Payment {
	return store.Payment{
		ID:                 id,
		MerchantID:         "acme",
		CheckoutSessionID:  "cs_123",
		TokenID:            tokenID,
		TokenKind:          "vt",
		Amount:             2599,
		Currency:           "usd",
		Capture:            payment.CaptureAutomatic,
		Status:             payment.StatusPending,
		Processor:          "stripe_us",
		ProcessorType:      "stripe",
		ProcessorReference: "",
		FeeEstimated:       105,
		FeeCurrency:        "usd",
		Routing:            []byte(`{"strategy":"priority"}`),
		Metadata:           map[string]string{"order_id": "o_1"},
		CreatedAt:          base,
		UpdatedAt:          base,
	}
}

func newAttempt(p store.Payment, seq int, started time.Time) store.Attempt {
	return store.Attempt{
		ID:             uid("att"),
		PaymentID:      p.ID,
		Seq:            seq,
		Processor:      "stripe_us",
		Operation:      "authorize",
		IdempotencyKey: fmt.Sprintf("acpgw_%s_%d", p.ID, seq),
		Amount:         p.Amount,
		Currency:       p.Currency,
		State:          store.AttemptPending,
		StartedAt:      started,
		Deadline:       started.Add(10 * time.Second),
	}
}

// leaseQuery is the query of a pass at now that leaves alone attempts
// started after startedBefore or whose call may still run at now.
func leaseQuery(owner string, startedBefore, now, until time.Time, limit int) store.LeaseQuery {
	return store.LeaseQuery{Owner: owner, LeaseUntil: until, Now: now, StartedBefore: startedBefore, DeadlineBefore: now, Limit: limit}
}

func newIdem(scope, key, hash string, now time.Time) store.IdemRecord {
	return store.IdemRecord{
		Scope:       scope,
		Key:         key,
		RequestHash: hash,
		APIVersion:  "2026-01-30",
		LockedUntil: now.Add(time.Minute),
		CreatedAt:   now,
		ExpiresAt:   now.Add(24 * time.Hour),
	}
}

// tx runs fn in a transaction and fails the test on error.
func tx(t *testing.T, s store.Store, fn func(tx store.Tx) error) {
	t.Helper()
	if err := s.Tx(t.Context(), fn); err != nil {
		t.Fatalf("Tx: %v", err)
	}
}

func insertToken(t *testing.T, s store.Store, tok store.Token) {
	t.Helper()
	tx(t, s, func(tx store.Tx) error { return tx.InsertToken(t.Context(), tok) })
}

func insertPayment(t *testing.T, s store.Store, p store.Payment) {
	t.Helper()
	tx(t, s, func(tx store.Tx) error { return tx.InsertPayment(t.Context(), p) })
}

func insertAttempts(t *testing.T, s store.Store, as ...store.Attempt) {
	t.Helper()
	tx(t, s, func(tx store.Tx) error {
		for _, a := range as {
			if err := tx.InsertAttempt(t.Context(), a); err != nil {
				return err
			}
		}
		return nil
	})
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want %v", what, err, target)
	}
}

// same reports every field of got that differs from want. Times compare
// with Equal and must be UTC; byte slices and maps compare by content (a
// nil and an empty one are the same), pointers by what they point to.
func same(t *testing.T, what string, got, want any) {
	t.Helper()
	gv, wv := reflect.ValueOf(got), reflect.ValueOf(want)
	if gv.Type() != wv.Type() || gv.Kind() != reflect.Struct {
		t.Fatalf("%s: cannot compare %T with %T", what, got, want)
	}
	for i := range gv.NumField() {
		if d := diff(gv.Field(i).Interface(), wv.Field(i).Interface()); d != "" {
			t.Errorf("%s.%s: %s", what, gv.Type().Field(i).Name, d)
		}
	}
}

func diff(got, want any) string {
	switch g := got.(type) {
	case time.Time:
		w := want.(time.Time)
		if !g.Equal(w) {
			return fmt.Sprintf("got %v, want %v", g, w)
		}
		if !g.IsZero() && g.Location() != time.UTC {
			return fmt.Sprintf("got location %v, want UTC", g.Location())
		}
	case *time.Time:
		w := want.(*time.Time)
		if (g == nil) != (w == nil) {
			return fmt.Sprintf("got %v, want %v", g, w)
		}
		if g != nil {
			return diff(*g, *w)
		}
	case []byte:
		// Lengths only: these fields hold sealed card data.
		if w := want.([]byte); !bytes.Equal(g, w) {
			return fmt.Sprintf("got %d bytes, want %d bytes of other content", len(g), len(w))
		}
	case map[string]string:
		if w := want.(map[string]string); !maps.Equal(g, w) {
			return fmt.Sprintf("got %v, want %v", g, w)
		}
	default:
		if !reflect.DeepEqual(got, want) {
			return fmt.Sprintf("got %#v, want %#v", got, want)
		}
	}
	return ""
}

func testTokenRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	full := newToken(uid("vt"))
	bare := newToken(uid("vt"))
	bare.CVC, bare.Metadata = nil, nil
	insertToken(t, s, full)
	insertToken(t, s, bare)

	got, err := s.GetToken(ctx, full.ID)
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	same(t, "full token", got, full)
	if got.ConsumedAt != nil || got.PaymentID != "" {
		t.Errorf("new token is consumed: %v %q", got.ConsumedAt, got.PaymentID)
	}
	got, err = s.GetToken(ctx, bare.ID)
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	same(t, "bare token", got, bare)
	if got.CVC != nil {
		t.Errorf("token stored without CVC reads back %d CVC bytes, want nil", len(got.CVC))
	}

	tx(t, s, func(tx store.Tx) error {
		got, err := tx.GetTokenForUpdate(ctx, full.ID)
		if err != nil {
			return err
		}
		same(t, "token for update", got, full)
		return nil
	})

	err = s.Tx(ctx, func(tx store.Tx) error { return tx.InsertToken(ctx, full) })
	wantErr(t, "second InsertToken", err, store.ErrDuplicate)
}

func testNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	_, err := s.GetToken(ctx, uid("vt"))
	wantErr(t, "GetToken", err, store.ErrNotFound)
	_, err = s.GetPayment(ctx, uid("pay"))
	wantErr(t, "GetPayment", err, store.ErrNotFound)
	_, err = s.GetIdempotency(ctx, "scope", uid("key"))
	wantErr(t, "GetIdempotency", err, store.ErrNotFound)
	as, err := s.ListAttempts(ctx, uid("pay"))
	if err != nil || len(as) != 0 {
		t.Errorf("ListAttempts of unknown payment: %d, %v; want none, nil", len(as), err)
	}
	rs, err := s.ListRefunds(ctx, uid("pay"))
	if err != nil || len(rs) != 0 {
		t.Errorf("ListRefunds of unknown payment: %d, %v; want none, nil", len(rs), err)
	}
	checks := []struct {
		name string
		fn   func(tx store.Tx) error
	}{
		{"GetTokenForUpdate", func(tx store.Tx) error { _, err := tx.GetTokenForUpdate(ctx, uid("vt")); return err }},
		{"GetPaymentForUpdate", func(tx store.Tx) error { _, err := tx.GetPaymentForUpdate(ctx, uid("pay")); return err }},
		{"ConsumeToken", func(tx store.Tx) error { _, err := tx.ConsumeToken(ctx, uid("vt"), "pay_1", base); return err }},
		{"UpdatePayment", func(tx store.Tx) error { return tx.UpdatePayment(ctx, newPayment(uid("pay"), "vt_1")) }},
		{"UpdateAttempt", func(tx store.Tx) error {
			return tx.UpdateAttempt(ctx, newAttempt(newPayment(uid("pay"), "vt_1"), 1, base))
		}},
		{"UpdateRefund", func(tx store.Tx) error { return tx.UpdateRefund(ctx, store.Refund{ID: uid("re")}) }},
	}
	for _, c := range checks {
		err := s.Tx(ctx, c.fn)
		wantErr(t, c.name, err, store.ErrNotFound)
	}
}

func testConsumeToken(t *testing.T, s store.Store) {
	ctx := t.Context()
	tok := newToken(uid("vt"))
	insertToken(t, s, tok)
	at := base.Add(time.Second).In(zone)

	tx(t, s, func(tx store.Tx) error {
		n, err := tx.ConsumeToken(ctx, tok.ID, "pay_1", at)
		if err == nil && n != 1 {
			t.Errorf("ConsumeToken counted %d uses, want 1", n)
		}
		return err
	})
	got, err := s.GetToken(ctx, tok.ID)
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	want := tok
	want.ConsumedAt, want.PaymentID, want.Attempts = &at, "pay_1", 1
	same(t, "consumed token", got, want)

	err = s.Tx(ctx, func(tx store.Tx) error { _, err := tx.ConsumeToken(ctx, tok.ID, "pay_2", at); return err })
	wantErr(t, "second ConsumeToken", err, store.ErrTokenConsumed)
	if got, _ := s.GetToken(ctx, tok.ID); got.Attempts != 1 {
		t.Errorf("a refused consume counted a use: Attempts = %d, want 1", got.Attempts)
	}
	if got, _ := s.GetToken(ctx, tok.ID); got.PaymentID != "pay_1" {
		t.Errorf("after a refused consume PaymentID = %q, want pay_1", got.PaymentID)
	}
}

func testConsumeTokenConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	tok := newToken(uid("vt"))
	insertToken(t, s, tok)

	const n = 100
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Tx(ctx, func(tx store.Tx) error {
				if _, err := tx.GetTokenForUpdate(ctx, tok.ID); err != nil {
					return err
				}
				_, err := tx.ConsumeToken(ctx, tok.ID, fmt.Sprintf("pay_%d", i), base)
				return err
			})
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Errorf("goroutines %d and %d both consumed the token", winner, i)
			}
			winner = i
		case !errors.Is(err, store.ErrTokenConsumed):
			t.Errorf("goroutine %d: %v, want nil or ErrTokenConsumed", i, err)
		}
	}
	if winner < 0 {
		t.Fatal("no goroutine consumed the token")
	}
	got, err := s.GetToken(ctx, tok.ID)
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	if want := fmt.Sprintf("pay_%d", winner); got.PaymentID != want || got.Attempts != 1 {
		t.Errorf("PaymentID = %q, Attempts %d; want the winner %q and 1", got.PaymentID, got.Attempts, want)
	}
}

// consume consumes tok for paymentID and returns the count of uses.
func consume(t *testing.T, s store.Store, id, paymentID string) int {
	t.Helper()
	var n int
	tx(t, s, func(tx store.Tx) error {
		var err error
		n, err = tx.ConsumeToken(t.Context(), id, paymentID, base)
		return err
	})
	return n
}

func testReleaseToken(t *testing.T, s store.Store) {
	ctx := t.Context()
	tok := newToken(uid("vt"))
	insertToken(t, s, tok)
	consume(t, s, tok.ID, "pay_1")

	// Another payment cannot release it, whatever it is told.
	_ = s.Tx(ctx, func(tx store.Tx) error { return tx.ReleaseToken(ctx, tok.ID, "pay_other") })
	if got, _ := s.GetToken(ctx, tok.ID); got.ConsumedAt == nil || got.PaymentID != "pay_1" {
		t.Fatalf("release by another payment freed the token: %v %q", got.ConsumedAt, got.PaymentID)
	}

	tx(t, s, func(tx store.Tx) error { return tx.ReleaseToken(ctx, tok.ID, "pay_1") })
	got, err := s.GetToken(ctx, tok.ID)
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	// Released, and the use taken back: as it was before.
	same(t, "released token", got, tok)

	if n := consume(t, s, tok.ID, "pay_2"); n != 1 {
		t.Errorf("consume after a release counted %d uses, want 1", n)
	}
	if got, _ := s.GetToken(ctx, tok.ID); got.PaymentID != "pay_2" {
		t.Errorf("after release and consume PaymentID = %q, want pay_2", got.PaymentID)
	}
}

// testReopenToken: a retryable decline reopens the token with its use
// still counted, so the count grows with each payment; only the payment
// that holds the token can reopen it; a reopened token is consumed again
// by the next payment, and by one payment at a time.
func testReopenToken(t *testing.T, s store.Store) {
	ctx := t.Context()
	tok := newToken(uid("vt"))
	insertToken(t, s, tok)
	for i := 1; i <= 3; i++ {
		pay := fmt.Sprintf("pay_%d", i)
		if n := consume(t, s, tok.ID, pay); n != i {
			t.Fatalf("payment %d: ConsumeToken counted %d uses, want %d", i, n, i)
		}
		err := s.Tx(ctx, func(tx store.Tx) error { return tx.ReopenToken(ctx, tok.ID, "pay_other") })
		wantErr(t, "ReopenToken by another payment", err, store.ErrTokenConsumed)
		if got, _ := s.GetToken(ctx, tok.ID); got.ConsumedAt == nil || got.PaymentID != pay {
			t.Fatalf("reopen by another payment freed the token: %v %q", got.ConsumedAt, got.PaymentID)
		}
		tx(t, s, func(tx store.Tx) error { return tx.ReopenToken(ctx, tok.ID, pay) })
		got, err := s.GetToken(ctx, tok.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ConsumedAt != nil || got.PaymentID != "" || got.Attempts != i {
			t.Fatalf("after reopening payment %d: consumed %v by %q, Attempts %d; want usable with %d", i, got.ConsumedAt, got.PaymentID, got.Attempts, i)
		}
		// Reopening twice is harmless; so is releasing a token no one holds.
		tx(t, s, func(tx store.Tx) error { return tx.ReopenToken(ctx, tok.ID, pay) })
		tx(t, s, func(tx store.Tx) error { return tx.ReleaseToken(ctx, tok.ID, pay) })
		if got, _ := s.GetToken(ctx, tok.ID); got.Attempts != i {
			t.Fatalf("a second reopen or release changed Attempts to %d, want %d", got.Attempts, i)
		}
	}
	// Nothing charged: released, and the use taken back.
	consume(t, s, tok.ID, "pay_4")
	tx(t, s, func(tx store.Tx) error { return tx.ReleaseToken(ctx, tok.ID, "pay_4") })
	if got, _ := s.GetToken(ctx, tok.ID); got.Attempts != 3 || got.ConsumedAt != nil {
		t.Fatalf("after a release: Attempts %d consumed %v, want 3 and usable", got.Attempts, got.ConsumedAt)
	}
	// Concurrent payments on the reopened token: one holds it.
	const n = 20
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = s.Tx(ctx, func(tx store.Tx) error {
				_, err := tx.ConsumeToken(ctx, tok.ID, fmt.Sprintf("pay_c%d", i), base)
				return err
			})
		})
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, store.ErrTokenConsumed):
			t.Errorf("goroutine %d: %v", i, err)
		}
	}
	if got, _ := s.GetToken(ctx, tok.ID); won != 1 || got.Attempts != 4 {
		t.Fatalf("%d payments took the reopened token (want 1), Attempts %d (want 4)", won, got.Attempts)
	}
}

func testDeleteTokenCVC(t *testing.T, s store.Store) {
	ctx := t.Context()
	tok := newToken(uid("vt"))
	insertToken(t, s, tok)
	tx(t, s, func(tx store.Tx) error { return tx.DeleteTokenCVC(ctx, tok.ID) })
	got, err := s.GetToken(ctx, tok.ID)
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	if got.CVC != nil {
		t.Errorf("CVC after DeleteTokenCVC: %d bytes, want nil", len(got.CVC))
	}
	want := tok
	want.CVC = nil
	same(t, "token without CVC", got, want)
}

func testEraseCVCs(t *testing.T, s store.Store) {
	ctx := t.Context()
	cutoff := base.Add(-time.Hour)
	token := func(created time.Time, cvc bool) store.Token {
		tok := newToken(uid("vt"))
		tok.CreatedAt = created
		if !cvc {
			tok.CVC = nil
		}
		insertToken(t, s, tok)
		return tok
	}
	old := []store.Token{token(cutoff.Add(-3*time.Hour), true), token(cutoff.Add(-2*time.Hour), true), token(cutoff.Add(-time.Nanosecond), true)}
	token(cutoff.Add(-time.Hour), false)
	young := token(cutoff, true)

	if n, err := s.EraseCVCs(ctx, cutoff, 2); err != nil || n != 2 {
		t.Fatalf("EraseCVCs(limit 2) = %d, %v; want 2", n, err)
	}
	if got, _ := s.GetToken(ctx, old[2].ID); got.CVC == nil {
		t.Error("the youngest old token lost its CVC before the older ones")
	}
	if n, err := s.EraseCVCs(ctx, cutoff, 2); err != nil || n != 1 {
		t.Fatalf("second EraseCVCs = %d, %v; want 1", n, err)
	}
	if n, err := s.EraseCVCs(ctx, cutoff, 2); err != nil || n != 0 {
		t.Fatalf("third EraseCVCs = %d, %v; want 0", n, err)
	}
	for _, tok := range old {
		got, err := s.GetToken(ctx, tok.ID)
		if err != nil || got.CVC != nil {
			t.Errorf("token created %v: CVC %d bytes, %v; want erased", tok.CreatedAt, len(got.CVC), err)
		}
		want := tok
		want.CVC = nil
		same(t, "token with its CVC erased", got, want)
	}
	if got, err := s.GetToken(ctx, young.ID); err != nil || !bytes.Equal(got.CVC, young.CVC) {
		t.Errorf("token created at the cut-off: CVC %x, %v; want it kept", got.CVC, err)
	}
	if n, err := s.EraseCVCs(ctx, cutoff, 0); err != nil || n != 0 {
		t.Errorf("EraseCVCs(limit 0) = %d, %v", n, err)
	}
}

func testPaymentRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	bare := newPayment(uid("pay"), "vt_1")
	bare.Routing, bare.Metadata = nil, nil
	full := newPayment(uid("pay"), "spt_1")
	full.TokenKind = "spt"
	full.Capture = payment.CaptureManual
	full.Status = payment.StatusDeclined
	full.Decline = ptr(payment.NewDecline("insufficient_funds", "51", ""))
	full.FeeActual = ptr(int64(0))
	full.CreatedAt = base.In(zone)
	insertPayment(t, s, bare)
	insertPayment(t, s, full)

	for _, want := range []store.Payment{bare, full} {
		got, err := s.GetPayment(ctx, want.ID)
		if err != nil {
			t.Fatalf("GetPayment: %v", err)
		}
		same(t, "payment", got, want)
	}
	if got, _ := s.GetPayment(ctx, bare.ID); got.Decline != nil || got.FeeActual != nil {
		t.Errorf("unset decline or actual fee reads back set: %v %v", got.Decline, got.FeeActual)
	}

	upd := bare
	upd.Status = payment.StatusPartiallyRefunded
	upd.Processor, upd.ProcessorType, upd.ProcessorReference = "adyen_eu", "adyen", "psp_1"
	upd.Decline = ptr(payment.NewDecline("card_declined", "05", "Do not honor"))
	upd.CapturedAmount, upd.RefundedAmount, upd.RefundPending = 2599, 1000, 500
	upd.FeeEstimated, upd.FeeActual, upd.FeeCurrency = 99, ptr(int64(101)), "eur"
	upd.Routing = []byte(`{"strategy":"least_cost"}`)
	upd.UpdatedAt = base.Add(time.Minute)
	tx(t, s, func(tx store.Tx) error {
		got, err := tx.GetPaymentForUpdate(ctx, bare.ID)
		if err != nil {
			return err
		}
		same(t, "payment for update", got, bare)
		return tx.UpdatePayment(ctx, upd)
	})
	got, err := s.GetPayment(ctx, bare.ID)
	if err != nil {
		t.Fatalf("GetPayment: %v", err)
	}
	same(t, "updated payment", got, upd)

	// Clearing the decline and the actual fee is an update too.
	upd2 := upd
	upd2.Decline, upd2.FeeActual = nil, nil
	tx(t, s, func(tx store.Tx) error { return tx.UpdatePayment(ctx, upd2) })
	got, _ = s.GetPayment(ctx, bare.ID)
	same(t, "payment with cleared fields", got, upd2)

	err = s.Tx(ctx, func(tx store.Tx) error { return tx.InsertPayment(ctx, full) })
	wantErr(t, "second InsertPayment", err, store.ErrDuplicate)
}

func testAttempts(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := newPayment(uid("pay"), "vt_1")
	insertPayment(t, s, p)
	a1, a2, a3 := newAttempt(p, 1, base), newAttempt(p, 2, base.Add(time.Second)), newAttempt(p, 3, base.Add(2*time.Second))
	a2.Operation, a2.RefundID = "refund", "re_1"
	a3.State, a3.Outcome, a3.Reference, a3.Error, a3.LatencyMS = store.AttemptDone, "captured", "pi_1", "", 212
	a3.FinishedAt = ptr(base.Add(3 * time.Second).In(zone))
	a3.LeaseOwner, a3.LeaseUntil = "replica-1", ptr(base.Add(time.Hour))
	// An attempt keeps the 3-D Secure result it was sent with (no
	// cryptogram: the record has no field for one).
	a3.Authentication = &payment.AuthenticationRecord{Outcome: payment.AuthAuthenticated, ECI: "05",
		TransactionID: "f25084f0-5b16-4c0a-ae5d-b24808a95e4b", Version: "2.2.0"}
	a1.Authentication = &payment.AuthenticationRecord{Outcome: payment.AuthNotSupported}
	insertAttempts(t, s, a3, a1, a2)

	check := func(what string, got []store.Attempt, want ...store.Attempt) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("%s: %d attempts, want %d", what, len(got), len(want))
		}
		for i := range want {
			same(t, fmt.Sprintf("%s[%d]", what, i), got[i], want[i])
		}
	}
	got, err := s.ListAttempts(ctx, p.ID)
	if err != nil {
		t.Fatalf("ListAttempts: %v", err)
	}
	check("ListAttempts", got, a1, a2, a3)

	dupSeq := newAttempt(p, 2, base)
	dupSeq.IdempotencyKey = uid("key")
	for name, a := range map[string]store.Attempt{"same seq": dupSeq, "same id": a1} {
		err := s.Tx(ctx, func(tx store.Tx) error { return tx.InsertAttempt(ctx, a) })
		wantErr(t, "InsertAttempt with "+name, err, store.ErrDuplicate)
	}

	upd := a1
	upd.State, upd.Outcome, upd.Reference, upd.Error, upd.LatencyMS = store.AttemptNotProcessed, "", "ref_9", "network:dial", 17
	upd.FinishedAt = ptr(base.Add(time.Minute))
	upd.LeaseOwner, upd.LeaseUntil = "replica-2", ptr(base.Add(2*time.Minute))
	upd.Deadline = base.Add(500 * time.Millisecond).In(zone) // the call came back early
	tx(t, s, func(tx store.Tx) error {
		if err := tx.UpdateAttempt(ctx, upd); err != nil {
			return err
		}
		got, err := tx.ListAttempts(ctx, p.ID)
		if err != nil {
			return err
		}
		check("Tx.ListAttempts", got, upd, a2, a3)
		return nil
	})
	got, _ = s.ListAttempts(ctx, p.ID)
	check("ListAttempts after update", got, upd, a2, a3)
}

func testRefunds(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := newPayment(uid("pay"), "vt_1")
	insertPayment(t, s, p)
	r1 := store.Refund{ID: uid("re"), PaymentID: p.ID, Amount: 1000, Currency: "usd", Status: store.RefundPending,
		CreatedAt: base.Add(time.Minute), UpdatedAt: base.Add(time.Minute)}
	r2 := store.Refund{ID: uid("re"), PaymentID: p.ID, Amount: 599, Currency: "usd", Status: store.RefundPending,
		CreatedAt: base.Add(2 * time.Minute).In(zone), UpdatedAt: base.Add(2 * time.Minute)}
	tx(t, s, func(tx store.Tx) error {
		if err := tx.InsertRefund(ctx, r2); err != nil {
			return err
		}
		return tx.InsertRefund(ctx, r1)
	})
	upd := r1
	upd.Status, upd.Reference, upd.UpdatedAt = store.RefundSucceeded, "re_ref_1", base.Add(3*time.Minute)
	tx(t, s, func(tx store.Tx) error {
		if err := tx.UpdateRefund(ctx, upd); err != nil {
			return err
		}
		got, err := tx.ListRefunds(ctx, p.ID)
		if err != nil {
			return err
		}
		if len(got) != 2 {
			t.Fatalf("Tx.ListRefunds: %d refunds, want 2", len(got))
		}
		same(t, "Tx.ListRefunds[0]", got[0], upd)
		return nil
	})
	got, err := s.ListRefunds(ctx, p.ID)
	if err != nil {
		t.Fatalf("ListRefunds: %v", err)
	}
	if len(got) != 2 {
		t.Fatalf("ListRefunds: %d refunds, want 2", len(got))
	}
	same(t, "ListRefunds[0]", got[0], upd)
	same(t, "ListRefunds[1]", got[1], r2)

	err = s.Tx(ctx, func(tx store.Tx) error { return tx.InsertRefund(ctx, r1) })
	wantErr(t, "second InsertRefund", err, store.ErrDuplicate)
}

// writeAll inserts a token, a payment with an attempt and a refund, and
// links an idempotency record: one of everything a transaction writes.
func writeAll(ctx context.Context, tx store.Tx, tok store.Token, p store.Payment, idem store.IdemRecord) error {
	if err := tx.InsertToken(ctx, tok); err != nil {
		return err
	}
	if _, err := tx.ConsumeToken(ctx, tok.ID, p.ID, base); err != nil {
		return err
	}
	if err := tx.InsertPayment(ctx, p); err != nil {
		return err
	}
	if err := tx.InsertAttempt(ctx, newAttempt(p, 1, base)); err != nil {
		return err
	}
	r := store.Refund{ID: uid("re"), PaymentID: p.ID, Amount: 1, Currency: "usd", Status: store.RefundPending}
	if err := tx.InsertRefund(ctx, r); err != nil {
		return err
	}
	if err := tx.InsertOutboxEvent(ctx, newOutboxEvent("evt_"+p.ID, p, base)); err != nil {
		return err
	}
	return tx.LinkIdempotency(ctx, idem.Scope, idem.Key, p.ID)
}

// checkNothing fails unless none of writeAll's writes is visible.
func checkNothing(t *testing.T, s store.Store, tok store.Token, p store.Payment, idem store.IdemRecord) {
	t.Helper()
	ctx := t.Context()
	_, err := s.GetToken(ctx, tok.ID)
	wantErr(t, "GetToken after rollback", err, store.ErrNotFound)
	_, err = s.GetPayment(ctx, p.ID)
	wantErr(t, "GetPayment after rollback", err, store.ErrNotFound)
	if as, err := s.ListAttempts(ctx, p.ID); err != nil || len(as) != 0 {
		t.Errorf("ListAttempts after rollback: %d, %v", len(as), err)
	}
	if rs, err := s.ListRefunds(ctx, p.ID); err != nil || len(rs) != 0 {
		t.Errorf("ListRefunds after rollback: %d, %v", len(rs), err)
	}
	if rec, err := s.GetIdempotency(ctx, idem.Scope, idem.Key); err != nil || rec.ResourceID != "" {
		t.Errorf("idempotency record after rollback: ResourceID %q, %v", rec.ResourceID, err)
	}
	_, err = s.GetOutboxEvent(ctx, "evt_"+p.ID)
	wantErr(t, "GetOutboxEvent after rollback", err, store.ErrNotFound)
}

// beginIdem begins a fresh record and fails unless it is started.
func beginIdem(t *testing.T, s store.Store, rec store.IdemRecord, now time.Time) {
	t.Helper()
	_, b, err := s.BeginIdempotency(t.Context(), rec, now)
	if err != nil || b != store.IdemStarted {
		t.Fatalf("BeginIdempotency: %v, %v; want IdemStarted", b, err)
	}
}

func testTxRollbackOnError(t *testing.T, s store.Store) {
	ctx := t.Context()
	tok, idem := newToken(uid("vt")), newIdem("merchant:acme POST /v1/payments", uid("key"), "h1", base)
	p := newPayment(uid("pay"), tok.ID)
	beginIdem(t, s, idem, base)
	boom := errors.New("boom")
	err := s.Tx(ctx, func(tx store.Tx) error {
		if err := writeAll(ctx, tx, tok, p, idem); err != nil {
			t.Errorf("writeAll: %v", err)
		}
		return fmt.Errorf("wrapped: %w", boom)
	})
	wantErr(t, "Tx", err, boom)
	checkNothing(t, s, tok, p, idem)

	// A failed statement ends the transaction the same way.
	err = s.Tx(ctx, func(tx store.Tx) error {
		if err := tx.InsertToken(ctx, tok); err != nil {
			return err
		}
		return tx.InsertToken(ctx, tok)
	})
	wantErr(t, "Tx with duplicate insert", err, store.ErrDuplicate)
	_, err = s.GetToken(ctx, tok.ID)
	wantErr(t, "GetToken after failed Tx", err, store.ErrNotFound)
}

func testTxRollbackOnPanic(t *testing.T, s store.Store) {
	ctx := t.Context()
	tok, idem := newToken(uid("vt")), newIdem("merchant:acme POST /v1/payments", uid("key"), "h1", base)
	p := newPayment(uid("pay"), tok.ID)
	beginIdem(t, s, idem, base)
	type boom struct{}
	func() {
		defer func() {
			if r := recover(); r != (boom{}) {
				t.Errorf("recovered %v, want the panic of fn", r)
			}
		}()
		_ = s.Tx(ctx, func(tx store.Tx) error {
			if err := writeAll(ctx, tx, tok, p, idem); err != nil {
				t.Errorf("writeAll: %v", err)
			}
			panic(boom{})
		})
		t.Error("Tx returned after fn panicked")
	}()
	checkNothing(t, s, tok, p, idem)

	// The store is still usable: the panicking transaction released its
	// connection.
	tctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := s.Tx(tctx, func(tx store.Tx) error { return writeAll(tctx, tx, tok, p, idem) }); err != nil {
		t.Fatalf("Tx after panic: %v", err)
	}
	if got, err := s.GetIdempotency(ctx, idem.Scope, idem.Key); err != nil || got.ResourceID != p.ID {
		t.Errorf("ResourceID after committed Tx = %q, %v; want %q", got.ResourceID, err, p.ID)
	}
}

// testTxAtomicConsume checks that a consumed token and its payment commit
// together: a transaction whose payment insert fails leaves the token
// unconsumed.
func testTxAtomicConsume(t *testing.T, s store.Store) {
	ctx := t.Context()
	tok := newToken(uid("vt"))
	insertToken(t, s, tok)
	existing := newPayment(uid("pay"), tok.ID)
	insertPayment(t, s, existing)
	err := s.Tx(ctx, func(tx store.Tx) error {
		if _, err := tx.ConsumeToken(ctx, tok.ID, existing.ID, base); err != nil {
			return err
		}
		return tx.InsertPayment(ctx, existing)
	})
	wantErr(t, "Tx", err, store.ErrDuplicate)
	got, err := s.GetToken(ctx, tok.ID)
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	if got.ConsumedAt != nil || got.PaymentID != "" {
		t.Errorf("token consumed by a rolled-back transaction: %v %q", got.ConsumedAt, got.PaymentID)
	}
}

func testIdemBeginExisting(t *testing.T, s store.Store) {
	ctx := t.Context()
	rec := newIdem("agent:openai POST /agentic_commerce/delegate_payment", uid("key"), "hash-1", base)
	rec.CreatedAt = base.In(zone)
	got, b, err := s.BeginIdempotency(ctx, rec, base)
	if err != nil || b != store.IdemStarted {
		t.Fatalf("BeginIdempotency: %v, %v; want IdemStarted", b, err)
	}
	want := rec
	want.State = store.IdemInFlight
	same(t, "started record", got, want)
	stored, err := s.GetIdempotency(ctx, rec.Scope, rec.Key)
	if err != nil {
		t.Fatalf("GetIdempotency: %v", err)
	}
	same(t, "stored record", stored, want)

	// In flight and locked: the second request sees the first one's record,
	// even with another body.
	second := newIdem(rec.Scope, rec.Key, "hash-2", base.Add(time.Second))
	got, b, err = s.BeginIdempotency(ctx, second, base.Add(time.Second))
	if err != nil || b != store.IdemExisting {
		t.Fatalf("second BeginIdempotency: %v, %v; want IdemExisting", b, err)
	}
	same(t, "existing record", got, want)

	// The same key in another scope is another record.
	other := newIdem("merchant:acme POST /v1/payments", rec.Key, "hash-3", base)
	beginIdem(t, s, other, base)
}

func testIdemComplete(t *testing.T, s store.Store) {
	ctx := t.Context()
	rec := newIdem("merchant:acme POST /v1/payments", uid("key"), "hash-1", base)
	beginIdem(t, s, rec, base)
	body := []byte(`{"id":"pay_1","status":"captured"}`)
	if err := s.CompleteIdempotency(ctx, rec.Scope, rec.Key, 201, body); err != nil {
		t.Fatalf("CompleteIdempotency: %v", err)
	}
	want := rec
	want.State, want.Status, want.Body = store.IdemDone, 201, body

	// A replay after the lock has run out is still answered from the record.
	now := base.Add(time.Hour)
	got, b, err := s.BeginIdempotency(ctx, newIdem(rec.Scope, rec.Key, "hash-1", now), now)
	if err != nil || b != store.IdemExisting {
		t.Fatalf("BeginIdempotency after complete: %v, %v; want IdemExisting", b, err)
	}
	same(t, "done record", got, want)
	stored, _ := s.GetIdempotency(ctx, rec.Scope, rec.Key)
	same(t, "stored done record", stored, want)

	err = s.CompleteIdempotency(ctx, rec.Scope, uid("key"), 201, body)
	wantErr(t, "CompleteIdempotency of unknown key", err, store.ErrNotFound)
}

func testIdemTakeOver(t *testing.T, s store.Store) {
	ctx := t.Context()
	rec := newIdem("merchant:acme POST /v1/payments", uid("key"), "hash-1", base)
	beginIdem(t, s, rec, base)
	tx(t, s, func(tx store.Tx) error { return tx.LinkIdempotency(ctx, rec.Scope, rec.Key, "pay_1") })

	now := base.Add(2 * time.Minute) // past LockedUntil
	next := newIdem(rec.Scope, rec.Key, "hash-2", now)
	got, b, err := s.BeginIdempotency(ctx, next, now)
	if err != nil || b != store.IdemTakenOver {
		t.Fatalf("BeginIdempotency on an expired lock: %v, %v; want IdemTakenOver", b, err)
	}
	old := rec
	old.State, old.ResourceID = store.IdemInFlight, "pay_1"
	same(t, "taken-over record (as it was)", got, old)

	stored, err := s.GetIdempotency(ctx, rec.Scope, rec.Key)
	if err != nil {
		t.Fatalf("GetIdempotency: %v", err)
	}
	if stored.State != store.IdemInFlight || stored.ResourceID != "pay_1" || stored.RequestHash != "hash-2" ||
		!stored.LockedUntil.Equal(next.LockedUntil) || !stored.ExpiresAt.Equal(next.ExpiresAt) {
		t.Errorf("record after take-over: state %s, resource %q, hash %q, locked until %v, expires %v; "+
			"want in_flight, pay_1, hash-2, %v, %v", stored.State, stored.ResourceID, stored.RequestHash,
			stored.LockedUntil, stored.ExpiresAt, next.LockedUntil, next.ExpiresAt)
	}

	// The new holder's lock now runs: a third request waits.
	_, b, err = s.BeginIdempotency(ctx, newIdem(rec.Scope, rec.Key, "hash-2", now), now.Add(time.Second))
	if err != nil || b != store.IdemExisting {
		t.Errorf("BeginIdempotency during the new lock: %v, %v; want IdemExisting", b, err)
	}
}

func testIdemExpiredReplaced(t *testing.T, s store.Store) {
	ctx := t.Context()
	for _, done := range []bool{false, true} {
		rec := newIdem("merchant:acme POST /v1/payments", uid("key"), "hash-1", base)
		beginIdem(t, s, rec, base)
		tx(t, s, func(tx store.Tx) error { return tx.LinkIdempotency(ctx, rec.Scope, rec.Key, "pay_1") })
		if done {
			if err := s.CompleteIdempotency(ctx, rec.Scope, rec.Key, 201, []byte("{}")); err != nil {
				t.Fatalf("CompleteIdempotency: %v", err)
			}
		}
		now := rec.ExpiresAt.Add(time.Second)
		next := newIdem(rec.Scope, rec.Key, "hash-2", now)
		got, b, err := s.BeginIdempotency(ctx, next, now)
		if err != nil || b != store.IdemStarted {
			t.Fatalf("BeginIdempotency on an expired record (done %v): %v, %v; want IdemStarted", done, b, err)
		}
		want := next
		want.State = store.IdemInFlight
		same(t, "replacing record", got, want)
		stored, err := s.GetIdempotency(ctx, rec.Scope, rec.Key)
		if err != nil {
			t.Fatalf("GetIdempotency: %v", err)
		}
		same(t, "replaced record", stored, want)
	}
}

func testIdemAbandon(t *testing.T, s store.Store) {
	ctx := t.Context()
	rec := newIdem("merchant:acme POST /v1/payments", uid("key"), "hash-1", base)
	beginIdem(t, s, rec, base)
	if err := s.AbandonIdempotency(ctx, rec.Scope, rec.Key); err != nil {
		t.Fatalf("AbandonIdempotency: %v", err)
	}
	_, err := s.GetIdempotency(ctx, rec.Scope, rec.Key)
	wantErr(t, "GetIdempotency after abandon", err, store.ErrNotFound)
	// The key is free at once, lock or not.
	beginIdem(t, s, rec, base.Add(time.Second))
}

func testIdemPurge(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := base.Add(48 * time.Hour)
	var expired, live []store.IdemRecord
	for i := range 5 {
		rec := newIdem("merchant:acme POST /v1/payments", uid("key"), "h", base)
		if i < 3 {
			rec.ExpiresAt = now.Add(-time.Duration(i+1) * time.Minute)
			expired = append(expired, rec)
		} else {
			rec.ExpiresAt = now.Add(time.Duration(i) * time.Minute)
			live = append(live, rec)
		}
		beginIdem(t, s, rec, base)
	}
	// Done or in flight, expiry alone decides.
	for _, r := range []store.IdemRecord{expired[0], live[0]} {
		if err := s.CompleteIdempotency(ctx, r.Scope, r.Key, 200, nil); err != nil {
			t.Fatalf("CompleteIdempotency: %v", err)
		}
	}
	// Two at most, the soonest expired first; then the third.
	n, err := s.PurgeIdempotency(ctx, now, 2)
	if err != nil || n != 2 {
		t.Fatalf("PurgeIdempotency(limit 2) = %d, %v; want 2, nil", n, err)
	}
	if _, err := s.GetIdempotency(ctx, expired[0].Scope, expired[0].Key); err != nil {
		t.Errorf("the record expired last went in the first batch: %v", err)
	}
	if n, err = s.PurgeIdempotency(ctx, now, 2); err != nil || n != 1 {
		t.Fatalf("second PurgeIdempotency = %d, %v; want 1, nil", n, err)
	}
	for _, r := range expired {
		_, err := s.GetIdempotency(ctx, r.Scope, r.Key)
		wantErr(t, "GetIdempotency of purged record", err, store.ErrNotFound)
	}
	for _, r := range live {
		if _, err := s.GetIdempotency(ctx, r.Scope, r.Key); err != nil {
			t.Errorf("GetIdempotency of live record: %v", err)
		}
	}
	if n, err := s.PurgeIdempotency(ctx, now, 2); err != nil || n != 0 {
		t.Errorf("third PurgeIdempotency = %d, %v; want 0, nil", n, err)
	}
	if n, err := s.PurgeIdempotency(ctx, now.Add(time.Hour), 0); err != nil || n != 0 {
		t.Errorf("PurgeIdempotency(limit 0) = %d, %v; want 0, nil", n, err)
	}
}

func testIdemLink(t *testing.T, s store.Store) {
	ctx := t.Context()
	rec := newIdem("merchant:acme POST /v1/payments", uid("key"), "hash-1", base)
	beginIdem(t, s, rec, base)

	// A rolled-back link leaves nothing.
	_ = s.Tx(ctx, func(tx store.Tx) error {
		if err := tx.LinkIdempotency(ctx, rec.Scope, rec.Key, "pay_rolled_back"); err != nil {
			t.Errorf("LinkIdempotency: %v", err)
		}
		return errors.New("roll back")
	})
	if got, _ := s.GetIdempotency(ctx, rec.Scope, rec.Key); got.ResourceID != "" {
		t.Errorf("ResourceID after rollback = %q, want empty", got.ResourceID)
	}

	tx(t, s, func(tx store.Tx) error {
		if err := tx.LinkIdempotency(ctx, rec.Scope, rec.Key, "pay_1"); err != nil {
			return err
		}
		// Requests without a key link nothing, and that is no error.
		return tx.LinkIdempotency(ctx, rec.Scope, uid("key"), "pay_2")
	})
	got, err := s.GetIdempotency(ctx, rec.Scope, rec.Key)
	if err != nil || got.ResourceID != "pay_1" || got.State != store.IdemInFlight {
		t.Errorf("record after link: %q %s, %v; want pay_1 in_flight", got.ResourceID, got.State, err)
	}
}

func testIdemBeginConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	scope, key := "merchant:acme POST /v1/payments", uid("key")
	const n = 100
	outcomes := make([]store.IdemBegin, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, outcomes[i], errs[i] = s.BeginIdempotency(ctx, newIdem(scope, key, fmt.Sprint(i), base), base)
		})
	}
	wg.Wait()
	started := -1
	for i := range n {
		switch {
		case errs[i] != nil:
			t.Errorf("goroutine %d: %v", i, errs[i])
		case outcomes[i] == store.IdemStarted:
			if started >= 0 {
				t.Errorf("goroutines %d and %d both started", started, i)
			}
			started = i
		case outcomes[i] != store.IdemExisting:
			t.Errorf("goroutine %d: outcome %v, want IdemExisting", i, outcomes[i])
		}
	}
	if started < 0 {
		t.Fatal("no goroutine started")
	}
	got, err := s.GetIdempotency(ctx, scope, key)
	if err != nil || got.RequestHash != fmt.Sprint(started) {
		t.Errorf("stored hash %q, %v; want the winner's %d", got.RequestHash, err, started)
	}
}

func testIdemTakeOverConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	rec := newIdem("merchant:acme POST /v1/payments", uid("key"), "old", base)
	beginIdem(t, s, rec, base)
	now := rec.LockedUntil.Add(time.Second)
	const n = 100
	outcomes := make([]store.IdemBegin, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, outcomes[i], errs[i] = s.BeginIdempotency(ctx, newIdem(rec.Scope, rec.Key, fmt.Sprint(i), now), now)
		})
	}
	wg.Wait()
	var took []int
	for i := range n {
		switch {
		case errs[i] != nil:
			t.Errorf("goroutine %d: %v", i, errs[i])
		case outcomes[i] == store.IdemTakenOver:
			took = append(took, i)
		case outcomes[i] != store.IdemExisting:
			t.Errorf("goroutine %d: outcome %v, want IdemTakenOver or IdemExisting", i, outcomes[i])
		}
	}
	if len(took) != 1 {
		t.Fatalf("%d goroutines took the key over, want exactly 1", len(took))
	}
}

func testLease(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := base.Add(time.Hour)
	p := newPayment(uid("pay"), "vt_1")
	insertPayment(t, s, p)
	old1 := newAttempt(p, 1, now.Add(-10*time.Minute))
	old2 := newAttempt(p, 2, now.Add(-9*time.Minute).In(zone))
	done := newAttempt(p, 3, now.Add(-8*time.Minute))
	done.State, done.FinishedAt = store.AttemptDone, ptr(now.Add(-7*time.Minute))
	recent := newAttempt(p, 4, now.Add(-10*time.Second))
	leased := newAttempt(p, 5, now.Add(-11*time.Minute))
	leased.LeaseOwner, leased.LeaseUntil = "other", ptr(now.Add(time.Minute))
	lapsed := newAttempt(p, 6, now.Add(-12*time.Minute))
	lapsed.LeaseOwner, lapsed.LeaseUntil = "crashed", ptr(now.Add(-time.Minute))
	notProcessed := newAttempt(p, 7, now.Add(-13*time.Minute))
	notProcessed.State = store.AttemptNotProcessed
	// Reconciliation re-sends the 3-D Secure result: a leased attempt
	// carries its record.
	old2.Authentication = &payment.AuthenticationRecord{Outcome: payment.AuthAttemptAcknowledged, ECI: "06",
		TransactionID: "ds-1", Version: "2.1.0"}
	insertAttempts(t, s, old1, old2, done, recent, leased, lapsed, notProcessed)

	startedBefore := now.Add(-time.Minute)
	until := now.Add(5 * time.Minute)
	ids := func(as []store.Attempt) []string {
		var out []string
		for _, a := range as {
			out = append(out, a.ID)
		}
		slices.Sort(out)
		return out
	}
	want := func(as ...store.Attempt) []string { return ids(as) }

	got, err := s.LeasePendingAttempts(ctx, leaseQuery("r1", startedBefore, now, until, 10))
	if err != nil {
		t.Fatalf("LeasePendingAttempts: %v", err)
	}
	if !slices.Equal(ids(got), want(old1, old2, lapsed)) {
		t.Fatalf("leased %v, want %v (old1, old2, lapsed)", ids(got), want(old1, old2, lapsed))
	}
	for _, a := range got {
		var orig store.Attempt
		for _, o := range []store.Attempt{old1, old2, lapsed} {
			if o.ID == a.ID {
				orig = o
			}
		}
		orig.LeaseOwner, orig.LeaseUntil = "r1", &until
		same(t, "leased attempt", a, orig)
	}
	stored, _ := s.ListAttempts(ctx, p.ID)
	for _, a := range stored {
		if a.ID == old1.ID && (a.LeaseOwner != "r1" || a.LeaseUntil == nil || !a.LeaseUntil.Equal(until)) {
			t.Errorf("stored lease of old1: %q %v, want r1 %v", a.LeaseOwner, a.LeaseUntil, until)
		}
	}

	// While the leases run, nobody else gets them.
	got, err = s.LeasePendingAttempts(ctx, leaseQuery("r2", startedBefore, now.Add(time.Second), until, 10))
	if err != nil || len(got) != 0 {
		t.Fatalf("second lease: %v, %v; want none", ids(got), err)
	}

	// Once they run out, they are leased again, oldest first within limit.
	later := until.Add(time.Second)
	got, err = s.LeasePendingAttempts(ctx, leaseQuery("r2", startedBefore, later, later.Add(time.Minute), 2))
	if err != nil {
		t.Fatalf("lease after expiry: %v", err)
	}
	if !slices.Equal(ids(got), want(lapsed, leased)) {
		t.Errorf("lease after expiry with limit 2: %v, want %v (the two oldest)", ids(got), want(lapsed, leased))
	}
	got, err = s.LeasePendingAttempts(ctx, leaseQuery("r2", startedBefore, later, later.Add(time.Minute), 10))
	if err != nil || !slices.Equal(ids(got), want(old1, old2)) {
		t.Errorf("lease of the rest: %v, %v; want %v", ids(got), err, want(old1, old2))
	}

	// Releasing a lease (UpdateAttempt with no lease) frees the attempt; a
	// finished attempt is never leased.
	free := old1
	tx(t, s, func(tx store.Tx) error { return tx.UpdateAttempt(ctx, free) })
	fin := old2
	fin.State, fin.Outcome, fin.FinishedAt = store.AttemptDone, "captured", ptr(later)
	tx(t, s, func(tx store.Tx) error { return tx.UpdateAttempt(ctx, fin) })
	got, err = s.LeasePendingAttempts(ctx, leaseQuery("r3", startedBefore, later, later.Add(time.Minute), 10))
	if err != nil || !slices.Equal(ids(got), want(old1)) {
		t.Errorf("lease after release: %v, %v; want %v", ids(got), err, want(old1))
	}

	if got, err := s.LeasePendingAttempts(ctx, leaseQuery("r4", now.Add(24*time.Hour), now.Add(24*time.Hour), now.Add(25*time.Hour), 0)); err != nil || len(got) != 0 {
		t.Errorf("lease with limit 0: %d, %v; want none", len(got), err)
	}
}

func testLeaseConcurrent(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := base.Add(time.Hour)
	const total = 60
	var all []store.Attempt
	for range 3 {
		p := newPayment(uid("pay"), "vt_1")
		insertPayment(t, s, p)
		for seq := 1; seq <= total/3; seq++ {
			all = append(all, newAttempt(p, seq, now.Add(-time.Duration(seq)*time.Minute)))
		}
	}
	insertAttempts(t, s, all...)

	const leasers = 8
	var (
		mu    sync.Mutex
		owner = map[string]int{}
		wg    sync.WaitGroup
	)
	for r := range leasers {
		wg.Go(func() {
			// Bounded, so that a store that leases the same attempts again
			// and again fails instead of spinning.
			for range total {
				got, err := s.LeasePendingAttempts(ctx, leaseQuery(fmt.Sprint("r", r), now, now, now.Add(time.Hour), 3))
				if err != nil {
					t.Errorf("leaser %d: %v", r, err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, a := range got {
					if prev, ok := owner[a.ID]; ok {
						t.Errorf("attempt leased by both %d and %d", prev, r)
						mu.Unlock()
						return
					}
					owner[a.ID] = r
					if a.LeaseOwner != fmt.Sprint("r", r) {
						t.Errorf("leaser %d got an attempt with owner %q", r, a.LeaseOwner)
					}
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(owner) != total {
		t.Errorf("%d attempts leased, want %d", len(owner), total)
	}
}

func testEvents(t *testing.T, s store.Store) {
	ctx := t.Context()
	e := store.ProcessorEvent{Processor: "stripe_us", EventID: uid("evt"), Type: "payment_intent.succeeded", Kind: "captured",
		Reference: "pi_1", PaymentID: "pay_1", Result: "applied", Raw: []byte(`{"id":"evt"}`), ReceivedAt: base}
	tx(t, s, func(tx store.Tx) error { return tx.InsertEvent(ctx, e) })
	err := s.Tx(ctx, func(tx store.Tx) error { return tx.InsertEvent(ctx, e) })
	wantErr(t, "redelivered event", err, store.ErrDuplicate)
	// The same event id at another processor is another event.
	e.Processor = "stripe_eu"
	tx(t, s, func(tx store.Tx) error { return tx.InsertEvent(ctx, e) })
}

func testFeeRecords(t *testing.T, s store.Store) {
	ctx := t.Context()
	pay := uid("pay")
	recs := []store.FeeRecord{
		{Source: "adyen_settlement:a", SourceRef: uid("psp") + ":Settled", PaymentID: pay, Processor: "a", Amount: 13, Currency: "eur", CreatedAt: base},
		{Source: "adyen_settlement:a", SourceRef: uid("psp") + ":Settled", PaymentID: pay, Processor: "a", Amount: 7, Currency: "eur", CreatedAt: base.Add(time.Second)},
	}
	tx(t, s, func(tx store.Tx) error {
		for _, r := range recs {
			if err := tx.InsertFeeRecord(ctx, r); err != nil {
				return err
			}
		}
		got, err := tx.ListFeeRecords(ctx, pay)
		if err != nil {
			return err
		}
		sameFees(t, "fee records in tx", got, recs)
		return nil
	})
	err := s.Tx(ctx, func(tx store.Tx) error { return tx.InsertFeeRecord(ctx, recs[0]) })
	wantErr(t, "second import of a record", err, store.ErrDuplicate)
	got, err := s.ListFeeRecords(ctx, pay)
	if err != nil {
		t.Fatal(err)
	}
	sameFees(t, "fee records", got, recs)
	if got, _ := s.ListFeeRecords(ctx, uid("pay")); len(got) != 0 {
		t.Fatalf("records of another payment: %v", got)
	}
}

// testFindByReference: a payment is found by the reference of any of its
// attempts, its own reference among them (the gateway writes a payment's
// reference with the authorization attempt that received it); a declined
// attempt of another processor before a failover keeps its reference too.
func testFindByReference(t *testing.T, s store.Store) {
	ctx := t.Context()
	p := newPayment(uid("pay"), "vt_1")
	p.Processor, p.ProcessorReference = "adyen_eu", uid("psp")
	insertPayment(t, s, p)
	declined := newAttempt(p, 1, base)
	declined.Processor, declined.Reference, declined.Outcome = "stripe", uid("ch"), "declined"
	auth := newAttempt(p, 2, base)
	auth.Processor, auth.Reference, auth.Outcome = "adyen_eu", p.ProcessorReference, "authorized"
	capture := newAttempt(p, 3, base)
	capture.Processor, capture.Operation, capture.Reference = "adyen_eu", "capture", uid("psp_mod")
	insertAttempts(t, s, declined, auth, capture)
	for _, c := range []struct{ what, processor, ref string }{
		{"by payment reference", "adyen_eu", p.ProcessorReference},
		{"by modification reference", "adyen_eu", capture.Reference},
		{"by the declined attempt's reference", "stripe", declined.Reference},
	} {
		got, err := s.FindPaymentByReference(ctx, c.processor, c.ref)
		if err != nil || got.ID != p.ID {
			t.Fatalf("%s: %v %v", c.what, got.ID, err)
		}
	}
	_, err := s.FindPaymentByReference(ctx, "adyen_eu", declined.Reference)
	wantErr(t, "a reference of another processor's attempt", err, store.ErrNotFound)
	_, err = s.FindPaymentByReference(ctx, "other", p.ProcessorReference)
	wantErr(t, "another processor's reference", err, store.ErrNotFound)
	_, err = s.FindPaymentByReference(ctx, "adyen_eu", "")
	wantErr(t, "empty reference", err, store.ErrNotFound)
}

func testListPayments(t *testing.T, s store.Store) {
	ctx := t.Context()
	merchant := uid("m")
	for i := range 7 {
		p := newPayment(uid("pay"), "vt_1")
		p.MerchantID = merchant
		p.CreatedAt = base.Add(time.Duration(i%3) * time.Hour)
		insertPayment(t, s, p)
	}
	// Another merchant's payment in range, and one of ours out of range.
	other := newPayment(uid("pay"), "vt_1")
	other.CreatedAt = base
	insertPayment(t, s, other)
	late := newPayment(uid("pay"), "vt_1")
	late.MerchantID, late.CreatedAt = merchant, base.Add(10*time.Hour)
	insertPayment(t, s, late)

	f := store.PaymentFilter{From: base, To: base.Add(3 * time.Hour), MerchantID: merchant, Limit: 3}
	var got []store.Payment
	for {
		page, err := s.ListPayments(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if len(page) < f.Limit {
			break
		}
		last := page[len(page)-1]
		f.AfterCreated, f.AfterID = last.CreatedAt, last.ID
	}
	if len(got) != 7 {
		t.Fatalf("listed %d payments, want 7", len(got))
	}
	for i := 1; i < len(got); i++ {
		a, b := got[i-1], got[i]
		if b.CreatedAt.Before(a.CreatedAt) || (b.CreatedAt.Equal(a.CreatedAt) && b.ID <= a.ID) {
			t.Fatalf("not ordered at %d", i)
		}
	}
	all, err := s.ListPayments(ctx, store.PaymentFilter{From: base, To: base.Add(3 * time.Hour)})
	if err != nil || len(all) < 8 {
		t.Fatalf("all merchants: %d %v", len(all), err)
	}
}

func sameFees(t *testing.T, what string, got, want []store.FeeRecord) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d records, want %d", what, len(got), len(want))
	}
	for i := range want {
		same(t, fmt.Sprintf("%s[%d]", what, i), got[i], want[i])
	}
}

// testClosed: once the store is closed, every read, the ping and a
// transaction fail with store.ErrUnavailable (the API's 503), never with an
// error of unknown kind (a 500 that tells the client nothing). The store is
// closed twice: the Cleanup that open registered closes it again.
func testClosed(t *testing.T, s store.Store) {
	ctx := t.Context()
	tok := newToken(uid("vt"))
	p := newPayment(uid("pay"), tok.ID)
	if err := s.Tx(ctx, func(tx store.Tx) error {
		if err := tx.InsertToken(ctx, tok); err != nil {
			return err
		}
		return tx.InsertPayment(ctx, p)
	}); err != nil {
		t.Fatalf("insert: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	checks := []struct {
		name string
		fn   func() error
	}{
		{"Ping", func() error { return s.Ping(ctx) }},
		{"GetToken", func() error { _, err := s.GetToken(ctx, tok.ID); return err }},
		{"GetPayment", func() error { _, err := s.GetPayment(ctx, p.ID); return err }},
		{"GetAttempt", func() error { _, err := s.GetAttempt(ctx, uid("att")); return err }},
		{"ListAttempts", func() error { _, err := s.ListAttempts(ctx, p.ID); return err }},
		{"ListRefunds", func() error { _, err := s.ListRefunds(ctx, p.ID); return err }},
		{"GetIdempotency", func() error { _, err := s.GetIdempotency(ctx, "scope", uid("key")); return err }},
		{"FindPaymentByReference", func() error { _, err := s.FindPaymentByReference(ctx, "mock", "ref_1"); return err }},
		{"ListPayments", func() error {
			_, err := s.ListPayments(ctx, store.PaymentFilter{From: base.Add(-time.Hour), To: base.Add(time.Hour), Limit: 10})
			return err
		}},
		{"ListFeeRecords", func() error { _, err := s.ListFeeRecords(ctx, p.ID); return err }},
		{"Tx", func() error {
			return s.Tx(ctx, func(tx store.Tx) error { _, err := tx.GetTokenForUpdate(ctx, tok.ID); return err })
		}},
	}
	for _, c := range checks {
		wantErr(t, c.name+" after Close", c.fn(), store.ErrUnavailable)
	}
}

// testLeaseDeadline: an attempt is leased only once its own recorded call
// deadline has passed, however long ago it started; one recorded without a
// deadline counts as started + Unrecorded.
func testLeaseDeadline(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := base.Add(time.Hour)
	p := newPayment(uid("pay"), "vt_1")
	insertPayment(t, s, p)
	inFlight := newAttempt(p, 1, now.Add(-10*time.Minute))
	inFlight.Deadline = now.Add(time.Minute) // a long timeout, still running
	ended := newAttempt(p, 2, now.Add(-10*time.Second))
	ended.Deadline = now.Add(-time.Second)
	young := newAttempt(p, 3, now.Add(-2*time.Second))
	young.Deadline = now.Add(-time.Second) // ended, but younger than StartedBefore
	legacy := newAttempt(p, 4, now.Add(-20*time.Second))
	legacy.Deadline = time.Time{}
	insertAttempts(t, s, inFlight, ended, young, legacy)

	q := store.LeaseQuery{Owner: "r1", LeaseUntil: now.Add(time.Minute), Now: now,
		StartedBefore: now.Add(-5 * time.Second), DeadlineBefore: now, Unrecorded: 30 * time.Second, Limit: 10}
	got, err := s.LeasePendingAttempts(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != ended.ID {
		t.Fatalf("leased %d attempts (%v); want only the one whose deadline passed", len(got), got)
	}
	want := ended
	want.LeaseOwner, want.LeaseUntil = "r1", &q.LeaseUntil
	same(t, "leased attempt", got[0], want)

	// With less time allowed for a call without a deadline, the legacy
	// attempt is due too.
	q.Owner, q.Unrecorded = "r2", 10*time.Second
	got, err = s.LeasePendingAttempts(ctx, q)
	if err != nil || len(got) != 1 || got[0].ID != legacy.ID || !got[0].Deadline.IsZero() {
		t.Fatalf("leased %v, %v; want the legacy attempt, without a deadline", got, err)
	}
	// Once its deadline passes, the long call's attempt is due as well (the
	// two leased above are still leased).
	q.Owner, q.DeadlineBefore = "r3", now.Add(2*time.Minute)
	got, err = s.LeasePendingAttempts(ctx, q)
	if err != nil || len(got) != 1 || got[0].ID != inFlight.ID {
		t.Fatalf("leased %v, %v; want the attempt whose long deadline passed", got, err)
	}
}

// testReturnLease: the owner of a lease hands it back with the time its
// re-send ended, and the attempt is due again at once; anyone else's
// ReturnLease, or one of a settled attempt, changes nothing.
func testReturnLease(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := base.Add(time.Hour)
	p := newPayment(uid("pay"), "vt_1")
	insertPayment(t, s, p)
	a, done := newAttempt(p, 1, now.Add(-time.Minute)), newAttempt(p, 2, now.Add(-time.Minute))
	insertAttempts(t, s, a, done)
	q := leaseQuery("r1", now, now, now.Add(time.Hour), 10)
	if got, err := s.LeasePendingAttempts(ctx, q); err != nil || len(got) != 2 {
		t.Fatalf("lease: %v, %v", got, err)
	}
	fin := done
	fin.State, fin.Outcome, fin.FinishedAt, fin.LeaseOwner, fin.LeaseUntil = store.AttemptDone, "captured", ptr(now), "r1", ptr(now.Add(time.Hour))
	tx(t, s, func(tx store.Tx) error { return tx.UpdateAttempt(ctx, fin) })

	ended := now.Add(2 * time.Second)
	for _, owner := range []string{"r2", ""} {
		if err := s.ReturnLease(ctx, a.ID, owner, ended); err != nil {
			t.Fatalf("ReturnLease by %q: %v", owner, err)
		}
	}
	if err := s.ReturnLease(ctx, done.ID, "r1", ended); err != nil {
		t.Fatalf("ReturnLease of a settled attempt: %v", err)
	}
	got, err := s.GetAttempt(ctx, a.ID)
	if err != nil || got.LeaseOwner != "r1" || !got.Deadline.Equal(a.Deadline) {
		t.Fatalf("after others' ReturnLease: owner %q deadline %v, %v; want r1's lease, deadline unchanged", got.LeaseOwner, got.Deadline, err)
	}
	if got, _ := s.GetAttempt(ctx, done.ID); got.LeaseOwner != "r1" || got.State != store.AttemptDone {
		t.Fatalf("settled attempt changed: %+v", got)
	}

	if err := s.ReturnLease(ctx, a.ID, "r1", ended); err != nil {
		t.Fatalf("ReturnLease: %v", err)
	}
	want := a
	want.Deadline = ended
	got, err = s.GetAttempt(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	same(t, "returned attempt", got, want)
	// Due again for a pass after the re-send ended, while r1's lease would
	// still run: another replica takes it.
	q = leaseQuery("r2", now, ended.Add(time.Second), now.Add(time.Hour), 10)
	if got, err := s.LeasePendingAttempts(ctx, q); err != nil || len(got) != 1 || got[0].ID != a.ID {
		t.Fatalf("lease after ReturnLease: %v, %v; want the returned attempt", got, err)
	}
}
