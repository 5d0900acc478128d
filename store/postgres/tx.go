package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"acpgw/store"
	"acpgw/store/rowcodec"
)

// Tx retries. A deadlock (40P01) or serialization failure (40001) rolls the
// whole transaction back on the server, so running fn again from the start
// is what the server asks for. Between attempts Tx sleeps a random time in
// [0, retryBase<<n) so that the transactions that collided do not collide
// again in step.
const (
	maxRetries = 3
	retryBase  = 10 * time.Millisecond
)

// rollbackTimeout bounds the rollback of a failed transaction, which runs
// even when the caller's context has ended.
const rollbackTimeout = 5 * time.Second

// errBegin marks a failure to start a transaction: nothing was sent inside
// one, so starting again on a fresh connection is safe.
type errBegin struct{ err error }

func (e errBegin) Error() string { return e.err.Error() }
func (e errBegin) Unwrap() error { return e.err }

// Tx runs fn in one READ COMMITTED transaction: all of fn's writes commit
// or none do. It rolls back when fn returns an error, panics or calls
// runtime.Goexit (a panic goes on after the rollback); fn's error is returned
// as it is.
//
// Conflicting writers are serialised by the row locks of the ...ForUpdate
// methods and of the writes themselves. If the server aborts the transaction
// with a deadlock or serialization failure, or the transaction could not
// begin because a pooled connection had broken (the server restarted), Tx
// runs fn again from the start, up to maxRetries more times with jittered
// backoff. So fn may run more than once: it must do nothing but its work
// through tx and must compute what it writes from what it reads through tx
// (or from values it does not change). A failed COMMIT is never retried: the
// transaction may have committed.
//
// fn must not call the Store's own methods while it holds tx if the pool is
// small: each would need a second connection.
func (s *Store) Tx(ctx context.Context, fn func(tx store.Tx) error) error {
	for attempt := 0; ; attempt++ {
		err := s.tx(ctx, fn)
		if err == nil || attempt == maxRetries || ctx.Err() != nil {
			return err
		}
		var eb errBegin
		if !retryable(err) && !(errors.As(err, &eb) && errors.Is(err, store.ErrUnavailable)) {
			return err
		}
		d := rand.N(retryBase << attempt)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// tx runs fn once in a transaction.
func (s *Store) tx(ctx context.Context, fn func(tx store.Tx) error) (err error) {
	ptx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return errBegin{wrap("begin", err)}
	}
	finished := false
	defer func() {
		if finished {
			return
		}
		// fn failed, panicked or called runtime.Goexit. The rollback runs
		// even if ctx has ended; if the connection broke, pgxpool drops it.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
		defer cancel()
		_ = ptx.Rollback(rctx)
	}()
	if err := fn(&txn{tx: ptx}); err != nil {
		return err
	}
	finished = true
	if err := ptx.Commit(ctx); err != nil {
		return wrap("commit", err)
	}
	return nil
}

// txn is the store.Tx of one transaction.
type txn struct {
	tx pgx.Tx
}

var _ store.Tx = (*txn)(nil)

// exec runs a write and returns the number of rows it changed.
func (t *txn) exec(ctx context.Context, op, q string, args ...any) (int64, error) {
	tag, err := t.tx.Exec(ctx, q, args...)
	if err != nil {
		return 0, wrap(op, err)
	}
	return tag.RowsAffected(), nil
}

// execOne runs a write that must change exactly one row; none is
// store.ErrNotFound.
func (t *txn) execOne(ctx context.Context, op, q string, args ...any) error {
	n, err := t.exec(ctx, op, q, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("postgres: %s: %w", op, store.ErrNotFound)
	}
	return nil
}

// InsertToken stores a new token; an existing id is store.ErrDuplicate.
func (t *txn) InsertToken(ctx context.Context, tok store.Token) error {
	args, err := rowcodec.TokenArgs(tok)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "insert token", qInsertToken, args...)
	return err
}

// GetTokenForUpdate reads a token and locks its row until the transaction
// ends.
func (t *txn) GetTokenForUpdate(ctx context.Context, id string) (store.Token, error) {
	tok, err := rowcodec.ScanToken(t.tx.QueryRow(ctx, qGetTokenLocked, id))
	return tok, wrap("get token for update", err)
}

// ConsumeToken marks the token consumed and counts the use with one
// conditional UPDATE, so the check and the write are a single step that the
// row lock serialises.
func (t *txn) ConsumeToken(ctx context.Context, id, paymentID string, at time.Time) (int, error) {
	var attempts int
	err := t.tx.QueryRow(ctx, qConsumeToken, rowcodec.Nanos(at), paymentID, id).Scan(&attempts)
	if err == nil || !errors.Is(err, pgx.ErrNoRows) {
		return attempts, wrap("consume token", err)
	}
	if _, _, err := t.tokenOwner(ctx, id); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("postgres: consume token: %w", store.ErrTokenConsumed)
}

// tokenOwner says whether the token is consumed and by which payment;
// store.ErrNotFound if it does not exist.
func (t *txn) tokenOwner(ctx context.Context, id string) (consumed bool, paymentID string, err error) {
	err = t.tx.QueryRow(ctx, qTokenOwner, id).Scan(&consumed, &paymentID)
	return consumed, paymentID, wrap("token state", err)
}

// ReleaseToken makes the token usable again if paymentID consumed it. A
// token that is not consumed is left as it is (releasing twice is fine); one
// consumed by another payment is store.ErrTokenConsumed, and an unknown one
// store.ErrNotFound.
func (t *txn) ReleaseToken(ctx context.Context, id, paymentID string) error {
	return t.release(ctx, "release token", qReleaseToken, id, paymentID)
}

// ReopenToken makes the token usable again if paymentID consumed it,
// keeping its use counted; otherwise as ReleaseToken.
func (t *txn) ReopenToken(ctx context.Context, id, paymentID string) error {
	return t.release(ctx, "reopen token", qReopenToken, id, paymentID)
}

// release runs a release statement of paymentID's hold on the token.
func (t *txn) release(ctx context.Context, op, q, id, paymentID string) error {
	n, err := t.exec(ctx, op, q, id, paymentID)
	if err != nil || n == 1 {
		return err
	}
	consumed, _, err := t.tokenOwner(ctx, id)
	if err != nil {
		return err
	}
	if consumed {
		return fmt.Errorf("postgres: %s: consumed by another payment: %w", op, store.ErrTokenConsumed)
	}
	return nil
}

// DeleteTokenCVC sets the sealed CVC to NULL. The old row version stays in
// the table file until VACUUM reclaims it (and in the WAL and backups
// longer): the CVC is sealed under a key that is not in the database and
// that the gateway destroys with it (vault.CVCKeys).
func (t *txn) DeleteTokenCVC(ctx context.Context, id string) error {
	return t.execOne(ctx, "delete token cvc", qDeleteCVC, id)
}

// InsertPayment stores a new payment; an existing id is store.ErrDuplicate.
func (t *txn) InsertPayment(ctx context.Context, p store.Payment) error {
	args, err := rowcodec.PaymentArgs(p)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "insert payment", qInsertPayment, args...)
	return err
}

// GetPaymentForUpdate reads a payment and locks its row until the
// transaction ends.
func (t *txn) GetPaymentForUpdate(ctx context.Context, id string) (store.Payment, error) {
	p, err := rowcodec.ScanPayment(t.tx.QueryRow(ctx, qGetPaymentLock, id))
	return p, wrap("get payment for update", err)
}

// UpdatePayment writes the mutable fields of p: status, processor, its type
// and reference, decline, captured, refunded and pending amounts, fees,
// routing and updated_at.
func (t *txn) UpdatePayment(ctx context.Context, p store.Payment) error {
	args, err := rowcodec.PaymentUpdateArgs(p)
	if err != nil {
		return err
	}
	return t.execOne(ctx, "update payment", qUpdatePayment, args...)
}

// InsertAttempt stores a new attempt of an existing payment; a taken id,
// idempotency key or (payment, seq) is store.ErrDuplicate.
func (t *txn) InsertAttempt(ctx context.Context, a store.Attempt) error {
	args, err := rowcodec.AttemptArgs(a)
	if err != nil {
		return err
	}
	_, err = t.exec(ctx, "insert attempt", qInsertAttempt, args...)
	return err
}

// UpdateAttempt writes state, outcome, reference, error, latency,
// finished_at, deadline and the lease of a.
func (t *txn) UpdateAttempt(ctx context.Context, a store.Attempt) error {
	return t.execOne(ctx, "update attempt", qUpdateAttempt, rowcodec.AttemptUpdateArgs(a)...)
}

// SettleAttempt updates a only while it is pending; store.ErrSettled
// otherwise.
func (t *txn) SettleAttempt(ctx context.Context, a store.Attempt) error {
	n, err := t.exec(ctx, "settle attempt", qSettleAttempt, rowcodec.AttemptUpdateArgs(a)...)
	if err == nil && n == 0 {
		err = fmt.Errorf("postgres: settle attempt %s: %w", a.ID, store.ErrSettled)
	}
	return err
}

// ListAttempts returns the payment's attempts by seq, including those this
// transaction wrote.
func (t *txn) ListAttempts(ctx context.Context, paymentID string) ([]store.Attempt, error) {
	rows, err := t.tx.Query(ctx, qListAttempts, paymentID)
	return collect("list attempts", rows, err, rowcodec.ScanAttempt)
}

// InsertRefund stores a new refund of an existing payment.
func (t *txn) InsertRefund(ctx context.Context, r store.Refund) error {
	_, err := t.exec(ctx, "insert refund", qInsertRefund, rowcodec.RefundArgs(r)...)
	return err
}

// UpdateRefund writes the status, reference and updated_at of r.
func (t *txn) UpdateRefund(ctx context.Context, r store.Refund) error {
	return t.execOne(ctx, "update refund", qUpdateRefund, r.Status, r.Reference, rowcodec.Nanos(r.UpdatedAt), r.ID)
}

// ListRefunds returns the payment's refunds, oldest first.
func (t *txn) ListRefunds(ctx context.Context, paymentID string) ([]store.Refund, error) {
	rows, err := t.tx.Query(ctx, qListRefunds, paymentID)
	return collect("list refunds", rows, err, rowcodec.ScanRefund)
}

// CompleteIdempotency stores the response and marks the record done, in
// this transaction; a missing record is store.ErrNotFound.
func (t *txn) CompleteIdempotency(ctx context.Context, scope, key string, status int, body []byte) error {
	n, err := t.exec(ctx, "complete idempotency", qIdemComplete, scope, key, status, rowcodec.Blob(body))
	if err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("postgres: complete idempotency: %w", store.ErrNotFound)
	}
	return nil
}

// PendIdempotency marks a record pending and ends its lock at now.
func (t *txn) PendIdempotency(ctx context.Context, scope, key string, now time.Time) error {
	return t.execOne(ctx, "pend idempotency", qIdemPend, scope, key, now.UnixNano())
}

// AbandonIdempotency deletes an in-flight record; a done or pending record
// is kept and a missing one is no error.
func (t *txn) AbandonIdempotency(ctx context.Context, scope, key string) error {
	_, err := t.exec(ctx, "abandon idempotency", qIdemAbandon, scope, key)
	return err
}

// LinkIdempotency sets the resource id of an in-flight record; no record is
// no error.
func (t *txn) LinkIdempotency(ctx context.Context, scope, key, resourceID string) error {
	_, err := t.exec(ctx, "link idempotency", qIdemLink, scope, key, resourceID)
	return err
}

// InsertEvent stores a processor event once; a redelivery is
// store.ErrDuplicate.
func (t *txn) InsertEvent(ctx context.Context, e store.ProcessorEvent) error {
	_, err := t.exec(ctx, "insert event", qInsertEvent, rowcodec.EventArgs(e)...)
	return err
}

// InsertFeeRecord stores an actual fee once; a repeat is store.ErrDuplicate.
func (t *txn) InsertFeeRecord(ctx context.Context, f store.FeeRecord) error {
	_, err := t.exec(ctx, "insert fee record", qInsertFee, rowcodec.FeeArgs(f)...)
	return err
}

// ListFeeRecords returns the payment's fee records, including this
// transaction's.
func (t *txn) ListFeeRecords(ctx context.Context, paymentID string) ([]store.FeeRecord, error) {
	rows, err := t.tx.Query(ctx, qListFees, paymentID)
	return collect("list fee records", rows, err, rowcodec.ScanFee)
}

// InsertOutboxEvent stores a merchant event. Its seq comes from an
// identity column when the INSERT runs, after this transaction locked the
// payment (see store.Tx), so a payment's events are numbered in commit
// order.
func (t *txn) InsertOutboxEvent(ctx context.Context, e store.OutboxEvent) error {
	_, err := t.exec(ctx, "insert outbox event", qInsertOutbox, rowcodec.OutboxArgs(e)...)
	return err
}

// RedeliverOutboxEvent makes the event due at now, pending again as a
// replay if it was delivered or failed.
func (t *txn) RedeliverOutboxEvent(ctx context.Context, id string, now time.Time) error {
	return t.execOne(ctx, "redeliver outbox event", qRedeliver, now.UnixNano(), id)
}

// InsertAuthSession stores a new authentication session; an existing id is
// store.ErrDuplicate.
func (t *txn) InsertAuthSession(ctx context.Context, s store.AuthSession) error {
	_, err := t.exec(ctx, "insert auth session", qInsertAuth, rowcodec.AuthSessionArgs(s)...)
	return err
}

// GetAuthSession reads a session without locking it: UpdateAuthSession
// checks the version instead.
func (t *txn) GetAuthSession(ctx context.Context, id string) (store.AuthSession, error) {
	s, err := rowcodec.ScanAuthSession(t.tx.QueryRow(ctx, qGetAuth, id))
	return s, wrap("get auth session", err)
}

// UpdateAuthSession writes s over the version it was read at, with one
// conditional UPDATE; store.ErrChanged when another request wrote first.
func (t *txn) UpdateAuthSession(ctx context.Context, s store.AuthSession) error {
	n, err := t.exec(ctx, "update auth session", qUpdateAuth, rowcodec.AuthSessionUpdateArgs(s)...)
	if err != nil || n == 1 {
		return err
	}
	var one int
	if err := t.tx.QueryRow(ctx, qAuthExists, s.ID).Scan(&one); err != nil {
		return wrap("update auth session", err)
	}
	return fmt.Errorf("postgres: update auth session %s: %w", s.ID, store.ErrChanged)
}

// collect scans every row, closing rows.
func collect[T any](op string, rows pgx.Rows, err error, scan func(rowcodec.Scanner) (T, error)) ([]T, error) {
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
