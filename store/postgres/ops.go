package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"acpgw/store"
	"acpgw/store/rowcodec"
)

// GetToken reads a committed token.
func (s *Store) GetToken(ctx context.Context, id string) (store.Token, error) {
	t, err := rowcodec.ScanToken(s.pool.QueryRow(ctx, qGetToken, id))
	return t, wrap("get token", err)
}

// GetPayment reads a committed payment.
func (s *Store) GetPayment(ctx context.Context, id string) (store.Payment, error) {
	p, err := rowcodec.ScanPayment(s.pool.QueryRow(ctx, qGetPayment, id))
	return p, wrap("get payment", err)
}

// ListAttempts returns the payment's committed attempts by seq; none is an
// empty list, not an error.
func (s *Store) ListAttempts(ctx context.Context, paymentID string) ([]store.Attempt, error) {
	rows, err := s.pool.Query(ctx, qListAttempts, paymentID)
	return collect("list attempts", rows, err, rowcodec.ScanAttempt)
}

// GetAttempt reads a committed attempt.
func (s *Store) GetAttempt(ctx context.Context, id string) (store.Attempt, error) {
	a, err := rowcodec.ScanAttempt(s.pool.QueryRow(ctx, qGetAttempt, id))
	return a, wrap("get attempt", err)
}

// ListRefunds returns the payment's committed refunds, oldest first.
func (s *Store) ListRefunds(ctx context.Context, paymentID string) ([]store.Refund, error) {
	rows, err := s.pool.Query(ctx, qListRefunds, paymentID)
	return collect("list refunds", rows, err, rowcodec.ScanRefund)
}

// GetIdempotency reads the record of (scope, key), expired or not.
func (s *Store) GetIdempotency(ctx context.Context, scope, key string) (store.IdemRecord, error) {
	r, err := rowcodec.ScanIdem(s.pool.QueryRow(ctx, qGetIdem, scope, key))
	return r, wrap("get idempotency", err)
}

// maxClaimRounds bounds how often BeginIdempotency finds the key taken by
// the INSERT and then gone by the SELECT (abandoned or purged in between).
const maxClaimRounds = 5

// BeginIdempotency claims (scope, key) for rec as store.go specifies. The
// common case, a new key, is one INSERT ... ON CONFLICT DO NOTHING on its
// own: the primary key lets exactly one of any number of concurrent callers,
// on any replica, insert. A key that exists is decided in a transaction that
// locks the record (SELECT ... FOR UPDATE) before it looks at it, so of the
// callers that find an expired lock or an expired record exactly one takes
// it over or replaces it; the others wait for the lock, then see its
// result. The stored record is in flight with no response; a zero
// rec.CreatedAt becomes now.
func (s *Store) BeginIdempotency(ctx context.Context, rec store.IdemRecord, now time.Time) (store.IdemRecord, store.IdemBegin, error) {
	rec.State, rec.Status, rec.Body = store.IdemInFlight, 0, nil
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = now
	}
	// Return times as they read back from the database: UTC.
	rec.LockedUntil, rec.CreatedAt, rec.ExpiresAt = rowcodec.UTC(rec.LockedUntil), rowcodec.UTC(rec.CreatedAt), rowcodec.UTC(rec.ExpiresAt)
	args := rowcodec.IdemArgs(rec)
	tag, err := s.pool.Exec(ctx, qIdemInsert, args...)
	if err != nil {
		return store.IdemRecord{}, 0, wrap("begin idempotency", err)
	}
	if tag.RowsAffected() == 1 {
		return rec, store.IdemStarted, nil
	}
	var (
		out   store.IdemRecord
		begin store.IdemBegin
	)
	err = s.Tx(ctx, func(tx store.Tx) error {
		var err error
		out, begin, err = beginExisting(ctx, tx.(*txn), rec, args, now)
		return err
	})
	if err != nil {
		return store.IdemRecord{}, 0, err
	}
	return out, begin, nil
}

// ClaimIdempotency claims (scope, key) for rec inside the transaction, as
// BeginIdempotency does, storing rec as given. A concurrent transaction that
// inserted the same key first makes the INSERT wait for its end. A zero
// rec.CreatedAt becomes now.
func (t *txn) ClaimIdempotency(ctx context.Context, rec store.IdemRecord, now time.Time) (store.IdemRecord, store.IdemBegin, error) {
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = now
	}
	rec.LockedUntil, rec.CreatedAt, rec.ExpiresAt = rowcodec.UTC(rec.LockedUntil), rowcodec.UTC(rec.CreatedAt), rowcodec.UTC(rec.ExpiresAt)
	args := rowcodec.IdemArgs(rec)
	if !t.claimNow {
		// Claimed ahead: the key is taken far more often by its first
		// request than found taken, so the INSERT is queued (guarded) and
		// travels with the transaction's next round trip, and the answer is
		// IdemStarted without asking, a round trip fewer in a payment's
		// intent. If the key was taken after all, the guard fails the
		// transaction before its COMMIT runs, and Tx runs fn again with the
		// claim made at once (claimNow), whose answer is the server's; so
		// does a failure of fn while the claim is still unconfirmed, since
		// fn may have failed on it. fn may run more than once anyway
		// (store.Tx), so it acts on the answer only through tx.
		if err := t.later("begin idempotency", gIdemInsert, errClaimAgain, args...); err != nil {
			return store.IdemRecord{}, 0, err
		}
		t.claimAhead = true
		return rec, store.IdemStarted, nil
	}
	n, err := t.exec(ctx, "begin idempotency", qIdemInsert, args...)
	if err != nil {
		return store.IdemRecord{}, 0, err
	}
	if n == 1 {
		return rec, store.IdemStarted, nil
	}
	return beginExisting(ctx, t, rec, args, now)
}

// errClaimAgain fails a transaction whose key, claimed ahead, was taken or
// not yet confirmed when fn failed: Tx runs fn again, claiming at once.
var errClaimAgain = errors.New("postgres: the idempotency key claimed ahead must be claimed again")

// beginExisting decides, holding the record's row lock, what an existing
// (scope, key) means for rec.
func beginExisting(ctx context.Context, t *txn, rec store.IdemRecord, args []any, now time.Time) (store.IdemRecord, store.IdemBegin, error) {
	for range maxClaimRounds {
		old, err := rowcodec.ScanIdem(t.queryRow(ctx, "begin idempotency", qGetIdemLocked, rec.Scope, rec.Key))
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			// Abandoned or purged since the INSERT: claim it again. Each
			// statement of a READ COMMITTED transaction sees what committed
			// before it, so another round sees a record inserted meanwhile.
			n, err := t.exec(ctx, "begin idempotency", qIdemInsert, args...)
			if err != nil {
				return store.IdemRecord{}, 0, err
			}
			if n == 1 {
				return rec, store.IdemStarted, nil
			}
		case err != nil:
			return store.IdemRecord{}, 0, wrap("begin idempotency", err)
		case !old.ExpiresAt.IsZero() && !old.ExpiresAt.After(now):
			// Expired: replaced as if absent.
			if err := t.execOne("begin idempotency", gIdemReplace, args...); err != nil {
				return store.IdemRecord{}, 0, err
			}
			return rec, store.IdemStarted, nil
		case old.State == store.IdemInFlight && !old.LockedUntil.After(now):
			// The first request crashed: take over, keeping its ResourceID.
			if err := t.execOne("begin idempotency", gIdemTakeOver, rec.Scope, rec.Key, rec.RequestHash,
				rowcodec.Nanos(rec.LockedUntil), rowcodec.Nanos(rec.ExpiresAt)); err != nil {
				return store.IdemRecord{}, 0, err
			}
			return old, store.IdemTakenOver, nil
		default:
			return old, store.IdemExisting, nil
		}
	}
	return store.IdemRecord{}, 0, fmt.Errorf("postgres: begin idempotency: the key kept appearing and vanishing: %w",
		store.ErrUnavailable)
}

// CompleteIdempotency stores the response and marks the record done; a
// missing record is store.ErrNotFound.
func (s *Store) CompleteIdempotency(ctx context.Context, scope, key string, status int, body []byte) error {
	tag, err := s.pool.Exec(ctx, qIdemComplete, scope, key, status, rowcodec.Blob(body))
	if err != nil {
		return wrap("complete idempotency", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: complete idempotency: %w", store.ErrNotFound)
	}
	return nil
}

// AbandonIdempotency deletes the record if it is in flight. A done record is
// kept, and a missing one is no error.
func (s *Store) AbandonIdempotency(ctx context.Context, scope, key string) error {
	_, err := s.pool.Exec(ctx, qIdemAbandon, scope, key)
	return wrap("abandon idempotency", err)
}

// PurgeIdempotency deletes up to limit records whose ExpiresAt is before
// now, the soonest expired first, in one statement; records locked by a
// request are left to the next call.
func (s *Store) PurgeIdempotency(ctx context.Context, now time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, qIdemPurge, now.UnixNano(), limit)
	if err != nil {
		return 0, wrap("purge idempotency", err)
	}
	return tag.RowsAffected(), nil
}

// EraseCVCs nulls the sealed CVC of up to limit tokens created before
// createdBefore, oldest first, in one statement; tokens locked by a payment
// are left to the next call.
func (s *Store) EraseCVCs(ctx context.Context, createdBefore time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, nil
	}
	tag, err := s.pool.Exec(ctx, qEraseCVCs, createdBefore.UnixNano(), limit)
	if err != nil {
		return 0, wrap("erase cvcs", err)
	}
	return tag.RowsAffected(), nil
}

// GetAuthSession reads a committed authentication session.
func (s *Store) GetAuthSession(ctx context.Context, id string) (store.AuthSession, error) {
	a, err := rowcodec.ScanAuthSession(s.pool.QueryRow(ctx, qGetAuth, id))
	return a, wrap("get auth session", err)
}

// ExpireAuthSessions expires up to limit sessions due at now in one
// statement, erasing their cards; sessions another transaction holds are
// left to the next call.
func (s *Store) ExpireAuthSessions(ctx context.Context, now time.Time, limit int) ([]store.AuthSession, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, qExpireAuth, now.UnixNano(), limit)
	return collect("expire auth sessions", rows, err, rowcodec.ScanAuthSession)
}

// ReturnLease clears the lease of a still pending attempt leased by owner,
// recording callEnded as its deadline.
func (s *Store) ReturnLease(ctx context.Context, id, owner string, callEnded time.Time) error {
	_, err := s.pool.Exec(ctx, qReturnLease, rowcodec.Nanos(callEnded), id, owner, string(store.AttemptPending))
	return wrap("return lease", err)
}

// LeasePendingAttempts claims the pending attempts q selects, oldest first, in
// a single UPDATE over a SELECT ... FOR UPDATE SKIP LOCKED (see qLease): two
// leasers, on one replica or several, never claim the same attempt while its
// lease runs, and neither waits for the other.
func (s *Store) LeasePendingAttempts(ctx context.Context, q store.LeaseQuery) ([]store.Attempt, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, qLease, q.Owner, rowcodec.Nanos(q.LeaseUntil), q.StartedBefore.UnixNano(),
		int64(q.Unrecorded), q.DeadlineBefore.UnixNano(), q.Now.UnixNano(), q.Limit)
	out, err := collect("lease attempts", rows, err, rowcodec.ScanAttempt)
	if err != nil {
		return nil, err
	}
	// RETURNING gives no order.
	slices.SortFunc(out, func(a, b store.Attempt) int {
		return cmp.Or(a.StartedAt.Compare(b.StartedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// FindPaymentByReference finds the payment of the attempt the processor
// knows by reference (a payment's own reference is its authorization
// attempt's), in one query served by attempts_reference.
func (s *Store) FindPaymentByReference(ctx context.Context, processor, reference string) (store.Payment, error) {
	if reference == "" {
		return store.Payment{}, fmt.Errorf("postgres: find payment by reference: empty reference: %w", store.ErrNotFound)
	}
	p, err := rowcodec.ScanPayment(s.pool.QueryRow(ctx, qPaymentByRef, processor, reference))
	return p, wrap("find payment by reference", err)
}

// ListPayments returns payments created in [f.From, f.To), oldest first,
// after the cursor, at most f.Limit (1000 when 0).
func (s *Store) ListPayments(ctx context.Context, f store.PaymentFilter) ([]store.Payment, error) {
	if f.Limit <= 0 {
		f.Limit = 1000
	}
	after, afterID := f.AfterCreated, f.AfterID
	if after.IsZero() {
		// Before every payment of the range, whatever its id.
		after, afterID = f.From.Add(-1), ""
	}
	rows, err := s.pool.Query(ctx, qListPayments, f.From.UnixNano(), f.To.UnixNano(), f.MerchantID,
		after.UnixNano(), afterID, f.Limit)
	return collect("list payments", rows, err, rowcodec.ScanPayment)
}

// ListFeeRecords returns the payment's committed fee records.
func (s *Store) ListFeeRecords(ctx context.Context, paymentID string) ([]store.FeeRecord, error) {
	rows, err := s.pool.Query(ctx, qListFees, paymentID)
	return collect("list fee records", rows, err, rowcodec.ScanFee)
}

// LeaseOutboxEvents claims up to limit due events in a single UPDATE over a
// SELECT ... FOR UPDATE SKIP LOCKED (see qLeaseOutbox): two workers, on one
// replica or several, never claim the same event while its lease runs, and
// neither waits for the other.
func (s *Store) LeaseOutboxEvents(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]store.OutboxEvent, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, qLeaseOutbox, owner, leaseUntil.UnixNano(), now.UnixNano(), limit,
		string(store.OutboxPending))
	out, err := collect("lease outbox events", rows, err, rowcodec.ScanOutbox)
	if err != nil {
		return nil, err
	}
	// RETURNING gives no order.
	slices.SortFunc(out, func(a, b store.OutboxEvent) int { return cmp.Compare(a.Seq, b.Seq) })
	return out, nil
}

// RecordDelivery writes the attempt and the event's new state in one
// transaction, only while owner holds the lease.
func (s *Store) RecordDelivery(ctx context.Context, owner string, r store.DeliveryResult) error {
	d := r.Delivery
	var delivered *time.Time
	if r.State == store.OutboxDelivered {
		delivered = &d.At
	}
	return s.Tx(ctx, func(tx store.Tx) error {
		t := tx.(*txn)
		var n int
		err := t.queryRow(ctx, "record delivery", qRecordOutbox, string(r.State), r.NextAttemptAt.UnixNano(), d.StatusCode, d.Error,
			rowcodec.NanosPtr(delivered), d.EventID, owner).Scan(&n)
		if errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("postgres: record delivery of %s: %w", d.EventID, store.ErrLeaseLost)
		}
		if err != nil {
			return wrap("record delivery", err)
		}
		d.N = n
		return t.later("insert delivery", qInsertDelivery, nil, rowcodec.DeliveryArgs(d)...)
	})
}

// GetOutboxEvent reads a committed event.
func (s *Store) GetOutboxEvent(ctx context.Context, id string) (store.OutboxEvent, error) {
	e, err := rowcodec.ScanOutbox(s.pool.QueryRow(ctx, qGetOutbox, id))
	return e, wrap("get outbox event", err)
}

// ListOutboxEvents returns a merchant's committed events, newest first.
func (s *Store) ListOutboxEvents(ctx context.Context, f store.OutboxFilter) ([]store.OutboxEvent, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	rows, err := s.pool.Query(ctx, qListOutbox, f.MerchantID, f.PaymentID, f.Type, f.BeforeSeq, f.Limit)
	return collect("list outbox events", rows, err, rowcodec.ScanOutbox)
}

// ListDeliveries returns the event's attempts, oldest first.
func (s *Store) ListDeliveries(ctx context.Context, eventID string) ([]store.Delivery, error) {
	rows, err := s.pool.Query(ctx, qListDeliveries, eventID)
	return collect("list deliveries", rows, err, rowcodec.ScanDelivery)
}

// PurgeOutboxEvents deletes up to limit settled events created before
// createdBefore, the oldest first, and their deliveries, in one statement;
// events locked by a redelivery are left to the next call.
func (s *Store) PurgeOutboxEvents(ctx context.Context, createdBefore time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, nil
	}
	var n int64
	if err := s.pool.QueryRow(ctx, qPurgeOutbox, createdBefore.UnixNano(), limit, string(store.OutboxPending)).Scan(&n); err != nil {
		return 0, wrap("purge outbox events", err)
	}
	return n, nil
}

// OutboxBacklog counts the pending events of each merchant.
func (s *Store) OutboxBacklog(ctx context.Context) ([]store.Backlog, error) {
	rows, err := s.pool.Query(ctx, qBacklog)
	return collect("outbox backlog", rows, err, rowcodec.ScanBacklog)
}
