package api

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"acpgw/acp"
	"acpgw/gateway"
)

// The Delegate Authentication API (ACP 2026-04-17,
// openapi.delegate_authentication.yaml): agents (keys of agents:) create
// 3-D Secure sessions, report the fingerprint and read the result. It is
// guarded as delegate_payment is (Bearer key, rate limit, Signature and
// Timestamp for signing agents), with three differences its spec makes:
// API-Version 2026-04-17 is the only one; Idempotency-Key is optional and
// echoed; a key reused with another body is 409 idempotency_conflict (RFC
// section 7). Errors keep to its Error enums where one fits
// (acp.AuthenticationError, applied by publicError).

// ctxAuthentication marks a request of the Delegate Authentication API.
const ctxAuthentication = "acpgw.authentication"

// markAuthentication marks the request as one of the Delegate
// Authentication API and echoes its Idempotency-Key, as the spec asks.
func (s *Server) markAuthentication(c *gin.Context) {
	c.Set(ctxAuthentication, true)
	if key := c.GetHeader("Idempotency-Key"); printable(key, 255) {
		c.Header("Idempotency-Key", key)
	}
	c.Next()
}

// authAPIVersion requires API-Version 2026-04-17, the only version of the
// Delegate Authentication API; anything else gets delegate_payment's 400
// unsupported_api_version, listing that one version.
func (s *Server) authAPIVersion(c *gin.Context) {
	v := c.GetHeader("API-Version")
	if v != acp.AuthenticationAPIVersion {
		msg := "API-Version header is required"
		if v != "" {
			msg = fmt.Sprintf("API-Version %q is not supported by the Delegate Authentication API", v)
		}
		c.AbortWithStatusJSON(http.StatusBadRequest, gin.H{
			"type": acp.TypeInvalidRequest, "code": codeUnsupportedVersion,
			"message": msg, "param": "API-Version", "supported_versions": []string{acp.AuthenticationAPIVersion},
		})
		return
	}
	c.Set(ctxVersion, v)
	c.Header("API-Version", v)
	c.Next()
}

func agentOf(c *gin.Context) string {
	return strings.TrimPrefix(c.GetString(ctxCaller), "agent:")
}

func (s *Server) createAuthSession(c *gin.Context) {
	body := acp.ReadBody(bodyOf(c))
	idem, ok := s.begin(c, body)
	if !ok {
		return
	}
	req, aerr := body.DecodeAuthCreateRequest()
	if aerr != nil {
		s.refuse(c, idem, aerr)
		return
	}
	ans, err := s.svc.CreateAuthSession(c.Request.Context(), gateway.AuthCreateInput{
		AgentID: agentOf(c), Request: req, Idempotency: idem,
	})
	s.finish(c, idem, ans, err)
}

func (s *Server) authenticateSession(c *gin.Context) {
	body := acp.ReadBody(bodyOf(c))
	idem, ok := s.begin(c, body)
	if !ok {
		return
	}
	req, aerr := body.DecodeAuthenticateRequest()
	if aerr != nil {
		s.refuse(c, idem, aerr)
		return
	}
	ans, err := s.svc.Authenticate(c.Request.Context(), gateway.AuthenticateInput{
		AgentID: agentOf(c), SessionID: c.Param("id"), Request: req, Idempotency: idem,
	})
	s.finish(c, idem, ans, err)
}

func (s *Server) getAuthSession(c *gin.Context) {
	ans, err := s.svc.GetAuthSession(c.Request.Context(), gateway.AuthGetInput{AgentID: agentOf(c), SessionID: c.Param("id")})
	if err != nil {
		fail(c, err)
		return
	}
	send(c, ans)
}
