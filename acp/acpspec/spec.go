// Package acpspec loads the ACP OpenAPI documents shipped beside the module
// (<module root>/../shared/specs/acp) and validates requests and responses
// against them with kin-openapi (and the Delegate Authentication JSON schema
// with santhosh-tekuri/jsonschema, see auth.go). Only tests import it, so
// neither library is in the acpgw binary.
package acpspec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"acpgw/internal/specs"
)

// DelegatePath is the path of the Delegate Payment operation.
const DelegatePath = "/agentic_commerce/delegate_payment"

// SpecDir returns the directory holding the ACP spec (the "spec" and
// "examples" folders): <module root>/../shared/specs/acp, where the module
// root is the first directory at or above the working directory that holds
// a go.mod.
func SpecDir() (string, error) { return specs.Dir("acp") }

// LoadSpec loads and validates openapi.delegate_payment.yaml of an ACP API
// version. The documents are OpenAPI 3.1.0, which kin-openapi v0.153.0
// loads without options; schema validation switches to JSON Schema 2020-12
// by itself for 3.1 documents. Example validation is off because the
// spec's own 401/429/500/503 examples break its Error enums (a known
// upstream defect).
func LoadSpec(version string) (*openapi3.T, error) {
	dir, err := SpecDir()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "spec", version, "openapi", "openapi.delegate_payment.yaml")
	doc, err := openapi3.NewLoader().LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("acpspec: load %s: %w", path, err)
	}
	if err := doc.Validate(context.Background(), openapi3.DisableExamplesValidation()); err != nil {
		return nil, fmt.Errorf("acpspec: %s is not a valid OpenAPI document: %w", path, err)
	}
	return doc, nil
}

// route returns the Delegate Payment operation of spec as a router match.
func route(spec *openapi3.T) (*routers.Route, error) {
	item := spec.Paths.Find(DelegatePath)
	if item == nil || item.Post == nil {
		return nil, fmt.Errorf("acpspec: spec has no POST %s", DelegatePath)
	}
	return &routers.Route{Spec: spec, Path: DelegatePath, PathItem: item, Method: http.MethodPost, Operation: item.Post}, nil
}

// ValidateDelegateRequestBody validates a JSON request body against the
// Delegate Payment request schema of spec (headers are not checked).
func ValidateDelegateRequestBody(spec *openapi3.T, body []byte) error {
	r, err := route(spec)
	if err != nil {
		return err
	}
	mt := r.Operation.RequestBody.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil {
		return errors.New("acpspec: no application/json request schema")
	}
	return visit(mt.Schema.Value, body)
}

// visit validates a JSON body against schema (JSON Schema 2020-12, the
// formats kin-openapi knows checked).
func visit(schema *openapi3.Schema, body []byte) error {
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("acpspec: not JSON: %w", err)
	}
	v, err := specs.Plain(v)
	if err != nil {
		return err
	}
	return schema.VisitJSON(v, openapi3.EnableJSONSchema2020(), openapi3.EnableFormatValidation())
}

// ValidateDelegateResponse validates a Delegate Payment response (status,
// headers and JSON body) against spec with openapi3filter. A status the
// operation does not document is an error.
func ValidateDelegateResponse(ctx context.Context, spec *openapi3.T, status int, header http.Header, body []byte) error {
	r, err := route(spec)
	if err != nil {
		return err
	}
	return validateResponse(ctx, r, http.MethodPost, DelegatePath, status, header, body)
}

// validateResponse checks an answer to method path against the operation
// of route r; a missing Content-Type reads as application/json.
func validateResponse(ctx context.Context, r *routers.Route, method, path string, status int, header http.Header, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, method, path, nil)
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
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, Route: r},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true},
	}
	return openapi3filter.ValidateResponse(ctx, in)
}

// LoadCheckoutSpec loads openapi.agentic_checkout.yaml of an ACP API
// version (its AuthenticationResult schema is what POST /v1/payments takes
// as authentication_result).
func LoadCheckoutSpec(version string) (*openapi3.T, error) {
	dir, err := SpecDir()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "spec", version, "openapi", "openapi.agentic_checkout.yaml")
	doc, err := openapi3.NewLoader().LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("acpspec: load %s: %w", path, err)
	}
	return doc, nil
}

// ValidateSchema validates a JSON value against the named component schema
// of spec (JSON Schema 2020-12, formats checked).
func ValidateSchema(spec *openapi3.T, schema string, body []byte) error {
	ref := spec.Components.Schemas[schema]
	if ref == nil || ref.Value == nil {
		return fmt.Errorf("acpspec: no schema %q", schema)
	}
	return visit(ref.Value, body)
}
