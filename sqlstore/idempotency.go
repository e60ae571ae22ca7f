package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/tenderhq/tender"
)

const idemColumns = `id, merchant_id, livemode, key, request_hash, status, response_status, response_body, resource_id, locked_at, created`

func scanIdem(row interface{ Scan(...any) error }) (*tender.IdempotencyRecord, error) {
	var r tender.IdempotencyRecord
	var body string
	var locked, created int64
	if err := row.Scan(&r.ID, &r.Tenant.MerchantID, &r.Tenant.Livemode, &r.Key, &r.RequestHash, &r.Status,
		&r.ResponseStatus, &body, &r.ResourceID, &locked, &created); err != nil {
		return nil, translate(err)
	}
	r.ResponseBody = []byte(body)
	if locked != 0 {
		r.LockedAt = fromMS(locked)
	}
	r.Created = fromMS(created)
	return &r, nil
}

// BeginIdempotent inserts a record, or returns the one already there. The
// unique index decides between concurrent first uses.
func (db *DB) BeginIdempotent(ctx context.Context, rec *tender.IdempotencyRecord) (*tender.IdempotencyRecord, error) {
	var ok bool
	err := db.writeOne(ctx, func(q querier) (err error) {
		ok, err = insertIdem(ctx, db, q, rec)
		return err
	})
	if err != nil {
		return nil, err
	}
	if ok {
		return nil, nil // ours: the common case, in one round trip
	}
	got, err := scanIdem(db.querier(db.w, nil).QueryRowContext(ctx, db.q(`SELECT `+idemColumns+` FROM idempotency_keys WHERE merchant_id = ? AND livemode = ? AND key = ?`),
		rec.Tenant.MerchantID, rec.Tenant.Livemode, rec.Key))
	if errors.Is(err, tender.ErrNotFound) {
		// Purged between the insert and the read: try once more.
		return db.BeginIdempotent(ctx, rec)
	}
	if err != nil {
		return nil, err
	}
	return got, nil
}

// FindIdempotent reads a key's record on a reader.
func (db *DB) FindIdempotent(ctx context.Context, t tender.Tenant, key string) (*tender.IdempotencyRecord, error) {
	return scanIdem(db.querier(db.r, nil).QueryRowContext(ctx, db.q(`SELECT `+idemColumns+` FROM idempotency_keys WHERE merchant_id = ? AND livemode = ? AND key = ?`),
		t.MerchantID, t.Livemode, key))
}

// insertIdem inserts rec unless its key exists (false).
func insertIdem(ctx context.Context, db *DB, q querier, rec *tender.IdempotencyRecord) (bool, error) {
	var id string
	err := q.QueryRowContext(ctx, db.q(`INSERT INTO idempotency_keys (`+idemColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (merchant_id, livemode, key) DO NOTHING RETURNING id`),
		rec.ID, rec.Tenant.MerchantID, rec.Tenant.Livemode, rec.Key, rec.RequestHash, rec.Status, rec.ResponseStatus,
		string(rec.ResponseBody), rec.ResourceID, ms(rec.LockedAt), ms(rec.Created)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, translate(err)
}

// TakeOverIdempotent locks an abandoned in-flight record for a new attempt.
func (db *DB) TakeOverIdempotent(ctx context.Context, t tender.Tenant, id string, lockedAt, now time.Time) (bool, error) {
	old := int64(0)
	if !lockedAt.IsZero() {
		old = ms(lockedAt)
	}
	var n int64
	err := db.writeOne(ctx, func(q querier) error {
		res, err := q.ExecContext(ctx, db.q(`UPDATE idempotency_keys SET locked_at = ? WHERE id = ? AND merchant_id = ? AND livemode = ? AND status = ? AND locked_at = ?`),
			ms(now), id, t.MerchantID, t.Livemode, tender.IdempotencyInFlight, old)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n == 1, translate(err)
}

// FinishIdempotent stores the first response.
func (db *DB) FinishIdempotent(ctx context.Context, t tender.Tenant, id string, status int, body []byte) error {
	return db.writeOne(ctx, func(q querier) error { return finishIdem(ctx, db, q, t, id, status, body) })
}

func finishIdem(ctx context.Context, db *DB, q querier, t tender.Tenant, id string, status int, body []byte) error {
	_, err := q.ExecContext(ctx, db.q(`UPDATE idempotency_keys SET status = ?, response_status = ?, response_body = ?, locked_at = 0 WHERE id = ? AND merchant_id = ? AND livemode = ?`),
		tender.IdempotencyDone, status, string(body), id, t.MerchantID, t.Livemode)
	return translate(err)
}

// ReleaseIdempotent unlocks an in-flight record for an immediate retry.
func (db *DB) ReleaseIdempotent(ctx context.Context, t tender.Tenant, id string) error {
	return db.writeOne(ctx, func(q querier) error {
		_, err := q.ExecContext(ctx, db.q(`UPDATE idempotency_keys SET locked_at = 0 WHERE id = ? AND merchant_id = ? AND livemode = ? AND status = ?`),
			id, t.MerchantID, t.Livemode, tender.IdempotencyInFlight)
		return translate(err)
	})
}

// DeleteIdempotent forgets a record whose request never started executing.
func (db *DB) DeleteIdempotent(ctx context.Context, t tender.Tenant, id string) error {
	return db.writeOne(ctx, func(q querier) error {
		_, err := q.ExecContext(ctx, db.q(`DELETE FROM idempotency_keys WHERE id = ? AND merchant_id = ? AND livemode = ?`), id, t.MerchantID, t.Livemode)
		return translate(err)
	})
}

// PurgeIdempotency deletes records created before a time (Stripe keeps keys 24 hours).
func (db *DB) PurgeIdempotency(ctx context.Context, before time.Time) (int64, error) {
	res, err := db.querier(db.w, nil).ExecContext(ctx, db.q(`DELETE FROM idempotency_keys WHERE created < ?`), ms(before))
	if err != nil {
		return 0, translate(err)
	}
	return res.RowsAffected()
}

var _ tender.ProviderLedger = (*DB)(nil)

// LedgerUpdate reads, transforms and writes one ledger record atomically.
// A record's first write is a plain INSERT: two concurrent first writers
// cannot both miss the row and overwrite each other, because the second
// INSERT conflicts, and then the whole update runs again and sees the row.
func (db *DB) LedgerUpdate(ctx context.Context, provider, key string, fn func(old []byte) ([]byte, time.Time, error)) error {
	// Most updates create their record (a new payment): try that first, in
	// one statement; fn must be a pure function of old, as it may run twice.
	if val, due, err := fn(nil); err == nil && val != nil {
		var dueAt sql.NullInt64
		if !due.IsZero() {
			dueAt = sql.NullInt64{Int64: ms(due), Valid: true}
		}
		inserted := false
		err := db.writeOne(ctx, func(q querier) error {
			var k string
			err := q.QueryRowContext(ctx, db.q(`INSERT INTO provider_ledger (provider, key, value, due_at) VALUES (?, ?, ?, ?) ON CONFLICT (provider, key) DO NOTHING RETURNING key`),
				provider, key, string(val), dueAt).Scan(&k)
			if errors.Is(err, sql.ErrNoRows) {
				return nil // the record exists: update it below
			}
			inserted = err == nil
			return err
		})
		if err != nil {
			return translate(err)
		}
		if inserted {
			return nil
		}
	}
	for attempt := 0; ; attempt++ {
		err := db.ledgerUpdateOnce(ctx, provider, key, fn)
		if errors.Is(err, tender.ErrConflict) && attempt < 5 {
			continue
		}
		return err
	}
}

func (db *DB) ledgerUpdateOnce(ctx context.Context, provider, key string, fn func(old []byte) ([]byte, time.Time, error)) error {
	return db.inTx(ctx, func(sqltx *sql.Tx) error {
		tx := db.querier(db.w, sqltx)
		var old []byte
		var v string
		lock := ""
		if db.dialect == Postgres {
			lock = " FOR UPDATE"
		}
		err := tx.QueryRowContext(ctx, db.q(`SELECT value FROM provider_ledger WHERE provider = ? AND key = ?`+lock), provider, key).Scan(&v)
		switch {
		case err == nil:
			old = []byte(v)
		case errors.Is(err, sql.ErrNoRows):
		default:
			return err
		}
		val, due, err := fn(old)
		if err != nil || val == nil {
			return err
		}
		var dueAt sql.NullInt64
		if !due.IsZero() {
			dueAt = sql.NullInt64{Int64: ms(due), Valid: true}
		}
		if old == nil {
			_, err = tx.ExecContext(ctx, db.q(`INSERT INTO provider_ledger (provider, key, value, due_at) VALUES (?, ?, ?, ?)`), provider, key, string(val), dueAt)
		} else {
			_, err = tx.ExecContext(ctx, db.q(`UPDATE provider_ledger SET value = ?, due_at = ? WHERE provider = ? AND key = ?`), string(val), dueAt, provider, key)
		}
		return err
	})
}

// LedgerGet reads one ledger record.
func (db *DB) LedgerGet(ctx context.Context, provider, key string) ([]byte, error) {
	var v string
	err := db.querier(db.r, nil).QueryRowContext(ctx, db.q(`SELECT value FROM provider_ledger WHERE provider = ? AND key = ?`), provider, key).Scan(&v)
	if err != nil {
		return nil, translate(err)
	}
	return []byte(v), nil
}

// LedgerDue lists records scheduled at or before now.
func (db *DB) LedgerDue(ctx context.Context, provider string, now time.Time, limit int) ([]string, error) {
	rows, err := db.querier(db.r, nil).QueryContext(ctx, db.q(`SELECT key FROM provider_ledger WHERE provider = ? AND due_at IS NOT NULL AND due_at <= ? ORDER BY due_at LIMIT ?`), provider, ms(now), limit)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, translate(err)
		}
		keys = append(keys, k)
	}
	return keys, translate(rows.Err())
}

// LedgerCount counts records whose key starts with prefix.
func (db *DB) LedgerCount(ctx context.Context, provider, prefix string) (int, error) {
	var n int
	err := db.querier(db.r, nil).QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM provider_ledger WHERE provider = ? AND substr(key, 1, ?) = ?`), provider, len(prefix), prefix).Scan(&n)
	return n, translate(err)
}
