package adyentest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
)

// Test cards of the authentication-only flow (authenticationData
// .authenticationOnly true). As in the mock's 3-D Secure,
// CardApproved (and every card not listed) is frictionless Y after the
// fingerprint, and CardRedirect goes through a challenge after it, which
// ends as FinishChallenge says. CardInvalidNumber answers 422,
// CardServerError 500 (after the answer is stored, like a payment) and
// CardNeverAnswers never answers.
const (
	// Card3DSNotEnrolled: AuthenticationNotRequired at once.
	Card3DSNotEnrolled = "4000000000003063"
	// Card3DSRejected: after the fingerprint, Refused with transStatus R.
	Card3DSRejected = "4000000000003055"
	// Card3DSAttempted: after the fingerprint, transStatus A (eci 06).
	Card3DSAttempted = "4000000000003097"
	// Card3DSError: after the fingerprint, resultCode Error.
	Card3DSError = "4000000000003105"
	// Card3DSDirectChallenge: ChallengeShopper at once (the ACS runs no
	// 3DS Method).
	Card3DSDirectChallenge = "4000000000003113"
	// Card3DSDirectFrictionless: AuthenticationFinished with transStatus Y
	// at once (no 3DS Method).
	Card3DSDirectFrictionless = "4000000000003121"
)

// Outcomes of a challenge, for FinishChallenge.
const (
	// ChallengeAuthenticated: the shopper passed (transStatus Y).
	ChallengeAuthenticated = "Y"
	// ChallengeFailed: the shopper failed (transStatus N).
	ChallengeFailed = "N"
	// ChallengeCancelled: the shopper cancelled (transStatus N,
	// challengeCancel 01).
	ChallengeCancelled = "cancelled"
)

// The fake ACS's addresses and version, as its tokens give them.
const (
	ThreeDSMethodURL   = "https://pal-test.adyen.com/threeds2simulator/acs/startMethod.shtml"
	ACSURL             = "https://pal-test.adyen.com/threeds2simulator/acs/challenge.shtml"
	ThreeDSVersion     = "2.2.0"
	methodNotification = "https://checkoutshopper-test.adyen.com/checkoutshopper/threeDSMethodNotification.shtml"
)

// Authentication is what the fake keeps of one authentication-only
// transaction: what its /payments request carried and how far it went.
type Authentication struct {
	PSPReference  string
	Reference     string
	Last4         string
	ServerTransID string
	ACSTransID    string
	// Request fields.
	Channel, Origin, NotificationURL, ChallengeInd                       string
	AcquirerBIN, AcquirerMerchantID, MerchantName, RequestorID           string
	ShopperEmail, ShopperIP, TelephoneNumber, ExpiryMonth, NativeThreeDS string
	BrowserInfo, BillingAddress, CVC                                     bool
	// Flow: the threeDSCompInd received, how often the challenge's result
	// was asked for while the shopper was still on it, and the
	// transStatus answered ("" before the end).
	CompInd     string
	Polls       int
	TransStatus string
	// Cryptogram is the authenticationValue answered, for tests that
	// check it goes nowhere it must not.
	Cryptogram string
}

// auth is a transaction with the fake's own handles.
type auth struct {
	Authentication
	number      string
	paymentData string
	authToken   string
	phase       string // fingerprint, challenge, done
	finish      string // FinishChallenge's outcome
}

// Authentications returns a snapshot of the authentication-only
// transactions in the order they began.
func (s *Server) Authentications() []Authentication {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Authentication, len(s.authOrder))
	for i, a := range s.authOrder {
		out[i] = a.Authentication
	}
	return out
}

// FinishChallenge ends the challenge of the transaction with the 3DS
// Server transaction id as the shopper would at the ACS (whose RReq then
// reaches Adyen): outcome is ChallengeAuthenticated, ChallengeFailed or
// ChallengeCancelled. It reports whether such a challenge was waiting.
func (s *Server) FinishChallenge(serverTransID, outcome string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.authByTrans[serverTransID]
	if !ok || a.phase != "challenge" || a.finish != "" {
		return false
	}
	a.finish = outcome
	return true
}

// authRequest is what the fake reads of an authentication-only
// PaymentRequest (the spec has already checked its shape).
type authRequest struct {
	Amount struct {
		Currency string `json:"currency"`
		Value    int64  `json:"value"`
	} `json:"amount"`
	Reference     string `json:"reference"`
	PaymentMethod struct {
		Number      string `json:"number"`
		ExpiryMonth string `json:"expiryMonth"`
		CVC         string `json:"cvc"`
	} `json:"paymentMethod"`
	Channel            string            `json:"channel"`
	Origin             string            `json:"origin"`
	ShopperEmail       string            `json:"shopperEmail"`
	ShopperIP          string            `json:"shopperIP"`
	TelephoneNumber    string            `json:"telephoneNumber"`
	BrowserInfo        json.RawMessage   `json:"browserInfo"`
	BillingAddress     json.RawMessage   `json:"billingAddress"`
	CaptureDelayHours  *int              `json:"captureDelayHours"`
	AdditionalData     map[string]string `json:"additionalData"`
	AuthenticationData struct {
		ThreeDSRequestData *struct {
			NativeThreeDS string `json:"nativeThreeDS"`
		} `json:"threeDSRequestData"`
	} `json:"authenticationData"`
	ThreeDS2RequestData *struct {
		AcquirerBIN                  string `json:"acquirerBIN"`
		AcquirerMerchantID           string `json:"acquirerMerchantID"`
		MerchantName                 string `json:"merchantName"`
		NotificationURL              string `json:"notificationURL"`
		ThreeDSRequestorChallengeInd string `json:"threeDSRequestorChallengeInd"`
		ThreeDSRequestorID           string `json:"threeDSRequestorID"`
	} `json:"threeDS2RequestData"`
}

// authenticate starts an authentication-only transaction: what Adyen's
// docs ask of a native browser authentication is checked (channel Web,
// browserInfo, origin, the CRes's notificationURL, no capture settings),
// then the card decides the answer.
func (s *Server) authenticate(body []byte, key string) (int, []byte, answerMode) {
	var req authRequest
	if err := json.Unmarshal(body, &req); err != nil {
		s.violation("authentication request: %v", err)
		return http.StatusBadRequest, serviceError(400, "702", "Unable to parse the request", "validation"), modeNormal
	}
	f := req.ThreeDS2RequestData
	switch {
	case req.Channel != "Web":
		s.violation("authentication %s: channel %q, want Web for a browser authentication", req.Reference, req.Channel)
	case len(req.BrowserInfo) == 0:
		s.violation("authentication %s: no browserInfo", req.Reference)
	case req.Origin == "":
		s.violation("authentication %s: no origin (required for channel Web 3D Secure 2)", req.Reference)
	case f == nil || f.NotificationURL == "":
		s.violation("authentication %s: no threeDS2RequestData.notificationURL for the CRes", req.Reference)
	case req.CaptureDelayHours != nil || req.AdditionalData != nil:
		s.violation("authentication %s: capture settings on an authentication-only request", req.Reference)
	}
	number := req.PaymentMethod.Number
	switch number {
	case CardInvalidNumber:
		b, _ := Fixture("checkout-error-422-invalid-card.json")
		return http.StatusUnprocessableEntity, b, modeNormal
	}
	a := &auth{number: number, paymentData: "Ab02b4c0!" + randomHex(24), authToken: "Ab02b4c0!" + randomHex(16)}
	a.PSPReference, a.Reference, a.ServerTransID = newPSPReference(), req.Reference, newUUID()
	if len(number) >= 4 {
		a.Last4 = number[len(number)-4:]
	}
	a.Channel, a.Origin, a.ShopperEmail, a.ShopperIP = req.Channel, req.Origin, req.ShopperEmail, req.ShopperIP
	a.TelephoneNumber, a.ExpiryMonth, a.CVC = req.TelephoneNumber, req.PaymentMethod.ExpiryMonth, req.PaymentMethod.CVC != ""
	a.BrowserInfo, a.BillingAddress = len(req.BrowserInfo) > 0, len(req.BillingAddress) > 0
	if d := req.AuthenticationData.ThreeDSRequestData; d != nil {
		a.NativeThreeDS = d.NativeThreeDS
	}
	if f != nil {
		a.NotificationURL, a.ChallengeInd, a.AcquirerBIN = f.NotificationURL, f.ThreeDSRequestorChallengeInd, f.AcquirerBIN
		a.AcquirerMerchantID, a.MerchantName, a.RequestorID = f.AcquirerMerchantID, f.MerchantName, f.ThreeDSRequestorID
	}
	var resp map[string]any
	switch number {
	case Card3DSNotEnrolled:
		a.phase = "done"
		resp = map[string]any{"resultCode": "AuthenticationNotRequired", "pspReference": a.PSPReference,
			"merchantReference": a.Reference, "threeDSPaymentData": a.paymentData}
	case Card3DSDirectChallenge:
		resp = s.challenge(a)
	case Card3DSDirectFrictionless:
		resp = s.finished(a, "Y")
	default:
		a.phase = "fingerprint"
		token := encodeToken(map[string]string{
			"threeDSMethodNotificationURL": methodNotification, "threeDSMethodUrl": ThreeDSMethodURL,
			"threeDSServerTransID": a.ServerTransID,
		})
		resp = map[string]any{"resultCode": "IdentifyShopper", "action": map[string]any{
			"type": "threeDS2", "subtype": "fingerprint", "paymentMethodType": "scheme",
			"token": token, "paymentData": a.paymentData, "authorisationToken": a.authToken,
		}}
	}
	s.mu.Lock()
	s.authByData[a.paymentData] = a
	s.authByTrans[a.ServerTransID] = a
	s.authOrder = append(s.authOrder, a)
	s.mu.Unlock()
	switch number {
	case CardNeverAnswers:
		return http.StatusOK, mustJSON(resp), modeHang
	case CardServerError:
		return http.StatusOK, mustJSON(resp), modeFail
	}
	return http.StatusOK, mustJSON(resp), modeNormal
}

// detailsRequest is what the fake reads of a PaymentDetailsRequest.
type detailsRequest struct {
	AuthenticationData *struct {
		AuthenticationOnly bool `json:"authenticationOnly"`
	} `json:"authenticationData"`
	Details struct {
		ThreeDSResult string `json:"threeDSResult"`
	} `json:"details"`
	PaymentData string `json:"paymentData"`
}

// paymentDetails continues an authentication-only transaction: after the
// fingerprint, threeDSResult must hold threeDSCompInd; after a challenge,
// the challenge action's authorisationToken. The transaction is found by
// its paymentData.
func (s *Server) paymentDetails(body []byte) (int, []byte, answerMode) {
	var req detailsRequest
	if err := json.Unmarshal(body, &req); err != nil {
		s.violation("details request: %v", err)
		return http.StatusBadRequest, serviceError(400, "702", "Unable to parse the request", "validation"), modeNormal
	}
	if req.AuthenticationData == nil || !req.AuthenticationData.AuthenticationOnly {
		s.violation("details request without authenticationData.authenticationOnly true in an authentication-only flow")
	}
	var result map[string]string
	raw, err := base64.StdEncoding.DecodeString(req.Details.ThreeDSResult)
	if err == nil {
		err = json.Unmarshal(raw, &result)
	}
	if err != nil {
		s.violation("details.threeDSResult is not base64 of a JSON object of strings: %v", err)
		return http.StatusUnprocessableEntity, serviceError(422, "000", "Invalid threeDSResult", "validation"), modeNormal
	}
	s.mu.Lock()
	a, ok := s.authByData[req.PaymentData]
	var phase string
	if ok {
		phase = a.phase
	}
	s.mu.Unlock()
	if !ok {
		return http.StatusUnprocessableEntity, serviceError(422, "000", "Invalid payment data", "validation"), modeNormal
	}
	var resp map[string]any
	switch phase {
	case "fingerprint":
		comp := result["threeDSCompInd"]
		if comp != "Y" && comp != "N" && comp != "U" {
			s.violation("details after the fingerprint: threeDSCompInd %q, want Y, N or U", comp)
		}
		s.mu.Lock()
		a.CompInd = comp
		s.mu.Unlock()
		switch a.number {
		case CardRedirect:
			resp = s.challenge(a)
		case Card3DSRejected:
			resp = s.finished(a, "R")
		case Card3DSAttempted:
			resp = s.finished(a, "A")
		case Card3DSError:
			s.setPhase(a, "done")
			resp = map[string]any{"resultCode": "Error", "pspReference": a.PSPReference, "refusalReason": "3D Secure error"}
		default:
			resp = s.finished(a, "Y")
		}
	case "challenge":
		if result["authorisationToken"] != a.authToken || result["threeDSCompInd"] != "" {
			s.violation("details after the challenge: want the challenge's authorisationToken and no threeDSCompInd, got %v", keys(result))
		}
		s.mu.Lock()
		finish := a.finish
		if finish == "" {
			a.Polls++
		}
		s.mu.Unlock()
		switch finish {
		case "":
			resp = s.challenge(a) // the shopper is still on it
		case ChallengeCancelled:
			resp = s.finished(a, "cancelled")
		default:
			resp = s.finished(a, finish)
		}
	default:
		s.violation("details for a transaction that is %s", phase)
		return http.StatusUnprocessableEntity, serviceError(422, "000", "Transaction already finished", "validation"), modeNormal
	}
	return http.StatusOK, mustJSON(resp), modeNormal
}

// challenge is a ChallengeShopper answer for a.
func (s *Server) challenge(a *auth) map[string]any {
	s.mu.Lock()
	a.phase = "challenge"
	if a.ACSTransID == "" {
		a.ACSTransID = newUUID()
	}
	s.mu.Unlock()
	token := encodeToken(map[string]string{
		"acsReferenceNumber": "ADYEN-ACS-SIMULATOR", "acsTransID": a.ACSTransID, "acsURL": ACSURL,
		"messageVersion": ThreeDSVersion, "threeDSNotificationURL": a.NotificationURL, "threeDSServerTransID": a.ServerTransID,
	})
	return map[string]any{"resultCode": "ChallengeShopper", "pspReference": a.PSPReference, "action": map[string]any{
		"type": "threeDS2", "subtype": "challenge", "paymentMethodType": "scheme",
		"token": token, "paymentData": a.paymentData, "authorisationToken": a.authToken,
	}}
}

// finished is the final answer of a with transStatus ts (or a cancelled
// challenge): AuthenticationFinished for Y and A with an
// authenticationValue, Refused for N and R.
func (s *Server) finished(a *auth, ts string) map[string]any {
	result := map[string]any{
		"dsTransID": newUUID(), "threeDSServerTransID": a.ServerTransID, "messageVersion": ThreeDSVersion,
		"timestamp": "20261126180000",
	}
	resp := map[string]any{"pspReference": a.PSPReference, "merchantReference": a.Reference, "threeDS2Result": result}
	var cryptogram string
	switch ts {
	case "Y", "A":
		b := make([]byte, 20)
		_, _ = rand.Read(b)
		cryptogram = base64.StdEncoding.EncodeToString(b)
		result["authenticationValue"], result["transStatus"] = cryptogram, ts
		result["eci"] = map[string]string{"Y": "05", "A": "06"}[ts]
		resp["resultCode"], resp["threeDSPaymentData"] = "AuthenticationFinished", a.paymentData
	case "cancelled":
		result["transStatus"], result["challengeCancel"], result["eci"] = "N", "01", "07"
		resp["resultCode"], resp["refusalReason"], resp["refusalReasonCode"] = "Refused", "3D Not Authenticated", "11"
		ts = "N"
	default: // N, R
		result["transStatus"], result["eci"], result["transStatusReason"] = ts, "07", "01"
		resp["resultCode"], resp["refusalReason"], resp["refusalReasonCode"] = "Refused", "3D Not Authenticated", "11"
		resp["threeDS2ResponseData"] = map[string]any{"cardHolderInfo": "Please contact your bank.", "transStatus": ts}
	}
	s.mu.Lock()
	a.phase, a.TransStatus, a.Cryptogram = "done", ts, cryptogram
	s.mu.Unlock()
	return resp
}

func (s *Server) setPhase(a *auth, phase string) {
	s.mu.Lock()
	a.phase = phase
	s.mu.Unlock()
}

// encodeToken is an action token: standard base64 of a JSON object.
func encodeToken(m map[string]string) string {
	return base64.StdEncoding.EncodeToString(mustJSON(m))
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// newUUID returns a random (version 4) UUID, the form of 3-D Secure
// transaction ids.
func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return strings.Join([]string{h[:8], h[8:12], h[12:16], h[16:20], h[20:]}, "-")
}

func keys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
