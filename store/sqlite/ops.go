package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"acpgw/store"
	"acpgw/store/rowcodec"
)

// GetToken reads a committed token.
func (s *Store) GetToken(ctx context.Context, id string) (store.Token, error) {
	t, err := rowcodec.ScanToken(s.rs.getToken.QueryRowContext(ctx, id))
	return t, s.readErr(wrap("get token", err))
}

// GetPayment reads a committed payment.
func (s *Store) GetPayment(ctx context.Context, id string) (store.Payment, error) {
	p, err := rowcodec.ScanPayment(s.rs.getPayment.QueryRowContext(ctx, id))
	return p, s.readErr(wrap("get payment", err))
}

// ListAttempts returns the payment's committed attempts by seq; none is an
// empty list, not an error.
func (s *Store) ListAttempts(ctx context.Context, paymentID string) ([]store.Attempt, error) {
	rows, err := s.rs.listAttempts.QueryContext(ctx, paymentID)
	out, err := collect("list attempts", rows, err, rowcodec.ScanAttempt)
	return out, s.readErr(err)
}

// ListRefunds returns the payment's committed refunds, oldest first.
func (s *Store) ListRefunds(ctx context.Context, paymentID string) ([]store.Refund, error) {
	rows, err := s.rs.listRefunds.QueryContext(ctx, paymentID)
	out, err := collect("list refunds", rows, err, rowcodec.ScanRefund)
	return out, s.readErr(err)
}

// GetAttempt returns the attempt id.
func (s *Store) GetAttempt(ctx context.Context, id string) (store.Attempt, error) {
	a, err := rowcodec.ScanAttempt(s.rs.getAttempt.QueryRowContext(ctx, id))
	return a, s.readErr(wrap("get attempt", err))
}

// GetIdempotency reads the record of (scope, key), expired or not.
func (s *Store) GetIdempotency(ctx context.Context, scope, key string) (store.IdemRecord, error) {
	r, err := rowcodec.ScanIdem(s.rs.getIdem.QueryRowContext(ctx, scope, key))
	return r, s.readErr(wrap("get idempotency", err))
}

// BeginIdempotency claims (scope, key) for rec as store.go specifies. The
// common case, a new key, is one INSERT ... ON CONFLICT DO NOTHING; a key
// that exists is decided in one IMMEDIATE transaction, so two callers can
// never both be told IdemStarted or IdemTakenOver. The stored record is in
// flight with no response; a zero rec.CreatedAt becomes now.
func (s *Store) BeginIdempotency(ctx context.Context, rec store.IdemRecord, now time.Time) (store.IdemRecord, store.IdemBegin, error) {
	rec.State, rec.Status, rec.Body = store.IdemInFlight, 0, nil
	var (
		out   store.IdemRecord
		begin store.IdemBegin
	)
	err := s.Tx(ctx, func(tx store.Tx) error {
		var err error
		out, begin, err = tx.ClaimIdempotency(ctx, rec, now)
		return err
	})
	if err != nil {
		return store.IdemRecord{}, 0, err
	}
	return out, begin, nil
}

// ClaimIdempotency claims (scope, key) for rec inside the transaction, as
// BeginIdempotency does, storing rec as given. A zero rec.CreatedAt becomes
// now.
func (t *txn) ClaimIdempotency(ctx context.Context, rec store.IdemRecord, now time.Time) (store.IdemRecord, store.IdemBegin, error) {
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = now
	}
	// Return times as they read back from the database: UTC.
	rec.LockedUntil, rec.CreatedAt, rec.ExpiresAt = rowcodec.UTC(rec.LockedUntil), rowcodec.UTC(rec.CreatedAt), rowcodec.UTC(rec.ExpiresAt)
	n, err := t.exec(ctx, "begin idempotency", t.s.ws.idemInsert, rowcodec.IdemArgs(rec)...)
	if err != nil {
		return store.IdemRecord{}, 0, err
	}
	if n == 1 {
		return rec, store.IdemStarted, nil
	}
	var (
		out   store.IdemRecord
		begin store.IdemBegin
	)
	err = t.s.beginExisting(ctx, t, rec, now, &out, &begin)
	return out, begin, err
}

// beginExisting decides, inside the writer's transaction, what an existing
// (scope, key) means for rec.
func (s *Store) beginExisting(ctx context.Context, t *txn, rec store.IdemRecord, now time.Time, out *store.IdemRecord, begin *store.IdemBegin) error {
	old, err := rowcodec.ScanIdem(s.ws.getIdem.queryRow(ctx, rec.Scope, rec.Key))
	err = t.read(err)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		// Purged or abandoned since the INSERT above.
		if _, err := t.exec(ctx, "begin idempotency", s.ws.idemInsert, rowcodec.IdemArgs(rec)...); err != nil {
			return err
		}
		*out, *begin = rec, store.IdemStarted
	case err != nil:
		return wrap("begin idempotency", err)
	case !old.ExpiresAt.IsZero() && !old.ExpiresAt.After(now):
		// Expired: replaced as if absent.
		if err := t.execOne(ctx, "begin idempotency", s.ws.idemReplace, rowcodec.IdemArgs(rec)...); err != nil {
			return err
		}
		*out, *begin = rec, store.IdemStarted
	case old.State == store.IdemInFlight && !old.LockedUntil.After(now):
		// The first request crashed: take over, keeping its ResourceID.
		if err := t.execOne(ctx, "begin idempotency", s.ws.idemTakeOver, rec.RequestHash,
			rowcodec.Nanos(rec.LockedUntil), rowcodec.Nanos(rec.ExpiresAt), rec.Scope, rec.Key); err != nil {
			return err
		}
		*out, *begin = old, store.IdemTakenOver
	default:
		*out, *begin = old, store.IdemExisting
	}
	return nil
}

// CompleteIdempotency stores the response and marks the record done; a
// missing record is store.ErrNotFound.
func (s *Store) CompleteIdempotency(ctx context.Context, scope, key string, status int, body []byte) error {
	return s.Tx(ctx, func(tx store.Tx) error {
		return tx.(*txn).execOne(ctx, "complete idempotency", s.ws.idemComplete, status, rowcodec.Blob(body), scope, key)
	})
}

// AbandonIdempotency deletes the record if it is in flight. A done record is
// kept, and a missing one is no error.
func (s *Store) AbandonIdempotency(ctx context.Context, scope, key string) error {
	return s.Tx(ctx, func(tx store.Tx) error {
		_, err := tx.(*txn).exec(ctx, "abandon idempotency", s.ws.idemAbandon, scope, key)
		return err
	})
}

// PurgeIdempotency deletes up to limit records whose ExpiresAt is before
// now, the soonest expired first.
func (s *Store) PurgeIdempotency(ctx context.Context, now time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, nil
	}
	var n int64
	err := s.Tx(ctx, func(tx store.Tx) error {
		var err error
		n, err = tx.(*txn).exec(ctx, "purge idempotency", s.ws.idemPurge, now.UnixNano(), limit)
		return err
	})
	return n, err
}

// EraseCVCs nulls the sealed CVC of up to limit tokens created before
// createdBefore, oldest first; secure_delete zeroes the old bytes.
func (s *Store) EraseCVCs(ctx context.Context, createdBefore time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, nil
	}
	var n int64
	err := s.Tx(ctx, func(tx store.Tx) error {
		var err error
		n, err = tx.(*txn).exec(ctx, "erase cvcs", s.ws.eraseCVCs, createdBefore.UnixNano(), limit)
		return err
	})
	return n, err
}

// GetAuthSession reads a committed authentication session.
func (s *Store) GetAuthSession(ctx context.Context, id string) (store.AuthSession, error) {
	a, err := rowcodec.ScanAuthSession(s.rs.getAuth.QueryRowContext(ctx, id))
	return a, s.readErr(wrap("get auth session", err))
}

// ExpireAuthSessions expires up to limit sessions due at now in one UPDATE
// ... RETURNING, erasing their cards (with secure_delete on, SQLite zeroes
// the bytes in the pages it rewrites).
func (s *Store) ExpireAuthSessions(ctx context.Context, now time.Time, limit int) ([]store.AuthSession, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []store.AuthSession
	err := s.Tx(ctx, func(tx store.Tx) error {
		t := tx.(*txn)
		rows, err := t.writeStmt(s.ws.expireAuth).query(ctx, now.UnixNano(), now.UnixNano(), limit)
		out, err = collect("expire auth sessions", rows, err, rowcodec.ScanAuthSession)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// LeasePendingAttempts claims the pending attempts q selects, oldest first,
// in a single UPDATE ... RETURNING: SQLite runs it as one write transaction,
// so two leasers (in this process or another) never claim the same attempt.
func (s *Store) LeasePendingAttempts(ctx context.Context, q store.LeaseQuery) ([]store.Attempt, error) {
	if q.Limit <= 0 {
		return nil, nil
	}
	var out []store.Attempt
	err := s.Tx(ctx, func(tx store.Tx) error {
		t := tx.(*txn)
		rows, err := t.writeStmt(s.ws.lease).query(ctx, q.Owner, rowcodec.Nanos(q.LeaseUntil),
			q.StartedBefore.UnixNano(), int64(q.Unrecorded), q.DeadlineBefore.UnixNano(), q.Now.UnixNano(), q.Limit)
		out, err = collect("lease attempts", rows, err, rowcodec.ScanAttempt)
		return err
	})
	if err != nil {
		return nil, err
	}
	// RETURNING gives no order.
	slices.SortFunc(out, func(a, b store.Attempt) int {
		return cmp.Or(a.StartedAt.Compare(b.StartedAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// ReturnLease clears the lease of a still pending attempt leased by owner,
// recording callEnded as its deadline.
func (s *Store) ReturnLease(ctx context.Context, id, owner string, callEnded time.Time) error {
	return s.Tx(ctx, func(tx store.Tx) error {
		_, err := tx.(*txn).exec(ctx, "return lease", s.ws.returnLease, rowcodec.Nanos(callEnded), id, owner)
		return err
	})
}

// FindPaymentByReference finds the payment of the attempt the processor
// knows by reference (a payment's own reference is its authorization
// attempt's), in one query served by attempts_reference.
func (s *Store) FindPaymentByReference(ctx context.Context, processor, reference string) (store.Payment, error) {
	if reference == "" {
		return store.Payment{}, store.ErrNotFound
	}
	p, err := rowcodec.ScanPayment(s.rs.paymentByRef.QueryRowContext(ctx, reference, processor))
	return p, s.readErr(wrap("find payment by reference", err))
}

// ListPayments returns payments created in [f.From, f.To), oldest first,
// after the cursor, at most f.Limit (1000 when 0).
func (s *Store) ListPayments(ctx context.Context, f store.PaymentFilter) ([]store.Payment, error) {
	if f.Limit <= 0 {
		f.Limit = 1000
	}
	after := f.AfterCreated
	if after.IsZero() {
		after = f.From.Add(-1)
	}
	rows, err := s.rs.listPayments.QueryContext(ctx, f.From.UnixNano(), f.To.UnixNano(), f.MerchantID, f.MerchantID,
		after.UnixNano(), after.UnixNano(), f.AfterID, f.Limit)
	out, err := collect("list payments", rows, err, rowcodec.ScanPayment)
	return out, s.readErr(err)
}

// ListFeeRecords returns the payment's committed fee records.
func (s *Store) ListFeeRecords(ctx context.Context, paymentID string) ([]store.FeeRecord, error) {
	rows, err := s.rs.listFees.QueryContext(ctx, paymentID)
	out, err := collect("list fee records", rows, err, rowcodec.ScanFee)
	return out, s.readErr(err)
}

// LeaseOutboxEvents claims up to limit due events in a single UPDATE ...
// RETURNING: SQLite runs it as one write transaction, so two workers (in
// this process or another) never claim the same event.
func (s *Store) LeaseOutboxEvents(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]store.OutboxEvent, error) {
	if limit <= 0 {
		return nil, nil
	}
	var out []store.OutboxEvent
	err := s.Tx(ctx, func(tx store.Tx) error {
		t := tx.(*txn)
		rows, err := t.writeStmt(s.ws.leaseOutbox).query(ctx, owner, leaseUntil.UnixNano(),
			now.UnixNano(), now.UnixNano(), limit)
		out, err = collect("lease outbox events", rows, err, rowcodec.ScanOutbox)
		return err
	})
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
	return s.Tx(ctx, func(tx store.Tx) error {
		t := tx.(*txn)
		var delivered *time.Time
		if r.State == store.OutboxDelivered {
			delivered = &d.At
		}
		var n int
		err := t.writeStmt(s.ws.recordOutbox).queryRow(ctx, string(r.State), r.NextAttemptAt.UnixNano(),
			d.StatusCode, d.Error, rowcodec.NanosPtr(delivered), d.EventID, owner).Scan(&n)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlite: record delivery of %s: %w", d.EventID, store.ErrLeaseLost)
		}
		if err != nil {
			return wrap("record delivery", err)
		}
		d.N = n
		_, err = t.exec(ctx, "insert delivery", s.ws.insertDelivery, rowcodec.DeliveryArgs(d)...)
		return err
	})
}

// PurgeOutboxEvents deletes up to limit settled events created before
// createdBefore, the oldest first, and their deliveries, in one
// transaction.
func (s *Store) PurgeOutboxEvents(ctx context.Context, createdBefore time.Time, limit int) (int64, error) {
	if limit <= 0 {
		return 0, nil
	}
	var n int64
	err := s.Tx(ctx, func(tx store.Tx) error {
		t := tx.(*txn)
		before := createdBefore.UnixNano()
		if _, err := t.exec(ctx, "purge deliveries", s.ws.purgeDeliveries, before, limit); err != nil {
			return err
		}
		var err error
		n, err = t.exec(ctx, "purge outbox events", s.ws.purgeOutbox, before, limit)
		return err
	})
	return n, err
}

// GetOutboxEvent reads a committed event.
func (s *Store) GetOutboxEvent(ctx context.Context, id string) (store.OutboxEvent, error) {
	e, err := rowcodec.ScanOutbox(s.rs.getOutbox.QueryRowContext(ctx, id))
	return e, wrap("get outbox event", err)
}

// ListOutboxEvents returns a merchant's committed events, newest first.
func (s *Store) ListOutboxEvents(ctx context.Context, f store.OutboxFilter) ([]store.OutboxEvent, error) {
	if f.Limit <= 0 {
		f.Limit = 100
	}
	rows, err := s.rs.listOutbox.QueryContext(ctx, f.MerchantID, f.PaymentID, f.PaymentID, f.Type, f.Type,
		f.BeforeSeq, f.BeforeSeq, f.Limit)
	return collect("list outbox events", rows, err, rowcodec.ScanOutbox)
}

// ListDeliveries returns the event's attempts, oldest first.
func (s *Store) ListDeliveries(ctx context.Context, eventID string) ([]store.Delivery, error) {
	rows, err := s.rs.listDeliveries.QueryContext(ctx, eventID)
	return collect("list deliveries", rows, err, rowcodec.ScanDelivery)
}

// OutboxBacklog counts the pending events of each merchant.
func (s *Store) OutboxBacklog(ctx context.Context) ([]store.Backlog, error) {
	rows, err := s.rs.backlog.QueryContext(ctx)
	return collect("outbox backlog", rows, err, rowcodec.ScanBacklog)
}
