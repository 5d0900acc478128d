package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"acpgw/acp/acpspec"
	"acpgw/api"
	"acpgw/providers"
	"acpgw/threeds"
)

// Test cards of the scripted provider below.
const (
	cardFrictionless = "4242424242424242"
	cardChallenge    = "4000000000003220"
	cardNotEnrolled  = "4000000000000002"
	cardProviderDown = "4000000000000119"
	authCryptogram   = "AQIDBAUGBwgJCgsMDQ4PEBESExQ="
)

// scriptedAuth is a threeds.Provider that behaves by card number:
// cardFrictionless is authenticated after its fingerprint, cardChallenge
// goes through a challenge that ends when the test says so,
// cardNotEnrolled is not_supported, cardProviderDown cannot be reached.
type scriptedAuth struct {
	mu       sync.Mutex
	finished map[string]bool
	calls    map[string]int
}

func newScriptedAuth() *scriptedAuth {
	return &scriptedAuth{finished: map[string]bool{}, calls: map[string]int{}}
}

func (a *scriptedAuth) count(step string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls[step]++
}

func (a *scriptedAuth) n(step string) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.calls[step]
}

func (a *scriptedAuth) finish(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.finished[id] = true
}

func (a *scriptedAuth) Create(_ context.Context, s *threeds.Session) (threeds.Step, error) {
	a.count("create")
	switch s.Card.Number {
	case cardNotEnrolled:
		return threeds.Step{Status: threeds.StatusNotSupported}, nil
	case cardProviderDown:
		return threeds.Step{}, fmt.Errorf("connect: %w", threeds.ErrUnavailable)
	}
	return threeds.Step{Status: threeds.StatusActionRequired, Action: &threeds.Action{
		Fingerprint: &threeds.Fingerprint{MethodURL: "https://acs.example/method", ServerTransID: "srv-1"}}}, nil
}

func (a *scriptedAuth) Authenticate(_ context.Context, s *threeds.Session, _ threeds.FingerprintCompletion) (threeds.Step, error) {
	a.count("authenticate")
	if s.Card.Number == cardChallenge {
		return challengeStep(), nil
	}
	return authenticatedStep(), nil
}

func (a *scriptedAuth) Result(_ context.Context, s *threeds.Session) (threeds.Step, error) {
	a.count("result")
	a.mu.Lock()
	done := a.finished[s.ID]
	a.mu.Unlock()
	if done {
		return authenticatedStep(), nil
	}
	return challengeStep(), nil
}

func challengeStep() threeds.Step {
	return threeds.Step{Status: threeds.StatusActionRequired, Action: &threeds.Action{Challenge: &threeds.Challenge{
		ACSURL: "https://acs.example/challenge", ACSTransID: "acs-1", ServerTransID: "srv-1", MessageVersion: "2.2.0"}}}
}

func authenticatedStep() threeds.Step {
	return threeds.Step{Status: threeds.StatusAuthenticated, Result: &threeds.Result{TransStatus: "Y", ECI: "05",
		Cryptogram: authCryptogram, TransactionID: "ds-1", ServerTransID: "srv-1", Version: "2.2.0"}}
}

// authenticating is a processor that authenticates with a scriptedAuth.
type authenticating struct {
	providers.Provider
	auth threeds.Provider
}

func (p authenticating) Authenticator() threeds.Provider { return p.auth }

// authHarness is a harness whose merchant acme authenticates with a
// scriptedAuth through its processor mock; other has no authentication.
func authHarness(t *testing.T, o harnessOpts) (*harness, *scriptedAuth) {
	t.Helper()
	a := newScriptedAuth()
	o.acmeExtra += ", authentication: {provider: mock}"
	o.wrap = func(p providers.Provider) providers.Provider { return authenticating{Provider: p, auth: a} }
	return newHarness(t, o), a
}

// authBody is a create request for acme with card; with channel, it
// carries the browser and the challenge_notification_url.
func authBody(card, merchant string, channel bool) map[string]any {
	b := map[string]any{
		"merchant_id": merchant,
		"payment_method": map[string]any{"type": "card", "number": card, "exp_month": "12",
			"exp_year": fmt.Sprint(time.Now().Year() + 3), "name": "Jane Doe"},
		"amount":              map[string]any{"value": 1000, "currency": "EUR"},
		"checkout_session_id": "cs_1",
	}
	if channel {
		b["channel"] = browserChannel()
		b["challenge_notification_url"] = "https://agent.example/3ds/challenge"
	}
	return b
}

func browserChannel() map[string]any {
	return map[string]any{"type": "browser", "browser": map[string]any{"accept_header": "text/html",
		"ip_address": "192.0.2.1", "javascript_enabled": false, "language": "en-US", "user_agent": "Mozilla/5.0"}}
}

// createSession creates a session for card and returns its answer.
func (h *harness) createSession(card string, channel bool) response {
	h.t.Helper()
	return h.do(req{path: "/delegate_authentication", key: agentKey, idem: newKey(), body: authBody(card, "acme", channel)})
}

func authenticatePath(id string) string { return "/delegate_authentication/" + id + "/authenticate" }

// authSpec is the Delegate Authentication document with its one defect no
// answer can meet repaired (acpspec.LoadAuthSpec).
var authSpec = sync.OnceValues(acpspec.LoadAuthSpec)

// validateAuth validates an answer of the operation at method and path (a
// path of the spec, with {authentication_session_id}) against the spec.
func validateAuth(t *testing.T, method, path string, r response) error {
	t.Helper()
	spec, err := authSpec()
	if err != nil {
		t.Fatal(err)
	}
	return acpspec.ValidateAuthResponse(t.Context(), spec, method, path, r.status, r.header, r.raw)
}

// withinEnums is r with its error code set to one of the spec's enum and
// supported_versions left out: a documented deviation must be valid then.
func withinEnums(r response) response {
	var m map[string]any
	_ = json.Unmarshal(r.raw, &m)
	m["code"] = "invalid_card"
	delete(m, "supported_versions")
	r.raw, _ = json.Marshal(m)
	return r
}

// TestAuthFlowOverHTTP: a session from create to its result over HTTP,
// each answer valid against the spec, with the headers the spec echoes.
func TestAuthFlowOverHTTP(t *testing.T) {
	h, a := authHarness(t, harnessOpts{})
	key := newKey()
	c := h.do(req{path: "/delegate_authentication", key: agentKey, idem: key, body: authBody(cardChallenge, "acme", true)})
	mustStatus(t, c, http.StatusCreated)
	if c.header.Get("Idempotency-Key") != key || c.header.Get("Request-Id") == "" || c.header.Get("API-Version") != "2026-04-17" {
		t.Fatalf("create headers %v", c.header)
	}
	if err := validateAuth(t, http.MethodPost, "/delegate_authentication", c); err != nil {
		t.Fatalf("create: %v\n%s", err, c.raw)
	}
	id := c.str("authentication_session_id")
	au := h.do(req{path: authenticatePath(id), key: agentKey, body: map[string]any{"fingerprint_completion": "Y"}})
	mustStatus(t, au, http.StatusOK)
	if au.str("status") != "action_required" || au.header.Get("Idempotency-Key") != "" {
		t.Fatalf("authenticate: %s %v", au.raw, au.header)
	}
	if err := validateAuth(t, http.MethodPost, "/delegate_authentication/{authentication_session_id}/authenticate", au); err != nil {
		t.Fatalf("authenticate: %v\n%s", err, au.raw)
	}
	get := func() response {
		r := h.do(req{method: http.MethodGet, path: "/delegate_authentication/" + id, key: agentKey})
		mustStatus(t, r, http.StatusOK)
		if err := validateAuth(t, http.MethodGet, "/delegate_authentication/{authentication_session_id}", r); err != nil {
			t.Fatalf("get: %v\n%s", err, r.raw)
		}
		return r
	}
	if r := get(); r.str("status") != "action_required" || r.body["authentication_result"] != nil {
		t.Fatalf("get during the challenge: %s", r.raw)
	}
	a.finish(id)
	r := get()
	res, _ := r.body["authentication_result"].(map[string]any)
	if r.str("status") != "authenticated" || res["three_ds_cryptogram"] != authCryptogram {
		t.Fatalf("get after the challenge: %s", r.raw)
	}

	metricsOut := string(h.do(req{method: http.MethodGet, path: "/metrics", noVersion: true}).raw)
	for _, want := range []string{
		`acpgw_authentication_sessions_total{provider="mock",status="authenticated"} 1`,
		`acpgw_authentication_step_duration_seconds_count{provider="mock",step="create"} 1`,
		`acpgw_authentication_step_duration_seconds_count{provider="mock",step="authenticate"} 1`,
		`acpgw_authentication_step_duration_seconds_count{provider="mock",step="result"} 2`,
		`acpgw_http_requests_total{code="201",method="POST",route="/delegate_authentication"} 1`,
	} {
		if !strings.Contains(metricsOut, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// Neither the card nor the cryptogram is in the database, the logs or
	// the metrics.
	for name, hay := range map[string]string{"database": string(h.fileBytes()), "logs": h.logs.String(), "metrics": metricsOut} {
		for _, secret := range []string{cardChallenge, authCryptogram} {
			if strings.Contains(hay, secret) {
				t.Errorf("%s hold %.8s…", name, secret)
			}
		}
	}
}

// TestAuthAnswersMatchSpec drives the Delegate Authentication API into
// every answer it can give and validates each against
// openapi.delegate_authentication.yaml. Documented deviations, where the
// spec's Error enums have no value (as on delegate_payment, upstream ACP
// issue 161): 401, 503 and an unsupported API-Version keep acpgw's own
// code (the last also carries supported_versions); each must be valid once
// its code is put inside the enum.
func TestAuthAnswersMatchSpec(t *testing.T) {
	h, _ := authHarness(t, harnessOpts{})
	const (
		create = "/delegate_authentication"
		authn  = "/delegate_authentication/{authentication_session_id}/authenticate"
		get    = "/delegate_authentication/{authentication_session_id}"
	)
	fresh := h.createSession(cardFrictionless, false).str("authentication_session_id")
	done := h.createSession(cardFrictionless, true).str("authentication_session_id")
	mustStatus(t, h.do(req{path: authenticatePath(done), key: agentKey, body: map[string]any{"fingerprint_completion": "Y"}}), http.StatusOK)
	notEnrolled := h.createSession(cardNotEnrolled, true).str("authentication_session_id")
	conflictKey := newKey()
	y := map[string]any{"fingerprint_completion": "Y"}
	cases := []struct {
		name      string
		r         req
		spec      string
		status    int
		deviation bool
	}{
		{"created", req{path: create, key: agentKey, idem: conflictKey, body: authBody(cardFrictionless, "acme", true)}, create, 201, false},
		{"replayed", req{path: create, key: agentKey, idem: conflictKey, body: authBody(cardFrictionless, "acme", true)}, create, 201, false},
		{"conflict", req{path: create, key: agentKey, idem: conflictKey, body: authBody(cardChallenge, "acme", true)}, create, 409, false},
		{"not supported", req{path: create, key: agentKey, body: authBody(cardNotEnrolled, "acme", false)}, create, 201, false},
		{"schema error", req{path: create, key: agentKey, rawBody: []byte(`{"payment_method":{}}`)}, create, 400, false},
		{"malformed", req{path: create, key: agentKey, rawBody: []byte(`{`)}, create, 400, false},
		{"unknown merchant", req{path: create, key: agentKey, body: authBody(cardFrictionless, "nobody", false)}, create, 422, false},
		{"merchant without authentication", req{path: create, key: agentKey, body: authBody(cardFrictionless, "other", false)}, create, 422, false},
		{"wrong content type", req{path: create, key: agentKey, contentType: "text/plain", body: authBody(cardFrictionless, "acme", false)}, create, 415, false},
		{"provider down", req{path: create, key: agentKey, idem: newKey(), body: authBody(cardProviderDown, "acme", false)}, create, 503, true},
		{"unauthorized", req{path: create, key: "wrong", body: authBody(cardFrictionless, "acme", false)}, create, 401, true},
		{"old API-Version", req{path: create, key: agentKey, version: "2026-01-30", body: authBody(cardFrictionless, "acme", false)}, create, 400, true},
		{"no API-Version", req{path: create, key: agentKey, noVersion: true, body: authBody(cardFrictionless, "acme", false)}, create, 400, true},
		{"missing channel", req{path: authenticatePath(fresh), key: agentKey, body: y}, authn, 400, false},
		{"authenticated", req{path: authenticatePath(fresh), key: agentKey, body: map[string]any{"fingerprint_completion": "N",
			"channel": browserChannel(), "challenge_notification_url": "https://agent.example/cb"}}, authn, 200, false},
		{"authenticate again", req{path: authenticatePath(done), key: agentKey, body: y}, authn, 409, false},
		{"authenticate an ended session", req{path: authenticatePath(notEnrolled), key: agentKey, body: y}, authn, 409, false},
		{"authenticate an unknown session", req{path: authenticatePath("as_nope"), key: agentKey, body: y}, authn, 404, false},
		{"bad fingerprint", req{path: authenticatePath(done), key: agentKey, body: map[string]any{"fingerprint_completion": "X"}}, authn, 400, false},
		{"get", req{method: http.MethodGet, path: "/delegate_authentication/" + done, key: agentKey}, get, 200, false},
		{"get not supported", req{method: http.MethodGet, path: "/delegate_authentication/" + notEnrolled, key: agentKey}, get, 200, false},
		{"get unknown", req{method: http.MethodGet, path: "/delegate_authentication/as_nope", key: agentKey}, get, 404, false},
		{"get unauthorized", req{method: http.MethodGet, path: "/delegate_authentication/" + done}, get, 401, true},
	}
	for _, tc := range cases {
		r := h.do(tc.r)
		if r.status != tc.status {
			t.Fatalf("%s: status %d, want %d: %s", tc.name, r.status, tc.status, r.raw)
		}
		err := validateAuth(t, map[bool]string{true: http.MethodGet, false: http.MethodPost}[tc.r.method == http.MethodGet], tc.spec, r)
		if tc.deviation {
			if err == nil {
				t.Errorf("%s: valid as sent; drop it from the deviations", tc.name)
			}
			err = validateAuth(t, map[bool]string{true: http.MethodGet, false: http.MethodPost}[tc.r.method == http.MethodGet], tc.spec, withinEnums(r))
		}
		if err != nil {
			t.Errorf("%s (%d): %v\n%s", tc.name, r.status, err, r.raw)
		}
		if r.status >= 400 && r.str("message") == "" {
			t.Errorf("%s: no message: %s", tc.name, r.raw)
		}
	}
}

// TestAuthIdempotencyOverHTTP: a replayed create gets the first answer,
// marked replayed, and the key with another body 409 idempotency_conflict
// (RFC section 7); a key is optional.
func TestAuthIdempotencyOverHTTP(t *testing.T) {
	h, a := authHarness(t, harnessOpts{})
	key := newKey()
	first := h.do(req{path: "/delegate_authentication", key: agentKey, idem: key, body: authBody(cardFrictionless, "acme", true)})
	again := h.do(req{path: "/delegate_authentication", key: agentKey, idem: key, body: authBody(cardFrictionless, "acme", true)})
	mustStatus(t, again, http.StatusCreated)
	if string(again.raw) != string(first.raw) || again.header.Get("Idempotent-Replayed") != "true" || a.n("create") != 1 {
		t.Fatalf("replay: %s (replayed %q), first %s, %d creates", again.raw, again.header.Get("Idempotent-Replayed"), first.raw, a.n("create"))
	}
	other := h.do(req{path: "/delegate_authentication", key: agentKey, idem: key, body: authBody(cardChallenge, "acme", true)})
	if other.status != http.StatusConflict || other.str("code") != "idempotency_conflict" || other.str("type") != "invalid_request" {
		t.Fatalf("conflict: %d %s", other.status, other.raw)
	}
	if r := h.do(req{path: "/delegate_authentication", key: agentKey, body: authBody(cardFrictionless, "acme", true)}); r.status != http.StatusCreated {
		t.Fatalf("without a key: %d %s", r.status, r.raw)
	}
}

// TestAuthOtherAgent: a session is its agent's own: another agent gets 404
// as for a session that does not exist.
func TestAuthOtherAgent(t *testing.T) {
	h, _ := authHarness(t, harnessOpts{agentExtra: "}\n  - {id: agent2, api_key: second-agent-key"})
	id := h.createSession(cardFrictionless, true).str("authentication_session_id")
	for _, r := range []response{
		h.do(req{method: http.MethodGet, path: "/delegate_authentication/" + id, key: "second-agent-key"}),
		h.do(req{path: authenticatePath(id), key: "second-agent-key", body: map[string]any{"fingerprint_completion": "Y"}}),
	} {
		if r.status != http.StatusNotFound || r.str("code") != "invalid_card" {
			t.Fatalf("another agent: %d %s", r.status, r.raw)
		}
	}
	mustStatus(t, h.do(req{method: http.MethodGet, path: "/delegate_authentication/" + id, key: agentKey}), http.StatusOK)
}

// TestAuthSigning: a signing agent signs the Delegate Authentication
// requests as it signs delegate_payment, GET included.
func TestAuthSigning(t *testing.T) {
	const secret = "agent-signing-secret-0123456789"
	h, _ := authHarness(t, harnessOpts{agentExtra: ", signing_secret: " + secret})
	do := func(method, path string, body []byte, signed bool) (int, []byte) {
		hr, _ := http.NewRequest(method, h.srv.URL+path, bytes.NewReader(body))
		hr.Header.Set("Authorization", "Bearer "+agentKey)
		hr.Header.Set("API-Version", "2026-04-17")
		if body != nil {
			hr.Header.Set("Content-Type", "application/json")
		}
		if signed {
			ts := time.Now().UTC().Format(time.RFC3339)
			hr.Header.Set("Timestamp", ts)
			hr.Header.Set("Signature", base64.StdEncoding.EncodeToString(api.Sign(secret, ts, body)))
		}
		resp, err := http.DefaultClient.Do(hr)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, raw
	}
	body, _ := json.Marshal(authBody(cardFrictionless, "acme", true))
	if st, raw := do(http.MethodPost, "/delegate_authentication", body, false); st != http.StatusUnauthorized {
		t.Fatalf("unsigned create: %d %s", st, raw)
	}
	st, raw := do(http.MethodPost, "/delegate_authentication", body, true)
	if st != http.StatusCreated {
		t.Fatalf("signed create: %d %s", st, raw)
	}
	var s struct {
		ID string `json:"authentication_session_id"`
	}
	_ = json.Unmarshal(raw, &s)
	if st, raw := do(http.MethodGet, "/delegate_authentication/"+s.ID, nil, false); st != http.StatusUnauthorized {
		t.Fatalf("unsigned get: %d %s", st, raw)
	}
	if st, raw := do(http.MethodGet, "/delegate_authentication/"+s.ID, nil, true); st != http.StatusOK {
		t.Fatalf("signed get: %d %s", st, raw)
	}
}
