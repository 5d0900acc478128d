package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"time"
)

// The writer talks to its connection through the driver's own interfaces,
// not database/sql: a write transaction runs about ten statements a
// payment, and for each database/sql bound the statement to the
// transaction (Tx.StmtContext: an allocation, a lock and a search),
// converted every argument and wrapped every result, which the CPU profile
// put at about 25 µs a payment. The writer takes the connection from its
// pool of one with sql.Conn.Raw for each batch (batch.go), and the
// statements prepared on it stay prepared from batch to batch (stmts.go).
//
// Arguments are converted as database/sql converts them for a driver
// without its own checker (driver.DefaultParameterConverter), and columns
// are scanned as database/sql scans the types the row codec uses: string,
// []byte (copied), int64, int, bool, types of those kinds, and sql.Scanner.

// rawStmt is a statement prepared on the writer's driver connection.
type rawStmt struct {
	ds driver.Stmt
}

// args converts a statement's arguments into driver values.
func args(vs []any) ([]driver.NamedValue, error) {
	out := make([]driver.NamedValue, len(vs))
	for i, v := range vs {
		out[i].Ordinal = i + 1
		switch x := v.(type) {
		case nil, int64, float64, bool, []byte, string, time.Time:
			out[i].Value = x
		case int:
			out[i].Value = int64(x)
		default:
			dv, err := driver.DefaultParameterConverter.ConvertValue(v)
			if err != nil {
				return nil, fmt.Errorf("sqlite: argument %d: %w", i+1, err)
			}
			out[i].Value = dv
		}
	}
	return out, nil
}

// exec runs a write and returns the number of rows it changed.
func (r *rawStmt) exec(ctx context.Context, vs ...any) (int64, error) {
	nv, err := args(vs)
	if err != nil {
		return 0, err
	}
	res, err := r.ds.(driver.StmtExecContext).ExecContext(detach(ctx), nv)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// query runs a statement that returns rows.
func (r *rawStmt) query(ctx context.Context, vs ...any) (*rawRows, error) {
	nv, err := args(vs)
	if err != nil {
		return nil, err
	}
	rows, err := r.ds.(driver.StmtQueryContext).QueryContext(detach(ctx), nv)
	if err != nil {
		return nil, err
	}
	return &rawRows{rows: rows, vals: make([]driver.Value, len(rows.Columns()))}, nil
}

// queryRow runs a statement for its first row; the row's Scan says
// sql.ErrNoRows when there is none, as sql.Row does.
func (r *rawStmt) queryRow(ctx context.Context, vs ...any) *rawRow {
	rows, err := r.query(ctx, vs...)
	return &rawRow{rows: rows, err: err}
}

// rawRows iterates over the rows of a query, as sql.Rows does.
type rawRows struct {
	rows   driver.Rows
	vals   []driver.Value
	err    error
	closed bool
}

// Next reads the next row; false at the end or on an error (Err says).
func (r *rawRows) Next() bool {
	if r.closed {
		return false
	}
	if err := r.rows.Next(r.vals); err != nil {
		if !errors.Is(err, io.EOF) {
			r.err = err
		}
		r.Close()
		return false
	}
	return true
}

// Scan copies the current row into dest.
func (r *rawRows) Scan(dest ...any) error {
	if len(dest) != len(r.vals) {
		return fmt.Errorf("sqlite: scan: %d destinations for %d columns", len(dest), len(r.vals))
	}
	for i, d := range dest {
		if err := assign(d, r.vals[i]); err != nil {
			return fmt.Errorf("sqlite: scan column %d: %w", i, err)
		}
	}
	return nil
}

// Err is the error that ended the iteration, if any.
func (r *rawRows) Err() error { return r.err }

// Close ends the query; closing twice is fine.
func (r *rawRows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if err := r.rows.Close(); err != nil && r.err == nil {
		r.err = err
	}
	return r.err
}

// rawRow is the first row of a query.
type rawRow struct {
	rows *rawRows
	err  error
}

// Scan copies the row into dest, or says sql.ErrNoRows.
func (r *rawRow) Scan(dest ...any) error {
	if r.err != nil {
		return r.err
	}
	defer r.rows.Close()
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return sql.ErrNoRows
	}
	if err := r.rows.Scan(dest...); err != nil {
		return err
	}
	return r.rows.Close()
}

// assign stores a driver value in dest, as database/sql's Scan would for
// the destinations the row codec uses.
func assign(dest any, src driver.Value) error {
	switch d := dest.(type) {
	case sql.Scanner:
		return d.Scan(src)
	case *string:
		switch s := src.(type) {
		case string:
			*d = s
			return nil
		case []byte:
			*d = string(s)
			return nil
		case int64:
			*d = strconv.FormatInt(s, 10)
			return nil
		}
	case *[]byte:
		switch s := src.(type) {
		case nil:
			*d = nil
			return nil
		case []byte:
			*d = bytes.Clone(s)
			return nil
		case string:
			*d = []byte(s)
			return nil
		}
	case *int64:
		if s, ok := src.(int64); ok {
			*d = s
			return nil
		}
	case *int:
		if s, ok := src.(int64); ok {
			*d = int(s)
			return nil
		}
	case *bool:
		switch s := src.(type) {
		case int64:
			*d = s != 0
			return nil
		case bool:
			*d = s
			return nil
		}
	default:
		// A named type of one of those kinds (a state, a status).
		v := reflect.ValueOf(dest)
		if v.Kind() == reflect.Pointer && !v.IsNil() {
			e := v.Elem()
			switch s := src.(type) {
			case string:
				if e.Kind() == reflect.String {
					e.SetString(s)
					return nil
				}
			case []byte:
				if e.Kind() == reflect.String {
					e.SetString(string(s))
					return nil
				}
			case int64:
				switch e.Kind() {
				case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
					if e.OverflowInt(s) {
						return fmt.Errorf("value %d overflows %s", s, e.Type())
					}
					e.SetInt(s)
					return nil
				case reflect.Bool:
					e.SetBool(s != 0)
					return nil
				}
			}
		}
	}
	return fmt.Errorf("cannot store %T in %T", src, dest)
}
