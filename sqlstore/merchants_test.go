package sqlstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tenderhq/tender"
	"github.com/tenderhq/tender/internal/testdb"
	"github.com/tenderhq/tender/sqlstore"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		in      string
		dialect sqlstore.Dialect
		target  string
		wantErr bool
	}{
		{"", sqlstore.SQLite, "tender.db", false},
		{"tender.db", sqlstore.SQLite, "tender.db", false},
		{"/var/lib/tender/t.db", sqlstore.SQLite, "/var/lib/tender/t.db", false},
		{"sqlite:///abs/path.db", sqlstore.SQLite, "/abs/path.db", false},
		{"sqlite:rel.db", sqlstore.SQLite, "rel.db", false},
		{"postgres://u@h/db", sqlstore.Postgres, "postgres://u@h/db", false},
		{"postgresql://u@h/db", sqlstore.Postgres, "postgresql://u@h/db", false},
		{"mysql://u:secret@h/db", "", "", true},
		{"sqlite://", "", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			d, target, err := sqlstore.ParseURL(tc.in)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("want error, got %s %s", d, target)
				}
				return
			}
			if err != nil || d != tc.dialect || target != tc.target {
				t.Fatalf("got %s %q %v, want %s %q", d, target, err, tc.dialect, tc.target)
			}
		})
	}
}

func TestMigrateIsIdempotentAndConcurrent(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make(chan error, 3)
		for range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				db, err := sqlstore.Open(ctx, url, sqlstore.Options{})
				if err != nil {
					errs <- err
					return
				}
				defer db.Close()
				_, err = db.Migrate(ctx)
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatalf("concurrent migrate: %v", err)
			}
		}
		db := testdb.Open(t, url)
		applied, err := db.Migrate(ctx)
		if err != nil || len(applied) != 0 {
			t.Fatalf("second migrate applied %v, err %v", applied, err)
		}
	})
}

func TestMerchantsAndKeys(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		db := testdb.Open(t, url)
		now := time.Now().UTC().Truncate(time.Millisecond)
		m := &tender.Merchant{ID: tender.NewID(tender.PrefixMerchant), Name: "Shop", Created: now}
		sk, skPlain := tender.NewAPIKey(m.ID, tender.SecretKey, false, nil, now)
		rk, _ := tender.NewAPIKey(m.ID, tender.RestrictedKey, true, []tender.Scope{tender.ScopePaymentsRead, tender.ScopeMerchantRead}, now)
		if err := db.CreateMerchant(ctx, m, []*tender.APIKey{sk, rk}); err != nil {
			t.Fatal(err)
		}
		got, err := db.Merchant(ctx, m.ID)
		if err != nil || got.Name != "Shop" || !got.Created.Equal(now) {
			t.Fatalf("Merchant: %+v %v", got, err)
		}
		if _, err := db.Merchant(ctx, "mer_nope"); !errors.Is(err, tender.ErrNotFound) {
			t.Fatalf("missing merchant: %v, want ErrNotFound", err)
		}
		k, err := db.APIKeyByHash(ctx, tender.HashAPIKey(skPlain))
		if err != nil || k.ID != sk.ID || k.Livemode || k.Kind != tender.SecretKey {
			t.Fatalf("APIKeyByHash: %+v %v", k, err)
		}
		keys, err := db.APIKeys(ctx, m.ID)
		if err != nil || len(keys) != 2 {
			t.Fatalf("APIKeys: %d %v", len(keys), err)
		}
		for _, k := range keys {
			if k.ID == rk.ID && (len(k.Scopes) != 2 || !k.Livemode || !k.Allows(tender.ScopeMerchantRead) || k.Allows(tender.ScopePaymentsWrite)) {
				t.Fatalf("restricted key round trip: %+v", k)
			}
		}
		// The same hash twice is a conflict.
		dup := *sk
		dup.ID = tender.NewID(tender.PrefixAPIKey)
		if err := db.CreateAPIKey(ctx, &dup); !errors.Is(err, tender.ErrConflict) {
			t.Fatalf("duplicate hash: %v, want ErrConflict", err)
		}
		// A key for a merchant that does not exist.
		orphan, _ := tender.NewAPIKey("mer_missing", tender.SecretKey, false, nil, now)
		if err := db.CreateAPIKey(ctx, orphan); err == nil {
			t.Fatal("key for missing merchant was stored")
		}
		if err := db.TouchAPIKey(ctx, sk.ID, now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		r1, err := db.RevokeAPIKey(ctx, sk.ID, now.Add(2*time.Minute))
		if err != nil || !r1.Revoked() || r1.LastUsedAt == nil || !r1.LastUsedAt.Equal(now.Add(time.Minute)) {
			t.Fatalf("revoke: %+v %v", r1, err)
		}
		r2, err := db.RevokeAPIKey(ctx, sk.ID, now.Add(time.Hour))
		if err != nil || !r2.RevokedAt.Equal(*r1.RevokedAt) {
			t.Fatalf("second revoke moved the time: %v %v", r2.RevokedAt, err)
		}
		if _, err := db.RevokeAPIKey(ctx, "key_nope", now); !errors.Is(err, tender.ErrNotFound) {
			t.Fatalf("revoke missing: %v", err)
		}
		ms, err := db.Merchants(ctx)
		if err != nil || len(ms) != 1 {
			t.Fatalf("Merchants: %v %v", ms, err)
		}
	})
}
