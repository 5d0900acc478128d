package acp

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// TestScanAgreesWithWalk: on bodies the fast scanner reads, it builds
// walk's tree; the bodies it leaves to walk include every body walk
// refuses.
func TestScanAgreesWithWalk(t *testing.T) {
	t.Parallel()
	read := []string{
		`{}`, `[]`, `""`, `0`, `-0`, `1.5e-3`, `-12E+4`, `true`, `false`, `null`, " \t\r\n{ \"a\" : [ 1 , {\"b\":null} ] }\n ",
		`{"s":"caf\u00e9 \"q\" \\ \/ \b\f\n\r\t"}`, `{"\u0041":"\ud83d\ude00","lone":"\ud800x"}`, `{"é":"ü ❤"}`,
		`[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`, // 32 levels below the top: the most allowed
		string(benchPaymentBody), string(benchDelegateBody),
	}
	left := []string{
		``, ` `, `{`, `}`, `{"a"}`, `{"a":}`, `{"a":1,}`, `[1,]`, `[,1]`, `{"a":1 "b":2}`, `{a:1}`, `{"a":1}}`, `{} x`,
		`01`, `-`, `1.`, `.5`, `1e`, `1e+`, `+1`, `0x1`, `tru`, `nul`, `truex`, `"abc`, "\"a\x01\"", `"\x"`, `"\u12"`,
		`{"a":1,"a":2}`, "\"\xff\"", "\xef\xbb\xbf{}", `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`,
		`"\`, `NaN`, `[1 2]`,
	}
	var large, dupLarge strings.Builder // objects above smallObject keys
	for i := range smallObject + 8 {
		fmt.Fprintf(&large, `,"k%d":{"n":%d}`, i, i)
	}
	fmt.Fprintf(&dupLarge, `{"k0":0%s,"k3":1}`, large.String())
	read = append(read, `{"a":0`+large.String()+`}`)
	left = append(left, dupLarge.String(), `{"k21":0`+large.String()+`}`)
	for _, b := range read {
		got, ok := scan([]byte(b))
		if !ok {
			t.Errorf("scan left %q to walk", b)
			continue
		}
		want, err := walk([]byte(b))
		if err != nil {
			t.Errorf("scan read %q, which walk refuses: %s", b, err.msg)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%q: scan read %#v, walk %#v", b, got, want)
		}
	}
	for _, b := range left {
		if _, ok := scan([]byte(b)); ok {
			t.Errorf("scan read %q", b)
		}
		if _, err := walk([]byte(b)); err == nil {
			// Every body scan leaves here is one walk refuses too.
			t.Errorf("walk read %q", b)
		}
	}
}

// FuzzScan: whatever scan reads, walk reads to the same tree.
func FuzzScan(f *testing.F) {
	for _, b := range seedFiles(f, "") {
		f.Add(b)
	}
	for _, s := range []string{`{"a":[1,-0.5e3,"x\u00e9\n",true,false,null,{}]}`, `"\ud83d\ude00"`, `{"a":1,"a":2}`, `[1,]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := scan(body)
		want, err := walk(body)
		if !ok {
			return
		}
		if err != nil {
			t.Fatalf("scan read %q, which walk refuses: %s", body, err.msg)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: scan read %#v, walk %#v", body, got, want)
		}
	})
}

// The patterns currencyShape and dateTimeShape spell out.
var (
	currencyPattern = regexp.MustCompile(`^[a-z]{3}$`)
	dateTimePattern = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$`)
)

func TestShapesMatchPatterns(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "usd", "USD", "us", "usdd", "u1d", "éur", "2026-01-02T15:04:05Z", "2026-01-02T15:04:05.123456789+01:00",
		"2026-01-02T15:04:05.1234567890Z", "2026-01-02T15:04:05.Z", "2026-01-02t15:04:05Z", "2026-01-02T15:04:05z",
		"2026-01-02T15:04:05+0100", "2026-01-02T15:04:05-01:00", "2026-01-02T15:04:05", "2026-1-02T15:04:05Z", "2026-01-02T15:04:05Z\n"} {
		checkShapes(t, s)
	}
}

func FuzzShapes(f *testing.F) {
	f.Add("2026-01-02T15:04:05.5-07:30")
	f.Add("eur")
	f.Fuzz(checkShapes)
}

func checkShapes(t *testing.T, s string) {
	if got, want := currencyShape(s), currencyPattern.MatchString(s); got != want {
		t.Errorf("currencyShape(%q) = %v, the pattern says %v", s, got, want)
	}
	if got, want := dateTimeShape(s), dateTimePattern.MatchString(s); got != want {
		t.Errorf("dateTimeShape(%q) = %v, the pattern says %v", s, got, want)
	}
}

// TestObjectLookup: get finds every key of small and indexed objects, and
// nothing else.
func TestObjectLookup(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 1, smallObject, smallObject + 1, 3 * smallObject} {
		var b strings.Builder
		b.WriteString("{")
		for i := range n {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, `"k%d":%d`, i, i)
		}
		b.WriteString("}")
		for name, parse := range map[string]func([]byte) (any, bool){
			"scan": scan,
			"walk": func(body []byte) (any, bool) { v, err := walk(body); return v, err == nil },
		} {
			v, ok := parse([]byte(b.String()))
			if !ok {
				t.Fatalf("%s: %d keys not read", name, n)
			}
			o := v.(*object)
			if (o.index != nil) != (n > smallObject) {
				t.Errorf("%s: %d keys, index %v", name, n, o.index != nil)
			}
			for i := range n {
				if got, ok := o.get(fmt.Sprintf("k%d", i)); !ok || got != json.Number(fmt.Sprint(i)) {
					t.Errorf("%s: %d keys: k%d is %v, %v", name, n, i, got, ok)
				}
			}
			if _, ok := o.get(fmt.Sprintf("k%d", n)); ok {
				t.Errorf("%s: %d keys: found k%d", name, n, n)
			}
		}
	}
}
