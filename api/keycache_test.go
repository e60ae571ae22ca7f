package api

import (
	"context"
	"testing"
	"time"

	"github.com/tenderhq/tender"
)

// countingStore answers key lookups and counts them.
type countingStore struct {
	tender.MerchantStore
	key     *tender.APIKey
	lookups int
}

func (s *countingStore) APIKeyByHash(context.Context, string) (*tender.APIKey, error) {
	s.lookups++
	k := *s.key
	return &k, nil
}

func TestKeyCache(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	k, _ := tender.NewAPIKey("mer_1", tender.SecretKey, false, nil, now)
	st := &countingStore{key: k}
	c := newKeyCache(10*time.Second, 2)
	for range 5 {
		if _, err := c.lookup(context.Background(), st, "h1", now); err != nil {
			t.Fatal(err)
		}
	}
	if st.lookups != 1 {
		t.Fatalf("5 requests made %d database lookups, want 1", st.lookups)
	}
	// A revocation elsewhere is seen once the entry expires.
	revoked := now
	st.key.RevokedAt = &revoked
	got, _ := c.lookup(context.Background(), st, "h1", now.Add(9*time.Second))
	if got.Revoked() {
		t.Fatal("the cache was not used within its time to live")
	}
	got, _ = c.lookup(context.Background(), st, "h1", now.Add(11*time.Second))
	if !got.Revoked() {
		t.Fatal("a revoked key still works after the time to live")
	}
	// Bounded: a third key evicts.
	c.lookup(context.Background(), st, "h2", now.Add(11*time.Second))
	c.lookup(context.Background(), st, "h3", now.Add(11*time.Second))
	if len(c.entries) > 2 {
		t.Fatalf("cache holds %d entries, bound 2", len(c.entries))
	}
	// Disabled.
	off := newKeyCache(-1, 10)
	st.lookups = 0
	off.lookup(context.Background(), st, "h1", now)
	off.lookup(context.Background(), st, "h1", now)
	if st.lookups != 2 {
		t.Fatalf("disabled cache: %d lookups", st.lookups)
	}
}
