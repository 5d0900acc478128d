package acp

import (
	"net/http"
	"reflect"
	"slices"
	"testing"

	"acpgw/payment"
)

// apiCodeSet is every code DecodePaymentRequest and DecodeModifyRequest may
// return.
var apiCodeSet = []string{CodeInvalidRequest, CodeMissingField, CodeInvalidAmount, CodeInvalidCurrency, CodeTokenInvalid,
	CodeAuthenticationFailed}

func checkErr(t *testing.T, body []byte, err *Error, codes []string) {
	t.Helper()
	if err.Status != http.StatusBadRequest && err.Status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d", err.Status)
	}
	if err.Type != TypeInvalidRequest || !slices.Contains(codes, err.Code) || err.Message == "" {
		t.Fatalf("error outside the contract: %+v", err)
	}
	assertNoPAN(t, body, err)
}

func FuzzDecodeDelegateRequest(f *testing.F) {
	for _, b := range seedFiles(f, "delegate_") {
		for i := range Versions {
			f.Add(uint8(i), b)
		}
	}
	f.Fuzz(func(t *testing.T, version uint8, body []byte) {
		v := Versions[int(version)%len(Versions)]
		r, err := DecodeDelegateRequest(v, body, testNow)
		if err != nil {
			checkErr(t, body, err, DelegateErrorCodes[v])
			if !err.ValidDelegateError(v) {
				t.Fatalf("error outside the %s Error schema: %+v", v, err)
			}
			return
		}
		c := r.PaymentMethod
		if c.CardNumberType == "fpan" && !luhn(c.Number) || r.Allowance.MaxAmount <= 0 || !r.Allowance.ExpiresAt.After(testNow) {
			t.Fatalf("accepted an invalid request")
		}
		assertRoundTrip(t, v, r)
	})
}

func FuzzDecodePaymentRequest(f *testing.F) {
	for _, b := range seedFiles(f, "payment_") {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodePaymentRequest(body)
		if err != nil {
			checkErr(t, body, err, apiCodeSet)
			return
		}
		if kind, ok := KindOf(r.PaymentData.Token); !ok || kind != r.PaymentData.Kind || r.Amount <= 0 {
			t.Fatalf("accepted an invalid request: %+v", r)
		}
		if a := r.Authentication; a != nil {
			info, ok := payment.LookupAuthenticationOutcome(a.Outcome)
			if !ok || !info.Chargeable || (info.HasDetails && !validCryptogram(a.Cryptogram)) {
				t.Fatalf("accepted an authentication_result that must not be charged: %v", a)
			}
		}
		again, err := DecodePaymentRequest(encodePayment(r))
		if err != nil {
			t.Fatalf("re-encoded request rejected: %v", err)
		}
		if !again.PaymentData.DueDate.Equal(r.PaymentData.DueDate) {
			t.Fatal("due_date changed")
		}
		again.PaymentData.DueDate = r.PaymentData.DueDate
		if !reflect.DeepEqual(again, r) {
			t.Fatalf("round trip changed the request:\n%+v\n%+v", r, again)
		}
	})
}

func FuzzDecodeModifyRequest(f *testing.F) {
	for _, b := range seedFiles(f, "modify_") {
		f.Add(b)
	}
	f.Add([]byte(""))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := DecodeModifyRequest(body)
		if err != nil {
			checkErr(t, body, err, apiCodeSet)
			return
		}
		if r.Amount != nil && *r.Amount <= 0 {
			t.Fatalf("accepted amount %d", *r.Amount)
		}
	})
}
