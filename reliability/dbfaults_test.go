package reliability_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tenderhq/tender/internal/testdb"
)

// TestDatabaseFaults kills the server's PostgreSQL connections again and
// again under load (pg_terminate_backend). Requests fail with a 5xx
// api_error while a connection is cut, nothing is half written, and the
// service resumes by itself.
func TestDatabaseFaults(t *testing.T) {
	postgresOnly(t)
	c := newCluster(t, "postgres", map[string]string{"TENDER_RECOVER_AFTER": "1s", "TENDER_RECOVERY_INTERVAL": "200ms"})
	app := fmt.Sprintf("tender_faults_%d", time.Now().UnixNano())
	u, _ := url.Parse(c.dbURL)
	q := u.Query()
	q.Set("application_name", app)
	u.RawQuery = q.Encode()
	p := c.start(t, map[string]string{"TENDER_DATABASE_URL": u.String()})

	admin, err := sql.Open("pgx", os.Getenv(testdb.EnvPostgres))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	stop := make(chan struct{})
	var kills atomic.Int64
	var killer sync.WaitGroup
	killer.Add(1)
	go func() {
		defer killer.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(150 * time.Millisecond):
			}
			var n int
			admin.QueryRowContext(context.Background(), `SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&n)
			kills.Add(int64(n))
		}
	}()

	payments := 200
	if testing.Short() {
		payments = 80
	}
	statuses := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	keys := make(chan int, payments)
	for i := range payments {
		keys <- i
	}
	close(keys)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range keys {
				body := url.Values{"amount": {fmt.Sprint(100 + k)}, "currency": {"usd"}, "payment_method": {"pm_card_visa"}, "confirm": {"true"}}
				deadline := time.Now().Add(90 * time.Second)
				for {
					status, m := call(p.URL, c.key, "POST", "/v1/payment_intents", body, fmt.Sprintf("db-%d", k))
					mu.Lock()
					statuses[status]++
					mu.Unlock()
					if status == 200 || failedSafely(status, m) {
						break
					}
					if status >= 500 {
						if e, _ := m["error"].(map[string]any); e["type"] != "api_error" {
							t.Errorf("a %d that is not an api_error: %v", status, m)
						}
					} else if status != 409 {
						t.Errorf("status %d during database faults: %v", status, m)
						break
					}
					if time.Now().After(deadline) {
						t.Errorf("key %d never succeeded", k)
						break
					}
					time.Sleep(30 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	killer.Wait()
	count(func() {
		tally.faults += int(kills.Load())
		tally.payments += payments
	})
	// The service resumes by itself: connections cut by the last round of
	// kills may still sit idle in the pool, and each fails the one request
	// that finds it (a 503 api_error) before the pool drops it; within
	// seconds requests succeed again, with no restart.
	for ok, deadline := 0, time.Now().Add(10*time.Second); ok < 5; {
		status, m := call(p.URL, c.key, "POST", "/v1/payment_intents", url.Values{"amount": {"1"}, "currency": {"usd"}}, "")
		if status == 200 {
			ok++
			continue
		}
		ok = 0
		if e, _ := m["error"].(map[string]any); status != 503 || e["type"] != "api_error" || time.Now().After(deadline) {
			t.Fatalf("after the faults: %d %v", status, m)
		}
		time.Sleep(50 * time.Millisecond)
	}
	db := c.db(t)
	waitSettled(t, db)
	// Nothing is half written: each intent's status agrees with its charges
	// and its events, and the provider charged each at most once.
	var bad int
	db.QueryRow(`SELECT COUNT(*) FROM payment_intents pi WHERE pi.status = 'succeeded' AND
		(SELECT COUNT(*) FROM charges ch WHERE ch.payment_intent = pi.id AND ch.status = 'succeeded') <> 1`).Scan(&bad)
	if bad != 0 {
		t.Fatalf("%d succeeded intents without exactly one succeeded charge", bad)
	}
	db.QueryRow(`SELECT COUNT(*) FROM payment_intents pi WHERE pi.status = 'succeeded' AND
		(SELECT COUNT(*) FROM events e WHERE e.object_id = pi.id AND e.type = 'payment_intent.succeeded') <> 1`).Scan(&bad)
	if bad != 0 {
		t.Fatalf("%d succeeded intents without exactly one payment_intent.succeeded event", bad)
	}
	db.QueryRow(`SELECT COUNT(*) FROM payment_intents WHERE status NOT IN ('succeeded', 'requires_payment_method')`).Scan(&bad)
	if bad != 0 {
		t.Fatalf("%d intents are not final", bad)
	}
	for pi, n := range sandboxPaymentsPerIntent(t, db) {
		if n > 1 {
			t.Fatalf("intent %s charged %d times", pi, n)
		}
	}
	t.Logf("%d payments under %d killed connections; answers %v", payments, kills.Load(), statuses)
	if kills.Load() == 0 {
		t.Fatal("no connection was killed: the test did not test anything")
	}
}
