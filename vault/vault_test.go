package vault

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"acpgw/payment"
)

func key(id string, b byte) Key { return Key{ID: id, Secret: bytes.Repeat([]byte{b}, 32)} }

func TestSealOpenCard(t *testing.T) {
	t.Parallel()
	v, err := New([]Key{key("k1", 1)})
	if err != nil {
		t.Fatal(err)
	}
	card := payment.Card{NumberType: "fpan", Number: "4242424242424242", ExpMonth: 12, ExpYear: 2030, Name: "Jane", CVC: "123"}
	s, err := v.SealCard("vt_a", card)
	if err != nil {
		t.Fatal(err)
	}
	if s.KeyID != "k1" {
		t.Fatalf("key id %q", s.KeyID)
	}
	if bytes.Contains(s.Credential, []byte("4242424242424242")) || bytes.Contains(s.Credential, []byte(`"123"`)) {
		t.Fatal("sealed value contains plaintext")
	}
	got, err := v.OpenCard("vt_a", s)
	if err != nil {
		t.Fatal(err)
	}
	// The CVC is not sealed with the credential: CVCKeys seals it.
	want := card
	want.CVC = ""
	if got != want {
		t.Fatalf("round trip: got %+v", got)
	}
	// Bound to the token id.
	if _, err := v.OpenCard("vt_b", s); !errors.Is(err, ErrOpen) {
		t.Fatalf("other token id: %v", err)
	}
	// Tampering fails.
	s.Credential[len(s.Credential)-1] ^= 1
	if _, err := v.OpenCard("vt_a", s); !errors.Is(err, ErrOpen) {
		t.Fatalf("tampered: %v", err)
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	old, _ := New([]Key{key("k1", 1)})
	_, sealed, err := old.Seal("x", []byte("secret"))
	if err != nil {
		t.Fatal(err)
	}
	rotated, _ := New([]Key{key("k2", 2), key("k1", 1)})
	if rotated.PrimaryKeyID() != "k2" {
		t.Fatal("first key must seal")
	}
	pt, err := rotated.Open("k1", "x", sealed)
	if err != nil || string(pt) != "secret" {
		t.Fatalf("old key must still open: %v", err)
	}
	id, _, _ := rotated.Seal("x", []byte("y"))
	if id != "k2" {
		t.Fatalf("sealed under %q", id)
	}
	retired, _ := New([]Key{key("k2", 2)})
	if _, err := retired.Open("k1", "x", sealed); !errors.Is(err, ErrUnknownKey) {
		t.Fatalf("retired key: %v", err)
	}
	if _, err := rotated.Open("k1", "x", sealed[:5]); !errors.Is(err, ErrOpen) {
		t.Fatalf("short value: %v", err)
	}
}

func TestNewRejectsBadKeys(t *testing.T) {
	t.Parallel()
	for name, keys := range map[string][]Key{
		"none":      nil,
		"short":     {{ID: "k", Secret: make([]byte, 16)}},
		"duplicate": {key("k", 1), key("k", 2)},
	} {
		if _, err := New(keys); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestNewID(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	prev := ""
	for i := range 10000 {
		id := NewTokenID()
		if !strings.HasPrefix(id, "vt_") || len(id) != 3+36 {
			t.Fatalf("bad id %q", id)
		}
		if seen[id] {
			t.Fatalf("duplicate id %q", id)
		}
		seen[id] = true
		// The first 45 bits of the time prefix (9 characters) never go back.
		if i > 0 && id[:3+9] < prev[:3+9] {
			t.Fatalf("id %q sorts before the earlier %q", id, prev)
		}
		prev = id
	}
	// 128 random bits after the time: two ids of one millisecond share the
	// time prefix and nothing that could be guessed from it.
	a, b := NewID("x_"), NewID("x_")
	if a[2+10:] == b[2+10:] {
		t.Fatalf("ids %q and %q share their random part", a, b)
	}
	// Any prefix, short or long, is followed by the 22 bytes in base32.
	for _, prefix := range []string{"", "req_", strings.Repeat("p", 27), strings.Repeat("p", 28), strings.Repeat("p", 100)} {
		id := NewID(prefix)
		raw, err := tokenEncoding.DecodeString(strings.TrimPrefix(id, prefix))
		if !strings.HasPrefix(id, prefix) || err != nil || len(raw) != 22 {
			t.Errorf("NewID(%q) = %q: %v, %d bytes", prefix, id, err, len(raw))
		}
	}
}
