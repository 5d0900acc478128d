package acp

import (
	"strconv"
	"strings"
	"time"

	"acpgw/payment"
)

// DelegateRequest is a decoded and validated Delegate Payment request
// (POST /agentic_commerce/delegate_payment).
type DelegateRequest struct {
	PaymentMethod  Card
	Allowance      Allowance
	BillingAddress *Address // nil when absent
	RiskSignals    []RiskSignal
	Metadata       map[string]string
}

// Allowance bounds how a delegated credential may be used: once, up to
// MaxAmount minor units of Currency, for one merchant and checkout session,
// before ExpiresAt. Whether MerchantID is a merchant acpgw serves is the
// caller's check, not the decoder's.
type Allowance struct {
	Reason            string
	MaxAmount         int64 // minor units, > 0
	Currency          string
	CheckoutSessionID string
	MerchantID        string
	ExpiresAt         time.Time
}

// Address is a billing address as the ACP Address schema defines it.
type Address struct {
	Name       string
	LineOne    string
	LineTwo    string
	City       string
	State      string
	Country    string // ISO 3166-1 alpha-2, upper case
	PostalCode string
}

// RiskSignal is one fraud signal the agent platform attaches.
type RiskSignal struct {
	Type   string
	Score  int
	Action string
}

// Field lists in schema order; they are the same in every version.
var (
	delegateFields = []string{"payment_method", "allowance", "billing_address", "risk_signals", "metadata"}
	delegateReq    = []string{"payment_method", "allowance", "risk_signals", "metadata"}
	cardFields     = []string{"type", "card_number_type", "number", "exp_month", "exp_year", "name", "cvc",
		"cryptogram", "eci_value", "checks_performed", "iin", "display_card_funding_type", "display_wallet_type",
		"display_brand", "display_last4", "metadata", "virtual"}
	cardReq         = []string{"type", "card_number_type", "number", "display_card_funding_type", "metadata"}
	allowanceFields = []string{"reason", "max_amount", "currency", "checkout_session_id", "merchant_id", "expires_at"}
	addressFields   = []string{"name", "line_one", "line_two", "city", "state", "country", "postal_code"}
	addressReq      = []string{"name", "line_one", "city", "state", "country", "postal_code"}
	riskFields      = []string{"type", "score", "action"}
)

// delegateRules are the places where the versions' request schemas differ
// (see versionRules for the table).
type delegateRules struct {
	// iinMax: the stricter of the version's two maxLength values; the
	// 2025-09-29 JSON schema says 6 while its OpenAPI file says 8, and so
	// on (see versionRules).
	iinMax int
	// last4Pattern: from 2025-12-12 (OpenAPI) display_last4 has minLength 4
	// and pattern ^[0-9]{4}$, making a bad value a schema error (400); in
	// 2025-09-29 only maxLength 4 is in the schema, so "42" is schema-valid
	// and rejected as a semantic error (422).
	last4Pattern bool
	// riskMin: minItems of risk_signals, 1 up to 2026-01-30; 2026-04-17
	// drops it.
	riskMin int
}

// delegateCodes: the Delegate Payment Error schema's code enum has a single
// code for bad input in both versions, invalid_card, and the spec's own 400
// and 422 examples use it for every field. acpgw sends nothing outside that
// enum, so every decoding error here is invalid_request/invalid_card; the
// status (400 or 422) and param tell the client what is wrong and where.
var delegateCodes = errorCodes{schema: CodeInvalidCard, missing: CodeInvalidCard, value: CodeInvalidCard}

// currencyShape is the schema's currency pattern, ^[a-z]{3}$.
func currencyShape(s string) bool {
	return len(s) == 3 && lowerASCII(s[0]) && lowerASCII(s[1]) && lowerASCII(s[2])
}

func lowerASCII(c byte) bool { return c >= 'a' && c <= 'z' }

// dateTimeShape is the shape of the schema's format: date-time that acpgw
// accepts, ^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$
// (time.Parse checks the values). RFC 3339 allows a lower-case "t" and
// "z"; acpgw only accepts the upper-case form every ACP example uses.
// Written out rather than as a regular expression: it runs on every
// delegate_payment request.
func dateTimeShape(s string) bool {
	const head = "dddd-dd-ddTdd:dd:dd" // d is a digit
	if len(s) <= len(head) {
		return false
	}
	for i := 0; i < len(head); i++ {
		if head[i] == 'd' && !digit(s[i]) || head[i] != 'd' && s[i] != head[i] {
			return false
		}
	}
	rest := s[len(head):]
	if rest[0] == '.' {
		n := digitRun(rest[1:])
		if n < 1 || n > 9 {
			return false
		}
		rest = rest[1+n:]
	}
	return rest == "Z" || len(rest) == 6 && (rest[0] == '+' || rest[0] == '-') &&
		digit(rest[1]) && digit(rest[2]) && rest[3] == ':' && digit(rest[4]) && digit(rest[5])
}

func digit(c byte) bool { return c >= '0' && c <= '9' }

// DecodeDelegateRequest decodes and validates a Delegate Payment request
// body for API version (which must satisfy SupportedVersion; the api
// package checks the header first, and an unsupported version here is a
// 400 with code invalid_request, outside the Delegate Error enum).
//
// Validation runs in two passes: first everything the version's JSON schema
// and OpenAPI document say (400), then the semantic rules (422): Luhn for
// fpan, expiry month and year, card not expired at now, CVC digits, IIN and
// last four consistent with the number, a positive int64 max_amount, a
// currency acpgw knows, an allowance that has not expired at now. So a 422
// always means "schema-valid, but wrong". The first error in document order
// is returned.
func DecodeDelegateRequest(version string, body []byte, now time.Time) (DelegateRequest, *Error) {
	return ReadBody(body).DecodeDelegateRequest(version, now)
}

// DecodeDelegateRequest is DecodeDelegateRequest of the body.
func (b *Body) DecodeDelegateRequest(version string, now time.Time) (DelegateRequest, *Error) {
	vr, ok := versionRules[version]
	if !ok {
		return DelegateRequest{}, Errorf(statusSchema, TypeInvalidRequest, CodeInvalidRequest, "",
			"unsupported API-Version; supported versions are %s", strings.Join(Versions, ", "))
	}
	rules := vr.delegate
	d := &decoder{codes: delegateCodes}
	var r DelegateRequest
	var raw delegateRaw
	if err := d.delegateSchema(b, rules, &r, &raw); err != nil {
		return DelegateRequest{}, err
	}
	if err := d.delegateSemantics(&r, &raw, now); err != nil {
		return DelegateRequest{}, err
	}
	return r, nil
}

// delegateRaw keeps what the schema pass saw but could not store in the
// result: integers that overflowed and raw date-times.
type delegateRaw struct {
	maxAmountRange bool
	scoreRange     []bool
	expiresAt      string
	card           *object // payment_method, for the keys present (even if "")
}

func (d *decoder) delegateSchema(body *Body, rules delegateRules, r *DelegateRequest, raw *delegateRaw) *Error {
	root, err := d.root(body)
	if err != nil {
		return err
	}
	if err := d.fields(root, "$", delegateFields, delegateReq); err != nil {
		return err
	}
	for _, k := range root.keys {
		v := root.val(k)
		switch k {
		case "payment_method":
			if err := d.card(v, "$.payment_method", rules, &r.PaymentMethod, raw); err != nil {
				return err
			}
		case "allowance":
			if err := d.allowance(v, "$.allowance", &r.Allowance, raw); err != nil {
				return err
			}
		case "billing_address":
			a, err := d.address(v, "$.billing_address", delegateAddressLimits)
			if err != nil {
				return err
			}
			r.BillingAddress = a
		case "risk_signals":
			if err := d.riskSignals(v, "$.risk_signals", rules, r, raw); err != nil {
				return err
			}
		case "metadata":
			m, err := d.stringMap(v, "$.metadata")
			if err != nil {
				return err
			}
			r.Metadata = m
		}
	}
	return nil
}

func (d *decoder) card(v any, path string, rules delegateRules, c *Card, raw *delegateRaw) *Error {
	o, err := d.object(v, path, cardFields, cardReq)
	if err != nil {
		return err
	}
	raw.card = o
	for _, k := range o.keys {
		var err *Error
		switch k {
		case "type":
			c.Type, _, err = d.enum(o, path, k, "card")
		case "card_number_type":
			c.CardNumberType, _, err = d.enum(o, path, k, "fpan", "network_token")
		case "number":
			c.Number, _, err = d.str(o, path, k, 0)
		case "exp_month":
			c.ExpMonth, _, err = d.str(o, path, k, 2)
		case "exp_year":
			c.ExpYear, _, err = d.str(o, path, k, 4)
		case "name":
			c.Name, _, err = d.str(o, path, k, 0)
		case "cvc":
			c.CVC, _, err = d.str(o, path, k, 4)
		case "cryptogram":
			c.Cryptogram, _, err = d.str(o, path, k, 0)
		case "eci_value":
			c.ECIValue, _, err = d.str(o, path, k, 2)
		case "checks_performed":
			c.ChecksPerformed, err = d.checks(o.val(k), child(path, k))
		case "iin":
			c.IIN, _, err = d.str(o, path, k, rules.iinMax)
		case "display_card_funding_type":
			c.DisplayCardFundingType, _, err = d.enum(o, path, k, "credit", "debit", "prepaid")
		case "display_wallet_type":
			c.DisplayWalletType, _, err = d.str(o, path, k, 0)
		case "display_brand":
			c.DisplayBrand, _, err = d.str(o, path, k, 0)
		case "display_last4":
			c.DisplayLast4, _, err = d.str(o, path, k, 4)
			if err == nil && rules.last4Pattern && (len(c.DisplayLast4) != 4 || !allDigits(c.DisplayLast4)) {
				p := child(path, k)
				err = d.schemaErr(p, "%s must be exactly 4 digits", field(p))
			}
		case "metadata":
			c.Metadata, err = d.stringMap(o.val(k), child(path, k))
		case "virtual":
			c.Virtual, err = d.boolean(o, path, k)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (d *decoder) checks(v any, path string) ([]string, *Error) {
	a, ok := v.([]any)
	if !ok {
		return nil, d.schemaErr(path, "%s must be an array, not %s", field(path), jsonType(v))
	}
	out := make([]string, 0, len(a))
	for i, e := range a {
		p := index(path, i)
		s, ok := e.(string)
		if !ok {
			return nil, d.schemaErr(p, "%s must be a string, not %s", field(p), jsonType(e))
		}
		switch s {
		case "avs", "cvv", "ani", "auth0":
		default:
			return nil, d.schemaErr(p, "%s must be one of avs, cvv, ani, auth0", field(p))
		}
		out = append(out, s)
	}
	return out, nil
}

func (d *decoder) allowance(v any, path string, a *Allowance, raw *delegateRaw) *Error {
	o, err := d.object(v, path, allowanceFields, allowanceFields)
	if err != nil {
		return err
	}
	for _, k := range o.keys {
		var err *Error
		switch k {
		case "reason":
			a.Reason, _, err = d.enum(o, path, k, "one_time")
		case "max_amount":
			a.MaxAmount, _, raw.maxAmountRange, err = d.integer(o, path, k)
		case "currency":
			a.Currency, _, err = d.str(o, path, k, 0)
			if err == nil && !currencyShape(a.Currency) {
				p := child(path, k)
				err = d.schemaErr(p, "%s must be a lowercase 3-letter ISO 4217 code", field(p))
			}
		case "checkout_session_id":
			a.CheckoutSessionID, _, err = d.str(o, path, k, 0)
		case "merchant_id":
			a.MerchantID, _, err = d.str(o, path, k, 256)
		case "expires_at":
			raw.expiresAt, _, err = d.str(o, path, k, 0)
			if err == nil {
				a.ExpiresAt, err = d.dateTime(raw.expiresAt, path, k)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// dateTime parses an RFC 3339 date-time (the schema's format: date-time),
// the value of key k of the object at path.
func (d *decoder) dateTime(s, path, k string) (time.Time, *Error) {
	if dateTimeShape(s) {
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return t, nil
		}
	}
	path = child(path, k)
	return time.Time{}, d.schemaErr(path, "%s must be an RFC 3339 date-time such as 2026-01-02T15:04:05Z", field(path))
}

// addressLimits are the maxLength keywords of an Address schema; 0 is
// unlimited. country is always exactly 2 characters.
type addressLimits struct {
	name, line, city, state, postal int
}

var delegateAddressLimits = addressLimits{name: 256, line: 60, city: 60, postal: 20}

func (d *decoder) address(v any, path string, lim addressLimits) (*Address, *Error) {
	o, err := d.object(v, path, addressFields, addressReq)
	if err != nil {
		return nil, err
	}
	a := &Address{}
	for _, k := range o.keys {
		var err *Error
		switch k {
		case "name":
			a.Name, _, err = d.str(o, path, k, lim.name)
		case "line_one":
			a.LineOne, _, err = d.str(o, path, k, lim.line)
		case "line_two":
			a.LineTwo, _, err = d.str(o, path, k, lim.line)
		case "city":
			a.City, _, err = d.str(o, path, k, lim.city)
		case "state":
			a.State, _, err = d.str(o, path, k, lim.state)
		case "country":
			a.Country, _, err = d.str(o, path, k, 2)
			if err == nil && len([]rune(a.Country)) != 2 {
				p := child(path, k)
				err = d.schemaErr(p, "%s must be exactly 2 characters (ISO 3166-1 alpha-2)", field(p))
			}
		case "postal_code":
			a.PostalCode, _, err = d.str(o, path, k, lim.postal)
		}
		if err != nil {
			return nil, err
		}
	}
	return a, nil
}

func (d *decoder) riskSignals(v any, path string, rules delegateRules, r *DelegateRequest, raw *delegateRaw) *Error {
	a, ok := v.([]any)
	if !ok {
		return d.schemaErr(path, "%s must be an array, not %s", field(path), jsonType(v))
	}
	if len(a) < rules.riskMin {
		return d.schemaErr(path, "%s must have at least %d item", field(path), rules.riskMin)
	}
	r.RiskSignals = make([]RiskSignal, 0, len(a))
	raw.scoreRange = make([]bool, len(a))
	for i, e := range a {
		p := index(path, i)
		o, err := d.object(e, p, riskFields, riskFields)
		if err != nil {
			return err
		}
		var s RiskSignal
		for _, k := range o.keys {
			switch k {
			case "type":
				s.Type, _, err = d.enum(o, p, k, "card_testing")
			case "score":
				var n int64
				n, _, raw.scoreRange[i], err = d.integer(o, p, k)
				if n != int64(int(n)) {
					raw.scoreRange[i] = true
				}
				s.Score = int(n)
			case "action":
				s.Action, _, err = d.enum(o, p, k, "blocked", "manual_review", "authorized")
			}
			if err != nil {
				return err
			}
		}
		r.RiskSignals = append(r.RiskSignals, s)
	}
	return nil
}

// delegateSemantics applies the 422 rules to a schema-valid request, in
// document-independent field order: card, allowance, billing address, risk
// signals.
func (d *decoder) delegateSemantics(r *DelegateRequest, raw *delegateRaw, now time.Time) *Error {
	if err := d.cardSemantics(&r.PaymentMethod, raw.card, "$.payment_method", now); err != nil {
		return err
	}
	a := &r.Allowance
	const ap = "$.allowance"
	switch {
	case raw.maxAmountRange:
		return d.valueErr(ap+".max_amount", "allowance.max_amount does not fit in 64-bit minor units")
	case a.MaxAmount <= 0:
		return d.valueErr(ap+".max_amount", "allowance.max_amount must be a positive integer of minor units")
	case !payment.ValidCurrency(a.Currency):
		return d.valueErr(ap+".currency", "allowance.currency is not an ISO 4217 currency acpgw supports")
	case a.CheckoutSessionID == "":
		return d.valueErr(ap+".checkout_session_id", "allowance.checkout_session_id must not be empty")
	case a.MerchantID == "":
		return d.valueErr(ap+".merchant_id", "allowance.merchant_id must not be empty")
	case !a.ExpiresAt.After(now):
		return d.valueErr(ap+".expires_at", "allowance.expires_at must be in the future")
	}
	if b := r.BillingAddress; b != nil {
		if !letters(b.Country) {
			return d.valueErr("$.billing_address.country", "billing_address.country must be an ISO 3166-1 alpha-2 code")
		}
		b.Country = upper(b.Country)
	}
	for i := range r.RiskSignals {
		if raw.scoreRange[i] {
			p := index("$.risk_signals", i) + ".score"
			return d.valueErr(p, "%s is out of range", field(p))
		}
	}
	return nil
}

func (d *decoder) cardSemantics(c *Card, present *object, path string, now time.Time) *Error {
	fpan := c.CardNumberType == "fpan"
	if n := len(c.Number); n < 12 || n > 19 || !allDigits(c.Number) {
		return d.valueErr(path+".number", "payment_method.number must be 12 to 19 digits")
	}
	if fpan && !luhn(c.Number) {
		return d.valueErr(path+".number", "payment_method.number is not a valid card number (Luhn check failed)")
	}
	// exp_month: the schema only says maxLength 2 and the description "Two-digit
	// expiration month (01-12)". acpgw accepts "1".."9" as well as "01".."12"
	// because the schema allows them and they are unambiguous, and normalises
	// to two digits for the processors; "0", "00", "13" and non-digits are 422.
	var month int
	if present.has("exp_month") {
		m, err := strconv.Atoi(c.ExpMonth)
		if !allDigits(c.ExpMonth) || err != nil || m < 1 || m > 12 {
			return d.valueErr(path+".exp_month", "payment_method.exp_month must be a month from 01 to 12")
		}
		month = m
		c.ExpMonth = twoDigits(m)
	}
	var year int
	if present.has("exp_year") {
		if len(c.ExpYear) != 4 || !allDigits(c.ExpYear) {
			return d.valueErr(path+".exp_year", "payment_method.exp_year must be a four-digit year")
		}
		year, _ = strconv.Atoi(c.ExpYear)
	}
	switch {
	case present.has("exp_month") && !present.has("exp_year"):
		return d.valueErr(path+".exp_year", "payment_method.exp_year is required with exp_month")
	case present.has("exp_year") && !present.has("exp_month"):
		return d.valueErr(path+".exp_month", "payment_method.exp_month is required with exp_year")
	case present.has("exp_month"):
		// A card is valid through the last instant of its expiry month; acpgw
		// reckons the month in UTC.
		end := time.Date(year, time.Month(month)+1, 1, 0, 0, 0, 0, time.UTC)
		if !now.Before(end) {
			return d.valueErr(path+".exp_year", "payment_method is expired (exp_month/exp_year are in the past)")
		}
	}
	if present.has("cvc") {
		if n := len(c.CVC); n < 3 || n > 4 || !allDigits(c.CVC) {
			return d.valueErr(path+".cvc", "payment_method.cvc must be 3 or 4 digits")
		}
	}
	if present.has("iin") {
		if !allDigits(c.IIN) {
			return d.valueErr(path+".iin", "payment_method.iin must be digits")
		}
		// For a network token the IIN describes the underlying card, whose
		// range differs from the token's, so only an fpan is compared.
		if fpan && (len(c.IIN) > len(c.Number) || c.Number[:len(c.IIN)] != c.IIN) {
			return d.valueErr(path+".iin", "payment_method.iin does not match the card number")
		}
	}
	if present.has("display_last4") {
		if len(c.DisplayLast4) != 4 || !allDigits(c.DisplayLast4) {
			return d.valueErr(path+".display_last4", "payment_method.display_last4 must be exactly 4 digits")
		}
		// Same reasoning as the IIN: a network token's last four are not
		// the card's.
		if fpan && c.Number[len(c.Number)-4:] != c.DisplayLast4 {
			return d.valueErr(path+".display_last4", "payment_method.display_last4 does not match the card number")
		}
	}
	return nil
}

func twoDigits(n int) string {
	return string([]byte{byte('0' + n/10), byte('0' + n%10)})
}

func letters(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return s != ""
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'a' && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
