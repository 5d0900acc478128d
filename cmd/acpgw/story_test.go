package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"acpgw/api/apitest"
	"acpgw/threeds"
	"acpgw/threeds/mock3ds/mock3dstest"
)

// TestAgentStoryOnTheDemo runs ACP's whole agent story against `acpgw
// serve` on its embedded demo config, as the README's walkthrough does: the
// agent delegates a card whose issuer wants 3-D Secure; the merchant's first
// payment is declined authentication_required, retryable; the agent
// authenticates the buyer through the Delegate Authentication API with a
// challenge that a browser plays on the mock's real pages; the merchant pays
// again with the same token and the session's result, and captures.
func TestAgentStoryOnTheDemo(t *testing.T) {
	apitest.Must(t) // loaded once per binary, from the repository, before the test leaves it
	t.Chdir(t.TempDir())
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var errb bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"serve", "--listen", addr}, io.Discard, &errb) }()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited %d: %s", code, errb.String())
		}
	}()
	base := "http://" + addr
	waitReady(t, base)
	const (
		agentKey    = "demo-agent-key"
		merchantKey = "demo-merchant-key"
		challenge   = "4000000000003220"
	)

	// 1. The agent delegates the card.
	exp := time.Now().UTC().Add(time.Hour).Format(time.RFC3339)
	token := postJSON(t, base+"/agentic_commerce/delegate_payment", agentKey, map[string]any{
		"payment_method": map[string]any{"type": "card", "card_number_type": "fpan", "number": challenge,
			"exp_month": "12", "exp_year": "2030", "name": "Jane Doe", "cvc": "123", "checks_performed": []string{"cvv"},
			"display_card_funding_type": "credit", "display_brand": "visa", "display_last4": "3220", "metadata": map[string]any{}},
		"allowance": map[string]any{"reason": "one_time", "max_amount": 2599, "currency": "usd",
			"checkout_session_id": "cs_story", "merchant_id": "demo", "expires_at": exp},
		"risk_signals": []any{map[string]any{"type": "card_testing", "score": 2, "action": "authorized"}},
		"metadata":     map[string]any{},
	}, http.StatusCreated)["id"].(string)

	pay := func(auth map[string]any) map[string]any {
		body := map[string]any{"merchant_id": "demo", "checkout_session_id": "cs_story", "amount": 2599,
			"currency": "usd", "capture": "manual", "payment_data": map[string]any{"token": token, "provider": "stripe"}}
		if auth != nil {
			body["authentication_result"] = auth
		}
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, base+"/v1/payments", bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+merchantKey)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Idempotency-Key", fmt.Sprintf("story-%d", time.Now().UnixNano()))
		return doJSON(t, req)
	}

	// 2. The first payment, without 3-D Secure, is a soft decline that keeps
	// the token.
	first := pay(nil)
	decline, _ := first["decline"].(map[string]any)
	if first["status"] != "declined" || decline["code"] != "authentication_required" || decline["retryable"] != true {
		t.Fatalf("payment without 3-D Secure: %v, want a retryable authentication_required decline", first)
	}

	// 3. The agent authenticates the buyer: fingerprint, then a challenge.
	browser := mock3dstest.NewBrowser(t)
	created := postJSON(t, base+"/delegate_authentication", agentKey, map[string]any{
		"merchant_id":    "demo",
		"payment_method": map[string]any{"type": "card", "number": challenge, "exp_month": "12", "exp_year": "2030", "name": "Jane Doe"},
		"amount":         map[string]any{"value": 2599, "currency": "USD"},
		"channel": map[string]any{"type": "browser", "browser": map[string]any{
			"accept_header": "text/html", "ip_address": "192.0.2.1", "javascript_enabled": false,
			"language": "en-US", "user_agent": "Mozilla/5.0"}},
		"challenge_notification_url": browser.Shop.ChallengeNotificationURL(),
		"checkout_session_id":        "cs_story",
	}, http.StatusCreated)
	id, _ := created["authentication_session_id"].(string)
	fp := action(t, created, "fingerprint")
	if _, err := browser.Fingerprint(t.Context(), threeds.Fingerprint{
		MethodURL: fp["three_ds_method_url"].(string), ServerTransID: fp["three_ds_server_trans_id"].(string),
	}); err != nil {
		t.Fatalf("fingerprint on the demo's pages: %v", err)
	}
	authd := postJSON(t, base+"/delegate_authentication/"+id+"/authenticate", agentKey,
		map[string]any{"fingerprint_completion": "Y"}, http.StatusOK)
	ch := action(t, authd, "challenge")
	cres, err := browser.Challenge(t.Context(), threeds.Challenge{
		ACSURL: ch["acs_url"].(string), ACSTransID: ch["acs_trans_id"].(string),
		ServerTransID: ch["three_ds_server_trans_id"].(string), MessageVersion: ch["message_version"].(string),
	}, "1234")
	if err != nil || cres.TransStatus != "Y" {
		t.Fatalf("challenge: %+v, %v", cres, err)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/delegate_authentication/"+id, nil)
	req.Header.Set("Authorization", "Bearer "+agentKey)
	req.Header.Set("API-Version", "2026-04-17")
	session := doJSON(t, req)
	result, _ := session["authentication_result"].(map[string]any)
	if session["status"] != "authenticated" || result["trans_status"] != "Y" || result["three_ds_cryptogram"] == nil {
		t.Fatalf("session after the challenge: %v", session)
	}

	// 4. The merchant pays again with the same token and the result (the
	// agent turns it into the checkout's authentication_result), and
	// captures.
	second := pay(map[string]any{"outcome": "authenticated", "outcome_details": map[string]any{
		"three_ds_cryptogram":           result["three_ds_cryptogram"],
		"electronic_commerce_indicator": result["electronic_commerce_indicator"],
		"transaction_id":                result["transaction_id"],
		"version":                       result["version"],
	}})
	if second["status"] != "authorized" {
		t.Fatalf("payment with the authentication result: %v", second)
	}
	payID := second["id"].(string)
	captured := postJSON(t, base+"/v1/payments/"+payID+"/capture", merchantKey, map[string]any{"amount": 2599}, http.StatusOK)
	if captured["status"] != "captured" {
		t.Fatalf("capture: %v", captured)
	}
}

// action returns the object of the answer's action of type typ.
func action(t *testing.T, answer map[string]any, typ string) map[string]any {
	t.Helper()
	a, _ := answer["action"].(map[string]any)
	obj, _ := a[typ].(map[string]any)
	if answer["status"] != "action_required" || a["type"] != typ || obj == nil {
		t.Fatalf("want action_required with a %s action, got %v", typ, answer)
	}
	return obj
}

// doJSON sends req through the spec-checking client and decodes its 2xx
// answer.
func doJSON(t *testing.T, req *http.Request) map[string]any {
	t.Helper()
	resp, err := apitest.Must(t).Client(t, 30*time.Second).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %d %s", req.Method, req.URL.Path, resp.StatusCode, b)
	}
	return m
}
