package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"

	"acpgw/store/rowcodec"
)

// Column lists, in the order of the shared row codec.
const (
	tokenCols   = rowcodec.TokenColumns
	paymentCols = rowcodec.PaymentColumns
	attemptCols = rowcodec.AttemptColumns
	refundCols  = rowcodec.RefundColumns
	idemCols    = rowcodec.IdemColumns
	feeCols     = rowcodec.FeeColumns
	eventCols   = rowcodec.EventColumns
	outboxCols  = rowcodec.OutboxColumns
	authCols    = rowcodec.AuthSessionColumns
)

// The statements. Every one is prepared once: the read ones on the read
// pool at Open, all of them on the writer's connection when it first runs a
// batch (batch.go), so that no SQL is compiled on the hot path.
const (
	qGetToken     = `SELECT ` + tokenCols + ` FROM tokens WHERE id = ?`
	qGetPayment   = `SELECT ` + paymentCols + ` FROM payments WHERE id = ?`
	qListAttempts = `SELECT ` + attemptCols + ` FROM attempts WHERE payment_id = ? ORDER BY seq`
	qGetAttempt   = `SELECT ` + attemptCols + ` FROM attempts WHERE id = ?`
	qListRefunds  = `SELECT ` + refundCols + ` FROM refunds WHERE payment_id = ? ORDER BY created_at, id`
	qGetIdem      = `SELECT ` + idemCols + ` FROM idempotency WHERE scope = ? AND key = ?`

	qInsertToken = `INSERT INTO tokens (` + tokenCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	// qConsumeToken checks, takes and counts in one statement.
	qConsumeToken = `UPDATE tokens SET consumed_at = ?, payment_id = ?, attempts = attempts + 1
	WHERE id = ? AND consumed_at IS NULL RETURNING attempts`
	qTokenOwner   = `SELECT consumed_at IS NOT NULL, payment_id FROM tokens WHERE id = ?`
	qReleaseToken = `UPDATE tokens SET consumed_at = NULL, payment_id = '', attempts = max(attempts - 1, 0)
	WHERE id = ? AND consumed_at IS NOT NULL AND payment_id = ?`
	qReopenToken = `UPDATE tokens SET consumed_at = NULL, payment_id = '' WHERE id = ? AND consumed_at IS NOT NULL AND payment_id = ?`
	qDeleteCVC   = `UPDATE tokens SET cvc = NULL WHERE id = ?`
	// qEraseCVCs finds its rows through the partial index tokens_cvc.
	qEraseCVCs = `UPDATE tokens SET cvc = NULL WHERE id IN (SELECT id FROM tokens
		WHERE cvc IS NOT NULL AND created_at < ? ORDER BY created_at LIMIT ?)`

	qInsertPayment = `INSERT INTO payments (` + paymentCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qUpdatePayment = `UPDATE payments SET status = ?, processor = ?, processor_type = ?, processor_reference = ?,
	decline = ?, captured_amount = ?, refunded_amount = ?, refund_pending = ?, fee_estimated = ?, fee_actual = ?,
	fee_currency = ?, routing = ?, updated_at = ?, dispute = ? WHERE id = ?`

	qInsertAttempt = `INSERT INTO attempts (` + attemptCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qUpdateAttempt = `UPDATE attempts SET state = ?, outcome = ?, reference = ?, error = ?, latency_ms = ?,
	finished_at = ?, lease_owner = ?, lease_until = ?, deadline = ? WHERE id = ?`
	qSettleAttempt = qUpdateAttempt + ` AND state = 'pending'`
	// qLease claims in one statement; the literal 'pending' lets SQLite use
	// the partial index attempts_pending. An attempt without a deadline
	// (written before migration 0005) gets started_at + the given allowance.
	qLease = `UPDATE attempts SET lease_owner = ?, lease_until = ?
	WHERE id IN (SELECT id FROM attempts
		WHERE state = 'pending' AND started_at < ? AND COALESCE(deadline, started_at + ?) < ?
			AND (lease_until IS NULL OR lease_until <= ?)
		ORDER BY started_at, id LIMIT ?)
	RETURNING ` + attemptCols

	qReturnLease = `UPDATE attempts SET lease_owner = '', lease_until = NULL, deadline = ?
	WHERE id = ? AND state = 'pending' AND lease_owner = ?`

	qInsertRefund = `INSERT INTO refunds (` + refundCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	qUpdateRefund = `UPDATE refunds SET status = ?, reference = ?, updated_at = ? WHERE id = ?`

	qIdemInsert = `INSERT INTO idempotency (` + idemCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (scope, key) DO NOTHING`
	// qIdemReplace takes the arguments of qIdemInsert.
	qIdemReplace = `UPDATE idempotency SET request_hash = ?3, api_version = ?4, state = ?5, resource_id = ?6,
	status = ?7, body = ?8, locked_until = ?9, created_at = ?10, expires_at = ?11 WHERE scope = ?1 AND key = ?2`
	qIdemTakeOver = `UPDATE idempotency SET request_hash = ?, locked_until = ?, expires_at = ?
	WHERE scope = ? AND key = ?`
	qIdemComplete = `UPDATE idempotency SET state = 'done', status = ?, body = ? WHERE scope = ? AND key = ?`
	qIdemPend     = `UPDATE idempotency SET state = 'pending', status = 0, body = NULL, locked_until = ? WHERE scope = ? AND key = ?`
	qIdemAbandon  = `DELETE FROM idempotency WHERE scope = ? AND key = ? AND state = 'in_flight'`
	qIdemPurge    = `DELETE FROM idempotency WHERE rowid IN (SELECT rowid FROM idempotency
		WHERE expires_at < ? ORDER BY expires_at LIMIT ?)`
	qIdemLink = `UPDATE idempotency SET resource_id = ? WHERE scope = ? AND key = ? AND state = 'in_flight'`

	qInsertOutbox = `INSERT INTO outbox_events (` + rowcodec.OutboxInsertColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qGetOutbox    = `SELECT ` + outboxCols + ` FROM outbox_events WHERE id = ?`
	qListOutbox   = `SELECT ` + outboxCols + ` FROM outbox_events
	WHERE merchant_id = ? AND (? = '' OR payment_id = ?) AND (? = '' OR type = ?) AND (? = 0 OR seq < ?)
	ORDER BY seq DESC LIMIT ?`
	// qLeaseOutbox claims in one statement. An event is held back while an
	// earlier event of its payment is pending (per-payment order), unless
	// either is a replay; the literal 'pending' lets SQLite use the partial
	// index outbox_due.
	qLeaseOutbox = `UPDATE outbox_events SET lease_owner = ?, lease_until = ?
	WHERE seq IN (SELECT e.seq FROM outbox_events e
		WHERE e.state = 'pending' AND e.next_attempt_at <= ? AND (e.lease_until IS NULL OR e.lease_until <= ?)
		AND (e.replay = 1 OR NOT EXISTS (SELECT 1 FROM outbox_events b
			WHERE b.payment_id = e.payment_id AND b.seq < e.seq AND b.state = 'pending' AND b.replay = 0))
		ORDER BY e.next_attempt_at, e.seq LIMIT ?)
	RETURNING ` + outboxCols
	qRecordOutbox = `UPDATE outbox_events SET state = ?, attempts = attempts + 1, next_attempt_at = ?, last_status = ?,
	last_error = ?, delivered_at = ?, lease_owner = '', lease_until = NULL
	WHERE id = ? AND lease_owner = ? RETURNING attempts`
	qInsertDelivery = `INSERT INTO outbox_deliveries (` + rowcodec.DeliveryColumns + `) VALUES (?, ?, ?, ?, ?, ?)`
	qListDeliveries = `SELECT ` + rowcodec.DeliveryColumns + ` FROM outbox_deliveries WHERE event_id = ? ORDER BY n`
	qRedeliver      = `UPDATE outbox_events SET replay = CASE WHEN state = 'pending' THEN replay ELSE 1 END,
	since = CASE WHEN state = 'pending' THEN since ELSE ? END, state = 'pending', next_attempt_at = ? WHERE id = ?`
	// qBacklog reads the pending events alone, through the partial index
	// outbox_due. Left to choose, SQLite read every event through
	// outbox_merchant, in the GROUP BY's order, to save sorting the few
	// pending ones: 480 ms a read with 200,000 events delivered, every
	// backlogEvery (TestLookupsUseIndexes).
	qBacklog = `SELECT ` + rowcodec.BacklogColumns + ` FROM outbox_events INDEXED BY outbox_due
	WHERE state = 'pending' GROUP BY merchant_id`
	// qPurgeDeliveries and qPurgeOutbox delete, in one transaction, the
	// deliveries of a batch of settled events and then the events: the
	// oldest up to a limit, named through the partial index outbox_settled
	// (INDEXED BY: a whole read of outbox_events would grow with every
	// event kept). Both pick the same rows, since nothing else writes
	// between them.
	qPurgeDeliveries = `DELETE FROM outbox_deliveries WHERE event_id IN (SELECT id FROM outbox_events
		INDEXED BY outbox_settled WHERE state <> 'pending' AND created_at < ? ORDER BY created_at, seq LIMIT ?)`
	qPurgeOutbox = `DELETE FROM outbox_events WHERE seq IN (SELECT seq FROM outbox_events
		INDEXED BY outbox_settled WHERE state <> 'pending' AND created_at < ? ORDER BY created_at, seq LIMIT ?)`

	qInsertAuth = `INSERT INTO auth_sessions (` + authCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qGetAuth    = `SELECT ` + authCols + ` FROM auth_sessions WHERE id = ?`
	// qUpdateAuth writes only over the version read: of two requests that
	// read one version, the second changes nothing.
	qUpdateAuth = `UPDATE auth_sessions SET status = ?, checkout_session_id = ?, key_id = ?, credential = ?, details = ?,
	action = ?, result_key_id = ?, result = ?, state = ?, step = ?, step_until = ?, updated_at = ?, version = ?
	WHERE id = ? AND version = ?`
	qAuthExists = `SELECT 1 FROM auth_sessions WHERE id = ?`
	// qExpireAuth finds its rows through the partial index
	// auth_sessions_open; a session still holds its card until it is final.
	qExpireAuth = `UPDATE auth_sessions SET status = 'expired', credential = NULL, action = NULL, step = '',
	step_until = NULL, updated_at = ?, version = version + 1
	WHERE id IN (SELECT id FROM auth_sessions WHERE credential IS NOT NULL AND expires_at <= ?
		AND status IN ('action_required', 'pending') ORDER BY expires_at LIMIT ?)
	RETURNING ` + authCols

	// The savepoint of each transaction that shares a group commit
	// (batch.go); prepared like the rest, so that a batch compiles no SQL.
	qSavepoint  = `SAVEPOINT fn`
	qRelease    = `RELEASE fn`
	qRollbackTo = `ROLLBACK TO fn`

	qInsertEvent = `INSERT INTO processor_events (` + eventCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	qInsertFee   = `INSERT INTO fee_records (` + feeCols + `) VALUES (?, ?, ?, ?, ?, ?, ?)`
	qListFees    = `SELECT ` + feeCols + ` FROM fee_records WHERE payment_id = ? ORDER BY created_at, source, source_ref`
	// qPaymentByRef finds the payment through attempts_reference: the
	// reference a payment holds is also on the attempt that received it.
	// The literal condition lets SQLite use that partial index.
	qPaymentByRef = `SELECT ` + paymentCols + ` FROM payments
	WHERE id = (SELECT payment_id FROM attempts WHERE reference = ? AND reference != '' AND processor = ? LIMIT 1)`
	qListPayments = `SELECT ` + paymentCols + ` FROM payments WHERE created_at >= ? AND created_at < ? AND (? = '' OR merchant_id = ?) AND (created_at > ? OR (created_at = ? AND id > ?)) ORDER BY created_at, id LIMIT ?`
)

// stmtSet holds prepared statements, one field per query: the read
// pool's (stmts, database/sql statements, the read queries only) and the
// writer's (wstmts, on its driver connection, every query; raw.go).
type stmtSet[T any] struct {
	getToken, getPayment, getAttempt, listAttempts, listRefunds, getIdem T

	insertToken, consumeToken, tokenOwner, releaseToken, deleteCVC T
	reopenToken                                                    T
	eraseCVCs                                                      T
	insertPayment, updatePayment                                   T
	insertAttempt, updateAttempt, settleAttempt, lease             T
	returnLease                                                    T
	insertRefund, updateRefund                                     T
	idemInsert, idemReplace, idemTakeOver, idemComplete            T
	idemAbandon, idemPurge, idemLink, idemPend                     T
	insertEvent, insertFee, listFees                               T
	savepoint, release, rollbackTo                                 T
	paymentByRef, listPayments                                     T
	insertOutbox, getOutbox, listOutbox, leaseOutbox, recordOutbox T
	insertDelivery, listDeliveries, redeliver, backlog             T
	purgeDeliveries, purgeOutbox                                   T
	insertAuth, getAuth, updateAuth, authExists, expireAuth        T
}

type (
	stmts  = stmtSet[*sql.Stmt]
	wstmts = stmtSet[*rawStmt]
)

type stmtEntry[T any] struct {
	dst *T
	q   string
}

// entries lists the fields of the read queries, and of the write ones too
// if write is set, with their queries.
func (st *stmtSet[T]) entries(write bool) []stmtEntry[T] {
	list := []stmtEntry[T]{
		{&st.getToken, qGetToken},
		{&st.getPayment, qGetPayment},
		{&st.listAttempts, qListAttempts},
		{&st.getAttempt, qGetAttempt},
		{&st.listRefunds, qListRefunds},
		{&st.getIdem, qGetIdem},
		{&st.listFees, qListFees},
		{&st.paymentByRef, qPaymentByRef},
		{&st.listPayments, qListPayments},
		{&st.getOutbox, qGetOutbox},
		{&st.listOutbox, qListOutbox},
		{&st.listDeliveries, qListDeliveries},
		{&st.backlog, qBacklog},
		{&st.getAuth, qGetAuth},
	}
	if write {
		list = append(list,
			stmtEntry[T]{&st.insertToken, qInsertToken},
			stmtEntry[T]{&st.consumeToken, qConsumeToken},
			stmtEntry[T]{&st.tokenOwner, qTokenOwner},
			stmtEntry[T]{&st.releaseToken, qReleaseToken},
			stmtEntry[T]{&st.reopenToken, qReopenToken},
			stmtEntry[T]{&st.deleteCVC, qDeleteCVC},
			stmtEntry[T]{&st.eraseCVCs, qEraseCVCs},
			stmtEntry[T]{&st.insertPayment, qInsertPayment},
			stmtEntry[T]{&st.updatePayment, qUpdatePayment},
			stmtEntry[T]{&st.insertAttempt, qInsertAttempt},
			stmtEntry[T]{&st.updateAttempt, qUpdateAttempt},
			stmtEntry[T]{&st.settleAttempt, qSettleAttempt},
			stmtEntry[T]{&st.lease, qLease},
			stmtEntry[T]{&st.returnLease, qReturnLease},
			stmtEntry[T]{&st.insertRefund, qInsertRefund},
			stmtEntry[T]{&st.updateRefund, qUpdateRefund},
			stmtEntry[T]{&st.idemInsert, qIdemInsert},
			stmtEntry[T]{&st.idemReplace, qIdemReplace},
			stmtEntry[T]{&st.idemTakeOver, qIdemTakeOver},
			stmtEntry[T]{&st.idemComplete, qIdemComplete},
			stmtEntry[T]{&st.idemAbandon, qIdemAbandon},
			stmtEntry[T]{&st.idemPurge, qIdemPurge},
			stmtEntry[T]{&st.idemLink, qIdemLink},
			stmtEntry[T]{&st.idemPend, qIdemPend},
			stmtEntry[T]{&st.savepoint, qSavepoint},
			stmtEntry[T]{&st.release, qRelease},
			stmtEntry[T]{&st.rollbackTo, qRollbackTo},
			stmtEntry[T]{&st.insertEvent, qInsertEvent},
			stmtEntry[T]{&st.insertFee, qInsertFee},
			stmtEntry[T]{&st.insertOutbox, qInsertOutbox},
			stmtEntry[T]{&st.leaseOutbox, qLeaseOutbox},
			stmtEntry[T]{&st.recordOutbox, qRecordOutbox},
			stmtEntry[T]{&st.insertDelivery, qInsertDelivery},
			stmtEntry[T]{&st.redeliver, qRedeliver},
			stmtEntry[T]{&st.purgeDeliveries, qPurgeDeliveries},
			stmtEntry[T]{&st.purgeOutbox, qPurgeOutbox},
			stmtEntry[T]{&st.insertAuth, qInsertAuth},
			stmtEntry[T]{&st.updateAuth, qUpdateAuth},
			stmtEntry[T]{&st.authExists, qAuthExists},
			stmtEntry[T]{&st.expireAuth, qExpireAuth},
		)
	}
	return list
}

// prepareReads prepares the read statements on the read pool db.
func prepareReads(ctx context.Context, st *stmts, db *sql.DB) error {
	for _, e := range st.entries(false) {
		s, err := db.PrepareContext(ctx, e.q)
		if err != nil {
			closeReads(st)
			return wrap(fmt.Sprintf("prepare %.40q", e.q), err)
		}
		*e.dst = s
	}
	return nil
}

// closeReads closes the read pool's statements; a read after it fails as
// database/sql fails a closed statement.
func closeReads(st *stmts) {
	for _, e := range st.entries(false) {
		if *e.dst != nil {
			_ = (*e.dst).Close()
		}
	}
}

// prepareWrites prepares every statement on the writer's driver
// connection dc.
func prepareWrites(ctx context.Context, st *wstmts, dc driver.Conn) error {
	for _, e := range st.entries(true) {
		ds, err := dc.(driver.ConnPrepareContext).PrepareContext(ctx, e.q)
		if err != nil {
			closeWrites(st)
			return wrap(fmt.Sprintf("prepare %.40q", e.q), err)
		}
		*e.dst = &rawStmt{ds: ds}
	}
	return nil
}

// closeWrites closes the writer's statements; it runs on the connection
// they were prepared on.
func closeWrites(st *wstmts) {
	for _, e := range st.entries(true) {
		if *e.dst != nil {
			_ = (*e.dst).ds.Close()
			*e.dst = nil
		}
	}
}
