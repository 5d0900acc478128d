package receiver_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"acpgw/events"
	"acpgw/events/receiver"
)

const secret = "whsec_receiver_test_01"

func post(t *testing.T, url string, body []byte, sig string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+receiver.PathEvents, bytes.NewReader(body))
	req.Header.Set(events.SignatureHeader, sig)
	req.Header.Set("Acpgw-Delivery-Attempt", "1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestReceiver: signed deliveries are accepted and kept, forged ones
// refused; the control makes it fail or go down; all of it over HTTP, as
// tests of the binary use it.
func TestReceiver(t *testing.T) {
	srv := httptest.NewServer(receiver.New(receiver.Options{Secrets: []string{secret}}))
	defer srv.Close()
	body := []byte(`{"id":"evt_1","type":"payment.captured","data":{"payment":{"id":"pay_1","status":"captured"}}}`)
	now := time.Now()
	if got := post(t, srv.URL, body, events.Sign(body, now, secret)); got != http.StatusOK {
		t.Fatalf("signed delivery: %d", got)
	}
	if got := post(t, srv.URL, body, events.Sign(body, now, "whsec_forged_0000000000")); got != http.StatusBadRequest {
		t.Fatalf("forged delivery: %d", got)
	}
	if err := receiver.Send(t.Context(), srv.URL, receiver.Control{FailNext: 2, Status: 502}); err != nil {
		t.Fatal(err)
	}
	for i, want := range []int{502, 502, 200} {
		if got := post(t, srv.URL, body, events.Sign(body, now, secret)); got != want {
			t.Fatalf("delivery %d after fail_next 2: %d, want %d", i+1, got, want)
		}
	}
	down := true
	if err := receiver.Send(t.Context(), srv.URL, receiver.Control{Down: &down}); err != nil {
		t.Fatal(err)
	}
	if got := post(t, srv.URL, body, events.Sign(body, now, secret)); got != http.StatusServiceUnavailable {
		t.Fatalf("down: %d", got)
	}
	got, err := receiver.Fetch(t.Context(), srv.URL)
	if err != nil || len(got) != 6 {
		t.Fatalf("Fetch: %d deliveries, %v", len(got), err)
	}
	if d := got[0]; !d.Verified || d.ID != "evt_1" || d.Type != "payment.captured" || d.PaymentID != "pay_1" ||
		d.PaymentStatus != "captured" || d.Attempt != 1 || d.Status != 200 || d.Signatures != 1 {
		t.Errorf("first delivery %+v", d)
	}
	if d := got[1]; d.Verified || d.SignatureError == "" || d.Status != 400 {
		t.Errorf("forged delivery %+v", d)
	}
}
