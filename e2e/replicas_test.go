package e2e

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", for the judge's queries
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"

	"acpgw/providers/mock"
	"acpgw/providers/mock/mockhttp"
	"acpgw/store/postgres/pgtest"
)

// cluster is acpgw processes sharing one store and one mock processor
// server (its ledger is the judge of what was charged).
type cluster struct {
	t       *testing.T
	dir     string
	bin     string
	cfg     string
	mockURL string
	addrs   []string
	procs   []*exec.Cmd
	client  *http.Client
	seq     atomic.Int64
	dbKind  string
	dsn     string
}

func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "acpgw")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./cmd/acpgw")
	build.Dir = repoRoot(t)
	// Static, as the container image ships it (deploy/container/build.sh),
	// which also lets CI build both from one build cache.
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// newCluster starts a mock-server and n acpgw replicas on the store kind
// ("postgres" or "sqlite"); a postgres store is a new database of pgtest's
// server.
func newCluster(t *testing.T, kind string, n int) *cluster {
	t.Helper()
	return newClusterOn(t, kind, n, "")
}

// newClusterOn is newCluster with its postgres database on the server of the
// admin DSN pgAdmin ("": pgtest's).
func newClusterOn(t *testing.T, kind string, n int, pgAdmin string) *cluster {
	t.Helper()
	return newClusterWith(t, kind, n, pgAdmin, clusterOpts{})
}

// clusterOpts adds to a cluster's processes and config.
type clusterOpts struct {
	// mockArgs are more flags of the mock-server.
	mockArgs []string
	// merchant is more flow-style keys of merchant m (", events: {...}");
	// MOCK_URL in it becomes the mock-server's base URL.
	merchant string
	// extra is more top-level config (an events: section).
	extra string
}

// newClusterWith is newClusterOn with o's additions.
func newClusterWith(t *testing.T, kind string, n int, pgAdmin string, o clusterOpts) *cluster {
	t.Helper()
	if os.Getenv("ACPGW_E2E") == "0" {
		t.Skip("ACPGW_E2E=0: end-to-end test skipped on request")
	}
	dir := t.TempDir()
	c := &cluster{t: t, dir: dir, bin: buildBinary(t, dir), dbKind: kind,
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}
	mockAddr := freeAddr(t)
	startProcess(t, dir, "mock-server", c.bin, append([]string{"mock-server", "--listen", mockAddr}, o.mockArgs...)...)
	c.mockURL = "http://" + mockAddr
	waitLedger(t, c.mockURL)
	store := fmt.Sprintf("{driver: sqlite, dsn: %q}", filepath.Join(dir, "acpgw.db"))
	if kind == "postgres" {
		if pgAdmin == "" {
			pgAdmin = pgtest.AdminDSN(t)
		}
		c.dsn = pgtest.NewDatabaseOn(t, pgAdmin)
		store = fmt.Sprintf("{driver: postgres, dsn: %q, max_conns: 8}", c.dsn)
	} else {
		c.dsn = filepath.Join(dir, "acpgw.db")
	}
	c.cfg = filepath.Join(dir, "acpgw.yaml")
	writeFile(t, c.cfg, fmt.Sprintf(`store: %s
vault: {keys: [{id: k1, key: "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="}]}
agents: [{id: a, api_key: agent-key}]
processors:
  mock: {type: mock, url: %q, timeout: 2s}
merchants:
  - {id: m, api_key: merchant-key, processors: [mock]%s}
reconcile: {interval: 500ms, after: 1s, lease: 5s}
%s`, store, c.mockURL, strings.ReplaceAll(o.merchant, "MOCK_URL", c.mockURL), o.extra))
	if kind == "postgres" {
		out, err := exec.Command(c.bin, "migrate", "--config", c.cfg).CombinedOutput()
		if err != nil {
			t.Fatalf("migrate: %v %s", err, out)
		}
	}
	for i := range n {
		c.addrs = append(c.addrs, freeAddr(t))
		c.procs = append(c.procs, nil)
		c.start(i)
	}
	return c
}

// start runs replica i (again, after a kill) and waits for it.
func (c *cluster) start(i int) {
	c.t.Helper()
	logf, err := os.OpenFile(filepath.Join(c.dir, fmt.Sprintf("acpgw-%d.log", i)), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(c.bin, "serve", "--config", c.cfg, "--listen", c.addrs[i])
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.procs[i] = cmd
	c.t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_, _ = cmd.Process.Wait()
		logf.Close()
	})
	waitOK(c.t, "http://"+c.addrs[i]+"/readyz", 20*time.Second)
}

// kill is kill -9 of replica i.
func (c *cluster) kill(i int) {
	_ = c.procs[i].Process.Kill()
	_, _ = c.procs[i].Process.Wait()
}

type answer struct {
	status int
	body   map[string]any
	err    error
}

func (c *cluster) post(replica int, path, key, idem string, body any) answer {
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, "http://"+c.addrs[replica]+path, bytes.NewReader(raw))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("API-Version", "2026-04-17")
	req.Header.Set("Idempotency-Key", idem)
	resp, err := c.client.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return answer{status: resp.StatusCode, body: m}
}

func (c *cluster) get(replica int, id string) answer {
	req, _ := http.NewRequest(http.MethodGet, "http://"+c.addrs[replica]+"/v1/payments/"+id, nil)
	req.Header.Set("Authorization", "Bearer merchant-key")
	resp, err := c.client.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return answer{status: resp.StatusCode, body: m}
}

// delegate issues a token for checkout session cs.
func (c *cluster) delegate(cs string) string {
	a := c.post(0, "/agentic_commerce/delegate_payment", "agent-key", fmt.Sprintf("dp-%d", c.seq.Add(1)), map[string]any{
		"payment_method": map[string]any{"type": "card", "card_number_type": "fpan", "number": "4242424242424242",
			"exp_month": "12", "exp_year": "2034", "cvc": "123", "name": "Jane", "display_last4": "4242", "display_brand": "visa",
			"display_card_funding_type": "credit", "checks_performed": []string{"cvv"}, "metadata": map[string]any{}},
		"allowance": map[string]any{"reason": "one_time", "max_amount": 100000, "currency": "usd", "checkout_session_id": cs,
			"merchant_id": "m", "expires_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)},
		"risk_signals": []any{}, "metadata": map[string]any{},
	})
	if a.err != nil || a.status != http.StatusCreated {
		c.t.Fatalf("delegate: %v %d %v", a.err, a.status, a.body)
	}
	return a.body["id"].(string)
}

func payBody(token, cs string) map[string]any {
	return map[string]any{"merchant_id": "m", "checkout_session_id": cs, "amount": 1999, "currency": "usd",
		"payment_data": map[string]any{"token": token, "provider": "stripe"}, "capture": "automatic"}
}

func (c *cluster) ledger() []mock.Charge {
	c.t.Helper()
	ch, err := mockhttp.FetchLedger(c.t.Context(), c.mockURL)
	if err != nil {
		c.t.Fatalf("ledger: %v", err)
	}
	return ch
}

func waitLedger(t *testing.T, url string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := mockhttp.FetchLedger(t.Context(), url); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("mock-server did not come up")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// db opens the cluster's store for the judge's queries.
func (c *cluster) db() *sql.DB {
	c.t.Helper()
	driver, dsn := "pgx", c.dsn
	if c.dbKind == "sqlite" {
		driver, dsn = "sqlite", "file:"+c.dsn+"?mode=ro"
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { db.Close() })
	return db
}

// TestTwoReplicasOneCharge: two acpgw processes on one Postgres. 500
// concurrent requests with one Idempotency-Key, spread over both, make one
// charge; 500 concurrent payments on one token make one success.
func TestTwoReplicasOneCharge(t *testing.T) {
	c := newCluster(t, "postgres", 2)
	const n = 500
	tok := c.delegate("cs_same_key")
	var wg sync.WaitGroup
	var created, inFlight, other atomic.Int64
	ids := sync.Map{}
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := c.post(i%2, "/v1/payments", "merchant-key", "one-key", payBody(tok, "cs_same_key"))
			switch {
			case a.err == nil && a.status == http.StatusCreated:
				created.Add(1)
				ids.Store(a.body["id"], true)
			case a.err == nil && a.status == http.StatusConflict && a.body["code"] == "idempotency_in_flight":
				inFlight.Add(1)
			default:
				other.Add(1)
				t.Errorf("same key: %v %d %v", a.err, a.status, a.body)
			}
		}()
	}
	wg.Wait()
	distinct := 0
	ids.Range(func(any, any) bool { distinct++; return true })
	if got := len(c.ledger()); got != 1 || distinct != 1 {
		t.Fatalf("same key over two replicas: %d charges, %d payment ids (%d created, %d in flight, %d other)",
			got, distinct, created.Load(), inFlight.Load(), other.Load())
	}
	t.Logf("same key: %d answered 201 (the payment or its replay), %d in flight", created.Load(), inFlight.Load())

	tok = c.delegate("cs_same_token")
	var won, consumed atomic.Int64
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := c.post(i%2, "/v1/payments", "merchant-key", fmt.Sprintf("tok-%d", i), payBody(tok, "cs_same_token"))
			switch {
			case a.err == nil && a.status == http.StatusCreated:
				won.Add(1)
			case a.err == nil && a.status == http.StatusUnprocessableEntity && a.body["code"] == "token_consumed":
				consumed.Add(1)
			case a.err == nil && a.status == http.StatusConflict && a.body["code"] == "operation_in_progress":
				// The winner's payment was still running: the token was
				// held, not yet consumed for good.
				consumed.Add(1)
			default:
				t.Errorf("same token: %v %d %v", a.err, a.status, a.body)
			}
		}()
	}
	wg.Wait()
	if got := len(c.ledger()); won.Load() != 1 || consumed.Load() != n-1 || got != 2 {
		t.Fatalf("same token over two replicas: %d won, %d consumed or in use, %d charges in all", won.Load(), consumed.Load(), got)
	}
}

// TestCrashUnderLoad kills -9 a replica in the middle of sustained load and
// restarts it. Afterwards every payment answered 2xx is in the database with
// its answered status (or, answered pending, settled), no attempt is left
// pending, and the ledger shows no payment charged twice and no charge
// without a payment record.
func TestCrashUnderLoad(t *testing.T) {
	for _, tc := range []struct {
		kind     string
		replicas int
	}{{"postgres", 2}, {"sqlite", 1}} {
		t.Run(tc.kind, func(t *testing.T) {
			c := newCluster(t, tc.kind, tc.replicas)
			const rate, seconds = 200, 20
			total := rate * seconds
			tokens := make([]string, total)
			var wg sync.WaitGroup
			sem := make(chan struct{}, 16)
			for i := range total {
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					tokens[i] = c.delegate(fmt.Sprintf("cs_%d", i))
				}()
			}
			wg.Wait()

			type result struct {
				id     string
				status string
			}
			var (
				mu       sync.Mutex
				answered []result
				failed   atomic.Int64
			)
			killAt := time.Now().Add(seconds / 2 * time.Second)
			killed := make(chan struct{})
			go func() {
				time.Sleep(time.Until(killAt))
				c.kill(0)
				close(killed)
				time.Sleep(time.Second)
				c.start(0)
			}()
			start := time.Now()
			for i := range total {
				time.Sleep(time.Until(start.Add(time.Duration(i) * time.Second / rate)))
				wg.Add(1)
				go func() {
					defer wg.Done()
					a := c.post(i%tc.replicas, "/v1/payments", "merchant-key", fmt.Sprintf("crash-%d", i), payBody(tokens[i], fmt.Sprintf("cs_%d", i)))
					if a.err != nil || a.status >= 300 {
						failed.Add(1)
						return
					}
					mu.Lock()
					answered = append(answered, result{a.body["id"].(string), a.body["status"].(string)})
					mu.Unlock()
				}()
			}
			wg.Wait()
			<-killed
			t.Logf("%s: %d payments answered 2xx, %d failed or cut off by the crash", tc.kind, len(answered), failed.Load())
			if len(answered) < total/2 || failed.Load() == 0 && tc.replicas == 1 {
				t.Fatalf("the load or the crash did not happen as planned: %d answered, %d failed", len(answered), failed.Load())
			}

			// Reconciliation settles whatever the crash left pending.
			db := c.db()
			deadline := time.Now().Add(60 * time.Second)
			for {
				var pending int
				if err := db.QueryRow(`SELECT COUNT(*) FROM attempts WHERE state = 'pending'`).Scan(&pending); err != nil {
					t.Fatal(err)
				}
				if pending == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d attempts still pending after a minute", pending)
				}
				time.Sleep(500 * time.Millisecond)
			}
			statuses := map[string]string{}
			rows, err := db.Query(`SELECT id, status FROM payments`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var id, st string
				if err := rows.Scan(&id, &st); err != nil {
					t.Fatal(err)
				}
				statuses[id] = st
			}
			rows.Close()
			for _, a := range answered {
				st, ok := statuses[a.id]
				switch {
				case !ok:
					t.Errorf("payment %s was answered %s but is not in the database", a.id, a.status)
				case a.status == "pending" && st == "pending":
					t.Errorf("payment %s is still pending", a.id)
				case a.status != "pending" && st != a.status:
					t.Errorf("payment %s was answered %s, the database says %s", a.id, a.status, st)
				}
			}
			perPayment := map[string]int{}
			for _, ch := range c.ledger() {
				perPayment[ch.PaymentID]++
				if _, ok := statuses[ch.PaymentID]; !ok {
					t.Errorf("charge %s has no payment record (payment %q)", ch.Reference, ch.PaymentID)
				}
			}
			for id, n := range perPayment {
				if n > 1 {
					t.Errorf("payment %s charged %d times", id, n)
				}
			}
			if len(perPayment) < len(answered) {
				t.Errorf("%d charges for %d answered payments", len(perPayment), len(answered))
			}
			c.noCardData()
		})
	}
}

// noCardData searches the replicas' and mock-server's logs and the metrics
// output for the card number and CVC every test here uses.
func (c *cluster) noCardData() {
	c.t.Helper()
	var hay []byte
	logs, _ := filepath.Glob(filepath.Join(c.dir, "*.log"))
	for _, l := range logs {
		b, err := os.ReadFile(l)
		if err != nil {
			c.t.Fatal(err)
		}
		hay = append(hay, b...)
	}
	resp, err := c.client.Get("http://" + c.addrs[0] + "/metrics")
	if err != nil {
		c.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	hay = append(hay, b...)
	if !bytes.Contains(hay, []byte(`"msg":"payment"`)) {
		c.t.Fatal("no payment log lines to search")
	}
	for _, s := range []string{"4242424242424242", "424242424242", `"123"`, `"cvc"`} {
		if bytes.Contains(hay, []byte(s)) {
			i := bytes.Index(hay, []byte(s))
			c.t.Errorf("logs or metrics contain %q: …%s…", s, hay[max(0, i-80):min(len(hay), i+40)])
		}
	}
}
