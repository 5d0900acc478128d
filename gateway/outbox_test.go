package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"acpgw/config"
	"acpgw/events"
	"acpgw/payment"
	"acpgw/providers"
	"acpgw/providers/adyen"
	"acpgw/providers/adyen/adyentest"
	"acpgw/providers/stripe"
	"acpgw/providers/stripe/stripetest"
	"acpgw/store"
)

const acmeAllEvents = `{url: "https://acme.example/events", secret: whsec_0123456789abcdef}`

// outbox returns payment id's events in the order they were written.
func (r *rig) outbox(id string) []store.OutboxEvent {
	r.t.Helper()
	evs, err := r.st.ListOutboxEvents(r.t.Context(), store.OutboxFilter{MerchantID: "acme", PaymentID: id, Limit: 1000})
	if err != nil {
		r.t.Fatal(err)
	}
	slices.Reverse(evs)
	return evs
}

func types(evs []store.OutboxEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

// body decodes an event's body, with its payment and refund.
func body(t *testing.T, e store.OutboxEvent) (events.Body, PaymentObject, *RefundObject) {
	t.Helper()
	var b events.Body
	if err := json.Unmarshal(e.Body, &b); err != nil {
		t.Fatalf("event %s body %s: %v", e.ID, e.Body, err)
	}
	var p PaymentObject
	if err := json.Unmarshal(b.Data.Payment, &p); err != nil {
		t.Fatalf("event %s data.payment: %v", e.ID, err)
	}
	var ref *RefundObject
	if len(b.Data.Refund) > 0 {
		ref = &RefundObject{}
		if err := json.Unmarshal(b.Data.Refund, ref); err != nil {
			t.Fatalf("event %s data.refund: %v", e.ID, err)
		}
	}
	if b.ID != e.ID || b.Type != e.Type || b.Object != "event" || b.APIVersion != EventAPIVersion || p.ID != e.PaymentID {
		t.Fatalf("event %s body %s does not match its row %+v", e.ID, e.Body, e)
	}
	if _, err := time.Parse(time.RFC3339, b.Created); err != nil {
		t.Fatalf("created %q: %v", b.Created, err)
	}
	return b, p, ref
}

// TestEventsOfThePaymentPath: every change a merchant's own requests make
// writes its events, whose data.payment is the payment object the request
// answered with (the same GET /v1/payments/{id} showed then).
func TestEventsOfThePaymentPath(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOpts{acmeEvents: acmeAllEvents})
	ctx := t.Context()

	ans, obj := r.mustPay(r.payInput(r.delegate("4242424242424242", 1000), 1000, "manual"))
	evs := r.outbox(obj.ID)
	if !slices.Equal(types(evs), []string{events.PaymentAuthorized}) {
		t.Fatalf("after authorization: %v", types(evs))
	}
	if _, p, _ := body(t, evs[0]); !jsonEqual(t, p, ans.Body) {
		t.Errorf("data.payment differs from the answer:\n%s\n%s", evs[0].Body, ans.Body)
	}

	cap, err := r.svc.Capture(ctx, ModifyInput{MerchantID: "acme", PaymentID: obj.ID, Amount: i64(800)})
	if err != nil {
		t.Fatal(err)
	}
	ref, err := r.svc.Refund(ctx, ModifyInput{MerchantID: "acme", PaymentID: obj.ID, Amount: i64(300)})
	if err != nil {
		t.Fatal(err)
	}
	evs = r.outbox(obj.ID)
	want := []string{events.PaymentAuthorized, events.PaymentCaptured, events.PaymentFeeSettled, events.RefundSucceeded}
	if !slices.Equal(types(evs), want) {
		t.Fatalf("events %v, want %v", types(evs), want)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Seq <= evs[i-1].Seq {
			t.Fatalf("events out of order: %+v", evs)
		}
	}
	if _, p, _ := body(t, evs[1]); !jsonEqual(t, p, cap.Body) || p.Status != payment.StatusCaptured || p.AmountCaptured != 800 {
		t.Errorf("captured event's payment %+v differs from the capture's answer %s", p, cap.Body)
	}
	if _, p, _ := body(t, evs[2]); p.Fee.Actual == nil {
		t.Errorf("fee_settled without an actual fee: %s", evs[2].Body)
	}
	_, p, refund := body(t, evs[3])
	var refAns PaymentObject
	if err := json.Unmarshal(ref.Body, &refAns); err != nil {
		t.Fatal(err)
	}
	refAns.Refund = nil
	if refund == nil || *refund != refAns.Refunds[0] || refund.Status != store.RefundSucceeded ||
		p.AmountRefunded != 300 || p.Status != payment.StatusPartiallyRefunded {
		t.Errorf("refund event: refund %+v, payment %+v; answer %s", refund, p, ref.Body)
	}

	// A void, a decline and a failure.
	_, voided := r.mustPay(r.payInput(r.delegate("4242424242424242", 500), 500, "manual"))
	if _, err := r.svc.Void(ctx, ModifyInput{MerchantID: "acme", PaymentID: voided.ID}); err != nil {
		t.Fatal(err)
	}
	if got := types(r.outbox(voided.ID)); !slices.Equal(got, []string{events.PaymentAuthorized, events.PaymentVoided}) {
		t.Errorf("void: %v", got)
	}
	_, declined := r.mustPay(r.payInput(r.delegate("4000000000000002", 500), 500, "automatic"))
	if got := types(r.outbox(declined.ID)); !slices.Equal(got, []string{events.PaymentDeclined}) {
		t.Errorf("decline: %v", got)
	}
	if _, err := r.svc.Pay(ctx, r.payInput(r.delegate("4000000000000119", 500), 500, "automatic")); err == nil {
		t.Fatal("a processor error answered without an error")
	}
	all, _ := r.st.ListOutboxEvents(ctx, store.OutboxFilter{MerchantID: "acme", Type: events.PaymentFailed})
	if len(all) != 1 {
		t.Errorf("%d payment.failed events, want 1 for the payment no processor took", len(all))
	}

	// Another merchant without events: nothing.
	in := r.payInput(r.delegate("4242424242424242", 500), 500, "automatic")
	in.MerchantID, in.Request.MerchantID = "other", "other"
	if _, err := r.svc.Pay(ctx, in); err == nil {
		t.Fatal("other paid with acme's token")
	}
	if got, _ := r.st.ListOutboxEvents(ctx, store.OutboxFilter{MerchantID: "other"}); len(got) != 0 {
		t.Errorf("other has %d events without an events config", len(got))
	}
}

// jsonEqual reports whether p renders as the JSON answer body (refund
// aside, which only a refund's answer has).
func jsonEqual(t *testing.T, p PaymentObject, answer []byte) bool {
	t.Helper()
	var a PaymentObject
	if err := json.Unmarshal(answer, &a); err != nil {
		t.Fatal(err)
	}
	a.Refund = nil
	x, _ := json.Marshal(p)
	y, _ := json.Marshal(a)
	return string(x) == string(y)
}

// TestEventsTypesFilter: only the types a merchant subscribes to are
// written.
func TestEventsTypesFilter(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOpts{acmeEvents: `{url: "http://127.0.0.1:9/e", secret: whsec_0123456789abcdef, types: [payment.captured, refund.failed]}`})
	_, obj := r.mustPay(r.payInput(r.delegate("4242424242424242", 1000), 1000, "automatic"))
	if got := types(r.outbox(obj.ID)); !slices.Equal(got, []string{events.PaymentCaptured}) {
		t.Fatalf("events %v, want only payment.captured (fee_settled is not subscribed)", got)
	}
}

// TestEventsWhenReconciliationResolves: a payment answered pending gets
// payment.pending_resolved and then its outcome's event when
// reconciliation settles it; nothing while it was pending.
func TestEventsWhenReconciliationResolves(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Now().UTC()}
	r := newRig(t, rigOpts{acmeEvents: acmeAllEvents, now: clock.now,
		processors: "  mock: {type: mock, timeout: 200ms, fees: {percent: 2.9, fixed: 30, currency: usd}}\n"})
	ans, obj := r.mustPay(r.payInput(r.delegate("4000000000009979", 1000), 1000, "automatic"))
	if ans.Status != http.StatusAccepted {
		t.Fatalf("answer %d %s; want 202 pending", ans.Status, ans.Body)
	}
	if got := r.outbox(obj.ID); len(got) != 0 {
		t.Fatalf("events while pending: %v", types(got))
	}
	clock.add(time.Hour) // past the attempt's own deadline
	if resolved, _, err := r.svc.Reconcile(t.Context(), ReconcileOptions{}); err != nil || resolved != 1 {
		t.Fatalf("Reconcile: %d, %v", resolved, err)
	}
	evs := r.outbox(obj.ID)
	want := []string{events.PaymentPendingResolved, events.PaymentCaptured, events.PaymentFeeSettled}
	if !slices.Equal(types(evs), want) {
		t.Fatalf("events %v, want %v", types(evs), want)
	}
	v, err := r.svc.Get(t.Context(), "acme", obj.ID)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(v.Object())
	for _, e := range evs {
		if _, p, _ := body(t, e); !jsonEqual(t, p, got) || p.Status != payment.StatusCaptured {
			t.Errorf("%s: data.payment %+v is not the settled payment %s", e.Type, p, got)
		}
	}
}

// TestEventsFromAdyenWebhooks: Adyen confirms a refund by webhook (the
// refund's answer was "received", pending) and later reports a
// chargeback, first as NOTIFICATION_OF_CHARGEBACK, then as CHARGEBACK.
func TestEventsFromAdyenWebhooks(t *testing.T) {
	t.Parallel()
	fake := adyentest.NewServer(t, adyentest.Options{})
	r := newRig(t, rigOpts{
		acmeEvents:         acmeAllEvents,
		processors:         fmt.Sprintf("  adyen_eu: {type: adyen, api_key: %q, merchant_account: %q, base_url: %q, hmac_key: %q, timeout: 5s}\n", fake.APIKey, fake.MerchantAccount, fake.BaseURL, fake.HMACKey),
		merchantProcessors: "[adyen_eu]",
		build: func(p *config.Processor) (providers.Provider, error) {
			a := p.Adyen
			return adyen.New(adyen.Config{Name: p.Name, APIKey: a.APIKey, MerchantAccount: a.MerchantAccount,
				BaseURL: a.BaseURL, HMACKey: a.HMACKey, Timeout: p.Timeout})
		},
	})
	ctx := t.Context()
	_, obj := r.mustPay(r.payInput(r.delegate(adyentest.CardApproved, 1000), 1000, "automatic"))
	if obj.Status != payment.StatusCaptured {
		t.Fatalf("payment %+v", obj)
	}
	ans, err := r.svc.Refund(ctx, ModifyInput{MerchantID: "acme", PaymentID: obj.ID, Amount: i64(400)})
	if err != nil || ans.Status != http.StatusAccepted {
		t.Fatalf("refund: %d %s %v; want 202 (received)", ans.Status, ans.Body, err)
	}
	if got := types(r.outbox(obj.ID)); !slices.Equal(got, []string{events.PaymentCaptured}) {
		t.Fatalf("before the webhook: %v", got)
	}
	prov, _ := r.svc.Runtime().Providers.Get("adyen_eu")
	deliver := func(items ...adyen.NotificationRequestItem) {
		t.Helper()
		evs, err := prov.(providers.WebhookReceiver).ParseWebhook(nil, fake.WebhookBody(items...), time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := r.svc.ApplyEvents(ctx, "adyen_eu", evs); err != nil {
			t.Fatal(err)
		}
	}
	items := fake.PendingNotifications() // AUTHORISATION, REFUND
	deliver(items...)
	deliver(items...) // a redelivery changes nothing
	evs := r.outbox(obj.ID)
	if !slices.Equal(types(evs), []string{events.PaymentCaptured, events.RefundSucceeded}) {
		t.Fatalf("after the REFUND webhook: %v", types(evs))
	}
	_, p, refund := body(t, evs[1])
	if refund == nil || refund.Amount != 400 || refund.Status != store.RefundSucceeded || p.AmountRefunded != 400 ||
		p.Status != payment.StatusPartiallyRefunded {
		t.Errorf("refund.succeeded: refund %+v payment %+v", refund, p)
	}

	cb := func(code string) adyen.NotificationRequestItem {
		return adyen.NotificationRequestItem{EventCode: code, PSPReference: "PSPCHARGEBACK0001", OriginalReference: *obj.ProcessorReference,
			MerchantAccountCode: fake.MerchantAccount, Success: "true", Reason: "Fraud", EventDate: "2026-11-27T10:00:00+01:00",
			Amount: &adyen.ItemAmount{Currency: "USD", Value: "600"}}
	}
	deliver(cb(adyen.EventCodeNotificationOfChargeback))
	deliver(cb(adyen.EventCodeChargeback))
	evs = r.outbox(obj.ID)
	if got := types(evs[2:]); !slices.Equal(got, []string{events.PaymentDisputed, events.PaymentDisputed}) {
		t.Fatalf("after the chargeback: %v", types(evs))
	}
	_, p, _ = body(t, evs[3])
	d := p.Dispute
	if d == nil || d.Reference != "PSPCHARGEBACK0001" || d.ProcessorEvent != "CHARGEBACK" || d.Amount != 600 || d.Currency != "usd" ||
		d.Reason != "Fraud" || d.ReportedAt != "2026-11-27T09:00:00Z" {
		t.Errorf("dispute %+v", d)
	}
	v, _ := r.svc.Get(ctx, "acme", obj.ID)
	if v.Payment.Dispute == nil || v.Payment.Dispute.ProcessorEvent != "CHARGEBACK" {
		t.Errorf("the dispute is not stored on the payment: %+v", v.Payment.Dispute)
	}
}

// TestEventsFromStripeDispute: Stripe's charge.dispute.created is stored on
// the payment and announced as payment.disputed.
func TestEventsFromStripeDispute(t *testing.T) {
	t.Parallel()
	fake := stripetest.New(t)
	const whsec = "whsec_gateway_test"
	r := newRig(t, rigOpts{
		acmeEvents:         acmeAllEvents,
		processors:         fmt.Sprintf("  stripe_us: {type: stripe, secret_key: %q, base_url: %q, webhook_secret: %s, timeout: 5s}\n", fake.Key, fake.URL, whsec),
		merchantProcessors: "[stripe_us]",
		build: func(p *config.Processor) (providers.Provider, error) {
			return stripe.New(stripe.Config{Name: p.Name, SecretKey: p.Stripe.SecretKey, BaseURL: p.Stripe.BaseURL,
				WebhookSecret: p.Stripe.WebhookSecret, Timeout: p.Timeout})
		},
	})
	ctx := t.Context()
	_, obj := r.mustPay(r.payInput(r.delegate(stripetest.CardVisa, 1000), 1000, "automatic"))
	if obj.Status != payment.StatusCaptured || obj.ProcessorReference == nil {
		t.Fatalf("payment %+v", obj)
	}
	raw := fmt.Sprintf(`{"id":"evt_dispute_gw","object":"event","api_version":"2023-10-16","created":%d,"type":"charge.dispute.created",
 "data":{"object":{"id":"dp_gw","object":"dispute","amount":1000,"currency":"usd","reason":"fraudulent","status":"needs_response",
  "charge":"ch_gw","payment_intent":%q,"metadata":{}}}}`, time.Now().Unix(), *obj.ProcessorReference)
	signed := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: []byte(raw), Secret: whsec, Timestamp: time.Now()})
	prov, _ := r.svc.Runtime().Providers.Get("stripe_us")
	evs, err := prov.(providers.WebhookReceiver).ParseWebhook(http.Header{stripe.SignatureHeader: {signed.Header}}, []byte(raw), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.svc.ApplyEvents(ctx, "stripe_us", evs); err != nil {
		t.Fatal(err)
	}
	out := r.outbox(obj.ID)
	if n := len(out); n == 0 || out[n-1].Type != events.PaymentDisputed {
		t.Fatalf("events %v; want payment.disputed last", types(out))
	}
	_, p, _ := body(t, out[len(out)-1])
	if d := p.Dispute; d == nil || d.Reference != "dp_gw" || d.Reason != "fraudulent" || d.ProcessorEvent != "charge.dispute.created" ||
		d.Amount != 1000 || p.Status != payment.StatusCaptured {
		t.Errorf("dispute %+v on %+v", p.Dispute, p)
	}
}

// TestEventsFromFeeImport: an imported actual fee that changes the payment's
// fee is announced once; importing the report again announces nothing.
func TestEventsFromFeeImport(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOpts{acmeEvents: `{url: "https://acme.example/e", secret: whsec_0123456789abcdef, types: [payment.fee_settled]}`})
	_, obj := r.mustPay(r.payInput(r.delegate("4242424242424242", 1000), 1000, "automatic"))
	before := len(r.outbox(obj.ID)) // the mock reports a fee at capture
	recs := []FeeImport{{Key: "line-1", Reference: *obj.ProcessorReference, Fee: payment.Money{Amount: 77, Currency: "usd"}}}
	for range 2 {
		if _, err := r.svc.ImportFees(t.Context(), "mock", "report", recs); err != nil {
			t.Fatal(err)
		}
	}
	evs := r.outbox(obj.ID)
	if len(evs) != before+1 {
		t.Fatalf("%d events after the import, want %d", len(evs), before+1)
	}
	if _, p, _ := body(t, evs[len(evs)-1]); p.Fee.Actual == nil || *p.Fee.Actual != 77 {
		t.Errorf("fee_settled shows fee %+v, want 77", p.Fee)
	}
}

// TestEventsRollBackWithTheirChange: a settlement whose transaction fails
// writes no event; reconciliation then settles the payment and writes its
// events once.
func TestEventsRollBackWithTheirChange(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Now().UTC()}
	r := newRig(t, rigOpts{acmeEvents: acmeAllEvents, now: clock.now})
	fs := &failingStore{Store: r.st, fail: 3} // delegate, intent, settlement
	r.svc.store = cvcStore{Store: fs, keys: r.svc.cvcs}
	_, err := r.svc.Pay(t.Context(), r.payInput(r.delegate("4242424242424242", 1000), 1000, "automatic"))
	if !errors.Is(err, errInjected) {
		t.Fatalf("Pay = %v, want the injected failure", err)
	}
	got, _ := r.st.ListOutboxEvents(t.Context(), store.OutboxFilter{MerchantID: "acme"})
	if len(got) != 0 {
		t.Fatalf("%d events of a settlement that did not commit", len(got))
	}
	clock.add(time.Hour) // past the attempt's own deadline
	if resolved, _, err := r.svc.Reconcile(t.Context(), ReconcileOptions{}); err != nil || resolved != 1 {
		t.Fatalf("Reconcile: %d, %v", resolved, err)
	}
	got, _ = r.st.ListOutboxEvents(t.Context(), store.OutboxFilter{MerchantID: "acme"})
	slices.Reverse(got)
	want := []string{events.PaymentPendingResolved, events.PaymentCaptured, events.PaymentFeeSettled}
	if !slices.Equal(types(got), want) {
		t.Fatalf("events after reconciliation %v, want %v", types(got), want)
	}
}

var errInjected = errors.New("injected failure")

// failingStore fails its fail-th transaction, after fn ran: everything fn
// wrote is rolled back.
type failingStore struct {
	store.Store
	n    atomic.Int64
	fail int64
}

func (f *failingStore) Tx(ctx context.Context, fn func(tx store.Tx) error) error {
	n := f.n.Add(1)
	return f.Store.Tx(ctx, func(tx store.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		if n == f.fail {
			return errInjected
		}
		return nil
	})
}
