package adyen

import (
	"encoding/json"
	"errors"
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

// TestThreeDSFinal: the final statuses of Adyen's answers, and the
// answers refused as unreadable.
func TestThreeDSFinal(t *testing.T) {
	t.Parallel()
	c, err := New(Config{APIKey: "k", MerchantAccount: "M"})
	if err != nil {
		t.Fatal(err)
	}
	a := authenticator{c: c}
	challenged := authState{Challenge: &challengeState{MessageVersion: "2.1.0"}, ServerTransID: "st"}
	res := func(ts, cancel, value string) *threeDS2Result {
		return &threeDS2Result{TransStatus: ts, ChallengeCancel: cancel, AuthenticationValue: value}
	}
	for i, tc := range []struct {
		resp   paymentResponse
		st     authState
		status threeds.Status
		err    bool
	}{
		{paymentResponse{ResultCode: resultAuthenticationFinished, ThreeDS2Result: res("Y", "", "v")}, authState{}, threeds.StatusAuthenticated, false},
		{paymentResponse{ResultCode: resultAuthenticationFinished, ThreeDS2Result: res("A", "", "v")}, authState{}, threeds.StatusAttempted, false},
		{paymentResponse{ResultCode: resultAuthenticationFinished, ThreeDS2Result: res("I", "", "")}, authState{}, threeds.StatusAttempted, false},
		{paymentResponse{ResultCode: resultRefused, ThreeDS2Result: res("N", "", "")}, authState{}, threeds.StatusNotAuthenticated, false},
		{paymentResponse{ResultCode: resultRefused, ThreeDS2Result: res("R", "", "")}, authState{}, threeds.StatusRejected, false},
		{paymentResponse{ResultCode: resultRefused, ThreeDS2Result: res("U", "", "")}, authState{}, threeds.StatusUnavailable, false},
		{paymentResponse{ResultCode: resultRefused, ThreeDS2Result: res("N", "01", "")}, challenged, threeds.StatusChallengeAbandoned, false},
		{paymentResponse{ResultCode: resultRefused, ThreeDS2Result: res("N", "04", "")}, challenged, threeds.StatusChallengeAbandoned, false},
		{paymentResponse{ResultCode: resultRefused, ThreeDS2Result: res("U", "06", "")}, challenged, threeds.StatusUnavailable, false},
		{paymentResponse{ResultCode: resultRefused}, authState{}, threeds.StatusNotAuthenticated, false},
		{paymentResponse{ResultCode: resultCancelled}, challenged, threeds.StatusChallengeAbandoned, false},
		{paymentResponse{ResultCode: resultCancelled}, authState{}, threeds.StatusUnavailable, false},
		{paymentResponse{ResultCode: resultError}, authState{}, threeds.StatusUnavailable, false},
		{paymentResponse{ResultCode: resultRedirectShopper}, authState{}, threeds.StatusUnavailable, false},
		{paymentResponse{ResultCode: resultAuthenticationFinished, ThreeDS2Result: res("Y", "", "")}, authState{}, "", true},
		{paymentResponse{ResultCode: resultAuthenticationFinished}, authState{}, "", true},
		{paymentResponse{ResultCode: resultAuthorised, PSPReference: "P"}, authState{}, "", true},
		{paymentResponse{ResultCode: "Success"}, authState{}, "", true},
	} {
		o, err := a.final(tc.resp, tc.st)
		if (err != nil) != tc.err || (err != nil && !errors.Is(err, ErrBadResponse)) {
			t.Errorf("case %d: error %v, want %t", i, err, tc.err)
			continue
		}
		if err == nil && (o.status != tc.status || o.state.Phase != phaseDone) {
			t.Errorf("case %d: %s in phase %s, want %s", i, o.status, o.state.Phase, tc.status)
		}
		if err == nil && tc.st.Challenge != nil && o.result != nil && (o.result.Version != "2.1.0" || o.result.ServerTransID != "st") {
			t.Errorf("case %d: result %#v lacks the challenge's version and transaction id", i, o.result)
		}
	}
}
