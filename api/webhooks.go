package api

import (
	"errors"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"acpgw/acp"
	"acpgw/providers"
)

// webhookBodyLimit bounds a processor's event delivery; Stripe events with
// expanded objects are larger than API requests.
const webhookBodyLimit = 1 << 20

// webhook receives a processor's signed events. The processor's provider
// verifies the signature; nothing is applied unless it verifies. The answer
// is 200 with the provider's acknowledgement once the events are stored, and
// 5xx if they could not be, so that the processor retries.
func (s *Server) webhook(c *gin.Context) {
	name := c.Param("processor")
	prov, ok := s.svc.Runtime().Providers.Get(name)
	if !ok {
		fail(c, acp.Errorf(http.StatusNotFound, acp.TypeInvalidRequest, codeNotFound, "processor", "no such processor"))
		return
	}
	recv, ok := prov.(providers.WebhookReceiver)
	if !ok {
		fail(c, acp.Errorf(http.StatusNotFound, acp.TypeInvalidRequest, codeNotFound, "processor", "processor %q takes no webhooks", name))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, webhookBodyLimit))
	if err != nil {
		fail(c, acp.Errorf(http.StatusRequestEntityTooLarge, acp.TypeInvalidRequest, codeBodyTooLarge, "", "event body too large or unreadable"))
		return
	}
	events, err := recv.ParseWebhook(c.Request.Header, body, s.now())
	if errors.Is(err, providers.ErrBadSignature) {
		s.countWebhook(name, "bad_signature")
		fail(c, acp.Errorf(http.StatusBadRequest, acp.TypeInvalidRequest, codeInvalidSignature, "", "webhook signature does not verify"))
		return
	}
	if err != nil {
		s.countWebhook(name, "invalid")
		fail(c, acp.Errorf(http.StatusBadRequest, acp.TypeInvalidRequest, acp.CodeInvalidRequest, "", "webhook body does not decode"))
		return
	}
	if err := s.svc.ApplyEvents(c.Request.Context(), name, events); err != nil {
		s.countWebhook(name, "error")
		fail(c, err)
		return
	}
	s.countWebhook(name, "accepted")
	ct, ack := recv.WebhookAck()
	c.Data(http.StatusOK, ct, ack)
}

func (s *Server) countWebhook(processor, result string) {
	if s.m != nil {
		s.m.Webhooks.WithLabelValues(processor, result).Inc()
	}
}
