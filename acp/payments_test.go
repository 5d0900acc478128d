package acp

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestKindOf(t *testing.T) {
	t.Parallel()
	cases := []struct {
		token string
		kind  TokenKind
		ok    bool
	}{
		{"vt_01J8Z3WXYZ9ABC", TokenVault, true},
		{"spt_123", TokenSharedPayment, true},
		{"vt_", "", false},
		{"spt_", "", false},
		{"VT_abc", "", false},
		{"sk_live_123", "", false},
		{"4242424242424242", "", false},
		{"", "", false},
	}
	for _, tc := range cases {
		kind, ok := KindOf(tc.token)
		if kind != tc.kind || ok != tc.ok {
			t.Errorf("KindOf(%q) = %q, %v; want %q, %v", tc.token, kind, ok, tc.kind, tc.ok)
		}
	}
}

func TestDecodePaymentRequestAccepts(t *testing.T) {
	t.Parallel()
	tok := readTestdata(t, "payment_token_shape.json")
	yes := true
	cases := []struct {
		name string
		body []byte
		want PaymentRequest
	}{
		{"token shape", tok, PaymentRequest{MerchantID: "acme", CheckoutSessionID: "cs_123", Amount: 2599, Currency: "usd",
			PaymentData: PaymentData{Token: "vt_01J8Z3WXYZ9ABC", Provider: "stripe", Shape: ShapeToken, Kind: TokenVault},
			Capture:     "automatic", Metadata: map[string]string{"order_id": "o_1"}}},
		{"instrument shape", readTestdata(t, "payment_instrument_shape.json"), PaymentRequest{MerchantID: "acme",
			CheckoutSessionID: "cs_123", Amount: 1500, Currency: "eur", Capture: "manual",
			PaymentData: PaymentData{Token: "spt_1Abc", HandlerID: "h_stripe", InstrumentType: "card", CredentialType: "spt",
				Shape: ShapeInstrument, Kind: TokenSharedPayment, BillingAddress: &Address{Name: "Jane Doe", LineOne: "1 Main St",
					City: "Berlin", State: "BE", Country: "DE", PostalCode: "10115"}}}},
		{"capture defaults to automatic, jpy", mutate(t, tok, map[string]any{"capture": del{}, "metadata": del{}, "currency": "jpy"}),
			PaymentRequest{MerchantID: "acme", CheckoutSessionID: "cs_123", Amount: 2599, Currency: "jpy", Capture: "automatic",
				PaymentData: PaymentData{Token: "vt_01J8Z3WXYZ9ABC", Provider: "stripe", Shape: ShapeToken, Kind: TokenVault}}},
		{"b2b fields", []byte(`{"merchant_id":"m","checkout_session_id":"c","amount":1,"currency":"usd","payment_data":{"handler_id":"h","instrument":{"type":"card","credential":{"type":"vault_token","token":"vt_x"}},"purchase_order_number":"PO-1","payment_terms":"net_30","due_date":"2027-01-01T00:00:00Z","approval_required":true}}`),
			PaymentRequest{MerchantID: "m", CheckoutSessionID: "c", Amount: 1, Currency: "usd", Capture: "automatic",
				PaymentData: PaymentData{Token: "vt_x", HandlerID: "h", InstrumentType: "card", CredentialType: "vault_token",
					Shape: ShapeInstrument, Kind: TokenVault, PurchaseOrderNumber: "PO-1", PaymentTerms: "net_30",
					DueDate: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), ApprovalRequired: &yes}}},
		{"amount 2599.0", mutate(t, tok, map[string]any{"amount": raw("2599.0"), "metadata": del{}}),
			PaymentRequest{MerchantID: "acme", CheckoutSessionID: "cs_123", Amount: 2599, Currency: "usd", Capture: "automatic",
				PaymentData: PaymentData{Token: "vt_01J8Z3WXYZ9ABC", Provider: "stripe", Shape: ShapeToken, Kind: TokenVault}}},
		{"amount 1e3", mutate(t, tok, map[string]any{"amount": raw("1e3"), "metadata": del{}}),
			PaymentRequest{MerchantID: "acme", CheckoutSessionID: "cs_123", Amount: 1000, Currency: "usd", Capture: "automatic",
				PaymentData: PaymentData{Token: "vt_01J8Z3WXYZ9ABC", Provider: "stripe", Shape: ShapeToken, Kind: TokenVault}}},
		{"max int64", mutate(t, tok, map[string]any{"amount": raw("9223372036854775807"), "metadata": del{}}),
			PaymentRequest{MerchantID: "acme", CheckoutSessionID: "cs_123", Amount: 1<<63 - 1, Currency: "usd", Capture: "automatic",
				PaymentData: PaymentData{Token: "vt_01J8Z3WXYZ9ABC", Provider: "stripe", Shape: ShapeToken, Kind: TokenVault}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodePaymentRequest(tc.body)
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
			again, err := DecodePaymentRequest(encodePayment(got))
			if err != nil || !reflect.DeepEqual(again, got) {
				t.Fatalf("round trip: %v %+v", err, again)
			}
		})
	}
}

func TestDecodePaymentRequestRejects(t *testing.T) {
	t.Parallel()
	tok := readTestdata(t, "payment_token_shape.json")
	ins := readTestdata(t, "payment_instrument_shape.json")
	m := func(edits map[string]any) []byte { return mutate(t, tok, edits) }
	mi := func(edits map[string]any) []byte { return mutate(t, ins, edits) }
	const s400, s422 = http.StatusBadRequest, http.StatusUnprocessableEntity
	cases := []struct {
		name   string
		body   []byte
		status int
		code   string
		param  string
	}{
		{"malformed", []byte(`{"amount":`), s400, CodeInvalidRequest, ""},
		{"array", []byte(`[1]`), s400, CodeInvalidRequest, "$"},
		{"trailing", append([]byte(`{}`), `{}`...), s400, CodeInvalidRequest, ""},
		{"duplicate amount", []byte(`{"amount":1,"amount":100000}`), s400, CodeInvalidRequest, ""},
		{"unknown field", m(map[string]any{"customer": "x"}), s400, CodeInvalidRequest, "$.customer"},
		{"missing merchant", m(map[string]any{"merchant_id": del{}}), s400, CodeMissingField, "$.merchant_id"},
		{"missing session", m(map[string]any{"checkout_session_id": del{}}), s400, CodeMissingField, "$.checkout_session_id"},
		{"missing amount", m(map[string]any{"amount": del{}}), s400, CodeMissingField, "$.amount"},
		{"missing currency", m(map[string]any{"currency": del{}}), s400, CodeMissingField, "$.currency"},
		{"missing payment_data", m(map[string]any{"payment_data": del{}}), s400, CodeMissingField, "$.payment_data"},
		{"empty merchant", m(map[string]any{"merchant_id": ""}), s400, CodeInvalidRequest, "$.merchant_id"},
		{"long session", m(map[string]any{"checkout_session_id": strings.Repeat("c", 256)}), s400, CodeInvalidRequest, "$.checkout_session_id"},
		{"merchant number", m(map[string]any{"merchant_id": 7}), s400, CodeInvalidRequest, "$.merchant_id"},
		{"amount string", m(map[string]any{"amount": "2599"}), s400, CodeInvalidRequest, "$.amount"},
		{"amount float", m(map[string]any{"amount": 25.99}), s400, CodeInvalidRequest, "$.amount"},
		{"amount 25.990e0", m(map[string]any{"amount": raw("25.990e0")}), s400, CodeInvalidRequest, "$.amount"},
		{"amount 0.0", m(map[string]any{"amount": raw("0.0")}), s422, CodeInvalidAmount, "$.amount"},
		{"amount -1e2", m(map[string]any{"amount": raw("-1e2")}), s422, CodeInvalidAmount, "$.amount"},
		{"amount zero", m(map[string]any{"amount": 0}), s422, CodeInvalidAmount, "$.amount"},
		{"amount negative", m(map[string]any{"amount": -1}), s422, CodeInvalidAmount, "$.amount"},
		{"amount overflow", readTestdata(t, "payment_bad_overflow.json"), s422, CodeInvalidAmount, "$.amount"},
		{"currency upper", m(map[string]any{"currency": "USD"}), s400, CodeInvalidRequest, "$.currency"},
		{"currency unknown", m(map[string]any{"currency": "abc"}), s422, CodeInvalidCurrency, "$.currency"},
		{"capture later", m(map[string]any{"capture": "later"}), s400, CodeInvalidRequest, "$.capture"},
		{"metadata number", m(map[string]any{"metadata.order_id": 1}), s400, CodeInvalidRequest, "$.metadata.order_id"},
		{"metadata long key", m(map[string]any{"metadata." + strings.Repeat("k", 41): "v"}), s400, CodeInvalidRequest, "$.metadata"},
		{"metadata long value", m(map[string]any{"metadata.order_id": strings.Repeat("v", 501)}), s400, CodeInvalidRequest, "$.metadata.order_id"},
		{"metadata too many", m(map[string]any{"metadata": manyKeys(51)}), s400, CodeInvalidRequest, "$.metadata"},
		{"mixed shapes", readTestdata(t, "payment_bad_mixed_shape.json"), s400, CodeInvalidRequest, "$.payment_data"},
		{"token plus handler", m(map[string]any{"payment_data.handler_id": "h"}), s400, CodeInvalidRequest, "$.payment_data"},
		{"empty payment_data", m(map[string]any{"payment_data": map[string]any{}}), s400, CodeMissingField, "$.payment_data.handler_id"},
		{"po only", m(map[string]any{"payment_data": map[string]any{"purchase_order_number": "PO-1"}}), s400, CodeMissingField, "$.payment_data.handler_id"},
		{"spec example shape", m(map[string]any{"payment_data": map[string]any{"type": "vault_token", "token": "vt_1"}}), s400, CodeInvalidRequest, "$.payment_data.type"},
		{"no provider", m(map[string]any{"payment_data.provider": del{}}), s400, CodeMissingField, "$.payment_data.provider"},
		{"provider adyen", m(map[string]any{"payment_data.provider": "adyen"}), s400, CodeInvalidRequest, "$.payment_data.provider"},
		{"token number", m(map[string]any{"payment_data.token": 12}), s400, CodeInvalidRequest, "$.payment_data.token"},
		{"token empty", m(map[string]any{"payment_data.token": ""}), s400, CodeInvalidRequest, "$.payment_data.token"},
		{"token PAN", readTestdata(t, "payment_bad_token_pan.json"), s422, CodeTokenInvalid, "$.payment_data.token"},
		{"token prefix only", m(map[string]any{"payment_data.token": "vt_"}), s422, CodeTokenInvalid, "$.payment_data.token"},
		{"token space", m(map[string]any{"payment_data.token": "vt_a b"}), s422, CodeTokenInvalid, "$.payment_data.token"},
		{"payment_data string", m(map[string]any{"payment_data": "vt_1"}), s400, CodeInvalidRequest, "$.payment_data"},
		{"no instrument", mi(map[string]any{"payment_data.instrument": del{}}), s400, CodeMissingField, "$.payment_data.instrument"},
		{"no handler", mi(map[string]any{"payment_data.handler_id": del{}}), s400, CodeMissingField, "$.payment_data.handler_id"},
		{"instrument unknown", mi(map[string]any{"payment_data.instrument.brand": "visa"}), s400, CodeInvalidRequest, "$.payment_data.instrument.brand"},
		{"no credential", mi(map[string]any{"payment_data.instrument.credential": del{}}), s400, CodeMissingField, "$.payment_data.instrument.credential"},
		{"no credential token", mi(map[string]any{"payment_data.instrument.credential.token": del{}}), s400, CodeMissingField, "$.payment_data.instrument.credential.token"},
		{"credential unknown", mi(map[string]any{"payment_data.instrument.credential.x": 1}), s400, CodeInvalidRequest, "$.payment_data.instrument.credential.x"},
		{"credential token bad", mi(map[string]any{"payment_data.instrument.credential.token": "tok_visa"}), s422, CodeTokenInvalid, "$.payment_data.instrument.credential.token"},
		{"address missing city", mi(map[string]any{"payment_data.billing_address.city": del{}}), s400, CodeMissingField, "$.payment_data.billing_address.city"},
		{"payment_terms", mi(map[string]any{"payment_data.payment_terms": "net_45"}), s400, CodeInvalidRequest, "$.payment_data.payment_terms"},
		{"due_date", mi(map[string]any{"payment_data.due_date": "soon"}), s400, CodeInvalidRequest, "$.payment_data.due_date"},
		{"schema beats semantic", m(map[string]any{"amount": 0, "capture": "later"}), s400, CodeInvalidRequest, "$.capture"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := DecodePaymentRequest(tc.body)
			if err == nil {
				t.Fatal("accepted")
			}
			if err.Status != tc.status || err.Code != tc.code || err.Param != tc.param || err.Type != TypeInvalidRequest || err.Message == "" {
				t.Fatalf("got %d %s/%s %q (%s); want %d %s %q", err.Status, err.Type, err.Code, err.Param, err.Message, tc.status, tc.code, tc.param)
			}
			assertNoPAN(t, tc.body, err)
		})
	}
}

func manyKeys(n int) map[string]any {
	m := map[string]any{}
	for i := range n {
		m["k"+strings.Repeat("x", i%30)+string(rune('a'+i%26))+string(rune('a'+i/26))] = "v"
	}
	return m
}

func TestDecodeModifyRequest(t *testing.T) {
	t.Parallel()
	five := int64(500)
	ok := []struct {
		name string
		body string
		want ModifyRequest
	}{
		{"nil", "", ModifyRequest{}},
		{"whitespace", " \n", ModifyRequest{}},
		{"empty object", "{}", ModifyRequest{}},
		{"partial", string(readTestdata(t, "modify_partial.json")), ModifyRequest{Amount: &five, Metadata: map[string]string{"reason": "partial"}}},
	}
	for _, tc := range ok {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := DecodeModifyRequest([]byte(tc.body))
			if err != nil || !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
	bad := []struct {
		name, body string
		status     int
		code       string
		param      string
	}{
		{"string amount", string(readTestdata(t, "modify_bad_string_amount.json")), 400, CodeInvalidRequest, "$.amount"},
		{"float amount", `{"amount": 5.5}`, 400, CodeInvalidRequest, "$.amount"},
		{"zero amount", `{"amount": 0}`, 422, CodeInvalidAmount, "$.amount"},
		{"overflow", `{"amount": 92233720368547758070}`, 422, CodeInvalidAmount, "$.amount"},
		{"null amount", `{"amount": null}`, 400, CodeInvalidRequest, "$.amount"},
		{"unknown", `{"amount": 1, "reason": "x"}`, 400, CodeInvalidRequest, "$.reason"},
		{"null", `null`, 400, CodeInvalidRequest, "$"},
		{"trailing", `{} []`, 400, CodeInvalidRequest, ""},
		{"duplicate", `{"amount":1,"amount":2}`, 400, CodeInvalidRequest, ""},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := DecodeModifyRequest([]byte(tc.body))
			if err == nil || err.Status != tc.status || err.Code != tc.code || err.Param != tc.param {
				t.Fatalf("got %+v; want %d %s %q", err, tc.status, tc.code, tc.param)
			}
		})
	}
}
