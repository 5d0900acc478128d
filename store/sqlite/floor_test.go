package sqlite

import (
	"bytes"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"acpgw/vault"
)

// BenchmarkAppendOnlyFloor is a yardstick, not the store: what SQLite
// through this driver costs a payment if the store were redesigned to
// write as little as a payment needs. The intent claims the key (a rowid
// table and its UNIQUE index), consumes the token (one UPDATE) and appends
// the payment with its attempt as one row of a log; the settlement appends
// one row (the outcome and the answer). Four statements and four B-trees,
// against nine statements and about fourteen B-trees in the store's own
// BenchmarkPaymentWriteTxs, whose synchronous=NORMAL cases it compares
// with (batch=1 is a commit per transaction, as at low load; batch=16 as
// in the group commit under load). It goes through database/sql, which the
// store does not, so it errs on the slow side. The README (Performance,
// session 6) says what it showed.
func BenchmarkAppendOnlyFloor(b *testing.B) {
	for _, batch := range []int{1, 16} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "f.db")
			db, err := sql.Open("sqlite", path+"?_journal_mode=WAL&_synchronous=NORMAL&_txlock=immediate")
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			db.SetMaxOpenConns(1)
			for _, q := range []string{
				`CREATE TABLE idem (id INTEGER PRIMARY KEY, scope TEXT NOT NULL, key TEXT NOT NULL, UNIQUE (scope, key))`,
				`CREATE TABLE tokens (id TEXT PRIMARY KEY, body BLOB, consumed TEXT) WITHOUT ROWID`,
				`CREATE TABLE log (seq INTEGER PRIMARY KEY, payment_id TEXT NOT NULL, kind INTEGER NOT NULL, body BLOB)`,
			} {
				if _, err := db.Exec(q); err != nil {
					b.Fatal(err)
				}
			}
			toks := make([]string, b.N)
			tx, err := db.Begin()
			if err != nil {
				b.Fatal(err)
			}
			for i := range toks {
				toks[i] = vault.NewTokenID()
				if _, err := tx.Exec(`INSERT INTO tokens (id, body) VALUES (?, ?)`, toks[i], bytes.Repeat([]byte{1}, 280)); err != nil {
					b.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				b.Fatal(err)
			}
			conn, err := db.Conn(b.Context())
			if err != nil {
				b.Fatal(err)
			}
			defer conn.Close()
			ctx := b.Context()
			pay := bytes.Repeat([]byte("p"), 600)
			ans := bytes.Repeat([]byte("a"), 1400)
			keys := make([]string, b.N)
			pays := make([]string, b.N)
			b.ReportAllocs()
			cpu0 := processCPU(b)
			w0, _ := writtenBytes()
			b.ResetTimer()
			for start := 0; start < b.N; start += batch {
				n := min(batch, b.N-start)
				tx, err := conn.BeginTx(ctx, nil)
				if err != nil {
					b.Fatal(err)
				}
				for i := start; i < start+n; i++ {
					keys[i], pays[i] = "key-"+vault.NewID("")[12:], vault.NewID("pay_")
					if _, err := tx.ExecContext(ctx, `INSERT INTO idem (scope, key) VALUES (?, ?)`, "merchant:acme POST /v1/payments", keys[i]); err != nil {
						b.Fatal(err)
					}
					if _, err := tx.ExecContext(ctx, `UPDATE tokens SET consumed = ? WHERE id = ? AND consumed IS NULL`, pays[i], toks[i]); err != nil {
						b.Fatal(err)
					}
					if _, err := tx.ExecContext(ctx, `INSERT INTO log (payment_id, kind, body) VALUES (?, 1, ?)`, pays[i], pay); err != nil {
						b.Fatal(err)
					}
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
				tx, err = conn.BeginTx(ctx, nil)
				if err != nil {
					b.Fatal(err)
				}
				for i := start; i < start+n; i++ {
					if _, err := tx.ExecContext(ctx, `INSERT INTO log (payment_id, kind, body) VALUES (?, 2, ?)`, pays[i], ans); err != nil {
						b.Fatal(err)
					}
				}
				if err := tx.Commit(); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64((processCPU(b)-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
			if w1, ok := writtenBytes(); ok {
				b.ReportMetric(float64(w1-w0)/1024/float64(b.N), "write-KiB/op")
			}
		})
	}
}
