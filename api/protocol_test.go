package api_test

import (
	"bufio"
	"encoding/json"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"acpgw/api"
)

// noRedirect is a client that shows a redirect instead of following it.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// send makes one request without following redirects and returns the
// answer with its body read.
func send(t *testing.T, method, url, key string, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	var body io.Reader
	if method == http.MethodPost {
		body = strings.NewReader(`{}`)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, raw
}

// acpError checks that an answer is an ACP error object with status and
// code, in JSON, and redirects nowhere.
func acpError(t *testing.T, what string, resp *http.Response, raw []byte, status int, code string) {
	t.Helper()
	var e struct{ Type, Code, Message string }
	switch {
	case resp.StatusCode != status:
		t.Errorf("%s: status %d, want %d: %s", what, resp.StatusCode, status, raw)
	case !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json"):
		t.Errorf("%s: Content-Type %q, want JSON: %s", what, resp.Header.Get("Content-Type"), raw)
	case json.Unmarshal(raw, &e) != nil || e.Type == "" || e.Code != code || e.Message == "":
		t.Errorf("%s: body %s, want an ACP error with code %s", what, raw, code)
	case resp.Header.Get("Location") != "":
		t.Errorf("%s: Location %q on an error", what, resp.Header.Get("Location"))
	}
}

// TestUnauthorizedChallenge: every 401 carries a Bearer challenge
// (RFC 9110 section 15.5.2), on every route of the router that takes a key.
func TestUnauthorizedChallenge(t *testing.T) {
	const secret = "agent-signing-secret-0123456789"
	h := newHarness(t, harnessOpts{agentExtra: ", signing_secret: " + secret})
	fill := strings.NewReplacer(":id", "pay_none", ":processor", "mock")
	var withKey []string
	for _, route := range api.Routes(h.api) {
		method, path, _ := strings.Cut(route, " ")
		url := h.srv.URL + fill.Replace(path)
		resp, raw := send(t, method, url, "", nil)
		if resp.StatusCode != http.StatusUnauthorized {
			if got := resp.Header.Get("WWW-Authenticate"); got != "" {
				t.Errorf("%s without a key: %d with WWW-Authenticate %q", route, resp.StatusCode, got)
			}
			continue
		}
		withKey = append(withKey, route)
		acpError(t, route+" without a key", resp, raw, http.StatusUnauthorized, "unauthorized")
		if got := resp.Header.Get("WWW-Authenticate"); got != `Bearer realm="acpgw"` {
			t.Errorf("%s without a key: WWW-Authenticate %q, want the bare Bearer challenge", route, got)
		}
		resp, raw = send(t, method, url, "not-a-key", nil)
		acpError(t, route+" with a wrong key", resp, raw, http.StatusUnauthorized, "unauthorized")
		if got := resp.Header.Get("WWW-Authenticate"); got != `Bearer realm="acpgw", error="invalid_token"` {
			t.Errorf("%s with a wrong key: WWW-Authenticate %q, want Bearer with error=\"invalid_token\"", route, got)
		}
	}
	slices.Sort(withKey)
	want := []string{
		"GET /delegate_authentication/:id", "GET /v1/events", "GET /v1/events/:id", "GET /v1/payments/:id",
		"GET /v1/reports/fees", "POST /agentic_commerce/delegate_payment", "POST /delegate_authentication",
		"POST /delegate_authentication/:id/authenticate", "POST /v1/events/:id/redeliver", "POST /v1/payments",
		"POST /v1/payments/:id/capture", "POST /v1/payments/:id/refunds", "POST /v1/payments/:id/void",
	}
	if !slices.Equal(withKey, want) {
		t.Errorf("routes answering 401 without a key: %v, want %v", withKey, want)
	}

	// A right key with a missing Signature is a 401 too.
	resp, raw := send(t, http.MethodPost, h.srv.URL+"/agentic_commerce/delegate_payment", agentKey,
		map[string]string{"API-Version": "2026-04-17", "Idempotency-Key": newKey()})
	acpError(t, "delegate_payment without a Signature", resp, raw, http.StatusUnauthorized, "timestamp_out_of_window")
	if got := resp.Header.Get("WWW-Authenticate"); got != `Bearer realm="acpgw"` {
		t.Errorf("delegate_payment without a Signature: WWW-Authenticate %q, want the bare Bearer challenge", got)
	}
}

// TestNoRedirects: Gin redirects a path with (or without) a trailing slash
// to the other form with an HTML body, and may fix a path's case; acpgw
// answers such paths with a 404 in the ACP error shape instead, and a
// known path with another method with a JSON 405 and Allow.
func TestNoRedirects(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	for _, tc := range []struct {
		method, path string
		status       int
		code         string
	}{
		{http.MethodGet, "/v1/payments/pay_none/", http.StatusNotFound, "not_found"},
		{http.MethodPost, "/v1/payments/", http.StatusNotFound, "not_found"},
		{http.MethodPost, "/v1/payments/pay_none/capture/", http.StatusNotFound, "not_found"},
		{http.MethodGet, "/healthz/", http.StatusNotFound, "not_found"},
		{http.MethodGet, "/V1/payments/pay_none", http.StatusNotFound, "not_found"},
		{http.MethodGet, "/v1//payments/pay_none", http.StatusNotFound, "not_found"},
		{http.MethodGet, "/v1/payments/../payments/pay_none", http.StatusNotFound, "not_found"},
		{http.MethodDelete, "/v1/payments/pay_none", http.StatusMethodNotAllowed, "method_not_allowed"},
		{http.MethodGet, "/v1/payments", http.StatusMethodNotAllowed, "method_not_allowed"},
	} {
		what := tc.method + " " + tc.path
		resp, raw := send(t, tc.method, h.srv.URL+tc.path, acmeKey, map[string]string{"X-Forwarded-Prefix": "/evil"})
		acpError(t, what, resp, raw, tc.status, tc.code)
		if tc.status == http.StatusMethodNotAllowed && resp.Header.Get("Allow") == "" {
			t.Errorf("%s: 405 without Allow", what)
		}
	}
	// The path without the slash is the route.
	resp, raw := send(t, http.MethodGet, h.srv.URL+"/v1/payments/pay_none", acmeKey, nil)
	acpError(t, "GET /v1/payments/pay_none", resp, raw, http.StatusNotFound, "not_found")
}

// TestServerOwnAnswers checks the README's table of the answers Go's HTTP
// server writes itself, in plain text, before acpgw sees a request: 431
// above api.MaxHeaderBytes, 400 for a malformed request, and nothing at all
// (the connection closes) when the headers do not arrive in time; and that a
// body that does not arrive in time is acpgw's own JSON 400.
func TestServerOwnAnswers(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	// start serves acpgw with the limits serve sets and the given read
	// timeouts (0: none).
	start := func(readHeader, read time.Duration) string {
		srv := httptest.NewUnstartedServer(h.srv.Config.Handler)
		srv.Config.MaxHeaderBytes = api.MaxHeaderBytes
		srv.Config.ReadHeaderTimeout, srv.Config.ReadTimeout = readHeader, read
		srv.Start()
		t.Cleanup(srv.Close)
		return srv.Listener.Addr().String()
	}
	// raw sends a request as bytes and returns everything the server wrote
	// until it closed the connection.
	raw := func(addr, request string) string {
		t.Helper()
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		// Generous: the server answers or gives up on its own long before.
		_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
		if _, err := io.WriteString(conn, request); err != nil {
			t.Fatal(err)
		}
		out, err := io.ReadAll(bufio.NewReader(conn))
		if err != nil {
			t.Fatalf("reading the answer: %v", err)
		}
		return string(out)
	}
	get := func(header string) string {
		return "GET /v1/payments/pay_none HTTP/1.1\r\nHost: acpgw\r\nConnection: close\r\n" + header + "\r\n"
	}
	big := func(n int) string { return "X-Filler: " + strings.Repeat("a", n) + "\r\n" }

	addr := start(0, 0)
	if got := raw(addr, get(big(api.MaxHeaderBytes-1024))); !strings.HasPrefix(got, "HTTP/1.1 401 ") || !strings.Contains(got, `"code":"unauthorized"`) {
		t.Errorf("headers below the limit: acpgw should answer, got %.200q", got)
	}
	if got := raw(addr, get(big(api.MaxHeaderBytes+8192))); !strings.HasPrefix(got, "HTTP/1.1 431 ") || !strings.Contains(got, "text/plain") {
		t.Errorf("headers above the limit: %.200q, want 431 in plain text", got)
	}
	for _, bad := range []string{
		"GARBAGE\r\n\r\n",
		"GET /v1/payments/pay_none HTTP/1.1\r\n\r\n", // no Host
		"GET /v1/payments/pay_none HTTP/1.1\r\nHost: acpgw\r\nBad Header: x\r\n\r\n",
		"POST /v1/payments HTTP/1.1\r\nHost: acpgw\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx",
	} {
		if got := raw(addr, bad); !strings.HasPrefix(got, "HTTP/1.1 400 ") || !strings.Contains(got, "text/plain") {
			t.Errorf("%q: %.200q, want 400 in plain text", bad, got)
		}
	}

	// The timeouts only decide how long the server waits for what never
	// comes; the headers that do come are read in well under a second.
	if got := raw(start(100*time.Millisecond, 0), "GET /v1/payments/pay_none HTTP/1.1\r\nHost: acpgw\r\n"); got != "" {
		t.Errorf("headers never finished: %.200q, want the connection closed without an answer", got)
	}
	// A body cut short by the read timeout is acpgw's own answer, in JSON.
	got := raw(start(0, time.Second), "POST /v1/payments HTTP/1.1\r\nHost: acpgw\r\nAuthorization: Bearer "+acmeKey+
		"\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"amount\":")
	if !strings.HasPrefix(got, "HTTP/1.1 400 ") || !strings.Contains(got, `"code":"invalid_request"`) {
		t.Errorf("body never finished: %.300q, want acpgw's 400 invalid_request", got)
	}
}

// TestIsJSON: the Content-Type check answers as mime.ParseMediaType does.
func TestIsJSON(t *testing.T) {
	t.Parallel()
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "Application/JSON", "application/json;",
		"application/jsonx", "text/plain", "", "application/json; charset", " application/json"} {
		mt, _, err := mime.ParseMediaType(ct)
		if got, want := api.IsJSON(ct), err == nil && mt == "application/json"; got != want {
			t.Errorf("isJSON(%q) = %v, ParseMediaType says %v", ct, got, want)
		}
	}
}
