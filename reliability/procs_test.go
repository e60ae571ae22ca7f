package reliability_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/tenderhq/tender/internal/testdb"
	"github.com/tenderhq/tender/internal/testproc"
	"github.com/tenderhq/tender/vault"
)

var httpClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

// call sends one request to a child process; a transport error (the
// process died) is status 0.
func call(base, key, method, path string, form url.Values, idemKey string) (int, map[string]any) {
	count(func() { tally.requests++ })
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, base+path, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.SetBasicAuth(key, "")
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if !(method == "POST" && path == "/v1/webhook_endpoints") { // the one answer that shows a secret, once, by design
		capture(string(b))
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

// cluster is a database and a merchant shared by several child processes.
type cluster struct {
	dbURL string
	env   map[string]string
	key   string
	merch string
}

func newCluster(t *testing.T, kind string, extra map[string]string) *cluster {
	t.Helper()
	c := &cluster{dbURL: testdb.URL(t, kind)}
	c.env = map[string]string{
		"TENDER_DATABASE_URL":          c.dbURL,
		"TENDER_MASTER_KEY":            vault.EncodeKey(vault.NewKey()),
		"TENDER_RATE_LIMIT":            "0",
		"TENDER_RATE_LIMIT_PAYMENTS":   "0",
		"TENDER_WEBHOOK_ALLOW_PRIVATE": "true",
		"TENDER_LOG_LEVEL":             "info",
	}
	for k, v := range extra {
		c.env[k] = v
	}
	out, err := testproc.Run(t, c.env, "merchants", "create", "--name", "Reliability", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		ID      string `json:"id"`
		Key     string `json:"test_secret_key"`
		Live    string `json:"live_secret_key"`
		Pub     string `json:"test_publishable_key"`
		LivePub string `json:"live_publishable_key"`
	}
	json.Unmarshal(out, &m)
	c.key, c.merch = m.Key, m.ID
	for _, s := range []string{m.Key, m.Live, c.env["TENDER_MASTER_KEY"]} {
		secret(s)
	}
	return c
}

func (c *cluster) start(t *testing.T, extra map[string]string) *testproc.Proc {
	env := map[string]string{}
	for k, v := range c.env {
		env[k] = v
	}
	for k, v := range extra {
		env[k] = v
	}
	secret(env["TENDER_MASTER_KEY"])
	p := testproc.Start(t, env)
	t.Cleanup(func() { capture(p.Logs()) })
	return p
}

// db opens the cluster's database directly, to count what the provider saw.
func (c *cluster) db(t *testing.T) *sql.DB {
	driver := "sqlite"
	if strings.HasPrefix(c.dbURL, "postgres") {
		driver = "pgx"
	}
	db, err := sql.Open(driver, c.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// sandboxPaymentsPerIntent counts the sandbox processor's payments by the
// Tender intent they were for: the provider's own ledger, not Tender's.
func sandboxPaymentsPerIntent(t *testing.T, db *sql.DB) map[string]int {
	rows, err := db.QueryContext(context.Background(), `SELECT value FROM provider_ledger WHERE provider = 'sandbox' AND key LIKE 'payment:%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var v string
		rows.Scan(&v)
		var rec map[string]any
		json.Unmarshal([]byte(v), &rec)
		intent := ""
		for _, k := range []string{"PaymentIntent", "payment_intent", "Intent", "intent"} {
			if s, ok := rec[k].(string); ok && s != "" {
				intent = s
			}
		}
		if intent == "" {
			t.Fatalf("a sandbox payment names no intent: %s", v)
		}
		out[intent]++
	}
	return out
}

func postgresOnly(t *testing.T) {
	if os.Getenv(testdb.EnvPostgres) == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("PostgreSQL is required in CI")
		}
		t.Skip("needs PostgreSQL (several instances share one database)")
	}
}

// failedSafely recognizes the answer to a payment whose attempt was cut
// short before the provider saw it (a crash, a lost database connection)
// and that recovery then settled as failed: a final 402 saying no money
// was taken. The provider's ledger is checked separately.
func failedSafely(status int, m map[string]any) bool {
	e, _ := m["error"].(map[string]any)
	return status == 402 && e["code"] == "processing_error"
}
