package postgres

import (
	"strings"

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

// qualify prefixes every column of cols with alias.
func qualify(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = alias + "." + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

// The statements. pgx prepares each one on a connection the first time it
// runs there and keeps it in the connection's statement cache, so the hot
// path sends only Bind and Execute.
//
// The ...ForUpdate reads lock with FOR NO KEY UPDATE: it excludes every
// other writer of the row (UPDATE takes the same lock) but not the FOR KEY
// SHARE lock that inserting an attempt or refund takes on its payment for the
// foreign key, so recording an attempt never waits for, or deadlocks with, a
// transaction that only holds the payment.
var (
	qGetToken       = `SELECT ` + tokenCols + ` FROM tokens WHERE id = $1`
	qGetTokenLocked = qGetToken + ` FOR NO KEY UPDATE`
	qGetPayment     = `SELECT ` + paymentCols + ` FROM payments WHERE id = $1`
	qGetPaymentLock = qGetPayment + ` FOR NO KEY UPDATE`
	qListAttempts   = `SELECT ` + attemptCols + ` FROM attempts WHERE payment_id = $1 ORDER BY seq`
	qGetAttempt     = `SELECT ` + attemptCols + ` FROM attempts WHERE id = $1`
	qListRefunds    = `SELECT ` + refundCols + ` FROM refunds WHERE payment_id = $1 ORDER BY created_at, id`
	qGetIdem        = `SELECT ` + idemCols + ` FROM idempotency WHERE scope = $1 AND key = $2`
	qGetIdemLocked  = qGetIdem + ` FOR UPDATE`
	qSchemaVersion  = `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`

	qInsertToken = `INSERT INTO tokens (` + tokenCols + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)`
	// qConsumeToken is the single-use guarantee: of two transactions
	// consuming one token, the second waits for the first's row lock, then
	// re-checks consumed_at IS NULL on the committed row and changes nothing.
	// It counts the use in the same statement.
	qConsumeToken = qConsume + ` RETURNING attempts`
	qConsume      = `UPDATE tokens SET consumed_at = $1, payment_id = $2, attempts = attempts + 1
	WHERE id = $3 AND consumed_at IS NULL`
	qTokenOwner   = `SELECT consumed_at IS NOT NULL, payment_id FROM tokens WHERE id = $1`
	qReleaseToken = `UPDATE tokens SET consumed_at = NULL, payment_id = '', attempts = GREATEST(attempts - 1, 0)
	WHERE id = $1 AND consumed_at IS NOT NULL AND payment_id = $2`
	qReopenToken = `UPDATE tokens SET consumed_at = NULL, payment_id = ''
	WHERE id = $1 AND consumed_at IS NOT NULL AND payment_id = $2`
	qDeleteCVC = `UPDATE tokens SET cvc = NULL WHERE id = $1`
	// qEraseCVCs finds its rows through the partial index tokens_cvc and
	// skips a token a payment holds locked: the next sweep takes it.
	// qEraseCVCs names its batch by = ANY of an array, as the leases do
	// (TestLeasesUseTheirIndexes): with IN, the planner may read the whole
	// table into a hash.
	qEraseCVCs = `UPDATE tokens t SET cvc = NULL WHERE t.id = ANY (ARRAY(SELECT c.id FROM tokens c
		WHERE c.cvc IS NOT NULL AND c.created_at < $1 ORDER BY c.created_at LIMIT $2 FOR UPDATE SKIP LOCKED))`

	qInsertPayment = `INSERT INTO payments (` + paymentCols + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)`
	qUpdatePayment = `UPDATE payments SET status = $1, processor = $2, processor_type = $3, processor_reference = $4,
	decline = $5, captured_amount = $6, refunded_amount = $7, refund_pending = $8, fee_estimated = $9, fee_actual = $10,
	fee_currency = $11, routing = $12, updated_at = $13, dispute = $14 WHERE id = $15`

	qInsertAttempt = `INSERT INTO attempts (` + attemptCols + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20)`
	qUpdateAttempt = `UPDATE attempts SET state = $1, outcome = $2, reference = $3, error = $4, latency_ms = $5,
	finished_at = $6, lease_owner = $7, lease_until = $8, deadline = $9 WHERE id = $10`
	// qSettleAttempt changes only a pending attempt. The state is a
	// parameter ($11, always store.AttemptPending), not the literal: with
	// the literal, the predicate of the partial index attempts_pending
	// (started_at, id) WHERE state = 'pending' held, its id column matched,
	// and the planner, finding it smaller, chose it over the primary key.
	// Its plan, cached for the connection, then walked the whole index (every
	// attempt still pending, and the dead entries of those settled since the
	// last VACUUM) at every settlement: a fifth of PostgreSQL's CPU in the
	// bench, growing with the table. qReturnLease likewise.
	qSettleAttempt = qUpdateAttempt + ` AND state = $11`
	// qLease claims in one statement. SKIP LOCKED passes over the attempts
	// another leaser is claiming at this moment; an attempt whose claim
	// committed after this statement's snapshot is locked anyway, but READ
	// COMMITTED re-checks the WHERE clause on the committed row, finds the
	// lease running and drops it. The literal 'pending' lets the planner use
	// the partial index attempts_pending. An attempt without a deadline
	// (written before migration 0005) gets started_at + the given allowance.
	// The claimed rows are named by = ANY of an array, not joined: joined,
	// with many attempts pending and the table analysed, the planner read
	// the whole table into a hash (5.7 ms a lease with 20,000 pending, 0.25
	// now; TestLeasesUseTheirIndexes).
	qLease = `UPDATE attempts a SET lease_owner = $1, lease_until = $2
	WHERE a.id = ANY (ARRAY(SELECT c.id FROM attempts c
		WHERE c.state = 'pending' AND c.started_at < $3 AND COALESCE(c.deadline, c.started_at + $4) < $5
			AND (c.lease_until IS NULL OR c.lease_until <= $6)
		ORDER BY c.started_at, c.id LIMIT $7
		FOR UPDATE SKIP LOCKED))
	RETURNING ` + qualify("a", attemptCols)

	qReturnLease = `UPDATE attempts SET lease_owner = '', lease_until = NULL, deadline = $1
	WHERE id = $2 AND state = $4 AND lease_owner = $3`

	qInsertRefund = `INSERT INTO refunds (` + refundCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	qUpdateRefund = `UPDATE refunds SET status = $1, reference = $2, updated_at = $3 WHERE id = $4`

	qIdemInsert = `INSERT INTO idempotency (` + idemCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
	ON CONFLICT (scope, key) DO NOTHING`
	// qIdemReplace takes the arguments of qIdemInsert.
	qIdemReplace = `UPDATE idempotency SET request_hash = $3, api_version = $4, state = $5, resource_id = $6,
	status = $7, body = $8, locked_until = $9, created_at = $10, expires_at = $11 WHERE scope = $1 AND key = $2`
	qIdemTakeOver = `UPDATE idempotency SET request_hash = $3, locked_until = $4, expires_at = $5
	WHERE scope = $1 AND key = $2`
	qIdemComplete = `UPDATE idempotency SET state = 'done', status = $3, body = $4 WHERE scope = $1 AND key = $2`
	qIdemPend     = `UPDATE idempotency SET state = 'pending', status = 0, body = NULL, locked_until = $3 WHERE scope = $1 AND key = $2`
	qIdemAbandon  = `DELETE FROM idempotency WHERE scope = $1 AND key = $2 AND state = 'in_flight'`
	// qIdemPurge deletes a batch, named by = ANY of an array of row
	// addresses as the leases name theirs (TestLeasesUseTheirIndexes); rows
	// another transaction holds are left to the next batch.
	qIdemPurge = `DELETE FROM idempotency i WHERE i.ctid = ANY (ARRAY(SELECT c.ctid FROM idempotency c
		WHERE c.expires_at < $1 ORDER BY c.expires_at LIMIT $2 FOR UPDATE SKIP LOCKED))`
	qIdemLink = `UPDATE idempotency SET resource_id = $3 WHERE scope = $1 AND key = $2 AND state = 'in_flight'`

	qInsertEvent = `INSERT INTO processor_events (` + eventCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	qInsertFee   = `INSERT INTO fee_records (` + feeCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7)`
	qListFees    = `SELECT ` + feeCols + ` FROM fee_records WHERE payment_id = $1 ORDER BY created_at, source, source_ref`
	// qPaymentByRef finds the payment through attempts_reference: the
	// reference a payment holds is also on the attempt that received it.
	// The literal condition lets the planner use that partial index.
	qPaymentByRef = `SELECT ` + paymentCols + ` FROM payments
	WHERE id = (SELECT payment_id FROM attempts WHERE reference = $2 AND reference <> '' AND processor = $1 LIMIT 1)`
	qListPayments = `SELECT ` + paymentCols + ` FROM payments
	WHERE created_at >= $1 AND created_at < $2 AND ($3::text = '' OR merchant_id = $3) AND (created_at, id) > ($4, $5)
	ORDER BY created_at, id LIMIT $6`

	qInsertOutbox = `INSERT INTO outbox_events (` + rowcodec.OutboxInsertColumns + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`
	qGetOutbox  = `SELECT ` + outboxCols + ` FROM outbox_events WHERE id = $1`
	qListOutbox = `SELECT ` + outboxCols + ` FROM outbox_events
	WHERE merchant_id = $1 AND ($2::text = '' OR payment_id = $2) AND ($3::text = '' OR type = $3) AND ($4::bigint = 0 OR seq < $4)
	ORDER BY seq DESC LIMIT $5`
	// qLeaseOutbox claims in one statement, like qLease: SKIP LOCKED passes
	// over the events another worker is claiming at this moment, and READ
	// COMMITTED re-checks the lease on a row whose claim committed after
	// this statement's snapshot. An event is held back while an earlier
	// event of its payment is pending (per-payment order), unless either is
	// a replay: the earlier event's own transaction committed first (see
	// the outbox migration), so this statement's snapshot sees it.
	//
	// Its plan is held to the indexes meant (TestLeasesUseTheirIndexes):
	// the candidates (e) through the partial index outbox_due, the earlier
	// events of their payments (b) through outbox_payment, the claimed rows
	// (o) through the primary key. The state of b and o is a parameter ($5,
	// always store.OutboxPending), as in qSettleAttempt: with the literal,
	// the predicate of outbox_due held for them too, and the planner walked
	// all of that index (every pending event) for each candidate, or for the
	// claimed rows once the table was analysed. The claimed rows are named
	// by = ANY of an array rather than joined: joined, with a large backlog
	// analysed, the planner read the whole table into a hash. With 50,000
	// events pending a lease took 27 ms unanalysed and 10 ms analysed; now
	// 1.6 and 0.6 ms.
	qLeaseOutbox = `UPDATE outbox_events o SET lease_owner = $1, lease_until = $2
	WHERE o.seq = ANY (ARRAY(SELECT e.seq FROM outbox_events e
		WHERE e.state = 'pending' AND e.next_attempt_at <= $3 AND (e.lease_until IS NULL OR e.lease_until <= $3)
		AND (e.replay OR NOT EXISTS (SELECT 1 FROM outbox_events b
			WHERE b.payment_id = e.payment_id AND b.seq < e.seq AND b.state = $5 AND NOT b.replay))
		ORDER BY e.next_attempt_at, e.seq LIMIT $4
		FOR UPDATE SKIP LOCKED))
	AND o.state = $5 AND (o.lease_until IS NULL OR o.lease_until <= $3)
	RETURNING ` + qualify("o", outboxCols)
	qRecordOutbox = `UPDATE outbox_events SET state = $1, attempts = attempts + 1, next_attempt_at = $2,
	last_status = $3, last_error = $4, delivered_at = $5, lease_owner = '', lease_until = NULL
	WHERE id = $6 AND lease_owner = $7 RETURNING attempts`
	qInsertDelivery = `INSERT INTO outbox_deliveries (` + rowcodec.DeliveryColumns + `) VALUES ($1, $2, $3, $4, $5, $6)`
	qListDeliveries = `SELECT ` + rowcodec.DeliveryColumns + ` FROM outbox_deliveries WHERE event_id = $1 ORDER BY n`
	qRedeliver      = `UPDATE outbox_events SET replay = (state <> 'pending' OR replay),
	since = CASE WHEN state = 'pending' THEN since ELSE $1 END, state = 'pending', next_attempt_at = $1 WHERE id = $2`
	qBacklog = `SELECT ` + rowcodec.BacklogColumns + ` FROM outbox_events WHERE state = 'pending' GROUP BY merchant_id`
	// qPurgeOutbox deletes a batch of settled events, the oldest first
	// through the partial index outbox_settled, and their deliveries, in one
	// statement. The batch is named by = ANY of an array, as the leases do
	// (TestLeasesUseTheirIndexes), and ordered by created_at alone, the
	// index's order: with a second key the planner would sort every settled
	// event before the limit. SKIP LOCKED passes over an event being
	// redelivered; the DELETE checks the state again on the row it deletes,
	// so an event redelivered meanwhile (pending again) stays. That check
	// names the state by a parameter ($3, always 'pending'): with the
	// literal, the predicate of outbox_settled, the planner walked all of
	// outbox_settled to find the batch instead of the primary key.
	qPurgeOutbox = `WITH gone AS (DELETE FROM outbox_events o WHERE o.seq = ANY (ARRAY(SELECT c.seq FROM outbox_events c
		WHERE c.state <> 'pending' AND c.created_at < $1 ORDER BY c.created_at LIMIT $2 FOR UPDATE SKIP LOCKED))
		AND o.state <> $3 RETURNING o.id),
	d AS (DELETE FROM outbox_deliveries WHERE event_id = ANY (ARRAY(SELECT id FROM gone)))
	SELECT COUNT(*) FROM gone`

	qInsertAuth = `INSERT INTO auth_sessions (` + authCols + `)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)`
	qGetAuth = `SELECT ` + authCols + ` FROM auth_sessions WHERE id = $1`
	// qUpdateAuth writes only over the version read. Of two transactions
	// that read one version, the second waits for the first's row lock,
	// then re-checks the version on the committed row (READ COMMITTED) and
	// changes nothing.
	qUpdateAuth = `UPDATE auth_sessions SET status = $1, checkout_session_id = $2, key_id = $3, credential = $4,
	details = $5, action = $6, result_key_id = $7, result = $8, state = $9, step = $10, step_until = $11,
	updated_at = $12, version = $13 WHERE id = $14 AND version = $15`
	qAuthExists = `SELECT 1 FROM auth_sessions WHERE id = $1`
	// qExpireAuth finds its rows through the partial index
	// auth_sessions_open and skips a session another transaction holds:
	// the next sweep, or that request itself, expires it. The rows are named
	// by = ANY of an array, as in qLease: with IN and the table analysed,
	// the planner read the whole table into a hash (7.4 ms a sweep with
	// 20,000 sessions open, 0.4 now; TestLeasesUseTheirIndexes).
	qExpireAuth = `UPDATE auth_sessions s SET status = 'expired', credential = NULL, action = NULL, step = '',
	step_until = NULL, updated_at = $1, version = version + 1
	WHERE s.id = ANY (ARRAY(SELECT o.id FROM auth_sessions o WHERE o.credential IS NOT NULL AND o.expires_at <= $1
		AND o.status IN ('action_required', 'pending') ORDER BY o.expires_at LIMIT $2 FOR UPDATE SKIP LOCKED))
	RETURNING ` + authCols
)

// The guarded writes (see guard): queued writes that must change a row.
var (
	gConsumeToken  = guard(qConsume)
	gDeleteCVC     = guard(qDeleteCVC)
	gUpdatePayment = guard(qUpdatePayment)
	gUpdateAttempt = guard(qUpdateAttempt)
	gSettleAttempt = guard(qSettleAttempt)
	gUpdateRefund  = guard(qUpdateRefund)
	gIdemComplete  = guard(qIdemComplete)
	gIdemPend      = guard(qIdemPend)
	gIdemInsert    = guard(qIdemInsert)
	gIdemReplace   = guard(qIdemReplace)
	gIdemTakeOver  = guard(qIdemTakeOver)
	gRedeliver     = guard(qRedeliver)
)
