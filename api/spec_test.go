package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"acpgw/acp"
	"acpgw/acp/acpspec"
	"acpgw/store"
)

// allVersions is every released ACP version, as the spec folders name them.
var allVersions = []string{"2025-09-29", "2025-12-12", "2026-01-16", "2026-01-30", "2026-04-17"}

// TestDelegateAnswersMatchSpec drives delegate_payment into every answer it
// can give and validates each against the OpenAPI document of the request's
// API version.
//
// Documented exceptions, where the spec cannot be met:
//   - 401: the Error schema's code enum has no value for an authentication
//     failure (upstream ACP issue 161); acpgw sends type invalid_request,
//     code unauthorized, and the test checks the body against the schema
//     with only the code enum relaxed.
//   - 413: the spec documents no status for an oversized body.
//   - an unsupported or missing API-Version has no version to validate
//     against; it carries supported_versions.
func TestDelegateAnswersMatchSpec(t *testing.T) {
	for _, version := range allVersions {
		t.Run(version, func(t *testing.T) {
			spec, err := acpspec.LoadSpec(version)
			if err != nil {
				t.Fatal(err)
			}
			h := newHarness(t, harnessOpts{})
			const path = "/agentic_commerce/delegate_payment"
			valid := delegateBody("4242424242424242", "acme", "cs_1", 1000, "usd")
			inflightKey := newKey()
			// An in-flight record from "another replica" for this caller and path.
			now := time.Now()
			_, _, err = h.st.BeginIdempotency(context.Background(), store.IdemRecord{
				Scope: "agent:agent1 POST " + path, Key: inflightKey, RequestHash: canonical(t, valid),
				APIVersion: version, State: store.IdemInFlight, LockedUntil: now.Add(time.Minute),
				CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour),
			}, now)
			if err != nil {
				t.Fatal(err)
			}
			conflictKey := newKey()
			cases := []struct {
				name   string
				r      req
				status int
			}{
				{"created", req{path: path, key: agentKey, idem: conflictKey, body: valid}, 201},
				{"replayed", req{path: path, key: agentKey, idem: conflictKey, body: valid}, 201},
				{"conflict", req{path: path, key: agentKey, idem: conflictKey, body: delegateBody("4242424242424242", "acme", "cs_2", 1000, "usd")},
					map[bool]int{false: 409, true: 422}[version == "2026-04-17"]},
				{"in flight", req{path: path, key: agentKey, idem: inflightKey, body: valid}, 409},
				{"schema error", req{path: path, key: agentKey, idem: newKey(), rawBody: []byte(`{"payment_method":{}}`)}, 400},
				{"malformed", req{path: path, key: agentKey, idem: newKey(), rawBody: []byte(`{`)}, 400},
				{"semantic error", req{path: path, key: agentKey, idem: newKey(), body: func() map[string]any {
					b := delegateBody("4242424242424241", "acme", "cs_1", 1000, "usd")
					b["payment_method"].(map[string]any)["display_last4"] = "4241"
					return b
				}()}, 422},
				{"unknown merchant", req{path: path, key: agentKey, idem: newKey(), body: delegateBody("4242424242424242", "nobody", "cs_1", 1000, "usd")}, 422},
				{"wrong content type", req{path: path, key: agentKey, idem: newKey(), contentType: "text/plain", body: valid}, 400},
				{"unauthorized", req{path: path, key: "wrong", idem: newKey(), body: valid}, 401},
			}
			if version == "2026-04-17" {
				cases = append(cases, struct {
					name   string
					r      req
					status int
				}{"key required", req{path: path, key: agentKey, body: valid}, 400})
			}
			for _, tc := range cases {
				tc.r.version = version
				r := h.do(tc.r)
				if r.status != tc.status {
					t.Fatalf("%s: status %d, want %d: %s", tc.name, r.status, tc.status, r.raw)
				}
				err := acpspec.ValidateDelegateResponse(context.Background(), spec, r.status, r.header, r.raw)
				if tc.status == 401 {
					// The only allowed deviation: the code enum (see above).
					if err == nil || !strings.Contains(err.Error(), "code") || r.str("type") != "invalid_request" {
						t.Fatalf("%s: expected only the documented code-enum deviation, got %v: %s", tc.name, err, r.raw)
					}
					continue
				}
				if err != nil {
					t.Errorf("%s (%d): %v\n%s", tc.name, r.status, err, r.raw)
				}
			}
		})
	}
}

// TestSpecExamplesAccepted sends the spec's own example requests (with
// expiry dates moved into the future) and expects 201.
func TestSpecExamplesAccepted(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	dir, err := acpspec.SpecDir()
	if err != nil {
		t.Fatal(err)
	}
	for _, version := range allVersions {
		raw, err := os.ReadFile(filepath.Join(dir, "examples", version, "examples.delegate_payment.json"))
		if err != nil {
			t.Fatal(err)
		}
		var ex map[string]json.RawMessage
		if err := json.Unmarshal(raw, &ex); err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		if err := json.Unmarshal(ex["delegate_payment_request"], &body); err != nil {
			t.Fatal(err)
		}
		allow := body["allowance"].(map[string]any)
		allow["expires_at"] = time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
		// The examples name merchants this test gateway does not serve.
		allow["merchant_id"] = "acme"
		pm := body["payment_method"].(map[string]any)
		pm["exp_year"] = "2035"
		r := h.do(req{path: "/agentic_commerce/delegate_payment", key: agentKey, version: version, idem: newKey(), body: body})
		if r.status != http.StatusCreated {
			t.Fatalf("%s example: %d %s", version, r.status, r.raw)
		}
	}
}

func canonical(t *testing.T, body any) string {
	t.Helper()
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	// The hash begin binds a key to.
	return acp.RequestHash(raw)
}
