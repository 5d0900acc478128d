package acp

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"acpgw/threeds"
)

// authFuzzSeeds returns the seeds of a fuzz target: the testdata bodies of
// kind and every request example of the spec of that kind.
func authFuzzSeeds(f *testing.F, kind string) [][]byte {
	var out [][]byte
	for _, b := range seedFiles(f, "auth_"+kind+"_") {
		out = append(out, b)
	}
	for _, ex := range authSpecExamples(f) {
		if ex.kind == kind {
			out = append(out, ex.body)
		}
	}
	return out
}

// checkAuthErr holds a decoder error to the contract: 400 or 422,
// invalid_request/invalid_card, a message, nothing of the card number.
func checkAuthErr(t *testing.T, body []byte, err *Error) {
	t.Helper()
	checkErr(t, body, err, []string{CodeInvalidCard})
	if !err.ValidAuthenticationError() {
		t.Fatalf("error outside the Delegate Authentication Error schema: %+v", err)
	}
	if err.Param != "" && err.Param != "$" && !strings.HasPrefix(err.Param, "$.") {
		t.Fatalf("param %q is not a JSONPath", err.Param)
	}
}

func FuzzDecodeAuthCreateRequest(f *testing.F) {
	for _, b := range authFuzzSeeds(f, authCreate) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeAuthCreateRequestAt(body, testNow)
		if err != nil {
			checkAuthErr(t, body, err)
			return
		}
		c := r.Card
		expiry := time.Date(c.ExpYear, time.Month(c.ExpMonth)+1, 1, 0, 0, 0, 0, time.UTC)
		if !luhn(c.Number) || len(c.Number) < 12 || len(c.Number) > 19 || c.NumberType != "fpan" || c.ExpMonth < 1 || c.ExpMonth > 12 ||
			!testNow.Before(expiry) || r.Amount.Amount <= 0 || r.Amount.Amount > maxSafeAmount || r.MerchantID == "" {
			t.Fatalf("accepted an invalid request: %s", dumpAuth(r))
		}
		checkBrowser(t, r.Browser)
		again, err := DecodeAuthCreateRequestAt(encodeAuthCreate(t, r), testNow)
		if err != nil {
			t.Fatalf("re-encoded request rejected: %v", err)
		}
		if !reflect.DeepEqual(again, r) {
			t.Fatalf("round trip changed the request:\n%s\n%s", dumpAuth(r), dumpAuth(again))
		}
	})
}

func FuzzDecodeAuthenticateRequest(f *testing.F) {
	for _, b := range authFuzzSeeds(f, authAuthenticate) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeAuthenticateRequest(body)
		if err != nil {
			checkAuthErr(t, body, err)
			return
		}
		switch r.Fingerprint {
		case threeds.FingerprintCompleted, threeds.FingerprintTimedOut, threeds.FingerprintUnavailable:
		default:
			t.Fatalf("accepted fingerprint_completion %q", r.Fingerprint)
		}
		checkBrowser(t, r.Browser)
		again, err := DecodeAuthenticateRequest(encodeAuthenticate(t, r))
		if err != nil {
			t.Fatalf("re-encoded request rejected: %v", err)
		}
		if !reflect.DeepEqual(again, r) {
			t.Fatalf("round trip changed the request:\n%+v\n%+v", r, again)
		}
	})
}

func checkBrowser(t *testing.T, b *threeds.Browser) {
	t.Helper()
	if b != nil && b.JavaScriptEnabled && (b.ColorDepth == nil || b.JavaEnabled == nil || b.ScreenHeight == nil ||
		b.ScreenWidth == nil || b.TimezoneOffset == nil) {
		t.Fatalf("javascript_enabled without the screen data: %+v", b)
	}
}

// encodeAuthCreate writes r back as a create body, the inverse of
// decodeAuthCreateRequest for accepted requests.
func encodeAuthCreate(t *testing.T, r AuthCreateRequest) []byte {
	c := r.Card
	body := map[string]any{
		"merchant_id": r.MerchantID,
		"payment_method": map[string]any{"type": "card", "number": c.Number, "exp_month": fmt.Sprintf("%02d", c.ExpMonth),
			"exp_year": fmt.Sprint(c.ExpYear), "name": c.Name},
		"amount": map[string]any{"value": r.Amount.Amount, "currency": strings.ToUpper(r.Amount.Currency)},
	}
	if a := r.Acquirer; a != nil {
		ad := map[string]any{"acquirer_bin": a.BIN, "acquirer_country": a.Country, "acquirer_merchant_id": a.MerchantID,
			"merchant_name": a.MerchantName}
		if a.RequestorID != "" {
			ad["requestor_id"] = a.RequestorID
		}
		body["acquirer_details"] = ad
	}
	if f := r.Flow; f != nil {
		fp := map[string]any{"type": f.Type}
		if f.Challenge != "" {
			fp["challenge"] = map[string]any{"type": f.Challenge}
		}
		body["flow_preference"] = fp
	}
	encodeAuthCommon(body, r.Browser, r.CheckoutSessionID, r.ChallengeNotificationURL, r.Shopper)
	return jsonOf(t, body)
}

// encodeAuthenticate writes r back as an authenticate body.
func encodeAuthenticate(t *testing.T, r AuthenticateRequest) []byte {
	body := map[string]any{"fingerprint_completion": string(r.Fingerprint)}
	encodeAuthCommon(body, r.Browser, r.CheckoutSessionID, r.ChallengeNotificationURL, r.Shopper)
	return jsonOf(t, body)
}

func encodeAuthCommon(body map[string]any, b *threeds.Browser, session, url string, s *threeds.Shopper) {
	if b != nil {
		br := map[string]any{"accept_header": b.AcceptHeader, "ip_address": b.IPAddress, "javascript_enabled": b.JavaScriptEnabled,
			"language": b.Language, "user_agent": b.UserAgent}
		for k, v := range map[string]*int{"color_depth": b.ColorDepth, "screen_height": b.ScreenHeight, "screen_width": b.ScreenWidth,
			"timezone_offset": b.TimezoneOffset} {
			if v != nil {
				br[k] = *v
			}
		}
		if b.JavaEnabled != nil {
			br["java_enabled"] = *b.JavaEnabled
		}
		body["channel"] = map[string]any{"type": "browser", "browser": br}
	}
	if session != "" {
		body["checkout_session_id"] = session
	}
	if url != "" {
		body["challenge_notification_url"] = url
	}
	if s != nil {
		sd := map[string]any{}
		for k, v := range map[string]string{"name": s.Name, "email": s.Email, "phone_number": s.Phone} {
			if v != "" {
				sd[k] = v
			}
		}
		if a := s.Address; a != nil {
			ad := map[string]any{"name": a.Name, "line_one": a.LineOne, "city": a.City, "state": a.State, "country": a.Country,
				"postal_code": a.PostalCode}
			if a.LineTwo != "" {
				ad["line_two"] = a.LineTwo
			}
			sd["address"] = ad
		}
		body["shopper_details"] = sd
	}
}

// TestAuthFuzzCorpus keeps the kept fuzz inputs meaningful: those named
// accept_* decode, those named reject_* do not.
func TestAuthFuzzCorpus(t *testing.T) {
	t.Parallel()
	for target, kind := range map[string]string{"FuzzDecodeAuthCreateRequest": authCreate, "FuzzDecodeAuthenticateRequest": authAuthenticate} {
		files, err := filepath.Glob(filepath.Join("testdata", "fuzz", target, "*"))
		if err != nil || len(files) < 5 {
			t.Fatalf("%s: corpus %v, %v", target, files, err)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			lit, ok := strings.CutPrefix(string(b), "go test fuzz v1\n[]byte(")
			lit, ok2 := strings.CutSuffix(lit, ")\n")
			body, err := strconv.Unquote(lit)
			if !ok || !ok2 || err != nil {
				t.Fatalf("%s: not a []byte corpus file", f)
			}
			_, derr := decodeAuth(kind, []byte(body))
			name := filepath.Base(f)
			switch {
			case strings.HasPrefix(name, "accept_") && derr != nil:
				t.Errorf("%s: rejected: %v", f, derr)
			case strings.HasPrefix(name, "reject_") && derr == nil:
				t.Errorf("%s: accepted", f)
			}
		}
	}
}
