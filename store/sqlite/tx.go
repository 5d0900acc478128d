package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"acpgw/store"
	"acpgw/store/rowcodec"
)

// txn is the store.Tx of one transaction: the writer's, whose statements
// are s.ws (raw.go).
type txn struct {
	s *Store
	// changed is set once a statement may have changed the database: a
	// write that changed rows or whose count is not known, or a statement
	// that failed (SQLite rolls the whole transaction back after some
	// errors). A fn that fails before any is left nothing to undo
	// (batch.go).
	changed bool
}

var _ store.Tx = (*txn)(nil)

// writeStmt is a write whose changes are not counted (UPDATE ... RETURNING
// run as a query).
func (t *txn) writeStmt(st *rawStmt) *rawStmt {
	t.changed = true
	return st
}

// read passes on the error of a read, noting a failure other than no rows.
func (t *txn) read(err error) error {
	if err != nil && !errors.Is(err, sql.ErrNoRows) && !errors.Is(err, store.ErrNotFound) {
		t.changed = true
	}
	return err
}

// detach keeps a caller's cancellation away from statements of the shared
// transaction: SQLite answers an interrupted write by rolling back the whole
// transaction, which holds other callers' work too.
func detach(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// exec runs a write and returns the number of rows it changed.
func (t *txn) exec(ctx context.Context, op string, st *rawStmt, args ...any) (int64, error) {
	n, err := st.exec(ctx, args...)
	if err != nil || n > 0 {
		t.changed = true
	}
	return n, wrap(op, err)
}

// execOne runs a write that must change exactly one row; none is
// store.ErrNotFound.
func (t *txn) execOne(ctx context.Context, op string, st *rawStmt, args ...any) error {
	n, err := t.exec(ctx, op, st, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("sqlite: %s: %w", op, store.ErrNotFound)
	}
	return nil
}

// InsertToken stores a new token; an existing id is store.ErrDuplicate.
func (t *txn) InsertToken(ctx context.Context, tok store.Token) error {
	args, err := rowcodec.TokenArgs(tok)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "insert token", t.s.ws.insertToken, args...)
	return err
}

// GetTokenForUpdate reads a token. SQLite needs no row lock: the IMMEDIATE
// transaction already excludes every other writer.
func (t *txn) GetTokenForUpdate(ctx context.Context, id string) (store.Token, error) {
	tok, err := rowcodec.ScanToken(t.s.ws.getToken.queryRow(ctx, id))
	return tok, wrap("get token", t.read(err))
}

// ConsumeToken marks the token consumed and counts the use with one
// conditional UPDATE, so the check and the write are a single step.
func (t *txn) ConsumeToken(ctx context.Context, id, paymentID string, at time.Time) (int, error) {
	var attempts int
	err := t.s.ws.consumeToken.queryRow(ctx, rowcodec.Nanos(at), paymentID, id).Scan(&attempts)
	if err == nil || !errors.Is(err, sql.ErrNoRows) {
		t.changed = true // consumed, or failed
		return attempts, wrap("consume token", err)
	}
	if _, _, err := t.tokenOwner(ctx, id); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("sqlite: consume token: %w", store.ErrTokenConsumed)
}

// tokenOwner says whether the token is consumed and by which payment;
// store.ErrNotFound if it does not exist.
func (t *txn) tokenOwner(ctx context.Context, id string) (consumed bool, paymentID string, err error) {
	err = t.s.ws.tokenOwner.queryRow(ctx, id).Scan(&consumed, &paymentID)
	return consumed, paymentID, wrap("token state", t.read(err))
}

// ReleaseToken makes the token usable again if paymentID consumed it. A
// token that is not consumed is left as it is (releasing twice is fine); one
// consumed by another payment is store.ErrTokenConsumed, and an unknown one
// store.ErrNotFound.
func (t *txn) ReleaseToken(ctx context.Context, id, paymentID string) error {
	return t.release(ctx, "release token", t.s.ws.releaseToken, id, paymentID)
}

// ReopenToken makes the token usable again if paymentID consumed it,
// keeping its use counted; otherwise as ReleaseToken.
func (t *txn) ReopenToken(ctx context.Context, id, paymentID string) error {
	return t.release(ctx, "reopen token", t.s.ws.reopenToken, id, paymentID)
}

// release runs a release statement of paymentID's hold on the token.
func (t *txn) release(ctx context.Context, op string, st *rawStmt, id, paymentID string) error {
	n, err := t.exec(ctx, op, st, id, paymentID)
	if err != nil || n == 1 {
		return err
	}
	consumed, _, err := t.tokenOwner(ctx, id)
	if err != nil {
		return err
	}
	if consumed {
		return fmt.Errorf("sqlite: %s: consumed by another payment: %w", op, store.ErrTokenConsumed)
	}
	return nil
}

// DeleteTokenCVC sets the sealed CVC to NULL; with secure_delete on, SQLite
// zeroes the old bytes in the page it rewrites. Old images of the page stay
// in the -wal file until it is overwritten: the CVC is sealed under a key
// that is not in the database and that the gateway destroys with it
// (vault.CVCKeys).
func (t *txn) DeleteTokenCVC(ctx context.Context, id string) error {
	return t.execOne(ctx, "delete token cvc", t.s.ws.deleteCVC, id)
}

// InsertPayment stores a new payment; an existing id is store.ErrDuplicate.
func (t *txn) InsertPayment(ctx context.Context, p store.Payment) error {
	args, err := rowcodec.PaymentArgs(p)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "insert payment", t.s.ws.insertPayment, args...)
	return err
}

// GetPaymentForUpdate reads a payment; see GetTokenForUpdate on locking.
func (t *txn) GetPaymentForUpdate(ctx context.Context, id string) (store.Payment, error) {
	p, err := rowcodec.ScanPayment(t.s.ws.getPayment.queryRow(ctx, id))
	return p, wrap("get payment", t.read(err))
}

// UpdatePayment writes the mutable fields of p: status, processor, its type
// and reference, decline, captured, refunded and pending amounts, fees,
// routing and updated_at.
func (t *txn) UpdatePayment(ctx context.Context, p store.Payment) error {
	args, err := rowcodec.PaymentUpdateArgs(p)
	if err != nil {
		return err
	}
	return t.execOne(ctx, "update payment", t.s.ws.updatePayment, args...)
}

// InsertAttempt stores a new attempt of an existing payment; a taken id,
// idempotency key or (payment, seq) is store.ErrDuplicate.
func (t *txn) InsertAttempt(ctx context.Context, a store.Attempt) error {
	args, err := rowcodec.AttemptArgs(a)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "insert attempt", t.s.ws.insertAttempt, args...)
	return err
}

// UpdateAttempt writes state, outcome, reference, error, latency,
// finished_at, deadline and the lease of a.
func (t *txn) UpdateAttempt(ctx context.Context, a store.Attempt) error {
	return t.execOne(ctx, "update attempt", t.s.ws.updateAttempt, rowcodec.AttemptUpdateArgs(a)...)
}

// SettleAttempt updates a only while it is pending; store.ErrSettled
// otherwise.
func (t *txn) SettleAttempt(ctx context.Context, a store.Attempt) error {
	n, err := t.exec(ctx, "settle attempt", t.s.ws.settleAttempt, rowcodec.AttemptUpdateArgs(a)...)
	if err == nil && n == 0 {
		err = fmt.Errorf("sqlite: settle attempt %s: %w", a.ID, store.ErrSettled)
	}
	return err
}

// ListAttempts returns the payment's attempts by seq, including those this
// transaction wrote.
func (t *txn) ListAttempts(ctx context.Context, paymentID string) ([]store.Attempt, error) {
	rows, err := t.s.ws.listAttempts.query(ctx, paymentID)
	out, err := collect("list attempts", rows, err, rowcodec.ScanAttempt)
	return out, t.read(err)
}

// InsertRefund stores a new refund of an existing payment.
func (t *txn) InsertRefund(ctx context.Context, r store.Refund) error {
	_, err := t.exec(ctx, "insert refund", t.s.ws.insertRefund, rowcodec.RefundArgs(r)...)
	return err
}

// UpdateRefund writes the status, reference and updated_at of r.
func (t *txn) UpdateRefund(ctx context.Context, r store.Refund) error {
	return t.execOne(ctx, "update refund", t.s.ws.updateRefund, r.Status, r.Reference, rowcodec.Nanos(r.UpdatedAt), r.ID)
}

// ListRefunds returns the payment's refunds, oldest first.
func (t *txn) ListRefunds(ctx context.Context, paymentID string) ([]store.Refund, error) {
	rows, err := t.s.ws.listRefunds.query(ctx, paymentID)
	out, err := collect("list refunds", rows, err, rowcodec.ScanRefund)
	return out, t.read(err)
}

// CompleteIdempotency stores the response and marks the record done, in
// this transaction; a missing record is store.ErrNotFound.
func (t *txn) CompleteIdempotency(ctx context.Context, scope, key string, status int, body []byte) error {
	return t.execOne(ctx, "complete idempotency", t.s.ws.idemComplete, status, rowcodec.Blob(body), scope, key)
}

// PendIdempotency marks a record pending and ends its lock at now.
func (t *txn) PendIdempotency(ctx context.Context, scope, key string, now time.Time) error {
	return t.execOne(ctx, "pend idempotency", t.s.ws.idemPend, now.UnixNano(), scope, key)
}

// AbandonIdempotency deletes an in-flight record; a done or pending record
// is kept and a missing one is no error.
func (t *txn) AbandonIdempotency(ctx context.Context, scope, key string) error {
	_, err := t.exec(ctx, "abandon idempotency", t.s.ws.idemAbandon, scope, key)
	return err
}

// LinkIdempotency sets the resource id of an in-flight record; no record is
// no error.
func (t *txn) LinkIdempotency(ctx context.Context, scope, key, resourceID string) error {
	_, err := t.exec(ctx, "link idempotency", t.s.ws.idemLink, resourceID, scope, key)
	return err
}

// InsertEvent stores a processor event once; a redelivery is
// store.ErrDuplicate.
func (t *txn) InsertEvent(ctx context.Context, e store.ProcessorEvent) error {
	_, err := t.exec(ctx, "insert event", t.s.ws.insertEvent, rowcodec.EventArgs(e)...)
	return err
}

// InsertFeeRecord stores an actual fee once; a repeat is store.ErrDuplicate.
func (t *txn) InsertFeeRecord(ctx context.Context, f store.FeeRecord) error {
	_, err := t.exec(ctx, "insert fee record", t.s.ws.insertFee, rowcodec.FeeArgs(f)...)
	return err
}

// ListFeeRecords returns the payment's fee records, including this
// transaction's.
func (t *txn) ListFeeRecords(ctx context.Context, paymentID string) ([]store.FeeRecord, error) {
	rows, err := t.s.ws.listFees.query(ctx, paymentID)
	out, err := collect("list fee records", rows, err, rowcodec.ScanFee)
	return out, t.read(err)
}

// InsertOutboxEvent stores a merchant event; the rowid numbers it after
// every event committed before (SQLite has one writer).
func (t *txn) InsertOutboxEvent(ctx context.Context, e store.OutboxEvent) error {
	_, err := t.exec(ctx, "insert outbox event", t.s.ws.insertOutbox, rowcodec.OutboxArgs(e)...)
	return err
}

// RedeliverOutboxEvent makes the event due at now, pending again as a
// replay if it was delivered or failed.
func (t *txn) RedeliverOutboxEvent(ctx context.Context, id string, now time.Time) error {
	return t.execOne(ctx, "redeliver outbox event", t.s.ws.redeliver, now.UnixNano(), now.UnixNano(), id)
}

// InsertAuthSession stores a new authentication session; an existing id is
// store.ErrDuplicate.
func (t *txn) InsertAuthSession(ctx context.Context, s store.AuthSession) error {
	_, err := t.exec(ctx, "insert auth session", t.s.ws.insertAuth, rowcodec.AuthSessionArgs(s)...)
	return err
}

// GetAuthSession reads a session, this transaction's writes included.
func (t *txn) GetAuthSession(ctx context.Context, id string) (store.AuthSession, error) {
	s, err := rowcodec.ScanAuthSession(t.s.ws.getAuth.queryRow(ctx, id))
	return s, wrap("get auth session", t.read(err))
}

// UpdateAuthSession writes s over the version it was read at, with one
// conditional UPDATE; store.ErrChanged when another request wrote first.
func (t *txn) UpdateAuthSession(ctx context.Context, s store.AuthSession) error {
	n, err := t.exec(ctx, "update auth session", t.s.ws.updateAuth, rowcodec.AuthSessionUpdateArgs(s)...)
	if err != nil || n == 1 {
		return err
	}
	var one int
	err = t.s.ws.authExists.queryRow(ctx, s.ID).Scan(&one)
	if err = t.read(err); err != nil {
		return wrap("update auth session", err)
	}
	return fmt.Errorf("sqlite: update auth session %s: %w", s.ID, store.ErrChanged)
}

// rowIter is the part of sql.Rows (the read pool's) and rawRows (the
// writer's) that collect uses.
type rowIter interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close() error
}

// collect scans every row, closing rows.
func collect[T any](op string, rows rowIter, err error, scan func(rowcodec.Scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, wrap(op, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(op, err)
	}
	return out, nil
}
