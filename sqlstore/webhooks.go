package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/tenderhq/tender"
)

var _ tender.WebhookStore = (*DB)(nil)

type endpointDoc struct {
	URL           string
	EnabledEvents []string
	Description   string
	Metadata      map[string]string
	FailingSince  *time.Time
}

func keyIDOf(sealed string) string {
	if parts := strings.SplitN(sealed, ".", 3); len(parts) == 3 {
		return parts[1]
	}
	return ""
}

// InsertWebhookEndpoint stores a new endpoint.
func (db *DB) InsertWebhookEndpoint(ctx context.Context, e *tender.WebhookEndpoint) error {
	e.Version = 1
	doc := encode(endpointDoc{e.URL, e.EnabledEvents, e.Description, e.Metadata, e.FailingSince})
	_, err := db.querier(db.w, nil).ExecContext(ctx, db.q(`INSERT INTO webhook_endpoints (id, merchant_id, livemode, status, format, events, secret, key_id, created, version, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		e.ID, e.MerchantID, e.Livemode, e.Status, e.Format, encode(e.EnabledEvents), e.SealedSecret, keyIDOf(e.SealedSecret), ms(e.Created), e.Version, doc)
	return translate(err)
}

// UpdateWebhookEndpoint writes an endpoint if its version is current.
func (db *DB) UpdateWebhookEndpoint(ctx context.Context, e *tender.WebhookEndpoint) error {
	old := e.Version
	e.Version++
	doc := encode(endpointDoc{e.URL, e.EnabledEvents, e.Description, e.Metadata, e.FailingSince})
	// The secret is not rewritten: it changes only by key rotation (ResealSecret).
	res, err := db.querier(db.w, nil).ExecContext(ctx, db.q(`UPDATE webhook_endpoints SET status = ?, format = ?, events = ?, version = ?, data = ? WHERE id = ? AND merchant_id = ? AND livemode = ? AND version = ?`),
		e.Status, e.Format, encode(e.EnabledEvents), e.Version, doc, e.ID, e.MerchantID, e.Livemode, old)
	if err = updated(res, translate(err)); err != nil {
		e.Version = old
	}
	return err
}

// DeleteWebhookEndpoint deletes an endpoint and its deliveries.
func (db *DB) DeleteWebhookEndpoint(ctx context.Context, t tender.Tenant, id string) error {
	return db.inTx(ctx, func(sqltx *sql.Tx) error {
		tx := db.querier(db.w, sqltx)
		if _, err := tx.ExecContext(ctx, db.q(`DELETE FROM webhook_deliveries WHERE endpoint_id = ? AND merchant_id = ? AND livemode = ?`), id, t.MerchantID, t.Livemode); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, db.q(`DELETE FROM webhook_endpoints WHERE id = ? AND merchant_id = ? AND livemode = ?`), id, t.MerchantID, t.Livemode)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return tender.ErrNotFound
		}
		return nil
	})
}

const endpointColumns = `id, merchant_id, livemode, status, format, secret, created, version, data`

func scanEndpoint(row interface{ Scan(...any) error }) (*tender.WebhookEndpoint, error) {
	var e tender.WebhookEndpoint
	var created int64
	var data string
	if err := row.Scan(&e.ID, &e.MerchantID, &e.Livemode, &e.Status, &e.Format, &e.SealedSecret, &created, &e.Version, &data); err != nil {
		return nil, translate(err)
	}
	var doc endpointDoc
	if err := json.Unmarshal([]byte(data), &doc); err != nil {
		return nil, err
	}
	e.URL, e.EnabledEvents, e.Description, e.Metadata, e.FailingSince = doc.URL, doc.EnabledEvents, doc.Description, doc.Metadata, doc.FailingSince
	e.Created = fromMS(created)
	return &e, nil
}

// WebhookEndpoint returns one endpoint.
func (db *DB) WebhookEndpoint(ctx context.Context, t tender.Tenant, id string) (*tender.WebhookEndpoint, error) {
	return scanEndpoint(db.querier(db.r, nil).QueryRowContext(ctx, db.q(`SELECT `+endpointColumns+` FROM webhook_endpoints WHERE id = ? AND merchant_id = ? AND livemode = ?`), id, t.MerchantID, t.Livemode))
}

// ListWebhookEndpoints lists a tenant's endpoints, newest first.
func (db *DB) ListWebhookEndpoints(ctx context.Context, lq tender.ListQuery) (tender.Page[*tender.WebhookEndpoint], error) {
	var page tender.Page[*tender.WebhookEndpoint]
	where, args := "merchant_id = ? AND livemode = ?", []any{lq.MerchantID, lq.Livemode}
	order := "DESC"
	if lq.StartingAfter != "" {
		where, args = where+" AND id < ?", append(args, lq.StartingAfter)
	} else if lq.EndingBefore != "" {
		where, args, order = where+" AND id > ?", append(args, lq.EndingBefore), "ASC"
	}
	limit := max(lq.Limit, 1)
	rows, err := db.querier(db.r, nil).QueryContext(ctx, db.q(`SELECT `+endpointColumns+` FROM webhook_endpoints WHERE `+where+` ORDER BY id `+order+` LIMIT ?`), append(args, limit+1)...)
	if err != nil {
		return page, translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			return page, err
		}
		page.Data = append(page.Data, e)
	}
	if len(page.Data) > limit {
		page.Data, page.HasMore = page.Data[:limit], true
	}
	if order == "ASC" {
		slices.Reverse(page.Data)
	}
	return page, translate(rows.Err())
}

const deliveryColumns = `id, merchant_id, livemode, endpoint_id, event_id, status, attempts, next_attempt_at, last_attempt_at, last_status, last_error, created`

func scanDelivery(row interface{ Scan(...any) error }) (*tender.Delivery, error) {
	var d tender.Delivery
	var next, created int64
	var last sql.NullInt64
	if err := row.Scan(&d.ID, &d.MerchantID, &d.Livemode, &d.EndpointID, &d.EventID, &d.Status, &d.Attempts, &next, &last, &d.LastStatus, &d.LastError, &created); err != nil {
		return nil, translate(err)
	}
	d.NextAttemptAt, d.LastAttemptAt, d.Created = fromMS(next), timePtr(last), fromMS(created)
	return &d, nil
}

// ListDeliveries lists an endpoint's deliveries, newest first.
func (db *DB) ListDeliveries(ctx context.Context, lq tender.ListQuery, endpointID string) (tender.Page[*tender.Delivery], error) {
	var page tender.Page[*tender.Delivery]
	where, args := "merchant_id = ? AND livemode = ? AND endpoint_id = ?", []any{lq.MerchantID, lq.Livemode, endpointID}
	order := "DESC"
	if lq.StartingAfter != "" {
		where, args = where+" AND id < ?", append(args, lq.StartingAfter)
	} else if lq.EndingBefore != "" {
		where, args, order = where+" AND id > ?", append(args, lq.EndingBefore), "ASC"
	}
	limit := max(lq.Limit, 1)
	rows, err := db.querier(db.r, nil).QueryContext(ctx, db.q(`SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE `+where+` ORDER BY id `+order+` LIMIT ?`), append(args, limit+1)...)
	if err != nil {
		return page, translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return page, err
		}
		page.Data = append(page.Data, d)
	}
	if len(page.Data) > limit {
		page.Data, page.HasMore = page.Data[:limit], true
	}
	if order == "ASC" {
		slices.Reverse(page.Data)
	}
	return page, translate(rows.Err())
}

// ClaimDeliveries leases due deliveries (see tender.WebhookStore).
func (db *DB) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*tender.Delivery, error) {
	// Most looks find nothing due: answer those from a reader, without a
	// write transaction (on SQLite it would queue behind every payment).
	var due int
	if err := db.querier(db.r, nil).QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM (SELECT 1 FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ? LIMIT 1) d`), ms(now)).Scan(&due); err != nil {
		return nil, translate(err)
	}
	if due == 0 {
		return nil, nil
	}
	var out []*tender.Delivery
	err := db.inTx(ctx, func(sqltx *sql.Tx) error {
		tx := db.querier(db.w, sqltx)
		rows, err := tx.QueryContext(ctx, db.q(`SELECT `+deliveryColumns+` FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?`+db.skipLocked()), ms(now), limit)
		if err != nil {
			return err
		}
		for rows.Next() {
			d, err := scanDelivery(rows)
			if err != nil {
				rows.Close()
				return err
			}
			out = append(out, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		until := ms(now.Add(lease))
		for _, d := range out {
			if _, err := tx.ExecContext(ctx, db.q(`UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ?`), until, d.ID); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// RecordAttempt stores an attempt's outcome.
func (db *DB) RecordAttempt(ctx context.Context, d *tender.Delivery) error {
	return db.writeOne(ctx, func(q querier) error {
		_, err := q.ExecContext(ctx, db.q(`UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, last_attempt_at = ?, last_status = ?, last_error = ? WHERE id = ?`),
			d.Status, d.Attempts, ms(d.NextAttemptAt), msPtr(d.LastAttemptAt), d.LastStatus, d.LastError, d.ID)
		return translate(err)
	})
}

// Redeliver makes an event's deliveries pending again.
func (db *DB) Redeliver(ctx context.Context, t tender.Tenant, eventID, endpointID string, now time.Time) (int, error) {
	n := 0
	err := db.inTx(ctx, func(sqltx *sql.Tx) error {
		tx := db.querier(db.w, sqltx)
		q := &queries{db: db, q: tx, tx: true}
		ev, err := q.Event(ctx, t, eventID)
		if err != nil {
			return err
		}
		eps, err := q.matchingEndpoints(ctx, ev, true)
		if err != nil {
			return err
		}
		for _, ep := range eps {
			if endpointID != "" && ep != endpointID {
				continue
			}
			res, err := tx.ExecContext(ctx, db.q(`UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?, attempts = 0 WHERE event_id = ? AND endpoint_id = ?`), ms(now), eventID, ep)
			if err != nil {
				return err
			}
			if k, _ := res.RowsAffected(); k == 0 {
				if err := q.insertDelivery(ctx, ev, ep); err != nil {
					return err
				}
			}
			n++
		}
		return nil
	})
	return n, err
}

// endpointRow is what event routing needs of an endpoint.
type endpointRow struct {
	id, format, status string
	enabled            []string
}

// tenantEndpoints reads a tenant's endpoints; inside a transaction, once
// (a payment writes several events in one transaction).
func (q *queries) tenantEndpoints(ctx context.Context, t tender.Tenant) ([]endpointRow, error) {
	if q.tx {
		if eps, ok := q.endpoints[t]; ok {
			return eps, nil
		}
	}
	rows, err := q.q.QueryContext(ctx, q.db.q(`SELECT id, format, events, status FROM webhook_endpoints WHERE merchant_id = ? AND livemode = ?`), t.MerchantID, t.Livemode)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []endpointRow
	for rows.Next() {
		var r endpointRow
		var events string
		if err := rows.Scan(&r.id, &r.format, &events, &r.status); err != nil {
			return nil, err
		}
		json.Unmarshal([]byte(events), &r.enabled)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if q.tx {
		if q.endpoints == nil {
			q.endpoints = map[tender.Tenant][]endpointRow{}
		}
		q.endpoints[t] = out
	}
	return out, nil
}

// matchingEndpoints lists the endpoints that receive ev: enabled ones
// (any status with all=true, for an explicit redelivery) whose events
// include the type, in their format's vocabulary.
func (q *queries) matchingEndpoints(ctx context.Context, ev *tender.Event, all bool) ([]string, error) {
	eps, err := q.tenantEndpoints(ctx, tender.Tenant{MerchantID: ev.MerchantID, Livemode: ev.Livemode})
	if err != nil {
		return nil, err
	}
	var out []string
	simple := ""
	for _, ep := range eps {
		if ep.status != tender.EndpointEnabled && !all {
			continue
		}
		typ := ev.Type
		if ep.format == tender.FormatSimple {
			if simple == "" {
				simple = tender.SimpleEventType(ev)
			}
			if typ = simple; typ == "" {
				continue
			}
		}
		if slices.Contains(ep.enabled, "*") || slices.Contains(ep.enabled, typ) {
			out = append(out, ep.id)
		}
	}
	return out, nil
}

func (q *queries) insertDelivery(ctx context.Context, ev *tender.Event, endpointID string) error {
	_, err := q.exec(ctx, `INSERT INTO webhook_deliveries (id, merchant_id, livemode, endpoint_id, event_id, status, next_attempt_at, created) VALUES (?, ?, ?, ?, ?, 'pending', ?, ?)`,
		tender.NewID(tender.PrefixDelivery), ev.MerchantID, ev.Livemode, endpointID, ev.ID, ms(ev.Created), ms(ev.Created))
	return err
}

// pendingWebhooks fills PendingWebhooks of events.
func (q *queries) pendingWebhooks(ctx context.Context, evs []*tender.Event) error {
	if len(evs) == 0 {
		return nil
	}
	marks := strings.TrimSuffix(strings.Repeat("?, ", len(evs)), ", ")
	args := make([]any, len(evs))
	byID := map[string]*tender.Event{}
	for i, e := range evs {
		args[i] = e.ID
		byID[e.ID] = e
	}
	rows, err := q.q.QueryContext(ctx, q.db.q(`SELECT event_id, COUNT(*) FROM webhook_deliveries WHERE status = 'pending' AND event_id IN (`+marks+`) GROUP BY event_id`), args...)
	if err != nil {
		return translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			return translate(err)
		}
		byID[id].PendingWebhooks = n
	}
	return translate(rows.Err())
}
