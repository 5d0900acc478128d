package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"acpgw/store"
)

// Group commit. SQLite has one writer, and in WAL mode most of a small
// transaction's cost is its commit (writing the dirty pages to the WAL). So
// Tx does not commit each transaction by itself: a writer goroutine takes the
// transactions waiting at that moment (up to maxBatch), runs them one after
// another inside one SQLite transaction, each inside its own SAVEPOINT, and
// commits once. A transaction whose fn fails is rolled back to its savepoint
// and the others still commit; Tx returns only after the commit, so a nil
// from Tx still means durable (as durable as the synchronous setting makes
// any commit). Under load this turns dozens of commits into one; alone, a
// transaction waits for nobody.
//
// fn runs on its caller's goroutine: the writer hands the open transaction
// to one caller at a time and waits for it to finish. A panic or
// runtime.Goexit in fn rolls back to its savepoint and is re-raised in the
// caller as usual.
const maxBatch = 64

// errClosed is returned by Tx after Close.
var errClosed = fmt.Errorf("sqlite: store is closed: %w", store.ErrUnavailable)

type turn struct {
	tx *sql.Tx
	// savepoint is set when the job shares the transaction with others.
	savepoint bool
	err       error
}

type job struct {
	turn      chan turn
	result    chan bool
	committed chan error
}

func (s *Store) startWriter() {
	s.jobs = make(chan *job, maxBatch*4)
	s.wstop = make(chan struct{})
	s.wdone = make(chan struct{})
	go s.writeLoop()
}

func (s *Store) writeLoop() {
	defer close(s.wdone)
	batch := make([]*job, 0, maxBatch)
	for {
		var first *job
		select {
		case first = <-s.jobs:
		case <-s.wstop:
			for {
				select {
				case j := <-s.jobs:
					j.turn <- turn{err: errClosed}
				default:
					return
				}
			}
		}
		batch = append(batch[:0], first)
	drain:
		for len(batch) < maxBatch {
			select {
			case j := <-s.jobs:
				batch = append(batch, j)
			default:
				break drain
			}
		}
		s.runBatch(batch)
	}
}

func (s *Store) runBatch(batch []*job) {
	// The transaction is not bound to any caller's context: one caller
	// giving up must not roll back the others' work.
	tx, err := s.w.BeginTx(context.Background(), nil)
	if err != nil {
		err = wrap("begin", err)
		for _, j := range batch {
			j.turn <- turn{err: err}
		}
		return
	}
	shared := len(batch) > 1
	ok := make([]bool, len(batch))
	any := false
	for i, j := range batch {
		j.turn <- turn{tx: tx, savepoint: shared}
		ok[i] = <-j.result
		any = any || ok[i]
	}
	if !any {
		_ = tx.Rollback()
		return
	}
	err = wrap("commit", tx.Commit())
	for i, j := range batch {
		if ok[i] {
			j.committed <- err
		}
	}
}

// Tx runs fn in a write transaction: all of fn's writes commit or none do,
// and Tx returns after the commit. It rolls back fn's writes when fn returns
// an error or panics (the panic goes on after the rollback); fn's error is
// returned as it is.
//
// Transactions are serialised by one writer and committed in groups (see
// above), so fn must not call the Store's own write methods (they wait for
// the writer, which waits for fn). The Store's reads use another pool and
// are safe, though they do not see fn's uncommitted writes.
func (s *Store) Tx(ctx context.Context, fn func(tx store.Tx) error) (err error) {
	if err := ctx.Err(); err != nil {
		return wrap("begin", err)
	}
	j := &job{turn: make(chan turn, 1), result: make(chan bool, 1), committed: make(chan error, 1)}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return errClosed
	}
	select {
	case s.jobs <- j:
		s.mu.RUnlock()
		if s.queued != nil {
			s.queued <- struct{}{}
		}
	case <-ctx.Done():
		s.mu.RUnlock()
		return wrap("begin", ctx.Err())
	}
	// The writer answers every queued job, so this wait is bounded by the
	// transactions ahead of it.
	t := <-j.turn
	if t.err != nil {
		return t.err
	}
	finished := false
	defer func() {
		if finished {
			return
		}
		// fn failed, panicked or called runtime.Goexit: undo its writes and
		// hand the transaction back.
		if t.savepoint {
			_, rbErr := t.tx.Stmt(s.ws.rollbackTo).Exec()
			_, relErr := t.tx.Stmt(s.ws.release).Exec()
			if e := errors.Join(rbErr, relErr); e != nil && err == nil {
				err = wrap("rollback", e)
			}
		}
		j.result <- false
	}()
	if err := ctx.Err(); err != nil {
		return wrap("begin", err)
	}
	if t.savepoint {
		if _, err := t.tx.Stmt(s.ws.savepoint).Exec(); err != nil {
			return wrap("savepoint", err)
		}
	}
	if err := fn(&txn{s: s, tx: t.tx}); err != nil {
		return err
	}
	if t.savepoint {
		if _, err := t.tx.Stmt(s.ws.release).Exec(); err != nil {
			return wrap("release", err)
		}
	}
	finished = true
	j.result <- true
	return <-j.committed
}

// stopWriter refuses new transactions, lets queued ones fail with
// errClosed, and waits for the writer to end.
func (s *Store) stopWriter() {
	if s.jobs == nil {
		return
	}
	s.mu.Lock()
	already := s.closed
	s.closed = true
	s.mu.Unlock()
	if already {
		return
	}
	close(s.wstop)
	<-s.wdone
}
