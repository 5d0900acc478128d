package adyen

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"acpgw/payment"
	"acpgw/providers"
	"acpgw/threeds"
)

// This file is Adyen as a 3-D Secure 2 provider for ACP's Delegate
// Authentication API: Adyen's authentication-only flow ("standalone
// authentication": authenticationData.authenticationOnly true, which
// authenticates and authorises nothing) with native 3DS2 for the browser
// channel, driven through the API alone, since the browser's part (3DS
// Method, CReq) is the agent's.
//
// The calls, as Adyen documents them for an API-only native integration
// and as Checkout v71 (CheckoutService-v71.json) shapes them:
//
//   - POST /payments with the card, amount, channel Web, origin, returnUrl,
//     browserInfo, shopperIP, authenticationData {authenticationOnly,
//     threeDSRequestData.nativeThreeDS preferred} and threeDS2RequestData
//     {notificationURL (where the ACS posts the CRes: the agent's
//     challenge_notification_url), acquirer fields, challenge indicator}.
//     Adyen answers IdentifyShopper with a threeDS2 action of subtype
//     fingerprint (the ACS runs a 3DS Method), ChallengeShopper with
//     subtype challenge (the AReq was sent at once and the issuer wants a
//     challenge), AuthenticationNotRequired (no 3-D Secure 2 for this card:
//     not enrolled, or the issuer does not take part), or a final answer
//     (AuthenticationFinished, Refused...) with threeDS2Result.
//   - POST /payments/details with details.threeDSResult = base64 of
//     {"threeDSCompInd": Y|N|U} and the action's paymentData: Adyen sends
//     the AReq and answers the frictionless outcome or ChallengeShopper.
//   - POST /payments/details after the challenge (see Result).
//
// Every call carries an Idempotency-Key made of the session id and the
// step (authKey), so that a call acpgw repeats after an error gets Adyen's
// first answer instead of a second authentication.
//
// What Step.State keeps (authState) is Adyen's handles: paymentData,
// authorisationToken, pspReference, the 3DS Server transaction id and the
// challenge to show again; never the card or the cryptogram.

// Values of the authentication-only PaymentRequest.
const (
	// channelWeb: the browser channel, the only one ACP has. v71's
	// ThreeDS2RequestFields has no deviceChannel (the classic API's
	// browser): channel replaces it.
	channelWeb = "Web"
	// nativeThreeDSPreferred asks for native 3DS2 (threeDS2 actions); ACP
	// has no redirect flow. Adyen may still answer RedirectShopper.
	nativeThreeDSPreferred = "preferred"
	// EMV 3DS threeDSRequestorChallengeInd values for ACP's
	// flow_preference: frictionless asks for no challenge (02), challenge
	// preferred for one (03), challenge mandated for a mandated one (04).
	// Without a preference the field is left out (Adyen's default, 01 no
	// preference).
	challengeIndNoChallenge = "02"
	challengeIndRequested   = "03"
	challengeIndMandated    = "04"
	// maxReference is the longest reference Adyen takes.
	maxReference = 80
	// maxMerchantName is the longest merchantName Adyen forwards to the
	// issuer.
	maxMerchantName = 40
	// maxOrigin is the longest origin the v71 schema allows.
	maxOrigin = 80
)

// Adyen's values of the authentication-only flow.
const (
	resultAuthenticationFinished    = "AuthenticationFinished"
	resultAuthenticationNotRequired = "AuthenticationNotRequired"
	resultPartiallyAuthorised       = "PartiallyAuthorised"
	actionThreeDS2                  = "threeDS2"
	subtypeFingerprint              = "fingerprint"
	subtypeChallenge                = "challenge"
)

// The operations of the authentication flow, in errors, logs and retry
// reports.
const (
	op3DSPayments = "3ds_payments"
	op3DSDetails  = "3ds_details"
)

var (
	_ providers.Authenticating = (*Client)(nil)
	_ threeds.Provider         = authenticator{}
)

// Authenticator returns the client as a 3-D Secure 2 provider: Adyen's
// authentication-only native flow on the client's merchant account,
// through the client's own transport (timeouts, no re-sends but the
// Idempotency-Key ones of errorCode 704).
func (c *Client) Authenticator() threeds.Provider { return authenticator{c: c} }

// authenticator is Client's threeds.Provider.
type authenticator struct{ c *Client }

// authPhase is where a session is in Adyen's flow.
type authPhase string

const (
	// phaseDeferred: /payments is not sent yet; create lacked the browser
	// data or the challenge notification URL, which /payments needs (the
	// CRes's URL cannot be given later: PaymentDetailsRequest has no
	// threeDS2RequestData).
	phaseDeferred authPhase = "deferred"
	// phaseFingerprint: Adyen asked for the 3DS Method (IdentifyShopper).
	phaseFingerprint authPhase = "fingerprint"
	// phaseChallenge: Adyen asked for a challenge (ChallengeShopper).
	phaseChallenge authPhase = "challenge"
	// phaseAnswered: /payments, sent at create, answered a final outcome
	// (the ACS runs no 3DS Method, so Adyen sent the AReq at once). Create
	// may only answer action_required, pending or not_supported, and the
	// state may not keep the cryptogram, so authenticate sends the same
	// request again with the same Idempotency-Key and reads Adyen's replay
	// of that answer; Request is the request without the card, so that the
	// body is the same byte for byte.
	phaseAnswered authPhase = "answered"
	// phaseDone: the session is final.
	phaseDone authPhase = "done"
)

// authStateVersion is the version of authState's encoding.
const authStateVersion = 1

// authState is what a session keeps of Adyen's flow between calls
// (threeds.Step.State): Adyen's handles, never the card or the cryptogram.
type authState struct {
	V                  int             `json:"v"`
	Phase              authPhase       `json:"phase"`
	PSPReference       string          `json:"psp_reference,omitempty"`
	PaymentData        string          `json:"payment_data,omitempty"`
	AuthorisationToken string          `json:"authorisation_token,omitempty"`
	ServerTransID      string          `json:"server_trans_id,omitempty"`
	Challenge          *challengeState `json:"challenge,omitempty"`
	// Polls counts the answers of Result that the challenge is still on:
	// each next poll is a new request with its own Idempotency-Key.
	Polls   int             `json:"polls,omitempty"`
	Request *paymentRequest `json:"request,omitempty"`
}

// challengeState is the challenge the browser presents.
type challengeState struct {
	ACSURL         string `json:"acs_url"`
	ACSTransID     string `json:"acs_trans_id"`
	ServerTransID  string `json:"server_trans_id"`
	MessageVersion string `json:"message_version"`
}

// errNoState: authenticate or result of a session create did not start.
var errNoState = errors.New("adyen: 3-D Secure session has no Adyen state (create did not run)")

func decodeAuthState(b []byte) (authState, error) {
	if len(b) == 0 {
		return authState{}, errNoState
	}
	var st authState
	if err := json.Unmarshal(b, &st); err != nil || st.V != authStateVersion {
		return authState{}, fmt.Errorf("adyen: unreadable 3-D Secure session state (version %d)", st.V)
	}
	return st, nil
}

// outcome is a step before its state is encoded.
type outcome struct {
	status    threeds.Status
	action    *threeds.Action
	result    *threeds.Result
	state     authState
	keepState bool // the session's state stays as it was
}

func (o outcome) step() (threeds.Step, error) {
	step := threeds.Step{Status: o.status, Action: o.action, Result: o.result}
	if o.keepState {
		return step, nil
	}
	o.state.V = authStateVersion
	b, err := json.Marshal(o.state)
	if err != nil {
		return threeds.Step{}, fmt.Errorf("adyen: encode 3-D Secure session state: %w", err)
	}
	step.State = b
	return step, nil
}

// Create starts the authentication. With the browser data and the challenge
// notification URL it sends /payments and answers action_required with the
// 3DS Method (IdentifyShopper), not_supported (AuthenticationNotRequired),
// or pending: Adyen wants a challenge at once, or already answered the
// outcome, both of which authenticate hands on. Without them it answers
// pending and authenticate sends /payments.
func (a authenticator) Create(ctx context.Context, s *threeds.Session) (threeds.Step, error) {
	if err := a.check(s); err != nil {
		return threeds.Step{}, err
	}
	if !ready(s) {
		return outcome{status: threeds.StatusPending, state: authState{Phase: phaseDeferred}}.step()
	}
	req := a.paymentRequest(s)
	resp, err := a.pay(ctx, s, req)
	if err != nil {
		return threeds.Step{}, a.fail("create", err)
	}
	o, err := a.created(req, resp)
	if err != nil {
		return threeds.Step{}, a.fail("create", err)
	}
	return o.step()
}

// created maps the /payments answer at create.
func (a authenticator) created(req *paymentRequest, resp paymentResponse) (outcome, error) {
	switch resp.ResultCode {
	case resultIdentifyShopper:
		st, tok, err := fingerprintState(resp)
		if err != nil {
			return outcome{}, err
		}
		if tok.ThreeDSMethodURL == "" {
			// No 3DS Method to run: the agent authenticates with
			// fingerprint_completion U, which is what Adyen is told.
			return outcome{status: threeds.StatusPending, state: st}, nil
		}
		fp := &threeds.Fingerprint{MethodURL: tok.ThreeDSMethodURL, ServerTransID: tok.ThreeDSServerTransID}
		return outcome{status: threeds.StatusActionRequired, action: &threeds.Action{Fingerprint: fp}, state: st}, nil
	case resultChallengeShopper:
		st, err := challengeStateOf(resp, authState{})
		if err != nil {
			return outcome{}, err
		}
		// ACP's create has no challenge action: authenticate answers it.
		return outcome{status: threeds.StatusPending, state: st}, nil
	case resultAuthenticationNotRequired:
		return notSupported(resp), nil
	}
	// A final answer: checked now, handed on by authenticate (see
	// phaseAnswered).
	if _, err := a.final(resp, authState{}); err != nil {
		return outcome{}, err
	}
	bare := *req
	bare.PaymentMethod = cardDetails{}
	return outcome{status: threeds.StatusPending, state: authState{Phase: phaseAnswered, PSPReference: resp.PSPReference, Request: &bare}}, nil
}

// Authenticate continues after the fingerprint: /payments/details with
// the 3DS Method's completion, or /payments first when create deferred it
// (then with completion U: no 3DS Method ran). It answers the frictionless
// outcome or action_required with the challenge.
func (a authenticator) Authenticate(ctx context.Context, s *threeds.Session, fp threeds.FingerprintCompletion) (threeds.Step, error) {
	st, err := decodeAuthState(s.State)
	if err != nil {
		return threeds.Step{}, err
	}
	if err := a.check(s); err != nil {
		return threeds.Step{}, err
	}
	var o outcome
	switch st.Phase {
	case phaseDeferred:
		if !ready(s) {
			return threeds.Step{}, errors.New("adyen: 3-D Secure authenticate needs the browser data and the challenge notification URL")
		}
		o, err = a.payNow(ctx, s, a.paymentRequest(s))
	case phaseAnswered:
		if st.Request == nil {
			return threeds.Step{}, errors.New("adyen: 3-D Secure session state lacks the request to replay")
		}
		req := *st.Request
		req.PaymentMethod = cardFields(s.Card)
		o, err = a.payNow(ctx, s, &req)
	case phaseFingerprint:
		o, err = a.fingerprinted(ctx, s, st, fp)
	case phaseChallenge:
		o = challengeOutcome(st)
	default:
		return threeds.Step{}, fmt.Errorf("adyen: 3-D Secure authenticate in phase %q", st.Phase)
	}
	if err != nil {
		return threeds.Step{}, a.fail("authenticate", err)
	}
	return o.step()
}

// payNow sends /payments at authenticate and maps its answer.
func (a authenticator) payNow(ctx context.Context, s *threeds.Session, req *paymentRequest) (outcome, error) {
	resp, err := a.pay(ctx, s, req)
	if err != nil {
		return outcome{}, err
	}
	switch resp.ResultCode {
	case resultIdentifyShopper:
		st, _, err := fingerprintState(resp)
		if err != nil {
			return outcome{}, err
		}
		// The agent ran no 3DS Method for this transaction (create asked
		// for none): Adyen is told so at once.
		return a.fingerprinted(ctx, s, st, threeds.FingerprintUnavailable)
	case resultChallengeShopper:
		st, err := challengeStateOf(resp, authState{})
		if err != nil {
			return outcome{}, err
		}
		return challengeOutcome(st), nil
	case resultAuthenticationNotRequired:
		// Not in RFC 4.2's list for authenticate, but in the response
		// schema's status enum, and the truth: no 3-D Secure 2 for this
		// card, which create could not know without the browser data.
		return notSupported(resp), nil
	}
	return a.final(resp, authState{})
}

// fingerprinted sends the 3DS Method's completion (EMV threeDSCompInd:
// Y completed, N not completed in time, U not run, which is what ACP's
// fingerprint_completion says) as details.threeDSResult, the form Adyen's
// own 3D Secure 2 Component submits it in.
func (a authenticator) fingerprinted(ctx context.Context, s *threeds.Session, st authState, fp threeds.FingerprintCompletion) (outcome, error) {
	comp := string(fp)
	if fp != threeds.FingerprintCompleted && fp != threeds.FingerprintTimedOut {
		comp = string(threeds.FingerprintUnavailable)
	}
	resp, err := a.details(ctx, authKey(s.ID, "fp_"+comp), st, map[string]string{"threeDSCompInd": comp})
	if err != nil {
		return outcome{}, err
	}
	return a.detailed(resp, st)
}

// Result asks Adyen for the challenge's outcome: /payments/details with
// the challenge action's authorisationToken and paymentData.
//
// What Adyen documents and what acpgw assumes: for an API-only
// integration Adyen has the merchant decode the CRes (posted to the
// notificationURL) and submit its transStatus with the authorisationToken
// as details.threeDSResult. Under ACP the CRes goes to the agent's
// challenge_notification_url and GET /delegate_authentication/{id}
// carries nothing of it, so acpgw sends the authorisationToken alone. The
// outcome Adyen answers (threeDS2Result: transStatus, authenticationValue,
// eci...) is the ACS's RReq, which Adyen receives itself as the 3DS
// Server; a CRes carries no authenticationValue, so Adyen's answer cannot
// come from it. This is unverified against Adyen's test platform: if Adyen
// insists on the CRes's transStatus, it answers 422 and the step fails
// (not unavailable: trying again would not help). Adyen's other ways to
// the result are the AUTHENTICATION webhook and the classic Payment API
// (getAuthenticationResult), both outside Checkout v71.
//
// While the shopper has not finished, Adyen is assumed to answer
// ChallengeShopper again (the spec gives it no other code for "waiting"),
// and Result answers action_required with the same challenge. A cancelled
// challenge (threeDS2Result.challengeCancel 01, 04, 05, or resultCode
// Cancelled) answers challenge_abandoned.
func (a authenticator) Result(ctx context.Context, s *threeds.Session) (threeds.Step, error) {
	st, err := decodeAuthState(s.State)
	if err != nil {
		return threeds.Step{}, err
	}
	if st.Phase != phaseChallenge || st.Challenge == nil {
		return threeds.Step{}, fmt.Errorf("adyen: 3-D Secure result asked in phase %q, want a challenge", st.Phase)
	}
	resp, err := a.details(ctx, authKey(s.ID, "res_"+strconv.Itoa(st.Polls)), st,
		map[string]string{"authorisationToken": st.AuthorisationToken})
	if err != nil {
		return threeds.Step{}, a.fail("result", err)
	}
	o, err := a.detailed(resp, st)
	if err != nil {
		return threeds.Step{}, a.fail("result", err)
	}
	if o.status == threeds.StatusActionRequired {
		o.state.Polls = st.Polls + 1
	}
	return o.step()
}

// detailed maps a /payments/details answer.
func (a authenticator) detailed(resp paymentResponse, st authState) (outcome, error) {
	switch resp.ResultCode {
	case resultChallengeShopper:
		next, err := challengeStateOf(resp, st)
		if err != nil {
			return outcome{}, err
		}
		return challengeOutcome(next), nil
	case resultAuthenticationNotRequired:
		return notSupported(resp), nil
	}
	return a.final(resp, st)
}

// final maps an answer that ends the authentication. With threeDS2Result
// the status is its transStatus; without, the resultCode's.
func (a authenticator) final(resp paymentResponse, st authState) (outcome, error) {
	done := authState{Phase: phaseDone, PSPReference: first(resp.PSPReference, st.PSPReference), ServerTransID: st.ServerTransID}
	challenged := st.Challenge != nil
	if r := resp.ThreeDS2Result; r != nil && r.TransStatus != "" {
		res, err := resultOf(resp, st)
		if err != nil {
			return outcome{}, err
		}
		status := statusOfTransStatus(r.TransStatus)
		if challenged && abandoned(r.ChallengeCancel) {
			status = threeds.StatusChallengeAbandoned
		}
		done.ServerTransID = res.ServerTransID
		return outcome{status: status, result: res, state: done}, nil
	}
	switch resp.ResultCode {
	case resultRefused:
		// Refused without a 3DS2 result: Adyen's "3D Not Authenticated"
		// and the like. No Result: acpgw does not invent a transStatus.
		return outcome{status: threeds.StatusNotAuthenticated, state: done}, nil
	case resultCancelled:
		if challenged {
			return outcome{status: threeds.StatusChallengeAbandoned, state: done}, nil
		}
		return outcome{status: threeds.StatusUnavailable, state: done}, nil
	case resultError, resultPending, resultReceived, resultPresentToShopper:
		// Error: a 3-D Secure system error. Pending, Received: Adyen cannot
		// tell the outcome. PresentToShopper: nothing ACP's browser
		// actions can show.
		return outcome{status: threeds.StatusUnavailable, state: done}, nil
	case resultRedirectShopper:
		// Adyen fell back to its redirect flow (3-D Secure 1, or native
		// unavailable for this issuer), which ACP's native-only browser
		// actions cannot follow: no authentication is possible here.
		return outcome{status: threeds.StatusUnavailable, state: done}, nil
	case resultAuthenticationFinished:
		return outcome{}, fmt.Errorf("%w: AuthenticationFinished without threeDS2Result (pspReference %s)", ErrBadResponse, resp.PSPReference)
	case resultAuthorised, resultPartiallyAuthorised:
		// authenticationOnly must never authorise; if it did, money is
		// held, which someone must cancel.
		a.c.logger.Warn("adyen: an authentication-only request was authorised; cancel the authorisation",
			slog.String("processor", a.c.name), slog.String("psp_reference", resp.PSPReference))
		return outcome{}, fmt.Errorf("%w: authentication-only request answered %s (pspReference %s)", ErrBadResponse, resp.ResultCode, resp.PSPReference)
	}
	return outcome{}, fmt.Errorf("%w: unexpected resultCode %q in the 3-D Secure flow", ErrBadResponse, resp.ResultCode)
}

// resultOf builds the session's Result of a threeDS2Result. A Y or A
// without an authenticationValue is refused: the seller's authorisation
// would carry no proof.
func resultOf(resp paymentResponse, st authState) (*threeds.Result, error) {
	r := resp.ThreeDS2Result
	if (r.TransStatus == "Y" || r.TransStatus == "A") && r.AuthenticationValue == "" {
		return nil, fmt.Errorf("%w: transStatus %s without authenticationValue", ErrBadResponse, r.TransStatus)
	}
	version := r.MessageVersion
	if version == "" && st.Challenge != nil {
		version = st.Challenge.MessageVersion
	}
	res := &threeds.Result{
		TransStatus:       r.TransStatus,
		ECI:               r.ECI,
		Cryptogram:        r.AuthenticationValue,
		TransactionID:     r.DSTransID,
		ServerTransID:     first(r.ThreeDSServerTransID, st.ServerTransID),
		Version:           version,
		TransStatusReason: r.TransStatusReason,
	}
	if d := resp.ThreeDS2ResponseData; d != nil {
		res.CardholderInfo = d.CardHolderInfo
	}
	return res, nil
}

// statusOfTransStatus is the session status of an EMV 3DS transStatus.
// I (informational only: the issuer acknowledged the requestor's
// no-challenge preference, an exemption) authenticates nobody but lets the
// payment go ahead, as attempted does; U, and C or D (which no final
// answer should carry), are unavailable.
func statusOfTransStatus(ts string) threeds.Status {
	switch ts {
	case "Y":
		return threeds.StatusAuthenticated
	case "A", "I":
		return threeds.StatusAttempted
	case "N":
		return threeds.StatusNotAuthenticated
	case "R":
		return threeds.StatusRejected
	default:
		return threeds.StatusUnavailable
	}
}

// abandoned reports whether an EMV challengeCancel says the shopper did
// not complete the challenge: 01 cancelled by the cardholder, 04 timed
// out at the ACS, 05 the ACS never received the first CReq. 06 and 07
// (transaction error, unknown) are not the shopper's doing.
func abandoned(challengeCancel string) bool {
	switch challengeCancel {
	case "01", "04", "05":
		return true
	}
	return false
}

// notSupported is the answer for a card Adyen will not authenticate.
func notSupported(resp paymentResponse) outcome {
	return outcome{status: threeds.StatusNotSupported, state: authState{Phase: phaseDone, PSPReference: resp.PSPReference}}
}

// challengeOutcome is action_required with st's challenge.
func challengeOutcome(st authState) outcome {
	c := st.Challenge
	return outcome{status: threeds.StatusActionRequired, state: st, action: &threeds.Action{Challenge: &threeds.Challenge{
		ACSURL: c.ACSURL, ACSTransID: c.ACSTransID, ServerTransID: c.ServerTransID, MessageVersion: c.MessageVersion,
	}}}
}

// threeDS2ActionOf reads resp's action as a threeDS2 action of subtype.
func threeDS2ActionOf(resp paymentResponse, subtype string) (threeDS2Action, ThreeDS2Token, error) {
	var act threeDS2Action
	if len(resp.Action) == 0 || string(resp.Action) == "null" {
		return act, ThreeDS2Token{}, fmt.Errorf("%w: %s without an action", ErrBadResponse, resp.ResultCode)
	}
	if err := json.Unmarshal(resp.Action, &act); err != nil {
		return act, ThreeDS2Token{}, fmt.Errorf("%w: %s action: %v", ErrBadResponse, resp.ResultCode, err)
	}
	if act.Type != actionThreeDS2 || act.Subtype != subtype {
		return act, ThreeDS2Token{}, fmt.Errorf("%w: %s with action %q/%q, want %s/%s", ErrBadResponse, resp.ResultCode, act.Type, act.Subtype, actionThreeDS2, subtype)
	}
	tok, err := DecodeThreeDS2Token(act.Token)
	if err != nil {
		return act, ThreeDS2Token{}, fmt.Errorf("%w: %w", ErrBadResponse, err)
	}
	return act, tok, nil
}

// fingerprintState reads an IdentifyShopper answer.
func fingerprintState(resp paymentResponse) (authState, ThreeDS2Token, error) {
	act, tok, err := threeDS2ActionOf(resp, subtypeFingerprint)
	if err == nil {
		err = tok.fingerprint()
	}
	if err == nil && act.PaymentData == "" {
		err = fmt.Errorf("%w: fingerprint action without paymentData", ErrBadResponse)
	}
	if err != nil {
		return authState{}, ThreeDS2Token{}, err
	}
	return authState{
		Phase: phaseFingerprint, PSPReference: resp.PSPReference, PaymentData: act.PaymentData,
		AuthorisationToken: act.AuthorisationToken, ServerTransID: tok.ThreeDSServerTransID,
	}, tok, nil
}

// challengeStateOf reads a ChallengeShopper answer. Without an action it
// is the challenge prev already has (the shopper is still on it).
func challengeStateOf(resp paymentResponse, prev authState) (authState, error) {
	if len(resp.Action) == 0 && prev.Challenge != nil {
		return prev, nil
	}
	act, tok, err := threeDS2ActionOf(resp, subtypeChallenge)
	if err == nil {
		err = tok.challenge()
	}
	if err != nil {
		return authState{}, err
	}
	st := authState{
		Phase: phaseChallenge, PSPReference: first(resp.PSPReference, prev.PSPReference),
		PaymentData:        first(act.PaymentData, prev.PaymentData),
		AuthorisationToken: first(act.AuthorisationToken, prev.AuthorisationToken),
		ServerTransID:      tok.ThreeDSServerTransID,
		Challenge: &challengeState{
			ACSURL: tok.ACSURL, ACSTransID: tok.ACSTransID, ServerTransID: tok.ThreeDSServerTransID, MessageVersion: tok.MessageVersion,
		},
		Polls: prev.Polls,
	}
	if st.AuthorisationToken == "" && st.PaymentData == "" {
		return authState{}, fmt.Errorf("%w: challenge action without authorisationToken or paymentData", ErrBadResponse)
	}
	return st, nil
}

// pay sends the authentication-only /payments request.
func (a authenticator) pay(ctx context.Context, s *threeds.Session, req *paymentRequest) (paymentResponse, error) {
	var resp paymentResponse
	err := a.c.do(ctx, call{op: op3DSPayments, path: "/payments", key: authKey(s.ID, "pay"), body: req}, &resp)
	return resp, err
}

// details sends /payments/details with result as details.threeDSResult.
func (a authenticator) details(ctx context.Context, key string, st authState, result map[string]string) (paymentResponse, error) {
	b, err := json.Marshal(result)
	if err != nil {
		return paymentResponse{}, err
	}
	body := paymentDetailsRequest{
		AuthenticationData: &detailsAuthenticationData{AuthenticationOnly: true},
		Details:            paymentCompletionDetails{ThreeDSResult: base64.StdEncoding.EncodeToString(b)},
		PaymentData:        st.PaymentData,
	}
	var resp paymentResponse
	err = a.c.do(ctx, call{op: op3DSDetails, path: "/payments/details", key: key, body: body}, &resp)
	return resp, err
}

// fail wraps an error of step. What trying again later may cure wraps
// threeds.ErrUnavailable: no connection, no answer (timeout, reset), 5xx,
// 429, a request still in progress at Adyen (704). A 4xx (validation,
// authentication, permission) or an answer acpgw cannot read fails the
// step as it is. Adyen's messages name fields, never their values, and
// acpgw's own never carry the card.
func (a authenticator) fail(step string, err error) error {
	if retryable(err) {
		return fmt.Errorf("%w: adyen 3-D Secure %s: %w", threeds.ErrUnavailable, step, err)
	}
	return fmt.Errorf("adyen 3-D Secure %s: %w", step, err)
}

func retryable(err error) bool {
	var api *APIError
	switch {
	case errors.As(err, &api):
		return api.HTTPStatus >= 500 || api.HTTPStatus == http.StatusTooManyRequests || api.Code == errorCodeInProgress
	case errors.Is(err, ErrBadResponse), errors.Is(err, ErrIdempotencyKeyTooLong):
		return false
	default:
		// Transport: not sent, no answer, an answer cut short.
		return errors.Is(err, providers.ErrNotProcessed) || errors.Is(err, providers.ErrOutcomeUnknown)
	}
}

// check refuses a session Adyen cannot authenticate before anything is
// sent; the messages say nothing of the card.
func (a authenticator) check(s *threeds.Session) error {
	c := s.Card
	switch {
	case s.ID == "":
		return errors.New("adyen: 3-D Secure session without an id")
	case c.NumberType != "" && c.NumberType != numberTypeFPAN:
		return fmt.Errorf("adyen: 3-D Secure of a %s is not supported, only of a card number", c.NumberType)
	case c.Number == "" || c.ExpMonth < 1 || c.ExpMonth > 12 || c.ExpYear < 1000 || c.ExpYear > 9999:
		return errors.New("adyen: 3-D Secure session card has no number or an invalid expiry")
	case s.Amount.Amount <= 0:
		return fmt.Errorf("adyen: 3-D Secure: %w: %d", payment.ErrInvalidAmount, s.Amount.Amount)
	case !a.c.Supports(providers.TokenVault, strings.ToLower(s.Amount.Currency)):
		return fmt.Errorf("adyen: 3-D Secure: %w: %q is not configured for %s", payment.ErrUnknownCurrency, s.Amount.Currency, a.c.name)
	}
	return nil
}

// ready reports whether /payments can be sent: the AReq needs the browser
// data, and the CRes's URL can be given on /payments only.
func ready(s *threeds.Session) bool {
	return s.Browser != nil && s.ChallengeNotificationURL != ""
}

// paymentRequest builds the authentication-only PaymentRequest of s.
func (a authenticator) paymentRequest(s *threeds.Session) *paymentRequest {
	req := &paymentRequest{
		Amount:             amount{Currency: strings.ToUpper(s.Amount.Currency), Value: s.Amount.Amount},
		MerchantAccount:    a.c.merchantAccount,
		PaymentMethod:      cardFields(s.Card),
		Reference:          truncate(s.ID, maxReference),
		ReturnURL:          a.c.returnURL,
		ShopperInteraction: shopperInteractionEcommerce,
		Channel:            channelWeb,
		Origin:             originOf(s.ChallengeNotificationURL),
		// challengeWindowSize is left out: the agent's CReq carries the
		// window size it renders; Adyen's field sizes its own Component's
		// or redirect page's challenge, neither of which runs here. So are
		// threeDSVersion and messageVersion: Adyen, as 3DS Server, picks the
		// version the card's directory server and ACS support, and the
		// answer says which (threeDS2Result.messageVersion, the challenge
		// token's messageVersion).
		AuthenticationData: &authenticationData{
			AuthenticationOnly: true,
			ThreeDSRequestData: &threeDSRequestData{NativeThreeDS: nativeThreeDSPreferred},
		},
		ThreeDS2RequestData: &threeDS2RequestFields{
			NotificationURL:              s.ChallengeNotificationURL,
			ThreeDSRequestorChallengeInd: challengeIndicator(s.Flow),
		},
	}
	if b := s.Browser; b != nil {
		req.BrowserInfo = browserInfoOf(b)
		req.ShopperIP = b.IPAddress
	}
	if q := s.Acquirer; q != nil {
		// acquirerBIN, acquirerMerchantID, merchantName and
		// threeDSRequestorID are what Adyen's docs require for
		// authentication-only (they must match the later authorisation).
		// ACP's acquirer_country has no field in ThreeDS2RequestFields.
		f := req.ThreeDS2RequestData
		f.AcquirerBIN, f.AcquirerMerchantID = q.BIN, q.MerchantID
		f.MerchantName, f.ThreeDSRequestorID = truncate(q.MerchantName, maxMerchantName), q.RequestorID
	}
	if sh := s.Shopper; sh != nil {
		req.ShopperEmail = sh.Email
		req.TelephoneNumber = phoneOf(sh.Phone)
		if ad := sh.Address; ad != nil {
			req.BillingAddress = newBillingAddress(ad.LineOne, ad.LineTwo, ad.City, ad.State, ad.Country, ad.PostalCode)
		}
	}
	return req
}

// cardFields is the scheme card of an authentication: number, expiry,
// holder. No CVC: ACP's payment_method has none and the authentication
// needs none.
func cardFields(c payment.Card) cardDetails {
	return cardDetails{
		Type: methodScheme, Number: c.Number, HolderName: c.Name,
		ExpiryMonth: fmt.Sprintf("%02d", c.ExpMonth), ExpiryYear: strconv.Itoa(c.ExpYear),
	}
}

// browserInfoOf is the BrowserInfo of ACP's browser. v71 requires every
// field; ACP requires the screen, colour, Java and time zone ones only
// when JavaScript is enabled (EMV 3DS 2.2 leaves them out otherwise).
// Without JavaScript they are sent as zero, which Adyen's schema takes
// and which no browser reports.
func browserInfoOf(b *threeds.Browser) *browserInfo {
	bi := &browserInfo{
		AcceptHeader: b.AcceptHeader, JavaScriptEnabled: b.JavaScriptEnabled, Language: b.Language, UserAgent: b.UserAgent,
	}
	if b.ColorDepth != nil {
		bi.ColorDepth = *b.ColorDepth
	}
	if b.JavaEnabled != nil {
		bi.JavaEnabled = *b.JavaEnabled
	}
	if b.ScreenHeight != nil {
		bi.ScreenHeight = *b.ScreenHeight
	}
	if b.ScreenWidth != nil {
		bi.ScreenWidth = *b.ScreenWidth
	}
	if b.TimezoneOffset != nil {
		bi.TimeZoneOffset = *b.TimezoneOffset
	}
	return bi
}

// challengeIndicator is the threeDSRequestorChallengeInd of ACP's
// flow_preference; "" without one.
func challengeIndicator(f *threeds.Flow) string {
	switch {
	case f == nil:
		return ""
	case f.Type == "frictionless":
		return challengeIndNoChallenge
	case f.Type == "challenge" && f.Challenge == "mandated":
		return challengeIndMandated
	case f.Type == "challenge":
		return challengeIndRequested
	}
	return ""
}

// originOf is the origin (scheme://host[:port]) of the page that shows
// the challenge, which v71 requires for channel Web: the agent's, known by
// its challenge notification URL. "" when it cannot be told.
func originOf(notificationURL string) string {
	u, err := url.Parse(notificationURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return ""
	}
	o := u.Scheme + "://" + u.Host
	if len(o) > maxOrigin {
		return ""
	}
	return o
}

// phoneOf is ACP's phone_number in Adyen's form: a plus sign and 5 to 18
// digits (country code and number). Anything else is left out: Adyen
// would not submit it to the issuer anyway.
func phoneOf(phone string) string {
	digits := strings.TrimPrefix(phone, "+")
	if len(digits) < 5 || len(digits) > 18 {
		return ""
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return ""
		}
	}
	return "+" + digits
}

// authKey is the Idempotency-Key of one step of a session: the same for
// every repeat of the step, different for every step. A session id too
// long for Adyen's 64 characters is replaced by its hash.
func authKey(sessionID, step string) string {
	const prefix = "acpgw_3ds_"
	k := prefix + sessionID + "_" + step
	if len(k) <= MaxIdempotencyKeyLen {
		return k
	}
	sum := sha256.Sum256([]byte(sessionID))
	return prefix + hex.EncodeToString(sum[:16]) + "_" + step
}

// first returns the first non-empty string.
func first(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
