package sqlite

import (
	"database/sql"
	"errors"
	"time"

	"acpgw/payment"
	"acpgw/store"
)

// nanos encodes t as unix nanoseconds, or NULL for the zero time.
func nanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

// nanosPtr encodes *t as unix nanoseconds, or NULL for nil.
func nanosPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return nanos(*t)
}

// blob encodes b, NULL for nil.
func blob(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// timeCol scans an INTEGER nanosecond column into a UTC time.
type timeCol struct{ sql.NullInt64 }

func (c timeCol) time() time.Time {
	if !c.Valid {
		return time.Time{}
	}
	return time.Unix(0, c.Int64).UTC()
}

func (c timeCol) ptr() *time.Time {
	if !c.Valid {
		return nil
	}
	t := c.time()
	return &t
}

func encodeMap(m map[string]string) (string, error) { return store.EncodeMetadata(m) }

func decodeMap(s string) (map[string]string, error) { return store.DecodeMetadata(s) }

func encodeDecline(d *payment.Decline) (*string, error) { return store.EncodeDecline(d) }

func decodeDecline(s sql.NullString) (*payment.Decline, error) {
	if !s.Valid {
		return nil, nil
	}
	return store.DecodeDecline(&s.String)
}

// scanner is a *sql.Row or *sql.Rows.
type scanner interface{ Scan(dest ...any) error }

func tokenArgs(t store.Token) ([]any, error) {
	meta, err := encodeMap(t.Metadata)
	if err != nil {
		return nil, err
	}
	return []any{
		t.ID, t.MerchantID, t.CheckoutSessionID, t.MaxAmount, t.Currency, nanos(t.ExpiresAt), t.Reason, t.KeyID,
		blob(t.Credential), blob(t.CVC), t.Brand, t.Funding, t.Last4, t.IIN, t.Country, meta, t.AgentID,
		t.IdempotencyKey, nanos(t.CreatedAt), nanosPtr(t.ConsumedAt), t.PaymentID,
	}, nil
}

func scanToken(sc scanner) (store.Token, error) {
	var (
		t                         store.Token
		meta                      string
		expires, created, consume timeCol
	)
	err := sc.Scan(&t.ID, &t.MerchantID, &t.CheckoutSessionID, &t.MaxAmount, &t.Currency, &expires, &t.Reason,
		&t.KeyID, &t.Credential, &t.CVC, &t.Brand, &t.Funding, &t.Last4, &t.IIN, &t.Country, &meta, &t.AgentID,
		&t.IdempotencyKey, &created, &consume, &t.PaymentID)
	if err != nil {
		return store.Token{}, err
	}
	t.ExpiresAt, t.CreatedAt, t.ConsumedAt = expires.time(), created.time(), consume.ptr()
	t.Metadata, err = decodeMap(meta)
	return t, err
}

func paymentArgs(p store.Payment) ([]any, error) {
	meta, err := encodeMap(p.Metadata)
	if err != nil {
		return nil, err
	}
	dec, err := encodeDecline(p.Decline)
	if err != nil {
		return nil, err
	}
	return []any{
		p.ID, p.MerchantID, p.CheckoutSessionID, p.TokenID, p.TokenKind, p.Amount, p.Currency, string(p.Capture),
		string(p.Status), p.Processor, p.ProcessorType, p.ProcessorReference, dec, p.CapturedAmount,
		p.RefundedAmount, p.RefundPending, p.FeeEstimated, feeArg(p.FeeActual), p.FeeCurrency, blob(p.Routing),
		meta, nanos(p.CreatedAt), nanos(p.UpdatedAt),
	}, nil
}

func feeArg(f *int64) any {
	if f == nil {
		return nil
	}
	return *f
}

func scanPayment(sc scanner) (store.Payment, error) {
	var (
		p                store.Payment
		capture, status  string
		dec              sql.NullString
		fee              sql.NullInt64
		meta             string
		created, updated timeCol
	)
	err := sc.Scan(&p.ID, &p.MerchantID, &p.CheckoutSessionID, &p.TokenID, &p.TokenKind, &p.Amount, &p.Currency,
		&capture, &status, &p.Processor, &p.ProcessorType, &p.ProcessorReference, &dec, &p.CapturedAmount,
		&p.RefundedAmount, &p.RefundPending, &p.FeeEstimated, &fee, &p.FeeCurrency, &p.Routing, &meta,
		&created, &updated)
	if err != nil {
		return store.Payment{}, err
	}
	p.Capture, p.Status = payment.CaptureMode(capture), payment.Status(status)
	if fee.Valid {
		v := fee.Int64
		p.FeeActual = &v
	}
	p.CreatedAt, p.UpdatedAt = created.time(), updated.time()
	if p.Decline, err = decodeDecline(dec); err != nil {
		return store.Payment{}, err
	}
	p.Metadata, err = decodeMap(meta)
	return p, err
}

func attemptArgs(a store.Attempt) []any {
	return []any{
		a.ID, a.PaymentID, a.Seq, a.Processor, a.Operation, a.IdempotencyKey, a.Amount, a.Currency, a.RefundID,
		string(a.State), a.Outcome, a.Reference, a.Error, a.LatencyMS, nanos(a.StartedAt), nanosPtr(a.FinishedAt),
		a.LeaseOwner, nanosPtr(a.LeaseUntil),
	}
}

func scanAttempt(sc scanner) (store.Attempt, error) {
	var (
		a                      store.Attempt
		state                  string
		started, finished, lse timeCol
	)
	err := sc.Scan(&a.ID, &a.PaymentID, &a.Seq, &a.Processor, &a.Operation, &a.IdempotencyKey, &a.Amount,
		&a.Currency, &a.RefundID, &state, &a.Outcome, &a.Reference, &a.Error, &a.LatencyMS, &started, &finished,
		&a.LeaseOwner, &lse)
	if err != nil {
		return store.Attempt{}, err
	}
	a.State = store.AttemptState(state)
	a.StartedAt, a.FinishedAt, a.LeaseUntil = started.time(), finished.ptr(), lse.ptr()
	return a, nil
}

func refundArgs(r store.Refund) []any {
	return []any{r.ID, r.PaymentID, r.Amount, r.Currency, r.Status, r.Reference, nanos(r.CreatedAt), nanos(r.UpdatedAt)}
}

func scanRefund(sc scanner) (store.Refund, error) {
	var (
		r                store.Refund
		created, updated timeCol
	)
	err := sc.Scan(&r.ID, &r.PaymentID, &r.Amount, &r.Currency, &r.Status, &r.Reference, &created, &updated)
	if err != nil {
		return store.Refund{}, err
	}
	r.CreatedAt, r.UpdatedAt = created.time(), updated.time()
	return r, nil
}

func idemArgs(r store.IdemRecord) []any {
	return []any{
		r.Scope, r.Key, r.RequestHash, r.APIVersion, string(r.State), r.ResourceID, r.Status, blob(r.Body),
		nanos(r.LockedUntil), nanos(r.CreatedAt), nanos(r.ExpiresAt),
	}
}

func scanIdem(sc scanner) (store.IdemRecord, error) {
	var (
		r                        store.IdemRecord
		state                    string
		locked, created, expires timeCol
	)
	err := sc.Scan(&r.Scope, &r.Key, &r.RequestHash, &r.APIVersion, &state, &r.ResourceID, &r.Status, &r.Body,
		&locked, &created, &expires)
	if err != nil {
		return store.IdemRecord{}, err
	}
	r.State = store.IdemState(state)
	r.LockedUntil, r.CreatedAt, r.ExpiresAt = locked.time(), created.time(), expires.time()
	return r, nil
}

// isNoRows reports whether err says a single-row query found nothing.
func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// utc returns t in UTC, leaving the zero time zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

func scanFee(sc scanner) (store.FeeRecord, error) {
	var (
		f  store.FeeRecord
		at timeCol
	)
	if err := sc.Scan(&f.Source, &f.SourceRef, &f.PaymentID, &f.Processor, &f.Amount, &f.Currency, &at); err != nil {
		return store.FeeRecord{}, err
	}
	f.CreatedAt = at.time()
	return f, nil
}
