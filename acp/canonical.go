package acp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// RequestHash is the SHA-256, in hex, of a request body's canonical JSON:
// object keys sorted, arrays in order, insignificant whitespace gone, and
// every number in its canonical spelling (CanonicalNumber). Two bodies hash
// the same exactly when the Delegate Payment RFC (section 5.2) calls them
// equivalent for idempotency: key order and number spelling ("1.0 vs 1")
// do not matter, null differs from an absent key, array order matters. A
// body that is not one JSON value hashes as its raw bytes.
func RequestHash(body []byte) string {
	var v any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	sum := sha256.New()
	if err := dec.Decode(&v); err == nil && !dec.More() {
		if canon, err := json.Marshal(canonicalNumbers(v)); err == nil {
			sum.Write([]byte("json:"))
			sum.Write(canon)
			return hex.EncodeToString(sum.Sum(nil))
		}
	}
	sum.Write([]byte("raw:"))
	sum.Write(body)
	return hex.EncodeToString(sum.Sum(nil))
}

// canonicalNumbers replaces, in place, every json.Number of a decoded
// document by its canonical spelling.
func canonicalNumbers(v any) any {
	switch t := v.(type) {
	case json.Number:
		return json.Number(CanonicalNumber(string(t)))
	case map[string]any:
		for k, e := range t {
			t[k] = canonicalNumbers(e)
		}
	case []any:
		for i, e := range t {
			t[i] = canonicalNumbers(e)
		}
	}
	return v
}
