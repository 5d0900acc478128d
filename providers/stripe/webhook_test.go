package stripe_test

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"

	"acpgw/payment"
	"acpgw/providers"
	"acpgw/providers/stripe"
)

const whsec = "whsec_test_secret"

func webhookClient(t testing.TB) *stripe.Client {
	t.Helper()
	c, err := stripe.New(stripe.Config{Name: "stripe_wh", SecretKey: "sk_test_x", BaseURL: "http://127.0.0.1:1", WebhookSecret: whsec})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return c
}

func signed(body []byte, secret string, at time.Time) http.Header {
	p := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: body, Secret: secret, Timestamp: at})
	h := http.Header{}
	h.Set(stripe.SignatureHeader, p.Header)
	return h
}

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "webhooks", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseWebhookEvents(t *testing.T) {
	t.Parallel()
	c := webhookClient(t)
	now := time.Unix(1790000100, 0)
	usd := func(n int64) *payment.Money { return &payment.Money{Amount: n, Currency: "usd"} }
	for _, tc := range []struct {
		file, id, ref, paymentID string
		kind                     providers.EventKind
		amount, fee              *payment.Money
		decline                  payment.DeclineCode
		mod                      string
	}{
		{file: "payment_intent.succeeded.json", id: "evt_succeeded_1", ref: "pi_1", paymentID: "pay_abc",
			kind: providers.EventCaptured, amount: usd(2599), fee: usd(105)},
		{file: "payment_intent.payment_failed.json", id: "evt_failed_1", ref: "pi_2", paymentID: "pay_def",
			kind: providers.EventDeclined, decline: payment.DeclineInsufficientFunds},
		{file: "payment_intent.canceled.json", id: "evt_canceled_1", ref: "pi_3", paymentID: "pay_ghi", kind: providers.EventVoided},
		{file: "payment_intent.amount_capturable_updated.json", id: "evt_capturable_1", ref: "pi_4", paymentID: "pay_jkl",
			kind: providers.EventAuthorizedHold, amount: &payment.Money{Amount: 2599, Currency: "eur"}},
		{file: "charge.refunded.json", id: "evt_refunded_1", ref: "pi_5", paymentID: "pay_mno",
			kind: providers.EventRefunded, amount: usd(1000), mod: "re_5"},
		{file: "charge.dispute.created.json", id: "evt_dispute_1", ref: "pi_6", kind: providers.EventDisputed, amount: usd(2599), mod: "dp_6"},
		{file: "customer.created.json", id: "evt_customer_1", kind: providers.EventIgnored},
		{file: "payment_intent.created.json", id: "evt_created_1", ref: "pi_8", paymentID: "pay_pqr", kind: providers.EventIgnored},
	} {
		t.Run(tc.file, func(t *testing.T) {
			body := fixture(t, tc.file)
			evs, err := c.ParseWebhook(signed(body, whsec, now.Add(-10*time.Second)), body, now)
			if err != nil {
				t.Fatalf("ParseWebhook: %v", err)
			}
			if len(evs) != 1 {
				t.Fatalf("got %d events, want 1", len(evs))
			}
			ev := evs[0]
			if ev.ID != tc.id || ev.Kind != tc.kind || ev.Reference != tc.ref || ev.PaymentID != tc.paymentID {
				t.Errorf("event = id %q kind %q ref %q payment %q; want %q %q %q %q",
					ev.ID, ev.Kind, ev.Reference, ev.PaymentID, tc.id, tc.kind, tc.ref, tc.paymentID)
			}
			if !sameMoney(ev.Amount, tc.amount) || !sameMoney(ev.Fee, tc.fee) {
				t.Errorf("amount %v fee %v, want %v %v", ev.Amount, ev.Fee, tc.amount, tc.fee)
			}
			if tc.decline != "" && (ev.Decline == nil || ev.Decline.Code != tc.decline || ev.Decline.ProcessorCode == "") {
				t.Errorf("decline %+v, want %s with the raw code", ev.Decline, tc.decline)
			}
			if ev.ModificationReference != tc.mod {
				t.Errorf("modification reference %q, want %q", ev.ModificationReference, tc.mod)
			}
			if ev.OccurredAt.IsZero() || string(ev.Raw) != string(body) {
				t.Errorf("OccurredAt %v, Raw kept: %v", ev.OccurredAt, string(ev.Raw) == string(body))
			}
		})
	}
}

func sameMoney(a, b *payment.Money) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func TestParseWebhookSignatures(t *testing.T) {
	t.Parallel()
	c := webhookClient(t)
	body := fixture(t, "payment_intent.succeeded.json")
	now := time.Unix(1790000100, 0)
	for _, tc := range []struct {
		name   string
		header http.Header
		body   []byte
	}{
		{"wrong secret", signed(body, "whsec_other", now), body},
		{"too old", signed(body, whsec, now.Add(-301*time.Second)), body},
		{"too far in the future", signed(body, whsec, now.Add(301*time.Second)), body},
		{"tampered body", signed(body, whsec, now), append([]byte(" "), body...)},
		{"no header", http.Header{}, body},
		{"garbage header", http.Header{stripe.SignatureHeader: {"nonsense"}}, body},
		{"no v1", http.Header{stripe.SignatureHeader: {"t=1790000100,v0=abcd"}}, body},
	} {
		t.Run(tc.name, func(t *testing.T) {
			evs, err := c.ParseWebhook(tc.header, tc.body, now)
			if !errors.Is(err, providers.ErrBadSignature) || evs != nil {
				t.Errorf("got %v, %v; want ErrBadSignature and no events", evs, err)
			}
		})
	}
	t.Run("at the tolerance edge", func(t *testing.T) {
		if _, err := c.ParseWebhook(signed(body, whsec, now.Add(-300*time.Second)), body, now); err != nil {
			t.Errorf("300 s old: %v, want accepted", err)
		}
	})
	t.Run("one of two signatures matches (secret roll)", func(t *testing.T) {
		h := signed(body, whsec, now)
		other := signed(body, "whsec_old", now).Get(stripe.SignatureHeader)
		h.Set(stripe.SignatureHeader, h.Get(stripe.SignatureHeader)+","+other[len("t=1790000100,"):])
		if _, err := c.ParseWebhook(h, body, now); err != nil {
			t.Errorf("ParseWebhook: %v", err)
		}
	})
	t.Run("no secret configured", func(t *testing.T) {
		nc, err := stripe.New(stripe.Config{SecretKey: "sk_test_x"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := nc.ParseWebhook(signed(body, "", now), body, now); !errors.Is(err, providers.ErrBadSignature) {
			t.Errorf("got %v, want ErrBadSignature", err)
		}
	})
	t.Run("signed but undecodable", func(t *testing.T) {
		bad := []byte(`{"id": 5}`)
		_, err := c.ParseWebhook(signed(bad, whsec, now), bad, now)
		if err == nil || errors.Is(err, providers.ErrBadSignature) {
			t.Errorf("got %v, want a decode error that is not ErrBadSignature", err)
		}
	})
}

// A replayed delivery parses to the same event ID: the store dedupes on it.
func TestParseWebhookReplay(t *testing.T) {
	t.Parallel()
	c := webhookClient(t)
	body := fixture(t, "charge.refunded.json")
	now := time.Unix(1790000100, 0)
	first, err := c.ParseWebhook(signed(body, whsec, now), body, now)
	if err != nil {
		t.Fatal(err)
	}
	later := now.Add(time.Minute)
	second, err := c.ParseWebhook(signed(body, whsec, later), body, later)
	if err != nil {
		t.Fatal(err)
	}
	if first[0].ID != second[0].ID || first[0].ID == "" {
		t.Errorf("replayed delivery IDs %q and %q, want the same", first[0].ID, second[0].ID)
	}
}

func TestWebhookAck(t *testing.T) {
	t.Parallel()
	ct, body := webhookClient(t).WebhookAck()
	if ct != "application/json" || len(body) == 0 {
		t.Errorf("WebhookAck = %q %q", ct, body)
	}
}

func FuzzParseWebhook(f *testing.F) {
	entries, err := os.ReadDir(filepath.Join("testdata", "webhooks"))
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		f.Add(fixture(f, e.Name()))
	}
	f.Add([]byte(`{"id":"evt_x","type":"charge.refunded","data":{"object":{"payment_intent":{"id":"pi_x"}}}}`))
	f.Add([]byte(`{"id":"evt_x","type":"payment_intent.succeeded","data":null}`))
	c := webhookClient(f)
	now := time.Unix(1790000100, 0)
	f.Fuzz(func(t *testing.T, body []byte) {
		// A valid signature, so that the decoder behind it is exercised.
		evs, err := c.ParseWebhook(signed(body, whsec, now), body, now)
		if errors.Is(err, providers.ErrBadSignature) {
			t.Fatalf("a correctly signed body was refused as a bad signature: %v", err)
		}
		if err != nil {
			return
		}
		if len(evs) != 1 || evs[0].ID == "" || evs[0].Type == "" || evs[0].Kind == "" {
			t.Fatalf("events %+v: want one with ID, Type and Kind", evs)
		}
		if evs[0].Kind == providers.EventDeclined && evs[0].Decline == nil {
			t.Fatal("a declined event without a decline")
		}
		for _, m := range []*payment.Money{evs[0].Amount, evs[0].Fee} {
			if m != nil && (m.Amount <= 0 || !payment.ValidCurrency(m.Currency)) {
				t.Fatalf("invalid money %+v", *m)
			}
		}
	})
}
