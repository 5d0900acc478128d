package mockhttp

import (
	"encoding/json"
	"reflect"
	"testing"

	"acpgw/payment"
	"acpgw/providers"
)

// FuzzAuthorizeBody: whatever JSON the Server reads as an authorization,
// the request it makes of it goes back on the wire unchanged, the 3-D
// Secure result included, so the Client and Server agree on every field.
func FuzzAuthorizeBody(f *testing.F) {
	auth := &payment.Authentication{Outcome: payment.AuthAuthenticated, Cryptogram: "MDEyMzQ1Njc4OWFiY2RlZmdoaWo=",
		ECI: "05", TransactionID: "ds-1", Version: "2.2.0"}
	card := &payment.Card{NumberType: "fpan", Number: "4000000000003220", ExpMonth: 12, ExpYear: 2034, CVC: "123"}
	for _, r := range []providers.AuthorizeRequest{
		{PaymentID: "pay_1", AttemptID: "att_1", IdempotencyKey: "k", Amount: payment.Money{Amount: 2599, Currency: "usd"},
			Capture: payment.CaptureManual, Instrument: providers.Instrument{Kind: providers.TokenVault, Card: card}, Authentication: auth},
		{PaymentID: "pay_2", Instrument: providers.Instrument{Kind: providers.TokenSharedPayment, SharedToken: "spt_1"},
			Authentication: &payment.Authentication{Outcome: payment.AuthNotSupported}},
	} {
		b, err := json.Marshal(toAuthorizeBody(r))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"authentication":{"outcome":"authenticated","cryptogram":7}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var b authorizeBody
		if err := json.Unmarshal(data, &b); err != nil {
			return
		}
		req := b.request()
		if (req.Authentication != nil) != (b.Authentication != nil) {
			t.Fatalf("authentication lost or invented: %v", req.Authentication)
		}
		again := toAuthorizeBody(req)
		if !reflect.DeepEqual(again, b) {
			t.Fatalf("round trip changed the body:\n%+v\n%+v", b, again)
		}
	})
}
