package acp

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"acpgw/acp/acpspec"
)

// spec400Lenient names the 400 cases whose body the OpenAPI request schema
// itself accepts: acpgw is stricter on purpose there. A case listed in
// spec400LenientIn is lenient only in those versions.
var spec400Lenient = map[string]string{
	"malformed":                     "not JSON at all",
	"syntax error":                  "not JSON at all",
	"trailing object":               "a JSON decoder stops after the first value",
	"trailing garbage":              "a JSON decoder stops after the first value",
	"empty body":                    "not JSON at all",
	"duplicate key":                 "JSON decoders keep one of the copies",
	"invalid utf8":                  "decoders replace invalid UTF-8",
	"iin 7 chars before 2026-04-17": "the 2025-09-29 JSON schema says maxLength 6, its OpenAPI file 8",
	"expires_at Feb 30":             "kin-openapi's date-time format check is a pattern, not a calendar",
}

var spec400LenientIn = map[string][]string{
	"iin 7 chars before 2026-04-17": {Version20250929},
}

func TestSpecAcceptedRequestsValidate(t *testing.T) {
	t.Parallel()
	for _, v := range Versions {
		spec, err := acpspec.LoadSpec(v)
		if err != nil {
			t.Fatal(err)
		}
		bodies := map[string][]byte{}
		for _, tc := range delegateAcceptCases(t) {
			if tc.versions == nil || slices.Contains(tc.versions, v) {
				bodies[tc.name] = tc.body
			}
		}
		for name, b := range specExamples(t, v) {
			bodies[name] = specExample(t, b)
		}
		for name, body := range bodies {
			if _, derr := DecodeDelegateRequest(v, body, testNow); derr != nil {
				t.Fatalf("%s/%s: rejected: %v", v, name, derr)
			}
			if err := acpspec.ValidateDelegateRequestBody(spec, body); err != nil {
				t.Errorf("%s/%s: accepted by acp but not by the spec: %v", v, name, err)
			}
		}
	}
}

func TestSpecRejectedRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, v := range Versions {
		spec, err := acpspec.LoadSpec(v)
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range delegateRejectCases(t) {
			if tc.versions != nil && !slices.Contains(tc.versions, v) {
				continue
			}
			derr := decodeErr(t, v, tc.body)
			specErr := acpspec.ValidateDelegateRequestBody(spec, tc.body)
			switch {
			case derr.Status == http.StatusUnprocessableEntity && specErr != nil:
				t.Errorf("%s/%s: 422 means schema-valid, but the spec rejects it: %v", v, tc.name, specErr)
			case derr.Status == http.StatusBadRequest && specErr == nil && !lenient(tc.name, v):
				t.Errorf("%s/%s: 400 means schema-invalid, but the spec accepts it", v, tc.name)
			}
			// Every error the decoder emits is a valid Error response.
			body, _ := json.Marshal(derr)
			if err := acpspec.ValidateDelegateResponse(ctx, spec, derr.Status, nil, body); err != nil {
				t.Errorf("%s/%s: error response %s breaks the spec: %v", v, tc.name, body, err)
			}
		}
	}
}

func lenient(name, version string) bool {
	if vs, ok := spec400LenientIn[name]; ok && !slices.Contains(vs, version) {
		return false
	}
	return spec400Lenient[name] != ""
}

func decodeErr(t *testing.T, v string, body []byte) *Error {
	t.Helper()
	_, err := DecodeDelegateRequest(v, body, testNow)
	if err == nil {
		t.Fatalf("%s: accepted", v)
	}
	return err
}

func TestSpecErrorEnums(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	statuses := []int{400, 409, 422, 429, 500, 503}
	for _, v := range Versions {
		spec, err := acpspec.LoadSpec(v)
		if err != nil {
			t.Fatal(err)
		}
		for _, typ := range DelegateErrorTypes[v] {
			for _, code := range DelegateErrorCodes[v] {
				for _, st := range statuses {
					if spec.Paths.Find(acpspec.DelegatePath).Post.Responses.Status(st) == nil {
						continue
					}
					e := Errorf(st, typ, code, "$.payment_method.number", "message")
					body, _ := json.Marshal(e)
					// 2026-04-17 requires Retry-After on its 409 (idempotency_in_flight).
					h := http.Header{"Retry-After": {"1"}}
					if err := acpspec.ValidateDelegateResponse(ctx, spec, st, h, body); err != nil {
						t.Errorf("%s: %d %s/%s rejected: %v", v, st, typ, code, err)
					}
				}
			}
		}
		// The validator must be able to say no.
		bad := map[string]*Error{
			"type from the spec's own 401 example": Errorf(401, "unauthorized", "unauthorized", "", "Unauthorized"),
			"code from the spec's own 500 example": Errorf(500, TypeProcessingError, "internal_server_error", "", "x"),
			"acpgw API code":                       Errorf(422, TypeInvalidRequest, CodeTokenInvalid, "", "x"),
			"empty message missing":                {Status: 400, Type: TypeInvalidRequest, Code: CodeInvalidCard},
		}
		if v != Version20260417 {
			bad["in_flight before 2026-04-17"] = Errorf(422, TypeInvalidRequest, CodeIdempotencyInFlight, "", "x")
		}
		for name, e := range bad {
			body, _ := json.Marshal(e)
			if name == "empty message missing" {
				body = []byte(`{"type":"invalid_request","code":"invalid_card"}`)
			}
			if err := acpspec.ValidateDelegateResponse(ctx, spec, e.Status, nil, body); err == nil {
				t.Errorf("%s: %s accepted by the validator", v, name)
			}
			if name != "empty message missing" && e.ValidDelegateError(v) {
				t.Errorf("%s: %s passes ValidDelegateError", v, name)
			}
		}
	}
}

func TestSpecCreatedResponse(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, v := range Versions {
		spec, err := acpspec.LoadSpec(v)
		if err != nil {
			t.Fatal(err)
		}
		ok := []byte(`{"id":"vt_01J8Z3WXYZ9ABC","created":"2026-11-26T12:00:00Z","metadata":{"merchant_id":"acme"}}`)
		if err := acpspec.ValidateDelegateResponse(ctx, spec, 201, nil, ok); err != nil {
			t.Errorf("%s: valid 201 rejected: %v", v, err)
		}
		for _, bad := range []string{`{"id":"vt_1","metadata":{}}`, `{"id":"vt_1","created":"2026-11-26T12:00:00Z","metadata":{},"x":1}`} {
			if err := acpspec.ValidateDelegateResponse(ctx, spec, 201, nil, []byte(bad)); err == nil {
				t.Errorf("%s: invalid 201 %s accepted", v, bad)
			}
		}
		if err := acpspec.ValidateDelegateResponse(ctx, spec, 418, nil, ok); err == nil {
			t.Errorf("%s: undocumented status accepted", v)
		}
	}
}

// TestVersionRulesMatchSpec holds each version's idempotency rules and
// Error enums to that version's own OpenAPI document: whether the
// Idempotency-Key parameter is required, which status's examples show
// idempotency_conflict, and which codes the Error schema allows.
func TestVersionRulesMatchSpec(t *testing.T) {
	t.Parallel()
	for _, v := range Versions {
		spec, err := acpspec.LoadSpec(v)
		if err != nil {
			t.Fatal(err)
		}
		op := spec.Paths.Find(acpspec.DelegatePath).Post
		keyRequired, found := false, false
		for _, p := range op.Parameters {
			if p.Value != nil && p.Value.Name == "Idempotency-Key" {
				keyRequired, found = p.Value.Required, true
			}
		}
		if !found {
			t.Fatalf("%s: no Idempotency-Key parameter in the spec", v)
		}
		if IdempotencyKeyRequired(v) != keyRequired {
			t.Errorf("%s: IdempotencyKeyRequired = %v, the spec says required: %v", v, IdempotencyKeyRequired(v), keyRequired)
		}
		var conflictStatuses []int
		for code, resp := range op.Responses.Map() {
			for _, mt := range resp.Value.Content {
				for _, ex := range mt.Examples {
					if m, ok := ex.Value.Value.(map[string]any); ok && m["code"] == CodeIdempotencyConflict {
						conflictStatuses = append(conflictStatuses, atoi(t, code))
					}
				}
			}
		}
		if len(conflictStatuses) != 1 || conflictStatuses[0] != IdempotencyConflictStatus(v) {
			t.Errorf("%s: the spec shows idempotency_conflict under %v, acpgw sends %d", v, conflictStatuses, IdempotencyConflictStatus(v))
		}
		var enum []string
		for _, e := range spec.Components.Schemas["Error"].Value.Properties["code"].Value.Enum {
			enum = append(enum, e.(string))
		}
		if !slices.Equal(enum, DelegateErrorCodes[v]) {
			t.Errorf("%s: Error code enum %v, acpgw's %v", v, enum, DelegateErrorCodes[v])
		}
		if !slices.Contains(enum, DelegateInFlightCode(v)) {
			t.Errorf("%s: in-flight code %q is not in the enum %v", v, DelegateInFlightCode(v), enum)
		}
	}
}
