package postgres

import (
	"time"

	"acpgw/payment"
	"acpgw/store"
)

// nanos encodes t as unix nanoseconds, or NULL for the zero time.
func nanos(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	n := t.UnixNano()
	return &n
}

// nanosPtr encodes *t as unix nanoseconds, or NULL for nil.
func nanosPtr(t *time.Time) *int64 {
	if t == nil {
		return nil
	}
	return nanos(*t)
}

// timeOf decodes a nullable nanosecond column into a UTC time, the zero
// time for NULL.
func timeOf(n *int64) time.Time {
	if n == nil {
		return time.Time{}
	}
	return time.Unix(0, *n).UTC()
}

// timePtr decodes a nullable nanosecond column, nil for NULL.
func timePtr(n *int64) *time.Time {
	if n == nil {
		return nil
	}
	t := timeOf(n)
	return &t
}

// blob encodes b, NULL for nil.
func blob(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// utc returns t in UTC, leaving the zero time zero.
func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

func encodeMap(m map[string]string) (string, error) { return store.EncodeMetadata(m) }

func decodeMap(s string) (map[string]string, error) { return store.DecodeMetadata(s) }

func encodeDecline(d *payment.Decline) (*string, error) { return store.EncodeDecline(d) }

func decodeDecline(s *string) (*payment.Decline, error) { return store.DecodeDecline(s) }

// scanner is a pgx.Row or pgx.Rows.
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
		expires, created, consume *int64
	)
	err := sc.Scan(&t.ID, &t.MerchantID, &t.CheckoutSessionID, &t.MaxAmount, &t.Currency, &expires, &t.Reason,
		&t.KeyID, &t.Credential, &t.CVC, &t.Brand, &t.Funding, &t.Last4, &t.IIN, &t.Country, &meta, &t.AgentID,
		&t.IdempotencyKey, &created, &consume, &t.PaymentID)
	if err != nil {
		return store.Token{}, err
	}
	t.ExpiresAt, t.CreatedAt, t.ConsumedAt = timeOf(expires), timeOf(created), timePtr(consume)
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
		p.RefundedAmount, p.RefundPending, p.FeeEstimated, p.FeeActual, p.FeeCurrency, blob(p.Routing),
		meta, nanos(p.CreatedAt), nanos(p.UpdatedAt),
	}, nil
}

func scanPayment(sc scanner) (store.Payment, error) {
	var (
		p                store.Payment
		capture, status  string
		dec              *string
		meta             string
		created, updated *int64
	)
	err := sc.Scan(&p.ID, &p.MerchantID, &p.CheckoutSessionID, &p.TokenID, &p.TokenKind, &p.Amount, &p.Currency,
		&capture, &status, &p.Processor, &p.ProcessorType, &p.ProcessorReference, &dec, &p.CapturedAmount,
		&p.RefundedAmount, &p.RefundPending, &p.FeeEstimated, &p.FeeActual, &p.FeeCurrency, &p.Routing, &meta,
		&created, &updated)
	if err != nil {
		return store.Payment{}, err
	}
	p.Capture, p.Status = payment.CaptureMode(capture), payment.Status(status)
	p.CreatedAt, p.UpdatedAt = timeOf(created), timeOf(updated)
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
		started, finished, lse *int64
	)
	err := sc.Scan(&a.ID, &a.PaymentID, &a.Seq, &a.Processor, &a.Operation, &a.IdempotencyKey, &a.Amount,
		&a.Currency, &a.RefundID, &state, &a.Outcome, &a.Reference, &a.Error, &a.LatencyMS, &started, &finished,
		&a.LeaseOwner, &lse)
	if err != nil {
		return store.Attempt{}, err
	}
	a.State = store.AttemptState(state)
	a.StartedAt, a.FinishedAt, a.LeaseUntil = timeOf(started), timePtr(finished), timePtr(lse)
	return a, nil
}

func refundArgs(r store.Refund) []any {
	return []any{r.ID, r.PaymentID, r.Amount, r.Currency, r.Status, r.Reference, nanos(r.CreatedAt), nanos(r.UpdatedAt)}
}

func scanRefund(sc scanner) (store.Refund, error) {
	var (
		r                store.Refund
		created, updated *int64
	)
	err := sc.Scan(&r.ID, &r.PaymentID, &r.Amount, &r.Currency, &r.Status, &r.Reference, &created, &updated)
	if err != nil {
		return store.Refund{}, err
	}
	r.CreatedAt, r.UpdatedAt = timeOf(created), timeOf(updated)
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
		locked, created, expires *int64
	)
	err := sc.Scan(&r.Scope, &r.Key, &r.RequestHash, &r.APIVersion, &state, &r.ResourceID, &r.Status, &r.Body,
		&locked, &created, &expires)
	if err != nil {
		return store.IdemRecord{}, err
	}
	r.State = store.IdemState(state)
	r.LockedUntil, r.CreatedAt, r.ExpiresAt = timeOf(locked), timeOf(created), timeOf(expires)
	return r, nil
}

func feeArgs(f store.FeeRecord) []any {
	return []any{f.Source, f.SourceRef, f.PaymentID, f.Processor, f.Amount, f.Currency, nanos(f.CreatedAt)}
}

func scanFee(sc scanner) (store.FeeRecord, error) {
	var (
		f  store.FeeRecord
		at *int64
	)
	if err := sc.Scan(&f.Source, &f.SourceRef, &f.PaymentID, &f.Processor, &f.Amount, &f.Currency, &at); err != nil {
		return store.FeeRecord{}, err
	}
	f.CreatedAt = timeOf(at)
	return f, nil
}
