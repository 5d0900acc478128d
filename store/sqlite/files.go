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
// their modes. Only the last folder is created: a missing parent is more
// likely a mistyped path (or a mounted volume that is not there) than a
// wish for a tree of new folders.
func prepareFiles(path string) error {
	if err := prepareDir(filepath.Dir(path)); err != nil {
		return err
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

// prepareDir makes sure dir is a folder, creating it if its parent exists.
func prepareDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case err == nil && fi.IsDir():
		return nil
	case err == nil:
		return fmt.Errorf("sqlite: %s, the database's folder, is not a folder", dir)
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("sqlite: database folder: %w", err)
	}
	err = os.Mkdir(dir, dirMode)
	switch {
	case err == nil, errors.Is(err, fs.ErrExist):
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("sqlite: cannot create the database folder %s: its parent %s does not exist; "+
			"create it first (acpgw creates only the last folder of store.dsn)", dir, filepath.Dir(dir))
	default:
		return fmt.Errorf("sqlite: create the database folder: %w", err)
	}
}
