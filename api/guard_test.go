package api_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"acpgw/api"
)

func TestAgentRequestSigning(t *testing.T) {
	const secret = "agent-signing-secret-0123456789"
	h := newHarness(t, harnessOpts{agentExtra: ", signing_secret: " + secret + ", timestamp_window: 2m"})
	body, _ := json.Marshal(delegateBody("4242424242424242", "acme", "cs_1", 1000, "usd"))
	send := func(ts, sig string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/agentic_commerce/delegate_payment", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+agentKey)
		req.Header.Set("API-Version", "2026-04-17")
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", newKey())
		if ts != "" {
			req.Header.Set("Timestamp", ts)
		}
		if sig != "" {
			req.Header.Set("Signature", sig)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		var e struct{ Code string }
		_ = json.Unmarshal(raw, &e)
		return resp.StatusCode, e.Code
	}
	sign := func(ts string, b []byte) string { return base64.StdEncoding.EncodeToString(api.Sign(secret, ts, b)) }
	now := time.Now().UTC().Format(time.RFC3339)
	if st, code := send(now, sign(now, body)); st != http.StatusCreated {
		t.Fatalf("valid signature: %d %s", st, code)
	}
	old := time.Now().Add(-5 * time.Minute).UTC().Format(time.RFC3339)
	for name, tc := range map[string]struct{ ts, sig, code string }{
		"missing":          {"", "", "timestamp_out_of_window"},
		"no signature":     {now, "", "invalid_signature"},
		"wrong secret":     {now, base64.StdEncoding.EncodeToString(api.Sign("another-secret-0123456789", now, body)), "invalid_signature"},
		"other body":       {now, sign(now, []byte(`{}`)), "invalid_signature"},
		"replayed too old": {old, sign(old, body), "timestamp_out_of_window"},
	} {
		if st, code := send(tc.ts, tc.sig); st != http.StatusUnauthorized || code != tc.code {
			t.Errorf("%s: %d %s, want 401 %s", name, st, code, tc.code)
		}
	}
	if h.counts()["tokens"] != 1 {
		t.Fatal("a rejected request stored a token")
	}
}

func TestRateLimit(t *testing.T) {
	h := newHarness(t, harnessOpts{acmeExtra: ", rate_limit: {per_second: 1, burst: 3}"})
	limited := 0
	var retry string
	for range 6 {
		r := h.do(req{method: http.MethodGet, path: "/v1/payments/pay_none", key: acmeKey})
		if r.status == http.StatusTooManyRequests {
			limited++
			retry = r.header.Get("Retry-After")
			if r.str("type") != "rate_limit_exceeded" || r.str("code") != "too_many_requests" {
				t.Fatalf("429 body: %s", r.raw)
			}
		} else if r.status != http.StatusNotFound {
			t.Fatalf("status %d", r.status)
		}
	}
	if limited < 2 || retry == "" {
		t.Fatalf("limited %d, Retry-After %q", limited, retry)
	}
	// Another merchant has its own bucket (and no limit).
	if r := h.do(req{method: http.MethodGet, path: "/v1/payments/pay_none", key: otherKey}); r.status != http.StatusNotFound {
		t.Fatalf("other merchant: %d", r.status)
	}
}
