package vault

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 26, 18, 0, 0, 0, time.UTC)

func TestCVCKeysSealOpenDestroy(t *testing.T) {
	t.Parallel()
	k := NewCVCKeys()
	sealed, err := k.Seal("vt_a", "737", t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("737")) || len(sealed) != 12+3+16 {
		t.Fatalf("sealed CVC of %d bytes holds the plaintext or is not nonce+cvc+tag", len(sealed))
	}
	if cvc, ok := k.Open("vt_a", sealed, t0); !ok || cvc != "737" {
		t.Fatalf("Open = %q, %v", cvc, ok)
	}
	// Bound to its token: another token's key or id does not open it.
	other, _ := k.Seal("vt_b", "737", t0, t0.Add(time.Hour))
	if _, ok := k.Open("vt_b", sealed, t0); ok {
		t.Error("vt_a's CVC opened as vt_b's")
	}
	tampered := bytes.Clone(sealed)
	tampered[len(tampered)-1] ^= 1
	if _, ok := k.Open("vt_a", tampered, t0); ok {
		t.Error("a tampered CVC opened")
	}
	if _, ok := k.Open("vt_a", nil, t0); ok {
		t.Error("no CVC opened")
	}
	// Expired at the key's end.
	if _, ok := k.Open("vt_a", sealed, t0.Add(time.Hour)); ok {
		t.Error("the CVC opened when its key had expired")
	}
	k.Destroy("vt_a")
	if _, ok := k.Open("vt_a", sealed, t0); ok {
		t.Error("the CVC opened after its key was destroyed")
	}
	k.Destroy("vt_a") // twice is fine
	if cvc, ok := k.Open("vt_b", other, t0); !ok || cvc != "737" || k.Len() != 1 {
		t.Errorf("destroying vt_a touched vt_b: %q %v, %d keys", cvc, ok, k.Len())
	}
	// A second Seal for one token replaces its key: the first value is lost.
	again, _ := k.Seal("vt_b", "1234", t0, t0.Add(time.Hour))
	if _, ok := k.Open("vt_b", other, t0); ok {
		t.Error("a CVC sealed under a replaced key opened")
	}
	if cvc, ok := k.Open("vt_b", again, t0); !ok || cvc != "1234" {
		t.Errorf("Open = %q, %v", cvc, ok)
	}
	// Another process (a restart) has none of the keys.
	if _, ok := NewCVCKeys().Open("vt_b", again, t0); ok {
		t.Error("a CVC opened without its key")
	}
}

func TestCVCKeysSweep(t *testing.T) {
	t.Parallel()
	k := NewCVCKeys()
	seal := func(id string, created, expires time.Time) []byte {
		b, err := k.Seal(id, "737", created, expires)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	old := seal("vt_old", t0, t0.Add(48*time.Hour))                     // created before the cut-off
	ended := seal("vt_ended", t0.Add(2*time.Hour), t0.Add(3*time.Hour)) // allowance ended
	live := seal("vt_live", t0.Add(2*time.Hour), t0.Add(48*time.Hour))  // neither
	if n := k.Sweep(t0.Add(3*time.Hour), t0.Add(time.Hour)); n != 2 || k.Len() != 1 {
		t.Fatalf("Sweep destroyed %d, %d left; want 2, 1", n, k.Len())
	}
	for id, sealed := range map[string][]byte{"vt_old": old, "vt_ended": ended} {
		if _, ok := k.Open(id, sealed, t0.Add(2*time.Hour)); ok {
			t.Errorf("%s opened after the sweep", id)
		}
	}
	if _, ok := k.Open("vt_live", live, t0.Add(3*time.Hour)); !ok {
		t.Error("the sweep destroyed a live key")
	}
}

func TestCVCKeysConcurrent(t *testing.T) {
	t.Parallel()
	k := NewCVCKeys()
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			id := string(rune('a' + i))
			for range 100 {
				sealed, err := k.Seal(id, "737", t0, t0.Add(time.Hour))
				if err != nil {
					t.Error(err)
					return
				}
				if cvc, ok := k.Open(id, sealed, t0); !ok || cvc != "737" {
					t.Errorf("Open = %q, %v", cvc, ok)
					return
				}
				k.Sweep(t0, t0.Add(-time.Hour))
				k.Destroy(id)
			}
		})
	}
	wg.Wait()
	if k.Len() != 0 {
		t.Errorf("%d keys left", k.Len())
	}
}
