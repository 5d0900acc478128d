package events

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// SignatureHeader is the header that carries a delivery's signature.
const SignatureHeader = "Acpgw-Signature"

// DefaultTolerance is how far a signature's timestamp may be from the
// receiver's clock by default: old deliveries replayed by someone who
// recorded them are refused after it.
const DefaultTolerance = 5 * time.Minute

// Errors of Verify; a receiver answers them with 400 and drops the delivery.
var (
	// ErrNoSignature: the header is missing or has no t= or no v1=.
	ErrNoSignature = errors.New("events: no valid Acpgw-Signature header")
	// ErrTimestamp: the signature's time is too far from now.
	ErrTimestamp = errors.New("events: signature timestamp outside the tolerance")
	// ErrBadSignature: no v1 value matches any of the receiver's secrets.
	ErrBadSignature = errors.New("events: signature does not match")
)

// Sign returns the Acpgw-Signature header value of body sent at t: one v1
// per secret, in the order given (the current secret first, then the
// previous one during a rotation). Empty secrets are skipped.
func Sign(body []byte, t time.Time, secrets ...string) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	var b strings.Builder
	b.WriteString("t=")
	b.WriteString(ts)
	for _, s := range secrets {
		if s == "" {
			continue
		}
		b.WriteString(",v1=")
		b.WriteString(hex.EncodeToString(mac(s, ts, body)))
	}
	return b.String()
}

func mac(secret, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, []byte(secret))
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks header (the Acpgw-Signature value) against the raw body:
// its timestamp must be within tolerance of now (DefaultTolerance when 0)
// and one of its v1 values must be the HMAC of one of secrets. Comparisons
// take constant time.
func Verify(header string, body []byte, now time.Time, tolerance time.Duration, secrets ...string) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	var (
		ts   string
		sigs [][]byte
	)
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if sig, err := hex.DecodeString(v); err == nil && len(sig) == sha256.Size {
				sigs = append(sigs, sig)
			}
		}
	}
	unix, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrNoSignature
	}
	if d := now.Sub(time.Unix(unix, 0)); d > tolerance || d < -tolerance {
		return ErrTimestamp
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		want := mac(s, ts, body)
		for _, sig := range sigs {
			if hmac.Equal(sig, want) {
				return nil
			}
		}
	}
	return ErrBadSignature
}
