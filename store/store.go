// Package store defines what the gateway keeps durably: vault tokens,
// payments, attempts, refunds and idempotency records. Backends (store/sqlite,
// store/postgres) implement Store; the guarantees (single-use tokens, one
// idempotency record per key) come from the database itself, never from
// process memory.
package store

import (
	"context"
	"errors"
	"time"

	"acpgw/payment"
)

// Errors every backend returns for the same conditions.
var (
	// ErrNotFound: no row with that key.
	ErrNotFound = payment.ErrNotFound
	// ErrTokenConsumed: ConsumeToken found the token already consumed.
	ErrTokenConsumed = payment.ErrTokenConsumed
	// ErrDuplicate: a row with that unique key exists already.
	ErrDuplicate = errors.New("store: duplicate key")
	// ErrUnavailable: the database cannot be reached or timed out.
	ErrUnavailable = payment.ErrUnavailable
	// ErrSettled: SettleAttempt found the attempt no longer pending.
	ErrSettled = errors.New("store: attempt already settled")
	// ErrLeaseLost: RecordDelivery found the event no longer leased by the
	// caller (its lease ran out and another worker took it).
	ErrLeaseLost = errors.New("store: outbox lease lost")
	// ErrChanged: UpdateAuthSession found the session written by another
	// request since it was read (its Version moved on); nothing was
	// written.
	ErrChanged = errors.New("store: changed since it was read")
)

// Token is a vault token: an encrypted card credential bound to an allowance.
type Token struct {
	ID                string
	MerchantID        string
	CheckoutSessionID string
	MaxAmount         int64
	Currency          string
	ExpiresAt         time.Time
	// Reason is the allowance reason (one_time).
	Reason string
	// KeyID names the vault key that sealed Credential.
	KeyID string
	// Credential is the AES-GCM sealed card (number, expiry, name,
	// cryptogram); never plaintext.
	Credential []byte
	// CVC is the sealed CVC, nil once it has been used or its retention
	// ended. It is sealed under a data key held only in the memory of the
	// process that issued the token (vault.CVCKeys), not under KeyID.
	CVC []byte
	// Display fields, safe to show.
	Brand    string
	Funding  string
	Last4    string
	IIN      string
	Country  string
	Metadata map[string]string
	// AgentID is the agent platform that delegated the card.
	AgentID string
	// IdempotencyKey is the key the delegate_payment call carried, echoed in
	// the response metadata.
	IdempotencyKey string
	CreatedAt      time.Time
	// ConsumedAt and PaymentID are set while a payment holds the token (its
	// outcome is not known yet) and once a payment consumed it for good.
	ConsumedAt *time.Time
	PaymentID  string
	// Attempts counts the payments made with the token that reached a
	// processor (ConsumeToken counts one, ReleaseToken takes it back when
	// the payment surely charged nothing); a retryable decline reopens the
	// token until Attempts reaches the configured limit.
	Attempts int
}

// Payment is a payment record.
type Payment struct {
	ID                string
	MerchantID        string
	CheckoutSessionID string
	// TokenID is the vt_ or spt_ token the payment was made with.
	TokenID            string
	TokenKind          string
	Amount             int64
	Currency           string
	Capture            payment.CaptureMode
	Status             payment.Status
	Processor          string
	ProcessorType      string
	ProcessorReference string
	Decline            *payment.Decline
	// CapturedAmount and RefundedAmount are in minor units of Currency.
	CapturedAmount int64
	RefundedAmount int64
	// RefundPending is the sum of refunds sent but not yet confirmed; new
	// refunds may not exceed Captured - Refunded - RefundPending.
	RefundPending int64
	FeeEstimated  int64
	FeeActual     *int64
	FeeCurrency   string
	// Routing is the routing decision as JSON, shown in responses.
	Routing  []byte
	Metadata map[string]string
	// Dispute is the last dispute or chargeback a processor reported, nil
	// when there was none.
	Dispute   *Dispute
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Dispute is a dispute or chargeback a processor reported on a payment
// (Stripe charge.dispute.created, Adyen NOTIFICATION_OF_CHARGEBACK and
// CHARGEBACK). Backends store it as JSON text.
type Dispute struct {
	// Reference is the processor's id of the dispute (dp_..., the
	// chargeback's pspReference).
	Reference string `json:"reference"`
	// Amount is disputed, in minor units of Currency; 0 when not reported.
	Amount   int64  `json:"amount"`
	Currency string `json:"currency"`
	// Reason is the processor's short reason (fraudulent, a scheme reason
	// code text); never card data.
	Reason string `json:"reason"`
	// ProcessorEvent is the processor's event type that reported it.
	ProcessorEvent string    `json:"processor_event"`
	ReportedAt     time.Time `json:"reported_at"`
}

// AttemptState is where a processor call stands.
type AttemptState string

// The attempt states.
const (
	// AttemptPending: recorded before the call, or the outcome is unknown.
	AttemptPending AttemptState = "pending"
	// AttemptDone: the processor answered with a result.
	AttemptDone AttemptState = "done"
	// AttemptNotProcessed: the processor surely did not act.
	AttemptNotProcessed AttemptState = "not_processed"
	// AttemptRejected: the processor refused the modification; nothing changed.
	AttemptRejected AttemptState = "rejected"
)

// Attempt is one processor call, recorded durably before it is made.
type Attempt struct {
	ID        string
	PaymentID string
	// Seq numbers the payment's attempts from 1.
	Seq       int
	Processor string
	// Operation is authorize, capture, void or refund.
	Operation string
	// IdempotencyKey is acpgw_<payment>_<seq>: unique across the store
	// because (PaymentID, Seq) is, which is what the store checks.
	IdempotencyKey string
	Amount         int64
	Currency       string
	// RefundID links a refund attempt to its refund.
	RefundID string
	State    AttemptState
	// Outcome is the result status when State is done (captured, declined, ...).
	Outcome   string
	Reference string
	// Error is the error class and code, never card data.
	Error     string
	LatencyMS int64
	StartedAt time.Time
	// Deadline is the latest client-side deadline of the attempt's call,
	// fixed before the attempt is written and the call made: the call is
	// never in flight after it, whatever reload changes the processor's
	// timeout meanwhile. Once the call returned, it is the time it did.
	// Zero in attempts written before deadlines were recorded.
	Deadline time.Time
	// FinishedAt is set once State is no longer pending.
	FinishedAt *time.Time
	// LeaseOwner and LeaseUntil let exactly one replica reconcile a pending
	// attempt at a time.
	LeaseOwner string
	LeaseUntil *time.Time
	// Authentication is the 3-D Secure result the attempt was sent with,
	// without its cryptogram (which is never stored), nil without one.
	// Written with the attempt; never updated.
	Authentication *payment.AuthenticationRecord
}

// Refund is a refund of (part of) a captured payment.
type Refund struct {
	ID        string
	PaymentID string
	Amount    int64
	Currency  string
	// Status is pending, succeeded or failed.
	Status    string
	Reference string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Refund statuses.
const (
	RefundPending   = "pending"
	RefundSucceeded = "succeeded"
	RefundFailed    = "failed"
)

// ProcessorEvent is a processor's webhook event as acpgw stored it; (Processor,
// EventID) is unique, which is how a redelivered event is applied once.
type ProcessorEvent struct {
	Processor string
	EventID   string
	Type      string
	Kind      string
	Reference string
	PaymentID string
	// Result says what applying it did: applied, unknown_payment, ignored.
	Result     string
	Raw        []byte
	ReceivedAt time.Time
}

// FeeRecord is one actual fee reported by a processor (a balance
// transaction, a settlement report line). (Source, SourceRef) is unique, so
// importing the same report twice records nothing new.
type FeeRecord struct {
	// Source names where it came from ("adyen_settlement:adyen_eu").
	Source string
	// SourceRef is unique within Source (the report line's identity).
	SourceRef string
	PaymentID string
	Processor string
	// Amount is in minor units of Currency.
	Amount    int64
	Currency  string
	CreatedAt time.Time
}

// OutboxState is where a merchant event's delivery stands.
type OutboxState string

// The outbox states.
const (
	// OutboxPending: not delivered yet; retried until its give-up time.
	OutboxPending OutboxState = "pending"
	// OutboxDelivered: the merchant answered 2xx.
	OutboxDelivered OutboxState = "delivered"
	// OutboxFailed: given up after give_up_after.
	OutboxFailed OutboxState = "failed"
)

// OutboxEvent is a merchant event, written in the same transaction as the
// change it reports, then delivered by the outbox workers.
type OutboxEvent struct {
	// Seq is assigned by the store on insert and orders the events of one
	// payment as their transactions committed; zero before the insert.
	Seq        int64
	ID         string
	MerchantID string
	PaymentID  string
	Type       string
	// Body is the JSON body every attempt sends, rendered before the
	// transaction that wrote the event.
	Body      []byte
	CreatedAt time.Time
	State     OutboxState
	// Replay is set on an event redelivered on request: it neither waits
	// for nor holds back the other events of its payment.
	Replay bool
	// Since is when the current round of attempts began (creation, or the
	// redelivery request); give_up_after counts from it.
	Since    time.Time
	Attempts int
	// NextAttemptAt is when the event is due (again).
	NextAttemptAt time.Time
	// LastStatus and LastError describe the last attempt (status 0 when
	// there was no HTTP answer).
	LastStatus  int
	LastError   string
	DeliveredAt *time.Time
	// LeaseOwner and LeaseUntil: the worker delivering it now, so that no
	// two workers (of any replica) send it at the same time.
	LeaseOwner string
	LeaseUntil *time.Time
}

// Delivery is one attempt to deliver an outbox event.
type Delivery struct {
	EventID string
	// N numbers the event's attempts from 1.
	N  int
	At time.Time
	// StatusCode is the merchant's HTTP status, 0 when none came back.
	StatusCode int
	LatencyMS  int64
	// Error says why the attempt failed ("" for a 2xx): a status, a
	// timeout, a connection error. Never a secret.
	Error string
}

// DeliveryResult is what RecordDelivery writes: the attempt and the event's
// state after it.
type DeliveryResult struct {
	Delivery Delivery
	// State is OutboxDelivered, OutboxPending (retry at NextAttemptAt) or
	// OutboxFailed (given up).
	State         OutboxState
	NextAttemptAt time.Time
}

// OutboxFilter selects a merchant's events for GET /v1/events: newest
// first, optionally of one payment and one type, before the event with
// sequence number BeforeSeq (0: from the newest).
type OutboxFilter struct {
	MerchantID string
	PaymentID  string
	Type       string
	BeforeSeq  int64
	Limit      int
}

// Backlog is the undelivered events of one merchant.
type Backlog struct {
	MerchantID string
	Count      int
	// Oldest is the earliest Since among them.
	Oldest time.Time
}

// PaymentFilter selects payments for reports: created in [From, To),
// optionally of one merchant, ordered by (created_at, id), after the cursor.
type PaymentFilter struct {
	From, To   time.Time
	MerchantID string
	// AfterCreated and AfterID continue a listing after the last row seen.
	AfterCreated time.Time
	AfterID      string
	Limit        int
}

// AuthSession is a Delegate Authentication (3-D Secure) session. The card
// and the result are sealed by the vault; nothing in the row is card data
// or a cryptogram in clear.
type AuthSession struct {
	// ID is the authentication_session_id (as_...).
	ID         string
	MerchantID string
	// AgentID is the agent platform that created the session; no other
	// agent sees it.
	AgentID string
	// Provider names the processor that authenticates (config
	// merchants[].authentication.provider at creation).
	Provider string
	// Status is a threeds.Status (action_required, pending, authenticated,
	// expired, ...).
	Status string
	// Amount is in minor units of Currency.
	Amount            int64
	Currency          string
	CheckoutSessionID string
	// KeyID names the vault key that sealed Credential, the card (number,
	// expiry, name). Credential is nil once the session is final: it is
	// erased in the transaction that makes it so.
	KeyID      string
	Credential []byte
	// Details is JSON of the request's fields later steps need (acquirer,
	// browser, flow, shopper, challenge_notification_url); no card data.
	Details []byte
	// Action is JSON of the browser action the status asks for, nil
	// without one.
	Action []byte
	// ResultKeyID names the vault key that sealed Result, the final 3-D
	// Secure result with its cryptogram; both empty without a result.
	ResultKeyID string
	Result      []byte
	// State is the provider's own state, stored as it gave it.
	State []byte
	// Step names the provider call under way ("authenticate"), "" when
	// none is; StepUntil is when its claim ends (nil without one), after
	// which another request may take the session over.
	Step      string
	StepUntil *time.Time
	// IdempotencyKey is the key the create call carried, "" without one.
	IdempotencyKey string
	// ExpiresAt ends a session that is not final by then: it becomes
	// expired and is never passed to the provider again.
	ExpiresAt time.Time
	CreatedAt time.Time
	UpdatedAt time.Time
	// Version counts the session's writes from 1 (the insert).
	// UpdateAuthSession writes only over the version the caller read.
	Version int64
}

// IdemState is where an idempotent request stands.
type IdemState string

// The idempotency record states.
const (
	IdemInFlight IdemState = "in_flight"
	IdemDone     IdemState = "done"
	// IdemPending: the request was answered while its outcome was unknown
	// (202). Nothing final is stored: a replay answers from the resource
	// the record names, and stores that answer once it is final.
	IdemPending IdemState = "pending"
)

// IdemRecord is the idempotency record of one (scope, key).
type IdemRecord struct {
	// Scope is the caller and path the key is scoped to.
	Scope string
	Key   string
	// RequestHash is the SHA-256 of the canonical request body.
	RequestHash string
	// APIVersion of the first request.
	APIVersion string
	State      IdemState
	// ResourceID is set, in the side effect's own transaction, to the id of
	// what the request created (vt_..., pay_..., re_...), so that a request
	// whose response was lost can be answered from the resource.
	ResourceID string
	// Status and Body are the stored response once State is done.
	Status int
	Body   []byte
	// LockedUntil ends the in-flight claim; after it another request may take
	// the key over (the first one crashed).
	LockedUntil time.Time
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// LeaseQuery selects the pending attempts a reconciliation pass claims:
// state pending, started before StartedBefore, call deadline before
// DeadlineBefore, and lease free or ended by Now.
type LeaseQuery struct {
	// Owner takes the leases, until LeaseUntil.
	Owner      string
	LeaseUntil time.Time
	// Now ends the leases that ran out by then.
	Now time.Time
	// StartedBefore: only attempts started before it.
	StartedBefore time.Time
	// DeadlineBefore: only attempts whose call deadline passed before it,
	// so that no call still in flight is re-sent.
	DeadlineBefore time.Time
	// Unrecorded is the call time allowed to an attempt without a Deadline
	// (written by an older acpgw, perhaps another replica still running):
	// its deadline counts as StartedAt + Unrecorded.
	Unrecorded time.Duration
	// Limit is the most attempts claimed; none when 0.
	Limit int
}

// IdemBegin is the outcome of BeginIdempotency.
type IdemBegin int

// Outcomes of BeginIdempotency.
const (
	// IdemStarted: the caller holds the key now and must run the request.
	IdemStarted IdemBegin = iota
	// IdemExisting: a record exists; the returned record says which state.
	IdemExisting
	// IdemTakenOver: an in-flight record whose lock had expired was taken
	// over; the returned record is the old one (its ResourceID may be set).
	IdemTakenOver
)

// Store is a backend. Reads outside transactions see committed data.
type Store interface {
	// Tx runs fn in one write transaction: all of fn's writes commit or none.
	// Backends serialise conflicting writers (SQLite: BEGIN IMMEDIATE;
	// Postgres: row locks taken by the ...ForUpdate methods). fn may run
	// more than once (Postgres retries a transaction the server aborted, and
	// runs fn again when a key ClaimIdempotency claimed ahead was taken;
	// SQLite reruns the transactions of a group commit that another one's
	// failure rolled back), and only the last run's writes commit: fn must do
	// nothing but its work through tx and compute what it writes from what it
	// reads through tx or from values it does not change.
	Tx(ctx context.Context, fn func(tx Tx) error) error

	GetToken(ctx context.Context, id string) (Token, error)
	GetPayment(ctx context.Context, id string) (Payment, error)
	// GetAttempt returns the attempt id.
	GetAttempt(ctx context.Context, id string) (Attempt, error)
	ListAttempts(ctx context.Context, paymentID string) ([]Attempt, error)
	ListRefunds(ctx context.Context, paymentID string) ([]Refund, error)
	GetIdempotency(ctx context.Context, scope, key string) (IdemRecord, error)

	// BeginIdempotency inserts rec as in flight unless (scope, key) exists.
	// An existing done record, or in-flight record whose LockedUntil is in the
	// future, is returned with IdemExisting. An in-flight record whose lock has
	// expired is taken over (its hash, lock and expiry replaced by rec's,
	// ResourceID kept) and returned as it was, with IdemTakenOver. An expired
	// record (ExpiresAt past) is replaced as if absent.
	BeginIdempotency(ctx context.Context, rec IdemRecord, now time.Time) (IdemRecord, IdemBegin, error)
	// CompleteIdempotency stores the response and marks the record done.
	CompleteIdempotency(ctx context.Context, scope, key string, status int, body []byte) error
	// AbandonIdempotency deletes an in-flight record (the request ended in a
	// 5xx without a side effect, which is never stored).
	AbandonIdempotency(ctx context.Context, scope, key string) error
	// PurgeIdempotency deletes up to limit records that expired before now,
	// the soonest expired first, in one transaction, and returns how many;
	// fewer than limit means none is left. The limit keeps one purge from
	// holding SQLite's single writer (every payment waits for it) for long.
	PurgeIdempotency(ctx context.Context, now time.Time, limit int) (int64, error)

	// EraseCVCs sets to NULL the sealed CVC of up to limit tokens created
	// before createdBefore that still have one, in one transaction, and
	// returns how many it erased; fewer than limit means none is left.
	EraseCVCs(ctx context.Context, createdBefore time.Time, limit int) (int64, error)

	// LeasePendingAttempts claims the pending attempts q selects (see
	// LeaseQuery) for q.Owner until q.LeaseUntil, oldest first, at most
	// q.Limit, and returns them. Two replicas never get the same attempt
	// while its lease runs.
	LeasePendingAttempts(ctx context.Context, q LeaseQuery) ([]Attempt, error)
	// ReturnLease hands back a leased attempt whose re-send came back
	// without a final answer: if it is still pending and still leased by
	// owner, its lease is cleared and its Deadline set to callEnded (the
	// re-send is over), so that the next pass, on any replica, may try
	// again. Otherwise (settled, or leased by another since) nothing
	// changes and it returns nil.
	ReturnLease(ctx context.Context, id, owner string, callEnded time.Time) error

	// FindPaymentByReference returns the payment a processor knows by
	// reference: the payment of the attempt that received it (an
	// authorization's reference, which is also the payment's
	// ProcessorReference, or an Adyen modification's pspReference). The
	// payment's own field is not searched: a payment holds a reference
	// only once the attempt that received it is written with it.
	FindPaymentByReference(ctx context.Context, processor, reference string) (Payment, error)
	// ListPayments returns up to f.Limit payments in f's range and order.
	ListPayments(ctx context.Context, f PaymentFilter) ([]Payment, error)
	// ListFeeRecords returns the fee records of a payment.
	ListFeeRecords(ctx context.Context, paymentID string) ([]FeeRecord, error)

	// LeaseOutboxEvents claims up to limit pending events due at now whose
	// lease is free or expired, for owner until leaseUntil, and returns
	// them. An event waits while an earlier event of its payment (by Seq)
	// is pending, unless one of them is a Replay. Two workers never get
	// the same event while its lease runs.
	LeaseOutboxEvents(ctx context.Context, owner string, now, leaseUntil time.Time, limit int) ([]OutboxEvent, error)
	// RecordDelivery stores an attempt (of event r.Delivery.EventID) and
	// the event's state after it, and frees the lease, in one transaction;
	// ErrLeaseLost when owner no longer holds the event's lease (nothing is
	// written).
	RecordDelivery(ctx context.Context, owner string, r DeliveryResult) error
	// GetOutboxEvent returns the event id.
	GetOutboxEvent(ctx context.Context, id string) (OutboxEvent, error)
	// ListOutboxEvents returns up to f.Limit of a merchant's events, newest
	// first.
	ListOutboxEvents(ctx context.Context, f OutboxFilter) ([]OutboxEvent, error)
	// ListDeliveries returns the attempts of event id, oldest first.
	ListDeliveries(ctx context.Context, eventID string) ([]Delivery, error)
	// OutboxBacklog returns, per merchant with any, the pending events.
	OutboxBacklog(ctx context.Context) ([]Backlog, error)
	// PurgeOutboxEvents deletes up to limit settled events (delivered or
	// failed) created before createdBefore, the oldest first, with their
	// deliveries, and returns how many events it deleted. A pending event,
	// a redelivered one included, is kept until it settles.
	PurgeOutboxEvents(ctx context.Context, createdBefore time.Time, limit int) (int64, error)

	// GetAuthSession reads a committed authentication session.
	GetAuthSession(ctx context.Context, id string) (AuthSession, error)
	// ExpireAuthSessions makes up to limit sessions that are not final
	// and whose ExpiresAt is not after now expired, erasing their cards,
	// in one transaction, and returns them as written (their providers
	// count the ended sessions); fewer than limit means none is left.
	ExpireAuthSessions(ctx context.Context, now time.Time, limit int) ([]AuthSession, error)

	// Ping checks the database is reachable.
	Ping(ctx context.Context) error
	Close() error
}

// Tx is one write transaction. Methods that end in ForUpdate lock the row
// until the transaction ends.
//
// A write whose only answer is its error (the Insert..., Update...,
// SettleAttempt, DeleteTokenCVC, the idempotency record's Complete, Pend,
// Abandon and Link, RedeliverOutboxEvent) may be sent later, with the
// transaction's next statement that answers or with its commit
// (store/postgres does, to save round trips). Its error, with the sentinel
// documented here (ErrDuplicate, ErrNotFound, ErrSettled, ...), then comes
// from Store.Tx, which rolls everything back, and the calls fn makes after
// the failure fail with an error that wraps no sentinel. So fn must return
// a write's error as it is and never carry on after one: a caller that
// tolerates a write's error (a missing row) decides that after Store.Tx,
// or checks first with a read.
type Tx interface {
	InsertToken(ctx context.Context, t Token) error
	GetTokenForUpdate(ctx context.Context, id string) (Token, error)
	// ConsumeToken marks the token consumed by paymentID at at, only if it is
	// not consumed yet (otherwise ErrTokenConsumed), and counts the use: it
	// returns the token's Attempts, this one included. It is the single-use
	// guard: while paymentID holds the token no other payment can.
	ConsumeToken(ctx context.Context, id, paymentID string, at time.Time) (attempts int, err error)
	// ReleaseToken makes a token consumed by paymentID usable again and
	// takes its use back off Attempts: the payment surely charged nothing.
	// A token not consumed is left as it is; one consumed by another
	// payment is ErrTokenConsumed.
	ReleaseToken(ctx context.Context, id, paymentID string) error
	// ReopenToken makes a token consumed by paymentID usable again, its use
	// still counted: the payment got a retryable decline. Otherwise as
	// ReleaseToken.
	ReopenToken(ctx context.Context, id, paymentID string) error
	// DeleteTokenCVC erases the sealed CVC.
	DeleteTokenCVC(ctx context.Context, id string) error

	InsertPayment(ctx context.Context, p Payment) error
	GetPaymentForUpdate(ctx context.Context, id string) (Payment, error)
	// UpdatePayment writes every mutable field of p (status, processor,
	// reference, decline, amounts, fees, routing, dispute, updated_at).
	UpdatePayment(ctx context.Context, p Payment) error

	InsertAttempt(ctx context.Context, a Attempt) error
	// UpdateAttempt writes state, outcome, reference, error, latency,
	// finished_at, deadline and the lease of a.
	UpdateAttempt(ctx context.Context, a Attempt) error
	// SettleAttempt is UpdateAttempt of an attempt that must still be
	// pending: ErrSettled when another writer (reconciliation, a webhook)
	// settled it first, which the caller then reads instead.
	SettleAttempt(ctx context.Context, a Attempt) error
	ListAttempts(ctx context.Context, paymentID string) ([]Attempt, error)

	InsertRefund(ctx context.Context, r Refund) error
	UpdateRefund(ctx context.Context, r Refund) error
	ListRefunds(ctx context.Context, paymentID string) ([]Refund, error)

	// InsertEvent stores a processor event; ErrDuplicate when (Processor,
	// EventID) was stored before.
	InsertEvent(ctx context.Context, e ProcessorEvent) error
	// InsertFeeRecord stores an actual fee; ErrDuplicate when (Source,
	// SourceRef) was stored before.
	InsertFeeRecord(ctx context.Context, f FeeRecord) error
	// ListFeeRecords returns the fee records of a payment.
	ListFeeRecords(ctx context.Context, paymentID string) ([]FeeRecord, error)

	// ClaimIdempotency is BeginIdempotency inside this transaction, so that
	// a request's key is claimed in the same commit as its side effect (the
	// record's ResourceID names it) and a rollback releases both. rec is
	// stored as given (in flight, or done with its answer). A backend may
	// answer IdemStarted before the server has (Postgres claims ahead);
	// Tx then runs fn again with the server's answer if that was wrong.
	ClaimIdempotency(ctx context.Context, rec IdemRecord, now time.Time) (IdemRecord, IdemBegin, error)
	// CompleteIdempotency stores the response of an in-flight or pending
	// record and marks it done, in the same transaction as the side effect's
	// last write; a missing record is ErrNotFound.
	CompleteIdempotency(ctx context.Context, scope, key string, status int, body []byte) error
	// PendIdempotency marks a record pending (answered while the outcome
	// was unknown; replays answer from its ResourceID) and ends its lock; a
	// missing record is ErrNotFound.
	PendIdempotency(ctx context.Context, scope, key string, now time.Time) error
	// AbandonIdempotency deletes an in-flight record: the request ended
	// without a side effect and its answer is not stored.
	AbandonIdempotency(ctx context.Context, scope, key string) error

	// LinkIdempotency sets the ResourceID of an in-flight record, in the same
	// transaction as the side effect it names. A missing record is not an
	// error (requests without a key).
	LinkIdempotency(ctx context.Context, scope, key, resourceID string) error

	// InsertOutboxEvent stores a merchant event in the transaction of the
	// change it reports; the store assigns its Seq. The caller holds the
	// payment's row lock (GetPaymentForUpdate or UpdatePayment earlier in
	// the transaction), so the events of one payment are numbered in the
	// order their transactions commit. An existing id is ErrDuplicate.
	InsertOutboxEvent(ctx context.Context, e OutboxEvent) error
	// RedeliverOutboxEvent makes event id due at now: a delivered or failed
	// event becomes pending again as a Replay with Since now; a pending
	// one is only made due. A missing event is ErrNotFound.
	RedeliverOutboxEvent(ctx context.Context, id string, now time.Time) error

	// InsertAuthSession stores a new authentication session as given (its
	// Version is normally 1); an existing id is ErrDuplicate.
	InsertAuthSession(ctx context.Context, s AuthSession) error
	// GetAuthSession reads a session, including this transaction's
	// writes. It takes no lock: UpdateAuthSession checks the version.
	GetAuthSession(ctx context.Context, id string) (AuthSession, error)
	// UpdateAuthSession writes the mutable fields of s (status, checkout
	// session, card, details, action, result, state, step, updated_at)
	// only if the stored version is still s.Version, and makes it
	// s.Version+1. A session written since is ErrChanged, a missing one
	// ErrNotFound; neither writes anything.
	UpdateAuthSession(ctx context.Context, s AuthSession) error
}
