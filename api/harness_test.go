package api_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"acpgw/api"
	"acpgw/api/apitest"
	"acpgw/config"
	"acpgw/gateway"
	"acpgw/limits"
	"acpgw/metrics"
	"acpgw/providers"
	"acpgw/providers/mock"
	"acpgw/store/sqlite"
	"acpgw/tracing"
)

const (
	agentKey    = "test-agent-key"
	acmeKey     = "test-acme-key"
	otherKey    = "test-other-key"
	testVaultKy = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=" // 32 bytes 0..31
)

// harness is one gateway on a temporary SQLite file with mock processors,
// served over a real HTTP listener.
type harness struct {
	t     testing.TB
	yaml  string
	build gateway.ProviderFactory
	srv   *httptest.Server
	api   *api.Server
	svc   *gateway.Service
	// st is the service's store, for tests that set up records the API
	// cannot make (another replica's) or break it.
	st     *sqlite.Store
	mocks  map[string]*mock.Provider
	dbPath string
	logs   *syncBuffer
	reg    *prometheus.Registry
	// clock is the API's and the gateway's clock: real time plus what
	// tests skip with advance.
	clock *clock
	// apiOpts built srv's handler; replica builds another from it.
	apiOpts api.Options
	// tracing is the tracer provider when harnessOpts.tracing is set.
	tracing *tracing.Tracing
}

// clock is real time moved forward by advance, so that a test can let time
// pass (a token expire, a lease run out) without sleeping, while everything
// else sees time flow as usual.
type clock struct{ skipped atomic.Int64 }

// Now returns real time plus everything skipped so far.
func (c *clock) Now() time.Time { return time.Now().Add(time.Duration(c.skipped.Load())) }

// advance moves the clock forward by d.
func (c *clock) advance(d time.Duration) { c.skipped.Add(int64(d)) }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type harnessOpts struct {
	// served, if set, gets the path of every request whose handler has
	// returned (after its answer was written or the client went away).
	served chan<- string
	// processors is the YAML of extra processors; the default is one mock.
	processors string
	// acmeProcessors is acme's processor list; default [mock].
	acmeProcessors string
	// acmeRouting is acme's routing object in flow style, if any.
	acmeRouting string
	// acmeExtra and agentExtra are more flow-style keys for acme and agent1
	// (", rate_limit: {...}").
	acmeExtra, agentExtra string
	// wrap lets a test wrap a provider (fault injection).
	wrap func(p providers.Provider) providers.Provider
	// timeout is the mock processors' call timeout.
	timeout string
	// sections is more top-level YAML ("amounts: {...}\n").
	sections string
	// limiter, if set, builds the API's rate limiter on the harness's
	// clock; nil is the in-memory default.
	limiter func(now func() time.Time) limits.Limiter
	// tracing, if set, is an OTLP/HTTP endpoint: the harness traces every
	// request (HTTP, steps, store transactions, processor calls) at
	// sample ratio sampleRatio (0 means 1) and exports there.
	tracing     string
	sampleRatio float64
}

func newHarness(t testing.TB, o harnessOpts) *harness {
	t.Helper()
	if o.timeout == "" {
		o.timeout = "300ms"
	}
	if o.processors == "" {
		o.processors = fmt.Sprintf("  mock: {type: mock, timeout: %s, fees: {percent: 2.9, fixed: 30, currency: usd}}\n", o.timeout)
	}
	if o.acmeProcessors == "" {
		o.acmeProcessors = "[mock]"
	}
	dir := t.TempDir()
	dbPath := filepath.Join(dir, "acpgw.db")
	yaml := fmt.Sprintf(`server: {listen: "127.0.0.1:0"}
store: {driver: sqlite, dsn: %q}
vault: {keys: [{id: k1, key: %q}]}
agents:
  - {id: agent1, api_key: %q%s}
reports:
  - {id: finance, api_key: test-finance-key}
processors:
%smerchants:
  - {id: acme, api_key: %q, processors: %s, country: US%s%s}
  - {id: other, api_key: %q, processors: [mock]}
%s`, dbPath, testVaultKy, agentKey, o.agentExtra, o.processors, acmeKey, o.acmeProcessors, routingYAML(o.acmeRouting), o.acmeExtra, otherKey, o.sections)
	cfg, err := config.Parse([]byte(yaml), "test.yaml")
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, dbPath)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, st: st, mocks: map[string]*mock.Provider{}, dbPath: dbPath, logs: &syncBuffer{}, yaml: yaml, clock: &clock{}}
	var mu sync.Mutex
	build := func(p *config.Processor) (providers.Provider, error) {
		m := mock.New(mock.Config{Name: p.Name, FeeRatePPM: int64(p.Fees.Percent), FeeFixed: p.Fees.Fixed})
		mu.Lock()
		h.mocks[p.Name] = m
		mu.Unlock()
		var p2 providers.Provider = m
		if o.wrap != nil {
			p2 = o.wrap(m)
		}
		return tracing.Provider(p2, h.tracing.Tracer()), nil
	}
	if o.tracing != "" {
		ratio := o.sampleRatio
		if ratio == 0 {
			ratio = 1
		}
		h.tracing, err = tracing.New(ctx, config.Tracing{Endpoint: o.tracing, SampleRatio: ratio, ServiceName: "acpgw-test"}, "test")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = h.tracing.Shutdown(context.Background()) })
	}
	h.build = build
	rt, err := gateway.NewRuntime(cfg, build)
	if err != nil {
		t.Fatal(err)
	}
	h.reg = prometheus.NewRegistry()
	m := metrics.New(h.reg)
	level := slog.LevelDebug
	if _, ok := t.(*testing.B); ok {
		// Benchmarks log as acpgw serve does.
		level = slog.LevelInfo
	}
	log := slog.New(tracing.LogHandler(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: level})))
	tracer := h.tracing.Tracer()
	h.svc = gateway.New(gateway.Options{Store: tracing.Store(st, tracer, config.DriverSQLite), Metrics: m, Logger: log, Now: h.clock.Now, Tracer: tracer}, rt)
	h.apiOpts = api.Options{Service: h.svc, Metrics: m, Gatherer: h.reg, Logger: log, Now: h.clock.Now, Tracer: tracer}
	if o.limiter != nil {
		h.apiOpts.Limiter = o.limiter(h.clock.Now)
	}
	h.api = api.New(h.apiOpts)
	handler := validated(t, h.api)
	if o.served != nil {
		inner := handler
		handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() { o.served <- r.URL.Path }()
			inner.ServeHTTP(w, r)
		})
	}
	h.srv = httptest.NewServer(handler)
	t.Cleanup(func() {
		h.srv.Close()
		st.Close()
	})
	return h
}

// validated serves handler with every answer checked against api/openapi.yaml
// (package apitest): an answer the document does not describe fails the
// test. Benchmarks measure the server alone.
func validated(t testing.TB, handler http.Handler) http.Handler {
	if _, ok := t.(*testing.B); ok {
		return handler
	}
	return apitest.Must(t).Handler(t, handler)
}

// replica is another API server over the same gateway service and store,
// as a second acpgw replica behind a load balancer would be, with its own
// rate limiter (nil: its own memory) and metrics registry. Requests
// through the returned harness go to the replica.
func (h *harness) replica(lim limits.Limiter) *harness {
	h.t.Helper()
	r := *h
	r.reg = prometheus.NewRegistry()
	r.apiOpts.Metrics = metrics.New(r.reg)
	r.apiOpts.Gatherer = r.reg
	r.apiOpts.Limiter = lim
	r.api = api.New(r.apiOpts)
	r.srv = httptest.NewServer(validated(h.t, r.api))
	h.t.Cleanup(r.srv.Close)
	return &r
}

func routingYAML(r string) string {
	if r == "" {
		return ""
	}
	return ", routing: " + r
}

// response is a decoded answer.
type response struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

func (r response) str(key string) string {
	s, _ := r.body[key].(string)
	return s
}

func (r response) num(key string) int64 {
	f, _ := r.body[key].(float64)
	return int64(f)
}

type req struct {
	method, path, key, version, idem, contentType string
	body                                          any
	rawBody                                       []byte
	noVersion                                     bool
}

func (h *harness) do(r req) response {
	h.t.Helper()
	var body io.Reader
	switch {
	case r.rawBody != nil:
		body = bytes.NewReader(r.rawBody)
	case r.body != nil:
		b, err := json.Marshal(r.body)
		if err != nil {
			h.t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	if r.method == "" {
		r.method = http.MethodPost
	}
	hr, err := http.NewRequest(r.method, h.srv.URL+r.path, body)
	if err != nil {
		h.t.Fatal(err)
	}
	if r.key != "" {
		hr.Header.Set("Authorization", "Bearer "+r.key)
	}
	if !r.noVersion {
		v := r.version
		if v == "" {
			v = "2026-04-17"
		}
		hr.Header.Set("API-Version", v)
	}
	if r.idem != "" {
		hr.Header.Set("Idempotency-Key", r.idem)
	}
	ct := r.contentType
	if ct == "" && body != nil {
		ct = "application/json"
	}
	if ct != "" {
		hr.Header.Set("Content-Type", ct)
	}
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := response{status: resp.StatusCode, header: resp.Header, raw: raw}
	_ = json.Unmarshal(raw, &out.body)
	return out
}

var keySeq struct {
	mu sync.Mutex
	n  int
}

func newKey() string {
	keySeq.mu.Lock()
	defer keySeq.mu.Unlock()
	keySeq.n++
	return fmt.Sprintf("idem-%d-%d", time.Now().UnixNano(), keySeq.n)
}

// delegateBody is a valid 2026-04-17 delegate_payment request.
func delegateBody(card, merchant, session string, max int64, currency string) map[string]any {
	exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	return map[string]any{
		"payment_method": map[string]any{
			"type": "card", "card_number_type": "fpan", "number": card,
			"exp_month": "12", "exp_year": fmt.Sprint(time.Now().Year() + 3),
			"name": "Jane Doe", "cvc": "737", "checks_performed": []string{"cvv"},
			"display_card_funding_type": "credit", "display_brand": "visa",
			"display_last4": card[len(card)-4:], "metadata": map[string]string{},
		},
		"allowance": map[string]any{
			"reason": "one_time", "max_amount": max, "currency": currency,
			"checkout_session_id": session, "merchant_id": merchant, "expires_at": exp,
		},
		"billing_address": map[string]any{
			"name": "Jane Doe", "line_one": "1 Main St", "city": "San Francisco",
			"state": "CA", "country": "US", "postal_code": "94107",
		},
		"risk_signals": []any{map[string]any{"type": "card_testing", "score": 3, "action": "authorized"}},
		"metadata":     map[string]string{"source": "test"},
	}
}

// delegate issues a token for card and returns its id.
func (h *harness) delegate(card string, max int64) string {
	h.t.Helper()
	r := h.do(req{path: "/agentic_commerce/delegate_payment", key: agentKey, idem: newKey(),
		body: delegateBody(card, "acme", "cs_1", max, "usd")})
	if r.status != http.StatusCreated {
		h.t.Fatalf("delegate: %d %s", r.status, r.raw)
	}
	return r.str("id")
}

func payBody(token string, amount int64, capture string) map[string]any {
	return map[string]any{
		"merchant_id": "acme", "checkout_session_id": "cs_1", "amount": amount, "currency": "usd",
		"payment_data": map[string]any{"token": token, "provider": "stripe"},
		"capture":      capture, "metadata": map[string]string{"order_id": "o_1"},
	}
}

func (h *harness) pay(token string, amount int64, capture string) response {
	h.t.Helper()
	return h.do(req{path: "/v1/payments", key: acmeKey, idem: newKey(), body: payBody(token, amount, capture)})
}

// counts returns the row count of every table, to prove bad input changes
// nothing.
func (h *harness) counts() map[string]int {
	h.t.Helper()
	db, err := sql.Open("sqlite", "file:"+h.dbPath+"?mode=ro")
	if err != nil {
		h.t.Fatal(err)
	}
	defer db.Close()
	out := map[string]int{}
	for _, table := range []string{"tokens", "payments", "attempts", "refunds"} {
		var n int
		if err := db.QueryRow("SELECT COUNT(*) FROM " + table).Scan(&n); err != nil {
			h.t.Fatalf("count %s: %v", table, err)
		}
		out[table] = n
	}
	var consumed int
	if err := db.QueryRow("SELECT COUNT(*) FROM tokens WHERE consumed_at IS NOT NULL").Scan(&consumed); err != nil {
		h.t.Fatal(err)
	}
	out["consumed"] = consumed
	return out
}

// hasCVC reports whether the token still has its sealed CVC.
func (h *harness) hasCVC(token string) bool {
	h.t.Helper()
	db, err := sql.Open("sqlite", "file:"+h.dbPath+"?mode=ro")
	if err != nil {
		h.t.Fatal(err)
	}
	defer db.Close()
	var has bool
	if err := db.QueryRow("SELECT cvc IS NOT NULL FROM tokens WHERE id = ?", token).Scan(&has); err != nil {
		h.t.Fatal(err)
	}
	return has
}

func (h *harness) charges() int {
	n := 0
	for _, m := range h.mocks {
		n += m.ChargeCount()
	}
	return n
}

// fileBytes returns the bytes of the database and its WAL.
func (h *harness) fileBytes() []byte {
	var all []byte
	for _, suffix := range []string{"", "-wal", "-shm"} {
		b, err := os.ReadFile(h.dbPath + suffix)
		if err == nil {
			all = append(all, b...)
		}
	}
	return all
}

func mustStatus(t *testing.T, r response, want int) {
	t.Helper()
	if r.status != want {
		t.Fatalf("status %d, want %d: %s", r.status, want, r.raw)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

func readAll(r *http.Response) []byte {
	b, _ := io.ReadAll(r.Body)
	return b
}
