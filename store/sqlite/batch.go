package sqlite

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"

	"acpgw/store"
)

// Group commit. SQLite has one writer, and in WAL mode most of a small
// transaction's cost is its commit (writing the dirty pages to the WAL). So
// Tx does not commit each transaction by itself: a writer goroutine takes the
// transactions waiting at that moment (up to maxBatch), runs them one after
// another inside one SQLite transaction, and commits once. Tx returns only
// after the commit, so a nil from Tx still means durable (as durable as the
// synchronous setting makes any commit). Under load this turns dozens of
// commits into one; alone, a transaction waits for nobody.
//
// A transaction whose fn fails must leave no write behind while the others
// of its batch commit. The writer first runs a batch optimistically, each fn
// straight in the shared transaction. A fn that fails before it changed
// anything (a key seen before, a token already taken) needs nothing undone;
// if one fails after, the writer rolls the whole transaction back and runs
// the batch again without it, this time each fn inside its own SAVEPOINT (a
// failure then rolls back to its savepoint and the others still commit). The fns that had succeeded run a
// second time: as on PostgreSQL, which retries a transaction the server
// aborted, fn must do nothing but its work through tx and compute what it
// writes from what it reads (store.Store.Tx). Savepoints are not free: each
// page a fn changes is first copied to the statement journal, once per
// savepoint, and SAVEPOINT and RELEASE are two statements more per fn. So
// the optimistic pass saves them while fns succeed, and after a failure the
// next batches run with savepoints at once (failures come in runs: many
// requests racing for one token or key).
//
// A fn that fails has read the writes of the fns before it in the pass, which
// are not committed yet (the token it found taken may have been taken by
// one of them). Its error is only true once those writes are: so Tx returns
// a failure only after the writer's verdict (errStands) on it, which comes
// at once when no fn before it ran in the pass, and otherwise after the
// pass committed. If the pass is rolled back instead, the fn runs again
// (errRerun); if its commit fails, Tx returns the commit's error.
//
// fn runs on its caller's goroutine: the writer hands the open transaction
// to one caller at a time and waits for it to finish. A panic or
// runtime.Goexit in fn rolls back its writes (to its savepoint, or with the
// whole optimistic pass) and is re-raised in the caller as usual.
const maxBatch = 64

// safeAfterFailure is how many batches run with savepoints after a fn
// failed in an optimistic pass.
const safeAfterFailure = 16

// maxHeld is how many batches in a row the writer runs before it gives its
// connection back to the pool.
const maxHeld = 16

// errClosed is returned by Tx after Close.
var errClosed = fmt.Errorf("sqlite: store is closed: %w", store.ErrUnavailable)

// errRerun, sent on a job's committed channel, tells its caller that the
// pass its fn ran in was rolled back and that fn runs again on its next
// turn. It never leaves this file.
var errRerun = errors.New("sqlite: run the transaction again")

// errStands, sent on the committed channel of a job whose fn failed, tells
// its caller that the failure stands: what fn read is committed. It never
// leaves this file.
var errStands = errors.New("sqlite: the transaction's failure stands")

type turn struct {
	// savepoint is set when fn runs in a savepoint of its own.
	savepoint bool
	err       error
}

// outcome is how a job's fn ended, as its caller tells the writer.
type outcome int

const (
	// ran: fn succeeded; its writes wait for the commit.
	ran outcome = iota
	// failedClean: fn failed and nothing of it is left in the transaction
	// (it changed nothing, or its savepoint was rolled back).
	failedClean
	// failed: fn failed and may have changed the transaction.
	failed
)

type job struct {
	turn      chan turn
	result    chan outcome
	committed chan error
	// gone is set, before its outcome is sent, when fn panicked or called
	// runtime.Goexit: its caller waits for nothing more.
	gone bool
	// res is how fn ended on its last turn.
	res outcome
}

// answer tells the caller of j, which had its turn in a pass that
// committed with err, how its transaction ended.
func (j *job) answer(err error) {
	if j.res == ran {
		j.committed <- err
		return
	}
	j.stands(err)
}

// stands tells the caller of a failed job, if it still waits, that its
// failure stands (err nil) or that the commit its failure waited for
// failed (err).
func (j *job) stands(err error) {
	if j.gone {
		return
	}
	if err == nil {
		err = errStands
	}
	j.committed <- err
}

func (s *Store) startWriter() {
	s.jobs = make(chan *job, maxBatch*4)
	s.wstop = make(chan struct{})
	s.wdone = make(chan struct{})
	go s.writeLoop()
}

func (s *Store) writeLoop() {
	defer close(s.wdone)
	w := &writer{s: s, batch: make([]*job, 0, maxBatch)}
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
		w.take(first)
		w.run()
	}
}

// writer is the state of writeLoop between batches.
type writer struct {
	s     *Store
	batch []*job
	// answered is set once the jobs of batch have had their turn (or
	// their error).
	answered bool
	safe     int // batches still to run with savepoints
}

// take starts a batch with first and the jobs queued behind it.
func (w *writer) take(first *job) {
	w.batch = append(w.batch[:0], first)
	w.answered = false
	for len(w.batch) < maxBatch {
		select {
		case j := <-w.s.jobs:
			w.batch = append(w.batch, j)
		default:
			return
		}
	}
}

// run runs the batch, and the batches queued meanwhile, on the writer's
// connection, which it gives back to its pool once no job waits or after
// maxHeld batches (the pool's other users, Ping for one, wait for it
// meanwhile; database/sql hands it to them first).
func (w *writer) run() {
	err := w.s.withWriter(func(dc driver.Conn) error {
		for held := 1; ; held++ {
			w.answered = true
			var err error
			if w.safe > 0 {
				w.safe--
				err = w.s.runSafe(dc, w.batch, 0)
			} else {
				var fellBack bool
				fellBack, err = w.s.runOptimistic(dc, w.batch)
				if fellBack {
					w.safe = safeAfterFailure
				}
			}
			if err != nil || held == maxHeld {
				return err
			}
			select {
			case j := <-w.s.jobs:
				w.take(j)
			default:
				return nil
			}
		}
	})
	if !w.answered {
		// No connection: nothing ran.
		err = wrap("begin", err)
		for _, j := range w.batch {
			j.turn <- turn{err: err}
		}
	}
}

// withWriter runs f with the writer's driver connection, taken from its
// pool of one (raw.go); the write statements are prepared the first time a
// connection is seen. f's error goes back to database/sql, which drops the
// connection if it is driver.ErrBadConn.
func (s *Store) withWriter(f func(dc driver.Conn) error) error {
	conn, err := s.w.Conn(context.Background())
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(c any) error {
		dc := c.(driver.Conn)
		if dc != s.wdc {
			// The first connection, or one that replaced a broken one: the
			// statements went with the old one.
			s.ws, s.wdc = wstmts{}, nil
			if err := prepareWrites(context.Background(), &s.ws, dc); err != nil {
				return err
			}
			s.wdc = dc
		}
		return f(dc)
	})
}

// begin starts a batch's transaction (BEGIN IMMEDIATE: the DSN's _txlock)
// on dc. It is not bound to any caller's context: one caller giving up
// must not roll back the others' work.
func begin(dc driver.Conn) (driver.Tx, error) {
	return dc.(driver.ConnBeginTx).BeginTx(context.Background(), driver.TxOptions{})
}

// runOptimistic runs batch without savepoints and commits it. If a fn
// fails after changing something it rolls everything back, runs the
// others again with runSafe and says so. The error is for database/sql: a
// connection that could not begin.
func (s *Store) runOptimistic(dc driver.Conn, batch []*job) (fellBack bool, _ error) {
	tx, err := begin(dc)
	if err != nil {
		werr := wrap("begin", err)
		for _, j := range batch {
			j.turn <- turn{err: werr}
		}
		return false, badConn(err)
	}
	// batch[:done] are the jobs whose fns ran, and those that failed after
	// one had run (they may have read its writes, so their failures wait
	// for the commit). A fn that failed before any ran read only committed
	// rows: its failure stands at once.
	done, anyRan := 0, false
	for i, j := range batch {
		j.turn <- turn{}
		j.res = <-j.result
		if j.res == failed {
			// Its writes are mixed with the others', so the transaction
			// goes; the jobs before it run again (it too, if what it read
			// went with them), and the jobs after it run for the first time.
			if anyRan && !j.gone {
				batch[done] = j
				done++
			} else {
				j.stands(nil)
			}
			_ = tx.Rollback()
			rest := append(batch[:done:done], batch[i+1:]...)
			return true, s.runSafe(dc, rest, done)
		}
		if j.res == failedClean && (!anyRan || j.gone) {
			j.stands(nil)
			continue
		}
		anyRan = anyRan || j.res == ran
		batch[done] = j
		done++
	}
	if !anyRan {
		_ = tx.Rollback()
		return false, nil
	}
	err = s.commit(tx)
	for _, j := range batch[:done] {
		j.answer(err)
	}
	return false, nil
}

// runSafe runs batch in one transaction, each fn in a savepoint of its own
// when there are several, and commits the fns that succeeded. The first
// rerun jobs have run before in a pass that was rolled back: their callers
// are told to run fn again.
func (s *Store) runSafe(dc driver.Conn, batch []*job, rerun int) error {
	for _, j := range batch[:rerun] {
		j.committed <- errRerun
	}
	if len(batch) == 0 {
		return nil
	}
	tx, err := begin(dc)
	if err != nil {
		werr := wrap("begin", err)
		for _, j := range batch {
			j.turn <- turn{err: werr}
		}
		return badConn(err)
	}
	shared := len(batch) > 1
	// wait[i] is set for the jobs answered after the commit: those that ran,
	// and those that failed after one had run (see runOptimistic).
	wait := make([]bool, len(batch))
	anyRan := false
	for i, j := range batch {
		j.turn <- turn{savepoint: shared}
		j.res = <-j.result
		if j.res != ran && (!anyRan || j.gone) {
			j.stands(nil)
			continue
		}
		anyRan = anyRan || j.res == ran
		wait[i] = true
	}
	if !anyRan {
		_ = tx.Rollback()
		return nil
	}
	err = s.commit(tx)
	for i, j := range batch {
		if wait[i] {
			j.answer(err)
		}
	}
	return nil
}

// commit commits a batch's transaction and counts it (checkpointLoop).
func (s *Store) commit(tx driver.Tx) error {
	err := tx.Commit()
	s.commits.Add(1)
	return wrap("commit", err)
}

// badConn passes driver.ErrBadConn on to database/sql, which then drops the
// connection; other errors stay with the jobs that got them.
func badConn(err error) error {
	if errors.Is(err, driver.ErrBadConn) {
		return driver.ErrBadConn
	}
	return nil
}

// Tx runs fn in a write transaction: all of fn's writes commit or none do,
// and Tx returns after the commit. It rolls back fn's writes when fn returns
// an error or panics (the panic goes on after the rollback); fn's error is
// returned as it is. fn may run more than once (see above): only the last
// run's writes commit.
//
// Transactions are serialised by one writer and committed in groups (see
// above), so fn must not call the Store's own write methods (they wait for
// the writer, which waits for fn). The Store's reads use another pool and
// are safe, though they do not see fn's uncommitted writes.
func (s *Store) Tx(ctx context.Context, fn func(tx store.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return wrap("begin", err)
	}
	j := &job{turn: make(chan turn, 1), result: make(chan outcome, 1), committed: make(chan error, 1)}
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
	for {
		// The writer answers every queued job, so this wait is bounded by
		// the transactions ahead of it.
		t := <-j.turn
		if t.err != nil {
			return t.err
		}
		ferr := s.runTurn(ctx, j, t, fn)
		if ferr != nil && s.awaiting != nil {
			s.awaiting <- struct{}{}
		}
		switch verdict := <-j.committed; {
		case verdict == errRerun:
		case verdict == errStands:
			return ferr
		default:
			// The commit's error, or nil: fn succeeded, or failed on rows
			// that the commit was to make true and did not.
			return verdict
		}
	}
}

// runTurn runs fn in the transaction of turn t and tells the writer
// whether it succeeded.
func (s *Store) runTurn(ctx context.Context, j *job, t turn, fn func(tx store.Tx) error) (err error) {
	// unwinding stays set while fn panics or calls runtime.Goexit: then
	// its caller is gone (job.gone).
	finished, unwinding := false, true
	tx := &txn{s: s}
	defer func() {
		if finished {
			return
		}
		j.gone = unwinding
		// fn failed, panicked or called runtime.Goexit: undo its writes and
		// hand the transaction back (without a savepoint, the writer rolls
		// the whole transaction back unless fn changed nothing).
		res := failed
		if t.savepoint {
			_, rbErr := s.ws.rollbackTo.exec(ctx)
			_, relErr := s.ws.release.exec(ctx)
			if e := errors.Join(rbErr, relErr); e != nil && err == nil {
				err = wrap("rollback", e)
			}
			res = failedClean
		} else if !tx.changed {
			res = failedClean
		}
		j.result <- res
	}()
	if err := ctx.Err(); err != nil {
		unwinding = false
		return wrap("begin", err)
	}
	if t.savepoint {
		if _, err := s.ws.savepoint.exec(ctx); err != nil {
			unwinding = false
			return wrap("savepoint", err)
		}
	}
	err = fn(tx)
	unwinding = false
	if err != nil {
		return err
	}
	if t.savepoint {
		if _, err := s.ws.release.exec(ctx); err != nil {
			return wrap("release", err)
		}
	}
	finished = true
	j.result <- ran
	return nil
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
