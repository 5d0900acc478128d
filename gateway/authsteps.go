package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"acpgw/acp"
	"acpgw/config"
	"acpgw/metrics"
	"acpgw/payment"
	"acpgw/providers"
	"acpgw/store"
	"acpgw/threeds"
	"acpgw/vault"
)

// authDetails is what a session keeps of its requests for later steps,
// stored as JSON in store.AuthSession.Details. It holds no card data.
type authDetails struct {
	Acquirer                 *threeds.Acquirer `json:"acquirer,omitempty"`
	Browser                  *threeds.Browser  `json:"browser,omitempty"`
	Flow                     *threeds.Flow     `json:"flow,omitempty"`
	Shopper                  *threeds.Shopper  `json:"shopper,omitempty"`
	ChallengeNotificationURL string            `json:"challenge_notification_url,omitempty"`
}

// sessionDetails is the create request's part of authDetails.
func sessionDetails(req acp.AuthCreateRequest) authDetails {
	return authDetails{Acquirer: req.Acquirer, Browser: req.Browser, Flow: req.Flow, Shopper: req.Shopper,
		ChallengeNotificationURL: req.ChallengeNotificationURL}
}

func encodeDetails(d authDetails) ([]byte, error) {
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("gateway: encode session details: %w", err)
	}
	return b, nil
}

func decodeDetails(b []byte) (authDetails, error) {
	var d authDetails
	if len(b) == 0 {
		return d, nil
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return authDetails{}, fmt.Errorf("gateway: decode session details: %w", err)
	}
	return d, nil
}

// decodeAction reads a session's stored action, nil without one.
func decodeAction(b []byte) (*threeds.Action, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var a threeds.Action
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("gateway: decode session action: %w", err)
	}
	return &a, nil
}

// resultAAD binds a sealed result to its session, so that it does not open
// in another row.
func resultAAD(sessionID string) string { return sessionID + "/result" }

// sealResult seals a session's result (it holds the cryptogram) under the
// vault's primary key.
func sealResult(rt *Runtime, sessionID string, r threeds.Result) (keyID string, sealed []byte, err error) {
	pt, err := json.Marshal(r)
	if err != nil {
		return "", nil, fmt.Errorf("gateway: encode session result: %w", err)
	}
	keyID, sealed, err = rt.Vault.Seal(resultAAD(sessionID), pt)
	clear(pt)
	return keyID, sealed, err
}

// openResult opens a session's sealed result, nil without one.
func openResult(rt *Runtime, sess store.AuthSession) (*threeds.Result, error) {
	if sess.Result == nil {
		return nil, nil
	}
	pt, err := rt.Vault.Open(sess.ResultKeyID, resultAAD(sess.ID), sess.Result)
	if err != nil {
		return nil, fmt.Errorf("gateway: open the result of session %s: %w", sess.ID, err)
	}
	var r threeds.Result
	err = json.Unmarshal(pt, &r)
	clear(pt)
	if err != nil {
		return nil, fmt.Errorf("gateway: decode the result of session %s", sess.ID)
	}
	return &r, nil
}

// providerSession is the threeds.Session a provider call gets: the stored
// session with its card (opened for the call) and details.
func providerSession(id string, card payment.Card, d authDetails, sess store.AuthSession, state []byte) *threeds.Session {
	return &threeds.Session{
		ID: id, MerchantID: sess.MerchantID, Card: card,
		Amount:   payment.Money{Amount: sess.Amount, Currency: sess.Currency},
		Acquirer: d.Acquirer, Browser: d.Browser, CheckoutSessionID: sess.CheckoutSessionID, Flow: d.Flow,
		ChallengeNotificationURL: d.ChallengeNotificationURL, Shopper: d.Shopper,
		Status: threeds.Status(sess.Status), State: state,
	}
}

// openSession opens a stored session's card for a provider call.
func (s *Service) openSession(rt *Runtime, sess store.AuthSession) (*threeds.Session, error) {
	card, err := rt.Vault.OpenCard(sess.ID, vault.SealedCard{KeyID: sess.KeyID, Credential: sess.Credential})
	if err != nil {
		return nil, fmt.Errorf("gateway: open the card of session %s: %w", sess.ID, err)
	}
	d, err := decodeDetails(sess.Details)
	if err != nil {
		return nil, err
	}
	return providerSession(sess.ID, card, d, sess, sess.State), nil
}

// callAuth makes one provider call under authentication.step_timeout and
// times it.
func (s *Service) callAuth(ctx context.Context, rt *Runtime, provider, step string, call func(context.Context) (threeds.Step, error)) (threeds.Step, error) {
	cctx, cancel := context.WithTimeout(ctx, rt.authStepTimeout())
	defer cancel()
	start := time.Now()
	st, err := call(cctx)
	metrics.Observe(ctx, s.metrics.AuthStepDuration.WithLabelValues(provider, step), time.Since(start).Seconds())
	if err == nil && cctx.Err() != nil {
		// An answer after the deadline is not trusted to be complete.
		err = cctx.Err()
	}
	return st, err
}

// retryLater reports whether a provider call's error leaves the session as
// it was, with a 503: the provider was unavailable, or the call ran out of
// time or was abandoned.
func retryLater(err error) bool {
	return err != nil && (errors.Is(err, threeds.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, context.Canceled))
}

// checkedStep is the step a provider's answer makes: the answer itself
// when it is one the step may give, else (a failure, or an answer that
// breaks the contract) unavailable, the status of a 3-D Secure system
// error.
func (s *Service) checkedStep(ctx context.Context, sess store.AuthSession, step string, st threeds.Step, err error) threeds.Step {
	if err == nil {
		err = checkStep(step, st)
	}
	if err == nil {
		return st
	}
	s.logAuth(ctx, sess, step, err)
	return threeds.Step{Status: threeds.StatusUnavailable}
}

// errBadStep marks a provider answer that breaks threeds.Provider's
// contract.
var errBadStep = errors.New("answer breaks the provider contract")

// checkStep checks a provider's answer to step: a status of ACP's enum
// that the step may give (expired is acpgw's alone; pending only after
// create), the action that status needs (a fingerprint after create, a
// challenge after authenticate and result), a result only with a final
// status.
func checkStep(step string, st threeds.Step) error {
	switch st.Status {
	case threeds.StatusActionRequired, threeds.StatusNotSupported, threeds.StatusAuthenticated,
		threeds.StatusAttempted, threeds.StatusNotAuthenticated, threeds.StatusRejected, threeds.StatusUnavailable,
		threeds.StatusChallengeAbandoned:
	case threeds.StatusPending:
		if step != stepCreate {
			return fmt.Errorf("%w: status pending after %s", errBadStep, step)
		}
	default:
		return fmt.Errorf("%w: status %q", errBadStep, st.Status)
	}
	if st.Result != nil && !st.Status.Final() {
		return fmt.Errorf("%w: a result with status %s", errBadStep, st.Status)
	}
	if st.Status != threeds.StatusActionRequired {
		return nil
	}
	a := st.Action
	switch {
	case a == nil || (a.Fingerprint == nil) == (a.Challenge == nil):
		return fmt.Errorf("%w: action_required without exactly one action", errBadStep)
	case step == stepCreate && a.Fingerprint == nil:
		return fmt.Errorf("%w: a challenge after create", errBadStep)
	case step != stepCreate && a.Challenge == nil:
		return fmt.Errorf("%w: a fingerprint after %s", errBadStep, step)
	}
	return nil
}

// applyStep is sess after a provider's (checked) answer at now: its
// status, action, sealed result and state, the claim of the call released,
// and, when final, its card erased.
func applyStep(rt *Runtime, sess store.AuthSession, st threeds.Step, now time.Time) (store.AuthSession, error) {
	next := sess
	next.Status, next.Action, next.Step, next.StepUntil, next.UpdatedAt = string(st.Status), nil, "", nil, now
	if st.Status == threeds.StatusActionRequired {
		b, err := json.Marshal(st.Action)
		if err != nil {
			return store.AuthSession{}, fmt.Errorf("gateway: encode session action: %w", err)
		}
		next.Action = b
	}
	if st.Result != nil {
		keyID, sealed, err := sealResult(rt, sess.ID, *st.Result)
		if err != nil {
			return store.AuthSession{}, err
		}
		next.ResultKeyID, next.Result = keyID, sealed
	}
	if st.State != nil {
		next.State = st.State
	}
	if st.Status.Final() {
		next.Credential = nil
	}
	return next, nil
}

// ended is sess made final with status at now, without a provider call:
// expired, or unavailable after an abandoned call.
func ended(sess store.AuthSession, status threeds.Status, now time.Time) store.AuthSession {
	next := sess
	next.Status, next.Action, next.Step, next.StepUntil, next.Credential, next.UpdatedAt = string(status), nil, "", nil, nil, now
	return next
}

// overdue is the status a session that is not final must take at now
// without asking its provider: expired past ExpiresAt, unavailable when
// an authenticate claimed it and never came back (its AReq's outcome is
// unknown and is never sent twice); "" when neither.
func overdue(sess store.AuthSession, now time.Time) threeds.Status {
	switch {
	case threeds.Status(sess.Status).Final():
		return ""
	case !now.Before(sess.ExpiresAt):
		return threeds.StatusExpired
	case sess.Step != "" && (sess.StepUntil == nil || !sess.StepUntil.After(now)):
		return threeds.StatusUnavailable
	}
	return ""
}

// settleOverdue stores the end of a session that is overdue (see overdue)
// and returns it as stored.
func (s *Service) settleOverdue(ctx context.Context, sess store.AuthSession, now time.Time) (store.AuthSession, error) {
	status := overdue(sess, now)
	if status == "" {
		return sess, nil
	}
	return s.writeSession(ctx, sess, ended(sess, status, now))
}

// sessionAnswer is the answer (200) that shows a stored session at now:
// its status (expired once overdue, whether or not that is stored yet),
// its action while one is required, and with withResult its result once
// final.
func sessionAnswer(rt *Runtime, sess store.AuthSession, now time.Time, withResult bool) (Answer, error) {
	return renderSession(rt, sess, now, withResult, statusOK)
}

// createdAnswer is the answer (201) to the create request of sess.
func createdAnswer(sess store.AuthSession) (Answer, error) {
	return renderSession(nil, sess, sess.CreatedAt, false, statusCreated)
}

func renderSession(rt *Runtime, sess store.AuthSession, now time.Time, withResult bool, code int) (Answer, error) {
	status := threeds.Status(sess.Status)
	if s := overdue(sess, now); s == threeds.StatusExpired {
		status = s
	}
	var (
		action *threeds.Action
		result *threeds.Result
		err    error
	)
	if status == threeds.StatusActionRequired {
		if action, err = decodeAction(sess.Action); err != nil {
			return Answer{}, err
		}
	}
	if withResult && status.Final() {
		if result, err = openResult(rt, sess); err != nil {
			return Answer{}, err
		}
	}
	body, err := acp.RenderAuthSession(sess.ID, status, action, result)
	if err != nil {
		return Answer{}, fmt.Errorf("gateway: render session %s: %w", sess.ID, err)
	}
	return Answer{Status: code, Body: body}, nil
}

// countEnded counts a session that has just become final.
func (s *Service) countEnded(sess store.AuthSession) {
	if threeds.Status(sess.Status).Final() {
		s.metrics.AuthSessions.WithLabelValues(sess.Provider, sess.Status).Inc()
	}
}

// logAuth logs a provider call that failed or broke the contract, with
// the failure's class only: a provider's error text is not trusted to be
// free of card data.
func (s *Service) logAuth(ctx context.Context, sess store.AuthSession, step string, err error) {
	s.log.LogAttrs(ctx, slog.LevelWarn, "authentication provider call failed",
		slog.String("request_id", RequestID(ctx)), slog.String("session", sess.ID),
		slog.String("provider", sess.Provider), slog.String("step", step), slog.String("error", authErrorText(err)))
}

// authErrorText names a provider call's failure without its text.
func authErrorText(err error) string {
	switch {
	case errors.Is(err, errBadStep):
		return err.Error() // acpgw's own words, no provider text
	case errors.Is(err, threeds.ErrUnavailable):
		return "unavailable"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return "error"
}

// authenticator returns the threeds.Provider of the processor name, when
// it has one (providers.AuthenticatorOf looks through wrappers).
func (rt *Runtime) authenticator(name string) (threeds.Provider, bool) {
	p, ok := rt.Providers.Get(name)
	if !ok {
		return nil, false
	}
	return providers.AuthenticatorOf(p)
}

// authSessionTTL is how long a session may take to end.
func (rt *Runtime) authSessionTTL() time.Duration {
	return positiveOr(rt.Config.Authentication.SessionTTL, config.DefaultAuthSessionTTL)
}

// authStepTimeout bounds each provider call of a session.
func (rt *Runtime) authStepTimeout() time.Duration {
	return positiveOr(rt.Config.Authentication.StepTimeout, config.DefaultAuthStepTimeout)
}
