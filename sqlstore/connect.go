package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tenderhq/tender"
)

var _ tender.ConnectLinkStore = (*DB)(nil)

// InsertConnectLink stores a new connect link.
func (db *DB) InsertConnectLink(ctx context.Context, l *tender.ConnectLink) error {
	hosts := l.AllowedRedirectHosts
	if hosts == nil {
		hosts = []string{}
	}
	h, err := json.Marshal(hosts)
	if err != nil {
		return err
	}
	_, err = db.w.ExecContext(ctx, db.q(`INSERT INTO connect_links (id, merchant_id, mode, allowed_hosts, return_url, expires_at, created, used_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		l.ID, l.MerchantID, l.Mode, string(h), l.ReturnURL, ms(l.ExpiresAt), ms(l.Created), msPtr(l.UsedAt))
	err = translate(err)
	if err != nil && isForeignKey(err) {
		return fmt.Errorf("merchant %s: %w", l.MerchantID, tender.ErrNotFound)
	}
	return err
}

// ConnectLink returns one connect link.
func (db *DB) ConnectLink(ctx context.Context, id string) (*tender.ConnectLink, error) {
	var l tender.ConnectLink
	var hosts string
	var expires, created int64
	var used sql.NullInt64
	err := db.r.QueryRowContext(ctx, db.q(`SELECT id, merchant_id, mode, allowed_hosts, return_url, expires_at, created, used_at
		FROM connect_links WHERE id = ?`), id).Scan(&l.ID, &l.MerchantID, &l.Mode, &hosts, &l.ReturnURL, &expires, &created, &used)
	if err != nil {
		return nil, translate(err)
	}
	if err := json.Unmarshal([]byte(hosts), &l.AllowedRedirectHosts); err != nil {
		return nil, fmt.Errorf("connect link %s: allowed hosts: %w", id, err)
	}
	l.ExpiresAt, l.Created, l.UsedAt = fromMS(expires), fromMS(created), timePtr(used)
	return &l, nil
}

// ClaimConnectLink marks a link used if it is unused and unexpired at `at`.
func (db *DB) ClaimConnectLink(ctx context.Context, id string, at time.Time) error {
	return db.inTx(ctx, func(sqltx *sql.Tx) error {
		tx := db.querier(db.w, sqltx)
		res, err := tx.ExecContext(ctx, db.q(`UPDATE connect_links SET used_at = ? WHERE id = ? AND used_at IS NULL AND expires_at > ?`),
			ms(at), id, ms(at))
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM connect_links WHERE id = ?`), id).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return tender.ErrNotFound
		}
		return fmt.Errorf("connect link %s used or expired: %w", id, tender.ErrConflict)
	})
}

// ReleaseConnectLink marks a claimed link unused again.
func (db *DB) ReleaseConnectLink(ctx context.Context, id string) error {
	_, err := db.w.ExecContext(ctx, db.q(`UPDATE connect_links SET used_at = NULL WHERE id = ?`), id)
	return translate(err)
}

// PurgeConnectLinks deletes links that expired before a time.
func (db *DB) PurgeConnectLinks(ctx context.Context, before time.Time) (int64, error) {
	res, err := db.w.ExecContext(ctx, db.q(`DELETE FROM connect_links WHERE expires_at < ?`), ms(before))
	if err != nil {
		return 0, translate(err)
	}
	n, err := res.RowsAffected()
	return n, translate(err)
}
