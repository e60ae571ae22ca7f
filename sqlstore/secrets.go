package sqlstore

import (
	"context"

	"github.com/tenderhq/tender"
)

var _ tender.SecretStore = (*DB)(nil)

// SealedSecrets returns secrets not sealed under keyID: provider
// credentials first, then webhook endpoint secrets.
func (db *DB) SealedSecrets(ctx context.Context, notKeyID string, limit int) ([]tender.SealedSecret, error) {
	var out []tender.SealedSecret
	rows, err := db.r.QueryContext(ctx, db.q(`SELECT merchant_id, livemode, provider, credentials FROM provider_configs WHERE credentials <> '' AND key_id <> ? ORDER BY merchant_id, livemode, provider LIMIT ?`), notKeyID, limit)
	if err != nil {
		return nil, translate(err)
	}
	for rows.Next() {
		s := tender.SealedSecret{Kind: tender.SecretProviderConfig}
		if err := rows.Scan(&s.Tenant.MerchantID, &s.Tenant.Livemode, &s.ID, &s.Ciphertext); err != nil {
			rows.Close()
			return nil, translate(err)
		}
		out = append(out, s)
	}
	rows.Close()
	if len(out) >= limit {
		return out, nil
	}
	rows, err = db.r.QueryContext(ctx, db.q(`SELECT merchant_id, livemode, id, secret FROM webhook_endpoints WHERE key_id <> ? ORDER BY id LIMIT ?`), notKeyID, limit-len(out))
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	for rows.Next() {
		s := tender.SealedSecret{Kind: tender.SecretWebhookEndpoint}
		if err := rows.Scan(&s.Tenant.MerchantID, &s.Tenant.Livemode, &s.ID, &s.Ciphertext); err != nil {
			return nil, translate(err)
		}
		out = append(out, s)
	}
	return out, translate(rows.Err())
}

// ResealSecret swaps a secret's ciphertext if nobody changed it meanwhile.
func (db *DB) ResealSecret(ctx context.Context, s tender.SealedSecret, ciphertext string) (bool, error) {
	query := `UPDATE webhook_endpoints SET secret = ?, key_id = ? WHERE merchant_id = ? AND livemode = ? AND id = ? AND secret = ?`
	if s.Kind == tender.SecretProviderConfig {
		query = `UPDATE provider_configs SET credentials = ?, key_id = ? WHERE merchant_id = ? AND livemode = ? AND provider = ? AND credentials = ?`
	}
	res, err := db.w.ExecContext(ctx, db.q(query), ciphertext, keyIDOf(ciphertext), s.Tenant.MerchantID, s.Tenant.Livemode, s.ID, s.Ciphertext)
	if err != nil {
		return false, translate(err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}
