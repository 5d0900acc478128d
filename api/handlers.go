package api

import (
	"context"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"acpgw/acp"
	"acpgw/gateway"
)

func (s *Server) delegate(c *gin.Context) {
	body := acp.ReadBody(bodyOf(c))
	idem, ok := s.begin(c, body)
	if !ok {
		return
	}
	version := c.GetString(ctxVersion)
	req, aerr := body.DecodeDelegateRequest(version, s.now())
	if aerr != nil {
		s.refuse(c, idem, aerr)
		return
	}
	ans, err := s.svc.Delegate(c.Request.Context(), gateway.DelegateInput{
		AgentID:     strings.TrimPrefix(c.GetString(ctxCaller), "agent:"),
		Request:     req,
		Idempotency: idem,
	})
	if err != nil && errorFor(err).Code == codeUnknownMerchant {
		err = acp.Errorf(http.StatusUnprocessableEntity, acp.TypeInvalidRequest, acp.CodeInvalidCard,
			"$.allowance.merchant_id", "allowance.merchant_id is not a merchant this gateway serves")
	}
	s.finish(c, idem, ans, err)
}

func (s *Server) pay(c *gin.Context) {
	body := acp.ReadBody(bodyOf(c))
	idem, ok := s.begin(c, body)
	if !ok {
		return
	}
	req, aerr := body.DecodePaymentRequest()
	if aerr != nil {
		s.refuse(c, idem, aerr)
		return
	}
	ans, err := s.svc.Pay(c.Request.Context(), gateway.PayInput{MerchantID: merchantOf(c), Request: req, Idempotency: idem})
	s.finish(c, idem, ans, err)
}

func (s *Server) get(c *gin.Context) {
	v, err := s.svc.Get(c.Request.Context(), merchantOf(c), c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, v.Object())
}

// modification is the handler of capture, void and refund.
func (s *Server) modification(op func(*gateway.Service, context.Context, gateway.ModifyInput) (gateway.Answer, error), takesAmount bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		body := acp.ReadBody(bodyOf(c))
		idem, ok := s.begin(c, body)
		if !ok {
			return
		}
		req, aerr := body.DecodeModifyRequest()
		if aerr == nil && req.Amount != nil && !takesAmount {
			aerr = acp.Errorf(http.StatusBadRequest, acp.TypeInvalidRequest, acp.CodeInvalidRequest, "$.amount",
				"a void cancels the whole authorization and takes no amount")
		}
		if aerr != nil {
			s.refuse(c, idem, aerr)
			return
		}
		ans, err := op(s.svc, c.Request.Context(), gateway.ModifyInput{
			MerchantID: merchantOf(c), PaymentID: c.Param("id"), Amount: req.Amount, Idempotency: idem,
		})
		s.finish(c, idem, ans, err)
	}
}
