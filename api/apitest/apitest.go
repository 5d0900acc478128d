// Package apitest checks acpgw's HTTP answers against its OpenAPI 3.1
// description (api/openapi.yaml) with kin-openapi and the JSON Schema
// 2020-12 validator it builds on (santhosh-tekuri/jsonschema), so that the
// document cannot drift from the code. The API test suite's harness serves
// through Spec.Handler, and the tests that call a running binary use
// Spec.Client. Only tests import it, so neither library is in the acpgw
// binary.
//
// The check is strict by design: an answer on a path the document does not
// describe must be acpgw's 404 not_found, one with a method the document does
// not list for a described path its 405 method_not_allowed, and a status the
// document does not list for the operation fails. Whoever adds a route or a
// status without describing it sees a test fail.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"acpgw/api"
	"acpgw/internal/specs"
)

// ACPBase is the URL prefix under which api/openapi.yaml refers to ACP's own
// schemas: the public repository at the commit that testdata/specs/acp copies
// (see its README.md). Load reads those files from the local copy, never from
// the network.
const ACPBase = "https://raw.githubusercontent.com/agentic-commerce-protocol/agentic-commerce-protocol/c2afc863b46b6bb64fbc2be969bff25ee6eab652/"

// Spec is the loaded and validated document with its paths as patterns.
type Spec struct {
	doc      *openapi3.T
	paths    []pathPattern
	mu       sync.Mutex
	compiler *jsonschema.Compiler
	schemas  map[string]*jsonschema.Schema
}

// docURL names the document for the schema compiler.
const docURL = "https://acpgw.invalid/openapi.json"

// pathPattern matches one path of the document exactly, as acpgw's router
// does: no trailing slash, no other case, one segment per parameter.
// (kin-openapi's routers are lenient about trailing slashes and empty
// parameters, which would hide a 404 that acpgw answers.)
type pathPattern struct {
	path  string
	re    *regexp.Regexp
	names []string
}

var paramRE = regexp.MustCompile(`\{([^{}/]+)\}`)

func newPathPattern(path string) pathPattern {
	p := pathPattern{path: path}
	var b strings.Builder
	b.WriteString("^")
	last := 0
	for _, m := range paramRE.FindAllStringSubmatchIndex(path, -1) {
		b.WriteString(regexp.QuoteMeta(path[last:m[0]]))
		b.WriteString("([^/]+)")
		p.names = append(p.names, path[m[2]:m[3]])
		last = m[1]
	}
	b.WriteString(regexp.QuoteMeta(path[last:]))
	b.WriteString("$")
	p.re = regexp.MustCompile(b.String())
	return p
}

var loaded = sync.OnceValues(func() (*Spec, error) { return Parse(api.OpenAPI()) })

func init() {
	// GET /metrics answers OpenMetrics when asked: a text body like
	// text/plain's, which the validator must be able to read.
	openapi3filter.RegisterBodyDecoder("application/openmetrics-text", openapi3filter.PlainBodyDecoder)
}

// Load returns the document acpgw serves, loaded once per test binary.
func Load() (*Spec, error) { return loaded() }

// Parse loads an OpenAPI document that refers to ACP's schemas under
// ACPBase, validates it (examples included) and prepares it for checking
// answers. Tests of the checker itself parse altered copies.
func Parse(data []byte) (*Spec, error) {
	dir, err := specs.Dir("acp")
	if err != nil {
		return nil, err
	}
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = true
	loader.ReadFromURIFunc = func(_ *openapi3.Loader, u *url.URL) ([]byte, error) {
		rest, ok := strings.CutPrefix(u.String(), ACPBase)
		if !ok || strings.Contains(rest, "..") {
			return nil, fmt.Errorf("apitest: %s: the document may refer only to ACP's files under %s", u, ACPBase)
		}
		return os.ReadFile(filepath.Join(dir, filepath.FromSlash(rest)))
	}
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return nil, fmt.Errorf("apitest: load: %w", err)
	}
	ctx := context.Background()
	// ACP's own schemas carry examples that break them (the 2026-04-17
	// PaymentData example is the token shape): the document's examples are
	// checked below instead.
	if err := doc.Validate(ctx, openapi3.DisableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("apitest: not a valid OpenAPI document: %w", err)
	}
	// The JSON Schema 2020-12 validator that 3.1 documents use resolves
	// only references inside the document: copy ACP's schemas in.
	doc.InternalizeRefs(ctx, nil)
	s := &Spec{doc: doc, compiler: jsonschema.NewCompiler(), schemas: map[string]*jsonschema.Schema{}}
	raw, err := json.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("apitest: %w", err)
	}
	whole, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("apitest: %w", err)
	}
	s.compiler.DefaultDraft(jsonschema.Draft2020)
	s.compiler.AssertFormat()
	if err := s.compiler.AddResource(docURL, whole); err != nil {
		return nil, fmt.Errorf("apitest: %w", err)
	}
	if err := s.checkExamples(); err != nil {
		return nil, err
	}
	for _, path := range doc.Paths.InMatchingOrder() {
		s.paths = append(s.paths, newPathPattern(path))
	}
	return s, nil
}

// route finds the document's operation for r. known is true when the
// document has the path, whatever the method.
func (s *Spec) route(r *http.Request) (route *routers.Route, params map[string]string, known bool) {
	for _, p := range s.paths {
		m := p.re.FindStringSubmatch(r.URL.EscapedPath())
		if m == nil {
			continue
		}
		item := s.doc.Paths.Value(p.path)
		op := item.GetOperation(r.Method)
		if op == nil {
			return nil, nil, true
		}
		params = map[string]string{}
		for i, name := range p.names {
			v, err := url.PathUnescape(m[i+1])
			if err != nil {
				v = m[i+1]
			}
			params[name] = v
		}
		return &routers.Route{Spec: s.doc, Path: p.path, PathItem: item, Method: r.Method, Operation: op}, params, true
	}
	return nil, nil, false
}

// checkExamples validates every example of the document's requests and
// answers against its schema.
func (s *Spec) checkExamples() error {
	var errs []error
	check := func(where, ptr string, content openapi3.Content) {
		for ct, mt := range content {
			if mt.Schema == nil || mt.Schema.Value == nil {
				continue
			}
			values := map[string]any{}
			if mt.Example != nil {
				values["example"] = mt.Example
			}
			for name, ex := range mt.Examples {
				if ex != nil && ex.Value != nil {
					values[name] = ex.Value.Value
				}
			}
			for name, v := range values {
				var err error
				if isJSON(ct) {
					var raw []byte
					if raw, err = json.Marshal(v); err == nil {
						err = s.validateJSON(schemaPointer(ptr, ct, mt), raw)
					}
				} else {
					err = mt.Schema.Value.VisitJSON(v, openapi3.EnableJSONSchema2020())
				}
				if err != nil {
					errs = append(errs, fmt.Errorf("apitest: example %q of %s %s: %w", name, where, ct, err))
				}
			}
		}
	}
	for path, item := range s.doc.Paths.Map() {
		for method, op := range item.Operations() {
			where := method + " " + path
			base := "#/paths/" + escape(path) + "/" + strings.ToLower(method)
			if rb := op.RequestBody; rb != nil && rb.Value != nil {
				check(where+" request", refOr(rb.Ref, base+"/requestBody"), rb.Value.Content)
			}
			for status, resp := range op.Responses.Map() {
				if resp.Value != nil {
					check(where+" "+status, refOr(resp.Ref, base+"/responses/"+status), resp.Value.Content)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// Must returns Load's document, and fails t when it does not load.
func Must(t testing.TB) *Spec {
	t.Helper()
	s, err := Load()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Doc returns the loaded document (ACP's schemas copied in).
func (s *Spec) Doc() *openapi3.T { return s.doc }

// Answer is one request with the answer it got.
type Answer struct {
	Request *http.Request
	// RequestBody is the body the server read.
	RequestBody []byte
	Status      int
	Header      http.Header
	Body        []byte
}

// Check validates an answer against the document. A 2xx answer's request
// is validated too: the document must accept what the server accepted.
//
// kin-openapi checks the route, the status, the headers and the non-JSON
// bodies; JSON bodies are checked by schemas compiled once (jsonschema,
// the JSON Schema 2020-12 validator kin-openapi itself uses for 3.1
// documents, which compiles a schema on every call: too slow for every
// answer of a test suite on a loaded machine).
func (s *Spec) Check(ctx context.Context, a Answer) error {
	r := a.Request.Clone(ctx)
	r.Body = io.NopCloser(bytes.NewReader(a.RequestBody))
	route, params, known := s.route(r)
	switch {
	case !known:
		return s.checkUnrouted(a, http.StatusNotFound, "not_found")
	case route == nil:
		if a.Header.Get("Allow") == "" {
			return fmt.Errorf("%s %s: the document has the path but not the method, so the answer must be a 405 with Allow", r.Method, r.URL.Path)
		}
		return s.checkUnrouted(a, http.StatusMethodNotAllowed, "method_not_allowed")
	}
	base := "#/paths/" + escape(route.Path) + "/" + strings.ToLower(route.Method)
	var errs []error
	if a.Status >= 200 && a.Status < 300 {
		if err := s.checkRequest(ctx, r, a.RequestBody, route, params, base); err != nil {
			errs = append(errs, fmt.Errorf("the request the server accepted breaks the document: %w", err))
		}
	}
	if err := s.checkResponse(ctx, r, a, route, params, base); err != nil {
		errs = append(errs, fmt.Errorf("%s %s: %w", route.Method, route.Path, err))
	}
	return errors.Join(errs...)
}

func (s *Spec) options() *openapi3filter.Options {
	return &openapi3filter.Options{
		IncludeResponseStatus:   true,
		MultiError:              true,
		AuthenticationFunc:      openapi3filter.NoopAuthenticationFunc,
		SchemaValidationOptions: []openapi3.SchemaValidationOption{openapi3.EnableFormatValidation()},
	}
}

func (s *Spec) checkRequest(ctx context.Context, r *http.Request, body []byte, route *routers.Route, params map[string]string, base string) error {
	opts := s.options()
	var schemaPtr string
	if rb := route.Operation.RequestBody; rb != nil && rb.Value != nil {
		ct := r.Header.Get("Content-Type")
		key, mt := mediaType(rb.Value.Content, ct)
		switch {
		case key == "*/*" && (mt.Schema == nil || mt.Schema.Value == nil || mt.Schema.Value.IsEmpty()):
			// A body of any type (a processor's event) has no schema to
			// check, and may come without a Content-Type.
			opts.ExcludeRequestBody = true
		case mt != nil && isJSON(ct) && len(bytes.TrimSpace(body)) > 0:
			opts.ExcludeRequestBody = true
			schemaPtr = schemaPointer(refOr(rb.Ref, base+"/requestBody"), key, mt)
		}
	}
	in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: opts}
	if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
		return err
	}
	if schemaPtr != "" {
		return s.validateJSON(schemaPtr, body)
	}
	return nil
}

func (s *Spec) checkResponse(ctx context.Context, r *http.Request, a Answer, route *routers.Route, params map[string]string, base string) error {
	opts := s.options()
	var schemaPtr string
	ct := a.Header.Get("Content-Type")
	if resp := route.Operation.Responses.Status(a.Status); resp != nil && resp.Value != nil && isJSON(ct) {
		if key, mt := mediaType(resp.Value.Content, ct); mt != nil {
			opts.ExcludeResponseBody = true
			schemaPtr = schemaPointer(refOr(resp.Ref, base+"/responses/"+strconv.Itoa(a.Status)), key, mt)
		}
	}
	err := openapi3filter.ValidateResponse(ctx, &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: opts},
		Status:                 a.Status,
		Header:                 a.Header,
		Body:                   io.NopCloser(bytes.NewReader(a.Body)),
		Options:                opts,
	})
	if err != nil {
		return err
	}
	if schemaPtr != "" {
		return s.validateJSON(schemaPtr, a.Body)
	}
	return nil
}

// mediaType returns the entry of content that ct matches, and its key.
func mediaType(content openapi3.Content, ct string) (string, *openapi3.MediaType) {
	mt := content.Get(ct)
	for k, v := range content {
		if v == mt {
			return k, mt
		}
	}
	return "", nil
}

func isJSON(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// refOr is ref when the object is a reference, else where it is.
func refOr(ref, where string) string {
	if ref != "" {
		return ref
	}
	return where
}

// schemaPointer is the location of a media type's schema, under the
// request body or response at where.
func schemaPointer(where, key string, mt *openapi3.MediaType) string {
	if mt.Schema != nil && mt.Schema.Ref != "" {
		return mt.Schema.Ref
	}
	return where + "/content/" + escape(key) + "/schema"
}

// escape makes s one JSON pointer token (RFC 6901).
func escape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// validateJSON validates a JSON body against the schema at ptr, a JSON
// pointer into the document ("#/components/schemas/Payment").
func (s *Spec) validateJSON(ptr string, body []byte) error {
	sch, err := s.compiled(ptr)
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("body is not JSON: %w", err)
	}
	if err := sch.Validate(v); err != nil {
		return fmt.Errorf("body does not match %s: %w", ptr, err)
	}
	return nil
}

// compiled returns the schema at ptr, compiled on first use.
func (s *Spec) compiled(ptr string) (*jsonschema.Schema, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sch, ok := s.schemas[ptr]; ok {
		return sch, nil
	}
	sch, err := s.compiler.Compile(docURL + ptr)
	if err != nil {
		return nil, fmt.Errorf("apitest: compile %s: %w", ptr, err)
	}
	s.schemas[ptr] = sch
	return sch, nil
}

// checkUnrouted checks the answer to a request the document has no
// operation for: it must be acpgw's error with status and code.
func (s *Spec) checkUnrouted(a Answer, status int, code string) error {
	what := fmt.Sprintf("%s %s is not in the document", a.Request.Method, a.Request.URL.Path)
	if a.Status != status {
		return fmt.Errorf("%s, so its answer must be %d %s, not %d: describe the route in api/openapi.yaml", what, status, code, a.Status)
	}
	if a.Header.Get("Request-Id") == "" {
		return fmt.Errorf("%s: answer without Request-Id", what)
	}
	if !isJSON(a.Header.Get("Content-Type")) {
		return fmt.Errorf("%s: answer with Content-Type %q, want application/json", what, a.Header.Get("Content-Type"))
	}
	if err := s.validateJSON("#/components/schemas/Error", a.Body); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	var e struct{ Code string }
	if err := json.Unmarshal(a.Body, &e); err != nil || e.Code != code {
		return fmt.Errorf("%s: code %q, want %q", what, e.Code, code)
	}
	return nil
}

// Handler serves h and checks every answer it writes against the document;
// t gets an error for each answer that breaks it. Answers the server writes
// itself before any handler runs (431, a malformed request line) are not
// seen.
func (s *Spec) Handler(t testing.TB, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := r.Clone(context.WithoutCancel(r.Context()))
		var reqBody bytes.Buffer
		if r.Body != nil {
			r.Body = &teeBody{ReadCloser: r.Body, copy: &reqBody}
		}
		rec := &recorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.status == 0 {
			rec.status = http.StatusOK
		}
		a := Answer{Request: req, RequestBody: reqBody.Bytes(), Status: rec.status, Header: w.Header().Clone(), Body: rec.body.Bytes()}
		if err := s.Check(context.Background(), a); err != nil {
			t.Errorf("api/openapi.yaml: %s %s answered %d: %v\nbody: %.1000s", r.Method, r.URL.RequestURI(), a.Status, err, a.Body)
		}
	})
}

// Client returns an HTTP client with timeout whose answers are checked
// against the document (see Transport), for tests that call a running
// acpgw, such as the binary, rather than a handler.
func (s *Spec) Client(t testing.TB, timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: s.Transport(t, nil)}
}

// Transport returns base (http.DefaultTransport when nil) with every answer
// checked against the document; t gets an error for each answer that
// breaks it. It reads each answer's body whole before returning it. Use it
// only for requests to acpgw.
func (s *Spec) Transport(t testing.TB, base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return roundTripper(func(req *http.Request) (*http.Response, error) {
		var reqBody []byte
		if req.Body != nil && req.Body != http.NoBody {
			var err error
			reqBody, err = io.ReadAll(req.Body)
			req.Body.Close()
			if err != nil {
				return nil, err
			}
			req = req.Clone(req.Context())
			req.Body = io.NopCloser(bytes.NewReader(reqBody))
		}
		resp, err := base.RoundTrip(req)
		if err != nil {
			return nil, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
		a := Answer{Request: req, RequestBody: reqBody, Status: resp.StatusCode, Header: resp.Header, Body: body}
		if err := s.Check(context.WithoutCancel(req.Context()), a); err != nil {
			t.Errorf("api/openapi.yaml: %s %s answered %d: %v\nbody: %.1000s", req.Method, req.URL.RequestURI(), a.Status, err, a.Body)
		}
		return resp, nil
	})
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// teeBody keeps a copy of what the server reads of a request body.
type teeBody struct {
	io.ReadCloser
	copy *bytes.Buffer
}

func (b *teeBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.copy.Write(p[:n])
	return n, err
}

// recorder passes an answer through and keeps its status and body.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
	r.ResponseWriter.WriteHeader(status)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body.Write(p)
	return r.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the server's writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Flush implements http.Flusher.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
