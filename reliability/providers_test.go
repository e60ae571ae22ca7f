package reliability_test

import (
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/tenderhq/tender/internal/stripefake"
	"github.com/tenderhq/tender/internal/testdb"
)

// TestFaultyProvider makes Stripe (the stateful fake) time out, reset the
// connection, answer 500, 429 or garbage, or process a request and lose
// the answer, one fault per payment. Every intent ends succeeded, or back
// in requires_payment_method with an error that says why; none is charged
// twice at Stripe.
func TestFaultyProvider(t *testing.T) {
	faults := []stripefake.Fault{stripefake.Fault500, stripefake.FaultHang, stripefake.FaultReset, stripefake.FaultGarbage,
		stripefake.Fault429, stripefake.FaultDrop}
	for _, kind := range testdb.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			fake := stripefake.New()
			defer fake.Close()
			fake.AddAccount("acct", "sk_test_reliab1lityKey0000000000000000", "pk_test_reliab1lityKey0000000000000000")
			secret("sk_test_reliab1lityKey0000000000000000")
			c := newCluster(t, kind, map[string]string{"TENDER_STRIPE_API_URL": fake.URL, "TENDER_PROVIDER_TIMEOUT": "2s",
				"TENDER_RECOVER_AFTER": "3s", "TENDER_RECOVERY_INTERVAL": "200ms"})
			p := c.start(t, nil)
			if status, m := call(p.URL, c.key, "PUT", "/v1/provider_configs/stripe", url.Values{
				"credentials[publishable_key]": {"pk_test_reliab1lityKey0000000000000000"},
				"credentials[secret_key]":      {"sk_test_reliab1lityKey0000000000000000"}}, ""); status != 200 {
				t.Fatalf("configure Stripe: %d %v", status, m)
			}
			rounds := 3
			if testing.Short() {
				rounds = 1
			}
			var ids []string
			for i := range rounds * len(faults) {
				fault := faults[i%len(faults)]
				fake.FailNext(fault, 1+i%2)
				status, m := call(p.URL, c.key, "POST", "/v1/payment_intents", url.Values{"amount": {fmt.Sprint(2000 + i)}, "currency": {"usd"},
					"payment_method": {"pm_card_visa"}, "confirm": {"true"}, "provider": {"stripe"}}, fmt.Sprintf("fault-%d", i))
				count(func() { tally.faults++; tally.payments++ })
				switch {
				case status == 200:
					ids = append(ids, m["id"].(string))
				case status == 402 || status >= 500:
					e, _ := m["error"].(map[string]any)
					if pi, ok := e["payment_intent"].(map[string]any); ok {
						ids = append(ids, pi["id"].(string))
					} else if status < 500 {
						t.Fatalf("%s: %d without the intent: %v", fault, status, m)
					}
				default:
					t.Fatalf("%s: %d %v", fault, status, m)
				}
			}
			fake.FailNext("", 0)
			db := c.db(t)
			waitSettled(t, db)
			deadline := time.Now().Add(30 * time.Second)
			for _, id := range ids {
				for {
					_, pi := call(p.URL, c.key, "GET", "/v1/payment_intents/"+id, nil, "")
					st := pi["status"]
					if st == "succeeded" {
						break
					}
					if st == "requires_payment_method" {
						lpe, _ := pi["last_payment_error"].(map[string]any)
						if msg, _ := lpe["message"].(string); msg == "" {
							t.Fatalf("%s failed without saying why: %v", id, pi)
						}
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("%s still %v", id, st)
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
			// Stripe's side: at most one successful PaymentIntent per Tender intent.
			charged := map[string]int{}
			for _, spi := range fake.PaymentIntents("acct") {
				if spi.Status == "succeeded" || spi.Status == "requires_capture" {
					charged[spi.Metadata["tender_payment_intent"]]++
				}
			}
			for id, n := range charged {
				if n > 1 {
					t.Fatalf("Tender intent %s was charged %d times at Stripe", id, n)
				}
			}
			t.Logf("%s: %d payments under faults: %d charged once at Stripe", kind, len(ids), len(charged))
		})
	}
}
