package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// The database holds sealed cards: its files are the owner's alone. SQLite
// creates the -wal and -shm files with the mode of the database file, so
// creating that one 0600 (before SQLite would, with 0644 less the umask)
// makes all three private.
const (
	dirMode  = 0o700
	fileMode = 0o600
)

// prepareFiles creates the folder of the database at path (0700) and the
// empty database file (0600) if they do not exist. Existing ones keep
// their modes.
func prepareFiles(path string) error {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, dirMode); err != nil {
			return fmt.Errorf("sqlite: create database directory: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
	switch {
	case errors.Is(err, fs.ErrExist):
		return nil
	case err != nil:
		return fmt.Errorf("sqlite: create database file: %w", err)
	}
	return f.Close()
}
