package store

import "strings"

// URLScheme returns the scheme s starts with ("postgres" of
// "postgres://db/x", "file" of "file:x.db"), or "" when s does not start
// with one (RFC 3986: a letter, then letters, digits, "+", "-" or ".",
// then ":"). A drive letter (C:\x, C:/x) is not a scheme. config checks
// store.dsn with it, and the SQLite store refuses a DSN that has one.
func URLScheme(s string) string {
	i := strings.IndexByte(s, ':')
	if i <= 0 {
		return ""
	}
	for j, c := range s[:i] {
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if !letter && (j == 0 || (c < '0' || c > '9') && c != '+' && c != '-' && c != '.') {
			return ""
		}
	}
	if i == 1 && (len(s) == 2 || s[2] == '\\' || s[2] == '/') {
		return ""
	}
	return s[:i]
}
