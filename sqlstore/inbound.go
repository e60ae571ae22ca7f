package sqlstore

import (
	"context"
	"errors"
	"time"

	"github.com/tenderhq/tender"
)

var _ tender.InboundStore = (*DB)(nil)

// ChargeTenant finds the tenant of the charge a provider reference names.
func (db *DB) ChargeTenant(ctx context.Context, provider, ref string) (tender.Tenant, error) {
	var t tender.Tenant
	if ref == "" {
		return t, tender.ErrNotFound
	}
	err := db.querier(db.r, nil).QueryRowContext(ctx, db.q(`SELECT merchant_id, livemode FROM charges WHERE provider = ? AND provider_ref = ? LIMIT 1`), provider, ref).Scan(&t.MerchantID, &t.Livemode)
	return t, translate(err)
}

// ProviderEventSeen reports whether an event was applied for a tenant already.
func (db *DB) ProviderEventSeen(ctx context.Context, provider, eventID string, t tender.Tenant) (bool, error) {
	var n int
	err := db.querier(db.r, nil).QueryRowContext(ctx, db.q(`SELECT COUNT(*) FROM provider_events WHERE provider = ? AND event_id = ? AND merchant_id = ? AND livemode = ?`),
		provider, eventID, t.MerchantID, t.Livemode).Scan(&n)
	return n > 0, translate(err)
}

// RecordProviderEvent remembers an applied event; recording it twice is fine.
func (db *DB) RecordProviderEvent(ctx context.Context, provider, eventID string, t tender.Tenant, at time.Time) error {
	_, err := db.querier(db.w, nil).ExecContext(ctx, db.q(`INSERT INTO provider_events (provider, event_id, merchant_id, livemode, received) VALUES (?, ?, ?, ?, ?) ON CONFLICT (provider, event_id, merchant_id, livemode) DO NOTHING`),
		provider, eventID, t.MerchantID, t.Livemode, ms(at))
	err = translate(err)
	if errors.Is(err, tender.ErrConflict) {
		return nil
	}
	return err
}
