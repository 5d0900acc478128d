package adyen_test

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"acpgw/payment"
	"acpgw/providers"
	"acpgw/providers/adyen"
	"acpgw/providers/adyen/adyentest"
)

// vectorKey is the HMAC key of fixtures/webhook-item-hmac-vector.json, from
// the fixtures' README.
const vectorKey = "74F490DD33F7327BAECC88B2947C011FC02D014A473AAA33A8EC93E4DC069174"

func vectorItem(t *testing.T) adyen.NotificationRequestItem {
	t.Helper()
	b, err := adyentest.Fixture("webhook-item-hmac-vector.json")
	if err != nil {
		t.Fatal(err)
	}
	var it adyen.NotificationRequestItem
	if err := json.Unmarshal(b, &it); err != nil {
		t.Fatal(err)
	}
	return it
}

func hexKey(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestHMACVector(t *testing.T) {
	t.Parallel()
	key := hexKey(t, vectorKey)
	it := vectorItem(t)
	if want := `ZVWN7D3WSMK2WN82::AntoniStroinski:\:/\/slashes are fun:1000:EUR:AUTHORISATION:true`; adyen.SigningString(it) != want {
		t.Fatalf("signing string %q, want %q", adyen.SigningString(it), want)
	}
	if !adyen.VerifyItem(key, it) {
		t.Fatal("the published vector does not verify")
	}
	if got := adyen.Sign(key, it); got != it.AdditionalData["hmacSignature"] {
		t.Fatalf("Sign = %q, want %q", got, it.AdditionalData["hmacSignature"])
	}
	// A changed byte in any signed field, or in the key, fails.
	for name, change := range map[string]func(*adyen.NotificationRequestItem){
		"pspReference": func(it *adyen.NotificationRequestItem) { it.PSPReference = "ZVWN7D3WSMK2WN83" },
		"merchantReference": func(it *adyen.NotificationRequestItem) {
			it.MerchantReference = strings.Replace(it.MerchantReference, "fun", "fum", 1)
		},
		"value":             func(it *adyen.NotificationRequestItem) { it.Amount = &adyen.ItemAmount{Currency: "EUR", Value: "1001"} },
		"currency":          func(it *adyen.NotificationRequestItem) { it.Amount = &adyen.ItemAmount{Currency: "EUX", Value: "1000"} },
		"success":           func(it *adyen.NotificationRequestItem) { it.Success = "false" },
		"eventCode":         func(it *adyen.NotificationRequestItem) { it.EventCode = "CAPTURE" },
		"originalReference": func(it *adyen.NotificationRequestItem) { it.OriginalReference = "X" },
		"signature": func(it *adyen.NotificationRequestItem) {
			it.AdditionalData = map[string]string{"hmacSignature": "CZErGCNQaSsxbaQfZaJlakqo7KPP+mIa8a+wx3yNs9B="}
		},
	} {
		c := vectorItem(t)
		change(&c)
		if adyen.VerifyItem(key, c) {
			t.Errorf("changed %s still verifies", name)
		}
	}
	bad := append([]byte(nil), key...)
	bad[0] ^= 1
	if adyen.VerifyItem(bad, it) {
		t.Error("a changed key still verifies")
	}
}

func TestSigningStringMissingFields(t *testing.T) {
	t.Parallel()
	it := adyen.NotificationRequestItem{PSPReference: "P", EventCode: "REPORT_AVAILABLE", Success: "true", MerchantAccountCode: "M"}
	if got, want := adyen.SigningString(it), "P::M::::REPORT_AVAILABLE:true"; got != want {
		t.Fatalf("SigningString = %q, want %q", got, want)
	}
	key := hexKey(t, vectorKey)
	it.AdditionalData = map[string]string{"hmacSignature": adyen.Sign(key, it)}
	if !adyen.VerifyItem(key, it) {
		t.Fatal("an item without amount or references does not verify")
	}
}

func webhookClient(t *testing.T) (*adyen.Client, *adyentest.Server) {
	t.Helper()
	return newClient(t, adyen.Config{Name: "adyen_eu"})
}

func TestParseWebhookKinds(t *testing.T) {
	t.Parallel()
	c, srv := webhookClient(t)
	item := func(code, success, psp, orig, ref string) adyen.NotificationRequestItem {
		return adyen.NotificationRequestItem{
			EventCode: code, Success: success, PSPReference: psp, OriginalReference: orig, MerchantReference: ref,
			MerchantAccountCode: srv.MerchantAccount, EventDate: "2026-11-26T18:00:00+01:00",
			Amount: &adyen.ItemAmount{Currency: "EUR", Value: "2599"},
		}
	}
	declined := item("AUTHORISATION", "false", "PSPDECLINED00001", "", "acpgw_pay_1_1")
	declined.Reason = "CVC Declined"
	declined.AdditionalData = map[string]string{"refusalReasonCode": "24"}
	items := []adyen.NotificationRequestItem{
		item("AUTHORISATION", "true", "PSPAUTH000000001", "", "acpgw_pay_1_1"),
		declined,
		item("CAPTURE", "true", "PSPCAPTURE000001", "PSPAUTH000000001", "pay_1"),
		item("CAPTURE", "false", "PSPCAPTURE000002", "PSPAUTH000000001", "pay_1"),
		item("CAPTURE_FAILED", "true", "PSPCAPTURE000003", "PSPAUTH000000001", "pay_1"),
		item("CANCELLATION", "true", "PSPCANCEL0000001", "PSPAUTH000000001", "pay_1"),
		item("REFUND", "true", "PSPREFUND0000001", "PSPAUTH000000001", "pay_1"),
		item("REFUND", "false", "PSPREFUND0000002", "PSPAUTH000000001", "pay_1"),
		item("REFUND_FAILED", "true", "PSPREFUND0000003", "PSPAUTH000000001", "pay_1"),
		item("CHARGEBACK", "true", "PSPCHARGEBACK001", "PSPAUTH000000001", ""),
		item("NOTIFICATION_OF_CHARGEBACK", "true", "PSPCHARGEBACK001", "PSPAUTH000000001", ""),
		item("REPORT_AVAILABLE", "true", "PSPREPORT0000001", "", ""),
	}
	events, err := c.ParseWebhook(nil, srv.WebhookBody(items...), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		kind          providers.EventKind
		ref, modRef   string
		paymentID, id string
	}{
		{providers.EventAuthorized, "PSPAUTH000000001", "", "", "PSPAUTH000000001:AUTHORISATION:true"},
		{providers.EventDeclined, "PSPDECLINED00001", "", "", "PSPDECLINED00001:AUTHORISATION:false"},
		{providers.EventCaptured, "PSPAUTH000000001", "PSPCAPTURE000001", "pay_1", "PSPCAPTURE000001:CAPTURE:true"},
		{providers.EventCaptureFailed, "PSPAUTH000000001", "PSPCAPTURE000002", "pay_1", "PSPCAPTURE000002:CAPTURE:false"},
		{providers.EventCaptureFailed, "PSPAUTH000000001", "PSPCAPTURE000003", "pay_1", "PSPCAPTURE000003:CAPTURE_FAILED:true"},
		{providers.EventVoided, "PSPAUTH000000001", "PSPCANCEL0000001", "pay_1", "PSPCANCEL0000001:CANCELLATION:true"},
		{providers.EventRefunded, "PSPAUTH000000001", "PSPREFUND0000001", "pay_1", "PSPREFUND0000001:REFUND:true"},
		{providers.EventRefundFailed, "PSPAUTH000000001", "PSPREFUND0000002", "pay_1", "PSPREFUND0000002:REFUND:false"},
		{providers.EventRefundFailed, "PSPAUTH000000001", "PSPREFUND0000003", "pay_1", "PSPREFUND0000003:REFUND_FAILED:true"},
		{providers.EventDisputed, "PSPAUTH000000001", "PSPCHARGEBACK001", "", "PSPCHARGEBACK001:CHARGEBACK:true"},
		{providers.EventDisputed, "PSPAUTH000000001", "PSPCHARGEBACK001", "", "PSPCHARGEBACK001:NOTIFICATION_OF_CHARGEBACK:true"},
		{providers.EventIgnored, "PSPREPORT0000001", "", "", "PSPREPORT0000001:REPORT_AVAILABLE:true"},
	}
	if len(events) != len(want) {
		t.Fatalf("%d events, want %d", len(events), len(want))
	}
	for i, w := range want {
		e := events[i]
		if e.Kind != w.kind || e.Reference != w.ref || e.ModificationReference != w.modRef || e.PaymentID != w.paymentID || e.ID != w.id {
			t.Errorf("event %d = %s ref %s mod %s payment %q id %s; want %+v", i, e.Kind, e.Reference, e.ModificationReference, e.PaymentID, e.ID, w)
		}
		if e.Amount == nil || *e.Amount != (payment.Money{Amount: 2599, Currency: "eur"}) {
			t.Errorf("event %d amount %v", i, e.Amount)
		}
		if e.OccurredAt.UTC() != time.Date(2026, 11, 26, 17, 0, 0, 0, time.UTC) {
			t.Errorf("event %d occurred at %v", i, e.OccurredAt)
		}
		if len(e.Raw) == 0 {
			t.Errorf("event %d has no raw JSON", i)
		}
	}
	if d := events[1].Decline; d == nil || d.Code != payment.DeclineIncorrectCVC || d.ProcessorCode != "24" {
		t.Errorf("declined authorisation: decline %+v", d)
	}
	if ct, body := c.WebhookAck(); string(body) != "[accepted]" || !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("WebhookAck = %q %q", ct, body)
	}
}

func TestParseWebhookRejects(t *testing.T) {
	t.Parallel()
	c, srv := webhookClient(t)
	good := adyen.NotificationRequestItem{EventCode: "CAPTURE", Success: "true", PSPReference: "P1", OriginalReference: "P0",
		MerchantAccountCode: srv.MerchantAccount, Amount: &adyen.ItemAmount{Currency: "EUR", Value: "100"}}
	signed := srv.Sign(good, good)
	tampered := signed[1]
	tampered.Amount = &adyen.ItemAmount{Currency: "EUR", Value: "1000000"}
	body, _ := json.Marshal(adyen.Notification{Live: "false", NotificationItems: []adyen.NotificationItem{{Item: signed[0]}, {Item: tampered}}})
	if ev, err := c.ParseWebhook(nil, body, time.Now()); !errors.Is(err, providers.ErrBadSignature) || ev != nil {
		t.Errorf("a delivery with one tampered item: %d events, error %v; want ErrBadSignature and nothing", len(ev), err)
	}
	unsigned, _ := json.Marshal(adyen.Notification{NotificationItems: []adyen.NotificationItem{{Item: good}}})
	if _, err := c.ParseWebhook(nil, unsigned, time.Now()); !errors.Is(err, providers.ErrBadSignature) {
		t.Errorf("an unsigned item: %v", err)
	}
	noKey, err := adyen.New(adyen.Config{APIKey: "k", MerchantAccount: "M"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := noKey.ParseWebhook(nil, srv.WebhookBody(good), time.Now()); !errors.Is(err, providers.ErrBadSignature) {
		t.Errorf("no hmac_key configured: %v, want ErrBadSignature", err)
	}
	for _, bad := range []string{``, `{}`, `[]`, `{"notificationItems":[]}`, `{"notificationItems":[{}]}`, `{"live":"false","notificationItems":[{"NotificationRequestItem":{"pspReference":"P"}}]}`, `{"notificationItems":[{"NotificationRequestItem":{"pspReference":"P","eventCode":"X","amount":{"value":1.5}}}]}`, `{} {}`} {
		if _, err := c.ParseWebhook(nil, []byte(bad), time.Now()); !errors.Is(err, adyen.ErrMalformedWebhook) {
			t.Errorf("ParseWebhook(%q) = %v, want ErrMalformedWebhook", bad, err)
		}
	}
}

func TestParseWebhookFixtures(t *testing.T) {
	t.Parallel()
	// The webhook-*.json fixtures were signed with unpublished keys: they
	// must decode, and must not verify under any key acpgw has.
	c, _ := webhookClient(t)
	for _, name := range []string{"webhook-authorisation-true.json", "webhook-capture-false.json", "webhook-refund-true.json", "webhook-cancellation-true.json"} {
		b, err := adyentest.Fixture(name)
		if err != nil {
			t.Fatal(err)
		}
		n, _, err := adyen.DecodeNotification(b)
		if err != nil || len(n.NotificationItems) != 1 {
			t.Errorf("%s: %v", name, err)
		}
		if _, err := c.ParseWebhook(nil, b, time.Now()); !errors.Is(err, providers.ErrBadSignature) {
			t.Errorf("%s: %v, want ErrBadSignature", name, err)
		}
	}
}

// FuzzParseWebhook checks that decoding never panics, that a delivery the
// client accepts verified, and that re-signing what it decoded verifies.
func FuzzParseWebhook(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/webhook/*.json")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	c, err := adyen.New(adyen.Config{APIKey: "k", MerchantAccount: "M", HMACKey: vectorKey})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		n, raws, err := adyen.DecodeNotification(body)
		events, perr := c.ParseWebhook(nil, body, time.Unix(0, 0))
		if err != nil {
			if perr == nil {
				t.Fatalf("DecodeNotification failed (%v) but ParseWebhook accepted", err)
			}
			return
		}
		if len(raws) != len(n.NotificationItems) {
			t.Fatalf("%d raw items for %d items", len(raws), len(n.NotificationItems))
		}
		if perr != nil {
			if !errors.Is(perr, providers.ErrBadSignature) {
				t.Fatalf("decoded but ParseWebhook: %v", perr)
			}
			return
		}
		for i, e := range events {
			if !strings.HasPrefix(e.ID, n.NotificationItems[i].Item.PSPReference+":") {
				t.Fatalf("event id %q", e.ID)
			}
		}
	})
}

func TestParseWebhookVectorDelivery(t *testing.T) {
	t.Parallel()
	c, err := adyen.New(adyen.Config{APIKey: "k", MerchantAccount: "M", HMACKey: vectorKey})
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("testdata/webhook/vector-signed.json")
	if err != nil {
		t.Fatal(err)
	}
	events, err := c.ParseWebhook(nil, b, time.Now())
	if err != nil || len(events) != 1 || events[0].Kind != providers.EventAuthorized || events[0].ID != "ZVWN7D3WSMK2WN82:AUTHORISATION:true" {
		t.Fatalf("vector delivery: %+v, %v", events, err)
	}
	b, err = os.ReadFile("testdata/webhook/one-tampered.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ParseWebhook(nil, b, time.Now()); !errors.Is(err, providers.ErrBadSignature) {
		t.Fatalf("tampered delivery: %v", err)
	}
}
