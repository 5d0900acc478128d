package vault

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"fmt"
	"sync"
	"time"
)

// CVCKeys seals CVCs by crypto-shredding: each token's CVC is sealed under
// a data key of its own, made at random when the token is issued and kept
// in this process's memory only, never in the database, a file or a log.
// Erasing a CVC destroys its key. Every copy of the sealed CVC that a store
// leaves behind (an old page image in the SQLite -wal file, an old row
// version in a PostgreSQL table until VACUUM, the write-ahead log, a
// backup) is then ciphertext that no remaining key opens, at once and
// whatever the store does with its files.
//
// The price: a key does not survive the process. After a restart, or on
// another replica than the one that issued the token, the CVC cannot be
// opened, and the payment goes without it, as after its retention (card
// payments without a CVC are accepted by processors; some issuers decline
// more of them).
//
// A destroyed key is dropped at once; Go gives no way to wipe the AES key
// schedule the cipher holds, so its bytes stay in freed heap memory until
// reused, which is a matter for the process's memory, not for any file. It
// is safe for concurrent use.
type CVCKeys struct {
	mu   sync.Mutex
	keys map[string]cvcKey
}

type cvcKey struct {
	aead    cipher.AEAD
	created time.Time
	expires time.Time
}

// NewCVCKeys returns an empty set of CVC data keys.
func NewCVCKeys() *CVCKeys {
	return &CVCKeys{keys: map[string]cvcKey{}}
}

// cvcAAD binds a sealed CVC to its token, as the credential is bound.
func cvcAAD(tokenID string) []byte { return []byte(tokenID + "/cvc") }

// Seal seals cvc for the token tokenID under a new data key, created at
// now and usable until expires (the earlier of the CVC's retention and the
// allowance's end). A key tokenID had before is destroyed.
func (k *CVCKeys) Seal(tokenID, cvc string, now, expires time.Time) ([]byte, error) {
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("vault: cvc key: %w", err)
	}
	block, err := aes.NewCipher(secret)
	clear(secret)
	if err != nil {
		return nil, fmt.Errorf("vault: cvc key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("vault: cvc key: %w", err)
	}
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(cvc)+aead.Overhead())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("vault: nonce: %w", err)
	}
	sealed := aead.Seal(nonce, nonce, []byte(cvc), cvcAAD(tokenID))
	k.mu.Lock()
	k.keys[tokenID] = cvcKey{aead: aead, created: now, expires: expires}
	k.mu.Unlock()
	return sealed, nil
}

// Open returns the CVC sealed for tokenID, or ok false when it cannot be
// had: its key was destroyed, expired at now, or never was in this process
// (a restart, another replica), or sealed does not open with it. A missing
// CVC is not an error: the card goes without it.
func (k *CVCKeys) Open(tokenID string, sealed []byte, now time.Time) (cvc string, ok bool) {
	k.mu.Lock()
	key, found := k.keys[tokenID]
	k.mu.Unlock()
	if !found || !now.Before(key.expires) || len(sealed) < key.aead.NonceSize()+key.aead.Overhead() {
		return "", false
	}
	nonce, ct := sealed[:key.aead.NonceSize()], sealed[key.aead.NonceSize():]
	pt, err := key.aead.Open(nil, nonce, ct, cvcAAD(tokenID))
	if err != nil {
		return "", false
	}
	return string(pt), true
}

// Destroy forgets the key of tokenID, which makes every copy of its sealed
// CVC unreadable. A token without a key is no error.
func (k *CVCKeys) Destroy(tokenID string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.keys, tokenID)
}

// Sweep destroys the keys that expired at now and those created before
// createdBefore (the CVC retention may have been shortened since they were
// made), and returns how many it destroyed.
func (k *CVCKeys) Sweep(now, createdBefore time.Time) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := 0
	for id, key := range k.keys {
		if !now.Before(key.expires) || key.created.Before(createdBefore) {
			delete(k.keys, id)
			n++
		}
	}
	return n
}

// Len returns how many keys are held.
func (k *CVCKeys) Len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return len(k.keys)
}
