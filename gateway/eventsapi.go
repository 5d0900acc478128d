package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"acpgw/events"
	"acpgw/payment"
	"acpgw/store"
)

// Errors of the merchant events API.
var (
	// ErrEventNotFound: no event of that id belongs to the merchant (the
	// API does not tell another merchant's event from none).
	ErrEventNotFound = fmt.Errorf("event: %w", payment.ErrNotFound)
	// ErrBadEventQuery: a GET /v1/events parameter is not valid.
	ErrBadEventQuery = errors.New("invalid events query")
)

// Event list limits.
const (
	DefaultEventLimit = 20
	MaxEventLimit     = 100
)

// EventObject is a merchant event as the events API shows it: the fields
// of the body it delivers, and where its delivery stands.
type EventObject struct {
	ID         string `json:"id"`
	Object     string `json:"object"`
	Type       string `json:"type"`
	Created    string `json:"created"`
	APIVersion string `json:"api_version"`
	PaymentID  string `json:"payment_id"`
	// Data is the body's data: the payment, and for refund events the
	// refund, as they were when the event happened.
	Data     json.RawMessage `json:"data"`
	Delivery DeliveryObject  `json:"delivery"`
}

// DeliveryObject is where an event's delivery stands.
type DeliveryObject struct {
	// Status is pending, delivered or failed (given up).
	Status   string `json:"status"`
	Attempts int    `json:"attempts"`
	// NextAttemptAt is set while pending.
	NextAttemptAt *string `json:"next_attempt_at"`
	DeliveredAt   *string `json:"delivered_at"`
	// LastError says why the last attempt failed, "" after a 2xx.
	LastError string `json:"last_error"`
}

// EventDetail is GET /v1/events/{id}: the event with every delivery
// attempt, oldest first.
type EventDetail struct {
	EventObject
	Attempts []DeliveryAttemptObject `json:"attempts"`
}

// DeliveryAttemptObject is one attempt to deliver an event.
type DeliveryAttemptObject struct {
	At string `json:"at"`
	// StatusCode is the merchant's answer, null when none came (timeout,
	// connection error).
	StatusCode *int   `json:"status_code"`
	LatencyMS  int64  `json:"latency_ms"`
	Error      string `json:"error"`
}

// EventList is a page of GET /v1/events, newest first.
type EventList struct {
	Object  string        `json:"object"`
	Data    []EventObject `json:"data"`
	HasMore bool          `json:"has_more"`
	// NextCursor is the starting_after of the next page, null on the last.
	NextCursor *string `json:"next_cursor"`
}

// EventQuery is a validated GET /v1/events query.
type EventQuery struct {
	PaymentID string
	Type      string
	// StartingAfter is the id of the last event of the previous page.
	StartingAfter string
	Limit         int
}

// ParseEventQuery checks GET /v1/events's parameters: payment_id, type (a
// known event type), starting_after (an event id) and limit (1 to
// MaxEventLimit, DefaultEventLimit when empty). Errors wrap
// ErrBadEventQuery.
func ParseEventQuery(paymentID, typ, startingAfter, limit string) (EventQuery, error) {
	q := EventQuery{PaymentID: paymentID, Type: typ, StartingAfter: startingAfter, Limit: DefaultEventLimit}
	if typ != "" && !events.Known(typ) {
		return q, publicError(ErrBadEventQuery, "type %q is not an event type", typ)
	}
	if limit != "" {
		n, err := strconv.Atoi(limit)
		if err != nil || n < 1 || n > MaxEventLimit {
			return q, publicError(ErrBadEventQuery, "limit must be an integer from 1 to %d", MaxEventLimit)
		}
		q.Limit = n
	}
	return q, nil
}

// ListEvents returns a page of merchantID's events, newest first.
func (s *Service) ListEvents(ctx context.Context, merchantID string, q EventQuery) (EventList, error) {
	f := store.OutboxFilter{MerchantID: merchantID, PaymentID: q.PaymentID, Type: q.Type, Limit: q.Limit + 1}
	if q.StartingAfter != "" {
		e, err := s.merchantEvent(ctx, merchantID, q.StartingAfter)
		if errors.Is(err, ErrEventNotFound) {
			return EventList{}, publicError(ErrBadEventQuery, "starting_after %q is not one of your events", q.StartingAfter)
		}
		if err != nil {
			return EventList{}, err
		}
		f.BeforeSeq = e.Seq
	}
	evs, err := s.store.ListOutboxEvents(ctx, f)
	if err != nil {
		return EventList{}, err
	}
	out := EventList{Object: "list", Data: make([]EventObject, 0, len(evs))}
	if len(evs) > q.Limit {
		evs, out.HasMore = evs[:q.Limit], true
		last := evs[len(evs)-1].ID
		out.NextCursor = &last
	}
	for _, e := range evs {
		o, err := eventObject(e)
		if err != nil {
			return EventList{}, err
		}
		out.Data = append(out.Data, o)
	}
	return out, nil
}

// Event returns merchantID's event id with its delivery attempts.
func (s *Service) Event(ctx context.Context, merchantID, id string) (EventDetail, error) {
	e, err := s.merchantEvent(ctx, merchantID, id)
	if err != nil {
		return EventDetail{}, err
	}
	return s.eventDetail(ctx, e)
}

// RedeliverInput is a POST /v1/events/{id}/redeliver by an authenticated
// merchant.
type RedeliverInput struct {
	MerchantID string
	EventID    string
	// Idempotency is the request's key; zero when it has none.
	Idempotency Idempotency
}

// RedeliverEvent sends an event again, as soon as a worker is free: a
// delivered or given-up event becomes pending again, outside its payment's
// order (it neither waits for nor holds back the payment's other events),
// and is retried until give_up_after from now; a pending one is made due
// now. The answer is 200 with the event.
func (s *Service) RedeliverEvent(ctx context.Context, in RedeliverInput) (Answer, error) {
	e, err := s.merchantEvent(ctx, in.MerchantID, in.EventID)
	if err != nil {
		return s.beforeWrite(ctx, in.Idempotency, err)
	}
	now := s.now().UTC()
	after := e
	if after.State != store.OutboxPending {
		after.State, after.Replay, after.Since = store.OutboxPending, true, now
	}
	after.NextAttemptAt = now
	d, err := s.eventDetail(ctx, after)
	if err != nil {
		return Answer{}, err
	}
	ans, err := jsonAnswer(statusOK, d)
	if err != nil {
		return Answer{}, err
	}
	rec := s.idemRecord(in.Idempotency, now, e.ID)
	err = s.store.Tx(ctx, func(tx store.Tx) error {
		if _, err := s.claim(ctx, tx, in.Idempotency, rec, now); err != nil {
			return err
		}
		if err := tx.RedeliverOutboxEvent(ctx, e.ID, now); err != nil {
			return err
		}
		return storeAnswer(ctx, tx, in.Idempotency, ans, false, now)
	})
	if err != nil {
		return s.beforeWrite(ctx, in.Idempotency, err)
	}
	if s.onEvents != nil {
		s.onEvents()
	}
	return ans, nil
}

// eventAnswer rebuilds the answer of the redelivery of event id, for a
// replay of a request whose answer was lost.
func (s *Service) eventAnswer(ctx context.Context, id string) (Answer, error) {
	e, err := s.store.GetOutboxEvent(ctx, id)
	if err != nil {
		return Answer{}, err
	}
	d, err := s.eventDetail(ctx, e)
	if err != nil {
		return Answer{}, err
	}
	return jsonAnswer(statusOK, d)
}

// merchantEvent reads event id if it is merchantID's.
func (s *Service) merchantEvent(ctx context.Context, merchantID, id string) (store.OutboxEvent, error) {
	e, err := s.store.GetOutboxEvent(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && e.MerchantID != merchantID) {
		return store.OutboxEvent{}, publicError(ErrEventNotFound, "no such event")
	}
	return e, err
}

func (s *Service) eventDetail(ctx context.Context, e store.OutboxEvent) (EventDetail, error) {
	o, err := eventObject(e)
	if err != nil {
		return EventDetail{}, err
	}
	ds, err := s.store.ListDeliveries(ctx, e.ID)
	if err != nil {
		return EventDetail{}, err
	}
	out := EventDetail{EventObject: o, Attempts: make([]DeliveryAttemptObject, 0, len(ds))}
	for _, d := range ds {
		a := DeliveryAttemptObject{At: rfc3339(d.At), LatencyMS: d.LatencyMS, Error: d.Error}
		if d.StatusCode != 0 {
			code := d.StatusCode
			a.StatusCode = &code
		}
		out.Attempts = append(out.Attempts, a)
	}
	return out, nil
}

// eventObject renders a stored event: its body's fields and its delivery.
func eventObject(e store.OutboxEvent) (EventObject, error) {
	var body struct {
		Created    string          `json:"created"`
		APIVersion string          `json:"api_version"`
		Data       json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(e.Body, &body); err != nil {
		return EventObject{}, fmt.Errorf("gateway: event %s: stored body: %w", e.ID, err)
	}
	o := EventObject{
		ID: e.ID, Object: "event", Type: e.Type, Created: body.Created, APIVersion: body.APIVersion,
		PaymentID: e.PaymentID, Data: body.Data,
		Delivery: DeliveryObject{Status: string(e.State), Attempts: e.Attempts, LastError: e.LastError},
	}
	if e.State == store.OutboxPending {
		next := rfc3339(e.NextAttemptAt)
		o.Delivery.NextAttemptAt = &next
	}
	if e.DeliveredAt != nil {
		at := rfc3339(*e.DeliveredAt)
		o.Delivery.DeliveredAt = &at
	}
	return o, nil
}

func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// tailWindow is how many of the newest events TailEvents reads each pass.
// An event that commits late (on Postgres, a transaction that took its
// sequence number before another one committed) is still shown, unless
// more than this many newer events came in between.
const tailWindow = 200

// TailEvents shows merchantID's events for an operator (acpgw events
// tail): first the last n, oldest first, then every event written since
// and every change of an event's delivery, each pass every interval, until
// ctx ends. With interval 0 it returns after the first pass.
func TailEvents(ctx context.Context, st store.Store, merchantID string, n int, interval time.Duration, show func(EventObject)) error {
	type state struct {
		status   store.OutboxState
		attempts int
	}
	var seen map[string]state
	for {
		evs, err := st.ListOutboxEvents(ctx, store.OutboxFilter{MerchantID: merchantID, Limit: max(n, tailWindow)})
		if err != nil {
			return err
		}
		var evsBeyond []store.OutboxEvent
		if seen == nil && len(evs) > n {
			// The first pass shows the last n only.
			evs, evsBeyond = evs[:n], evs[n:]
		}
		next := make(map[string]state, len(evs))
		for i := len(evs) - 1; i >= 0; i-- {
			e := evs[i]
			cur := state{e.State, e.Attempts}
			next[e.ID] = cur
			if prev, ok := seen[e.ID]; ok && prev == cur {
				continue
			}
			o, err := eventObject(e)
			if err != nil {
				return err
			}
			show(o)
		}
		// Older events of the first pass count as seen while they stay in
		// the window.
		for _, e := range evsBeyond {
			next[e.ID] = state{e.State, e.Attempts}
		}
		seen = next
		if interval <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}
