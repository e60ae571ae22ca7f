package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/tenderhq/tender"
)

var _ tender.Store = (*DB)(nil)

// CreateMerchant stores a merchant and its first keys in one transaction.
func (db *DB) CreateMerchant(ctx context.Context, m *tender.Merchant, keys []*tender.APIKey) error {
	return db.inTx(ctx, func(sqltx *sql.Tx) error {
		tx := db.querier(db.w, sqltx)
		if _, err := tx.ExecContext(ctx, db.q(`INSERT INTO merchants (id, name, created) VALUES (?, ?, ?)`),
			m.ID, m.Name, ms(m.Created)); err != nil {
			return err
		}
		for _, k := range keys {
			if err := db.insertAPIKey(ctx, tx, k); err != nil {
				return err
			}
		}
		return nil
	})
}

// Merchant returns one merchant.
func (db *DB) Merchant(ctx context.Context, id string) (*tender.Merchant, error) {
	var m tender.Merchant
	var created int64
	err := db.querier(db.r, nil).QueryRowContext(ctx, db.q(`SELECT id, name, created FROM merchants WHERE id = ?`), id).Scan(&m.ID, &m.Name, &created)
	if err != nil {
		return nil, translate(err)
	}
	m.Created = fromMS(created)
	return &m, nil
}

// Merchants lists all merchants, oldest first.
func (db *DB) Merchants(ctx context.Context) ([]*tender.Merchant, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, name, created FROM merchants ORDER BY id`)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []*tender.Merchant
	for rows.Next() {
		var m tender.Merchant
		var created int64
		if err := rows.Scan(&m.ID, &m.Name, &created); err != nil {
			return nil, translate(err)
		}
		m.Created = fromMS(created)
		out = append(out, &m)
	}
	return out, translate(rows.Err())
}

// CreateAPIKey stores a new key for an existing merchant.
func (db *DB) CreateAPIKey(ctx context.Context, k *tender.APIKey) error {
	return db.inTx(ctx, func(tx *sql.Tx) error { return db.insertAPIKey(ctx, db.querier(db.w, tx), k) })
}

func (db *DB) insertAPIKey(ctx context.Context, tx querier, k *tender.APIKey) error {
	_, err := tx.ExecContext(ctx, db.q(`INSERT INTO api_keys (id, merchant_id, livemode, kind, scopes, hash, last4, created, revoked_at, last_used_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
		k.ID, k.MerchantID, k.Livemode, string(k.Kind), joinScopes(k.Scopes), k.Hash, k.Last4, ms(k.Created), msPtr(k.RevokedAt), msPtr(k.LastUsedAt))
	if err != nil {
		err = translate(err)
		if isForeignKey(err) {
			return fmt.Errorf("merchant %s: %w", k.MerchantID, tender.ErrNotFound)
		}
	}
	return err
}

func isForeignKey(err error) bool {
	s := err.Error()
	return strings.Contains(s, "FOREIGN KEY") || strings.Contains(s, "foreign key") || strings.Contains(s, "(787)")
}

const apiKeyColumns = `id, merchant_id, livemode, kind, scopes, hash, last4, created, revoked_at, last_used_at`

func scanAPIKey(row interface{ Scan(...any) error }) (*tender.APIKey, error) {
	var k tender.APIKey
	var kind, scopes string
	var created int64
	var revoked, used sql.NullInt64
	if err := row.Scan(&k.ID, &k.MerchantID, &k.Livemode, &kind, &scopes, &k.Hash, &k.Last4, &created, &revoked, &used); err != nil {
		return nil, translate(err)
	}
	k.Kind = tender.KeyKind(kind)
	k.Scopes = splitScopes(scopes)
	k.Created = fromMS(created)
	k.RevokedAt = timePtr(revoked)
	k.LastUsedAt = timePtr(used)
	return &k, nil
}

// APIKeyByHash finds a key by the hash of its plaintext.
func (db *DB) APIKeyByHash(ctx context.Context, hash string) (*tender.APIKey, error) {
	return scanAPIKey(db.querier(db.r, nil).QueryRowContext(ctx, db.q(`SELECT `+apiKeyColumns+` FROM api_keys WHERE hash = ?`), hash))
}

// APIKeys lists a merchant's keys, oldest first.
func (db *DB) APIKeys(ctx context.Context, merchantID string) ([]*tender.APIKey, error) {
	rows, err := db.querier(db.r, nil).QueryContext(ctx, db.q(`SELECT `+apiKeyColumns+` FROM api_keys WHERE merchant_id = ? ORDER BY id`), merchantID)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []*tender.APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, translate(rows.Err())
}

// RevokeAPIKey marks a key revoked; revoking twice keeps the first time.
func (db *DB) RevokeAPIKey(ctx context.Context, id string, at time.Time) (*tender.APIKey, error) {
	var k *tender.APIKey
	err := db.inTx(ctx, func(sqltx *sql.Tx) error {
		tx := db.querier(db.w, sqltx)
		if _, err := tx.ExecContext(ctx, db.q(`UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`), ms(at), id); err != nil {
			return err
		}
		var err error
		k, err = scanAPIKey(tx.QueryRowContext(ctx, db.q(`SELECT `+apiKeyColumns+` FROM api_keys WHERE id = ?`), id))
		return err
	})
	return k, err
}

// TouchAPIKey records a use of a key.
func (db *DB) TouchAPIKey(ctx context.Context, id string, at time.Time) error {
	_, err := db.querier(db.w, nil).ExecContext(ctx, db.q(`UPDATE api_keys SET last_used_at = ? WHERE id = ?`), ms(at), id)
	return translate(err)
}

func joinScopes(s []tender.Scope) string {
	parts := make([]string, len(s))
	for i, sc := range s {
		parts[i] = string(sc)
	}
	return strings.Join(parts, ",")
}

func splitScopes(s string) []tender.Scope {
	if s == "" {
		return nil
	}
	parts := strings.Split(s, ",")
	out := make([]tender.Scope, len(parts))
	for i, p := range parts {
		out[i] = tender.Scope(p)
	}
	return out
}

// UpdateMerchant changes a merchant's name.
func (db *DB) UpdateMerchant(ctx context.Context, m *tender.Merchant) error {
	res, err := db.querier(db.w, nil).ExecContext(ctx, db.q(`UPDATE merchants SET name = ? WHERE id = ?`), m.Name, m.ID)
	if err != nil {
		return translate(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return tender.ErrNotFound
	}
	return nil
}
