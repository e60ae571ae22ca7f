package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver, as Tender's sqlstore uses
	_ "modernc.org/sqlite"             // the "sqlite" driver, as Tender's sqlstore uses

	"github.com/tenderhq/tender"
	"github.com/tenderhq/tender/sqlstore"
)

// baseline is the physical floor Tender is compared with: a bare net/http
// handler for the same requests that does the least work a correct answer
// needs. A payment is one transaction with the same durable writes Tender
// must make (an idempotency row holding the response, a payment row, an
// event row), on tables of its own in the same database, with the same
// kinds of indexes, through the same drivers and pool settings as Tender's
// sqlstore. It stores the API's JSON, so reads return the stored bytes as
// they are. It checks the API key against the one it was given, in memory.
type baseline struct {
	dialect  sqlstore.Dialect
	w, r     *sql.DB // writer and readers (the same pool on PostgreSQL)
	key      string
	merchant string
	srv      *http.Server
	url      string
	queries  map[string]string // ? query → the dialect's
}

// baselineTables are the baseline's own tables, modelled on Tender's
// idempotency_keys, payment_intents, refunds and events.
const baselineTables = `
CREATE TABLE bench_idempotency (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL,
    livemode        {bool} NOT NULL,
    key             TEXT NOT NULL,
    request_hash    TEXT NOT NULL,
    status          TEXT NOT NULL,
    response_status INTEGER NOT NULL,
    response_body   TEXT NOT NULL,
    resource_id     TEXT NOT NULL,
    locked_at       {int} NOT NULL,
    created         {int} NOT NULL,
    UNIQUE (merchant_id, livemode, key)
);
CREATE INDEX bench_idempotency_created ON bench_idempotency (created);
CREATE TABLE bench_payments (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL,
    livemode        {bool} NOT NULL,
    status          TEXT NOT NULL,
    customer        TEXT NOT NULL DEFAULT '',
    provider        TEXT NOT NULL,
    amount          {int} NOT NULL,
    amount_refunded {int} NOT NULL DEFAULT 0,
    currency        TEXT NOT NULL,
    created         {int} NOT NULL,
    version         {int} NOT NULL,
    data            TEXT NOT NULL
);
CREATE INDEX bench_payments_list ON bench_payments (merchant_id, livemode, id);
CREATE INDEX bench_payments_customer ON bench_payments (merchant_id, livemode, customer, id) WHERE customer <> '';
CREATE TABLE bench_refunds (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL,
    livemode        {bool} NOT NULL,
    payment_intent  TEXT NOT NULL,
    status          TEXT NOT NULL,
    amount          {int} NOT NULL,
    created         {int} NOT NULL,
    data            TEXT NOT NULL
);
CREATE INDEX bench_refunds_intent ON bench_refunds (merchant_id, livemode, payment_intent, id);
CREATE TABLE bench_events (
    id              TEXT PRIMARY KEY,
    merchant_id     TEXT NOT NULL,
    livemode        {bool} NOT NULL,
    type            TEXT NOT NULL,
    object_id       TEXT NOT NULL,
    created         {int} NOT NULL,
    data            TEXT NOT NULL
);
CREATE INDEX bench_events_list ON bench_events (merchant_id, livemode, id);
CREATE INDEX bench_events_type ON bench_events (merchant_id, livemode, type, id)`

var baselineTableNames = []string{"bench_idempotency", "bench_payments", "bench_refunds", "bench_events"}

// The baseline's statements, written with ? and rebound for PostgreSQL.
const (
	qInsertIdem = `INSERT INTO bench_idempotency (id, merchant_id, livemode, key, request_hash, status, response_status, response_body, resource_id, locked_at, created)
		VALUES (?, ?, ?, ?, ?, 'done', ?, ?, ?, 0, ?) ON CONFLICT (merchant_id, livemode, key) DO NOTHING`
	qSelectIdem     = `SELECT request_hash, response_status, response_body FROM bench_idempotency WHERE merchant_id = ? AND livemode = ? AND key = ?`
	qInsertPayment  = `INSERT INTO bench_payments (id, merchant_id, livemode, status, customer, provider, amount, currency, created, version, data) VALUES (?, ?, ?, ?, '', 'sandbox', ?, ?, ?, 1, ?)`
	qInsertEvent    = `INSERT INTO bench_events (id, merchant_id, livemode, type, object_id, created, data) VALUES (?, ?, ?, ?, ?, ?, ?)`
	qSelectPayment  = `SELECT data FROM bench_payments WHERE id = ? AND merchant_id = ? AND livemode = ?`
	qListPayments   = `SELECT data FROM bench_payments WHERE merchant_id = ? AND livemode = ? ORDER BY id DESC LIMIT ?`
	qLockPayment    = `SELECT amount, amount_refunded, currency FROM bench_payments WHERE id = ? AND merchant_id = ? AND livemode = ?`
	qInsertRefund   = `INSERT INTO bench_refunds (id, merchant_id, livemode, payment_intent, status, amount, created, data) VALUES (?, ?, ?, ?, 'succeeded', ?, ?, ?)`
	qRefundPayment  = `UPDATE bench_payments SET amount_refunded = amount_refunded + ?, version = version + 1 WHERE id = ? AND merchant_id = ? AND livemode = ?`
	baselineMerchID = "mer_bench_baseline"
)

// startBaseline opens db as Tender's sqlstore would, makes the baseline's
// tables and serves the handler on 127.0.0.1:0.
func startBaseline(ctx context.Context, dialect sqlstore.Dialect, dbURL, key string) (*baseline, error) {
	b := &baseline{dialect: dialect, key: key, merchant: baselineMerchID, queries: map[string]string{}}
	if err := b.open(dbURL); err != nil {
		return nil, err
	}
	if err := b.createTables(ctx); err != nil {
		b.closeDB()
		return nil, err
	}
	for _, q := range []string{qInsertIdem, qSelectIdem, qInsertPayment, qInsertEvent, qSelectPayment, qListPayments, qLockPayment, qInsertRefund, qRefundPayment} {
		b.queries[q] = b.rebind(q)
	}
	b.queries[qLockPayment] = b.rebind(qLockPayment + b.forUpdate())
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/payment_intents", b.createIntent)
	mux.HandleFunc("GET /v1/payment_intents", b.listIntents)
	mux.HandleFunc("GET /v1/payment_intents/{id}", b.getIntent)
	mux.HandleFunc("POST /v1/refunds", b.createRefund)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.closeDB()
		return nil, err
	}
	b.url = "http://" + ln.Addr().String()
	// The same server timeouts as tender serve.
	b.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second}
	go b.srv.Serve(ln)
	return b, nil
}

// open connects exactly as sqlstore.Open does (sqlstore.Pools): on SQLite
// a single writer connection (BEGIN IMMEDIATE) and a pool of read-only
// readers, WAL and synchronous=NORMAL; on PostgreSQL one pgx pool of 20.
// It has no group writer: the baseline commits each payment on its own.
func (b *baseline) open(dbURL string) (err error) {
	b.w, b.r, err = sqlstore.Pools(dbURL)
	return err
}

func (b *baseline) createTables(ctx context.Context) error {
	b.dropTables(ctx)
	ddl := baselineTables
	if b.dialect == sqlstore.Postgres {
		ddl = strings.NewReplacer("{bool}", "BOOLEAN", "{int}", "BIGINT").Replace(ddl)
	} else {
		ddl = strings.NewReplacer("{bool}", "INTEGER", "{int}", "INTEGER").Replace(ddl)
	}
	for _, stmt := range strings.Split(ddl, ";") {
		if _, err := b.w.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("baseline: create tables: %w", err)
		}
	}
	return nil
}

func (b *baseline) dropTables(ctx context.Context) {
	for _, t := range baselineTableNames {
		b.w.ExecContext(ctx, `DROP TABLE IF EXISTS `+t)
	}
}

// close stops the handler, drops the tables and closes the pools.
func (b *baseline) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b.srv.Shutdown(ctx)
	b.dropTables(ctx)
	b.closeDB()
}

func (b *baseline) closeDB() {
	b.w.Close()
	if b.r != b.w {
		b.r.Close()
	}
}

func (b *baseline) forUpdate() string {
	if b.dialect == sqlstore.Postgres {
		return " FOR UPDATE"
	}
	return ""
}

// rebind turns ? placeholders into PostgreSQL's $1, $2, ….
func (b *baseline) rebind(q string) string {
	if b.dialect != sqlstore.Postgres {
		return q
	}
	var s strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] == '?' {
			n++
			s.WriteString("$" + strconv.Itoa(n))
			continue
		}
		s.WriteByte(q[i])
	}
	return s.String()
}

func (b *baseline) q(query string) string { return b.queries[query] }

// fail writes a Stripe-shaped error.
func fail(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"type": typ, "message": msg}})
}

func writeBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

func (b *baseline) authorized(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get("Authorization") != "Bearer "+b.key {
		fail(w, http.StatusUnauthorized, "authentication_error", "Invalid API key provided.")
		return false
	}
	return true
}

// readForm decodes a form-encoded body, returning the raw body too.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, []byte, error) {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		return nil, nil, err
	}
	v, err := url.ParseQuery(string(raw))
	return v, raw, err
}

func requestHash(r *http.Request, body []byte) string {
	h := sha256.New()
	io.WriteString(h, r.Method+" "+r.URL.Path+"\n")
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

func marshal(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic("bench: marshal: " + err.Error())
	}
	return b
}

// replay answers a request whose Idempotency-Key was used before.
func (b *baseline) replay(w http.ResponseWriter, r *http.Request, key, hash string) {
	var got string
	var status int
	var body string
	err := b.r.QueryRowContext(r.Context(), b.q(qSelectIdem), b.merchant, false, key).Scan(&got, &status, &body)
	if err != nil {
		fail(w, http.StatusInternalServerError, "api_error", err.Error())
		return
	}
	if got != hash {
		fail(w, http.StatusBadRequest, "idempotency_error", "Keys for idempotent requests can only be used with the same parameters they were first used with.")
		return
	}
	w.Header().Set("Idempotent-Replayed", "true")
	writeBody(w, status, []byte(body))
}

// errReplay rolls back a transaction whose Idempotency-Key was taken.
var errReplay = errors.New("idempotency key used before")

// inTx runs fn in one transaction.
func (b *baseline) inTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	tx, err := b.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// insertIdem records the response under key; errReplay if the key exists.
func (b *baseline) insertIdem(ctx context.Context, tx *sql.Tx, key, hash, resource string, body []byte, now int64) error {
	res, err := tx.ExecContext(ctx, b.q(qInsertIdem), tender.NewID("idr"), b.merchant, false, key, hash, http.StatusOK, string(body), resource, now)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errReplay
	}
	return nil
}

// createIntent is POST /v1/payment_intents: a sandbox payment that
// succeeds at once, in one transaction.
func (b *baseline) createIntent(w http.ResponseWriter, r *http.Request) {
	if !b.authorized(w, r) {
		return
	}
	form, raw, err := readForm(w, r)
	if err != nil {
		fail(w, http.StatusBadRequest, "invalid_request_error", err.Error())
		return
	}
	amount, err := strconv.ParseInt(form.Get("amount"), 10, 64)
	if err != nil || amount <= 0 {
		fail(w, http.StatusBadRequest, "invalid_request_error", "Invalid amount.")
		return
	}
	cur, err := tender.ParseCurrency(form.Get("currency"), "currency")
	if err != nil {
		fail(w, http.StatusBadRequest, "invalid_request_error", err.Error())
		return
	}
	pm := form.Get("payment_method")
	if pm == "" || form.Get("confirm") != "true" {
		fail(w, http.StatusBadRequest, "invalid_request_error", "The baseline takes confirmed payments with a payment_method only.")
		return
	}
	key := r.Header.Get("Idempotency-Key")
	hash := requestHash(r, raw)
	now := time.Now().UTC()
	id := tender.NewID(tender.PrefixPaymentIntent)
	pi := &tender.PaymentIntent{
		ID: id, MerchantID: b.merchant, Amount: amount, Currency: cur, Status: tender.StatusSucceeded,
		CaptureMethod: tender.CaptureAutomatic, PaymentMethod: pm, PaymentMethodTypes: []string{"card"},
		Provider: "sandbox", AmountReceived: amount, LatestCharge: tender.NewID(tender.PrefixCharge),
		ClientSecret: id + "_secret_" + hex.EncodeToString([]byte(id))[:24], Created: now, IdempotencyKey: key, Version: 1,
	}
	obj := marshal(pi.JSON())
	body := append(obj, '\n')
	ev := &tender.Event{ID: tender.NewID(tender.PrefixEvent), MerchantID: b.merchant, Type: tender.EventPaymentIntentSucceeded,
		Created: now, ObjectID: id, Object: obj, IdempotencyKey: key}
	ms := now.UnixMilli()
	err = b.inTx(r.Context(), func(tx *sql.Tx) error {
		if key != "" {
			if err := b.insertIdem(r.Context(), tx, key, hash, id, body, ms); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(r.Context(), b.q(qInsertPayment), id, b.merchant, false, string(pi.Status), amount, cur.Code(), ms, string(obj)); err != nil {
			return err
		}
		_, err := tx.ExecContext(r.Context(), b.q(qInsertEvent), ev.ID, b.merchant, false, ev.Type, id, ms, string(marshal(ev.JSON())))
		return err
	})
	switch {
	case errors.Is(err, errReplay):
		b.replay(w, r, key, hash)
	case err != nil:
		fail(w, http.StatusInternalServerError, "api_error", err.Error())
	default:
		writeBody(w, http.StatusOK, body)
	}
}

// createRefund is POST /v1/refunds: the rest of a payment, in one
// transaction that locks the payment, adds the refund and its event,
// updates the payment and keeps the response.
func (b *baseline) createRefund(w http.ResponseWriter, r *http.Request) {
	if !b.authorized(w, r) {
		return
	}
	form, raw, err := readForm(w, r)
	if err != nil {
		fail(w, http.StatusBadRequest, "invalid_request_error", err.Error())
		return
	}
	piID := form.Get("payment_intent")
	key := r.Header.Get("Idempotency-Key")
	hash := requestHash(r, raw)
	now := time.Now().UTC()
	ms := now.UnixMilli()
	var body []byte
	status := http.StatusOK
	err = b.inTx(r.Context(), func(tx *sql.Tx) error {
		var amount, refunded int64
		var code string
		err := tx.QueryRowContext(r.Context(), b.q(qLockPayment), piID, b.merchant, false).Scan(&amount, &refunded, &code)
		if errors.Is(err, sql.ErrNoRows) {
			status, body = http.StatusNotFound, []byte(`{"error":{"type":"invalid_request_error","message":"No such payment_intent."}}`)
			return errReplay // nothing to keep: roll back
		}
		if err != nil {
			return err
		}
		if amount-refunded <= 0 {
			status, body = http.StatusBadRequest, []byte(`{"error":{"type":"invalid_request_error","code":"charge_already_refunded"}}`)
			return errReplay
		}
		cur, err := tender.ParseCurrency(code, "currency")
		if err != nil {
			return err
		}
		rf := &tender.Refund{ID: tender.NewID(tender.PrefixRefund), MerchantID: b.merchant, PaymentIntent: piID,
			Amount: amount - refunded, Currency: cur, Status: tender.RefundSucceeded, Provider: "sandbox", Created: now}
		obj := marshal(rf.JSON())
		body = append(obj, '\n')
		if _, err := tx.ExecContext(r.Context(), b.q(qInsertRefund), rf.ID, b.merchant, false, piID, rf.Amount, ms, string(obj)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(r.Context(), b.q(qRefundPayment), rf.Amount, piID, b.merchant, false); err != nil {
			return err
		}
		ev := &tender.Event{ID: tender.NewID(tender.PrefixEvent), MerchantID: b.merchant, Type: tender.EventRefundCreated,
			Created: now, ObjectID: rf.ID, Object: obj, IdempotencyKey: key}
		if _, err := tx.ExecContext(r.Context(), b.q(qInsertEvent), ev.ID, b.merchant, false, ev.Type, rf.ID, ms, string(marshal(ev.JSON()))); err != nil {
			return err
		}
		if key != "" {
			return b.insertIdem(r.Context(), tx, key, hash, rf.ID, body, ms)
		}
		return nil
	})
	switch {
	case errors.Is(err, errReplay) && status != http.StatusOK:
		writeBody(w, status, body)
	case errors.Is(err, errReplay):
		b.replay(w, r, key, hash)
	case err != nil:
		fail(w, http.StatusInternalServerError, "api_error", err.Error())
	default:
		writeBody(w, http.StatusOK, body)
	}
}

// getIntent is GET /v1/payment_intents/{id}: one read by primary key.
func (b *baseline) getIntent(w http.ResponseWriter, r *http.Request) {
	if !b.authorized(w, r) {
		return
	}
	var data string
	err := b.r.QueryRowContext(r.Context(), b.q(qSelectPayment), r.PathValue("id"), b.merchant, false).Scan(&data)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		fail(w, http.StatusNotFound, "invalid_request_error", "No such payment_intent.")
	case err != nil:
		fail(w, http.StatusInternalServerError, "api_error", err.Error())
	default:
		writeBody(w, http.StatusOK, append([]byte(data), '\n'))
	}
}

// listIntents is GET /v1/payment_intents?limit=N: one index range read.
func (b *baseline) listIntents(w http.ResponseWriter, r *http.Request) {
	if !b.authorized(w, r) {
		return
	}
	limit := 10
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100 {
			fail(w, http.StatusBadRequest, "invalid_request_error", "Invalid limit.")
			return
		}
		limit = n
	}
	rows, err := b.r.QueryContext(r.Context(), b.q(qListPayments), b.merchant, false, limit+1)
	if err != nil {
		fail(w, http.StatusInternalServerError, "api_error", err.Error())
		return
	}
	defer rows.Close()
	var out bytes.Buffer
	out.WriteString(`{"object":"list","data":[`)
	n := 0
	more := false
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			fail(w, http.StatusInternalServerError, "api_error", err.Error())
			return
		}
		if n == limit {
			more = true
			break
		}
		if n > 0 {
			out.WriteByte(',')
		}
		out.WriteString(data)
		n++
	}
	if err := rows.Err(); err != nil {
		fail(w, http.StatusInternalServerError, "api_error", err.Error())
		return
	}
	fmt.Fprintf(&out, `],"has_more":%t,"url":"/v1/payment_intents"}`+"\n", more)
	writeBody(w, http.StatusOK, out.Bytes())
}
