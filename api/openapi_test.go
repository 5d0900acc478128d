package api_test

import (
	"bytes"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"acpgw/api"
	"acpgw/api/apitest"
)

// TestOpenAPIDescribesEveryRoute: the router's routes are the document's
// operations, one for one, so that a route added without its description
// (or a description left behind by a removed route) fails here even before
// a test calls it.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	param := regexp.MustCompile(`:([^/]+)`)
	var served []string
	for _, r := range api.Routes(h.api) {
		served = append(served, param.ReplaceAllString(r, "{$1}"))
	}
	var documented []string
	for path, item := range apitest.Must(t).Doc().Paths.Map() {
		for method := range item.Operations() {
			documented = append(documented, method+" "+path)
		}
	}
	slices.Sort(served)
	slices.Sort(documented)
	if !slices.Equal(served, documented) {
		t.Errorf("routes and api/openapi.yaml differ:\nserved     %v\ndocumented %v", served, documented)
	}
	if !slices.Contains(served, "GET /openapi.yaml") || len(served) < 10 {
		t.Errorf("routes %v: the route list looks wrong", served)
	}
}

// TestOpenAPIServed: GET /openapi.yaml answers api/openapi.yaml as it is in
// the repository.
func TestOpenAPIServed(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	want, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	r := h.do(req{method: http.MethodGet, path: "/openapi.yaml", noVersion: true})
	mustStatus(t, r, http.StatusOK)
	if !bytes.Equal(r.raw, want) {
		t.Errorf("GET /openapi.yaml is not api/openapi.yaml (%d bytes, want %d)", len(r.raw), len(want))
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/yaml") {
		t.Errorf("Content-Type %q, want application/yaml", ct)
	}
	if !bytes.HasPrefix(r.raw, []byte("openapi: 3.1.")) {
		t.Errorf("not an OpenAPI 3.1 document: %.40q", r.raw)
	}
}

// TestProbeAnswers drives the probes into the answers the document lists
// for them (the harness checks each against it): ready, then draining.
func TestProbeAnswers(t *testing.T) {
	h := newHarness(t, harnessOpts{})
	for _, tc := range []struct {
		path, status string
		code         int
	}{{"/healthz", "ok", 200}, {"/readyz", "ready", 200}} {
		r := h.do(req{method: http.MethodGet, path: tc.path, noVersion: true})
		if r.status != tc.code || r.str("status") != tc.status {
			t.Errorf("%s: %d %s, want %d %s", tc.path, r.status, r.raw, tc.code, tc.status)
		}
	}
	h.api.Drain()
	r := h.do(req{method: http.MethodGet, path: "/readyz", noVersion: true})
	if r.status != http.StatusServiceUnavailable || r.str("status") != "draining" {
		t.Errorf("/readyz while draining: %d %s", r.status, r.raw)
	}
}
