package store

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"

	"acpgw/payment"
)

// Migration is one embedded schema step of a backend.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations reads a backend's migrations/*.sql from fsys, in order, and
// checks they are named NNNN_description.sql and numbered 1, 2, 3 ...
// without gaps.
func Migrations(fsys fs.FS) ([]Migration, error) {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must be NNNN_description.sql", base)
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: base, SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d", m.Name, i+1)
		}
	}
	return ms, nil
}

// EncodeMetadata encodes metadata as the JSON text backends store; nil
// stays "null" so that it reads back as nil.
func EncodeMetadata(m map[string]string) (string, error) {
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode metadata: %w", err)
	}
	return string(b), nil
}

// DecodeMetadata reverses EncodeMetadata.
func DecodeMetadata(s string) (map[string]string, error) {
	if s == "" || s == "null" {
		return nil, nil
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, fmt.Errorf("decode metadata: %w", err)
	}
	return m, nil
}

// EncodeDecline encodes a decline as JSON text, nil for none.
func EncodeDecline(d *payment.Decline) (*string, error) {
	if d == nil {
		return nil, nil
	}
	b, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode decline: %w", err)
	}
	s := string(b)
	return &s, nil
}

// DecodeDecline reverses EncodeDecline.
func DecodeDecline(s *string) (*payment.Decline, error) {
	if s == nil {
		return nil, nil
	}
	var d payment.Decline
	if err := json.Unmarshal([]byte(*s), &d); err != nil {
		return nil, fmt.Errorf("decode decline: %w", err)
	}
	return &d, nil
}
