//go:build unix

package sqlite

import (
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"

	sqlite "modernc.org/sqlite"

	"acpgw/store"
)

// TestOpenCreatesPrivateFiles: the database, its -wal and its -shm are
// created 0600 in a 0700 folder, whatever the umask lets through (022 here,
// the usual one), so that no other user of the machine reads sealed cards.
// It does not run in parallel: the umask is the process's.
func TestOpenCreatesPrivateFiles(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	ctx := t.Context()
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "acpgw.db")
	s := openTest(t, path)
	tok := store.Token{ID: "vt_1", Credential: []byte{1}, CVC: []byte{2}}
	if err := s.Tx(ctx, func(tx store.Tx) error { return tx.InsertToken(ctx, tok) }); err != nil {
		t.Fatalf("InsertToken: %v", err)
	}
	want := map[string]os.FileMode{dir: 0o700, path: 0o600, path + "-wal": 0o600, path + "-shm": 0o600}
	for name, mode := range want {
		fi, err := os.Stat(name)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(name), err)
			continue
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %04o, want %04o", filepath.Base(name), fi.Mode().Perm(), mode)
		}
	}
}

// TestOpenSyncsWithFdatasync: after Open, commits sync with fdatasync where
// the system has it (Linux here).
func TestOpenSyncsWithFdatasync(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("fdatasync is switched on where the system has it; checked on Linux")
	}
	openTest(t, filepath.Join(t.TempDir(), "acpgw.db"))
	if !sqlite.FdatasyncEnabled() {
		t.Fatal("after Open, SQLite still syncs commits with fsync, not fdatasync")
	}
}
