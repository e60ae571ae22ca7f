package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tenderhq/tender"
)

// openGroup opens a SQLite store with a scratch table.
func openGroup(t *testing.T) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "group.db"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.w.Exec(`CREATE TABLE scratch (k TEXT PRIMARY KEY, v INTEGER NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return db
}

// held starts a transaction that waits for release, and returns once it
// runs: transactions submitted meanwhile queue behind it, and all of them
// then share its commit.
func held(t *testing.T, db *DB) (release func(), wait func()) {
	running, free := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- db.inTx(context.Background(), func(tx *sql.Tx) error {
			close(running)
			<-free
			return nil
		})
	}()
	<-running
	return func() { close(free) }, func() {
		if err := <-done; err != nil {
			t.Errorf("holding transaction: %v", err)
		}
	}
}

// queued waits until n transactions wait behind the held one.
func queued(t *testing.T, db *DB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(db.group.jobs) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d transactions queued, want %d", len(db.group.jobs), n)
		}
		time.Sleep(time.Millisecond)
	}
}

func count(t *testing.T, db *DB, where string) int {
	t.Helper()
	var n int
	if err := db.r.QueryRow(`SELECT COUNT(*) FROM scratch WHERE ` + where).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestGroupCommit(t *testing.T) {
	db := openGroup(t)
	ctx := context.Background()
	if err := db.inTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.Exec(`INSERT INTO scratch (k, v) VALUES ('taken', 0)`)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	release, wait := held(t, db)
	commitsBefore := db.group.commits.Load()

	// Behind the held transaction, in one group: members that succeed, one
	// that fails after writing, one that breaks a constraint, one that
	// panics, one whose caller gave up, and one that reads what an earlier
	// member of the group wrote.
	type member struct {
		name string
		ctx  context.Context
		fn   func(tx *sql.Tx) error
		want func(err error, panicked any) bool
	}
	insert := func(k string) func(tx *sql.Tx) error {
		return func(tx *sql.Tx) error {
			_, err := tx.Exec(`INSERT INTO scratch (k, v) VALUES (?, 1)`, k)
			return err
		}
	}
	refused := errors.New("refused")
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	ran := false
	seen := -1
	members := []member{
		{"ok-1", ctx, insert("ok-1"), func(err error, p any) bool { return err == nil && p == nil }},
		{"fails after writing", ctx, func(tx *sql.Tx) error {
			if err := insert("failed")(tx); err != nil {
				return err
			}
			return refused
		}, func(err error, p any) bool { return errors.Is(err, refused) }},
		{"duplicate", ctx, insert("taken"), func(err error, p any) bool { return errors.Is(err, tender.ErrConflict) }},
		{"panics", ctx, func(tx *sql.Tx) error {
			if err := insert("panicked")(tx); err != nil {
				return err
			}
			panic("boom")
		}, func(err error, p any) bool { return p == "boom" }},
		{"caller gone", canceled, func(tx *sql.Tx) error { ran = true; return insert("canceled")(tx) },
			func(err error, p any) bool { return errors.Is(err, context.Canceled) }},
		{"reads the group", ctx, func(tx *sql.Tx) error {
			return tx.QueryRow(`SELECT COUNT(*) FROM scratch WHERE k = 'ok-1'`).Scan(&seen)
		}, func(err error, p any) bool { return err == nil }},
		{"ok-2", ctx, insert("ok-2"), func(err error, p any) bool { return err == nil && p == nil }},
	}
	var wg sync.WaitGroup
	errs := make([]error, len(members))
	panics := make([]any, len(members))
	for i, m := range members {
		if i > 0 {
			queued(t, db, i) // keep the members in order
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { panics[i] = recover() }()
			// A canceled caller must still be queued to show it is skipped:
			// submit it as do would after its check.
			if m.ctx == canceled {
				j := &writeJob{ctx: m.ctx, fn: m.fn, done: make(chan struct{})}
				db.group.jobs <- j
				<-j.done
				errs[i] = j.err
				return
			}
			errs[i] = db.inTx(m.ctx, m.fn)
		}()
	}
	queued(t, db, len(members))
	release()
	wait()
	wg.Wait()

	for i, m := range members {
		if !m.want(errs[i], panics[i]) {
			t.Errorf("%s: err %v, panic %v", m.name, errs[i], panics[i])
		}
	}
	if got := db.group.commits.Load() - commitsBefore; got != 1 {
		t.Errorf("%d commits for one group, want 1", got)
	}
	if ran {
		t.Error("the canceled caller's transaction ran")
	}
	if seen != 1 {
		t.Errorf("a member saw %d rows of an earlier member's, want 1", seen)
	}
	for k, want := range map[string]int{"ok-1": 1, "ok-2": 1, "failed": 0, "panicked": 0, "canceled": 0, "taken": 1} {
		if got := count(t, db, fmt.Sprintf("k = '%s'", k)); got != want {
			t.Errorf("row %s: %d, want %d", k, got, want)
		}
	}
}

// TestGroupCommitConcurrent: many writers at once, some refused, each
// outcome exactly as reported.
func TestGroupCommitConcurrent(t *testing.T) {
	db := openGroup(t)
	const n = 400
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.inTx(context.Background(), func(tx *sql.Tx) error {
				if _, err := tx.Exec(`INSERT INTO scratch (k, v) VALUES (?, ?)`, fmt.Sprint(i), i); err != nil {
					return err
				}
				if i%3 == 0 {
					return errors.New("refused")
				}
				_, err := tx.Exec(`UPDATE scratch SET v = v + 1 WHERE k = ?`, fmt.Sprint(i))
				return err
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		want := 1
		if i%3 == 0 {
			want = 0
			if err == nil {
				t.Fatalf("%d: refused but no error", i)
			}
		} else if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		if got := count(t, db, fmt.Sprintf("k = '%d' AND v = %d", i, i+1)); got != want {
			t.Fatalf("%d: %d rows, want %d", i, got, want)
		}
	}
	if c := db.group.commits.Load(); c > n {
		t.Fatalf("%d commits for %d transactions", c, n)
	}
}

func TestGroupCommitClosed(t *testing.T) {
	db := openGroup(t)
	db.group.close()
	err := db.inTx(context.Background(), func(tx *sql.Tx) error { return nil })
	if !errors.Is(err, tender.ErrUnavailable) {
		t.Fatalf("after close: %v", err)
	}
	db.group = nil // Close must not close it twice
}
