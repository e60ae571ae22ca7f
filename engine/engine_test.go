package engine_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tenderhq/tender"
	"github.com/tenderhq/tender/engine"
	"github.com/tenderhq/tender/internal/testdb"
	"github.com/tenderhq/tender/provider/sandbox"
	"github.com/tenderhq/tender/sqlstore"
	"github.com/tenderhq/tender/vault"
)

// newEngine wires an engine with the sandbox on a fresh database, and a merchant.
func newEngine(t *testing.T, url string) (*engine.Engine, *sqlstore.DB, tender.Tenant) {
	t.Helper()
	db := testdb.Open(t, url)
	keys, err := vault.New(vault.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	reg := tender.NewRegistry()
	e := engine.New(engine.Config{Store: db, Providers: reg, Keyring: keys})
	reg.Register(sandbox.New(db, sandbox.Options{BaseURL: "http://127.0.0.1"}))
	m := &tender.Merchant{ID: tender.NewID(tender.PrefixMerchant), Name: "M", Created: time.Now()}
	if err := db.CreateMerchant(context.Background(), m, nil); err != nil {
		t.Fatal(err)
	}
	return e, db, tender.Tenant{MerchantID: m.ID}
}

// A retry of an idempotent request whose work was done but whose answer
// was never recorded (the database failed after the outcome committed)
// answers as the work ended: no second attempt, no "unexpected state".
func TestResumeAfterOutcomeCommitted(t *testing.T) {
	testdb.Each(t, func(t *testing.T, url string) {
		ctx := context.Background()
		e, db, tn := newEngine(t, url)
		usd := tender.MustCurrency("usd")
		tests := []struct {
			name     string
			pm       string
			status   tender.PaymentIntentStatus
			declined bool
		}{
			{"succeeded", "pm_card_visa", tender.StatusSucceeded, false},
			{"declined", "pm_card_chargeDeclined", tender.StatusRequiresPaymentMethod, true},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				rec := tender.NewID("idr")
				c := engine.Caller{Tenant: tn, IdempotencyKey: "k-" + tc.name, IdempotencyRecord: rec}
				// Bind the record as the idempotency layer would.
				if _, err := db.BeginIdempotent(ctx, &tender.IdempotencyRecord{ID: rec, Tenant: tn, Key: c.IdempotencyKey, RequestHash: "h",
					Status: tender.IdempotencyInFlight, LockedAt: time.Now(), Created: time.Now()}); err != nil {
					t.Fatal(err)
				}
				params := engine.CreateIntentParams{Amount: 1000, Currency: usd, PaymentMethod: tc.pm, Confirm: true}
				first, err := e.CreatePaymentIntent(ctx, c, params)
				if tc.declined != (err != nil) {
					t.Fatalf("first: %v", err)
				}
				if first == nil {
					var te *tender.Error
					errors.As(err, &te)
					first = te.PaymentIntent
				}
				c.Resuming, c.Resume = true, first.ID
				again, err := e.CreatePaymentIntent(ctx, c, params)
				if tc.declined {
					te, ok := tender.AsError(err)
					if !ok || te.Type != tender.CardError || te.Code != tender.CodeCardDeclined {
						t.Fatalf("resumed decline answered %v", err)
					}
					again = te.PaymentIntent
				} else if err != nil {
					t.Fatalf("resumed: %v", err)
				}
				if again.ID != first.ID || again.Status != tc.status {
					t.Fatalf("resumed: %s %s, want %s %s", again.ID, again.Status, first.ID, tc.status)
				}
				charges, _ := db.ListCharges(ctx, tender.ListQuery{Tenant: tn, PaymentIntent: first.ID, Limit: 10})
				if len(charges.Data) != 1 {
					t.Fatalf("%d charges after the retry, want 1", len(charges.Data))
				}
			})
		}
	})
}
