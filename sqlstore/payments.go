package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tenderhq/tender"
)

var _ tender.PaymentStore = (*DB)(nil)

// queries runs the payment engine's statements on a pool (reads) or inside
// a write transaction.
type queries struct {
	db *DB
	q  querier
	tx bool
	// endpoints memoizes webhook endpoints by tenant within a transaction.
	endpoints map[tender.Tenant][]endpointRow
}

func (q *queries) forUpdate(lock bool) string {
	if lock && q.tx && q.db.dialect == Postgres {
		return " FOR UPDATE"
	}
	return ""
}

func (q *queries) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	res, err := q.q.ExecContext(ctx, q.db.q(query), args...)
	return res, translate(err)
}

// getDoc reads one JSON document and its version.
func (q *queries) getDoc(ctx context.Context, dst any, query string, args ...any) (version int64, err error) {
	var data string
	if err := q.q.QueryRowContext(ctx, q.db.q(query), args...).Scan(&data, &version); err != nil {
		return 0, translate(err)
	}
	if err := json.Unmarshal([]byte(data), dst); err != nil {
		return 0, fmt.Errorf("decode stored document: %w", err)
	}
	return version, nil
}

func encode(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("sqlstore: encode document: " + err.Error())
	}
	return string(b)
}

// updated checks an optimistic update touched its row.
func updated(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: stale version", tender.ErrConflict)
	}
	return nil
}

// --- payment intents

func (q *queries) PaymentIntent(ctx context.Context, t tender.Tenant, id string, lock bool) (*tender.PaymentIntent, error) {
	var pi tender.PaymentIntent
	v, err := q.getDoc(ctx, &pi, `SELECT data, version FROM payment_intents WHERE id = ? AND merchant_id = ? AND livemode = ?`+q.forUpdate(lock), id, t.MerchantID, t.Livemode)
	if err != nil {
		return nil, err
	}
	pi.Version = v
	return &pi, nil
}

func (q *queries) InsertPaymentIntent(ctx context.Context, pi *tender.PaymentIntent) error {
	pi.Version = 1
	_, err := q.exec(ctx, `INSERT INTO payment_intents (id, merchant_id, livemode, status, customer, provider, amount, currency, created, version, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		pi.ID, pi.MerchantID, pi.Livemode, string(pi.Status), pi.Customer, pi.Provider, pi.Amount, pi.Currency.Code(), ms(pi.Created), pi.Version, encode(pi))
	return err
}

func (q *queries) UpdatePaymentIntent(ctx context.Context, pi *tender.PaymentIntent) error {
	old := pi.Version
	pi.Version++
	err := updated(q.exec(ctx, `UPDATE payment_intents SET status = ?, customer = ?, provider = ?, amount = ?, currency = ?, version = ?, data = ? WHERE id = ? AND merchant_id = ? AND livemode = ? AND version = ?`,
		string(pi.Status), pi.Customer, pi.Provider, pi.Amount, pi.Currency.Code(), pi.Version, encode(pi), pi.ID, pi.MerchantID, pi.Livemode, old))
	if err != nil {
		pi.Version = old
	}
	return err
}

// --- charges

func (q *queries) scanCharge(ctx context.Context, query string, args ...any) (*tender.Charge, error) {
	var c tender.Charge
	v, err := q.getDoc(ctx, &c, query, args...)
	if err != nil {
		return nil, err
	}
	c.Version = v
	return &c, nil
}

func (q *queries) Charge(ctx context.Context, t tender.Tenant, id string, lock bool) (*tender.Charge, error) {
	return q.scanCharge(ctx, `SELECT data, version FROM charges WHERE id = ? AND merchant_id = ? AND livemode = ?`+q.forUpdate(lock), id, t.MerchantID, t.Livemode)
}

func (q *queries) ChargeByProviderRef(ctx context.Context, t tender.Tenant, provider, ref string, lock bool) (*tender.Charge, error) {
	if ref == "" {
		return nil, tender.ErrNotFound
	}
	return q.scanCharge(ctx, `SELECT data, version FROM charges WHERE provider = ? AND provider_ref = ? AND merchant_id = ? AND livemode = ?`+q.forUpdate(lock),
		provider, ref, t.MerchantID, t.Livemode)
}

func (q *queries) InsertCharge(ctx context.Context, c *tender.Charge) error {
	c.Version = 1
	_, err := q.exec(ctx, `INSERT INTO charges (id, merchant_id, livemode, payment_intent, provider, provider_ref, status, attempt, attempt_at, created, version, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.MerchantID, c.Livemode, c.PaymentIntent, c.Provider, c.ProviderRef, c.Status, c.Attempt, ms(c.AttemptAt), ms(c.Created), c.Version, encode(c))
	return err
}

func (q *queries) UpdateCharge(ctx context.Context, c *tender.Charge) error {
	old := c.Version
	c.Version++
	err := updated(q.exec(ctx, `UPDATE charges SET provider_ref = ?, status = ?, attempt = ?, attempt_at = ?, version = ?, data = ? WHERE id = ? AND merchant_id = ? AND livemode = ? AND version = ?`,
		c.ProviderRef, c.Status, c.Attempt, ms(c.AttemptAt), c.Version, encode(c), c.ID, c.MerchantID, c.Livemode, old))
	if err != nil {
		c.Version = old
	}
	return err
}

// --- refunds

func (q *queries) scanRefund(ctx context.Context, query string, args ...any) (*tender.Refund, error) {
	var r tender.Refund
	v, err := q.getDoc(ctx, &r, query, args...)
	if err != nil {
		return nil, err
	}
	r.Version = v
	return &r, nil
}

func (q *queries) Refund(ctx context.Context, t tender.Tenant, id string, lock bool) (*tender.Refund, error) {
	return q.scanRefund(ctx, `SELECT data, version FROM refunds WHERE id = ? AND merchant_id = ? AND livemode = ?`+q.forUpdate(lock), id, t.MerchantID, t.Livemode)
}

func (q *queries) RefundByProviderRef(ctx context.Context, t tender.Tenant, provider, ref string, lock bool) (*tender.Refund, error) {
	if ref == "" {
		return nil, tender.ErrNotFound
	}
	return q.scanRefund(ctx, `SELECT data, version FROM refunds WHERE provider = ? AND provider_ref = ? AND merchant_id = ? AND livemode = ?`+q.forUpdate(lock),
		provider, ref, t.MerchantID, t.Livemode)
}

func (q *queries) RefundedTotal(ctx context.Context, t tender.Tenant, chargeID string) (int64, error) {
	var total sql.NullInt64
	err := q.q.QueryRowContext(ctx, q.db.q(`SELECT SUM(amount) FROM refunds WHERE charge = ? AND merchant_id = ? AND livemode = ? AND status IN ('pending', 'succeeded')`),
		chargeID, t.MerchantID, t.Livemode).Scan(&total)
	return total.Int64, translate(err)
}

func (q *queries) InsertRefund(ctx context.Context, r *tender.Refund) error {
	r.Version = 1
	_, err := q.exec(ctx, `INSERT INTO refunds (id, merchant_id, livemode, payment_intent, charge, provider, provider_ref, status, amount, in_flight, attempt_at, created, version, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.MerchantID, r.Livemode, r.PaymentIntent, r.Charge, r.Provider, r.ProviderRef, r.Status, r.Amount, r.InFlight, ms(r.AttemptAt), ms(r.Created), r.Version, encode(r))
	return err
}

func (q *queries) UpdateRefund(ctx context.Context, r *tender.Refund) error {
	old := r.Version
	r.Version++
	err := updated(q.exec(ctx, `UPDATE refunds SET provider_ref = ?, status = ?, in_flight = ?, attempt_at = ?, version = ?, data = ? WHERE id = ? AND merchant_id = ? AND livemode = ? AND version = ?`,
		r.ProviderRef, r.Status, r.InFlight, ms(r.AttemptAt), r.Version, encode(r), r.ID, r.MerchantID, r.Livemode, old))
	if err != nil {
		r.Version = old
	}
	return err
}

// --- events

func (q *queries) Event(ctx context.Context, t tender.Tenant, id string) (*tender.Event, error) {
	var e tender.Event
	if _, err := q.getDoc(ctx, &e, `SELECT data, 0 FROM events WHERE id = ? AND merchant_id = ? AND livemode = ?`, id, t.MerchantID, t.Livemode); err != nil {
		return nil, err
	}
	return &e, q.pendingWebhooks(ctx, []*tender.Event{&e})
}

// InsertEvent appends an event and, in the same transaction, one delivery
// per endpoint that receives it: the transactional outbox.
func (q *queries) InsertEvent(ctx context.Context, e *tender.Event) error {
	if _, err := q.exec(ctx, `INSERT INTO events (id, merchant_id, livemode, type, object_id, created, data) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.MerchantID, e.Livemode, e.Type, e.ObjectID, ms(e.Created), encode(e)); err != nil {
		return err
	}
	eps, err := q.matchingEndpoints(ctx, e, false)
	if err != nil {
		return translate(err)
	}
	for _, ep := range eps {
		if err := q.insertDelivery(ctx, e, ep); err != nil {
			return err
		}
	}
	return nil
}

// --- idempotency binding

func (q *queries) BindIdempotency(ctx context.Context, t tender.Tenant, recordID, resourceID string) error {
	_, err := q.exec(ctx, `UPDATE idempotency_keys SET resource_id = ? WHERE id = ? AND merchant_id = ? AND livemode = ?`, resourceID, recordID, t.MerchantID, t.Livemode)
	return err
}

func (q *queries) ClaimIdempotency(ctx context.Context, rec *tender.IdempotencyRecord) (bool, error) {
	return insertIdem(ctx, q.db, q.q, rec)
}

func (q *queries) FinishIdempotency(ctx context.Context, t tender.Tenant, id string, status int, body []byte) error {
	return finishIdem(ctx, q.db, q.q, t, id, status, body)
}

// --- provider configs

type providerConfigDoc struct {
	CredentialHints map[string]string
	Settings        map[string]string
	ValidatedAt     *time.Time
}

func (q *queries) scanProviderConfigs(ctx context.Context, query string, args ...any) ([]*tender.ProviderConfig, error) {
	rows, err := q.q.QueryContext(ctx, q.db.q(query), args...)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []*tender.ProviderConfig
	for rows.Next() {
		var c tender.ProviderConfig
		var created, updatedAt int64
		var keyID, data string
		if err := rows.Scan(&c.MerchantID, &c.Livemode, &c.Provider, &c.Enabled, &c.Priority, &c.SealedCredentials, &keyID, &created, &updatedAt, &data); err != nil {
			return nil, translate(err)
		}
		var doc providerConfigDoc
		if err := json.Unmarshal([]byte(data), &doc); err != nil {
			return nil, fmt.Errorf("decode provider config: %w", err)
		}
		c.CredentialHints, c.Settings, c.ValidatedAt = doc.CredentialHints, doc.Settings, doc.ValidatedAt
		c.Created, c.Updated = fromMS(created), fromMS(updatedAt)
		out = append(out, &c)
	}
	return out, translate(rows.Err())
}

const providerConfigColumns = `merchant_id, livemode, provider, enabled, priority, credentials, key_id, created, updated, data`

func (q *queries) ProviderConfig(ctx context.Context, t tender.Tenant, provider string) (*tender.ProviderConfig, error) {
	cs, err := q.scanProviderConfigs(ctx, `SELECT `+providerConfigColumns+` FROM provider_configs WHERE merchant_id = ? AND livemode = ? AND provider = ?`, t.MerchantID, t.Livemode, provider)
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, tender.ErrNotFound
	}
	return cs[0], nil
}

// ProviderConfigs lists a tenant's provider configs by priority, then key.
func (q *queries) ProviderConfigs(ctx context.Context, t tender.Tenant) ([]*tender.ProviderConfig, error) {
	return q.scanProviderConfigs(ctx, `SELECT `+providerConfigColumns+` FROM provider_configs WHERE merchant_id = ? AND livemode = ? ORDER BY priority, provider`, t.MerchantID, t.Livemode)
}

func (q *queries) PutProviderConfig(ctx context.Context, c *tender.ProviderConfig) error {
	keyID := ""
	if c.SealedCredentials != "" {
		if parts := strings.SplitN(c.SealedCredentials, ".", 3); len(parts) == 3 {
			keyID = parts[1]
		}
	}
	doc := encode(providerConfigDoc{CredentialHints: c.CredentialHints, Settings: c.Settings, ValidatedAt: c.ValidatedAt})
	_, err := q.exec(ctx, `INSERT INTO provider_configs (`+providerConfigColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (merchant_id, livemode, provider) DO UPDATE SET enabled = excluded.enabled, priority = excluded.priority,
		credentials = excluded.credentials, key_id = excluded.key_id, updated = excluded.updated, data = excluded.data`,
		c.MerchantID, c.Livemode, c.Provider, c.Enabled, c.Priority, c.SealedCredentials, keyID, ms(c.Created), ms(c.Updated), doc)
	return err
}

func (q *queries) DeleteProviderConfig(ctx context.Context, t tender.Tenant, provider string) error {
	res, err := q.exec(ctx, `DELETE FROM provider_configs WHERE merchant_id = ? AND livemode = ? AND provider = ?`, t.MerchantID, t.Livemode, provider)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return tender.ErrNotFound
	}
	return nil
}

// --- lists

// listSpec describes one list: its table and which ListQuery filters map to
// which columns.
type listSpec struct {
	table   string
	filters []func(q tender.ListQuery) (string, []any, bool)
}

func eq(column string, get func(tender.ListQuery) string) func(tender.ListQuery) (string, []any, bool) {
	return func(q tender.ListQuery) (string, []any, bool) {
		v := get(q)
		return column + " = ?", []any{v}, v != ""
	}
}

func in(column string, get func(tender.ListQuery) []string) func(tender.ListQuery) (string, []any, bool) {
	return func(q tender.ListQuery) (string, []any, bool) {
		vs := get(q)
		if len(vs) == 0 {
			return "", nil, false
		}
		args := make([]any, len(vs))
		for i, v := range vs {
			args[i] = v
		}
		return column + " IN (" + strings.TrimSuffix(strings.Repeat("?, ", len(vs)), ", ") + ")", args, true
	}
}

// list runs a paginated query: newest first by id (ids are time-ordered),
// limit+1 rows to know whether there is more.
func list[T any](ctx context.Context, q *queries, spec listSpec, lq tender.ListQuery, decode func(data string, version int64) (T, error)) (tender.Page[T], error) {
	var page tender.Page[T]
	where := []string{"merchant_id = ?", "livemode = ?"}
	args := []any{lq.MerchantID, lq.Livemode}
	add := func(cond string, a ...any) {
		where = append(where, cond)
		args = append(args, a...)
	}
	for _, f := range spec.filters {
		if cond, a, ok := f(lq); ok {
			add(cond, a...)
		}
	}
	if lq.CreatedGT != nil {
		add("created > ?", ms(*lq.CreatedGT))
	}
	if lq.CreatedGTE != nil {
		add("created >= ?", ms(*lq.CreatedGTE))
	}
	if lq.CreatedLT != nil {
		add("created < ?", ms(*lq.CreatedLT))
	}
	if lq.CreatedLTE != nil {
		add("created <= ?", ms(*lq.CreatedLTE))
	}
	order := "DESC"
	switch {
	case lq.StartingAfter != "":
		add("id < ?", lq.StartingAfter)
	case lq.EndingBefore != "":
		add("id > ?", lq.EndingBefore)
		order = "ASC"
	}
	limit := lq.Limit
	if limit <= 0 {
		limit = 10
	}
	versionCol := "version"
	if spec.table == "events" {
		versionCol = "0"
	}
	query := fmt.Sprintf(`SELECT data, %s FROM %s WHERE %s ORDER BY id %s LIMIT %d`, versionCol, spec.table, strings.Join(where, " AND "), order, limit+1)
	rows, err := q.q.QueryContext(ctx, q.db.q(query), args...)
	if err != nil {
		return page, translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		var data string
		var version int64
		if err := rows.Scan(&data, &version); err != nil {
			return page, translate(err)
		}
		v, err := decode(data, version)
		if err != nil {
			return page, err
		}
		page.Data = append(page.Data, v)
	}
	if err := rows.Err(); err != nil {
		return page, translate(err)
	}
	if len(page.Data) > limit {
		page.Data = page.Data[:limit]
		page.HasMore = true
	}
	if order == "ASC" {
		slices.Reverse(page.Data)
	}
	return page, nil
}

func decodeDoc[T any](set func(*T, int64)) func(string, int64) (*T, error) {
	return func(data string, version int64) (*T, error) {
		v := new(T)
		if err := json.Unmarshal([]byte(data), v); err != nil {
			return nil, fmt.Errorf("decode stored document: %w", err)
		}
		set(v, version)
		return v, nil
	}
}

var (
	intentList = listSpec{table: "payment_intents", filters: []func(tender.ListQuery) (string, []any, bool){
		eq("customer", func(q tender.ListQuery) string { return q.Customer }),
		eq("provider", func(q tender.ListQuery) string { return q.Provider }),
		eq("status", func(q tender.ListQuery) string { return q.Status }),
		eq("currency", func(q tender.ListQuery) string { return q.Currency }),
		in("status", func(q tender.ListQuery) []string { return q.Statuses }),
		func(q tender.ListQuery) (string, []any, bool) {
			if q.AmountGTE == nil {
				return "", nil, false
			}
			return "amount >= ?", []any{*q.AmountGTE}, true
		},
		func(q tender.ListQuery) (string, []any, bool) {
			if q.AmountLTE == nil {
				return "", nil, false
			}
			return "amount <= ?", []any{*q.AmountLTE}, true
		},
	}}
	chargeList = listSpec{table: "charges", filters: []func(tender.ListQuery) (string, []any, bool){
		eq("payment_intent", func(q tender.ListQuery) string { return q.PaymentIntent }),
	}}
	refundList = listSpec{table: "refunds", filters: []func(tender.ListQuery) (string, []any, bool){
		eq("payment_intent", func(q tender.ListQuery) string { return q.PaymentIntent }),
		eq("charge", func(q tender.ListQuery) string { return q.Charge }),
	}}
	eventList = listSpec{table: "events", filters: []func(tender.ListQuery) (string, []any, bool){
		eventTypes,
	}}
)

// eventTypes filters by exact types or "prefix.*" patterns.
func eventTypes(q tender.ListQuery) (string, []any, bool) {
	if len(q.Types) == 0 {
		return "", nil, false
	}
	var conds []string
	var args []any
	for _, t := range q.Types {
		if p, ok := strings.CutSuffix(t, "*"); ok {
			conds = append(conds, `type LIKE ? ESCAPE '\'`)
			args = append(args, strings.NewReplacer("%", `\%`, "_", `\_`).Replace(p)+"%")
		} else {
			conds = append(conds, "type = ?")
			args = append(args, t)
		}
	}
	return "(" + strings.Join(conds, " OR ") + ")", args, true
}

func (q *queries) ListPaymentIntents(ctx context.Context, lq tender.ListQuery) (tender.Page[*tender.PaymentIntent], error) {
	return list(ctx, q, intentList, lq, decodeDoc(func(v *tender.PaymentIntent, ver int64) { v.Version = ver }))
}

func (q *queries) ListCharges(ctx context.Context, lq tender.ListQuery) (tender.Page[*tender.Charge], error) {
	return list(ctx, q, chargeList, lq, decodeDoc(func(v *tender.Charge, ver int64) { v.Version = ver }))
}

func (q *queries) ListRefunds(ctx context.Context, lq tender.ListQuery) (tender.Page[*tender.Refund], error) {
	return list(ctx, q, refundList, lq, decodeDoc(func(v *tender.Refund, ver int64) { v.Version = ver }))
}

func (q *queries) ListEvents(ctx context.Context, lq tender.ListQuery) (tender.Page[*tender.Event], error) {
	page, err := list(ctx, q, eventList, lq, decodeDoc(func(*tender.Event, int64) {}))
	if err != nil {
		return page, err
	}
	return page, q.pendingWebhooks(ctx, page.Data)
}

// --- transactions and recovery claims

// InTx runs fn in one write transaction.
func (db *DB) InTx(ctx context.Context, fn func(tx tender.PaymentTx) error) error {
	return db.inTx(ctx, func(tx *sql.Tx) error {
		return fn(&queries{db: db, q: db.querier(db.w, tx), tx: true})
	})
}

func (db *DB) skipLocked() string {
	if db.dialect == Postgres {
		return " FOR UPDATE SKIP LOCKED"
	}
	return ""
}

// claim selects documents in a write transaction (skipping rows another
// instance holds, on PostgreSQL) and lets mark update each one, so that
// other instances leave them alone for a while.
func claim[T any](ctx context.Context, db *DB, query string, args []any, setVersion func(*T, int64), mark func(q *queries, v *T) error) ([]*T, error) {
	var out []*T
	err := db.inTx(ctx, func(sqltx *sql.Tx) error {
		tx := db.querier(db.w, sqltx)
		q := &queries{db: db, q: tx, tx: true}
		rows, err := tx.QueryContext(ctx, db.q(query+db.skipLocked()), args...)
		if err != nil {
			return err
		}
		decode := decodeDoc(setVersion)
		var claimed []*T
		for rows.Next() {
			var data string
			var version int64
			if err := rows.Scan(&data, &version); err != nil {
				rows.Close()
				return err
			}
			v, err := decode(data, version)
			if err != nil {
				rows.Close()
				return err
			}
			claimed = append(claimed, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, v := range claimed {
			if err := mark(q, v); err != nil {
				return err
			}
		}
		out = claimed
		return nil
	})
	return out, err
}

// StaleCharges claims charges stuck in an attempt state (see tender.PaymentStore).
func (db *DB) StaleCharges(ctx context.Context, states []string, olderThan, now time.Time, limit int) ([]*tender.Charge, error) {
	if len(states) == 0 {
		return nil, nil
	}
	var args []any
	for _, s := range states {
		args = append(args, s)
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(states)), ", ")
	return claim(ctx, db, `SELECT data, version FROM charges WHERE attempt IN (`+marks+`) AND attempt_at < ? ORDER BY attempt_at LIMIT ?`,
		append(args, ms(olderThan), limit), func(c *tender.Charge, v int64) { c.Version = v },
		func(q *queries, c *tender.Charge) error {
			c.AttemptAt = now
			c.AttemptTries++
			return q.UpdateCharge(ctx, c)
		})
}

// StaleRefunds claims refunds whose provider call is outstanding.
func (db *DB) StaleRefunds(ctx context.Context, olderThan, now time.Time, limit int) ([]*tender.Refund, error) {
	return claim(ctx, db, `SELECT data, version FROM refunds WHERE in_flight = ? AND attempt_at < ? ORDER BY attempt_at LIMIT ?`,
		[]any{true, ms(olderThan), limit}, func(r *tender.Refund, v int64) { r.Version = v },
		func(q *queries, r *tender.Refund) error {
			r.AttemptAt = now
			r.AttemptTries++
			return q.UpdateRefund(ctx, r)
		})
}
