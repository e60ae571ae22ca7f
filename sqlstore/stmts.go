package sqlstore

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
)

// SQLite compiles a statement on every execution unless it is prepared:
// profiles showed a quarter of the CPU of a payment in SQLite's parser.
// Tender's statements are a small, fixed set of strings, so each is
// prepared once per pool and reused; PostgreSQL's driver (pgx) already
// caches prepared statements per connection, so it is left alone.

// maxStmts bounds the cache, should a query ever be built from data.
const maxStmts = 2000

type stmtKey struct {
	pool  *sql.DB
	query string
}

type stmtCache struct {
	m       sync.Map // stmtKey → *sql.Stmt
	pending sync.Map // stmtKey → struct{}: being prepared in the background
	n       atomic.Int64
}

// lookup returns a statement already prepared.
func (c *stmtCache) lookup(pool *sql.DB, query string) (*sql.Stmt, bool) {
	if s, ok := c.m.Load(stmtKey{pool, query}); ok {
		return s.(*sql.Stmt), true
	}
	return nil, false
}

// prepareLater prepares a statement once the pool has a connection free.
// Inside a transaction on SQLite's single writer connection, preparing on
// the pool would wait for that very connection: it must happen afterwards.
func (c *stmtCache) prepareLater(pool *sql.DB, query string) {
	k := stmtKey{pool, query}
	if _, busy := c.pending.LoadOrStore(k, struct{}{}); busy {
		return
	}
	go func() {
		defer c.pending.Delete(k)
		c.get(context.Background(), pool, query)
	}()
}

func (c *stmtCache) get(ctx context.Context, pool *sql.DB, query string) (*sql.Stmt, bool) {
	k := stmtKey{pool, query}
	if s, ok := c.m.Load(k); ok {
		return s.(*sql.Stmt), true
	}
	if c.n.Load() >= maxStmts {
		return nil, false
	}
	s, err := pool.PrepareContext(ctx, query)
	if err != nil {
		return nil, false // let the plain call report the error
	}
	if prev, loaded := c.m.LoadOrStore(k, s); loaded {
		s.Close()
		return prev.(*sql.Stmt), true
	}
	c.n.Add(1)
	return s, true
}

func (c *stmtCache) close() {
	c.m.Range(func(_, v any) bool {
		v.(*sql.Stmt).Close()
		return true
	})
}

// prepared runs statements through the cache: on a pool, or inside a
// transaction of that pool's connection.
type prepared struct {
	cache *stmtCache
	pool  *sql.DB
	tx    *sql.Tx
	// detach: statements ignore their context's cancellation (on the
	// writer, where an interrupted write would roll back a whole group;
	// see group.go). It also spares the driver a goroutine per statement.
	detach bool
}

func (p *prepared) context(ctx context.Context) context.Context {
	if p.detach && ctx.Done() != nil {
		return context.WithoutCancel(ctx)
	}
	return ctx
}

func (p *prepared) stmt(ctx context.Context, query string) *sql.Stmt {
	if p.tx != nil {
		s, ok := p.cache.lookup(p.pool, query)
		if !ok {
			p.cache.prepareLater(p.pool, query)
			return nil
		}
		return p.tx.StmtContext(ctx, s)
	}
	s, ok := p.cache.get(ctx, p.pool, query)
	if !ok {
		return nil
	}
	return s
}

func (p *prepared) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = p.context(ctx)
	if s := p.stmt(ctx, query); s != nil {
		return s.ExecContext(ctx, args...)
	}
	if p.tx != nil {
		return p.tx.ExecContext(ctx, query, args...)
	}
	return p.pool.ExecContext(ctx, query, args...)
}

func (p *prepared) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = p.context(ctx)
	if s := p.stmt(ctx, query); s != nil {
		return s.QueryContext(ctx, args...)
	}
	if p.tx != nil {
		return p.tx.QueryContext(ctx, query, args...)
	}
	return p.pool.QueryContext(ctx, query, args...)
}

func (p *prepared) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = p.context(ctx)
	if s := p.stmt(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	if p.tx != nil {
		return p.tx.QueryRowContext(ctx, query, args...)
	}
	return p.pool.QueryRowContext(ctx, query, args...)
}

// querier returns what queries should run on: the pool or tx, through the
// statement cache on SQLite.
func (db *DB) querier(pool *sql.DB, tx *sql.Tx) querier {
	if db.dialect != SQLite {
		if tx != nil {
			return tx
		}
		return pool
	}
	return &prepared{cache: &db.stmts, pool: pool, tx: tx, detach: pool == db.w}
}
