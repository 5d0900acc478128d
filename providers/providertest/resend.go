package providertest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"acpgw/providers"
)

// ResendCase describes a provider for NoTransportResend.
type ResendCase struct {
	// New returns the provider under test, calling the processor at
	// baseURL (http://127.0.0.1:port, with no path). The provider must be a
	// providers.Closer: closing it closes its idle connections.
	New func(t *testing.T, baseURL string) providers.Provider
	// Answer is a JSON body that the provider reads as a successful answer
	// to Call's request.
	Answer string
	// Call makes one provider call whose request is a single POST, with the
	// idempotency key key.
	Call func(ctx context.Context, p providers.Provider, key string) error
}

// NoTransportResend checks that the provider's HTTP client never re-sends a
// POST by itself. A raw HTTP/1.1 server answers the first request of each
// connection with c.Answer and keeps the connection alive; it reads the
// second request of a connection whole and then hangs up: with a reset
// (SO_LINGER 0) in subtest "reset", with a plain close in subtest "close".
// The first call must succeed; the second, on the reused connection, must
// end with an error that is providers.ErrOutcomeUnknown, and the server must
// have seen that POST exactly once. net/http's Transport re-sends a
// "replayable" request (one with an Idempotency-Key header and a rewindable
// body) on a new connection when a reused one fails after the request was
// written, which would hide from acpgw that the processor got the first
// copy.
func NoTransportResend(t *testing.T, c ResendCase) {
	t.Helper()
	for _, reset := range []bool{true, false} {
		name := "close"
		if reset {
			name = "reset"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			noTransportResend(t, c, reset)
		})
	}
}

func noTransportResend(t *testing.T, c ResendCase, reset bool) {
	srv := newResetServer(t, c.Answer, reset)
	p := c.New(t, srv.url())
	closer, ok := p.(providers.Closer)
	if !ok {
		t.Fatalf("%T is not a providers.Closer", p)
	}
	ctx, cancel := context.WithTimeout(t.Context(), callTimeout)
	defer cancel()
	key := "acpgw_pay_" + randomHex(8) + "_"
	if err := c.Call(ctx, p, key+"1"); err != nil {
		t.Fatalf("first call, answered on a fresh connection: %v", err)
	}
	err := c.Call(ctx, p, key+"2")
	switch {
	case !errors.Is(err, providers.ErrOutcomeUnknown):
		t.Errorf("second call, read and then hung up on: error %v, want ErrOutcomeUnknown", err)
	case errors.Is(err, providers.ErrNotProcessed), errors.Is(err, providers.ErrRejected):
		t.Errorf("second call: error %v is also ErrNotProcessed or ErrRejected", err)
	}

	// Any re-send by the Transport happens before the call returns; closing
	// the idle connections and waiting for the server to see every
	// connection end makes sure nothing is still on its way.
	if err := closer.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	got := srv.wait(t)
	if len(got) != 2 || got[1].conn != got[0].conn {
		t.Fatalf("the server saw %d requests, want 2 on one connection (the second sent once, never re-sent):\n%s",
			len(got), describe(got))
	}
	for i, r := range got {
		if r.method != http.MethodPost {
			t.Errorf("request %d is a %s, want POST", i+1, r.method)
		}
	}
}

// received is one request the reset server read whole.
type received struct {
	conn   int // the connection's number, from 1
	seq    int // the request's number on its connection, from 1
	method string
	path   string
}

func describe(rs []received) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "  connection %d, request %d: %s %s\n", r.conn, r.seq, r.method, r.path)
	}
	return b.String()
}

// resetServer is the raw HTTP/1.1 server of NoTransportResend.
type resetServer struct {
	ln     net.Listener
	answer string
	reset  bool // hang up with an RST rather than a FIN
	wg     sync.WaitGroup

	mu    sync.Mutex
	conns int
	reqs  []received
	open  []net.Conn
}

func newResetServer(t *testing.T, answer string, reset bool) *resetServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &resetServer{ln: ln, answer: answer, reset: reset}
	s.wg.Go(s.accept)
	t.Cleanup(s.stop)
	return s
}

func (s *resetServer) url() string { return "http://" + s.ln.Addr().String() }

func (s *resetServer) accept() {
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.conns++
		n := s.conns
		s.open = append(s.open, conn)
		s.mu.Unlock()
		s.wg.Go(func() { s.serve(conn, n) })
	}
}

// serve answers the connection's first request and hangs up once its
// second request is read whole.
func (s *resetServer) serve(conn net.Conn, n int) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	for seq := 1; ; seq++ {
		req, err := http.ReadRequest(r)
		if err != nil {
			return // the client hung up
		}
		if _, err := io.Copy(io.Discard, req.Body); err != nil {
			return
		}
		s.mu.Lock()
		s.reqs = append(s.reqs, received{conn: n, seq: seq, method: req.Method, path: req.URL.Path})
		s.mu.Unlock()
		if seq >= 2 {
			if tc, ok := conn.(*net.TCPConn); ok && s.reset {
				_ = tc.SetLinger(0) // Close sends an RST, not a FIN
			}
			return
		}
		_, err = fmt.Fprintf(conn, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
			len(s.answer), s.answer)
		if err != nil {
			return
		}
	}
}

// wait stops accepting, waits until every connection has ended, and
// returns the requests read.
func (s *resetServer) wait(t *testing.T) []received {
	t.Helper()
	s.ln.Close()
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(callTimeout):
		t.Fatal("a connection to the server is still open after the provider was closed")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.reqs...)
}

// stop closes the listener and every connection, and waits for the
// server's goroutines.
func (s *resetServer) stop() {
	s.ln.Close()
	s.mu.Lock()
	for _, c := range s.open {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}
