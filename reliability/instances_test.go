package reliability_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/tenderhq/tender/internal/testproc"
)

// TestManyInstances runs three instances on one PostgreSQL. 2,000 payment
// requests carry 200 distinct Idempotency-Keys, each key sent from all
// instances at once: exactly 200 intents and 200 charges at the provider.
// Captures and refunds of the same intents race across instances and
// never double-capture or over-refund.
func TestManyInstances(t *testing.T) {
	postgresOnly(t)
	keys, perKey := 200, 10
	if testing.Short() {
		keys, perKey = 60, 6
	}
	c := newCluster(t, "postgres", nil)
	var procs []*testproc.Proc
	for range 3 {
		procs = append(procs, c.start(t, nil))
	}
	// The same request, keyed, from every instance at once.
	var wg sync.WaitGroup
	sem := make(chan struct{}, 24)
	var mu sync.Mutex
	first := map[string]string{} // key → intent id
	conflicts, other := 0, 0
	for k := range keys {
		key := fmt.Sprintf("order-%d", k)
		body := url.Values{"amount": {fmt.Sprint(1000 + k)}, "currency": {"usd"}, "payment_method": {"pm_card_visa"}, "confirm": {"true"}}
		for i := range perKey {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				p := procs[(k+i)%len(procs)]
				deadline := time.Now().Add(120 * time.Second)
				for attempt := 0; ; attempt++ {
					if time.Now().After(deadline) {
						t.Errorf("key %s never got a 200", key)
						return
					}
					status, m := call(p.URL, c.key, "POST", "/v1/payment_intents", body, key)
					mu.Lock()
					switch status {
					case 200:
						if prev, ok := first[key]; ok && prev != m["id"] {
							t.Errorf("key %s made two intents: %s and %v", key, prev, m["id"])
						}
						first[key] = m["id"].(string)
						mu.Unlock()
						return
					case 409:
						conflicts++
					default:
						other++
						t.Errorf("key %s: %d %v", key, status, m)
						mu.Unlock()
						return
					}
					mu.Unlock()
					time.Sleep(time.Duration(20+attempt*10) * time.Millisecond)
				}
			}()
		}
	}
	wg.Wait()
	count(func() { tally.payments += keys })
	db := c.db(t)
	var intents, charges int
	db.QueryRow(`SELECT COUNT(*) FROM payment_intents`).Scan(&intents)
	db.QueryRow(`SELECT COUNT(*) FROM charges`).Scan(&charges)
	perIntent := sandboxPaymentsPerIntent(t, db)
	if intents != keys || charges != keys || len(perIntent) != keys {
		t.Fatalf("%d requests with %d keys made %d intents, %d charges, %d provider payments", keys*perKey, keys, intents, charges, len(perIntent))
	}
	for pi, n := range perIntent {
		if n != 1 {
			t.Fatalf("intent %s was charged %d times at the provider", pi, n)
		}
	}
	t.Logf("%d requests, %d keys: %d intents, %d provider payments, %d conflicts (409) retried", keys*perKey, keys, intents, len(perIntent), conflicts)

	// Captures race across instances: one wins per intent.
	holds := 20
	if testing.Short() {
		holds = 8
	}
	var ids []string
	for i := range holds {
		status, m := call(procs[i%3].URL, c.key, "POST", "/v1/payment_intents", url.Values{"amount": {"1000"}, "currency": {"usd"},
			"payment_method": {"pm_card_visa"}, "confirm": {"true"}, "capture_method": {"manual"}}, "")
		if status != 200 {
			t.Fatalf("hold: %d %v", status, m)
		}
		ids = append(ids, m["id"].(string))
	}
	captured := map[string]int{}
	for _, id := range ids {
		for i := range 3 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				status, _ := call(procs[i].URL, c.key, "POST", "/v1/payment_intents/"+id+"/capture", url.Values{"amount_to_capture": {"700"}}, "")
				if status == 200 {
					mu.Lock()
					captured[id]++
					mu.Unlock()
				}
			}()
		}
	}
	wg.Wait()
	for _, id := range ids {
		if captured[id] != 1 {
			t.Fatalf("intent %s captured %d times", id, captured[id])
		}
	}
	// Refunds race across instances: never more than was captured.
	for _, id := range ids {
		for i := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				status, m := call(procs[i%3].URL, c.key, "POST", "/v1/refunds", url.Values{"payment_intent": {id}, "amount": {"100"}}, "")
				if e, _ := m["error"].(map[string]any); status != 200 && !(status == 400 && e["code"] == "amount_too_large") && !(status == 400 && e["code"] == "charge_already_refunded") {
					t.Errorf("refund of %s: %d %v", id, status, m)
				} else if status == 200 && m["status"] != "succeeded" {
					t.Errorf("refund of %s is %v", id, m["status"])
				}
			}()
		}
	}
	wg.Wait()
	rows, err := db.QueryContext(context.Background(), `SELECT value FROM provider_ledger WHERE provider = 'sandbox' AND key LIKE 'payment:%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	checked := 0
	for rows.Next() {
		var v string
		rows.Scan(&v)
		var rec struct {
			PaymentIntent  string `json:"payment_intent"`
			AmountCaptured int64  `json:"amount_captured"`
			Refunds        []struct {
				Amount int64 `json:"amount"`
			} `json:"refunds"`
		}
		json.Unmarshal([]byte(v), &rec)
		var refunded int64
		for _, r := range rec.Refunds {
			refunded += r.Amount
		}
		if refunded > rec.AmountCaptured {
			t.Fatalf("the provider refunded %d of %d captured for %s", refunded, rec.AmountCaptured, rec.PaymentIntent)
		}
		for _, id := range ids {
			if id == rec.PaymentIntent {
				checked++
				if rec.AmountCaptured != 700 || refunded != 700 {
					t.Fatalf("%s: captured %d, refunded %d; want 700 and 700", id, rec.AmountCaptured, refunded)
				}
			}
		}
	}
	if checked != holds {
		t.Fatalf("checked %d of %d holds at the provider", checked, holds)
	}
}
