package tender

import (
	"context"
	"time"
)

// MerchantStore keeps merchants and their API keys. Keys are looked up by
// hash during authentication, before a tenant is known; every other call
// names the merchant.
type MerchantStore interface {
	// CreateMerchant stores a merchant together with its first keys, atomically.
	CreateMerchant(ctx context.Context, m *Merchant, keys []*APIKey) error
	Merchant(ctx context.Context, id string) (*Merchant, error)
	Merchants(ctx context.Context) ([]*Merchant, error)
	UpdateMerchant(ctx context.Context, m *Merchant) error

	CreateAPIKey(ctx context.Context, k *APIKey) error
	// APIKeyByHash finds a key by the hash of its plaintext (ErrNotFound if none).
	APIKeyByHash(ctx context.Context, hash string) (*APIKey, error)
	APIKeys(ctx context.Context, merchantID string) ([]*APIKey, error)
	// RevokeAPIKey marks a key revoked (idempotent) and returns it.
	RevokeAPIKey(ctx context.Context, id string, at time.Time) (*APIKey, error)
	// TouchAPIKey records that a key was used at a time.
	TouchAPIKey(ctx context.Context, id string, at time.Time) error
}

// Store is everything Tender keeps. sqlstore implements it on SQLite and
// PostgreSQL.
type Store interface {
	MerchantStore
	// Ping checks that the database answers (readiness).
	Ping(ctx context.Context) error
	// Kind names the database ("sqlite" or "postgres") for logs.
	Kind() string
	Close() error
}
