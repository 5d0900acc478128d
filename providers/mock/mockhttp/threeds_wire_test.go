package mockhttp

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"testing"

	"acpgw/payment"
	"acpgw/threeds"
)

// FuzzThreeDSRequestBody: whatever JSON the Server reads as a 3-D Secure
// call, the session it makes of it goes back on the wire unchanged, so the
// Client and Server agree on every field.
func FuzzThreeDSRequestBody(f *testing.F) {
	for _, s := range []*threeds.Session{
		{ID: "as_1", MerchantID: "acme", Card: payment.Card{Number: "4000000000003220", ExpMonth: 12, ExpYear: 2034, Brand: "visa"},
			Amount: payment.Money{Amount: 2599, Currency: "usd"}, Flow: &threeds.Flow{Type: "challenge", Challenge: "mandated"},
			ChallengeNotificationURL: "https://agent.test/n", Status: threeds.StatusActionRequired,
			State: []byte(`{"three_ds_server_trans_id":"6edcc246-23ee-4e94-ac5d-8ae620bea7d9"}`)},
		{ID: "as_2"},
	} {
		b, err := json.Marshal(threeDSRequestBody{Session: toSessionBody(s), FingerprintCompletion: "Y"})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"session":{"state":"not base64!"}}`))
	f.Add([]byte(`{"session":{"card":{"number":4242}}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var b threeDSRequestBody
		if err := json.Unmarshal(data, &b); err != nil {
			return
		}
		again := toSessionBody(b.Session.session())
		if len(again.State) == 0 && len(b.Session.State) == 0 {
			again.State = b.Session.State // nil and empty are the same state
		}
		if !reflect.DeepEqual(again, b.Session) {
			t.Fatalf("round trip changed the session:\n%+v\n%+v", b.Session, again)
		}
	})
}

// FuzzStepBody: the Client reads any answer without panicking; what it
// accepts is a step a provider could give, and goes back on the wire
// unchanged.
func FuzzStepBody(f *testing.F) {
	for _, s := range []threeds.Step{
		{Status: threeds.StatusActionRequired, Action: &threeds.Action{Fingerprint: &threeds.Fingerprint{
			MethodURL: "http://127.0.0.1:9099/3ds/method", ServerTransID: "t"}}, State: []byte(`{"a":1}`)},
		{Status: threeds.StatusActionRequired, Action: &threeds.Action{Challenge: &threeds.Challenge{
			ACSURL: "http://127.0.0.1:9099/3ds/challenge", ACSTransID: "a", ServerTransID: "t", MessageVersion: "2.2.0"}}},
		{Status: threeds.StatusAuthenticated, Result: &threeds.Result{TransStatus: "Y", ECI: "05",
			Cryptogram: "AQIDBAUGBwgJCgsMDQ4PEBESExQ=", TransactionID: "d", ServerTransID: "t", Version: "2.2.0"}},
		{Status: threeds.StatusNotSupported},
	} {
		b, err := json.Marshal(toStepBody(s))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"status":"action_required","action":{}}`))
	f.Add([]byte(`{"status":"pending","action":{"challenge":{}}}`))
	f.Add([]byte(`{"status":"pending","state":""}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		step, err := readStep(http.StatusOK, data)
		if err != nil {
			if !errors.Is(err, threeds.ErrUnavailable) {
				t.Fatalf("an unreadable answer is not unavailable: %v", err)
			}
			return
		}
		if !knownStatus(step.Status) || (step.Status == threeds.StatusActionRequired) != (step.Action != nil) {
			t.Fatalf("accepted %+v", step)
		}
		if a := step.Action; a != nil && (a.Fingerprint == nil) == (a.Challenge == nil) {
			t.Fatalf("accepted an action that is not exactly one: %+v", a)
		}
		raw, err := json.Marshal(toStepBody(step))
		if err != nil {
			t.Fatal(err)
		}
		again, err := readStep(http.StatusOK, raw)
		if err != nil || !reflect.DeepEqual(again, step) {
			t.Fatalf("round trip changed the step:\n%+v\n%+v (%v)", step, again, err)
		}
	})
}
