package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"acpgw/acp"
	"acpgw/config"
	"acpgw/providers"
	"acpgw/providers/mock"
	"acpgw/store"
	"acpgw/store/postgres"
	"acpgw/store/postgres/pgtest"
	"acpgw/store/sqlite"
)

const testVaultKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" // 32 bytes 0..31

// countingStore counts the write transactions that committed, so that
// tests can hold the payment path to its number of commits.
type countingStore struct {
	store.Store
	commits atomic.Int64
}

func (c *countingStore) Tx(ctx context.Context, fn func(tx store.Tx) error) error {
	err := c.Store.Tx(ctx, fn)
	if err == nil {
		c.commits.Add(1)
	}
	return err
}

// rig is a Service on a temporary SQLite file. Its processors come from
// the YAML given to newRig; providers builds them (mocks by default).
type rig struct {
	t     *testing.T
	svc   *Service
	st    *countingStore
	mocks map[string]*mock.Provider
	seq   atomic.Int64
	// dir holds the SQLite database and its -wal and -shm files.
	dir string
	// pgDSN is the database of a rig on PostgreSQL, "" on SQLite.
	pgDSN string
	// config renders the rig's config with another processors block, and
	// build builds its processors, for tests that reload.
	config func(processors string) string
	build  ProviderFactory
}

type rigOpts struct {
	// processors is the YAML of the processors block; default one mock.
	processors string
	// merchantProcessors is the merchant's processor list; default [mock].
	merchantProcessors string
	// build builds a processor; nil builds mocks.
	build func(p *config.Processor) (providers.Provider, error)
	// wrap wraps every provider built.
	wrap func(p providers.Provider) providers.Provider
	// postgres puts the rig's store on a PostgreSQL database of its own
	// (skipped without ACPGW_TEST_POSTGRES_DSN) instead of SQLite.
	postgres bool
	// vault is more flow-style keys of the vault section (", cvc_ttl: 1m").
	vault string
	// now is the service's clock; time.Now when nil.
	now func() time.Time
	// retireGrace is the service's Options.RetireGrace.
	retireGrace time.Duration
	// top is more top-level YAML (tokens:, risk:).
	top string
	// acmeEvents, when set, is acme's events: config (a YAML flow
	// mapping); other never has one.
	acmeEvents string
	// acmeAuthentication, when set, is acme's authentication: config (a
	// YAML flow mapping); other never has one.
	acmeAuthentication string
	// store wraps the rig's store as the service sees it (the rig's own
	// reads go around it).
	store func(store.Store) store.Store
}

func newRig(t *testing.T, o rigOpts) *rig {
	t.Helper()
	if o.processors == "" {
		o.processors = "  mock: {type: mock, timeout: 5s, fees: {percent: 2.9, fixed: 30, currency: usd}}\n"
	}
	if o.merchantProcessors == "" {
		o.merchantProcessors = "[mock]"
	}
	dir := t.TempDir()
	db := filepath.Join(dir, "acpgw.db")
	acmeEvents := ""
	if o.acmeEvents != "" {
		acmeEvents = ", events: " + o.acmeEvents
	}
	if o.acmeAuthentication != "" {
		acmeEvents += ", authentication: " + o.acmeAuthentication
	}
	render := func(processors string) string {
		return fmt.Sprintf(`store: {driver: sqlite, dsn: %q}
vault: {keys: [{id: k1, key: %q}]%s}
agents: [{id: agent1, api_key: agent-key}]
processors:
%smerchants:
  - {id: acme, api_key: acme-key, processors: %s%s}
  - {id: other, api_key: other-key, processors: %s}
%s`, db, testVaultKey, o.vault, processors, o.merchantProcessors, acmeEvents, o.merchantProcessors, o.top)
	}
	cfg, err := config.Parse([]byte(render(o.processors)), "rig.yaml")
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	r := &rig{t: t, mocks: map[string]*mock.Provider{}, dir: dir}
	var st store.Store
	if o.postgres {
		r.pgDSN = pgtest.NewDatabase(t)
		if _, err := postgres.Migrate(t.Context(), r.pgDSN); err != nil {
			t.Fatal(err)
		}
		if st, err = postgres.Open(t.Context(), r.pgDSN, postgres.Options{}); err != nil {
			t.Fatal(err)
		}
	} else if st, err = sqlite.Open(t.Context(), db); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	r.st = &countingStore{Store: st}
	r.config = render
	var mu sync.Mutex
	r.build = func(p *config.Processor) (providers.Provider, error) {
		var prov providers.Provider
		if o.build != nil && p.Type != config.TypeMock {
			if prov, err = o.build(p); err != nil {
				return nil, err
			}
		} else {
			m := mock.New(mock.Config{Name: p.Name, FeeRatePPM: int64(p.Fees.Percent), FeeFixed: p.Fees.Fixed})
			mu.Lock()
			r.mocks[p.Name] = m
			mu.Unlock()
			prov = m
		}
		if o.wrap != nil {
			prov = o.wrap(prov)
		}
		return prov, nil
	}
	rt, err := NewRuntime(cfg, r.build)
	if err != nil {
		t.Fatal(err)
	}
	var svcStore store.Store = r.st
	if o.store != nil {
		svcStore = o.store(r.st)
	}
	r.svc = New(Options{Store: svcStore, Now: o.now, RetireGrace: o.retireGrace}, rt)
	t.Cleanup(func() { rt.Providers.Close() })
	return r
}

// key returns a fresh Idempotency for a call of caller to path with body.
func (r *rig) key(caller, path string, body any) Idempotency {
	raw, err := json.Marshal(body)
	if err != nil {
		r.t.Fatal(err)
	}
	return Idempotency{
		Scope:       caller + " POST " + path,
		Key:         fmt.Sprintf("key-%d", r.seq.Add(1)),
		RequestHash: string(raw),
		APIVersion:  acp.Version20260417,
	}
}

// delegate issues a token for card with an allowance of max usd for acme's
// checkout session cs_1, and returns its id.
func (r *rig) delegate(card string, max int64) string {
	r.t.Helper()
	ans, err := r.delegateUntil(card, max, time.Now().Add(time.Hour))
	if err != nil {
		r.t.Fatalf("Delegate: %v", err)
	}
	var out DelegateResponse
	if err := json.Unmarshal(ans.Body, &out); err != nil || !strings.HasPrefix(out.ID, "vt_") {
		r.t.Fatalf("Delegate answer %d %s: %v", ans.Status, ans.Body, err)
	}
	return out.ID
}

// delegateUntil is delegate with an allowance that ends at expires; it
// returns what the service answered.
func (r *rig) delegateUntil(card string, max int64, expires time.Time) (Answer, error) {
	r.t.Helper()
	body := fmt.Sprintf(`{"payment_method": {"type": "card", "card_number_type": "fpan", "number": %q,
  "exp_month": "12", "exp_year": "2034", "name": "Jane Doe", "cvc": "737", "checks_performed": ["cvv"],
  "display_card_funding_type": "credit", "display_brand": "visa", "display_last4": %q, "metadata": {}},
 "allowance": {"reason": "one_time", "max_amount": %d, "currency": "usd", "checkout_session_id": "cs_1",
  "merchant_id": "acme", "expires_at": %q},
 "risk_signals": [{"type": "card_testing", "score": 3, "action": "authorized"}], "metadata": {}}`,
		card, card[len(card)-4:], max, expires.UTC().Format(time.RFC3339))
	req, aerr := acp.DecodeDelegateRequest(acp.Version20260417, []byte(body), time.Now())
	if aerr != nil {
		r.t.Fatalf("delegate request: %v", aerr)
	}
	return r.svc.Delegate(r.t.Context(), DelegateInput{AgentID: "agent1", Request: req,
		Idempotency: r.key("agent:agent1", "/agentic_commerce/delegate_payment", body)})
}

// payInput is acme's payment of amount usd with token.
func (r *rig) payInput(token string, amount int64, capture string) PayInput {
	req := acp.PaymentRequest{
		MerchantID: "acme", CheckoutSessionID: "cs_1", Amount: amount, Currency: "usd",
		PaymentData: acp.PaymentData{Token: token, Provider: "stripe", Shape: acp.ShapeToken},
		Capture:     capture,
	}
	return PayInput{MerchantID: "acme", Request: req, Idempotency: r.key("merchant:acme", "/v1/payments", req)}
}

// object decodes an answer's payment object.
func (r *rig) object(ans Answer) PaymentObject {
	r.t.Helper()
	var p PaymentObject
	if err := json.Unmarshal(ans.Body, &p); err != nil {
		r.t.Fatalf("answer %d %q: %v", ans.Status, ans.Body, err)
	}
	return p
}

// mustPay pays and fails the test on an error.
func (r *rig) mustPay(in PayInput) (Answer, PaymentObject) {
	r.t.Helper()
	ans, err := r.svc.Pay(r.t.Context(), in)
	if err != nil {
		r.t.Fatalf("Pay: %v", err)
	}
	return ans, r.object(ans)
}

// record returns the idempotency record of idem.
func (r *rig) record(idem Idempotency) (store.IdemRecord, error) {
	return r.st.GetIdempotency(context.Background(), idem.Scope, idem.Key)
}

// gate wraps a provider so that a test can hold its authorizations: each
// one reports on entered and waits for release.
type gate struct {
	providers.Provider
	entered chan struct{}
	release chan struct{}
}

func newGate(p providers.Provider) *gate {
	return &gate{Provider: p, entered: make(chan struct{}, 16), release: make(chan struct{})}
}

func (g *gate) Authorize(ctx context.Context, req providers.AuthorizeRequest) (providers.Result, error) {
	g.entered <- struct{}{}
	<-g.release
	return g.Provider.Authorize(ctx, req)
}
