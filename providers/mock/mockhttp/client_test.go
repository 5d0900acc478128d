package mockhttp_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"acpgw/payment"
	"acpgw/providers"
	"acpgw/providers/mock"
	"acpgw/providers/mock/mockhttp"
)

// Deadlines of the classification tests. A call expected to time out gets
// the short callDeadline, which is what it tests; every other call gets the
// generous answerDeadline, so that a slow TLS handshake or connect on a
// loaded machine under -race is not mistaken for a timeout.
const (
	callDeadline   = 300 * time.Millisecond
	answerDeadline = 30 * time.Second
	// timeoutSlack is how long after callDeadline a call may take to give
	// up; far below the client's own DefaultTimeout.
	timeoutSlack = 5 * time.Second
)

// faultServer is a raw TCP server that treats each connection with handle,
// to produce failures an HTTP server would not.
type faultServer struct {
	ln       net.Listener
	conns    atomic.Int32
	requests atomic.Int32
	wg       sync.WaitGroup
}

func newFaultServer(t *testing.T, handle func(f *faultServer, conn net.Conn)) *faultServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &faultServer{ln: ln}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	f.wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			f.conns.Add(1)
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
			f.wg.Go(func() {
				defer conn.Close()
				handle(f, conn)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		f.wg.Wait()
	})
	return f
}

func (f *faultServer) url() string { return "http://" + f.ln.Addr().String() }

// readRequest reads one whole request, body included, and counts it.
func (f *faultServer) readRequest(r *bufio.Reader) bool {
	req, err := http.ReadRequest(r)
	if err != nil {
		return false
	}
	if _, err := io.Copy(io.Discard, req.Body); err != nil {
		return false
	}
	f.requests.Add(1)
	return true
}

// resetClose closes conn with SO_LINGER 0, so that the peer sees a reset.
func resetClose(conn net.Conn) {
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}

// waitClosed blocks until the peer closes conn.
func waitClosed(conn net.Conn) { _, _ = io.Copy(io.Discard, conn) }

// answerWith reads one request and writes raw as the whole answer, then
// waits for the client to hang up.
func answerWith(raw string) func(*faultServer, net.Conn) {
	return func(f *faultServer, conn net.Conn) {
		r := bufio.NewReader(conn)
		if !f.readRequest(r) {
			return
		}
		_, _ = io.WriteString(conn, raw)
		waitClosed(conn)
	}
}

func jsonAnswer(status int, body string) string {
	return fmt.Sprintf("HTTP/1.1 %d %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
		status, http.StatusText(status), len(body), body)
}

// errClass names the class of err.
func errClass(err error) string {
	switch {
	case err == nil:
		return "result"
	case errors.Is(err, providers.ErrOutcomeUnknown):
		return "outcome_unknown"
	case errors.Is(err, providers.ErrNotProcessed):
		return "not_processed"
	case errors.Is(err, providers.ErrRejected):
		return "rejected"
	}
	return "unclassified"
}

const approveNumber = "4242424242424242"

func authReq(key string) providers.AuthorizeRequest {
	c := card(approveNumber)
	return providers.AuthorizeRequest{
		PaymentID: "pay_" + key, AttemptID: "att_" + key, IdempotencyKey: "acpgw_pay_" + key + "_1", MerchantID: "acme",
		Amount: payment.Money{Amount: 2599, Currency: "usd"}, Capture: payment.CaptureAutomatic,
		Instrument: providers.Instrument{Kind: providers.TokenVault, Card: &c},
	}
}

func newClient(t *testing.T, url string) *mockhttp.Client {
	t.Helper()
	c, err := mockhttp.NewClient(mockhttp.ClientConfig{Name: "faulty", URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// TestClassification drives the Client into every failure of the
// classification rules against raw TCP servers and checks the class, the
// code, that a timeout took about the deadline, and that no error carries
// the card number.
func TestClassification(t *testing.T) {
	okBody := `{"status":"captured","reference":"mock_ch_1","fee":{"amount":105,"currency":"usd"}}`
	for _, tc := range []struct {
		name string
		// url returns the address to call; it may start a fault server.
		// answered is closed once the client has the first byte of an
		// answer.
		url       func(t *testing.T, answered <-chan struct{}) string
		wantClass string
		wantCode  string
		// slow: the call is expected to wait out the deadline.
		slow bool
	}{
		{name: "connection_refused", wantClass: "not_processed", wantCode: "connection_refused", url: func(t *testing.T, _ <-chan struct{}) string {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			addr := ln.Addr().String()
			ln.Close()
			return "http://" + addr
		}},
		{name: "dns_failure", wantClass: "not_processed", url: func(*testing.T, <-chan struct{}) string {
			return "http://processor.acpgw-test.invalid:8080"
		}},
		{name: "tls_untrusted_certificate", wantClass: "not_processed", wantCode: "tls", url: func(t *testing.T, _ <-chan struct{}) string {
			p := mock.New(mock.Config{})
			srv := httptest.NewUnstartedServer(mockhttp.NewServer(p))
			srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshake is the point
			srv.StartTLS()
			t.Cleanup(func() {
				srv.Close()
				if n := p.Calls(providers.OpAuthorize); n != 0 {
					t.Errorf("the mock behind a failed TLS handshake got %d calls", n)
				}
			})
			return srv.URL
		}},
		{name: "tls_to_plain_server", wantClass: "not_processed", url: func(t *testing.T, _ <-chan struct{}) string {
			f := newFaultServer(t, func(_ *faultServer, conn net.Conn) {
				_, _ = io.WriteString(conn, "HTTP/1.1 400 Bad Request\r\n\r\n")
			})
			return strings.Replace(f.url(), "http://", "https://", 1)
		}},
		{name: "accept_never_read", wantClass: "outcome_unknown", wantCode: "timeout", slow: true, url: func(t *testing.T, _ <-chan struct{}) string {
			// The request fits the socket buffers: it is written, and the
			// processor could still read and act on it.
			return newFaultServer(t, func(_ *faultServer, conn net.Conn) { waitClosed(conn) }).url()
		}},
		{name: "read_then_hang", wantClass: "outcome_unknown", wantCode: "timeout", slow: true, url: func(t *testing.T, _ <-chan struct{}) string {
			return newFaultServer(t, func(f *faultServer, conn net.Conn) {
				if f.readRequest(bufio.NewReader(conn)) {
					waitClosed(conn)
				}
			}).url()
		}},
		{name: "read_then_reset", wantClass: "outcome_unknown", url: func(t *testing.T, _ <-chan struct{}) string {
			return newFaultServer(t, func(f *faultServer, conn net.Conn) {
				if f.readRequest(bufio.NewReader(conn)) {
					resetClose(conn)
				}
			}).url()
		}},
		{name: "read_then_close", wantClass: "outcome_unknown", wantCode: "eof", url: func(t *testing.T, _ <-chan struct{}) string {
			return newFaultServer(t, func(f *faultServer, conn net.Conn) {
				f.readRequest(bufio.NewReader(conn))
			}).url()
		}},
		{name: "headers_cut_short", wantClass: "outcome_unknown", url: func(t *testing.T, _ <-chan struct{}) string {
			return newFaultServer(t, func(f *faultServer, conn net.Conn) {
				if f.readRequest(bufio.NewReader(conn)) {
					_, _ = io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Type: applica")
				}
			}).url()
		}},
		{name: "body_cut_short", wantClass: "outcome_unknown", url: func(t *testing.T, _ <-chan struct{}) string {
			return newFaultServer(t, func(f *faultServer, conn net.Conn) {
				if f.readRequest(bufio.NewReader(conn)) {
					_, _ = fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(okBody), okBody[:10])
				}
			}).url()
		}},
		{name: "body_reset", wantClass: "outcome_unknown", url: func(t *testing.T, answered <-chan struct{}) string {
			return newFaultServer(t, func(f *faultServer, conn net.Conn) {
				if f.readRequest(bufio.NewReader(conn)) {
					_, _ = fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(okBody), okBody[:10])
					// Reset once the client reads the answer, so that the
					// reset cuts its body rather than its status line.
					select {
					case <-answered:
					case <-t.Context().Done():
					}
					resetClose(conn)
				}
			}).url()
		}},
		{name: "slow_body", wantClass: "outcome_unknown", wantCode: "timeout", slow: true, url: func(t *testing.T, _ <-chan struct{}) string {
			return newFaultServer(t, func(f *faultServer, conn net.Conn) {
				if !f.readRequest(bufio.NewReader(conn)) {
					return
				}
				_, _ = fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(okBody))
				for i := range len(okBody) {
					if _, err := conn.Write([]byte{okBody[i]}); err != nil {
						return
					}
					time.Sleep(50 * time.Millisecond) // paces the fault (~4 s in all); synchronises nothing
				}
			}).url()
		}},
		{name: "status_500", wantClass: "outcome_unknown", wantCode: "internal_error",
			url: rawURL(jsonAnswer(500, `{"code":"internal_error","message":"boom"}`))},
		{name: "status_502", wantClass: "outcome_unknown", wantCode: "502", url: rawURL(jsonAnswer(502, ``))},
		{name: "status_504", wantClass: "outcome_unknown", wantCode: "504", url: rawURL(jsonAnswer(504, `<html>gateway timeout</html>`))},
		{name: "status_503_not_processed", wantClass: "not_processed", wantCode: "processing_error",
			url: rawURL(jsonAnswer(503, `{"code":"processing_error","message":"nothing charged","processed":false}`))},
		{name: "status_503_without_promise", wantClass: "outcome_unknown", wantCode: "503",
			url: rawURL(jsonAnswer(503, `Service Unavailable`))},
		{name: "status_503_processed_true", wantClass: "outcome_unknown", wantCode: "busy",
			url: rawURL(jsonAnswer(503, `{"code":"busy","processed":true}`))},
		{name: "status_400_not_processed", wantClass: "not_processed", wantCode: "invalid_request",
			url: rawURL(jsonAnswer(400, `{"code":"invalid_request","processed":false}`))},
		{name: "status_409", wantClass: "rejected", wantCode: "amount_too_large",
			url: rawURL(jsonAnswer(409, `{"code":"amount_too_large","message":"refund above captured"}`))},
		{name: "status_404", wantClass: "outcome_unknown", wantCode: "404", url: rawURL(jsonAnswer(404, `not found`))},
		{name: "status_302_not_followed", wantClass: "outcome_unknown", wantCode: "302",
			url: rawURL("HTTP/1.1 302 Found\r\nLocation: /elsewhere\r\nContent-Length: 0\r\n\r\n")},
		{name: "status_200_garbage", wantClass: "outcome_unknown", wantCode: "bad_response", url: rawURL(jsonAnswer(200, `{"status":`))},
		{name: "status_200_no_status", wantClass: "outcome_unknown", wantCode: "bad_response", url: rawURL(jsonAnswer(200, `{}`))},
		{name: "status_200", wantClass: "result", url: rawURL(jsonAnswer(200, okBody))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			answered := make(chan struct{})
			c := newClient(t, tc.url(t, answered))
			deadline := answerDeadline
			if tc.slow {
				deadline = callDeadline
			}
			ctx, cancel := context.WithTimeout(t.Context(), deadline)
			defer cancel()
			var once sync.Once
			ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
				GotFirstResponseByte: func() { once.Do(func() { close(answered) }) },
			})
			began := time.Now()
			res, err := c.Authorize(ctx, authReq(tc.name))
			took := time.Since(began)
			if got := errClass(err); got != tc.wantClass {
				t.Fatalf("class %s (result %+v, error %v), want %s", got, res, err, tc.wantClass)
			}
			if err != nil {
				var pe *providers.Error
				if !errors.As(err, &pe) {
					t.Fatalf("error %v is not a *providers.Error", err)
				}
				if tc.wantCode != "" && pe.Code != tc.wantCode {
					t.Errorf("code %q, want %q (error %v)", pe.Code, tc.wantCode, err)
				}
				if strings.Contains(err.Error(), approveNumber) {
					t.Error("the error contains the card number")
				}
				if res != (providers.Result{}) {
					t.Errorf("an error came with a result %+v", res)
				}
			} else if res.Status != payment.StatusCaptured || res.Reference != "mock_ch_1" || res.Fee == nil || res.Fee.Amount != 105 {
				t.Errorf("result %+v", res)
			}
			if tc.slow && took < callDeadline-20*time.Millisecond {
				t.Errorf("gave up after %s, before the %s deadline", took, callDeadline)
			}
			if tc.slow && took > callDeadline+timeoutSlack {
				t.Errorf("took %s, far past the %s deadline", took, callDeadline)
			}
		})
	}
}

// rawURL starts a fault server answering every request with raw.
func rawURL(raw string) func(*testing.T, <-chan struct{}) string {
	return func(t *testing.T, _ <-chan struct{}) string { return newFaultServer(t, answerWith(raw)).url() }
}

// TestServerMapping checks the Server's answers to the mock's outcomes,
// read with a plain HTTP client.
func TestServerMapping(t *testing.T) {
	t.Parallel()
	p := mock.New(mock.Config{Name: "m"})
	srv := httptest.NewServer(mockhttp.NewServer(p))
	t.Cleanup(srv.Close)
	post := func(path, body string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	auth := func(number, key string) string {
		return fmt.Sprintf(`{"payment_id":"pay_%s","idempotency_key":"%s","amount":1000,"currency":"usd","capture":"manual",
			"instrument":{"kind":"vault","card":{"number":%q,"exp_month":12,"exp_year":2034}}}`, key, key, number)
	}

	status, body := post(mockhttp.PathAuthorize, auth(approveNumber, "k1"))
	if status != 200 || body["status"] != "authorized" {
		t.Fatalf("approve: %d %v", status, body)
	}
	ref := body["reference"].(string)

	status, body = post(mockhttp.PathAuthorize, auth("4000000000000002", "k2"))
	if d, _ := body["decline"].(map[string]any); status != 200 || body["status"] != "declined" || d["code"] != "card_declined" {
		t.Fatalf("decline: %d %v", status, body)
	}

	status, body = post(mockhttp.PathAuthorize, auth("4000000000000119", "k3"))
	if status != 503 || body["processed"] != false || body["code"] != "processing_error" {
		t.Fatalf("processor error: %d %v", status, body)
	}

	status, body = post(mockhttp.PathRefund, fmt.Sprintf(`{"payment_id":"pay_k1","idempotency_key":"r1","reference":%q,"amount":1,"currency":"usd"}`, ref))
	if status != 409 || body["code"] != "charge_not_captured" || body["processed"] != nil {
		t.Fatalf("rejected refund: %d %v", status, body)
	}

	status, body = post(mockhttp.PathCapture, `{"payment_id":`)
	if status != 400 || body["processed"] != false {
		t.Fatalf("malformed: %d %v", status, body)
	}
	if strings.Contains(fmt.Sprint(body), approveNumber) {
		t.Fatal("an answer echoes the card number")
	}

	status, body = post(mockhttp.PathCapture, fmt.Sprintf(`{"payment_id":"pay_k1","idempotency_key":"c1","reference":%q,"amount":1000,"currency":"usd"}`, ref))
	if status != 200 || body["status"] != "captured" {
		t.Fatalf("capture: %d %v", status, body)
	}

	// The never-answering card: the charge is made, then the client gives
	// up (once the charge is in the ledger), and the charge stays.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+mockhttp.PathAuthorize, strings.NewReader(auth("4000000000009979", "k4")))
	hung := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("the hanging card answered %d", resp.StatusCode)
		}
		hung <- err
	}()
	waitFor(t, "the hanging card's charge", func() bool { return len(p.ChargesForPayment("pay_k4")) == 1 }, hung)
	cancel()
	if err := <-hung; !errors.Is(err, context.Canceled) {
		t.Fatalf("the hanging card's call: %v, want it cancelled while waiting", err)
	}

	all, err := mockhttp.FetchLedger(t.Context(), srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Reference != ref || all[0].Captured != 1000 || all[1].PaymentID != "pay_k4" || all[1].Amount != 1000 {
		t.Fatalf("ledger %+v, want the captured approval and the hanging card's charge", all)
	}
	one, err := mockhttp.FetchPaymentLedger(t.Context(), srv.URL+"/", "pay_k4")
	if err != nil || len(one) != 1 || one[0].IdempotencyKey != "k4" {
		t.Fatalf("ledger of pay_k4: %+v %v", one, err)
	}
	if !one[0].CreatedAt.Equal(p.ChargesForPayment("pay_k4")[0].CreatedAt) {
		t.Error("created_at changed on the wire")
	}
}

func TestNewClientValidates(t *testing.T) {
	t.Parallel()
	for _, cfg := range []mockhttp.ClientConfig{
		{URL: ""},
		{URL: "ftp://127.0.0.1:1"},
		{URL: "http://"},
		{URL: "http://u:secret@127.0.0.1:1"},
		{URL: "http://127.0.0.1:1?x=1"},
		{URL: "http://127.0.0.1:1", Timeout: -time.Second},
		{URL: "http://127.0.0.1:1", Currencies: []string{"xyz"}},
	} {
		if _, err := mockhttp.NewClient(cfg); err == nil {
			t.Errorf("NewClient(%+v) accepted", cfg)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("error %v shows the URL's password", err)
		}
	}
	c, err := mockhttp.NewClient(mockhttp.ClientConfig{URL: "http://127.0.0.1:1/", Currencies: []string{"EUR"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Name() != "mock" || c.Type() != "mock" || !c.Supports(providers.TokenVault, "eur") ||
		c.Supports(providers.TokenVault, "usd") || c.Supports(providers.TokenSharedPayment, "eur") {
		t.Errorf("identity: %q %q", c.Name(), c.Type())
	}
}

// waitFor waits until cond holds, checking it each millisecond, for at most
// a generous 30 s; anything received from failed first is a failure.
// The mock has no event to wait on for its ledger, so the condition is
// polled; nothing depends on the interval but how soon the test goes on.
func waitFor(t *testing.T, what string, cond func() bool, failed <-chan error) {
	t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	giveUp := time.NewTimer(30 * time.Second)
	defer giveUp.Stop()
	for !cond() {
		select {
		case err := <-failed:
			t.Fatalf("waiting for %s: ended first with %v", what, err)
		case <-giveUp.C:
			t.Fatalf("%s did not happen within 30s", what)
		case <-tick.C:
		}
	}
}
