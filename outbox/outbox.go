// Package outbox delivers merchant events from the store's outbox: the
// gateway writes each event in the transaction of the change it reports,
// and a Dispatcher in every acpgw process leases due events, signs them
// (Acpgw-Signature, package events), POSTs them to the merchant's URL and
// records every attempt.
//
// Delivery is at least once. Any answer but a 2xx, a timeout or a
// connection error is an attempt that failed: the event is sent again,
// with the same id and body, until events.give_up_after has passed since
// it was created (or redelivered on request), and is then marked failed.
// The events of one payment are sent in the order they were written: a
// later one waits until the earlier one was delivered or given up (the
// store's lease query holds it back). Leases live in the store, so several
// replicas share the work and no event is sent by two of them at once.
package outbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"acpgw/config"
	"acpgw/events"
	"acpgw/metrics"
	"acpgw/store"
	"acpgw/vault"
)

// Headers of a delivery besides events.SignatureHeader.
const (
	// EventIDHeader is the event's id, the same on every attempt.
	EventIDHeader = "Acpgw-Event-Id"
	// EventTypeHeader is the event's type.
	EventTypeHeader = "Acpgw-Event-Type"
	// AttemptHeader numbers the attempts of an event from 1.
	AttemptHeader = "Acpgw-Delivery-Attempt"
)

// Results of an attempt, the result label of acpgw_event_deliveries_total.
const (
	ResultDelivered       = "delivered"
	ResultHTTPError       = "http_error"
	ResultTimeout         = "timeout"
	ResultConnectionError = "connection_error"
	ResultNoEndpoint      = "no_endpoint"
)

// Defaults of Options.
const (
	// DefaultPoll is how often the store is asked for due events when
	// nothing woke the dispatcher: events of other replicas and retries
	// that came due.
	DefaultPoll = time.Second
	// backlogEvery is how often the backlog gauges are read from the store.
	backlogEvery = 5 * time.Second
	// maxAnswer is how much of a merchant's answer is read (and dropped),
	// so the connection can be reused.
	maxAnswer = 64 << 10
)

// Options configures a Dispatcher.
type Options struct {
	Store store.Store
	// Config returns the config in service; read for every attempt, so a
	// reload changes URLs, secrets and timings of the next attempt.
	// events.workers is read once, at Run.
	Config  func() *config.Config
	Metrics *metrics.Metrics
	Logger  *slog.Logger
	// Owner names this process in leases; hostname, pid and a random id
	// when empty.
	Owner string
	// Now is the clock of schedules, leases and signatures; time.Now when
	// nil.
	Now func() time.Time
	// Transport sends the deliveries; http.DefaultTransport's settings when
	// nil. Redirects are never followed: a 3xx is a failed attempt.
	Transport http.RoundTripper
	// Poll is DefaultPoll when 0.
	Poll time.Duration
	// Jitter returns a number in [0, 1); math/rand/v2 when nil.
	Jitter func() float64
	// UserAgent is sent with every delivery; "acpgw" when empty.
	UserAgent string
}

// Dispatcher delivers due events with up to events.workers attempts at
// once. It is safe for concurrent use.
type Dispatcher struct {
	o      Options
	client *http.Client
	wake   chan struct{}
	view   atomic.Pointer[view]
}

// New returns a Dispatcher; Run starts it.
func New(o Options) *Dispatcher {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Metrics == nil {
		o.Metrics = metrics.New(prometheus.NewRegistry())
	}
	if o.Owner == "" {
		host, _ := os.Hostname()
		o.Owner = fmt.Sprintf("%s/%d/%s", host, os.Getpid(), vault.NewID(""))
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.Jitter == nil {
		o.Jitter = rand.Float64
	}
	if o.UserAgent == "" {
		o.UserAgent = "acpgw"
	}
	tr := o.Transport
	if tr == nil {
		tr = http.DefaultTransport.(*http.Transport).Clone()
	}
	client := &http.Client{
		Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return &Dispatcher{o: o, client: client, wake: make(chan struct{}, 1)}
}

// Wake makes the dispatcher look for due events now (the gateway calls it
// after writing events). It never blocks.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Run delivers events until ctx ends, then waits for the attempts under
// way (each bounded by events.timeout) and returns. It recovers from panics
// in an attempt so that one bad event cannot stop the others.
func (d *Dispatcher) Run(ctx context.Context) {
	workers := d.config().Events.Workers
	if workers < 1 {
		workers = 1
	}
	busy := make(chan struct{}, workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	tick := time.NewTicker(d.o.Poll)
	defer tick.Stop()
	var lastBacklog time.Time
	for {
		if time.Since(lastBacklog) >= backlogEvery {
			lastBacklog = time.Now()
			d.refreshBacklog(ctx)
		}
		free := workers - len(busy)
		var leased []store.OutboxEvent
		if free > 0 && ctx.Err() == nil {
			leased = d.lease(ctx, free)
		}
		for _, e := range leased {
			busy <- struct{}{}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() {
					<-busy
					d.Wake()
				}()
				d.deliverSafely(ctx, e)
			}()
		}
		if len(leased) > 0 && len(leased) == free {
			continue // more may be due
		}
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-tick.C:
		}
	}
}

// RunOnce leases what is due now (up to limit events) and delivers it,
// one after another, before returning how many it attempted. Tests and
// tools use it instead of Run.
func (d *Dispatcher) RunOnce(ctx context.Context, limit int) int {
	evs := d.lease(ctx, limit)
	for _, e := range evs {
		d.deliverSafely(ctx, e)
	}
	return len(evs)
}

func (d *Dispatcher) lease(ctx context.Context, n int) []store.OutboxEvent {
	cfg := d.config()
	now := d.o.Now().UTC()
	evs, err := d.o.Store.LeaseOutboxEvents(ctx, d.o.Owner, now, now.Add(leaseFor(cfg.Events)), n)
	if err != nil {
		if ctx.Err() == nil {
			d.o.Logger.Warn("events: lease failed", slog.String("error", err.Error()))
		}
		return nil
	}
	return evs
}

// leaseFor is how long a worker holds an event: longer than an attempt can
// take (its timeout) plus recording it, so that no other worker sends it
// meanwhile. A worker that dies holding events delays them by this much.
func leaseFor(e config.Events) time.Duration { return 2*e.Timeout + 10*time.Second }

func (d *Dispatcher) deliverSafely(ctx context.Context, e store.OutboxEvent) {
	defer func() {
		if r := recover(); r != nil {
			d.o.Logger.Error("events: delivery panic", slog.String("event_id", e.ID), slog.Any("panic", r))
		}
	}()
	d.deliver(ctx, e)
}

// attempt is the outcome of one POST.
type attempt struct {
	status  int
	result  string
	err     string
	latency time.Duration
}

// deliver makes one attempt of e and records it. The attempt is detached
// from ctx (bounded by events.timeout instead): a shutdown lets it finish
// rather than leave the merchant's answer unknown.
func (d *Dispatcher) deliver(ctx context.Context, e store.OutboxEvent) {
	cfg := d.config()
	v := d.viewOf(cfg)
	m := v.merchants[e.MerchantID]
	at := d.o.Now().UTC()
	var a attempt
	if m == nil || m.Events == nil {
		a = attempt{result: ResultNoEndpoint, err: "no events endpoint configured for the merchant"}
	} else {
		a = d.post(ctx, cfg.Events, m.Events, e)
	}
	label := v.labels.Label(e.MerchantID)
	d.o.Metrics.EventDeliveries.WithLabelValues(label, a.result).Inc()
	if a.result != ResultNoEndpoint {
		d.o.Metrics.EventDeliveryDuration.WithLabelValues(label).Observe(a.latency.Seconds())
	}
	now := d.o.Now().UTC()
	r := store.DeliveryResult{
		Delivery: store.Delivery{EventID: e.ID, At: at, StatusCode: a.status, LatencyMS: a.latency.Milliseconds(), Error: a.err},
		State:    store.OutboxDelivered, NextAttemptAt: now,
	}
	log := d.o.Logger.With(slog.String("event_id", e.ID), slog.String("type", e.Type), slog.String("merchant", e.MerchantID),
		slog.String("payment_id", e.PaymentID), slog.Int("attempt", e.Attempts+1))
	if a.result != ResultDelivered {
		r.State, r.NextAttemptAt = schedule(cfg.Events, e.Since, now, d.o.Jitter())
		if r.State == store.OutboxFailed {
			d.o.Metrics.EventsGivenUp.WithLabelValues(label).Inc()
			log.Error("events: given up", slog.Int("status", a.status), slog.String("error", a.err),
				slog.Duration("after", now.Sub(e.Since)))
		} else {
			log.Warn("events: attempt failed", slog.Int("status", a.status), slog.String("error", a.err),
				slog.Time("next_attempt_at", r.NextAttemptAt))
		}
	}
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Events.Timeout+10*time.Second)
	defer cancel()
	if err := d.o.Store.RecordDelivery(rctx, d.o.Owner, r); err != nil {
		// The lease ran out (another worker has the event) or the store is
		// down: the event stays due and is sent again, with the same id.
		log.Warn("events: attempt not recorded", slog.String("error", err.Error()))
	}
}

// post sends e to the merchant's endpoint once.
func (d *Dispatcher) post(ctx context.Context, g config.Events, m *config.MerchantEvents, e store.OutboxEvent) attempt {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), g.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(rctx, http.MethodPost, m.URL, bytes.NewReader(e.Body))
	if err != nil {
		return attempt{result: ResultConnectionError, err: "invalid events url"}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", d.o.UserAgent)
	req.Header.Set(EventIDHeader, e.ID)
	req.Header.Set(EventTypeHeader, e.Type)
	req.Header.Set(AttemptHeader, strconv.Itoa(e.Attempts+1))
	req.Header.Set(events.SignatureHeader, events.Sign(e.Body, d.o.Now(), m.Secrets()...))
	start := time.Now()
	resp, err := d.client.Do(req)
	if err != nil {
		return attempt{result: failure(err), err: describe(err), latency: time.Since(start)}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxAnswer))
	resp.Body.Close()
	a := attempt{status: resp.StatusCode, latency: time.Since(start), result: ResultDelivered}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		a.result, a.err = ResultHTTPError, "status "+strconv.Itoa(resp.StatusCode)
	}
	return a
}

// failure classes a transport error.
func failure(err error) string {
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return ResultTimeout
	}
	return ResultConnectionError
}

// describe is what is stored of a transport error: the cause without the
// URL (net/http puts the whole URL in front), so a token a merchant put in
// its URL's query stays out of the store and the API.
func describe(err error) string {
	if failure(err) == ResultTimeout {
		return "timeout"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

// schedule decides what follows a failed attempt at now of an event
// attempted since since: the next attempt (pending) or giving up (failed,
// once give_up_after has passed; the last attempt is made at that time).
//
// The wait is as long as the event has waited so far, at least
// retry_initial and at most retry_max, with ±25% jitter: the attempts come
// at about since+initial, +2·initial, +4·initial... like exponential
// backoff. It is worked out from the event's own times rather than a count
// kept in memory, so it survives restarts and moves between replicas, and
// a redelivery (a new since) starts again from retry_initial.
// (github.com/cenkalti/backoff keeps its state in memory, which is why it
// is not used here.)
func schedule(e config.Events, since, now time.Time, jitter float64) (store.OutboxState, time.Time) {
	deadline := since.Add(e.GiveUpAfter)
	if !now.Before(deadline) {
		return store.OutboxFailed, now
	}
	wait := min(max(now.Sub(since), e.RetryInitial), e.RetryMax)
	wait = time.Duration(float64(wait) * (0.75 + 0.5*jitter))
	wait = min(max(wait, time.Millisecond), e.RetryMax)
	next := now.Add(wait)
	if next.After(deadline) {
		next = deadline
	}
	return store.OutboxPending, next
}

// refreshBacklog sets the backlog gauges from the store: what every
// replica still has to deliver, not what this one holds in memory.
func (d *Dispatcher) refreshBacklog(ctx context.Context) {
	bl, err := d.o.Store.OutboxBacklog(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.o.Logger.Warn("events: backlog not read", slog.String("error", err.Error()))
		}
		return
	}
	v := d.viewOf(d.config())
	now := d.o.Now()
	count := map[string]float64{metrics.OtherMerchant: 0}
	age := map[string]float64{metrics.OtherMerchant: 0}
	for id, m := range v.merchants {
		if m.Events != nil && v.labels[id] {
			count[id], age[id] = 0, 0
		}
	}
	for _, b := range bl {
		l := v.labels.Label(b.MerchantID)
		count[l] += float64(b.Count)
		age[l] = max(age[l], now.Sub(b.Oldest).Seconds())
	}
	d.o.Metrics.EventBacklog.Reset()
	d.o.Metrics.EventBacklogAge.Reset()
	for l, n := range count {
		d.o.Metrics.EventBacklog.WithLabelValues(l).Set(n)
		d.o.Metrics.EventBacklogAge.WithLabelValues(l).Set(age[l])
	}
}

func (d *Dispatcher) config() *config.Config { return d.o.Config() }

// view is what the dispatcher looks up in one config: merchants by id and
// their metric labels.
type view struct {
	cfg       *config.Config
	merchants map[string]*config.Merchant
	labels    metrics.MerchantLabels
}

// viewOf returns the lookups of cfg, built once per config.
func (d *Dispatcher) viewOf(cfg *config.Config) *view {
	if v := d.view.Load(); v != nil && v.cfg == cfg {
		return v
	}
	v := &view{cfg: cfg, merchants: make(map[string]*config.Merchant, len(cfg.Merchants)), labels: metrics.MerchantLabels{}}
	for _, m := range cfg.Merchants {
		v.merchants[m.ID] = m
		if m.Metrics.PerMerchant {
			v.labels[m.ID] = true
		}
	}
	d.view.Store(v)
	return v
}
