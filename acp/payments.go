package acp

import (
	"bytes"
	"strings"
	"time"
	"unicode/utf8"

	"acpgw/payment"
)

// TokenKind says who issued a payment token, from its prefix.
type TokenKind string

// The token kinds acpgw routes.
const (
	// TokenVault is an acpgw vault token ("vt_..."), usable with any processor.
	TokenVault TokenKind = "vault"
	// TokenSharedPayment is a Stripe Shared Payment Token ("spt_..."),
	// usable with Stripe processors only.
	TokenSharedPayment TokenKind = "spt"
)

// KindOf returns the kind of token from its prefix ("vt_" or "spt_"
// followed by at least one character), and false for any other token.
func KindOf(token string) (TokenKind, bool) {
	switch {
	case len(token) > len("vt_") && strings.HasPrefix(token, "vt_"):
		return TokenVault, true
	case len(token) > len("spt_") && strings.HasPrefix(token, "spt_"):
		return TokenSharedPayment, true
	}
	return "", false
}

// The payment_data shapes of the ACP complete-checkout request.
const (
	// ShapeToken is {token, provider, billing_address?}, ACP 2025-09-29 to
	// 2026-01-16.
	ShapeToken = "token"
	// ShapeInstrument is {handler_id, instrument: {type, credential: {type,
	// token}}, billing_address?}, ACP 2026-01-30 and later.
	ShapeInstrument = "instrument"
)

// PaymentRequest is the decoded body of POST /v1/payments.
type PaymentRequest struct {
	MerchantID        string
	CheckoutSessionID string
	Amount            int64 // minor units, > 0
	Currency          string
	PaymentData       PaymentData
	Capture           string // "automatic" (the default) or "manual"
	Metadata          map[string]string
	// Authentication is authentication_result, the 3-D Secure result the
	// agent handed the seller (ACP 2026-04-17), nil when absent. It is
	// always one the payment may be made with: the decoder refuses the
	// others (422 authentication_failed).
	Authentication *payment.Authentication
}

// PaymentData is payment_data in either ACP shape. Token holds the token
// whichever the shape (payment_data.token or
// payment_data.instrument.credential.token); Shape says which it was.
type PaymentData struct {
	Token          string
	Provider       string // token shape only
	HandlerID      string // instrument shape only
	InstrumentType string // instrument shape only
	CredentialType string // instrument shape only
	BillingAddress *Address
	Shape          string // ShapeToken or ShapeInstrument

	// The B2B fields 2026-04-17 adds next to the instrument; they are
	// accepted so a payment_data can be forwarded verbatim, and are carried
	// but not acted on.
	PurchaseOrderNumber string
	PaymentTerms        string
	DueDate             time.Time // zero when absent
	ApprovalRequired    *bool

	// Kind is KindOf(Token), set by the decoder.
	Kind TokenKind
}

// ModifyRequest is the body of capture, void and refunds; an empty body or
// {} means "the whole amount, no metadata".
type ModifyRequest struct {
	Amount   *int64 // nil when absent; > 0 when present
	Metadata map[string]string
}

// Limits on acpgw's own API fields.
const (
	maxIDLength        = 255
	maxMetadataKeys    = 50
	maxMetadataKey     = 40
	maxMetadataValue   = 500
	maxPaymentDataText = 255
)

var (
	paymentFields = []string{"merchant_id", "checkout_session_id", "amount", "currency", "payment_data", "capture", "metadata",
		"authentication_result"}
	paymentReq        = []string{"merchant_id", "checkout_session_id", "amount", "currency", "payment_data"}
	paymentDataFields = []string{"token", "provider", "handler_id", "instrument", "billing_address",
		"purchase_order_number", "payment_terms", "due_date", "approval_required"}
	modifyFields = []string{"amount", "metadata"}
	// paymentProviders is the provider enum of the token shape (2025-09-29
	// PaymentData: provider enum [stripe]).
	paymentProviders = []string{"stripe"}
	// checkoutAddressLimits: the checkout Address schema has no maxLength;
	// acpgw bounds each field at 256 characters all the same.
	checkoutAddressLimits = addressLimits{name: 256, line: 256, city: 256, state: 256, postal: 256}
)

// apiCodes are the codes of acpgw's own API; see the CodeInvalidRequest
// block for what each means.
var apiCodes = errorCodes{schema: CodeInvalidRequest, missing: CodeMissingField, value: CodeInvalidRequest}

// semantic collects the first 422 while the schema walk goes on, so a
// schema error (400) anywhere in the body wins over a semantic one.
type semantic struct{ first *Error }

func (s *semantic) set(e *Error) {
	if s.first == nil {
		s.first = e
	}
}

// DecodePaymentRequest decodes and validates a POST /v1/payments body. See
// the CodeInvalidRequest block for the codes and statuses it returns.
func DecodePaymentRequest(body []byte) (PaymentRequest, *Error) {
	return ReadBody(body).DecodePaymentRequest()
}

// DecodePaymentRequest is DecodePaymentRequest of the body.
func (b *Body) DecodePaymentRequest() (PaymentRequest, *Error) {
	d := &decoder{codes: apiCodes}
	root, err := d.root(b)
	if err != nil {
		return PaymentRequest{}, err
	}
	if err := d.fields(root, "$", paymentFields, paymentReq); err != nil {
		return PaymentRequest{}, err
	}
	r := PaymentRequest{Capture: string(payment.CaptureAutomatic)}
	var sem semantic
	for _, k := range root.keys {
		var err *Error
		switch k {
		case "merchant_id":
			r.MerchantID, err = d.id(root, "$", k)
		case "checkout_session_id":
			r.CheckoutSessionID, err = d.id(root, "$", k)
		case "amount":
			r.Amount, err = d.amount(root, "$", k, &sem)
		case "currency":
			r.Currency, err = d.currency(root, "$", k, &sem)
		case "payment_data":
			r.PaymentData, err = d.paymentData(root.val(k), "$.payment_data", &sem)
		case "capture":
			r.Capture, _, err = d.enum(root, "$", k, string(payment.CaptureAutomatic), string(payment.CaptureManual))
		case "metadata":
			r.Metadata, err = d.metadata(root.val(k), "$.metadata")
		case "authentication_result":
			r.Authentication, err = d.authentication(root.val(k), "$.authentication_result", &sem)
		}
		if err != nil {
			return PaymentRequest{}, err
		}
	}
	if sem.first != nil {
		return PaymentRequest{}, sem.first
	}
	return r, nil
}

// DecodeModifyRequest decodes the optional body of capture, void and
// refunds: empty, {}, or {amount?, metadata?}.
func DecodeModifyRequest(body []byte) (ModifyRequest, *Error) {
	return ReadBody(body).DecodeModifyRequest()
}

// DecodeModifyRequest is DecodeModifyRequest of the body.
func (b *Body) DecodeModifyRequest() (ModifyRequest, *Error) {
	if len(bytes.TrimSpace(b.raw)) == 0 {
		return ModifyRequest{}, nil
	}
	d := &decoder{codes: apiCodes}
	root, err := d.root(b)
	if err != nil {
		return ModifyRequest{}, err
	}
	if err := d.fields(root, "$", modifyFields, nil); err != nil {
		return ModifyRequest{}, err
	}
	var r ModifyRequest
	var sem semantic
	for _, k := range root.keys {
		var err *Error
		switch k {
		case "amount":
			var n int64
			n, err = d.amount(root, "$", k, &sem)
			r.Amount = &n
		case "metadata":
			r.Metadata, err = d.metadata(root.val(k), "$.metadata")
		}
		if err != nil {
			return ModifyRequest{}, err
		}
	}
	if sem.first != nil {
		return ModifyRequest{}, sem.first
	}
	return r, nil
}

// id reads a required identifier: a non-empty string of at most 255
// characters.
func (d *decoder) id(o *object, path, k string) (string, *Error) {
	s, _, err := d.str(o, path, k, maxIDLength)
	if err == nil && s == "" {
		p := child(path, k)
		err = d.schemaErr(p, "%s must not be empty", field(p))
	}
	return s, err
}

func (d *decoder) amount(o *object, path, k string, sem *semantic) (int64, *Error) {
	n, _, rangeErr, err := d.integer(o, path, k)
	if err != nil {
		return 0, err
	}
	if rangeErr || n <= 0 {
		p := child(path, k)
		sem.set(Errorf(statusSemantic, TypeInvalidRequest, CodeInvalidAmount, p,
			"%s must be a positive integer of minor units that fits 64 bits", field(p)))
	}
	return n, nil
}

func (d *decoder) currency(o *object, path, k string, sem *semantic) (string, *Error) {
	s, _, err := d.str(o, path, k, 0)
	if err != nil {
		return "", err
	}
	if !currencyShape(s) {
		p := child(path, k)
		return "", d.schemaErr(p, "%s must be a lowercase 3-letter ISO 4217 code", field(p))
	}
	if !payment.ValidCurrency(s) {
		p := child(path, k)
		sem.set(Errorf(statusSemantic, TypeInvalidRequest, CodeInvalidCurrency, p,
			"%s is not an ISO 4217 currency acpgw supports", field(p)))
	}
	return s, nil
}

// metadata reads string-to-string metadata within acpgw's limits.
func (d *decoder) metadata(v any, path string) (map[string]string, *Error) {
	m, err := d.stringMap(v, path)
	if err != nil {
		return nil, err
	}
	if len(m) > maxMetadataKeys {
		return nil, d.schemaErr(path, "%s must have at most %d keys", field(path), maxMetadataKeys)
	}
	for _, k := range v.(*object).keys {
		switch {
		case k == "" || utf8.RuneCountInString(k) > maxMetadataKey:
			return nil, d.schemaErr(path, "%s keys must be 1 to %d characters", field(path), maxMetadataKey)
		case utf8.RuneCountInString(m[k]) > maxMetadataValue:
			return nil, d.schemaErr(child(path, k), "%s values must be at most %d characters", field(path), maxMetadataValue)
		}
	}
	return m, nil
}

// text reads a required non-empty string of payment_data.
func (d *decoder) text(o *object, path, k string) (string, *Error) {
	s, _, err := d.str(o, path, k, maxPaymentDataText)
	if err == nil && s == "" {
		p := child(path, k)
		err = d.schemaErr(p, "%s must not be empty", field(p))
	}
	return s, err
}

// token reads a payment token: its shape is a schema matter (400), its
// prefix and alphabet a semantic one (422 token_invalid).
func (d *decoder) token(o *object, path, k string, sem *semantic) (string, TokenKind, *Error) {
	s, err := d.text(o, path, k)
	if err != nil {
		return "", "", err
	}
	kind, ok := KindOf(s)
	if !ok || !tokenAlphabet(s) {
		p := child(path, k)
		sem.set(Errorf(statusSemantic, TypeInvalidRequest, CodeTokenInvalid, p,
			"%s is not a token acpgw knows (expected a vt_ or spt_ token)", field(p)))
	}
	return s, kind, nil
}

func tokenAlphabet(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func (d *decoder) paymentData(v any, path string, sem *semantic) (PaymentData, *Error) {
	o, err := d.object(v, path, paymentDataFields, nil)
	if err != nil {
		return PaymentData{}, err
	}
	tokenShape, instrShape := false, false
	for _, k := range o.keys {
		switch k {
		case "token", "provider":
			tokenShape = true
		case "handler_id", "instrument", "purchase_order_number", "payment_terms", "due_date", "approval_required":
			instrShape = true
		}
	}
	var pd PaymentData
	switch {
	case tokenShape && instrShape:
		return PaymentData{}, d.schemaErr(path,
			"%s mixes the token shape (token, provider) with the instrument shape (handler_id, instrument)", field(path))
	case tokenShape:
		pd.Shape = ShapeToken
		err = d.fields(o, path, paymentDataFields, []string{"token", "provider"})
	default:
		pd.Shape = ShapeInstrument
		err = d.fields(o, path, paymentDataFields, []string{"handler_id", "instrument"})
	}
	if err != nil {
		return PaymentData{}, err
	}
	for _, k := range o.keys {
		switch k {
		case "token":
			pd.Token, pd.Kind, err = d.token(o, path, k, sem)
		case "provider":
			pd.Provider, _, err = d.enum(o, path, k, paymentProviders...)
		case "handler_id":
			pd.HandlerID, err = d.text(o, path, k)
		case "instrument":
			err = d.instrument(o.val(k), child(path, k), &pd, sem)
		case "billing_address":
			pd.BillingAddress, err = d.address(o.val(k), child(path, k), checkoutAddressLimits)
		case "purchase_order_number":
			pd.PurchaseOrderNumber, _, err = d.str(o, path, k, maxPaymentDataText)
		case "payment_terms":
			pd.PaymentTerms, _, err = d.enum(o, path, k, "immediate", "net_15", "net_30", "net_60", "net_90")
		case "due_date":
			var s string
			if s, _, err = d.str(o, path, k, 0); err == nil {
				pd.DueDate, err = d.dateTime(s, path, k)
			}
		case "approval_required":
			pd.ApprovalRequired, err = d.boolean(o, path, k)
		}
		if err != nil {
			return PaymentData{}, err
		}
	}
	return pd, nil
}

func (d *decoder) instrument(v any, path string, pd *PaymentData, sem *semantic) *Error {
	o, err := d.object(v, path, []string{"type", "credential"}, []string{"type", "credential"})
	if err != nil {
		return err
	}
	for _, k := range o.keys {
		switch k {
		case "type":
			pd.InstrumentType, err = d.text(o, path, k)
		case "credential":
			p := child(path, k)
			var c *object
			if c, err = d.object(o.val(k), p, []string{"type", "token"}, []string{"type", "token"}); err != nil {
				return err
			}
			for _, ck := range c.keys {
				switch ck {
				case "type":
					pd.CredentialType, err = d.text(c, p, ck)
				case "token":
					pd.Token, pd.Kind, err = d.token(c, p, ck, sem)
				}
				if err != nil {
					return err
				}
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}
