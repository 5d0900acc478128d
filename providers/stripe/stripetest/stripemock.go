package stripetest

import (
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// StripeMock returns the base URL of a stripe-mock (Stripe's own mock server,
// which validates request shapes against Stripe's API definition):
// STRIPE_MOCK_URL if set, else a stripe-mock binary (on PATH or in
// $(go env GOPATH)/bin) started for this test on free loopback ports with both
// -http-addr and -https-addr. Without either it skips loudly, or fails when
// the CI environment variable is set.
func StripeMock(t testing.TB) string {
	t.Helper()
	if u := os.Getenv("STRIPE_MOCK_URL"); u != "" {
		return strings.TrimRight(u, "/")
	}
	bin, err := exec.LookPath("stripe-mock")
	if err != nil {
		gopath, _ := exec.Command("go", "env", "GOPATH").Output()
		candidate := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "stripe-mock")
		if _, statErr := os.Stat(candidate); statErr == nil {
			bin, err = candidate, nil
		}
	}
	if err != nil {
		msg := "STRIPE-MOCK NOT FOUND: request shapes were NOT validated against Stripe's API definition. " +
			"Install it with `go install github.com/stripe/stripe-mock@v0.203.0` or set STRIPE_MOCK_URL."
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	httpAddr, httpsAddr := freeAddr(t), freeAddr(t)
	cmd := exec.Command(bin, "-http-addr", httpAddr, "-https-addr", httpsAddr)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start stripe-mock: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	base := "http://" + httpAddr
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(base + "/v1/charges")
		if err == nil {
			_ = resp.Body.Close()
			return base
		}
		if time.Now().After(deadline) {
			t.Fatalf("stripe-mock did not come up on %s: %v\n%s", httpAddr, err, out.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func freeAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
