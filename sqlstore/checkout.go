package sqlstore

import (
	"context"
	"encoding/json"
	"time"

	"github.com/tenderhq/tender"
)

func (q *queries) CheckoutSession(ctx context.Context, t tender.Tenant, id string, lock bool) (*tender.CheckoutSession, error) {
	var s tender.CheckoutSession
	v, err := q.getDoc(ctx, &s, `SELECT data, version FROM checkout_sessions WHERE id = ? AND merchant_id = ? AND livemode = ?`+q.forUpdate(lock), id, t.MerchantID, t.Livemode)
	if err != nil {
		return nil, err
	}
	s.Version = v
	return &s, nil
}

func (q *queries) InsertCheckoutSession(ctx context.Context, s *tender.CheckoutSession) error {
	s.Version = 1
	_, err := q.exec(ctx, `INSERT INTO checkout_sessions (id, merchant_id, livemode, status, expires_at, created, version, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.MerchantID, s.Livemode, s.Status, ms(s.ExpiresAt), ms(s.Created), s.Version, encode(s))
	return err
}

func (q *queries) UpdateCheckoutSession(ctx context.Context, s *tender.CheckoutSession) error {
	old := s.Version
	s.Version++
	err := updated(q.exec(ctx, `UPDATE checkout_sessions SET status = ?, expires_at = ?, version = ?, data = ? WHERE id = ? AND merchant_id = ? AND livemode = ? AND version = ?`,
		s.Status, ms(s.ExpiresAt), s.Version, encode(s), s.ID, s.MerchantID, s.Livemode, old))
	if err != nil {
		s.Version = old
	}
	return err
}

var sessionList = listSpec{table: "checkout_sessions", filters: []func(tender.ListQuery) (string, []any, bool){
	eq("status", func(q tender.ListQuery) string { return q.Status }),
}}

func (q *queries) ListCheckoutSessions(ctx context.Context, lq tender.ListQuery) (tender.Page[*tender.CheckoutSession], error) {
	return list(ctx, q, sessionList, lq, decodeDoc(func(v *tender.CheckoutSession, ver int64) { v.Version = ver }))
}

// CheckoutSessionByID finds a session by its id alone.
func (db *DB) CheckoutSessionByID(ctx context.Context, id string) (*tender.CheckoutSession, error) {
	var s tender.CheckoutSession
	v, err := db.queries.getDoc(ctx, &s, `SELECT data, version FROM checkout_sessions WHERE id = ?`, id)
	if err != nil {
		return nil, err
	}
	s.Version = v
	return &s, nil
}

// ExpiredSessions lists open sessions past their expiry.
func (db *DB) ExpiredSessions(ctx context.Context, now time.Time, limit int) ([]*tender.CheckoutSession, error) {
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT data, version FROM checkout_sessions WHERE status = 'open' AND expires_at <= ? ORDER BY expires_at LIMIT ?`), ms(now), limit)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []*tender.CheckoutSession
	for rows.Next() {
		var data string
		var v int64
		if err := rows.Scan(&data, &v); err != nil {
			return nil, translate(err)
		}
		var s tender.CheckoutSession
		if err := json.Unmarshal([]byte(data), &s); err != nil {
			return nil, err
		}
		s.Version = v
		out = append(out, &s)
	}
	return out, translate(rows.Err())
}
