package sqlstore_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tenderhq/tender"
	"github.com/tenderhq/tender/engine"
	"github.com/tenderhq/tender/internal/testdb"
	"github.com/tenderhq/tender/provider/sandbox"
	"github.com/tenderhq/tender/sqlstore"
	"github.com/tenderhq/tender/vault"
	"github.com/tenderhq/tender/webhook"
)

// statements records each distinct statement that reads rows (SELECT,
// UPDATE, DELETE) with the arguments of its latest execution.
type statements struct {
	mu   sync.Mutex
	args map[string][]any
}

func (s *statements) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	verb, _, _ := strings.Cut(strings.TrimSpace(d.SQL), " ")
	switch strings.ToUpper(verb) {
	case "SELECT", "UPDATE", "DELETE":
		s.mu.Lock()
		s.args[d.SQL] = append([]any(nil), d.Args...)
		s.mu.Unlock()
	}
	return ctx
}

func (s *statements) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// planNode is a node of EXPLAIN (FORMAT JSON).
type planNode struct {
	NodeType  string     `json:"Node Type"`
	Relation  string     `json:"Relation Name"`
	Index     string     `json:"Index Name"`
	IndexCond string     `json:"Index Cond"`
	Plans     []planNode `json:"Plans"`
}

// wholeScans lists the scans that read a whole table or index: a Seq Scan,
// or a scan of a full (not partial) index with no condition on it,
// walking all of it in order.
func (n planNode) wholeScans(partial map[string]bool) []string {
	var out []string
	switch n.NodeType {
	case "Seq Scan":
		out = append(out, n.Relation+" (Seq Scan)")
	case "Index Scan", "Index Only Scan", "Bitmap Index Scan":
		if n.IndexCond == "" && !partial[n.Index] {
			out = append(out, "all of index "+n.Index)
		}
	}
	for _, c := range n.Plans {
		out = append(out, c.wholeScans(partial)...)
	}
	return out
}

// textPlan is EXPLAIN's usual form, for messages.
func textPlan(ctx context.Context, c *sql.Conn, q string, args []any) string {
	rows, err := c.QueryContext(ctx, "EXPLAIN "+q, args...)
	if err != nil {
		return err.Error()
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var line string
		rows.Scan(&line)
		b.WriteString("    " + line + "\n")
	}
	return b.String()
}

// wholeScanAllowed names the statements that read a whole table on
// purpose: the operator's merchant list, and master-key rotation, which
// visits every sealed secret once, in batches.
func wholeScanAllowed(q string) bool {
	return strings.Contains(q, "FROM merchants ORDER BY id") || strings.Contains(q, "key_id <> $1")
}

// TestPostgresQueriesUseIndexes runs every list (with each filter and
// cursor), the recovery and dispatcher scans, the purges and a payment's
// hot path on PostgreSQL, then asks PostgreSQL to plan each statement it
// saw, with the arguments it ran with and sequential scans priced out of
// reach. Any Seq Scan left means no index can serve that statement: as the
// table grows, it reads the whole table.
func TestPostgresQueriesUseIndexes(t *testing.T) {
	url := testdb.PostgresURL(t)
	ctx := context.Background()
	seen := &statements{args: map[string][]any{}}
	db, err := sqlstore.Open(ctx, url, sqlstore.TracedOptions(seen))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}

	keys, err := vault.New(vault.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	reg := tender.NewRegistry()
	e := engine.New(engine.Config{Store: db, Providers: reg, Keyring: keys, RecoverAfter: time.Millisecond})
	reg.Register(sandbox.New(db, sandbox.Options{BaseURL: "http://127.0.0.1"}))
	m := &tender.Merchant{ID: tender.NewID(tender.PrefixMerchant), Name: "M", Created: time.Now()}
	if err := db.CreateMerchant(ctx, m, nil); err != nil {
		t.Fatal(err)
	}
	tn := tender.Tenant{MerchantID: m.ID}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	missing := func(err error) {
		t.Helper()
		if !errors.Is(err, tender.ErrNotFound) {
			t.Fatalf("got %v, want not found", err)
		}
	}
	n := 0
	caller := func() engine.Caller {
		n++
		return engine.Caller{Tenant: tn, IdempotencyKey: fmt.Sprintf("k%d", n)}
	}
	usd := tender.MustCurrency("usd")

	// The hot paths: a customer, payments captured at once and later, a
	// refund, a cancel; a webhook endpoint that receives their events.
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer receiver.Close()
	hooks := webhook.New(webhook.Config{Store: db, Keyring: keys, AllowPrivate: true})
	_, _, err = hooks.CreateEndpoint(ctx, tn, webhook.EndpointParams{URL: &receiver.URL, EnabledEvents: []string{"*"}})
	must(err)
	email := "a@example.com"
	cus, err := e.CreateCustomer(ctx, caller(), engine.CustomerParams{Email: &email})
	must(err)
	paid, err := e.CreatePaymentIntent(ctx, caller(), engine.CreateIntentParams{Amount: 1000, Currency: usd, Customer: cus.ID,
		PaymentMethod: "pm_card_visa", SetupFutureUsage: "off_session", Confirm: true})
	must(err)
	held, err := e.CreatePaymentIntent(ctx, caller(), engine.CreateIntentParams{Amount: 1000, Currency: usd,
		PaymentMethod: "pm_card_visa", CaptureMethod: "manual", Confirm: true})
	must(err)
	_, err = e.CapturePaymentIntent(ctx, caller(), held.ID, nil)
	must(err)
	open, err := e.CreatePaymentIntent(ctx, caller(), engine.CreateIntentParams{Amount: 500, Currency: usd})
	must(err)
	_, err = e.CancelPaymentIntent(ctx, caller(), open.ID, "")
	must(err)
	part := int64(300)
	_, err = e.CreateRefund(ctx, caller(), engine.RefundParams{PaymentIntent: paid.ID, Amount: &part})
	must(err)
	amount := int64(2500)
	_, err = e.CreateCheckoutSession(ctx, caller(), engine.SessionParams{Amount: &amount, Currency: usd,
		SuccessURL: "https://shop.example/ok", CancelURL: "https://shop.example/cancel"})
	must(err)
	hooks.DispatchOnce(ctx)

	// Every list, with each filter and both cursors.
	since := time.Now().Add(-time.Hour)
	gte, lte := int64(1), int64(100000)
	lists := map[string]func(tender.ListQuery) error{
		"payment_intents": func(q tender.ListQuery) error { _, err := db.ListPaymentIntents(ctx, q); return err },
		"charges":         func(q tender.ListQuery) error { _, err := db.ListCharges(ctx, q); return err },
		"refunds":         func(q tender.ListQuery) error { _, err := db.ListRefunds(ctx, q); return err },
		"events":          func(q tender.ListQuery) error { _, err := db.ListEvents(ctx, q); return err },
		"customers":       func(q tender.ListQuery) error { _, err := db.ListCustomers(ctx, q); return err },
		"payment_methods": func(q tender.ListQuery) error { _, err := db.ListPaymentMethods(ctx, q); return err },
		"checkout":        func(q tender.ListQuery) error { _, err := db.ListCheckoutSessions(ctx, q); return err },
		"endpoints":       func(q tender.ListQuery) error { _, err := db.ListWebhookEndpoints(ctx, q); return err },
	}
	queries := []tender.ListQuery{
		{Tenant: tn, Limit: 10},
		{Tenant: tn, Limit: 10, StartingAfter: paid.ID},
		{Tenant: tn, Limit: 10, EndingBefore: paid.ID},
		{Tenant: tn, Limit: 10, CreatedGTE: &since},
		{Tenant: tn, Limit: 10, Customer: cus.ID},
		{Tenant: tn, Limit: 10, Customer: tender.AnyCustomer},
		{Tenant: tn, Limit: 10, PaymentIntent: paid.ID},
		{Tenant: tn, Limit: 10, Charge: paid.LatestCharge},
		{Tenant: tn, Limit: 10, Types: []string{"charge.succeeded"}},
		{Tenant: tn, Limit: 10, Types: []string{"payment_intent.*"}},
		{Tenant: tn, Limit: 10, Email: email},
		{Tenant: tn, Limit: 10, Provider: "sandbox", Status: "succeeded", Currency: "usd"},
		{Tenant: tn, Limit: 10, Statuses: []string{"succeeded", "canceled"}, AmountGTE: &gte, AmountLTE: &lte},
	}
	for name, list := range lists {
		for _, q := range queries {
			if err := list(q); err != nil {
				t.Fatalf("%s %+v: %v", name, q, err)
			}
		}
	}
	eps, err := db.ListWebhookEndpoints(ctx, tender.ListQuery{Tenant: tn, Limit: 1})
	must(err)
	_, err = db.ListDeliveries(ctx, tender.ListQuery{Tenant: tn, Limit: 10}, eps.Data[0].ID)
	must(err)

	// The background scans: recovery, expiry, purges, the sandbox's due
	// work, redelivery, secret rotation, provider lookups.
	e.Recover(ctx)
	_, err = db.StaleCharges(ctx, []string{tender.AttemptAuthorizing}, time.Now(), time.Now(), 10)
	must(err)
	_, err = db.StaleRefunds(ctx, time.Now(), time.Now(), 10)
	must(err)
	_, err = db.ExpiredSessions(ctx, time.Now(), 10)
	must(err)
	_, err = db.PurgeIdempotency(ctx, since)
	must(err)
	_, err = db.PurgeConnectLinks(ctx, since)
	must(err)
	_, err = db.LedgerDue(ctx, sandbox.Key, time.Now(), 10)
	must(err)
	_, err = db.LedgerCount(ctx, sandbox.Key, "x")
	must(err)
	evs, err := db.ListEvents(ctx, tender.ListQuery{Tenant: tn, Limit: 1})
	must(err)
	_, err = db.Redeliver(ctx, tn, evs.Data[0].ID, eps.Data[0].ID, time.Now())
	must(err)
	_, err = db.SealedSecrets(ctx, "none", 10)
	must(err)
	_, err = db.ChargeTenant(ctx, "sandbox", "ref")
	missing(err)
	_, err = db.ProviderEventSeen(ctx, "sandbox", "evt", tn)
	must(err)
	_, err = db.APIKeys(ctx, m.ID)
	must(err)
	_, err = db.APIKeyByHash(ctx, "hash")
	missing(err)

	conn, err := sql.Open("pgx", url)
	must(err)
	defer conn.Close()
	c, err := conn.Conn(ctx)
	must(err)
	defer c.Close()
	_, err = c.ExecContext(ctx, `SET enable_seqscan = off`)
	must(err)

	// Partial indexes narrow by their predicate even with no condition.
	partial := map[string]bool{}
	rows, err := c.QueryContext(ctx, `SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND indexdef LIKE '% WHERE %'`)
	must(err)
	for rows.Next() {
		var name string
		must(rows.Scan(&name))
		partial[name] = true
	}
	must(rows.Err())
	rows.Close()

	seen.mu.Lock()
	defer seen.mu.Unlock()
	// The statements that must have been planned, so that a change that
	// stops exercising one is noticed.
	for _, want := range []string{
		"FROM payment_intents WHERE merchant_id", "FROM charges WHERE merchant_id", "FROM refunds WHERE merchant_id",
		"FROM events WHERE merchant_id", "FROM customers WHERE merchant_id", "FROM payment_methods WHERE merchant_id",
		"FROM checkout_sessions WHERE merchant_id", "FROM webhook_endpoints WHERE merchant_id",
		"FROM webhook_deliveries WHERE", "FROM charges WHERE attempt IN", "FROM refunds WHERE in_flight",
		"FROM checkout_sessions WHERE status = 'open'", "FROM provider_ledger WHERE provider", "DELETE FROM idempotency_keys WHERE created",
		"FROM idempotency_keys WHERE", "FROM api_keys WHERE hash",
	} {
		found := false
		for q := range seen.args {
			found = found || strings.Contains(q, want)
		}
		if !found {
			t.Errorf("no statement containing %q ran", want)
		}
	}
	var all []string
	for q := range seen.args {
		all = append(all, q)
	}
	sort.Strings(all)
	for _, q := range all {
		var out []byte
		if err := c.QueryRowContext(ctx, "EXPLAIN (FORMAT JSON) "+q, seen.args[q]...).Scan(&out); err != nil {
			t.Errorf("EXPLAIN %s: %v", q, err)
			continue
		}
		var plans []struct{ Plan planNode }
		if err := json.Unmarshal(out, &plans); err != nil || len(plans) != 1 {
			t.Fatalf("EXPLAIN %s: %v %s", q, err, out)
		}
		if bad := plans[0].Plan.wholeScans(partial); len(bad) > 0 && !wholeScanAllowed(q) {
			t.Errorf("no index narrows\n  %s\nit reads all of %s:\n%s", q, strings.Join(bad, ", "), textPlan(ctx, c, q, seen.args[q]))
		}
	}
	t.Logf("planned %d statements", len(all))
}
