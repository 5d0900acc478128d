package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"acpgw/providers"
	"acpgw/providers/mock"
	"acpgw/providers/mock/mockhttp"
	"acpgw/tracing/otlptest"
)

// closedURL is an address on loopback where nothing listens: a
// connection there is refused before anything is sent.
func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

// TestTracePaymentWithFailover: one payment whose first processor refuses
// the connection and whose second captures it, sent with the caller's W3C
// traceparent, is exported to an OTLP/HTTP receiver as one trace: the
// server span under the caller's span, the payment's named steps, the
// routing decision, a store transaction under each write step, and one
// client span per processor call with its processor, attempt and outcome.
// The second processor gets the trace in its own traceparent. The
// payment's log line and latency exemplars carry the trace id, and no
// span holds card data, the token or a key.
func TestTracePaymentWithFailover(t *testing.T) {
	recv := otlptest.Start(t)
	refused := closedURL(t)
	bParent := make(chan string, 4)
	served := make(chan string, 16)
	var mu sync.Mutex
	h := newHarness(t, harnessOpts{
		tracing:        recv.Endpoint(),
		served:         served,
		processors:     "  mock: {type: mock}\n  a: {type: mock, timeout: 5s}\n  b: {type: mock, timeout: 5s}\n",
		acmeProcessors: "[a, b]",
		acmeRouting:    "{strategy: priority}",
		wrap: func(p providers.Provider) providers.Provider {
			m, ok := p.(*mock.Provider)
			if !ok || (m.Name() != "a" && m.Name() != "b") {
				return p
			}
			url := refused
			if m.Name() == "b" {
				inner := mockhttp.NewServer(m)
				srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					bParent <- r.Header.Get("traceparent")
					inner.ServeHTTP(w, r)
				}))
				t.Cleanup(srv.Close)
				url = srv.URL
			}
			mu.Lock()
			defer mu.Unlock()
			c, err := mockhttp.NewClient(mockhttp.ClientConfig{Name: m.Name(), URL: url, Timeout: 5 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { c.Close() })
			return c
		},
	})
	const card = "4242424242424242"
	tok := h.delegate(card, 1000)
	<-served

	const callerTrace, callerSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
	body, _ := json.Marshal(payBody(tok, 1000, "automatic"))
	hr, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/v1/payments", bytes.NewReader(body))
	hr.Header.Set("Authorization", "Bearer "+acmeKey)
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Idempotency-Key", newKey())
	hr.Header.Set("traceparent", "00-"+callerTrace+"-"+callerSpan+"-01")
	resp, err := http.DefaultClient.Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var pay struct{ ID, Status, Processor string }
	_ = json.Unmarshal(raw, &pay)
	if resp.StatusCode != http.StatusCreated || pay.Status != "captured" || pay.Processor != "b" {
		t.Fatalf("payment: %d %s", resp.StatusCode, raw)
	}
	<-served // the handler, and so the server span, has ended
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := h.tracing.ForceFlush(ctx); err != nil {
		t.Fatal(err)
	}
	all, ok := recv.Wait(ctx, func(s []otlptest.Span) bool { return len(otlptest.Trace(s, callerTrace)) >= 11 })
	spans := otlptest.Trace(all, callerTrace)
	if !ok {
		t.Fatalf("trace %s not received whole: %d spans\n%s", callerTrace, len(spans), otlptest.Tree(spans))
	}

	wantTree := `POST /v1/payments
  payment.prepare
  payment.intent
    store.tx
    routing.decide
  processor.authorize
  payment.failover
    store.tx
  processor.authorize
  payment.settle
    store.tx
`
	if got := otlptest.Tree(spans); got != wantTree {
		t.Fatalf("span tree:\n%s\nwant:\n%s", got, wantTree)
	}
	byName := map[string][]otlptest.Span{}
	for _, s := range spans {
		byName[s.Name] = append(byName[s.Name], s)
	}
	root := byName["POST /v1/payments"][0]
	wantAttrs(t, root, map[string]string{
		"http.route": "/v1/payments", "http.request.method": "POST", "http.response.status_code": "201",
		"acpgw.merchant_id": "acme",
	})
	if root.ParentSpanID != callerSpan || root.Kind.String() != "SPAN_KIND_SERVER" {
		t.Errorf("server span: parent %s kind %s, want the caller's span %s, server", root.ParentSpanID, root.Kind, callerSpan)
	}
	if root.Resource["service.name"] != "acpgw-test" {
		t.Errorf("resource %v", root.Resource)
	}
	wantAttrs(t, byName["routing.decide"][0], map[string]string{
		"acpgw.routing.strategy": "priority", "acpgw.routing.candidates": "a,b", "acpgw.payment_id": pay.ID,
	})
	if byName["routing.decide"][0].Attrs["acpgw.routing.reason"] == "" {
		t.Error("routing span without a reason")
	}
	for _, name := range []string{"payment.intent", "payment.failover", "payment.settle"} {
		wantAttrs(t, byName[name][0], map[string]string{"acpgw.payment_id": pay.ID})
	}
	for _, s := range byName["store.tx"] {
		wantAttrs(t, s, map[string]string{"db.system.name": "sqlite"})
	}
	calls := byName["processor.authorize"]
	wantAttrs(t, calls[0], map[string]string{
		"acpgw.processor": "a", "acpgw.processor.type": "mock", "acpgw.processor.operation": "authorize",
		"acpgw.attempt": "1", "acpgw.processor.outcome": "not_processed", "acpgw.payment_id": pay.ID,
	})
	if calls[0].StatusCode.String() != "STATUS_CODE_ERROR" || !strings.Contains(calls[0].StatusMessage, "did not process") {
		t.Errorf("refused call status %s %q, want an error naming its class", calls[0].StatusCode, calls[0].StatusMessage)
	}
	wantAttrs(t, calls[1], map[string]string{
		"acpgw.processor": "b", "acpgw.attempt": "2", "acpgw.processor.outcome": "captured",
	})
	if !strings.HasPrefix(calls[1].Attrs["acpgw.processor.request_id"], "req_") || calls[1].Attrs["acpgw.processor.reference"] == "" {
		t.Errorf("captured call without the processor's request id or reference: %v", calls[1].Attrs)
	}
	for _, c := range calls {
		if c.Kind.String() != "SPAN_KIND_CLIENT" {
			t.Errorf("%s kind %s, want client", c.Name, c.Kind)
		}
	}
	// b joined the trace: its traceparent names b's call span.
	if got, want := <-bParent, "00-"+callerTrace+"-"+calls[1].SpanID+"-01"; got != want {
		t.Errorf("processor b got traceparent %q, want %q", got, want)
	}

	// Nothing secret in any span of the run (the delegate_payment request
	// included): not the card, the CVC, the token, a key.
	secrets := []string{card, tok, agentKey, acmeKey, testVaultKy}
	if len(all) < len(spans)+1 {
		t.Fatalf("delegate_payment's trace missing: %d spans in all", len(all))
	}
	for _, s := range all {
		for _, m := range []map[string]string{s.Attrs, s.Resource} {
			for k, v := range m {
				lk := strings.ToLower(k)
				if strings.Contains(lk, "card") || strings.Contains(lk, "cvc") || strings.Contains(lk, "token") || v == "737" {
					t.Errorf("span %s: attribute %s=%q", s.Name, k, v)
				}
				for _, sec := range secrets {
					if strings.Contains(v, sec) {
						t.Errorf("span %s: attribute %s holds a secret", s.Name, k)
					}
				}
			}
		}
		text := s.Name + " " + s.StatusMessage + " " + strings.Join(s.Events, " ")
		for _, sec := range secrets {
			if strings.Contains(text, sec) {
				t.Errorf("span %s: name, status or event holds a secret: %s", s.Name, text)
			}
		}
	}

	// The payment's log line names the trace and a span of it.
	var logged bool
	for _, line := range strings.Split(h.logs.String(), "\n") {
		var l map[string]any
		if json.Unmarshal([]byte(line), &l) != nil || l["msg"] != "payment" {
			continue
		}
		logged = l["trace_id"] == callerTrace && l["span_id"] != ""
		if !logged {
			t.Errorf("payment log line without the trace: %s", line)
		}
	}
	if !logged {
		t.Error("no payment log line")
	}

	// The latency histograms' exemplars link to the trace, in OpenMetrics.
	mr, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/metrics", nil)
	mr.Header.Set("Accept", "application/openmetrics-text; version=1.0.0")
	mresp, err := http.DefaultClient.Do(mr)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(mresp.Body)
	mresp.Body.Close()
	for _, metric := range []string{`acpgw_http_request_duration_seconds_bucket{method="POST",route="/v1/payments"`,
		`acpgw_processor_request_duration_seconds_bucket{operation="authorize",outcome="captured",processor="b"`} {
		found := false
		for _, line := range strings.Split(string(text), "\n") {
			if strings.HasPrefix(line, metric) && strings.Contains(line, `# {trace_id="`+callerTrace+`"}`) {
				found = true
			}
		}
		if !found {
			t.Errorf("no exemplar with trace %s on %s", callerTrace, metric)
		}
	}
}

func wantAttrs(t *testing.T, s otlptest.Span, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if s.Attrs[k] != v {
			t.Errorf("span %s: %s = %q, want %q (all: %v)", s.Name, k, s.Attrs[k], v, s.Attrs)
		}
	}
}
