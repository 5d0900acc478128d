package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"acpgw/acp"
	"acpgw/gateway"
	"acpgw/payment"
	"acpgw/store"
)

// delegateResponse is the ACP DelegatePaymentResponse.
type delegateResponse struct {
	ID       string            `json:"id"`
	Created  string            `json:"created"`
	Metadata map[string]string `json:"metadata"`
}

func tokenResponse(t store.Token) delegateResponse {
	md := map[string]string{"merchant_id": t.MerchantID}
	if t.IdempotencyKey != "" {
		md["idempotency_key"] = t.IdempotencyKey
	}
	return delegateResponse{ID: t.ID, Created: t.CreatedAt.UTC().Format(time.RFC3339), Metadata: md}
}

func (s *Server) delegate(c *gin.Context) {
	version := c.GetString(ctxVersion)
	req, aerr := acp.DecodeDelegateRequest(version, bodyOf(c), s.now())
	if aerr != nil {
		fail(c, aerr)
		return
	}
	t, err := s.svc.Delegate(c.Request.Context(), gateway.DelegateInput{
		AgentID:        strings.TrimPrefix(c.GetString(ctxCaller), "agent:"),
		IdempotencyKey: c.GetHeader("Idempotency-Key"),
		Request:        req,
	})
	if err != nil {
		if errorFor(err).Code == codeUnknownMerchant {
			fail(c, acp.Errorf(http.StatusUnprocessableEntity, acp.TypeInvalidRequest, acp.CodeInvalidCard,
				"$.allowance.merchant_id", "allowance.merchant_id is not a merchant this gateway serves"))
			return
		}
		fail(c, err)
		return
	}
	c.JSON(http.StatusCreated, tokenResponse(t))
}

func (s *Server) recoverToken(c *gin.Context, id string) (int, any, error) {
	t, err := s.svc.Token(c.Request.Context(), id)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusCreated, tokenResponse(t), nil
}

func (s *Server) recoverPayment(created int) recoverFunc {
	return func(c *gin.Context, resourceID string) (int, any, error) {
		id := c.Param("id")
		if id == "" {
			id = resourceID
		}
		v, err := s.svc.Get(c.Request.Context(), merchantOf(c), id)
		if err != nil {
			return 0, nil, err
		}
		return statusFor(v, created), render(v), nil
	}
}

// statusFor is the HTTP status of a payment answer: 202 while an outcome is
// unknown or a modification awaits the processor's confirmation.
func statusFor(v gateway.View, done int) int {
	if v.Payment.Status == payment.StatusPending {
		return http.StatusAccepted
	}
	for _, a := range v.Attempts {
		if a.State == store.AttemptPending {
			return http.StatusAccepted
		}
	}
	return done
}

func (s *Server) pay(c *gin.Context) {
	req, aerr := acp.DecodePaymentRequest(bodyOf(c))
	if aerr != nil {
		fail(c, aerr)
		return
	}
	ref := gateway.IdempotencyFrom(c.Request.Context())
	if ref != nil {
		ref.Render = func(v gateway.View) (int, []byte, error) {
			b, err := json.Marshal(render(v))
			return statusFor(v, http.StatusCreated), b, err
		}
	}
	v, err := s.svc.Pay(c.Request.Context(), gateway.PayInput{MerchantID: merchantOf(c), Request: req})
	if err != nil {
		fail(c, err)
		return
	}
	if ref != nil && ref.Completed() {
		// Stored with the payment's last write: send exactly that.
		status, body := ref.Response()
		c.Data(status, "application/json; charset=utf-8", body)
		return
	}
	c.JSON(statusFor(v, http.StatusCreated), render(v))
}

func (s *Server) get(c *gin.Context) {
	v, err := s.svc.Get(c.Request.Context(), merchantOf(c), c.Param("id"))
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(http.StatusOK, render(v))
}

func (s *Server) capture(c *gin.Context) {
	req, aerr := acp.DecodeModifyRequest(bodyOf(c))
	if aerr != nil {
		fail(c, aerr)
		return
	}
	v, err := s.svc.Capture(c.Request.Context(), merchantOf(c), c.Param("id"), req.Amount)
	s.answer(c, v, err, http.StatusOK)
}

func (s *Server) void(c *gin.Context) {
	req, aerr := acp.DecodeModifyRequest(bodyOf(c))
	if aerr != nil {
		fail(c, aerr)
		return
	}
	if req.Amount != nil {
		fail(c, acp.Errorf(http.StatusBadRequest, acp.TypeInvalidRequest, acp.CodeInvalidRequest, "$.amount",
			"a void cancels the whole authorization and takes no amount"))
		return
	}
	v, err := s.svc.Void(c.Request.Context(), merchantOf(c), c.Param("id"))
	s.answer(c, v, err, http.StatusOK)
}

func (s *Server) refund(c *gin.Context) {
	req, aerr := acp.DecodeModifyRequest(bodyOf(c))
	if aerr != nil {
		fail(c, aerr)
		return
	}
	v, err := s.svc.Refund(c.Request.Context(), merchantOf(c), c.Param("id"), req.Amount)
	s.answer(c, v, err, http.StatusCreated)
}

func (s *Server) answer(c *gin.Context, v gateway.View, err error, done int) {
	if err != nil {
		fail(c, err)
		return
	}
	c.JSON(statusFor(v, done), render(v))
}

// paymentResponse is the payment object of the HTTP contract.
type paymentResponse struct {
	ID                 string            `json:"id"`
	Object             string            `json:"object"`
	Status             payment.Status    `json:"status"`
	MerchantID         string            `json:"merchant_id"`
	CheckoutSessionID  string            `json:"checkout_session_id"`
	Amount             int64             `json:"amount"`
	Currency           string            `json:"currency"`
	Capture            string            `json:"capture"`
	AmountCaptured     int64             `json:"amount_captured"`
	AmountRefunded     int64             `json:"amount_refunded"`
	Processor          string            `json:"processor"`
	ProcessorType      string            `json:"processor_type"`
	ProcessorReference *string           `json:"processor_reference"`
	Decline            *payment.Decline  `json:"decline"`
	Fee                feeResponse       `json:"fee"`
	Routing            json.RawMessage   `json:"routing"`
	Attempts           []attemptResponse `json:"attempts"`
	Refunds            []refundResponse  `json:"refunds"`
	Metadata           map[string]string `json:"metadata"`
	CreatedAt          string            `json:"created_at"`
	UpdatedAt          string            `json:"updated_at"`
}

type feeResponse struct {
	Estimated int64  `json:"estimated"`
	Actual    *int64 `json:"actual"`
	Currency  string `json:"currency"`
}

type attemptResponse struct {
	Processor string `json:"processor"`
	Operation string `json:"operation"`
	Outcome   string `json:"outcome"`
	Amount    int64  `json:"amount"`
	LatencyMS int64  `json:"latency_ms"`
}

type refundResponse struct {
	ID        string `json:"id"`
	Amount    int64  `json:"amount"`
	Currency  string `json:"currency"`
	Status    string `json:"status"`
	CreatedAt string `json:"created_at"`
}

func render(v gateway.View) paymentResponse {
	p := v.Payment
	out := paymentResponse{
		ID: p.ID, Object: "payment", Status: p.Status, MerchantID: p.MerchantID,
		CheckoutSessionID: p.CheckoutSessionID, Amount: p.Amount, Currency: p.Currency,
		Capture: string(p.Capture), AmountCaptured: p.CapturedAmount, AmountRefunded: p.RefundedAmount,
		Processor: p.Processor, ProcessorType: p.ProcessorType, Decline: p.Decline,
		Fee:       feeResponse{Estimated: p.FeeEstimated, Actual: p.FeeActual, Currency: p.FeeCurrency},
		Routing:   p.Routing,
		Attempts:  make([]attemptResponse, 0, len(v.Attempts)),
		Refunds:   make([]refundResponse, 0, len(v.Refunds)),
		Metadata:  p.Metadata,
		CreatedAt: p.CreatedAt.UTC().Format(time.RFC3339), UpdatedAt: p.UpdatedAt.UTC().Format(time.RFC3339),
	}
	if p.ProcessorReference != "" {
		ref := p.ProcessorReference
		out.ProcessorReference = &ref
	}
	if len(out.Routing) == 0 {
		out.Routing = json.RawMessage("null")
	}
	if out.Metadata == nil {
		out.Metadata = map[string]string{}
	}
	for _, a := range v.Attempts {
		outcome := a.Outcome
		switch a.State {
		case store.AttemptPending:
			outcome = "pending"
		case store.AttemptNotProcessed:
			outcome = "not_processed"
		case store.AttemptRejected:
			outcome = "rejected"
		}
		out.Attempts = append(out.Attempts, attemptResponse{
			Processor: a.Processor, Operation: a.Operation, Outcome: outcome, Amount: a.Amount, LatencyMS: a.LatencyMS,
		})
	}
	for _, r := range v.Refunds {
		out.Refunds = append(out.Refunds, refundResponse{
			ID: r.ID, Amount: r.Amount, Currency: r.Currency, Status: r.Status,
			CreatedAt: r.CreatedAt.UTC().Format(time.RFC3339),
		})
	}
	return out
}
