package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
)

// The bare server is the ceiling for acpgw's POST /v1/payments: the same Gin
// engine, transport and JSON work (decode the request into a struct, encode a
// payment object of the same shape) with no auth, idempotency, token check,
// processor call or storage. Whatever acpgw spends beyond it is its own.

// bareRequest mirrors the fields acpgw decodes from POST /v1/payments.
type bareRequest struct {
	MerchantID        string            `json:"merchant_id"`
	CheckoutSessionID string            `json:"checkout_session_id"`
	Amount            int64             `json:"amount"`
	Currency          string            `json:"currency"`
	PaymentData       json.RawMessage   `json:"payment_data"`
	Capture           string            `json:"capture"`
	Metadata          map[string]string `json:"metadata"`
}

// barePayment has the shape of acpgw's payment response.
type barePayment struct {
	ID                 string            `json:"id"`
	Object             string            `json:"object"`
	Status             string            `json:"status"`
	MerchantID         string            `json:"merchant_id"`
	CheckoutSessionID  string            `json:"checkout_session_id"`
	Amount             int64             `json:"amount"`
	Currency           string            `json:"currency"`
	Capture            string            `json:"capture"`
	AmountCaptured     int64             `json:"amount_captured"`
	AmountRefunded     int64             `json:"amount_refunded"`
	Processor          string            `json:"processor"`
	ProcessorType      string            `json:"processor_type"`
	ProcessorReference *string           `json:"processor_reference"`
	Decline            *struct{}         `json:"decline"`
	Fee                bareFee           `json:"fee"`
	Routing            bareRouting       `json:"routing"`
	Attempts           []bareAttempt     `json:"attempts"`
	Refunds            []struct{}        `json:"refunds"`
	Metadata           map[string]string `json:"metadata"`
	CreatedAt          string            `json:"created_at"`
	UpdatedAt          string            `json:"updated_at"`
}

type bareFee struct {
	Estimated int64  `json:"estimated"`
	Actual    *int64 `json:"actual"`
	Currency  string `json:"currency"`
}

type bareRouting struct {
	Strategy   string   `json:"strategy"`
	Candidates []string `json:"candidates"`
	Reason     string   `json:"reason"`
}

type bareAttempt struct {
	Processor string `json:"processor"`
	Outcome   string `json:"outcome"`
	LatencyMS int64  `json:"latency_ms"`
}

// bareHandler returns the ceiling's Gin engine.
func bareHandler() http.Handler {
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	var seq atomic.Uint64
	e.GET("/healthz", func(c *gin.Context) { c.String(http.StatusOK, "ok\n") })
	e.POST("/v1/payments", func(c *gin.Context) {
		var in bareRequest
		// What c.ShouldBindJSON does, minus the validator pass acpgw
		// does not make either: encoding/json into a struct.
		if err := json.NewDecoder(c.Request.Body).Decode(&in); err != nil {
			c.JSON(http.StatusBadRequest, gin.H{"type": "invalid_request", "code": "invalid_json", "message": err.Error()})
			return
		}
		if in.MerchantID == "" || in.Amount <= 0 || in.Currency == "" || len(in.PaymentData) == 0 {
			c.JSON(http.StatusBadRequest, gin.H{"type": "invalid_request", "code": "missing", "message": "merchant_id, amount, currency and payment_data are required"})
			return
		}
		n := seq.Add(1)
		ref := "mock_" + strconv.FormatUint(n, 36)
		now := time.Now().UTC().Format(time.RFC3339)
		status := "authorized"
		if in.Capture == "automatic" {
			status = "captured"
		}
		captured := int64(0)
		if status == "captured" {
			captured = in.Amount
		}
		c.JSON(http.StatusCreated, barePayment{
			ID: "pay_bare" + strconv.FormatUint(n, 36), Object: "payment", Status: status,
			MerchantID: in.MerchantID, CheckoutSessionID: in.CheckoutSessionID,
			Amount: in.Amount, Currency: in.Currency, Capture: in.Capture, AmountCaptured: captured,
			Processor: "mock", ProcessorType: "mock", ProcessorReference: &ref,
			Fee:      bareFee{Estimated: in.Amount*29/1000 + 30, Currency: in.Currency},
			Routing:  bareRouting{Strategy: "priority", Candidates: []string{"mock"}, Reason: "first healthy"},
			Attempts: []bareAttempt{{Processor: "mock", Outcome: status}},
			Refunds:  []struct{}{}, Metadata: in.Metadata, CreatedAt: now, UpdatedAt: now,
		})
	})
	return e
}

// bareServerCommand serves the ceiling until SIGINT or SIGTERM.
func bareServerCommand(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("bare-server", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8090", "host:port to listen on")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           bareHandler(),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      10 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	fmt.Fprintf(stderr, "acpgw-load bare-server: listening on %s (POST /v1/payments)\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
