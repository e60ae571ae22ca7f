// Package sqlstore keeps Tender's data in SQLite (the embedded default, via
// the pure-Go modernc.org/sqlite driver) or PostgreSQL (via pgx), behind
// database/sql. Queries are written once with ? placeholders and rebound for
// PostgreSQL; the few statements that differ between the two are chosen by
// dialect. Driver errors become tender.ErrNotFound, ErrConflict and
// ErrUnavailable here and nowhere else.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib" // also registers the "pgx" driver
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tenderhq/tender"
)

// Dialect names a supported database.
type Dialect string

// The supported databases.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// DB is Tender's store. On SQLite it keeps two pools: one connection for
// writes, so that writers queue in Go instead of failing with SQLITE_BUSY,
// and several read-only connections that WAL lets run beside the writer.
// On PostgreSQL both are the same pool.
type DB struct {
	// queries on the read pool serve every read outside a transaction.
	*queries

	dialect Dialect
	w       *sql.DB
	r       *sql.DB
	path    string // SQLite file, for the master key file beside it

	rebound sync.Map // query with ? → query for this dialect
	stmts   stmtCache
	// group runs SQLite's write transactions (group.go); nil on PostgreSQL.
	group *groupWriter
}

// Options tune a store. The zero value is sensible.
type Options struct {
	// MaxConns caps PostgreSQL connections (default 20) and SQLite readers
	// (default 4 × GOMAXPROCS).
	MaxConns int

	// tracer sees every PostgreSQL statement (tests set it to check plans).
	tracer pgx.QueryTracer
}

// ParseURL tells which database a TENDER_DATABASE_URL names. It accepts
// postgres:// and postgresql:// URLs, sqlite:///abs/path.db, sqlite:rel.db,
// and a bare file path.
func ParseURL(raw string) (Dialect, string, error) {
	switch {
	case raw == "":
		return SQLite, "tender.db", nil
	case strings.HasPrefix(raw, "postgres://"), strings.HasPrefix(raw, "postgresql://"):
		return Postgres, raw, nil
	case strings.HasPrefix(raw, "sqlite://"):
		p := strings.TrimPrefix(raw, "sqlite://")
		if p == "" {
			return "", "", fmt.Errorf("database URL %q names no file", raw)
		}
		return SQLite, p, nil
	case strings.HasPrefix(raw, "sqlite:"):
		return SQLite, strings.TrimPrefix(raw, "sqlite:"), nil
	case strings.Contains(raw, "://"):
		return "", "", fmt.Errorf("unsupported database URL scheme in %q: use postgres://… or a SQLite file path", redactURL(raw))
	}
	return SQLite, raw, nil
}

// redactURL hides a password in a database URL for messages.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// Open connects to the database a URL names (see ParseURL). It does not
// migrate; call Migrate.
func Open(ctx context.Context, rawURL string, opt Options) (*DB, error) {
	dialect, target, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	db := &DB{dialect: dialect}
	switch dialect {
	case SQLite:
		err = db.openSQLite(target, opt)
	case Postgres:
		err = db.openPostgres(target, opt)
	}
	if err != nil {
		return nil, err
	}
	if dialect == SQLite {
		db.group = newGroupWriter(db.w)
	}
	db.queries = &queries{db: db, q: db.querier(db.r, nil)}
	if err := db.Ping(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to %s: %w", dialect, err)
	}
	return db, nil
}

// Pools opens the connection pools Open would, with the default options,
// and nothing else (no group writer): the load tool's baseline measures the
// floor through exactly the drivers and pool settings Tender uses.
func Pools(rawURL string) (w, r *sql.DB, err error) {
	dialect, target, err := ParseURL(rawURL)
	if err != nil {
		return nil, nil, err
	}
	db := &DB{dialect: dialect}
	switch dialect {
	case SQLite:
		err = db.openSQLite(target, Options{})
	case Postgres:
		err = db.openPostgres(target, Options{})
	}
	return db.w, db.r, err
}

func (db *DB) openSQLite(path string, opt Options) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return fmt.Errorf("create directory for SQLite database: %w", err)
	}
	db.path = abs
	// WAL lets readers run beside the writer; synchronous=NORMAL is durable
	// across application crashes (the WAL is fsynced at checkpoints) and
	// loses at most the last transactions on power loss.
	common := "_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)&_pragma=busy_timeout(10000)&_pragma=synchronous(NORMAL)"
	dsn := func(extra string) string {
		return "file:" + (&url.URL{Path: abs}).EscapedPath() + "?" + common + extra
	}
	w, err := sql.Open("sqlite", dsn("&_txlock=immediate"))
	if err != nil {
		return err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// The first connection creates the file and switches it to WAL before
	// readers open it.
	if err := w.Ping(); err != nil {
		w.Close()
		return fmt.Errorf("open SQLite database %s: %w", abs, err)
	}
	r, err := sql.Open("sqlite", dsn("&_pragma=query_only(1)"))
	if err != nil {
		w.Close()
		return err
	}
	n := opt.MaxConns
	if n <= 0 {
		n = 4 * runtime.GOMAXPROCS(0)
	}
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	r.SetConnMaxIdleTime(0)
	db.w, db.r = w, r
	return nil
}

func (db *DB) openPostgres(dsn string, opt Options) error {
	p, err := sql.Open("pgx", dsn)
	if err != nil {
		return fmt.Errorf("open PostgreSQL %s: %w", redactURL(dsn), err)
	}
	if opt.tracer != nil {
		p.Close()
		cfg, err := pgx.ParseConfig(dsn)
		if err != nil {
			return fmt.Errorf("open PostgreSQL %s: %w", redactURL(dsn), err)
		}
		cfg.Tracer = opt.tracer
		p = stdlib.OpenDB(*cfg)
	}
	n := opt.MaxConns
	if n <= 0 {
		n = 20
	}
	p.SetMaxOpenConns(n)
	p.SetMaxIdleConns(n)
	p.SetConnMaxIdleTime(5 * time.Minute)
	db.w, db.r = p, p
	return nil
}

// Dialect tells which database this is.
func (db *DB) Dialect() Dialect { return db.dialect }

// Kind names the database for logs.
func (db *DB) Kind() string { return string(db.dialect) }

// SQLitePath is the SQLite file, or "" on PostgreSQL.
func (db *DB) SQLitePath() string { return db.path }

// Ping checks that the database answers.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.w.PingContext(ctx); err != nil {
		return translate(err)
	}
	if db.r != db.w {
		if err := db.r.PingContext(ctx); err != nil {
			return translate(err)
		}
	}
	return nil
}

// Close closes the pools.
func (db *DB) Close() error {
	if db.group != nil {
		db.group.close()
	}
	db.stmts.close()
	err := db.w.Close()
	if db.r != db.w {
		if e := db.r.Close(); err == nil {
			err = e
		}
	}
	return err
}

// q returns query with its ? placeholders rebound for the dialect. Queries
// are constants, so the result is cached.
func (db *DB) q(query string) string {
	if db.dialect != Postgres {
		return query
	}
	if v, ok := db.rebound.Load(query); ok {
		return v.(string)
	}
	var b strings.Builder
	n := 0
	inString := false
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case c == '\'':
			inString = !inString
			b.WriteByte(c)
		case c == '?' && !inString:
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	s := b.String()
	db.rebound.Store(query, s)
	return s
}

// querier is what both *sql.DB and *sql.Tx offer.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// inTx runs fn in a write transaction and commits if it returns nil.
func (db *DB) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if db.group != nil {
		return db.group.do(ctx, fn)
	}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return translate(err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return translate(err)
	}
	return translate(tx.Commit())
}

// writeOne runs a single-statement write: autocommitted on PostgreSQL, and
// on SQLite as a member of the writer's group (one commit fewer of its own).
func (db *DB) writeOne(ctx context.Context, fn func(q querier) error) error {
	if db.group != nil {
		return db.inTx(ctx, func(tx *sql.Tx) error { return fn(db.querier(db.w, tx)) })
	}
	return fn(db.querier(db.w, nil))
}

// translate turns driver errors into the domain's sentinels, wrapping the
// original so that logs keep the detail.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, tender.ErrNotFound) || errors.Is(err, tender.ErrConflict) || errors.Is(err, tender.ErrUnavailable) {
		return err
	}
	if _, ok := tender.AsError(err); ok {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return tender.ErrNotFound
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %v", tender.ErrConflict, err)
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
			return fmt.Errorf("%w: %v", tender.ErrUnavailable, err)
		}
		return err
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505":
			return fmt.Errorf("%w: %v", tender.ErrConflict, err)
		case strings.HasPrefix(pe.Code, "08"), strings.HasPrefix(pe.Code, "57P"), pe.Code == "53300":
			// connection exceptions, admin shutdown, too many connections
			return fmt.Errorf("%w: %v", tender.ErrUnavailable, err)
		}
		return err
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: %v", tender.ErrUnavailable, err)
	}
	return err
}

// Times are stored as Unix milliseconds in BIGINT columns on both databases:
// one representation, exact, and cheap to compare and index.
func ms(t time.Time) int64 { return t.UnixMilli() }

func fromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

func msPtr(t *time.Time) sql.NullInt64 {
	if t == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMilli(), Valid: true}
}

func timePtr(v sql.NullInt64) *time.Time {
	if !v.Valid {
		return nil
	}
	t := fromMS(v.Int64)
	return &t
}
