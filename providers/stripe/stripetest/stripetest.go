// Package stripetest is a fake Stripe API on httptest.Server for acpgw's
// tests: PaymentMethods, PaymentIntents (create+confirm, capture, cancel,
// retrieve) and refunds, with Stripe's idempotency rules (same key and
// parameters replay the stored answer, different parameters are a 400
// idempotency_error, a key still executing is a 409), 402 card errors chosen
// by Stripe's test card numbers, balance transactions with fees, injected
// faults and a card whose answer never arrives.
//
// It checks request shapes only loosely (known parameters, required ones);
// stripe-mock checks them against Stripe's API definition.
package stripetest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"acpgw/payment"
)

// Key is the secret key the fake accepts unless Server.Key is changed.
const Key = "sk_test_stripetest"

// Test card numbers and what the fake does with them (Stripe's test cards,
// plus acpgw's never-answering card of the mock processor's table).
const (
	CardVisa              = "4242424242424242"
	CardMastercard        = "5555555555554444"
	CardDeclined          = "4000000000000002" // card_declined / generic_decline
	CardInsufficientFunds = "4000000000009995" // card_declined / insufficient_funds
	CardExpired           = "4000000000000069" // expired_card
	CardIncorrectCVC      = "4000000000000127" // incorrect_cvc
	CardFraudulent        = "4100000000000019" // card_declined / fraudulent
	CardLost              = "4000000000009987" // card_declined / lost_card
	CardAuthRequired      = "4000000000003220" // 3-D Secure required
	CardProcessingError   = "4000000000000119" // processing_error
	CardUnknownDecline    = "4000000000000341" // card_declined / a decline code no table knows
	CardHang              = "4000000000009979" // charged, then the answer never arrives
)

type cardOutcome struct{ code, declineCode, message string }

var cardOutcomes = map[string]cardOutcome{
	CardDeclined:          {"card_declined", "generic_decline", "Your card was declined."},
	CardInsufficientFunds: {"card_declined", "insufficient_funds", "Your card has insufficient funds."},
	CardExpired:           {"expired_card", "expired_card", "Your card has expired."},
	CardIncorrectCVC:      {"incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."},
	CardFraudulent:        {"card_declined", "fraudulent", "Your card was declined."},
	CardLost:              {"card_declined", "lost_card", "Your card was declined."},
	CardProcessingError:   {"processing_error", "", "An error occurred while processing your card. Try again in a little bit."},
	CardUnknownDecline:    {"card_declined", "stripetest_unheard_of", "Your card was declined."},
}

// Fault is an injected failure of the next matching POST requests.
type Fault struct {
	// Path, when set, limits the fault to requests on this path prefix.
	Path string
	// Status, Type and Code make the error answer (500 api_error, 429
	// rate_limit, 409 idempotency_key_in_use, ...). Ignored with Reset.
	Status int
	Type   string
	Code   string
	// After processes the request first (the charge is made) and then
	// answers with the error, which is stored for the key as Stripe stores
	// 500s; otherwise nothing is processed or stored.
	After bool
	// Reset processes the request, stores its answer, and closes the
	// connection without answering (a reset after the request was written);
	// a replay of a stored answer is hung up on the same way.
	Reset bool
	// Times is how many requests the fault hits; 0 means 1.
	Times int
}

// Request is one request the fake received.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Form   url.Values
}

// Server is the fake Stripe. Its zero value is not usable; call New.
type Server struct {
	*httptest.Server
	// Key is the accepted secret key.
	Key string
	// SharedTokenParam is the form parameter that carries spt_ tokens.
	SharedTokenParam string
	// Delay is how long a request holds its idempotency key before it is
	// processed, so that concurrent duplicates meet Stripe's 409.
	Delay time.Duration

	closing   chan struct{}
	closeOnce sync.Once

	mu       sync.Mutex
	seq      int
	intents  map[string]*intent
	methods  map[string]string // pm id -> card number
	keys     map[string]*stored
	held     map[string]bool
	charges  int
	faults   []*Fault
	requests []Request
}

type intent struct {
	ID, Currency, CaptureMethod, Status, CancellationReason string
	Amount, Capturable, Received, Refunded                  int64
	Metadata                                                map[string]string
	ChargeID, TxnID                                         string
	Fee                                                     int64
	LastError                                               map[string]any
}

type stored struct {
	fingerprint string
	inFlight    bool
	status      int
	body        []byte
}

// New starts a fake Stripe; it is closed when the test ends.
func New(t interface{ Cleanup(func()) }) *Server {
	s := &Server{
		Key:              Key,
		SharedTokenParam: "payment_method_data[shared_payment_granted_token]",
		closing:          make(chan struct{}),
		intents:          map[string]*intent{},
		methods:          map[string]string{},
		keys:             map[string]*stored{},
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Close releases hanging requests and stops the server.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closing) })
	s.Server.Close()
}

// Inject adds a fault for the next matching POST requests.
func (s *Server) Inject(f Fault) {
	if f.Times == 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &f)
}

// HoldKey makes the fake behave as if another request with the idempotency
// key were still executing: every request with it is answered 409
// idempotency_key_in_use, as Stripe does, until release is called.
func (s *Server) HoldKey(key string) (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held == nil {
		s.held = map[string]bool{}
	}
	s.held[key] = true
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.held, key)
	}
}

// ChargeCount is how many PaymentIntents the fake authorized or captured on
// confirmation (replays not counted).
func (s *Server) ChargeCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.charges
}

// Requests returns the requests received so far.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Intent returns a PaymentIntent's status and amounts (capturable,
// received, refunded), and false when there is no such PaymentIntent.
func (s *Server) Intent(id string) (status string, capturable, received, refunded int64, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pi, ok := s.intents[id]
	if !ok {
		return "", 0, 0, 0, false
	}
	return pi.Status, pi.Capturable, pi.Received, pi.Refunded, true
}

// Fee is the fake's fee on a captured amount: 2.9% + 30 minor units.
func Fee(amount int64) int64 { return amount*29/1000 + 30 }

// answer is a handler's response and whether Stripe would store it for the
// idempotency key (not for requests that failed validation).
type answer struct {
	status int
	body   any
	store  bool
	hang   bool
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, errBody("invalid_request_error", "", "", "bad form body"))
		return
	}
	form := r.PostForm
	if r.Method == http.MethodGet {
		form = r.URL.Query()
	}
	s.mu.Lock()
	s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Header: r.Header.Clone(), Form: form})
	s.mu.Unlock()

	if r.Header.Get("Authorization") != "Bearer "+s.Key {
		writeJSON(w, http.StatusUnauthorized, errBody("invalid_request_error", "", "", "Invalid API Key provided."))
		return
	}
	if r.Method == http.MethodGet {
		s.mu.Lock()
		a := s.get(r.URL.Path, form)
		s.mu.Unlock()
		writeJSON(w, a.status, a.body)
		return
	}
	if r.Method != http.MethodPost {
		writeJSON(w, http.StatusMethodNotAllowed, errBody("invalid_request_error", "", "", "method not allowed"))
		return
	}

	key := r.Header.Get("Idempotency-Key")
	fp := r.URL.Path + "?" + form.Encode()
	s.mu.Lock()
	fault := s.takeFault(r.URL.Path)
	if fault != nil && !fault.After && !fault.Reset {
		s.mu.Unlock()
		writeJSON(w, fault.Status, errBody(fault.Type, fault.Code, "", "injected fault"))
		return
	}
	if key != "" && s.held[key] {
		s.mu.Unlock()
		writeJSON(w, http.StatusConflict, errBody("invalid_request_error", "idempotency_key_in_use", "",
			"There is currently another in-progress request using this Stripe-Idempotency-Key."))
		return
	}
	if key != "" {
		if st, ok := s.keys[key]; ok {
			switch {
			case st.fingerprint != fp:
				s.mu.Unlock()
				writeJSON(w, http.StatusBadRequest, errBody("idempotency_error", "", "",
					"Keys for idempotent requests can only be used with the same parameters they were first used with."))
			case st.inFlight:
				s.mu.Unlock()
				writeJSON(w, http.StatusConflict, errBody("invalid_request_error", "idempotency_key_in_use", "",
					"There is currently another in-progress request using this Stripe-Idempotency-Key."))
			default:
				status, body := st.status, st.body
				s.mu.Unlock()
				if fault != nil && fault.Reset && hangUp(w) {
					return
				}
				w.Header().Set("Idempotent-Replayed", "true")
				writeRaw(w, status, body)
			}
			return
		}
		s.keys[key] = &stored{fingerprint: fp, inFlight: true}
	}
	s.mu.Unlock()

	if s.Delay > 0 {
		time.Sleep(s.Delay)
	}

	s.mu.Lock()
	a := s.post(r.URL.Path, form, r.Header)
	if fault != nil && fault.After {
		a = answer{status: fault.Status, body: errBody(fault.Type, fault.Code, "", "injected fault after processing"), store: true}
	}
	body, _ := json.Marshal(a.body)
	if key != "" {
		if a.store {
			s.keys[key] = &stored{fingerprint: fp, status: a.status, body: body}
		} else {
			delete(s.keys, key)
		}
	}
	s.mu.Unlock()

	if fault != nil && fault.Reset && hangUp(w) {
		return
	}
	if a.hang {
		select {
		case <-r.Context().Done():
		case <-s.closing:
		}
		return
	}
	writeRaw(w, a.status, body)
}

// hangUp closes the connection without an answer.
func hangUp(w http.ResponseWriter) bool {
	hj, ok := w.(http.Hijacker)
	if !ok {
		return false
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return false
	}
	_ = conn.Close()
	return true
}

func (s *Server) takeFault(path string) *Fault {
	for i, f := range s.faults {
		if f.Path != "" && !strings.HasPrefix(path, f.Path) {
			continue
		}
		f.Times--
		if f.Times <= 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return f
	}
	return nil
}

func (s *Server) nextID(prefix string) string {
	s.seq++
	return fmt.Sprintf("%s_fake%06d", prefix, s.seq)
}

func (s *Server) get(path string, form url.Values) answer {
	id, ok := strings.CutPrefix(path, "/v1/payment_intents/")
	if !ok || strings.Contains(id, "/") {
		return answer{status: http.StatusNotFound, body: errBody("invalid_request_error", "", "", "Unrecognized request URL.")}
	}
	pi, ok := s.intents[id]
	if !ok {
		return missing("payment_intent", id)
	}
	return answer{status: http.StatusOK, body: s.intentJSON(pi, form)}
}

func (s *Server) post(path string, form url.Values, h http.Header) answer {
	switch {
	case path == "/v1/payment_methods":
		return s.createPaymentMethod(form)
	case path == "/v1/payment_intents":
		return s.createIntent(form)
	case path == "/v1/refunds":
		return s.refund(form)
	case strings.HasPrefix(path, "/v1/payment_intents/"):
		rest := strings.TrimPrefix(path, "/v1/payment_intents/")
		id, op, _ := strings.Cut(rest, "/")
		pi, ok := s.intents[id]
		if !ok {
			return missing("payment_intent", id)
		}
		switch op {
		case "capture":
			return s.capture(pi, form)
		case "cancel":
			return s.cancel(pi, form)
		}
	}
	return answer{status: http.StatusNotFound, body: errBody("invalid_request_error", "", "", "Unrecognized request URL.")}
}

// unknownParams returns the first parameter whose name does not start with
// one of the allowed prefixes, or "".
func unknownParams(form url.Values, allowed ...string) string {
	keys := make([]string, 0, len(form))
	for k := range form {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		ok := false
		for _, a := range allowed {
			if k == a || strings.HasPrefix(k, a+"[") {
				ok = true
				break
			}
		}
		if !ok {
			return k
		}
	}
	return ""
}

func invalid(code, param, msg string) answer {
	b := errBody("invalid_request_error", code, "", msg)
	b["error"].(map[string]any)["param"] = param
	return answer{status: http.StatusBadRequest, body: b}
}

func missing(object, id string) answer {
	return answer{status: http.StatusNotFound, body: errBody("invalid_request_error", "resource_missing", "",
		fmt.Sprintf("No such %s: '%s'", object, id))}
}

func (s *Server) createPaymentMethod(form url.Values) answer {
	if p := unknownParams(form, "type", "card", "billing_details", "metadata", "expand"); p != "" {
		return invalid("parameter_unknown", p, "Received unknown parameter: "+p)
	}
	if form.Get("type") != "card" {
		return invalid("parameter_invalid_empty", "type", "type must be card")
	}
	number := form.Get("card[number]")
	month, _ := strconv.Atoi(form.Get("card[exp_month]"))
	year, _ := strconv.Atoi(form.Get("card[exp_year]"))
	if number == "" || month == 0 || year == 0 {
		return invalid("parameter_missing", "card", "Missing required param: card[number], card[exp_month] or card[exp_year].")
	}
	if !payment.CardNumberValid(number) {
		return answer{status: http.StatusPaymentRequired, store: true,
			body: errBody("card_error", "incorrect_number", "", "Your card number is incorrect.")}
	}
	if month < 1 || month > 12 {
		return answer{status: http.StatusPaymentRequired, store: true,
			body: errBody("card_error", "invalid_expiry_month", "", "Your card's expiration month is invalid.")}
	}
	id := s.nextID("pm")
	s.methods[id] = number
	return answer{status: http.StatusOK, store: true, body: map[string]any{
		"id": id, "object": "payment_method", "type": "card",
		"card": map[string]any{"last4": number[len(number)-4:], "exp_month": month, "exp_year": year},
	}}
}

func (s *Server) createIntent(form url.Values) answer {
	if p := unknownParams(form, "amount", "currency", "capture_method", "confirm", "error_on_requires_action",
		"payment_method_types", "payment_method", "metadata", "expand", "off_session", "description",
		threeDSPrefix, s.SharedTokenParam); p != "" {
		return invalid("parameter_unknown", p, "Received unknown parameter: "+p)
	}
	if a := threeDS(form); a != nil && !a.complete() {
		return invalid("parameter_missing", threeDSPrefix,
			"payment_method_options[card][three_d_secure] needs cryptogram, electronic_commerce_indicator, transaction_id and version.")
	}
	amount, err := strconv.ParseInt(form.Get("amount"), 10, 64)
	if err != nil || amount <= 0 {
		return invalid("parameter_invalid_integer", "amount", "Invalid positive integer")
	}
	cur := form.Get("currency")
	if cur == "" {
		return invalid("parameter_missing", "currency", "Missing required param: currency.")
	}
	capture := form.Get("capture_method")
	if capture == "" {
		capture = "automatic"
	}
	var number, token string
	if pm := form.Get("payment_method"); pm != "" {
		n, ok := s.methods[pm]
		if !ok {
			return missing("payment_method", pm)
		}
		number = n
	} else if token = form.Get(s.SharedTokenParam); !strings.HasPrefix(token, "spt_") {
		return invalid("parameter_missing", "payment_method", "A payment method or a shared payment token is required.")
	}
	pi := &intent{ID: s.nextID("pi"), Currency: cur, CaptureMethod: capture, Amount: amount,
		Status: "requires_payment_method", Metadata: map[string]string{}}
	for k, v := range form {
		if name, ok := strings.CutPrefix(k, "metadata["); ok {
			pi.Metadata[strings.TrimSuffix(name, "]")] = v[0]
		}
	}
	s.intents[pi.ID] = pi
	if form.Get("confirm") != "true" {
		pi.Status = "requires_confirmation"
		return answer{status: http.StatusOK, store: true, body: s.intentJSON(pi, form)}
	}

	outcome, declined := cardOutcomes[number]
	if strings.HasPrefix(token, "spt_decline") {
		outcome, declined = cardOutcomes[CardDeclined], true
	}
	if number == CardAuthRequired && !threeDS(form).authenticated() {
		if form.Get("error_on_requires_action") != "true" {
			pi.Status = "requires_action"
			return answer{status: http.StatusOK, store: true, body: s.intentJSON(pi, form)}
		}
		outcome, declined = cardOutcome{"authentication_required", "authentication_required",
			"Your card was declined. This transaction requires authentication."}, true
	}
	if declined {
		e := errBody("card_error", outcome.code, outcome.declineCode, outcome.message)["error"].(map[string]any)
		pi.LastError = e
		withIntent := map[string]any{}
		for k, v := range e {
			withIntent[k] = v
		}
		withIntent["payment_intent"] = s.intentJSON(pi, nil)
		return answer{status: http.StatusPaymentRequired, store: true, body: map[string]any{"error": withIntent}}
	}
	s.charges++
	pi.ChargeID = s.nextID("ch")
	if capture == "manual" {
		pi.Status = "requires_capture"
		pi.Capturable = amount
	} else {
		s.settle(pi, amount)
	}
	return answer{status: http.StatusOK, store: true, hang: number == CardHang, body: s.intentJSON(pi, form)}
}

// threeDSPrefix is the form prefix of a card authenticated with 3-D Secure
// elsewhere (payment_method_options.card.three_d_secure).
const threeDSPrefix = "payment_method_options[card][three_d_secure]"

// externalThreeDS is what a request says of its 3-D Secure authentication.
type externalThreeDS struct {
	cryptogram, eci, transactionID, version, aresTransStatus string
}

// threeDS reads payment_method_options[card][three_d_secure], nil when the
// request has none.
func threeDS(form url.Values) *externalThreeDS {
	get := func(k string) string { return form.Get(threeDSPrefix + "[" + k + "]") }
	a := &externalThreeDS{cryptogram: get("cryptogram"), eci: get("electronic_commerce_indicator"),
		transactionID: get("transaction_id"), version: get("version"), aresTransStatus: get("ares_trans_status")}
	if *a == (externalThreeDS{}) {
		return nil
	}
	return a
}

// complete: Stripe requires the four values together.
func (a *externalThreeDS) complete() bool {
	return a.cryptogram != "" && a.eci != "" && a.transactionID != "" && a.version != ""
}

// authenticated: the fake's 3-D Secure card takes a fully authenticated
// result (transStatus Y, ECI 05 or 02) and nothing less.
func (a *externalThreeDS) authenticated() bool {
	return a != nil && a.complete() && a.aresTransStatus == "Y" && (a.eci == "05" || a.eci == "02")
}

func (s *Server) settle(pi *intent, amount int64) {
	pi.Status = "succeeded"
	pi.Capturable = 0
	pi.Received = amount
	pi.TxnID = s.nextID("txn")
	pi.Fee = Fee(amount)
}

func (s *Server) capture(pi *intent, form url.Values) answer {
	if p := unknownParams(form, "amount_to_capture", "expand", "metadata"); p != "" {
		return invalid("parameter_unknown", p, "Received unknown parameter: "+p)
	}
	if pi.Status != "requires_capture" {
		a := invalid("payment_intent_unexpected_state", "", "This PaymentIntent could not be captured because it has a status of "+pi.Status+".")
		a.store = true
		return a
	}
	amount := pi.Capturable
	if v := form.Get("amount_to_capture"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return invalid("parameter_invalid_integer", "amount_to_capture", "Invalid positive integer")
		}
		amount = n
	}
	if amount > pi.Capturable {
		a := invalid("amount_too_large", "amount_to_capture", "The amount to capture is greater than the amount capturable.")
		a.store = true
		return a
	}
	s.settle(pi, amount)
	return answer{status: http.StatusOK, store: true, body: s.intentJSON(pi, form)}
}

func (s *Server) cancel(pi *intent, form url.Values) answer {
	if p := unknownParams(form, "cancellation_reason", "expand"); p != "" {
		return invalid("parameter_unknown", p, "Received unknown parameter: "+p)
	}
	switch pi.Status {
	case "requires_capture", "requires_payment_method", "requires_action", "requires_confirmation":
		pi.Status = "canceled"
		pi.Capturable = 0
		pi.CancellationReason = form.Get("cancellation_reason")
		return answer{status: http.StatusOK, store: true, body: s.intentJSON(pi, form)}
	}
	a := invalid("payment_intent_unexpected_state", "", "You cannot cancel this PaymentIntent because it has a status of "+pi.Status+".")
	a.store = true
	return a
}

func (s *Server) refund(form url.Values) answer {
	if p := unknownParams(form, "payment_intent", "amount", "metadata", "reason", "expand"); p != "" {
		return invalid("parameter_unknown", p, "Received unknown parameter: "+p)
	}
	id := form.Get("payment_intent")
	pi, ok := s.intents[id]
	if !ok {
		return invalid("resource_missing", "payment_intent", "No such payment_intent: '"+id+"'")
	}
	if pi.Status != "succeeded" {
		a := invalid("payment_intent_unexpected_state", "payment_intent", "This PaymentIntent does not have a successful charge to refund.")
		a.store = true
		return a
	}
	left := pi.Received - pi.Refunded
	if left == 0 {
		a := invalid("charge_already_refunded", "", "Charge "+pi.ChargeID+" has already been refunded.")
		a.store = true
		return a
	}
	amount := left
	if v := form.Get("amount"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return invalid("parameter_invalid_integer", "amount", "Invalid positive integer")
		}
		amount = n
	}
	if amount > left {
		a := invalid("amount_too_large", "amount", fmt.Sprintf("Refund amount is greater than unrefunded amount on charge (%d).", left))
		a.store = true
		return a
	}
	pi.Refunded += amount
	return answer{status: http.StatusOK, store: true, body: map[string]any{
		"id": s.nextID("re"), "object": "refund", "amount": amount, "currency": pi.Currency,
		"status": "succeeded", "payment_intent": pi.ID, "charge": pi.ChargeID,
	}}
}

// intentJSON renders a PaymentIntent, expanding latest_charge (and its
// balance transaction) as the request's expand[] asks.
func (s *Server) intentJSON(pi *intent, form url.Values) map[string]any {
	expand := map[string]bool{}
	for k, v := range form {
		if strings.HasPrefix(k, "expand[") {
			for _, e := range v {
				expand[e] = true
			}
		}
	}
	m := map[string]any{
		"id": pi.ID, "object": "payment_intent", "amount": pi.Amount, "amount_capturable": pi.Capturable,
		"amount_received": pi.Received, "currency": pi.Currency, "capture_method": pi.CaptureMethod,
		"status": pi.Status, "metadata": pi.Metadata, "livemode": false, "latest_charge": nil,
		"last_payment_error": pi.LastError,
	}
	if pi.CancellationReason != "" {
		m["cancellation_reason"] = pi.CancellationReason
	}
	if pi.ChargeID == "" {
		return m
	}
	if !expand["latest_charge"] && !expand["latest_charge.balance_transaction"] {
		m["latest_charge"] = pi.ChargeID
		return m
	}
	ch := map[string]any{
		"id": pi.ChargeID, "object": "charge", "amount": pi.Amount, "amount_captured": pi.Received,
		"amount_refunded": pi.Refunded, "currency": pi.Currency, "captured": pi.Received > 0,
		"payment_intent": pi.ID, "metadata": pi.Metadata, "balance_transaction": nil,
	}
	if pi.TxnID != "" {
		ch["balance_transaction"] = pi.TxnID
		if expand["latest_charge.balance_transaction"] {
			ch["balance_transaction"] = map[string]any{
				"id": pi.TxnID, "object": "balance_transaction", "amount": pi.Received, "currency": pi.Currency,
				"fee": pi.Fee, "net": pi.Received - pi.Fee,
				"fee_details": []any{map[string]any{"amount": pi.Fee, "currency": pi.Currency, "type": "stripe_fee",
					"description": "Stripe processing fees"}},
			}
		}
	}
	m["latest_charge"] = ch
	return m
}

func errBody(typ, code, declineCode, msg string) map[string]any {
	e := map[string]any{"type": typ, "message": msg}
	if code != "" {
		e["code"] = code
	}
	if declineCode != "" {
		e["decline_code"] = declineCode
	}
	return map[string]any{"error": e}
}

func writeJSON(w http.ResponseWriter, status int, body any) {
	b, _ := json.Marshal(body)
	writeRaw(w, status, b)
}

func writeRaw(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Request-Id", "req_fake")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, string(body))
}
