//go:build unix

package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDemoRefusesExposedKey: the demo's vault key opens every card it
// stored; a key file that group or others may read is refused with a
// message saying how to fix it, and the key is not used.
func TestDemoRefusesExposedKey(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := Demo(dir); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, DemoVaultKeyFile)
	key, _ := os.ReadFile(keyFile)
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644, 0o660, 0o620} {
		if err := os.Chmod(keyFile, mode); err != nil {
			t.Fatal(err)
		}
		c, err := Demo(dir)
		if err == nil {
			t.Errorf("mode %04o: Demo accepted the key file (%d vault keys)", mode, len(c.Vault.Keys))
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, keyFile) || !strings.Contains(msg, "by group or others") ||
			!strings.Contains(msg, "chmod 600") || strings.Contains(msg, strings.TrimSpace(string(key))) {
			t.Errorf("mode %04o: message %q", mode, msg)
		}
	}
	if err := os.Chmod(keyFile, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Demo(dir); err != nil {
		t.Errorf("mode 0600: %v", err)
	}
	// Owner-only modes without write are fine too.
	if err := os.Chmod(keyFile, 0o400); err != nil {
		t.Fatal(err)
	}
	if _, err := Demo(dir); err != nil {
		t.Errorf("mode 0400: %v", err)
	}
}
