package apitest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"acpgw/api"
	"acpgw/api/apitest"
	"acpgw/internal/specs"
	"acpgw/payment"
)

// example returns the value of one of the document's components/examples
// as a JSON object.
func example(t *testing.T, s *apitest.Spec, name string) map[string]any {
	t.Helper()
	ex := s.Doc().Components.Examples[name]
	if ex == nil || ex.Value == nil {
		t.Fatalf("no example %s", name)
	}
	raw, err := json.Marshal(ex.Value.Value)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func jsonOf(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCheckFails feeds the checker answers that break the document, one
// way each, beside the same answers done right: a checker that lets
// everything through fails here.
func TestCheckFails(t *testing.T) {
	t.Parallel()
	s := apitest.Must(t)
	payment := example(t, s, "CapturedPayment")
	with := func(key string, v any) map[string]any {
		out := map[string]any{}
		for k, e := range payment {
			out[k] = e
		}
		if v == nil {
			delete(out, key)
		} else {
			out[key] = v
		}
		return out
	}
	refund := example(t, s, "PartialRefund")
	payBody := jsonOf(t, map[string]any{"merchant_id": "acme", "checkout_session_id": "cs_1", "amount": 100,
		"currency": "usd", "payment_data": map[string]any{"token": "vt_1", "provider": "stripe"}})
	notFound := `{"type":"invalid_request","code":"not_found","message":"no such route"}`
	methodNot := `{"type":"invalid_request","code":"method_not_allowed","message":"method not allowed on this route"}`
	unauthorized := `{"type":"invalid_request","code":"unauthorized","message":"missing or invalid Bearer API key"}`
	for _, tc := range []struct {
		name         string
		method, path string
		reqBody      []byte
		status       int
		header       map[string]string
		body         []byte
		ok           bool
	}{
		{"health", "GET", "/healthz", nil, 200, nil, []byte(`{"status":"ok"}`), true},
		{"health: undocumented status", "GET", "/healthz", nil, 201, nil, []byte(`{"status":"ok"}`), false},
		{"health: no Request-Id", "GET", "/healthz", nil, 200, map[string]string{"Request-Id": ""}, []byte(`{"status":"ok"}`), false},
		{"health: undocumented field", "GET", "/healthz", nil, 200, nil, []byte(`{"status":"ok","uptime":3}`), false},
		{"health: not JSON", "GET", "/healthz", nil, 200, map[string]string{"Content-Type": "text/html"}, []byte(`<p>ok</p>`), false},

		{"unknown route: 404", "GET", "/v1/customers", nil, 404, nil, []byte(notFound), true},
		{"unknown route answered", "GET", "/v1/customers", nil, 200, nil, []byte(`{"data":[]}`), false},
		{"unknown route: 404 not in the error shape", "GET", "/v1/customers", nil, 404, nil, []byte(`{"error":"no"}`), false},
		{"trailing slash answered", "GET", "/v1/payments/pay_1/", nil, 200, nil, jsonOf(t, payment), false},
		{"trailing slash: 404", "GET", "/v1/payments/pay_1/", nil, 404, nil, []byte(notFound), true},
		{"empty id answered", "GET", "/v1/payments/", nil, 200, nil, jsonOf(t, payment), false},
		{"other method: 405", "DELETE", "/v1/payments/pay_1", nil, 405, map[string]string{"Allow": "GET"}, []byte(methodNot), true},
		{"other method: 405 without Allow", "DELETE", "/v1/payments/pay_1", nil, 405, nil, []byte(methodNot), false},
		{"other method answered", "DELETE", "/v1/payments/pay_1", nil, 200, map[string]string{"Allow": "GET"}, jsonOf(t, payment), false},

		{"payment", "GET", "/v1/payments/pay_1", nil, 200, nil, jsonOf(t, payment), true},
		{"payment: undocumented field", "GET", "/v1/payments/pay_1", nil, 200, nil, jsonOf(t, with("risk", 3)), false},
		{"payment: field missing", "GET", "/v1/payments/pay_1", nil, 200, nil, jsonOf(t, with("refunds", nil)), false},
		{"payment: unknown status", "GET", "/v1/payments/pay_1", nil, 200, nil, jsonOf(t, with("status", "settled")), false},
		{"payment: not a date-time", "GET", "/v1/payments/pay_1", nil, 200, nil, jsonOf(t, with("created_at", "yesterday")), false},
		{"payment: amount not an integer", "GET", "/v1/payments/pay_1", nil, 200, nil, jsonOf(t, with("amount", 25.99)), false},
		{"payment: a refund on a GET", "GET", "/v1/payments/pay_1", nil, 200, nil, jsonOf(t, refund), false},
		{"refund", "POST", "/v1/payments/pay_1/refunds", nil, 201, nil, jsonOf(t, refund), true},
		{"refund without its refund", "POST", "/v1/payments/pay_1/refunds", nil, 201, nil, jsonOf(t, payment), false},
		{"capture: 201", "POST", "/v1/payments/pay_1/capture", nil, 201, nil, jsonOf(t, payment), false},

		{"401", "POST", "/v1/payments/pay_1/capture", nil, 401, map[string]string{"WWW-Authenticate": `Bearer realm="acpgw"`}, []byte(unauthorized), true},
		{"401 without WWW-Authenticate", "POST", "/v1/payments/pay_1/capture", nil, 401, nil, []byte(unauthorized), false},
		{"401 with another challenge", "POST", "/v1/payments/pay_1/capture", nil, 401, map[string]string{"WWW-Authenticate": `Basic`}, []byte(unauthorized), false},
		{"undocumented error code", "POST", "/v1/payments/pay_1/capture", nil, 409, nil,
			[]byte(`{"type":"invalid_request","code":"too_late","message":"no"}`), false},
		{"error without message", "POST", "/v1/payments/pay_1/capture", nil, 409, nil,
			[]byte(`{"type":"invalid_request","code":"invalid_state"}`), false},

		{"payment request", "POST", "/v1/payments", payBody, 201, nil, jsonOf(t, payment), true},
		{"payment request the document refuses, accepted", "POST", "/v1/payments",
			bytes.Replace(payBody, []byte(`"amount":100`), []byte(`"amount":100,"tip":1`), 1), 201, nil, jsonOf(t, payment), false},
		{"payment request the document refuses, refused", "POST", "/v1/payments",
			bytes.Replace(payBody, []byte(`"amount":100`), []byte(`"amount":100,"tip":1`), 1), 400, nil,
			[]byte(`{"type":"invalid_request","code":"invalid_request","message":"unknown field tip","param":"$.tip"}`), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.path, bytes.NewReader(tc.reqBody))
			if tc.reqBody != nil {
				r.Header.Set("Content-Type", "application/json")
			}
			h := http.Header{"Content-Type": {"application/json; charset=utf-8"}, "Request-Id": {"req_1"}}
			for k, v := range tc.header {
				if v == "" {
					h.Del(k)
				} else {
					h.Set(k, v)
				}
			}
			err := s.Check(context.Background(), apitest.Answer{Request: r, RequestBody: tc.reqBody, Status: tc.status, Header: h, Body: tc.body})
			if tc.ok && err != nil {
				t.Errorf("a right answer refused: %v", err)
			}
			if !tc.ok && err == nil {
				t.Errorf("a wrong answer passed")
			}
			if err != nil {
				t.Logf("refused: %.300v", err)
			}
		})
	}
}

// TestHandlerReports: the wrapper sees what the server wrote and reports
// what breaks the document to the test.
func TestHandlerReports(t *testing.T) {
	t.Parallel()
	s := apitest.Must(t)
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Request-Id", "req_1")
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/readyz" {
			w.WriteHeader(http.StatusTeapot)
		}
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	get := func(c *http.Client, url string) {
		for _, path := range []string{"/healthz", "/readyz"} {
			resp, err := c.Get(url + path)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if string(body) != `{"status":"ok"}` {
				t.Fatalf("%s: body %q reached the client altered", path, body)
			}
		}
	}

	// Server side.
	rec := &recordingTB{TB: t}
	srv := httptest.NewServer(s.Handler(rec, inner))
	defer srv.Close()
	get(http.DefaultClient, srv.URL)
	srv.Close() // waits for the handlers, and so for their checks
	if len(rec.errors) != 1 || !strings.Contains(rec.errors[0], "GET /readyz answered 418") {
		t.Fatalf("handler reports %q, want one about GET /readyz answering 418", rec.errors)
	}

	// Client side.
	rec = &recordingTB{TB: t}
	plain := httptest.NewServer(inner)
	defer plain.Close()
	get(s.Client(rec, 10*time.Second), plain.URL)
	if len(rec.errors) != 1 || !strings.Contains(rec.errors[0], "GET /readyz answered 418") {
		t.Fatalf("client reports %q, want one about GET /readyz answering 418", rec.errors)
	}
}

// recordingTB keeps the first line of each error instead of failing.
type recordingTB struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	line, _, _ := strings.Cut(fmt.Sprintf(format, args...), "\n")
	r.errors = append(r.errors, line)
}

// TestParseFails: a document whose example breaks its schema, or that
// refers to a schema outside ACP's pinned files, does not load.
func TestParseFails(t *testing.T) {
	t.Parallel()
	doc := api.OpenAPI()
	for name, edit := range map[string][2]string{
		"bad example":   {"amount_captured: 2599", "amount_captured: -1"},
		"foreign ref":   {"https://raw.githubusercontent.com/agentic-commerce-protocol/agentic-commerce-protocol/c2afc863b46b6bb64fbc2be969bff25ee6eab652/spec/2026-04-17/openapi/openapi.delegate_payment.yaml#/components/schemas/DelegatePaymentResponse", "https://example.com/schema.yaml#/DelegatePaymentResponse"},
		"escaping ref":  {apitest.ACPBase + "spec/2025-09-29/openapi/openapi.agentic_checkout.yaml", apitest.ACPBase + "spec/../../../go.mod"},
		"unknown field": {"  schemas:\n    APIVersion:\n", "  schemas:\n    APIVersion:\n      bogus_keyword: 1\n"},
	} {
		if !bytes.Contains(doc, []byte(edit[0])) {
			t.Fatalf("%s: the document no longer has %q", name, edit[0])
		}
		if _, err := apitest.Parse(bytes.Replace(doc, []byte(edit[0]), []byte(edit[1]), 1)); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	if _, err := apitest.Parse(doc); err != nil {
		t.Fatal(err)
	}
}

// TestACPBaseIsTheCopiedCommit: the document's ACP references point at the
// commit that testdata/specs/acp copies, so that the local files are the
// ones a reader of the document fetches.
func TestACPBaseIsTheCopiedCommit(t *testing.T) {
	t.Parallel()
	dir, err := specs.Dir("acp")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(strings.TrimSuffix(apitest.ACPBase, "/"), "/")
	commit := parts[len(parts)-1]
	if len(commit) != 40 || !strings.Contains(string(readme), "commit `"+commit+"`") {
		t.Fatalf("ACPBase commit %s is not the commit %s/README.md names", commit, dir)
	}
	for _, ref := range strings.Split(string(api.OpenAPI()), "$ref: \"")[1:] {
		ref = ref[:strings.IndexByte(ref, '"')]
		if strings.HasPrefix(ref, "#/") {
			continue
		}
		if !strings.HasPrefix(ref, apitest.ACPBase) {
			t.Errorf("reference %s is neither local nor under ACPBase", ref)
		}
	}
}

// enum returns the enum of one of the document's schemas.
func enum(t *testing.T, s *apitest.Spec, name string) []string {
	t.Helper()
	ref := s.Doc().Components.Schemas[name]
	if ref == nil || ref.Value == nil {
		t.Fatalf("no schema %s", name)
	}
	var out []string
	for _, v := range ref.Value.Enum {
		out = append(out, v.(string))
	}
	slices.Sort(out)
	return out
}

// TestEnumsMatchTheCode: the document's lists of statuses, decline codes
// and error codes are the code's.
func TestEnumsMatchTheCode(t *testing.T) {
	t.Parallel()
	s := apitest.Must(t)
	var statuses, declines []string
	for _, st := range payment.Statuses {
		statuses = append(statuses, string(st))
	}
	for _, d := range payment.Declines {
		declines = append(declines, string(d.Code))
	}
	slices.Sort(statuses)
	slices.Sort(declines)
	if got := enum(t, s, "PaymentStatus"); !slices.Equal(got, statuses) {
		t.Errorf("PaymentStatus enum %v, payment.Statuses %v", got, statuses)
	}
	if got := enum(t, s, "DeclineCode"); !slices.Equal(got, declines) {
		t.Errorf("DeclineCode enum %v, payment.Declines %v", got, declines)
	}
	codes := errorCodeConstants(t, "../../acp", "..", "../../gateway")
	if got := enum(t, s, "ErrorCode"); !slices.Equal(got, codes) {
		t.Errorf("ErrorCode enum %v,\nthe code's error code constants %v:\ndocument the new codes in api/openapi.yaml", got, codes)
	}
}

// errorCodeConstants returns the values of the string constants named
// Code* or code* in the packages in dirs, tests left out: the error codes
// acpgw sends.
func errorCodeConstants(t *testing.T, dirs ...string) []string {
	t.Helper()
	seen := map[string]bool{}
	fset := token.NewFileSet()
	for _, dir := range dirs {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, name, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				vs, ok := n.(*ast.ValueSpec)
				if !ok {
					return true
				}
				for i, id := range vs.Names {
					if !strings.HasPrefix(id.Name, "Code") && !strings.HasPrefix(id.Name, "code") || i >= len(vs.Values) {
						continue
					}
					if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
						v, err := strconv.Unquote(lit.Value)
						if err != nil {
							t.Fatal(err)
						}
						seen[v] = true
					}
				}
				return true
			})
		}
	}
	if len(seen) < 20 {
		t.Fatalf("found only %d error code constants in %v: has the code moved?", len(seen), dirs)
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}
