package acp

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"acpgw/acp/acpspec"
	"acpgw/threeds"
)

// The tests here hold the Delegate Authentication code to the 2026-04-17
// documents: the OpenAPI file through kin-openapi, the JSON schema file
// through santhosh-tekuri/jsonschema with format assertions (kin-openapi
// knows no "email" or "uri" format).

// authExample is one example of the spec: a request (kind authCreate or
// authAuthenticate) or an answer (kind "response").
type authExample struct {
	kind string
	body []byte
}

// authSpecDefects are the spec's own request examples that break its
// schema, each with the error acpgw answers (the same as for any body with
// that fault) and the edit that repairs it.
var authSpecDefects = map[string]struct {
	param  string
	repair map[string]any
}{
	// Two keys of acquirer_details at the top level, where
	// additionalProperties is false.
	"openapi POST /delegate_authentication example minimal": {"$.acquirer_bin",
		map[string]any{"acquirer_bin": del{}, "acquirer_merchant_id": del{}}},
	// javascript_enabled true without the five fields its if/then requires.
	"openapi Channel example": {"$.channel.browser.color_depth",
		map[string]any{"channel.browser.color_depth": 24, "channel.browser.java_enabled": false, "channel.browser.screen_height": 800,
			"channel.browser.screen_width": 1280, "channel.browser.timezone_offset": 0}},
}

// authSpecExamples collects every example of the Delegate Authentication
// spec: the examples file (requests by their key), the request and answer
// examples of each operation in the OpenAPI file, and the schemas' own
// examples (a part of a create request is placed into a minimal one).
func authSpecExamples(t testing.TB) map[string]authExample {
	t.Helper()
	root, err := acpspec.SpecDir()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]authExample{}
	b, err := os.ReadFile(filepath.Join(root, "examples", acpspec.AuthVersion, "examples.delegate_authentication.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file map[string]json.RawMessage
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	for name, v := range file {
		switch {
		case strings.HasPrefix(name, "create_") && strings.Contains(name, "_request"):
			out["examples "+name] = authExample{authCreate, v}
		case strings.HasPrefix(name, "authenticate_request"):
			out["examples "+name] = authExample{authAuthenticate, v}
		case strings.Contains(name, "_response_"):
			out["examples "+name] = authExample{"response", v}
		case strings.HasPrefix(name, "error_"):
		default:
			t.Fatalf("examples file: unknown example %s", name)
		}
	}

	y, err := os.ReadFile(filepath.Join(root, "spec", acpspec.AuthVersion, "openapi", "openapi.delegate_authentication.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	type examples map[string]struct {
		Value any `yaml:"value"`
	}
	var doc struct {
		Paths      map[string]map[string]yaml.Node `yaml:"paths"`
		Components struct {
			Schemas map[string]struct {
				Example any `yaml:"example"`
			} `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(y, &doc); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{acpspec.AuthCreatePath: authCreate, acpspec.AuthAuthenticatePath: authAuthenticate}
	for path, item := range doc.Paths {
		for method, node := range item {
			if method == "parameters" {
				continue
			}
			var op struct {
				RequestBody struct {
					Content map[string]struct {
						Examples examples `yaml:"examples"`
					} `yaml:"content"`
				} `yaml:"requestBody"`
				Responses map[string]struct {
					Content map[string]struct {
						Examples examples `yaml:"examples"`
					} `yaml:"content"`
				} `yaml:"responses"`
			}
			if err := node.Decode(&op); err != nil {
				t.Fatal(err)
			}
			for name, e := range op.RequestBody.Content["application/json"].Examples {
				out["openapi "+strings.ToUpper(method)+" "+path+" example "+name] = authExample{kinds[path], jsonOf(t, e.Value)}
			}
			for status, resp := range op.Responses {
				for name, e := range resp.Content["application/json"].Examples {
					out["openapi "+strings.ToUpper(method)+" "+path+" "+status+" example "+name] = authExample{"response", jsonOf(t, e.Value)}
				}
			}
		}
	}
	minimal := readTestdata(t, "auth_create_valid_minimal.json")
	for name, s := range doc.Components.Schemas {
		if s.Example == nil {
			continue
		}
		key := "openapi " + name + " example"
		ex := jsonOf(t, s.Example)
		switch name {
		case "DelegateAuthenticationCreateRequest":
			out[key] = authExample{authCreate, ex}
		case "DelegateAuthenticationAuthenticateRequest":
			out[key] = authExample{authAuthenticate, ex}
		case "PaymentMethod", "Amount", "Channel", "FlowPreference", "ShopperDetails":
			field := map[string]string{"PaymentMethod": "payment_method", "Amount": "amount", "Channel": "channel",
				"FlowPreference": "flow_preference", "ShopperDetails": "shopper_details"}[name]
			out[key] = authExample{authCreate, mutate(t, minimal, map[string]any{field: raw(ex)})}
		case "BrowserInfo":
			out[key] = authExample{authCreate, mutate(t, minimal, map[string]any{"channel": map[string]any{"type": "browser", "browser": json.RawMessage(ex)}})}
		case "Address":
			out[key] = authExample{authCreate, mutate(t, minimal, map[string]any{"shopper_details": map[string]any{"address": json.RawMessage(ex)}})}
		case "DelegateAuthenticationSessionBase", "DelegateAuthenticationSession", "DelegateAuthenticationSessionWithResult":
			out[key] = authExample{"response", ex}
		case "FingerprintAction", "ChallengeAction":
			typ := strings.ToLower(strings.TrimSuffix(name, "Action"))
			out[key] = authExample{"response", jsonOf(t, map[string]any{"authentication_session_id": "as_1", "status": "action_required",
				"action": map[string]any{"type": typ, typ: json.RawMessage(ex)}})}
		case "AuthenticationResult":
			out[key] = authExample{"response", jsonOf(t, map[string]any{"authentication_session_id": "as_1", "status": "authenticated",
				"authentication_result": json.RawMessage(ex)})}
		case "Error":
		default:
			t.Fatalf("OpenAPI schema %s has an example this test does not place", name)
		}
	}
	for name := range authSpecDefects {
		if _, ok := out[name]; !ok {
			t.Fatalf("known spec defect %q is no longer among the examples: update authSpecDefects", name)
		}
	}
	return out
}

// TestAuthSpecRequestExamples: every request example of the spec decodes,
// except the known defects, which are refused as any such body would be,
// refused by the spec's own schema too, and decode once repaired.
func TestAuthSpecRequestExamples(t *testing.T) {
	t.Parallel()
	spec, err := acpspec.LoadAuthSpec()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for name, ex := range authSpecExamples(t) {
		if ex.kind == "response" {
			continue
		}
		n++
		path := map[string]string{authCreate: acpspec.AuthCreatePath, authAuthenticate: acpspec.AuthAuthenticatePath}[ex.kind]
		defect, isDefect := authSpecDefects[name]
		_, derr := decodeAuth(ex.kind, ex.body)
		specErr := acpspec.ValidateAuthRequestBody(spec, path, ex.body)
		if !isDefect {
			if derr != nil || specErr != nil {
				t.Errorf("%s: decoder %v, spec %v", name, derr, specErr)
			}
			continue
		}
		if derr == nil || derr.Status != http.StatusBadRequest || derr.Param != defect.param || specErr == nil {
			t.Errorf("%s: known defect: decoder %v (want 400 at %s), spec %v (want an error)", name, derr, defect.param, specErr)
		}
		fixed := mutate(t, ex.body, defect.repair)
		if _, derr := decodeAuth(ex.kind, fixed); derr != nil {
			t.Errorf("%s: repaired example rejected: %v", name, derr)
		}
		if err := acpspec.ValidateAuthRequestBody(spec, path, fixed); err != nil {
			t.Errorf("%s: repaired example breaks the spec: %v", name, err)
		}
	}
	if n < 15 {
		t.Fatalf("only %d request examples found", n)
	}
}

// authLenient names the 400 cases whose body the spec's schemas accept:
// acpgw is stricter there on purpose (the JSON layer, which a schema does
// not see), or the schema cannot express the rule.
var authLenient = map[string]string{
	"malformed":        "not JSON at all",
	"syntax error":     "not JSON at all",
	"empty body":       "not JSON at all",
	"trailing garbage": "a JSON decoder stops after the first value",
	"duplicate key":    "JSON decoders keep one of the copies",
	"invalid utf8":     "decoders replace invalid UTF-8",
}

// TestAuthSpecRejectedRequests: a 400 is a body the spec's schemas refuse
// and a 422 a body they accept (both validators); every error is a valid
// Error answer of the operation.
func TestAuthSpecRejectedRequests(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	spec, err := acpspec.LoadAuthSpec()
	if err != nil {
		t.Fatal(err)
	}
	schemas, err := acpspec.LoadAuthSchemas()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range authRejectCases(t) {
		path, def := acpspec.AuthCreatePath, "DelegateAuthenticationCreateRequest"
		if tc.kind == authAuthenticate {
			path, def = acpspec.AuthAuthenticatePath, "DelegateAuthenticationAuthenticateRequest"
		}
		_, derr := decodeAuth(tc.kind, tc.body)
		if derr == nil {
			t.Fatalf("%s: accepted", tc.name)
		}
		openapiErr := acpspec.ValidateAuthRequestBody(spec, path, tc.body)
		jsonErr := schemas.Validate(def, tc.body)
		switch derr.Status {
		case http.StatusUnprocessableEntity:
			if openapiErr != nil || jsonErr != nil {
				t.Errorf("%s: 422 means schema-valid, but the spec rejects it: %v / %v", tc.name, openapiErr, jsonErr)
			}
		case http.StatusBadRequest:
			// kin-openapi checks no email or uri format: the JSON schema
			// validator must reject those.
			if jsonErr == nil && authLenient[tc.name] == "" {
				t.Errorf("%s: 400 means schema-invalid, but the JSON schema accepts it", tc.name)
			}
			if openapiErr == nil && authLenient[tc.name] == "" && !strings.Contains(tc.name, "email") && !strings.Contains(tc.name, "url") {
				t.Errorf("%s: 400 means schema-invalid, but the OpenAPI schema accepts it", tc.name)
			}
		}
		body, _ := json.Marshal(derr)
		if err := acpspec.ValidateAuthResponse(ctx, spec, http.MethodPost, path, derr.Status, nil, body); err != nil {
			t.Errorf("%s: error answer %s breaks the OpenAPI spec: %v", tc.name, body, err)
		}
		if err := schemas.Validate("Error", body); err != nil {
			t.Errorf("%s: error answer %s breaks the JSON schema: %v", tc.name, body, err)
		}
	}
}

// TestAuthSpecAcceptedFixtures: the accepted testdata bodies are valid for
// both validators.
func TestAuthSpecAcceptedFixtures(t *testing.T) {
	t.Parallel()
	spec, err := acpspec.LoadAuthSpec()
	if err != nil {
		t.Fatal(err)
	}
	schemas, err := acpspec.LoadAuthSchemas()
	if err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{authCreate, authAuthenticate} {
		path, def := acpspec.AuthCreatePath, "DelegateAuthenticationCreateRequest"
		if kind == authAuthenticate {
			path, def = acpspec.AuthAuthenticatePath, "DelegateAuthenticationAuthenticateRequest"
		}
		for name, body := range seedFiles(t, "auth_"+kind+"_valid") {
			if _, derr := decodeAuth(kind, body); derr != nil {
				t.Errorf("%s: %v", name, derr)
			}
			if err := acpspec.ValidateAuthRequestBody(spec, path, body); err != nil {
				t.Errorf("%s: OpenAPI: %v", name, err)
			}
			if err := schemas.Validate(def, body); err != nil {
				t.Errorf("%s: JSON schema: %v", name, err)
			}
		}
	}
}

// sessionOf reads a session answer back into RenderAuthSession's
// arguments.
func sessionOf(t *testing.T, body []byte) (string, threeds.Status, *threeds.Action, *threeds.Result) {
	t.Helper()
	var s struct {
		ID     string `json:"authentication_session_id"`
		Status string `json:"status"`
		Action *struct {
			Type        string
			Fingerprint *struct {
				MethodURL     string `json:"three_ds_method_url"`
				ServerTransID string `json:"three_ds_server_trans_id"`
			}
			Challenge *struct {
				ACSURL         string `json:"acs_url"`
				ACSTransID     string `json:"acs_trans_id"`
				ServerTransID  string `json:"three_ds_server_trans_id"`
				MessageVersion string `json:"message_version"`
			}
		}
		Result *struct {
			TransStatus         string `json:"trans_status"`
			ECI                 string `json:"electronic_commerce_indicator"`
			Cryptogram          string `json:"three_ds_cryptogram"`
			TransactionID       string `json:"transaction_id"`
			ServerTransID       string `json:"three_ds_server_trans_id"`
			Version             string `json:"version"`
			AuthenticationValue string `json:"authentication_value"`
			TransStatusReason   string `json:"trans_status_reason"`
			CardholderInfo      string `json:"cardholder_info"`
		} `json:"authentication_result"`
	}
	if err := json.Unmarshal(body, &s); err != nil {
		t.Fatal(err)
	}
	var a *threeds.Action
	if s.Action != nil {
		a = &threeds.Action{}
		if f := s.Action.Fingerprint; f != nil {
			a.Fingerprint = &threeds.Fingerprint{MethodURL: f.MethodURL, ServerTransID: f.ServerTransID}
		}
		if c := s.Action.Challenge; c != nil {
			a.Challenge = &threeds.Challenge{ACSURL: c.ACSURL, ACSTransID: c.ACSTransID, ServerTransID: c.ServerTransID, MessageVersion: c.MessageVersion}
		}
	}
	var r *threeds.Result
	if x := s.Result; x != nil {
		r = &threeds.Result{TransStatus: x.TransStatus, ECI: x.ECI, Cryptogram: x.Cryptogram, TransactionID: x.TransactionID,
			ServerTransID: x.ServerTransID, Version: x.Version, AuthenticationValue: x.AuthenticationValue,
			TransStatusReason: x.TransStatusReason, CardholderInfo: x.CardholderInfo}
	}
	return s.ID, threeds.Status(s.Status), a, r
}

// jsonEqual reports whether a and b are the same JSON value.
func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatal(err)
	}
	return reflect.DeepEqual(x, y)
}

// TestAuthSpecResponseExamples: RenderAuthSession reproduces every answer
// example of the spec from its parts, and the published OpenAPI document
// refuses its own examples with an authentication_result (the allOf defect
// that acpspec.LoadAuthSpec repairs), which the repaired one accepts.
func TestAuthSpecResponseExamples(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	published, err := acpspec.LoadAuthSpecAsPublished()
	if err != nil {
		t.Fatal(err)
	}
	repaired, err := acpspec.LoadAuthSpec()
	if err != nil {
		t.Fatal(err)
	}
	n, withResult := 0, 0
	for name, ex := range authSpecExamples(t) {
		if ex.kind != "response" {
			continue
		}
		n++
		id, status, action, result := sessionOf(t, ex.body)
		got, err := RenderAuthSession(id, status, action, result)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if !jsonEqual(t, got, ex.body) {
			t.Errorf("%s: rendered\n%s\nwant\n%s", name, got, ex.body)
		}
		if result == nil {
			continue
		}
		withResult++
		if err := acpspec.ValidateAuthResponse(ctx, published, http.MethodGet, acpspec.AuthSessionPath, 200, nil, got); err == nil ||
			!strings.Contains(err.Error(), "authentication_result") {
			t.Errorf("%s: the published spec's allOf defect is gone (%v): drop the repair in acpspec.LoadAuthSpec", name, err)
		}
		if err := acpspec.ValidateAuthResponse(ctx, repaired, http.MethodGet, acpspec.AuthSessionPath, 200, nil, got); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	if n < 20 || withResult < 5 {
		t.Fatalf("only %d answer examples (%d with a result)", n, withResult)
	}
}

// TestAuthSpecRenderedAnswers renders every status with every action and
// result the renderer takes and validates each answer against the
// operations that may send it.
func TestAuthSpecRenderedAnswers(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	spec, err := acpspec.LoadAuthSpec()
	if err != nil {
		t.Fatal(err)
	}
	schemas, err := acpspec.LoadAuthSchemas()
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]*threeds.Action{"none": nil, "fingerprint": testFingerprint(), "challenge": testChallenge()}
	results := map[string]*threeds.Result{"none": nil, "full": testResult(), "minimal": {TransStatus: "U", TransactionID: "ds-1",
		ServerTransID: "srv-1", Version: "2.1.0"}}
	rendered := 0
	for _, status := range authStatuses {
		for an, action := range actions {
			for rn, result := range results {
				body, err := RenderAuthSession("as_01J9", status, action, result)
				wantOK := (status == threeds.StatusActionRequired) == (action != nil) && (result == nil || status.Final())
				if (err == nil) != wantOK {
					t.Fatalf("%s/%s/%s: err %v, want ok %t", status, an, rn, err, wantOK)
				}
				if err != nil {
					continue
				}
				rendered++
				checks := []struct{ method, path string }{{http.MethodGet, acpspec.AuthSessionPath}}
				if result == nil {
					checks = append(checks, struct{ method, path string }{http.MethodPost, acpspec.AuthCreatePath},
						struct{ method, path string }{http.MethodPost, acpspec.AuthAuthenticatePath})
					if err := schemas.Validate("DelegateAuthenticationSession", body); err != nil {
						t.Errorf("%s/%s: JSON schema: %v\n%s", status, an, err, body)
					}
				}
				for _, c := range checks {
					st := 200
					if c.path == acpspec.AuthCreatePath {
						st = 201
					}
					if err := acpspec.ValidateAuthResponse(ctx, spec, c.method, c.path, st, nil, body); err != nil {
						t.Errorf("%s/%s/%s on %s %s: %v\n%s", status, an, rn, c.method, c.path, err, body)
					}
				}
			}
		}
	}
	// action_required takes two actions and no result; the nine others
	// take no action and no result, the eight final ones two results more.
	if rendered != 2+9+8*2 {
		t.Fatalf("rendered %d answers", rendered)
	}
}

// TestAuthSpecErrorEnums holds the exported enums to the Error schema,
// and checks that every combination of them is a valid error answer of
// every operation while a value outside them is not.
func TestAuthSpecErrorEnums(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	spec, err := acpspec.LoadAuthSpec()
	if err != nil {
		t.Fatal(err)
	}
	enum := func(prop string) []string {
		var out []string
		for _, e := range spec.Components.Schemas["Error"].Value.Properties[prop].Value.Enum {
			out = append(out, e.(string))
		}
		return out
	}
	if got := enum("type"); !slices.Equal(got, AuthenticationErrorTypes) {
		t.Errorf("Error type enum %v, acpgw's %v", got, AuthenticationErrorTypes)
	}
	if got := enum("code"); !slices.Equal(got, AuthenticationErrorCodes) {
		t.Errorf("Error code enum %v, acpgw's %v", got, AuthenticationErrorCodes)
	}
	var statuses []string
	for _, s := range spec.Components.Schemas["DelegateAuthenticationSessionBase"].Value.Properties["status"].Value.Enum {
		statuses = append(statuses, s.(string))
	}
	var ours []string
	for _, s := range authStatuses {
		ours = append(ours, string(s))
	}
	if !slices.Equal(statuses, ours) {
		t.Errorf("status enum %v, acpgw's %v", statuses, ours)
	}
	ops := []struct{ method, path string }{{http.MethodPost, acpspec.AuthCreatePath}, {http.MethodPost, acpspec.AuthAuthenticatePath},
		{http.MethodGet, acpspec.AuthSessionPath}}
	for _, op := range ops {
		for _, typ := range AuthenticationErrorTypes {
			for _, code := range AuthenticationErrorCodes {
				for _, st := range []int{400, 404, 409, 422, 429, 500, 503} {
					e := Errorf(st, typ, code, "$.payment_method.number", "message")
					body, _ := json.Marshal(e)
					if err := acpspec.ValidateAuthResponse(ctx, spec, op.method, op.path, st, nil, body); err != nil {
						t.Errorf("%s %s: %d %s/%s refused: %v", op.method, op.path, st, typ, code, err)
					}
				}
			}
		}
		// The validator must be able to say no.
		for _, e := range []*Error{Errorf(404, TypeInvalidRequest, CodeNotFound, "", "x"), Errorf(429, TypeRateLimitExceeded, CodeTooManyRequests, "", "x"),
			Errorf(400, "invalid", CodeInvalidCard, "", "x")} {
			body, _ := json.Marshal(e)
			if err := acpspec.ValidateAuthResponse(ctx, spec, op.method, op.path, e.Status, nil, body); err == nil {
				t.Errorf("%s %s: %s accepted", op.method, op.path, body)
			}
		}
	}
	// The spec's own error examples pass ValidAuthenticationError.
	root, err := acpspec.SpecDir()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "examples", acpspec.AuthVersion, "examples.delegate_authentication.json"))
	if err != nil {
		t.Fatal(err)
	}
	var file map[string]json.RawMessage
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"error_invalid_card", "error_idempotency_conflict"} {
		var e Error
		if err := json.Unmarshal(file[name], &e); err != nil || !e.ValidAuthenticationError() {
			t.Errorf("%s: %v, valid %t", name, err, e.ValidAuthenticationError())
		}
	}
}

// TestAuthErrorMappingFitsSpec: what AuthenticationError says fits the
// Error schema does, for every status the gateway and the api send.
func TestAuthErrorMappingFitsSpec(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	spec, err := acpspec.LoadAuthSpec()
	if err != nil {
		t.Fatal(err)
	}
	codes := []string{CodeInvalidCard, CodeInvalidRequest, CodeMissingField, CodeNotFound, CodeIdempotencyConflict,
		CodeIdempotencyInFlight, CodeIdempotencyKeyRequired, CodeOperationInProgress, CodeInvalidState, CodeUnknownMerchant,
		CodeForbidden, CodeTooManyRequests, CodeServiceUnavailable, "unauthorized", "internal_error", "request_too_large"}
	valid := 0
	for _, st := range []int{400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 500, 502, 503} {
		for _, code := range codes {
			e := AuthenticationError(Errorf(st, TypeInvalidRequest, code, "", "message"))
			if !e.ValidAuthenticationError() {
				continue
			}
			valid++
			body, _ := json.Marshal(e)
			if err := acpspec.ValidateAuthResponse(ctx, spec, http.MethodGet, acpspec.AuthSessionPath, e.Status, nil, body); err != nil {
				t.Errorf("%d %s: mapped to %s, which the spec refuses: %v", st, code, body, err)
			}
		}
	}
	if valid < 50 {
		t.Fatalf("only %d mapped errors are valid", valid)
	}
}

// jsonOf marshals v or fails the test.
func jsonOf(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
