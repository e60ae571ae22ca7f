package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tenderhq/tender/internal/testserver"
)

// client is a merchant's view of a test server.
type client struct {
	t   *testing.T
	s   *testserver.Server
	key string
}

func newClient(t *testing.T, s *testserver.Server, key string) *client {
	return &client{t: t, s: s, key: key}
}

func (c *client) post(path string, form url.Values, hdr ...string) *testserver.Response {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	return c.s.Do(c.t, testserver.Request{Method: "POST", Path: path, Key: c.key, Form: form, Header: header(hdr...)})
}

func (c *client) get(path string) *testserver.Response {
	c.t.Helper()
	return c.s.Do(c.t, testserver.Request{Method: "GET", Path: path, Key: c.key})
}

// ok asserts a 200 and returns the object.
func (c *client) ok(resp *testserver.Response) map[string]any {
	c.t.Helper()
	if resp.Status != http.StatusOK {
		c.t.Fatalf("status %d: %s", resp.Status, resp.Body)
	}
	return resp.JSON(c.t)
}

func form(kv ...string) url.Values {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return v
}

func num(v any) int64 {
	f, _ := v.(float64)
	return int64(f)
}

// payment creates and confirms an intent with a payment method.
func (c *client) payment(amount int, pm string, extra ...string) *testserver.Response {
	c.t.Helper()
	f := form(append([]string{"amount", fmt.Sprint(amount), "currency", "usd", "payment_method", pm, "confirm", "true"}, extra...)...)
	return c.post("/v1/payment_intents", f)
}

func TestSandboxCards(t *testing.T) {
	eachDB(t, testserver.Options{}, func(t *testing.T, s *testserver.Server) {
		c := newClient(t, s, s.Merchant.TestSecretKey)
		tests := []struct {
			pm          string
			status      int
			piStatus    string
			code        string
			declineCode string
		}{
			{"pm_card_visa", 200, "succeeded", "", ""},
			{"pm_card_mastercard", 200, "succeeded", "", ""},
			{"pm_card_chargeDeclined", 402, "requires_payment_method", "card_declined", "generic_decline"},
			{"pm_card_declined", 402, "requires_payment_method", "card_declined", "generic_decline"},
			{"pm_card_chargeDeclinedInsufficientFunds", 402, "requires_payment_method", "card_declined", "insufficient_funds"},
			{"pm_card_chargeDeclinedLostCard", 402, "requires_payment_method", "card_declined", "lost_card"},
			{"pm_card_chargeDeclinedStolenCard", 402, "requires_payment_method", "card_declined", "stolen_card"},
			{"pm_card_chargeDeclinedExpiredCard", 402, "requires_payment_method", "expired_card", "expired_card"},
			{"pm_card_chargeDeclinedIncorrectCvc", 402, "requires_payment_method", "incorrect_cvc", "incorrect_cvc"},
			{"pm_card_chargeDeclinedProcessingError", 402, "requires_payment_method", "processing_error", "processing_error"},
			{"pm_card_threeDSecure2Required", 200, "requires_action", "", ""},
			{"pm_card_authenticationRequired", 200, "requires_action", "", ""},
			{"pm_card_async", 200, "processing", "", ""},
		}
		for _, tc := range tests {
			t.Run(tc.pm, func(t *testing.T) {
				c := newClient(t, s, c.key)
				resp := c.payment(1234, tc.pm, "return_url", "https://shop.example/done")
				if resp.Status != tc.status {
					t.Fatalf("status %d, want %d: %s", resp.Status, tc.status, resp.Body)
				}
				var pi map[string]any
				if tc.status == 402 {
					e := resp.Error(t)
					if e["type"] != "card_error" || e["code"] != tc.code || e["decline_code"] != tc.declineCode || e["param"] != "payment_method" {
						t.Fatalf("error %v", e)
					}
					pi, _ = e["payment_intent"].(map[string]any)
					if pi == nil {
						t.Fatalf("card error without payment_intent: %s", resp.Body)
					}
					lpe := pi["last_payment_error"].(map[string]any)
					if lpe["code"] != tc.code || lpe["decline_code"] != tc.declineCode || lpe["charge"] == nil {
						t.Fatalf("last_payment_error %v", lpe)
					}
					// The stored intent agrees.
					stored := c.ok(c.get("/v1/payment_intents/" + pi["id"].(string)))
					if stored["status"] != tc.piStatus || stored["last_payment_error"] == nil {
						t.Fatalf("stored intent %v", stored)
					}
					ch := c.ok(c.get("/v1/charges/" + lpe["charge"].(string)))
					if ch["status"] != "failed" || ch["failure_code"] != tc.code {
						t.Fatalf("charge %v", ch)
					}
				} else {
					pi = resp.JSON(t)
				}
				if pi["status"] != tc.piStatus {
					t.Fatalf("intent status %v, want %s", pi["status"], tc.piStatus)
				}
				if tc.piStatus == "succeeded" && (num(pi["amount_received"]) != 1234 || pi["latest_charge"] == nil) {
					t.Fatalf("succeeded intent %v", pi)
				}
				if tc.piStatus == "requires_action" {
					na := pi["next_action"].(map[string]any)
					rd := na["redirect_to_url"].(map[string]any)
					if na["type"] != "redirect_to_url" || !strings.HasPrefix(rd["url"].(string), s.URL+"/sandbox/3ds/") || rd["return_url"] != "https://shop.example/done" {
						t.Fatalf("next_action %v", na)
					}
				}
			})
		}
	})
}

func TestCaptureCancelAndIllegalTransitions(t *testing.T) {
	eachDB(t, testserver.Options{}, func(t *testing.T, s *testserver.Server) {
		c := newClient(t, s, s.Merchant.TestSecretKey)

		// Manual capture, partially.
		pi := c.ok(c.payment(1000, "pm_card_visa", "capture_method", "manual"))
		if pi["status"] != "requires_capture" || num(pi["amount_capturable"]) != 1000 {
			t.Fatalf("authorized intent %v", pi)
		}
		id := pi["id"].(string)
		if r := c.post("/v1/payment_intents/"+id+"/capture", form("amount_to_capture", "1001")); r.Status != 400 || r.Error(t)["param"] != "amount_to_capture" {
			t.Fatalf("over-capture: %d %s", r.Status, r.Body)
		}
		pi = c.ok(c.post("/v1/payment_intents/"+id+"/capture", form("amount_to_capture", "600")))
		if pi["status"] != "succeeded" || num(pi["amount_received"]) != 600 || num(pi["amount_capturable"]) != 0 {
			t.Fatalf("captured intent %v", pi)
		}
		ch := c.ok(c.get("/v1/charges/" + pi["latest_charge"].(string)))
		if ch["captured"] != true || num(ch["amount_captured"]) != 600 {
			t.Fatalf("captured charge %v", ch)
		}

		illegal := []struct{ name, path string }{
			{"capture a succeeded intent", "/capture"},
			{"confirm a succeeded intent", "/confirm"},
			{"cancel a succeeded intent", "/cancel"},
		}
		for _, tc := range illegal {
			r := c.post("/v1/payment_intents/"+id+tc.path, form())
			if r.Status != 400 || r.Error(t)["code"] != "payment_intent_unexpected_state" {
				t.Fatalf("%s: %d %s", tc.name, r.Status, r.Body)
			}
		}

		// Cancel from every cancelable state.
		cancelFrom := map[string]func() string{
			"requires_payment_method": func() string {
				return c.ok(c.post("/v1/payment_intents", form("amount", "500", "currency", "usd")))["id"].(string)
			},
			"requires_confirmation": func() string {
				return c.ok(c.post("/v1/payment_intents", form("amount", "500", "currency", "usd", "payment_method", "pm_card_visa")))["id"].(string)
			},
			"requires_action": func() string {
				return c.ok(c.payment(500, "pm_card_threeDSecure2Required"))["id"].(string)
			},
			"requires_capture": func() string {
				return c.ok(c.payment(500, "pm_card_visa", "capture_method", "manual"))["id"].(string)
			},
		}
		for from, mk := range cancelFrom {
			t.Run("cancel from "+from, func(t *testing.T) {
				c := newClient(t, s, c.key)
				id := mk()
				if got := c.ok(c.get("/v1/payment_intents/" + id))["status"]; got != from {
					t.Fatalf("setup: status %v, want %s", got, from)
				}
				pi := c.ok(c.post("/v1/payment_intents/"+id+"/cancel", form("cancellation_reason", "requested_by_customer")))
				if pi["status"] != "canceled" || pi["cancellation_reason"] != "requested_by_customer" || pi["canceled_at"] == nil {
					t.Fatalf("canceled intent %v", pi)
				}
				if r := c.post("/v1/payment_intents/"+id+"/confirm", form("payment_method", "pm_card_visa")); r.Status != 400 || r.Error(t)["code"] != "payment_intent_unexpected_state" {
					t.Fatalf("confirm after cancel: %d %s", r.Status, r.Body)
				}
				if r := c.post("/v1/payment_intents/"+id+"/capture", nil); r.Status != 400 {
					t.Fatalf("capture after cancel: %d %s", r.Status, r.Body)
				}
			})
		}
		if r := c.post("/v1/payment_intents/x/cancel", form("cancellation_reason", "bored")); r.Status != 400 || r.Error(t)["param"] != "cancellation_reason" {
			t.Fatalf("bad reason: %d %s", r.Status, r.Body)
		}
	})
}

func TestRefunds(t *testing.T) {
	eachDB(t, testserver.Options{}, func(t *testing.T, s *testserver.Server) {
		c := newClient(t, s, s.Merchant.TestSecretKey)
		pi := c.ok(c.payment(1000, "pm_card_visa"))
		id := pi["id"].(string)
		for _, amt := range []string{"300", "300", "400"} {
			r := c.ok(c.post("/v1/refunds", form("payment_intent", id, "amount", amt, "reason", "requested_by_customer")))
			if r["status"] != "succeeded" || r["object"] != "refund" {
				t.Fatalf("refund %v", r)
			}
		}
		if r := c.post("/v1/refunds", form("payment_intent", id, "amount", "1")); r.Status != 400 || r.Error(t)["code"] != "charge_already_refunded" {
			t.Fatalf("refund past the total: %d %s", r.Status, r.Body)
		}
		ch := c.ok(c.get("/v1/charges/" + pi["latest_charge"].(string)))
		if num(ch["amount_refunded"]) != 1000 || ch["refunded"] != true {
			t.Fatalf("charge after refunds %v", ch)
		}
		list := c.ok(c.get("/v1/refunds?payment_intent=" + id))
		if len(list["data"].([]any)) != 3 || list["object"] != "list" {
			t.Fatalf("refund list %v", list)
		}

		// Over-refunding by amount, refunding by charge, and an uncaptured hold.
		pi2 := c.ok(c.payment(500, "pm_card_visa"))
		if r := c.post("/v1/refunds", form("charge", pi2["latest_charge"].(string), "amount", "501")); r.Status != 400 || r.Error(t)["param"] != "amount" {
			t.Fatalf("over-refund: %d %s", r.Status, r.Body)
		}
		if r := c.ok(c.post("/v1/refunds", form("charge", pi2["latest_charge"].(string)))); num(r["amount"]) != 500 {
			t.Fatalf("full refund by charge %v", r)
		}
		hold := c.ok(c.payment(500, "pm_card_visa", "capture_method", "manual"))
		if r := c.post("/v1/refunds", form("payment_intent", hold["id"].(string))); r.Status != 400 {
			t.Fatalf("refund of a hold: %d %s", r.Status, r.Body)
		}
		if r := c.post("/v1/refunds", form()); r.Status != 400 || r.Error(t)["param"] != "payment_intent" {
			t.Fatalf("refund of nothing: %d %s", r.Status, r.Body)
		}

		// 20 concurrent refunds of 100 on a 1,000 charge: exactly 10 succeed.
		pi3 := c.ok(c.payment(1000, "pm_card_visa"))
		var wg sync.WaitGroup
		var mu sync.Mutex
		codes := map[int]int{}
		for range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := s.Do(t, testserver.Request{Method: "POST", Path: "/v1/refunds", Key: c.key, Form: form("payment_intent", pi3["id"].(string), "amount", "100")})
				mu.Lock()
				codes[r.Status]++
				mu.Unlock()
			}()
		}
		wg.Wait()
		ch3 := c.ok(c.get("/v1/charges/" + pi3["latest_charge"].(string)))
		if codes[200] != 10 || codes[400] != 10 || num(ch3["amount_refunded"]) != 1000 {
			t.Fatalf("concurrent refunds: answers %v, amount_refunded %v", codes, ch3["amount_refunded"])
		}
	})
}

func TestIdempotency(t *testing.T) {
	eachDB(t, testserver.Options{Env: map[string]string{"TENDER_RATE_LIMIT_PAYMENTS": "0"}}, func(t *testing.T, s *testserver.Server) {
		c := newClient(t, s, s.Merchant.TestSecretKey)
		body := form("amount", "2500", "currency", "usd", "payment_method", "pm_card_visa", "confirm", "true")
		var wg sync.WaitGroup
		type answer struct {
			status   int
			body     string
			replayed string
		}
		answers := make([]answer, 50)
		for i := range answers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := s.Do(t, testserver.Request{Method: "POST", Path: "/v1/payment_intents", Key: c.key, Form: body, Header: header("Idempotency-Key", "order-42")})
				answers[i] = answer{r.Status, string(r.Body), r.Header.Get("Idempotent-Replayed")}
			}()
		}
		wg.Wait()
		var first string
		conflicts := 0
		for _, a := range answers {
			switch a.status {
			case 200:
				if first == "" {
					first = a.body
				} else if a.body != first {
					t.Fatalf("two different 200 answers:\n%s\n%s", first, a.body)
				}
			case 409:
				conflicts++
				if !strings.Contains(a.body, "idempotency_key_in_use") {
					t.Fatalf("409 body %s", a.body)
				}
			default:
				t.Fatalf("answer %d: %s", a.status, a.body)
			}
		}
		// After the dust settles, a retry replays the first answer byte for byte.
		r := s.Do(t, testserver.Request{Method: "POST", Path: "/v1/payment_intents", Key: c.key, Form: body, Header: header("Idempotency-Key", "order-42")})
		if r.Status != 200 || r.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("replay: %d %q %s", r.Status, r.Header.Get("Idempotent-Replayed"), r.Body)
		}
		if first != "" && string(r.Body) != first {
			t.Fatalf("replay differs from the first answer")
		}
		intents := c.ok(c.get("/v1/payment_intents?limit=100"))["data"].([]any)
		charges := c.ok(c.get("/v1/charges?limit=100"))["data"].([]any)
		if len(intents) != 1 || len(charges) != 1 {
			t.Fatalf("50 requests with one key made %d intents and %d charges (%d conflicts)", len(intents), len(charges), conflicts)
		}
		// The same key with other parameters.
		r = s.Do(t, testserver.Request{Method: "POST", Path: "/v1/payment_intents", Key: c.key, Form: form("amount", "2600", "currency", "usd"), Header: header("Idempotency-Key", "order-42")})
		if r.Status != 400 || r.Error(t)["type"] != "idempotency_error" {
			t.Fatalf("other parameters: %d %s", r.Status, r.Body)
		}
		// Keys are per mode: the live key may use the same one.
		live := newClient(t, s, s.Merchant.LiveSecretKey)
		if r := live.post("/v1/payment_intents", form("amount", "100", "currency", "usd"), "Idempotency-Key", "order-42"); r.Status == 200 || r.Error(t)["type"] == "idempotency_error" {
			// live has no provider: a 400 about the provider, not about the key
			if r.Status == 200 || r.Error(t)["param"] != "provider" {
				t.Fatalf("live with the same key: %d %s", r.Status, r.Body)
			}
		}
		// A declined payment's answer is kept and replayed; a request that failed
		// validation is not, so a corrected retry with the same key runs.
		d1 := c.post("/v1/payment_intents", form("amount", "100", "currency", "usd", "payment_method", "pm_card_chargeDeclined", "confirm", "true"), "Idempotency-Key", "declined-1")
		d2 := c.post("/v1/payment_intents", form("amount", "100", "currency", "usd", "payment_method", "pm_card_chargeDeclined", "confirm", "true"), "Idempotency-Key", "declined-1")
		if d1.Status != 402 || d2.Status != 402 || string(d1.Body) != string(d2.Body) || d2.Header.Get("Idempotent-Replayed") != "true" {
			t.Fatalf("declined replay: %d %d", d1.Status, d2.Status)
		}
		v1 := c.post("/v1/payment_intents", form("amount", "-1", "currency", "usd"), "Idempotency-Key", "fixme")
		v2 := c.post("/v1/payment_intents", form("amount", "100", "currency", "usd"), "Idempotency-Key", "fixme")
		if v1.Status != 400 || v2.Status != 200 {
			t.Fatalf("corrected retry: %d then %d: %s", v1.Status, v2.Status, v2.Body)
		}
		if r := c.post("/v1/payment_intents", form("amount", "100", "currency", "usd"), "Idempotency-Key", strings.Repeat("k", 256)); r.Status != 400 {
			t.Fatalf("256-character key: %d", r.Status)
		}
	})
}

// TestIdempotencyInline covers the routes whose Idempotency-Key record the
// engine writes in the payment's own transactions: each way their answer
// is stored (with the outcome, or after it) replays byte for byte, and
// concurrent requests with one key charge once.
func TestIdempotencyInline(t *testing.T) {
	eachDB(t, testserver.Options{Env: map[string]string{"TENDER_RATE_LIMIT_PAYMENTS": "0"}}, func(t *testing.T, s *testserver.Server) {
		c := newClient(t, s, s.Merchant.TestSecretKey)
		cus := c.ok(c.post("/v1/customers", form("email", "a@example.com")))
		pending := c.ok(c.post("/v1/payment_intents", form("amount", "900", "currency", "usd")))
		tests := []struct {
			name, path string
			form       url.Values
			status     int
			charges    int // charges of the intent after all requests
		}{
			{"create-confirm", "/v1/payment_intents", form("amount", "500", "currency", "usd", "payment_method", "pm_card_visa", "confirm", "true"), 200, 1},
			{"expanded", "/v1/payment_intents", form("amount", "501", "currency", "usd", "payment_method", "pm_card_visa", "confirm", "true", "expand[]", "latest_charge"), 200, 1},
			{"declined", "/v1/payment_intents", form("amount", "502", "currency", "usd", "payment_method", "pm_card_chargeDeclined", "confirm", "true"), 402, 1},
			{"saving the card", "/v1/payment_intents", form("amount", "503", "currency", "usd", "payment_method", "pm_card_visa", "confirm", "true",
				"customer", cus["id"].(string), "setup_future_usage", "off_session"), 200, 1},
			{"manual capture", "/v1/payment_intents", form("amount", "504", "currency", "usd", "payment_method", "pm_card_visa", "confirm", "true", "capture_method", "manual"), 200, 1},
			{"create only", "/v1/payment_intents", form("amount", "505", "currency", "usd"), 200, 0},
			{"confirm", "/v1/payment_intents/" + pending["id"].(string) + "/confirm", form("payment_method", "pm_card_visa"), 200, 1},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				key := "inline-" + tc.name
				bodies := make([]*testserver.Response, 8)
				var wg sync.WaitGroup
				for i := range bodies {
					wg.Add(1)
					go func() {
						defer wg.Done()
						bodies[i] = s.Do(t, testserver.Request{Method: "POST", Path: tc.path, Key: c.key, Form: tc.form, Header: header("Idempotency-Key", key)})
					}()
				}
				wg.Wait()
				var first string
				for _, r := range bodies {
					switch {
					case r.Status == 409:
					case r.Status != tc.status:
						t.Fatalf("answer %d, want %d or 409: %s", r.Status, tc.status, r.Body)
					case first == "":
						first = string(r.Body)
					case string(r.Body) != first:
						t.Fatalf("two different answers:\n%s\n%s", first, r.Body)
					}
				}
				replay := s.Do(t, testserver.Request{Method: "POST", Path: tc.path, Key: c.key, Form: tc.form, Header: header("Idempotency-Key", key)})
				if replay.Status != tc.status || replay.Header.Get("Idempotent-Replayed") != "true" {
					t.Fatalf("replay: %d %q %s", replay.Status, replay.Header.Get("Idempotent-Replayed"), replay.Body)
				}
				if first != "" && string(replay.Body) != first {
					t.Fatalf("replay differs from the first answer:\n%s\n%s", first, replay.Body)
				}
				var got map[string]any
				if err := json.Unmarshal(replay.Body, &got); err != nil {
					t.Fatal(err)
				}
				pi := got
				if e, ok := got["error"].(map[string]any); ok {
					pi = e["payment_intent"].(map[string]any)
				}
				if tc.name == "expanded" {
					if _, ok := pi["latest_charge"].(map[string]any); !ok {
						t.Fatalf("latest_charge not expanded in the replay: %v", pi["latest_charge"])
					}
				}
				charges := c.ok(c.get("/v1/charges?payment_intent=" + pi["id"].(string)))["data"].([]any)
				if len(charges) != tc.charges {
					t.Fatalf("%d charges, want %d", len(charges), tc.charges)
				}
				if tc.path == "/v1/payment_intents" {
					amount := tc.form.Get("amount")
					list := c.ok(c.get("/v1/payment_intents?limit=100"))["data"].([]any)
					n := 0
					for _, it := range list {
						if fmt.Sprint(num(it.(map[string]any)["amount"])) == amount {
							n++
						}
					}
					if n != 1 {
						t.Fatalf("%d intents of %s, want 1", n, amount)
					}
				}
			})
		}
		// The saved card is attached once.
		pms := c.ok(c.get("/v1/customers/" + cus["id"].(string) + "/payment_methods"))["data"].([]any)
		if len(pms) != 1 {
			t.Fatalf("the customer has %d payment methods, want 1", len(pms))
		}
	})
}

func TestTenantIsolation(t *testing.T) {
	eachDB(t, testserver.Options{}, func(t *testing.T, s *testserver.Server) {
		c := newClient(t, s, s.Merchant.TestSecretKey)
		pi := c.ok(c.payment(700, "pm_card_visa"))
		ref := c.ok(c.post("/v1/refunds", form("payment_intent", pi["id"].(string), "amount", "100")))
		ev := c.ok(c.get("/v1/events?limit=1"))["data"].([]any)[0].(map[string]any)
		other := s.NewMerchant(t, "Other")
		ids := map[string]string{
			"/v1/payment_intents/" + pi["id"].(string):              "GET",
			"/v1/charges/" + pi["latest_charge"].(string):           "GET",
			"/v1/refunds/" + ref["id"].(string):                     "GET",
			"/v1/events/" + ev["id"].(string):                       "GET",
			"/v1/payment_intents/" + pi["id"].(string) + "/cancel":  "POST",
			"/v1/payment_intents/" + pi["id"].(string) + "/capture": "POST",
			"/v1/payment_intents/" + pi["id"].(string) + "/confirm": "POST",
			"/v1/payment_intents/" + pi["id"].(string):              "POST",
		}
		for _, key := range []string{other.TestSecretKey, s.Merchant.LiveSecretKey} {
			for path, method := range ids {
				r := s.Do(t, testserver.Request{Method: method, Path: path, Key: key, Form: url.Values{}})
				if r.Status != 404 || r.Error(t)["code"] != "resource_missing" {
					t.Fatalf("%s %s with another tenant's key: %d %s", method, path, r.Status, r.Body)
				}
			}
			r := s.Do(t, testserver.Request{Method: "POST", Path: "/v1/refunds", Key: key, Form: form("payment_intent", pi["id"].(string))})
			if r.Status != 404 {
				t.Fatalf("refund another tenant's intent: %d %s", r.Status, r.Body)
			}
			for _, list := range []string{"/v1/payment_intents", "/v1/charges", "/v1/refunds", "/v1/events"} {
				if n := len(newClient(t, s, key).ok(s.Do(t, testserver.Request{Method: "GET", Path: list, Key: key}))["data"].([]any)); n != 0 {
					t.Fatalf("%s lists %d of another tenant's objects", list, n)
				}
			}
		}
	})
}

// waitFor polls until cond holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestCreateIntentValidation(t *testing.T) {
	eachDB(t, testserver.Options{}, func(t *testing.T, s *testserver.Server) {
		c := newClient(t, s, s.Merchant.TestSecretKey)
		tests := []struct {
			name  string
			form  url.Values
			param string
		}{
			{"no amount", form("currency", "usd"), "amount"},
			{"no currency", form("amount", "100"), "currency"},
			{"zero amount", form("amount", "0", "currency", "usd"), "amount"},
			{"negative amount", form("amount", "-5", "currency", "usd"), "amount"},
			{"too large", form("amount", "100000000", "currency", "usd"), "amount"},
			{"overflow", form("amount", "99999999999999999999", "currency", "usd"), "amount"},
			{"fractional", form("amount", "10.5", "currency", "usd"), "amount"},
			{"unknown currency", form("amount", "100", "currency", "xyz"), "currency"},
			{"bad capture method", form("amount", "100", "currency", "usd", "capture_method", "later"), "capture_method"},
			{"bad payment method type", form("amount", "100", "currency", "usd", "payment_method_types[]", "ideal"), "payment_method_types[0]"},
			{"unknown provider", form("amount", "100", "currency", "usd", "provider", "paypal"), "provider"},
			{"return_url without confirm", form("amount", "100", "currency", "usd", "return_url", "https://x.example"), "return_url"},
			{"bad return_url", form("amount", "100", "currency", "usd", "confirm", "true", "payment_method", "pm_card_visa", "return_url", "javascript:alert(1)"), "return_url"},
			{"too much metadata", func() url.Values {
				f := form("amount", "100", "currency", "usd")
				for i := range 51 {
					f.Set("metadata[k"+strconv.Itoa(i)+"]", "v")
				}
				return f
			}(), "metadata"},
			{"long metadata key", form("amount", "100", "currency", "usd", "metadata["+strings.Repeat("k", 41)+"]", "v"), "metadata[" + strings.Repeat("k", 41) + "]"},
			{"unknown parameter", form("amount", "100", "currency", "usd", "colour", "red"), "colour"},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				r := c.post("/v1/payment_intents", tc.form)
				if r.Status != 400 || r.Error(t)["param"] != tc.param || r.Error(t)["type"] != "invalid_request_error" {
					t.Fatalf("%d %s", r.Status, r.Body)
				}
			})
		}
		// A missing object named in a parameter is resource_missing (404) naming the parameter.
		if r := c.post("/v1/payment_intents", form("amount", "100", "currency", "usd", "customer", "cus_nope")); r.Status != 404 || r.Error(t)["param"] != "customer" {
			t.Fatalf("unknown customer: %d %s", r.Status, r.Body)
		}
		pi := c.ok(c.post("/v1/payment_intents", form("amount", "500", "currency", "JPY")))
		if pi["currency"] != "jpy" || num(pi["amount"]) != 500 {
			t.Fatalf("upper-case currency: %v", pi)
		}
		if n := len(c.ok(c.get("/v1/payment_intents"))["data"].([]any)); n != 1 {
			t.Fatalf("refused requests created %d intents", n-1)
		}
	})
}
