package acp

import (
	"encoding/base64"
	"regexp"
	"strings"

	"acpgw/payment"
)

// CodeAuthenticationFailed is the 422 code of a payment whose
// authentication_result says the buyer was not authenticated (rejected,
// denied, canceled, abandoned) or the authentication failed (internal_error,
// processing_error): acpgw does not charge the card with it.
const CodeAuthenticationFailed = "authentication_failed"

// ECI values of AuthenticationResult.outcome_details (2026-04-17).
var eciValues = []string{"01", "02", "05", "06", "07"}

// authenticationOutcomes is the outcome enum, in schema order.
var authenticationOutcomes = func() []string {
	out := make([]string, len(payment.AuthenticationOutcomes))
	for i, o := range payment.AuthenticationOutcomes {
		out[i] = string(o.Outcome)
	}
	return out
}()

var (
	authenticationFields = []string{"outcome", "outcome_details"}
	outcomeDetailFields  = []string{"three_ds_cryptogram", "electronic_commerce_indicator", "transaction_id", "version"}
	// threeDSVersionPattern is a 3-D Secure protocol version: 1.0.2, 2.2.0.
	threeDSVersionPattern = regexp.MustCompile(`^[0-9]{1,2}\.[0-9]{1,2}\.[0-9]{1,2}$`)
)

// Lengths of the outcome details. The schema sets none; acpgw bounds them
// as it bounds every string of its API, at the sizes the values have (a
// 20-byte cryptogram is 28 base64 characters, a dsTransID a 36-character
// UUID, an XID 28 characters).
const (
	cryptogramBytes     = 20
	maxTransactionIDLen = 64
)

// authentication decodes authentication_result, ACP's AuthenticationResult
// schema (openapi.agentic_checkout.yaml, 2026-04-17):
//
//   - outcome: required, one of the enum (400 otherwise);
//   - outcome_details: an object of exactly the four fields, all required
//     when present, and required itself for the outcomes authenticated,
//     informational and attempt_acknowledged (400);
//   - electronic_commerce_indicator: one of 01, 02, 05, 06, 07 (400).
//
// Then what the schema says in prose, as 422s: the cryptogram is base64 of
// 20 bytes, the transaction id is not empty, the version looks like 2.2.0.
// An outcome that must not be charged is a 422 authentication_failed. No
// message quotes the cryptogram.
func (d *decoder) authentication(v any, path string, sem *semantic) (*payment.Authentication, *Error) {
	o, err := d.object(v, path, authenticationFields, []string{"outcome"})
	if err != nil {
		return nil, err
	}
	a := &payment.Authentication{}
	s, _, err := d.enum(o, path, "outcome", authenticationOutcomes...)
	if err != nil {
		return nil, err
	}
	a.Outcome = payment.AuthenticationOutcome(s)
	info, _ := payment.LookupAuthenticationOutcome(a.Outcome)
	if dv, ok := o.get("outcome_details"); ok {
		if err := d.outcomeDetails(dv, child(path, "outcome_details"), a, sem); err != nil {
			return nil, err
		}
	} else if info.HasDetails {
		p := child(path, "outcome_details")
		return nil, Errorf(statusSchema, TypeInvalidRequest, d.codes.missing, p,
			"%s is required when outcome is %s", field(p), a.Outcome)
	}
	if !info.Chargeable {
		sem.set(Errorf(statusSemantic, TypeInvalidRequest, CodeAuthenticationFailed, child(path, "outcome"),
			"authentication_result.outcome is %s: the buyer was not authenticated, so acpgw does not charge the card; "+
				"authenticate the buyer again and pay with the new result", a.Outcome))
	}
	return a, nil
}

func (d *decoder) outcomeDetails(v any, path string, a *payment.Authentication, sem *semantic) *Error {
	o, err := d.object(v, path, outcomeDetailFields, outcomeDetailFields)
	if err != nil {
		return err
	}
	for _, k := range o.keys {
		p := child(path, k)
		var err *Error
		switch k {
		case "three_ds_cryptogram":
			a.Cryptogram, _, err = d.str(o, path, k, 0)
			if err == nil && !validCryptogram(a.Cryptogram) {
				sem.set(d.valueErr(p, "%s must be the base64 of 20 bytes (28 characters)", field(p)))
			}
		case "electronic_commerce_indicator":
			a.ECI, _, err = d.enum(o, path, k, eciValues...)
		case "transaction_id":
			a.TransactionID, _, err = d.str(o, path, k, maxTransactionIDLen)
			if err == nil && strings.TrimSpace(a.TransactionID) == "" {
				sem.set(d.valueErr(p, "%s must not be empty", field(p)))
			}
		case "version":
			a.Version, _, err = d.str(o, path, k, 0)
			if err == nil && !threeDSVersionPattern.MatchString(a.Version) {
				sem.set(d.valueErr(p, "%s must be a 3-D Secure version such as 2.2.0", field(p)))
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// validCryptogram reports whether s is standard base64 (with padding) of
// exactly 20 bytes, the size of a CAVV, AAV or AEVV.
func validCryptogram(s string) bool {
	if len(s) != base64.StdEncoding.EncodedLen(cryptogramBytes) {
		return false
	}
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	return err == nil && len(b) == cryptogramBytes
}
