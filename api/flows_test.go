package api_test

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenderhq/tender/internal/testserver"
)

// events returns the types of a merchant's events, oldest first, and the events.
func (c *client) events() ([]string, []map[string]any) {
	c.t.Helper()
	list := c.ok(c.get("/v1/events?limit=100"))
	var types []string
	var evs []map[string]any
	for _, e := range list["data"].([]any) {
		ev := e.(map[string]any)
		types = append(types, ev["type"].(string))
		evs = append(evs, ev)
	}
	slices.Reverse(types)
	slices.Reverse(evs)
	return types, evs
}

func TestEventLog(t *testing.T) {
	eachDB(t, testserver.Options{}, func(t *testing.T, s *testserver.Server) {
		flows := []struct {
			name   string
			run    func(c *client) string
			types  []string
			status []string // data.object.status of each event
		}{
			{"automatic capture", func(c *client) string {
				return c.ok(c.payment(1000, "pm_card_visa"))["id"].(string)
			}, []string{"payment_intent.created", "charge.succeeded", "payment_intent.succeeded"},
				[]string{"requires_confirmation", "succeeded", "succeeded"}},
			{"decline", func(c *client) string {
				r := c.payment(1000, "pm_card_chargeDeclined")
				return r.Error(c.t)["payment_intent"].(map[string]any)["id"].(string)
			}, []string{"payment_intent.created", "charge.failed", "payment_intent.payment_failed"},
				[]string{"requires_confirmation", "failed", "requires_payment_method"}},
			{"manual capture and refunds", func(c *client) string {
				id := c.ok(c.payment(1000, "pm_card_visa", "capture_method", "manual"))["id"].(string)
				c.ok(c.post("/v1/payment_intents/"+id+"/capture", nil))
				c.ok(c.post("/v1/refunds", form("payment_intent", id, "amount", "400")))
				return id
			}, []string{"payment_intent.created", "charge.succeeded", "payment_intent.amount_capturable_updated",
				"charge.captured", "payment_intent.succeeded", "refund.created", "charge.refunded"},
				[]string{"requires_confirmation", "succeeded", "requires_capture", "succeeded", "succeeded", "succeeded", "succeeded"}},
			{"create then cancel", func(c *client) string {
				id := c.ok(c.post("/v1/payment_intents", form("amount", "300", "currency", "eur")))["id"].(string)
				c.ok(c.post("/v1/payment_intents/"+id+"/cancel", nil))
				return id
			}, []string{"payment_intent.created", "payment_intent.canceled"},
				[]string{"requires_payment_method", "canceled"}},
		}
		for _, f := range flows {
			t.Run(f.name, func(t *testing.T) {
				m := s.NewMerchant(t, f.name)
				c := newClient(t, s, m.TestSecretKey)
				id := f.run(c)
				types, evs := c.events()
				if !slices.Equal(types, f.types) {
					t.Fatalf("events %v, want %v", types, f.types)
				}
				for i, ev := range evs {
					obj := ev["data"].(map[string]any)["object"].(map[string]any)
					if obj["status"] != f.status[i] {
						t.Fatalf("event %d (%s) holds status %v, want %s", i, types[i], obj["status"], f.status[i])
					}
					if ev["object"] != "event" || ev["livemode"] != false || ev["api_version"] == "" {
						t.Fatalf("event shape %v", ev)
					}
					if strings.HasPrefix(types[i], "payment_intent.") && obj["id"] != id {
						t.Fatalf("event about another intent: %v", obj["id"])
					}
					req := ev["request"].(map[string]any)
					if id, _ := req["id"].(string); !strings.HasPrefix(id, "req_") {
						t.Fatalf("event without request id: %v", ev["request"])
					}
					got := c.ok(c.get("/v1/events/" + ev["id"].(string)))
					if got["type"] != types[i] {
						t.Fatalf("GET event: %v", got)
					}
				}
			})
		}
		t.Run("request and idempotency key recorded", func(t *testing.T) {
			m := s.NewMerchant(t, "requests")
			c := newClient(t, s, m.TestSecretKey)
			r := c.post("/v1/payment_intents", form("amount", "100", "currency", "usd"), "Idempotency-Key", "k-1")
			_, evs := c.events()
			req := evs[0]["request"].(map[string]any)
			if req["id"] != r.Header.Get("Request-Id") || req["idempotency_key"] != "k-1" {
				t.Fatalf("event request %v, response Request-Id %s", req, r.Header.Get("Request-Id"))
			}
			if types, _ := c.events(); len(c.ok(c.get("/v1/events?type=payment_intent.created"))["data"].([]any)) != 1 || len(types) != 1 {
				t.Fatal("type filter")
			}
			if n := len(c.ok(c.get("/v1/events?type=charge.succeeded"))["data"].([]any)); n != 0 {
				t.Fatalf("type filter found %d", n)
			}
		})
	})
}

func TestListPagination(t *testing.T) {
	eachDB(t, testserver.Options{}, func(t *testing.T, s *testserver.Server) {
		c := newClient(t, s, s.Merchant.TestSecretKey)
		var ids []string
		for range 7 {
			ids = append(ids, c.ok(c.post("/v1/payment_intents", form("amount", "100", "currency", "usd")))["id"].(string))
		}
		slices.Reverse(ids) // newest first
		page := c.ok(c.get("/v1/payment_intents?limit=3"))
		if page["has_more"] != true || page["url"] != "/v1/payment_intents" || len(page["data"].([]any)) != 3 {
			t.Fatalf("first page %v", page)
		}
		var got []string
		after := ""
		for {
			path := "/v1/payment_intents?limit=3"
			if after != "" {
				path += "&starting_after=" + after
			}
			p := c.ok(c.get(path))
			for _, d := range p["data"].([]any) {
				got = append(got, d.(map[string]any)["id"].(string))
			}
			if p["has_more"] != true {
				break
			}
			after = got[len(got)-1]
		}
		if !slices.Equal(got, ids) {
			t.Fatalf("paged ids %v, want %v", got, ids)
		}
		before := c.ok(c.get("/v1/payment_intents?limit=2&ending_before=" + ids[4]))
		d := before["data"].([]any)
		if len(d) != 2 || d[0].(map[string]any)["id"] != ids[2] || d[1].(map[string]any)["id"] != ids[3] {
			t.Fatalf("ending_before page %v", before)
		}
		now := time.Now().Unix()
		if n := len(c.ok(c.get("/v1/payment_intents?limit=100&created[gte]=" + itoa(now-60)))["data"].([]any)); n != 7 {
			t.Fatalf("created[gte] found %d", n)
		}
		if n := len(c.ok(c.get("/v1/payment_intents?created[lt]=" + itoa(now-60)))["data"].([]any)); n != 0 {
			t.Fatalf("created[lt] found %d", n)
		}
		for _, bad := range []string{"limit=0", "limit=101", "limit=x", "created[gte]=yesterday", "created[foo]=1", "starting_after=a&ending_before=b", "expand[]=nothing"} {
			if r := c.get("/v1/payment_intents?" + bad); r.Status != 400 {
				t.Fatalf("%s: %d %s", bad, r.Status, r.Body)
			}
		}
		exp := c.ok(c.get("/v1/payment_intents?expand[]=data.latest_charge&limit=1"))
		_ = exp
		pi := c.ok(c.payment(100, "pm_card_visa", "expand[]", "latest_charge"))
		if ch, ok := pi["latest_charge"].(map[string]any); !ok || ch["object"] != "charge" {
			t.Fatalf("latest_charge not expanded: %v", pi["latest_charge"])
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestManualProvider(t *testing.T) {
	eachDB(t, testserver.Options{}, func(t *testing.T, s *testserver.Server) {
		c := newClient(t, s, s.Merchant.TestSecretKey)
		if r := c.post("/v1/payment_intents", form("amount", "100", "currency", "usd", "provider", "manual")); r.Status != 400 || r.Error(t)["param"] != "provider" {
			t.Fatalf("manual before it is enabled: %d %s", r.Status, r.Body)
		}
		if r := c.s.Do(t, testserver.Request{Method: "PUT", Path: "/v1/provider_configs/manual", Key: c.key, Form: form("enabled", "true")}); r.Status != 400 {
			t.Fatalf("manual without instructions: %d %s", r.Status, r.Body)
		}
		cfg := c.ok(c.s.Do(t, testserver.Request{Method: "PUT", Path: "/v1/provider_configs/manual", Key: c.key,
			JSON: map[string]any{"enabled": true, "settings": map[string]string{"instructions": "Mail a check to 1 Main St."}}}))
		if cfg["enabled"] != true || cfg["settings"].(map[string]any)["instructions"] != "Mail a check to 1 Main St." {
			t.Fatalf("config %v", cfg)
		}
		pi := c.ok(c.post("/v1/payment_intents", form("amount", "4000", "currency", "usd", "provider", "manual", "confirm", "true")))
		na, _ := pi["next_action"].(map[string]any)
		if pi["status"] != "requires_capture" || na["type"] != "display_payment_instructions" ||
			na["display_payment_instructions"].(map[string]any)["instructions"] != "Mail a check to 1 Main St." {
			t.Fatalf("manual intent %v", pi)
		}
		id := pi["id"].(string)
		pi = c.ok(c.post("/v1/payment_intents/"+id+"/capture", nil))
		if pi["status"] != "succeeded" || num(pi["amount_received"]) != 4000 {
			t.Fatalf("received %v", pi)
		}
		if r := c.post("/v1/refunds", form("payment_intent", id)); r.Status != 400 || r.Error(t)["code"] != "refund_unsupported" {
			t.Fatalf("manual refund: %d %s", r.Status, r.Body)
		}
		if r := c.post("/v1/payment_intents", form("amount", "100", "currency", "eur", "provider", "manual")); r.Status != 400 || r.Error(t)["param"] != "currency" {
			t.Fatalf("manual in eur: %d %s", r.Status, r.Body)
		}
		// Enabled manual is now the default for usd ahead of the sandbox; cancel releases it.
		pi = c.ok(c.post("/v1/payment_intents", form("amount", "100", "currency", "usd", "confirm", "true")))
		if pi["provider"] != "manual" || pi["status"] != "requires_capture" {
			t.Fatalf("default provider %v", pi)
		}
		if pi = c.ok(c.post("/v1/payment_intents/"+pi["id"].(string)+"/cancel", nil)); pi["status"] != "canceled" {
			t.Fatalf("cancel %v", pi)
		}
		// Live mode has no sandbox.
		live := newClient(t, s, s.Merchant.LiveSecretKey)
		if r := live.post("/v1/payment_intents", form("amount", "100", "currency", "usd", "provider", "sandbox")); r.Status != 400 || r.Error(t)["param"] != "provider" {
			t.Fatalf("sandbox in live mode: %d %s", r.Status, r.Body)
		}
		list := c.ok(c.get("/v1/provider_configs"))
		if len(list["data"].([]any)) != 1 {
			t.Fatalf("configs %v", list)
		}
		if r := live.get("/v1/provider_configs/manual"); r.Status != 404 {
			t.Fatalf("live sees test config: %d", r.Status)
		}
		providers := c.ok(c.get("/v1/providers"))
		if len(providers["data"].([]any)) < 2 {
			t.Fatalf("providers %v", providers)
		}
	})
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

func TestThreeDSecure(t *testing.T) {
	eachDB(t, testserver.Options{}, func(t *testing.T, s *testserver.Server) {
		noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		for _, action := range []string{"complete", "fail"} {
			t.Run(action, func(t *testing.T) {
				m := s.NewMerchant(t, "3ds "+action)
				c := newClient(t, s, m.TestSecretKey)
				pi := c.ok(c.payment(2000, "pm_card_threeDSecure2Required", "return_url", "https://shop.example/return?order=7"))
				page := pi["next_action"].(map[string]any)["redirect_to_url"].(map[string]any)["url"].(string)
				resp, err := http.Get(page)
				if err != nil {
					t.Fatal(err)
				}
				body := readAll(t, resp)
				m1 := csrfRE.FindStringSubmatch(body)
				if resp.StatusCode != 200 || m1 == nil || !strings.Contains(body, "20.00") {
					t.Fatalf("challenge page %d:\n%s", resp.StatusCode, body)
				}
				if r, _ := noRedirect.PostForm(page, url.Values{"action": {action}, "csrf_token": {"forged"}}); r.StatusCode != 403 {
					t.Fatalf("forged CSRF token: %d", r.StatusCode)
				}
				r, err := noRedirect.PostForm(page, url.Values{"action": {action}, "csrf_token": {m1[1]}})
				if err != nil {
					t.Fatal(err)
				}
				loc, _ := url.Parse(r.Header.Get("Location"))
				if r.StatusCode != 303 || loc.Host != "shop.example" || loc.Query().Get("order") != "7" || loc.Query().Get("payment_intent") != pi["id"] {
					t.Fatalf("after the challenge: %d Location %s", r.StatusCode, r.Header.Get("Location"))
				}
				got := c.ok(c.get("/v1/payment_intents/" + pi["id"].(string)))
				types, _ := c.events()
				if action == "complete" {
					if got["status"] != "succeeded" {
						t.Fatalf("after completing 3DS: %v", got)
					}
					if !slices.Equal(types, []string{"payment_intent.created", "payment_intent.requires_action", "charge.succeeded", "payment_intent.succeeded"}) {
						t.Fatalf("events %v", types)
					}
				} else {
					lpe, _ := got["last_payment_error"].(map[string]any)
					if got["status"] != "requires_payment_method" || lpe["code"] != "payment_intent_authentication_failure" {
						t.Fatalf("after failing 3DS: %v", got)
					}
				}
				for _, e := range c.ok(c.get("/v1/events?limit=2"))["data"].([]any) {
					if req := e.(map[string]any)["request"].(map[string]any); req["id"] != nil {
						t.Fatalf("an event the provider caused carries a request id: %v", req)
					}
				}
			})
		}
	})
}

func TestAsyncSettlement(t *testing.T) {
	eachDB(t, testserver.Options{}, func(t *testing.T, s *testserver.Server) {
		c := newClient(t, s, s.Merchant.TestSecretKey)
		pi := c.ok(c.payment(1500, "pm_card_async"))
		if pi["status"] != "processing" {
			t.Fatalf("async card: %v", pi)
		}
		id := pi["id"].(string)
		waitFor(t, 20*time.Second, "the async payment to settle", func() bool {
			return c.ok(c.get("/v1/payment_intents/" + id))["status"] == "succeeded"
		})
		types, _ := c.events()
		want := []string{"payment_intent.created", "charge.pending", "payment_intent.processing", "charge.succeeded", "payment_intent.succeeded"}
		if !slices.Equal(types, want) {
			t.Fatalf("events %v, want %v", types, want)
		}
	})
}

func readAll(t *testing.T, r *http.Response) string {
	t.Helper()
	defer r.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := r.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}
