package mockhttp_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"

	"acpgw/payment"
	"acpgw/providers"
	"acpgw/providers/mock"
	"acpgw/providers/mock/mockhttp"
)

// TestRequestIDAndTraceparent: answers carry the Server's Request-Id into
// Result.RequestID (and into a failed call's error), and a call made under
// a span sends that span as the W3C traceparent; one made without a span
// sends none.
func TestRequestIDAndTraceparent(t *testing.T) {
	t.Parallel()
	headers := make(chan string, 4)
	inner := mockhttp.NewServer(mock.New(mock.Config{Name: "m"}))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		headers <- r.Header.Get("traceparent")
		inner.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	c, err := mockhttp.NewClient(mockhttp.ClientConfig{Name: "m", URL: srv.URL, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })

	sc := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		SpanID:  trace.SpanID{1, 2, 3, 4, 5, 6, 7, 8}, TraceFlags: trace.FlagsSampled,
	})
	authorize := func(ctx context.Context, card, key string) (providers.Result, error) {
		return c.Authorize(ctx, providers.AuthorizeRequest{
			PaymentID: "pay_" + key, AttemptID: "att_" + key, IdempotencyKey: "acpgw_" + key + "_1", MerchantID: "acme",
			Amount: payment.Money{Amount: 1000, Currency: "usd"}, Capture: payment.CaptureAutomatic,
			Instrument: providers.Instrument{Kind: providers.TokenVault, Card: &payment.Card{
				NumberType: "fpan", Number: card, ExpMonth: 12, ExpYear: 2030, CVC: "123"}},
		})
	}
	res, err := authorize(trace.ContextWithSpanContext(context.Background(), sc), "4242424242424242", "a")
	if err != nil || !strings.HasPrefix(res.RequestID, "req_") {
		t.Fatalf("approved: %+v, %v; want a req_ RequestID", res, err)
	}
	if got, want := <-headers, "00-0102030405060708090a0b0c0d0e0f10-0102030405060708-01"; got != want {
		t.Errorf("traceparent %q, want %q", got, want)
	}
	_, err = authorize(context.Background(), "4000000000000119", "b")
	if id := providers.RequestIDOf(err); err == nil || !strings.HasPrefix(id, "req_") || id == res.RequestID {
		t.Fatalf("processor error %v: request id %q, want a new req_ id", err, id)
	}
	if got := <-headers; got != "" {
		t.Errorf("call without a span sent traceparent %q", got)
	}
}
