package postgres

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"

	"acpgw/store"
)

// Queued writes travel merged. Each statement costs the server a Bind, an
// executor start and end, and a CommandComplete, and costs acpgw its
// encoding and the reading of its answer, whatever the statement does.
// So the writes queued one after another (see txn) go as one statement
// when they can: each becomes a data-modifying WITH query of it,
//
//	WITH w1 AS (UPDATE attempts ... RETURNING 1),
//	     w2 AS (UPDATE payments ... RETURNING 1),
//	     w3 AS (UPDATE idempotency ... RETURNING 1)
//	SELECT ln((SELECT COUNT(*) FROM w1)), 1 / (SELECT COUNT(*) FROM w2), 1 / (SELECT COUNT(*) FROM w3)
//
// and PostgreSQL runs every one of them to completion, once, whether the
// SELECT reads it or not. A settlement's four writes are one statement
// instead of four; an intent's three (the token's use, the payment, its
// attempt) one instead of three.
//
// What a merged statement must keep of the writes sent one by one:
//
//   - Each write sees the others' changes as if they had run in turn. The
//     parts of one statement share a snapshot and do not see each other's
//     changes, so two writes go in one statement only if neither touches a
//     table the other touches: a part writes one table and reads no other
//     (no subquery), and a group never holds one table twice. A foreign key
//     between two parts holds: PostgreSQL checks it at the end of the
//     statement, when both have run (an attempt inserted with its payment).
//   - A guarded write that changes no row fails with its own sentinel. The
//     SELECT list checks the parts in queue order, and PostgreSQL evaluates
//     it left to right, so the first guarded write that changed no row
//     raises the error, as the first would have stopped the pipeline. Each
//     sentinel has its own runtime error (guardChecks), so that the error
//     says which sentinel it is: division_by_zero for store.ErrNotFound, a
//     logarithm of zero for store.ErrSettled, a square root of -1 for
//     store.ErrTokenConsumed.
//   - One difference stays: when two writes of one statement would both
//     fail, the statement's error may be the later one's (a unique
//     violation is raised while the parts run, before the SELECT checks an
//     earlier guard). The transaction fails either way.

// part is a queued write as a part of a merged statement.
type part struct {
	table string // the one table it writes, and the only one it reads
	raw   string // the write without its guard and without RETURNING
	n     int    // its highest parameter number
}

// guardCheck is how a merged statement fails when a guarded part changed
// no row: the expression over the part's row count, and the SQLSTATE it
// raises at zero.
type guardCheck struct {
	expr string // %s is the part's row count
	code string
}

// guardChecks are the sentinels a merged statement can tell apart. A
// guarded write with another sentinel is not merged.
var guardChecks = map[error]guardCheck{
	store.ErrNotFound:      {"1 / %s", "22012"},       // division_by_zero
	store.ErrSettled:       {"ln(%s)", "2201E"},       // invalid_argument_for_logarithm
	store.ErrTokenConsumed: {"sqrt(%s - 1)", "2201F"}, // invalid_argument_for_power_function
}

const (
	guardHead = "WITH w AS ("
	guardTail = " RETURNING 1) SELECT 1 / COUNT(*) FROM w"
)

var (
	params = regexp.MustCompile(`\$([0-9]+)`)
	// parts caches partOf by statement text; merged caches a group's
	// statement by the texts of its writes.
	parts  sync.Map // string -> *part (nil: not mergeable)
	merged sync.Map // string -> string
)

// partOf returns statement q (a queued write, guarded or not) as a part of
// a merged statement, or nil if it must go on its own: it is not a plain
// INSERT, UPDATE or DELETE of one table, or it reads another table, or it
// returns rows.
func partOf(q string) *part {
	if p, ok := parts.Load(q); ok {
		return p.(*part)
	}
	p := parsePart(q)
	parts.Store(q, p)
	return p
}

func parsePart(q string) *part {
	raw := q
	if strings.HasPrefix(raw, guardHead) {
		if !strings.HasSuffix(raw, guardTail) {
			return nil
		}
		raw = raw[len(guardHead) : len(raw)-len(guardTail)]
	}
	upper := strings.ToUpper(raw)
	for _, w := range []string{"SELECT", "RETURNING", "WITH"} {
		if strings.Contains(upper, w) {
			return nil
		}
	}
	f := strings.Fields(raw)
	var table string
	switch {
	case len(f) > 2 && strings.EqualFold(f[0], "INSERT") && strings.EqualFold(f[1], "INTO"),
		len(f) > 2 && strings.EqualFold(f[0], "DELETE") && strings.EqualFold(f[1], "FROM"):
		table = f[2]
	case len(f) > 1 && strings.EqualFold(f[0], "UPDATE"):
		table = f[1]
	default:
		return nil
	}
	p := &part{table: strings.ToLower(table), raw: raw}
	for _, m := range params.FindAllStringSubmatch(raw, -1) {
		n, _ := strconv.Atoi(m[1])
		p.n = max(p.n, n)
	}
	return p
}

// mergeable reports whether w can join a merged statement. A write given
// another number of arguments than its parameters goes on its own, for
// the server to refuse as it would.
func (w queued) mergeable() bool {
	if w.part == nil || len(w.args) != w.part.n {
		return false
	}
	_, ok := guardChecks[w.none]
	return w.none == nil || ok
}

// groupEnd returns the end (exclusive) of the group of queued writes that
// starts at q[i]: the longest run of mergeable writes with no table twice.
func groupEnd(q []queued, i int) int {
	if !q[i].mergeable() {
		return i + 1
	}
	j := i + 1
next:
	for ; j < len(q) && q[j].mergeable(); j++ {
		for _, w := range q[i:j] {
			if w.part.table == q[j].part.table {
				break next
			}
		}
	}
	return j
}

// mergedSQL returns the statement that runs group g, two or more
// mergeable writes, in one.
func mergedSQL(g []queued) string {
	var key strings.Builder
	for _, w := range g {
		key.WriteString(w.sql)
		key.WriteByte(0)
	}
	if s, ok := merged.Load(key.String()); ok {
		return s.(string)
	}
	var b strings.Builder
	var checks []string
	off := 0
	for i, w := range g {
		if i == 0 {
			b.WriteString("WITH ")
		} else {
			b.WriteString(", ")
		}
		name := "w" + strconv.Itoa(i+1)
		shift := off
		b.WriteString(name + " AS (" + params.ReplaceAllStringFunc(w.part.raw, func(m string) string {
			n, _ := strconv.Atoi(m[1:])
			return "$" + strconv.Itoa(n+shift)
		}) + " RETURNING 1)")
		off += w.part.n
		if w.none != nil {
			checks = append(checks, fmt.Sprintf(guardChecks[w.none].expr, "(SELECT COUNT(*) FROM "+name+")"))
		}
	}
	if len(checks) == 0 {
		checks = []string{"1"}
	}
	b.WriteString(" SELECT " + strings.Join(checks, ", "))
	s := b.String()
	merged.Store(key.String(), s)
	return s
}

// mergedArgs returns the arguments of group g's merged statement.
func mergedArgs(g []queued) []any {
	n := 0
	for _, w := range g {
		n += w.part.n
	}
	args := make([]any, 0, n)
	for _, w := range g {
		args = append(args, w.args...)
	}
	return args
}

// groupError is the error of group g (one write, or a merged statement of
// several) that failed with err.
func groupError(g []queued, err error) error {
	if len(g) == 1 {
		return queuedError(g[0], err)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		for _, w := range g {
			if c, ok := guardChecks[w.none]; ok && w.none != nil && c.code == pe.Code {
				return fmt.Errorf("postgres: %s: %w", w.op, w.none)
			}
		}
	}
	ops := make([]string, len(g))
	for i, w := range g {
		ops[i] = w.op
	}
	return wrap(strings.Join(ops, ", "), err)
}
