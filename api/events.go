package api

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"acpgw/acp"
	"acpgw/gateway"
)

// listEvents answers GET /v1/events?payment_id=&type=&starting_after=&limit=
// with the merchant's events, newest first.
func (s *Server) listEvents(c *gin.Context) {
	q, err := gateway.ParseEventQuery(c.Query("payment_id"), c.Query("type"), c.Query("starting_after"), c.Query("limit"))
	if err == nil {
		var list gateway.EventList
		if list, err = s.svc.ListEvents(c.Request.Context(), merchantOf(c), q); err == nil {
			c.JSON(http.StatusOK, list)
			return
		}
	}
	fail(c, err)
}

// getEvent answers GET /v1/events/{id} with the event and its delivery
// attempts.
func (s *Server) getEvent(c *gin.Context) {
	e, err := s.svc.Event(c.Request.Context(), merchantOf(c), c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, e)
}

// redeliverEvent answers POST /v1/events/{id}/redeliver. The body is empty
// or an empty JSON object.
func (s *Server) redeliverEvent(c *gin.Context) {
	idem, ok := s.begin(c, acp.ReadBody(bodyOf(c)))
	if !ok {
		return
	}
	if body := strings.TrimSpace(string(bodyOf(c))); body != "" {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal([]byte(body), &fields); err != nil || len(fields) > 0 {
			s.finish(c, idem, gateway.Answer{}, acp.Errorf(http.StatusBadRequest, acp.TypeInvalidRequest, acp.CodeInvalidRequest,
				"$", "a redelivery takes no parameters: send no body or {}"))
			return
		}
	}
	ans, err := s.svc.RedeliverEvent(c.Request.Context(), gateway.RedeliverInput{
		MerchantID: merchantOf(c), EventID: c.Param("id"), Idempotency: idem,
	})
	s.finish(c, idem, ans, err)
}
