package events

import (
	"errors"
	"strings"
	"testing"
	"time"
)

const (
	secret   = "whsec_test_secret_0123456789"
	previous = "whsec_previous_secret_9876543210"
)

var at = time.Unix(1790000000, 0)

// TestSignKnownVector pins the format against an HMAC computed outside Go
// (Python's hmac module), so that a change of the signed string fails here.
func TestSignKnownVector(t *testing.T) {
	got := Sign([]byte(`{"id":"evt_1"}`), at, secret)
	want := "t=1790000000,v1=f5a4d5aeb35825d85990817967d38a3ba723b9769ff9b33afd32c6c0a15805fa"
	if got != want {
		t.Fatalf("Sign = %s\nwant   %s", got, want)
	}
}

func TestVerify(t *testing.T) {
	body := []byte(`{"id":"evt_1","type":"payment.captured"}`)
	rotating := Sign(body, at, secret, previous)
	if n := strings.Count(rotating, "v1="); n != 2 {
		t.Fatalf("rotation header %q has %d v1 values, want 2", rotating, n)
	}
	if !strings.HasPrefix(rotating, Sign(body, at, secret)+",v1=") {
		t.Fatalf("the current secret's v1 must come first: %s", rotating)
	}
	tests := []struct {
		name    string
		header  string
		body    []byte
		now     time.Time
		secrets []string
		want    error
	}{
		{"valid", Sign(body, at, secret), body, at, []string{secret}, nil},
		{"rotation, receiver on the new secret", rotating, body, at, []string{secret}, nil},
		{"rotation, receiver still on the old secret", rotating, body, at, []string{previous}, nil},
		{"receiver holding both", Sign(body, at, previous), body, at, []string{secret, previous}, nil},
		{"clock skew within tolerance", Sign(body, at, secret), body, at.Add(4 * time.Minute), []string{secret}, nil},
		{"too old", Sign(body, at, secret), body, at.Add(6 * time.Minute), []string{secret}, ErrTimestamp},
		{"from the future", Sign(body, at.Add(10*time.Minute), secret), body, at, []string{secret}, ErrTimestamp},
		{"tampered body", Sign(body, at, secret), []byte(`{"id":"evt_2","type":"payment.captured"}`), at, []string{secret}, ErrBadSignature},
		{"wrong secret", Sign(body, at, "whsec_someone_else_000000"), body, at, []string{secret}, ErrBadSignature},
		{"timestamp changed", strings.Replace(Sign(body, at, secret), "t=1790000000", "t=1790000001", 1), body, at, []string{secret}, ErrBadSignature},
		{"no header", "", body, at, []string{secret}, ErrNoSignature},
		{"no v1", "t=1790000000", body, at, []string{secret}, ErrNoSignature},
		{"no t", "v1=" + strings.Repeat("ab", 32), body, at, []string{secret}, ErrNoSignature},
		{"v1 not hex", "t=1790000000,v1=zz", body, at, []string{secret}, ErrNoSignature},
		{"other scheme only", "t=1790000000,v0=" + strings.Repeat("ab", 32), body, at, []string{secret}, ErrNoSignature},
		{"no secret", Sign(body, at, secret), body, at, []string{""}, ErrBadSignature},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(tc.header, tc.body, tc.now, 0, tc.secrets...)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestKnown(t *testing.T) {
	for _, typ := range Types {
		if !Known(typ) {
			t.Errorf("%s not known", typ)
		}
	}
	if Known("payment.refunded") || Known("") {
		t.Error("unknown types accepted")
	}
	if len(Types) != 10 {
		t.Errorf("%d types, the issue lists 10", len(Types))
	}
}

// FuzzVerify: Verify never panics on any header and accepts only what
// Sign made with the secret.
func FuzzVerify(f *testing.F) {
	body := []byte(`{"id":"evt_1"}`)
	f.Add(Sign(body, at, secret), body)
	f.Add(Sign(body, at, secret, previous), body)
	f.Add("t=,v1=", body)
	f.Add("t=1790000000,v1=,v1=00", []byte{})
	f.Add(",,,=,t=-1", body)
	f.Fuzz(func(t *testing.T, header string, b []byte) {
		err := Verify(header, b, at, 0, secret)
		if err == nil && header != Sign(b, at, secret) && !strings.Contains(header, Sign(b, at, secret)[len("t=1790000000,"):]) {
			// Accepted without the MAC of the body under the secret: only a
			// header carrying that exact v1 may pass.
			t.Fatalf("Verify accepted %q for %q", header, b)
		}
	})
}
