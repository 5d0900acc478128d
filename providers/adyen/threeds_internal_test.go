package adyen

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"acpgw/threeds"
)

// FuzzThreeDSAnswer feeds Adyen's answers (the JSON of a PaymentResponse
// or PaymentDetailsResponse) to the mapping of every step: it never
// panics, an action comes exactly with action_required, a final status
// leaves the session done, and no state or printed Result carries the
// authenticationValue.
func FuzzThreeDSAnswer(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/threedsanswer/*.json")
	for _, s := range seeds {
		b, err := os.ReadFile(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	c, err := New(Config{APIKey: "k", MerchantAccount: "M"})
	if err != nil {
		f.Fatal(err)
	}
	a := authenticator{c: c}
	challenged := authState{Phase: phaseChallenge, PaymentData: "pd", AuthorisationToken: "at", ServerTransID: "st",
		Challenge: &challengeState{ACSURL: "https://acs.example/c", ACSTransID: "a", ServerTransID: "st", MessageVersion: "2.2.0"}}
	f.Fuzz(func(t *testing.T, body []byte) {
		var resp paymentResponse
		if json.Unmarshal(body, &resp) != nil {
			return
		}
		secret := ""
		if r := resp.ThreeDS2Result; r != nil && len(r.AuthenticationValue) >= 8 {
			secret = r.AuthenticationValue
		}
		check := func(name string, o outcome, err error) {
			if err != nil {
				return
			}
			step, err := o.step()
			if err != nil {
				t.Fatalf("%s: encode: %v", name, err)
			}
			if (step.Status == threeds.StatusActionRequired) != (step.Action != nil) {
				t.Fatalf("%s: status %s with action %+v", name, step.Status, step.Action)
			}
			if act := step.Action; act != nil && (act.Fingerprint == nil) == (act.Challenge == nil) {
				t.Fatalf("%s: action %+v", name, act)
			}
			if step.Status.Final() && o.state.Phase != phaseDone {
				t.Fatalf("%s: final %s in phase %s", name, step.Status, o.state.Phase)
			}
			if secret != "" && (strings.Contains(string(step.State), secret) ||
				(step.Result != nil && strings.Contains(step.Result.String()+step.Result.GoString(), secret))) {
				t.Fatalf("%s: the authenticationValue leaked: %s", name, step.State)
			}
		}
		o, err := a.created(&paymentRequest{}, resp)
		check("created", o, err)
		o, err = a.detailed(resp, authState{Phase: phaseFingerprint, PaymentData: "pd"})
		check("detailed", o, err)
		o, err = a.detailed(resp, challenged)
		check("challenged", o, err)
	})
}
