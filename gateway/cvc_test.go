package gateway

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// testCVC is the CVC of every card the CVC tests delegate.
const testCVC = "737"

// cvcOpener returns, for a token, whether a candidate found in a file opens
// to the token's CVC with a key that remains.
type cvcOpener func(tokenID string) func(sealed []byte) bool

// scanCVCs returns the tokens of ids whose sealed CVC is somewhere in blobs
// (file name -> content) and still opens with open. A sealed CVC is a
// 12-byte nonce, the CVC and a 16-byte tag, so every window of that length
// at every offset is tried: nothing about the layout of a database file is
// assumed.
func scanCVCs(t *testing.T, blobs map[string][]byte, ids []string, open cvcOpener) []string {
	t.Helper()
	names := make([]string, 0, len(blobs))
	for name := range blobs {
		names = append(names, name)
	}
	sort.Strings(names)
	const n = 12 + len(testCVC) + 16
	var found []string
	for _, id := range ids {
		opens := open(id)
	scan:
		for _, name := range names {
			b := blobs[name]
			for off := 0; off+n <= len(b); off++ {
				if opens(b[off : off+n]) {
					t.Logf("%s: a sealed CVC of %s opens at offset %d", name, id, off)
					found = append(found, id)
					break scan
				}
			}
		}
	}
	return found
}

// dirFiles reads every regular file of dir.
func dirFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// cvcTokens issues three tokens with the CVC 737, pays with two of them
// (one approved, one declined), and returns the used ones and the unused.
func cvcTokens(r *rig) (used []string, unused string) {
	r.t.Helper()
	approved := r.delegate("4242424242424242", 1000)
	declined := r.delegate("4000000000000002", 1000)
	unused = r.delegate("5555555555554444", 1000)
	r.mustPay(r.payInput(approved, 1000, "automatic"))
	r.mustPay(r.payInput(declined, 1000, "automatic"))
	for _, id := range []string{approved, declined} {
		tok, err := r.st.GetToken(r.t.Context(), id)
		if err != nil || tok.CVC != nil {
			r.t.Fatalf("token %s after its payment: CVC %d bytes, %v", id, len(tok.CVC), err)
		}
	}
	return []string{approved, declined}, unused
}

// remainingKeys opens a sealed CVC with every key the rig still has: the
// vault key of the config (which a crash leaves on disk) and the CVC data
// keys held in memory, expired or not (the zero time is before every
// expiry).
func remainingKeys(r *rig) cvcOpener {
	key, err := base64.StdEncoding.DecodeString(testVaultKey)
	if err != nil {
		r.t.Fatal(err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		r.t.Fatal(err)
	}
	vaultKey, err := cipher.NewGCM(block)
	if err != nil {
		r.t.Fatal(err)
	}
	return func(id string) func([]byte) bool {
		aad := []byte(id + "/cvc")
		buf := make([]byte, 0, 16)
		return func(sealed []byte) bool {
			pt, err := vaultKey.Open(buf[:0], sealed[:12], sealed[12:], aad)
			if err == nil && string(pt) == testCVC {
				return true
			}
			cvc, ok := r.svc.cvcs.Open(id, sealed, time.Time{})
			return ok && cvc == testCVC
		}
	}
}

// checkScan fails the test unless the scan found the unused token's CVC
// (so it can see one) and none of the used ones.
func checkScan(t *testing.T, found, used []string, unused string) {
	t.Helper()
	if !slices.Contains(found, unused) {
		t.Errorf("the unused token's CVC was not found: the scan is blind")
	}
	for _, id := range used {
		if slices.Contains(found, id) {
			t.Errorf("the erased CVC of %s still opens from what the store keeps", id)
		}
	}
}

// TestErasedCVCDoesNotOpen: once a payment has used a CVC, no file of the
// SQLite store (database, -wal, -shm) holds a sealed copy of it that opens
// with a key that is left, although the -wal file keeps old page images.
// The files are read while the store is open, as a crash would leave them.
func TestErasedCVCDoesNotOpen(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOpts{})
	used, unused := cvcTokens(r)
	found := scanCVCs(t, dirFiles(t, r.dir), append(used, unused), remainingKeys(r))
	checkScan(t, found, used, unused)
}

// TestErasedCVCDoesNotOpenPostgres: on PostgreSQL an UPDATE leaves the old
// row version in the table's pages until VACUUM. The raw pages of tokens
// (read with pageinspect) hold old versions, and no sealed CVC in them of
// a used token opens with a key that is left.
func TestErasedCVCDoesNotOpenPostgres(t *testing.T) {
	t.Parallel()
	r := newRig(t, rigOpts{postgres: true})
	used, unused := cvcTokens(r)

	ctx := t.Context()
	conn, err := pgx.Connect(ctx, r.pgDSN)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pageinspect`); err != nil {
		t.Fatalf("pageinspect: %v", err)
	}
	var pages int
	if err := conn.QueryRow(ctx, `SELECT pg_relation_size('tokens') / current_setting('block_size')::int`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	blobs, old := map[string][]byte{}, 0
	for blk := range pages {
		var page []byte
		var dead int
		err := conn.QueryRow(ctx, `SELECT get_raw_page('tokens', $1::int),
			(SELECT count(*) FROM heap_page_items(get_raw_page('tokens', $1::int)) WHERE t_xmax <> 0)`, blk).Scan(&page, &dead)
		if err != nil {
			t.Fatal(err)
		}
		blobs[fmt.Sprintf("tokens page %d", blk)] = page
		old += dead
	}
	if old == 0 {
		t.Fatal("no old row versions in tokens: the test shows nothing")
	}
	found := scanCVCs(t, blobs, append(used, unused), remainingKeys(r))
	checkScan(t, found, used, unused)
}
