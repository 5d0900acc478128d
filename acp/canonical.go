package acp

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
)

// RequestHash is the SHA-256, in hex, of a request body's canonical JSON:
// object keys sorted, arrays in order, insignificant whitespace gone, and
// every number in its canonical spelling (CanonicalNumber). Two bodies hash
// the same exactly when the Delegate Payment RFC (section 5.2) calls them
// equivalent for idempotency: key order and number spelling ("1.0 vs 1")
// do not matter, null differs from an absent key, array order matters. A
// body that is not one JSON value hashes as its raw bytes.
func RequestHash(body []byte) string {
	return ReadBody(body).Hash()
}

// hashTree is RequestHash of a body of size bytes that scan read into
// tree.
func hashTree(tree any, size int) string {
	canon := appendCanonical(append(make([]byte, 0, size+16), "json:"...), tree)
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:])
}

// requestHashWalk is RequestHash on encoding/json: a round trip of the body
// through a map, which sorts the keys. RequestHash's own canonical form,
// appendCanonical, writes the same bytes in one pass for every body scan
// reads; this reads the rest (duplicate keys, bodies too deep or not JSON).
// Stored hashes were made this way, so the two must never differ: a key
// sent again after an upgrade would otherwise be a conflict.
func requestHashWalk(body []byte) string {
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

// appendCanonical appends the canonical JSON of a tree that scan built, as
// json.Marshal writes it after canonicalNumbers: object keys sorted by
// bytes, numbers in canonical spelling, strings escaped as Marshal escapes
// them (HTML characters included).
func appendCanonical(dst []byte, v any) []byte {
	switch t := v.(type) {
	case *object:
		var small [smallObject]string
		keys := append(small[:0], t.keys...)
		slices.Sort(keys)
		dst = append(dst, '{')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendString(dst, k)
			dst = append(dst, ':')
			dst = appendCanonical(dst, t.val(k))
		}
		return append(dst, '}')
	case []any:
		dst = append(dst, '[')
		for i, e := range t {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendCanonical(dst, e)
		}
		return append(dst, ']')
	case string:
		return appendString(dst, t)
	case json.Number:
		return append(dst, CanonicalNumber(string(t))...)
	case bool:
		return strconv.AppendBool(dst, t)
	case nil:
		return append(dst, "null"...)
	}
	panic(fmt.Sprintf("acp: appendCanonical: %T is not of a scanned tree", v))
}

// appendString appends s as a JSON string the way json.Marshal writes it.
// A string of printable ASCII that Marshal does not escape (no quote,
// backslash or HTML character) is copied; any other is left to Marshal
// itself, so that every escape is Marshal's.
func appendString(dst []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c < 0x20, c > 0x7e, c == '"', c == '\\', c == '<', c == '>', c == '&':
			b, err := json.Marshal(s)
			if err != nil {
				// Marshal writes any string: invalid UTF-8 becomes U+FFFD.
				panic("acp: json.Marshal of a string: " + err.Error())
			}
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
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
