package acp

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"acpgw/payment"
	"acpgw/threeds"
)

// Decoding of the Delegate Authentication API's two request bodies
// (openapi.delegate_authentication.yaml and schema.delegate_authentication.json
// of 2026-04-17, whose schemas are identical), with the decoder of
// jsonx.go. As for delegate_payment, a 400 means the body breaks the JSON
// syntax or the schema (unknown or missing field, wrong type, enum, length,
// pattern, format, the javascript_enabled condition), and a 422 means it is
// schema-valid but cannot be right: the rules of the RFC's section 9 (expiry
// month and year, positive amount, ISO codes) and acpgw's own (Luhn, expired
// card, known currency, lengths the schema leaves open). A schema error
// anywhere wins over a semantic one; among errors of one kind the first in
// the document is returned, field by field (payment_method's values are
// checked together once it has been read: number, month, year, name).
//
// The RFC's own example of a bad expiry is labelled 400; acpgw answers 422
// for it, as on delegate_payment, so that one status split holds on every
// ACP route. The OpenAPI document only says 4XX.
//
// Every error is type invalid_request with code invalid_card, the only
// input code of this API's Error enum; the spec's own error example uses it
// for a malformed field whatever the field. Messages never quote a value.

// authCodes: see the comment above.
var authCodes = errorCodes{schema: CodeInvalidCard, missing: CodeInvalidCard, value: CodeInvalidCard}

// Field lists in schema order.
var (
	authCreateFields = []string{"merchant_id", "acquirer_details", "payment_method", "amount", "channel",
		"checkout_session_id", "flow_preference", "challenge_notification_url", "shopper_details"}
	authCreateReq       = []string{"merchant_id", "payment_method", "amount"}
	authenticateFields  = []string{"fingerprint_completion", "channel", "checkout_session_id", "challenge_notification_url", "shopper_details"}
	authenticateReq     = []string{"fingerprint_completion"}
	acquirerFields      = []string{"acquirer_bin", "acquirer_country", "acquirer_merchant_id", "merchant_name", "requestor_id"}
	acquirerReq         = []string{"acquirer_bin", "acquirer_country", "acquirer_merchant_id", "merchant_name"}
	authCardFields      = []string{"type", "number", "exp_month", "exp_year", "name"}
	authAmountFields    = []string{"value", "currency"}
	channelFields       = []string{"type", "browser"}
	browserFields       = []string{"accept_header", "ip_address", "javascript_enabled", "language", "user_agent", "color_depth", "java_enabled", "screen_height", "screen_width", "timezone_offset"}
	browserReq          = []string{"accept_header", "ip_address", "javascript_enabled", "language", "user_agent"}
	browserJSReq        = []string{"color_depth", "java_enabled", "screen_height", "screen_width", "timezone_offset"}
	flowFields          = []string{"type", "challenge", "frictionless"}
	flowChallengeFields = []string{"type"}
	shopperFields       = []string{"name", "email", "phone_number", "address"}
	// authAddressLimits are the Address schema's maxLength keywords; state
	// has none there (acpgw bounds it as a 422, maxTextLength).
	authAddressLimits = addressLimits{name: 256, line: 60, city: 60, postal: 20}
)

// upperCurrency implements Amount.currency's pattern ^[A-Z]{3}$: upper
// case, unlike delegate_payment's allowance.currency.
func upperCurrency(s string) bool {
	return len(s) == 3 && upper(s) == s && letters(s)
}

// Bounds acpgw sets where the schema sets none (422 when exceeded): a
// session is stored and sent on to a 3DS Server, so no field is unbounded.
const (
	// maxTextLength bounds names and the address state (the Address
	// schema's own bound for a name).
	maxTextLength = 256
	// maxBrowserHeaderLength bounds accept_header and user_agent: EMV 3-D
	// Secure's browserAcceptHeader and browserUserAgent hold 2048
	// characters.
	maxBrowserHeaderLength = 2048
	// maxNotificationURLLength bounds challenge_notification_url, which
	// becomes the AReq's notificationURL (at most 256 characters in EMV
	// 3-D Secure).
	maxNotificationURLLength = 256
	// maxPhoneLength bounds phone_number: 15 digits of E.164 with room for
	// a plus sign, spaces and separators.
	maxPhoneLength = 32
	// maxSafeAmount is the largest amount.value: 2^53-1, the largest
	// integer every JSON parser reads exactly (RFC 7493, I-JSON). The
	// per-currency maximum the gateway applies to payments
	// (payment.MaxAmounts) is configuration the gateway checks, not acp.
	maxSafeAmount int64 = 1<<53 - 1
	// Ranges of what a browser reports: EMV 3-D Secure's
	// browserColorDepth values go up to 48 bits, its screen sizes have at
	// most six digits, and a time zone offset lies within 14 hours of UTC.
	maxColorDepth     = 48
	maxScreenSize     = 999_999
	maxTimezoneOffset = 14 * 60
)

// DecodeAuthCreateRequest decodes and validates a POST
// /delegate_authentication body (DelegateAuthenticationCreateRequest). See
// the comment at the top of authsession_decode.go for the statuses and the
// code; a card that has expired at the current time is a 422.
func DecodeAuthCreateRequest(body []byte) (AuthCreateRequest, *Error) {
	return ReadBody(body).DecodeAuthCreateRequest()
}

// DecodeAuthCreateRequest is DecodeAuthCreateRequest of the body.
func (b *Body) DecodeAuthCreateRequest() (AuthCreateRequest, *Error) {
	return b.DecodeAuthCreateRequestAt(time.Now())
}

// DecodeAuthenticateRequest decodes and validates a POST
// /delegate_authentication/{id}/authenticate body
// (DelegateAuthenticationAuthenticateRequest), with the statuses and code of
// DecodeAuthCreateRequest.
func DecodeAuthenticateRequest(body []byte) (AuthenticateRequest, *Error) {
	return ReadBody(body).DecodeAuthenticateRequest()
}

// DecodeAuthenticateRequest is DecodeAuthenticateRequest of the body.
func (b *Body) DecodeAuthenticateRequest() (AuthenticateRequest, *Error) {
	d := &decoder{codes: authCodes}
	root, err := d.root(b)
	if err != nil {
		return AuthenticateRequest{}, err
	}
	if err := d.fields(root, "$", authenticateFields, authenticateReq); err != nil {
		return AuthenticateRequest{}, err
	}
	var r AuthenticateRequest
	var sem semantic
	for _, k := range root.keys {
		var err *Error
		p := child("$", k)
		switch k {
		case "fingerprint_completion":
			var s string
			s, _, err = d.enum(root, "$", k, string(threeds.FingerprintCompleted), string(threeds.FingerprintTimedOut),
				string(threeds.FingerprintUnavailable))
			r.Fingerprint = threeds.FingerprintCompletion(s)
		case "channel":
			r.Browser, err = d.channel(root.val(k), p, &sem)
		case "checkout_session_id":
			r.CheckoutSessionID, err = d.authID(root, "$", k, &sem)
		case "challenge_notification_url":
			r.ChallengeNotificationURL, err = d.notificationURL(root, "$", k, &sem)
		case "shopper_details":
			r.Shopper, err = d.shopper(root.val(k), p, &sem)
		}
		if err != nil {
			return AuthenticateRequest{}, err
		}
	}
	if sem.first != nil {
		return AuthenticateRequest{}, sem.first
	}
	return r, nil
}

// DecodeAuthCreateRequestAt is DecodeAuthCreateRequest with the card's
// expiry reckoned at now, for callers with their own clock.
func DecodeAuthCreateRequestAt(body []byte, now time.Time) (AuthCreateRequest, *Error) {
	return ReadBody(body).DecodeAuthCreateRequestAt(now)
}

// DecodeAuthCreateRequestAt is DecodeAuthCreateRequestAt of the body.
func (b *Body) DecodeAuthCreateRequestAt(now time.Time) (AuthCreateRequest, *Error) {
	d := &decoder{codes: authCodes}
	root, err := d.root(b)
	if err != nil {
		return AuthCreateRequest{}, err
	}
	if err := d.fields(root, "$", authCreateFields, authCreateReq); err != nil {
		return AuthCreateRequest{}, err
	}
	var r AuthCreateRequest
	var sem semantic
	for _, k := range root.keys {
		var err *Error
		p := child("$", k)
		switch k {
		case "merchant_id":
			r.MerchantID, err = d.authID(root, "$", k, &sem)
		case "acquirer_details":
			r.Acquirer, err = d.acquirer(root.val(k), p, &sem)
		case "payment_method":
			r.Card, err = d.authCard(root.val(k), p, now, &sem)
		case "amount":
			r.Amount, err = d.authAmount(root.val(k), p, &sem)
		case "channel":
			r.Browser, err = d.channel(root.val(k), p, &sem)
		case "checkout_session_id":
			r.CheckoutSessionID, err = d.authID(root, "$", k, &sem)
		case "flow_preference":
			r.Flow, err = d.flow(root.val(k), p, &sem)
		case "challenge_notification_url":
			r.ChallengeNotificationURL, err = d.notificationURL(root, "$", k, &sem)
		case "shopper_details":
			r.Shopper, err = d.shopper(root.val(k), p, &sem)
		}
		if err != nil {
			return AuthCreateRequest{}, err
		}
	}
	if sem.first != nil {
		return AuthCreateRequest{}, sem.first
	}
	return r, nil
}

// authID reads an identifier the schema leaves unbounded (merchant_id,
// checkout_session_id): not empty and at most maxIDLength characters, as
// 422s.
func (d *decoder) authID(o *object, path, k string, sem *semantic) (string, *Error) {
	s, _, err := d.str(o, path, k, 0)
	if err != nil {
		return "", err
	}
	d.bound(s, child(path, k), maxIDLength, true, sem)
	return s, nil
}

// bound records a 422 when s is empty (and must not be) or longer than max
// characters.
func (d *decoder) bound(s, path string, max int, nonEmpty bool, sem *semantic) {
	switch {
	case nonEmpty && s == "":
		sem.set(d.valueErr(path, "%s must not be empty", field(path)))
	case utf8.RuneCountInString(s) > max:
		sem.set(d.valueErr(path, "%s must be at most %d characters", field(path), max))
	}
}

func (d *decoder) acquirer(v any, path string, sem *semantic) (*threeds.Acquirer, *Error) {
	o, err := d.object(v, path, acquirerFields, acquirerReq)
	if err != nil {
		return nil, err
	}
	a := &threeds.Acquirer{}
	for _, k := range o.keys {
		p := child(path, k)
		var err *Error
		switch k {
		case "acquirer_bin":
			if a.BIN, _, err = d.str(o, path, k, 11); err == nil && !allDigits(a.BIN) {
				sem.set(d.valueErr(p, "%s must be digits", field(p)))
			}
		case "acquirer_country":
			a.Country, err = d.country(o, path, k, sem)
		case "acquirer_merchant_id":
			if a.MerchantID, _, err = d.str(o, path, k, 35); err == nil {
				d.bound(a.MerchantID, p, 35, true, sem)
			}
		case "merchant_name":
			if a.MerchantName, _, err = d.str(o, path, k, 40); err == nil {
				d.bound(a.MerchantName, p, 40, true, sem)
			}
		case "requestor_id":
			if a.RequestorID, _, err = d.str(o, path, k, 35); err == nil {
				d.bound(a.RequestorID, p, 35, true, sem)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	return a, nil
}

// country reads an ISO 3166-1 alpha-2 code: exactly two characters is the
// schema's rule (400); two ASCII letters is the RFC's (422). It is
// returned in upper case. acpgw keeps no list of assigned codes.
func (d *decoder) country(o *object, path, k string, sem *semantic) (string, *Error) {
	s, _, err := d.str(o, path, k, 2)
	if err != nil {
		return "", err
	}
	p := child(path, k)
	if utf8.RuneCountInString(s) != 2 {
		return "", d.schemaErr(p, "%s must be exactly 2 characters (ISO 3166-1 alpha-2)", field(p))
	}
	if !letters(s) {
		sem.set(d.valueErr(p, "%s must be an ISO 3166-1 alpha-2 code", field(p)))
	}
	return upper(s), nil
}

// withExpiry is what cardSemantics is told of a card whose exp_month and
// exp_year the schema requires: both are there.
var withExpiry = &object{keys: []string{"exp_month", "exp_year"}, vals: []any{"", ""}}

// authCard reads payment_method into a payment.Card (fpan, no CVC: the
// schema has none). The number, exp_month and exp_year get the rules of a
// delegate_payment fpan (cardSemantics: 12 to 19 digits, Luhn, a four-digit
// year, not expired at now), with the RFC's stricter month: exactly "01" to
// "12" (delegate_payment also takes "1" to "9").
func (d *decoder) authCard(v any, path string, now time.Time, sem *semantic) (payment.Card, *Error) {
	o, err := d.object(v, path, authCardFields, authCardFields)
	if err != nil {
		return payment.Card{}, err
	}
	c := Card{Type: "card", CardNumberType: "fpan"}
	for _, k := range o.keys {
		var err *Error
		switch k {
		case "type":
			_, _, err = d.enum(o, path, k, "card")
		case "number":
			c.Number, _, err = d.str(o, path, k, 0)
		case "exp_month":
			c.ExpMonth, _, err = d.str(o, path, k, 2)
		case "exp_year":
			c.ExpYear, _, err = d.str(o, path, k, 4)
		case "name":
			c.Name, _, err = d.str(o, path, k, 0)
		}
		if err != nil {
			return payment.Card{}, err
		}
	}
	// cardSemantics checks the number, then the month, then the year; the
	// RFC's two-digit month goes in before its month check, so that "3" is
	// refused where cardSemantics would take it.
	var monthErr *Error
	if len(c.ExpMonth) != 2 {
		monthErr = d.valueErr(path+".exp_month", "payment_method.exp_month must be a month from 01 to 12")
	}
	err = d.cardSemantics(&c, withExpiry, path, now)
	switch {
	case err != nil && err.Param == path+".number":
		sem.set(err)
	case monthErr != nil:
		sem.set(monthErr)
	case err != nil:
		sem.set(err)
	}
	if err != nil || monthErr != nil {
		return payment.Card{}, nil
	}
	d.bound(c.Name, path+".name", maxTextLength, false, sem)
	month, _ := strconv.Atoi(c.ExpMonth)
	year, _ := strconv.Atoi(c.ExpYear)
	return payment.Card{NumberType: "fpan", Number: c.Number, ExpMonth: month, ExpYear: year, Name: c.Name}, nil
}

// authAmount reads amount: value an integer (400 for a fraction, 10.0 is
// 10) that is positive and at most maxSafeAmount (422); currency three
// upper-case letters (400) that acpgw knows (422). The Money's currency is
// lower case, as everywhere in acpgw.
func (d *decoder) authAmount(v any, path string, sem *semantic) (payment.Money, *Error) {
	o, err := d.object(v, path, authAmountFields, authAmountFields)
	if err != nil {
		return payment.Money{}, err
	}
	var m payment.Money
	for _, k := range o.keys {
		p := child(path, k)
		switch k {
		case "value":
			n, _, rangeErr, err := d.integer(o, path, k)
			if err != nil {
				return payment.Money{}, err
			}
			if rangeErr || n <= 0 || n > maxSafeAmount {
				sem.set(d.valueErr(p, "%s must be a positive integer of minor units, at most 2^53-1", field(p)))
			}
			m.Amount = n
		case "currency":
			s, _, err := d.str(o, path, k, 0)
			if err != nil {
				return payment.Money{}, err
			}
			if !upperCurrency(s) {
				return payment.Money{}, d.schemaErr(p, "%s must be an upper-case 3-letter ISO 4217 code", field(p))
			}
			m.Currency = strings.ToLower(s)
			if !payment.ValidCurrency(m.Currency) {
				sem.set(d.valueErr(p, "%s is not an ISO 4217 currency acpgw supports", field(p)))
			}
		}
	}
	return m, nil
}

// channel reads channel: type browser and its browser object.
func (d *decoder) channel(v any, path string, sem *semantic) (*threeds.Browser, *Error) {
	o, err := d.object(v, path, channelFields, channelFields)
	if err != nil {
		return nil, err
	}
	var b *threeds.Browser
	for _, k := range o.keys {
		var err *Error
		switch k {
		case "type":
			_, _, err = d.enum(o, path, k, "browser")
		case "browser":
			b, err = d.browser(o.val(k), child(path, k), sem)
		}
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}

// browser reads BrowserInfo. Its if/then (javascript_enabled true requires
// the five screen fields) is a schema rule: a missing one is a 400 at its
// path, as for any required field.
func (d *decoder) browser(v any, path string, sem *semantic) (*threeds.Browser, *Error) {
	o, err := d.object(v, path, browserFields, browserReq)
	if err != nil {
		return nil, err
	}
	b := &threeds.Browser{}
	for _, k := range o.keys {
		p := child(path, k)
		var err *Error
		switch k {
		case "accept_header":
			if b.AcceptHeader, _, err = d.str(o, path, k, 0); err == nil {
				d.bound(b.AcceptHeader, p, maxBrowserHeaderLength, true, sem)
			}
		case "ip_address":
			if b.IPAddress, _, err = d.str(o, path, k, 45); err == nil {
				if a, perr := netip.ParseAddr(b.IPAddress); perr != nil || a.Zone() != "" {
					sem.set(d.valueErr(p, "%s must be an IPv4 or IPv6 address", field(p)))
				}
			}
		case "javascript_enabled":
			var js *bool
			js, err = d.boolean(o, path, k)
			if js != nil {
				b.JavaScriptEnabled = *js
			}
		case "language":
			if b.Language, _, err = d.str(o, path, k, 35); err == nil && !languageTag(b.Language) {
				sem.set(d.valueErr(p, "%s must be a BCP 47 language tag such as en-US", field(p)))
			}
		case "user_agent":
			if b.UserAgent, _, err = d.str(o, path, k, 0); err == nil {
				d.bound(b.UserAgent, p, maxBrowserHeaderLength, true, sem)
			}
		case "color_depth":
			b.ColorDepth, err = d.smallInt(o, path, k, 1, maxColorDepth, sem)
		case "java_enabled":
			b.JavaEnabled, err = d.boolean(o, path, k)
		case "screen_height":
			b.ScreenHeight, err = d.smallInt(o, path, k, 0, maxScreenSize, sem)
		case "screen_width":
			b.ScreenWidth, err = d.smallInt(o, path, k, 0, maxScreenSize, sem)
		case "timezone_offset":
			b.TimezoneOffset, err = d.smallInt(o, path, k, -maxTimezoneOffset, maxTimezoneOffset, sem)
		}
		if err != nil {
			return nil, err
		}
	}
	if b.JavaScriptEnabled {
		for _, k := range browserJSReq {
			if _, ok := o.get(k); !ok {
				p := child(path, k)
				return nil, Errorf(statusSchema, TypeInvalidRequest, d.codes.missing, p,
					"%s is required when javascript_enabled is true", field(p))
			}
		}
	}
	return b, nil
}

// smallInt reads an integer that must lie in [lo, hi] (422 outside).
func (d *decoder) smallInt(o *object, path, k string, lo, hi int, sem *semantic) (*int, *Error) {
	n, _, rangeErr, err := d.integer(o, path, k)
	if err != nil {
		return nil, err
	}
	if rangeErr || n < int64(lo) || n > int64(hi) {
		p := child(path, k)
		sem.set(d.valueErr(p, "%s must be from %d to %d", field(p), lo, hi))
		return nil, nil
	}
	i := int(n)
	return &i, nil
}

// languageTag reports whether s looks like a BCP 47 tag: subtags of one to
// eight ASCII letters or digits joined by hyphens, the first of letters.
func languageTag(s string) bool {
	for i, sub := range strings.Split(s, "-") {
		if len(sub) < 1 || len(sub) > 8 || (i == 0 && !letters(sub)) {
			return false
		}
		for j := 0; j < len(sub); j++ {
			c := sub[j]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
				return false
			}
		}
	}
	return true
}

// flow reads flow_preference. The schema lets challenge and frictionless
// details sit beside either type; acpgw refuses details of the other type
// (422), which could only be a mistake.
func (d *decoder) flow(v any, path string, sem *semantic) (*threeds.Flow, *Error) {
	o, err := d.object(v, path, flowFields, []string{"type"})
	if err != nil {
		return nil, err
	}
	f := &threeds.Flow{}
	for _, k := range o.keys {
		p := child(path, k)
		var err *Error
		switch k {
		case "type":
			f.Type, _, err = d.enum(o, path, k, "challenge", "frictionless")
		case "challenge":
			var c *object
			if c, err = d.object(o.val(k), p, flowChallengeFields, nil); err == nil {
				f.Challenge, _, err = d.enum(c, p, "type", "mandated", "preferred")
			}
		case "frictionless":
			_, err = d.object(o.val(k), p, nil, nil)
		}
		if err != nil {
			return nil, err
		}
	}
	for _, k := range []string{"challenge", "frictionless"} {
		if _, ok := o.get(k); ok && k != f.Type {
			p := child(path, k)
			sem.set(d.valueErr(p, "%s is only allowed with type %s", field(p), k))
		}
	}
	return f, nil
}

// notificationURL reads challenge_notification_url: an absolute URI (the
// schema's format, 400) whose scheme is http or https and which has a host
// (422: the ACS posts the challenge result there from the browser).
func (d *decoder) notificationURL(o *object, path, k string, sem *semantic) (string, *Error) {
	s, _, err := d.str(o, path, k, 0)
	if err != nil {
		return "", err
	}
	p := child(path, k)
	u, perr := url.Parse(s)
	if perr != nil || !u.IsAbs() {
		return "", d.schemaErr(p, "%s must be an absolute URL", field(p))
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		sem.set(d.valueErr(p, "%s must be an http or https URL", field(p)))
	case u.Host == "" || u.Opaque != "":
		sem.set(d.valueErr(p, "%s must name a host", field(p)))
	default:
		d.bound(s, p, maxNotificationURLLength, true, sem)
	}
	return s, nil
}

func (d *decoder) shopper(v any, path string, sem *semantic) (*threeds.Shopper, *Error) {
	o, err := d.object(v, path, shopperFields, nil)
	if err != nil {
		return nil, err
	}
	s := &threeds.Shopper{}
	for _, k := range o.keys {
		p := child(path, k)
		var err *Error
		switch k {
		case "name":
			if s.Name, _, err = d.str(o, path, k, 0); err == nil {
				d.bound(s.Name, p, maxTextLength, false, sem)
			}
		case "email":
			if s.Email, _, err = d.str(o, path, k, 0); err == nil && !emailAddress(s.Email) {
				err = d.schemaErr(p, "%s must be an email address", field(p))
			}
		case "phone_number":
			if s.Phone, _, err = d.str(o, path, k, 0); err == nil && !phoneNumber(s.Phone) {
				sem.set(d.valueErr(p, "%s must be a phone number of digits, at most %d characters", field(p), maxPhoneLength))
			}
		case "address":
			s.Address, err = d.shopperAddress(o.val(k), p, sem)
		}
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (d *decoder) shopperAddress(v any, path string, sem *semantic) (*threeds.Address, *Error) {
	a, err := d.address(v, path, authAddressLimits)
	if err != nil {
		return nil, err
	}
	d.bound(a.State, path+".state", maxTextLength, false, sem)
	if !letters(a.Country) {
		sem.set(d.valueErr(path+".country", "%s.country must be an ISO 3166-1 alpha-2 code", field(path)))
	}
	return &threeds.Address{Name: a.Name, LineOne: a.LineOne, LineTwo: a.LineTwo, City: a.City, State: a.State,
		Country: upper(a.Country), PostalCode: a.PostalCode}, nil
}

// phoneNumber reports whether s is a plausible phone number: digits with
// an optional leading plus and the usual separators, at least four digits
// and at most maxPhoneLength characters.
func phoneNumber(s string) bool {
	if len(s) > maxPhoneLength {
		return false
	}
	digits := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '+' && i == 0, c == ' ', c == '-', c == '(', c == ')', c == '.':
		default:
			return false
		}
	}
	return digits >= 4
}

// emailAddress implements the schema's format "email" (RFC 5321 mailbox,
// as JSON Schema 2020-12 defines it): at most 254 characters, a local part
// of at most 64 that is a dot-atom or a quoted string without backslash or
// quote, "@", and a host name or a bracketed IPv4 or "IPv6:" address.
func emailAddress(s string) bool {
	if len(s) > 254 {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 {
		return false
	}
	local, domain := s[:at], s[at+1:]
	if len(local) > 64 || !mailLocal(local) {
		return false
	}
	if lit, ok := strings.CutPrefix(domain, "["); ok {
		lit, ok = strings.CutSuffix(lit, "]")
		if !ok {
			return false
		}
		if v6, isV6 := strings.CutPrefix(lit, "IPv6:"); isV6 {
			a, err := netip.ParseAddr(v6)
			return err == nil && a.Is6() && a.Zone() == ""
		}
		a, err := netip.ParseAddr(lit)
		return err == nil && a.Is4()
	}
	return hostName(domain)
}

func mailLocal(s string) bool {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return !strings.ContainsAny(s[1:len(s)-1], `\"`)
	}
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(".!#$%&'*+-/=?^_`{|}~", c) >= 0) {
			return false
		}
	}
	return true
}

// hostName reports whether s is an RFC 1123 host name: labels of 1 to 63
// letters, digits and inner hyphens, at most 253 characters without the
// optional final dot.
func hostName(s string) bool {
	s = strings.TrimSuffix(s, ".")
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if len(label) < 1 || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}
