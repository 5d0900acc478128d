// Package specs finds the specification files the tests check against: the
// team's shared folder <module root>/../shared/specs/<name> when it exists,
// else the copies in <module root>/testdata/specs/<name>, so that a clone of
// the repository on its own runs the same tests.
package specs

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Dir returns the directory of the named spec set ("acp", "adyen"). The
// module root is the first directory at or above the working directory that
// holds a go.mod.
func Dir(name string) (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			for _, d := range []string{filepath.Join(dir, "..", "shared", "specs", name), filepath.Join(dir, "testdata", "specs", name)} {
				if _, err := os.Stat(d); err == nil {
					return filepath.Clean(d), nil
				}
			}
			return "", fmt.Errorf("specs: module root %s has neither ../shared/specs/%s nor testdata/specs/%s", dir, name, name)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("specs: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Plain turns the json.Number values of a document decoded with UseNumber
// into int64 or float64, the forms kin-openapi's VisitJSON knows, in place.
func Plain(v any) (any, error) {
	switch t := v.(type) {
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i, nil
		}
		return t.Float64()
	case map[string]any:
		for k, e := range t {
			p, err := Plain(e)
			if err != nil {
				return nil, err
			}
			t[k] = p
		}
	case []any:
		for i, e := range t {
			p, err := Plain(e)
			if err != nil {
				return nil, err
			}
			t[i] = p
		}
	}
	return v, nil
}
