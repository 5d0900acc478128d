package mockhttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"go.opentelemetry.io/otel/propagation"

	"acpgw/payment"
	"acpgw/providers"
	"acpgw/threeds"
	"acpgw/threeds/mock3ds"
)

// The Server's 3-D Secure paths: a JSON API for the Client's
// threeds.Provider, and the mock3ds pages browsers meet, under
// PathThreeDSPages (the mock's ThreeDS BaseURL must end with it).
const (
	PathThreeDSCreate       = "/v1/3ds/create"
	PathThreeDSAuthenticate = "/v1/3ds/authenticate"
	PathThreeDSResult       = "/v1/3ds/result"
	PathThreeDSPages        = "/3ds"
)

// threeDSRequestBody is the JSON of the 3-D Secure calls: the part of the
// session the mock's 3-D Secure server reads. The card number travels in
// the clear, as in an authorization: loopback only.
type threeDSRequestBody struct {
	Session sessionBody `json:"session"`
	// FingerprintCompletion is authenticate's Y, N or U.
	FingerprintCompletion string `json:"fingerprint_completion,omitempty"`
}

type sessionBody struct {
	ID                       string           `json:"id"`
	MerchantID               string           `json:"merchant_id"`
	Card                     threeDSCardBody  `json:"card"`
	Amount                   int64            `json:"amount"`
	Currency                 string           `json:"currency"`
	Flow                     *threeDSFlowBody `json:"flow,omitempty"`
	ChallengeNotificationURL string           `json:"challenge_notification_url,omitempty"`
	Status                   string           `json:"status,omitempty"`
	// State is the provider's state (JSON bytes, base64 on the wire).
	State []byte `json:"state,omitempty"`
}

// threeDSCardBody is the card of a session: no CVC, which 3-D Secure does
// not use.
type threeDSCardBody struct {
	Number   string `json:"number"`
	ExpMonth int    `json:"exp_month,omitempty"`
	ExpYear  int    `json:"exp_year,omitempty"`
	Brand    string `json:"brand,omitempty"`
}

type threeDSFlowBody struct {
	Type      string `json:"type"`
	Challenge string `json:"challenge,omitempty"`
}

// stepBody is a 200 answer of the 3-D Secure calls. Its result carries the
// cryptogram in the clear (loopback only).
type stepBody struct {
	Status string             `json:"status"`
	Action *threeDSActionBody `json:"action,omitempty"`
	Result *threeDSResultBody `json:"result,omitempty"`
	State  []byte             `json:"state,omitempty"`
}

type threeDSActionBody struct {
	Fingerprint *fingerprintBody `json:"fingerprint,omitempty"`
	Challenge   *challengeBody   `json:"challenge,omitempty"`
}

type fingerprintBody struct {
	MethodURL     string `json:"three_ds_method_url"`
	ServerTransID string `json:"three_ds_server_trans_id"`
}

type challengeBody struct {
	ACSURL         string `json:"acs_url"`
	ACSTransID     string `json:"acs_trans_id"`
	ServerTransID  string `json:"three_ds_server_trans_id"`
	MessageVersion string `json:"message_version"`
}

type threeDSResultBody struct {
	TransStatus         string `json:"trans_status"`
	ECI                 string `json:"electronic_commerce_indicator,omitempty"`
	Cryptogram          string `json:"three_ds_cryptogram,omitempty"`
	TransactionID       string `json:"transaction_id,omitempty"`
	ServerTransID       string `json:"three_ds_server_trans_id,omitempty"`
	Version             string `json:"version,omitempty"`
	AuthenticationValue string `json:"authentication_value,omitempty"`
	TransStatusReason   string `json:"trans_status_reason,omitempty"`
	CardholderInfo      string `json:"cardholder_info,omitempty"`
}

func toSessionBody(s *threeds.Session) sessionBody {
	b := sessionBody{
		ID: s.ID, MerchantID: s.MerchantID, Amount: s.Amount.Amount, Currency: s.Amount.Currency,
		Card:                     threeDSCardBody{Number: s.Card.Number, ExpMonth: s.Card.ExpMonth, ExpYear: s.Card.ExpYear, Brand: s.Card.Brand},
		ChallengeNotificationURL: s.ChallengeNotificationURL, Status: string(s.Status), State: s.State,
	}
	if f := s.Flow; f != nil {
		b.Flow = &threeDSFlowBody{Type: f.Type, Challenge: f.Challenge}
	}
	return b
}

func (b sessionBody) session() *threeds.Session {
	s := &threeds.Session{
		ID: b.ID, MerchantID: b.MerchantID, Amount: payment.Money{Amount: b.Amount, Currency: b.Currency},
		Card:                     payment.Card{Number: b.Card.Number, ExpMonth: b.Card.ExpMonth, ExpYear: b.Card.ExpYear, Brand: b.Card.Brand},
		ChallengeNotificationURL: b.ChallengeNotificationURL, Status: threeds.Status(b.Status), State: b.State,
	}
	if f := b.Flow; f != nil {
		s.Flow = &threeds.Flow{Type: f.Type, Challenge: f.Challenge}
	}
	return s
}

func toStepBody(s threeds.Step) stepBody {
	b := stepBody{Status: string(s.Status), State: s.State}
	if a := s.Action; a != nil {
		b.Action = &threeDSActionBody{}
		if f := a.Fingerprint; f != nil {
			b.Action.Fingerprint = &fingerprintBody{MethodURL: f.MethodURL, ServerTransID: f.ServerTransID}
		}
		if c := a.Challenge; c != nil {
			b.Action.Challenge = &challengeBody{ACSURL: c.ACSURL, ACSTransID: c.ACSTransID, ServerTransID: c.ServerTransID,
				MessageVersion: c.MessageVersion}
		}
	}
	if r := s.Result; r != nil {
		b.Result = &threeDSResultBody{
			TransStatus: r.TransStatus, ECI: r.ECI, Cryptogram: r.Cryptogram, TransactionID: r.TransactionID,
			ServerTransID: r.ServerTransID, Version: r.Version, AuthenticationValue: r.AuthenticationValue,
			TransStatusReason: r.TransStatusReason, CardholderInfo: r.CardholderInfo,
		}
	}
	return b
}

// step reads b, refusing what no provider answers: an unknown status, an
// action_required without exactly one action, an action with another
// status.
func (b stepBody) step() (threeds.Step, error) {
	s := threeds.Step{Status: threeds.Status(b.Status)}
	if len(b.State) > 0 {
		// An empty state is no state: a non-nil empty one would replace
		// the session's.
		s.State = b.State
	}
	if !knownStatus(s.Status) {
		return threeds.Step{}, fmt.Errorf("%w: 3-D Secure status %q", ErrBadResponse, b.Status)
	}
	if a := b.Action; a != nil {
		if (a.Fingerprint == nil) == (a.Challenge == nil) {
			return threeds.Step{}, fmt.Errorf("%w: an action must be a fingerprint or a challenge", ErrBadResponse)
		}
		s.Action = &threeds.Action{}
		if f := a.Fingerprint; f != nil {
			s.Action.Fingerprint = &threeds.Fingerprint{MethodURL: f.MethodURL, ServerTransID: f.ServerTransID}
		}
		if c := a.Challenge; c != nil {
			s.Action.Challenge = &threeds.Challenge{ACSURL: c.ACSURL, ACSTransID: c.ACSTransID, ServerTransID: c.ServerTransID,
				MessageVersion: c.MessageVersion}
		}
	}
	if (s.Status == threeds.StatusActionRequired) != (s.Action != nil) {
		return threeds.Step{}, fmt.Errorf("%w: status %s with action %v", ErrBadResponse, s.Status, s.Action != nil)
	}
	if r := b.Result; r != nil {
		s.Result = &threeds.Result{
			TransStatus: r.TransStatus, ECI: r.ECI, Cryptogram: r.Cryptogram, TransactionID: r.TransactionID,
			ServerTransID: r.ServerTransID, Version: r.Version, AuthenticationValue: r.AuthenticationValue,
			TransStatusReason: r.TransStatusReason, CardholderInfo: r.CardholderInfo,
		}
	}
	return s, nil
}

func knownStatus(s threeds.Status) bool {
	switch s {
	case threeds.StatusActionRequired, threeds.StatusPending, threeds.StatusNotSupported, threeds.StatusAuthenticated,
		threeds.StatusAttempted, threeds.StatusNotAuthenticated, threeds.StatusRejected, threeds.StatusUnavailable,
		threeds.StatusExpired, threeds.StatusChallengeAbandoned:
		return true
	}
	return false
}

// threeDSHandlers adds the 3-D Secure JSON API and pages of a to mux.
func threeDSHandlers(mux *http.ServeMux, a *mock3ds.Server) {
	mux.HandleFunc("POST "+PathThreeDSCreate, threeDSCall(func(ctx context.Context, b threeDSRequestBody) (threeds.Step, error) {
		return a.Create(ctx, b.Session.session())
	}))
	mux.HandleFunc("POST "+PathThreeDSAuthenticate, threeDSCall(func(ctx context.Context, b threeDSRequestBody) (threeds.Step, error) {
		return a.Authenticate(ctx, b.Session.session(), threeds.FingerprintCompletion(b.FingerprintCompletion))
	}))
	mux.HandleFunc("POST "+PathThreeDSResult, threeDSCall(func(ctx context.Context, b threeDSRequestBody) (threeds.Step, error) {
		return a.Result(ctx, b.Session.session())
	}))
	mux.Handle(PathThreeDSPages+"/", http.StripPrefix(PathThreeDSPages, a))
}

// threeDSCall is the handler of one 3-D Secure call: 200 with the step;
// 400 for a body it cannot read or a session the mock refuses (its state
// or notification URL); 503 when the mock is unavailable; 500 otherwise.
// The mock's errors name no card data.
func threeDSCall(call func(context.Context, threeDSRequestBody) (threeds.Step, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var b threeDSRequestBody
		if !readBody(w, r, &b) {
			return
		}
		step, err := call(r.Context(), b)
		switch {
		case err == nil:
			writeJSON(w, http.StatusOK, toStepBody(step))
		case errors.Is(err, mock3ds.ErrBadState):
			writeError(w, http.StatusBadRequest, "invalid_state", err.Error(), false)
		case errors.Is(err, mock3ds.ErrNotificationURL):
			writeError(w, http.StatusBadRequest, "invalid_notification_url", err.Error(), false)
		case errors.Is(err, threeds.ErrUnavailable):
			writeError(w, http.StatusServiceUnavailable, "unavailable", err.Error(), false)
		default:
			writeError(w, http.StatusInternalServerError, "internal_error", err.Error(), true)
		}
	}
}

// Authenticator returns a threeds.Provider that runs 3-D Secure on the
// Server's mock (its JSON API); the browser pages are the Server's too.
// A failure to reach the Server, a timeout, a 5xx answer or an answer the
// Client cannot read wraps threeds.ErrUnavailable: the session stays as
// it was and the call may be made again (authenticate and result answer
// where the transaction is). A 4xx answer is a *StatusError.
func (c *Client) Authenticator() threeds.Provider { return threeDSClient{c} }

var _ providers.Authenticating = (*Client)(nil)

// threeDSClient is the Client's threeds.Provider.
type threeDSClient struct{ c *Client }

// Create calls the Server's create.
func (t threeDSClient) Create(ctx context.Context, s *threeds.Session) (threeds.Step, error) {
	return t.c.threeDS(ctx, PathThreeDSCreate, threeDSRequestBody{Session: toSessionBody(s)})
}

// Authenticate calls the Server's authenticate.
func (t threeDSClient) Authenticate(ctx context.Context, s *threeds.Session, fp threeds.FingerprintCompletion) (threeds.Step, error) {
	return t.c.threeDS(ctx, PathThreeDSAuthenticate, threeDSRequestBody{Session: toSessionBody(s), FingerprintCompletion: string(fp)})
}

// Result calls the Server's result.
func (t threeDSClient) Result(ctx context.Context, s *threeds.Session) (threeds.Step, error) {
	return t.c.threeDS(ctx, PathThreeDSResult, threeDSRequestBody{Session: toSessionBody(s)})
}

// threeDS makes one 3-D Secure call.
func (c *Client) threeDS(ctx context.Context, path string, body threeDSRequestBody) (threeds.Step, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return threeds.Step{}, fmt.Errorf("mockhttp: encode 3-D Secure request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(data))
	if err != nil {
		return threeds.Step{}, fmt.Errorf("mockhttp: build 3-D Secure request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(req.Header))
	resp, err := c.http.Do(req)
	if err != nil {
		// *url.Error names the method and URL only.
		return threeds.Step{}, fmt.Errorf("mockhttp: %s: %w: %w", path, threeds.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
	if err != nil {
		return threeds.Step{}, fmt.Errorf("mockhttp: %s: answer cut short: %w: %w", path, threeds.ErrUnavailable, err)
	}
	step, err := readStep(resp.StatusCode, raw)
	var se *StatusError
	if errors.As(err, &se) {
		se.RequestID = resp.Header.Get(HeaderRequestID)
	}
	return step, err
}

// readStep reads an answer of a 3-D Secure call that arrived whole.
func readStep(status int, raw []byte) (threeds.Step, error) {
	if status == http.StatusOK {
		var b stepBody
		if err := json.Unmarshal(raw, &b); err != nil {
			return threeds.Step{}, fmt.Errorf("%w: %w", threeds.ErrUnavailable, ErrBadResponse)
		}
		step, err := b.step()
		if err != nil {
			return threeds.Step{}, fmt.Errorf("%w: %w", threeds.ErrUnavailable, err)
		}
		return step, nil
	}
	var b errorBody
	_ = json.Unmarshal(raw, &b) // a body that is not ours leaves b empty
	err := &StatusError{Status: status, Code: b.Code, Message: b.Message}
	if status >= 500 {
		return threeds.Step{}, fmt.Errorf("%w: %w", threeds.ErrUnavailable, err)
	}
	return threeds.Step{}, err
}
