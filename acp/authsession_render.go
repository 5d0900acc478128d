package acp

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"

	"acpgw/threeds"
)

// authStatuses is DelegateAuthenticationSessionBase.status's enum, in
// schema order.
var authStatuses = []threeds.Status{
	threeds.StatusActionRequired, threeds.StatusPending, threeds.StatusNotSupported, threeds.StatusAuthenticated,
	threeds.StatusAttempted, threeds.StatusNotAuthenticated, threeds.StatusRejected, threeds.StatusUnavailable,
	threeds.StatusExpired, threeds.StatusChallengeAbandoned,
}

// The wire forms of the session answers. Field order is schema order and
// encoding/json writes struct fields in declaration order, so the bytes
// depend on the values only.
type (
	authSessionJSON struct {
		ID     string      `json:"authentication_session_id"`
		Status string      `json:"status"`
		Action *actionJSON `json:"action,omitempty"`
		Result *resultJSON `json:"authentication_result,omitempty"`
	}
	actionJSON struct {
		Type        string           `json:"type"`
		Fingerprint *fingerprintJSON `json:"fingerprint,omitempty"`
		Challenge   *challengeJSON   `json:"challenge,omitempty"`
	}
	fingerprintJSON struct {
		MethodURL     string `json:"three_ds_method_url"`
		ServerTransID string `json:"three_ds_server_trans_id"`
	}
	challengeJSON struct {
		ACSURL         string `json:"acs_url"`
		ACSTransID     string `json:"acs_trans_id"`
		ServerTransID  string `json:"three_ds_server_trans_id"`
		MessageVersion string `json:"message_version"`
	}
	resultJSON struct {
		TransStatus         string `json:"trans_status"`
		ECI                 string `json:"electronic_commerce_indicator,omitempty"`
		Cryptogram          string `json:"three_ds_cryptogram,omitempty"`
		TransactionID       string `json:"transaction_id"`
		ServerTransID       string `json:"three_ds_server_trans_id"`
		Version             string `json:"version"`
		AuthenticationValue string `json:"authentication_value,omitempty"`
		TransStatusReason   string `json:"trans_status_reason,omitempty"`
		CardholderInfo      string `json:"cardholder_info,omitempty"`
	}
)

// ErrInvalidSession is wrapped by RenderAuthSession's errors: the session
// given cannot be rendered as the spec's JSON (a bug of the caller or of a
// provider, never of the agent's request).
var ErrInvalidSession = errors.New("acp: authentication session cannot be rendered")

// RenderAuthSession renders an authentication session as the spec's JSON:
// DelegateAuthenticationSession (the create and authenticate answers) when
// result is nil, DelegateAuthenticationSessionWithResult (GET) with its
// authentication_result otherwise. Optional result fields are left out when
// empty. The same arguments always give the same bytes.
//
// It refuses, wrapping ErrInvalidSession, what the schema or the RFC's
// lifecycle does not allow: an empty id, a status outside the enum, an
// action without action_required or action_required without an action, an
// action with both or neither of fingerprint and challenge, a browser URL
// that is not an absolute http(s) URL, a result on a status that is not
// final, or a result without trans_status. No error quotes the result.
func RenderAuthSession(id string, status threeds.Status, action *threeds.Action, result *threeds.Result) ([]byte, error) {
	if err := checkAuthSession(id, status, action, result); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalidSession, err)
	}
	out := authSessionJSON{ID: id, Status: string(status)}
	if action != nil {
		out.Action = renderAction(action)
	}
	if r := result; r != nil {
		out.Result = &resultJSON{
			TransStatus: r.TransStatus, ECI: r.ECI, Cryptogram: r.Cryptogram, TransactionID: r.TransactionID,
			ServerTransID: r.ServerTransID, Version: r.Version, AuthenticationValue: r.AuthenticationValue,
			TransStatusReason: r.TransStatusReason, CardholderInfo: r.CardholderInfo,
		}
	}
	// An Encoder without HTML escaping keeps "&" in URLs readable; the
	// output is the same JSON value either way.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(out); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

func renderAction(a *threeds.Action) *actionJSON {
	if f := a.Fingerprint; f != nil {
		return &actionJSON{Type: "fingerprint", Fingerprint: &fingerprintJSON{MethodURL: f.MethodURL, ServerTransID: f.ServerTransID}}
	}
	c := a.Challenge
	return &actionJSON{Type: "challenge", Challenge: &challengeJSON{
		ACSURL: c.ACSURL, ACSTransID: c.ACSTransID, ServerTransID: c.ServerTransID, MessageVersion: c.MessageVersion,
	}}
}

// checkAuthSession says what RenderAuthSession refuses; see there.
func checkAuthSession(id string, status threeds.Status, action *threeds.Action, result *threeds.Result) error {
	known := false
	for _, s := range authStatuses {
		known = known || s == status
	}
	switch {
	case id == "":
		return errors.New("empty authentication_session_id")
	case !known:
		return fmt.Errorf("status %q is not in the spec's enum", string(status))
	case (status == threeds.StatusActionRequired) != (action != nil):
		return fmt.Errorf("status %s with action %t: an action goes with action_required and only with it", status, action != nil)
	case result != nil && !status.Final():
		return fmt.Errorf("a result with the status %s, which is not final", status)
	case result != nil && result.TransStatus == "":
		return errors.New("a result without trans_status")
	}
	if action == nil {
		return nil
	}
	switch f, c := action.Fingerprint, action.Challenge; {
	case (f == nil) == (c == nil):
		return errors.New("an action must have exactly one of fingerprint and challenge")
	case f != nil && !browserURL(f.MethodURL):
		return errors.New("fingerprint three_ds_method_url is not an absolute http(s) URL")
	case c != nil && !browserURL(c.ACSURL):
		return errors.New("challenge acs_url is not an absolute http(s) URL")
	}
	return nil
}

// browserURL reports whether s is an absolute http or https URL with a
// host, where a browser can post a form.
func browserURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Opaque == ""
}
