package gateway

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"acpgw/acp"
	"acpgw/payment"
	"acpgw/providers"
	"acpgw/store"
	"acpgw/threeds"
)

// testCryptogramB64 is the fake provider's CAVV: base64 of 20 bytes.
const testCryptogramB64 = "AQIDBAUGBwgJCgsMDQ4PEBESExQ="

// fakeAuth is a threeds.Provider whose answers the test sets. It records
// every call with the session it was given (card included).
type fakeAuth struct {
	mu    sync.Mutex
	calls map[string]int
	seen  []threeds.Session

	create       func(ctx context.Context, s *threeds.Session) (threeds.Step, error)
	authenticate func(ctx context.Context, s *threeds.Session) (threeds.Step, error)
	result       func(ctx context.Context, s *threeds.Session) (threeds.Step, error)
}

var _ threeds.Provider = (*fakeAuth)(nil)

// newFakeAuth answers create with a fingerprint, authenticate with a
// frictionless authenticated result, result with the same.
func newFakeAuth() *fakeAuth {
	return &fakeAuth{
		calls: map[string]int{},
		create: func(context.Context, *threeds.Session) (threeds.Step, error) {
			return fingerprintStep(), nil
		},
		authenticate: func(context.Context, *threeds.Session) (threeds.Step, error) {
			return authenticatedStep(), nil
		},
		result: func(context.Context, *threeds.Session) (threeds.Step, error) {
			return authenticatedStep(), nil
		},
	}
}

func fingerprintStep() threeds.Step {
	return threeds.Step{Status: threeds.StatusActionRequired, State: []byte("srv-1"), Action: &threeds.Action{
		Fingerprint: &threeds.Fingerprint{MethodURL: "https://acs.example/method", ServerTransID: "srv-1"}}}
}

func challengeStep() threeds.Step {
	return threeds.Step{Status: threeds.StatusActionRequired, Action: &threeds.Action{Challenge: &threeds.Challenge{
		ACSURL: "https://acs.example/challenge", ACSTransID: "acs-1", ServerTransID: "srv-1", MessageVersion: "2.2.0"}}}
}

func authenticatedStep() threeds.Step {
	return threeds.Step{Status: threeds.StatusAuthenticated, Result: &threeds.Result{
		TransStatus: "Y", ECI: "05", Cryptogram: testCryptogramB64, TransactionID: "ds-1", ServerTransID: "srv-1",
		Version: "2.2.0"}}
}

func (f *fakeAuth) record(step string, s *threeds.Session) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[step]++
	f.seen = append(f.seen, *s)
}

func (f *fakeAuth) count(step string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[step]
}

func (f *fakeAuth) last() threeds.Session {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.seen[len(f.seen)-1]
}

func (f *fakeAuth) Create(ctx context.Context, s *threeds.Session) (threeds.Step, error) {
	f.record(stepCreate, s)
	return f.create(ctx, s)
}

func (f *fakeAuth) Authenticate(ctx context.Context, s *threeds.Session, fp threeds.FingerprintCompletion) (threeds.Step, error) {
	f.record(stepAuthenticate, s)
	return f.authenticate(ctx, s)
}

func (f *fakeAuth) Result(ctx context.Context, s *threeds.Session) (threeds.Step, error) {
	f.record(stepResult, s)
	return f.result(ctx, s)
}

// authProcessor is a processor that authenticates with a fakeAuth.
type authProcessor struct {
	providers.Provider
	auth threeds.Provider
}

func (p authProcessor) Authenticator() threeds.Provider { return p.auth }

// authRig is a rig whose merchant acme authenticates with f through its
// processor mock.
func authRig(t *testing.T, f *fakeAuth, o rigOpts) *rig {
	t.Helper()
	o.acmeAuthentication = "{provider: mock}"
	o.wrap = func(p providers.Provider) providers.Provider { return authProcessor{Provider: p, auth: f} }
	return newRig(t, o)
}

func testBrowser() *threeds.Browser {
	return &threeds.Browser{AcceptHeader: "text/html", IPAddress: "192.0.2.1", Language: "en-US", UserAgent: "Mozilla/5.0"}
}

// createInput is agent1's create request for acme with card; with channel,
// it carries the browser and the challenge_notification_url.
func createInput(card string, channel bool) AuthCreateInput {
	req := acp.AuthCreateRequest{
		MerchantID: "acme", Card: payment.Card{NumberType: "fpan", Number: card, ExpMonth: 12, ExpYear: 2034, Name: "Jane Doe"},
		Amount: payment.Money{Amount: 1000, Currency: "eur"}, CheckoutSessionID: "cs_1",
	}
	if channel {
		req.Browser, req.ChallengeNotificationURL = testBrowser(), "https://agent.example/3ds/challenge"
	}
	return AuthCreateInput{AgentID: "agent1", Request: req}
}

// authKey is an Idempotency for agent1's call to path with body, hashed
// (a request hash never holds a card number).
func (r *rig) authKey(path string, body any) Idempotency {
	raw, err := json.Marshal(body)
	if err != nil {
		r.t.Fatal(err)
	}
	sum := sha256.Sum256(raw)
	return Idempotency{Scope: "agent:agent1 POST " + path, Key: fmt.Sprintf("key-%d", r.seq.Add(1)),
		RequestHash: hex.EncodeToString(sum[:]), APIVersion: acp.AuthenticationAPIVersion}
}

// sessionOf decodes an answer's session object.
func sessionOf(t *testing.T, ans Answer) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(ans.Body, &m); err != nil {
		t.Fatalf("answer %d %q: %v", ans.Status, ans.Body, err)
	}
	return m
}

// mustCreate creates a session and returns its id.
func (r *rig) mustCreate(in AuthCreateInput) (string, map[string]any) {
	r.t.Helper()
	ans, err := r.svc.CreateAuthSession(r.t.Context(), in)
	if err != nil {
		r.t.Fatalf("CreateAuthSession: %v", err)
	}
	if ans.Status != http.StatusCreated {
		r.t.Fatalf("create answered %d %s", ans.Status, ans.Body)
	}
	m := sessionOf(r.t, ans)
	id, _ := m["authentication_session_id"].(string)
	if !strings.HasPrefix(id, "as_") {
		r.t.Fatalf("session id %q", id)
	}
	return id, m
}

func (r *rig) authenticate(id string, req acp.AuthenticateRequest) (Answer, error) {
	return r.svc.Authenticate(r.t.Context(), AuthenticateInput{AgentID: "agent1", SessionID: id, Request: req})
}

func (r *rig) mustAuthenticate(id string, req acp.AuthenticateRequest) map[string]any {
	r.t.Helper()
	ans, err := r.authenticate(id, req)
	if err != nil || ans.Status != http.StatusOK {
		r.t.Fatalf("Authenticate: %d %s, %v", ans.Status, ans.Body, err)
	}
	return sessionOf(r.t, ans)
}

func (r *rig) mustGetSession(id string) map[string]any {
	r.t.Helper()
	ans, err := r.svc.GetAuthSession(r.t.Context(), AuthGetInput{AgentID: "agent1", SessionID: id})
	if err != nil || ans.Status != http.StatusOK {
		r.t.Fatalf("GetAuthSession: %d %s, %v", ans.Status, ans.Body, err)
	}
	return sessionOf(r.t, ans)
}

// row reads a session as stored.
func (r *rig) row(id string) store.AuthSession {
	r.t.Helper()
	s, err := r.st.GetAuthSession(context.Background(), id)
	if err != nil {
		r.t.Fatalf("GetAuthSession %s: %v", id, err)
	}
	return s
}

// ended counts the sessions of the provider mock that ended with status.
func (r *rig) ended(status threeds.Status) float64 { return testutilEnded(r, "mock", status) }

// testutilEnded counts the sessions of provider that ended with status.
func testutilEnded(r *rig, provider string, status threeds.Status) float64 {
	return testutil.ToFloat64(r.svc.metrics.AuthSessions.WithLabelValues(provider, string(status)))
}

// wantStatus fails unless err is an *acp.Error with status code.
func wantStatus(t *testing.T, what string, err error, code int) *acp.Error {
	t.Helper()
	var ae *acp.Error
	if !errors.As(err, &ae) || ae.Status != code {
		t.Fatalf("%s: %v, want an error with status %d", what, err, code)
	}
	return ae
}

// noSecretsAtRest fails if any file of the rig's SQLite database holds one
// of the needles.
func (r *rig) noSecretsAtRest(needles ...string) {
	r.t.Helper()
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		r.t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(r.dir, e.Name()))
		if err != nil {
			r.t.Fatal(err)
		}
		for _, n := range needles {
			if strings.Contains(string(b), n) {
				r.t.Fatalf("%s holds %.6s…", e.Name(), n)
			}
		}
	}
}

// TestAuthFrictionless: create (fingerprint), authenticate (frictionless,
// authenticated), get (the result with its cryptogram). The provider sees
// the card and the create request's details; the card is erased when the
// session ends, and neither it nor the cryptogram is in the database in
// clear.
func TestAuthFrictionless(t *testing.T) {
	t.Parallel()
	f := newFakeAuth()
	r := authRig(t, f, rigOpts{})
	const card = "4242424242424242"
	id, created := r.mustCreate(createInput(card, true))
	action, _ := created["action"].(map[string]any)
	if created["status"] != "action_required" || action["type"] != "fingerprint" {
		t.Fatalf("create answered %v", created)
	}
	if got := f.last(); got.Card.Number != card || got.ID != id || got.Amount != (payment.Money{Amount: 1000, Currency: "eur"}) ||
		got.Browser == nil || got.ChallengeNotificationURL == "" || got.MerchantID != "acme" {
		t.Fatalf("the provider's create got %+v", got)
	}
	if row := r.row(id); row.Credential == nil || row.Status != "action_required" || row.Provider != "mock" || row.AgentID != "agent1" {
		t.Fatalf("row after create: %+v", row)
	}

	auth := r.mustAuthenticate(id, acp.AuthenticateRequest{Fingerprint: threeds.FingerprintCompleted})
	if auth["status"] != "authenticated" || auth["action"] != nil || auth["authentication_result"] != nil {
		t.Fatalf("authenticate answered %v", auth)
	}
	if got := f.last(); got.Card.Number != card || string(got.State) != "srv-1" || got.Status != threeds.StatusActionRequired {
		t.Fatalf("the provider's authenticate got %+v", got)
	}
	row := r.row(id)
	if row.Credential != nil || row.Status != "authenticated" || row.Result == nil || row.Step != "" {
		t.Fatalf("row after authenticate: %+v", row)
	}

	got := r.mustGetSession(id)
	res, _ := got["authentication_result"].(map[string]any)
	if got["status"] != "authenticated" || res["three_ds_cryptogram"] != testCryptogramB64 || res["trans_status"] != "Y" ||
		res["electronic_commerce_indicator"] != "05" || res["transaction_id"] != "ds-1" {
		t.Fatalf("get answered %v", got)
	}
	if f.count(stepResult) != 0 {
		t.Fatal("a final session was sent to the provider's Result")
	}
	if n := r.ended(threeds.StatusAuthenticated); n != 1 {
		t.Fatalf("sessions ended authenticated: %v, want 1", n)
	}
	if n := testutil.CollectAndCount(r.svc.metrics.AuthStepDuration); n != 2 {
		t.Fatalf("%d step duration series, want create and authenticate", n)
	}
	r.noSecretsAtRest(card, testCryptogramB64, "0123456789")
}

// TestAuthChallengeThenResult: authenticate answers a challenge; GET asks
// the provider until the challenge ends, stores the end, and then stops
// asking. The channel comes with authenticate, not create.
func TestAuthChallengeThenResult(t *testing.T) {
	t.Parallel()
	f := newFakeAuth()
	f.create = func(context.Context, *threeds.Session) (threeds.Step, error) {
		return threeds.Step{Status: threeds.StatusPending}, nil
	}
	f.authenticate = func(context.Context, *threeds.Session) (threeds.Step, error) { return challengeStep(), nil }
	var done sync.Mutex
	finished := false
	f.result = func(context.Context, *threeds.Session) (threeds.Step, error) {
		done.Lock()
		defer done.Unlock()
		if !finished {
			return challengeStep(), nil
		}
		return authenticatedStep(), nil
	}
	r := authRig(t, f, rigOpts{})
	id, created := r.mustCreate(createInput("4000000000003220", false))
	if created["status"] != "pending" || created["action"] != nil {
		t.Fatalf("create answered %v", created)
	}
	// Without the channel neither at create nor now, the AReq cannot go.
	_, err := r.authenticate(id, acp.AuthenticateRequest{Fingerprint: threeds.FingerprintUnavailable})
	if ae := wantStatus(t, "authenticate without a channel", err, http.StatusBadRequest); ae.Param != "$.channel" {
		t.Fatalf("param %q", ae.Param)
	}
	auth := r.mustAuthenticate(id, acp.AuthenticateRequest{Fingerprint: threeds.FingerprintUnavailable,
		Browser: testBrowser(), ChallengeNotificationURL: "https://agent.example/cb", CheckoutSessionID: "cs_9"})
	ch, _ := auth["action"].(map[string]any)
	if auth["status"] != "action_required" || ch["type"] != "challenge" {
		t.Fatalf("authenticate answered %v", auth)
	}
	if got := f.last(); got.Browser == nil || got.ChallengeNotificationURL != "https://agent.example/cb" || got.CheckoutSessionID != "cs_9" {
		t.Fatalf("the AReq went without the merged fields: %+v", got)
	}
	// A second authenticate is refused: the AReq was sent.
	_, err = r.authenticate(id, acp.AuthenticateRequest{Fingerprint: threeds.FingerprintCompleted})
	if ae := wantStatus(t, "a second authenticate", err, http.StatusConflict); ae.Code != acp.CodeDuplicateRequest {
		t.Fatalf("code %q", ae.Code)
	}

	if got := r.mustGetSession(id); got["status"] != "action_required" || got["authentication_result"] != nil {
		t.Fatalf("get during the challenge: %v", got)
	}
	if r.row(id).Credential == nil {
		t.Fatal("the card was erased before the session ended")
	}
	done.Lock()
	finished = true
	done.Unlock()
	got := r.mustGetSession(id)
	if res, _ := got["authentication_result"].(map[string]any); got["status"] != "authenticated" || res["three_ds_cryptogram"] != testCryptogramB64 {
		t.Fatalf("get after the challenge: %v", got)
	}
	r.mustGetSession(id)
	if n := f.count(stepResult); n != 2 {
		t.Fatalf("Result asked %d times, want 2 (the session is final after the second)", n)
	}
	if row := r.row(id); row.Credential != nil || row.Status != "authenticated" || row.CheckoutSessionID != "cs_9" {
		t.Fatalf("row: %+v", row)
	}
	if n := r.ended(threeds.StatusAuthenticated); n != 1 {
		t.Fatalf("sessions ended authenticated: %v, want 1", n)
	}
}

// TestAuthNotSupportedAtCreate: a card that is not enrolled ends the
// session at create; its card is never kept, and authenticate is refused.
func TestAuthNotSupportedAtCreate(t *testing.T) {
	t.Parallel()
	f := newFakeAuth()
	f.create = func(context.Context, *threeds.Session) (threeds.Step, error) {
		return threeds.Step{Status: threeds.StatusNotSupported}, nil
	}
	r := authRig(t, f, rigOpts{})
	id, created := r.mustCreate(createInput("4000000000000002", true))
	if created["status"] != "not_supported" || created["action"] != nil {
		t.Fatalf("create answered %v", created)
	}
	if row := r.row(id); row.Credential != nil || row.Status != "not_supported" {
		t.Fatalf("row: %+v", row)
	}
	_, err := r.authenticate(id, acp.AuthenticateRequest{Fingerprint: threeds.FingerprintUnavailable})
	wantStatus(t, "authenticate of an ended session", err, http.StatusConflict)
	if got := r.mustGetSession(id); got["status"] != "not_supported" || got["authentication_result"] != nil {
		t.Fatalf("get: %v", got)
	}
	if f.count(stepAuthenticate)+f.count(stepResult) != 0 || r.ended(threeds.StatusNotSupported) != 1 {
		t.Fatalf("calls %v, ended %v", f.calls, r.ended(threeds.StatusNotSupported))
	}
}

// TestAuthExpiry: a session not final by authentication.session_ttl is
// expired on access (authenticate answers 200 expired, as the RFC says) or
// by the sweep, its card erased, and never passed to the provider again.
func TestAuthExpiry(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)}
	f := newFakeAuth()
	f.authenticate = func(context.Context, *threeds.Session) (threeds.Step, error) { return challengeStep(), nil }
	r := authRig(t, f, rigOpts{now: clock.now, top: "authentication: {session_ttl: 5m}\n"})
	a, _ := r.mustCreate(createInput("4242424242424242", true))
	b, _ := r.mustCreate(createInput("4242424242424242", true))
	c, _ := r.mustCreate(createInput("4242424242424242", true))
	r.mustAuthenticate(c, acp.AuthenticateRequest{Fingerprint: threeds.FingerprintCompleted}) // c faces a challenge

	clock.add(4*time.Minute + 59*time.Second)
	if got := r.mustGetSession(a); got["status"] != "action_required" {
		t.Fatalf("before its expiry: %v", got)
	}
	clock.add(time.Second)
	idem := r.authKey("/delegate_authentication/"+a+"/authenticate", "Y")
	ans, err := r.svc.Authenticate(t.Context(), AuthenticateInput{AgentID: "agent1", SessionID: a,
		Request: acp.AuthenticateRequest{Fingerprint: threeds.FingerprintCompleted}, Idempotency: idem})
	if err != nil || ans.Status != http.StatusOK || sessionOf(t, ans)["status"] != "expired" {
		t.Fatalf("authenticate of an expired session: %d %s, %v", ans.Status, ans.Body, err)
	}
	if rec, err := r.record(idem); err != nil || rec.State != store.IdemDone || string(rec.Body) != string(ans.Body) {
		t.Fatalf("the expired answer is not stored under its key: %+v, %v", rec, err)
	}
	if got := r.mustGetSession(c); got["status"] != "expired" || got["action"] != nil {
		t.Fatalf("get of an expired challenge: %v", got)
	}
	for _, id := range []string{a, c} {
		if row := r.row(id); row.Status != "expired" || row.Credential != nil || row.Action != nil {
			t.Fatalf("row %s: %+v", id, row)
		}
	}
	if f.count(stepAuthenticate) != 1 || f.count(stepResult) != 0 {
		t.Fatalf("provider calls %v: an expired session was sent on", f.calls)
	}
	// b was never touched again: the sweep ends it.
	if n, err := r.svc.SweepAuthSessions(t.Context()); err != nil || n != 1 {
		t.Fatalf("sweep: %d, %v; want 1", n, err)
	}
	if row := r.row(b); row.Status != "expired" || row.Credential != nil {
		t.Fatalf("swept row: %+v", row)
	}
	if n := r.ended(threeds.StatusExpired); n != 3 {
		t.Fatalf("sessions ended expired: %v, want 3", n)
	}
}

// barrierStore holds the first n session reads until all n arrived, so
// that n requests read the same version of a session.
type barrierStore struct {
	store.Store
	mu      sync.Mutex
	n       int
	arrived int
	open    chan struct{}
}

func (b *barrierStore) GetAuthSession(ctx context.Context, id string) (store.AuthSession, error) {
	b.mu.Lock()
	b.arrived++
	if b.arrived == b.n {
		close(b.open)
	}
	open := b.open
	b.mu.Unlock()
	<-open
	return b.Store.GetAuthSession(ctx, id)
}

// TestAuthConcurrentAuthenticate: two authenticate calls that read the same
// session at once send one AReq; the other is refused with 409 before any
// provider call. Then many calls at once while the AReq runs: still one.
func TestAuthConcurrentAuthenticate(t *testing.T) {
	t.Parallel()
	eachStore(t, testConcurrentAuthenticate)
}

func testConcurrentAuthenticate(t *testing.T, postgres bool) {
	f := newFakeAuth()
	entered, release := make(chan struct{}, 16), make(chan struct{})
	f.authenticate = func(context.Context, *threeds.Session) (threeds.Step, error) {
		entered <- struct{}{}
		<-release
		return authenticatedStep(), nil
	}
	barrier := &barrierStore{n: 2, open: make(chan struct{})}
	r := authRig(t, f, rigOpts{postgres: postgres, store: func(s store.Store) store.Store {
		barrier.Store = s
		return barrier
	}})
	id, _ := r.mustCreate(createInput("4242424242424242", true))

	type result struct {
		ans Answer
		err error
	}
	results := make(chan result, 10)
	call := func() {
		ans, err := r.authenticate(id, acp.AuthenticateRequest{Fingerprint: threeds.FingerprintCompleted})
		results <- result{ans, err}
	}
	for range 2 {
		go call()
	}
	// Of the two, one claims the session and calls the provider (entered),
	// the other is answered; two entries are two AReqs.
	var loser result
	for range 2 {
		select {
		case loser = <-results:
		case <-entered:
			if f.count(stepAuthenticate) > 1 {
				close(release)
				t.Fatal("both concurrent calls sent the AReq")
			}
		}
	}
	wantStatus(t, "the second of two concurrent calls", loser.err, http.StatusConflict)
	// More calls while the AReq runs are refused too.
	for range 5 {
		go call()
	}
	for range 5 {
		wantStatus(t, "a call while the AReq runs", (<-results).err, http.StatusConflict)
	}
	close(release)
	winner := <-results
	if winner.err != nil || sessionOf(t, winner.ans)["status"] != "authenticated" {
		t.Fatalf("the winner: %s, %v", winner.ans.Body, winner.err)
	}
	if n := f.count(stepAuthenticate); n != 1 {
		t.Fatalf("%d AReqs sent, want 1", n)
	}
}

// TestAuthIdempotentCreate: a create replayed with its key and body gets
// the first answer without a second provider call; the key with another
// body is a conflict.
func TestAuthIdempotentCreate(t *testing.T) {
	t.Parallel()
	f := newFakeAuth()
	r := authRig(t, f, rigOpts{})
	in := createInput("4242424242424242", true)
	in.Idempotency = r.authKey("/delegate_authentication", in.Request)
	first, err := r.svc.CreateAuthSession(t.Context(), in)
	if err != nil || first.Status != http.StatusCreated {
		t.Fatalf("create: %d %s, %v", first.Status, first.Body, err)
	}
	again, err := r.svc.CreateAuthSession(t.Context(), in)
	if err != nil || !again.Replayed || again.Status != first.Status || string(again.Body) != string(first.Body) {
		t.Fatalf("replay: %d %s replayed=%v, %v", again.Status, again.Body, again.Replayed, err)
	}
	if n := f.count(stepCreate); n != 1 {
		t.Fatalf("%d provider creates, want 1", n)
	}
	other := createInput("4242424242424242", true)
	other.Request.Amount.Amount = 2000
	other.Idempotency = in.Idempotency
	other.Idempotency.RequestHash = r.authKey("/delegate_authentication", other.Request).RequestHash
	if _, err := r.svc.CreateAuthSession(t.Context(), other); !errors.Is(err, ErrIdempotencyConflict) {
		t.Fatalf("the key with another body: %v, want ErrIdempotencyConflict", err)
	}
	if row := r.row(sessionOf(t, first)["authentication_session_id"].(string)); row.IdempotencyKey != in.Idempotency.Key {
		t.Fatalf("row's key %q", row.IdempotencyKey)
	}
}

// TestAuthOtherAgentNotFound: another agent's session, and one that does
// not exist, are 404 alike on every call.
func TestAuthOtherAgentNotFound(t *testing.T) {
	t.Parallel()
	f := newFakeAuth()
	r := authRig(t, f, rigOpts{})
	id, _ := r.mustCreate(createInput("4242424242424242", true))
	for _, sid := range []string{id, "as_nope"} {
		_, err := r.svc.GetAuthSession(t.Context(), AuthGetInput{AgentID: "agent2", SessionID: sid})
		wantStatus(t, "get "+sid+" by agent2", err, http.StatusNotFound)
		_, err = r.svc.Authenticate(t.Context(), AuthenticateInput{AgentID: "agent2", SessionID: sid,
			Request: acp.AuthenticateRequest{Fingerprint: threeds.FingerprintCompleted}})
		wantStatus(t, "authenticate "+sid+" by agent2", err, http.StatusNotFound)
	}
	_, err := r.svc.GetAuthSession(t.Context(), AuthGetInput{AgentID: "agent1", SessionID: "as_nope"})
	wantStatus(t, "get of an unknown session", err, http.StatusNotFound)
	if f.count(stepAuthenticate) != 0 || r.row(id).Status != "action_required" {
		t.Fatal("another agent's call reached the session")
	}
}

// TestAuthUnavailable: a provider that cannot answer (threeds.ErrUnavailable,
// a timeout) is 503 at every step, and changes nothing: no session at
// create, the session as it was at authenticate and get, the key free for
// the same request again.
func TestAuthUnavailable(t *testing.T) {
	t.Parallel()
	f := newFakeAuth()
	down := true
	var mu sync.Mutex
	isDown := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return down
	}
	unavailable := fmt.Errorf("dial acs: %w", threeds.ErrUnavailable)
	f.create = func(context.Context, *threeds.Session) (threeds.Step, error) {
		if isDown() {
			return threeds.Step{}, unavailable
		}
		return fingerprintStep(), nil
	}
	var deadline time.Duration
	f.authenticate = func(ctx context.Context, _ *threeds.Session) (threeds.Step, error) {
		if isDown() {
			dl, ok := ctx.Deadline()
			mu.Lock()
			deadline = time.Until(dl)
			mu.Unlock()
			if !ok {
				return threeds.Step{}, errors.New("no deadline")
			}
			return threeds.Step{}, context.DeadlineExceeded
		}
		return challengeStep(), nil
	}
	f.result = func(context.Context, *threeds.Session) (threeds.Step, error) {
		if isDown() {
			return threeds.Step{}, unavailable
		}
		return authenticatedStep(), nil
	}
	r := authRig(t, f, rigOpts{top: "authentication: {step_timeout: 7s}\n"})

	in := createInput("4242424242424242", true)
	in.Idempotency = r.authKey("/delegate_authentication", in.Request)
	_, err := r.svc.CreateAuthSession(t.Context(), in)
	wantStatus(t, "create while the provider is down", err, http.StatusServiceUnavailable)
	if _, err := r.record(in.Idempotency); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a 503 left its key: %v", err)
	}
	mu.Lock()
	down = false
	mu.Unlock()
	ans, err := r.svc.CreateAuthSession(t.Context(), in)
	if err != nil || ans.Status != http.StatusCreated || ans.Replayed {
		t.Fatalf("the same create once the provider is back: %d %s, %v", ans.Status, ans.Body, err)
	}
	id := sessionOf(t, ans)["authentication_session_id"].(string)

	mu.Lock()
	down = true
	mu.Unlock()
	before := r.row(id)
	areq := AuthenticateInput{AgentID: "agent1", SessionID: id, Request: acp.AuthenticateRequest{Fingerprint: threeds.FingerprintCompleted}}
	areq.Idempotency = r.authKey("/delegate_authentication/"+id+"/authenticate", "Y")
	_, err = r.svc.Authenticate(t.Context(), areq)
	if ae := wantStatus(t, "authenticate while the provider is down", err, http.StatusServiceUnavailable); strings.Contains(ae.Message, "4242") {
		t.Fatalf("message %q", ae.Message)
	}
	mu.Lock()
	if deadline <= 0 || deadline > 7*time.Second {
		t.Errorf("the AReq's deadline was %s away, want within step_timeout 7s", deadline)
	}
	mu.Unlock()
	sameSession(t, r.row(id), before)
	if _, err := r.record(areq.Idempotency); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a 503 left its key: %v", err)
	}

	mu.Lock()
	down = false
	mu.Unlock()
	if ans, err := r.svc.Authenticate(t.Context(), areq); err != nil || sessionOf(t, ans)["status"] != "action_required" {
		t.Fatalf("the same authenticate once the provider is back: %s, %v", ans.Body, err)
	}
	mu.Lock()
	down = true
	mu.Unlock()
	before = r.row(id)
	_, err = r.svc.GetAuthSession(t.Context(), AuthGetInput{AgentID: "agent1", SessionID: id})
	wantStatus(t, "get while the provider is down", err, http.StatusServiceUnavailable)
	if after := r.row(id); after.Version != before.Version {
		t.Fatalf("get changed the session: version %d -> %d", before.Version, after.Version)
	}
	if r.ended(threeds.StatusUnavailable) != 0 {
		t.Fatal("an unavailable provider ended a session")
	}
}

// sameSession fails unless after is before in everything a 503 must not
// change (its version may have moved on).
func sameSession(t *testing.T, after, before store.AuthSession) {
	t.Helper()
	after.Version, before.Version = 0, 0
	a, _ := json.Marshal(after)
	b, _ := json.Marshal(before)
	if string(a) != string(b) {
		t.Fatalf("session changed:\n%s\nwas\n%s", a, b)
	}
}

// TestAuthProviderFailure: a provider error that is not "try later", and
// an answer that breaks the contract, end the session unavailable, with
// no provider text in the answer.
func TestAuthProviderFailure(t *testing.T) {
	t.Parallel()
	f := newFakeAuth()
	f.create = func(context.Context, *threeds.Session) (threeds.Step, error) {
		return threeds.Step{}, errors.New("card 4242424242424242 refused by the directory server")
	}
	f.authenticate = func(context.Context, *threeds.Session) (threeds.Step, error) {
		return threeds.Step{Status: threeds.StatusPending}, nil // not an answer to the AReq
	}
	r := authRig(t, f, rigOpts{})
	id, created := r.mustCreate(createInput("4242424242424242", true))
	if created["status"] != "unavailable" || r.row(id).Credential != nil {
		t.Fatalf("create after a provider error: %v", created)
	}
	f.create = func(context.Context, *threeds.Session) (threeds.Step, error) { return fingerprintStep(), nil }
	id, _ = r.mustCreate(createInput("4242424242424242", true))
	auth := r.mustAuthenticate(id, acp.AuthenticateRequest{Fingerprint: threeds.FingerprintCompleted})
	if auth["status"] != "unavailable" || r.row(id).Credential != nil {
		t.Fatalf("authenticate after a broken answer: %v", auth)
	}
	if n := r.ended(threeds.StatusUnavailable); n != 2 {
		t.Fatalf("sessions ended unavailable: %v, want 2", n)
	}
}

// TestAuthAbandonedClaim: an authenticate whose claim ran out without an
// answer (its process died during the AReq) ends the session unavailable:
// its AReq's outcome is unknown and is never sent twice.
func TestAuthAbandonedClaim(t *testing.T) {
	t.Parallel()
	clock := &fakeClock{t: time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)}
	f := newFakeAuth()
	r := authRig(t, f, rigOpts{now: clock.now})
	id, _ := r.mustCreate(createInput("4242424242424242", true))
	row := r.row(id)
	until := clock.now().Add(30 * time.Second)
	row.Step, row.StepUntil = stepAuthenticate, &until
	if err := r.st.Tx(t.Context(), func(tx store.Tx) error { return tx.UpdateAuthSession(t.Context(), row) }); err != nil {
		t.Fatal(err)
	}
	_, err := r.authenticate(id, acp.AuthenticateRequest{Fingerprint: threeds.FingerprintCompleted})
	wantStatus(t, "authenticate while another runs", err, http.StatusConflict)
	clock.add(31 * time.Second)
	if got := r.mustGetSession(id); got["status"] != "unavailable" {
		t.Fatalf("get after the claim ran out: %v", got)
	}
	if row := r.row(id); row.Credential != nil || row.Step != "" {
		t.Fatalf("row: %+v", row)
	}
	if f.count(stepAuthenticate) != 0 {
		t.Fatal("the AReq was sent")
	}
}

// TestAuthMerchantRules: a merchant must be served and offer
// authentication; the amount is bounded as for payments.
func TestAuthMerchantRules(t *testing.T) {
	t.Parallel()
	f := newFakeAuth()
	r := authRig(t, f, rigOpts{})
	in := createInput("4242424242424242", true)
	in.Request.MerchantID = "nobody"
	_, err := r.svc.CreateAuthSession(t.Context(), in)
	wantStatus(t, "an unknown merchant", err, http.StatusUnprocessableEntity)
	in.Request.MerchantID = "other" // served, without authentication:
	_, err = r.svc.CreateAuthSession(t.Context(), in)
	if ae := wantStatus(t, "a merchant without authentication", err, http.StatusUnprocessableEntity); !errors.Is(err, ErrNoAuthentication) || ae.Param != "$.merchant_id" {
		t.Fatalf("%v", err)
	}
	in.Request.MerchantID = "acme"
	in.Request.Amount.Amount = payment.DefaultMaxAmount + 1
	_, err = r.svc.CreateAuthSession(t.Context(), in)
	wantStatus(t, "an amount above the maximum", err, http.StatusBadRequest)
	if f.count(stepCreate) != 0 {
		t.Fatal("a refused create reached the provider")
	}
	// A processor that cannot authenticate (no Authenticator) is refused
	// the same way.
	plain := newRig(t, rigOpts{acmeAuthentication: "{provider: mock}",
		wrap: func(p providers.Provider) providers.Provider { return plainProcessor{p} }})
	_, err = plain.svc.CreateAuthSession(t.Context(), createInput("4242424242424242", true))
	if !errors.Is(err, ErrNoAuthentication) {
		t.Fatalf("a processor without an authenticator: %v", err)
	}
}

// plainProcessor is a processor with none of the optional interfaces of
// the one it wraps: it cannot authenticate.
type plainProcessor struct{ providers.Provider }

// TestAuthWithMock runs sessions through the mock processor's own 3-D
// Secure server: frictionless after the fingerprint, no 3DS Method
// (pending, then authenticate with U), not enrolled.
func TestAuthWithMock(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOpts{acmeAuthentication: "{provider: mock}"})
	id, created := r.mustCreate(createInput("4242424242424242", true))
	if created["status"] != "action_required" {
		t.Fatalf("create: %v", created)
	}
	if got := r.mustAuthenticate(id, acp.AuthenticateRequest{Fingerprint: threeds.FingerprintCompleted}); got["status"] != "authenticated" {
		t.Fatalf("authenticate: %v", got)
	}
	got := r.mustGetSession(id)
	res, _ := got["authentication_result"].(map[string]any)
	crypto, _ := res["three_ds_cryptogram"].(string)
	if got["status"] != "authenticated" || res["trans_status"] != "Y" || crypto == "" {
		t.Fatalf("get: %v", got)
	}
	id, created = r.mustCreate(createInput("4000000000003006", true))
	if created["status"] != "pending" {
		t.Fatalf("create without a 3DS Method: %v", created)
	}
	if got := r.mustAuthenticate(id, acp.AuthenticateRequest{Fingerprint: threeds.FingerprintUnavailable}); got["status"] != "authenticated" {
		t.Fatalf("authenticate with U: %v", got)
	}
	if _, created := r.mustCreate(createInput("4000000000003014", true)); created["status"] != "not_supported" {
		t.Fatalf("not enrolled: %v", created)
	}
	r.noSecretsAtRest("4242424242424242", "4000000000003006", crypto)
}

// TestAuthKeyPurgedDuringAuthenticate: the request's key record is purged
// while its AReq runs (a purge with a clock far ahead). Storing the answer
// under the key then finds no record, which is no reason to lose the
// session's result: the session is stored authenticated and the request
// answered, on both stores (PostgreSQL reports the missing record only
// when the transaction ends: store.Tx).
func TestAuthKeyPurgedDuringAuthenticate(t *testing.T) {
	t.Parallel()
	eachStore(t, func(t *testing.T, pg bool) {
		f := newFakeAuth()
		r := authRig(t, f, rigOpts{postgres: pg})
		purged := int64(-1)
		f.authenticate = func(ctx context.Context, _ *threeds.Session) (threeds.Step, error) {
			n, err := r.st.PurgeIdempotency(ctx, time.Now().Add(100*365*24*time.Hour), 1000)
			if err != nil {
				return threeds.Step{}, err
			}
			purged = n
			return authenticatedStep(), nil
		}
		id, _ := r.mustCreate(createInput("4242424242424242", true))
		req := acp.AuthenticateRequest{Fingerprint: threeds.FingerprintCompleted}
		in := AuthenticateInput{AgentID: "agent1", SessionID: id, Request: req,
			Idempotency: r.authKey("/delegate_authentication/"+id+"/authenticate", req)}
		ans, err := r.svc.Authenticate(t.Context(), in)
		if err != nil || ans.Status != http.StatusOK {
			t.Fatalf("Authenticate: %d %s, %v", ans.Status, ans.Body, err)
		}
		if purged < 1 {
			t.Fatalf("the purge during the AReq removed %d records, want the request's key among them", purged)
		}
		if got := sessionOf(t, ans)["status"]; got != "authenticated" {
			t.Fatalf("answer: %s", ans.Body)
		}
		if row := r.row(id); row.Status != string(threeds.StatusAuthenticated) || row.Credential != nil {
			t.Fatalf("stored session: status %q, card erased %v", row.Status, row.Credential == nil)
		}
		if _, err := r.st.GetIdempotency(t.Context(), in.Idempotency.Scope, in.Idempotency.Key); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("key record: %v, want it gone", err)
		}
	})
}
