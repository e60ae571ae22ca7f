package api

import (
	"context"
	"sync"
	"time"

	"github.com/tenderhq/tender"
)

// keyCache keeps recently used API keys for a short time, so that most
// requests authenticate without a database round trip. Its time to live
// bounds how long a key revoked on another instance (or by the CLI) keeps
// working here.
type keyCache struct {
	ttl     time.Duration
	max     int
	mu      sync.RWMutex
	entries map[string]keyEntry // by hash of the key
}

type keyEntry struct {
	key     *tender.APIKey
	expires time.Time
}

func newKeyCache(ttl time.Duration, max int) *keyCache {
	return &keyCache{ttl: ttl, max: max, entries: map[string]keyEntry{}}
}

// lookup returns the key with hash, from the cache while fresh, else from
// the store (and caches it). Unknown keys are not cached: a flood of made-up
// keys must not fill memory.
func (c *keyCache) lookup(ctx context.Context, store tender.MerchantStore, hash string, now time.Time) (*tender.APIKey, error) {
	if c.ttl > 0 {
		c.mu.RLock()
		e, ok := c.entries[hash]
		c.mu.RUnlock()
		if ok && now.Before(e.expires) {
			return e.key, nil
		}
	}
	k, err := store.APIKeyByHash(ctx, hash)
	if err != nil || c.ttl <= 0 {
		return k, err
	}
	c.mu.Lock()
	if len(c.entries) >= c.max {
		// Full: drop expired entries, and if that is not enough, everything.
		for h, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, h)
			}
		}
		if len(c.entries) >= c.max {
			c.entries = map[string]keyEntry{}
		}
	}
	c.entries[hash] = keyEntry{key: k, expires: now.Add(c.ttl)}
	c.mu.Unlock()
	return k, nil
}
