package acp

import (
	"encoding/json"
	"sync"
	"unicode/utf8"
)

// scan is the fast path of parse: one pass over the body, with no
// reflection and one copy of the body that every string and number of
// the tree shares. It reads RFC 8259 JSON under parse's rules (valid
// UTF-8, no duplicate keys, at most maxDepth levels, nothing after the
// value) and builds the tree parse's encoding/json walker would build.
// Whatever it does not read (a syntax error, a duplicate key, a body too
// deep) it reports as false, and parse reads the body again with the
// walker, whose messages say what is wrong; so scan decides nothing about
// which bodies are accepted, only how fast the accepted ones are read.
func scan(body []byte) (any, bool) {
	stack := memberStacks.Get().(*[]member)
	s := scanner{data: string(body), members: (*stack)[:0]}
	v, ok := s.value(0)
	s.space()
	ok = ok && s.pos == len(s.data)
	// A failed scan leaves members on the stack: none may outlive it.
	clear(s.members[:cap(s.members)])
	if cap(s.members) <= maxPooledMembers {
		*stack = s.members[:0]
		memberStacks.Put(stack)
	}
	if !ok {
		return nil, false
	}
	return v, true
}

// maxPooledMembers bounds the member stacks kept for reuse: one grown by a
// body of thousands of keys is left to the garbage collector.
const maxPooledMembers = 256

// memberStacks holds scanners' member stacks between requests.
var memberStacks = sync.Pool{New: func() any {
	s := make([]member, 0, 32)
	return &s
}}

// scanner reads a JSON text from data, pos being the next byte.
type scanner struct {
	data string
	pos  int
	// members is the stack of the members of the objects being read.
	members []member
}

func (s *scanner) space() {
	for s.pos < len(s.data) {
		switch s.data[s.pos] {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return
		}
	}
}

// value reads one value at nesting depth (the top level is 0), after any
// whitespace.
func (s *scanner) value(depth int) (any, bool) {
	if depth > maxDepth {
		return nil, false
	}
	s.space()
	if s.pos >= len(s.data) {
		return nil, false
	}
	switch c := s.data[s.pos]; {
	case c == '{':
		return s.object(depth)
	case c == '[':
		return s.array(depth)
	case c == '"':
		str, ok := s.string()
		return str, ok
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number()
	case c == 't':
		return true, s.literal("true")
	case c == 'f':
		return false, s.literal("false")
	case c == 'n':
		return nil, s.literal("null")
	}
	return nil, false
}

func (s *scanner) literal(lit string) bool {
	if len(s.data)-s.pos < len(lit) || s.data[s.pos:s.pos+len(lit)] != lit {
		return false
	}
	s.pos += len(lit)
	return true
}

// object reads an object; the scanner is at its '{'. Its members are
// gathered on the scanner's stack, above those of the objects that
// enclose it, and copied into slices of their exact size at the '}'.
func (s *scanner) object(depth int) (any, bool) {
	s.pos++
	base := len(s.members)
	var seen map[string]struct{} // the keys of a large object
	s.space()
	if s.pos < len(s.data) && s.data[s.pos] == '}' {
		s.pos++
		return &object{}, true
	}
	for {
		s.space()
		if s.pos >= len(s.data) || s.data[s.pos] != '"' {
			return nil, false
		}
		k, ok := s.string()
		if !ok || s.duplicate(base, k, &seen) {
			return nil, false
		}
		s.space()
		if s.pos >= len(s.data) || s.data[s.pos] != ':' {
			return nil, false
		}
		s.pos++
		v, ok := s.value(depth + 1)
		if !ok {
			return nil, false
		}
		s.members = append(s.members, member{k, v})
		if more, ok := s.next('}'); !ok {
			return nil, false
		} else if !more {
			o := newObject(s.members[base:])
			clear(s.members[base:])
			s.members = s.members[:base]
			return o, true
		}
	}
}

// next reads what follows a member or an element: a ',' (more follows) or
// end, the closing bracket; anything else is malformed (ok false).
func (s *scanner) next(end byte) (more, ok bool) {
	s.space()
	if s.pos >= len(s.data) {
		return false, false
	}
	switch s.data[s.pos] {
	case ',':
		s.pos++
		return true, true
	case end:
		s.pos++
		return false, true
	}
	return false, false
}

// member is a key and its value.
type member struct {
	key string
	val any
}

// duplicate reports whether the object whose members start at base has
// key k already. The keys of an object above smallObject keys go into
// seen, so that a body of many keys costs no quadratic search.
func (s *scanner) duplicate(base int, k string, seen *map[string]struct{}) bool {
	ms := s.members[base:]
	if len(ms) <= smallObject {
		for _, m := range ms {
			if m.key == k {
				return true
			}
		}
		return false
	}
	if *seen == nil {
		*seen = make(map[string]struct{}, 2*len(ms))
		for _, m := range ms {
			(*seen)[m.key] = struct{}{}
		}
	}
	if _, dup := (*seen)[k]; dup {
		return true
	}
	(*seen)[k] = struct{}{}
	return false
}

// newObject is the object of members ms, which have distinct keys, as
// object.add would build it.
func newObject(ms []member) *object {
	o := &object{keys: make([]string, len(ms)), vals: make([]any, len(ms))}
	for i, m := range ms {
		o.keys[i], o.vals[i] = m.key, m.val
	}
	if len(ms) > smallObject {
		o.index = make(map[string]int, 2*len(ms))
		for i, k := range o.keys {
			o.index[k] = i
		}
	}
	return o
}

// array reads an array; the scanner is at its '['. [] is an empty, not a
// nil, slice, as in parseValue.
func (s *scanner) array(depth int) (any, bool) {
	s.pos++
	a := []any{}
	s.space()
	if s.pos < len(s.data) && s.data[s.pos] == ']' {
		s.pos++
		return a, true
	}
	for {
		v, ok := s.value(depth + 1)
		if !ok {
			return nil, false
		}
		a = append(a, v)
		if more, ok := s.next(']'); !ok {
			return nil, false
		} else if !more {
			return a, true
		}
	}
}

// string reads a string; the scanner is at its opening quote. A string
// without escapes is a slice of data; one with escapes (rare in request
// bodies) is unquoted by encoding/json itself, so that every escape,
// surrogate pair and lone surrogate reads exactly as parseValue reads it.
func (s *scanner) string() (string, bool) {
	start := s.pos
	s.pos++
	escaped, high := false, false
	for ; s.pos < len(s.data); s.pos++ {
		switch c := s.data[s.pos]; {
		case c == '"':
			lit := s.data[start : s.pos+1]
			s.pos++
			if high && !utf8.ValidString(lit) {
				return "", false
			}
			if !escaped {
				return lit[1 : len(lit)-1], true
			}
			var out string
			if err := json.Unmarshal([]byte(lit), &out); err != nil {
				return "", false
			}
			return out, true
		case c == '\\':
			escaped = true
			// Skip the escaped byte: an escaped quote does not end the
			// string. Unmarshal checks the escape itself.
			s.pos++
		case c < 0x20:
			return "", false
		case c >= utf8.RuneSelf:
			high = true
		}
	}
	return "", false
}

// number reads a number literal of RFC 8259's grammar,
// -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?, as a json.Number.
func (s *scanner) number() (any, bool) {
	start := s.pos
	if s.data[s.pos] == '-' {
		s.pos++
	}
	switch {
	case s.pos < len(s.data) && s.data[s.pos] == '0':
		s.pos++
	case s.digits() == 0:
		return nil, false
	}
	if s.pos < len(s.data) && s.data[s.pos] == '.' {
		s.pos++
		if s.digits() == 0 {
			return nil, false
		}
	}
	if s.pos < len(s.data) && (s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.data) && (s.data[s.pos] == '+' || s.data[s.pos] == '-') {
			s.pos++
		}
		if s.digits() == 0 {
			return nil, false
		}
	}
	return json.Number(s.data[start:s.pos]), true
}

// digits skips a run of ASCII digits and returns its length.
func (s *scanner) digits() int {
	start := s.pos
	for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
		s.pos++
	}
	return s.pos - start
}
