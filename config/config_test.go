package config

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"acpgw/fees"
	"acpgw/payment"
)

// exampleEnv are the variables config/example.yaml refers to; each value
// is distinctive so tests can look for it in output.
var exampleEnv = map[string]string{
	"ACPGW_VAULT_KEY":        base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x42}, 32)),
	"ACPGW_VAULT_KEY_OLD":    base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0x17}, 32)),
	"AGENT_KEY":              "agent-secret-6f1d",
	"STRIPE_KEY":             "sk_test_secret_91ab",
	"STRIPE_WHSEC":           "whsec_secret_55c0",
	"ADYEN_KEY":              "adyen-secret-a7e2",
	"ADYEN_HMAC":             "74F490DD33F7327BAECC88B2947C011FC02D014A473AAA33A8EC93E4DC069174",
	"ACME_KEY":               "acme-secret-c4b8",
	"GLOBEX_KEY":             "globex-secret-e9f1",
	"PGPASSWORD":             "pg-secret-3d7a",
	"AGENT_SIGNING_SECRET":   "agent-signing-secret-8b2c",
	"REPORTS_KEY":            "reports-secret-5e0f",
	"ACME_EVENTS_SECRET":     "whsec_acme_events_5d2a7b",
	"ACME_EVENTS_SECRET_OLD": "whsec_acme_events_old_91c3",
}

func loadExample(t *testing.T) *Config {
	t.Helper()
	for k, v := range exampleEnv {
		t.Setenv(k, v)
	}
	c, err := Load("example.yaml")
	if err != nil {
		t.Fatalf("example.yaml: %v", err)
	}
	return c
}

// fileLine returns the 1-based line of the first line of file with prefix.
func fileLine(t *testing.T, file, prefix string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, prefix) {
			return i + 1
		}
	}
	t.Fatalf("%s has no line starting %q", file, prefix)
	return 0
}

func sum(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func TestLoadExample(t *testing.T) {
	c := loadExample(t)
	if c.Path != "example.yaml" || c.Demo {
		t.Errorf("Path %q Demo %v", c.Path, c.Demo)
	}
	if c.Server.Listen != "127.0.0.1:8080" || c.Server.BodyLimit != 65536 || c.Server.WriteTimeout != 30*time.Second || c.Server.DebugListen != "" {
		t.Errorf("server = %+v", c.Server)
	}
	if c.Store.Driver != "postgres" || c.Store.DSN != "postgres://acpgw:pg-secret-3d7a@127.0.0.1:5432/acpgw?sslmode=disable" ||
		c.Store.MaxConns != 10 || c.Store.StatementTimeout != 5*time.Second {
		t.Errorf("store = %v", c.Store)
	}
	if c.Vault.MaxTokenTTL != 720*time.Hour || c.Vault.CVCTTL != 24*time.Hour {
		t.Errorf("vault max_token_ttl %v cvc_ttl %v", c.Vault.MaxTokenTTL, c.Vault.CVCTTL)
	}
	if len(c.Vault.Keys) != 2 || c.Vault.Keys[0].ID != "k2" || !bytes.Equal(c.Vault.Keys[0].Key, bytes.Repeat([]byte{0x42}, 32)) ||
		!bytes.Equal(c.Vault.Keys[1].Key, bytes.Repeat([]byte{0x17}, 32)) {
		t.Errorf("vault keys wrong: %v", c.Vault.Keys)
	}
	if len(c.Agents) != 2 || c.Agents[0].APIKey != "" || !bytes.Equal(c.Agents[0].APIKeySHA256, sum("agent-secret-6f1d")) ||
		!bytes.Equal(c.Agents[1].APIKeySHA256, sum("test")) {
		t.Errorf("agents = %v", c.Agents)
	}
	if got := strings.Join(c.ProcessorOrder, ","); got != "stripe_us,adyen_eu,mock" {
		t.Errorf("ProcessorOrder = %s", got)
	}
	s := c.Processors["stripe_us"]
	wantFees := fees.Schedule{Percent: 29000, Fixed: 30, Currency: "usd", InternationalPercent: 15000}
	if s.Name != "stripe_us" || s.Type != TypeStripe || s.Stripe == nil || s.Adyen != nil || s.Mock != nil ||
		s.Stripe.SecretKey != "sk_test_secret_91ab" || s.Stripe.WebhookSecret != "whsec_secret_55c0" ||
		s.Fees != wantFees || !reflect.DeepEqual(s.Currencies, []string{"usd", "cad"}) || s.Timeout != 10*time.Second {
		t.Errorf("stripe_us = %+v %v fees %+v", s, s.Stripe, s.Fees)
	}
	a := c.Processors["adyen_eu"]
	if a.Adyen == nil || a.Adyen.MerchantAccount != "AcmeECOM" || a.Adyen.Environment != "test" || a.Adyen.APIKey != "adyen-secret-a7e2" ||
		a.Adyen.HMACKey != "74F490DD33F7327BAECC88B2947C011FC02D014A473AAA33A8EC93E4DC069174" || a.Fees != (fees.Schedule{Percent: 6000, Fixed: 13, Currency: "eur", InterchangePercent: 3000}) {
		t.Errorf("adyen_eu = %+v %v", a, a.Adyen)
	}
	m := c.Processors["mock"]
	if m.Mock == nil || m.Mock.Latency != 5*time.Millisecond || m.Timeout != 2*time.Second {
		t.Errorf("mock = %+v", m)
	}
	if len(c.Merchants) != 2 {
		t.Fatalf("%d merchants", len(c.Merchants))
	}
	acme, globex := c.Merchants[0], c.Merchants[1]
	if acme.ID != "acme" || acme.APIKey != "" || !bytes.Equal(acme.APIKeySHA256, sum("acme-secret-c4b8")) ||
		acme.Country != "US" || !acme.Metrics.PerMerchant || acme.Routing.Strategy != StrategyPriority || acme.Routing.MaxAttempts != 2 ||
		strings.Join(acme.Processors, ",") != "stripe_us,adyen_eu,mock" {
		t.Errorf("acme = %+v", *acme)
	}
	if globex.Routing.Strategy != StrategyWeighted || !reflect.DeepEqual(globex.Routing.Weights, map[string]int{"stripe_us": 90, "mock": 10}) ||
		globex.Metrics.PerMerchant {
		t.Errorf("globex routing = %+v", globex.Routing)
	}
	if e := acme.Events; e == nil || e.URL != "https://acme.example/acpgw/events" || e.Secret != "whsec_acme_events_5d2a7b" ||
		e.PreviousSecret != "" || len(e.Types) != 5 || !e.Wants("refund.succeeded") || e.Wants("payment.authorized") ||
		globex.Events != nil || globex.Events.Wants("payment.captured") {
		t.Errorf("acme events = %v, globex events = %v", acme.Events, globex.Events)
	}
	if a := acme.Authentication; a == nil || a.Provider != "adyen_eu" || globex.Authentication != nil ||
		c.Authentication != (Authentication{SessionTTL: 10 * time.Minute, StepTimeout: 20 * time.Second}) {
		t.Errorf("acme authentication %v, globex %v, global %+v", acme.Authentication, globex.Authentication, c.Authentication)
	}
	if c.Events != (Events{Timeout: 10 * time.Second, RetryInitial: 30 * time.Second, RetryMax: time.Hour, GiveUpAfter: 72 * time.Hour, Workers: 4,
		Retention: 30 * 24 * time.Hour}) {
		t.Errorf("events = %+v", c.Events)
	}
	if c.Idempotency != (Idempotency{TTL: 24 * time.Hour, InFlightLock: time.Minute}) ||
		c.Reconcile != (Reconcile{Interval: 10 * time.Second, After: 5 * time.Second, Lease: time.Minute}) {
		t.Errorf("idempotency %+v reconcile %+v", c.Idempotency, c.Reconcile)
	}
	if !reflect.DeepEqual(c.Amounts.Max, payment.MaxAmounts{"usd": 5000000, "jpy": 99999999}) ||
		c.Amounts.Max.Of("eur") != payment.DefaultMaxAmount {
		t.Errorf("amounts = %+v", c.Amounts)
	}

	for path, prefix := range map[string]string{
		"processors.adyen_eu":                   "  adyen_eu:",
		"processors.adyen_eu.fees":              "    fees: {percent: 0.6",
		"merchants[1]":                          "  - id: globex",
		"merchants[1].routing.weights":          "      weights:",
		"merchants[0].processors":               "    processors: [stripe_us, adyen_eu",
		"merchants[0].routing.max_attempts":     "      max_attempts:",
		"merchants[1].routing.max_attempts":     "      strategy: weighted", // defaulted: the routing key's line
		"reconcile.lease":                       "  lease:",
		"vault.cvc_ttl":                         "  cvc_ttl:",
		"amounts.max.jpy":                       "    jpy: 99999999",
		"processors.stripe_us.fees.currency":    "      currency: usd",
		"merchants[1].routing.weights.whatever": "      weights:",
	} {
		want := fileLine(t, "example.yaml", prefix)
		if path == "merchants[1].routing.max_attempts" {
			want-- // routing: is the line above strategy:
		}
		if got := c.Line(path); got != want {
			t.Errorf("Line(%q) = %d, want %d", path, got, want)
		}
	}
	if got := c.Line("nothing.here"); got != 0 {
		t.Errorf("Line(unknown) = %d, want 0", got)
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	doc := vaultOK + "processors:\n  s: {type: stripe, secret_key: sk}\n  a: {type: adyen, api_key: k, merchant_account: M}\n  m: {type: mock}\n" +
		"merchants:\n  - {id: acme, api_key: k, processors: [s]}\n"
	c, err := parse([]byte(doc), "d.yaml", testEnv)
	if err != nil {
		t.Fatal(err)
	}
	want := Server{
		Listen: "127.0.0.1:8080", ReadTimeout: 10 * time.Second, ReadHeaderTimeout: 5 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second, ShutdownGrace: 15 * time.Second, DrainDelay: 5 * time.Second,
		SettleTimeout: 30 * time.Second, BodyLimit: 65536,
	}
	if c.Server != want {
		t.Errorf("Server = %+v, want %+v", c.Server, want)
	}
	if c.Store != (Store{Driver: "sqlite", DSN: "./data/acpgw.db"}) {
		t.Errorf("Store = %+v", c.Store)
	}
	if c.Processors["s"].Timeout != 10*time.Second || c.Processors["a"].Timeout != 10*time.Second || c.Processors["m"].Timeout != 2*time.Second {
		t.Errorf("processor timeouts %v %v %v", c.Processors["s"].Timeout, c.Processors["a"].Timeout, c.Processors["m"].Timeout)
	}
	if c.Processors["a"].Adyen.Environment != "test" || c.Processors["m"].Mock.Latency != 0 {
		t.Errorf("adyen environment %q mock latency %v", c.Processors["a"].Adyen.Environment, c.Processors["m"].Mock.Latency)
	}
	if r := c.Merchants[0].Routing; r.Strategy != StrategyPriority || r.MaxAttempts != 2 || r.Weights != nil {
		t.Errorf("routing = %+v", r)
	}
	if c.Metrics.Listen != "" || c.Idempotency.TTL != 24*time.Hour || c.Idempotency.InFlightLock != 60*time.Second ||
		c.Reconcile != (Reconcile{Interval: 10 * time.Second, After: 5 * time.Second, Lease: 60 * time.Second}) {
		t.Errorf("metrics %+v idempotency %+v reconcile %+v", c.Metrics, c.Idempotency, c.Reconcile)
	}
	if c.Vault.MaxTokenTTL != 30*24*time.Hour || c.Vault.CVCTTL != 24*time.Hour {
		t.Errorf("vault max_token_ttl %v cvc_ttl %v, want 720h and 24h", c.Vault.MaxTokenTTL, c.Vault.CVCTTL)
	}
	if c.Amounts.Max != nil || c.Amounts.Max.Of("usd") != payment.DefaultMaxAmount || c.Amounts.Max.Of("jpy") != 99999999 {
		t.Errorf("amounts = %+v, want every currency at the default", c.Amounts)
	}
	if !slices.Equal(c.Risk.BlockActions, []string{"blocked"}) || c.Risk.MaxScore != nil || c.Tokens.MaxAttempts != 3 {
		t.Errorf("risk %+v tokens %+v, want block_actions [blocked], no max_score, max_attempts 3", c.Risk, c.Tokens)
	}
	if m := c.Merchants[0].Risk; !slices.Equal(m.BlockActions, []string{"blocked"}) || m.MaxScore != nil {
		t.Errorf("merchant risk %+v, want the global defaults", m)
	}
	if len(c.Agents) != 0 || c.Demo || c.Path != "d.yaml" {
		t.Errorf("agents %v demo %v path %q", c.Agents, c.Demo, c.Path)
	}

	// The smallest valid file: only a vault key.
	c, err = parse([]byte(vaultOK), "v.yaml", testEnv)
	if err != nil || len(c.Processors) != 0 || len(c.Merchants) != 0 {
		t.Fatalf("vault-only config: %v, %v", c, err)
	}
	// SQLite paths that look a little like URLs but are not.
	for _, dsn := range []string{`C:\\acpgw\\acpgw.db`, "D:/acpgw/acpgw.db", "./odd:name.db", "data/odd:name.db", "acpgw.db?synchronous=FULL"} {
		c, err = parse([]byte(vaultOK+fmt.Sprintf("store: {driver: sqlite, dsn: %q}\n", dsn)), "s.yaml", testEnv)
		if err != nil || c.Store.DSN != dsn {
			t.Errorf("sqlite dsn %q: %v", dsn, err)
		}
	}
	// Postgres keeps its DSN and gets no sqlite default.
	c, err = parse([]byte(vaultOK+"store: {driver: postgres, dsn: \"postgresql://u@db/acpgw\"}\n"), "p.yaml", testEnv)
	if err != nil || c.Store.DSN != "postgresql://u@db/acpgw" {
		t.Fatalf("postgres: %v, %v", c, err)
	}
}

// TestRiskOverrides: a merchant's risk: keys override the global ones key
// by key; the keys it leaves out come from risk:.
func TestRiskOverrides(t *testing.T) {
	t.Parallel()
	doc := vaultOK + procsOK + "risk:\n  block_actions: [blocked, manual_review]\n  max_score: 80\n" +
		"merchants:\n" +
		"  - {id: a, api_key: ka, processors: [mock]}\n" +
		"  - {id: b, api_key: kb, processors: [mock], risk: {max_score: 50}}\n" +
		"  - {id: c, api_key: kc, processors: [mock], risk: {block_actions: []}}\n" +
		"tokens: {max_attempts: 5}\n"
	c, err := parse([]byte(doc), "r.yaml", testEnv)
	if err != nil {
		t.Fatal(err)
	}
	score := func(r Risk) string {
		if r.MaxScore == nil {
			return "none"
		}
		return fmt.Sprint(*r.MaxScore)
	}
	for i, want := range []struct {
		actions []string
		score   string
	}{
		{[]string{"blocked", "manual_review"}, "80"},
		{[]string{"blocked", "manual_review"}, "50"},
		{nil, "80"},
	} {
		r := c.Merchants[i].Risk
		if !slices.Equal(r.BlockActions, want.actions) || score(r) != want.score {
			t.Errorf("merchant %s: block_actions %v max_score %s, want %v %s", c.Merchants[i].ID, r.BlockActions, score(r), want.actions, want.score)
		}
	}
	if !c.Merchants[0].Risk.Blocks("manual_review") || c.Merchants[2].Risk.Blocks("blocked") {
		t.Error("Blocks disagrees with block_actions")
	}
	if c.Tokens.MaxAttempts != 5 {
		t.Errorf("tokens.max_attempts %d", c.Tokens.MaxAttempts)
	}
	out := c.Redacted()
	for _, want := range []string{"block_actions: [blocked, manual_review]", "max_score: 50", "max_attempts: 5"} {
		if !strings.Contains(out, want) {
			t.Errorf("Redacted() lacks %q:\n%s", want, out)
		}
	}
}

func TestEnvExpansion(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"KEY":     key32,
		"HOST":    "127.0.0.1",
		"PORT":    "9999",
		"TRICKY":  "a: b # not a comment\n- [x]",
		"FIXED":   "30",
		"PERCENT": "2.9",
		"DUR":     "750ms",
		"BOOL":    "true",
		"NUMBER":  "12345",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	doc := "vault:\n  keys:\n    - {id: k1, key: \"${KEY}\"}\n" +
		"server:\n  listen: ${HOST}:${PORT}\n  read_timeout: ${DUR}\n" +
		"processors:\n  s:\n    type: stripe\n    secret_key: '${TRICKY}'\n    base_url: \"http://h/$1/${HOST}\"\n" +
		"    fees:\n      percent: ${PERCENT}\n      fixed: ${FIXED}\n      currency: usd\n" +
		"merchants:\n  - id: m${NUMBER}\n    api_key: ${NUMBER}\n    processors: [s]\n    metrics:\n      per_merchant: ${BOOL}\n"
	c, err := parse([]byte(doc), "e.yaml", lookup)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server.Listen != "127.0.0.1:9999" || c.Server.ReadTimeout != 750*time.Millisecond {
		t.Errorf("server = %+v", c.Server)
	}
	s := c.Processors["s"]
	if s.Stripe.SecretKey != env["TRICKY"] {
		t.Errorf("secret_key = %q, want the variable verbatim", s.Stripe.SecretKey)
	}
	if s.Stripe.BaseURL != "http://h/$1/127.0.0.1" {
		t.Errorf("base_url = %q (a lone $ stays)", s.Stripe.BaseURL)
	}
	if s.Fees.Fixed != 30 || s.Fees.Percent != 29000 {
		t.Errorf("fees = %+v", s.Fees)
	}
	m := c.Merchants[0]
	if m.ID != "m12345" || !bytes.Equal(m.APIKeySHA256, sum("12345")) || !m.Metrics.PerMerchant {
		t.Errorf("merchant = %+v", *m)
	}
	// Keys are not expanded, and comments are not values.
	_, err = parse([]byte(vaultOK+"# ${NOT_SET_ANYWHERE}\n${SET}: x\n"), "e.yaml", testEnv)
	if err == nil || strings.Contains(err.Error(), "NOT_SET_ANYWHERE") || !strings.Contains(err.Error(), `unknown key "${SET}"`) {
		t.Errorf("comment or key expanded: %v", err)
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if !os.IsNotExist(err) && !strings.Contains(err.Error(), "no such file") {
		t.Fatalf("Load(missing) = %v", err)
	}
}

func TestDemo(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	c, err := Demo(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Demo || c.Path != "" || c.Server.Listen != "127.0.0.1:8080" {
		t.Errorf("Demo %v Path %q Listen %q", c.Demo, c.Path, c.Server.Listen)
	}
	if c.Store.Driver != "sqlite" || c.Store.DSN != filepath.Join(dir, "acpgw.db") {
		t.Errorf("store = %+v", c.Store)
	}
	if len(c.ProcessorOrder) != 1 || c.ProcessorOrder[0] != "mock" || c.Processors["mock"].Type != TypeMock {
		t.Errorf("processors = %v", c.ProcessorOrder)
	}
	if len(c.Merchants) != 1 || c.Merchants[0].ID != "demo" || !bytes.Equal(c.Merchants[0].APIKeySHA256, sum("demo-merchant-key")) ||
		c.Merchants[0].Processors[0] != "mock" {
		t.Errorf("merchants = %v", c.Merchants)
	}
	if len(c.Agents) != 1 || c.Agents[0].ID != "demo-agent" || !bytes.Equal(c.Agents[0].APIKeySHA256, sum("demo-agent-key")) {
		t.Errorf("agents = %v", c.Agents)
	}
	// Finance users can try fee reports on the demo.
	if len(c.Reports) != 1 || c.Reports[0].ID != "demo-finance" || !bytes.Equal(c.Reports[0].APIKeySHA256, sum("demo-reports-key")) {
		t.Errorf("reports = %v", c.Reports)
	}
	if len(c.Vault.Keys) != 1 || len(c.Vault.Keys[0].Key) != 32 || bytes.Equal(c.Vault.Keys[0].Key, make([]byte, 32)) {
		t.Fatalf("vault = %v", c.Vault)
	}
	keyFile := filepath.Join(dir, DemoVaultKeyFile)
	fi, err := os.Stat(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	stored, _ := os.ReadFile(keyFile)
	if strings.TrimSpace(string(stored)) != base64.StdEncoding.EncodeToString(c.Vault.Keys[0].Key) {
		t.Error("the key file does not hold the config's key")
	}

	again, err := Demo(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Vault.Keys[0].Key, c.Vault.Keys[0].Key) {
		t.Error("a second Demo call generated a new vault key")
	}
	other, err := Demo(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(other.Vault.Keys[0].Key, c.Vault.Keys[0].Key) {
		t.Error("two data directories share a vault key")
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, ".demo-vault-*"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	// A damaged key file is an error, not silently replaced.
	if err := os.WriteFile(keyFile, []byte("short\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Demo(dir); err == nil || strings.Contains(err.Error(), "short") {
		t.Errorf("Demo with a damaged key file = %v", err)
	}
	if !bytes.Contains(DemoYAML(), []byte("demo-merchant-key")) {
		t.Error("DemoYAML does not return the demo file")
	}
}

func TestDemoConcurrentFirstStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const n = 8
	keys := make(chan []byte, n)
	errs := make(chan error, n)
	for range n {
		go func() {
			c, err := Demo(dir)
			if err != nil {
				errs <- err
				return
			}
			keys <- c.Vault.Keys[0].Key
		}()
	}
	var first []byte
	for range n {
		select {
		case err := <-errs:
			t.Fatal(err)
		case k := <-keys:
			if first == nil {
				first = k
			} else if !bytes.Equal(k, first) {
				t.Fatal("concurrent first starts generated different keys")
			}
		}
	}
}

func TestRedacted(t *testing.T) {
	c := loadExample(t)
	out := c.Redacted()
	secrets := []string{}
	for _, v := range exampleEnv {
		secrets = append(secrets, v)
	}
	for _, a := range c.Agents {
		secrets = append(secrets, hex.EncodeToString(a.APIKeySHA256))
	}
	for _, m := range c.Merchants {
		secrets = append(secrets, hex.EncodeToString(m.APIKeySHA256))
	}
	dumps := map[string]string{
		"Redacted": out,
		"%v":       fmt.Sprintf("%v", *c),
		"%+v":      fmt.Sprintf("%+v", *c),
		"%#v":      fmt.Sprintf("%#v", *c),
		"settings": fmt.Sprintf("%v %+v %#v %v", c.Processors["stripe_us"].Stripe, *c.Processors["stripe_us"].Stripe,
			*c.Processors["adyen_eu"].Adyen, c.Processors["adyen_eu"].Adyen),
		"merchants": fmt.Sprintf("%v %+v %#v", c.Merchants, *c.Merchants[0], c.Merchants[1]),
		"events":    fmt.Sprintf("%v %+v %#v %v", c.Merchants[0].Events, *c.Merchants[0].Events, *c.Merchants[0].Events, c.Events),
	}
	for name, dump := range dumps {
		for _, s := range secrets {
			if strings.Contains(dump, s) {
				t.Errorf("%s shows secret %q:\n%s", name, s, dump)
			}
		}
	}
	for _, want := range []string{
		"secret_key: '[redacted]'", "hmac_key: '[redacted]'", "merchant_account: AcmeECOM", "percent: 2.9\n",
		"interchange_percent: 0.3\n", "latency: 5ms", "processors: [stripe_us, adyen_eu, mock]", "- id: k2",
		"weights:\n", "stripe_us: 90", "max_attempts: 2", "per_merchant: true", "ttl: 24h0m0s", "body_limit: 65536\n", "debug_listen: \"\"\n",
		"max_token_ttl: 720h0m0s", "cvc_ttl: 24h0m0s",
		"amounts:\n  max:\n    jpy: 99999999\n    usd: 5000000\n",
		"url: https://acme.example/acpgw/events", "secret: '[redacted]'", "give_up_after: 72h0m0s", "workers: 4",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("Redacted() lacks %q:\n%s", want, out)
		}
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(out), &n); err != nil {
		t.Errorf("Redacted() is not YAML: %v", err)
	}
	// Processors keep file order.
	if i, j := strings.Index(out, "stripe_us:\n"), strings.Index(out, "adyen_eu:\n"); i < 0 || j < i {
		t.Errorf("processors out of order:\n%s", out)
	}
}

func TestRedactDSN(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"./data/acpgw.db", "./data/acpgw.db"},
		{"", ""},
		{"postgres://acpgw:pa55w0rd@db:5432/acpgw?sslmode=require", "postgres://acpgw:[redacted]@db:5432/acpgw?sslmode=require"},
		{"postgres://acpgw@db/acpgw?password=pa55w0rd", "postgres://acpgw@db/acpgw?password=REDACTED"},
		{"postgresql://db/acpgw", "postgresql://db/acpgw"},
		{"host=db password=pa55w0rd", "[redacted]"},
		{"postgres://u:pa55w0rd@[::1", "[redacted]"},
	}
	for _, tt := range tests {
		got := redactDSN(tt.in)
		if got != tt.want || strings.Contains(got, "pa55w0rd") {
			t.Errorf("redactDSN(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	s := Store{Driver: "postgres", DSN: "postgres://u:pa55w0rd@db/x"}
	if out := fmt.Sprintf("%v %+v %#v %s", s, s, s, s); strings.Contains(out, "pa55w0rd") {
		t.Errorf("Store prints its password: %s", out)
	}
}

func TestTestdataCorpus(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		_, err = parse(data, f, fuzzEnv)
		wantOK := strings.HasPrefix(filepath.Base(f), "valid_")
		if wantOK && err != nil {
			t.Errorf("%s: %v", f, err)
		}
		if !wantOK && err == nil {
			t.Errorf("%s: parsed, want an error", f)
		}
	}
}

func fuzzEnv(name string) (string, bool) {
	if strings.HasPrefix(name, "SET_") {
		return strings.TrimPrefix(name, "SET_"), true
	}
	if name == "VAULT_KEY" {
		return key32, true
	}
	return "", false
}

func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds: %v", err)
	}
	for _, file := range append(files, "example.yaml", "demo.yaml") {
		data, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parse(data, "fuzz.yaml", fuzzEnv)
		if err != nil {
			if c != nil {
				t.Fatal("both a config and an error")
			}
			for _, e := range configErrors(t, err) {
				if e.File != "fuzz.yaml" || e.Msg == "" || e.Kind == nil {
					t.Fatalf("malformed error %#v", e)
				}
			}
			return
		}
		// What validation promises the rest of acpgw.
		if len(c.Vault.Keys) == 0 {
			t.Fatal("valid config without vault keys")
		}
		for _, k := range c.Vault.Keys {
			if len(k.Key) != 32 {
				t.Fatalf("vault key of %d bytes", len(k.Key))
			}
		}
		if len(c.ProcessorOrder) != len(c.Processors) {
			t.Fatal("ProcessorOrder and Processors differ")
		}
		for name, p := range c.Processors {
			set := 0
			for _, b := range []bool{p.Stripe != nil, p.Adyen != nil, p.Mock != nil} {
				if b {
					set++
				}
			}
			if p.Name != name || set != 1 || p.Timeout <= 0 {
				t.Fatalf("processor %q = %+v", name, p)
			}
		}
		for _, a := range c.Agents {
			if a.APIKey != "" || len(a.APIKeySHA256) != 32 {
				t.Fatalf("agent %s key not hashed", a.ID)
			}
		}
		for _, m := range c.Merchants {
			if m.APIKey != "" || len(m.APIKeySHA256) != 32 || len(m.Processors) == 0 || !validName(m.ID) {
				t.Fatalf("merchant %+v", *m)
			}
			for _, p := range m.Processors {
				if c.Processors[p] == nil {
					t.Fatalf("merchant %s uses unknown processor %q", m.ID, p)
				}
			}
			if e := m.Events; e != nil && (e.URL == "" || len(e.Secret) < minEventsSecret) {
				t.Fatalf("merchant %s events %v accepted", m.ID, e)
			}
		}
		if c.Tokens.MaxAttempts < 1 || c.Tokens.MaxAttempts > MaxTokenAttempts {
			t.Fatalf("tokens.max_attempts %d", c.Tokens.MaxAttempts)
		}
		for _, r := range append([]Risk{c.Risk}, func() []Risk {
			var rs []Risk
			for _, m := range c.Merchants {
				rs = append(rs, m.Risk)
			}
			return rs
		}()...) {
			for _, a := range r.BlockActions {
				if !slices.Contains(riskActions, a) {
					t.Fatalf("risk action %q", a)
				}
			}
			if r.MaxScore != nil && *r.MaxScore < 0 {
				t.Fatalf("max_score %d", *r.MaxScore)
			}
		}
		if out := c.Redacted(); !strings.HasPrefix(out, "# acpgw config") {
			t.Fatalf("Redacted() = %q", out)
		}
	})
}

func TestStripeSharedTokenKeys(t *testing.T) {
	doc := "vault:\n  keys:\n    - {id: k1, key: \"" + key32 + "\"}\n" +
		"processors:\n  s:\n    type: stripe\n    secret_key: sk\n" +
		"    shared_token_param: shared_payment_granted_token\n    api_version: 2025-09-30.preview\n" +
		"merchants:\n  - id: m\n    api_key: k\n    processors: [s]\n"
	c, err := parse([]byte(doc), "s.yaml", func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatal(err)
	}
	s := c.Processors["s"].Stripe
	if s.SharedTokenParam != "shared_payment_granted_token" || s.APIVersion != "2025-09-30.preview" {
		t.Errorf("stripe settings = %v", s)
	}
	if str := s.String(); !strings.Contains(str, "2025-09-30.preview") || strings.Contains(str, "sk,") {
		t.Errorf("String() = %q", str)
	}
}

// TestEventsLoopbackHTTP: http:// is accepted to loopback addresses only;
// https:// anywhere.
func TestEventsLoopbackHTTP(t *testing.T) {
	for url, ok := range map[string]bool{
		"http://127.0.0.1:9099/merchant/events": true,
		"http://127.8.0.1/x":                    true,
		"http://localhost:8080/x":               true,
		"http://[::1]:8080/x":                   true,
		"https://acme.example/x":                true,
		"https://10.0.0.1/x":                    true,
		"http://localhost.acme.example/x":       false,
		"http://0.0.0.0/x":                      false,
		"http://[::ffff:10.0.0.1]/x":            false,
		"http:///x":                             false,
	} {
		doc := "vault:\n  keys:\n    - {id: k1, key: \"" + key32 + "\"}\nprocessors:\n  mock: {type: mock}\n" +
			"merchants:\n  - id: m\n    api_key: k\n    processors: [mock]\n    events: {url: \"" + url + "\", secret: whsec_0123456789abcdef}\n"
		_, err := parse([]byte(doc), "e.yaml", func(string) (string, bool) { return "", false })
		if (err == nil) != ok {
			t.Errorf("%s: error %v, want accepted %v", url, err, ok)
		}
	}
}
