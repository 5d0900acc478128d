package api

import (
	_ "embed"
	"net/http"

	"github.com/gin-gonic/gin"
)

// openAPIDocument is api/openapi.yaml, the OpenAPI 3.1 description of this
// API. The API test suite validates every answer it receives against it
// (package api/apitest).
//
//go:embed openapi.yaml
var openAPIDocument []byte

// OpenAPI returns the OpenAPI 3.1 description of acpgw's HTTP API that
// GET /openapi.yaml serves.
func OpenAPI() []byte { return append([]byte(nil), openAPIDocument...) }

// openAPI serves the document. application/yaml is its media type (RFC 9512).
func openAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/yaml; charset=utf-8", openAPIDocument)
}
