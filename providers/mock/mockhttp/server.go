package mockhttp

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"time"

	"acpgw/providers"
	"acpgw/providers/mock"
)

// NewServer returns a handler that exposes p over HTTP with the endpoints
// of the package doc. Each call runs with the request's context, so a
// client that gives up (the "answer never arrives" test card, or a timeout
// during the configured latency) ends the mock's wait; whatever the mock
// recorded by then stays recorded. It also serves the mock's 3-D Secure
// server: its JSON API and, under PathThreeDSPages, its browser pages, so
// p's ThreeDS BaseURL should be the Server's address plus PathThreeDSPages.
func NewServer(p *mock.Provider) http.Handler {
	s := &server{p: p}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+PathAuthorize, s.authorize)
	mux.HandleFunc("POST "+PathCapture, s.modify(p.Capture))
	mux.HandleFunc("POST "+PathVoid, s.modify(p.Void))
	mux.HandleFunc("POST "+PathRefund, s.modify(p.Refund))
	mux.HandleFunc("GET "+PathLedger, s.ledger)
	threeDSHandlers(mux, p.ThreeDS())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Every answer has an id of its own, as Stripe's Request-Id.
		w.Header().Set(HeaderRequestID, "req_"+rand.Text())
		mux.ServeHTTP(w, r)
	})
}

// HeaderRequestID is the Server's id of each request, in every answer;
// the Client reports it as Result.RequestID and in its errors.
const HeaderRequestID = "Request-Id"

type server struct {
	p *mock.Provider
}

func (s *server) authorize(w http.ResponseWriter, r *http.Request) {
	var b authorizeBody
	if !readBody(w, r, &b) {
		return
	}
	res, err := s.p.Authorize(r.Context(), b.request())
	answer(w, res, err)
}

func (s *server) modify(op func(context.Context, providers.ModifyRequest) (providers.Result, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var b modifyBody
		if !readBody(w, r, &b) {
			return
		}
		res, err := op(r.Context(), b.request())
		answer(w, res, err)
	}
}

func (s *server) ledger(w http.ResponseWriter, r *http.Request) {
	var charges []mock.Charge
	if id := r.URL.Query().Get("payment_id"); id != "" {
		charges = s.p.ChargesForPayment(id)
	} else {
		charges = s.p.Charges()
	}
	out := ledgerBody{Charges: make([]chargeBody, 0, len(charges))}
	for _, c := range charges {
		out.Charges = append(out.Charges, chargeBody{
			Reference: c.Reference, PaymentID: c.PaymentID, IdempotencyKey: c.IdempotencyKey,
			Amount: c.Amount, Captured: c.Captured, Refunded: c.Refunded, Currency: c.Currency,
			Voided: c.Voided, CreatedAt: c.CreatedAt.UTC().Format(time.RFC3339Nano),
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// readBody decodes the whole request body into v. The mock acts only on a
// complete body: a request cut short (the connection died while it was
// being sent) is answered 400 and does nothing, which is what lets the
// Client read a failed write as "not processed".
func readBody(w http.ResponseWriter, r *http.Request, v any) bool {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err == nil {
		err = json.Unmarshal(data, v)
	}
	if err != nil {
		// The decoder's message is not echoed: it could quote the body.
		writeError(w, http.StatusBadRequest, "invalid_request", "mockhttp: the request body is not a complete JSON request", false)
		return false
	}
	return true
}

// answer writes the mock's answer. The class decides the status; an error
// of no known class, or of two, reads as "may have happened".
func answer(w http.ResponseWriter, res providers.Result, err error) {
	if err == nil {
		writeJSON(w, http.StatusOK, toResultBody(res))
		return
	}
	code := ""
	var pe *providers.Error
	if errors.As(err, &pe) {
		code = pe.Code
	}
	// The mock's messages carry references and amounts, never card data.
	switch {
	case errors.Is(err, providers.ErrOutcomeUnknown):
		writeError(w, http.StatusInternalServerError, orDefault(code, "outcome_unknown"), err.Error(), true)
	case errors.Is(err, providers.ErrRejected):
		writeError(w, http.StatusConflict, orDefault(code, "rejected"), err.Error(), true)
	case errors.Is(err, providers.ErrNotProcessed):
		writeError(w, http.StatusServiceUnavailable, orDefault(code, "not_processed"), err.Error(), false)
	default:
		writeError(w, http.StatusInternalServerError, orDefault(code, "internal_error"), err.Error(), true)
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// writeError writes an error answer; maybeProcessed false adds
// "processed": false, the Server's word that nothing happened.
func writeError(w http.ResponseWriter, status int, code, msg string, maybeProcessed bool) {
	b := errorBody{Code: code, Message: msg}
	if !maybeProcessed {
		f := false
		b.Processed = &f
	}
	writeJSON(w, status, b)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, `{"code":"internal_error"}`, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(data) // the client may be gone; nothing to do about it
}
