// Package adyentest is a fake Adyen Checkout API v71 for tests: an
// httptest server that validates every request it receives, and every
// answer it gives, against Adyen's official OpenAPI description
// (<module root>/../shared/specs/adyen/CheckoutService-v71.json) with
// kin-openapi, keeps a ledger of what it charged, and signs webhooks the
// way Adyen does. Only tests import it, so kin-openapi stays out of the
// acpgw binary.
package adyentest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"acpgw/internal/specs"
)

// SpecFile is the name of Adyen's OpenAPI document in SpecDir.
const SpecFile = "CheckoutService-v71.json"

// SpecDir returns the directory holding Adyen's spec and fixtures:
// <module root>/../shared/specs/adyen, where the module root is the first
// directory at or above the working directory that holds a go.mod.
func SpecDir() (string, error) { return specs.Dir("adyen") }

// Fixture returns the bytes of fixtures/name in SpecDir.
func Fixture(name string) ([]byte, error) {
	dir, err := SpecDir()
	if err != nil {
		return nil, err
	}
	return os.ReadFile(filepath.Join(dir, "fixtures", name))
}

// Spec is Adyen's Checkout API v71 description, loaded and checked once.
type Spec struct {
	doc *openapi3.T
	// mu serialises validations and guards verdicts. Validating a
	// PaymentRequest (a oneOf of some sixty payment methods) is costly, and
	// the conformance suite re-sends identical requests many times, so the
	// verdict on each distinct request or answer is kept.
	mu       sync.Mutex
	verdicts map[[sha256.Size]byte]error
}

// cached returns the verdict on the exchange described by parts,
// computing it with validate the first time.
func (s *Spec) cached(validate func() error, parts ...string) error {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(strconv.Itoa(len(p))))
		h.Write([]byte{0})
		h.Write([]byte(p))
	}
	var key [sha256.Size]byte
	h.Sum(key[:0])
	s.mu.Lock()
	defer s.mu.Unlock()
	if err, ok := s.verdicts[key]; ok {
		return err
	}
	err := validate()
	s.verdicts[key] = err
	return err
}

var (
	specOnce sync.Once
	spec     *Spec
	specErr  error
)

// LoadSpec loads CheckoutService-v71.json (OpenAPI 3.1, which kin-openapi
// v0.153.0 validates with JSON Schema 2020-12) once per process. Example
// validation is off: Adyen's examples are not all valid against its own
// schemas.
func LoadSpec() (*Spec, error) {
	specOnce.Do(func() {
		dir, err := SpecDir()
		if err != nil {
			specErr = err
			return
		}
		path := filepath.Join(dir, SpecFile)
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromFile(path)
		if err != nil {
			specErr = fmt.Errorf("adyentest: load %s: %w", path, err)
			return
		}
		if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
			specErr = fmt.Errorf("adyentest: %s is not a valid OpenAPI document: %w", path, err)
			return
		}
		spec = &Spec{doc: doc, verdicts: map[[sha256.Size]byte]error{}}
	})
	return spec, specErr
}

// The operations the fake serves, with their spec paths.
const (
	PathPayments        = "/payments"
	PathPaymentsDetails = "/payments/details"
	PathCaptures        = "/payments/{paymentPspReference}/captures"
	PathCancels         = "/payments/{paymentPspReference}/cancels"
	PathRefunds         = "/payments/{paymentPspReference}/refunds"
)

// route finds the POST operation of a request path relative to the base
// URL (/payments, /payments/X/captures...), with its path parameters.
func (s *Spec) route(path string) (*routers.Route, map[string]string, error) {
	specPath, params := PathPayments, map[string]string{}
	if path == PathPaymentsDetails {
		specPath = PathPaymentsDetails
	} else if path != PathPayments {
		rest, ok := strings.CutPrefix(path, "/payments/")
		ref, op, ok2 := strings.Cut(rest, "/")
		if !ok || !ok2 || ref == "" || strings.Contains(op, "/") {
			return nil, nil, fmt.Errorf("adyentest: no operation for path %q", path)
		}
		switch op {
		case "captures":
			specPath = PathCaptures
		case "cancels":
			specPath = PathCancels
		case "refunds":
			specPath = PathRefunds
		default:
			return nil, nil, fmt.Errorf("adyentest: no operation for path %q", path)
		}
		params["paymentPspReference"] = ref
	}
	item := s.doc.Paths.Find(specPath)
	if item == nil || item.Post == nil {
		return nil, nil, fmt.Errorf("adyentest: the spec has no POST %s", specPath)
	}
	return &routers.Route{Spec: s.doc, Path: specPath, PathItem: item, Method: http.MethodPost, Operation: item.Post}, params, nil
}

// apiKeyAuth accepts the request when its X-API-Key (or basic auth)
// header is present; which key is right is the fake's business.
func apiKeyAuth(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	switch in.SecuritySchemeName {
	case "ApiKeyAuth":
		if in.RequestValidationInput.Request.Header.Get("X-API-Key") == "" {
			return errors.New("no X-API-Key")
		}
		return nil
	case "BasicAuth":
		if _, _, ok := in.RequestValidationInput.Request.BasicAuth(); !ok {
			return errors.New("no basic auth")
		}
		return nil
	}
	return fmt.Errorf("unknown security scheme %q", in.SecuritySchemeName)
}

// ValidateRequest validates a request (path relative to the base URL,
// headers, security and JSON body) against the spec's operation for it.
// The request's body is read and replaced.
//
// openapi3filter.ValidateRequest checks everything but the body, which is
// checked by its schema's VisitJSON: for OpenAPI 3.1 documents kin-openapi
// first compiles the schema for JSON Schema 2020-12 on every call, then,
// for $ref-based schemas such as Adyen's, falls back to this same
// validator; compiling the PaymentRequest (a oneOf of some sixty payment
// methods) took 75% of the time. TestBodyValidatorsAgree checks that the
// two agree.
func (s *Spec) ValidateRequest(ctx context.Context, r *http.Request, path string) error {
	route, params, err := s.route(path)
	if err != nil {
		return err
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	clone := r.Clone(ctx)
	clone.Body = io.NopCloser(bytes.NewReader(body))
	in := &openapi3filter.RequestValidationInput{
		Request:    clone,
		PathParams: params,
		Route:      route,
		Options: &openapi3filter.Options{
			AuthenticationFunc: apiKeyAuth,
			MultiError:         true,
			ExcludeRequestBody: true,
		},
	}
	auth := "none"
	if r.Header.Get("X-API-Key") != "" {
		auth = "key"
	}
	return s.cached(func() error {
		if err := openapi3filter.ValidateRequest(ctx, in); err != nil {
			return err
		}
		return validateBody(route.Operation.RequestBody.Value.Content, r.Header.Get("Content-Type"), body)
	}, "request", path, r.Header.Get("Content-Type"), auth, string(body))
}

// validateBody checks a JSON body against the schema of its media type.
func validateBody(content openapi3.Content, contentType string, body []byte) error {
	if base, _, err := mime.ParseMediaType(contentType); err == nil {
		contentType = base
	}
	mt := content.Get(contentType)
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
		return fmt.Errorf("adyentest: no schema for content type %q", contentType)
	}
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("adyentest: body is not JSON: %w", err)
	}
	if dec.More() {
		return errors.New("adyentest: data after the JSON body")
	}
	v, err := specs.Plain(v)
	if err != nil {
		return err
	}
	return mt.Schema.Value.VisitJSON(v, openapi3.MultiErrors(), openapi3.EnableFormatValidation())
}

// ValidateResponse validates an answer to a request for path against the
// spec (status, headers, body); a status the operation does not document
// is an error. The body is checked as in ValidateRequest.
func (s *Spec) ValidateResponse(ctx context.Context, path string, status int, header http.Header, body []byte) error {
	route, params, err := s.route(path)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, path, nil)
	if err != nil {
		return err
	}
	if header == nil {
		header = http.Header{}
	}
	if header.Get("Content-Type") == "" {
		header = header.Clone()
		header.Set("Content-Type", "application/json")
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true, ExcludeResponseBody: true},
	}
	return s.cached(func() error {
		if err := openapi3filter.ValidateResponse(ctx, in); err != nil {
			return err
		}
		resp := route.Operation.Responses.Status(status)
		if resp == nil || resp.Value == nil {
			return fmt.Errorf("adyentest: status %d is not documented for %s", status, route.Path)
		}
		return validateBody(resp.Value.Content, header.Get("Content-Type"), body)
	}, "response", path, strconv.Itoa(status), header.Get("Content-Type"), string(body))
}
