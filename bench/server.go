package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/tenderhq/tender/sqlstore"
	"github.com/tenderhq/tender/vault"
)

// RunFunc runs a tender command as the binary would: cli.Run. The bench
// package takes it as a parameter because package cli depends on this one.
type RunFunc func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error

// database is the fresh database a run uses.
type database struct {
	dialect sqlstore.Dialect
	url     string // what Tender and the baseline connect to
	display string // for the report, without a password
	cleanup func()
}

// freshDatabase prepares the database named by raw: "" makes a SQLite file
// in a new temporary directory; a SQLite path is used as it is (created if
// missing); a PostgreSQL URL gets a new schema, used through search_path
// and dropped afterwards.
func freshDatabase(ctx context.Context, raw string) (*database, error) {
	if raw == "" {
		dir, err := os.MkdirTemp("", "tender-bench-")
		if err != nil {
			return nil, err
		}
		p := filepath.Join(dir, "bench.db")
		return &database{dialect: sqlstore.SQLite, url: p, display: p, cleanup: func() { os.RemoveAll(dir) }}, nil
	}
	dialect, target, err := sqlstore.ParseURL(raw)
	if err != nil {
		return nil, err
	}
	if dialect == sqlstore.SQLite {
		return &database{dialect: dialect, url: raw, display: target, cleanup: func() {}}, nil
	}
	var b [5]byte
	rand.Read(b[:])
	schema := "bench_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", raw)
	if err != nil {
		return nil, err
	}
	defer admin.Close()
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		return nil, fmt.Errorf("create a schema for the run in %s: %w", redact(raw), err)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop := func() {
		admin, err := sql.Open("pgx", raw)
		if err != nil {
			return
		}
		defer admin.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`)
	}
	return &database{dialect: dialect, url: u.String(), display: redact(u.String()), cleanup: drop}, nil
}

func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}

// server is Tender running in this process.
type server struct {
	url    string
	key    string
	logs   *logWatch
	cancel context.CancelFunc
	done   chan error
}

// serverEnv is the environment of the in-process server: the caller's,
// with the database, a master key, no rate limits, no Redis, webhooks to
// loopback allowed, and JSON logs at info or debug (the "listening" line
// gives the URL).
func serverEnv(base func(string) string, db *database) func(string) string {
	set := map[string]string{
		"TENDER_DATABASE_URL":          db.url,
		"TENDER_RATE_LIMIT":            "0",
		"TENDER_RATE_LIMIT_PAYMENTS":   "0",
		"TENDER_WEBHOOK_ALLOW_PRIVATE": "true",
		"TENDER_LOG_FORMAT":            "json",
		"TENDER_REDIS_URL":             "",
		"TENDER_FAULT":                 "",
		"TENDER_PUBLIC_URL":            "",
		"TENDER_PPROF":                 "",
		"TENDER_ADDR":                  "",
	}
	if base == nil {
		base = func(string) string { return "" }
	}
	// The URL comes from the "listening" line, logged at info: a quieter
	// level would hide it. Info is also what a server runs with by default
	// (an access-log line per request).
	if !strings.EqualFold(strings.TrimSpace(base("TENDER_LOG_LEVEL")), "debug") {
		set["TENDER_LOG_LEVEL"] = "info"
	}
	if strings.TrimSpace(base("TENDER_MASTER_KEY")) == "" {
		// PostgreSQL needs one; on SQLite it keeps the key file out of the way.
		set["TENDER_MASTER_KEY"] = vault.EncodeKey(vault.NewKey())
	}
	return func(k string) string {
		if v, ok := set[k]; ok {
			return v
		}
		return base(k)
	}
}

// startServer creates a merchant with `tender merchants create` and runs
// `tender serve --addr 127.0.0.1:0`, both through run, on db.
func startServer(ctx context.Context, run RunFunc, getenv func(string) string) (*server, error) {
	var out, errOut bytes.Buffer
	if err := run(ctx, []string{"merchants", "create", "--name", "Bench", "--json"}, getenv, &out, &errOut); err != nil {
		return nil, fmt.Errorf("tender merchants create: %w\n%s", err, errOut.String())
	}
	var m struct {
		TestSecretKey string `json:"test_secret_key"`
	}
	if err := json.Unmarshal(out.Bytes(), &m); err != nil || m.TestSecretKey == "" {
		return nil, fmt.Errorf("tender merchants create --json printed %q", out.String())
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &server{key: m.TestSecretKey, logs: newLogWatch(), cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- run(sctx, []string{"serve", "--addr", "127.0.0.1:0"}, getenv, io.Discard, s.logs) }()
	select {
	case u := <-s.logs.listening:
		s.url = u
		return s, nil
	case err := <-s.done:
		cancel()
		return nil, fmt.Errorf("tender serve exited before listening: %v\n%s", err, s.logs.errors())
	case <-time.After(60 * time.Second):
		s.stop()
		return nil, fmt.Errorf("tender serve did not start within 60s\n%s", s.logs.errors())
	case <-ctx.Done():
		s.stop()
		return nil, ctx.Err()
	}
}

// stop shuts the server down gracefully and waits for it.
func (s *server) stop() error {
	s.cancel()
	select {
	case err := <-s.done:
		return err
	case <-time.After(45 * time.Second):
		return errors.New("tender serve did not stop within 45s")
	}
}

// logWatch takes the server's log: it finds the "listening" line, counts
// error lines and keeps the last few of them, and drops the rest (the
// access log has a line per request).
type logWatch struct {
	mu        sync.Mutex
	partial   []byte
	found     bool
	listening chan string
	nErrors   int
	last      []string
}

func newLogWatch() *logWatch { return &logWatch{listening: make(chan string, 1)} }

// Write takes log output, line by line.
func (l *logWatch) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := l.partial[:i]
		if !l.found {
			var rec struct {
				Msg string `json:"msg"`
				URL string `json:"url"`
			}
			if json.Unmarshal(line, &rec) == nil && rec.Msg == "listening" && rec.URL != "" {
				l.found = true
				l.listening <- rec.URL
			}
		}
		if bytes.Contains(line, []byte(`"level":"ERROR"`)) || (!l.found && !bytes.HasPrefix(line, []byte("{"))) {
			l.nErrors++
			if len(l.last) == 10 {
				l.last = l.last[1:]
			}
			l.last = append(l.last, string(line))
		}
		l.partial = l.partial[i+1:]
	}
	// Keep the buffer from growing: the remainder is a partial line.
	if cap(l.partial) > 1<<16 && len(l.partial) < 1<<10 {
		l.partial = append([]byte(nil), l.partial...)
	}
	return len(p), nil
}

// errorCount is how many error lines the server logged.
func (l *logWatch) errorCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.nErrors
}

// errors returns the last error lines.
func (l *logWatch) errors() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.last, "\n")
}
