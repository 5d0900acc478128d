package acp

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestRequestHash holds the request equivalence of the Delegate Payment
// RFC, section 5.2: key order and number spelling do not matter; null
// versus absent, array order and values do.
func TestRequestHash(t *testing.T) {
	t.Parallel()
	same := [][]string{
		{`{"amount":2599,"currency":"usd"}`, `{"currency":"usd","amount":2599.0}`, `{ "amount" : 2.599e3 , "currency" : "usd" }`,
			`{"amount":259900E-2,"currency":"usd"}`},
		{`{"a":[1000,{"b":0}]}`, `{"a":[1e3,{"b":-0.0}]}`},
		{`{"s":"A"}`, `{"s":"\u0041"}`},
	}
	for _, group := range same {
		for _, b := range group[1:] {
			if RequestHash([]byte(b)) != RequestHash([]byte(group[0])) {
				t.Errorf("%s and %s hash differently", b, group[0])
			}
		}
	}
	different := [][2]string{
		{`{"amount":2599}`, `{"amount":2599.5}`},
		{`{"amount":2599}`, `{"amount":"2599"}`},
		{`{"a":null}`, `{}`},
		{`{"a":[1,2]}`, `{"a":[2,1]}`},
		{`{"amount":1e400}`, `{"amount":1e401}`},
		{`not json`, `not  json`},
	}
	for _, d := range different {
		if RequestHash([]byte(d[0])) == RequestHash([]byte(d[1])) {
			t.Errorf("%s and %s hash the same", d[0], d[1])
		}
	}
}

// TestRequestHashAgreesWithWalk: the one-pass canonical form hashes every
// body as the round trip through encoding/json does (hashes stored before
// it existed must still match).
func TestRequestHashAgreesWithWalk(t *testing.T) {
	t.Parallel()
	bodies := []string{
		`{"b":1,"a":2,"B":3,"_":4,"aa":5,"a ":6}`, `{"s":"<a href='x'>&amp;</a>"}`, `{"s":"tab\there \"q\" \\ \/"}`,
		`{"s":"\u0000\u001f\u007f\u2028\u2029 é ❤ \ud83d\ude00 \ud800"}`, "{\"k\u00e9\":\"caf\u00e9\",\"kü\":\"\x7f\"}",
		`{"n":[0,-0,1.50,1e3,-2.5E-3,100000000000000000000000000000000000000000000000,0.000]}`, `[true,false,null,{},[]]`,
		`{"a":1,"a":2}`, `{} x`, `{}}`, " {\"a\" : 1 } \n", "\"\xff\"", `"x"`, `12`,
		string(benchPaymentBody), string(benchDelegateBody),
	}
	for _, b := range seedFiles(t, "") {
		bodies = append(bodies, string(b))
	}
	for _, b := range bodies {
		if got, want := RequestHash([]byte(b)), requestHashWalk([]byte(b)); got != want {
			t.Errorf("%q: RequestHash %s, the round trip %s", b, got, want)
		}
	}
}

// FuzzRequestHash: a JSON body hashes like its re-encoding with keys
// shuffled by a round trip and numbers written in another spelling, and
// as the round trip through encoding/json hashes it.
func FuzzRequestHash(f *testing.F) {
	for _, s := range []string{`{"amount":2599,"currency":"usd"}`, `{"a":[1.0,2e1,{"b":null}]}`, `[]`, `"x"`, `1e3`, `{`,
		`{"s":"<\u2028>","b":"\u00e9"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		h := RequestHash(body)
		if len(h) != 64 {
			t.Fatalf("hash %q is not hex SHA-256", h)
		}
		if want := requestHashWalk(body); h != want {
			t.Fatalf("%q: RequestHash %s, the round trip %s", body, h, want)
		}
		var v any
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil || dec.More() {
			return
		}
		respelled, err := json.Marshal(respell(v))
		if err != nil {
			t.Fatal(err)
		}
		if got := RequestHash(respelled); got != h {
			t.Fatalf("%s and its respelling %s hash differently", body, respelled)
		}
	})
}

// respell writes every number in another spelling of the same value.
func respell(v any) any {
	switch t := v.(type) {
	case json.Number:
		// A zero added to the fraction of the mantissa ("1e3" becomes
		// "1.0e3", "25.99" becomes "25.990") keeps the value.
		s := string(t)
		m, exp := s, ""
		if i := strings.IndexAny(s, "eE"); i >= 0 {
			m, exp = s[:i], s[i:]
		}
		if strings.Contains(m, ".") {
			return json.Number(m + "0" + exp)
		}
		return json.Number(m + ".0" + exp)
	case map[string]any:
		for k, e := range t {
			t[k] = respell(e)
		}
	case []any:
		for i, e := range t {
			t[i] = respell(e)
		}
	}
	return v
}
