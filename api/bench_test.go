package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"
)

// BenchmarkPayEndToEnd is POST /v1/payments over real HTTP on loopback:
// auth, idempotency, token consumption, routing, the mock processor at zero
// latency and durable SQLite (WAL, synchronous=FULL). Tokens are issued
// before the timer starts. cmd/acpgw-load measures the same against the
// binary, beside a bare Gin ceiling.
func BenchmarkPayEndToEnd(b *testing.B) {
	h := newHarness(b, harnessOpts{})
	const tokens = 20000
	toks := make([]string, 0, tokens)
	for range tokens {
		toks = append(toks, h.delegate("4242424242424242", 1000))
	}
	bodies := make([][]byte, len(toks))
	for i, tok := range toks {
		bodies[i], _ = json.Marshal(payBody(tok, 1000, "automatic"))
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	var next atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := int(next.Add(1)-1) % len(bodies)
			req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/v1/payments", bytes.NewReader(bodies[i]))
			req.Header.Set("Authorization", "Bearer "+acmeKey)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", toks[i])
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated && i < tokens {
				b.Errorf("status %d", resp.StatusCode)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "payments/s")
}

// BenchmarkBareGin is the ceiling for BenchmarkPayEndToEnd: a bare Gin
// handler that decodes the same JSON and answers 201, over the same HTTP
// client and loopback.
func BenchmarkBareGin(b *testing.B) {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	type paymentData struct {
		Token    string `json:"token"`
		Provider string `json:"provider"`
	}
	type body struct {
		MerchantID        string            `json:"merchant_id"`
		CheckoutSessionID string            `json:"checkout_session_id"`
		Amount            int64             `json:"amount"`
		Currency          string            `json:"currency"`
		PaymentData       paymentData       `json:"payment_data"`
		Capture           string            `json:"capture"`
		Metadata          map[string]string `json:"metadata"`
	}
	e.POST("/v1/payments", func(c *gin.Context) {
		var in body
		if err := c.ShouldBindJSON(&in); err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"error": err.Error()})
			return
		}
		c.JSON(http.StatusCreated, gin.H{"id": "pay_x", "object": "payment", "status": "captured",
			"merchant_id": in.MerchantID, "amount": in.Amount, "currency": in.Currency})
	})
	srv := httptest.NewServer(e)
	defer srv.Close()
	raw, _ := json.Marshal(payBody("vt_0123456789abcdefghjkmnpqrs", 1000, "automatic"))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/payments", bytes.NewReader(raw))
			req.Header.Set("Content-Type", "application/json")
			resp, err := client.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				b.Errorf("status %d", resp.StatusCode)
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "requests/s")
}

// BenchmarkHandler is acpgw's request path without the network: requests
// go straight to the API's ServeHTTP (middleware, decoding, idempotency,
// the gateway, durable SQLite, the mock processor at zero latency),
// 16 at a time. Besides ns/op it reports cpu-us/op, the process's user and
// system CPU per request, which here is the server's alone (no HTTP client
// or connection in the process): the figure to compare, since wall time on
// a shared machine mostly says what else runs. Payments need one token
// each, issued before the timer starts; run with a fixed count:
//
//	go test ./api -run '^$' -bench Handler -benchtime 3000x -count 8
func BenchmarkHandler(b *testing.B) {
	b.Run("pay", func(b *testing.B) {
		h := newHarness(b, harnessOpts{})
		reqs := make([]handlerRequest, b.N)
		for i := range reqs {
			tok := h.delegate("4242424242424242", 1000)
			body, _ := json.Marshal(payBody(tok, 1000, "automatic"))
			reqs[i] = handlerRequest{path: "/v1/payments", key: acmeKey, idem: tok, body: body}
		}
		benchHandler(b, h, reqs)
	})
	b.Run("delegate", func(b *testing.B) {
		h := newHarness(b, harnessOpts{})
		reqs := make([]handlerRequest, b.N)
		for i := range reqs {
			body, _ := json.Marshal(delegateBody("4242424242424242", "acme", fmt.Sprintf("cs_%d", i), 1000, "usd"))
			reqs[i] = handlerRequest{path: "/agentic_commerce/delegate_payment", key: agentKey, idem: newKey(), body: body,
				version: "2026-04-17"}
		}
		benchHandler(b, h, reqs)
	})
}

// handlerRequest is one POST of BenchmarkHandler.
type handlerRequest struct {
	path, key, idem, version string
	body                     []byte
}

func benchHandler(b *testing.B, h *harness, reqs []handlerRequest) {
	var next atomic.Int64
	cpu0 := cpuTime()
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			r := reqs[next.Add(1)-1]
			req := httptest.NewRequest(http.MethodPost, r.path, bytes.NewReader(r.body))
			req.Header.Set("Authorization", "Bearer "+r.key)
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", r.idem)
			if r.version != "" {
				req.Header.Set("API-Version", r.version)
			}
			w := httptest.NewRecorder()
			h.api.ServeHTTP(w, req)
			if w.Code != http.StatusCreated {
				b.Errorf("%s: status %d: %s", r.path, w.Code, w.Body)
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-us/op")
}
