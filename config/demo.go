package config

import (
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

//go:embed demo.yaml
var demoYAML []byte

// DemoYAML returns the embedded demo config file, for `acpgw config` to
// show and for documentation.
func DemoYAML() []byte { return append([]byte(nil), demoYAML...) }

// DemoVaultKeyFile is the name of the demo vault key file in the data
// directory.
const DemoVaultKeyFile = "demo-vault.key"

// DemoDataDir is the data directory Demo uses when given "".
const DemoDataDir = "./data"

// Demo returns the embedded demo config (config/demo.yaml) with its SQLite
// file in dataDir. The vault key is generated on the first call for a
// directory and kept in dataDir/demo-vault.key (mode 0600); later calls,
// and later starts, reuse it so tokens stay readable.
func Demo(dataDir string) (*Config, error) {
	if dataDir == "" {
		dataDir = DemoDataDir
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, fmt.Errorf("demo config: %w", err)
	}
	key, err := demoVaultKey(filepath.Join(dataDir, DemoVaultKeyFile))
	if err != nil {
		return nil, fmt.Errorf("demo config: %w", err)
	}
	vars := map[string]string{
		"ACPGW_DEMO_DSN":       filepath.Join(dataDir, "acpgw.db"),
		"ACPGW_DEMO_VAULT_KEY": key,
	}
	c, err := parse(demoYAML, "demo.yaml (embedded)", func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	})
	if err != nil {
		return nil, err
	}
	c.Demo = true
	c.Path = ""
	return c, nil
}

// demoVaultKey returns the base64 key stored at path, creating it first if
// there is none. The file appears whole or not at all (written aside, then
// linked into place), so two processes starting at once agree on one key.
func demoVaultKey(path string) (string, error) {
	if key, err := readDemoKey(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", err
	}
	key := base64.StdEncoding.EncodeToString(raw)
	tmp, err := os.CreateTemp(filepath.Dir(path), ".demo-vault-*.tmp")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return "", err
	}
	if _, err := tmp.WriteString(key + "\n"); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return readDemoKey(path) // another process won the race
		}
		return "", err
	}
	return key, nil
}

// readDemoKey reads the key at path. A file that group or others may read or
// change is refused: the key opens every card the demo stored.
func readDemoKey(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", err
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 && runtime.GOOS != "windows" {
		return "", fmt.Errorf("%s can be read or changed by group or others (mode %04o), and it holds the vault key that opens every card stored beside it; "+
			"make it private with `chmod 600 %s` and start again", path, perm, path)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		return "", err
	}
	key := strings.TrimSpace(string(b))
	if raw, err := base64.StdEncoding.DecodeString(key); err != nil || len(raw) != 32 {
		return "", fmt.Errorf("%s does not hold a base64 32-byte key; delete it to generate a new one (tokens it encrypted are lost)", path)
	}
	return key, nil
}
