package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	stripewebhook "github.com/stripe/stripe-go/v85/webhook"

	"github.com/tenderhq/tender/internal/testdb"
	"github.com/tenderhq/tender/internal/testserver"
)

// receiver is a merchant's webhook endpoint on loopback. behave decides
// each answer from the attempt number (1-based) of that event.
type receiver struct {
	srv      *httptest.Server
	mu       sync.Mutex
	bodies   map[string][][]byte // event id → bodies received
	headers  map[string][]http.Header
	total    int
	behave   func(eventID string, attempt int) (status int, hang time.Duration)
	received chan string
}

func newReceiver(t *testing.T, behave func(string, int) (int, time.Duration)) *receiver {
	r := &receiver{bodies: map[string][][]byte{}, headers: map[string][]http.Header{}, behave: behave, received: make(chan string, 10000)}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		var ev struct{ ID string }
		json.Unmarshal(body, &ev)
		r.mu.Lock()
		r.bodies[ev.ID] = append(r.bodies[ev.ID], body)
		r.headers[ev.ID] = append(r.headers[ev.ID], req.Header.Clone())
		r.total++
		attempt := len(r.bodies[ev.ID])
		r.mu.Unlock()
		status, hang := 200, time.Duration(0)
		if r.behave != nil {
			status, hang = r.behave(ev.ID, attempt)
		}
		if hang > 0 {
			select {
			case <-time.After(hang):
			case <-req.Context().Done():
			}
		}
		w.WriteHeader(status)
		if status/100 == 2 {
			r.received <- ev.ID
		}
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) got(id string) ([][]byte, []http.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.bodies[id]...), append([]http.Header(nil), r.headers[id]...)
}

func (c *client) endpoint(u string, events ...string) (id, secret string) {
	c.t.Helper()
	f := form("url", u)
	for _, e := range events {
		f.Add("enabled_events[]", e)
	}
	ep := c.ok(c.post("/v1/webhook_endpoints", f))
	return ep["id"].(string), ep["secret"].(string)
}

var fastWebhooks = map[string]string{"TENDER_WEBHOOK_BACKOFF": "100ms,100ms,100ms", "TENDER_WEBHOOK_TIMEOUT": "1s"}

func TestWebhookDeliveryAndSignatures(t *testing.T) {
	eachDB(t, testserver.Options{Env: fastWebhooks}, func(t *testing.T, s *testserver.Server) {
		c := newClient(t, s, s.Merchant.TestSecretKey)
		all := newReceiver(t, nil)
		someEvents := newReceiver(t, nil)
		allID, secret := c.endpoint(all.srv.URL+"/hooks", "*")
		c.endpoint(someEvents.srv.URL+"/hooks", "charge.refunded")
		if !strings.HasPrefix(secret, "whsec_") {
			t.Fatalf("secret %q", secret)
		}
		got := c.ok(c.get("/v1/webhook_endpoints/" + allID))
		if got["secret"] != nil || got["status"] != "enabled" || got["object"] != "webhook_endpoint" {
			t.Fatalf("endpoint %v", got)
		}
		pi := c.ok(c.payment(1500, "pm_card_visa"))
		types, evs := c.events()
		for range types {
			select {
			case <-all.received:
			case <-time.After(20 * time.Second):
				t.Fatalf("not every event arrived")
			}
		}
		for _, ev := range evs {
			bodies, headers := all.got(ev["id"].(string))
			if len(bodies) != 1 {
				t.Fatalf("event %s arrived %d times", ev["id"], len(bodies))
			}
			h := headers[0]
			if h.Get("Content-Type") != "application/json" || !strings.HasPrefix(h.Get("User-Agent"), "Tender/") {
				t.Fatalf("headers %v", h)
			}
			// Stripe's own library verifies Payments-Signature.
			sev, err := stripewebhook.ConstructEventWithOptions(bodies[0], h.Get("Payments-Signature"), secret,
				stripewebhook.ConstructEventOptions{IgnoreAPIVersionMismatch: true})
			if err != nil || sev.ID != ev["id"] || string(sev.Type) != ev["type"] {
				t.Fatalf("stripe-go verification: %v (%s)", err, bodies[0])
			}
			// And a Standard Webhooks verifier verifies its headers.
			wh, err := standardwebhooks.NewWebhook(secret)
			if err != nil {
				t.Fatal(err)
			}
			if err := wh.Verify(bodies[0], h); err != nil {
				t.Fatalf("standard webhooks verification: %v", err)
			}
			// A tampered body or a wrong secret fails both.
			tampered := []byte(strings.Replace(string(bodies[0]), `"livemode":false`, `"livemode":true`, 1))
			if _, err := stripewebhook.ConstructEventWithOptions(tampered, h.Get("Payments-Signature"), secret, stripewebhook.ConstructEventOptions{IgnoreAPIVersionMismatch: true}); err == nil {
				t.Fatal("tampered body verified")
			}
			if _, err := stripewebhook.ConstructEventWithOptions(bodies[0], h.Get("Payments-Signature"), "whsec_wrong", stripewebhook.ConstructEventOptions{IgnoreAPIVersionMismatch: true}); err == nil {
				t.Fatal("wrong secret verified")
			}
			if wh.Verify(tampered, h) == nil {
				t.Fatal("tampered body verified (standard webhooks)")
			}
		}
		// The endpoint subscribed to charge.refunded got nothing yet, then the refund.
		if someEvents.total != 0 {
			t.Fatalf("unsubscribed endpoint received %d events", someEvents.total)
		}
		c.ok(c.post("/v1/refunds", form("payment_intent", pi["id"].(string))))
		select {
		case id := <-someEvents.received:
			ev := c.ok(c.get("/v1/events/" + id))
			if ev["type"] != "charge.refunded" {
				t.Fatalf("subscribed endpoint got %v", ev["type"])
			}
		case <-time.After(20 * time.Second):
			t.Fatal("charge.refunded never arrived")
		}
		deliveries := c.ok(c.get("/v1/webhook_endpoints/" + allID + "/deliveries?limit=100"))["data"].([]any)
		if len(deliveries) < 3 {
			t.Fatalf("deliveries %v", deliveries)
		}
		waitFor(t, 10*time.Second, "deliveries recorded", func() bool {
			for _, d := range c.ok(c.get("/v1/webhook_endpoints/" + allID + "/deliveries?limit=100"))["data"].([]any) {
				if d.(map[string]any)["status"] != "succeeded" {
					return false
				}
			}
			return true
		})
		// Another merchant cannot see the endpoint.
		o := newClient(t, s, s.NewMerchant(t, "Other").TestSecretKey)
		if r := o.get("/v1/webhook_endpoints/" + allID); r.Status != 404 {
			t.Fatalf("other merchant: %d", r.Status)
		}
	})
}

func TestWebhookRetries(t *testing.T) {
	eachDB(t, testserver.Options{Env: fastWebhooks}, func(t *testing.T, s *testserver.Server) {
		c := newClient(t, s, s.Merchant.TestSecretKey)
		// 500, 500, a timeout, then 200.
		flaky := newReceiver(t, func(_ string, attempt int) (int, time.Duration) {
			switch attempt {
			case 1, 2:
				return 500, 0
			case 3:
				return 200, 3 * time.Second
			}
			return 200, 0
		})
		epID, _ := c.endpoint(flaky.srv.URL, "payment_intent.created")
		c.ok(c.post("/v1/payment_intents", form("amount", "100", "currency", "usd")))
		_, evs := c.events()
		id := evs[0]["id"].(string)
		select {
		case <-flaky.received:
		case <-time.After(30 * time.Second):
			t.Fatal("never delivered")
		}
		var bodies [][]byte
		waitFor(t, 10*time.Second, "the fourth attempt", func() bool {
			bodies, _ = flaky.got(id)
			return len(bodies) >= 4
		})
		for i, b := range bodies {
			if string(b) != string(bodies[0]) {
				t.Fatalf("attempt %d sent other bytes:\n%s\n%s", i+1, bodies[0], b)
			}
		}
		var d map[string]any
		waitFor(t, 10*time.Second, "the delivery to be recorded", func() bool {
			d = c.ok(c.get("/v1/webhook_endpoints/" + epID + "/deliveries"))["data"].([]any)[0].(map[string]any)
			return d["status"] == "succeeded"
		})
		if num(d["attempts"]) != 4 || num(d["last_response_status"]) != 200 {
			t.Fatalf("delivery %v", d)
		}

		// A receiver down for the whole schedule: the delivery fails; redeliver completes it.
		var up sync.Mutex
		down := true
		dead := newReceiver(t, func(string, int) (int, time.Duration) {
			up.Lock()
			defer up.Unlock()
			if down {
				return 503, 0
			}
			return 200, 0
		})
		deadID, _ := c.endpoint(dead.srv.URL, "customer.created")
		c.ok(c.post("/v1/customers", form("email", "d@example.com")))
		_, evs = c.events()
		evID := evs[len(evs)-1]["id"].(string)
		waitFor(t, 20*time.Second, "the delivery to fail", func() bool {
			list := c.ok(c.get("/v1/webhook_endpoints/" + deadID + "/deliveries"))["data"].([]any)
			return len(list) == 1 && list[0].(map[string]any)["status"] == "failed"
		})
		if b, _ := dead.got(evID); len(b) != 4 {
			t.Fatalf("%d attempts, want 4 (1 + 3 retries)", len(b))
		}
		if ev := c.ok(c.get("/v1/events/" + evID)); num(ev["pending_webhooks"]) != 0 {
			t.Fatalf("pending_webhooks after failure %v", ev["pending_webhooks"])
		}
		up.Lock()
		down = false
		up.Unlock()
		r := c.ok(c.post("/v1/events/"+evID+"/redeliver", form("webhook_endpoint", deadID)))
		if num(r["deliveries_scheduled"]) != 1 {
			t.Fatalf("redeliver %v", r)
		}
		select {
		case got := <-dead.received:
			if got != evID {
				t.Fatalf("redelivered %s", got)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("redelivery never arrived")
		}
		if r := c.post("/v1/events/evt_nope/redeliver", nil); r.Status != 404 {
			t.Fatalf("redeliver unknown event: %d", r.Status)
		}
	})
}

func TestWebhookEndpointValidation(t *testing.T) {
	eachDB(t, testserver.Options{Env: map[string]string{"TENDER_WEBHOOK_ALLOW_PRIVATE": "false"}}, func(t *testing.T, s *testserver.Server) {
		c := newClient(t, s, s.Merchant.TestSecretKey)
		live := newClient(t, s, s.Merchant.LiveSecretKey)
		tests := []struct {
			c     *client
			f     url.Values
			param string
		}{
			{c, form("url", "http://127.0.0.1:8080/hook", "enabled_events[]", "*"), "url"},
			{c, form("url", "http://localhost/hook", "enabled_events[]", "*"), "url"},
			{c, form("url", "http://10.1.2.3/hook", "enabled_events[]", "*"), "url"},
			{c, form("url", "http://192.168.0.1/hook", "enabled_events[]", "*"), "url"},
			{c, form("url", "http://169.254.169.254/latest/meta-data", "enabled_events[]", "*"), "url"},
			{c, form("url", "http://[::1]/hook", "enabled_events[]", "*"), "url"},
			{c, form("url", "ftp://example.com/hook", "enabled_events[]", "*"), "url"},
			{c, form("url", "https://user:pass@example.com/hook", "enabled_events[]", "*"), "url"},
			{c, form("url", "not a url", "enabled_events[]", "*"), "url"},
			{c, form("enabled_events[]", "*"), "url"},
			{c, form("url", "https://203.0.113.7/hook"), "enabled_events"},
			{c, form("url", "https://203.0.113.7/hook", "enabled_events[]", "payment.exploded"), "enabled_events[0]"},
			{live, form("url", "http://203.0.113.7/hook", "enabled_events[]", "*"), "url"},
		}
		for _, tc := range tests {
			r := tc.c.post("/v1/webhook_endpoints", tc.f)
			if r.Status != 400 || r.Error(t)["param"] != tc.param {
				t.Fatalf("%v: %d %s", tc.f, r.Status, r.Body)
			}
		}
		// A public address is fine (documentation range; never contacted here).
		ep := c.ok(c.post("/v1/webhook_endpoints", form("url", "https://203.0.113.7/hook", "enabled_events[]", "*")))
		if r := c.post("/v1/webhook_endpoints/"+ep["id"].(string), form("url", "http://127.0.0.1/x")); r.Status != 400 {
			t.Fatalf("update to a private URL: %d", r.Status)
		}
		upd := c.ok(c.post("/v1/webhook_endpoints/"+ep["id"].(string), form("disabled", "true", "description", "paused")))
		if upd["status"] != "disabled" || upd["description"] != "paused" {
			t.Fatalf("update %v", upd)
		}
		if n := len(c.ok(c.get("/v1/webhook_endpoints"))["data"].([]any)); n != 1 {
			t.Fatalf("list %d", n)
		}
		del := c.ok(s.Do(t, testserver.Request{Method: "DELETE", Path: "/v1/webhook_endpoints/" + ep["id"].(string), Key: c.key}))
		if del["deleted"] != true {
			t.Fatalf("delete %v", del)
		}
		// Scopes: a key without webhooks:write cannot create endpoints.
		rk := restrictedKey(t, s, s.Merchant.ID, "test", "webhooks:read")
		if r := newClient(t, s, rk).post("/v1/webhook_endpoints", form("url", "https://203.0.113.7/h", "enabled_events[]", "*")); r.Status != 403 {
			t.Fatalf("restricted key: %d", r.Status)
		}
	})
}

func TestSimpleWebhookEndpoint(t *testing.T) {
	eachDB(t, testserver.Options{Env: fastWebhooks}, func(t *testing.T, s *testserver.Server) {
		c := newClient(t, s, s.Merchant.TestSecretKey)
		rcv := newReceiver(t, nil)
		r := s.Do(t, testserver.Request{Method: "PUT", Path: "/v1/merchant/webhook", Header: header("X-API-Key", c.key),
			JSON: map[string]any{"webhook_url": rcv.srv.URL + "/webhooks/payments"}})
		if r.Status != 200 {
			t.Fatalf("PUT /v1/merchant/webhook: %d %s", r.Status, r.Body)
		}
		data := r.JSON(t)["data"].(map[string]any)
		if r.JSON(t)["success"] != true || data["webhook_url"] != rcv.srv.URL+"/webhooks/payments" || !strings.HasPrefix(data["secret"].(string), "whsec_") {
			t.Fatalf("answer %s", r.Body)
		}
		secret := data["secret"].(string)
		pi := c.ok(c.payment(5000, "pm_card_visa"))
		var id string
		select {
		case id = <-rcv.received:
		case <-time.After(20 * time.Second):
			t.Fatal("no seed 001 webhook")
		}
		bodies, headers := rcv.got(id)
		var ev struct {
			ID   string
			Type string
			Data map[string]any
		}
		json.Unmarshal(bodies[0], &ev)
		if ev.Type != "payment.completed" || ev.Data["id"] != pi["id"] || ev.Data["amount"] != "50.00" || ev.Data["currency"] != "USD" ||
			ev.Data["status"] != "completed" || ev.Data["provider"] != "sandbox" || ev.Data["merchant_id"] != s.Merchant.ID ||
			!strings.HasPrefix(ev.Data["provider_ref"].(string), "sbx_") || ev.Data["created_at"] == nil {
			t.Fatalf("seed 001 event %s", bodies[0])
		}
		if err := stripewebhook.ValidatePayload(bodies[0], headers[0].Get("Payments-Signature"), secret); err != nil {
			t.Fatalf("signature: %v", err)
		}
		// Only seed 001's vocabulary arrives: one event for this payment.
		time.Sleep(300 * time.Millisecond)
		if rcv.total != 1 {
			t.Fatalf("seed 001 endpoint received %d events", rcv.total)
		}
		// A second PUT updates the one endpoint.
		r = s.Do(t, testserver.Request{Method: "PUT", Path: "/v1/merchant/webhook", Header: header("X-API-Key", c.key), JSON: map[string]any{"webhook_url": rcv.srv.URL + "/v2"}})
		if d := r.JSON(t)["data"].(map[string]any); d["webhook_url"] != rcv.srv.URL+"/v2" || d["secret"] != nil {
			t.Fatalf("second PUT %s", r.Body)
		}
		r = s.Do(t, testserver.Request{Method: "PUT", Path: "/v1/merchant/webhook", Header: header("X-API-Key", c.key), JSON: map[string]any{}})
		if r.Status != 400 || r.JSON(t)["success"] != false {
			t.Fatalf("PUT without webhook_url: %d %s", r.Status, r.Body)
		}
	})
}

// TestWebhooksAtScale sends 1,000 events to 3 endpoints with two server
// instances on one database; one instance stops in the middle. Every event
// reaches every endpoint; duplicates (at-least-once) are counted.
func TestWebhooksAtScale(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 events")
	}
	for _, kind := range testdb.Kinds(t) {
		t.Run(kind, func(t *testing.T) {
			env := map[string]string{"TENDER_WEBHOOK_TIMEOUT": "1s", "TENDER_WEBHOOK_BACKOFF": "200ms", "TENDER_RATE_LIMIT": "0", "TENDER_RATE_LIMIT_PAYMENTS": "0"}
			a := testserver.Start(t, testserver.Options{Kind: kind, Env: env})
			env["TENDER_MASTER_KEY"] = a.Env()["TENDER_MASTER_KEY"]
			b := testserver.Start(t, testserver.Options{Kind: kind, DBURL: a.DBURL, Env: env})
			c := newClient(t, a, a.Merchant.TestSecretKey)
			var rcvs []*receiver
			for range 3 {
				r := newReceiver(t, nil)
				rcvs = append(rcvs, r)
				c.endpoint(r.srv.URL, "customer.created")
			}
			const n = 1000
			var wg sync.WaitGroup
			sem := make(chan struct{}, 8)
			for i := range n {
				wg.Add(1)
				sem <- struct{}{}
				go func() {
					defer wg.Done()
					defer func() { <-sem }()
					srv := a
					if i%2 == 1 && i < n/2 {
						srv = b
					}
					r := srv.Do(t, testserver.Request{Method: "POST", Path: "/v1/customers", Key: c.key, Form: form("email", "c@example.com")})
					if r.Status != 200 {
						t.Errorf("create: %d %s", r.Status, r.Body)
					}
				}()
				if i == n/2 {
					wg.Wait()
					b.Stop(t) // a dispatcher stops mid-batch; a finishes its work
				}
			}
			wg.Wait()
			deadline := time.Now().Add(90 * time.Second)
			for _, r := range rcvs {
				for {
					r.mu.Lock()
					distinct := len(r.bodies)
					r.mu.Unlock()
					if distinct >= n {
						break
					}
					if time.Now().After(deadline) {
						t.Fatalf("an endpoint received %d of %d events", distinct, n)
					}
					time.Sleep(50 * time.Millisecond)
				}
			}
			dups := 0
			for _, r := range rcvs {
				r.mu.Lock()
				dups += r.total - len(r.bodies)
				r.mu.Unlock()
			}
			t.Logf("%s: %d events × 3 endpoints delivered, %d duplicates (at-least-once)", kind, n, dups)
		})
	}
}
