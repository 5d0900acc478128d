// Package vault seals card credentials with AES-256-GCM under named keys and
// issues the unguessable vt_ tokens that stand for them. The key id is stored
// beside every sealed value, so keys can rotate: the first configured key
// seals, every configured key opens.
//
// The CVC is not sealed under those keys, which live as long as the
// tokens: CVCKeys seals each CVC under a short-lived data key of its own,
// so that erasing a CVC can destroy every copy of it (crypto-shredding).
package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"acpgw/payment"
)

// Key is one AES-256 key with its id.
type Key struct {
	ID     string
	Secret []byte
}

// Errors of the vault.
var (
	// ErrUnknownKey: the sealed value names a key id this vault does not have.
	ErrUnknownKey = errors.New("vault: unknown key id")
	// ErrOpen: the sealed value failed authentication (tampered, wrong key or
	// wrong token id).
	ErrOpen = errors.New("vault: cannot open sealed value")
)

// Vault seals and opens credentials. It is safe for concurrent use.
type Vault struct {
	primary string
	aeads   map[string]cipher.AEAD
}

// New builds a vault from keys; keys[0] seals. Every key must be 32 bytes
// and ids must be unique.
func New(keys []Key) (*Vault, error) {
	if len(keys) == 0 {
		return nil, errors.New("vault: no keys")
	}
	v := &Vault{primary: keys[0].ID, aeads: make(map[string]cipher.AEAD, len(keys))}
	for _, k := range keys {
		if len(k.Secret) != 32 {
			return nil, fmt.Errorf("vault: key %q must be 32 bytes, got %d", k.ID, len(k.Secret))
		}
		if _, dup := v.aeads[k.ID]; dup {
			return nil, fmt.Errorf("vault: duplicate key id %q", k.ID)
		}
		block, err := aes.NewCipher(k.Secret)
		if err != nil {
			return nil, fmt.Errorf("vault: key %q: %w", k.ID, err)
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("vault: key %q: %w", k.ID, err)
		}
		v.aeads[k.ID] = aead
	}
	return v, nil
}

// PrimaryKeyID is the id of the key that seals new values.
func (v *Vault) PrimaryKeyID() string { return v.primary }

// Seal encrypts plaintext under the primary key with a random nonce. The
// additional data binds the sealed value to its owner (the token id), so a
// sealed value copied to another row does not open.
func (v *Vault) Seal(aad string, plaintext []byte) (keyID string, sealed []byte, err error) {
	aead := v.aeads[v.primary]
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return "", nil, fmt.Errorf("vault: nonce: %w", err)
	}
	return v.primary, aead.Seal(nonce, nonce, plaintext, []byte(aad)), nil
}

// Open decrypts a value sealed by Seal under keyID with the same aad.
func (v *Vault) Open(keyID, aad string, sealed []byte) ([]byte, error) {
	aead, ok := v.aeads[keyID]
	if !ok {
		return nil, fmt.Errorf("%w %q", ErrUnknownKey, keyID)
	}
	if len(sealed) < aead.NonceSize()+aead.Overhead() {
		return nil, ErrOpen
	}
	nonce, ct := sealed[:aead.NonceSize()], sealed[aead.NonceSize():]
	pt, err := aead.Open(nil, nonce, ct, []byte(aad))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// credential is the sealed part of a card; the CVC is sealed apart, by
// CVCKeys, so that it can be erased after its first use.
type credential struct {
	NumberType string `json:"t"`
	Number     string `json:"n"`
	ExpMonth   int    `json:"m"`
	ExpYear    int    `json:"y"`
	Name       string `json:"h,omitempty"`
	Cryptogram string `json:"c,omitempty"`
	ECI        string `json:"e,omitempty"`
}

// SealedCard is a card's credential sealed for storage: everything but the
// CVC, which CVCKeys seals.
type SealedCard struct {
	KeyID      string
	Credential []byte
}

// SealCard seals c for the token tokenID, all but its CVC: c.CVC is left
// out, for CVCKeys.Seal.
func (v *Vault) SealCard(tokenID string, c payment.Card) (SealedCard, error) {
	pt, err := json.Marshal(credential{
		NumberType: c.NumberType, Number: c.Number, ExpMonth: c.ExpMonth, ExpYear: c.ExpYear,
		Name: c.Name, Cryptogram: c.Cryptogram, ECI: c.ECI,
	})
	if err != nil {
		return SealedCard{}, fmt.Errorf("vault: encode credential: %w", err)
	}
	keyID, cred, err := v.Seal(tokenID, pt)
	clear(pt)
	if err != nil {
		return SealedCard{}, err
	}
	return SealedCard{KeyID: keyID, Credential: cred}, nil
}

// OpenCard opens a card sealed by SealCard for tokenID, without a CVC (see
// CVCKeys.Open). Brand and funding are not secret and are not sealed; the
// caller fills them in from the token.
func (v *Vault) OpenCard(tokenID string, s SealedCard) (payment.Card, error) {
	pt, err := v.Open(s.KeyID, tokenID, s.Credential)
	if err != nil {
		return payment.Card{}, err
	}
	var c credential
	err = json.Unmarshal(pt, &c)
	clear(pt)
	if err != nil {
		return payment.Card{}, fmt.Errorf("%w: credential does not decode", ErrOpen)
	}
	return payment.Card{
		NumberType: c.NumberType, Number: c.Number, ExpMonth: c.ExpMonth, ExpYear: c.ExpYear,
		Name: c.Name, Cryptogram: c.Cryptogram, ECI: c.ECI,
	}, nil
}

var tokenEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewID returns prefix followed by the current Unix time in milliseconds
// (48 bits) and 128 random bits, in lowercase Crockford base32 (36
// characters): unguessable, safe in URLs, and in creation order when sorted.
// The order is for the store: rows inserted one after another land on the
// same B-tree pages, so a batch of payments writes a few pages to the WAL
// instead of one page per row and index.
func NewID(prefix string) string {
	var b [22]byte
	ms := uint64(time.Now().UnixMilli())
	for i := range 6 {
		b[i] = byte(ms >> (8 * (5 - i)))
	}
	if _, err := rand.Read(b[6:]); err != nil {
		// crypto/rand does not fail on supported platforms; a token that
		// could be guessed must never be issued.
		panic("vault: crypto/rand failed: " + err.Error())
	}
	// Spelled out in place: one allocation, the string, for every id of a
	// request (its request id, payment, attempt, token).
	var out [64]byte
	size := tokenEncoding.EncodedLen(len(b))
	if len(prefix)+size > len(out) {
		return prefix + tokenEncoding.EncodeToString(b[:])
	}
	n := copy(out[:], prefix)
	tokenEncoding.Encode(out[n:], b[:])
	return string(out[:n+size])
}

// NewTokenID returns a new vt_ token id.
func NewTokenID() string { return NewID("vt_") }
