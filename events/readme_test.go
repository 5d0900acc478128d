package events_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"acpgw/events"
)

// The README's example of verifying a delivery, as a merchant would write it
// (standard library only). TestREADMEExample holds the README's code block
// to the text between the markers, so the code the README shows is the code
// these tests run.

// README example begin
// verifyAcpgwSignature reports whether header, the Acpgw-Signature of a
// delivery, signs body with secret and was made within 5 minutes of now.
func verifyAcpgwSignature(header string, body []byte, secret string, now time.Time) bool {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(unix, 0)).Abs() > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "."))
	mac.Write(body)
	want := mac.Sum(nil)
	for _, s := range sigs {
		if got, err := hex.DecodeString(s); err == nil && hmac.Equal(got, want) {
			return true
		}
	}
	return false
}

// acpgwEvents is the handler of the events URL.
func acpgwEvents(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || !verifyAcpgwSignature(r.Header.Get("Acpgw-Signature"), body, os.Getenv("ACPGW_EVENTS_SECRET"), time.Now()) {
		http.Error(w, "invalid signature", http.StatusBadRequest)
		return
	}
	var ev struct {
		ID   string `json:"id"`
		Type string `json:"type"`
		Data struct {
			Payment struct {
				ID     string `json:"id"`
				Status string `json:"status"`
			} `json:"payment"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, "invalid body", http.StatusBadRequest)
		return
	}
	// At least once: skip an ev.ID already handled, then act on
	// ev.Type for the order of ev.Data.Payment.ID. Answer fast; acpgw
	// waits events.timeout at most.
	w.WriteHeader(http.StatusNoContent)
}

// README example end

// TestREADMEExample: the README shows exactly the code above.
func TestREADMEExample(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.ReadFile("readme_test.go")
	if err != nil {
		t.Fatal(err)
	}
	block := between(t, string(readme), "<!-- verify-example -->\n```go\n", "```\n")
	code := between(t, string(self), "// README example begin\n", "// README example end\n")
	// gofmt leaves a blank line before the end marker.
	if block != strings.TrimSuffix(code, "\n") {
		t.Fatalf("README.md's verification example differs from events/readme_test.go:\nREADME:\n%s\ntest:\n%s", block, code)
	}
}

func between(t *testing.T, s, start, end string) string {
	t.Helper()
	i := strings.Index(s, start)
	if i < 0 {
		t.Fatalf("no %q", start)
	}
	s = s[i+len(start):]
	j := strings.Index(s, end)
	if j < 0 {
		t.Fatalf("no %q after %q", end, start)
	}
	return s[:j]
}

// TestREADMEVerification: the README's code accepts what acpgw signs, with
// either secret of a rotation, and refuses forgeries, tampering and old
// deliveries.
func TestREADMEVerification(t *testing.T) {
	const secret, old = "whsec_readme_new_000001", "whsec_readme_old_000001"
	body := []byte(`{"id":"evt_1","object":"event","type":"payment.captured","data":{"payment":{"id":"pay_1","status":"captured"}}}`)
	now := time.Now()
	tests := []struct {
		name   string
		header string
		body   []byte
		secret string
		want   bool
	}{
		{"signed", events.Sign(body, now, secret), body, secret, true},
		{"rotation, new secret", events.Sign(body, now, secret, old), body, secret, true},
		{"rotation, old secret", events.Sign(body, now, secret, old), body, old, true},
		{"other secret", events.Sign(body, now, old), body, secret, false},
		{"tampered body", events.Sign(body, now, secret), []byte(strings.Replace(string(body), "captured", "voided", 1)), secret, false},
		{"ten minutes old", events.Sign(body, now.Add(-10*time.Minute), secret), body, secret, false},
		{"no header", "", body, secret, false},
	}
	for _, tc := range tests {
		if got := verifyAcpgwSignature(tc.header, tc.body, tc.secret, now); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
		// The README's code and package events agree.
		if lib := events.Verify(tc.header, tc.body, now, 5*time.Minute, tc.secret) == nil; lib != tc.want {
			t.Errorf("%s: events.Verify %v, want %v", tc.name, lib, tc.want)
		}
	}

	t.Setenv("ACPGW_EVENTS_SECRET", secret)
	for _, tc := range []struct {
		name   string
		header string
		want   int
	}{
		{"signed", events.Sign(body, now, secret), http.StatusNoContent},
		{"forged", events.Sign(body, now, "whsec_forger_00000001"), http.StatusBadRequest},
	} {
		req := httptest.NewRequest(http.MethodPost, "/acpgw/events", strings.NewReader(string(body)))
		req.Header.Set(events.SignatureHeader, tc.header)
		w := httptest.NewRecorder()
		acpgwEvents(w, req)
		if w.Code != tc.want {
			t.Errorf("handler, %s: %d, want %d", tc.name, w.Code, tc.want)
		}
	}
}
