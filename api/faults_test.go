package api_test

import (
	"bytes"
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"acpgw/gateway"
	"acpgw/providers"
	"acpgw/providers/mock"
	"acpgw/providers/mock/mockhttp"
)

// faultMode is what the fault proxy does with the requests it gets.
type faultMode int

const (
	// faultForward passes requests to the processor and answers back.
	faultForward faultMode = iota
	// faultRefuse closes the proxy's port: connections are refused.
	faultRefuse
	// faultHang reads the request whole and never answers.
	faultHang
	// faultReset reads the request whole, forwards nothing, and resets
	// the connection (SO_LINGER 0), so the client sees an RST.
	faultReset
	// faultResetAfterCharge forwards the request, lets the processor act,
	// and resets the connection instead of answering.
	faultResetAfterCharge
	// faultBurst answers the next burst requests 500 without forwarding
	// them, then forwards.
	faultBurst
	// faultSlowBody forwards, then trickles the answer's body a byte at a
	// time, far slower than the processor timeout.
	faultSlowBody
)

// rigTimeout is the processor timeout of a and b in the fault rig: long
// enough that a request reaches the processor (and charges) before it
// ends, even on a loaded machine under -race; the faults that hang wait it
// out.
const rigTimeout = 2 * time.Second

// slowByteEvery is how often the slow-body mode sends one byte; an answer
// of ~100 bytes then takes several times rigTimeout. (This paces the fault,
// it synchronises nothing.)
const slowByteEvery = 80 * time.Millisecond

// faultProxy is a TCP listener on loopback in front of a mockhttp Server
// that injects faults per request. It counts the connections it accepted
// and the requests it read.
type faultProxy struct {
	t        *testing.T
	addr     string
	upstream string
	srv      *http.Server
	client   *http.Client
	conns    atomic.Int32
	requests atomic.Int32

	mu    sync.Mutex
	mode  faultMode
	burst int
	ln    net.Listener // nil while refusing
	live  map[net.Conn]bool
	wg    sync.WaitGroup
}

func newFaultProxy(t *testing.T, mode faultMode, burst int) *faultProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{
		t:      t,
		addr:   ln.Addr().String(),
		client: &http.Client{Transport: &http.Transport{}},
		live:   map[net.Conn]bool{},
	}
	p.srv = &http.Server{
		Handler:  p,
		ErrorLog: log.New(io.Discard, "", 0),
		ConnState: func(c net.Conn, s http.ConnState) {
			p.mu.Lock()
			defer p.mu.Unlock()
			switch s {
			case http.StateNew:
				p.conns.Add(1)
				p.live[c] = true
			case http.StateClosed, http.StateHijacked:
				delete(p.live, c)
			}
		},
	}
	p.serve(ln)
	t.Cleanup(func() {
		p.srv.Close()
		p.wg.Wait()
		p.client.CloseIdleConnections()
	})
	p.setMode(mode, burst)
	return p
}

func (p *faultProxy) url() string { return "http://" + p.addr }

// serve accepts on ln until it is closed. It is called with p.mu held or
// before the proxy is shared.
func (p *faultProxy) serve(ln net.Listener) {
	p.ln = ln
	p.wg.Go(func() { _ = p.srv.Serve(ln) })
}

// setMode switches the mode; burst is the number of 500s of faultBurst.
// Refusing closes the port and every open connection; leaving it listens
// on the same port again.
func (p *faultProxy) setMode(m faultMode, burst int) {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.mode, p.burst = m, burst
	switch {
	case m == faultRefuse && p.ln != nil:
		p.ln.Close()
		p.ln = nil
		for c := range p.live {
			c.Close()
		}
	case m != faultRefuse && p.ln == nil:
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			p.t.Fatalf("fault proxy: listen again on %s: %v", p.addr, err)
		}
		p.serve(ln)
	}
}

// setUpstream sets the processor's address; it is called before any request.
func (p *faultProxy) setUpstream(u string) {
	p.mu.Lock()
	p.upstream = u
	p.mu.Unlock()
}

func (p *faultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	p.requests.Add(1)
	p.mu.Lock()
	mode, upstream := p.mode, p.upstream
	burst := mode == faultBurst && p.burst > 0
	if burst {
		p.burst--
	}
	p.mu.Unlock()

	switch mode {
	case faultHang:
		<-r.Context().Done() // the client gave up, or the test ended
	case faultReset:
		reset(w)
	case faultResetAfterCharge:
		if resp, err := p.forward(r, upstream, body); err == nil {
			resp.Body.Close()
		}
		reset(w)
	case faultBurst:
		if !burst {
			p.answer(w, r, upstream, body, false)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Connection", "close")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"code":"internal_error","message":"fault proxy: burst"}`)
	case faultSlowBody:
		p.answer(w, r, upstream, body, true)
	default:
		p.answer(w, r, upstream, body, false)
	}
}

// forward sends the request to the processor, ending with the client's
// connection.
func (p *faultProxy) forward(r *http.Request, upstream string, body []byte) (*http.Response, error) {
	out, err := http.NewRequestWithContext(r.Context(), r.Method, upstream+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	out.Header = r.Header.Clone()
	return p.client.Do(out)
}

// answer forwards and copies the processor's answer back, a byte at a time
// when slow.
func (p *faultProxy) answer(w http.ResponseWriter, r *http.Request, upstream string, body []byte, slow bool) {
	resp, err := p.forward(r, upstream, body)
	if err != nil {
		reset(w)
		return
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		reset(w)
		return
	}
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(resp.StatusCode)
	if !slow {
		_, _ = w.Write(data)
		return
	}
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	for i := range data {
		select {
		case <-r.Context().Done():
			return
		case <-time.After(slowByteEvery):
		}
		if _, err := w.Write(data[i : i+1]); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	}
}

// reset closes the client's connection with SO_LINGER 0: an RST, not a FIN.
func reset(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}

// faultRig is a gateway whose merchant acme routes [a, b] by priority, both
// mock processors behind mockhttp Servers over real sockets: a through the
// fault proxy, b directly.
type faultRig struct {
	h      *harness
	proxy  *faultProxy
	ledger map[string]string // processor -> its Server's URL, bypassing the proxy
}

// newFaultRig builds the rig with the proxy in mode (burst: the number of
// 500s of faultBurst); circuit is a's circuit object in flow style, or "".
func newFaultRig(t *testing.T, mode faultMode, burst int, circuit string) *faultRig {
	t.Helper()
	rig := &faultRig{proxy: newFaultProxy(t, mode, burst), ledger: map[string]string{}}
	aExtra := ""
	if circuit != "" {
		aExtra = ", circuit: " + circuit
	}
	var mu sync.Mutex
	rig.h = newHarness(t, harnessOpts{
		processors: "  mock: {type: mock}\n" +
			"  a: {type: mock, timeout: " + rigTimeout.String() + aExtra + "}\n" +
			"  b: {type: mock, timeout: " + rigTimeout.String() + "}\n",
		acmeProcessors: "[a, b]",
		acmeRouting:    "{strategy: priority}",
		wrap: func(p providers.Provider) providers.Provider {
			m, ok := p.(*mock.Provider)
			if !ok || (m.Name() != "a" && m.Name() != "b") {
				return p
			}
			srv := httptest.NewServer(mockhttp.NewServer(m))
			t.Cleanup(srv.Close)
			url := srv.URL
			if m.Name() == "a" {
				rig.proxy.setUpstream(srv.URL)
				url = rig.proxy.url()
			}
			mu.Lock()
			rig.ledger[m.Name()] = srv.URL
			mu.Unlock()
			c, err := mockhttp.NewClient(mockhttp.ClientConfig{Name: m.Name(), URL: url, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c
		},
	})
	return rig
}

// charges returns the processor's ledger, read over HTTP from its Server.
func (r *faultRig) charges(t *testing.T, processor string) []mock.Charge {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ch, err := mockhttp.FetchLedger(ctx, r.ledger[processor])
	if err != nil {
		t.Fatalf("ledger of %s: %v", processor, err)
	}
	return ch
}

// wantCharges checks the number of charges in a's and b's ledgers.
func (r *faultRig) wantCharges(t *testing.T, why string, a, b int) {
	t.Helper()
	if na, nb := len(r.charges(t, "a")), len(r.charges(t, "b")); na != a || nb != b {
		t.Fatalf("%s: ledgers a=%d b=%d charges, want a=%d b=%d", why, na, nb, a, b)
	}
}

// authorizeCalls is how many authorizations reached the processor's mock.
func (r *faultRig) authorizeCalls(processor string) int {
	return r.h.mocks[processor].Calls(providers.OpAuthorize)
}

// payment gets the payment by id.
func (r *faultRig) payment(t *testing.T, id string) response {
	t.Helper()
	resp := r.h.do(req{method: http.MethodGet, path: "/v1/payments/" + id, key: acmeKey})
	mustStatus(t, resp, http.StatusOK)
	return resp
}

// reconcile runs one reconciliation pass, first moving the clock past the
// lease of the pass before, so that this pass may take the attempt again.
func (r *faultRig) reconcile(t *testing.T) (resolved, pending int) {
	t.Helper()
	const lease = time.Minute
	r.h.clock.advance(lease + time.Second)
	resolved, pending, err := r.h.svc.Reconcile(t.Context(), gateway.ReconcileOptions{Lease: lease})
	if err != nil {
		t.Fatalf("reconcile: %v", err)
	}
	return resolved, pending
}

// attempts returns the processor and outcome of each of the payment's
// attempts.
func attempts(t *testing.T, r response) [][2]string {
	t.Helper()
	list, _ := r.body["attempts"].([]any)
	out := make([][2]string, 0, len(list))
	for _, a := range list {
		m, _ := a.(map[string]any)
		p, _ := m["processor"].(string)
		o, _ := m["outcome"].(string)
		out = append(out, [2]string{p, o})
	}
	return out
}

func wantAttempts(t *testing.T, r response, want ...[2]string) {
	t.Helper()
	got := attempts(t, r)
	if len(got) != len(want) {
		t.Fatalf("attempts %v, want %v: %s", got, want, r.raw)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("attempts %v, want %v: %s", got, want, r.raw)
		}
	}
}

// routing returns the payment's candidates and skipped processors with
// their reasons.
func routingOf(r response) (candidates []string, skipped map[string]string) {
	rt, _ := r.body["routing"].(map[string]any)
	cs, _ := rt["candidates"].([]any)
	for _, c := range cs {
		m, _ := c.(map[string]any)
		name, _ := m["processor"].(string)
		candidates = append(candidates, name)
	}
	skipped = map[string]string{}
	ss, _ := rt["skipped"].([]any)
	for _, s := range ss {
		m, _ := s.(map[string]any)
		name, _ := m["processor"].(string)
		reason, _ := m["reason"].(string)
		skipped[name] = reason
	}
	return candidates, skipped
}

// metricValue returns the value of the counter or gauge name with labels,
// 0 when the series does not exist.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue series
				}
			}
			if m.GetCounter() != nil {
				return m.GetCounter().GetValue()
			}
			return m.GetGauge().GetValue()
		}
	}
	return 0
}

func failovers(t *testing.T, h *harness) float64 {
	t.Helper()
	return metricValue(t, h.reg, "acpgw_failovers_total", map[string]string{"from": "a", "to": "b", "reason": "not_processed"})
}

// TestFaultConnectionRefused: a's port is closed, so the request surely
// never reached it: the payment fails over to b and is captured there.
func TestFaultConnectionRefused(t *testing.T) {
	t.Parallel()
	rig := newFaultRig(t, faultRefuse, 0, "")
	r := rig.h.pay(rig.h.delegate("4242424242424242", 1000), 1000, "automatic")
	mustStatus(t, r, http.StatusCreated)
	if r.str("status") != "captured" || r.str("processor") != "b" {
		t.Fatalf("payment: %s", r.raw)
	}
	wantAttempts(t, r, [2]string{"a", "not_processed"}, [2]string{"b", "captured"})
	if cands, _ := routingOf(r); len(cands) != 2 || cands[0] != "a" || cands[1] != "b" {
		t.Fatalf("routing candidates %v, want [a b]", cands)
	}
	rig.wantCharges(t, "after the failover", 0, 1)
	if n := rig.authorizeCalls("a"); n != 0 {
		t.Fatalf("a's processor got %d calls through a closed port", n)
	}
	if n := failovers(t, rig.h); n != 1 {
		t.Fatalf("acpgw_failovers_total{from=a,to=b,reason=not_processed} = %v, want 1", n)
	}
}

// TestFaultCircuitOpen: refusals open a's circuit; then, with a reachable
// again, routing skips it without a call: the proxy sees no connection.
func TestFaultCircuitOpen(t *testing.T) {
	t.Parallel()
	rig := newFaultRig(t, faultRefuse, 0, "{min_requests: 2, failure_percent: 50, window: 1m, open_for: 1m}")
	for i := range 2 {
		r := rig.h.pay(rig.h.delegate("4242424242424242", 1000), 1000, "automatic")
		mustStatus(t, r, http.StatusCreated)
		if r.str("processor") != "b" || len(attempts(t, r)) != 2 {
			t.Fatalf("payment %d did not fail over: %s", i, r.raw)
		}
	}
	if s := metricValue(t, rig.h.reg, "acpgw_circuit_state", map[string]string{"processor": "a"}); s != 2 {
		t.Fatalf("acpgw_circuit_state{processor=a} = %v after two refusals, want 2 (open)", s)
	}

	// a listens again: any call would reach the proxy and a's processor.
	rig.proxy.setMode(faultForward, 0)
	r := rig.h.pay(rig.h.delegate("4242424242424242", 1000), 1000, "automatic")
	mustStatus(t, r, http.StatusCreated)
	if r.str("status") != "captured" || r.str("processor") != "b" {
		t.Fatalf("payment with a's circuit open: %s", r.raw)
	}
	wantAttempts(t, r, [2]string{"b", "captured"})
	cands, skipped := routingOf(r)
	if len(cands) != 1 || cands[0] != "b" || skipped["a"] != "circuit_open" {
		t.Fatalf("routing candidates %v, skipped %v; want [b] with a skipped for circuit_open", cands, skipped)
	}
	if c, n := rig.proxy.conns.Load(), rig.authorizeCalls("a"); c != 0 || n != 0 {
		t.Fatalf("a was called with its circuit open: %d connections to the proxy, %d calls at a", c, n)
	}
	rig.wantCharges(t, "with a's circuit open", 0, 3)
	if n := failovers(t, rig.h); n != 2 {
		t.Fatalf("failovers %v, want 2 (the skip is no failover)", n)
	}
	// The proxy was listening: a call would have been seen.
	if _, err := mockhttp.FetchLedger(t.Context(), rig.proxy.url()); err != nil || rig.proxy.conns.Load() != 1 {
		t.Fatalf("the proxy did not take a connection: %v (%d)", err, rig.proxy.conns.Load())
	}
}

// TestFaultUnknownOutcome covers the faults after the request was written:
// each leaves the payment pending (202) on a, with no call to b, and
// reconciliation through a healthy proxy settles it with exactly one charge
// at a.
func TestFaultUnknownOutcome(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		mode faultMode
		card string
		// burst is the number of 500s; the first goes to the payment, the
		// rest to reconciliation passes that must stay pending.
		burst int
		// charged: a charged before reconciliation (the answer was lost).
		charged bool
	}{
		{name: "accept_then_hang", mode: faultHang},
		{name: "reset_after_request", mode: faultReset},
		{name: "reset_after_charge", mode: faultResetAfterCharge, charged: true},
		{name: "5xx_burst", mode: faultBurst, burst: 3},
		{name: "slow_body", mode: faultSlowBody, charged: true},
		{name: "processor_answer_lost", mode: faultForward, card: "4000000000009979", charged: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rig := newFaultRig(t, tc.mode, tc.burst, "")
			card := tc.card
			if card == "" {
				card = "4242424242424242"
			}
			began := time.Now()
			r := rig.h.pay(rig.h.delegate(card, 1000), 1000, "automatic")
			took := time.Since(began)
			mustStatus(t, r, http.StatusAccepted)
			if r.str("status") != "pending" || r.str("processor") != "a" {
				t.Fatalf("payment: %s", r.raw)
			}
			wantAttempts(t, r, [2]string{"a", "pending"})
			if n := rig.authorizeCalls("b"); n != 0 {
				t.Fatalf("b was called %d times after an unknown outcome at a", n)
			}
			if n := failovers(t, rig.h); n != 0 {
				t.Fatalf("failovers %v after an unknown outcome, want 0", n)
			}
			if took > rigTimeout+5*time.Second {
				t.Fatalf("the payment took %s with a %s processor timeout", took, rigTimeout)
			}
			before := 0
			if tc.charged {
				before = 1
			}
			rig.wantCharges(t, "while pending", before, 0)
			id := r.str("id")

			// The rest of a burst: reconciliation sees 500s and keeps waiting.
			for i := 1; i < tc.burst; i++ {
				if resolved, pending := rig.reconcile(t); resolved != 0 || pending != 1 {
					t.Fatalf("reconcile during the burst: resolved %d, pending %d; want 0, 1", resolved, pending)
				}
				if s := rig.payment(t, id).str("status"); s != "pending" {
					t.Fatalf("status %q during the burst, want pending", s)
				}
			}

			rig.proxy.setMode(faultForward, 0)
			if resolved, pending := rig.reconcile(t); resolved != 1 || pending != 0 {
				t.Fatalf("reconcile: resolved %d, pending %d; want 1, 0", resolved, pending)
			}
			got := rig.payment(t, id)
			if got.str("status") != "captured" || got.str("processor") != "a" {
				t.Fatalf("after reconcile: %s", got.raw)
			}
			wantAttempts(t, got, [2]string{"a", "captured"})
			rig.wantCharges(t, "after reconcile", 1, 0)
			ch := rig.charges(t, "a")[0]
			if ch.PaymentID != id || ch.IdempotencyKey != "acpgw_"+id+"_1" || ch.Captured != 1000 {
				t.Fatalf("a's charge %+v, want payment %s captured under its first attempt's key", ch, id)
			}
			if n := rig.authorizeCalls("b"); n != 0 {
				t.Fatalf("b was called %d times", n)
			}
			if tc.burst > 0 {
				if n := rig.proxy.requests.Load(); n != int32(tc.burst)+1 {
					t.Fatalf("the proxy saw %d requests, want %d (the burst and one that went through)", n, tc.burst+1)
				}
			}
		})
	}
}
