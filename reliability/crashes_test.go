package reliability_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	stripewebhook "github.com/stripe/stripe-go/v85/webhook"

	"github.com/tenderhq/tender/internal/testdb"
	"github.com/tenderhq/tender/internal/testproc"
	"github.com/tenderhq/tender/vault"
)

// TestCrashesUnderLoad SIGKILLs the server during a payment load: once
// exactly between the provider's charge and Tender's commit, then at
// random moments. After restarts, every intent is final, the provider saw
// at most one charge per intent, and every event reached the merchant's
// webhook endpoint at least once.
func TestCrashesUnderLoad(t *testing.T) {
	for _, kind := range testdb.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			payments := 300
			if testing.Short() {
				payments = 120
			}
			c := newCluster(t, kind, map[string]string{
				"TENDER_RECOVER_AFTER": "1s", "TENDER_RECOVERY_INTERVAL": "200ms",
				"TENDER_WEBHOOK_BACKOFF": "200ms,400ms,800ms,1s,1s,1s,1s,1s", "TENDER_WEBHOOK_TIMEOUT": "2s",
			})
			rcv := newSink(t)
			var current atomic.Pointer[testproc.Proc]
			current.Store(c.start(t, map[string]string{"TENDER_FAULT": "after-authorize"}))
			if status, m := call(current.Load().URL, c.key, "POST", "/v1/webhook_endpoints", url.Values{"url": {rcv.srv.URL}, "enabled_events[]": {"*"}}, ""); status != 200 {
				t.Fatalf("endpoint: %d %v", status, m)
			}
			// The load: each key until it gets a 200.
			keys := make(chan int, payments)
			for i := range payments {
				keys <- i
			}
			close(keys)
			var wg sync.WaitGroup
			var done atomic.Int64
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for k := range keys {
						body := url.Values{"amount": {fmt.Sprint(500 + k)}, "currency": {"usd"}, "payment_method": {"pm_card_visa"}, "confirm": {"true"}}
						deadline := time.Now().Add(120 * time.Second)
						for {
							status, m := call(current.Load().URL, c.key, "POST", "/v1/payment_intents", body, fmt.Sprintf("crash-%d", k))
							if status == 200 || failedSafely(status, m) {
								done.Add(1)
								break
							}
							if time.Now().After(deadline) {
								t.Errorf("key crash-%d never succeeded; last answer %d %v", k, status, m)
								break
							}
							time.Sleep(50 * time.Millisecond) // dead process, 409 while recovering, 5xx: retry
						}
					}
				}()
			}
			// Crash 1: exactly after the provider charged.
			current.Load().WaitLog(t, "fault injected", 30*time.Second)
			current.Load().Kill()
			crashes := 1
			current.Store(c.start(t, nil))
			// Then at random moments while the load runs.
			for range 3 {
				time.Sleep(time.Duration(150+rand.IntN(500)) * time.Millisecond)
				if done.Load() >= int64(payments) {
					break
				}
				current.Load().Kill()
				crashes++
				current.Store(c.start(t, nil))
			}
			wg.Wait()
			count(func() {
				tally.crashes += crashes
				tally.faults += crashes
				tally.payments += payments
			})
			db := c.db(t)
			waitSettled(t, db)
			var intents, unsettled int
			db.QueryRow(`SELECT COUNT(*) FROM payment_intents`).Scan(&intents)
			db.QueryRow(`SELECT COUNT(*) FROM payment_intents WHERE status NOT IN ('succeeded', 'requires_payment_method')`).Scan(&unsettled)
			if intents != payments || unsettled != 0 {
				t.Fatalf("%d intents for %d keys, %d not final", intents, payments, unsettled)
			}
			for pi, n := range sandboxPaymentsPerIntent(t, db) {
				if n > 1 {
					t.Fatalf("intent %s was charged %d times at the provider", pi, n)
				}
			}
			ids := eventIDs(t, db)
			missing, dups := rcv.waitAll(ids, 60*time.Second)
			count(func() {
				tally.delivered += len(ids) - len(missing)
				tally.duplicates += dups
				tally.lost += len(missing)
			})
			if len(missing) > 0 {
				t.Fatalf("%d of %d events never reached the endpoint (e.g. %s)", len(missing), len(ids), missing[0])
			}
			t.Logf("%s: %d payments, %d crashes, %d events delivered, %d duplicates", kind, payments, crashes, len(ids), dups)
		})
	}
}

// waitSettled waits until recovery has settled every attempt in flight.
func waitSettled(t *testing.T, db *sql.DB) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		var n int
		db.QueryRow(`SELECT COUNT(*) FROM charges WHERE attempt IN ('authorizing', 'capturing', 'canceling')`).Scan(&n)
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d attempts still in flight", n)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func eventIDs(t *testing.T, db *sql.DB) []string {
	rows, err := db.QueryContext(context.Background(), `SELECT id FROM events`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		rows.Scan(&id)
		ids = append(ids, id)
	}
	return ids
}

// TestCrashDuringKeyRotation kills `tender keys rotate-master` part way and
// runs it again: every secret ends under the new key, and every endpoint
// still signs its deliveries with the secret it was given.
func TestCrashDuringKeyRotation(t *testing.T) {
	for _, kind := range testdb.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			c := newCluster(t, kind, map[string]string{"TENDER_WEBHOOK_BACKOFF": "200ms", "TENDER_WEBHOOK_TIMEOUT": "2s"})
			var mu sync.Mutex
			got := map[string][2]string{} // path → body, signature
			rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				b, _ := io.ReadAll(r.Body)
				mu.Lock()
				got[r.URL.Path] = [2]string{string(b), r.Header.Get("Payments-Signature")}
				mu.Unlock()
			}))
			defer rcv.Close()
			p := c.start(t, nil)
			endpoints := 150
			if testing.Short() {
				endpoints = 60
			}
			secrets := map[string]string{}
			for i := range endpoints {
				path := fmt.Sprintf("/hook/%d", i)
				status, m := call(p.URL, c.key, "POST", "/v1/webhook_endpoints", url.Values{"url": {rcv.URL + path}, "enabled_events[]": {"customer.created"}}, "")
				if status != 200 {
					t.Fatalf("endpoint: %d %v", status, m)
				}
				secrets[path] = m["secret"].(string)
				secret(secrets[path])
			}
			p.Kill()
			newKey := vault.EncodeKey(vault.NewKey())
			secret(newKey)
			file := filepath.Join(t.TempDir(), "new.key")
			os.WriteFile(file, []byte(newKey), 0o600)
			// Start the rotation and kill it almost at once.
			killed := false
			for try := 0; try < 5 && !killed; try++ {
				r := testproc.Command(t, c.env, "keys", "rotate-master", "--new-key-file", file)
				time.Sleep(time.Duration(5+rand.IntN(30)) * time.Millisecond)
				killed = r.Kill()
			}
			if killed {
				count(func() { tally.crashes++; tally.faults++ })
			}
			out, err := testproc.Run(t, c.env, "keys", "rotate-master", "--new-key-file", file)
			if err != nil || !strings.Contains(string(out), "Re-encrypted") {
				t.Fatalf("rotation after the crash: %v\n%s", err, out)
			}
			// With only the new key, every endpoint signs with its own secret.
			p2 := c.start(t, map[string]string{"TENDER_MASTER_KEY": newKey})
			if status, m := call(p2.URL, c.key, "POST", "/v1/customers", url.Values{"email": {"r@example.com"}}, ""); status != 200 {
				t.Fatalf("customer: %d %v", status, m)
			}
			deadline := time.Now().Add(30 * time.Second)
			for {
				mu.Lock()
				n := len(got)
				mu.Unlock()
				if n == endpoints {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("%d of %d endpoints got the event; logs:\n%s", n, endpoints, p2.Logs())
				}
				time.Sleep(50 * time.Millisecond)
			}
			mu.Lock()
			defer mu.Unlock()
			for path, secret := range secrets {
				if err := stripewebhook.ValidatePayload([]byte(got[path][0]), got[path][1], secret); err != nil {
					t.Fatalf("%s: signature after rotation: %v", path, err)
				}
			}
			count(func() { tally.delivered += endpoints })
		})
	}
}

func mustKey(t *testing.T, s string) []byte {
	k, err := vault.ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
