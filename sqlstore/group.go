package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/tenderhq/tender"
)

// Group commit on SQLite.
//
// SQLite has one writer: every write transaction queues for the single
// connection, and each then pays for its own commit (a WAL frame for every
// page it dirtied) and for handing the connection to the next goroutine.
// The group writer instead runs the transactions waiting at that moment
// back to back, each inside its own savepoint, in one SQLite transaction,
// and commits once for all of them:
//
//   - each transaction still sees the writes of those before it and is
//     undone alone if it fails (ROLLBACK TO its savepoint), so the group is
//     equivalent to running them one after another;
//   - each caller learns its outcome only after the group's COMMIT, and a
//     failed COMMIT fails every member: nothing is reported committed that
//     is not;
//   - if SQLite abandons the whole transaction (an I/O error, say), every
//     member fails, including those whose savepoints were already released.
//
// Statements on the writer run without their caller's cancellation: the
// driver would interrupt the connection for a canceled context, and SQLite
// rolls an interrupted write back with its whole transaction — the other
// members' work included. A caller whose context ends before its turn is
// not run.

// maxGroup bounds how many transactions share one commit, and so how long
// the first of them waits for it.
const maxGroup = 64

type writeJob struct {
	ctx      context.Context
	fn       func(*sql.Tx) error
	err      error
	panicked any
	done     chan struct{}
}

type groupWriter struct {
	pool *sql.DB
	jobs chan *writeJob
	stop chan struct{}
	wg   sync.WaitGroup
	// mu orders submissions before close: a job is never queued once the
	// writer stopped reading the queue.
	mu     sync.RWMutex
	closed bool
	// commits counts the groups committed (tests read it).
	commits atomic.Int64
}

func newGroupWriter(pool *sql.DB) *groupWriter {
	g := &groupWriter{pool: pool, jobs: make(chan *writeJob, maxGroup), stop: make(chan struct{})}
	g.wg.Add(1)
	go g.run()
	return g
}

// errWriterClosed answers transactions submitted after Close.
var errWriterClosed = fmt.Errorf("%w: the database is closed", tender.ErrUnavailable)

// do runs fn in a write transaction shared with others and returns once
// that transaction committed or failed. A panic in fn is raised again here.
func (g *groupWriter) do(ctx context.Context, fn func(*sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	j := &writeJob{ctx: ctx, fn: fn, done: make(chan struct{})}
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return errWriterClosed
	}
	g.jobs <- j // the writer runs until close, which waits for this send
	g.mu.RUnlock()
	<-j.done
	if j.panicked != nil {
		panic(j.panicked)
	}
	return j.err
}

func (g *groupWriter) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
	close(g.stop)
	g.wg.Wait()
}

func (g *groupWriter) run() {
	defer g.wg.Done()
	for {
		select {
		case j := <-g.jobs:
			g.group(j)
		case <-g.stop:
			// Answer whatever is still queued: nothing is queued after this.
			for {
				select {
				case j := <-g.jobs:
					j.err = errWriterClosed
					close(j.done)
				default:
					return
				}
			}
		}
	}
}

// group runs first and every transaction queued behind it (up to
// maxGroup) in one transaction, and commits it.
func (g *groupWriter) group(first *writeJob) {
	members := make([]*writeJob, 0, 8)
	defer func() {
		for _, j := range members {
			close(j.done)
		}
	}()
	members = append(members, first)
	tx, err := g.pool.BeginTx(context.Background(), nil)
	if err != nil {
		first.err = translate(err)
		return
	}
	next := first
	for {
		if err := g.member(tx, next); err != nil {
			// The transaction itself is lost: no member committed.
			tx.Rollback()
			for _, j := range members {
				if j.err == nil {
					j.err = err
				}
			}
			return
		}
		if len(members) == maxGroup {
			break
		}
		select {
		case next = <-g.jobs:
			members = append(members, next)
			continue
		default:
		}
		break
	}
	err = tx.Commit()
	g.commits.Add(1)
	if err != nil {
		err = translate(err)
		for _, j := range members {
			if j.err == nil {
				j.err = err
			}
		}
	}
}

// member runs one transaction of the group inside a savepoint, recording
// its outcome in j. It returns an error only if the group's transaction
// can no longer be used.
func (g *groupWriter) member(tx *sql.Tx, j *writeJob) error {
	if err := j.ctx.Err(); err != nil {
		j.err = err
		return nil
	}
	ctx := context.Background()
	if _, err := tx.ExecContext(ctx, "SAVEPOINT member"); err != nil {
		j.err = translate(err)
		return j.err
	}
	j.err = g.call(tx, j)
	if j.err != nil || j.panicked != nil {
		if _, err := tx.ExecContext(ctx, "ROLLBACK TO member"); err != nil {
			return fmt.Errorf("%w: the transaction was abandoned: %v", tender.ErrUnavailable, errors.Join(j.err, err))
		}
	}
	if _, err := tx.ExecContext(ctx, "RELEASE member"); err != nil {
		if j.err == nil {
			j.err = translate(err)
		}
		return fmt.Errorf("%w: the transaction was abandoned: %v", tender.ErrUnavailable, err)
	}
	return nil
}

// call runs j's function, catching a panic to raise it in j's caller.
func (g *groupWriter) call(tx *sql.Tx, j *writeJob) (err error) {
	defer func() {
		if v := recover(); v != nil {
			j.panicked = v
			err = fmt.Errorf("panic in a transaction: %v", v)
		}
	}()
	return translate(j.fn(tx))
}
