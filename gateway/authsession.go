package gateway

import (
	"context"
	"errors"
	"net/http"
	"time"

	"acpgw/acp"
	"acpgw/payment"
	"acpgw/store"
	"acpgw/threeds"
	"acpgw/vault"
)

// The Delegate Authentication API (ACP 2026-04-17): an agent creates a 3-D
// Secure session for a merchant's buyer, reports the fingerprint
// (authenticate, which sends the AReq), and reads the result (get), which
// it hands the seller to pay with. The merchant's config names the
// processor whose threeds.Provider runs the sessions.
//
// A session lives in the store (store.AuthSession) with its card sealed by
// the vault, and its result, which holds the cryptogram, sealed too. The
// card is erased in the transaction that makes the session final. Each
// provider call is bounded by authentication.step_timeout; a session that
// is not final within authentication.session_ttl is expired (on access, or
// by the sweep) and never passed to the provider again.
//
// authenticate sends the AReq at most once per session: it first claims
// the session (Step, StepUntil) with an update conditional on the version
// it read, so of two concurrent calls one claims and the other is refused
// before any provider call. A provider that is unavailable (threeds.
// ErrUnavailable, a timeout) leaves the session as it was and answers 503,
// which is never stored under an Idempotency-Key.

// AuthCreateInput is a validated POST /delegate_authentication call.
type AuthCreateInput struct {
	AgentID string
	Request acp.AuthCreateRequest
	// Idempotency is the request's key; zero when it has none.
	Idempotency Idempotency
}

// AuthenticateInput is a validated POST
// /delegate_authentication/{id}/authenticate call.
type AuthenticateInput struct {
	AgentID   string
	SessionID string
	Request   acp.AuthenticateRequest
	// Idempotency is the request's key; zero when it has none.
	Idempotency Idempotency
}

// AuthGetInput is a GET /delegate_authentication/{id} call.
type AuthGetInput struct {
	AgentID   string
	SessionID string
}

// Errors of the Delegate Authentication API, each with its public form.
var (
	// ErrNoAuthentication: the merchant has no authentication provider
	// (config merchants[].authentication), or its provider cannot
	// authenticate.
	ErrNoAuthentication = errors.New("merchant offers no 3-D Secure authentication")
	// ErrAuthUnavailable: the authentication provider could not be reached
	// or did not answer in time; the session is as it was.
	ErrAuthUnavailable = errors.New("authentication provider unavailable")
)

// Messages of errors made in more than one place.
const (
	msgNoSuchSession   = "no such authentication session"
	msgAuthUnavailable = "the authentication provider is unavailable; the session is unchanged; " + retryShortly
	msgAuthNotCreated  = "the authentication provider is unavailable; no session was created; " + retryShortly
	// retryShortly ends the message of a 503 (the api adds the key to
	// retry with).
	retryShortly = "retry shortly"
)

// The steps of a session, in metrics, logs and store.AuthSession.Step.
const (
	stepCreate       = "create"
	stepAuthenticate = "authenticate"
	stepResult       = "result"
)

// stepGrace is how long a claimed authenticate may outlast its provider
// call's deadline (the commit of its result) before the claim counts as
// abandoned.
const stepGrace = 10 * time.Second

// CreateAuthSession creates a Delegate Authentication session: the
// merchant's authentication provider is asked to start it (under
// authentication.step_timeout), and the session with its sealed card, the
// claim of the request's key and the answer (201) commit in one
// transaction. A key replayed with the same body gets the first answer and
// calls nothing; with another body, ErrIdempotencyConflict.
func (s *Service) CreateAuthSession(ctx context.Context, in AuthCreateInput) (Answer, error) {
	if ans, replay, err := s.Replay(ctx, in.Idempotency); err != nil || replay {
		return ans, err
	}
	rt, release := s.acquire()
	defer release()
	req := in.Request
	name, p, err := s.authProvider(rt, req.MerchantID)
	if err != nil {
		return s.beforeWrite(ctx, in.Idempotency, err)
	}
	if err := checkMaxAmount(rt, req.Amount, "$.amount.value"); err != nil {
		return s.beforeWrite(ctx, in.Idempotency, err)
	}
	now := s.now().UTC()
	sess, err := newAuthSession(rt, in, name, now)
	if err != nil {
		return Answer{}, err
	}
	ps := providerSession(sess.ID, req.Card, sessionDetails(req), sess, nil)
	step, err := s.callAuth(ctx, rt, name, stepCreate, func(ctx context.Context) (threeds.Step, error) {
		return p.Create(ctx, ps)
	})
	if retryLater(err) {
		s.logAuth(ctx, sess, stepCreate, err)
		return s.beforeWrite(ctx, in.Idempotency, publicError(ErrAuthUnavailable, msgAuthNotCreated))
	}
	step = s.checkedStep(ctx, sess, stepCreate, step, err)
	if sess, err = applyStep(rt, sess, step, now); err != nil {
		return Answer{}, err
	}
	ans, err := createdAnswer(sess)
	if err != nil {
		return Answer{}, err
	}
	if err := s.insertAuthSession(ctx, sess, in.Idempotency, ans, now); err != nil {
		return s.beforeWrite(ctx, in.Idempotency, err)
	}
	s.countEnded(sess)
	return ans, nil
}

// Authenticate submits the fingerprint's outcome and sends the AReq: 200
// with a final status (frictionless) or a challenge. The session must be
// the agent's own, waiting for authenticate (pending, or action_required
// with a fingerprint), and have a browser channel and a
// challenge_notification_url from create or from this request. An expired
// session answers 200 expired.
func (s *Service) Authenticate(ctx context.Context, in AuthenticateInput) (Answer, error) {
	if ans, replay, err := s.Replay(ctx, in.Idempotency); err != nil || replay {
		return ans, err
	}
	rt, release := s.acquire()
	defer release()
	now := s.now().UTC()
	sess, err := s.agentSession(ctx, rt, in.AgentID, in.SessionID, now)
	if err != nil {
		return s.beforeWrite(ctx, in.Idempotency, err)
	}
	if threeds.Status(sess.Status) == threeds.StatusExpired {
		return s.answerAuthenticate(ctx, rt, sess, in.Idempotency, now)
	}
	if err := authenticatable(sess, now); err != nil {
		return s.beforeWrite(ctx, in.Idempotency, err)
	}
	name, p, err := s.sessionProvider(rt, sess)
	if err != nil {
		return s.beforeWrite(ctx, in.Idempotency, err)
	}
	merged, err := mergeAuthenticate(sess, in.Request)
	if err != nil {
		return s.beforeWrite(ctx, in.Idempotency, err)
	}
	claimed, err := s.claimStep(ctx, rt, sess, merged, in.Idempotency, now)
	if err != nil {
		return s.beforeWrite(ctx, in.Idempotency, err)
	}
	// From here on the AReq may be sent: the call and the result's commit
	// run to their end even if the client hangs up.
	ctx = context.WithoutCancel(ctx)
	step, err := s.sendAReq(ctx, rt, name, p, claimed, in.Request.Fingerprint)
	if retryLater(err) {
		s.logAuth(ctx, claimed, stepAuthenticate, err)
		return Answer{}, s.releaseStep(ctx, sess, claimed, in.Idempotency)
	}
	step = s.checkedStep(ctx, claimed, stepAuthenticate, step, err)
	next, err := applyStep(rt, claimed, step, s.now().UTC())
	if err != nil {
		return Answer{}, err
	}
	return s.settleAuthenticate(ctx, rt, claimed, next, in.Idempotency)
}

// GetAuthSession returns the agent's session, with its
// authentication_result once it is final and has one. While the shopper
// faces a challenge, the provider is asked whether it ended, and what it
// says is stored.
func (s *Service) GetAuthSession(ctx context.Context, in AuthGetInput) (Answer, error) {
	rt, release := s.acquire()
	defer release()
	now := s.now().UTC()
	sess, err := s.agentSession(ctx, rt, in.AgentID, in.SessionID, now)
	if err != nil {
		return Answer{}, err
	}
	if awaitsChallenge(sess, now) {
		if sess, err = s.askResult(ctx, rt, sess, now); err != nil {
			return Answer{}, err
		}
	}
	return sessionAnswer(rt, sess, now, true)
}

// authProvider returns the authentication provider of merchantID: the
// processor its config names, as a threeds.Provider.
func (s *Service) authProvider(rt *Runtime, merchantID string) (string, threeds.Provider, error) {
	m, ok := rt.Merchant(merchantID)
	if !ok {
		return "", nil, publicError(ErrUnknownMerchant, "merchant %q is not served by this gateway", merchantID)
	}
	if m.Authentication == nil {
		return "", nil, publicError(ErrNoAuthentication, "merchant %q offers no 3-D Secure authentication through this gateway", merchantID)
	}
	p, ok := rt.authenticator(m.Authentication.Provider)
	if !ok {
		return "", nil, publicError(ErrNoAuthentication, "the authentication provider of merchant %q cannot authenticate", merchantID)
	}
	return m.Authentication.Provider, p, nil
}

// sessionProvider returns the provider a session was created with. One that
// a reload removed, or that no longer authenticates, is unavailable: the
// session stays as it is until the config is back or it expires.
func (s *Service) sessionProvider(rt *Runtime, sess store.AuthSession) (string, threeds.Provider, error) {
	p, ok := rt.authenticator(sess.Provider)
	if !ok {
		return "", nil, publicError(ErrAuthUnavailable, "the session's authentication provider is not configured now; the session is unchanged; %s", retryShortly)
	}
	return sess.Provider, p, nil
}

// agentSession reads the session id of agentID, ended first if it is
// overdue (see settleOverdue). Another agent's session is not found, like
// a session that does not exist.
func (s *Service) agentSession(ctx context.Context, rt *Runtime, agentID, id string, now time.Time) (store.AuthSession, error) {
	sess, err := s.store.GetAuthSession(ctx, id)
	if errors.Is(err, store.ErrNotFound) || err == nil && sess.AgentID != agentID {
		return store.AuthSession{}, publicError(payment.ErrNotFound, msgNoSuchSession)
	}
	if err != nil {
		return store.AuthSession{}, err
	}
	return s.settleOverdue(ctx, sess, now)
}

// authenticatable refuses authenticate on a session that cannot take it:
// final (409), already past its AReq (a challenge is under way: 409
// duplicate_request), or with an authenticate still running (409, not
// final).
func authenticatable(sess store.AuthSession, now time.Time) error {
	st := threeds.Status(sess.Status)
	switch {
	case st.Final():
		return publicError(payment.ErrInvalidState, "the session has ended (%s); create a new one to authenticate again", st)
	case stepRunning(sess, now):
		return publicError(payment.ErrConflict, "an authenticate call on this session is still running; GET the session for its status")
	case st == threeds.StatusActionRequired && !awaitsFingerprint(sess):
		return acp.Errorf(http.StatusConflict, acp.TypeInvalidRequest, acp.CodeDuplicateRequest, "",
			"authenticate was already called on this session; GET the session for its status")
	}
	return nil
}

// newAuthSession is the session a create request starts, before its
// provider call: its card sealed for its id.
func newAuthSession(rt *Runtime, in AuthCreateInput, provider string, now time.Time) (store.AuthSession, error) {
	req := in.Request
	id := vault.NewID("as_")
	sealed, err := rt.Vault.SealCard(id, req.Card)
	if err != nil {
		return store.AuthSession{}, err
	}
	details, err := encodeDetails(sessionDetails(req))
	if err != nil {
		return store.AuthSession{}, err
	}
	return store.AuthSession{
		ID: id, MerchantID: req.MerchantID, AgentID: in.AgentID, Provider: provider,
		Amount: req.Amount.Amount, Currency: req.Amount.Currency, CheckoutSessionID: req.CheckoutSessionID,
		KeyID: sealed.KeyID, Credential: sealed.Credential, Details: details, IdempotencyKey: in.Idempotency.Key,
		ExpiresAt: now.Add(rt.authSessionTTL()), CreatedAt: now, UpdatedAt: now, Version: 1,
	}, nil
}

// mergeAuthenticate lays the authenticate request's fields over the
// session's: a field given replaces the one from create. The AReq needs a
// browser channel and a challenge_notification_url from one or the other.
func mergeAuthenticate(sess store.AuthSession, req acp.AuthenticateRequest) (store.AuthSession, error) {
	d, err := decodeDetails(sess.Details)
	if err != nil {
		return store.AuthSession{}, err
	}
	if req.Browser != nil {
		d.Browser = req.Browser
	}
	if req.Shopper != nil {
		d.Shopper = req.Shopper
	}
	if req.ChallengeNotificationURL != "" {
		d.ChallengeNotificationURL = req.ChallengeNotificationURL
	}
	switch {
	case d.Browser == nil:
		return store.AuthSession{}, acp.Errorf(http.StatusBadRequest, acp.TypeInvalidRequest, acp.CodeMissingField, "$.channel",
			"channel is required: the session was created without one")
	case d.ChallengeNotificationURL == "":
		return store.AuthSession{}, acp.Errorf(http.StatusBadRequest, acp.TypeInvalidRequest, acp.CodeMissingField, "$.challenge_notification_url",
			"challenge_notification_url is required: the session was created without one")
	}
	out := sess
	if req.CheckoutSessionID != "" {
		out.CheckoutSessionID = req.CheckoutSessionID
	}
	if out.Details, err = encodeDetails(d); err != nil {
		return store.AuthSession{}, err
	}
	return out, nil
}

// sendAReq opens the claimed session's card and calls the provider's
// Authenticate under the step timeout.
func (s *Service) sendAReq(ctx context.Context, rt *Runtime, name string, p threeds.Provider, sess store.AuthSession, fp threeds.FingerprintCompletion) (threeds.Step, error) {
	ps, err := s.openSession(rt, sess)
	if err != nil {
		return threeds.Step{}, err
	}
	return s.callAuth(ctx, rt, name, stepAuthenticate, func(ctx context.Context) (threeds.Step, error) {
		return p.Authenticate(ctx, ps, fp)
	})
}

// askResult asks the provider whether the session's challenge ended, and
// stores what changed. A provider that cannot say now is 503 and changes
// nothing.
func (s *Service) askResult(ctx context.Context, rt *Runtime, sess store.AuthSession, now time.Time) (store.AuthSession, error) {
	name, p, err := s.sessionProvider(rt, sess)
	if err != nil {
		return store.AuthSession{}, err
	}
	ps, err := s.openSession(rt, sess)
	if err != nil {
		return store.AuthSession{}, err
	}
	step, err := s.callAuth(ctx, rt, name, stepResult, func(ctx context.Context) (threeds.Step, error) {
		return p.Result(ctx, ps)
	})
	if retryLater(err) {
		s.logAuth(ctx, sess, stepResult, err)
		return store.AuthSession{}, publicError(ErrAuthUnavailable, msgAuthUnavailable)
	}
	step = s.checkedStep(ctx, sess, stepResult, step, err)
	next, err := applyStep(rt, sess, step, now)
	if err != nil {
		return store.AuthSession{}, err
	}
	if !changed(sess, next) {
		return sess, nil
	}
	return s.writeSession(ctx, sess, next)
}

// awaitsFingerprint reports whether the session's action is the
// fingerprint of create (authenticate comes next).
func awaitsFingerprint(sess store.AuthSession) bool {
	a, err := decodeAction(sess.Action)
	return err == nil && a != nil && a.Fingerprint != nil
}

// awaitsChallenge reports whether the shopper faces the session's
// challenge, and no authenticate call of it is still running: a GET then
// asks the provider whether the challenge ended.
func awaitsChallenge(sess store.AuthSession, now time.Time) bool {
	if threeds.Status(sess.Status) != threeds.StatusActionRequired || stepRunning(sess, now) {
		return false
	}
	a, err := decodeAction(sess.Action)
	return err == nil && a != nil && a.Challenge != nil
}

// stepRunning reports whether a provider call claimed the session and its
// claim has not run out.
func stepRunning(sess store.AuthSession, now time.Time) bool {
	return sess.Step != "" && sess.StepUntil != nil && sess.StepUntil.After(now)
}

// changed reports whether a provider's answer changed what the session
// says.
func changed(old, next store.AuthSession) bool {
	return old.Status != next.Status || string(old.Action) != string(next.Action) ||
		string(old.State) != string(next.State) || string(old.Result) != string(next.Result)
}

// authSessionAnswer rebuilds the answer of an authenticate request whose
// key names session id, for a replay after the request ended without
// storing its answer (a crash): the session as it is now.
func (s *Service) authSessionAnswer(ctx context.Context, id string) (Answer, error) {
	sess, err := s.store.GetAuthSession(ctx, id)
	if err != nil {
		return Answer{}, err
	}
	rt := s.rt.Load()
	return sessionAnswer(rt, sess, s.now().UTC(), false)
}
