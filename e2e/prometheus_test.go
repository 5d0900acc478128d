package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"acpgw/api/apitest"
	"acpgw/events/receiver"
	"acpgw/threeds/mock3ds/mock3dstest"
	"acpgw/tracing/otlptest"
)

// The mock processor's test cards (the README's table).
const (
	cardApprove     = "4242424242424242"
	cardDecline     = "4000000000000002" // card_declined, hard
	cardSoftDecline = "4000000000009995" // insufficient_funds, soft; no cascade configured
	cardProcError   = "4000000000000119" // not processed: failover allowed
	cardNoAnswer    = "4000000000009979" // charged, answer lost: pending until reconciled
)

// amount is what every test payment charges, so that each processor's fee
// is the same on every payment and fee ratios do not depend on which
// payments a rate window sees.
const amount = 2599

// The e2e config: four mock processors and four merchants.
//
//   - acme (own merchant label): mock_a then mock_b, priority. A processor
//     error on mock_a fails over to mock_b, which errors too: failed on mock_b.
//   - globex (_other): least_cost over mock_a and mock_b; mock_b is cheaper
//     and goes first. A processor error fails over to mock_a: failed there.
//   - initech (_other): mock_c only, whose breaker opens on the first
//     failure; later payments find no viable processor (503) or probe it.
//   - hooli (own label): the processor named mock (it has a contract fee
//     ceiling in the shipped rules), with a short timeout, for the
//     payment whose answer never arrives and that reconciliation settles.
//     mock, in process, also runs hooli's Delegate Authentication
//     sessions, its 3-D Secure pages served on acpgw's own listener.
//
// mock_a and mock_b have their breakers off so that the traffic mix cannot
// trip them and change routing.
const e2eConfig = `server:
  listen: %q
store: {driver: sqlite, dsn: %q}
vault: {keys: [{id: e2e, key: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}]}
agents: [{id: agent, api_key: agent-key}]
processors:
  mock_a:
    type: mock
    latency: 20ms
    timeout: 500ms
    fees: {percent: 2.9, fixed: 30, currency: usd}
    circuit: {disabled: true}
  mock_b:
    type: mock
    latency: 5ms
    timeout: 500ms
    fees: {percent: 2.5, fixed: 25, currency: usd}
    circuit: {disabled: true}
  mock_c:
    type: mock
    latency: 2ms
    timeout: 500ms
    fees: {percent: 3.4, fixed: 50, currency: usd}
    circuit: {failure_percent: 50, min_requests: 1, window: 60s, open_for: 1s, half_open_probes: 1}
  mock:
    type: mock
    latency: 2ms
    timeout: 300ms
    fees: {percent: 2.0, fixed: 20, currency: usd}
merchants:
  - id: acme
    api_key: acme-key
    processors: [mock_a, mock_b]
    routing: {strategy: priority}
    metrics: {per_merchant: true}
    events: {url: %q, secret: whsec_e2e_prometheus_01}
  - id: globex
    api_key: globex-key
    processors: [mock_a, mock_b]
    routing: {strategy: least_cost}
  - id: initech
    api_key: initech-key
    processors: [mock_c]
  - id: hooli
    api_key: hooli-key
    processors: [mock]
    metrics: {per_merchant: true}
    authentication: {provider: mock}
reconcile: {interval: 500ms, after: 500ms, lease: 10s}
tracing: {endpoint: %q, sample_ratio: 1}
`

// TestPrometheusEndToEnd builds acpgw, runs it with mock processors,
// scrapes it with a real Prometheus that loads the shipped rules, drives a
// traffic mix (approvals, declines, processor errors with failover, an
// open circuit, a payment settled by reconciliation, captures, a refund, an
// idempotent replay, Delegate Authentication sessions with a browser on
// the mock's 3-D Secure pages), and then queries every recording rule and
// every dashboard expression through Prometheus's HTTP API. Each must
// return data; the key ones must equal what the traffic says.
//
// Rates cannot see the events that created a series before its first
// scrape, so the traffic runs in two phases: a priming phase that creates
// every payments_total series with exactly one payment (and every
// authentication series with its first sessions), then, once
// Prometheus has scraped that, the measured phase. Ratios over rate windows
// are compared with the measured phase; raw counters with everything.
func TestPrometheusEndToEnd(t *testing.T) {
	if os.Getenv("ACPGW_E2E") == "0" {
		t.Skip("ACPGW_E2E=0: end-to-end test skipped on request")
	}
	promBin := requireTool(t, "prometheus")
	if testing.Short() {
		t.Log("-short does not skip this test; set ACPGW_E2E=0 to skip it")
	}
	start := time.Now()
	dir := t.TempDir()

	bin := filepath.Join(dir, "acpgw")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./cmd/acpgw")
	build.Dir = repoRoot(t)
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	t.Logf("built acpgw in %s", time.Since(start).Round(time.Millisecond))

	gwAddr := freeAddr(t)
	cfg := filepath.Join(dir, "acpgw.yaml")
	// acme's events go to a receiver in this process, so that the events
	// panels have deliveries to show.
	events := httptest.NewServer(receiver.New(receiver.Options{Secrets: []string{"whsec_e2e_prometheus_01"}}))
	t.Cleanup(events.Close)
	// Every request is traced, to this test's OTLP receiver: the latency
	// histograms then carry exemplars for Prometheus to store.
	recv := otlptest.Start(t)
	writeFile(t, cfg, fmt.Sprintf(e2eConfig, gwAddr, filepath.Join(dir, "acpgw.db"), events.URL+receiver.PathEvents, recv.Endpoint()))
	startProcess(t, dir, "acpgw", bin, "serve", "--config", cfg)
	gw := &gateway{t: t, base: "http://" + gwAddr}
	waitOK(t, gw.base+"/readyz", 20*time.Second)

	promAddr := freeAddr(t)
	promCfg := filepath.Join(dir, "prometheus.yml")
	writeFile(t, promCfg, testPrometheusConfig(t, gwAddr))
	startProcess(t, dir, "prometheus", promBin,
		"--config.file="+promCfg,
		"--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+promAddr,
		"--enable-feature=exemplar-storage",
	)
	prom := &promAPI{t: t, base: "http://" + promAddr}
	waitOK(t, prom.base+"/-/ready", 20*time.Second)
	prom.waitScrapedAfter(time.Now(), 15*time.Second)

	tr := newTraffic(gw)

	// Phase 1: one payment per payments_total series, the pending payment
	// that reconciliation settles, and a session per authentication status
	// and step series.
	tr.phase = 1
	tr.mix(1)
	pending := tr.pay("hooli", cardNoAnswer, "automatic", http.StatusAccepted, "mock", "pending")
	tr.authMix(false)
	tr.waitSettled("hooli", pending, "captured", 15*time.Second)
	primed := time.Now()
	prom.waitScrapedAfter(primed, 10*time.Second)

	// Phase 2: the measured traffic. The pause lets mock_c's breaker (open
	// for 1s) take a probe, and keeps rate()'s extrapolation from treating
	// phase 2 as a counter's start: each series then has several seconds of
	// flat samples before its increase (see Prometheus's extrapolatedRate,
	// "durationToZero"). Both hold once Prometheus has a scrape taken 8s
	// after priming.
	prom.waitScrapedAfter(primed.Add(8*time.Second), 20*time.Second)
	tr.phase = 2
	tr.mix(5)
	for range 3 {
		tr.pay("acme", cardApprove, "automatic", http.StatusCreated, "mock_a", "captured")
	}
	for range 2 {
		tr.pay("globex", cardApprove, "automatic", http.StatusCreated, "mock_b", "captured")
	}
	tr.replay()
	// Last, so that all of phase 2's sessions are well inside the
	// dashboard's 1m rate interval at prom.at.
	tr.authMix(true)
	scraped := prom.waitScrapedAfter(time.Now(), 10*time.Second)
	// Two rounds of rule evaluations after the last scrape: the first may
	// have begun before the scrape was stored, and a rule may read a rule of
	// another group.
	prom.waitRulesEvaluatedAfter(prom.waitRulesEvaluatedAfter(scraped, 20*time.Second), 20*time.Second)
	prom.at = time.Now()
	t.Logf("traffic done at %s: %d payments, %d authentication sessions", time.Since(start).Round(time.Millisecond),
		len(tr.approved)+tr.nonApproved, tr.auth.steps[key2{authProvider, stepCreate}])

	tr.finalFees()
	checkRawCounters(t, prom, tr)
	checkAuthCounters(t, prom, tr)
	checkRecordingRules(t, prom, tr)
	checkDashboards(t, prom, tr)
	checkExemplars(t, prom, recv, start)
	t.Logf("end-to-end test took %s", time.Since(start).Round(time.Millisecond))
}

// testPrometheusConfig is the shipped deploy/prometheus/prometheus.yml with
// a 1s scrape and evaluation interval, the test's acpgw address and the
// rule file's absolute path.
func testPrometheusConfig(t *testing.T, gwAddr string) string {
	raw, err := os.ReadFile(deployPath(t, "prometheus", "prometheus.yml"))
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	for _, r := range []struct{ old, new string }{
		{"scrape_interval: 15s", "scrape_interval: 1s"},
		{"evaluation_interval: 15s", "evaluation_interval: 1s"},
		{`"127.0.0.1:8080"`, strconv.Quote(gwAddr)},
		{"- acpgw.rules.yml", "- " + deployPath(t, "prometheus", "acpgw.rules.yml")},
	} {
		if !strings.Contains(s, r.old) {
			t.Fatalf("deploy/prometheus/prometheus.yml no longer contains %q; update this test", r.old)
		}
		s = strings.Replace(s, r.old, r.new, 1)
	}
	return s
}

// --- processes ---------------------------------------------------------

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startProcess starts a long-running binary with its output in
// dir/name.log, stops it (SIGTERM, then SIGKILL) when the test ends, and
// prints the end of its log if the test failed.
func startProcess(t *testing.T, dir, name, bin string, args ...string) {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", name, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		logf.Close()
		if t.Failed() {
			raw, _ := os.ReadFile(logPath)
			if len(raw) > 6000 {
				raw = raw[len(raw)-6000:]
			}
			t.Logf("--- end of %s log:\n%s", name, raw)
		}
	})
}

// waitOK polls url until it answers 200.
func waitOK(t *testing.T, url string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			last = resp.Status
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s not ready within %s: %s", url, within, last)
}

// --- the gateway's API ---------------------------------------------------

type gateway struct {
	t    *testing.T
	base string
	n    int
}

// paymentView is the part of a payment response the test reads.
type paymentView struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	Processor string `json:"processor"`
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	Fee       struct {
		Estimated int64  `json:"estimated"`
		Actual    *int64 `json:"actual"`
		Currency  string `json:"currency"`
	} `json:"fee"`
	Decline *struct {
		Code string `json:"code"`
	} `json:"decline"`
}

// call sends one request and decodes a JSON answer into out (if not nil).
func (g *gateway) call(method, path, key, idemKey string, body any, out any) (int, http.Header) {
	g.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			g.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, g.base+path, rd)
	if err != nil {
		g.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("API-Version", "2026-04-17")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := apitest.Must(g.t).Client(g.t, 10*time.Second).Do(req)
	if err != nil {
		g.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		g.t.Fatal(err)
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			g.t.Fatalf("%s %s: %d %s: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode, resp.Header
}

// delegate issues a vault token for one payment of merchant.
func (g *gateway) delegate(merchant, session, card string) string {
	g.t.Helper()
	g.n++
	body := map[string]any{
		"payment_method": map[string]any{
			"type": "card", "card_number_type": "fpan", "number": card,
			"exp_month": "12", "exp_year": "2030", "name": "Jane Doe", "cvc": "123",
			"checks_performed": []string{"cvv"}, "display_card_funding_type": "credit",
			"display_brand": "visa", "display_last4": card[len(card)-4:], "metadata": map[string]any{},
		},
		"allowance": map[string]any{
			"reason": "one_time", "max_amount": amount, "currency": "usd",
			"checkout_session_id": session, "merchant_id": merchant,
			"expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
		},
		"risk_signals": []map[string]any{{"type": "card_testing", "score": 2, "action": "authorized"}},
		"metadata":     map[string]any{"source": "e2e"},
	}
	var tok struct {
		ID string `json:"id"`
	}
	code, _ := g.call(http.MethodPost, "/agentic_commerce/delegate_payment", "agent-key", fmt.Sprintf("dp-%d", g.n), body, &tok)
	if code != http.StatusCreated || !strings.HasPrefix(tok.ID, "vt_") {
		g.t.Fatalf("delegate_payment: %d, token %q", code, tok.ID)
	}
	return tok.ID
}

// --- traffic and what it should produce -------------------------------------

type key2 struct{ a, b string }

// traffic sends payments and keeps the tally Prometheus must agree with.
type traffic struct {
	gw    *gateway
	phase int
	// status counts payments by processor and status, over both phases;
	// measured over phase 2 only.
	status, measured map[key2]int
	// failovers by from, to.
	failovers map[key2]int
	// initech503 counts initech's 503s: the first payment after the circuit
	// opened probes mock_c (failed on mock_c), the others find no processor.
	initech503 int
	// approved are payment ids by merchant key, for the final fee read.
	approved map[string]string
	// measuredFee and measuredAmount: phase 2 estimated fees and amounts
	// of approved payments by processor.
	measuredFee, measuredAmount map[string]int64
	// calls and callErrors: phase 2 processor calls and failed calls.
	calls, callErrors map[string]int
	nonApproved       int
	// Filled by finalFees from the payments as acpgw stores them.
	feeEstimated, feeActual, volume map[string]int64
	lastIdem                        struct{ key, merchantKey string }
	lastBody                        map[string]any
	// auth and authMeasured: Delegate Authentication sessions ended and
	// provider calls, over both phases and over phase 2.
	auth, authMeasured authTally
	// shopper is the browser that plays the 3-D Secure pages.
	shopper *mock3dstest.Browser
}

func newTraffic(gw *gateway) *traffic {
	return &traffic{
		gw: gw, status: map[key2]int{}, measured: map[key2]int{}, failovers: map[key2]int{},
		approved: map[string]string{}, measuredFee: map[string]int64{}, measuredAmount: map[string]int64{},
		calls: map[string]int{}, callErrors: map[string]int{},
		auth: newAuthTally(), authMeasured: newAuthTally(),
	}
}

func merchantKey(merchant string) string { return merchant + "-key" }

// count records one payment that reached status on processor.
func (tr *traffic) count(processor, status string) {
	tr.status[key2{processor, status}]++
	if tr.phase == 2 {
		tr.measured[key2{processor, status}]++
	}
}

// call records a processor call of the measured phase.
func (tr *traffic) call(processor string, failed bool) {
	if tr.phase != 2 {
		return
	}
	tr.calls[processor]++
	if failed {
		tr.callErrors[processor]++
	}
}

// pay delegates a token and charges it; the answer must have wantCode and,
// for a payment, the processor and status given.
func (tr *traffic) pay(merchant, card, capture string, wantCode int, wantProcessor, wantStatus string) paymentView {
	t := tr.gw.t
	t.Helper()
	session := fmt.Sprintf("cs_%s_%d", merchant, tr.gw.n+1)
	tok := tr.gw.delegate(merchant, session, card)
	idem := fmt.Sprintf("pay-%s-%d", merchant, tr.gw.n)
	body := map[string]any{
		"merchant_id": merchant, "checkout_session_id": session, "amount": amount, "currency": "usd",
		"payment_data": map[string]any{"token": tok, "provider": "stripe"}, "capture": capture,
		"metadata": map[string]any{"order_id": idem},
	}
	var p paymentView
	code, _ := tr.gw.call(http.MethodPost, "/v1/payments", merchantKey(merchant), idem, body, &p)
	if code != wantCode {
		t.Fatalf("%s pays with %s: HTTP %d, want %d", merchant, card, code, wantCode)
	}
	if code >= 300 {
		tr.nonApproved++
		return p
	}
	if p.Processor != wantProcessor || p.Status != wantStatus || p.Amount != amount {
		t.Fatalf("%s pays with %s: %s on %s (amount %d), want %s on %s", merchant, card, p.Status, p.Processor, p.Amount, wantStatus, wantProcessor)
	}
	tr.count(p.Processor, p.Status)
	tr.call(p.Processor, false)
	switch p.Status {
	case "authorized", "captured", "pending":
		tr.approved[p.ID] = merchantKey(merchant)
		if tr.phase == 2 {
			tr.measuredFee[p.Processor] += p.Fee.Estimated
			tr.measuredAmount[p.Processor] += p.Amount
		}
	default:
		tr.nonApproved++
	}
	tr.lastIdem.key, tr.lastIdem.merchantKey, tr.lastBody = idem, merchantKey(merchant), body
	return p
}

// fail sends a processor-error card through merchant's processors: every
// candidate errors before processing, the payment fails (503, nothing
// charged), and it fails over between candidates.
func (tr *traffic) fail(merchant string, candidates ...string) {
	tr.pay(merchant, cardProcError, "automatic", http.StatusServiceUnavailable, "", "")
	for i, c := range candidates {
		tr.call(c, true)
		if i > 0 {
			tr.failovers[key2{candidates[i-1], c}]++
		}
	}
	tr.count(candidates[len(candidates)-1], "failed")
}

// mix sends rounds of the standard mix: for acme an automatic and a manual
// (then captured) approval, a decline and a processor error; for globex an
// approval, a decline (soft in odd rounds) and a processor error; one
// refund; and initech's processor error (503 either way).
func (tr *traffic) mix(rounds int) {
	t := tr.gw.t
	for r := range rounds {
		auto := tr.pay("acme", cardApprove, "automatic", http.StatusCreated, "mock_a", "captured")
		manual := tr.pay("acme", cardApprove, "manual", http.StatusCreated, "mock_a", "authorized")
		var captured paymentView
		code, _ := tr.gw.call(http.MethodPost, "/v1/payments/"+manual.ID+"/capture", "acme-key",
			"cap-"+manual.ID, map[string]any{}, &captured)
		if code != http.StatusOK || captured.Status != "captured" {
			t.Fatalf("capture %s: HTTP %d, status %q", manual.ID, code, captured.Status)
		}
		tr.call("mock_a", false)
		if r == 0 {
			var refunded paymentView
			code, _ := tr.gw.call(http.MethodPost, "/v1/payments/"+auto.ID+"/refunds", "acme-key",
				"ref-"+auto.ID, map[string]any{"amount": 500}, &refunded)
			if code != http.StatusCreated {
				t.Fatalf("refund %s: HTTP %d", auto.ID, code)
			}
			tr.call("mock_a", false)
		}
		tr.pay("acme", cardDecline, "automatic", http.StatusCreated, "mock_a", "declined")
		tr.fail("acme", "mock_a", "mock_b")

		tr.pay("globex", cardApprove, "automatic", http.StatusCreated, "mock_b", "captured")
		decline := cardDecline
		if r%2 == 1 {
			decline = cardSoftDecline
		}
		tr.pay("globex", decline, "automatic", http.StatusCreated, "mock_b", "declined")
		tr.fail("globex", "mock_b", "mock_a")

		tr.pay("initech", cardProcError, "automatic", http.StatusServiceUnavailable, "", "")
		tr.initech503++
	}
}

// replay repeats the last payment request with its Idempotency-Key: the
// stored answer comes back and nothing is counted again.
func (tr *traffic) replay() {
	t := tr.gw.t
	var p paymentView
	code, h := tr.gw.call(http.MethodPost, "/v1/payments", tr.lastIdem.merchantKey, tr.lastIdem.key, tr.lastBody, &p)
	if code != http.StatusCreated || h.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: HTTP %d, Idempotent-Replayed %q", code, h.Get("Idempotent-Replayed"))
	}
}

// waitSettled polls a pending payment until reconciliation gives it
// status.
func (tr *traffic) waitSettled(merchant string, p paymentView, status string, within time.Duration) {
	t := tr.gw.t
	deadline := time.Now().Add(within)
	for {
		var got paymentView
		code, _ := tr.gw.call(http.MethodGet, "/v1/payments/"+p.ID, merchantKey(merchant), "", nil, &got)
		if code == http.StatusOK && got.Status == status {
			tr.count(got.Processor, status)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("payment %s: %d %q, not %s within %s", p.ID, code, got.Status, status, within)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// finalFees reads every approved payment back and totals its fees and
// amount by processor, as acpgw stored them.
func (tr *traffic) finalFees() {
	t := tr.gw.t
	tr.feeEstimated, tr.feeActual, tr.volume = map[string]int64{}, map[string]int64{}, map[string]int64{}
	for id, key := range tr.approved {
		var p paymentView
		if code, _ := tr.gw.call(http.MethodGet, "/v1/payments/"+id, key, "", nil, &p); code != http.StatusOK {
			t.Fatalf("GET payment %s: %d", id, code)
		}
		tr.feeEstimated[p.Processor] += p.Fee.Estimated
		tr.volume[p.Processor] += p.Amount
		if p.Fee.Actual == nil {
			t.Fatalf("payment %s (%s) has no actual fee; the mock reports one on every capture", id, p.Status)
		}
		tr.feeActual[p.Processor] += *p.Fee.Actual
	}
}

// --- Prometheus's HTTP API ----------------------------------------------

type promAPI struct {
	t    *testing.T
	base string
	// at is the evaluation time of checks; zero means now.
	at time.Time
}

// sample is one element of an instant vector.
type sample struct {
	Metric map[string]string
	Value  float64
}

func (s sample) String() string {
	var keys []string
	for k := range s.Metric {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, k+"="+strconv.Quote(s.Metric[k]))
	}
	return "{" + strings.Join(parts, ",") + "} " + strconv.FormatFloat(s.Value, 'g', 6, 64)
}

// query evaluates expr as an instant query at p.at.
func (p *promAPI) query(expr string) ([]sample, error) {
	form := url.Values{"query": {expr}}
	if !p.at.IsZero() {
		form.Set("time", strconv.FormatFloat(float64(p.at.UnixNano())/1e9, 'f', 3, 64))
	}
	ctx, cancel := context.WithTimeout(p.t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.base+"/api/v1/query", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			ResultType string `json:"resultType"`
			Result     []struct {
				Metric map[string]string `json:"metric"`
				Value  [2]any            `json:"value"`
			} `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, fmt.Errorf("decode answer (HTTP %d): %w", resp.StatusCode, err)
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("query failed: %s", r.Error)
	}
	if r.Data.ResultType != "vector" {
		return nil, fmt.Errorf("result type %s, want vector", r.Data.ResultType)
	}
	out := make([]sample, 0, len(r.Data.Result))
	for _, e := range r.Data.Result {
		s, _ := e.Value[1].(string)
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("value %v: %w", e.Value[1], err)
		}
		out = append(out, sample{Metric: e.Metric, Value: v})
	}
	return out, nil
}

// mustQuery is query that fails the test on error.
func (p *promAPI) mustQuery(expr string) []sample {
	p.t.Helper()
	res, err := p.query(expr)
	if err != nil {
		p.t.Fatalf("query %s: %v", expr, err)
	}
	return res
}

// waitScrapedAfter waits until Prometheus holds a scrape of acpgw taken
// after t0, so that everything done before t0 is in it, and returns the
// scrape's time.
func (p *promAPI) waitScrapedAfter(t0 time.Time, within time.Duration) time.Time {
	p.t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		res, err := p.query(`timestamp(acpgw_build_info)`)
		switch {
		case err != nil:
			last = err.Error()
		case len(res) == 0:
			last = "no acpgw_build_info yet"
		default:
			ts := time.Unix(0, int64(res[0].Value*1e9))
			if ts.After(t0) {
				return ts
			}
			last = "last scrape at " + ts.Format(time.RFC3339Nano)
		}
		time.Sleep(200 * time.Millisecond)
	}
	p.t.Fatalf("Prometheus did not scrape acpgw after %s within %s: %s", t0.Format(time.RFC3339Nano), within, last)
	return time.Time{}
}

// waitRulesEvaluatedAfter waits until every rule group has been evaluated
// after t0 (the groups' lastEvaluation in /api/v1/rules) and returns the
// earliest of those evaluations.
func (p *promAPI) waitRulesEvaluatedAfter(t0 time.Time, within time.Duration) time.Time {
	p.t.Helper()
	deadline := time.Now().Add(within)
	var last string
	for time.Now().Before(deadline) {
		earliest, err := p.lastEvaluation()
		switch {
		case err != nil:
			last = err.Error()
		case earliest.After(t0):
			return earliest
		default:
			last = "a group was last evaluated at " + earliest.Format(time.RFC3339Nano)
		}
		time.Sleep(200 * time.Millisecond)
	}
	p.t.Fatalf("Prometheus did not evaluate every rule group after %s within %s: %s", t0.Format(time.RFC3339Nano), within, last)
	return time.Time{}
}

// lastEvaluation returns the earliest lastEvaluation of the rule groups.
func (p *promAPI) lastEvaluation() (time.Time, error) {
	ctx, cancel := context.WithTimeout(p.t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+"/api/v1/rules", nil)
	if err != nil {
		return time.Time{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return time.Time{}, err
	}
	defer resp.Body.Close()
	var r struct {
		Status string `json:"status"`
		Data   struct {
			Groups []struct {
				Name           string    `json:"name"`
				LastEvaluation time.Time `json:"lastEvaluation"`
			} `json:"groups"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return time.Time{}, fmt.Errorf("decode rules (HTTP %d): %w", resp.StatusCode, err)
	}
	if r.Status != "success" || len(r.Data.Groups) == 0 {
		return time.Time{}, fmt.Errorf("rules: status %q, %d groups", r.Status, len(r.Data.Groups))
	}
	earliest := r.Data.Groups[0].LastEvaluation
	for _, g := range r.Data.Groups[1:] {
		if g.LastEvaluation.Before(earliest) {
			earliest = g.LastEvaluation
		}
	}
	return earliest, nil
}

// byLabel indexes samples by the values of labels.
func byLabel(res []sample, labels ...string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range res {
		var parts []string
		for _, l := range labels {
			parts = append(parts, s.Metric[l])
		}
		out[strings.Join(parts, "/")] = s.Value
	}
	return out
}

// --- checks ------------------------------------------------------------

// checkRawCounters: the counters as Prometheus scraped them equal the
// traffic exactly: payments by processor and status, fees and volume as
// the payments say, failovers.
func checkRawCounters(t *testing.T, prom *promAPI, tr *traffic) {
	t.Run("raw counters", func(t *testing.T) {
		got := byLabel(prom.mustQuery(`sum by (processor, status) (acpgw_payments_total)`), "processor", "status")
		for k, n := range tr.status {
			if k.a == "mock_c" {
				continue
			}
			if got[k.a+"/"+k.b] != float64(n) {
				t.Errorf("acpgw_payments_total{processor=%q,status=%q} = %v, sent %d", k.a, k.b, got[k.a+"/"+k.b], n)
			}
		}
		// initech: the first payment failed on mock_c and opened its circuit;
		// of the later ones, those that came after open_for probed mock_c
		// (failed there), the others found no processor (no payment).
		if c := got["mock_c/failed"]; c < 2 || c > float64(tr.initech503) {
			t.Errorf("mock_c failed payments = %v, want 2..%d", c, tr.initech503)
		}
		for k := range got {
			proc, status, _ := strings.Cut(k, "/")
			if _, sent := tr.status[key2{proc, status}]; !sent && k != "mock_c/failed" {
				t.Errorf("payments_total has %s = %v, but no such payment was sent", k, got[k])
			}
		}

		for _, c := range []struct {
			expr string
			want map[string]int64
		}{
			{`sum by (processor) (acpgw_fees_total{kind="estimated",currency="usd"})`, tr.feeEstimated},
			{`sum by (processor) (acpgw_fees_total{kind="actual",currency="usd"})`, tr.feeActual},
			{`sum by (processor) (acpgw_payment_amount_total{currency="usd"})`, tr.volume},
		} {
			got := byLabel(prom.mustQuery(c.expr), "processor")
			if len(got) != len(c.want) {
				t.Errorf("%s: %v, payments say %v", c.expr, got, c.want)
			}
			for proc, v := range c.want {
				if got[proc] != float64(v) {
					t.Errorf("%s: %s = %v, payments say %d", c.expr, proc, got[proc], v)
				}
			}
		}

		fo := byLabel(prom.mustQuery(`sum by (from, to) (acpgw_failovers_total{reason="not_processed"})`), "from", "to")
		for k, n := range tr.failovers {
			if fo[k.a+"/"+k.b] != float64(n) {
				t.Errorf("failovers %s -> %s = %v, sent %d", k.a, k.b, fo[k.a+"/"+k.b], n)
			}
		}
		one(t, prom, `acpgw_circuit_state{processor="mock_c"}`, 2)
		one(t, prom, `acpgw_processor_up{processor="mock_c"}`, 0)
		one(t, prom, `acpgw_config_reload_success`, 1)
		one(t, prom, `acpgw_pending_attempts`, 0)
		one(t, prom, `sum(acpgw_reconciliations_total{processor="mock",result="resolved"})`, 1)
		one(t, prom, `sum(acpgw_idempotency_total{route="/v1/payments",result="replayed"})`, 1)
		one(t, prom, `sum(acpgw_routing_decisions_total{strategy="priority",processor="none",reason="no_viable_processor"})`,
			float64(tr.initech503)-(got["mock_c/failed"]))
	})
}

// one checks that expr has exactly one sample, equal to want.
func one(t *testing.T, prom *promAPI, expr string, want float64) {
	t.Helper()
	res := prom.mustQuery(expr)
	if len(res) != 1 || res[0].Value != want {
		t.Errorf("%s = %v, want one sample of %v", expr, res, want)
	}
}

// ratioWant is an expected per-processor value with its tolerance.
type ratioWant struct {
	want, tol float64
}

// checkRecordingRules evaluates every recording rule, both as Prometheus
// recorded it and as its expression, and compares the key ones with the
// measured traffic.
func checkRecordingRules(t *testing.T, prom *promAPI, tr *traffic) {
	measuredRatio := func(num, den func(proc string) float64) map[string]float64 {
		out := map[string]float64{}
		for _, proc := range []string{"mock_a", "mock_b"} {
			out[proc] = num(proc) / den(proc)
		}
		return out
	}
	success := measuredRatio(
		func(p string) float64 {
			return float64(tr.measured[key2{p, "captured"}] + tr.measured[key2{p, "authorized"}])
		},
		func(p string) float64 {
			return float64(tr.measured[key2{p, "captured"}] + tr.measured[key2{p, "authorized"}] +
				tr.measured[key2{p, "declined"}] + tr.measured[key2{p, "failed"}])
		})
	errRatio := measuredRatio(
		func(p string) float64 { return float64(tr.callErrors[p]) },
		func(p string) float64 { return float64(tr.calls[p]) })
	bps := measuredRatio(
		func(p string) float64 { return 10000 * float64(tr.measuredFee[p]) },
		func(p string) float64 { return float64(tr.measuredAmount[p]) })
	t.Logf("measured phase: success %v, processor errors %v, estimated bps %v", success, errRatio, bps)

	// Exact where every series of the ratio saw its first event in phase
	// 1; looser where a series also moved during phase 1 after its first
	// scrape (the extra event is then inside the rate window).
	wants := map[string]map[string]ratioWant{
		"processor:acpgw_payments_success:ratio_rate5m": {
			"mock_a": {success["mock_a"], 0.01}, "mock_b": {success["mock_b"], 0.01}, "mock_c": {0, 0},
		},
		"processor:acpgw_processor_errors:ratio_rate5m": {
			"mock_a": {errRatio["mock_a"], 0.05}, "mock_b": {errRatio["mock_b"], 0.05}, "mock_c": {1, 0},
		},
	}
	// A record name may have several rules (the contract ceilings): the
	// recorded series are the union of their expressions' results.
	var names []string
	exprs := map[string][]string{}
	for _, r := range loadRules(t) {
		if r.Record == "" {
			continue
		}
		if exprs[r.Record] == nil {
			names = append(names, r.Record)
		}
		exprs[r.Record] = append(exprs[r.Record], r.Expr)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			recorded := finite(t, prom, name)
			var direct []sample
			for _, expr := range exprs[name] {
				direct = append(direct, finite(t, prom, expr)...)
			}
			if len(recorded) != len(direct) {
				t.Errorf("recorded series %v, expressions %v", recorded, direct)
			}
			if w, ok := wants[name]; ok {
				got := byLabel(recorded, "processor")
				t.Logf("%s: %v", name, got)
				for proc, want := range w {
					if v, ok := got[proc]; !ok || math.Abs(v-want.want) > want.tol {
						t.Errorf("%s = %v (all: %v), want %v ± %v", proc, v, got, want.want, want.tol)
					}
				}
			}
			switch {
			case strings.HasPrefix(name, "processor:acpgw_processor_request_duration_seconds:"):
				got := byLabel(recorded, "processor")
				// Simulated latencies: mock_a 20ms, mock_b 5ms.
				if v := got["mock_a"]; v < 0.015 || v > 0.25 {
					t.Errorf("mock_a latency %v s, configured 20ms", v)
				}
				if v := got["mock_b"]; v < 0.004 || v > 0.25 {
					t.Errorf("mock_b latency %v s, configured 5ms", v)
				}
				// The tails can meet under a loaded CI machine; the medians
				// cannot.
				if strings.HasSuffix(name, ":p50_rate5m") && got["mock_b"] >= got["mock_a"] {
					t.Errorf("median latency mock_b %v >= mock_a %v; configured 5ms and 20ms", got["mock_b"], got["mock_a"])
				}
			case strings.HasPrefix(name, "processor:acpgw_authorize_slow:"):
				for _, s := range recorded {
					if !math.IsNaN(s.Value) && s.Value != 0 {
						t.Errorf("%s: no call took 1s, got %v", name, s)
					}
				}
			case strings.HasPrefix(name, "processor_currency_kind:acpgw_fees_bps:"):
				got := byLabel(recorded, "processor", "currency", "kind")
				for _, proc := range []string{"mock_a", "mock_b"} {
					if v := got[proc+"/usd/estimated"]; math.Abs(v-bps[proc]) > 0.01*bps[proc] {
						t.Errorf("%s estimated %v bps, payments say %v", proc, v, bps[proc])
					}
					// Actual fees of manual payments arrive at capture, a moment
					// after the amount: one payment may fall either side of a
					// scrape.
					if v := got[proc+"/usd/actual"]; math.Abs(v-bps[proc]) > 0.15*bps[proc] {
						t.Errorf("%s actual %v bps, payments say about %v", proc, v, bps[proc])
					}
				}
			case name == "processor_currency:acpgw_fees_actual_over_estimated:ratio_rate1h":
				// The mock charges what the fee schedule estimates.
				for _, s := range recorded {
					if !math.IsNaN(s.Value) && math.Abs(s.Value-1) > 0.15 {
						t.Errorf("actual/estimated %v, the mock charges the estimate", s)
					}
				}
			case name == "processor:acpgw_fee_contract_bps":
				if len(recorded) < 1 {
					t.Error("no contract ceilings")
				}
			}
		})
	}
}

// finite evaluates expr and requires data with at least one finite value
// (a processor without traffic in a rate window is NaN, as it should be).
func finite(t *testing.T, prom *promAPI, expr string) []sample {
	t.Helper()
	res, err := prom.query(expr)
	if err != nil {
		t.Errorf("query %s: %v", expr, err)
		return nil
	}
	if len(res) == 0 {
		t.Errorf("no data for %s", expr)
		return nil
	}
	for _, s := range res {
		if !math.IsNaN(s.Value) && !math.IsInf(s.Value, 0) {
			return res
		}
	}
	t.Errorf("%s: only NaN or infinite values: %v", expr, res)
	return res
}

// grafanaVars are concrete values for the dashboards' template variables,
// as Grafana would substitute them for this run.
var grafanaVars = []struct{ name, value string }{
	{"${datasource}", "prometheus"},
	{"$__rate_interval", "1m"},
	{"$__range", "10m"},
	{"$processor", "mock_a|mock_b|mock_c|mock"},
	{"$currency", "usd"},
}

// expand substitutes grafanaVars in expr.
func expand(expr string) (string, error) {
	for _, v := range grafanaVars {
		expr = strings.ReplaceAll(expr, v.name, v.value)
	}
	if i := strings.IndexByte(expr, '$'); i >= 0 && !strings.Contains(expr, `"$1"`) {
		return expr, errors.New("unsubstituted variable at " + expr[i:])
	}
	return expr, nil
}

// checkDashboards evaluates every dashboard expression and compares a few
// with the traffic (among them the Delegate Authentication row's).
func checkDashboards(t *testing.T, prom *promAPI, tr *traffic) {
	for _, e := range dashboardExprs(t) {
		t.Run(e.Dashboard+"/"+e.Panel, func(t *testing.T) {
			expr, err := expand(e.Expr)
			if err != nil {
				t.Fatal(err)
			}
			res := finite(t, prom, expr)
			for _, s := range res {
				if s.Value < 0 && !strings.Contains(e.Panel, "minus") {
					t.Errorf("negative value %v", s)
				}
			}
			switch e.Panel {
			case "Least-cost savings (approximation)":
				// globex's payments went to the cheaper mock_b.
				if got := byLabel(res, "currency")["usd"]; got <= 0 {
					t.Errorf("savings %v, want > 0: least_cost chose the cheaper processor", res)
				}
			case "Event deliveries by result":
				// acme's events reach the receiver.
				if got := byLabel(res, "merchant", "result")["acme/delivered"]; got <= 0 {
					t.Errorf("acme's delivered events %v, want > 0: %v", got, res)
				}
			case "Circuit state":
				if got := byLabel(res, "processor")["mock_c"]; got != 2 {
					t.Errorf("mock_c circuit %v, want 2 (open)", got)
				}
			case "Authentication sessions ended by status":
				checkAuthPanel(t, res, "provider", "status", tr.auth.ended, tr.authMeasured.ended)
			case "Authentication provider calls by step":
				checkAuthPanel(t, res, "provider", "step", tr.auth.steps, tr.authMeasured.steps)
			case "Authentication provider latency p95 by step":
				checkAuthLatencyPanel(t, res, tr.authMeasured.steps)
			case "Fees in range by processor and currency":
				// Increase over the range misses what preceded each series'
				// first scrape, and extrapolates: plausible, not exact.
				// mock's only payment came before its series' first scrape.
				got := byLabel(res, "processor", "kind")
				for proc, want := range tr.feeEstimated {
					if v := got[proc+"/estimated"]; v > 1.2*float64(want) || (proc != "mock" && v < 0.5*float64(want)) {
						t.Errorf("%s estimated fees in range %v, payments say %d in all", proc, v, want)
					}
				}
			}
		})
	}
}
