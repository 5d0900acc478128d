package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// apiVersion is the ACP version sent on every request; from it on,
// Idempotency-Key is required.
const apiVersion = "2026-04-17"

// errUsage reports bad flags after the flag package has already said why.
var errUsage = errors.New("usage")

// runConfig is the run command's flags.
type runConfig struct {
	url           string
	merchantKey   string
	agentKey      string
	merchant      string
	concurrency   int
	duration      time.Duration
	rate          float64
	tokens        int
	warmup        time.Duration
	warmupTokens  int
	setupWorkers  int
	timeout       time.Duration
	bare          bool
	jsonOut       bool
	expectStatus  string
	processorHint string
	precise       bool
	delegate      bool
	serverPID     int
	dbPID         int
	clkTck        int
	pprofURL      string
	cpuProfile    string
}

func parseRunFlags(args []string, stderr io.Writer) (runConfig, error) {
	var c runConfig
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.url, "url", "http://127.0.0.1:8080", "base URL of acpgw (or of bare-server with --bare)")
	fs.StringVar(&c.merchantKey, "merchant-key", "", "merchant API key for POST /v1/payments")
	fs.StringVar(&c.agentKey, "agent-key", "", "agent API key for POST /agentic_commerce/delegate_payment")
	fs.StringVar(&c.merchant, "merchant", "demo", "merchant id")
	fs.IntVar(&c.concurrency, "concurrency", 32, "workers (and kept-alive connections)")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "measurement time")
	fs.Float64Var(&c.rate, "rate", 0, "open loop: requests per second (0: closed loop, as fast as possible)")
	fs.IntVar(&c.tokens, "tokens", 0, "tokens to issue for the measurement (0: rate*duration*1.1, or estimated from the warm-up)")
	fs.DurationVar(&c.warmup, "warmup", 2*time.Second, "warm-up before measuring (not reported except its rate); 0 skips it")
	fs.IntVar(&c.warmupTokens, "warmup-tokens", 2000, "closed loop: at most this many tokens are spent warming up")
	fs.IntVar(&c.setupWorkers, "setup-concurrency", 0, "workers issuing tokens (0: --concurrency)")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "per-request timeout")
	fs.BoolVar(&c.bare, "bare", false, "target is bare-server: no token setup, a fixed fake token")
	fs.BoolVar(&c.jsonOut, "json", false, "print the report as one JSON object")
	fs.StringVar(&c.expectStatus, "expect-status", "captured", "payment status that counts as a success")
	fs.StringVar(&c.processorHint, "provider", "stripe", "payment_data.provider sent with each token")
	fs.BoolVar(&c.precise, "precise-pacing", true, "open loop: wake for each send with a timerfd instead of the Go timer's millisecond poller granularity (Linux)")
	fs.BoolVar(&c.delegate, "delegate", false, "measure POST /agentic_commerce/delegate_payment (a new token per request) instead of POST /v1/payments")
	fs.IntVar(&c.serverPID, "server-pid", 0, "report this process's user+system CPU time over the measured window (from /proc/PID/stat)")
	fs.IntVar(&c.dbPID, "db-pid", 0, "report the user+system CPU time of this process and its children (a PostgreSQL postmaster and its backends) over the measured window")
	fs.IntVar(&c.clkTck, "clk-tck", 100, "clock ticks per second of /proc/PID/stat (getconf CLK_TCK)")
	fs.StringVar(&c.pprofURL, "pprof-url", "", "base URL of the server's net/http/pprof listener, for --cpu-profile")
	fs.StringVar(&c.cpuProfile, "cpu-profile", "", "write a CPU profile of the server over the measured window to this file (needs --pprof-url)")
	if err := fs.Parse(args); err != nil {
		return c, errUsage
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	c.url = strings.TrimRight(c.url, "/")
	switch {
	case c.concurrency < 1:
		return c, errors.New("--concurrency must be at least 1")
	case c.duration <= 0:
		return c, errors.New("--duration must be positive")
	case c.rate < 0:
		return c, errors.New("--rate must not be negative")
	case c.bare && c.delegate:
		return c, errors.New("--bare and --delegate exclude each other")
	case c.delegate && c.agentKey == "":
		return c, errors.New("--agent-key is required with --delegate")
	case !c.bare && !c.delegate && (c.merchantKey == "" || c.agentKey == ""):
		return c, errors.New("--merchant-key and --agent-key are required (or --bare)")
	case !c.bare && !c.delegate && c.rate == 0 && c.tokens == 0 && c.warmup <= 0:
		return c, errors.New("a closed loop without --tokens needs a --warmup to estimate how many to issue")
	case c.serverPID < 0 || c.dbPID < 0 || c.clkTck < 1:
		return c, errors.New("--server-pid and --db-pid must not be negative and --clk-tck must be positive")
	case (c.cpuProfile == "") != (c.pprofURL == ""):
		return c, errors.New("--cpu-profile and --pprof-url go together")
	}
	c.pprofURL = strings.TrimRight(c.pprofURL, "/")
	if c.setupWorkers <= 0 {
		c.setupWorkers = c.concurrency
	}
	return c, nil
}

func runCommand(args []string, stdout, stderr io.Writer) error {
	cfg, err := parseRunFlags(args, stderr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	r, err := newRunner(cfg, stderr)
	if err != nil {
		return err
	}
	rep, err := r.run(ctx)
	if err != nil {
		return err
	}
	if cfg.jsonOut {
		enc := json.NewEncoder(stdout)
		return enc.Encode(rep)
	}
	rep.writeTable(stdout)
	return nil
}

// runner holds what one run shares across its phases.
type runner struct {
	cfg    runConfig
	client *http.Client
	runID  string
	log    io.Writer
}

func newRunner(cfg runConfig, log io.Writer) (*runner, error) {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	// Enough idle connections for every worker, so that no request pays for
	// a new connection once warm; no HTTP/2 and no compression, to keep the
	// transport the same for acpgw and the bare ceiling.
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          max(cfg.concurrency, cfg.setupWorkers),
		MaxIdleConnsPerHost:   max(cfg.concurrency, cfg.setupWorkers),
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
		ResponseHeaderTimeout: cfg.timeout,
	}
	return &runner{
		cfg:    cfg,
		client: &http.Client{Transport: tr, Timeout: cfg.timeout},
		runID:  hex.EncodeToString(b[:]),
		log:    log,
	}, nil
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.log, "acpgw-load: "+format+"\n", args...)
}

// run does setup, warm-up and the measurement, and reports the measurement.
func (r *runner) run(ctx context.Context) (*report, error) {
	cfg := r.cfg
	rep := &report{
		Target:      "acpgw",
		Operation:   opPayment,
		URL:         cfg.url,
		Mode:        "closed",
		Concurrency: cfg.concurrency,
		Rate:        cfg.rate,
		Duration:    cfg.duration.Seconds(),
	}
	if cfg.delegate {
		rep.Operation = opDelegate
	}
	if cfg.bare {
		rep.Target = "bare"
	}
	if cfg.rate > 0 {
		rep.Mode = "open"
	}

	// Warm-up: opens the connections, warms caches and, in a closed loop
	// without --tokens, measures how fast tokens will be spent.
	if cfg.warmup > 0 {
		var src bodySource
		switch {
		case cfg.bare:
			src = r.bareBodies()
		case cfg.delegate:
			src = r.delegateBodies("w")
		default:
			n := cfg.warmupTokens
			if cfg.rate > 0 {
				n = tokensFor(float64(scheduledCount(cfg.rate, cfg.warmup)), 1.1)
			}
			b, took, err := r.issue(ctx, "w", n)
			if err != nil {
				return nil, fmt.Errorf("warm-up setup: %w", err)
			}
			rep.TokensIssued += n
			rep.SetupSeconds += took.Seconds()
			src = b
		}
		r.logf("warming up for %s", cfg.warmup)
		w := r.measure(ctx, "w", src, cfg.warmup)
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if w.Elapsed > 0 {
			rep.WarmupRPS = float64(w.Requests) / w.Elapsed
		}
		if w.Successes == 0 {
			return nil, fmt.Errorf("warm-up: no request succeeded (errors %s; first: %s)", countList(w.Errors), w.FirstError)
		}
	}

	var src bodySource
	switch {
	case cfg.bare:
		src = r.bareBodies()
	case cfg.delegate:
		src = r.delegateBodies("m")
	default:
		n := cfg.tokens
		if n == 0 {
			if cfg.rate > 0 {
				n = tokensFor(float64(scheduledCount(cfg.rate, cfg.duration)), 1.1)
			} else {
				// The warm-up rate may undershoot a warmed-up server;
				// 1.5 leaves room, and running out is reported.
				n = tokensFor(rep.WarmupRPS*cfg.duration.Seconds(), 1.5) + cfg.concurrency
			}
		}
		b, took, err := r.issue(ctx, "m", n)
		if err != nil {
			return nil, fmt.Errorf("setup: %w", err)
		}
		rep.TokensIssued += n
		rep.SetupSeconds += took.Seconds()
		src = b
	}
	// The server's CPU time and profile cover the measured window only:
	// sampled and started right before it, read right after it.
	cpu, err := startCPU(cfg.serverPID, cfg.clkTck)
	if err != nil {
		return nil, err
	}
	dbCPU, err := startDBCPU(cfg.dbPID, cfg.clkTck)
	if err != nil {
		return nil, err
	}
	var prof *cpuProfile
	if cfg.cpuProfile != "" {
		prof = startProfile(ctx, cfg.pprofURL, cfg.cpuProfile, cfg.duration)
	}
	r.logf("measuring for %s", cfg.duration)
	m := r.measure(ctx, "m", src, cfg.duration)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if m.CPUSeconds, m.CPUPerOpUS, err = cpu.result(m.Successes); err != nil {
		return nil, err
	}
	if cpu != nil {
		m.ServerPID = cfg.serverPID
	}
	if m.DBCPUSeconds, m.DBCPUPerOpUS, err = dbCPU.result(m.Successes); err != nil {
		return nil, err
	}
	if dbCPU != nil {
		m.DBPID = cfg.dbPID
	}
	if err := prof.wait(); err != nil {
		return nil, err
	}
	if prof != nil {
		r.logf("cpu profile of the measured window written to %s", cfg.cpuProfile)
	}
	m.Target, m.Operation, m.URL, m.Mode, m.Concurrency, m.Rate, m.Duration = rep.Target, rep.Operation, rep.URL, rep.Mode, rep.Concurrency, rep.Rate, rep.Duration
	m.TokensIssued, m.SetupSeconds, m.WarmupRPS = rep.TokensIssued, rep.SetupSeconds, rep.WarmupRPS
	return m, nil
}

// Operations a run measures.
const (
	opPayment  = "payment"
	opDelegate = "delegate_payment"
)

// endpoint is what the measured loop sends and which answers count.
type endpoint struct {
	path string
	key  string
	// judge reads a 201 answer: the status it is counted under, and
	// whether it is a success.
	judge func(a answer) (status string, ok bool)
}

func (r *runner) endpoint() endpoint {
	if r.cfg.delegate {
		return endpoint{
			path: "/agentic_commerce/delegate_payment",
			key:  r.cfg.agentKey,
			judge: func(a answer) (string, bool) {
				if strings.HasPrefix(a.ID, "vt_") {
					return "issued", true
				}
				return "no_token", false
			},
		}
	}
	return endpoint{
		path: "/v1/payments",
		key:  r.cfg.merchantKey,
		judge: func(a answer) (string, bool) {
			return a.Status, a.Status == r.cfg.expectStatus
		},
	}
}

// bodySource hands out request bodies: body k, or ok false when there is no
// k-th (a token per request, all spent).
type bodySource interface {
	body(k int64) ([]byte, bool)
}

// tokenBodies is one prepared payment body per issued token.
type tokenBodies [][]byte

func (t tokenBodies) body(k int64) ([]byte, bool) {
	if k < 0 || k >= int64(len(t)) {
		return nil, false
	}
	return t[k], true
}

// fixedBody is the same body every time, for the bare server.
type fixedBody []byte

func (f fixedBody) body(int64) ([]byte, bool) { return f, true }

func (r *runner) bareBodies() fixedBody {
	b, _ := json.Marshal(r.paymentBody("cs_load_bare", "vt_bare_load_token_0123456789"))
	return b
}

// paymentRequest is the body of POST /v1/payments.
type paymentRequest struct {
	MerchantID        string      `json:"merchant_id"`
	CheckoutSessionID string      `json:"checkout_session_id"`
	Amount            int64       `json:"amount"`
	Currency          string      `json:"currency"`
	PaymentData       paymentData `json:"payment_data"`
	Capture           string      `json:"capture"`
}

type paymentData struct {
	Token    string `json:"token"`
	Provider string `json:"provider"`
}

func (r *runner) paymentBody(session, token string) paymentRequest {
	return paymentRequest{
		MerchantID:        r.cfg.merchant,
		CheckoutSessionID: session,
		Amount:            1999,
		Currency:          "usd",
		PaymentData:       paymentData{Token: token, Provider: r.cfg.processorHint},
		Capture:           "automatic",
	}
}

// answer is the part of a response the load tool looks at.
type answer struct {
	ID     string `json:"id"`
	Status string `json:"status"`
}

// post sends one POST with ACP headers and reads the whole answer so that
// the connection goes back to the pool.
func (r *runner) post(ctx context.Context, path, key, idem string, body []byte, buf *bytes.Buffer) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.cfg.url+path, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	h := req.Header
	h["Content-Type"] = []string{"application/json"}
	h["Api-Version"] = []string{apiVersion}
	h["Idempotency-Key"] = []string{idem}
	if key != "" {
		h["Authorization"] = []string{"Bearer " + key}
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	buf.Reset()
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return resp.StatusCode, err
	}
	return resp.StatusCode, nil
}

// delegateRequest is the body of POST /agentic_commerce/delegate_payment.
type delegateRequest struct {
	PaymentMethod  cardMethod        `json:"payment_method"`
	Allowance      allowance         `json:"allowance"`
	BillingAddress address           `json:"billing_address"`
	RiskSignals    []riskSignal      `json:"risk_signals"`
	Metadata       map[string]string `json:"metadata"`
}

type cardMethod struct {
	Type                   string            `json:"type"`
	CardNumberType         string            `json:"card_number_type"`
	Number                 string            `json:"number"`
	ExpMonth               string            `json:"exp_month"`
	ExpYear                string            `json:"exp_year"`
	Name                   string            `json:"name"`
	CVC                    string            `json:"cvc"`
	ChecksPerformed        []string          `json:"checks_performed"`
	DisplayCardFundingType string            `json:"display_card_funding_type"`
	DisplayBrand           string            `json:"display_brand"`
	DisplayLast4           string            `json:"display_last4"`
	Metadata               map[string]string `json:"metadata"`
}

type allowance struct {
	Reason            string `json:"reason"`
	MaxAmount         int64  `json:"max_amount"`
	Currency          string `json:"currency"`
	CheckoutSessionID string `json:"checkout_session_id"`
	MerchantID        string `json:"merchant_id"`
	ExpiresAt         string `json:"expires_at"`
}

type address struct {
	Name       string `json:"name"`
	LineOne    string `json:"line_one"`
	City       string `json:"city"`
	State      string `json:"state"`
	Country    string `json:"country"`
	PostalCode string `json:"postal_code"`
}

type riskSignal struct {
	Type   string `json:"type"`
	Score  int    `json:"score"`
	Action string `json:"action"`
}

// issue gets n tokens from delegate_payment, concurrently, and returns one
// prepared payment body per token. Any failure stops the setup: a run with
// missing tokens would measure token errors, not payments.
func (r *runner) issue(ctx context.Context, phase string, n int) (tokenBodies, time.Duration, error) {
	r.logf("issuing %d tokens with %d workers", n, r.cfg.setupWorkers)
	start := time.Now()
	tmpl := r.delegateTemplate(start)

	out := make(tokenBodies, n)
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(r.cfg.setupWorkers, n) {
		wg.Go(func() {
			var buf bytes.Buffer
			for ctx.Err() == nil {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				session := fmt.Sprintf("cs_load_%s_%s%d", r.runID, phase, i)
				req := tmpl
				req.Allowance.CheckoutSessionID = session
				body, err := json.Marshal(req)
				if err != nil {
					cancel(err)
					return
				}
				idem := "load-" + r.runID + "-t" + phase + strconv.FormatInt(i, 10)
				code, err := r.post(ctx, "/agentic_commerce/delegate_payment", r.cfg.agentKey, idem, body, &buf)
				if err != nil {
					cancel(fmt.Errorf("delegate_payment: %w", err))
					return
				}
				var a answer
				if code != http.StatusCreated || json.Unmarshal(buf.Bytes(), &a) != nil || a.ID == "" {
					cancel(fmt.Errorf("delegate_payment: HTTP %d: %s", code, snippet(buf.Bytes())))
					return
				}
				out[i], err = json.Marshal(r.paymentBody(session, a.ID))
				if err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if err := context.Cause(ctx); err != nil {
		return nil, took, err
	}
	r.logf("issued %d tokens in %.2fs (%.0f/s)", n, took.Seconds(), float64(n)/took.Seconds())
	return out, took, nil
}

// delegateTemplate is a delegate_payment body for an approved test card,
// its allowance valid for an hour from now; callers set the checkout
// session.
func (r *runner) delegateTemplate(now time.Time) delegateRequest {
	now = now.UTC()
	return delegateRequest{
		PaymentMethod: cardMethod{
			Type: "card", CardNumberType: "fpan", Number: "4242424242424242",
			ExpMonth: "12", ExpYear: strconv.Itoa(now.Year() + 3), Name: "Load Test", CVC: "123",
			ChecksPerformed: []string{"cvv"}, DisplayCardFundingType: "credit", DisplayBrand: "visa",
			DisplayLast4: "4242", Metadata: map[string]string{},
		},
		Allowance: allowance{
			Reason: "one_time", MaxAmount: 100000, Currency: "usd", MerchantID: r.cfg.merchant,
			ExpiresAt: now.Add(time.Hour).Format(time.RFC3339),
		},
		BillingAddress: address{
			Name: "Load Test", LineOne: "1 Main St", City: "San Francisco", State: "CA",
			Country: "US", PostalCode: "94107",
		},
		RiskSignals: []riskSignal{{Type: "card_testing", Score: 1, Action: "authorized"}},
		Metadata:    map[string]string{},
	}
}

// delegateBodies hands out delegate_payment bodies, each with a checkout
// session of its own, for --delegate.
type delegateBodies struct {
	tmpl   delegateRequest
	prefix string
}

func (r *runner) delegateBodies(phase string) delegateBodies {
	return delegateBodies{tmpl: r.delegateTemplate(time.Now()), prefix: "cs_load_" + r.runID + "_d" + phase}
}

func (d delegateBodies) body(k int64) ([]byte, bool) {
	req := d.tmpl
	req.Allowance.CheckoutSessionID = d.prefix + strconv.FormatInt(k, 10)
	b, err := json.Marshal(req)
	return b, err == nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// tally is one worker's results, merged after the run so that workers share
// nothing on the hot path but two atomic counters.
type tally struct {
	latency    []time.Duration
	lag        []time.Duration
	requests   int
	successes  int
	errors     map[string]int
	statuses   map[string]int
	firstError string
	firstAt    time.Time
	lastEnd    time.Time
}

func (t *tally) fail(what string, at time.Time, detail string) {
	t.errors[what]++
	if t.firstError == "" {
		t.firstError, t.firstAt = detail, at
	}
}

// measure runs the closed or open loop for d on bodies from src, with the
// phase in its idempotency keys.
func (r *runner) measure(ctx context.Context, phase string, src bodySource, d time.Duration) *report {
	workers := r.cfg.concurrency
	ep := r.endpoint()
	tallies := make([]*tally, workers)
	var next, inFlight, maxInFlight atomic.Int64
	var exhausted atomic.Bool
	open := r.cfg.rate > 0
	var total int64 // open loop only
	if open {
		total = scheduledCount(r.cfg.rate, d)
	}
	// Requests in flight at the deadline finish normally; only an interrupt
	// cancels them.
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range workers {
		t := &tally{errors: map[string]int{}, statuses: map[string]int{}}
		tallies[w] = t
		wg.Go(func() {
			var buf bytes.Buffer
			pace := newPacer(r.cfg.precise)
			defer pace.close()
			prefix := "load-" + r.runID + "-" + phase + "-"
			for ctx.Err() == nil {
				k := next.Add(1) - 1
				var due time.Time
				if open {
					if k >= total {
						return
					}
					due = start.Add(scheduleOffset(k, r.cfg.rate))
					if !pace.sleepUntil(ctx, due) {
						return
					}
				} else if !time.Now().Before(deadline) {
					return
				}
				body, ok := src.body(k)
				if !ok {
					exhausted.Store(true)
					return
				}
				sent := time.Now()
				if !open {
					due = sent
				}
				n := inFlight.Add(1)
				for {
					m := maxInFlight.Load()
					if n <= m || maxInFlight.CompareAndSwap(m, n) {
						break
					}
				}
				code, err := r.post(ctx, ep.path, ep.key, prefix+strconv.FormatInt(k, 10), body, &buf)
				end := time.Now()
				inFlight.Add(-1)
				if ctx.Err() != nil {
					return // interrupted: not a server error
				}
				t.requests++
				t.latency = append(t.latency, end.Sub(due))
				if open {
					t.lag = append(t.lag, sent.Sub(due))
				}
				t.lastEnd = end
				switch {
				case err != nil:
					t.fail("transport", sent, err.Error())
				case code != http.StatusCreated:
					t.fail(strconv.Itoa(code), sent, fmt.Sprintf("HTTP %d: %s", code, snippet(buf.Bytes())))
				default:
					var a answer
					_ = json.Unmarshal(buf.Bytes(), &a)
					status, ok := ep.judge(a)
					t.statuses[status]++
					if ok {
						t.successes++
					} else {
						t.fail("201:"+status, sent, "HTTP 201 with status "+strconv.Quote(status)+": "+snippet(buf.Bytes()))
					}
				}
			}
		})
	}
	wg.Wait()

	rep := &report{Errors: map[string]int{}, Statuses: map[string]int{}, MaxInFlight: int(maxInFlight.Load())}
	var lat, lag []time.Duration
	var last, firstAt time.Time
	for _, t := range tallies {
		rep.Requests += t.requests
		rep.Successes += t.successes
		for k, v := range t.errors {
			rep.Errors[k] += v
		}
		for k, v := range t.statuses {
			rep.Statuses[k] += v
		}
		lat = append(lat, t.latency...)
		lag = append(lag, t.lag...)
		if t.lastEnd.After(last) {
			last = t.lastEnd
		}
		if t.firstError != "" && (firstAt.IsZero() || t.firstAt.Before(firstAt)) {
			rep.FirstError, firstAt = t.firstError, t.firstAt
		}
	}
	if !last.IsZero() {
		rep.Elapsed = last.Sub(start).Seconds()
	}
	if rep.Elapsed > 0 {
		rep.Throughput = float64(rep.Requests) / rep.Elapsed
		rep.PaymentsPerSec = float64(rep.Successes) / rep.Elapsed
	}
	rep.Latency = summarize(lat)
	if open {
		s := summarize(lag)
		rep.SendLag = &s
	}
	rep.TokensExhausted = exhausted.Load()
	return rep
}

// summaryCommand prints run reports side by side with the ratio to a ceiling.
func summaryCommand(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("summary", flag.ContinueOnError)
	ceiling := fs.String("ceiling", "", "NAME of the report that is the ceiling")
	minRatio := fs.Float64("min-ratio", 0, "target: closed-loop payments/s as a percentage of the ceiling's (0: no check)")
	maxP99 := fs.Duration("max-open-p99", 0, "target: open-loop p99 latency (0: no check)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	var names []string
	var reports []*report
	for _, a := range fs.Args() {
		name, file, ok := strings.Cut(a, "=")
		if !ok {
			return fmt.Errorf("argument %q is not NAME=FILE", a)
		}
		data, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		rep, err := decodeReport(data)
		if err != nil {
			return fmt.Errorf("%s: %w", file, err)
		}
		names = append(names, name)
		reports = append(reports, rep)
	}
	writeSummary(stdout, names, reports, *ceiling)
	writeTargets(stdout, names, reports, *ceiling, *minRatio, *maxP99)
	return nil
}
