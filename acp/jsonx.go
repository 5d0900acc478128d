package acp

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxDepth bounds JSON nesting; no ACP body is deeper than 6 levels, and a
// bound keeps a hostile body from costing deep recursion.
const maxDepth = 32

// object is a decoded JSON object that remembers its key order, so that the
// first error reported is the first one in the document, deterministically.
// vals[i] is the value of keys[i].
type object struct {
	keys []string
	vals []any
	// index finds a key of an object of more than smallObject keys; the
	// keys of a smaller one (every object of an ACP request) are searched
	// in order, which costs less than a map.
	index map[string]int
}

// smallObject is the most keys an object has without an index.
const smallObject = 16

// get returns the value of key k.
func (o *object) get(k string) (any, bool) {
	if o.index != nil {
		i, ok := o.index[k]
		if !ok {
			return nil, false
		}
		return o.vals[i], true
	}
	for i, key := range o.keys {
		if key == k {
			return o.vals[i], true
		}
	}
	return nil, false
}

// has reports whether key k is there; a nil object has no keys.
func (o *object) has(k string) bool {
	if o == nil {
		return false
	}
	_, ok := o.get(k)
	return ok
}

// val returns the value of key k, nil when absent.
func (o *object) val(k string) any {
	v, _ := o.get(k)
	return v
}

// add appends key k with value v, unless k is there already (false).
func (o *object) add(k string, v any) bool {
	if _, dup := o.get(k); dup {
		return false
	}
	o.keys = append(o.keys, k)
	o.vals = append(o.vals, v)
	switch n := len(o.keys); {
	case n == smallObject+1:
		o.index = make(map[string]int, 2*n)
		for i, key := range o.keys {
			o.index[key] = i
		}
	case n > smallObject+1:
		o.index[k] = n - 1
	}
	return true
}

// errorCodes says which codes a decoder uses for its kinds of failure: the
// Delegate Payment schema has only invalid_card for input problems, acpgw's
// own API has finer codes.
type errorCodes struct {
	schema  string // malformed JSON, wrong type, unknown key, enum, length
	missing string // required field absent
	value   string // schema-valid but semantically wrong
}

// parseError is a failure of the JSON layer, before any schema is applied.
type parseError struct {
	msg string
}

// parse decodes body into a tree of *object, []any, json.Number, string,
// bool and nil. It rejects invalid UTF-8, duplicate keys (a smuggling vector:
// two parsers may keep different copies), nesting beyond maxDepth and
// anything after the first value. Messages never quote the input.
//
// The fast scanner (scan.go) reads every body it can; walk reads the rest
// and says what is wrong with them.
func parse(body []byte) (any, *parseError) {
	return ReadBody(body).parse()
}

// Body is a request body read once by the fast scanner (scan.go), for
// RequestHash and a decoder alike: a handler that needs both the body's
// idempotency hash and its decoding reads it once. The tree the scanner
// built is only read, never changed, by either.
type Body struct {
	raw []byte
	// tree is what scan read; scanned is false when scan left the body to
	// walk.
	tree    any
	scanned bool
}

// ReadBody scans body.
func ReadBody(body []byte) *Body {
	tree, ok := scan(body)
	return &Body{raw: body, tree: tree, scanned: ok}
}

// Bytes returns the body as it was sent.
func (b *Body) Bytes() []byte { return b.raw }

// Hash is RequestHash of the body.
func (b *Body) Hash() string {
	if b.scanned {
		return hashTree(b.tree, len(b.raw))
	}
	return requestHashWalk(b.raw)
}

// parse is the package's parse of the body.
func (b *Body) parse() (any, *parseError) {
	if b.scanned {
		return b.tree, nil
	}
	return walk(b.raw)
}

// walk is parse on encoding/json's tokenizer: the reference that scan
// must agree with, and the source of parse's error messages.
func walk(body []byte) (any, *parseError) {
	if !utf8.Valid(body) {
		return nil, &parseError{"request body is not valid UTF-8"}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, &parseError{"request body is empty"}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	v, perr := parseValue(dec, 0)
	if perr != nil {
		return nil, perr
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, &parseError{"request body has data after the JSON value"}
	}
	return v, nil
}

func syntaxError(dec *json.Decoder, err error) *parseError {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return &parseError{"request body is truncated JSON"}
	}
	return &parseError{"request body is malformed JSON near byte " + strconv.FormatInt(dec.InputOffset(), 10)}
}

func parseValue(dec *json.Decoder, depth int) (any, *parseError) {
	if depth > maxDepth {
		return nil, &parseError{"request body nests deeper than " + strconv.Itoa(maxDepth) + " levels"}
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, syntaxError(dec, err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := &object{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, syntaxError(dec, err)
				}
				k, ok := kt.(string)
				if !ok {
					return nil, syntaxError(dec, errors.New("key"))
				}
				if _, dup := o.get(k); dup {
					return nil, &parseError{"request body repeats a key in one object" + keyHint(k)}
				}
				v, perr := parseValue(dec, depth+1)
				if perr != nil {
					return nil, perr
				}
				o.add(k, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, syntaxError(dec, err)
			}
			return o, nil
		case '[':
			a := []any{}
			for dec.More() {
				v, perr := parseValue(dec, depth+1)
				if perr != nil {
					return nil, perr
				}
				a = append(a, v)
			}
			if _, err := dec.Token(); err != nil {
				return nil, syntaxError(dec, err)
			}
			return a, nil
		}
		return nil, syntaxError(dec, errors.New("delim"))
	default:
		return t, nil // string, json.Number, bool or nil
	}
}

// keyHint names a key in a message only when it is a plain identifier that
// cannot be a card number.
func keyHint(k string) string {
	if safeKey(k) {
		return " (" + strconv.Quote(k) + ")"
	}
	return ""
}

// safeKey reports whether k may appear in a message or a JSON path: an
// identifier of at most 64 ASCII letters, digits and underscores with fewer
// than 8 digits, so no PAN-like run can ride out in an error.
func safeKey(k string) bool {
	if k == "" || len(k) > 64 {
		return false
	}
	nd := 0
	for i := 0; i < len(k); i++ {
		c := k[i]
		switch {
		case c >= '0' && c <= '9':
			nd++
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == '-':
		default:
			return false
		}
	}
	return nd < 8
}

// child returns the JSON path of key k under path; keys that are not safe
// to echo are replaced by "*".
func child(path, k string) string {
	if safeKey(k) {
		return path + "." + k
	}
	return path + ".*"
}

func index(path string, i int) string {
	return path + "[" + strconv.Itoa(i) + "]"
}

// field turns a JSON path into the field name used in messages.
func field(path string) string {
	if path == "$" {
		return "request body"
	}
	return strings.TrimPrefix(path, "$.")
}

// jsonType names the JSON type of a parsed value for messages.
func jsonType(v any) string {
	switch v.(type) {
	case *object:
		return "an object"
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "unknown"
}

// decoder walks a parsed body, keeping the error codes of one API.
type decoder struct {
	codes errorCodes
}

func (d *decoder) schemaErr(param, format string, args ...any) *Error {
	return Errorf(statusSchema, TypeInvalidRequest, d.codes.schema, param, format, args...)
}

func (d *decoder) valueErr(param, format string, args ...any) *Error {
	return Errorf(statusSemantic, TypeInvalidRequest, d.codes.value, param, format, args...)
}

// root parses body and requires a JSON object at the top.
func (d *decoder) root(body *Body) (*object, *Error) {
	v, perr := body.parse()
	if perr != nil {
		return nil, d.schemaErr("", "%s", perr.msg)
	}
	o, ok := v.(*object)
	if !ok {
		return nil, d.schemaErr("$", "request body must be a JSON object, not %s", jsonType(v))
	}
	return o, nil
}

// object checks that v is an object with only the allowed keys and all the
// required ones (allowed and required are in schema order).
func (d *decoder) object(v any, path string, allowed, required []string) (*object, *Error) {
	o, ok := v.(*object)
	if !ok {
		return nil, d.schemaErr(path, "%s must be an object, not %s", field(path), jsonType(v))
	}
	if err := d.fields(o, path, allowed, required); err != nil {
		return nil, err
	}
	return o, nil
}

func (d *decoder) fields(o *object, path string, allowed, required []string) *Error {
	for _, k := range o.keys {
		known := false
		for _, a := range allowed {
			if k == a {
				known = true
				break
			}
		}
		if !known {
			if safeKey(k) {
				return d.schemaErr(child(path, k), "%s is not a known field", field(child(path, k)))
			}
			return d.schemaErr(path, "%s has an unknown field", field(path))
		}
	}
	for _, k := range required {
		if _, ok := o.get(k); !ok {
			return Errorf(statusSchema, TypeInvalidRequest, d.codes.missing, child(path, k), "%s is required", field(child(path, k)))
		}
	}
	return nil
}

// str returns the string at key k; ok is false when the key is absent.
func (d *decoder) str(o *object, path, k string, maxLen int) (s string, ok bool, err *Error) {
	v, ok := o.get(k)
	if !ok {
		return "", false, nil
	}
	s, isStr := v.(string)
	if !isStr {
		p := child(path, k)
		return "", true, d.schemaErr(p, "%s must be a string, not %s", field(p), jsonType(v))
	}
	if maxLen > 0 && utf8.RuneCountInString(s) > maxLen {
		p := child(path, k)
		return "", true, d.schemaErr(p, "%s must be at most %d characters", field(p), maxLen)
	}
	return s, true, nil
}

// enum returns the string at key k after checking it is one of values. The
// value itself is not echoed: it might be a card number sent to the wrong
// field.
func (d *decoder) enum(o *object, path, k string, values ...string) (string, bool, *Error) {
	s, ok, err := d.str(o, path, k, 0)
	if err != nil || !ok {
		return s, ok, err
	}
	for _, v := range values {
		if s == v {
			return s, true, nil
		}
	}
	p := child(path, k)
	return "", true, d.schemaErr(p, "%s must be one of %s", field(p), strings.Join(values, ", "))
}

// boolean returns the boolean at key k, nil when absent.
func (d *decoder) boolean(o *object, path, k string) (*bool, *Error) {
	v, ok := o.get(k)
	if !ok {
		return nil, nil
	}
	b, isBool := v.(bool)
	if !isBool {
		p := child(path, k)
		return nil, d.schemaErr(p, "%s must be a boolean, not %s", field(p), jsonType(v))
	}
	return &b, nil
}

// integer returns the integer at key k. As in JSON Schema 2020-12, a
// number whose fractional part is zero is an integer whatever its spelling
// (10.0, 1e3, 2.5e1); a number with a fraction (10.5, 1e-1) is a schema
// error. The literal is read exactly (number.go), never through a float,
// because amounts are exact minor units. rangeErr is true when the value
// is an integer that does not fit int64.
func (d *decoder) integer(o *object, path, k string) (n int64, ok, rangeErr bool, err *Error) {
	v, ok := o.get(k)
	if !ok {
		return 0, false, false, nil
	}
	num, isNum := v.(json.Number)
	if !isNum {
		p := child(path, k)
		return 0, true, false, d.schemaErr(p, "%s must be an integer, not %s", field(p), jsonType(v))
	}
	if n, ok := smallInteger(string(num)); ok {
		return n, true, false, nil
	}
	dec, valid := parseDecimal(string(num))
	if !valid {
		p := child(path, k)
		return 0, true, false, d.schemaErr(p, "%s must be an integer", field(p))
	}
	n, integral, rangeErr := dec.int64()
	if !integral {
		p := child(path, k)
		return 0, true, false, d.schemaErr(p, "%s must be an integer, not a number with a fraction", field(p))
	}
	return n, true, rangeErr, nil
}

// stringMap decodes an object of string values (metadata).
func (d *decoder) stringMap(v any, path string) (map[string]string, *Error) {
	o, ok := v.(*object)
	if !ok {
		return nil, d.schemaErr(path, "%s must be an object, not %s", field(path), jsonType(v))
	}
	m := make(map[string]string, len(o.keys))
	for _, k := range o.keys {
		s, isStr := o.val(k).(string)
		if !isStr {
			p := child(path, k)
			return nil, d.schemaErr(p, "%s values must be strings, not %s", field(path), jsonType(o.val(k)))
		}
		m[k] = s
	}
	return m, nil
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
