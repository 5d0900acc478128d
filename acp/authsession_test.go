package acp

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"acpgw/payment"
	"acpgw/threeds"
)

// Request kinds of the Delegate Authentication API.
const (
	authCreate       = "create"
	authAuthenticate = "authenticate"
)

// decodeAuth decodes body as a request of kind at testNow.
func decodeAuth(kind string, body []byte) (any, *Error) {
	if kind == authCreate {
		return DecodeAuthCreateRequestAt(body, testNow)
	}
	return DecodeAuthenticateRequest(body)
}

// badAuthCase is one invalid Delegate Authentication request and the error
// it must produce (always invalid_request/invalid_card).
type badAuthCase struct {
	name   string
	kind   string // authCreate or authAuthenticate
	body   []byte
	status int
	param  string
}

// authRejectCases are the invalid requests; the spec conformance tests
// reuse them.
func authRejectCases(t testing.TB) []badAuthCase {
	base := readTestdata(t, "auth_create_valid_full.json")
	auth := readTestdata(t, "auth_authenticate_valid_channel.json")
	m := func(edits map[string]any) []byte { return mutate(t, base, edits) }
	a := func(edits map[string]any) []byte { return mutate(t, auth, edits) }
	const s400, s422 = http.StatusBadRequest, http.StatusUnprocessableEntity
	long := func(n int) string { return strings.Repeat("a", n) }
	deep := strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40)
	c := func(name string, body []byte, status int, param string) badAuthCase {
		return badAuthCase{name: name, kind: authCreate, body: body, status: status, param: param}
	}
	au := func(name string, body []byte, status int, param string) badAuthCase {
		return badAuthCase{name: name, kind: authAuthenticate, body: body, status: status, param: param}
	}
	return []badAuthCase{
		// JSON layer
		c("malformed", []byte(`{"merchant_id":`), s400, ""),
		c("syntax error", []byte(`{"merchant_id" 1}`), s400, ""),
		c("empty body", nil, s400, ""),
		c("trailing garbage", append(bytes.Clone(base), 'x'), s400, ""),
		c("duplicate key", readTestdata(t, "auth_create_bad_duplicate_key.json"), s400, ""),
		c("invalid utf8", []byte("{\"merchant_id\":\"\xff\"}"), s400, ""),
		c("array body", []byte(`[]`), s400, "$"),
		c("too deep", m(map[string]any{"flow_preference.frictionless": raw(deep)}), s400, ""),
		au("null body", []byte(`null`), s400, "$"),
		// unknown fields at every level
		c("unknown top", m(map[string]any{"extra": 1}), s400, "$.extra"),
		c("spec example's stray acquirer_bin", m(map[string]any{"acquirer_bin": "123456"}), s400, "$.acquirer_bin"),
		c("unknown acquirer", m(map[string]any{"acquirer_details.acquirer_name": "x"}), s400, "$.acquirer_details.acquirer_name"),
		c("cvc in payment_method", m(map[string]any{"payment_method.cvc": "123"}), s400, "$.payment_method.cvc"),
		c("unknown PAN key", m(map[string]any{"payment_method.4242424242424242": "x"}), s400, "$.payment_method"),
		c("unknown amount", m(map[string]any{"amount.minor_units": 2}), s400, "$.amount.minor_units"),
		c("unknown channel", m(map[string]any{"channel.app": map[string]any{}}), s400, "$.channel.app"),
		c("unknown browser", m(map[string]any{"channel.browser.width": 1}), s400, "$.channel.browser.width"),
		c("unknown flow", m(map[string]any{"flow_preference.why": "x"}), s400, "$.flow_preference.why"),
		c("unknown flow challenge", m(map[string]any{"flow_preference.challenge.window": "x"}), s400, "$.flow_preference.challenge.window"),
		c("non-empty frictionless", m(map[string]any{"flow_preference": map[string]any{"type": "frictionless", "frictionless": map[string]any{"x": 1}}}), s400, "$.flow_preference.frictionless.x"),
		c("unknown shopper", m(map[string]any{"shopper_details.birthday": "x"}), s400, "$.shopper_details.birthday"),
		c("unknown address", m(map[string]any{"shopper_details.address.zip": "x"}), s400, "$.shopper_details.address.zip"),
		au("unknown authenticate", a(map[string]any{"merchant_id": "acme"}), s400, "$.merchant_id"),
		au("unknown authenticate browser", a(map[string]any{"channel.browser.dpi": 2}), s400, "$.channel.browser.dpi"),
		// required fields
		c("no merchant_id", m(map[string]any{"merchant_id": del{}}), s400, "$.merchant_id"),
		c("no payment_method", m(map[string]any{"payment_method": del{}}), s400, "$.payment_method"),
		c("no amount", m(map[string]any{"amount": del{}}), s400, "$.amount"),
		c("no card type", m(map[string]any{"payment_method.type": del{}}), s400, "$.payment_method.type"),
		c("no number", m(map[string]any{"payment_method.number": del{}}), s400, "$.payment_method.number"),
		c("no exp_month", m(map[string]any{"payment_method.exp_month": del{}}), s400, "$.payment_method.exp_month"),
		c("no exp_year", m(map[string]any{"payment_method.exp_year": del{}}), s400, "$.payment_method.exp_year"),
		c("no card name", m(map[string]any{"payment_method.name": del{}}), s400, "$.payment_method.name"),
		c("no amount value", m(map[string]any{"amount.value": del{}}), s400, "$.amount.value"),
		c("no currency", m(map[string]any{"amount.currency": del{}}), s400, "$.amount.currency"),
		c("no acquirer_bin", m(map[string]any{"acquirer_details.acquirer_bin": del{}}), s400, "$.acquirer_details.acquirer_bin"),
		c("no merchant_name", m(map[string]any{"acquirer_details.merchant_name": del{}}), s400, "$.acquirer_details.merchant_name"),
		c("no channel type", m(map[string]any{"channel.type": del{}}), s400, "$.channel.type"),
		c("no browser", m(map[string]any{"channel.browser": del{}}), s400, "$.channel.browser"),
		c("no accept_header", m(map[string]any{"channel.browser.accept_header": del{}}), s400, "$.channel.browser.accept_header"),
		c("no javascript_enabled", m(map[string]any{"channel.browser.javascript_enabled": del{}}), s400, "$.channel.browser.javascript_enabled"),
		c("no user_agent", m(map[string]any{"channel.browser.user_agent": del{}}), s400, "$.channel.browser.user_agent"),
		c("js without screen data", readTestdata(t, "auth_create_bad_js_without_screen.json"), s400, "$.channel.browser.color_depth"),
		c("js without timezone", m(map[string]any{"channel.browser.timezone_offset": del{}}), s400, "$.channel.browser.timezone_offset"),
		c("js without java_enabled", m(map[string]any{"channel.browser.java_enabled": del{}}), s400, "$.channel.browser.java_enabled"),
		c("no flow type", m(map[string]any{"flow_preference.type": del{}}), s400, "$.flow_preference.type"),
		c("no address city", m(map[string]any{"shopper_details.address.city": del{}}), s400, "$.shopper_details.address.city"),
		au("no fingerprint_completion", a(map[string]any{"fingerprint_completion": del{}}), s400, "$.fingerprint_completion"),
		au("authenticate js without screen data", a(map[string]any{"channel.browser.javascript_enabled": true}), s400, "$.channel.browser.color_depth"),
		// JSON types are never coerced
		c("merchant_id number", m(map[string]any{"merchant_id": 7}), s400, "$.merchant_id"),
		c("number as number", m(map[string]any{"payment_method.number": raw("4000000000003220")}), s400, "$.payment_method.number"),
		c("exp_month number", m(map[string]any{"payment_method.exp_month": 9}), s400, "$.payment_method.exp_month"),
		c("amount value string", m(map[string]any{"amount.value": "12999"}), s400, "$.amount.value"),
		c("amount fraction", readTestdata(t, "auth_create_bad_fraction_amount.json"), s400, "$.amount.value"),
		c("amount fraction exponent", m(map[string]any{"amount.value": raw("2.5e0")}), s400, "$.amount.value"),
		c("amount negative exponent", m(map[string]any{"amount.value": raw("1e-1")}), s400, "$.amount.value"),
		c("amount null", m(map[string]any{"amount.value": nil}), s400, "$.amount.value"),
		c("amount array", m(map[string]any{"amount": []any{}}), s400, "$.amount"),
		c("javascript_enabled string", m(map[string]any{"channel.browser.javascript_enabled": "true"}), s400, "$.channel.browser.javascript_enabled"),
		c("color_depth fraction", m(map[string]any{"channel.browser.color_depth": 24.5}), s400, "$.channel.browser.color_depth"),
		c("screen_width string", m(map[string]any{"channel.browser.screen_width": "1920"}), s400, "$.channel.browser.screen_width"),
		c("channel array", m(map[string]any{"channel": []any{}}), s400, "$.channel"),
		c("shopper null", m(map[string]any{"shopper_details": nil}), s400, "$.shopper_details"),
		c("frictionless null", m(map[string]any{"flow_preference": map[string]any{"type": "frictionless", "frictionless": nil}}), s400, "$.flow_preference.frictionless"),
		au("fingerprint_completion bool", a(map[string]any{"fingerprint_completion": true}), s400, "$.fingerprint_completion"),
		// enums
		c("card type bank", m(map[string]any{"payment_method.type": "bank"}), s400, "$.payment_method.type"),
		c("channel type app", m(map[string]any{"channel.type": "app"}), s400, "$.channel.type"),
		c("flow type none", m(map[string]any{"flow_preference.type": "none"}), s400, "$.flow_preference.type"),
		c("challenge type required", m(map[string]any{"flow_preference.challenge.type": "required"}), s400, "$.flow_preference.challenge.type"),
		au("fingerprint_completion lower case", readTestdata(t, "auth_authenticate_bad_lowercase.json"), s400, "$.fingerprint_completion"),
		au("fingerprint_completion X", a(map[string]any{"fingerprint_completion": "X"}), s400, "$.fingerprint_completion"),
		// lengths
		c("exp_month 3 chars", m(map[string]any{"payment_method.exp_month": "009"}), s400, "$.payment_method.exp_month"),
		c("exp_year 5 chars", m(map[string]any{"payment_method.exp_year": "20310"}), s400, "$.payment_method.exp_year"),
		c("acquirer_bin 12", m(map[string]any{"acquirer_details.acquirer_bin": "123456789012"}), s400, "$.acquirer_details.acquirer_bin"),
		c("acquirer_country 3", m(map[string]any{"acquirer_details.acquirer_country": "USA"}), s400, "$.acquirer_details.acquirer_country"),
		c("acquirer_country 1", m(map[string]any{"acquirer_details.acquirer_country": "U"}), s400, "$.acquirer_details.acquirer_country"),
		c("acquirer_merchant_id 36", m(map[string]any{"acquirer_details.acquirer_merchant_id": long(36)}), s400, "$.acquirer_details.acquirer_merchant_id"),
		c("merchant_name 41", m(map[string]any{"acquirer_details.merchant_name": long(41)}), s400, "$.acquirer_details.merchant_name"),
		c("requestor_id 36", m(map[string]any{"acquirer_details.requestor_id": long(36)}), s400, "$.acquirer_details.requestor_id"),
		c("ip_address 46", m(map[string]any{"channel.browser.ip_address": long(46)}), s400, "$.channel.browser.ip_address"),
		c("language 36", m(map[string]any{"channel.browser.language": long(36)}), s400, "$.channel.browser.language"),
		c("address name 257", m(map[string]any{"shopper_details.address.name": long(257)}), s400, "$.shopper_details.address.name"),
		c("address line_one 61", m(map[string]any{"shopper_details.address.line_one": long(61)}), s400, "$.shopper_details.address.line_one"),
		c("address line_two 61", m(map[string]any{"shopper_details.address.line_two": long(61)}), s400, "$.shopper_details.address.line_two"),
		c("address city 61", m(map[string]any{"shopper_details.address.city": long(61)}), s400, "$.shopper_details.address.city"),
		c("address postal_code 21", m(map[string]any{"shopper_details.address.postal_code": long(21)}), s400, "$.shopper_details.address.postal_code"),
		c("address country 3", m(map[string]any{"shopper_details.address.country": "GBR"}), s400, "$.shopper_details.address.country"),
		// pattern and formats
		c("currency lower case", m(map[string]any{"amount.currency": "usd"}), s400, "$.amount.currency"),
		c("currency 4 letters", m(map[string]any{"amount.currency": "USDT"}), s400, "$.amount.currency"),
		c("currency digit", m(map[string]any{"amount.currency": "U5D"}), s400, "$.amount.currency"),
		c("currency newline", m(map[string]any{"amount.currency": "USD\n"}), s400, "$.amount.currency"),
		c("email without at", m(map[string]any{"shopper_details.email": "ada.example.org"}), s400, "$.shopper_details.email"),
		c("email with space", m(map[string]any{"shopper_details.email": "ada lovelace@example.org"}), s400, "$.shopper_details.email"),
		c("email two ats", m(map[string]any{"shopper_details.email": "ada@home@example.org"}), s400, "$.shopper_details.email"),
		c("email bad domain", m(map[string]any{"shopper_details.email": "ada@-example.org"}), s400, "$.shopper_details.email"),
		c("email double dot", m(map[string]any{"shopper_details.email": "ada..l@example.org"}), s400, "$.shopper_details.email"),
		c("url relative", m(map[string]any{"challenge_notification_url": "/3ds/challenge"}), s400, "$.challenge_notification_url"),
		c("url words", m(map[string]any{"challenge_notification_url": "not a url"}), s400, "$.challenge_notification_url"),
		c("url bad escape", m(map[string]any{"challenge_notification_url": "https://agent.example/%zz"}), s400, "$.challenge_notification_url"),
		au("authenticate url relative", a(map[string]any{"challenge_notification_url": "callback"}), s400, "$.challenge_notification_url"),
		au("authenticate bad email", a(map[string]any{"shopper_details.email": "nobody"}), s400, "$.shopper_details.email"),
		// a schema error anywhere wins over a semantic one before it
		c("schema beats semantic", m(map[string]any{"payment_method.number": "4000000000003221", "shopper_details.extra": 1}), s400, "$.shopper_details.extra"),
		// semantic: schema-valid but wrong
		c("merchant_id empty", m(map[string]any{"merchant_id": ""}), s422, "$.merchant_id"),
		c("merchant_id 256", m(map[string]any{"merchant_id": long(256)}), s422, "$.merchant_id"),
		c("checkout_session_id empty", m(map[string]any{"checkout_session_id": ""}), s422, "$.checkout_session_id"),
		c("luhn", m(map[string]any{"payment_method.number": "4000000000003221"}), s422, "$.payment_method.number"),
		c("number short", m(map[string]any{"payment_method.number": "42424242424"}), s422, "$.payment_method.number"),
		c("number long", m(map[string]any{"payment_method.number": "42424242424242424242"}), s422, "$.payment_method.number"),
		c("number spaced", m(map[string]any{"payment_method.number": "4000 0000 0000 3220"}), s422, "$.payment_method.number"),
		c("number empty", m(map[string]any{"payment_method.number": ""}), s422, "$.payment_method.number"),
		c("exp_month 13", m(map[string]any{"payment_method.exp_month": "13"}), s422, "$.payment_method.exp_month"),
		c("exp_month 00", m(map[string]any{"payment_method.exp_month": "00"}), s422, "$.payment_method.exp_month"),
		c("exp_month one digit", m(map[string]any{"payment_method.exp_month": "9"}), s422, "$.payment_method.exp_month"),
		c("exp_month letters", m(map[string]any{"payment_method.exp_month": "ab"}), s422, "$.payment_method.exp_month"),
		c("exp_month empty", m(map[string]any{"payment_method.exp_month": ""}), s422, "$.payment_method.exp_month"),
		c("exp_year two digits", m(map[string]any{"payment_method.exp_year": "31"}), s422, "$.payment_method.exp_year"),
		c("exp_year letters", m(map[string]any{"payment_method.exp_year": "20a1"}), s422, "$.payment_method.exp_year"),
		c("expired", m(map[string]any{"payment_method.exp_month": "10", "payment_method.exp_year": "2026"}), s422, "$.payment_method.exp_year"),
		c("expired one-digit month", m(map[string]any{"payment_method.exp_month": "1", "payment_method.exp_year": "2020"}), s422, "$.payment_method.exp_month"),
		c("card name 257", m(map[string]any{"payment_method.name": long(257)}), s422, "$.payment_method.name"),
		c("amount zero", m(map[string]any{"amount.value": 0}), s422, "$.amount.value"),
		c("amount negative", m(map[string]any{"amount.value": -100}), s422, "$.amount.value"),
		c("amount 2^53", m(map[string]any{"amount.value": raw("9007199254740992")}), s422, "$.amount.value"),
		c("amount beyond int64", m(map[string]any{"amount.value": raw("92233720368547758070")}), s422, "$.amount.value"),
		c("currency unknown", m(map[string]any{"amount.currency": "XYZ"}), s422, "$.amount.currency"),
		c("acquirer_bin letters", m(map[string]any{"acquirer_details.acquirer_bin": "40000A"}), s422, "$.acquirer_details.acquirer_bin"),
		c("acquirer_bin empty", m(map[string]any{"acquirer_details.acquirer_bin": ""}), s422, "$.acquirer_details.acquirer_bin"),
		c("acquirer_country digit", m(map[string]any{"acquirer_details.acquirer_country": "U1"}), s422, "$.acquirer_details.acquirer_country"),
		c("merchant_name empty", m(map[string]any{"acquirer_details.merchant_name": ""}), s422, "$.acquirer_details.merchant_name"),
		c("ip_address bad", m(map[string]any{"channel.browser.ip_address": "999.0.0.1"}), s422, "$.channel.browser.ip_address"),
		c("ip_address zone", m(map[string]any{"channel.browser.ip_address": "fe80::1%eth0"}), s422, "$.channel.browser.ip_address"),
		c("language underscore", m(map[string]any{"channel.browser.language": "en_GB"}), s422, "$.channel.browser.language"),
		c("language empty", m(map[string]any{"channel.browser.language": ""}), s422, "$.channel.browser.language"),
		c("accept_header empty", m(map[string]any{"channel.browser.accept_header": ""}), s422, "$.channel.browser.accept_header"),
		c("user_agent too long", m(map[string]any{"channel.browser.user_agent": long(2049)}), s422, "$.channel.browser.user_agent"),
		c("color_depth zero", m(map[string]any{"channel.browser.color_depth": 0}), s422, "$.channel.browser.color_depth"),
		c("color_depth huge", m(map[string]any{"channel.browser.color_depth": 1 << 40}), s422, "$.channel.browser.color_depth"),
		c("screen_height negative", m(map[string]any{"channel.browser.screen_height": -1}), s422, "$.channel.browser.screen_height"),
		c("timezone_offset out of range", m(map[string]any{"channel.browser.timezone_offset": 841}), s422, "$.channel.browser.timezone_offset"),
		c("frictionless with challenge details", m(map[string]any{"flow_preference.type": "frictionless"}), s422, "$.flow_preference.challenge"),
		c("challenge with frictionless details", m(map[string]any{"flow_preference.frictionless": map[string]any{}}), s422, "$.flow_preference.frictionless"),
		c("url ftp", m(map[string]any{"challenge_notification_url": "ftp://agent.example/cb"}), s422, "$.challenge_notification_url"),
		c("url mailto", m(map[string]any{"challenge_notification_url": "mailto:ada@example.org"}), s422, "$.challenge_notification_url"),
		c("url without host", m(map[string]any{"challenge_notification_url": "https:///cb"}), s422, "$.challenge_notification_url"),
		c("url too long", m(map[string]any{"challenge_notification_url": "https://agent.example/" + long(240)}), s422, "$.challenge_notification_url"),
		c("shopper name too long", m(map[string]any{"shopper_details.name": long(257)}), s422, "$.shopper_details.name"),
		c("phone letters", m(map[string]any{"shopper_details.phone_number": "call me"}), s422, "$.shopper_details.phone_number"),
		c("phone too long", m(map[string]any{"shopper_details.phone_number": strings.Repeat("1", 33)}), s422, "$.shopper_details.phone_number"),
		c("address country digits", m(map[string]any{"shopper_details.address.country": "G8"}), s422, "$.shopper_details.address.country"),
		c("address state too long", m(map[string]any{"shopper_details.address.state": long(257)}), s422, "$.shopper_details.address.state"),
		c("first semantic error in the document", []byte(`{"merchant_id":"acme","payment_method":{"type":"card","number":"4242424242424242",`+
			`"exp_month":"13","exp_year":"2031","name":"J"},"amount":{"value":0,"currency":"USD"}}`), s422, "$.payment_method.exp_month"),
		c("first semantic error in the document, amount first", []byte(`{"amount":{"value":0,"currency":"USD"},"merchant_id":"acme",`+
			`"payment_method":{"type":"card","number":"4242424242424242","exp_month":"13","exp_year":"2031","name":"J"}}`), s422, "$.amount.value"),
		au("authenticate checkout_session_id empty", a(map[string]any{"checkout_session_id": ""}), s422, "$.checkout_session_id"),
		au("authenticate url ftp", a(map[string]any{"challenge_notification_url": "ftp://agent.example/cb"}), s422, "$.challenge_notification_url"),
		au("authenticate bad ip", a(map[string]any{"channel.browser.ip_address": "localhost"}), s422, "$.channel.browser.ip_address"),
		au("authenticate phone", a(map[string]any{"shopper_details.phone_number": "12"}), s422, "$.shopper_details.phone_number"),
	}
}

func TestDecodeAuthRequestsReject(t *testing.T) {
	t.Parallel()
	cases := authRejectCases(t)
	if len(cases) < 120 {
		t.Fatalf("only %d bad-input cases", len(cases))
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		if seen[tc.name] {
			t.Fatalf("case name %q twice", tc.name)
		}
		seen[tc.name] = true
		t.Run(tc.kind+"/"+tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := decodeAuth(tc.kind, tc.body)
			if err == nil {
				t.Fatalf("accepted, want %d at %q", tc.status, tc.param)
			}
			if err.Status != tc.status || err.Param != tc.param || err.Type != TypeInvalidRequest || err.Code != CodeInvalidCard {
				t.Fatalf("got %d %s/%s param %q (%s), want %d invalid_request/invalid_card param %q",
					err.Status, err.Type, err.Code, err.Param, err.Message, tc.status, tc.param)
			}
			if !err.ValidAuthenticationError() {
				t.Fatalf("error outside the Delegate Authentication Error schema: %+v", err)
			}
			assertNoPAN(t, tc.body, err)
			for _, digits := range []string{"4000", "3220", "4242"} {
				if strings.Contains(err.Message, digits) {
					t.Fatalf("message echoes card digits: %q", err.Message)
				}
			}
		})
	}
}

func TestDecodeAuthCreateRequestFull(t *testing.T) {
	t.Parallel()
	r, err := DecodeAuthCreateRequestAt(readTestdata(t, "auth_create_valid_full.json"), testNow)
	if err != nil {
		t.Fatal(err)
	}
	intp := func(n int) *int { return &n }
	no := false
	want := AuthCreateRequest{
		MerchantID: "acme",
		Card:       payment.Card{NumberType: "fpan", Number: "4000000000003220", ExpMonth: 9, ExpYear: 2031, Name: "Ada Lovelace"},
		Amount:     payment.Money{Amount: 12999, Currency: "usd"},
		Acquirer: &threeds.Acquirer{BIN: "400000", Country: "US", MerchantID: "ACME-ECOM-01", MerchantName: "Acme Online",
			RequestorID: "REQ-ACME-7"},
		Browser: &threeds.Browser{AcceptHeader: "text/html,application/xhtml+xml", IPAddress: "203.0.113.7", JavaScriptEnabled: true,
			Language: "en-GB", UserAgent: "Mozilla/5.0 (X11; Linux x86_64)", ColorDepth: intp(30), JavaEnabled: &no,
			ScreenHeight: intp(1440), ScreenWidth: intp(2560), TimezoneOffset: intp(-60)},
		CheckoutSessionID:        "cs_01J9AUTH",
		Flow:                     &threeds.Flow{Type: "challenge", Challenge: "mandated"},
		ChallengeNotificationURL: "https://agent.example/3ds/challenge?session=cs_01J9AUTH&x=1",
		Shopper: &threeds.Shopper{Name: "Ada Lovelace", Email: "ada@example.org", Phone: "+44 20 7946 0958",
			Address: &threeds.Address{Name: "Ada Lovelace", LineOne: "12 St James's Square", LineTwo: "Flat 3", City: "London",
				State: "LND", Country: "GB", PostalCode: "SW1Y 4JH"}},
	}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("decoded\n%s\nwant\n%s", dumpAuth(r), dumpAuth(want))
	}
}

// dumpAuth shows a decoded request for a failure message, card number
// included (test data only).
func dumpAuth(r AuthCreateRequest) string {
	b, _ := json.Marshal(struct {
		R      AuthCreateRequest
		Number string
		Exp    string
	}{r, r.Card.Number, fmt.Sprintf("%d/%d %s", r.Card.ExpMonth, r.Card.ExpYear, r.Card.Name)})
	return string(b)
}

func TestDecodeAuthRequestsAccept(t *testing.T) {
	t.Parallel()
	minimal := readTestdata(t, "auth_create_valid_minimal.json")
	cases := []struct {
		name  string
		kind  string
		body  []byte
		check func(*testing.T, any)
	}{
		{"integral floats", authCreate, readTestdata(t, "auth_create_valid_integral_floats.json"), func(t *testing.T, v any) {
			r := v.(AuthCreateRequest)
			b := r.Browser
			if r.Amount != (payment.Money{Amount: 2599, Currency: "eur"}) || *b.ColorDepth != 24 || *b.ScreenHeight != 1080 ||
				*b.TimezoneOffset != -120 || r.Flow.Type != "frictionless" || r.Flow.Challenge != "" || r.Shopper.Address.Country != "NL" {
				t.Fatalf("decoded %s", dumpAuth(r))
			}
		}},
		{"amount 1e3", authCreate, mutate(t, minimal, map[string]any{"amount.value": raw("1e3")}), func(t *testing.T, v any) {
			if a := v.(AuthCreateRequest).Amount; a.Amount != 1000 || a.Currency != "usd" {
				t.Fatalf("amount %+v", a)
			}
		}},
		{"amount 2^53-1", authCreate, mutate(t, minimal, map[string]any{"amount.value": raw("9007199254740991")}), nil},
		{"zero-decimal currency", authCreate, mutate(t, minimal, map[string]any{"amount.currency": "JPY"}), nil},
		{"expires this month", authCreate, mutate(t, minimal, map[string]any{"payment_method.exp_month": "11", "payment_method.exp_year": "2026"}), nil},
		{"empty card name", authCreate, mutate(t, minimal, map[string]any{"payment_method.name": ""}), nil},
		{"javascript disabled without screen data", authCreate, mutate(t, minimal, map[string]any{"channel": map[string]any{"type": "browser",
			"browser": map[string]any{"accept_header": "*/*", "ip_address": "::1", "javascript_enabled": false, "language": "de", "user_agent": "x"}}}),
			func(t *testing.T, v any) {
				b := v.(AuthCreateRequest).Browser
				if b.JavaScriptEnabled || b.ColorDepth != nil || b.JavaEnabled != nil || b.IPAddress != "::1" {
					t.Fatalf("browser %+v", b)
				}
			}},
		{"flow challenge without details", authCreate, mutate(t, minimal, map[string]any{"flow_preference": map[string]any{"type": "challenge"}}), nil},
		{"flow challenge empty details", authCreate, mutate(t, minimal, map[string]any{"flow_preference": map[string]any{"type": "challenge", "challenge": map[string]any{}}}), nil},
		{"shopper empty", authCreate, mutate(t, minimal, map[string]any{"shopper_details": map[string]any{}}), nil},
		{"acquirer without requestor_id", authCreate, mutate(t, minimal, map[string]any{"acquirer_details": map[string]any{"acquirer_bin": "12345678901",
			"acquirer_country": "NL", "acquirer_merchant_id": "m", "merchant_name": "n"}}), nil},
		{"authenticate minimal", authAuthenticate, readTestdata(t, "auth_authenticate_valid_minimal.json"), func(t *testing.T, v any) {
			if r := v.(AuthenticateRequest); !reflect.DeepEqual(r, AuthenticateRequest{Fingerprint: threeds.FingerprintUnavailable}) {
				t.Fatalf("decoded %+v", r)
			}
		}},
		{"authenticate channel", authAuthenticate, readTestdata(t, "auth_authenticate_valid_channel.json"), func(t *testing.T, v any) {
			r := v.(AuthenticateRequest)
			if r.Fingerprint != threeds.FingerprintCompleted || r.Browser == nil || r.Browser.Language != "fr" ||
				r.ChallengeNotificationURL != "https://agent.example/3ds/cb" {
				t.Fatalf("decoded %+v", r)
			}
		}},
		{"authenticate shopper", authAuthenticate, readTestdata(t, "auth_authenticate_valid_shopper.json"), func(t *testing.T, v any) {
			r := v.(AuthenticateRequest)
			want := AuthenticateRequest{Fingerprint: threeds.FingerprintTimedOut, CheckoutSessionID: "cs_123",
				ChallengeNotificationURL: "http://localhost:8080/3ds/cb?s=1&t=2",
				Shopper:                  &threeds.Shopper{Name: "Jane", Email: `"jane doe"@[192.0.2.1]`, Phone: "+31 (20) 555-0100"}}
			if !reflect.DeepEqual(r, want) {
				t.Fatalf("decoded %+v", r)
			}
		}},
		{"authenticate email IPv6 literal", authAuthenticate, []byte(`{"fingerprint_completion":"Y","shopper_details":{"email":"a@[IPv6:2001:db8::1]"}}`), nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r, err := decodeAuth(tc.kind, tc.body)
			if err != nil {
				t.Fatalf("rejected: %v", err)
			}
			if tc.check != nil {
				tc.check(t, r)
			}
		})
	}
}

// TestDecodeAuthCreateRequestClock: the exported decoder reckons expiry
// at the current time.
func TestDecodeAuthCreateRequestClock(t *testing.T) {
	t.Parallel()
	minimal := readTestdata(t, "auth_create_valid_minimal.json")
	now := time.Now().UTC()
	lastMonth := now.AddDate(0, 0, -now.Day())
	expired := mutate(t, minimal, map[string]any{"payment_method.exp_month": fmt.Sprintf("%02d", int(lastMonth.Month())),
		"payment_method.exp_year": fmt.Sprint(lastMonth.Year())})
	if _, err := DecodeAuthCreateRequest(expired); err == nil || err.Param != "$.payment_method.exp_year" {
		t.Fatalf("card that expired last month: %v", err)
	}
	current := mutate(t, minimal, map[string]any{"payment_method.exp_month": fmt.Sprintf("%02d", int(now.Month())),
		"payment_method.exp_year": fmt.Sprint(now.Year() + 1)})
	if _, err := DecodeAuthCreateRequest(current); err != nil {
		t.Fatalf("card valid for a year: %v", err)
	}
}

func TestAuthenticationErrorMapping(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		in         *Error
		status     int
		typ, code  string
		validAfter bool
	}{
		{"decoder error kept", Errorf(400, TypeInvalidRequest, CodeInvalidCard, "$.amount", "m"), 400, TypeInvalidRequest, CodeInvalidCard, true},
		{"conflict is 409", Errorf(422, TypeInvalidRequest, CodeIdempotencyConflict, "", "m"), 409, TypeInvalidRequest, CodeIdempotencyConflict, true},
		{"in flight", Errorf(409, TypeInvalidRequest, CodeIdempotencyInFlight, "", "m"), 409, TypeInvalidRequest, CodeDuplicateRequest, true},
		{"operation in progress", Errorf(409, TypeInvalidRequest, CodeOperationInProgress, "", "m"), 409, TypeInvalidRequest, CodeDuplicateRequest, true},
		{"unknown session", Errorf(404, TypeInvalidRequest, CodeNotFound, "", "no such session"), 404, TypeInvalidRequest, CodeInvalidCard, true},
		{"key required", Errorf(400, TypeInvalidRequest, CodeIdempotencyKeyRequired, "", "m"), 400, TypeInvalidRequest, CodeInvalidCard, true},
		{"unknown merchant", Errorf(422, TypeInvalidRequest, CodeUnknownMerchant, "$.merchant_id", "m"), 422, TypeInvalidRequest, CodeInvalidCard, true},
		{"invalid state", Errorf(409, TypeInvalidRequest, CodeInvalidState, "", "m"), 409, TypeInvalidRequest, CodeInvalidCard, true},
		{"body too large", Errorf(413, TypeInvalidRequest, "request_too_large", "", "m"), 413, TypeInvalidRequest, CodeInvalidCard, true},
		{"unauthorized honest", Errorf(401, TypeInvalidRequest, "unauthorized", "", "m"), 401, TypeInvalidRequest, "unauthorized", false},
		{"rate limited honest", Errorf(429, TypeInvalidRequest, CodeTooManyRequests, "", "m"), 429, TypeRateLimitExceeded, CodeTooManyRequests, false},
		{"internal honest", Errorf(500, TypeProcessingError, "internal_error", "", "m"), 500, TypeProcessingError, "internal_error", false},
		{"unavailable honest", Errorf(503, TypeServiceUnavailable, CodeServiceUnavailable, "", "m"), 503, TypeServiceUnavailable, CodeServiceUnavailable, false},
		{"message filled in", &Error{Status: 404, Type: TypeInvalidRequest, Code: CodeNotFound}, 404, TypeInvalidRequest, CodeInvalidCard, true},
	}
	for _, tc := range cases {
		in := *tc.in
		got := AuthenticationError(tc.in)
		if got.Status != tc.status || got.Type != tc.typ || got.Code != tc.code || got.ValidAuthenticationError() != tc.validAfter {
			t.Errorf("%s: got %d %s/%s valid %t", tc.name, got.Status, got.Type, got.Code, got.ValidAuthenticationError())
		}
		if got.Message == "" || got.Param != tc.in.Param {
			t.Errorf("%s: message %q param %q", tc.name, got.Message, got.Param)
		}
		if *tc.in != in {
			t.Errorf("%s: the input was changed", tc.name)
		}
	}
	if AuthenticationError(nil) != nil {
		t.Error("AuthenticationError(nil) != nil")
	}
	for _, e := range []*Error{nil, {Type: TypeInvalidRequest, Code: CodeInvalidCard}, Errorf(400, "invalid", CodeInvalidCard, "", "m"),
		Errorf(400, TypeInvalidRequest, CodeTooManyRequests, "", "m")} {
		if e.ValidAuthenticationError() {
			t.Errorf("%+v passes ValidAuthenticationError", e)
		}
	}
}
