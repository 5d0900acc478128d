package sqlite

import (
	"bytes"
	"database/sql"
	"database/sql/driver"
	"testing"
	"time"

	"acpgw/payment"
	"acpgw/store"
)

// TestAssign: the writer's scans store driver values as database/sql's
// Scan would for the destinations the row codec uses, and refuse the rest.
func TestAssign(t *testing.T) {
	var (
		s     string
		b     []byte
		i64   int64
		i     int
		ok    bool
		state store.AttemptState
		st    payment.Status
		n     sql.NullInt64
	)
	src := []byte("blob")
	for _, c := range []struct {
		dest any
		src  driver.Value
		want any
	}{
		{&s, "text", "text"},
		{&s, []byte("bytes"), "bytes"},
		{&b, src, []byte("blob")},
		{&b, nil, []byte(nil)},
		{&i64, int64(-7), int64(-7)},
		{&i, int64(42), 42},
		{&ok, int64(1), true},
		{&ok, int64(0), false},
		{&state, "pending", store.AttemptPending},
		{&st, []byte("captured"), payment.StatusCaptured},
		{&n, int64(5), sql.NullInt64{Int64: 5, Valid: true}},
		{&n, nil, sql.NullInt64{}},
	} {
		if err := assign(c.dest, c.src); err != nil {
			t.Errorf("assign %T <- %#v: %v", c.dest, c.src, err)
			continue
		}
		var got any
		switch d := c.dest.(type) {
		case *string:
			got = *d
		case *[]byte:
			got = *d
		case *int64:
			got = *d
		case *int:
			got = *d
		case *bool:
			got = *d
		case *store.AttemptState:
			got = *d
		case *payment.Status:
			got = *d
		case *sql.NullInt64:
			got = *d
		}
		if gb, isBytes := got.([]byte); isBytes {
			if wb := c.want.([]byte); !bytes.Equal(gb, wb) || (gb == nil) != (wb == nil) {
				t.Errorf("assign %T <- %#v = %#v, want %#v", c.dest, c.src, got, c.want)
			}
			continue
		}
		if got != c.want {
			t.Errorf("assign %T <- %#v = %#v, want %#v", c.dest, c.src, got, c.want)
		}
	}
	// A copy: the driver may reuse its buffer.
	if err := assign(&b, src); err != nil || &b[0] == &src[0] {
		t.Errorf("a []byte column is not copied")
	}
	for _, c := range []struct {
		dest any
		src  driver.Value
	}{{&s, nil}, {&i64, nil}, {&i64, "1"}, {&ok, "true"}, {&state, int64(1)}, {new(time.Time), int64(1)}} {
		if err := assign(c.dest, c.src); err == nil {
			t.Errorf("assign %T <- %#v: no error", c.dest, c.src)
		}
	}
}

// TestArgs: arguments become the driver values database/sql would pass.
func TestArgs(t *testing.T) {
	now := time.Now()
	var nilPtr *int64
	got, err := args([]any{"s", 3, int64(4), []byte("b"), nil, true, now, payment.StatusCaptured, nilPtr})
	if err != nil {
		t.Fatal(err)
	}
	want := []driver.Value{"s", int64(3), int64(4), []byte("b"), nil, true, now, "captured", nil}
	for i, nv := range got {
		if nv.Ordinal != i+1 {
			t.Errorf("argument %d: ordinal %d", i, nv.Ordinal)
		}
		if b, isBytes := nv.Value.([]byte); isBytes {
			if !bytes.Equal(b, want[i].([]byte)) {
				t.Errorf("argument %d: %#v, want %#v", i, nv.Value, want[i])
			}
			continue
		}
		if nv.Value != want[i] {
			t.Errorf("argument %d: %#v, want %#v", i, nv.Value, want[i])
		}
	}
	if _, err := args([]any{struct{}{}}); err == nil {
		t.Error("a struct argument: no error")
	}
}
