package adyentest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"acpgw/providers/adyen"
)

// DefaultHMACKey is the hex HMAC key the fake signs webhooks with unless
// Options says otherwise: the key of the published test vector
// (fixtures/webhook-item-hmac-vector.json).
const DefaultHMACKey = "74F490DD33F7327BAECC88B2947C011FC02D014A473AAA33A8EC93E4DC069174"

// Defaults of Options.
const (
	DefaultAPIKey          = "adyentest_api_key"
	DefaultMerchantAccount = "AcpgwTestECOM"
	// DefaultHangFor is how long the never-answering card holds its answer
	// when the client does not give up first.
	DefaultHangFor = 30 * time.Second
)

// Test cards. Like the mock's table in the README, behaviour follows the
// card number; every other number is approved.
const (
	CardApproved       = "4242424242424242"
	CardApprovedMC     = "5555555555554444"
	CardRefused        = "4000000000000002" // 2 Refused
	CardNotEnough      = "4000000000009995" // 12 Not enough balance
	CardExpired        = "4000000000000069" // 6 Expired Card
	CardCVCDeclined    = "4000000000000127" // 24 CVC Declined
	CardFraud          = "4100000000000019" // 20 FRAUD
	CardRedirect       = "4000000000003220" // resultCode RedirectShopper
	CardBlocked        = "4000000000009987" // 5 Blocked Card
	CardInvalidNumber  = "4000000000000119" // 422 errorCode 101: not processed
	CardNeverAnswers   = "4000000000009979" // charged, then no answer
	CardUnknownRefusal = "4000000000000036" // refusalReasonCode 99, not in Adyen's list
	CardServerError    = "4000000000000044" // 500 after charging
)

// refusals maps decline cards to Adyen's refusalReasonCode and reason.
var refusals = map[string][2]string{
	CardRefused:        {"2", "Refused"},
	CardNotEnough:      {"12", "Not enough balance"},
	CardExpired:        {"6", "Expired Card"},
	CardCVCDeclined:    {"24", "CVC Declined"},
	CardFraud:          {"20", "FRAUD"},
	CardBlocked:        {"5", "Blocked Card"},
	CardUnknownRefusal: {"99", "Some future reason"},
}

// Options configures a fake server.
type Options struct {
	// APIKey is the X-API-Key the fake accepts; "" means DefaultAPIKey.
	APIKey string
	// MerchantAccount is the only account accepted; "" means
	// DefaultMerchantAccount.
	MerchantAccount string
	// HMACKey is the hex key webhooks are signed with; "" means
	// DefaultHMACKey.
	HMACKey string
	// HangFor bounds the never-answering card; zero means DefaultHangFor.
	HangFor time.Duration
}

// Payment is one authorisation in the fake's ledger.
type Payment struct {
	PSPReference string
	// Reference is the merchant reference sent (acpgw's attempt id).
	Reference      string
	IdempotencyKey string
	// Amount is authorised, Captured and Refunded what was taken of it,
	// all in minor units of Currency (uppercase, as Adyen has it).
	Amount    int64
	Currency  string
	Captured  int64
	Refunded  int64
	Cancelled bool
	// ManualCapture is true when the payment waited for a capture call.
	ManualCapture bool
	// NetworkToken is true when it was paid with a network token.
	NetworkToken bool
	// Metadata is what the request carried.
	Metadata map[string]string
	// ThreeDS is the external 3-D Secure result the request carried in
	// mpiData (the cryptogram only as present or not), nil without one.
	ThreeDS *ThreeDS
}

// ThreeDS is what the fake keeps of an external MPI's result.
type ThreeDS struct {
	Cavv                                                                    bool
	ECI, DsTransID, Xid, Version, AuthenticationResponse, DirectoryResponse string
}

// Server is a fake Adyen Checkout API v71. Its handlers validate every
// request and answer against the spec and fail the test on any violation.
type Server struct {
	// BaseURL is the address to configure as the client's base_url.
	BaseURL string
	// MerchantAccount and APIKey are what the client must send.
	MerchantAccount string
	APIKey          string
	// HMACKey is the hex key the fake signs webhooks with.
	HMACKey string

	t       testing.TB
	srv     *httptest.Server
	spec    *Spec
	hmacKey []byte
	hangFor time.Duration

	mu         sync.Mutex
	payments   map[string]*Payment
	order      []*Payment
	keys       map[string]stored
	inFlight   map[string]bool
	held       map[string]bool
	holdAll    bool
	pending    []adyen.NotificationRequestItem
	requests   int
	violations int

	// 3-D Secure 2 authentication-only transactions (threeds.go), by
	// paymentData and by 3DS Server transaction id, in order.
	authByData  map[string]*auth
	authByTrans map[string]*auth
	authOrder   []*auth
}

// stored is a replayable answer with the request body it answered.
type stored struct {
	body   []byte
	status int
	answer []byte
}

// NewServer starts a fake Adyen, closed when the test ends. It fails the
// test if the spec cannot be loaded.
func NewServer(t testing.TB, opts Options) *Server {
	t.Helper()
	spec, err := LoadSpec()
	if err != nil {
		t.Fatalf("adyentest: %v", err)
	}
	s := &Server{
		MerchantAccount: opts.MerchantAccount,
		APIKey:          opts.APIKey,
		HMACKey:         opts.HMACKey,
		t:               t,
		spec:            spec,
		hangFor:         opts.HangFor,
		payments:        map[string]*Payment{},
		keys:            map[string]stored{},
		inFlight:        map[string]bool{},
		held:            map[string]bool{},
		authByData:      map[string]*auth{},
		authByTrans:     map[string]*auth{},
	}
	if s.MerchantAccount == "" {
		s.MerchantAccount = DefaultMerchantAccount
	}
	if s.APIKey == "" {
		s.APIKey = DefaultAPIKey
	}
	if s.HMACKey == "" {
		s.HMACKey = DefaultHMACKey
	}
	if s.hangFor <= 0 {
		s.hangFor = DefaultHangFor
	}
	s.hmacKey, err = hex.DecodeString(s.HMACKey)
	if err != nil {
		t.Fatalf("adyentest: HMACKey is not hex: %v", err)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	s.BaseURL = s.srv.URL + "/v71"
	return s
}

// Close stops the server; the test's cleanup also does.
func (s *Server) Close() { s.srv.Close() }

// HoldKey makes the fake behave as if a request with the Idempotency-Key
// were still being processed: every request with it, on any path, is
// answered 422 errorCode 704 (transient), as Adyen does, until release is
// called.
func (s *Server) HoldKey(key string) (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held[key] = true
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.held, key)
	}
}

// HoldAllKeys is HoldKey for every key: Adyen answers 704 to every request
// until release is called.
func (s *Server) HoldAllKeys() (release func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.holdAll = true
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.holdAll = false
	}
}

// ChargeCount returns how many authorisations the fake made (refusals and
// unprocessed requests are not charges).
func (s *Server) ChargeCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.order)
}

// Payments returns a snapshot of the ledger in the order charged.
func (s *Server) Payments() []Payment {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Payment, len(s.order))
	for i, p := range s.order {
		out[i] = *p
		out[i].Metadata = cloneMap(p.Metadata)
	}
	return out
}

// Requests returns how many requests the fake received.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// Violations returns how many requests or answers broke the spec (each
// also failed the test).
func (s *Server) Violations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.violations
}

// PendingNotifications returns and forgets the notification items the
// fake owes for what it did (AUTHORISATION, CAPTURE, CANCELLATION,
// REFUND...), unsigned.
func (s *Server) PendingNotifications() []adyen.NotificationRequestItem {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := s.pending
	s.pending = nil
	return out
}

// Sign sets each item's additionalData.hmacSignature with the fake's key.
func (s *Server) Sign(items ...adyen.NotificationRequestItem) []adyen.NotificationRequestItem {
	out := make([]adyen.NotificationRequestItem, len(items))
	for i, it := range items {
		it.AdditionalData = cloneMap(it.AdditionalData)
		if it.AdditionalData == nil {
			it.AdditionalData = map[string]string{}
		}
		it.AdditionalData["hmacSignature"] = adyen.Sign(s.hmacKey, it)
		out[i] = it
	}
	return out
}

// WebhookBody signs items and wraps them as one standard webhook delivery.
func (s *Server) WebhookBody(items ...adyen.NotificationRequestItem) []byte {
	n := adyen.Notification{Live: "false"}
	for _, it := range s.Sign(items...) {
		n.NotificationItems = append(n.NotificationItems, adyen.NotificationItem{Item: it})
	}
	b, err := json.Marshal(n)
	if err != nil {
		s.t.Errorf("adyentest: encode webhook: %v", err)
	}
	return b
}

// DeliverWebhooks posts every pending notification, signed, to url as one
// delivery (as Adyen would) and checks the "[accepted]" answer. It returns
// how many items it delivered; none pending delivers nothing.
func (s *Server) DeliverWebhooks(ctx context.Context, url string) (int, error) {
	items := s.PendingNotifications()
	if len(items) == 0 {
		return 0, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(s.WebhookBody(items...)))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK || strings.TrimSpace(string(body)) != adyen.WebhookAckBody {
		return 0, fmt.Errorf("adyentest: webhook answered %d %q, want 200 %q", resp.StatusCode, body, adyen.WebhookAckBody)
	}
	return len(items), nil
}

func (s *Server) violation(format string, args ...any) {
	s.mu.Lock()
	s.violations++
	s.mu.Unlock()
	s.t.Errorf("adyentest: "+format, args...)
}

// serve handles one request: authenticate, validate against the spec,
// replay or run it, validate and send the answer.
func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	s.mu.Unlock()
	path, ok := strings.CutPrefix(r.URL.Path, "/v71")
	if !ok || r.Method != http.MethodPost {
		s.violation("%s %s is not a Checkout v71 operation acpgw uses", r.Method, r.URL.Path)
		http.NotFound(w, r)
		return
	}
	if err := s.spec.ValidateRequest(r.Context(), r, path); err != nil {
		s.violation("request %s breaks CheckoutService-v71.json: %v", path, err)
		s.reply(w, path, http.StatusUnprocessableEntity, serviceError(422, "000", "Request does not match the spec", "validation"))
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	if r.Header.Get("X-API-Key") != s.APIKey {
		s.reply(w, path, http.StatusUnauthorized, serviceError(401, "000", "HTTP Status Response - Unauthorized", "security"))
		return
	}
	key := r.Header.Get("Idempotency-Key")
	if len(key) > adyen.MaxIdempotencyKeyLen {
		s.violation("Idempotency-Key of %d characters, Adyen accepts at most %d", len(key), adyen.MaxIdempotencyKeyLen)
	}
	if key == "" {
		s.violation("%s sent without an Idempotency-Key", path)
	}
	scoped := path + "\x00" + key
	if key != "" {
		s.mu.Lock()
		prev, seen := s.keys[scoped]
		held := s.held[key] || s.holdAll
		busy := s.inFlight[scoped] || held
		seen = seen && !held
		if !seen && !busy {
			s.inFlight[scoped] = true
		}
		s.mu.Unlock()
		switch {
		case seen:
			if !bytes.Equal(prev.body, body) {
				s.violation("Idempotency-Key %q re-used for a different %s request", key, path)
			}
			w.Header().Set("Idempotency-Key", key)
			s.reply(w, path, prev.status, prev.answer)
			return
		case busy:
			// Adyen's answer while the first request with this key is
			// still being processed: transient, retry later.
			w.Header().Set("Transient-Error", "true")
			s.reply(w, path, http.StatusUnprocessableEntity,
				serviceError(422, "704", "request already processed or in progress", "validation"))
			return
		}
		defer func() {
			s.mu.Lock()
			delete(s.inFlight, scoped)
			s.mu.Unlock()
		}()
	}
	status, answer, mode := s.handle(path, body, key)
	if key != "" {
		// Stored before answering: a re-send finds the charge even when
		// this answer never arrives or is a 500 after charging.
		s.mu.Lock()
		s.keys[scoped] = stored{body: body, status: status, answer: answer}
		s.mu.Unlock()
	}
	if mode == modeFail {
		s.reply(w, path, http.StatusInternalServerError, serviceError(500, "905", "Internal error after authorisation", "internal"))
		return
	}
	if mode == modeHang {
		t := time.NewTimer(s.hangFor)
		defer t.Stop()
		select {
		case <-r.Context().Done():
			return // the client gave up; the charge stands
		case <-t.C:
		}
	}
	if key != "" {
		w.Header().Set("Idempotency-Key", key)
	}
	s.reply(w, path, status, answer)
}

// reply validates an answer against the spec and sends it.
func (s *Server) reply(w http.ResponseWriter, path string, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	if err := s.spec.ValidateResponse(context.Background(), path, status, h, body); err != nil {
		s.violation("answer %d to %s breaks CheckoutService-v71.json: %v", status, path, err)
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// answerMode says how the answer to a request that took effect is sent.
type answerMode int

const (
	modeNormal answerMode = iota
	// modeHang holds the answer until the client gives up.
	modeHang
	// modeFail answers 500 instead (the answer is still stored).
	modeFail
)

// handle runs a validated request against the ledger.
func (s *Server) handle(path string, body []byte, key string) (int, []byte, answerMode) {
	switch path {
	case PathPayments:
		return s.payment(body, key)
	case PathPaymentsDetails:
		return s.paymentDetails(body)
	}
	rest := strings.TrimPrefix(path, "/payments/")
	ref, op, _ := strings.Cut(rest, "/")
	status, answer := s.modification(ref, op, body)
	return status, answer, modeNormal
}

// paymentRequest is what the fake reads of a PaymentRequest (the spec
// has already checked its shape).
type paymentRequest struct {
	Amount struct {
		Currency string `json:"currency"`
		Value    int64  `json:"value"`
	} `json:"amount"`
	MerchantAccount string `json:"merchantAccount"`
	Reference       string `json:"reference"`
	PaymentMethod   struct {
		Type   string `json:"type"`
		Number string `json:"number"`
	} `json:"paymentMethod"`
	MpiData *struct {
		TokenAuthenticationVerificationValue string `json:"tokenAuthenticationVerificationValue"`
		Cavv                                 string `json:"cavv"`
		ECI                                  string `json:"eci"`
		DsTransID                            string `json:"dsTransID"`
		Xid                                  string `json:"xid"`
		ThreeDSVersion                       string `json:"threeDSVersion"`
		AuthenticationResponse               string `json:"authenticationResponse"`
		DirectoryResponse                    string `json:"directoryResponse"`
	} `json:"mpiData"`
	AuthenticationData *struct {
		AttemptAuthentication string `json:"attemptAuthentication"`
		AuthenticationOnly    bool   `json:"authenticationOnly"`
	} `json:"authenticationData"`
	CaptureDelayHours *int              `json:"captureDelayHours"`
	AdditionalData    map[string]string `json:"additionalData"`
	Metadata          map[string]string `json:"metadata"`
}

// externallyAuthenticated reports whether the request carries a 3-D Secure
// result of an external MPI that authenticated the buyer: a cavv, the
// transStatus Y, an ECI of a full authentication (05 Visa, 02
// Mastercard), the version and the transaction id of that version.
func (r paymentRequest) externallyAuthenticated() bool {
	m := r.MpiData
	if m == nil || m.Cavv == "" || m.ThreeDSVersion == "" {
		return false
	}
	id := m.DsTransID
	if strings.HasPrefix(m.ThreeDSVersion, "1.") {
		id = m.Xid
	}
	status := m.AuthenticationResponse
	if status == "" {
		status = m.DirectoryResponse
	}
	return id != "" && status == "Y" && (m.ECI == "05" || m.ECI == "02")
}

func (s *Server) payment(body []byte, key string) (int, []byte, answerMode) {
	var req paymentRequest
	if err := json.Unmarshal(body, &req); err != nil {
		s.violation("payment request: %v", err)
		return http.StatusBadRequest, serviceError(400, "702", "Unable to parse the request", "validation"), modeNormal
	}
	if req.MerchantAccount != s.MerchantAccount {
		b, _ := Fixture("error-403-010-not-allowed.json")
		return http.StatusForbidden, b, modeNormal
	}
	if req.AuthenticationData != nil && req.AuthenticationData.AuthenticationOnly {
		return s.authenticate(body, key)
	}
	manual := req.AdditionalData["manualCapture"] == "true"
	if manual == (req.CaptureDelayHours != nil) {
		s.violation("payment %s: want exactly one of additionalData.manualCapture and captureDelayHours", req.Reference)
	}
	if req.PaymentMethod.Type == "networkToken" && (req.MpiData == nil || req.MpiData.TokenAuthenticationVerificationValue == "") {
		s.violation("payment %s: a network token without its cryptogram", req.Reference)
	}
	if m := req.MpiData; m != nil && m.Cavv != "" {
		// An external MPI's result: Adyen's docs want the version, the
		// transaction id and the ARes status with it, and no 3-D Secure
		// flow of Adyen's own on top.
		if m.ThreeDSVersion == "" || (m.DsTransID == "" && m.Xid == "") || m.DirectoryResponse == "" {
			s.violation("payment %s: mpiData.cavv without threeDSVersion, dsTransID/xid or directoryResponse", req.Reference)
		}
		if req.AuthenticationData == nil || req.AuthenticationData.AttemptAuthentication != "never" {
			s.violation("payment %s: an external MPI's result without authenticationData.attemptAuthentication never", req.Reference)
		}
	}
	psp := newPSPReference()
	resp := map[string]any{"pspReference": psp, "merchantReference": req.Reference}
	number := req.PaymentMethod.Number
	switch number {
	case CardInvalidNumber:
		b, _ := Fixture("checkout-error-422-invalid-card.json")
		return http.StatusUnprocessableEntity, b, modeNormal
	case CardRedirect:
		if req.externallyAuthenticated() {
			break // the issuer takes the external MPI's result
		}
		resp["resultCode"] = "RedirectShopper"
		resp["action"] = map[string]any{
			"method": "GET", "paymentMethodType": "scheme", "type": "redirect",
			"url": "https://checkoutshopper-test.adyen.com/checkoutshopper/threeDS/redirect?MD=M2R",
		}
		return http.StatusOK, mustJSON(resp), modeNormal
	}
	if r, ok := refusals[number]; ok {
		resp["resultCode"] = "Refused"
		resp["refusalReasonCode"], resp["refusalReason"] = r[0], r[1]
		s.notify(adyen.NotificationRequestItem{
			EventCode: adyen.EventCodeAuthorisation, PSPReference: psp, MerchantReference: req.Reference,
			MerchantAccountCode: s.MerchantAccount, Success: "false", Reason: r[1],
			Amount:         &adyen.ItemAmount{Currency: req.Amount.Currency, Value: json.Number(strconv.FormatInt(req.Amount.Value, 10))},
			AdditionalData: map[string]string{"refusalReasonCode": r[0]},
		})
		return http.StatusOK, mustJSON(resp), modeNormal
	}
	p := &Payment{
		PSPReference: psp, Reference: req.Reference, IdempotencyKey: key,
		Amount: req.Amount.Value, Currency: req.Amount.Currency, ManualCapture: manual,
		NetworkToken: req.PaymentMethod.Type == "networkToken", Metadata: cloneMap(req.Metadata),
	}
	if m := req.MpiData; m != nil && m.Cavv != "" {
		p.ThreeDS = &ThreeDS{Cavv: true, ECI: m.ECI, DsTransID: m.DsTransID, Xid: m.Xid, Version: m.ThreeDSVersion,
			AuthenticationResponse: m.AuthenticationResponse, DirectoryResponse: m.DirectoryResponse}
	}
	if !manual {
		p.Captured = p.Amount
	}
	s.mu.Lock()
	s.payments[psp] = p
	s.order = append(s.order, p)
	s.mu.Unlock()
	s.notify(adyen.NotificationRequestItem{
		EventCode: adyen.EventCodeAuthorisation, PSPReference: psp, MerchantReference: req.Reference,
		MerchantAccountCode: s.MerchantAccount, Success: "true", PaymentMethod: "visa",
		Amount:     &adyen.ItemAmount{Currency: req.Amount.Currency, Value: json.Number(strconv.FormatInt(req.Amount.Value, 10))},
		Operations: []string{"CANCEL", "CAPTURE", "REFUND"},
	})
	resp["resultCode"] = "Authorised"
	resp["amount"] = map[string]any{"currency": req.Amount.Currency, "value": req.Amount.Value}
	resp["additionalData"] = map[string]string{"authCode": "065696", "refusalReasonRaw": "AUTHORISED", "acquirerCode": "TestPmmAcquirer"}
	switch number {
	case CardNeverAnswers:
		return http.StatusOK, mustJSON(resp), modeHang
	case CardServerError:
		return http.StatusOK, mustJSON(resp), modeFail
	}
	return http.StatusOK, mustJSON(resp), modeNormal
}

// modificationRequest is what the fake reads of a capture, cancel or
// refund request.
type modificationRequest struct {
	Amount *struct {
		Currency string `json:"currency"`
		Value    int64  `json:"value"`
	} `json:"amount"`
	MerchantAccount string `json:"merchantAccount"`
	Reference       string `json:"reference"`
}

// modification applies a capture, cancel or refund. Like Adyen, it
// answers "received" for any known payment and tells the outcome by
// webhook; only an unknown pspReference is refused at once.
func (s *Server) modification(ref, op string, body []byte) (int, []byte) {
	var req modificationRequest
	if err := json.Unmarshal(body, &req); err != nil {
		s.violation("%s request: %v", op, err)
		return http.StatusBadRequest, serviceError(400, "702", "Unable to parse the request", "validation")
	}
	if req.MerchantAccount != s.MerchantAccount {
		b, _ := Fixture("error-403-010-not-allowed.json")
		return http.StatusForbidden, b
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.payments[ref]
	if !ok {
		b, _ := Fixture("checkout-modifications-error-422.json")
		return http.StatusUnprocessableEntity, b
	}
	psp := newPSPReference()
	item := adyen.NotificationRequestItem{
		PSPReference: psp, OriginalReference: ref, MerchantAccountCode: s.MerchantAccount,
		MerchantReference: req.Reference, Success: "true",
	}
	resp := map[string]any{
		"merchantAccount": s.MerchantAccount, "paymentPspReference": ref, "pspReference": psp, "status": "received",
	}
	if req.Reference != "" {
		resp["reference"] = req.Reference
	}
	var value int64
	if req.Amount != nil {
		value = req.Amount.Value
		resp["amount"] = map[string]any{"currency": req.Amount.Currency, "value": value}
		item.Amount = &adyen.ItemAmount{Currency: req.Amount.Currency, Value: json.Number(strconv.FormatInt(value, 10))}
		if req.Amount.Currency != p.Currency {
			value = -1 // never valid
		}
	}
	fail := func(reason string) { item.Success, item.Reason = "false", reason }
	switch op {
	case "captures":
		item.EventCode = adyen.EventCodeCapture
		switch {
		case p.Cancelled:
			fail("Payment was cancelled")
		case !p.ManualCapture || p.Captured > 0:
			fail("Payment was already captured")
		case value <= 0 || value > p.Amount:
			fail("Insufficient balance on payment")
		default:
			p.Captured = value // a partial capture releases the rest
		}
	case "cancels":
		item.EventCode = adyen.EventCodeCancellation
		item.Amount = &adyen.ItemAmount{Currency: p.Currency, Value: json.Number(strconv.FormatInt(p.Amount, 10))}
		switch {
		case p.Cancelled:
			fail("Payment was already cancelled")
		case p.Captured > 0:
			fail("Payment was already captured")
		default:
			p.Cancelled = true
		}
	case "refunds":
		item.EventCode = adyen.EventCodeRefund
		switch {
		case value <= 0 || value > p.Captured-p.Refunded:
			fail("Insufficient balance on payment")
		default:
			p.Refunded += value
		}
	}
	s.pending = append(s.pending, item)
	return http.StatusCreated, mustJSON(resp)
}

func (s *Server) notify(it adyen.NotificationRequestItem) {
	s.mu.Lock()
	s.pending = append(s.pending, it)
	s.mu.Unlock()
}

func serviceError(status int, code, message, typ string) []byte {
	return mustJSON(map[string]any{"status": status, "errorCode": code, "message": message, "errorType": typ})
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err) // maps of strings and numbers always encode
	}
	return b
}

// newPSPReference returns a 16-character reference like Adyen's.
func newPSPReference() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+).
	return strings.ToUpper(hex.EncodeToString(b))
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
