package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"acpgw/config"
	"acpgw/payment"
	"acpgw/providers"
	"acpgw/providers/mock"
	"acpgw/providers/mock/mockhttp"
	"acpgw/threeds"
	"acpgw/threeds/mock3ds"
	"acpgw/threeds/mock3ds/mock3dstest"
)

// logWatch is an io.Writer for a command's log that hands over the first
// line containing want, so that a test waits for the event, not for time.
type logWatch struct {
	want  string
	found chan string
	once  sync.Once
}

func newLogWatch(want string) *logWatch { return &logWatch{want: want, found: make(chan string, 1)} }

func (w *logWatch) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(w.want)) {
		line := string(p)
		w.once.Do(func() { w.found <- line })
	}
	return len(p), nil
}

// startMockServer runs `acpgw mock-server` with args on a free port until
// the test ends and returns its start-up log line, read as JSON.
func startMockServer(t *testing.T, args ...string) map[string]any {
	t.Helper()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	writeConfig(t, cfg, dir, "[mock]")
	ctx, cancel := context.WithCancel(context.Background())
	watch := newLogWatch("mock processor listening")
	done := make(chan int, 1)
	var errb bytes.Buffer
	go func() {
		done <- run(ctx, append([]string{"mock-server", "--config", cfg, "--listen", "127.0.0.1:0"}, args...), watch, &errb)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("mock-server exited %d: %s", code, errb.String())
		}
	})
	var line string
	select {
	case line = <-watch.found:
	case code := <-done:
		done <- code
		t.Fatalf("mock-server exited %d before listening: %s", code, errb.String())
	case <-time.After(30 * time.Second):
		t.Fatal("mock-server did not start")
	}
	var fields map[string]any
	if err := json.Unmarshal([]byte(line), &fields); err != nil {
		t.Fatalf("start-up line %q: %v", line, err)
	}
	return fields
}

// TestMockServerThreeDS: `acpgw mock-server` serves the mock's 3-D Secure
// server, JSON API and pages, at its own address: a Client authenticates a
// challenge card through a browser and pays with the result.
func TestMockServerThreeDS(t *testing.T) {
	fields := startMockServer(t)
	addr, _ := fields["addr"].(string)
	base := "http://" + addr
	if fields["three_ds_pages"] != base+mockhttp.PathThreeDSPages {
		t.Fatalf("start-up line %v, want three_ds_pages %s", fields, base+mockhttp.PathThreeDSPages)
	}
	c, err := mockhttp.NewClient(mockhttp.ClientConfig{URL: base})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var authn providers.Authenticating = c
	a := authn.Authenticator()
	b := mock3dstest.NewBrowser(t)
	ctx := t.Context()
	card := payment.Card{Number: "4000000000003220", ExpMonth: 12, ExpYear: 2034, CVC: "123", Brand: "visa"}
	sess := &threeds.Session{ID: "as_1", MerchantID: "m", Card: card, Amount: payment.Money{Amount: 2599, Currency: "usd"},
		ChallengeNotificationURL: b.Shop.ChallengeNotificationURL(), Browser: &threeds.Browser{UserAgent: "test"}}

	step, err := a.Create(ctx, sess)
	if err != nil || step.Action == nil || step.Action.Fingerprint == nil {
		t.Fatalf("create: %+v, %v", step, err)
	}
	if got := step.Action.Fingerprint.MethodURL; got != base+mockhttp.PathThreeDSPages+mock3ds.PathMethod {
		t.Fatalf("method URL %s", got)
	}
	sess.State = step.State
	if _, err := b.Fingerprint(ctx, *step.Action.Fingerprint); err != nil {
		t.Fatal(err)
	}
	if step, err = a.Authenticate(ctx, sess, threeds.FingerprintCompleted); err != nil || step.Action == nil || step.Action.Challenge == nil {
		t.Fatalf("authenticate: %+v, %v", step, err)
	}
	if cres, err := b.Challenge(ctx, *step.Action.Challenge, "1234"); err != nil || cres.TransStatus != "Y" {
		t.Fatalf("challenge: %+v, %v", cres, err)
	}
	if step, err = a.Result(ctx, sess); err != nil || step.Status != threeds.StatusAuthenticated {
		t.Fatalf("result: %+v, %v", step, err)
	}
	au := step.Result.Authentication()
	res, err := c.Authorize(ctx, providers.AuthorizeRequest{
		PaymentID: "pay_1", AttemptID: "att_1", IdempotencyKey: "acpgw_pay_1_1", MerchantID: "m",
		Amount: payment.Money{Amount: 2599, Currency: "usd"}, Capture: payment.CaptureAutomatic,
		Instrument: providers.Instrument{Kind: providers.TokenVault, Card: &card}, Authentication: &au,
	})
	if err != nil || res.Status != payment.StatusCaptured {
		t.Fatalf("payment: %+v, %v", res, err)
	}
}

// TestMockServerPublicURL: --public-url is where the pages are said to be.
func TestMockServerPublicURL(t *testing.T) {
	fields := startMockServer(t, "--public-url", "https://pages.test/acpgw-mock/")
	if fields["three_ds_pages"] != "https://pages.test/acpgw-mock/3ds" {
		t.Fatalf("start-up line %v", fields)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "c.yaml")
	writeConfig(t, cfg, dir, "[mock]")
	if code, _, errb := runStopped(t, "mock-server", "--config", cfg, "--public-url", "javascript:x"); code != 1 || !strings.Contains(errb, "base URL") {
		t.Errorf("a bad --public-url: exit %d %s", code, errb)
	}
}

// TestServeMockPages: `acpgw serve` serves its in-process mock's 3-D
// Secure pages at /mock/3ds/NAME/ on the API listener, where the mock says
// they are; other names go to the API.
func TestServeMockPages(t *testing.T) {
	base, _ := serveConfig(t, debugConfig(t, ""))
	mocks.Lock()
	m := mocks.byKey[mockKey{"mock", base}]
	mocks.Unlock()
	if m == nil {
		t.Fatalf("serve built no mock for %s", base)
	}
	if got := m.ThreeDS().BaseURL(); got != base+"/mock/3ds/mock" {
		t.Fatalf("the mock's pages are said to be at %s", got)
	}
	b := mock3dstest.NewBrowser(t)
	sess := &threeds.Session{ID: "as_1", MerchantID: "m", Card: payment.Card{Number: "4242424242424242"},
		Amount: payment.Money{Amount: 100, Currency: "usd"}}
	step, err := m.Authenticator().Create(t.Context(), sess)
	if err != nil || step.Action == nil {
		t.Fatalf("create: %+v, %v", step, err)
	}
	if note, err := b.Fingerprint(t.Context(), *step.Action.Fingerprint); err != nil || note.ServerTransID != step.Action.Fingerprint.ServerTransID {
		t.Fatalf("fingerprint through serve: %+v, %v", note, err)
	}
	for _, path := range []string{"/mock/3ds/nosuch/method", "/mock/3ds/", "/mock/3ds/mock"} {
		resp, err := http.Post(base+path, "application/x-www-form-urlencoded", strings.NewReader(""))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), `"type"`) {
			t.Errorf("POST %s: %d %s, want the API's 404", path, resp.StatusCode, body)
		}
	}
}

// TestMockPagesOnlyForInProcessMocks: a mock that is a mock-server client,
// or a name the config does not have, serves no page.
func TestMockPagesOnlyForInProcessMocks(t *testing.T) {
	public := "http://pages.test:1"
	build := newFactory(nil, nil, public)
	local := &config.Processor{Name: "local", Type: config.TypeMock, Mock: &config.MockSettings{}}
	remote := &config.Processor{Name: "remote", Type: config.TypeMock, Mock: &config.MockSettings{URL: "http://127.0.0.1:9"}}
	cfg := &config.Config{Processors: map[string]*config.Processor{"local": local, "remote": remote}}
	for _, p := range []*config.Processor{local, remote} {
		if _, err := build(p); err != nil {
			t.Fatal(err)
		}
	}
	api := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
	h := withMockPages(api, public, func() *config.Config { return cfg })
	for path, want := range map[string]int{
		"/mock/3ds/local/method":  http.StatusBadRequest, // the page, refusing an empty form
		"/mock/3ds/remote/method": http.StatusTeapot,
		"/mock/3ds/other/method":  http.StatusTeapot,
		"/v1/payments":            http.StatusTeapot,
	} {
		r, _ := http.NewRequest(http.MethodPost, public+path, strings.NewReader(""))
		w := &statusRecorder{header: http.Header{}}
		h.ServeHTTP(w, r)
		if w.status != want {
			t.Errorf("POST %s: %d, want %d", path, w.status, want)
		}
	}
	if p, ok := mustMock(t, build, local); !ok || p.ThreeDS().BaseURL() != public+"/mock/3ds/local" {
		t.Errorf("the local mock's pages: %v", p.ThreeDS().BaseURL())
	}
	// Before a config is in service, every path is the API's.
	r, _ := http.NewRequest(http.MethodPost, public+"/mock/3ds/local/method", strings.NewReader(""))
	w := &statusRecorder{header: http.Header{}}
	withMockPages(api, public, func() *config.Config { return nil }).ServeHTTP(w, r)
	if w.status != http.StatusTeapot {
		t.Errorf("without a config: %d, want the API's answer", w.status)
	}
}

func mustMock(t *testing.T, build func(*config.Processor) (providers.Provider, error), p *config.Processor) (*mock.Provider, bool) {
	t.Helper()
	prov, err := build(p)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := prov.(*mock.Provider)
	return m, ok
}

type statusRecorder struct {
	header http.Header
	status int
}

func (r *statusRecorder) Header() http.Header         { return r.header }
func (r *statusRecorder) Write(p []byte) (int, error) { return len(p), nil }
func (r *statusRecorder) WriteHeader(code int)        { r.status = code }

func TestPublicURL(t *testing.T) {
	for _, tc := range []struct {
		s    config.Server
		want string
	}{
		{config.Server{Listen: "127.0.0.1:8080"}, "http://127.0.0.1:8080"},
		{config.Server{Listen: "0.0.0.0:8080"}, "http://127.0.0.1:8080"},
		{config.Server{Listen: ":8443", TLS: config.TLS{CertFile: "c", KeyFile: "k"}}, "https://127.0.0.1:8443"},
		{config.Server{Listen: "[::1]:9"}, "http://[::1]:9"},
		{config.Server{Listen: "[::]:9"}, "http://127.0.0.1:9"},
		{config.Server{Listen: "127.0.0.1:8080", PublicURL: "https://pay.example.com/acpgw/"}, "https://pay.example.com/acpgw"},
	} {
		if got := publicURL(tc.s); got != tc.want {
			t.Errorf("publicURL(%+v) = %s, want %s", tc.s, got, tc.want)
		}
	}
}
