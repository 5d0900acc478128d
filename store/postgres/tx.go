package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

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
// backoff. It also runs fn again, at once, when an idempotency key claimed
// ahead turns out taken (ClaimIdempotency). So fn may run more than once:
// it must do nothing but its work through tx and must compute what it writes
// from what it reads through tx (or from values it does not change). A
// failed COMMIT is never retried: the transaction may have committed.
//
// The statements of fn travel pipelined (see txn): BEGIN with the first
// one, and the writes that only must succeed with the next statement that
// answers or with COMMIT, so a write's error (ErrDuplicate, ErrNotFound,
// ErrSettled, ...) may come from Tx rather than from the call (store.Tx).
//
// fn must not call the Store's own methods while it holds tx if the pool is
// small: each would need a second connection.
func (s *Store) Tx(ctx context.Context, fn func(tx store.Tx) error) error {
	claimNow := false
	for attempt := 0; ; attempt++ {
		err := s.tx(ctx, fn, claimNow)
		if errors.Is(err, errClaimAgain) && !claimNow {
			// A key claimed ahead (see ClaimIdempotency) was taken, or fn
			// failed before the claim was known: run fn again, claiming
			// with the server's answer. Not a retry of a failure: at once,
			// and not counted.
			claimNow = true
			attempt--
			continue
		}
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

// tx runs fn once in a transaction. See txn for how its statements travel;
// claimNow makes ClaimIdempotency ask the server at once.
func (s *Store) tx(ctx context.Context, fn func(tx store.Tx) error, claimNow bool) (err error) {
	pc, err := s.pool.Acquire(ctx)
	if err != nil {
		return errBegin{wrap("begin", err)}
	}
	t := &txn{conn: pc.Conn(), claimNow: claimNow}
	defer func() {
		// Whatever happened (fn failed, panicked or called
		// runtime.Goexit; a write or the commit failed), a transaction
		// still open is rolled back, even if ctx has ended. The pool drops a
		// connection that is not idle after that (it broke).
		if st := t.conn.PgConn().TxStatus(); t.begun && st != 'I' && !t.conn.IsClosed() {
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
			_, _ = t.conn.Exec(rctx, "ROLLBACK")
			cancel()
		}
		pc.Release()
	}()
	ferr := fn(t)
	if t.failed != nil {
		// A deferred write failed: the call that made it had returned nil,
		// so the write's own error is the transaction's, as if the call had
		// returned it (see txn).
		return t.failed
	}
	if ferr != nil {
		if t.claimAhead && ctx.Err() == nil {
			// fn may have failed on a claim's answer that was not the
			// server's: find out by running it again (Tx). Not once ctx
			// has ended: fn's error says so.
			return fmt.Errorf("postgres: %w (fn failed: %v)", errClaimAgain, ferr)
		}
		return ferr
	}
	return t.commit(ctx)
}

// Statements the transaction itself sends.
const (
	beginSQL    = "BEGIN ISOLATION LEVEL READ COMMITTED"
	commitSQL   = "COMMIT"
	codeDivZero = "22012" // division_by_zero: a guarded write changed no row
)

// txn is the store.Tx of one transaction on one pooled connection. It cuts
// the round trips of a transaction by pipelining its statements (pgx.Batch:
// one write to the socket, one wake-up of the server, one read):
//
//   - BEGIN is not sent on its own: it goes with the transaction's first
//     statement.
//   - A write whose caller needs nothing back but success (the Insert...,
//     Update..., SettleAttempt, DeleteTokenCVC, the idempotency record's
//     Complete/Pend/Abandon/Link, ...) is queued, and sent with the next
//     statement that has to answer (a read) or with COMMIT. So is a claim
//     of an idempotency key, made ahead (see ClaimIdempotency). A
//     settlement is thus one round trip and an intent two.
//
// A queued write must still fail the transaction the way the call would
// have. A server error (a unique violation, a deadlock) stops the pipeline
// there: the server skips the rest of it, COMMIT included, until its Sync.
// A write that must change a row (store.ErrNotFound, store.ErrSettled when
// it changes none) is sent "guarded" (see guard): it divides by the number
// of rows it changed, so that zero rows is a server error too and COMMIT
// never runs after it. The first queued write that failed is recorded in
// failed with its store sentinel; every later call of fn fails (with an
// error that wraps no sentinel, so that fn takes no branch meant for its
// own result), and Store.Tx returns failed whatever fn returned, after
// rolling back. So fn sees a deferred write's error late, but Tx returns
// what it would have returned had fn stopped at the write: every caller
// returns a write's error as it is (store.Tx says why one must not carry
// on after it).
//
// When fn fails, the writes still queued are dropped with the rollback;
// fn's error is returned.
//
// A queued write's arguments are encoded when they are sent: a caller must
// not change a byte slice it passed until the transaction ends.
type txn struct {
	conn   *pgx.Conn
	begun  bool // BEGIN was sent
	queue  []queued
	failed error // the first queued write that failed, with its sentinel
	// claimNow makes ClaimIdempotency ask the server at once instead of
	// claiming ahead; claimAhead is set while a claim made ahead waits in
	// the queue, unconfirmed (see ClaimIdempotency).
	claimNow, claimAhead bool
	// tokens are the tokens read FOR NO KEY UPDATE in this transaction,
	// as this transaction left them: no other transaction can change
	// them before it ends, so ConsumeToken can know its answer without
	// asking (see ConsumeToken).
	tokens map[string]lockedToken
}

// lockedToken is what ConsumeToken needs of a token this transaction holds.
type lockedToken struct {
	consumed bool
	attempts int
}

// queued is a write waiting to be sent.
type queued struct {
	op   string
	sql  string
	args []any
	// none is the sentinel of a guarded write that changed no row; nil for
	// a write that may change none.
	none error
}

var _ store.Tx = (*txn)(nil)

// guard makes write q (an INSERT, UPDATE or DELETE without RETURNING) fail
// on the server with division_by_zero when it changes no row, instead of
// reporting 0 rows: a queued write's failure must be a server error so that
// the COMMIT sent after it in the same pipeline does not run.
func guard(q string) string {
	return "WITH w AS (" + q + " RETURNING 1) SELECT 1 / COUNT(*) FROM w"
}

// aborted is the error of a call made after a queued write failed: the
// server has aborted the transaction. It names the failure but wraps no
// store sentinel; Store.Tx returns the failure itself.
func (t *txn) aborted(op string) error {
	return fmt.Errorf("postgres: %s: the transaction was aborted by an earlier write: %v", op, t.failed)
}

// later queues a write to be sent with the transaction's next statement
// that answers, or with COMMIT. none, if not nil, is the error of changing
// no row (q is then a guarded statement).
func (t *txn) later(op, q string, none error, args ...any) error {
	if t.failed != nil {
		return t.aborted(op)
	}
	t.queue = append(t.queue, queued{op: op, sql: q, args: args, none: none})
	return nil
}

// queuedError is the error of queued write w that failed with err.
func queuedError(w queued, err error) error {
	var pe *pgconn.PgError
	if w.none != nil && errors.As(err, &pe) && pe.Code == codeDivZero {
		return fmt.Errorf("postgres: %s: %w", w.op, w.none)
	}
	return wrap(w.op, err)
}

// send sends, in one pipeline, BEGIN if it was not sent yet, the queued
// writes, and last with args (a statement whose answer the caller reads
// from the returned results, then closes them). It reads the answers of
// BEGIN and the writes; if one failed, it records the failure in t.failed,
// closes the results and returns BEGIN's error, or t.aborted for a write's
// (the caller's statement did not run).
func (t *txn) send(ctx context.Context, op, last string, args ...any) (pgx.BatchResults, error) {
	if t.failed != nil {
		return nil, t.aborted(op)
	}
	b := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, len(t.queue)+2)}
	begin := !t.begun
	if begin {
		b.Queue(beginSQL)
	}
	for _, w := range t.queue {
		b.Queue(w.sql, w.args...)
	}
	b.Queue(last, args...)
	t.begun = true
	br := t.conn.SendBatch(ctx, b)
	if begin {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			t.failed = beginError(err, last == commitSQL)
			return nil, t.failed
		}
	}
	for i, w := range t.queue {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			t.failed = queuedError(w, err)
			clear(t.queue[i:])
			t.queue = t.queue[:0]
			return nil, t.aborted(op)
		}
	}
	clear(t.queue)
	t.queue = t.queue[:0]
	t.claimAhead = false // a claim made ahead was sent and held
	return br, nil
}

// beginError is the error of a BEGIN sent with the statements after it.
// Running fn again on another connection is safe (errBegin) when nothing
// after BEGIN can have committed: the pipeline held no COMMIT, or the
// server refused BEGIN itself (a connection the server closed while it sat
// in the pool answers with the error it left there, before reading
// anything), or nothing was sent.
func beginError(err error, withCommit bool) error {
	var pe *pgconn.PgError
	werr := wrap("begin", err)
	if !withCommit || errors.As(err, &pe) || pgconn.SafeToRetry(err) {
		return errBegin{werr}
	}
	return werr
}

// direct reports whether a statement can go on its own, without a batch:
// the transaction has begun and no write waits.
func (t *txn) direct() bool { return t.begun && len(t.queue) == 0 && t.failed == nil }

// exec runs a write now and returns the number of rows it changed.
func (t *txn) exec(ctx context.Context, op, q string, args ...any) (int64, error) {
	if t.direct() {
		tag, err := t.conn.Exec(ctx, q, args...)
		if err != nil {
			return 0, wrap(op, err)
		}
		return tag.RowsAffected(), nil
	}
	br, err := t.send(ctx, op, q, args...)
	if err != nil {
		return 0, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, wrap(op, err)
	}
	return tag.RowsAffected(), nil
}

// queryRow runs a statement that answers with at most one row now. Its
// errors are unwrapped, as pgx's: the caller wraps them.
func (t *txn) queryRow(ctx context.Context, op, q string, args ...any) pgx.Row {
	if t.direct() {
		return t.conn.QueryRow(ctx, q, args...)
	}
	br, err := t.send(ctx, op, q, args...)
	return batchRow{br: br, err: err}
}

// query runs a statement that answers with rows now.
func (t *txn) query(ctx context.Context, op, q string, args ...any) (pgx.Rows, error) {
	if t.direct() {
		return t.conn.Query(ctx, q, args...)
	}
	br, err := t.send(ctx, op, q, args...)
	if err != nil {
		return nil, err
	}
	rows, err := br.Query()
	if err != nil {
		_ = br.Close()
		return nil, err
	}
	return &batchRows{Rows: rows, br: br}, nil
}

// commit sends COMMIT with the writes still queued (and BEGIN, if nothing
// was sent yet). A transaction that sent nothing and queued nothing has
// nothing to commit. A failed COMMIT is never retried: the transaction may
// have committed; a write that failed before it is (COMMIT did not run).
func (t *txn) commit(ctx context.Context) error {
	if !t.begun && len(t.queue) == 0 {
		return nil
	}
	var (
		tag pgconn.CommandTag
		err error
	)
	if t.direct() {
		tag, err = t.conn.Exec(ctx, commitSQL)
	} else {
		var br pgx.BatchResults
		if br, err = t.send(ctx, "commit", commitSQL); err != nil {
			return t.failed // BEGIN's or a queued write's failure
		}
		tag, err = br.Exec()
		if cerr := br.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return wrap("commit", err)
	}
	if tag.String() == "ROLLBACK" {
		// The server had aborted the transaction: a statement failed and fn
		// went on.
		return fmt.Errorf("postgres: commit: %w", pgx.ErrTxCommitRollback)
	}
	return nil
}

// batchRow is the pgx.Row of the last statement of a pipeline.
type batchRow struct {
	br  pgx.BatchResults
	err error
}

// Scan scans the statement's row and closes the pipeline's results.
func (r batchRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	err := r.br.QueryRow().Scan(dest...)
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return err
}

// batchRows are the pgx.Rows of the last statement of a pipeline; reading
// them to the end, or closing them, closes the pipeline's results.
type batchRows struct {
	pgx.Rows
	br  pgx.BatchResults
	err error
}

// Next advances to the next row, closing the results after the last.
func (r *batchRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

// Close closes the rows and the pipeline's results.
func (r *batchRows) Close() {
	r.Rows.Close()
	if r.br != nil {
		r.err = r.br.Close()
		r.br = nil
	}
}

// Err is the error of the rows or of closing the results.
func (r *batchRows) Err() error {
	if err := r.Rows.Err(); err != nil {
		return err
	}
	return r.err
}

// execOne queues a write that must change exactly one row; none is
// store.ErrNotFound, from Store.Tx. q is a guarded statement.
func (t *txn) execOne(op, q string, args ...any) error {
	return t.later(op, q, store.ErrNotFound, args...)
}

// InsertToken stores a new token; an existing id is store.ErrDuplicate. The
// write is queued (see txn).
func (t *txn) InsertToken(_ context.Context, tok store.Token) error {
	args, err := rowcodec.TokenArgs(tok)
	if err != nil {
		return err
	}
	return t.later("insert token", qInsertToken, nil, args...)
}

// GetTokenForUpdate reads a token and locks its row until the transaction
// ends.
func (t *txn) GetTokenForUpdate(ctx context.Context, id string) (store.Token, error) {
	tok, err := rowcodec.ScanToken(t.queryRow(ctx, "get token for update", qGetTokenLocked, id))
	if err != nil {
		return tok, wrap("get token for update", err)
	}
	if t.tokens == nil {
		t.tokens = make(map[string]lockedToken, 1)
	}
	t.tokens[id] = lockedToken{consumed: tok.ConsumedAt != nil, attempts: tok.Attempts}
	return tok, nil
}

// ConsumeToken marks the token consumed and counts the use with one
// conditional UPDATE, so the check and the write are a single step that the
// row lock serialises.
//
// A token this transaction read with GetTokenForUpdate is locked: no other
// transaction can consume, release or count it before this one ends. Its
// answer is then known here (consumed: store.ErrTokenConsumed; otherwise
// its attempts plus one), and the UPDATE is queued like any write, guarded
// so that a token found consumed after all fails the transaction with
// store.ErrTokenConsumed.
func (t *txn) ConsumeToken(ctx context.Context, id, paymentID string, at time.Time) (int, error) {
	if lt, ok := t.tokens[id]; ok && t.failed == nil {
		if lt.consumed {
			return 0, fmt.Errorf("postgres: consume token: %w", store.ErrTokenConsumed)
		}
		if err := t.later("consume token", gConsumeToken, store.ErrTokenConsumed, rowcodec.Nanos(at), paymentID, id); err != nil {
			return 0, err
		}
		lt.consumed, lt.attempts = true, lt.attempts+1
		t.tokens[id] = lt
		return lt.attempts, nil
	}
	var attempts int
	err := t.queryRow(ctx, "consume token", qConsumeToken, rowcodec.Nanos(at), paymentID, id).Scan(&attempts)
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
	err = t.queryRow(ctx, "token state", qTokenOwner, id).Scan(&consumed, &paymentID)
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

// release runs a release statement of paymentID's hold on the token, at
// once: its answer decides its error.
func (t *txn) release(ctx context.Context, op, q, id, paymentID string) error {
	delete(t.tokens, id) // ConsumeToken asks the server again
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

// DeleteTokenCVC sets the sealed CVC to NULL; an unknown token is
// store.ErrNotFound, from Store.Tx (the write is queued, see txn). The old
// row version stays in the table file until VACUUM reclaims it (and in the
// WAL and backups longer): the CVC is sealed under a key that is not in the
// database and that the gateway destroys with it (vault.CVCKeys).
func (t *txn) DeleteTokenCVC(_ context.Context, id string) error {
	return t.execOne("delete token cvc", gDeleteCVC, id)
}

// InsertPayment stores a new payment; an existing id is store.ErrDuplicate.
// The write is queued (see txn).
func (t *txn) InsertPayment(_ context.Context, p store.Payment) error {
	args, err := rowcodec.PaymentArgs(p)
	if err != nil {
		return err
	}
	return t.later("insert payment", qInsertPayment, nil, args...)
}

// GetPaymentForUpdate reads a payment and locks its row until the
// transaction ends.
func (t *txn) GetPaymentForUpdate(ctx context.Context, id string) (store.Payment, error) {
	p, err := rowcodec.ScanPayment(t.queryRow(ctx, "get payment for update", qGetPaymentLock, id))
	return p, wrap("get payment for update", err)
}

// UpdatePayment writes the mutable fields of p: status, processor, its type
// and reference, decline, captured, refunded and pending amounts, fees,
// routing and updated_at. The write is queued (see txn).
func (t *txn) UpdatePayment(_ context.Context, p store.Payment) error {
	args, err := rowcodec.PaymentUpdateArgs(p)
	if err != nil {
		return err
	}
	return t.execOne("update payment", gUpdatePayment, args...)
}

// InsertAttempt stores a new attempt of an existing payment; a taken id,
// idempotency key or (payment, seq) is store.ErrDuplicate. The write is
// queued (see txn).
func (t *txn) InsertAttempt(_ context.Context, a store.Attempt) error {
	args, err := rowcodec.AttemptArgs(a)
	if err != nil {
		return err
	}
	return t.later("insert attempt", qInsertAttempt, nil, args...)
}

// UpdateAttempt writes state, outcome, reference, error, latency,
// finished_at, deadline and the lease of a. The write is queued (see txn).
func (t *txn) UpdateAttempt(_ context.Context, a store.Attempt) error {
	return t.execOne("update attempt", gUpdateAttempt, rowcodec.AttemptUpdateArgs(a)...)
}

// SettleAttempt updates a only while it is pending; store.ErrSettled
// otherwise, from Store.Tx (the write is queued, see txn).
func (t *txn) SettleAttempt(_ context.Context, a store.Attempt) error {
	return t.later("settle attempt", gSettleAttempt, store.ErrSettled,
		append(rowcodec.AttemptUpdateArgs(a), string(store.AttemptPending))...)
}

// ListAttempts returns the payment's attempts by seq, including those this
// transaction wrote.
func (t *txn) ListAttempts(ctx context.Context, paymentID string) ([]store.Attempt, error) {
	rows, err := t.query(ctx, "list attempts", qListAttempts, paymentID)
	return collect("list attempts", rows, err, rowcodec.ScanAttempt)
}

// InsertRefund stores a new refund of an existing payment. The write is
// queued (see txn).
func (t *txn) InsertRefund(_ context.Context, r store.Refund) error {
	return t.later("insert refund", qInsertRefund, nil, rowcodec.RefundArgs(r)...)
}

// UpdateRefund writes the status, reference and updated_at of r. The write
// is queued (see txn).
func (t *txn) UpdateRefund(_ context.Context, r store.Refund) error {
	return t.execOne("update refund", gUpdateRefund, r.Status, r.Reference, rowcodec.Nanos(r.UpdatedAt), r.ID)
}

// ListRefunds returns the payment's refunds, oldest first.
func (t *txn) ListRefunds(ctx context.Context, paymentID string) ([]store.Refund, error) {
	rows, err := t.query(ctx, "list refunds", qListRefunds, paymentID)
	return collect("list refunds", rows, err, rowcodec.ScanRefund)
}

// CompleteIdempotency stores the response and marks the record done, in
// this transaction; a missing record is store.ErrNotFound, from Store.Tx
// (the write is queued, see txn).
func (t *txn) CompleteIdempotency(_ context.Context, scope, key string, status int, body []byte) error {
	return t.execOne("complete idempotency", gIdemComplete, scope, key, status, rowcodec.Blob(body))
}

// PendIdempotency marks a record pending and ends its lock at now; a
// missing record is store.ErrNotFound, from Store.Tx (the write is queued).
func (t *txn) PendIdempotency(_ context.Context, scope, key string, now time.Time) error {
	return t.execOne("pend idempotency", gIdemPend, scope, key, now.UnixNano())
}

// AbandonIdempotency deletes an in-flight record; a done or pending record
// is kept and a missing one is no error. The write is queued (see txn).
func (t *txn) AbandonIdempotency(_ context.Context, scope, key string) error {
	return t.later("abandon idempotency", qIdemAbandon, nil, scope, key)
}

// LinkIdempotency sets the resource id of an in-flight record; no record is
// no error. The write is queued (see txn).
func (t *txn) LinkIdempotency(_ context.Context, scope, key, resourceID string) error {
	return t.later("link idempotency", qIdemLink, nil, scope, key, resourceID)
}

// InsertEvent stores a processor event once; a redelivery is
// store.ErrDuplicate, from Store.Tx (the write is queued, see txn).
func (t *txn) InsertEvent(_ context.Context, e store.ProcessorEvent) error {
	return t.later("insert event", qInsertEvent, nil, rowcodec.EventArgs(e)...)
}

// InsertFeeRecord stores an actual fee once; a repeat is store.ErrDuplicate,
// from Store.Tx (the write is queued, see txn).
func (t *txn) InsertFeeRecord(_ context.Context, f store.FeeRecord) error {
	return t.later("insert fee record", qInsertFee, nil, rowcodec.FeeArgs(f)...)
}

// ListFeeRecords returns the payment's fee records, including this
// transaction's.
func (t *txn) ListFeeRecords(ctx context.Context, paymentID string) ([]store.FeeRecord, error) {
	rows, err := t.query(ctx, "list fee records", qListFees, paymentID)
	return collect("list fee records", rows, err, rowcodec.ScanFee)
}

// InsertOutboxEvent stores a merchant event. Its seq comes from an
// identity column when the INSERT runs, after this transaction locked the
// payment (see store.Tx), so a payment's events are numbered in commit
// order; queuing the write (see txn) keeps it after the lock, since the
// server runs a transaction's statements in the order they were made.
func (t *txn) InsertOutboxEvent(_ context.Context, e store.OutboxEvent) error {
	return t.later("insert outbox event", qInsertOutbox, nil, rowcodec.OutboxArgs(e)...)
}

// RedeliverOutboxEvent makes the event due at now, pending again as a
// replay if it was delivered or failed; an unknown event is
// store.ErrNotFound, from Store.Tx (the write is queued, see txn).
func (t *txn) RedeliverOutboxEvent(_ context.Context, id string, now time.Time) error {
	return t.execOne("redeliver outbox event", gRedeliver, now.UnixNano(), id)
}

// InsertAuthSession stores a new authentication session; an existing id is
// store.ErrDuplicate, from Store.Tx (the write is queued, see txn).
func (t *txn) InsertAuthSession(_ context.Context, s store.AuthSession) error {
	return t.later("insert auth session", qInsertAuth, nil, rowcodec.AuthSessionArgs(s)...)
}

// GetAuthSession reads a session without locking it: UpdateAuthSession
// checks the version instead.
func (t *txn) GetAuthSession(ctx context.Context, id string) (store.AuthSession, error) {
	s, err := rowcodec.ScanAuthSession(t.queryRow(ctx, "get auth session", qGetAuth, id))
	return s, wrap("get auth session", err)
}

// UpdateAuthSession writes s over the version it was read at, with one
// conditional UPDATE; store.ErrChanged when another request wrote first.
// It runs at once: callers branch on store.ErrChanged and go on.
func (t *txn) UpdateAuthSession(ctx context.Context, s store.AuthSession) error {
	n, err := t.exec(ctx, "update auth session", qUpdateAuth, rowcodec.AuthSessionUpdateArgs(s)...)
	if err != nil || n == 1 {
		return err
	}
	var one int
	if err := t.queryRow(ctx, "update auth session", qAuthExists, s.ID).Scan(&one); err != nil {
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
