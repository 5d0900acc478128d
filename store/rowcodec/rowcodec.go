// Package rowcodec is the row format the SQL backends share: for each
// record of package store, its columns in order, the arguments that write
// them and the scan that reads them back. Only SQL text and driver
// specifics stay in store/sqlite and store/postgres.
//
// Times are unix nanoseconds in UTC (INTEGER in SQLite, BIGINT in
// PostgreSQL), NULL for the zero time; metadata and declines are JSON text;
// sealed bytes, routing objects and stored answers are BLOB or BYTEA, NULL
// for nil. Nullable columns scan into sql.Scanner types, which database/sql
// and pgx both call.
package rowcodec

import (
	"encoding/json"
	"fmt"
	"time"

	"acpgw/payment"
	"acpgw/store"
)

// Scanner is one row of either driver: *sql.Row, *sql.Rows, pgx.Row or
// pgx.Rows.
type Scanner interface{ Scan(dest ...any) error }

// Column lists, in the order of the Args functions and the scans.
const (
	TokenColumns = `id, merchant_id, checkout_session_id, max_amount, currency, expires_at, reason, key_id,
	credential, cvc, brand, funding, last4, iin, country, metadata, agent_id, idempotency_key,
	created_at, consumed_at, payment_id, attempts`
	PaymentColumns = `id, merchant_id, checkout_session_id, token_id, token_kind, amount, currency, capture,
	status, processor, processor_type, processor_reference, decline, captured_amount, refunded_amount,
	refund_pending, fee_estimated, fee_actual, fee_currency, routing, metadata, created_at, updated_at, dispute`
	AttemptColumns = `id, payment_id, seq, processor, operation, idempotency_key, amount, currency, refund_id,
	state, outcome, reference, error, latency_ms, started_at, finished_at, lease_owner, lease_until, deadline,
	authentication`
	RefundColumns = `id, payment_id, amount, currency, status, reference, created_at, updated_at`
	IdemColumns   = `scope, key, request_hash, api_version, state, resource_id, status, body, locked_until,
	created_at, expires_at`
	FeeColumns   = `source, source_ref, payment_id, processor, amount, currency, created_at`
	EventColumns = `processor, event_id, type, kind, reference, payment_id, result, raw, received_at`
	// OutboxInsertColumns are an outbox event's columns but seq, which the
	// database assigns on insert; OutboxColumns adds it in front.
	OutboxInsertColumns = `id, merchant_id, payment_id, type, body, created_at, state, replay, since, attempts,
	next_attempt_at, last_status, last_error, delivered_at, lease_owner, lease_until`
	OutboxColumns   = `seq, ` + OutboxInsertColumns
	DeliveryColumns = `event_id, n, at, status_code, latency_ms, error`
	// BacklogColumns are what a backlog query selects per merchant.
	BacklogColumns = `merchant_id, COUNT(*), MIN(since)`
	// AuthSessionColumns are an authentication session's columns.
	AuthSessionColumns = `id, merchant_id, agent_id, provider, status, amount, currency, checkout_session_id,
	key_id, credential, details, action, result_key_id, result, state, step, step_until, idempotency_key,
	expires_at, created_at, updated_at, version`
	// AuthSessionUpdateColumns are the columns UpdateAuthSession writes, in
	// the order of AuthSessionUpdateArgs (which then adds the new version,
	// the id and the version read).
	AuthSessionUpdateColumns = `status, checkout_session_id, key_id, credential, details, action, result_key_id,
	result, state, step, step_until, updated_at`
)

// Nanos encodes t as unix nanoseconds, or NULL for the zero time.
func Nanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

// NanosPtr encodes *t as unix nanoseconds, or NULL for nil.
func NanosPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return Nanos(*t)
}

// Blob encodes b, NULL for nil.
func Blob(b []byte) any {
	if b == nil {
		return nil
	}
	return b
}

// UTC returns t in UTC, as it reads back from either backend; the zero time
// stays zero.
func UTC(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// TokenArgs are the values of TokenColumns for t.
func TokenArgs(t store.Token) ([]any, error) {
	meta, err := encodeMetadata(t.Metadata)
	if err != nil {
		return nil, err
	}
	return []any{
		t.ID, t.MerchantID, t.CheckoutSessionID, t.MaxAmount, t.Currency, Nanos(t.ExpiresAt), t.Reason, t.KeyID,
		Blob(t.Credential), Blob(t.CVC), t.Brand, t.Funding, t.Last4, t.IIN, t.Country, meta, t.AgentID,
		t.IdempotencyKey, Nanos(t.CreatedAt), NanosPtr(t.ConsumedAt), t.PaymentID, t.Attempts,
	}, nil
}

// ScanToken reads a row of TokenColumns.
func ScanToken(sc Scanner) (store.Token, error) {
	var (
		t                         store.Token
		meta                      string
		expires, created, consume nanoCol
	)
	err := sc.Scan(&t.ID, &t.MerchantID, &t.CheckoutSessionID, &t.MaxAmount, &t.Currency, &expires, &t.Reason,
		&t.KeyID, &t.Credential, &t.CVC, &t.Brand, &t.Funding, &t.Last4, &t.IIN, &t.Country, &meta, &t.AgentID,
		&t.IdempotencyKey, &created, &consume, &t.PaymentID, &t.Attempts)
	if err != nil {
		return store.Token{}, err
	}
	t.ExpiresAt, t.CreatedAt, t.ConsumedAt = expires.time(), created.time(), consume.ptr()
	t.Metadata, err = decodeMetadata(meta)
	return t, err
}

// PaymentArgs are the values of PaymentColumns for p.
func PaymentArgs(p store.Payment) ([]any, error) {
	meta, err := encodeMetadata(p.Metadata)
	if err != nil {
		return nil, err
	}
	dec, err := encodeDecline(p.Decline)
	if err != nil {
		return nil, err
	}
	disp, err := encodeDispute(p.Dispute)
	if err != nil {
		return nil, err
	}
	return []any{
		p.ID, p.MerchantID, p.CheckoutSessionID, p.TokenID, p.TokenKind, p.Amount, p.Currency, string(p.Capture),
		string(p.Status), p.Processor, p.ProcessorType, p.ProcessorReference, dec, p.CapturedAmount,
		p.RefundedAmount, p.RefundPending, p.FeeEstimated, nullable(p.FeeActual), p.FeeCurrency, Blob(p.Routing),
		meta, Nanos(p.CreatedAt), Nanos(p.UpdatedAt), disp,
	}, nil
}

// PaymentUpdateArgs are the values of a payment's mutable columns (status,
// processor, processor_type, processor_reference, decline, captured_amount,
// refunded_amount, refund_pending, fee_estimated, fee_actual, fee_currency,
// routing, updated_at, dispute), then its id.
func PaymentUpdateArgs(p store.Payment) ([]any, error) {
	dec, err := encodeDecline(p.Decline)
	if err != nil {
		return nil, err
	}
	disp, err := encodeDispute(p.Dispute)
	if err != nil {
		return nil, err
	}
	return []any{
		string(p.Status), p.Processor, p.ProcessorType, p.ProcessorReference, dec, p.CapturedAmount,
		p.RefundedAmount, p.RefundPending, p.FeeEstimated, nullable(p.FeeActual), p.FeeCurrency, Blob(p.Routing),
		Nanos(p.UpdatedAt), disp, p.ID,
	}, nil
}

// ScanPayment reads a row of PaymentColumns.
func ScanPayment(sc Scanner) (store.Payment, error) {
	var (
		p                store.Payment
		capture, status  string
		dec, disp        nullText
		fee              nullInt
		meta             string
		created, updated nanoCol
	)
	err := sc.Scan(&p.ID, &p.MerchantID, &p.CheckoutSessionID, &p.TokenID, &p.TokenKind, &p.Amount, &p.Currency,
		&capture, &status, &p.Processor, &p.ProcessorType, &p.ProcessorReference, &dec, &p.CapturedAmount,
		&p.RefundedAmount, &p.RefundPending, &p.FeeEstimated, &fee, &p.FeeCurrency, &p.Routing, &meta,
		&created, &updated, &disp)
	if err != nil {
		return store.Payment{}, err
	}
	p.Capture, p.Status = payment.CaptureMode(capture), payment.Status(status)
	p.FeeActual = fee.ptr()
	p.CreatedAt, p.UpdatedAt = created.time(), updated.time()
	if p.Decline, err = decodeDecline(dec); err != nil {
		return store.Payment{}, err
	}
	if p.Dispute, err = decodeDispute(disp); err != nil {
		return store.Payment{}, err
	}
	p.Metadata, err = decodeMetadata(meta)
	return p, err
}

// AttemptArgs are the values of AttemptColumns for a.
func AttemptArgs(a store.Attempt) ([]any, error) {
	auth, err := encodeAuthentication(a.Authentication)
	if err != nil {
		return nil, err
	}
	return []any{
		a.ID, a.PaymentID, a.Seq, a.Processor, a.Operation, a.IdempotencyKey, a.Amount, a.Currency, a.RefundID,
		string(a.State), a.Outcome, a.Reference, a.Error, a.LatencyMS, Nanos(a.StartedAt), NanosPtr(a.FinishedAt),
		a.LeaseOwner, NanosPtr(a.LeaseUntil), Nanos(a.Deadline), auth,
	}, nil
}

// AttemptUpdateArgs are the values of an attempt's mutable columns (state,
// outcome, reference, error, latency_ms, finished_at, lease_owner,
// lease_until, deadline), then its id.
func AttemptUpdateArgs(a store.Attempt) []any {
	return []any{
		string(a.State), a.Outcome, a.Reference, a.Error, a.LatencyMS, NanosPtr(a.FinishedAt), a.LeaseOwner,
		NanosPtr(a.LeaseUntil), Nanos(a.Deadline), a.ID,
	}
}

// ScanAttempt reads a row of AttemptColumns.
func ScanAttempt(sc Scanner) (store.Attempt, error) {
	var (
		a                                store.Attempt
		state                            string
		started, finished, lse, deadline nanoCol
		auth                             nullText
	)
	err := sc.Scan(&a.ID, &a.PaymentID, &a.Seq, &a.Processor, &a.Operation, &a.IdempotencyKey, &a.Amount,
		&a.Currency, &a.RefundID, &state, &a.Outcome, &a.Reference, &a.Error, &a.LatencyMS, &started, &finished,
		&a.LeaseOwner, &lse, &deadline, &auth)
	if err != nil {
		return store.Attempt{}, err
	}
	a.State = store.AttemptState(state)
	a.StartedAt, a.FinishedAt, a.LeaseUntil, a.Deadline = started.time(), finished.ptr(), lse.ptr(), deadline.time()
	a.Authentication, err = decodeAuthentication(auth)
	return a, err
}

// RefundArgs are the values of RefundColumns for r.
func RefundArgs(r store.Refund) []any {
	return []any{r.ID, r.PaymentID, r.Amount, r.Currency, r.Status, r.Reference, Nanos(r.CreatedAt), Nanos(r.UpdatedAt)}
}

// ScanRefund reads a row of RefundColumns.
func ScanRefund(sc Scanner) (store.Refund, error) {
	var (
		r                store.Refund
		created, updated nanoCol
	)
	err := sc.Scan(&r.ID, &r.PaymentID, &r.Amount, &r.Currency, &r.Status, &r.Reference, &created, &updated)
	if err != nil {
		return store.Refund{}, err
	}
	r.CreatedAt, r.UpdatedAt = created.time(), updated.time()
	return r, nil
}

// IdemArgs are the values of IdemColumns for r.
func IdemArgs(r store.IdemRecord) []any {
	return []any{
		r.Scope, r.Key, r.RequestHash, r.APIVersion, string(r.State), r.ResourceID, r.Status, Blob(r.Body),
		Nanos(r.LockedUntil), Nanos(r.CreatedAt), Nanos(r.ExpiresAt),
	}
}

// ScanIdem reads a row of IdemColumns.
func ScanIdem(sc Scanner) (store.IdemRecord, error) {
	var (
		r                        store.IdemRecord
		state                    string
		locked, created, expires nanoCol
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

// FeeArgs are the values of FeeColumns for f.
func FeeArgs(f store.FeeRecord) []any {
	return []any{f.Source, f.SourceRef, f.PaymentID, f.Processor, f.Amount, f.Currency, Nanos(f.CreatedAt)}
}

// ScanFee reads a row of FeeColumns.
func ScanFee(sc Scanner) (store.FeeRecord, error) {
	var (
		f  store.FeeRecord
		at nanoCol
	)
	if err := sc.Scan(&f.Source, &f.SourceRef, &f.PaymentID, &f.Processor, &f.Amount, &f.Currency, &at); err != nil {
		return store.FeeRecord{}, err
	}
	f.CreatedAt = at.time()
	return f, nil
}

// EventArgs are the values of EventColumns for e.
func EventArgs(e store.ProcessorEvent) []any {
	return []any{e.Processor, e.EventID, e.Type, e.Kind, e.Reference, e.PaymentID, e.Result, Blob(e.Raw),
		Nanos(e.ReceivedAt)}
}

// OutboxArgs are the values of OutboxInsertColumns for e.
func OutboxArgs(e store.OutboxEvent) []any {
	return []any{
		e.ID, e.MerchantID, e.PaymentID, e.Type, e.Body, e.CreatedAt.UnixNano(), string(e.State), e.Replay,
		e.Since.UnixNano(), e.Attempts, e.NextAttemptAt.UnixNano(), e.LastStatus, e.LastError,
		NanosPtr(e.DeliveredAt), e.LeaseOwner, NanosPtr(e.LeaseUntil),
	}
}

// ScanOutbox reads a row of OutboxColumns.
func ScanOutbox(sc Scanner) (store.OutboxEvent, error) {
	var (
		e                                  store.OutboxEvent
		state                              string
		created, since, next, deliv, lease nanoCol
	)
	err := sc.Scan(&e.Seq, &e.ID, &e.MerchantID, &e.PaymentID, &e.Type, &e.Body, &created, &state, &e.Replay,
		&since, &e.Attempts, &next, &e.LastStatus, &e.LastError, &deliv, &e.LeaseOwner, &lease)
	if err != nil {
		return store.OutboxEvent{}, err
	}
	e.State = store.OutboxState(state)
	e.CreatedAt, e.Since, e.NextAttemptAt = created.time(), since.time(), next.time()
	e.DeliveredAt, e.LeaseUntil = deliv.ptr(), lease.ptr()
	return e, nil
}

// DeliveryArgs are the values of DeliveryColumns for d.
func DeliveryArgs(d store.Delivery) []any {
	return []any{d.EventID, d.N, d.At.UnixNano(), d.StatusCode, d.LatencyMS, d.Error}
}

// ScanDelivery reads a row of DeliveryColumns.
func ScanDelivery(sc Scanner) (store.Delivery, error) {
	var (
		d  store.Delivery
		at nanoCol
	)
	if err := sc.Scan(&d.EventID, &d.N, &at, &d.StatusCode, &d.LatencyMS, &d.Error); err != nil {
		return store.Delivery{}, err
	}
	d.At = at.time()
	return d, nil
}

// ScanBacklog reads a row of BacklogColumns.
func ScanBacklog(sc Scanner) (store.Backlog, error) {
	var (
		b      store.Backlog
		oldest nanoCol
	)
	if err := sc.Scan(&b.MerchantID, &b.Count, &oldest); err != nil {
		return store.Backlog{}, err
	}
	b.Oldest = oldest.time()
	return b, nil
}

// AuthSessionArgs are the values of AuthSessionColumns for s.
func AuthSessionArgs(s store.AuthSession) []any {
	return []any{
		s.ID, s.MerchantID, s.AgentID, s.Provider, s.Status, s.Amount, s.Currency, s.CheckoutSessionID,
		s.KeyID, Blob(s.Credential), Blob(s.Details), Blob(s.Action), s.ResultKeyID, Blob(s.Result), Blob(s.State),
		s.Step, NanosPtr(s.StepUntil), s.IdempotencyKey, Nanos(s.ExpiresAt), Nanos(s.CreatedAt), Nanos(s.UpdatedAt),
		s.Version,
	}
}

// AuthSessionUpdateArgs are the values of AuthSessionUpdateColumns for s,
// then the version it gets (s.Version+1), its id and the version it must
// still have (s.Version).
func AuthSessionUpdateArgs(s store.AuthSession) []any {
	return []any{
		s.Status, s.CheckoutSessionID, s.KeyID, Blob(s.Credential), Blob(s.Details), Blob(s.Action), s.ResultKeyID,
		Blob(s.Result), Blob(s.State), s.Step, NanosPtr(s.StepUntil), Nanos(s.UpdatedAt),
		s.Version + 1, s.ID, s.Version,
	}
}

// ScanAuthSession reads a row of AuthSessionColumns.
func ScanAuthSession(sc Scanner) (store.AuthSession, error) {
	var (
		s                         store.AuthSession
		until                     nanoCol
		expires, created, updated nanoCol
	)
	err := sc.Scan(&s.ID, &s.MerchantID, &s.AgentID, &s.Provider, &s.Status, &s.Amount, &s.Currency,
		&s.CheckoutSessionID, &s.KeyID, &s.Credential, &s.Details, &s.Action, &s.ResultKeyID, &s.Result, &s.State,
		&s.Step, &until, &s.IdempotencyKey, &expires, &created, &updated, &s.Version)
	if err != nil {
		return store.AuthSession{}, err
	}
	s.StepUntil = until.ptr()
	s.ExpiresAt, s.CreatedAt, s.UpdatedAt = expires.time(), created.time(), updated.time()
	return s, nil
}

// nullable encodes *v, NULL for nil.
func nullable(v *int64) any {
	if v == nil {
		return nil
	}
	return *v
}

// nullInt scans a nullable integer column. It is a sql.Scanner with a type
// switch instead of sql.NullInt64's reflection; both drivers hand it an
// int64 or nil.
type nullInt struct {
	v     int64
	valid bool
}

// Scan implements sql.Scanner.
func (c *nullInt) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c = nullInt{}
	case int64:
		*c = nullInt{v: v, valid: true}
	default:
		return fmt.Errorf("rowcodec: integer column holds %T", src)
	}
	return nil
}

func (c nullInt) ptr() *int64 {
	if !c.valid {
		return nil
	}
	v := c.v
	return &v
}

// nanoCol scans a nullable unix-nanosecond column.
type nanoCol struct{ nullInt }

func (c nanoCol) time() time.Time {
	if !c.valid {
		return time.Time{}
	}
	return time.Unix(0, c.v).UTC()
}

func (c nanoCol) ptr() *time.Time {
	if !c.valid {
		return nil
	}
	t := c.time()
	return &t
}

// nullText scans a nullable text column.
type nullText struct {
	s     string
	valid bool
}

// Scan implements sql.Scanner.
func (c *nullText) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c = nullText{}
	case string:
		*c = nullText{s: v, valid: true}
	case []byte:
		*c = nullText{s: string(v), valid: true}
	default:
		return fmt.Errorf("rowcodec: text column holds %T", src)
	}
	return nil
}

// encodeMetadata encodes metadata as JSON text; nil stays "null" so that it
// reads back as nil.
func encodeMetadata(m map[string]string) (string, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode metadata: %w", err)
	}
	return string(b), nil
}

func decodeMetadata(s string) (map[string]string, error) {
	if s == "" || s == "null" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("decode metadata: %w", err)
	}
	return m, nil
}

// encodeDecline encodes a decline as JSON text, NULL for none.
func encodeDecline(d *payment.Decline) (any, error) {
	if d == nil {
		return nil, nil
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode decline: %w", err)
	}
	return string(b), nil
}

// encodeAuthentication encodes an attempt's 3-D Secure record as JSON
// text, NULL for none.
func encodeAuthentication(a *payment.AuthenticationRecord) (any, error) {
	if a == nil {
		return nil, nil
	}
	b, err := json.Marshal(a)
	if err != nil {
		return nil, fmt.Errorf("encode authentication: %w", err)
	}
	return string(b), nil
}

func decodeAuthentication(c nullText) (*payment.AuthenticationRecord, error) {
	if !c.valid {
		return nil, nil
	}
	var a payment.AuthenticationRecord
	if err := json.Unmarshal([]byte(c.s), &a); err != nil {
		return nil, fmt.Errorf("decode authentication: %w", err)
	}
	return &a, nil
}

func decodeDecline(c nullText) (*payment.Decline, error) {
	if !c.valid {
		return nil, nil
	}
	var d payment.Decline
	if err := json.Unmarshal([]byte(c.s), &d); err != nil {
		return nil, fmt.Errorf("decode decline: %w", err)
	}
	return &d, nil
}

// encodeDispute encodes a dispute as JSON text, NULL for none.
func encodeDispute(d *store.Dispute) (any, error) {
	if d == nil {
		return nil, nil
	}
	c := *d
	c.ReportedAt = c.ReportedAt.UTC()
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode dispute: %w", err)
	}
	return string(b), nil
}

func decodeDispute(c nullText) (*store.Dispute, error) {
	if !c.valid {
		return nil, nil
	}
	var d store.Dispute
	if err := json.Unmarshal([]byte(c.s), &d); err != nil {
		return nil, fmt.Errorf("decode dispute: %w", err)
	}
	d.ReportedAt = d.ReportedAt.UTC()
	return &d, nil
}
