// Package mockhttp is the HTTP mode of acpgw's mock processor: a Server
// that exposes a *mock.Provider over HTTP and a Client that is a
// providers.Provider calling it. Tests use it to exercise real sockets
// (refused connections, resets, timeouts, 5xx answers, slow bodies), and
// several acpgw processes can share one processor ledger through one Server.
//
// The wire format is this package's own small JSON. Its authorization
// request carries the card, number and CVC included, in the clear, and so
// do its 3-D Secure calls (the number) and answers (the cryptogram): this
// is a test processor meant for loopback, never for real cards or an open
// network. Neither side logs a request or puts card data in an error.
//
// Endpoints of the Server:
//
//	POST /v1/authorize   authorize (and capture with capture=automatic)
//	POST /v1/capture     capture an authorization
//	POST /v1/void        void an authorization
//	POST /v1/refund      refund a capture
//	GET  /v1/ledger      the mock's charges, for tests as the judge
//	                     (?payment_id= narrows them to one payment)
//
// and of its 3-D Secure server (mock3ds), which the Client's Authenticator
// calls:
//
//	POST /v1/3ds/create        start a transaction for a session's card
//	POST /v1/3ds/authenticate  the AReq after the fingerprint
//	POST /v1/3ds/result        the transaction's outcome (after a challenge)
//	POST /3ds/method           the 3DS Method page (browser: threeDSMethodData)
//	POST /3ds/challenge        the ACS challenge page (browser: creq)
//	POST /3ds/challenge/answer the challenge form's code or Cancel
//
// Answers: 200 with the result (a decline is a result); 409 {code, message}
// when the mock rejects a modification (providers.ErrRejected); 503 {code,
// message, processed: false} when it did not process the request
// (providers.ErrNotProcessed); 400 {code, message, processed: false} for a
// request it could not read; 500 {code, message} for anything else, which
// may have taken effect. The 3-D Secure calls answer 200 with the step
// ({status, action, result, state}), 400 for a session the mock refuses,
// 503 when the mock is unavailable, and their pages answer HTML.
//
// How the Client reads failures is the point of the package; see Client.
package mockhttp

import (
	"acpgw/payment"
	"acpgw/providers"
)

// The paths of the Server.
const (
	PathAuthorize = "/v1/authorize"
	PathCapture   = "/v1/capture"
	PathVoid      = "/v1/void"
	PathRefund    = "/v1/refund"
	PathLedger    = "/v1/ledger"
)

// maxBodyBytes caps a request or answer body; real ones are well under 4 KB.
const maxBodyBytes = 1 << 20

// authorizeBody is the JSON of POST /v1/authorize.
type authorizeBody struct {
	PaymentID      string            `json:"payment_id"`
	AttemptID      string            `json:"attempt_id"`
	IdempotencyKey string            `json:"idempotency_key"`
	MerchantID     string            `json:"merchant_id"`
	Amount         int64             `json:"amount"`
	Currency       string            `json:"currency"`
	Capture        string            `json:"capture"`
	Instrument     instrumentBody    `json:"instrument"`
	Metadata       map[string]string `json:"metadata,omitempty"`
	// Authentication is the 3-D Secure result, cryptogram included (in the
	// clear, like the card: loopback only).
	Authentication *authenticationBody `json:"authentication,omitempty"`
}

// authenticationBody is a 3-D Secure result on the wire.
type authenticationBody struct {
	Outcome       string `json:"outcome"`
	Cryptogram    string `json:"cryptogram,omitempty"`
	ECI           string `json:"eci,omitempty"`
	TransactionID string `json:"transaction_id,omitempty"`
	Version       string `json:"version,omitempty"`
}

type instrumentBody struct {
	Kind        string       `json:"kind"`
	Card        *cardBody    `json:"card,omitempty"`
	SharedToken string       `json:"shared_token,omitempty"`
	Billing     *addressBody `json:"billing,omitempty"`
}

// cardBody is a card on the wire. It has no String method of its own on
// purpose: nothing in this package formats it.
type cardBody struct {
	NumberType string `json:"number_type,omitempty"`
	Number     string `json:"number"`
	ExpMonth   int    `json:"exp_month"`
	ExpYear    int    `json:"exp_year"`
	Name       string `json:"name,omitempty"`
	CVC        string `json:"cvc,omitempty"`
	Cryptogram string `json:"cryptogram,omitempty"`
	ECI        string `json:"eci,omitempty"`
	Brand      string `json:"brand,omitempty"`
	Funding    string `json:"funding,omitempty"`
}

type addressBody struct {
	Name       string `json:"name,omitempty"`
	LineOne    string `json:"line_one,omitempty"`
	LineTwo    string `json:"line_two,omitempty"`
	City       string `json:"city,omitempty"`
	State      string `json:"state,omitempty"`
	Country    string `json:"country,omitempty"`
	PostalCode string `json:"postal_code,omitempty"`
}

// modifyBody is the JSON of a capture, void or refund.
type modifyBody struct {
	PaymentID      string `json:"payment_id"`
	IdempotencyKey string `json:"idempotency_key"`
	Reference      string `json:"reference"`
	Amount         int64  `json:"amount"`
	Currency       string `json:"currency"`
}

// resultBody is a 200 answer.
type resultBody struct {
	Status                string           `json:"status"`
	Reference             string           `json:"reference,omitempty"`
	ModificationReference string           `json:"modification_reference,omitempty"`
	Decline               *payment.Decline `json:"decline,omitempty"`
	Fee                   *payment.Money   `json:"fee,omitempty"`
	Message               string           `json:"message,omitempty"`
}

// errorBody is an error answer. Processed is false only when the Server
// vouches that nothing happened; absent means it may have.
type errorBody struct {
	Code      string `json:"code"`
	Message   string `json:"message,omitempty"`
	Processed *bool  `json:"processed,omitempty"`
}

// ledgerBody is the answer of GET /v1/ledger.
type ledgerBody struct {
	Charges []chargeBody `json:"charges"`
}

type chargeBody struct {
	Reference      string `json:"reference"`
	PaymentID      string `json:"payment_id"`
	IdempotencyKey string `json:"idempotency_key"`
	Amount         int64  `json:"amount"`
	Captured       int64  `json:"captured"`
	Refunded       int64  `json:"refunded"`
	Currency       string `json:"currency"`
	Voided         bool   `json:"voided"`
	CreatedAt      string `json:"created_at"`
}

func toAuthorizeBody(r providers.AuthorizeRequest) authorizeBody {
	b := authorizeBody{
		PaymentID:      r.PaymentID,
		AttemptID:      r.AttemptID,
		IdempotencyKey: r.IdempotencyKey,
		MerchantID:     r.MerchantID,
		Amount:         r.Amount.Amount,
		Currency:       r.Amount.Currency,
		Capture:        string(r.Capture),
		Instrument:     instrumentBody{Kind: string(r.Instrument.Kind), SharedToken: r.Instrument.SharedToken},
		Metadata:       r.Metadata,
	}
	if c := r.Instrument.Card; c != nil {
		b.Instrument.Card = &cardBody{
			NumberType: c.NumberType, Number: c.Number, ExpMonth: c.ExpMonth, ExpYear: c.ExpYear, Name: c.Name,
			CVC: c.CVC, Cryptogram: c.Cryptogram, ECI: c.ECI, Brand: c.Brand, Funding: c.Funding,
		}
	}
	if a := r.Instrument.Billing; a != nil {
		b.Instrument.Billing = &addressBody{
			Name: a.Name, LineOne: a.LineOne, LineTwo: a.LineTwo, City: a.City,
			State: a.State, Country: a.Country, PostalCode: a.PostalCode,
		}
	}
	if a := r.Authentication; a != nil {
		b.Authentication = &authenticationBody{Outcome: string(a.Outcome), Cryptogram: a.Cryptogram, ECI: a.ECI,
			TransactionID: a.TransactionID, Version: a.Version}
	}
	return b
}

func (b authorizeBody) request() providers.AuthorizeRequest {
	r := providers.AuthorizeRequest{
		PaymentID:      b.PaymentID,
		AttemptID:      b.AttemptID,
		IdempotencyKey: b.IdempotencyKey,
		MerchantID:     b.MerchantID,
		Amount:         payment.Money{Amount: b.Amount, Currency: b.Currency},
		Capture:        payment.CaptureMode(b.Capture),
		Instrument:     providers.Instrument{Kind: providers.TokenKind(b.Instrument.Kind), SharedToken: b.Instrument.SharedToken},
		Metadata:       b.Metadata,
	}
	if c := b.Instrument.Card; c != nil {
		r.Instrument.Card = &payment.Card{
			NumberType: c.NumberType, Number: c.Number, ExpMonth: c.ExpMonth, ExpYear: c.ExpYear, Name: c.Name,
			CVC: c.CVC, Cryptogram: c.Cryptogram, ECI: c.ECI, Brand: c.Brand, Funding: c.Funding,
		}
	}
	if a := b.Instrument.Billing; a != nil {
		r.Instrument.Billing = &providers.Address{
			Name: a.Name, LineOne: a.LineOne, LineTwo: a.LineTwo, City: a.City,
			State: a.State, Country: a.Country, PostalCode: a.PostalCode,
		}
	}
	if a := b.Authentication; a != nil {
		r.Authentication = &payment.Authentication{Outcome: payment.AuthenticationOutcome(a.Outcome), Cryptogram: a.Cryptogram,
			ECI: a.ECI, TransactionID: a.TransactionID, Version: a.Version}
	}
	return r
}

func toModifyBody(r providers.ModifyRequest) modifyBody {
	return modifyBody{
		PaymentID: r.PaymentID, IdempotencyKey: r.IdempotencyKey, Reference: r.Reference,
		Amount: r.Amount.Amount, Currency: r.Amount.Currency,
	}
}

func (b modifyBody) request() providers.ModifyRequest {
	return providers.ModifyRequest{
		PaymentID: b.PaymentID, IdempotencyKey: b.IdempotencyKey, Reference: b.Reference,
		Amount: payment.Money{Amount: b.Amount, Currency: b.Currency},
	}
}

func toResultBody(r providers.Result) resultBody {
	return resultBody{
		Status: string(r.Status), Reference: r.Reference, ModificationReference: r.ModificationReference,
		Decline: r.Decline, Fee: r.Fee, Message: r.Message,
	}
}

func (b resultBody) result() providers.Result {
	return providers.Result{
		Status: payment.Status(b.Status), Reference: b.Reference, ModificationReference: b.ModificationReference,
		Decline: b.Decline, Fee: b.Fee, Message: b.Message,
	}
}
