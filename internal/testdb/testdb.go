// Package testdb gives tests a fresh database of each supported kind:
// a SQLite file in a temporary directory always, and a new PostgreSQL
// schema when TENDER_TEST_POSTGRES_URL is set. In CI (CI=true) a missing
// PostgreSQL URL is a failure, so PostgreSQL tests can never silently skip.
package testdb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/tenderhq/tender/sqlstore"
)

// EnvPostgres names the variable holding the PostgreSQL test server's URL.
const EnvPostgres = "TENDER_TEST_POSTGRES_URL"

// Kinds lists the database kinds available to this test run.
func Kinds(t testing.TB) []string {
	kinds := []string{"sqlite"}
	if os.Getenv(EnvPostgres) != "" {
		kinds = append(kinds, "postgres")
	} else if os.Getenv("CI") != "" {
		t.Fatalf("%s is not set in CI: PostgreSQL tests must not be skipped", EnvPostgres)
	}
	return kinds
}

// Each runs fn as a subtest once per available database kind, each with a
// fresh, empty database URL.
func Each(t *testing.T, fn func(t *testing.T, dbURL string)) {
	for _, kind := range Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			fn(t, URL(t, kind))
		})
	}
}

// URL returns a fresh database URL of the given kind, removed when the test ends.
func URL(t testing.TB, kind string) string {
	t.Helper()
	switch kind {
	case "sqlite":
		return filepath.Join(t.TempDir(), "tender.db")
	case "postgres":
		return PostgresURL(t)
	}
	t.Fatalf("unknown database kind %q", kind)
	return ""
}

// PostgresURL creates a new schema on the test server and returns a URL
// whose connections use it. The schema is dropped when the test ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvPostgres)
	if base == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set in CI", EnvPostgres)
		}
		t.Skipf("%s not set; skipping PostgreSQL", EnvPostgres)
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatalf("open %s: %v", EnvPostgres, err)
	}
	defer admin.Close()
	if _, err := admin.Exec(`CREATE SCHEMA ` + schema); err != nil {
		t.Fatalf("create schema on %s: %v", EnvPostgres, err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer admin.Close()
		admin.Exec(`DROP SCHEMA ` + schema + ` CASCADE`)
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", EnvPostgres, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Open returns a migrated store on dbURL, closed when the test ends.
func Open(t testing.TB, dbURL string) *sqlstore.DB {
	t.Helper()
	db, err := sqlstore.Open(context.Background(), dbURL, sqlstore.Options{})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return db
}
