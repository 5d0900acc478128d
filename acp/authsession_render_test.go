package acp

import (
	"errors"
	"strings"
	"testing"

	"acpgw/threeds"
)

// testCAVV is a 3-D Secure cryptogram of the tests: base64 of 20 bytes.
const testCAVV = "MDEyMzQ1Njc4OWFiY2RlZmdoaWo="

func testFingerprint() *threeds.Action {
	return &threeds.Action{Fingerprint: &threeds.Fingerprint{MethodURL: "https://acs.example/3dsmethod?a=1&b=2", ServerTransID: "srv-1"}}
}

func testChallenge() *threeds.Action {
	return &threeds.Action{Challenge: &threeds.Challenge{ACSURL: "https://acs.example/challenge", ACSTransID: "acs-1",
		ServerTransID: "srv-1", MessageVersion: "2.2.0"}}
}

func testResult() *threeds.Result {
	return &threeds.Result{TransStatus: "Y", ECI: "05", Cryptogram: testCAVV, TransactionID: "ds-1", ServerTransID: "srv-1",
		Version: "2.2.0", AuthenticationValue: "AAABBBCCC", TransStatusReason: "01", CardholderInfo: "Thanks <3 & bye"}
}

// TestRenderAuthSessionBytes pins the exact bytes: schema order, optional
// fields left out, no HTML escaping, no trailing newline.
func TestRenderAuthSessionBytes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		status threeds.Status
		action *threeds.Action
		result *threeds.Result
		want   string
	}{
		{"pending", threeds.StatusPending, nil, nil, `{"authentication_session_id":"as_1","status":"pending"}`},
		{"fingerprint", threeds.StatusActionRequired, testFingerprint(), nil,
			`{"authentication_session_id":"as_1","status":"action_required","action":{"type":"fingerprint","fingerprint":` +
				`{"three_ds_method_url":"https://acs.example/3dsmethod?a=1&b=2","three_ds_server_trans_id":"srv-1"}}}`},
		{"challenge", threeds.StatusActionRequired, testChallenge(), nil,
			`{"authentication_session_id":"as_1","status":"action_required","action":{"type":"challenge","challenge":` +
				`{"acs_url":"https://acs.example/challenge","acs_trans_id":"acs-1","three_ds_server_trans_id":"srv-1","message_version":"2.2.0"}}}`},
		{"full result", threeds.StatusAuthenticated, nil, testResult(),
			`{"authentication_session_id":"as_1","status":"authenticated","authentication_result":{"trans_status":"Y",` +
				`"electronic_commerce_indicator":"05","three_ds_cryptogram":"` + testCAVV + `","transaction_id":"ds-1",` +
				`"three_ds_server_trans_id":"srv-1","version":"2.2.0","authentication_value":"AAABBBCCC","trans_status_reason":"01",` +
				`"cardholder_info":"Thanks <3 & bye"}}`},
		{"required result fields only", threeds.StatusChallengeAbandoned, nil, &threeds.Result{TransStatus: "U"},
			`{"authentication_session_id":"as_1","status":"challenge_abandoned","authentication_result":{"trans_status":"U",` +
				`"transaction_id":"","three_ds_server_trans_id":"","version":""}}`},
	}
	for _, tc := range cases {
		got, err := RenderAuthSession("as_1", tc.status, tc.action, tc.result)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if string(got) != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, got, tc.want)
		}
		for range 3 {
			again, _ := RenderAuthSession("as_1", tc.status, tc.action, tc.result)
			if string(again) != string(got) {
				t.Fatalf("%s: not deterministic", tc.name)
			}
		}
	}
}

func TestRenderAuthSessionRefuses(t *testing.T) {
	t.Parallel()
	both := &threeds.Action{Fingerprint: testFingerprint().Fingerprint, Challenge: testChallenge().Challenge}
	badURL := testChallenge()
	badURL.Challenge.ACSURL = "javascript:alert(1)"
	relative := testFingerprint()
	relative.Fingerprint.MethodURL = "/3dsmethod"
	cases := []struct {
		name   string
		id     string
		status threeds.Status
		action *threeds.Action
		result *threeds.Result
	}{
		{"empty id", "", threeds.StatusPending, nil, nil},
		{"unknown status", "as_1", threeds.Status("done"), nil, nil},
		{"empty status", "as_1", "", nil, nil},
		{"action_required without action", "as_1", threeds.StatusActionRequired, nil, nil},
		{"action with pending", "as_1", threeds.StatusPending, testFingerprint(), nil},
		{"action with final", "as_1", threeds.StatusAuthenticated, testChallenge(), testResult()},
		{"empty action", "as_1", threeds.StatusActionRequired, &threeds.Action{}, nil},
		{"both actions", "as_1", threeds.StatusActionRequired, both, nil},
		{"challenge URL scheme", "as_1", threeds.StatusActionRequired, badURL, nil},
		{"relative method URL", "as_1", threeds.StatusActionRequired, relative, nil},
		{"result while pending", "as_1", threeds.StatusPending, nil, testResult()},
		{"result without trans_status", "as_1", threeds.StatusRejected, nil, &threeds.Result{Cryptogram: testCAVV}},
	}
	for _, tc := range cases {
		b, err := RenderAuthSession(tc.id, tc.status, tc.action, tc.result)
		if err == nil || b != nil || !errors.Is(err, ErrInvalidSession) {
			t.Errorf("%s: %s, %v", tc.name, b, err)
			continue
		}
		if strings.Contains(err.Error(), testCAVV) || strings.Contains(err.Error(), "AAABBB") {
			t.Errorf("%s: error quotes a secret: %v", tc.name, err)
		}
	}
}
