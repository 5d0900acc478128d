package gateway

import (
	"context"
	"time"

	"acpgw/store"
	"acpgw/vault"
)

// CVCs are crypto-shredded: each one is sealed under a data key of its own
// that lives only in this process (vault.CVCKeys), and erasing a CVC
// destroys its key. Nulling the column alone is not enough: SQLite's -wal
// file keeps old page images, PostgreSQL keeps old row versions until
// VACUUM, and backups keep everything; all those copies become ciphertext
// that no remaining key opens. A CVC cannot be used after a restart or on
// another replica than the one that issued its token: the payment then goes
// without it, as after the CVC's retention ended.

// cvcStore is the store as the service sees it: erasing a token's CVC
// (Tx.DeleteTokenCVC, wherever the payment path, a webhook or
// reconciliation calls it) also destroys the key that sealed it. Every
// other method is the backend's.
type cvcStore struct {
	store.Store
	keys *vault.CVCKeys
}

// Tx runs fn in a transaction of the backend whose DeleteTokenCVC also
// destroys the CVC's key.
func (c cvcStore) Tx(ctx context.Context, fn func(tx store.Tx) error) error {
	return c.Store.Tx(ctx, func(tx store.Tx) error { return fn(cvcTx{Tx: tx, keys: c.keys}) })
}

// cvcTx is a backend transaction whose DeleteTokenCVC shreds.
type cvcTx struct {
	store.Tx
	keys *vault.CVCKeys
}

// DeleteTokenCVC destroys the token's CVC key, then nulls the sealed CVC.
// The key goes first and whatever the transaction's fate: a CVC that was
// meant to be erased must not be usable again, and a payment without one
// is the safe side.
func (t cvcTx) DeleteTokenCVC(ctx context.Context, id string) error {
	t.keys.Destroy(id)
	return t.Tx.DeleteTokenCVC(ctx, id)
}

// sealCVC seals a new token's CVC, nil for none, under a key that ends with
// the allowance.
func (s *Service) sealCVC(tokenID, cvc string, now, allowanceEnd time.Time) ([]byte, error) {
	if cvc == "" {
		return nil, nil
	}
	return s.cvcs.Seal(tokenID, cvc, now, allowanceEnd)
}

// openCVC returns the token's CVC, or "" when it has none that this process
// can open: erased, past its retention, or sealed before a restart or by
// another replica.
func (s *Service) openCVC(tok store.Token) string {
	cvc, _ := s.cvcs.Open(tok.ID, tok.CVC, s.now())
	return cvc
}
